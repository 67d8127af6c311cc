"""Write the chosen units as the answer, each sentence with its ``[n]`` marker."""

from __future__ import annotations

import re

from ..models import Answer, Passage
from .evidence import section
from .refusal import refusal
from .selection import Selection

# A bracketed number inside a quoted unit would read as a citation marker in the
# answer text: a footnote ("[2]") is left out, a longer number ("[2024]") loses its
# brackets. The citation's quote keeps the document's text.
_FOOTNOTE = re.compile(r"\s*\[\d{1,3}\]")
_LONG_NUMBER = re.compile(r"\[(\d{4,})\]")


def compose(question: str, selection: Selection, passages: list[Passage]) -> Answer:
    """The chosen units in document order (briefings in the order they were chosen)."""
    if selection.refused:
        return refusal(question, passages, selection)
    chosen = selection.chosen
    doc_order = {e.passage.doc_id: i for i, e in reversed(list(enumerate(chosen)))}
    ordered = sorted(chosen, key=lambda e: (doc_order[e.passage.doc_id], e.unit.start))
    sentences = []
    for n, ev in enumerate(ordered, start=1):
        text = _LONG_NUMBER.sub(r"\1", _FOOTNOTE.sub("", ev.unit.readable())).rstrip()
        if ev.unit.kind == "row":
            # The row's own table context: its section heading, or nothing (never
            # the title, which for an untitled file is only the file name).
            sec = section(ev.passage)
            text = f"{sec}: {text}." if sec else f"{text}."
        elif text[-1:] not in ".!?":
            text += "."
        sentences.append(f"{text} [{n}]")
    return Answer(
        question=question,
        text=" ".join(sentences),
        refused=False,
        citations=[e.cite(n) for n, e in enumerate(ordered, start=1)],
        passages=passages,
        confidence=selection.confidence,
    )
