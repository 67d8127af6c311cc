"""What one question carries through the answering chain, step by step.

Each step of ``rag.engine`` takes the previous step's record and returns the
next one, so a step's signature says what it reads and what it adds:
``Turn -> Condensed -> Retrieved -> Selected``, then the compose step streams
text and returns the ``Answer``. Records are frozen; ``then`` builds the next
one from all fields of the current one plus the new ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TypeVar

from .answering import Selection
from .catalog import Filters
from .conversation import Rewrite
from .models import Passage

T = TypeVar("T", bound="Turn")


@dataclass(frozen=True, kw_only=True)
class Turn:
    """The question as asked, already checked and cleaned by ``Engine``."""

    question: str
    history: tuple[dict, ...] = ()
    filters: Filters = Filters()
    k: int
    method: str = "hybrid"
    # Milliseconds per step, filled in as the steps run (the one mutable part: a
    # record's identity does not depend on how long it took to make).
    timings: dict[str, float] = field(default_factory=dict, compare=False)

    def then(self, cls: type[T], **new) -> T:
        """The next step's record: every field of this one, plus ``new``."""
        return cls(**{f.name: getattr(self, f.name) for f in fields(self)}, **new)


@dataclass(frozen=True, kw_only=True)
class Condensed(Turn):
    """A follow-up made standalone.

    ``query`` is what retrieval searches with; ``focus`` is what the answerer
    matches evidence against (the current turn with its references resolved).
    """

    rewrite: Rewrite
    query: str
    focus: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Retrieved(Condensed):
    """``passages`` are the search results (all of them reach ``Answer.passages``);
    ``candidates`` are those the answerer may cite (a follow-up's briefing only)."""

    passages: list[Passage]
    candidates: list[Passage]


@dataclass(frozen=True, kw_only=True)
class Selected(Retrieved):
    selection: Selection
