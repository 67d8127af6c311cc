"""Owner-only modes for the index folder and the files that hold briefings.

The index folder holds every ingested briefing's full text (the catalog), the
uploaded files and the feedback log; on a shared machine none of that is for
other users. ``mkdir``'s and ``open``'s modes are masked by the umask, so the
mode is set with ``chmod`` after creation, whatever the umask is. Inside a 0700
folder nobody else can reach a file anyway (Chroma's and BM25's files included);
the files that hold text are made 0600 as well.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path: Path, mode: int) -> None:
    try:
        info = path.stat()
        if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != mode:
            os.chmod(path, mode)
    except OSError:
        pass  # gone meanwhile, or not ours to change (a read-only index shared by its owner)


def private_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and its parents) if needed; the folder itself ends up 0700."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    _tighten(path, DIR_MODE)
    return path


def private_file(path: str | os.PathLike, *, create: bool = False) -> Path:
    """Make an existing file 0600 (``create``: create it empty first, never readable by others)."""
    path = Path(path)
    if create and not path.exists():
        with contextlib.suppress(FileExistsError):  # created meanwhile by another process
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    _tighten(path, FILE_MODE)
    return path
