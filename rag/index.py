"""The index: catalog (truth), Chroma (vectors) and BM25, kept in agreement.

Write order makes a crash harmless: vectors are upserted first, the catalog
swaps the document in one transaction, and only then are the old vectors
deleted. Whatever a crash leaves behind is an orphan vector (not in the
catalog), which no search returns and ``check(repair=True)`` deletes.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .catalog import Catalog, DocInfo, Filters
from .config import Settings
from .embedders import Embedder, get_embedder
from .lexical import Lexical
from .models import Chunk, Document
from .private import private_dir


@dataclass
class CheckReport:
    documents: int = 0
    chunks: int = 0
    vectors: int = 0
    orphan_vectors: list[str] = field(default_factory=list)
    missing_vectors: list[str] = field(default_factory=list)
    bad_offsets: list[str] = field(default_factory=list)
    bm25_mismatch: list[str] = field(default_factory=list)  # chunk ids in BM25 xor in the catalog
    interrupted_ingest: bool = False
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not (
            self.orphan_vectors
            or self.missing_vectors
            or self.bad_offsets
            or self.bm25_mismatch
            or self.interrupted_ingest
        )


class Index:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = settings.index_path
        private_dir(self.path)  # 0700: the catalog holds every briefing's text
        self.catalog = Catalog(self.path / "catalog.sqlite")
        self.lexical = Lexical(self.catalog, self.path / "bm25")
        self.write_lock = threading.Lock()
        self._writer_fds: list[int] = []

    @cached_property
    def embedder(self) -> Embedder:
        return get_embedder(self.settings)

    @cached_property
    def vectors(self):
        from .vectors import VectorStore

        return VectorStore(self.settings, self.embedder)

    # -- reading ------------------------------------------------------------
    def documents(self) -> list[DocInfo]:
        return self.catalog.documents()

    def document(self, doc_id: str) -> Document | None:
        return self.catalog.document(doc_id)

    def regions(self) -> list[str]:
        return self.catalog.regions()

    # Above this many allowed chunks Chroma gets the allowed doc ids instead of
    # the chunk ids, so a broad filter does not send a huge id list per query.
    dense_id_limit = 20000

    def dense_search(self, query: str, k: int, filters: Filters) -> list[tuple[str, float]]:
        allowed = self.catalog.allowed_doc_ids(filters)
        if allowed is None:
            return self.vectors.search(query, k)
        # Chroma finds an id list several times faster than a metadata ``where``
        # (20k chunks, busy 2 cores: 5-9 ms against 13-50 ms for doc_id $in).
        ids = self.lexical.chunk_ids_of(allowed, self.dense_id_limit)
        if ids is None:
            return self.vectors.search(query, k, doc_ids=allowed)
        return self.vectors.search(query, k, ids=ids)

    def bm25_search(self, query: str, k: int, filters: Filters) -> list[tuple[str, float]]:
        return self.lexical.search(query, k, filters)

    # -- writing ------------------------------------------------------------
    @property
    def _marker(self):
        return self.path / "ingest.pending"

    def _lock_writers(self) -> int:
        """Block until no other writer (thread or process) holds this index; returns the lock's fd.

        An OS file lock: the kernel drops it when its holder dies, even by
        SIGKILL, so a marker found while holding it can only be a crash's.
        Without it, a second ingest would "repair" the first one's in-flight
        vectors as orphans.
        """
        fd = os.open(self.path / "write.lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def begin_write(self) -> None:
        """Mark the index as being written; a marker left by a crash triggers repair."""
        fd = self._lock_writers()
        try:
            if self._marker.exists():
                self._check(repair=True)
            self._marker.write_text(str(os.getpid()))
        except BaseException:
            os.close(fd)
            raise
        self._writer_fds.append(fd)

    def end_write(self) -> None:
        try:
            self.lexical.refresh()
            self._marker.unlink(missing_ok=True)
        finally:
            if self._writer_fds:
                os.close(self._writer_fds.pop())  # closing releases the lock

    def embed_chunks(self, chunks: Sequence[Chunk], reuse: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """Vectors for ``chunks``, reusing any whose text was embedded before (content-hash dedup)."""
        reuse = reuse or {}
        todo = [i for i, c in enumerate(chunks) if c.search_text not in reuse]
        fresh = self.embedder.encode([chunks[i].search_text for i in todo], batch_size=self.settings.embed_batch)
        out = np.zeros((len(chunks), self.embedder.dim), dtype=np.float32)
        for row, i in enumerate(todo):
            out[i] = fresh[row]
        for i, c in enumerate(chunks):
            if c.search_text in reuse:
                out[i] = reuse[c.search_text]
        return out

    def previous_vectors(self, source: str) -> dict[str, np.ndarray]:
        """Vectors of the chunks currently indexed for ``source``, keyed by their text."""
        info = self.catalog.document_by_source(source)
        if info is None:
            return {}
        old = self.catalog.all_chunks_of(info.doc_id)
        vectors = self.vectors.embeddings_for([c.chunk_id for c in old])
        return {c.search_text: vectors[c.chunk_id] for c in old if c.chunk_id in vectors}

    def put(self, doc: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        with self.write_lock:
            self.vectors.upsert(chunks, doc, vectors)
            stale = self.catalog.replace_document(doc, chunks)
            self.vectors.delete(stale)

    def put_many(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]]) -> None:
        """``put`` for several documents: one batched vector write, then each catalog swap."""
        with self.write_lock:
            self.vectors.upsert_docs(items)
            stale: list[str] = []
            for doc, chunks, _ in items:
                stale += self.catalog.replace_document(doc, chunks)
            self.vectors.delete(stale)

    def remove(self, doc_id: str) -> bool:
        with self.write_lock:
            ids = self.catalog.remove_document(doc_id)
            self.vectors.delete(ids)
        self.lexical.refresh()
        return bool(ids)

    # -- consistency --------------------------------------------------------
    def check(self, repair: bool = False) -> CheckReport:
        """Compare catalog, Chroma and BM25; waits for a running ingest to finish first."""
        fd = self._lock_writers()
        try:
            return self._check(repair)
        finally:
            os.close(fd)

    def _check(self, repair: bool) -> CheckReport:
        report = CheckReport(interrupted_ingest=self._marker.exists())
        chunks = self.catalog.all_chunks()
        report.documents = len(self.catalog.documents())
        report.chunks = len(chunks)
        texts: dict[str, str] = {}
        for c in chunks:
            if c.doc_id not in texts:
                doc = self.catalog.document(c.doc_id)
                texts[c.doc_id] = doc.text if doc else ""
            if texts[c.doc_id][c.start : c.end] != c.body:
                report.bad_offsets.append(c.chunk_id)
        in_catalog = {c.chunk_id for c in chunks}
        in_vectors = set(self.vectors.ids())
        report.vectors = len(in_vectors)
        report.orphan_vectors = sorted(in_vectors - in_catalog)
        report.missing_vectors = sorted(in_catalog - in_vectors)
        report.bm25_mismatch = sorted(set(self.lexical.ids()) ^ in_catalog)
        if repair:
            if report.bm25_mismatch:  # a saved model that disagrees with its stamp: rebuild from the catalog
                self.lexical.discard_saved()
            with self.write_lock:
                self.vectors.delete(report.orphan_vectors)
                missing = [c for c in chunks if c.chunk_id in set(report.missing_vectors)]
                for doc_id in {c.doc_id for c in missing}:
                    doc = self.catalog.document(doc_id)
                    part = [c for c in missing if c.doc_id == doc_id]
                    self.vectors.upsert(part, doc, self.embed_chunks(part))
                for doc_id in {c.doc_id for c in chunks if c.chunk_id in set(report.bad_offsets)}:
                    self.vectors.delete(self.catalog.remove_document(doc_id))
            self.lexical.refresh()
            self._marker.unlink(missing_ok=True)
            report.repaired = True
        return report
