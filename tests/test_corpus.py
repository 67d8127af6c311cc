"""Consistency checks for the sample corpus and its gold question set.

Standard library + pytest only; no project imports, so this runs before the
RAG code is installed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from rag.evaluation.metrics import normalise  # the harness's own: a key it cannot find in the evidence fails here

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
BRIEFINGS = CORPUS / "briefings"
QUESTIONS = CORPUS / "questions" / "briefings.jsonl"  # the tune split
# Questions on the plain-text briefings held out from tuning (to be merged into test.jsonl).
TEST = CORPUS / "questions" / "test.jsonl"  # the test split: measured on, never tuned on
HOLDOUT = CORPUS / "questions" / "holdout.jsonl"  # written blind from the briefings alone; measured on
# New briefings with questions of their own, written blind to the answerer: "dev" may be tuned on,
# "blind" is measured only. Their questions cite corpus/fresh/briefings; the index holds both folders.
FRESH = CORPUS / "fresh" / "briefings"
DEV = CORPUS / "fresh" / "questions" / "dev.jsonl"
BLIND = CORPUS / "fresh" / "questions" / "blind.jsonl"

TYPES = {
    "factoid",
    "who-and-where",
    "table",
    "multi-hop",
    "temporal",
    "numeric",
    "follow-up",
    "unanswerable",
}
MIN_COUNTS = {
    "unanswerable": 14,
    "multi-hop": 12,
    "follow-up": 12,
    "table": 10,
    "temporal": 8,
}
MIN_QUESTIONS = 110
REGIONS = {
    "East Asia",
    "Southeast Asia",
    "South Asia",
    "Middle East",
    "Eastern Europe",
    "Africa",
    "Arctic",
    "Latin America",
}
UNANSWERABLE = "NOT_IN_CORPUS"


def _load_questions(path: Path = QUESTIONS) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - reported as failure
                pytest.fail(f"{path.name}:{lineno}: invalid JSON: {exc}")
    return rows


QUESTION_ROWS = _load_questions() if QUESTIONS.exists() else []
TEST_ROWS = _load_questions(TEST) if TEST.exists() else []
HOLDOUT_ROWS = _load_questions(HOLDOUT) if HOLDOUT.exists() else []
DEV_ROWS = _load_questions(DEV) if DEV.exists() else []
BLIND_ROWS = _load_questions(BLIND) if BLIND.exists() else []
ALL_ROWS = QUESTION_ROWS + TEST_ROWS + HOLDOUT_ROWS + DEV_ROWS + BLIND_ROWS
# Markdown briefings (title, Date:/Region: lines, ## sections) and plain-text
# briefings in the users' own format (dateline, unmarked headline lines, lists
# and pipe tables; no Markdown): both are sources questions may cite.
MD_TEXTS = {p.name: p.read_text(encoding="utf-8") for p in sorted(BRIEFINGS.glob("*.md"))} if BRIEFINGS.exists() else {}
TXT_TEXTS = (
    {p.name: p.read_text(encoding="utf-8") for p in sorted(BRIEFINGS.glob("*.txt"))} if BRIEFINGS.exists() else {}
)
FRESH_TEXTS = (
    {p.name: p.read_text(encoding="utf-8") for p in sorted(FRESH.iterdir()) if p.is_file()} if FRESH.exists() else {}
)
BRIEFING_TEXTS = {**MD_TEXTS, **TXT_TEXTS, **FRESH_TEXTS}


def _qid(row: dict) -> str:
    return str(row.get("id", "?"))


# --------------------------------------------------------------------------- briefings


def test_corpus_files_exist():
    assert BRIEFINGS.is_dir(), BRIEFINGS
    assert QUESTIONS.is_file(), QUESTIONS
    assert TEST.is_file(), TEST
    assert HOLDOUT.is_file(), HOLDOUT
    assert len(MD_TEXTS) >= 20, f"only {len(MD_TEXTS)} Markdown briefings"
    assert len(TXT_TEXTS) >= 3, f"only {len(TXT_TEXTS)} plain-text briefings"
    stray = [p.name for p in BRIEFINGS.iterdir() if p.suffix not in {".md", ".txt"}]
    assert not stray, f"unexpected files in {BRIEFINGS}: {stray}"


@pytest.mark.parametrize("name", sorted(MD_TEXTS))
def test_briefing_header(name):
    text = MD_TEXTS[name]
    assert re.fullmatch(r"\d\d-[a-z0-9-]+\.md", name), f"bad file name {name}"
    assert text.startswith("# "), f"{name} must start with a '# ' title"
    date = re.search(r"^Date: (\d{4}-\d{2}-\d{2})\s*$", text, re.M)
    assert date, f"{name} lacks a 'Date: YYYY-MM-DD' line"
    from datetime import date as _date

    _date.fromisoformat(date.group(1))  # raises on impossible dates
    region = re.search(r"^Region: (.+?)\s*$", text, re.M)
    assert region, f"{name} lacks a 'Region:' line"
    assert region.group(1) in REGIONS, f"{name}: unknown region {region.group(1)!r}"
    sections = re.findall(r"^## \S", text, re.M)
    assert 2 <= len(sections) <= 4, f"{name}: {len(sections)} '##' sections"
    body = text[region.end() :]
    words = len(body.split())
    assert 250 <= words <= 600, f"{name}: body has {words} words"


# A wire dateline: PLACE in capitals, optionally ", Country" and/or ", date", an
# optional "(Agency)", then a dash: "SINGAPORE, 12 March (Regional Security Desk) – ".
_DATELINE = re.compile(r"^[A-Z][A-Z.'’ -]{2,}(?:, [^()\n–—]{2,40}?)? ?(?:\([^()\n]{1,40}\) )?[–—-] \S")
_LIST_ITEM = re.compile(r"^(?:[-*•]|\d{1,3}[.)]) \S")
_TABLE_ROW = re.compile(r"^\|.*\|$")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")


def _headline_lines(text: str) -> list[str]:
    """Lines that read as headlines: standalone, short, no final stop, colon or comma."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        s = line.strip()
        nxt = next((x.strip() for x in lines[i + 1 :] if x.strip()), "")
        if (
            s
            and s[0].isupper()
            and len(s.split()) <= 14
            and s[-1] not in ".,;:"
            and not _LIST_ITEM.match(s)
            and not _TABLE_ROW.match(s)
            and len(nxt) > len(s)
        ):
            found.append(s)
    return found


