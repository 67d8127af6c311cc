"""Every evaluation metric on hand-made answers, including a case where each must be 0."""

from __future__ import annotations

import pytest

from rag.evaluation.metrics import (
    aggregate,
    check_bars,
    contains_key,
    evidence_recall,
    gold_rank,
    key_result,
    normalise,
    parse_bars,
    percentile,
    quote_check,
    score_question,
)
from rag.evaluation.questions import NOT_IN_CORPUS, Question

DOC = (
    "# Patrol\n\nChina and Russia flew a joint patrol on 29 November 2024. "
    "Eleven aircraft entered the zone for roughly 20 minutes.\n\nJapan scrambled fighters."
)
SRC = "/corpus/briefings/01-patrol.md"
OTHER = "/corpus/briefings/02-other.md"
E1 = "China and Russia flew a joint patrol on 29 November 2024."
E2 = "Eleven aircraft entered the zone for roughly 20 minutes."


def span(text: str) -> tuple[int, int]:
    start = DOC.index(text)
    return start, start + len(text)


def passage(text: str, source: str = SRC, chunk: str = "c1", doc: str = "d1", start: int | None = None) -> dict:
    s = DOC.index(text) if start is None and text in DOC else (start or 0)
    return {"chunk_id": chunk, "doc_id": doc, "source": source, "text": text, "start": s, "end": s + len(text)}


def citation(
    quote: str,
    n: int = 1,
    source: str = SRC,
    doc: str = "d1",
    chunk: str = "c1",
    offsets: tuple[int, int] | None = None,
    passage_text: str = "",
) -> dict:
    start, end = offsets if offsets else span(quote)
    return {
        "n": n,
        "source": source,
        "doc_id": doc,
        "chunk_id": chunk,
        "quote": quote,
        "start": start,
        "end": end,
        "passage": passage_text or quote,
    }


def texts(doc_id: str, source: str):
    return (DOC, DOC) if doc_id == "d1" else (None, None)


def question(**kw) -> Question:
    base = dict(
        id="q1",
        question="Who flew and how many aircraft?",
        answer="China and Russia; 11 aircraft.",
        must_include=("China", "Russia", "11"),
        sources=("01-patrol.md",),
        evidence=(E1, E2),
        type="factoid",
    )
    base.update(kw)
    return Question(**base)


UNANSWERABLE = question(id="u1", answer=NOT_IN_CORPUS, must_include=(), sources=(), evidence=(), type="unanswerable")


def answer(text: str, citations=(), passages=(), refused: bool = False, total: float = 10.0) -> dict:
    return {
        "text": text,
        "refused": refused,
        "citations": list(citations),
        "passages": list(passages),
        "timings": {
            "condense": 0.1,
            "retrieve": total / 2,
            "select": total / 4,
            "compose": 0.1,
            "verify": 0.1,
            "total": total,
        },
    }


# -- normalisation and keys --------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("Eleven aircraft entered", "11", True),
        ("twenty-one ships", "21", True),
        ("12,000 troops", "12000", True),
        ("12000 troops", "12,000", True),
        ("The 19 boats", "9", False),  # numbers match as whole numbers
        ("9.5 km", "9", False),
        ("about 1.9 km", "9", False),
        ("J-160", "J-16", False),
        ("nine boats", "9", True),
        ("EAST   china\nSea", "East China Sea", True),
        ("a “grave concern”", '"grave concern"', True),
        ("stayed 120 minutes", "20 minutes", False),
    ],
)
def test_contains_key(text, key, expected):
    assert contains_key(text, key) is expected


def test_normalise():
    assert normalise("Two  hundred and five\tSHIPS, 1,234,567") == "205 ships, 1234567"
    assert normalise("hundreds of") == "hundreds of"  # a bare scale word is not a number


def test_key_accuracy_cases():
    q = question()
    assert key_result(answer("China and Russia sent eleven aircraft [1]."), q.must_include, True) == (True, [])
    # Citation markers are stripped: "[11]" is not the number 11.
    ok, missing = key_result(answer("China and Russia sent aircraft [11]."), q.must_include, True)
    assert not ok and missing == ["11"]
    # Zero: a refusal of an answerable question is wrong even if keys appear in it.
    assert key_result(answer("China Russia 11", refused=True), q.must_include, True)[0] is False
    # Unanswerable: a refusal is the correct answer, an answer is wrong.
    assert key_result(answer("x", refused=True), (), False)[0] is True
    assert key_result(answer("China and Russia."), (), False)[0] is False


# -- retrieval ---------------------------------------------------------------------
def test_gold_rank_and_zero():
    ps = [passage("Japan scrambled fighters.", source=OTHER, chunk="x"), passage(E1)]
    assert gold_rank(ps, ["01-patrol.md"]) == 2
    assert gold_rank([passage(E1, source=OTHER)], ["01-patrol.md"]) is None  # hit 0, MRR 0


def test_evidence_recall():
    assert evidence_recall([passage(E1)], [E1, E2]) == 0.5
    # Whitespace differences do not matter.
    assert evidence_recall([passage(E1.replace(" ", "\n  ", 2))], [E1]) == 1.0
    assert evidence_recall([passage("Japan scrambled fighters.")], [E1, E2]) == 0.0


