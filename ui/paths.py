"""What the browser may see of where a briefing lives: never a server path.

The catalog keeps absolute paths (the CLI and the Python API show them, they
are the user's own machine). The chat is reached over the network, so it
names each briefing by the shortest tail of its path that no other indexed
briefing shares: the file name, or ``folder/name`` when two folders hold
files of that name. A source filter given that tail selects exactly that
briefing (a filter matches a whole path or a path-component tail).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePath
from typing import Any

# An absolute POSIX path, or a drive path, inside a message (a loader or OS error).
_ABSOLUTE = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[\\/][^\s\\/:'\"()]+)+[\\/]?")


def display_names(sources: Iterable[str]) -> dict[str, str]:
    """Each source path -> its shortest path tail unique among ``sources``."""
    parts = {s: PurePath(s).parts for s in dict.fromkeys(sources)}
    names: dict[str, str] = {}
    for source, own in parts.items():
        for depth in range(1, len(own) + 1):
            tail = own[-depth:]
            if not any(other[-depth:] == tail for s, other in parts.items() if s != source):
                break
        names[source] = PurePath(*tail).as_posix()  # the whole path only for a file that is another's tail
    return names


def public_answer(data: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """``Answer.to_dict()`` with every ``source`` written as its display name."""
    out = dict(data)
    for key in ("citations", "closest", "passages"):
        out[key] = [
            {**item, "source": names.get(item.get("source", ""), _tail(item.get("source", "")))}
            for item in data.get(key) or []
        ]
    return out


def scrub(message: str) -> str:
    """A message for the browser: any absolute path in it reduced to its last part."""
    return _ABSOLUTE.sub(lambda m: _tail(m.group(0)), message or "")


def _tail(path: str) -> str:
    return re.split(r"[\\/]", path.rstrip("\\/"))[-1] if path else ""
