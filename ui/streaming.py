"""The one place where the chat gets an answer from the engine.

``stream_answer`` yields text deltas (``str``) and then, last, the final
``rag.Answer``. The chat renders the deltas as they come and builds the sources
panel from the final Answer.

THE SEAM FOR GENERATIVE BACKENDS (issue 5): when the engine has
``ask_stream(question, history=..., filters=..., k=...)`` it is used: it
yields ``("delta", text)`` pieces and then ``("answer", Answer)`` (bare
``str`` / ``Answer`` items are accepted too). The final Answer's text replaces
the streamed text, since citation enforcement may have changed it. Without
``ask_stream`` the answer is computed whole and its text replayed in word
groups, so the chat behaves the same either way.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

from rag.models import Answer

WORDS_PER_DELTA = 3
DELTA_PAUSE_S = 0.02  # replay pace for the extractive answer; a real stream sets its own

_TOKENS = re.compile(r"\S+\s*")


def word_groups(text: str, size: int = WORDS_PER_DELTA) -> Iterator[str]:
    """``text`` in pieces of ``size`` words (whitespace kept, so the pieces join back to ``text``)."""
    lead = len(text) - len(text.lstrip())
    if lead:
        yield text[:lead]
    words = _TOKENS.findall(text[lead:])
    for i in range(0, len(words), size):
        yield "".join(words[i : i + size])


def stream_answer(
    engine: Any,
    question: str,
    *,
    history: list[dict] | None = None,
    filters: dict | None = None,
    k: int | None = None,
    pause: float = DELTA_PAUSE_S,
) -> Iterator[str | Answer]:
    """Text deltas, then the final Answer. Raises ValueError for a bad question or filter."""
    ask_stream = getattr(engine, "ask_stream", None)
    if callable(ask_stream):
        for item in ask_stream(question, history=history, filters=filters, k=k):
            if isinstance(item, tuple) and len(item) == 2:
                kind, value = item
                if kind == "delta" and isinstance(value, str) or kind == "answer":
                    yield value
            elif isinstance(item, (str, Answer)):
                yield item
        return
    answer = engine.ask(question, history=history, filters=filters, k=k)
    for piece in word_groups(answer.text):
        yield piece
        if pause:
            time.sleep(pause)
    yield answer