def test_evidence_recall_across_chunk_boundary():
    a, b = DOC.index(E2), DOC.index(E2) + len(E2)
    mid = a + 20
    ps = [
        {"chunk_id": "c1", "doc_id": "d1", "source": SRC, "text": DOC[a : mid + 5], "start": a, "end": mid + 5},
        {"chunk_id": "c2", "doc_id": "d1", "source": SRC, "text": DOC[mid:b], "start": mid, "end": b},
    ]
    assert evidence_recall(ps, [E2]) == 1.0


# -- citations ---------------------------------------------------------------------
def test_citation_precision_recall_perfect():
    q = question()
    ans = answer(
        "China and Russia [1]; eleven aircraft [2].",
        [citation(E1, 1), citation(E2, 2, chunk="c2")],
        [passage(E1), passage(E2, chunk="c2")],
    )
    m = score_question(q, ans, texts)
    assert m["citation_precision"] == 1.0
    assert m["citation_recall"] == 1.0
    assert m["quote_validity"] == 1.0
    assert m["key_correct"] and m["hit"] and m["reciprocal_rank"] == 1.0 and m["evidence_recall"] == 1.0


def test_citation_overlap_counts():
    q = question(evidence=(E1,))
    part = "China and Russia flew a joint patrol"
    m = score_question(q, answer("China and Russia [1].", [citation(part)], [passage(E1)]), texts)
    assert m["citation_precision"] == 1.0 and m["citation_recall"] == 1.0
    # Passage contains the evidence but the quote is another sentence: precise (passage), not recalled (quote).
    quote = "Japan scrambled fighters."
    m = score_question(q, answer("x [1]", [citation(quote, passage_text=DOC)], [passage(DOC, start=0)]), texts)
    assert m["citations"][0]["correct"] and not m["citations"][0]["quote_matches_evidence"]
    assert m["citation_recall"] == 0.0


def test_citation_metrics_zero():
    q = question()
    wrong_source = citation(E1, 1, source=OTHER, doc="d2")
    wrong_sentence = citation("Japan scrambled fighters.", 2)
    m = score_question(
        q,
        answer("China and Russia, 11 [1] [2]", [wrong_source, wrong_sentence], [passage("Japan scrambled fighters.")]),
        texts,
    )
    assert m["citation_precision"] == 0.0
    assert m["citation_recall"] == 0.0


def test_quote_validity_zero_and_file_check():
    good = quote_check(citation(E1), texts)
    assert good == {"n": 1, "in_catalog": True, "in_file": True, "valid": True}
    shifted = citation(E1, offsets=(span(E1)[0] + 1, span(E1)[1] + 1))
    assert quote_check(shifted, texts)["valid"] is False
    # Catalog right but file on disk differs (edited after ingest): invalid.
    stale = quote_check(citation(E1), lambda d, s: (DOC, "X" + DOC))
    assert stale["in_catalog"] and stale["in_file"] is False and not stale["valid"]
    # Unknown document: invalid.
    assert quote_check(citation(E1, doc="nope"), texts)["valid"] is False
    q = question()
    m = score_question(q, answer("x [1]", [shifted], [passage(E1)]), texts)
    assert m["quote_validity"] == 0.0


# -- aggregation -------------------------------------------------------------------
def record(q: Question, ans: dict) -> dict:
    return {
        "id": q.id,
        "type": q.type,
        "answerable": q.answerable,
        "metrics": score_question(q, ans, texts),
        "timings": ans["timings"],
    }


def test_aggregate_and_refusals():
    q = question()
    good = record(
        q,
        answer(
            "China, Russia, eleven [1] [2]", [citation(E1, 1), citation(E2, 2)], [passage(E1), passage(E2)], total=10
        ),
    )
    refused = record(
        question(id="q2"),
        answer("The briefings do not say", refused=True, passages=[passage(E1, source=OTHER)], total=30),
    )
    u_refused = record(UNANSWERABLE, answer("The briefings do not say", refused=True, total=20))
    u_answered = record(
        question(id="u2", answer=NOT_IN_CORPUS, must_include=(), sources=(), evidence=(), type="unanswerable"),
        answer("Something [1]", [citation(E1)], [passage(E1)], total=40),
    )
    metrics, by_type = aggregate([good, refused, u_refused, u_answered], k=6)
    assert metrics["key_accuracy_answerable"] == 0.5
    assert metrics["key_accuracy"] == 0.5
    assert metrics["unanswerable_refused"] == 0.5
    assert metrics["answerable_wrongly_refused"] == 0.5
    assert metrics["hit_at_k"] == 0.5 and metrics["mrr"] == 0.5
    assert metrics["citation_precision"] == 1.0  # over answerable questions' citations
    assert metrics["citation_recall"] == 0.5  # the refusal covers nothing
    assert metrics["quote_validity"] == 1.0  # over every citation
    assert metrics["latency.total.p50"] == 25.0
    assert by_type["unanswerable"]["key_accuracy"] == 0.5
    assert metrics["key_accuracy.factoid"] == 0.5


