"""Library operations behind the Library tab: upload, delete, re-index.

The browser's file name is never trusted: only its last path part survives, it
is reduced to a safe alphabet, and the file is written inside
``<index_dir>/uploads``. Type and size are checked here, on the server,
whatever the browser was told to accept.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rag.engine import NotIndexed
from rag.loaders import SUPPORTED, LoadError, load
from rag.models import FileResult, IngestReport
from rag.private import private_dir, private_file

UPLOAD_DIR = "uploads"
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
_MAGIC = {".pdf": b"%PDF", ".docx": b"PK\x03\x04"}
KEPT = "the previous version was kept"

# One library change at a time (uploads, deletes, re-indexes from any session).
LIBRARY_LOCK = threading.Lock()


def safe_upload_name(client_name: str) -> str:
    """A file name safe to create in the uploads folder.

    ``"../../x.md" -> "x.md"``, ``"C:\\\\evil\\\\a b.MD" -> "a b.md"``, ``".bashrc.md" -> "bashrc.md"``.
    """
    base = re.split(r"[\\/]", str(client_name or ""))[-1]
    base = unicodedata.normalize("NFKC", base)
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip(" ._-")[:100] or "upload"
    suffix = _UNSAFE.sub("", suffix).lower()[:10]
    return f"{stem}.{suffix}" if suffix else stem


def uploads_dir(index_dir: str | os.PathLike) -> Path:
    path = Path(index_dir).expanduser().resolve() / UPLOAD_DIR
    private_dir(path.parent)  # the index folder: 0700, whoever creates it first
    return private_dir(path)


@dataclass
class Staged:
    stored: list[Path] = field(default_factory=list)
    rejected: list[FileResult] = field(default_factory=list)
    # An upload that replaced an earlier one: target -> (copy of the earlier file, sha256 of the new one).
    previous: dict[Path, tuple[Path, str]] = field(default_factory=dict)


def stage_uploads(files: list[Any], index_dir: str, max_file_mb: float) -> Staged:
    """Copy accepted uploads into the uploads folder; reject the rest with a reason.

    ``files`` are what Gradio hands over: paths (str) of its temporary copies,
    or objects with ``.name`` / ``.orig_name``.
    """
    staged = Staged()
    target_dir = uploads_dir(index_dir)
    limit = max_file_mb * 1024 * 1024
    for item in files or []:
        temp_path, client_name = _paths_of(item)
        name = safe_upload_name(client_name)
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED:
            kinds = " ".join(sorted(SUPPORTED))
            staged.rejected.append(FileResult(name, "failed", f"{name}: unsupported type; use one of {kinds}"))
            continue
        try:
            size = os.path.getsize(temp_path)
            if size > limit:
                staged.rejected.append(
                    FileResult(name, "failed", f"{name}: {size / 2**20:.1f} MB is over the {max_file_mb:g} MB limit")
                )
                continue
            if size == 0:
                staged.rejected.append(FileResult(name, "failed", f"{name}: the file is empty"))
                continue
            with open(temp_path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            staged.rejected.append(
                FileResult(name, "failed", f"{name}: could not read the upload ({exc.strerror or exc})")
            )
            continue
        magic = _MAGIC.get(suffix)
        if magic and not data.startswith(magic):
            staged.rejected.append(FileResult(name, "failed", f"{name}: not a real {suffix} file"))
            continue
        target = target_dir / name
        if target.resolve().parent != target_dir:  # belt and braces: never outside uploads/
            staged.rejected.append(FileResult(name, "failed", f"{name}: bad file name"))
            continue
        # Same name replaces the earlier upload (that is how a briefing is updated), but
        # only with a file that reads: a bad replacement must not cost the good file.
        backup = None
        if target.exists():
            try:
                load(target, data)
            except Exception as exc:  # noqa: BLE001 - whatever the loader raises, the upload is refused
                why = (
                    str(exc)
                    if isinstance(exc, LoadError)
                    else f"{name}: could not be read ({type(exc).__name__}: {exc})"
                )
                staged.rejected.append(FileResult(name, "failed", f"{why}; {KEPT}"))
                continue
            backup = _copy_aside(target, target_dir)
        fd, tmp = tempfile.mkstemp(dir=target_dir, prefix=".upload-")  # 0600, and stays so through the rename
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, target)
        private_file(target)
        if backup is not None:
            staged.previous[target] = (backup, hashlib.sha256(data).hexdigest())
        staged.stored.append(target)
    return staged


def _copy_aside(path: Path, folder: Path) -> Path:
    """A hidden copy of ``path`` (ingest skips dot files) to put back if its replacement fails."""
    fd, copy = tempfile.mkstemp(dir=folder, prefix=".previous-")
    with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
        shutil.copyfileobj(src, out)
    return Path(copy)


def _paths_of(item: Any) -> tuple[str, str]:
    if isinstance(item, (str, os.PathLike)):
        return str(item), str(item)
    if isinstance(item, dict):
        path = item.get("path") or item.get("name")
        return path, item.get("orig_name") or path
    path = getattr(item, "path", None) or item.name
    return path, getattr(item, "orig_name", None) or path


def ingest_uploads(engine: Any, files: list[Any], progress=None) -> IngestReport:
    """Stage and ingest uploads; the report lists every file, rejected ones included."""
    settings = engine.settings
    with LIBRARY_LOCK:
        staged = stage_uploads(files, settings.index_dir, settings.max_file_mb)
        report = IngestReport(files=list(staged.rejected))
        if staged.stored:
            try:
                result = engine.ingest([str(p) for p in staged.stored], progress=progress)
            finally:
                restored = _settle_replacements(engine, staged)
            report.files += result.files
            folder = uploads_dir(settings.index_dir)
            for f in result.failed:
                path = Path(f.path)
                if path in restored:
                    f.reason = f"{f.reason}; {KEPT}" if f.reason else KEPT
                elif path.parent == folder and engine.find(str(path)) is None:
                    path.unlink(missing_ok=True)  # a new file the engine could not read is not kept
    return report


def _settle_replacements(engine: Any, staged: Staged) -> set[Path]:
    """Keep each replacement the index now holds; put the earlier file back for the others
    (their catalog, Chroma and BM25 entries were never touched). Returns those put back."""
    restored = set()
    for target, (backup, sha) in staged.previous.items():
        info = engine.find(str(target))
        if info is not None and info.sha256 == sha:
            backup.unlink(missing_ok=True)
        else:
            os.replace(backup, target)
            restored.add(target)
    return restored


def delete_document(engine: Any, doc_id: str) -> str:
    with LIBRARY_LOCK:
        try:
            info = engine.remove(doc_id)
        except NotIndexed:
            return "That briefing is not in the index (already deleted?)."
        source = Path(info.source)
        if source.parent == uploads_dir(engine.settings.index_dir):
            source.unlink(missing_ok=True)
            note = " The uploaded file was deleted too."
        else:
            note = f" The file {source.name} stays on disk; the next `rag ingest` of its folder adds it back."
        return f"Deleted “{info.title}”.{note}"


def reindex_document(engine: Any, doc_id: str) -> IngestReport:
    """Read one briefing's file again; re-chunk and re-embed it even if unchanged."""
    with LIBRARY_LOCK:
        try:
            return engine.reindex(doc_id)
        except NotIndexed:
            return IngestReport(files=[FileResult(doc_id, "failed", "that briefing is not in the index")])
