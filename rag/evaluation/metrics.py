"""Metrics of one answer against its gold question, and their aggregation.

Everything here is pure: an answer is the ``Answer.to_dict()`` dict, document
texts come from a ``texts(doc_id, source) -> (catalog_text, file_text)``
callable, so each metric can be tested on hand-made cases.

Conventions:

- Sources are compared by file name (``Path(source).name``).
- Retrieval and citation metrics are averaged over answerable questions only.
- Key accuracy counts a refusal as the correct answer to an unanswerable
  question, and a refusal of an answerable question as wrong.
- Citation precision and quote validity are micro-averaged over citations
  (``None`` when there were none); citation recall is averaged per question.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

# Metrics where lower is better: a --fail-under bar on them is a ceiling.
LOWER_IS_BETTER_PREFIXES = ("answerable_wrongly_refused", "latency.", "errors")
STAGES = ("condense", "retrieve", "select", "compose", "verify", "total")
# Reported again for follow-ups (questions with a history) and first questions on their own.
CONVERSATION_METRICS = (
    "questions",
    "key_accuracy",
    "key_accuracy_answerable",
    "unanswerable_refused",
    "answerable_wrongly_refused",
)

Texts = Callable[[str, str], tuple[str | None, str | None]]


def lower_is_better(name: str) -> bool:
    """Also for a metric of a subset: ``follow_up.answerable_wrongly_refused``."""
    return name.startswith(LOWER_IS_BETTER_PREFIXES) or name.partition(".")[2].startswith(LOWER_IS_BETTER_PREFIXES)


# -- normalisation ----------------------------------------------------------------
_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_NUMBER_RUN = re.compile(rf"\b(?:{_NUMBER_WORD})(?:(?:\s+and\s+|[\s-]+)(?:{_NUMBER_WORD}))*\b")
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d,]*\d)")
_SPACED_THOUSANDS = re.compile(r"(?<=\d)[\u00a0\u2009\u202f'](?=\d{3}\b)")
_CITATION_MARK = re.compile(r"\s*\[\d+\]")
_PUNCT = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
    }
)


def _words_to_number(words: list[str]) -> int | None:
    total, current, seen = 0, 0, False
    for w in words:
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w == "thousand":
            total += max(current, 1) * 1000
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _number_words(text: str) -> str:
    def sub(match: re.Match) -> str:
        words = [w for w in re.split(r"[\s-]+", match.group(0)) if w and w != "and"]
        # A scale word alone ("hundreds", "thousand") is not a number.
        if all(w in _SCALES for w in words):
            return match.group(0)
        value = _words_to_number(words)
        return str(value) if value is not None else match.group(0)

    return _NUMBER_RUN.sub(sub, text)


def normalise(text: str) -> str:
    """Case, whitespace, typographic punctuation, thousands separators, number words -> digits."""
    text = unicodedata.normalize("NFKC", text or "").translate(_PUNCT)
    text = _SPACED_THOUSANDS.sub("", text)
    text = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), text)
    text = text.lower()
    text = _number_words(text)
    return " ".join(text.split())


def squash(text: str) -> str:
    """Whitespace-only normalisation, for verbatim-ish containment of evidence."""
    return " ".join((text or "").split())


def contains_key(text: str, key: str) -> bool:
    """``key`` in ``text`` after normalising both; digits at the key's edges match whole numbers only."""
    t, k = normalise(text), normalise(key)
    if not k:
        return True
    left = r"(?<![\d])(?<!\d[.,])" if k[0].isdigit() else ""
    right = r"(?![\d])(?![.,]\d)" if k[-1].isdigit() else ""
    return re.search(left + re.escape(k) + right, t) is not None