def test_aggregate_all_zero():
    q = question()
    bad = record(
        q,
        answer(
            "Nothing useful [1]",
            [citation("Japan scrambled fighters.", offsets=(0, 5))],
            [passage("x", source=OTHER, start=0)],
        ),
    )
    u = record(UNANSWERABLE, answer("An answer anyway."))
    metrics, _ = aggregate([bad, u], k=6)
    for name in (
        "key_accuracy",
        "key_accuracy_answerable",
        "hit_at_k",
        "mrr",
        "evidence_recall",
        "citation_precision",
        "citation_recall",
        "quote_validity",
        "unanswerable_refused",
        "answerable_wrongly_refused",
    ):
        assert metrics[name] == 0.0, name


SCORES = (
    "key_accuracy",
    "key_accuracy_answerable",
    "hit_at_k",
    "mrr",
    "evidence_recall",
    "citation_precision",
    "citation_precision_quote",
    "citation_recall",
    "quote_validity",
    "unanswerable_refused",
)


def test_errors_are_counted_and_wrong_in_every_metric():
    """A question that raised counts in errors and stays in every denominator as a wrong answer."""
    err_q = {"id": "q9", "type": "factoid", "answerable": True, "error": "boom"}
    err_u = {"id": "u9", "type": "unanswerable", "answerable": False, "error": "boom"}
    good = record(
        question(),
        answer("China, Russia, eleven [1] [2]", [citation(E1, 1), citation(E2, 2)], [passage(E1), passage(E2)]),
    )
    u_refused = record(UNANSWERABLE, answer("The briefings do not say", refused=True))
    clean, clean_types = aggregate([good, u_refused], k=6)
    assert clean["errors"] == 0 and clean["key_accuracy"] == 1.0 and clean["unanswerable_refused"] == 1.0
    assert clean["citation_precision"] == 1.0 and clean["quote_validity"] == 1.0 and clean["hit_at_k"] == 1.0

    metrics, by_type = aggregate([good, err_q, u_refused, err_u], k=6)
    assert metrics["questions"] == 4 and metrics["errors"] == 2
    assert metrics["key_accuracy"] == 0.5  # 2 of 4, not 2 of 2
    assert metrics["key_accuracy_answerable"] == 0.5
    assert metrics["hit_at_k"] == 0.5 and metrics["mrr"] == 0.5
    assert metrics["evidence_recall"] == round(clean["evidence_recall"] / 2, 4)
    assert metrics["citation_recall"] == round(clean["citation_recall"] / 2, 4)
    assert metrics["citation_precision"] == round(2 / 3, 4)  # good's 2 citations + one wrong for the error
    assert metrics["citation_precision_quote"] == round(clean["citation_precision_quote"] * 2 / 3, 4)
    assert metrics["quote_validity"] == 0.5  # 2 valid quotes + one invalid per error
    assert metrics["unanswerable_refused"] == 0.5  # an error is no refusal
    assert metrics["answerable_wrongly_refused"] == 0.5  # nor an answer
    assert metrics["key_accuracy.factoid"] == 0.5 and metrics["key_accuracy.unanswerable"] == 0.5
    assert by_type["factoid"]["n"] == 2 and by_type["factoid"]["hit_at_k"] == 0.5 and by_type["factoid"]["mrr"] == 0.5
    assert metrics["latency.total.p50"] == clean["latency.total.p50"]  # errors have no timings

    # Nothing but errors: every score at its worst, none missing (None would read as "not measured").
    worst, _ = aggregate([err_q, err_u], k=6)
    assert worst["errors"] == 2 and worst["questions"] == 2
    for name in SCORES:
        assert worst[name] == 0.0, (name, worst[name])
    assert worst["answerable_wrongly_refused"] == 1.0


def test_percentile():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(list(range(1, 101)), 95) == 95.05


# -- bars --------------------------------------------------------------------------
def test_bars():
    metrics = {
        "key_accuracy": 0.8,
        "answerable_wrongly_refused": 0.1,
        "latency.total.p95": 900.0,
        "quote_validity": None,
    }
    assert check_bars(metrics, {"key_accuracy": 0.8}) == []
    assert check_bars(metrics, {"key_accuracy": 0.81}) == ["key_accuracy = 0.8 is below its bar 0.81"]
    assert check_bars(metrics, {"answerable_wrongly_refused": 0.05}) == [
        "answerable_wrongly_refused = 0.1 is above its ceiling 0.05"
    ]
    assert check_bars(metrics, {"latency.total.p95": 1000}) == []
    assert "not measured" in check_bars(metrics, {"quote_validity": 1})[0]
    assert "no such metric" in check_bars(metrics, {"key_acuracy": 1})[0]
    assert parse_bars(["a=1", "b = 0.5"]) == {"a": 1.0, "b": 0.5}
    with pytest.raises(ValueError, match="metric=value"):
        parse_bars(["key_accuracy"])
    with pytest.raises(ValueError, match="not a number"):
        parse_bars(["key_accuracy=high"])
