"""A refusal: what the briefings do not say, why, and the closest evidence."""

from __future__ import annotations

from ..models import Answer, Passage
from .selection import Selection

REFUSAL = "The briefings do not say"


def refusal(question: str, passages: list[Passage], selection: Selection | None = None) -> Answer:
    """``refused=True``; the closest passages go to ``Answer.closest``, never to citations."""
    text = f'{REFUSAL} anything that answers "{question.strip()}".'
    if selection is not None and selection.reason:
        text += " " + selection.reason
    answer = Answer(question=question, text=text, refused=True, passages=passages)
    if selection is not None:
        answer.confidence = selection.confidence
        answer.closest = [e.cite(n) for n, e in enumerate(selection.closest, start=1)]
    return answer
