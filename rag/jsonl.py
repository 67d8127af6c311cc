"""Read a JSON Lines file line by line: each non-blank line's number and object, or why it is not one.

A problem with the file as a whole (missing, unreadable, not UTF-8) raises
:class:`JsonlError`. A problem with one line (not JSON, not an object) comes
back with that line, so that a caller can collect every problem
(:func:`read_lines`) or stop at the first (:func:`objects`). The file is
streamed, never read whole: a BEIR corpus can be gigabytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


class JsonlError(ValueError):
    """The file as a whole cannot be read; the message names it."""


@dataclass(frozen=True)
class Line:
    """One non-blank line: its number (from 1) and its object, or ``problem`` saying why it has none."""

    number: int
    obj: dict | None
    problem: str = ""


def _parse(number: int, text: str) -> Line:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Line(number, None, f"not valid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(obj, dict):
        return Line(number, None, f"expected a JSON object, got {type(obj).__name__}")
    return Line(number, obj)


def read_lines(path: Path, encoding: str = "utf-8") -> Iterator[Line]:
    """Every non-blank line of ``path``, in order; JsonlError if the file is missing, unreadable or not decodable."""
    if not path.is_file():
        raise JsonlError(f"{path}: no such file")
    read = 0
    try:
        with path.open(encoding=encoding) as fh:
            for read, text in enumerate(fh, start=1):
                if text.strip():
                    # Without its newline: JSON counts one as a line break, and the column would be off.
                    yield _parse(read, text.rstrip("\n"))
    except UnicodeDecodeError as exc:
        # The file is decoded a block at a time, so the bad byte lies somewhere after the last line read.
        raise JsonlError(f"{path}: not UTF-8 ({exc.reason} at line {read + 1} or later)") from exc
    except OSError as exc:
        raise JsonlError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def objects(path: Path, error: Callable[[str], Exception]) -> Iterator[tuple[int, dict]]:
    """Each line's (number, object); the first problem, the file's or a line's, is raised as ``error(message)``."""
    try:
        for line in read_lines(path):
            if line.obj is None:
                raise error(f"{path}:{line.number}: {line.problem}")
            yield line.number, line.obj
    except JsonlError as exc:
        raise error(str(exc)) from exc
