"""Feedback that is used: `rag feedback export` turns the chat's 👍/👎 file into draft eval questions."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag
from rag.cli import app
from rag.evaluation.questions import NOT_IN_CORPUS, QuestionFileError, load_questions
from rag.feedback import FeedbackError, feedback_path, read_feedback, record_feedback

PATROL = "How long did the China-Russia joint air patrol last?"
UNKNOWN = "Who won the 2030 football world cup?"


@pytest.fixture(autouse=True)
def _no_env_feedback_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_FEEDBACK_PATH", raising=False)


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "index"
    folder.mkdir()
    return folder


def export(index_dir: Path, *args: str):
    return CliRunner().invoke(app, ["feedback", "export", "--index", str(index_dir), *args])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_export_real_answers_to_a_draft_the_harness_loads(
    corpus_settings: rag.Settings, index_dir: Path, tmp_path: Path
) -> None:
    settings = rag.Settings(index_dir=str(index_dir), feedback_path="")
    answered = rag.ask(PATROL, settings=corpus_settings)
    refused = rag.ask(UNKNOWN, settings=corpus_settings)
    assert answered.citations and refused.refused
    record_feedback(settings, "up", answered.to_dict())
    record_feedback(
        settings, "down", refused.to_dict(), {"filters": {"region": ["East Asia"], "sources": ["/x/01-a.md"]}}
    )
    path = feedback_path(settings)
    assert path == index_dir / "feedback.jsonl" and _mode(path) == 0o600  # it holds user questions

    out = tmp_path / "drafts.jsonl"
    result = export(index_dir, "--out", str(out))
    assert result.exit_code == 0, result.output
    assert out.is_file() and _mode(out) == 0o600
    assert "2 draft question(s)" in result.output

    questions = load_questions(out)  # the harness's own loader
    assert [q.question for q in questions] == [UNKNOWN, PATROL]  # thumbs-down first
    down, up = questions
    assert all(q.needs_review and q.id.startswith("fb-") for q in questions)
    assert down.rating == "down" and up.rating == "up"
    assert down.answer == NOT_IN_CORPUS and down.given_answer == refused.text and not down.candidates
    assert down.filters == {"region": ["East Asia"], "sources": ["01-a.md"]}
    assert up.given_answer == answered.text and up.answerable and "[" not in up.answer
    assert [c["quote"] for c in up.candidates] == [c.quote for c in answered.citations]
    for cand, cite in zip(up.candidates, answered.citations, strict=True):
        assert cand == {"source": Path(cite.source).name, "quote": cite.quote, "start": cite.start, "end": cite.end}
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["needs_review"] is True for r in rows)
    assert "THUMBS DOWN" in rows[0]["note"] and "note" not in rows[1]
    assert up.gold()["needs_review"] is True

    # Until a person reviews them, `rag eval` refuses to score drafts (their gold is the answer being judged).
    refused_eval = CliRunner().invoke(
        app, ["eval", str(out), "--index", corpus_settings.index_dir, "--out", str(tmp_path / "ev")]
    )
    assert refused_eval.exit_code == 2 and "needs_review" in refused_eval.output, refused_eval.output


def _answer(question: str, text: str, quote: str = "China and Russia flew.") -> dict:
    return {
        "question": question,
        "text": f"{text} [1]",
        "refused": False,
        "backend": "extractive",
        "citations": [{"n": 1, "source": "/corpus/01-patrol.md", "quote": quote, "start": 10, "end": 10 + len(quote)}],
    }


def test_export_to_stdout_collapses_duplicates_keeping_the_latest(index_dir: Path) -> None:
    settings = rag.Settings(index_dir=str(index_dir), feedback_path="")
    record_feedback(settings, "down", _answer("Who flew?", "Nobody flew."))
    record_feedback(settings, "up", _answer("Where did they fly?", "Over the sea."))
    record_feedback(settings, "up", _answer("who  flew", "China and Russia flew."))  # the same question, later
    result = export(index_dir)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["question"], r["rating"]) for r in rows] == [("Where did they fly?", "up"), ("who  flew", "up")]
    assert rows[1]["given_answer"] == "China and Russia flew. [1]" and rows[1]["answer"] == "China and Russia flew."
    assert "2 draft question(s)" in result.stderr


def test_draft_fields_are_validated(tmp_path: Path) -> None:
    base = {
        "id": "fb-1",
        "question": "Who?",
        "answer": "X",
        "type": "feedback",
        "must_include": [],
        "sources": [],
        "evidence": [],
    }
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps(base) + "\n")
    with pytest.raises(QuestionFileError, match="field 'must_include' is empty"):
        load_questions(path)  # without needs_review the gold fields are required
    bad = {
        **base,
        "needs_review": "yes",
        "rating": "meh",
        "candidates": [{"source": "/a/b.md", "quote": "q", "start": 0, "end": 1}],
    }
    path.write_text(json.dumps(bad) + "\n")
    with pytest.raises(QuestionFileError) as info:
        load_questions(path)
    said = str(info.value)
    assert (
        "'needs_review' must be true or false" in said and "'rating' must be" in said and "'candidates' item 0" in said
    )


def test_missing_or_empty_feedback_file_exits_1(index_dir: Path) -> None:
    result = export(index_dir)
    assert result.exit_code == 1 and "feedback.jsonl" in result.output and "no feedback file" in result.output
    (index_dir / "feedback.jsonl").write_text("\n\n")
    result = export(index_dir)
    assert result.exit_code == 1 and "feedback.jsonl" in result.output and "empty" in result.output


def test_malformed_line_names_file_and_line(index_dir: Path) -> None:
    settings = rag.Settings(index_dir=str(index_dir), feedback_path="")
    record_feedback(settings, "up", _answer("Who flew?", "China and Russia flew."))
    with open(feedback_path(settings), "a") as fh:
        fh.write("{not json\n")
    result = export(index_dir)
    assert result.exit_code == 1
    said = " ".join(result.output.split())
    assert f"{index_dir / 'feedback.jsonl'}:2: not valid JSON (Expecting property name" in said
    assert "at column 2)" in said


def test_record_without_a_rating_names_its_line(index_dir: Path) -> None:
    path = index_dir / "feedback.jsonl"
    path.write_text('{"rating": "up", "question": "Who?"}\n\n{"question": "Who?"}\n')
    with pytest.raises(FeedbackError, match=rf"^{re.escape(str(path))}:3: field 'rating' must be"):
        read_feedback(path)


def test_unwritable_out_is_named(index_dir: Path, tmp_path: Path) -> None:
    settings = rag.Settings(index_dir=str(index_dir), feedback_path="")
    record_feedback(settings, "up", _answer("Who flew?", "China and Russia flew."))
    target = tmp_path / "no-such-folder" / "drafts.jsonl"
    result = export(index_dir, "--out", str(target))
    assert (
        result.exit_code == 1
        and str(target) in " ".join(result.output.split())
        and "cannot be written" in result.output
    )


def test_existing_wide_feedback_file_is_tightened_to_0600(index_dir: Path) -> None:
    path = index_dir / "feedback.jsonl"
    path.write_text("")
    path.chmod(0o644)
    record_feedback(rag.Settings(index_dir=str(index_dir), feedback_path=""), "up", _answer("Who?", "China."))
    assert _mode(path) == 0o600 and len(path.read_text().splitlines()) == 1
