"""The index's source of truth: documents and their chunks in SQLite.

Chroma holds vectors and BM25 holds term statistics, but only chunks listed
here are ever returned. A document is swapped in one transaction, so a reader
sees either the old version or the new one, never half of each; a vector whose
chunk is not listed here is an orphan that ``check --repair`` removes.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .models import Chunk, Document
from .private import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY,
    source TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT,
    region TEXT,
    text TEXT NOT NULL,
    n_chunks INTEGER NOT NULL,
    ingested_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    heading TEXT NOT NULL,
    context TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class DocInfo:
    doc_id: str
    source: str
    sha256: str
    title: str
    date: str | None
    region: str | None
    n_chunks: int
    ingested_at: float


@dataclass(frozen=True)
class Filters:
    """Metadata filters, resolved by ``Catalog.allowed_doc_ids`` alone; dense and BM25 obey that result.

    The rule (``admits`` is its only implementation):

    * ``regions``: the document's region equals one of them, ignoring case; a
      document without a region passes no region filter.
    * ``date_from`` / ``date_to``: inclusive ISO-date bounds; an undated
      document passes no date bound, neither from nor to.
    * ``sources``: the document's source path equals one of them, or ends with
      "/" + it, so a file name names every file of that name, "sub/x.md" the
      x.md files in folders named sub, and a full path that one file. Case
      counts and no character is a wildcard (backslashes included).

    Values of one kind are OR-ed, the kinds AND-ed; no filter at all allows everything.
    """

    regions: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: Filters | dict | None) -> Filters:
        if raw is None or isinstance(raw, Filters):
            return raw or cls()
        unknown = set(raw) - {"region", "regions", "date_from", "date_to", "source", "sources"}
        if unknown:
            raise ValueError(f"unknown filter field(s): {', '.join(sorted(unknown))}")

        def many(*keys: str) -> tuple[str, ...]:
            values: list[str] = []
            for key in keys:
                value = raw.get(key)
                if value:
                    values += [value] if isinstance(value, str) else list(value)
            return tuple(values)

        def iso(key: str) -> str | None:
            value = raw.get(key)
            if not value:
                return None
            from datetime import date

            try:
                return date.fromisoformat(str(value)[:10]).isoformat()
            except ValueError as exc:
                raise ValueError(f"filter {key}={value!r} is not a date (use YYYY-MM-DD)") from exc

        return cls(many("region", "regions"), iso("date_from"), iso("date_to"), many("source", "sources"))

    def __bool__(self) -> bool:
        return bool(self.regions or self.date_from or self.date_to or self.sources)

    def admits(self, docs: DocColumns) -> np.ndarray:
        """Which of ``docs`` pass, as a boolean array (the rule above, for all of them at once)."""
        keep = np.ones(len(docs.doc_ids), dtype=bool)
        if self.regions:
            wanted = [docs.region_codes[r.lower()] for r in self.regions if r.lower() in docs.region_codes]
            keep &= np.isin(docs.regions, wanted)  # no region is -1, never a code
        if self.date_from or self.date_to:
            keep &= docs.dates != ""
        if self.date_from:
            keep &= docs.dates >= self.date_from
        if self.date_to:
            keep &= docs.dates <= self.date_to
        if self.sources:
            suffixes = tuple("/" + s for s in self.sources)
            exact = set(self.sources)
            keep &= np.fromiter(
                (src in exact or src.endswith(suffixes) for src in docs.sources), bool, len(docs.sources)
            )
        return keep


@dataclass(frozen=True, eq=False)  # arrays: no meaningful ==
class DocColumns:
    """What filters read of every document, as arrays, for one catalog generation.

    Matching arrays in memory costs well under a millisecond at 10k documents;
    a SQL scan of the documents table (their full texts inline) costs ~10 ms.
    """

    generation: int
    doc_ids: np.ndarray  # str
    sources: list[str]
    dates: np.ndarray  # ISO dates, "" for undated
    regions: np.ndarray  # codes in region_codes, -1 for none
    region_codes: dict[str, int]  # lower-cased region -> code


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._columns: DocColumns | None = None
        private_file(path, create=True)  # 0600 before SQLite opens it; its -wal and -shm copy the mode
        with self._conn() as conn:
            conn.executescript(_SCHEMA)
        for side in ("-wal", "-shm"):  # an index made before files were private
            private_file(path.with_name(path.name + side))

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread: Gradio answers users on worker threads.
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    # -- meta ---------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._conn().execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    @property
    def generation(self) -> int:
        """Bumped by every change, so readers know when BM25 is stale."""
        return int(self.get_meta("generation") or 0)

    # -- documents ----------------------------------------------------------
    def document_by_source(self, source: str) -> DocInfo | None:
        row = (
            self._conn()
            .execute(
                "SELECT doc_id, source, sha256, title, date, region, n_chunks, ingested_at "
                "FROM documents WHERE source=?",
                (source,),
            )
            .fetchone()
        )
        return DocInfo(*row) if row else None

    def documents(self) -> list[DocInfo]:
        rows = (
            self._conn()
            .execute(
                "SELECT doc_id, source, sha256, title, date, region, n_chunks, ingested_at "
                "FROM documents ORDER BY date DESC, title"
            )
            .fetchall()
        )
        return [DocInfo(*r) for r in rows]

    def document(self, doc_id: str) -> Document | None:
        row = (
            self._conn()
            .execute(
                "SELECT doc_id, source, title, date, region, text, sha256 FROM documents WHERE doc_id=?", (doc_id,)
            )
            .fetchone()
        )
        return Document(*row) if row else None

    def sections(self) -> dict[str, list[str]]:
        """doc_id -> its section headings in document order (what its chunks carry)."""
        rows = self._conn().execute(
            "SELECT doc_id, heading, MIN(ord) AS first FROM chunks GROUP BY doc_id, heading ORDER BY doc_id, first"
        )
        out: dict[str, list[str]] = {}
        for doc_id, heading, _ in rows:
            out.setdefault(doc_id, []).append(heading)
        return out

    def regions(self) -> list[str]:
        rows = self._conn().execute("SELECT DISTINCT region FROM documents WHERE region IS NOT NULL ORDER BY region")
        return [r[0] for r in rows]

    def replace_document(self, doc: Document, chunks: Sequence[Chunk]) -> list[str]:
        """Swap in ``doc`` for whatever was ingested from its source; returns the old chunk ids."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            old = [
                r[0]
                for r in conn.execute(
                    "SELECT c.chunk_id FROM chunks c JOIN documents d USING(doc_id) WHERE d.source=? OR d.doc_id=?",
                    (doc.source, doc.doc_id),
                )
            ]
            conn.execute("DELETE FROM documents WHERE source=? OR doc_id=?", (doc.source, doc.doc_id))
            conn.execute(
                "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    doc.doc_id,
                    doc.source,
                    doc.sha256,
                    doc.title,
                    doc.date,
                    doc.region,
                    doc.text,
                    len(chunks),
                    time.time(),
                ),
            )
            conn.executemany(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?)",
                [(c.chunk_id, c.doc_id, c.ord, c.start, c.end, c.heading, c.context, c.kind, c.body) for c in chunks],
            )
            self._bump(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        new = {c.chunk_id for c in chunks}
        return [cid for cid in old if cid not in new]

    def remove_document(self, doc_id: str) -> list[str]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            ids = [r[0] for r in conn.execute("SELECT chunk_id FROM chunks WHERE doc_id=?", (doc_id,))]
            conn.execute("DELETE FROM documents WHERE doc_id=?", (doc_id,))
            self._bump(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return ids

    def _bump(self, conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO meta VALUES ('generation', '1') "
            "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # -- chunks -------------------------------------------------------------
    _CHUNK_COLS = "c.chunk_id, c.doc_id, c.ord, c.start, c.\"end\", c.body, c.heading, c.context, c.kind"

    def doc_columns(self) -> DocColumns:
        generation = self.generation  # read first: a write after it only makes the next call re-read
        columns = self._columns
        if columns is None or columns.generation != generation:
            rows = self._conn().execute("SELECT doc_id, source, date, region FROM documents").fetchall()
            codes: dict[str, int] = {}
            columns = DocColumns(
                generation,
                np.array([r[0] for r in rows], dtype=str),
                [r[1] for r in rows],
                np.array([r[2] or "" for r in rows], dtype=str),
                np.array(
                    [-1 if r[3] is None else codes.setdefault(r[3].lower(), len(codes)) for r in rows], dtype=np.int32
                ),
                codes,
            )
            self._columns = columns
        return columns

    def allowed_doc_ids(self, filters: Filters | None) -> frozenset[str] | None:
        """The documents ``filters`` allows; None when there is no filter (everything is allowed).

        The one place filters are resolved: dense search and BM25 both keep to this set.
        """
        if not filters:
            return None
        columns = self.doc_columns()
        return frozenset(columns.doc_ids[filters.admits(columns)].tolist())

    def chunk_doc_ids(self) -> list[tuple[str, str]]:
        """(chunk_id, doc_id) of every chunk, in insertion order: ids only, no texts read."""
        return self._conn().execute("SELECT chunk_id, doc_id FROM chunks ORDER BY rowid").fetchall()

    def chunk_ids(self, filters: Filters | None = None) -> list[str]:
        allowed = self.allowed_doc_ids(filters)
        return [cid for cid, doc_id in self.chunk_doc_ids() if allowed is None or doc_id in allowed]

    def all_chunks(self) -> list[Chunk]:
        rows = self._conn().execute(f"SELECT {self._CHUNK_COLS} FROM chunks c ORDER BY c.rowid")
        return [Chunk(*r) for r in rows]

    def all_chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self._conn().execute(
            f"SELECT {self._CHUNK_COLS} FROM chunks c WHERE c.doc_id=? ORDER BY c.ord", (doc_id,)
        )
        return [Chunk(*r) for r in rows]

    def chunks_with_docs(self, chunk_ids: Iterable[str]) -> dict[str, tuple[Chunk, DocInfo]]:
        ids = list(dict.fromkeys(chunk_ids))
        out: dict[str, tuple[Chunk, DocInfo]] = {}
        for lo in range(0, len(ids), 500):
            part = ids[lo : lo + 500]
            rows = self._conn().execute(
                f"SELECT {self._CHUNK_COLS}, "
                "d.doc_id, d.source, d.sha256, d.title, d.date, d.region, d.n_chunks, d.ingested_at "
                f"FROM chunks c JOIN documents d USING(doc_id) WHERE c.chunk_id IN ({','.join('?' * len(part))})",
                part,
            )
            for r in rows:
                out[r[0]] = (Chunk(*r[:9]), DocInfo(*r[9:]))
        return out
