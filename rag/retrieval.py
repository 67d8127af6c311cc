"""Dense, BM25 and hybrid search: interchangeable functions with one signature.

``search(index, query, k, filters) -> list[Passage]``. Hybrid fuses the two
rankings with reciprocal rank fusion, which needs no score calibration
between cosine similarities and BM25 scores.
"""

from __future__ import annotations

from collections.abc import Callable

from .catalog import Filters
from .index import Index
from .models import Passage

Hits = list[tuple[str, float]]
SearchFn = Callable[[Index, str, int, Filters], list[Passage]]


def _passages(index: Index, ranked: Hits, ranks: dict[str, dict[str, int]] | None = None) -> list[Passage]:
    """Hydrate chunk ids from the catalog; ids it does not hold (orphans) are dropped."""
    rows = index.catalog.chunks_with_docs(cid for cid, _ in ranked)
    out: list[Passage] = []
    for cid, score in ranked:
        if cid not in rows:
            continue
        chunk, doc = rows[cid]
        r = (ranks or {}).get(cid, {})
        out.append(
            Passage(
                chunk_id=cid,
                doc_id=doc.doc_id,
                source=doc.source,
                title=doc.title,
                date=doc.date,
                region=doc.region,
                heading=chunk.heading,
                text=chunk.body,
                start=chunk.start,
                end=chunk.end,
                score=float(score),
                rank=len(out) + 1,
                dense_rank=r.get("dense"),
                bm25_rank=r.get("bm25"),
                kind=chunk.kind,
                context=chunk.context,
            )
        )
    return out


def dense_search(index: Index, query: str, k: int, filters: Filters) -> list[Passage]:
    hits = index.dense_search(query, k, filters)
    return _passages(index, hits, {cid: {"dense": i + 1} for i, (cid, _) in enumerate(hits)})


def bm25_search(index: Index, query: str, k: int, filters: Filters) -> list[Passage]:
    hits = index.bm25_search(query, k, filters)
    return _passages(index, hits, {cid: {"bm25": i + 1} for i, (cid, _) in enumerate(hits)})


def rrf(rankings: dict[str, Hits], rrf_k: int) -> tuple[Hits, dict[str, dict[str, int]]]:
    scores: dict[str, float] = {}
    ranks: dict[str, dict[str, int]] = {}
    for name, hits in rankings.items():
        for rank, (cid, _) in enumerate(hits, start=1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (rrf_k + rank)
            ranks.setdefault(cid, {})[name] = rank
    fused = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    return fused, ranks


def hybrid_search(index: Index, query: str, k: int, filters: Filters) -> list[Passage]:
    depth = max(k, index.settings.candidates)
    fused, ranks = rrf(
        {"dense": index.dense_search(query, depth, filters), "bm25": index.bm25_search(query, depth, filters)},
        index.settings.rrf_k,
    )
    return _passages(index, fused[: k + 5], ranks)[:k]


SEARCHES: dict[str, SearchFn] = {"dense": dense_search, "bm25": bm25_search, "hybrid": hybrid_search}
