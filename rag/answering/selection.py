"""Choose the evidence: re-score the best candidates with the reader, decide
whether the briefings answer at all (the refusal decision, with its reason),
and keep the smallest set of units that answers every part of the question.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..config import Settings
from ..models import Passage
from ..sentences import passage_units
from .confidence import ConfidenceModel, features
from .evidence import Evidence, briefing_texts, section
from .question import (
    CORRECTION,
    NAME,
    NUMBER,
    answers_kind,
    asked_role,
    cue_score,
    figure_of,
    gives_new_name,
    is_multi_doc,
    is_multi_part,
    kind_asked,
    mentions_role,
    name_coverage,
    name_found,
    names_role,
    question_cues,
    question_names,
    question_parts,
    states_absence,
    terms,
)
from .readers import Reader

_NOT_STATED = "The closest passages do not state it."
# A sentence that opens by pointing back ("It promised mirror measures") does
# not say, quoted alone, who or what it is about.
_POINTS_BACK = re.compile(r"(?:It|Its|They|Their|He|His|She|Her|These|Those)\b")


@dataclass
class Selection:
    """What selection decided. ``chosen`` is empty for a refusal, whose
    ``reason`` (a sentence) says what was not found; ``closest`` are the best candidates
    either way (a refusal shows them as closest evidence)."""

    chosen: list[Evidence]
    confidence: float
    reason: str = ""
    closest: list[Evidence] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)  # the confidence model's inputs

    @property
    def refused(self) -> bool:
        return not self.chosen


def read(question: str, ranked: list[Evidence], reader: Reader | None, settings: Settings) -> list[Evidence]:
    """The candidates re-ranked with the reader's probability (``parts["reader"]``).

    Only the best ``settings.read_units`` by the evidence score are read (the
    reader is the costly step); the rest keep their order below them.
    """
    if reader is None or not ranked:
        return ranked
    head, tail = ranked[: settings.read_units], ranked[settings.read_units :]
    probs = reader.probabilities(question, [e.reader_text() for e in head])
    for e, p in zip(head, probs, strict=True):
        e.parts["reader"] = float(p)
        e.score = e.score + settings.reader_weight * float(p)
    head.sort(key=lambda e: e.score, reverse=True)
    return head + tail


def confidence_of(
    question: str, ranked: list[Evidence], doc_texts: dict[str, str], model: ConfidenceModel | None
) -> tuple[float, dict[str, float]]:
    """(confidence, the model's inputs) for the best unit (the first chosen,
    when any is): the confidence model's probability that the answer is right;
    without one, the reader's calibrated probability; without a reader, the
    evidence score clipped to [0, 1] (not calibrated)."""
    top = ranked[0]
    if "reader" not in top.parts:
        return round(min(1.0, max(0.0, top.score)), 4), {}
    feats = features(question, ranked, doc_texts.get(top.passage.doc_id, ""))
    p = model.probability(feats) if model is not None else top.parts["reader"]
    return round(p, 4), feats


def _overlaps(a: Evidence, b: Evidence) -> bool:
    if a.passage.doc_id == b.passage.doc_id and a.unit.start < b.unit.end and b.unit.start < a.unit.end:
        return True
    ta, tb = terms(a.unit.text), terms(b.unit.text)
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) > 0.6


def _new_names(text: str, known: str) -> bool:
    lowered = known.lower()
    return any(m.group(0).lower() not in lowered for m in NAME.finditer(text[1:]))


def select(
    question: str,
    ranked: list[Evidence],
    settings: Settings,
    *,
    reader: Reader | None = None,
    confidence_model: ConfidenceModel | None = None,
    doc_texts: dict[str, str] | None = None,
    known: str = "",
) -> Selection:
    """The smallest set of units that answers: the best one, plus any that add
    question terms, cues or (for who / where, from a section already quoted)
    names the chosen ones lack and score nearly as well, and the sentence
    before any chosen one that opens by pointing back ("It", "They"). Units
    from other briefings join only when the question spans briefings.

    A refusal when the question names something no retrieved briefing
    mentions, when the best evidence score is below ``refuse_below`` or the
    answer's confidence below ``min_confidence``, or when neither the chosen
    units nor one further unit of their briefings holds the fact asked for
    (``_asked_facts``: a figure that counts, an amount, a date, a time, the
    asked name), or the chosen units say it was withheld. ``known`` is what
    the conversation already said (a follow-up's earlier question and answer):
    a name from it does not answer "What was the name of their commander?".
    """
    ranked = read(question, ranked, reader, settings)
    closest = ranked[: settings.max_sentences]
    if not ranked:
        return Selection([], 0.0, "Nothing in them matches the question.")
    doc_texts = doc_texts or briefing_texts([e.passage for e in ranked])
    names = question_names(question)
    coverage = name_coverage(question, doc_texts)
    found = frozenset().union(*coverage.values())
    missing = [n for n in names if n not in found]
    if missing:
        confidence, feats = confidence_of(question, ranked, doc_texts, confidence_model)
        return Selection([], confidence, f"None of them mentions {' or '.join(missing)}.", closest, feats)
    multi_doc = is_multi_doc(question, coverage)
    if not multi_doc:
        # A question about one event names what its briefing mentions: names
        # spread over several briefings are a swap ("Which Pakistani warship
        # joined the exercise?" when Pakistan is in another briefing).
        whole = {d for d, got in coverage.items() if got == found}
        if not whole:
            *rest, last = names
            confidence, feats = confidence_of(question, ranked, doc_texts, confidence_model)
            return Selection(
                [], confidence, f"None of them mentions {', '.join(rest)} and {last} together.", closest, feats
            )
        ranked = [e for e in ranked if e.passage.doc_id in whole]
    # Of the best unit that can be chosen (computed once: its inputs tokenise the briefing).
    confidence, feats = confidence_of(question, ranked, doc_texts, confidence_model)
    floor = settings.refuse_below * (0.85 if multi_doc else 1.0)
    top = ranked[0]
    if top.score < floor:
        return Selection([], confidence, _NOT_STATED, closest, feats)
    if reader is not None:
        bar = settings.min_confidence if settings.min_confidence >= 0 else (confidence_model or reader).threshold
        if confidence < bar:
            return Selection([], confidence, _NOT_STATED, closest, feats)
    q_terms = terms(question)
    cues = question_cues(question)
    multi = multi_doc or is_multi_part(question)
    limit = settings.max_sentences + (2 if multi else 0)
    bar = max(floor * 0.9, top.score * (settings.keep_ratio - (0.1 if multi else 0.0)))
    chosen = [top]
    if multi_doc:
        # The best unit of each further briefing that brings a name the others lack.
        got_names = {n for n in names if name_found(n, top.unit.readable() + " " + top.passage.title)}
        for cand in ranked[1:]:
            if cand.score < floor * 0.8 or len(chosen) >= limit:
                break
            if any(c.passage.doc_id == cand.passage.doc_id for c in chosen):
                continue
            brings = {n for n in names if name_found(n, cand.unit.readable() + " " + cand.passage.title)}
            if brings - got_names:
                chosen.append(cand)
                got_names |= brings
        if len({c.passage.doc_id for c in chosen}) == 1:
            # Spanning briefings without a name that tells them apart ("Two briefings
            # describe cyber intrusions. Which targets were hit?"): the next briefing's
            # best unit, when it scores as well as a unit that would be kept.
            other = next((c for c in ranked[1:] if c.passage.doc_id != top.passage.doc_id), None)
            if other is not None and other.score >= bar:
                chosen.append(other)
    docs = {c.passage.doc_id for c in chosen}
    got_terms = set().union(*(terms(c.unit.readable()) & q_terms for c in chosen))
    got = {c for c in cues if any(cue_score({c}, e.unit.readable()) for e in chosen)}
    for cand in ranked[1:]:
        if len(chosen) >= limit or cand.score < bar:
            break
        if cand.passage.doc_id not in docs or any(_overlaps(cand, e) for e in chosen):
            continue
        text = cand.unit.readable()
        cand_terms = terms(text) & q_terms
        new_cues = {c for c in cues - got if cue_score({c}, text)}
        adds_names = bool(cues & {"who", "where"}) and _new_names(text, " ".join(e.unit.readable() for e in chosen))
        if adds_names and not (cand_terms - got_terms or new_cues):
            # Names alone are weak evidence (every sentence names someone): a unit
            # that brings nothing else joins only from a section already quoted,
            # not from a table elsewhere in the briefing ("Russia: naval rank 2,
            # patrols in the Arctic" for "Who joined the patrol and where?").
            adds_names = any(section(cand.passage) == section(e.passage) for e in chosen)
        if cand_terms - got_terms or new_cues or adds_names:
            chosen.append(cand)
            got_terms |= cand_terms
            got |= new_cues
    if reader is not None:
        chosen += _part_answers(question, ranked[: settings.read_units], chosen, reader)
    if "number" in cues:
        chosen += _corrections(chosen, ranked)
    for missing_in, found_in, reason in _asked_facts(question, cues, known):
        if not missing_in([e.unit.readable() for e in chosen]):
            continue
        # The asked fact may sit in a nearby unit of the same briefings, unless
        # the chosen ones say it was withheld; otherwise this is a near miss.
        withheld = any(states_absence(e.unit.text) for e in chosen)
        extra = next(
            (
                e
                for e in ranked
                if not withheld
                and e.score >= floor * 0.8
                and e.passage.doc_id in docs
                and e not in chosen
                and found_in(e.unit.readable(), _follows(e, chosen))
            ),
            None,
        )
        if extra is None:
            return Selection([], confidence, reason, closest, feats)
        chosen.append(extra)
    chosen += _antecedents(chosen)
    return Selection(chosen, confidence, "", closest, feats)


def _part_answers(question: str, head: list[Evidence], chosen: list[Evidence], reader: Reader) -> list[Evidence]:
    """For a question of several parts ("How many were aboard her, and how many of them
    were Sri Lankan?"), the unit the reader finds best for each part, when it is sure
    enough and the chosen units do not already hold it. The reader read the whole
    question, whose first part tends to win; each part asked alone finds its own answer."""
    parts = question_parts(question)
    if len(parts) < 2:
        return []
    docs = {c.passage.doc_id for c in chosen}
    texts = [e.reader_text() for e in head]
    extra: list[Evidence] = []
    for part in parts:
        probs = reader.probabilities(part, texts)
        best = int(probs.argmax())
        cand = head[best]
        if probs[best] < reader.threshold or cand.passage.doc_id not in docs:
            continue
        if not any(_overlaps(cand, e) for e in chosen + extra):
            extra.append(cand)
    return extra


def _next_to(p: Passage, end: int, start: int) -> bool:
    """Whether nothing but space stands in passage ``p`` between document offsets ``end`` and ``start``."""
    return p.start <= end <= start and not p.text[end - p.start : start - p.start].strip()


def _follows(e: Evidence, chosen: list[Evidence]) -> bool:
    """Whether ``e`` is the sentence right after a chosen one in its passage: it
    goes on about the same thing ("That deal, worth about 997 million dollars, ...")."""
    return any(c.passage.doc_id == e.passage.doc_id and _next_to(e.passage, c.unit.end, e.unit.start) for c in chosen)


def _asked_facts(
    question: str, cues: set[str], known: str = ""
) -> list[tuple[Callable[[list[str]], bool], Callable[[str, bool], bool], str]]:
    """What the chosen units must hold: for each asked fact, whether the chosen
    texts lack it, whether one further unit supplies it (its text, and whether
    it is the sentence right after a chosen one), and the refusal's reason.

    - The kind of fact (a figure, an amount, a date, a time of day); a further
      unit's figure must stand by a word of the question, its other facts
      share a term with it.
    - The name asked for ("the name of the corvette"): lacking when the chosen
      units mention the corvette and name none, or do not mention it and hold
      no name that neither the question nor the conversation already gives (a
      paraphrase, "the frigate Sovershenny", still names it).
    """

    def kind_missing(texts: list[str]) -> bool:
        return not answers_kind(question, texts)

    q_terms = terms(question)

    def kind_found(text: str, follows: bool) -> bool:
        # A further unit must be about the question too: a date elsewhere in the
        # briefing ("inducted ... on 4 March") does not say when something else happens.
        if not answers_kind(question, [text]):
            return False
        return figure_of(question, text) if "number" in cues else follows or bool(terms(text) & q_terms)

    facts = [(kind_missing, kind_found, f"The closest passages give no {kind_asked(question)}.")]
    role = asked_role(question)
    if role:

        def role_missing(texts: list[str]) -> bool:
            if any(mentions_role(role, t) for t in texts):
                return not any(names_role(question, role, t) for t in texts)
            return not any(gives_new_name(f"{question} {known}", t) for t in texts)

        def role_found(text: str, follows: bool) -> bool:
            return names_role(question, role, text)

        facts.append((role_missing, role_found, f"The closest passages do not name the {role}."))
    return facts


def _corrections(chosen: list[Evidence], ranked: list[Evidence]) -> list[Evidence]:
    """A later sentence of the same briefing that corrects a chosen figure."""
    extra = []
    for ev in list(chosen):
        for cand in ranked:
            if (
                cand.passage.doc_id == ev.passage.doc_id
                and cand.unit.start > ev.unit.start
                and CORRECTION.search(cand.unit.text)
                and NUMBER.search(cand.unit.text)
                and all(cand.unit.start != e.unit.start for e in chosen + extra)
            ):
                extra.append(cand)
                break
    return extra


def _antecedents(chosen: list[Evidence]) -> list[Evidence]:
    """For a chosen sentence that opens by pointing back, the sentence right before
    it in its passage (what "It" or "They" is), unless it is chosen already. Taken
    from the passage itself, not from the scored candidates, so that it depends on
    the chosen sentence alone and not on what else was retrieved."""
    extra: list[Evidence] = []
    for ev in chosen:
        if ev.unit.kind != "sentence" or not _POINTS_BACK.match(ev.unit.readable()):
            continue
        p = ev.passage
        before = [u for u in passage_units(p) if u.end <= ev.unit.start and u.kind == "sentence"]
        prev = max(before, key=lambda u: u.end, default=None)
        if prev is None or not _next_to(p, prev.end, ev.unit.start):
            continue
        if all((prev.start, p.doc_id) != (e.unit.start, e.passage.doc_id) for e in chosen + extra):
            extra.append(Evidence(prev, p, ev.score, {"antecedent": 1.0}))
    return extra
