"""Check citations against the documents they claim to quote.

A wrong citation is worse than none: every citation must quote its document
verbatim at its offsets, or it is dropped (and the marker with it).
"""

from __future__ import annotations

import re

from .catalog import Catalog
from .models import Answer
from .sentences import Unit, units_of

_MARKER = re.compile(r"\s*\[(\d+)\]")
# A sentence with the run of markers that follows it (both composers write
# "Sentence. [1] [2] Next. [3]"); a final piece without markers is uncited text.
_PIECE = re.compile(r".*?(?:\s*\[\d+\])+|.+", re.S)


def quote_is_valid(catalog: Catalog, doc_id: str, quote: str, start: int, end: int) -> bool:
    doc = catalog.document(doc_id)
    return doc is not None and bool(quote) and doc.text[start:end] == quote


def locate(claim: str, passage_text: str, base: int, min_ratio: float = 80.0) -> Unit | None:
    """The unit of a passage that best supports ``claim``: exact, else fuzzy."""
    from rapidfuzz import fuzz

    units = units_of(passage_text, base)
    if not units:
        return None
    norm = " ".join(claim.lower().split())
    for unit in units:
        if norm and (norm in " ".join(unit.text.lower().split()) or " ".join(unit.readable().lower().split()) in norm):
            return unit
    best = max(units, key=lambda u: fuzz.token_set_ratio(norm, u.readable().lower()))
    return best if fuzz.token_set_ratio(norm, best.readable().lower()) >= min_ratio else None


def renumber(text: str, keep: dict[int, int]) -> str:
    """Rewrite ``[n]`` markers by ``keep`` (old -> new); markers not in it are removed."""

    def sub(match: re.Match) -> str:
        new = keep.get(int(match.group(1)))
        return f" [{new}]" if new else ""

    return _MARKER.sub(sub, text).strip()


def verify(answer: Answer, catalog: Catalog) -> Answer:
    """Drop citations whose quote is not verbatim at its offsets, and the sentences citing only them.

    The rest are renumbered 1..N, markers with them: afterwards the markers in
    the text are exactly the citations' numbers.
    """
    valid = [c for c in answer.citations if quote_is_valid(catalog, c.doc_id, c.quote, c.start, c.end)]
    if len(valid) == len(answer.citations):
        return answer
    dropped = len(answer.citations) - len(valid)
    good = {c.n for c in valid}
    kept, removed = [], []
    for piece in (p.strip() for p in _PIECE.findall(answer.text)):
        cited = [int(n) for n in _MARKER.findall(piece)]
        (kept if not cited or good & set(cited) else removed).append(piece)
    used = {int(n) for piece in kept for n in _MARKER.findall(piece)}
    valid = [c for c in valid if c.n in used]
    keep = {c.n: i for i, c in enumerate(valid, start=1)}
    answer.text = " ".join(t for t in (renumber(piece, keep) for piece in kept) if t)
    for c in valid:
        c.n = keep[c.n]
    answer.citations = valid
    answer.notes.append(f"{dropped} citation(s) removed: their quote is not in the cited briefing")
    for piece in removed:
        claim = _MARKER.sub("", piece).strip()
        claim = claim if len(claim) <= 140 else claim[:139] + "…"
        answer.notes.append(f'removed a sentence whose cited quote is not in the briefing: "{claim}"')
    return answer
