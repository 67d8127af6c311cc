"""Split a passage into citable units with exact offsets.

A unit is what one citation quotes: a sentence of prose, one list item, one
``Key: value`` line, or one table row (with its table's header, so the row
can be read on its own). Offsets are into the document text.

A heading is never a unit: it is context for the units below it. Chunks hold
no heading lines, and a heading line met in other text (a passage chunked
before plain-text headings were detected) is skipped here as well. Nor is a
briefing's ``Date:`` / ``Region:`` line: the date it gives is when the
briefing was written, and quoted as evidence it "answered" questions about
when some event happened (every citation carries the briefing's date anyway).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .chunking import _BULLET, _HEADING, _TABLE_LINE, _TABLE_RULE, plain_headings
from .loaders import is_metadata_line
from .models import Passage


@dataclass(frozen=True)
class Unit:
    start: int  # offsets into the document text
    end: int
    text: str  # == document.text[start:end]
    kind: str  # sentence | item | row
    header: tuple[str, ...] = ()  # a row's column names

    def readable(self) -> str:
        """The unit as a sentence a reader can take in (markup removed)."""
        if self.kind == "row":
            cells = split_row(self.text)
            if self.header and len(self.header) == len(cells):
                return "; ".join(f"{h}: {c}" for h, c in zip(self.header, cells, strict=True) if c)
            return "; ".join(c for c in cells if c)
        text = re.sub(r"(\*\*|__|`)", "", self.text)
        text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
        return " ".join(text.split())


def split_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


@lru_cache(maxsize=1)
def segmenter():
    """pysbd's English sentence splitter with character spans, built once (it is slow to build)."""
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def _trimmed(text: str, start: int, end: int, base: int, kind: str, header=()) -> Unit | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end - start < 3 or not any(ch.isalnum() for ch in text[start:end]):
        return None
    return Unit(base + start, base + end, text[start:end], kind, tuple(header))


def _headerless_first_row(rows: list[str]) -> bool:
    """Whether the first row of a table without a ``|---|`` rule is its header:
    some column holds a figure in every other row but none in the first
    ("| Ship | Tonnage |" over "| Frigate | 3,000 |"). Otherwise the rows are
    all data and are read without column names."""
    if len(rows) < 2:
        return False
    cells = [split_row(r) for r in rows]
    first, rest = cells[0], cells[1:]
    if any(any(ch.isdigit() for ch in c) for c in first):
        return False
    return any(
        all(len(r) == len(first) and any(ch.isdigit() for ch in r[col]) for r in rest) for col in range(len(first))
    )


def units_of(text: str, base: int = 0, header: tuple[str, ...] = ()) -> list[Unit]:
    """Units of ``text``, which starts at offset ``base`` of its document.

    ``header`` is the column row of a table whose rows continue from an
    earlier chunk (the chunk's context holds it).
    """
    units: list[Unit] = []
    pos = 0
    lines = text.splitlines(keepends=True)
    paragraph: list[tuple[int, str]] = []
    heading_spans = [(h.start, h.end) for h in plain_headings(text)]

    def flush_paragraph() -> None:
        if not paragraph:
            return
        start = paragraph[0][0]
        body = "".join(line for _, line in paragraph)
        for span in segmenter().segment(body):
            unit = _trimmed(text, start + span.start, start + span.end, base, "sentence")
            if unit:
                units.append(unit)
        paragraph.clear()

    current_header: tuple[str, ...] = header
    for i, line in enumerate(lines):
        bare = line.rstrip("\n")
        if (
            _HEADING.match(bare)
            or any(a < pos + len(bare) and pos <= b for a, b in heading_spans)
            or is_metadata_line(bare)
        ):
            flush_paragraph()  # a heading or the briefing's metadata: context, not an answer
        elif _TABLE_LINE.match(bare):
            flush_paragraph()
            nxt = lines[i + 1].rstrip("\n") if i + 1 < len(lines) else ""
            starts_table = i == 0 or not _TABLE_LINE.match(lines[i - 1].rstrip("\n"))
            if _TABLE_RULE.match(bare):
                pass
            elif (
                _TABLE_RULE.match(nxt)
                or starts_table
                and not (i == 0 and header)
                and _headerless_first_row(_table_rows(lines, i))
            ):
                current_header = tuple(split_row(bare))
            else:
                unit = _trimmed(text, pos, pos + len(bare), base, "row", current_header)
                if unit:
                    units.append(unit)
        elif _BULLET.match(bare) or re.match(r"^\s*[A-Z][A-Za-z ]{1,25}:\s+\S", bare) and len(bare) < 120:
            flush_paragraph()
            marker = _BULLET.match(bare)
            skip = marker.end() if marker else 0
            unit = _trimmed(text, pos + skip, pos + len(bare), base, "item")
            if unit:
                units.append(unit)
        elif bare.strip():
            paragraph.append((pos, line))
        else:
            flush_paragraph()
        pos += len(line)
    flush_paragraph()
    return units


def _table_rows(lines: list[str], i: int) -> list[str]:
    rows = []
    for line in lines[i:]:
        bare = line.rstrip("\n")
        if not _TABLE_LINE.match(bare):
            break
        if not _TABLE_RULE.match(bare):
            rows.append(bare)
    return rows


def passage_units(passage: Passage, context_header: tuple[str, ...] = ()) -> list[Unit]:
    return units_of(passage.text, passage.start, context_header)
