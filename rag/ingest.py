"""Ingest files and folders into the index, idempotently.

Files are read and chunked ahead of the encoder (a reader thread), chunks of
several files are embedded together in length-sorted batches, and each batch
is written (a writer thread) while the next one is encoded, so a crash loses
at most the two batches in flight; ``check --repair`` removes their orphans.
"""

from __future__ import annotations

import errno
import os
import queue
import stat
import threading
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

    def add(path: Path) -> None:
        try:
            found[path.resolve(strict=True)] = None
        except (OSError, RuntimeError) as exc:  # RuntimeError: pathlib's "Symlink loop"
            loop = isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP
            why = "a symbolic link loop; fix or remove the link" if loop else "a broken link or unreadable path"
            report.files.append(FileResult(str(path), "failed", f"{path.name}: {why}"))

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_symlink() and not path.exists():
            add(path)  # reports the loop or broken link
        elif not path.exists():
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
                        add(Path(root, name))
        else:
            add(path)
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
    batch_chunks: int = 512,
) -> IngestReport:
    """Three stages so the encoder never waits: a reader thread loads and
    chunks files ahead, this thread embeds batches of ``batch_chunks`` chunks
    (length-sorted inside ``Embedder.encode``), and a writer thread stores each
    embedded batch (Chroma in writes of a few hundred, then the catalog) while
    the next one is encoded. BM25 is rebuilt once, in ``end_write``.
    """
    report = IngestReport()
    paths = list(paths)
    files = discover(paths, report)
    max_bytes = index.settings.max_file_mb * 1024 * 1024
    index.begin_write()
    try:
        _pipeline(files, index, report, max_bytes, progress, batch_chunks)
        if prune:
            _prune(index, report, [Path(p).expanduser().resolve() for p in paths])
    finally:
        index.end_write()
    if progress:
        progress(len(files), len(files), "")
    return report


_DONE = object()


def _read(path: Path, index: Index, max_bytes: float, seen_docs: dict[str, str]) -> _Pending | FileResult:
    """Load and chunk one file, or say why it is skipped."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a pipe would block the reader forever, a device never ends
            raise LoadError(
                f"{path.name}: not a regular file (a pipe, device or socket); copy the briefing into a file"
            )
        if info.st_size > max_bytes:
            raise LoadError(
                f"{path.name}: {info.st_size / 2**20:.0f} MB is over the "
                f"{index.settings.max_file_mb:.0f} MB limit (RAG_MAX_FILE_MB); split the file"
            )
        doc = load(path)
    except LoadError as exc:
        return FileResult(str(path), "failed", str(exc))
    except OSError as exc:
        return FileResult(str(path), "failed", f"{path.name}: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - one unreadable file must not abort the batch
        return FileResult(str(path), "failed", f"{path.name}: could not be read ({type(exc).__name__}: {exc})")
    previous = index.catalog.document_by_source(doc.source)
    if previous and previous.sha256 == doc.sha256:
        return FileResult(doc.source, "unchanged", chunks=previous.n_chunks)
    twin = seen_docs.get(doc.doc_id) or _indexed_twin(index, doc)
    if twin:
        return FileResult(
            doc.source, "failed", f"{path.name}: same text as {Path(twin).name}, already indexed; skipped"
        )
    chunks = chunk_document(doc, index.settings)
    if not chunks:
        # Headings and nothing under them: no passage to cite (and no vector to store).
        return FileResult(str(path), "failed", f"{path.name}: the file holds headings but no text under them")
    seen_docs[doc.doc_id] = doc.source
    return _Pending(path, doc, chunks, "updated" if previous else "added")


def _pipeline(
    files: list[Path],
    index: Index,
    report: IngestReport,
    max_bytes: float,
    progress: Progress | None,
    batch_chunks: int,
) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []
    # Bounded queues: the reader runs a few batches ahead, no further (memory).
    parsed: queue.Queue = queue.Queue(maxsize=128)
    embedded: queue.Queue = queue.Queue(maxsize=2)

    def put(q: queue.Queue, item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def reader() -> None:
        seen_docs: dict[str, str] = {}
        try:
            for path in files:
                if stop.is_set() or not put(parsed, (path, _read(path, index, max_bytes, seen_docs))):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)
        finally:
            put(parsed, _DONE)

    def writer() -> None:
        while True:
            item = embedded.get()
            if item is _DONE:
                return
            if stop.is_set():
                continue  # drain
            batch, vectors = item
            try:
                items, row = [], 0
                for p in batch:
                    items.append((p.doc, p.chunks, vectors[row : row + len(p.chunks)]))
                    row += len(p.chunks)
                index.put_many(items)
                for p in batch:
                    report.files.append(FileResult(p.doc.source, p.status, chunks=len(p.chunks)))
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                errors.append(exc)
                stop.set()

    threads = [
        threading.Thread(target=reader, name="ingest-reader", daemon=True),
        threading.Thread(target=writer, name="ingest-writer", daemon=True),
    ]
    for t in threads:
        t.start()
    pending: list[_Pending] = []

    def flush() -> None:
        chunks = [c for p in pending for c in p.chunks]
        reuse: dict = {}
        for p in pending:
            if p.status == "updated":
                reuse.update(index.previous_vectors(p.doc.source))
        vectors = index.embed_chunks(chunks, reuse)
        put(embedded, (list(pending), vectors))
        pending.clear()

    try:
        done = 0
        while not stop.is_set():
            try:
                item = parsed.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _DONE:
                break
            path, result = item
            if progress:
                progress(done, len(files), path.name)
            done += 1
            if isinstance(result, FileResult):
                report.files.append(result)
                continue
            pending.append(result)
            if sum(len(p.chunks) for p in pending) >= batch_chunks:
                flush()
        if pending and not stop.is_set():
            flush()
    except BaseException:
        stop.set()
        raise
    finally:
        if stop.is_set():
            # unblock the reader if it waits on a full queue
            while True:
                try:
                    parsed.get_nowait()
                except queue.Empty:
                    break
        embedded.put(_DONE)
        for t in threads:
            t.join()
    if errors:
        raise errors[0]


def _indexed_twin(index: Index, doc: Document) -> str | None:
    """The source of an indexed document with identical text from another file."""
    existing = index.catalog.document(doc.doc_id)
    if existing and existing.source != doc.source and Path(existing.source).exists():
        return existing.source
    return None
