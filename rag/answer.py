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
# A capitalised word, or a designation such as "J-16", "Evilton-2", "AH-1Z"; names of several
# words ("Sea of Japan") stay whole.
_WORD = r"[A-Z](?:[a-zA-Z]+(?:-[A-Za-z0-9]+)*|(?:-[A-Za-z0-9]+)+)"
_NAME = re.compile(rf"\b{_WORD}(?:\s+(?:of\s+(?:the\s+)?)?{_WORD})*")
_MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:million|billion|bn|m)?\s*(?:dollars?|euros?|pounds?|yuan|rupees?|naira|roubles?|"
    r"rubles?|yen|won|francs?|USD|EUR|GBP)\b|\b(?:USD|EUR|GBP)\s?\d",
    re.I,
)
_MONEY_QUESTION = re.compile(
    r"\bhow much\b.*\b(?:cost|costs|pay|paid|worth|value|price|ransom|compensation|fine|budget|spend|spent|fund|funding)\b"
    r"|\b(?:cost|price|value|ransom|compensation|fine|budget)\b.*\bhow much\b|\bwhat (?:was|is) the (?:value|cost|price)\b",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_CORRECTION = re.compile(r"\b(?:correct(?:ed|ion)|revis(?:ed|ion)|updated|later (?:said|put|gave|confirmed)|amended)\b", re.I)
_QUESTION_WORDS = {
    "who", "what", "when", "where", "which", "why", "how", "did", "does", "do", "is", "are", "was", "were",
    "and", "the", "a", "an", "in", "of", "on", "for", "to", "by", "with", "according", "briefing", "briefings",
    "tell", "give", "list", "name", "can", "could", "would", "should", "has", "have", "had", "i", "me", "it",
    "whom", "whose", "both", "each", "compare", "between", "two", "three", "was", "were", "after", "before",
}
# Metonyms and demonyms a question may use for a party the briefing names otherwise.
_ALIASES = {
    "washington": ("united states", "u.s.", "us ", "american"),
    "american": ("united states", "u.s.", "us ", "washington"),
    "americans": ("united states", "u.s.", "american"),
    "british": ("britain", "united kingdom", "uk ", "london"),
    "french": ("france", "paris"),
    "filipino": ("philippine",),
    "filipinos": ("philippine",),
    "dutch": ("netherlands",),
    "moscow": ("russia",),
    "beijing": ("china", "chinese"),
    "tokyo": ("japan",),
    "seoul": ("south korea", "korean"),
    "kyiv": ("ukrain",),
    "tehran": ("iran",),
}


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
    """Proper names and years the question mentions; evidence should mention them too.

    "China-Russia" counts as two names; a designation ("J-16", "Evilton-2") is a name, matched exactly.
    """
    names = []
    for match in _NAME.finditer(question):
        words = match.group(0).split()
        while words and words[0].lower() in _QUESTION_WORDS:
            words.pop(0)
        while words and words[-1].lower() in _QUESTION_WORDS:
            words.pop()
        if not words:
            continue
        name = " ".join(words).strip("-")
        if len(words) == 1 and all(x[:1].isupper() for x in name.split("-") if x):
            parts = [x for x in name.split("-") if x]  # "China-Russia": two parties
        elif any(c.isdigit() for c in name):
            parts = words  # "Russian Su-30SM": a party and a designation, often apart in the text
        else:
            parts = [name]
        names += [x for x in parts if len(x) >= 3]
    names += re.findall(r"\b(?:19|20)\d\d\b", question)
    return list(dict.fromkeys(names))


def _name_found(name: str, text: str) -> bool:
    lowered = text.lower()
    if name.lower() in lowered:
        return True
    if any(alias in lowered for alias in _ALIASES.get(name.lower(), ())):
        return True
    # "Chinese" ~ "China", "Russian" ~ "Russia": the stems of its words, in
    # order and side by side ("North Korea" is not "north ... South Korea").
    # An acronym ("EU") matches the words it abbreviates ("European Union").
    stems = [
        r"\w*\s+".join(re.escape(c) for c in w.lower()) + r"\w*"
        if w.isupper() and 2 <= len(w) <= 5 and w.lower() not in lowered
        else re.escape(w.lower()) + r"\b"  # a designation is exact: Evilton-2 is not Evilton-1
        if any(c.isdigit() for c in w)
        else re.escape(w.lower()[: max(4, len(w) - 3)]) + r"\w*"
        for w in name.split()
    ]
    return re.search(r"\b" + r"[\s\-]+(?:(?:of|the)\s+)*".join(stems), lowered) is not None


def absent_names(question: str, texts: list[str]) -> list[str]:
    """Names of the question that no text mentions: the briefings are about something else."""
    return [n for n in question_names(question) if not any(_name_found(n, t) for t in texts)]


def answers_kind(question: str, units: list[str]) -> bool:
    """Whether the chosen units hold the kind of fact asked for: a figure for
    "how many", an amount of money for "how much did it cost", a date for "when".

    A near miss (the right briefing, but not the asked fact) fails here.
    """
    cues = question_cues(question)
    joined = " ".join(units)
    if _MONEY_QUESTION.search(question):
        return bool(_MONEY.search(joined))
    if "number" in cues and not any(not _YEAR.match(m.group(0)) for m in _NUMBER.finditer(joined)):
        return False
    if "when" in cues and not _DATE.search(joined):
        return False
    return True


@dataclass
class Evidence:
    unit: Unit
    passage: Passage
    score: float
    parts: dict[str, float] = field(default_factory=dict)


class _VectorCache:
    """Sentence vectors by embedder and text: the same passages come back for
    related questions (keyed by embedder too, so backends never mix)."""

    def __init__(self, size: int = 20000) -> None:
        self.size = size
        self.data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def encode(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        keys = [(embedder.name, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.data))
        if missing:
            for key, vec in zip(missing, embedder.encode([t for _, t in missing])):
                self.data[key] = vec
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return np.stack([self.data[k] for k in keys]) if keys else np.zeros((0, embedder.dim), np.float32)


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


def _headings_of(passage: Passage) -> set[str]:
    """The title and heading path of a passage, normalised: context, never a unit."""
    names = [passage.title, *passage.heading.split(" > ")]
    return {" ".join(n.lower().strip(" #*_").split()) for n in names if n.strip()}


def _section(passage: Passage) -> str:
    """The heading of the section a passage sits in; empty when it sits under
    the title alone (a heading equal to the title is the title, or its fallback:
    the file name for an untitled file)."""
    if not passage.heading or passage.heading == passage.title:
        return ""
    return passage.heading.rsplit(" > ", 1)[-1]


def _units(passages: list[Passage]) -> list[tuple[Unit, Passage]]:
    seen: set[str] = set()
    out = []
    for p in passages:
        header_line = p.context.splitlines()[-1] if p.kind == "table" and "\n" in p.context else ""
        header = tuple(split_row(header_line)) if header_line.startswith("|") else ()
        headings = _headings_of(p)
        for unit in passage_units(p, header):
            key = " ".join(unit.text.lower().split())
            if key.strip(" #*_.") in headings:
                continue  # a heading line is context for the units below it, not an answer
            if key not in seen:
                seen.add(key)
                out.append((unit, p))
    return out


def _briefing_texts(passages: list[Passage], doc_texts: dict[str, str] | None = None) -> dict[str, str]:
    """doc_id -> where a briefing's names are looked up: its whole text when
    known, else the title and text of its first passage."""
    texts: dict[str, str] = {}
    for p in passages:
        if p.doc_id not in texts:
            texts[p.doc_id] = (doc_texts or {}).get(p.doc_id) or f"{p.title} {p.text}"
    return texts


def score_evidence(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    *,
    doc_texts: dict[str, str] | None = None,
    embed_units: int | None = None,
) -> list[Evidence]:
    """The units of ``passages`` scored against the question, best first.

    ``question`` is what is asked: for a follow-up, the current turn with its
    references resolved (its focus), not the words of earlier turns.
    ``doc_texts`` (doc_id -> text) lets names be looked up in the whole
    briefing rather than the passage alone.
    """
    pairs = _units(passages)
    if not pairs:
        return []
    cues = question_cues(question)
    q_terms = set(tokenize([question])[0])
    names = question_names(question)
    unit_terms = tokenize([u.readable() for u, _ in pairs])
    context_terms = tokenize([f"{p.title} {p.heading}" for _, p in pairs])
    best_rank = {p.chunk_id: p.rank for _, p in pairs}
    missing_in = {
        doc_id: len(absent_names(question, [text])) / len(names) if names else 0.0
        for doc_id, text in _briefing_texts([p for _, p in pairs], doc_texts).items()
    }
    cheap = []
    for i, (unit, passage) in enumerate(pairs):
        own, ctx = set(unit_terms[i]), set(context_terms[i])
        lexical = (len(q_terms & own) + 0.5 * len(q_terms & (ctx - own))) / len(q_terms) if q_terms else 0.0
        cue = _cue_score(cues, unit.readable())
        correction = 0.05 if "number" in cues and _CORRECTION.search(unit.text) else 0.0
        prior = 0.05 / best_rank[passage.chunk_id]
        partial = 0.35 * lexical + 0.12 * cue + correction + prior - 0.2 * missing_in[passage.doc_id]
        cheap.append((partial, i, lexical, cue))
    # Embedding every unit is most of an answer's time; the units that share
    # nothing with the question and sit in low passages cannot win, so only
    # the best ``embed_units`` by the cheap parts of the score are embedded.
    cheap.sort(reverse=True)
    kept = cheap[:embed_units] if embed_units else cheap
    vectors = _CACHE.encode(embedder, [f"{pairs[i][1].title}. {pairs[i][0].readable()}" for _, i, _, _ in kept])
    q_vec = np.asarray(embedder.embed_query(question), dtype=np.float32)
    dense = vectors @ q_vec
    out = []
    for (partial, i, lexical, cue), sim in zip(kept, dense):
        unit, passage = pairs[i]
        parts = {"dense": float(sim), "lexical": lexical, "cue": cue, "missing_names": missing_in[passage.doc_id]}
        out.append(Evidence(unit, passage, 0.55 * float(sim) + partial, parts))
    out.sort(key=lambda e: e.score, reverse=True)
    return out


def _overlaps(a: Evidence, b: Evidence) -> bool:
    if a.passage.doc_id == b.passage.doc_id and a.unit.start < b.unit.end and b.unit.start < a.unit.end:
        return True
    ta, tb = set(tokenize([a.unit.text])[0]), set(tokenize([b.unit.text])[0])
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


_MULTI_PART = re.compile(r"\b(?:and|both|each|compare|compared|versus|vs|between|two|which briefings)\b|,", re.I)
_MULTI_DOC = re.compile(
    r"\b(?:both|each|compare|compared|versus|vs|which briefings|two briefings|briefings (?:describe|mention)|"
    r"same way|differ|in the briefings)\b",
    re.I,
)


def is_multi_part(question: str) -> bool:
    """Questions that ask for several facts."""
    return bool(_MULTI_PART.search(question))


def is_multi_doc(question: str, doc_texts: dict[str, str]) -> bool:
    """Questions whose answer spans briefings: they say so, or the names they
    mention are found together in no single retrieved briefing."""
    if _MULTI_DOC.search(question):
        return True
    names = question_names(question)
    if len(names) < 2 or not doc_texts:
        return False
    covered = [{n for n in names if _name_found(n, t)} for t in doc_texts.values()]
    return not any(c == set(names) for c in covered) and set().union(*covered) == set(names)


def _new_names(text: str, known: str) -> bool:
    lowered = known.lower()
    return any(m.group(0).lower() not in lowered for m in _NAME.finditer(text[1:]))


def select_evidence(
    question: str,
    ranked: list[Evidence],
    settings: Settings,
    *,
    doc_texts: dict[str, str] | None = None,
) -> list[Evidence]:
    """The smallest set of units that answers: the best one, plus any that add
    question terms, cues or (for who / where) names the chosen ones lack and
    score nearly as well. Units from other briefings join only when the
    question spans briefings.

    Empty, a refusal, when the best unit is below ``settings.refuse_below``,
    when the question names something no retrieved briefing mentions, or when
    nothing chosen holds the kind of fact asked for.
    """
    if not ranked:
        return []
    doc_texts = doc_texts or _briefing_texts([e.passage for e in ranked])
    if absent_names(question, list(doc_texts.values())):
        return []
    multi_doc = is_multi_doc(question, doc_texts)
    floor = settings.refuse_below * (0.85 if multi_doc else 1.0)
    top = ranked[0]
    if top.score < floor:
        return []
    q_terms = set(tokenize([question])[0])
    cues = question_cues(question)
    multi = multi_doc or is_multi_part(question)
    limit = settings.max_sentences + (2 if multi else 0)
    bar = max(floor * 0.9, top.score * (settings.keep_ratio - (0.1 if multi else 0.0)))
    chosen = [top]
    if multi_doc:
        # The best unit of each further briefing that brings a name the others lack.
        names = question_names(question)
        got_names = {n for n in names if _name_found(n, top.unit.readable() + " " + top.passage.title)}
        for cand in ranked[1:]:
            if cand.score < floor * 0.8 or len(chosen) >= limit:
                break
            if any(c.passage.doc_id == cand.passage.doc_id for c in chosen):
                continue
            found = {n for n in names if _name_found(n, cand.unit.readable() + " " + cand.passage.title)}
            if found - got_names:
                chosen.append(cand)
                got_names |= found
    docs = {c.passage.doc_id for c in chosen}
    terms = set().union(*(set(tokenize([c.unit.readable()])[0]) & q_terms for c in chosen))
    got = {c for c in cues if any(_cue_score({c}, e.unit.readable()) for e in chosen)}
    for cand in ranked[1:]:
        if len(chosen) >= limit or cand.score < bar:
            break
        if cand.passage.doc_id not in docs or any(_overlaps(cand, e) for e in chosen):
            continue
        text = cand.unit.readable()
        cand_terms = set(tokenize([text])[0]) & q_terms
        new_cues = {c for c in cues - got if _cue_score({c}, text)}
        names = bool(cues & {"who", "where"}) and _new_names(text, " ".join(e.unit.readable() for e in chosen))
        if cand_terms - terms or new_cues or names:
            chosen.append(cand)
            terms |= cand_terms
            got |= new_cues
    if "number" in cues:
        chosen += _corrections(chosen, ranked)
    if not answers_kind(question, [e.unit.readable() for e in chosen]):
        # The asked kind of fact (a figure, an amount, a date) may sit in a
        # nearby unit of the same briefings; otherwise this is a near miss.
        extra = next(
            (
                e
                for e in ranked
                if e.score >= floor * 0.8 and e.passage.doc_id in docs and e not in chosen
                and answers_kind(question, [e.unit.readable()])
            ),
            None,
        )
        if extra is None:
            return []
        chosen.append(extra)
    return chosen


def _corrections(chosen: list[Evidence], ranked: list[Evidence]) -> list[Evidence]:
    """A later sentence of the same briefing that corrects a chosen figure."""
    extra = []
    for ev in list(chosen):
        for cand in ranked:
            if (
                cand.passage.doc_id == ev.passage.doc_id
                and cand.unit.start > ev.unit.start
                and _CORRECTION.search(cand.unit.text)
                and _NUMBER.search(cand.unit.text)
                and all(cand.unit.start != e.unit.start for e in chosen + extra)
            ):
                extra.append(cand)
                break
    return extra


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
            # The row's own table context: its section heading, or nothing (never
            # the title, which for an untitled file is only the file name).
            section = _section(ev.passage)
            text = f"{section}: {text}." if section else f"{text}."
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
