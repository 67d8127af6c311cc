"""Split a document into token-bounded chunks that respect its structure.

A chunk never crosses a heading, carries its heading path, keeps a Markdown
table whole (a long table is split by rows with the header repeated in the
chunk's context), and records its exact offsets in the document text.

Text without ``#`` headings (a pasted news analysis, exported notes, an
e-mail body) has its headings found from the lines themselves by
:func:`plain_headings`; nothing is inserted into the text, so offsets stay
those of the file's own characters.
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
# A list item: -, *, +, • or a number ("1." "2)") and a space.
_BULLET = re.compile(r"^\s*(?:[-*+•▪‣◦]|\d{1,3}[.)])\s+")
_ATX_ANYWHERE = re.compile(r"^#{1,6}[ \t]+\S", re.M)
_SETEXT_RULE = re.compile(r"^\s*(=+|-+)\s*$")
_TITLE_LINE = re.compile(r"^\s*(?:Title|Headline|Subject)\s*:\s*(?:(?:re|fwd?|aw)\s*:\s*)*(\S.*?)\s*$", re.I)
_KEY_VALUE = re.compile(r"^[^:]{1,40}:(?:\s|$)")
# Words a heading does not end on: a line ending on one is a sentence cut by a
# line break ("... because the") or a list's lead-in without its colon. Words
# that end phrasal verbs in headlines ("Spills Over", "Talks Break Down",
# "Fighting Spills Across") are not among them.
_OPEN_ENDS = frozenset(
    "a an the of and or but nor to at by for from with into onto upon than as that which who whom whose its "
    "their his her our my your this these those is are was were be been being has have had will would can could "
    "should may might must shall include includes including included such following follows below per via "
    "versus vs during towards toward".split()
)
_SALUTATION = re.compile(
    r"^(?:hi|hello|hey|dear|greetings|thanks|thank you|many thanks|regards|best|best regards|kind regards|"
    r"warm regards|cheers|sincerely|yours|love)\b",
    re.I,
)
_BYLINE = re.compile(r"^[Bb][Yy]\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*(?:\s+and\s+[A-Z][\w.'-]*(?:\s+[A-Z][\w.'-]*)*)?$")
_MARKING = re.compile(
    r"^(?:(?:top\s+)?secret|confidential|unclassified|restricted|official(?:[- ]sensitive)?|for official use only|"
    r"draft|ends?|more|urgent|breaking|exclusive|update[ds]?)$",
    re.I,
)
_MONTH_WORD = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
# A line that is a date or time stamp and little else ("30 November 2024",
# "Updated: Mon 2 Dec 2024 10:41 GMT", "Page 3 of 10").
_STAMP = re.compile(
    rf"^(?:(?:updated|posted|published|issued)\b.*|page\s+\d.*|.*\b{_MONTH_WORD}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b.*"
    rf"|.*\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH_WORD}\.?,?\s+\d{{4}}\b.*|.*\b\d{{4}}-\d\d-\d\d\b.*)$",
    re.I,
)
_SENTENCE_BREAK = re.compile(r"[a-z]{3,}[.!?]\s+[A-Z]")
_TERMINAL = tuple('.!?"\'”’)]')


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


@dataclass(frozen=True)
class PlainHeading:
    """A heading found in text without ``#`` markup: ``text[start:end]`` is its
    line (two lines for a Setext heading), ``title`` its words."""

    start: int
    end: int
    title: str
    level: int  # 1: the document's title line; 2: a section heading


def has_markdown_headings(text: str) -> bool:
    return "#" in text and _ATX_ANYWHERE.search(text) is not None


def _unemphasised(line: str) -> str:
    s = line.strip()
    match = re.fullmatch(r"(\*\*|__)(.+?)\1", s)
    return match.group(2).strip() if match else s


def heading_candidate(line: str, max_words: int = 14) -> str | None:
    """The words of ``line`` if it could be a heading on its own terms: short,
    a capital or digit first, no final full stop, comma, colon or dash, not a
    list item, table row, ``Key: value`` line, date stamp, byline, greeting or
    marking, and not a sentence cut off by a line break. Whether it *is* one
    depends on its neighbours (:func:`plain_headings`). A file's first line may
    be longer (``max_words``): a headline runs to 15 or 20 words."""
    if len(line) > 150:
        return None
    s = _unemphasised(line)
    if not 2 <= len(s) <= 130 or len(s.split()) > max_words:
        return None
    if _BULLET.match(s) or _TABLE_LINE.match(s) or _TABLE_RULE.match(s) or _HEADING.match(s):
        return None
    if not (s[0].isupper() or s[0].isdigit()):
        return None
    last = s[-1]
    if not (last.isalnum() or last in "?!)\"'”’"):
        return None
    letters = sum(ch.isalpha() for ch in s)
    if letters < 2 or letters < sum(ch.isdigit() for ch in s):
        return None
    if _KEY_VALUE.match(s) or _SENTENCE_BREAK.search(s) or _STAMP.match(s) or _BYLINE.match(s):
        return None
    if _SALUTATION.match(s) or _MARKING.match(s.strip("!*_ ")):
        return None
    if s.lower().split()[-1].strip("\"'”’)") in _OPEN_ENDS:
        return None
    if last == "?" and not _title_case(s):
        return None  # a headline question, not a question asked in an e-mail
    if last == "!" and not _title_case(s):
        return None
    return s


def _title_case(s: str) -> bool:
    words = [w for w in re.findall(r"[A-Za-z][\w'’-]*", s) if w.lower() not in _OPEN_ENDS]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.6 * len(words)


def _ends_block(line: str) -> bool:
    """A line after which a new block may start: blank, the end of a sentence,
    a list item or a table row. Not a line ending in a colon (a list's lead-in)
    or mid-sentence (a wrapped line)."""
    s = line.strip()
    if not s:
        return True
    if _BULLET.match(s) or _TABLE_LINE.match(s) or _TABLE_RULE.match(s):
        return True
    return _unemphasised(s).endswith(_TERMINAL)


def _starts_body(line: str) -> bool:
    s = line.strip()
    return bool(s) and (s[0].isupper() or s[0].isdigit() or s[0] in "\"'“‘(")


def plain_headings(text: str) -> list[PlainHeading]:
    """Headings of text that has no ``#`` headings (empty if it has some).

    (Cached: the loader, the chunker and the unit splitter all ask for the
    same text's headings.)

    A heading line stands alone (the line before it is blank, ends a sentence,
    list or table, or is the title line), passes :func:`heading_candidate`, and
    is followed by body text: a list, a table, or prose that starts a sentence
    and is not another short line, and that (unless a blank line separates
    them) is clearly longer than the heading, so a hard-wrapped line of a
    paragraph is never taken for one. A ``Title:`` (or ``Subject:``) line near
    the top, and a Setext heading (a line underlined with ``===`` or ``---``),
    are headings too. The first line of the text is the title (level 1) when
    it is a heading; every other heading is a section (level 2).
    """
    return list(_plain_headings(text))


@lru_cache(maxsize=32)
def _plain_headings(text: str) -> tuple[PlainHeading, ...]:
    if has_markdown_headings(text):
        return ()
    lines = text.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1
    nonblank = [i for i, line in enumerate(lines) if line.strip()]
    if not nonblank:
        return ()
    first = nonblank[0]
    found: list[PlainHeading] = []
    taken: set[int] = set()

    def add(i: int, title: str, level: int, n_lines: int = 1) -> None:
        start = offsets[i] + (len(lines[i]) - len(lines[i].lstrip()))
        last = i + n_lines - 1
        end = offsets[last] + len(lines[last].rstrip())
        found.append(PlainHeading(start, end, title, level))
        taken.update(range(i, i + n_lines))

    # A Title:/Subject: line among the first lines (an e-mail's header block).
    for i in nonblank[:6]:
        match = _TITLE_LINE.match(lines[i])
        if match and len(match.group(1)) <= 150:
            add(i, match.group(1).strip(), 1)
            break

    def next_nonblank(i: int) -> int | None:
        return next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)

    def is_heading_at(i: int, *, allow_heading_after: bool) -> str | None:
        if i in taken:
            return None
        title = heading_candidate(lines[i], 20 if i == first else 14)
        if title is None:
            return None
        prev = lines[i - 1] if i > 0 else ""
        if not (i == 0 or _ends_block(prev) or (i - 1) in taken):
            return None
        j = next_nonblank(i)
        if j is None:
            return None
        nxt = lines[j].strip()
        gap = j > i + 1
        if _BULLET.match(nxt) or _TABLE_LINE.match(nxt):
            return title
        if not _starts_body(nxt):
            return None
        if heading_candidate(nxt) is not None:
            # Another short line: a heading only if it is the title and the
            # next one is a heading in its own right (title, then section).
            if allow_heading_after and is_heading_at(j, allow_heading_after=False):
                return title
            return None
        if gap or len(nxt) >= 1.5 * len(title):
            return title
        if len(title.split()) <= 4 and nxt.endswith(_TERMINAL):
            return title  # "Background" above a one-line paragraph
        return None

    for i in nonblank:
        if i in taken:
            continue
        # Setext: a candidate line underlined with === or --- (not a table rule).
        j = i + 1
        if j < len(lines) and _SETEXT_RULE.match(lines[j]) and len(lines[j].strip()) >= 3:
            title = heading_candidate(lines[i])
            if title is not None and (i == 0 or _ends_block(lines[i - 1]) or (i - 1) in taken):
                level = 1 if i == first else (1 if lines[j].strip()[0] == "=" else 2)
                add(i, title, level, 2)
                continue
        title = is_heading_at(i, allow_heading_after=i == first)
        if title is not None:
            add(i, title, 1 if i == first else 2)
    found.sort(key=lambda h: h.start)
    return tuple(found)


@dataclass
class _Block:
    kind: str  # text | table
    start: int
    end: int
    heading: str


def _blocks(text: str, title: str) -> Iterator[_Block]:
    """Walk the lines once, yielding text and table blocks with their heading path.

    Headings are ``#`` lines, or for text without them the lines
    :func:`plain_headings` finds; either way a heading line belongs to no
    block (it travels in the context of the blocks below it).
    """
    path: list[tuple[int, str]] = []
    kind, start, pos = None, 0, 0
    plain = {text.rfind("\n", 0, h.start) + 1: h for h in plain_headings(text)}  # by line start
    skip_to = -1

    def heading() -> str:
        return " > ".join(h for _, h in path) or title

    def close(end: int) -> Iterator[_Block]:
        if kind is not None and text[start:end].strip():
            yield _Block(kind, start, end, heading())

    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\n")
        if pos < skip_to:  # the underline of a Setext heading
            pos += len(line)
            continue
        match = _HEADING.match(bare)
        found = plain.get(pos)
        line_kind = "table" if _TABLE_LINE.match(bare) else "text"
        if match or found:
            yield from close(pos)
            level = len(match.group(1)) if match else found.level
            name = match.group(2).strip() if match else found.title
            path = [(lvl, h) for lvl, h in path if lvl < level] + [(level, name)]
            kind = None
            if found:
                skip_to = found.end
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
            pieces = [
                (a, b, f"{context}\n{h}" if h else context)
                for a, b, h in _table_pieces(doc.text, block, settings.chunk_tokens)
            ]
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
