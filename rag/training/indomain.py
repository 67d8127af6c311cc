"""Optional in-domain pairs from the sample corpus's TUNE split (``--tune``).

The reader sees briefing units at inference as "title > heading. unit";
SQuAD gives it only "title. unit", and the prototype scored answerable
briefing questions low. These pairs show it the briefing shape.

Only corpus/questions/briefings.jsonl (the tune split) is read; the test
split must never be trained or calibrated on, which ``check`` asserts.
Positives: the units of a question's source briefings that an evidence
string matches. Negatives: the other unit of those briefings with most
question-word overlap, and for unanswerable questions the top units of a
small BM25 over every briefing unit.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from pathlib import Path

from rag.sentences import units_of

from .data import TEST_QUESTIONS, Example, best_by_overlap, content_words

TUNE_QUESTIONS = TEST_QUESTIONS.parent / "briefings.jsonl"
BRIEFINGS = TEST_QUESTIONS.parents[1] / "briefings"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def briefing_units(path: Path) -> list[str]:
    """Reader inputs "title > heading. unit" for every unit of a briefing."""
    lines = path.read_text(encoding="utf-8").splitlines()
    title = next((ln.lstrip("# ").strip() for ln in lines if ln.strip()), path.stem)
    out, heading, body = [], "", []

    def flush():
        head = " > ".join(x for x in (title, heading) if x)
        out.extend(f"{head}. {u.readable()}" for u in units_of("\n".join(body) + "\n"))
        body.clear()

    for i, ln in enumerate(lines):
        if ln.startswith("#"):
            flush()
            heading = ln.lstrip("#").strip() if ln.startswith("##") else ""
        elif not (i == 0 and ln.strip() == title):
            body.append(ln)
    flush()
    return out


def _bm25(question: str, docs: list[str], k1: float = 1.2, b: float = 0.75) -> list[float]:
    toks = [list(content_words(d)) for d in docs]
    df = Counter(w for t in toks for w in set(t))
    avg = sum(map(len, toks)) / max(len(toks), 1)
    q = content_words(question)
    out = []
    for t in toks:
        tf = Counter(t)
        out.append(
            sum(
                math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5))
                * tf[w]
                * (k1 + 1)
                / (tf[w] + k1 * (1 - b + b * len(t) / avg))
                for w in q
                if w in tf
            )
        )
    return out


def tune_examples(
    questions: Path = TUNE_QUESTIONS, briefings: Path = BRIEFINGS, bm25_negatives: int = 2
) -> list[Example]:
    assert Path(questions).resolve() != TEST_QUESTIONS.resolve(), "the test split is never trained on"
    rows = [json.loads(ln) for ln in Path(questions).read_text(encoding="utf-8").splitlines() if ln.strip()]
    units = {p.name: briefing_units(p) for p in sorted(Path(briefings).iterdir()) if p.suffix in (".md", ".txt")}
    every = [(name, u) for name, us in units.items() for u in us]
    out: list[Example] = []
    for r in rows:
        q, qid = r["question"], r["id"]
        if not r["sources"]:
            scores = _bm25(q, [u for _, u in every])
            top = sorted(range(len(every)), key=lambda i: -scores[i])[:bm25_negatives]
            out += [Example(q, every[i][1], 0, "tune-neg", qid, every[i][0]) for i in top]
            continue
        ev = [_norm(e) for e in r["evidence"]]
        for src in r["sources"]:
            us = units.get(src, [])
            pos = [u for u in us if any(e and (e in _norm(u) or _norm(u.split(". ", 1)[-1]) in e) for e in ev)]
            out += [Example(q, u, 1, "tune-pos", qid, src) for u in pos]
            rest = [u for u in us if u not in pos and not (content_words(r["answer"]) <= content_words(u))]
            hard = best_by_overlap(q, rest)
            if pos and hard:
                out.append(Example(q, hard, 0, "tune-para", qid, src))
    check(out)
    return out


def check(examples: list[Example]) -> None:
    if TEST_QUESTIONS.exists():
        test_q = {
            json.loads(ln)["question"] for ln in TEST_QUESTIONS.read_text(encoding="utf-8").splitlines() if ln.strip()
        }
        assert not {e.question for e in examples} & test_q, "a test-split question is in the tune pairs"
