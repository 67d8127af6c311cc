"""BEIR-format benchmarks through the engine's own chunker, index and searches.

A BEIR folder holds ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv``
(``query-id<TAB>corpus-id<TAB>score`` with a header row; CRLF or LF).

Each BEIR document becomes one :class:`rag.models.Document` whose text is
``"# " + title + "\\n\\n" + text``: the title is a Markdown heading, so the
chunker files it as the heading path (it becomes every chunk's ``context``)
rather than as body text. A chunk's ``search_text`` is therefore
``title + "\\n" + body`` (the BEIR/MTEB ``title + " " + text`` when a document is
one chunk), the title is never counted twice, and chunk offsets still point
into the document text exactly as they do for a briefing. ``doc_id`` is the
BEIR id, ``source`` a pseudo path ``beir://<name>/<id>``.

The index is cached under ``<cache>/beir-<name>-<hash>``, the hash covering
the corpus bytes and every setting that changes chunks or vectors, so a rerun
only embeds the queries. An interrupted build resumes where it stopped.

Retrieval asks the engine's search function for chunks (several per document
are possible), keeps each document once at the score and rank of its best
chunk, and stops at ``depth`` (100) documents. Metrics come from ``ranx``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.jsonl import objects

FORMAT_VERSION = "1"
METRICS = ("ndcg@10", "recall@100", "mrr@10")
Progress = Callable[[int, int, str], None]


class BeirError(ValueError):
    """A BEIR folder that cannot be used; the message says which file and line."""


# -- reading -------------------------------------------------------------------
def _jsonl(path: Path) -> Iterator[dict]:
    """The objects of a BEIR JSON Lines file, streamed; BeirError at the first bad line."""
    for n, obj in objects(path, BeirError):
        if "_id" not in obj:
            raise BeirError(f"{path}:{n}: expected an object with an '_id' field")
        yield obj


def read_corpus(folder: Path) -> dict[str, tuple[str, str]]:
    """BEIR id -> (title, text), in file order."""
    out: dict[str, tuple[str, str]] = {}
    for obj in _jsonl(folder / "corpus.jsonl"):
        out[str(obj["_id"])] = (str(obj.get("title") or ""), str(obj.get("text") or ""))
    return out


def read_queries(folder: Path) -> dict[str, str]:
    return {str(obj["_id"]): str(obj.get("text") or "") for obj in _jsonl(folder / "queries.jsonl")}


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id -> {corpus-id: score}``; CRLF endings and a header row are handled."""
    if not path.is_file():
        raise BeirError(f"{path}: no such file (is the split name right?)")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for n, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t")
            if n == 1 and parts[0].strip().lower() in {"query-id", "query_id", "qid"}:
                continue
            if len(parts) < 3:
                raise BeirError(f"{path}:{n}: expected query-id<TAB>corpus-id<TAB>score, got {line!r}")
            try:
                score = int(float(parts[2].strip()))
            except ValueError as exc:
                raise BeirError(f"{path}:{n}: score {parts[2]!r} is not a number") from exc
            qrels.setdefault(parts[0].strip(), {})[parts[1].strip()] = score
    return qrels


def document_text(title: str, text: str) -> str:
    title = " ".join(title.split())
    text = text.strip()
    return f"# {title}\n\n{text}" if title else text