@pytest.mark.parametrize("name", sorted(TXT_TEXTS))
def test_plaintext_briefing_shape(name):
    """The users' format: no Markdown, a dateline lead, headline lines, a bullet
    and a numbered list, a pipe table without a |---| rule."""
    text = TXT_TEXTS[name]
    assert re.fullmatch(r"\d\d-[a-z0-9-]+\.txt", name), f"bad file name {name}"
    assert not re.search(r"^#", text, re.M), f"{name}: plain text has no '#' headings"
    assert not re.search(r"^(?:Date|Region|Title):", text, re.M), f"{name}: no metadata lines in this format"
    lines = [x.strip() for x in text.splitlines() if x.strip()]
    datelines = [x for x in lines if _DATELINE.match(x)]
    assert len(datelines) == 1 and datelines[0] in lines[:2], f"{name}: the lead opens with one dateline"
    headlines = _headline_lines(text)
    assert 3 <= len(headlines) <= 5, f"{name}: {len(headlines)} headline lines: {headlines}"
    assert any(re.match(r"^[-•*] \S", x) for x in lines), f"{name}: no bullet list"
    assert any(re.match(r"^\d{1,2}\. \S", x) for x in lines), f"{name}: no numbered list"
    rows = [x for x in lines if _TABLE_ROW.match(x)]
    assert len(rows) >= 3, f"{name}: no pipe table"
    assert not any(_TABLE_RULE.match(x) for x in rows), f"{name}: its table should have no header rule"
    words = len(text.split())
    assert 250 <= words <= 600, f"{name}: {words} words"


def test_briefings_cover_every_region():
    found = Counter(re.search(r"^Region: (.+?)\s*$", t, re.M).group(1) for t in MD_TEXTS.values())
    assert set(found) == REGIONS, found
    assert all(n >= 2 for n in found.values()), found


def test_enough_briefings_with_tables():
    with_tables = [n for n, t in MD_TEXTS.items() if re.search(r"^\|\s*-{3,}", t, re.M)]
    assert len(with_tables) >= 7, with_tables


