"""Chroma, embedded on disk or a ``chroma run`` server.

Used through chromadb's own client, not langchain-chroma's wrapper: vectors
are computed once at ingest (batched, reused for unchanged chunks) and handed
over ready, and a search fetches only ids and distances, while the wrapper
embeds texts itself and always fetches documents and metadata. LangChain users
get the engine's search as a retriever from ``rag.as_retriever``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from urllib.parse import urlparse

import numpy as np

from .config import Settings
from .embedders import Embedder
from .models import Chunk, Document


def _client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise ValueError(f"RAG_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path = settings.index_path / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def chunk_metadata(chunk: Chunk, doc: Document) -> dict:
    return {
        "doc_id": doc.doc_id,
        "source": doc.source,
        "start": chunk.start,
        "end": chunk.end,
    }


class VectorStore:
    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.embedder = embedder
        self.client = _client(settings)
        # embedding_function=None: chromadb's default one would fetch a model; vectors come from ``embedder``.
        self.collection = self.client.get_or_create_collection(
            settings.collection,
            embedding_function=None,
            metadata={"hnsw:space": "cosine", "embedder": embedder.name},
        )
        built_by = (self.collection.metadata or {}).get("embedder")
        if built_by and built_by != embedder.name:
            raise RuntimeError(
                f"this index was built with {built_by}, not {embedder.name}; "
                f"set RAG_EMBED_BACKEND to match or re-ingest into a new index"
            )

    def count(self) -> int:
        return self.collection.count()

    def ids(self) -> list[str]:
        return list(self.collection.get(include=[])["ids"])

    def embeddings_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not ids:
            return {}
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def upsert(self, chunks: Sequence[Chunk], doc: Document, vectors: np.ndarray, batch: int = 256) -> None:
        for lo in range(0, len(chunks), batch):
            part = chunks[lo : lo + batch]
            self.collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[lo : lo + batch],
                documents=[c.search_text for c in part],
                metadatas=[chunk_metadata(c, doc) for c in part],
            )

    def upsert_docs(self, items: Sequence[tuple[Document, Sequence[Chunk], np.ndarray]], batch: int = 512) -> None:
        """Several documents' chunks in writes of ``batch`` (one call per document is slow for small files)."""
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict] = []
        vecs: list[np.ndarray] = []
        for doc, chunks, vectors in items:
            ids += [c.chunk_id for c in chunks]
            texts += [c.search_text for c in chunks]
            metas += [chunk_metadata(c, doc) for c in chunks]
            vecs.append(np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1))
        if not ids:
            return
        matrix = np.concatenate(vecs)
        for lo in range(0, len(ids), batch):
            self.collection.upsert(
                ids=ids[lo : lo + batch],
                embeddings=matrix[lo : lo + batch],
                documents=texts[lo : lo + batch],
                metadatas=metas[lo : lo + batch],
            )

    def delete(self, ids: Sequence[str], batch: int = 1000) -> None:
        ids = list(ids)
        for lo in range(0, len(ids), batch):
            self.collection.delete(ids=ids[lo : lo + batch])

    def search(
        self, query: str, k: int, *, ids: Sequence[str] | None = None, doc_ids: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """Chunk ids with cosine similarity, best first, among ``ids`` or the chunks of ``doc_ids`` if given.

        Both are the catalog's resolution of the filters (``Index.dense_search``),
        so dense search obeys the same rule as BM25; Chroma matches no region,
        date or source itself. Only ids and distances are fetched: documents and
        metadata come from the catalog anyway.
        """
        if (ids is not None and not ids) or (doc_ids is not None and not doc_ids):
            return []
        vector = self.embedder.embed_query(query)
        got = self.collection.query(
            query_embeddings=[vector],
            n_results=min(k, len(ids)) if ids is not None else k,
            ids=list(ids) if ids is not None else None,
            where={"doc_id": {"$in": sorted(doc_ids)}} if doc_ids is not None else None,
            include=["distances"],
        )
        return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0], strict=True)]
