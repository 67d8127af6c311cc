"""Ingest files and folders into the index, idempotently.

Files are read and chunked ahead of the encoder, chunks of several files are
embedded together in length-sorted batches, and each document is written as
soon as its vectors exist, so a crash loses at most the batch in flight.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .chunking import chunk_document
from .index import Index
from .loaders import SUPPORTED, LoadError, load
from .models import Chunk, Document, FileResult, IngestReport

Progress = Callable[[int, int, str], None]  # (done, total, current file)


@dataclass
class _Pending:
    path: Path
    doc: Document
    chunks: list[Chunk]
    status: str


def discover(paths: Iterable[str | os.PathLike], report: IngestReport) -> list[Path]:
    """Supported files under ``paths``; anything unusable is reported, not raised."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            report.files.append(FileResult(str(path), "failed", "no such file or folder"))
        elif path.is_dir():
            seen_dirs: set[Path] = set()
            for root, dirs, files in os.walk(path, followlinks=True):
                real = Path(root).resolve()
                if real in seen_dirs:  # a symlink loop: walk each real folder once
                    dirs[:] = []
                    continue
                seen_dirs.add(real)
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED:
                        found[Path(root, name).resolve()] = None
        else:
            found[path.resolve()] = None
    return list(found)


def _prune(index: Index, report: IngestReport, roots: list[Path]) -> None:
    for info in index.documents():
        source = Path(info.source)
        inside = any(source == r or r in source.parents for r in roots)
        if inside and not source.exists():
            index.remove(info.doc_id)
            report.files.append(FileResult(info.source, "removed", "file is gone"))


def ingest(
    paths: Iterable[str | os.PathLike],
    index: Index,
    *,
    prune: bool = False,
    progress: Progress | None = None,
    batch_chunks: int = 256,
) -> IngestReport:
    report = IngestReport()
    paths = list(paths)
    files = discover(paths, report)
    max_bytes = index.settings.max_file_mb * 1024 * 1024
    seen_docs: dict[str, str] = {}
    index.begin_write()
    try:
        pending: list[_Pending] = []

        def flush() -> None:
            chunks = [c for p in pending for c in p.chunks]
            reuse: dict = {}
            for p in pending:
                if p.status == "updated":
                    reuse.update(index.previous_vectors(p.doc.source))
            vectors = index.embed_chunks(chunks, reuse)
            row = 0
            for p in pending:
                index.put(p.doc, p.chunks, vectors[row : row + len(p.chunks)])
                row += len(p.chunks)
                report.files.append(FileResult(p.doc.source, p.status, chunks=len(p.chunks)))
            pending.clear()

        for done, path in enumerate(files):
            if progress:
                progress(done, len(files), path.name)
            try:
                if path.stat().st_size > max_bytes:
                    raise LoadError(
                        f"{path.name}: {path.stat().st_size / 2**20:.0f} MB is over the "
                        f"{index.settings.max_file_mb:.0f} MB limit (RAG_MAX_FILE_MB); split the file"
                    )
                doc = load(path)
            except LoadError as exc:
                report.files.append(FileResult(str(path), "failed", str(exc)))
                continue
            except OSError as exc:
                report.files.append(FileResult(str(path), "failed", f"{path.name}: {exc.strerror or exc}"))
                continue
            previous = index.catalog.document_by_source(doc.source)
            if previous and previous.sha256 == doc.sha256:
                report.files.append(FileResult(doc.source, "unchanged", chunks=previous.n_chunks))
                continue
            twin = seen_docs.get(doc.doc_id) or _indexed_twin(index, doc)
            if twin:
                report.files.append(
                    FileResult(doc.source, "failed", f"{path.name}: same text as {Path(twin).name}, already indexed; skipped")
                )
                continue
            seen_docs[doc.doc_id] = doc.source
            chunks = chunk_document(doc, index.settings)
            pending.append(_Pending(path, doc, chunks, "updated" if previous else "added"))
            if sum(len(p.chunks) for p in pending) >= batch_chunks:
                flush()
        if pending:
            flush()
        if prune:
            _prune(index, report, [Path(p).expanduser().resolve() for p in paths])
    finally:
        index.end_write()
    if progress:
        progress(len(files), len(files), "")
    return report


def _indexed_twin(index: Index, doc: Document) -> str | None:
    """The source of an indexed document with identical text from another file."""
    existing = index.catalog.document(doc.doc_id)
    if existing and existing.source != doc.source and Path(existing.source).exists():
        return existing.source
    return None