@pytest.mark.parametrize("name", sorted(TXT_TEXTS))
def test_plaintext_briefings_have_questions_in_both_splits(name):
    for rows, split in ((QUESTION_ROWS, "tune"), (TEST_ROWS, "test")):
        on_it = [r for r in rows if name in r.get("sources", [])]
        assert len(on_it) >= 3, f"{name}: {len(on_it)} {split} questions"
        assert {r["type"] for r in on_it} - {"factoid"}, f"{name}: only factoid {split} questions"
    unanswerable = [r for r in ALL_ROWS if r.get("type") == "unanswerable" and str(r.get("id", "")).startswith("p")]
    assert len(unanswerable) >= len(TXT_TEXTS), "a near-miss question per plain-text briefing"


# --------------------------------------------------------------------------- questions


def test_question_count_and_unique_ids():
    assert len(QUESTION_ROWS) >= MIN_QUESTIONS, len(QUESTION_ROWS)
    ids = [_qid(r) for r in ALL_ROWS]  # unique across the splits, which get merged
    dupes = [i for i, n in Counter(ids).items() if n > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_test_split_shape():
    """The fresh test split (issue 10): at least 60 questions, 25 unanswerable near misses,
    every type, 12 follow-up conversations of which 3 are unanswerable; no id or question
    shared with the tune split."""
    counts = Counter(r["type"] for r in TEST_ROWS)
    assert len(TEST_ROWS) >= 60, len(TEST_ROWS)
    assert counts["unanswerable"] >= 25, counts
    assert set(counts) == TYPES, f"types missing from the test split: {TYPES - set(counts)}"
    conversations = [r for r in TEST_ROWS if r.get("history")]
    assert len(conversations) >= 12, len(conversations)
    assert sum(r["type"] == "unanswerable" for r in conversations) >= 3
    tune = {" ".join(r["question"].lower().split()) for r in QUESTION_ROWS}
    repeated = [r["id"] for r in TEST_ROWS if " ".join(r["question"].lower().split()) in tune]
    assert not repeated, f"test questions repeated from the tune split: {repeated}"


def test_holdout_split_shape():
    """The blind holdout split: first questions of every type, near misses, and follow-up
    conversations; no question shared with the other splits."""
    counts = Counter(r["type"] for r in HOLDOUT_ROWS)
    assert len(HOLDOUT_ROWS) >= 80 and counts["unanswerable"] >= 30, counts
    assert set(counts) == TYPES, f"types missing from the holdout split: {TYPES - set(counts)}"
    conversations = [r for r in HOLDOUT_ROWS if r.get("history")]
    assert len(conversations) >= 20 and sum(r["type"] == "unanswerable" for r in conversations) >= 5
    others = {" ".join(r["question"].lower().split()) for r in QUESTION_ROWS + TEST_ROWS}
    repeated = [r["id"] for r in HOLDOUT_ROWS if " ".join(r["question"].lower().split()) in others]
    assert not repeated, f"holdout questions repeated from the other splits: {repeated}"


@pytest.mark.parametrize("split", ["dev", "blind"])
def test_fresh_split_shape(split):
    """The splits over new briefings (corpus/fresh): every type, near misses, follow-up
    conversations; each question about the new briefings only; no question shared with
    another split; no briefing shared between dev and blind."""
    rows = DEV_ROWS if split == "dev" else BLIND_ROWS
    counts = Counter(r["type"] for r in rows)
    assert len(rows) >= 100 and counts["unanswerable"] >= 30, counts
    assert set(counts) == TYPES, f"types missing from the {split} split: {TYPES - set(counts)}"
    conversations = [r for r in rows if r.get("history")]
    assert len(conversations) >= 30 and sum(r["type"] == "unanswerable" for r in conversations) >= 8
    assert all(s in FRESH_TEXTS for r in rows for s in r["sources"])
    others = [r for r in ALL_ROWS if r not in rows]
    seen = {" ".join(r["question"].lower().split()) for r in others}
    repeated = [r["id"] for r in rows if " ".join(r["question"].lower().split()) in seen]
    assert not repeated, f"{split} questions repeated from the other splits: {repeated}"
    cited = {s for r in rows for s in r["sources"]}
    other = DEV_ROWS if split == "blind" else BLIND_ROWS
    assert not cited & {s for r in other for s in r["sources"]}, "dev and blind must not share a briefing"


def test_fresh_briefings_are_new():
    """New briefings: Markdown and plain text, none of the sample corpus's files or titles."""
    assert len(FRESH_TEXTS) >= 16, len(FRESH_TEXTS)
    assert {Path(n).suffix for n in FRESH_TEXTS} == {".md", ".txt"}
    assert not set(FRESH_TEXTS) & (set(MD_TEXTS) | set(TXT_TEXTS))
    titles = {t.splitlines()[0].lstrip("# ").strip() for t in {**MD_TEXTS, **TXT_TEXTS}.values()}
    assert not titles & {t.splitlines()[0].lstrip("# ").strip() for t in FRESH_TEXTS.values()}


def test_type_minimums():
    counts = Counter(r.get("type") for r in QUESTION_ROWS)
    for type_, minimum in MIN_COUNTS.items():
        assert counts[type_] >= minimum, f"{type_}: {counts[type_]} < {minimum}"


def test_required_patrol_question_present():
    rows = [r for r in QUESTION_ROWS if r.get("question") == "Who joined the patrol and where?"]
    assert len(rows) == 1, "the canonical patrol question must appear exactly once"
    keys = {k.lower() for k in rows[0]["must_include"]}
    assert {"china", "russia", "east china sea", "western pacific"} <= keys
    # Only one briefing may describe a patrol over those waters.
    hits = [
        n
        for n, t in BRIEFING_TEXTS.items()
        if "patrol" in t.lower() and "east china sea" in t.lower() and "western pacific" in t.lower()
    ]
    assert hits == rows[0]["sources"], hits


@pytest.mark.parametrize("row", ALL_ROWS, ids=_qid)
def test_question_fields(row):
    for field, kind in (
        ("id", str),
        ("question", str),
        ("answer", str),
        ("must_include", list),
        ("sources", list),
        ("evidence", list),
        ("type", str),
    ):
        assert field in row, f"missing {field}"
        assert isinstance(row[field], kind), f"{field} should be {kind.__name__}"
    assert row["question"].strip() and row["answer"].strip()
    assert row["type"] in TYPES, row["type"]
    for field in ("must_include", "sources", "evidence"):
        assert all(isinstance(x, str) and x.strip() for x in row[field]), field
    if "filters" in row:
        assert isinstance(row["filters"], dict)
        if "region" in row["filters"]:
            assert row["filters"]["region"] in REGIONS
    if "history" in row:
        assert isinstance(row["history"], list) and row["history"]
        for turn in row["history"]:
            assert isinstance(turn, dict)
            assert turn.get("role") in {"user", "assistant"}, turn
            assert isinstance(turn.get("content"), str) and turn["content"].strip()
    if row["type"] == "follow-up":
        assert row.get("history"), "follow-up questions need a history"


@pytest.mark.parametrize("row", ALL_ROWS, ids=_qid)
def test_unanswerable_consistency(row):
    is_unanswerable = row["type"] == "unanswerable"
    assert is_unanswerable == (row["answer"] == UNANSWERABLE)
    if is_unanswerable:
        assert row["must_include"] == [] and row["sources"] == [] and row["evidence"] == []
    else:
        assert row["must_include"], "answerable questions need must_include keys"
        assert row["sources"] and row["evidence"]


@pytest.mark.parametrize("row", [r for r in ALL_ROWS if r.get("sources")], ids=_qid)
def test_evidence_is_verbatim(row):
    for src in row["sources"]:
        assert src in BRIEFING_TEXTS, f"unknown source {src}"
    for ev in row["evidence"]:
        assert any(ev in BRIEFING_TEXTS[s] for s in row["sources"]), f"not verbatim: {ev!r}"
    for src in row["sources"]:
        assert any(ev in BRIEFING_TEXTS[src] for ev in row["evidence"]), f"source {src} supplies no evidence"


@pytest.mark.parametrize("row", [r for r in ALL_ROWS if r.get("must_include")], ids=_qid)
def test_keys_in_answer_and_evidence(row):
    answer = row["answer"].lower()
    evidence = normalise(" ".join(row["evidence"]))
    for key in row["must_include"]:
        assert key.lower() in answer, f"key {key!r} not in answer"
        assert normalise(key) in evidence, f"key {key!r} not in evidence"


def test_normalise_examples():
    assert normalise("Nine  vessels") == "9 vessels"
    assert normalise("1,200 gigabytes") == "1200 gigabytes"
    assert normalise("Twenty") == "20"
