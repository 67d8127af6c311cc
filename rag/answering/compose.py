"""Write the chosen units as the answer, each sentence with its ``[n]`` marker."""

from __future__ import annotations

from ..models import Answer, Passage
from .evidence import section
from .refusal import refusal
from .selection import Selection


def compose(question: str, selection: Selection, passages: list[Passage]) -> Answer:
    """The chosen units in document order (briefings in the order they were chosen)."""
    if selection.refused:
        return refusal(question, passages, selection)
    chosen = selection.chosen
    doc_order = {e.passage.doc_id: i for i, e in reversed(list(enumerate(chosen)))}
    ordered = sorted(chosen, key=lambda e: (doc_order[e.passage.doc_id], e.unit.start))
    sentences = []
    for n, ev in enumerate(ordered, start=1):
        text = ev.unit.readable().rstrip()
        if ev.unit.kind == "row":
            # The row's own table context: its section heading, or nothing (never
            # the title, which for an untitled file is only the file name).
            sec = section(ev.passage)
            text = f"{sec}: {text}." if sec else f"{text}."
        elif text[-1:] not in ".!?":
            text += "."
        sentences.append(f"{text} [{n}]")
    return Answer(question=question, text=" ".join(sentences), refused=False,
                  citations=[e.cite(n) for n, e in enumerate(ordered, start=1)], passages=passages,
                  confidence=selection.confidence)
