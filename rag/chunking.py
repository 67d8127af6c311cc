"""Split a document into token-bounded chunks that respect its structure.

A chunk never crosses a heading, carries its heading path, keeps a Markdown
table whole (a long table is split by rows with the header repeated in the
chunk's context), and records its exact offsets in the document text.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from .config import Settings
from .models import Chunk, Document

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


@lru_cache(maxsize=1)
def _encoding():
    import tiktoken

    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))


@lru_cache(maxsize=4)
def _splitter(chunk_tokens: int, overlap: int):
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    # Sentence ends before words so a chunk boundary rarely cuts a sentence.
    return RecursiveCharacterTextSplitter.from_tiktoken_encoder(
        encoding_name="cl100k_base",
        chunk_size=chunk_tokens,
        chunk_overlap=overlap,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )


@dataclass
class _Block:
    kind: str  # text | table
    start: int
    end: int
    heading: str


def _blocks(text: str, title: str) -> Iterator[_Block]:
    """Walk the lines once, yielding text and table blocks with their heading path."""
    path: list[tuple[int, str]] = []
    kind, start, pos = None, 0, 0

    def heading() -> str:
        return " > ".join(h for _, h in path) or title

    def close(end: int) -> Iterator[_Block]:
        if kind is not None and text[start:end].strip():
            yield _Block(kind, start, end, heading())

    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\n")
        match = _HEADING.match(bare)
        line_kind = "table" if _TABLE_LINE.match(bare) else "text"
        if match:
            yield from close(pos)
            level = len(match.group(1))
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, match.group(2).strip())]
            kind = None
        elif kind != line_kind and (bare.strip() or kind is None):
            yield from close(pos)
            kind, start = line_kind, pos
        pos += len(line)
    yield from close(pos)


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _table_pieces(text: str, block: _Block, limit: int) -> Iterator[tuple[int, int, str]]:
    """Whole table if it fits, else groups of rows; the header goes in the context."""
    start, end = _trim(text, block.start, block.end)
    if count_tokens(text[start:end]) <= limit * 3 // 2:
        yield start, end, ""
        return
    lines, offset = [], start
    for line in text[start:end].splitlines(keepends=True):
        lines.append((offset, offset + len(line.rstrip("\n"))))
        offset += len(line)
    header_lines = 2 if len(lines) > 1 and _TABLE_RULE.match(text[slice(*lines[1])]) else 1
    header = "\n".join(text[a:b] for a, b in lines[:header_lines])
    budget = max(limit - count_tokens(header), 20)
    group: list[tuple[int, int]] = []
    used = 0
    for row in lines[header_lines:]:
        cost = count_tokens(text[slice(*row)])
        if group and used + cost > budget:
            yield group[0][0], group[-1][1], header
            group, used = [], 0
        group.append(row)
        used += cost
    if group:
        yield group[0][0], group[-1][1], header


def chunk_document(doc: Document, settings: Settings) -> list[Chunk]:
    splitter = _splitter(settings.chunk_tokens, settings.chunk_overlap)
    chunks: list[Chunk] = []
    for block in _blocks(doc.text, doc.title):
        # The heading path starts with the title when the document has an H1.
        context = block.heading if block.heading.startswith(doc.title) else f"{doc.title} > {block.heading}"
        if block.kind == "table":
            pieces = [(a, b, f"{context}\n{h}" if h else context) for a, b, h in _table_pieces(doc.text, block, settings.chunk_tokens)]
        else:
            segment = doc.text[block.start : block.end]
            pieces, cursor = [], 0
            for part in splitter.split_text(segment):
                # Locate each piece ourselves: the splitter's start_index can be
                # off by the whitespace it strips.
                found = segment.find(part, cursor)
                found = found if found >= 0 else segment.find(part)
                cursor = found + 1
                pieces.append((block.start + found, block.start + found + len(part), context))
        for start, end, ctx in pieces:
            body = doc.text[start:end]
            chunk_id = hashlib.sha256(f"{doc.doc_id}:{start}:{end}".encode()).hexdigest()[:32]
            chunks.append(
                Chunk(
                    chunk_id=chunk_id,
                    doc_id=doc.doc_id,
                    ord=len(chunks),
                    start=start,
                    end=end,
                    body=body,
                    heading=block.heading,
                    context=ctx,
                    kind=block.kind,
                )
            )
    return chunks
