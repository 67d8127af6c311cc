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

from .models import Chunk, Document

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
    """Metadata filters applied identically to dense and BM25 retrieval."""

    regions: tuple[str, ...] = ()
    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: "Filters | dict | None") -> "Filters":
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

    def sql(self) -> tuple[str, list]:
        """A WHERE clause over ``documents d``."""
        clauses, params = [], []
        if self.regions:
            clauses.append(f"lower(d.region) IN ({','.join('?' * len(self.regions))})")
            params += [r.lower() for r in self.regions]
        if self.date_from:
            clauses.append("d.date >= ?")
            params.append(self.date_from)
        if self.date_to:
            clauses.append("d.date <= ?")
            params.append(self.date_to)
        if self.sources:
            # A source may be named by full path or by file name.
            parts = []
            for s in self.sources:
                parts.append("(d.source = ? OR d.source LIKE ?)")
                params += [s, f"%/{s}"]
            clauses.append("(" + " OR ".join(parts) + ")")
        return (" AND ".join(clauses) or "1"), params


class Catalog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._conn() as conn:
            conn.executescript(_SCHEMA)

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
        row = self._conn().execute(
            "SELECT doc_id, source, sha256, title, date, region, n_chunks, ingested_at FROM documents WHERE source=?",
            (source,),
        ).fetchone()
        return DocInfo(*row) if row else None

    def documents(self) -> list[DocInfo]:
        rows = self._conn().execute(
            "SELECT doc_id, source, sha256, title, date, region, n_chunks, ingested_at FROM documents ORDER BY date DESC, title"
        ).fetchall()
        return [DocInfo(*r) for r in rows]

    def document(self, doc_id: str) -> Document | None:
        row = self._conn().execute(
            "SELECT doc_id, source, title, date, region, text, sha256 FROM documents WHERE doc_id=?", (doc_id,)
        ).fetchone()
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
                (doc.doc_id, doc.source, doc.sha256, doc.title, doc.date, doc.region, doc.text, len(chunks), time.time()),
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

    def chunk_ids(self, filters: Filters | None = None) -> list[str]:
        where, params = (filters or Filters()).sql()
        rows = self._conn().execute(
            f"SELECT c.chunk_id FROM chunks c JOIN documents d USING(doc_id) WHERE {where} ORDER BY c.rowid", params
        )
        return [r[0] for r in rows]

    def all_chunks(self) -> list[Chunk]:
        rows = self._conn().execute(f"SELECT {self._CHUNK_COLS} FROM chunks c ORDER BY c.rowid")
        return [Chunk(*r) for r in rows]

    def all_chunks_of(self, doc_id: str) -> list[Chunk]:
        rows = self._conn().execute(f"SELECT {self._CHUNK_COLS} FROM chunks c WHERE c.doc_id=? ORDER BY c.ord", (doc_id,))
        return [Chunk(*r) for r in rows]

    def chunks_with_docs(self, chunk_ids: Iterable[str]) -> dict[str, tuple[Chunk, DocInfo]]:
        ids = list(dict.fromkeys(chunk_ids))
        out: dict[str, tuple[Chunk, DocInfo]] = {}
        for lo in range(0, len(ids), 500):
            part = ids[lo : lo + 500]
            rows = self._conn().execute(
                f"SELECT {self._CHUNK_COLS}, d.doc_id, d.source, d.sha256, d.title, d.date, d.region, d.n_chunks, d.ingested_at "
                f"FROM chunks c JOIN documents d USING(doc_id) WHERE c.chunk_id IN ({','.join('?' * len(part))})",
                part,
            )
            for r in rows:
                out[r[0]] = (Chunk(*r[:9]), DocInfo(*r[9:]))
        return out