# SQuAD's official normalisation (evaluate-v2.0.py): ASCII punctuation dropped, then
# the articles a/an/the, case and runs of whitespace; kept exact so that figures
# are comparable with published SQuAD scores.
_SQUAD_PUNCT = str.maketrans("", "", string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")


def squad_normalise(text: str) -> str:
    return " ".join(_SQUAD_ARTICLES.sub(" ", (text or "").lower().translate(_SQUAD_PUNCT)).split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    """Some gold answer, SQuAD-normalised, occurs in ``text`` (citation markers stripped) as whole words.

    Whole words so that gold "1" is not found in "1990"; an answer that normalises to
    nothing (gold "the") matches nothing.
    """
    haystack = f" {squad_normalise(strip_citations(text))} "
    return any(gold and f" {gold} " in haystack for gold in map(squad_normalise, answers))


def strip_citations(text: str) -> str:
    return _CITATION_MARK.sub("", text or "")


def basename(source: str) -> str:
    return Path(source or "").name


# -- spans -------------------------------------------------------------------------
def find_spans(haystack: str | None, needle: str) -> list[tuple[int, int]]:
    """Every occurrence of ``needle`` in ``haystack`` (exact)."""
    if not haystack or not needle:
        return []
    spans, at = [], haystack.find(needle)
    while at >= 0:
        spans.append((at, at + len(needle)))
        at = haystack.find(needle, at + 1)
    return spans


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def merged_passage_texts(passages: list[dict]) -> list[str]:
    """Passage texts, plus runs of overlapping/adjacent passages of one document stitched by offsets,
    so that evidence cut by a chunk boundary still counts as retrieved."""
    out = [p.get("text", "") for p in passages]
    by_doc: dict[str, list[dict]] = {}
    for p in passages:
        by_doc.setdefault(p.get("doc_id") or p.get("source", ""), []).append(p)
    for parts in by_doc.values():
        if len(parts) < 2:
            continue
        parts = sorted(parts, key=lambda p: (p["start"], p["end"]))
        text, end = parts[0]["text"], parts[0]["end"]
        for p in parts[1:]:
            if p["start"] <= end:
                if p["end"] > end:
                    text += p["text"][end - p["start"] :]
                    end = p["end"]
            else:
                out.append(text)
                text, end = p["text"], p["end"]
        out.append(text)
    return out


# -- per-question metrics ------------------------------------------------------------
def gold_rank(passages: list[dict], sources: Iterable[str]) -> int | None:
    """1-based rank of the first retrieved passage from a gold source, else None."""
    gold = {basename(s) for s in sources}
    for i, p in enumerate(passages, start=1):
        if basename(p.get("source", "")) in gold:
            return i
    return None


def evidence_recall(passages: list[dict], evidence: Iterable[str]) -> float | None:
    evidence = [squash(e) for e in evidence if e.strip()]
    if not evidence:
        return None
    texts = [squash(t) for t in merged_passage_texts(passages)]
    return sum(any(e in t for t in texts) for e in evidence) / len(evidence)


def key_result(answer: dict, must_include: Iterable[str], answerable: bool) -> tuple[bool, list[str]]:
    """(correct, missing keys). Unanswerable: correct iff refused. Answerable: not refused and every key present."""
    if not answerable:
        return bool(answer.get("refused")), ([] if answer.get("refused") else ["<refusal>"])
    keys = list(must_include)
    if answer.get("refused"):
        return False, keys
    text = strip_citations(answer.get("text", ""))
    missing = [k for k in keys if not contains_key(text, k)]
    return not missing, missing


def _evidence_spans(texts: Texts, citation: dict, evidence: list[str]) -> list[tuple[int, int]]:
    catalog_text, file_text = texts(citation.get("doc_id", ""), citation.get("source", ""))
    doc = catalog_text if catalog_text is not None else file_text
    return [span for e in evidence for span in find_spans(doc, e)]


def judge_citation(
    citation: dict, passages: list[dict], sources: Iterable[str], evidence: list[str], texts: Texts | None
) -> dict:
    """Is one citation from a gold source, and does its quote or passage contain or overlap gold evidence?"""
    gold_source = basename(citation.get("source", "")) in {basename(s) for s in sources}
    quote, passage_text = squash(citation.get("quote", "")), squash(citation.get("passage", ""))
    ev = [squash(e) for e in evidence if e.strip()]
    quote_hit = any(e in quote or (quote and quote in e) for e in ev)
    passage_hit = any(e in passage_text for e in ev)
    if gold_source and not (quote_hit or passage_hit) and texts is not None:
        spans = _evidence_spans(texts, citation, list(evidence))
        q_span = (citation.get("start", 0), citation.get("end", 0))
        quote_hit = any(overlaps(q_span, s) for s in spans)
        passage = next(
            (p for p in passages if p.get("chunk_id") and p.get("chunk_id") == citation.get("chunk_id")), None
        )
        if passage is not None:
            passage_hit = any(overlaps((passage["start"], passage["end"]), s) for s in spans)
    return {
        "n": citation.get("n"),
        "gold_source": gold_source,
        "quote_matches_evidence": bool(gold_source and quote_hit),
        "passage_matches_evidence": bool(gold_source and passage_hit),
        "correct": bool(gold_source and (quote_hit or passage_hit)),
    }


def evidence_covered(evidence: str, citations: list[dict], sources: Iterable[str], texts: Texts | None) -> bool:
    """A citation from a gold source whose quote contains, sits inside or overlaps this evidence string."""
    gold = {basename(s) for s in sources}
    e = squash(evidence)
    for c in citations:
        if basename(c.get("source", "")) not in gold:
            continue
        q = squash(c.get("quote", ""))
        if q and (e in q or q in e):
            return True
        if texts is not None:
            spans = _evidence_spans(texts, c, [evidence])
            if any(overlaps((c.get("start", 0), c.get("end", 0)), s) for s in spans):
                return True
    return False


def quote_check(citation: dict, texts: Texts | None) -> dict:
    """Quote verbatim at its offsets in the catalog text, and in the file on disk (.md/.txt)."""
    quote, start, end = citation.get("quote", ""), citation.get("start", -1), citation.get("end", -1)
    catalog_text, file_text = texts(citation.get("doc_id", ""), citation.get("source", "")) if texts else (None, None)
    in_catalog = bool(quote) and catalog_text is not None and 0 <= start <= end and catalog_text[start:end] == quote
    in_file = None
    if file_text is not None:
        in_file = bool(quote) and 0 <= start <= end and file_text[start:end] == quote
    return {
        "n": citation.get("n"),
        "in_catalog": in_catalog,
        "in_file": in_file,
        "valid": in_catalog and in_file is not False,
    }


def score_question(q, answer: dict, texts: Texts | None = None) -> dict[str, Any]:
    """Every per-question metric; ``q`` is a questions.Question."""
    passages = answer.get("passages") or []
    citations = answer.get("citations") or []
    refused = bool(answer.get("refused"))
    correct, missing = key_result(answer, q.must_include, q.answerable)
    out: dict[str, Any] = {
        "answerable": q.answerable,
        "refused": refused,
        "confidence": answer.get("confidence"),
        "key_correct": correct,
        "missing_keys": missing,
        "quotes": [quote_check(c, texts) for c in citations],
    }
    if q.answerable:
        rank = gold_rank(passages, q.sources)
        judged = [judge_citation(c, passages, q.sources, list(q.evidence), texts) for c in citations]
        covered = [evidence_covered(e, citations, q.sources, texts) for e in q.evidence]
        out.update(
            gold_rank=rank,
            hit=rank is not None,
            reciprocal_rank=1.0 / rank if rank else 0.0,
            evidence_recall=evidence_recall(passages, q.evidence),
            citations=judged,
            citation_precision=(sum(j["correct"] for j in judged) / len(judged)) if judged else None,
            citation_recall=sum(covered) / len(covered) if covered else None,
            evidence_covered=covered,
        )
    out["quote_validity"] = (sum(x["valid"] for x in out["quotes"]) / len(out["quotes"])) if out["quotes"] else None
    return out


# -- aggregation ----------------------------------------------------------------------
def _mean(values: Iterable[float | None]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(sum(vals) / len(vals), 4) if vals else None


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolation percentile (numpy's default), without numpy."""
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return round(s[lo] + (s[hi] - s[lo]) * (pos - lo), 2)


def auc(positives: Iterable[float], negatives: Iterable[float]) -> float | None:
    """Area under the ROC curve: the chance that a random positive scores above a random
    negative, ties counting half (Mann-Whitney U); None unless both sides are non-empty."""
    pos, neg = sorted(float(v) for v in positives), sorted(float(v) for v in negatives)
    if not pos or not neg:
        return None
    wins, lo, hi = 0.0, 0, 0
    for p in pos:  # both sorted: lo/hi only move forward
        while lo < len(neg) and neg[lo] < p:
            lo += 1
        while hi < len(neg) and neg[hi] <= p:
            hi += 1
        wins += lo + (hi - lo) / 2
    return round(wins / (len(pos) * len(neg)), 4)


def selective(answers: Iterable[tuple[bool, bool, float | None]]) -> dict[str, Any]:
    """How well confidence orders the answers: ``answers`` is (answered, correct, confidence) per question.

    Risk-coverage: the answered questions from most to least confident; at each
    cut, coverage is the share of all questions answered so far and accuracy the
    share of those that are right (an answered unanswerable question is wrong).
    ``area`` is the area under that accuracy-coverage curve (coverage on [0, 1]:
    a perfect ordering of the same answers scores its accuracy-weighted coverage).
    ``confidence_auc``: the chance a correct answer is more confident than a wrong
    one or an answered unanswerable question.
    """
    answers = list(answers)
    given = sorted(((c or 0.0, ok) for answered, ok, c in answers if answered), key=lambda x: -x[0])
    curve, right, area = [], 0, 0.0
    for i, (_, ok) in enumerate(given, start=1):
        right += ok
        curve.append((round(i / len(answers), 4), round(right / i, 4)))
        area += (right / i) / len(answers)
    return {
        "coverage": round(len(given) / len(answers), 4) if answers else None,
        "accuracy_answered": round(right / len(given), 4) if given else None,
        "risk_coverage_area": round(area, 4) if answers else None,
        "confidence_auc": auc([c for c, ok in given if ok], [c for c, ok in given if not ok]),
        "curve": curve,
    }


def records_selective(records: list[dict]) -> dict[str, Any]:
    """``selective`` over evaluation records; a question that raised was not answered."""
    return selective(
        (False, False, None)
        if "error" in r
        else (not r["metrics"]["refused"], bool(r["metrics"]["key_correct"]), r["metrics"].get("confidence"))
        for r in records
    )


def aggregate(records: list[dict], k: int) -> tuple[dict[str, float | None], dict[str, dict[str, Any]]]:
    """Flat metric dict (the names --fail-under uses) and per-type breakdown.

    Each record: {"type", "answerable", "metrics": score_question(...), "timings": {...}}
    A question that raised ({"error": ...}, no metrics) counts in ``errors`` and is wrong
    in every metric: it stays in every denominator (one wrong citation and one invalid
    quote in the pooled ratios; refused if answerable, answered if not), so errors can
    never raise or hold a score. Only latencies skip it (it has no timings).
    """
    ok = [r for r in records if "error" not in r]
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    failed = {
        "hit": False,
        "reciprocal_rank": 0.0,
        "evidence_recall": 0.0,
        "key_correct": False,
        "citation_recall": 0.0,
        "citations": [{"correct": False, "quote_matches_evidence": False}],
        "quotes": [{"valid": False}],
    }
    m = lambda r: r["metrics"] if "error" not in r else {**failed, "refused": r["answerable"]}  # noqa: E731
    all_judged = [j for r in answerable for j in m(r)["citations"]]
    all_quotes = [x for r in records for x in m(r)["quotes"]]
    metrics: dict[str, float | None] = {
        "questions": len(records),
        "errors": len(records) - len(ok),
        "k": k,
        "hit_at_k": _mean(m(r)["hit"] for r in answerable),
        "mrr": _mean(m(r)["reciprocal_rank"] for r in answerable),
        "evidence_recall": _mean(m(r)["evidence_recall"] for r in answerable),
        "key_accuracy": _mean(m(r)["key_correct"] for r in records),
        "key_accuracy_answerable": _mean(m(r)["key_correct"] for r in answerable),
        "citation_precision": round(sum(j["correct"] for j in all_judged) / len(all_judged), 4) if all_judged else None,
        "citation_precision_quote": (
            round(sum(j["quote_matches_evidence"] for j in all_judged) / len(all_judged), 4) if all_judged else None
        ),
        "citation_recall": _mean((m(r)["citation_recall"] or 0.0) if not m(r)["refused"] else 0.0 for r in answerable),
        "quote_validity": round(sum(x["valid"] for x in all_quotes) / len(all_quotes), 4) if all_quotes else None,
        "unanswerable_refused": _mean(m(r)["refused"] for r in unanswerable),
        "answerable_wrongly_refused": _mean(m(r)["refused"] for r in answerable),
    }
    chosen = records_selective(records)
    metrics.update({f"selective.{name}": v for name, v in chosen.items() if name != "curve"})
    for stage in STAGES:
        values = [float(r["timings"][stage]) for r in ok if stage in (r.get("timings") or {})]
        metrics[f"latency.{stage}.p50"] = percentile(values, 50)
        metrics[f"latency.{stage}.p95"] = percentile(values, 95)
    by_type: dict[str, dict[str, Any]] = {}
    for t in sorted({r["type"] for r in records}):
        rs = [r for r in records if r["type"] == t]
        ans = [r for r in rs if r["answerable"]]
        by_type[t] = {
            "n": len([r for r in records if r["type"] == t]),
            "key_accuracy": _mean(m(r)["key_correct"] for r in rs),
            "hit_at_k": _mean(m(r)["hit"] for r in ans),
            "mrr": _mean(m(r)["reciprocal_rank"] for r in ans),
            "refused": _mean(m(r)["refused"] for r in rs),
        }
        metrics[f"key_accuracy.{t}"] = by_type[t]["key_accuracy"]
    return metrics, by_type


def parse_bars(items: Iterable[str]) -> dict[str, float]:
    bars: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--fail-under {item!r}: expected metric=value, e.g. key_accuracy_answerable=0.9")
        try:
            bars[name.strip()] = float(value)
        except ValueError as exc:
            raise ValueError(f"--fail-under {item!r}: {value!r} is not a number") from exc
    return bars


def check_bars(metrics: dict[str, Any], bars: dict[str, float]) -> list[str]:
    """Failures, one message each naming the metric; a ceiling for lower-is-better metrics."""
    failures = []
    for name, bar in bars.items():
        if name not in metrics:
            known = ", ".join(k for k in metrics if not k.startswith("latency.") and "." not in k)
            failures.append(f"{name}: no such metric (known: {known}, key_accuracy.<type>, latency.<stage>.p50|p95)")
            continue
        value = metrics[name]
        if value is None:
            failures.append(f"{name}: not measured on this question set (bar {bar})")
        elif lower_is_better(name) and value > bar:
            failures.append(f"{name} = {value} is above its ceiling {bar}")
        elif not lower_is_better(name) and value < bar:
            failures.append(f"{name} = {value} is below its bar {bar}")
    return failures
