"""The generative compose step, and the enforcement of its citations.

A model's reply is only a draft. It is split into sentences; each sentence's
``[n]`` markers must name a passage that was provided, and that passage must
hold a unit (sentence, list item, table row) supporting the sentence, located
exact-then-fuzzy by :func:`rag.citations.locate`. On top of that fuzzy match a
sentence may not bring in numbers, names, a negation, or more than a couple of
content words that the located unit does not contain, and a unit that gives
orders ("ignore previous instructions ...") never supports anything. Sentences that fail are
dropped (and listed in ``Answer.notes``), invented markers removed. The
``Answer`` has the extractive shape: every citation quotes its document
verbatim at its offsets. If nothing supported remains, the extractive answer
is returned with a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from ..answering.refusal import REFUSAL
from ..citations import locate
from ..lexical import tokenize
from ..models import Answer, Citation, Passage
from ..sentences import Unit, segmenter
from . import prompt
from .base import LLMBackend

MAX_NOVEL_TERMS = 2  # content words a sentence may add to what its passage says
RECITE = True  # a sentence citing the wrong passage (or none) is re-cited to one that supports it

_MARKS = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_ONE_MARK = re.compile(r"\s*\[(\d{1,3})\]")
_LONG_NUMBER = re.compile(r"\[(\d{4,})\]")
_LEADING_MARKS = re.compile(r"^\s*((?:\[\d{1,3}\]\s*)+)")
_REFUSAL = re.compile(rf"^\W*{re.escape(REFUSAL)}", re.I)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_LABEL = re.compile(r"^\s*(?:#+\s*|[-*•]\s+|\d{1,2}[.)]\s+|\*\*)?(?:answer|response)\s*:\**\s*", re.I)
_BULLET = re.compile(r"^\s*(?:#+\s+|[-*•]\s+|\d{1,2}[.)]\s+)")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
_FENCE = re.compile(r"<{2,}[^<>\n]{0,80}>*|>{2,}")
# Text addressed to the reader or to a model is not a statement of fact.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.]{0,60}\b(?:instructions?|prompts?|rules|above|previous|prior)\b"
    r"|\b(?:system prompt|you are (?:an?|the) (?:ai|assistant|language model)|as an ai)\b",
    re.I,
)


@dataclass
class Enforced:
    sentences: list[str] = field(default_factory=list)  # final text of each kept sentence
    citations: list[Citation] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    invented: list[int] = field(default_factory=list)
    recited: int = 0
    refusals: int = 0
    supported: int = 0

    @property
    def text(self) -> str:
        return " ".join(self.sentences)


def split_sentences(text: str) -> list[str]:
    """Sentences of a model reply, each keeping the markers that follow it."""
    text = _FENCE.sub(" ", _THINK.sub(" ", text))  # small models echo the passage fences
    text = _MARKS.sub(lambda m: " ".join(f"[{n}]" for n in re.split(r"\s*[,;]\s*", m.group(1))), text)
    out: list[str] = []
    for line in text.splitlines():
        line = _BULLET.sub("", _LABEL.sub("", line)).replace("**", "").strip()
        if not line:
            continue
        for seg in segmenter().segment(line):
            seg = str(getattr(seg, "sent", seg))
            lead = _LEADING_MARKS.match(seg)
            if lead and out:  # "... sentence. [1] Next ..." : the marker belongs to the sentence before
                out[-1] = f"{out[-1].rstrip()} {lead.group(1).strip()}"
                seg = seg[lead.end() :]
            if seg.strip():
                out.append(seg.strip())
    return out


def markers(sentence: str) -> list[int]:
    return [int(n) for n in _ONE_MARK.findall(sentence)]


def claim_of(sentence: str) -> str:
    # A longer bracketed number ("[2024]") is not a marker but would read as one in the
    # answer text, which may hold only the markers enforce() writes: its brackets go.
    sentence = _LONG_NUMBER.sub(r"\1", _ONE_MARK.sub(" ", sentence))
    return re.sub(r"\s+([.!?,;:])", r"\1", " ".join(sentence.split())).strip()


_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|dozen|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|half|twice)\b",
    re.I,
)
_NEGATION = re.compile(r"\b(?:no|not|never|none|neither|nor|without)\b|n't\b", re.I)
_PROPER = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][A-Za-z\-]{2,}")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)} | {
        w.lower() for w in _NUMBER_WORDS.findall(text)
    }


def _name_in(name: str, text: str) -> bool:
    low = text.lower()
    return name.lower() in low or name.lower()[: max(4, len(name) - 3)] in low  # "Chinese" ~ "China"


def support(claim: str, passage: Passage) -> Unit | None:
    """The unit of ``passage`` that supports ``claim``, or None.

    The unit is located by :func:`rag.citations.locate` (exact, then fuzzy);
    then the claim may not state what the unit (with the passage's title and
    heading) does not: no new number, no new name, no flipped negation, at
    most ``MAX_NOVEL_TERMS`` other new content words.
    """
    terms = set(tokenize([claim])[0])
    if not terms:
        return None
    unit = locate(claim, passage.text, passage.start)
    if unit is None or _INSTRUCTION.search(unit.text):
        return None
    said = f"{passage.title} {passage.heading} {unit.readable()}"
    if len(terms - set(tokenize([said])[0])) > MAX_NOVEL_TERMS:
        return None
    if _numbers(claim) - _numbers(said):
        return None
    if bool(_NEGATION.search(claim)) != bool(_NEGATION.search(unit.readable())):
        return None
    if any(not _name_in(name, said) for name in _PROPER.findall(claim.strip())):
        return None
    return unit


def _finish(sentence: str) -> str:
    sentence = sentence.rstrip()
    return sentence if sentence[-1:] in ".!?" else sentence + "."


def enforce(reply: str, passages: list[Passage]) -> Enforced:
    out = Enforced()
    numbers: dict[tuple[str, int, int], int] = {}
    for sentence in split_sentences(reply):
        claim = claim_of(sentence)
        if not claim:
            continue
        if _REFUSAL.match(claim):
            out.refusals += 1
            out.sentences.append(_finish(claim))
            continue
        if claim.endswith(":") or len(tokenize([claim])[0]) < 2:  # "The answer is:", "Yes." - no claim to check
            continue
        cited = list(dict.fromkeys(markers(sentence)))
        valid = [n for n in cited if 1 <= n <= len(passages)]
        out.invented += [n for n in cited if n not in valid]
        found = [(passages[n - 1], u) for n in valid if (u := support(claim, passages[n - 1])) is not None]
        if not found and RECITE:
            for n, p in enumerate(passages, start=1):
                if n not in valid and (u := support(claim, p)) is not None:
                    found = [(p, u)]
                    out.recited += 1
                    break
        if not found:
            out.dropped.append(claim)
            continue
        tags = []
        for p, unit in found:
            key = (p.doc_id, unit.start, unit.end)
            if key not in numbers:
                numbers[key] = len(out.citations) + 1
                out.citations.append(
                    Citation(
                        n=numbers[key],
                        source=p.source,
                        title=p.title,
                        date=p.date,
                        region=p.region,
                        passage=p.text,
                        quote=unit.text,
                        start=unit.start,
                        end=unit.end,
                        score=1.0,
                        doc_id=p.doc_id,
                        chunk_id=p.chunk_id,
                    )
                )
            tags.append(f"[{numbers[key]}]")
        out.supported += 1
        out.sentences.append(f"{_finish(claim)} {' '.join(dict.fromkeys(tags))}")
    return out


def _short(text: str, n: int = 140) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def compose(
    question: str,
    passages: list[Passage],
    backend: LLMBackend,
    fallback: Callable[[], Answer],
    selection=None,
) -> Generator[str, None, Answer]:
    """Ask ``backend`` to answer from ``passages``; keep only what they support.

    Yields the model's reply as it streams and returns the ``Answer`` (what
    survived enforcement, or ``fallback()``), so the caller streams with a plain
    ``answer = yield from compose(...)``.

    ``selection`` is the answerer's decision (rag/answering/selection.py):
    when it refuses, the model is not asked and the refusal stands, so a
    generative backend refuses exactly when the extractive one does. When it
    answers, the model still reads every retrieved passage: given only the
    passages of the selected units, SmolLM2 answered "How long did the joint
    bomber patrol last?" from the selection's near miss (a 2019 briefing's
    "seven minutes") instead of the 2024 briefing's "about eight hours".

    Raises ``LLMError`` when the backend fails (the engine falls back).
    """
    if not passages or (selection is not None and selection.refused):
        return fallback()
    pieces = []
    for piece in backend.stream(prompt.answer_messages(question, passages)):
        pieces.append(piece)
        yield piece
    result = enforce("".join(pieces), passages)
    notes = []
    if result.invented:
        notes.append(f"invented citation marker(s) removed: {' '.join(f'[{n}]' for n in sorted(set(result.invented)))}")
    for claim in result.dropped:
        notes.append(f'removed a generated sentence its cited briefings do not support: "{_short(claim)}"')
    if result.recited:
        notes.append(f"{result.recited} generated sentence(s) re-cited to the passage that supports them")
    if not result.supported:
        if result.refusals and not result.dropped:
            answer = Answer(question=question, text=result.text, refused=True, passages=passages)
            answer.backend = backend.label
            return answer
        answer = fallback()
        why = "no text" if not "".join(pieces).strip() else "no sentence that its cited briefings support"
        answer.notes += notes + [f"the {backend.label} model wrote {why}; this is the extractive answer"]
        return answer
    answer = Answer(question=question, text=result.text, refused=False, citations=result.citations, passages=passages)
    answer.backend = backend.label
    answer.notes += notes
    return answer


def condense(question: str, history: list[dict], backend: LLMBackend) -> str:
    """A standalone question from a follow-up, written by the backend."""
    return prompt.parse_condensed(backend.complete(prompt.condense_messages(question, history)), question)