# -- the cached index -------------------------------------------------------------
def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def index_key(folder: Path, settings: Settings) -> str:
    """Hash of what decides the chunks and their vectors."""
    parts = {
        "format": FORMAT_VERSION,
        "corpus": _file_hash(folder / "corpus.jsonl"),
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "embed_backend": settings.embed_backend,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "briefing-rag"


def index_settings(folder: Path, base: Settings, cache_root: Path | None = None) -> Settings:
    folder = Path(folder)
    name = folder.resolve().name
    root = Path(cache_root) if cache_root else default_cache_root()
    path = root / f"beir-{name}-{index_key(folder, base)}"
    # A local index always: a Chroma server configured for briefings must not receive BEIR.
    return base.with_(index_dir=str(path), collection="beir", chroma_url="")


def build_index(folder: Path, settings: Settings, progress: Progress | None = None, batch_docs: int = 256):
    """Index the corpus into ``settings.index_dir`` unless it is already complete; returns the Index."""
    from rag.chunking import chunk_document
    from rag.engine import get_engine
    from rag.models import Document

    folder = Path(folder)
    index = get_engine(settings).index
    done_marker = index.path / "beir-complete.json"
    corpus = read_corpus(folder)
    if done_marker.exists() and json.loads(done_marker.read_text()).get("documents") == len(corpus):
        index.lexical.refresh()
        return index
    name = folder.resolve().name
    have = {info.doc_id for info in index.documents()}
    todo = [doc_id for doc_id in corpus if doc_id not in have]
    t0 = time.perf_counter()
    n_chunks = 0
    index.begin_write()
    try:
        for lo in range(0, len(todo), batch_docs):
            if progress:
                progress(len(corpus) - len(todo) + lo, len(corpus), f"embedding {name}")
            docs, chunk_lists = [], []
            for doc_id in todo[lo : lo + batch_docs]:
                title, body = corpus[doc_id]
                text = document_text(title, body)
                doc = Document(
                    doc_id=doc_id,
                    source=f"beir://{name}/{doc_id}",
                    title=" ".join(title.split()) or doc_id,
                    date=None,
                    region=None,
                    text=text,
                    sha256=hashlib.sha256(text.encode()).hexdigest(),
                )
                docs.append(doc)
                chunk_lists.append(chunk_document(doc, settings))
            flat = [c for chunks in chunk_lists for c in chunks]
            vectors = index.embed_chunks(flat)
            row = 0
            for doc, chunks in zip(docs, chunk_lists, strict=True):
                index.put(doc, chunks, vectors[row : row + len(chunks)])
                row += len(chunks)
            n_chunks += len(flat)
    finally:
        index.end_write()
    if progress:
        progress(len(corpus), len(corpus), f"embedding {name}")
    total_chunks = len(index.catalog.chunk_ids())
    done_marker.write_text(
        json.dumps(
            {
                "documents": len(corpus),
                "chunks": total_chunks,
                "embedded_now": n_chunks,
                "seconds": round(time.perf_counter() - t0, 1),
                "chunk_tokens": settings.chunk_tokens,
                "chunk_overlap": settings.chunk_overlap,
                "embed_backend": settings.embed_backend,
            },
            indent=2,
        )
    )
    return index


# -- retrieval -------------------------------------------------------------------
def rank_documents(passages, depth: int) -> list[tuple[str, float]]:
    """Each document once, at its best chunk's score, best first (passages come best first)."""
    seen: dict[str, float] = {}
    for p in passages:
        if p.doc_id not in seen:
            seen[p.doc_id] = float(p.score)
            if len(seen) >= depth:
                break
    return list(seen.items())


def retrieve(
    index, query: str, retriever: str, depth: int = 100, total_chunks: int | None = None
) -> list[tuple[str, float]]:
    """Top ``depth`` documents; asks for more chunks until ``depth`` distinct documents are found."""
    from rag.catalog import Filters
    from rag.retrieval import SEARCHES

    search = SEARCHES[retriever]
    k = depth * 3
    while True:
        passages = search(index, query, k, Filters())
        docs = rank_documents(passages, depth)
        if len(docs) >= depth or len(passages) < k or (total_chunks is not None and k >= total_chunks):
            return docs
        k *= 2


def write_trec(run: dict[str, list[tuple[str, float]]], path: Path, tag: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for qid, docs in run.items():
            for rank, (doc_id, score) in enumerate(docs, start=1):
                fh.write(f"{qid} Q0 {doc_id} {rank} {score:.6f} {tag}\n")


def read_trec(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise BeirError(f"{path}:{n}: expected 'qid Q0 docid rank score tag', got {line!r}")
        run.setdefault(parts[0], {})[parts[2]] = float(parts[4])
    return run


def score_run(
    qrels: dict[str, dict[str, int]], run: dict[str, list[tuple[str, float]]], metrics=METRICS
) -> dict[str, float]:
    """Mean metrics with ranx; a query with no result counts as 0."""
    from ranx import Qrels, Run, evaluate

    # ranx orders by score; rank order is what we ranked, so scores are made
    # strictly decreasing in rank to keep ties (common with RRF) in our order.
    run_dict: dict[str, dict[str, float]] = {}
    for qid in qrels:
        docs = run.get(qid) or []
        if not docs:
            run_dict[qid] = {"__no_result__": 0.0}
            continue
        n = len(docs)
        run_dict[qid] = {doc_id: float(n - i) for i, (doc_id, _) in enumerate(docs)}
    result = evaluate(Qrels(qrels), Run(run_dict), list(metrics), make_comparable=True)
    if isinstance(result, float):
        result = {metrics[0]: result}
    return {m: round(float(v), 5) for m, v in result.items()}


@dataclass
class BeirResult:
    dataset: str
    split: str
    retriever: str
    metrics: dict[str, float]
    queries: int
    documents: int
    chunks: int
    index_dir: str
    run_file: str | None
    seconds: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def run_beir(
    folder: str | Path,
    *,
    split: str = "test",
    retriever: str = "hybrid",
    settings: Settings | None = None,
    cache_root: str | Path | None = None,
    run_out: str | Path | None = None,
    depth: int = 100,
    progress: Progress | None = None,
    max_queries: int | None = None,
) -> BeirResult:
    from rag.retrieval import SEARCHES

    if retriever not in SEARCHES:
        raise BeirError(f"--retriever {retriever!r}: choose one of {', '.join(SEARCHES)}")
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise BeirError(f"{folder}: no such folder")
    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    queries = read_queries(folder)
    missing = [q for q in qrels if q not in queries]
    if missing:
        raise BeirError(f"{len(missing)} query id(s) of qrels/{split}.tsv are not in queries.jsonl, e.g. {missing[0]}")
    qids = list(qrels)[:max_queries] if max_queries else list(qrels)
    if max_queries:
        qrels = {q: qrels[q] for q in qids}
    base = settings or Settings.from_env()
    isettings = index_settings(folder, base, Path(cache_root) if cache_root else None)
    t0 = time.perf_counter()
    index = build_index(folder, isettings, progress)
    t_index = time.perf_counter() - t0
    total_chunks = len(index.catalog.chunk_ids())
    run: dict[str, list[tuple[str, float]]] = {}
    t1 = time.perf_counter()
    for i, qid in enumerate(qids):
        if progress and i % 10 == 0:
            progress(i, len(qids), f"{retriever} retrieval")
        run[qid] = retrieve(index, queries[qid], retriever, depth, total_chunks)
    if progress:
        progress(len(qids), len(qids), f"{retriever} retrieval")
    t_search = time.perf_counter() - t1
    tag = f"briefing-rag-{retriever}"
    if run_out:
        write_trec(run, Path(run_out), tag)
    metrics = score_run(qrels, run)
    return BeirResult(
        dataset=folder.resolve().name,
        split=split,
        retriever=retriever,
        metrics=metrics,
        queries=len(qids),
        documents=len(index.documents()),
        chunks=total_chunks,
        index_dir=str(isettings.index_path),
        run_file=str(run_out) if run_out else None,
        seconds={
            "index": round(t_index, 1),
            "retrieve": round(t_search, 1),
            "per_query_ms": round(1000 * t_search / max(len(qids), 1), 1),
        },
        settings={
            "chunk_tokens": isettings.chunk_tokens,
            "chunk_overlap": isettings.chunk_overlap,
            "candidates": isettings.candidates,
            "rrf_k": isettings.rrf_k,
            "embed_backend": isettings.embed_backend,
            "depth": depth,
        },
    )
