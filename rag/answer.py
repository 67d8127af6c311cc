"""The default answerer: extractive and grounded.

Retrieved passages are split into citable units, each unit is scored against
the question (embedding similarity, lexical overlap, and cues for who / where /
when / how many), and the smallest set of units that covers the question is
written out with ``[n]`` markers. When the best evidence is too weak, or the
question names something the evidence never mentions, it refuses.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .config import Settings
from .embedders import Embedder
from .lexical import tokenize
from .models import Answer, Citation, Passage
from .sentences import Unit, passage_units, split_row

REFUSAL = "The briefings do not say"

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DATE = re.compile(rf"\b(?:{_MONTH}|(?:19|20)\d\d\b|\d{{4}}-\d\d-\d\d)", re.I)
_NUMBER = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"dozen|hundred|thousand|million|billion)\b",
    re.I,
)
_PLACE = re.compile(
    r"\b(?:Sea|Strait|Ocean|Pacific|Atlantic|Gulf|Bay|Peninsula|Island|Islands|border|province|region|"
    r"coast|waters|airspace|capital|city|near|off)\b|\b(?:over|in|at|near|off|across|along|into)\s+(?:the\s+)?[A-Z]"
)
_NAME = re.compile(r"\b[A-Z][a-zA-Z\-]+(?:\s+[A-Z][a-zA-Z\-]+)*")
_CORRECTION = re.compile(r"\b(?:correct(?:ed|ion)|revis(?:ed|ion)|updated|later (?:said|put|gave|confirmed)|amended)\b", re.I)
_QUESTION_WORDS = {
    "who", "what", "when", "where", "which", "why", "how", "did", "does", "do", "is", "are", "was", "were",
    "and", "the", "a", "an", "in", "of", "on", "for", "to", "by", "with", "according", "briefing", "briefings",
    "tell", "give", "list", "name", "can", "could", "would", "should", "has", "have", "had", "i", "me", "it",
}
_FOLLOW_UP = re.compile(
    r"^\s*(?:and|also|what about|how about|then)\b|\b(?:it|they|them|their|its|there|that|this|those|these|he|she|his|her)\b",
    re.I,
)


def question_cues(question: str) -> set[str]:
    q = question.lower()
    cues = set()
    if re.search(r"\bwho\b|\bwhich (?:countr|nation|parties|part|group|force|navy|navies|unit|state|government)", q):
        cues.add("who")
    if re.search(r"\bwhere\b|\bwhich (?:sea|area|region|place|city|border|waters|location|island)", q):
        cues.add("where")
    if re.search(r"\bwhen\b|\bwhat (?:date|day|year|month)\b|\bwhich (?:date|day|year|month)\b", q):
        cues.add("when")
    if re.search(r"\bhow (?:many|much|long|far|large|big)\b|\bwhat (?:number|percentage|share|figure|amount|size)\b", q):
        cues.add("number")
    return cues


def question_names(question: str) -> list[str]:
    """Proper names and years the question mentions; evidence should mention them too."""
    names = []
    for match in _NAME.finditer(question):
        words = [w for w in match.group(0).split() if w.lower() not in _QUESTION_WORDS]
        if words:
            names.append(" ".join(words))
    names += re.findall(r"\b(?:19|20)\d\d\b", question)
    return names


def _name_found(name: str, text: str) -> bool:
    lowered = text.lower()
    if name.lower() in lowered:
        return True
    # "Chinese" ~ "China", "Russian" ~ "Russia": compare stems of each word.
    return all(stem in lowered for stem in (w.lower()[: max(4, len(w) - 3)] for w in name.split()))


def is_follow_up(question: str, history: list[dict] | None) -> bool:
    return bool(history) and (len(question.split()) <= 6 or bool(_FOLLOW_UP.search(question)))


def standalone_question(question: str, history: list[dict] | None) -> str:
    """The question with the last user turn prepended when it leans on the conversation."""
    if not is_follow_up(question, history):
        return question
    previous = [turn.get("content", "") for turn in history or [] if turn.get("role") == "user"]
    return f"{previous[-1]} {question}" if previous else question


@dataclass
class Evidence:
    unit: Unit
    passage: Passage
    score: float
    parts: dict[str, float] = field(default_factory=dict)


class _VectorCache:
    """Sentence vectors by text: the same passages come back for related questions."""

    def __init__(self, size: int = 20000) -> None:
        self.size = size
        self.data: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.data))
        if missing:
            for text, vec in zip(missing, embedder.encode(missing)):
                self.data[text] = vec
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return np.stack([self.data[t] for t in texts]) if texts else np.zeros((0, embedder.dim), np.float32)


_CACHE = _VectorCache()


def _cue_score(cues: set[str], text: str) -> float:
    if not cues:
        return 0.0
    hits = 0
    if "who" in cues and len(_NAME.findall(text[1:])) >= 1:
        hits += 1
    if "where" in cues and _PLACE.search(text):
        hits += 1
    if "when" in cues and _DATE.search(text):
        hits += 1
    if "number" in cues and _NUMBER.search(text):
        hits += 1
    return hits / len(cues)


def _units(passages: list[Passage]) -> list[tuple[Unit, Passage]]:
    seen: set[str] = set()
    out = []
    for p in passages:
        header_line = p.context.splitlines()[-1] if p.kind == "table" and "\n" in p.context else ""
        header = tuple(split_row(header_line)) if header_line.startswith("|") else ()
        for unit in passage_units(p, header):
            key = " ".join(unit.text.lower().split())
            if key not in seen:
                seen.add(key)
                out.append((unit, p))
    return out


def score_evidence(
    question: str, query: str, passages: list[Passage], embedder: Embedder, *, current: str | None = None
) -> list[Evidence]:
    """Every unit of ``passages`` scored against the question, best first.

    ``query`` is what retrieval used (the standalone question); ``current``
    (default: ``question``) is the user's own turn, whose cues and names matter.
    """
    current = current or question
    pairs = _units(passages)
    if not pairs:
        return []
    cues = question_cues(current)
    q_terms = set(tokenize([query])[0])
    names = question_names(query)
    vectors = _CACHE.encode(embedder, [f"{p.title}. {u.readable()}" for u, p in pairs])
    q_vec = np.asarray(embedder.embed_query(query), dtype=np.float32)
    dense = vectors @ q_vec
    unit_terms = tokenize([u.readable() for u, _ in pairs])
    context_terms = tokenize([f"{p.title} {p.heading}" for _, p in pairs])
    best_rank = {p.chunk_id: p.rank for _, p in pairs}
    out = []
    for i, (unit, passage) in enumerate(pairs):
        own, ctx = set(unit_terms[i]), set(context_terms[i])
        lexical = (
            (len(q_terms & own) + 0.5 * len(q_terms & (ctx - own))) / len(q_terms) if q_terms else 0.0
        )
        cue = _cue_score(cues, unit.readable())
        missing = [n for n in names if not _name_found(n, unit.text + " " + passage.title + " " + passage.text)]
        penalty = 0.25 * len(missing) / max(len(names), 1) + (0.15 if missing else 0.0)
        correction = 0.05 if "number" in cues and _CORRECTION.search(unit.text) else 0.0
        prior = 0.05 / best_rank[passage.chunk_id]
        score = 0.55 * float(dense[i]) + 0.35 * lexical + 0.12 * cue + correction + prior - penalty
        out.append(
            Evidence(
                unit,
                passage,
                score,
                {"dense": float(dense[i]), "lexical": lexical, "cue": cue, "missing_names": len(missing)},
            )
        )
    out.sort(key=lambda e: e.score, reverse=True)
    return out


def _overlaps(a: Evidence, b: Evidence) -> bool:
    if a.passage.doc_id == b.passage.doc_id and a.unit.start < b.unit.end and b.unit.start < a.unit.end:
        return True
    ta, tb = set(tokenize([a.unit.text])[0]), set(tokenize([b.unit.text])[0])
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


def select_evidence(question: str, ranked: list[Evidence], settings: Settings, *, query: str | None = None) -> list[Evidence]:
    """The smallest set of units that answers: the best one, plus any that add
    question terms or cues the chosen ones lack and score nearly as well."""
    if not ranked or ranked[0].score < settings.refuse_below:
        return []
    query = query or question
    q_terms = set(tokenize([query])[0])
    cues = question_cues(question)
    chosen = [ranked[0]]

    def covered() -> tuple[set[str], set[str]]:
        terms, got = set(), set()
        for e in chosen:
            terms |= set(tokenize([e.unit.readable()])[0])
            got |= {c for c in cues if _cue_score({c}, e.unit.readable())}
        return terms & q_terms, got

    bar = max(settings.refuse_below, ranked[0].score * 0.8)
    for cand in ranked[1:]:
        if len(chosen) >= settings.max_sentences or cand.score < bar:
            break
        if any(_overlaps(cand, e) for e in chosen):
            continue
        terms, got = covered()
        new_terms = (set(tokenize([cand.unit.readable()])[0]) & q_terms) - terms
        new_cues = {c for c in cues - got if _cue_score({c}, cand.unit.readable())}
        if new_terms or new_cues:
            chosen.append(cand)
    return chosen


def refusal(question: str, passages: list[Passage]) -> Answer:
    text = f'{REFUSAL} anything that answers "{question.strip()}".'
    return Answer(question=question, text=text, refused=True, passages=passages)


def compose(question: str, chosen: list[Evidence], passages: list[Passage]) -> Answer:
    """Write the chosen units in document order, each with its ``[n]`` marker."""
    if not chosen:
        return refusal(question, passages)
    doc_order = {e.passage.doc_id: i for i, e in reversed(list(enumerate(chosen)))}
    ordered = sorted(chosen, key=lambda e: (doc_order[e.passage.doc_id], e.unit.start))
    sentences, citations = [], []
    for n, ev in enumerate(ordered, start=1):
        text = ev.unit.readable().rstrip()
        if ev.unit.kind == "row":
            text = f"{ev.passage.heading.rsplit(' > ', 1)[-1]}: {text}."
        elif text[-1:] not in ".!?":
            text += "."
        sentences.append(f"{text} [{n}]")
        p = ev.passage
        citations.append(
            Citation(
                n=n,
                source=p.source,
                title=p.title,
                date=p.date,
                region=p.region,
                passage=p.text,
                quote=ev.unit.text,
                start=ev.unit.start,
                end=ev.unit.end,
                score=round(ev.score, 4),
                doc_id=p.doc_id,
                chunk_id=p.chunk_id,
            )
        )
    return Answer(question=question, text=" ".join(sentences), refused=False, citations=citations, passages=passages)
