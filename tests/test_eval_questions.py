"""Question-file validation: every problem is reported with its line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.evaluation.questions import QuestionFileError, check_against_corpus, load_questions

ROOT = Path(__file__).resolve().parents[1]
GOOD = {
    "id": "q1",
    "question": "Who flew?",
    "answer": "China and Russia.",
    "must_include": ["China"],
    "sources": ["a.md"],
    "evidence": ["China and Russia flew."],
    "type": "factoid",
}
UNANSWERABLE = {
    "id": "u1",
    "question": "Who won?",
    "answer": "NOT_IN_CORPUS",
    "must_include": [],
    "sources": [],
    "evidence": [],
    "type": "unanswerable",
}


def write(tmp_path: Path, *rows) -> Path:
    path = tmp_path / "q.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def problems(tmp_path: Path, *rows) -> list[str]:
    with pytest.raises(QuestionFileError) as info:
        load_questions(write(tmp_path, *rows))
    return info.value.problems


def test_valid_file(tmp_path):
    follow = {
        **GOOD,
        "id": "q2",
        "history": [{"role": "user", "content": "Who?"}, {"role": "assistant", "content": "China."}],
        "filters": {"region": "East Asia", "date_from": "2024-01-01"},
    }
    qs = load_questions(write(tmp_path, GOOD, "", UNANSWERABLE, follow))
    assert [q.id for q in qs] == ["q1", "u1", "q2"]
    assert [q.line for q in qs] == [1, 3, 4]
    assert qs[1].answerable is False and qs[2].history[1]["content"] == "China."


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("{not json", "line 1: not valid JSON (Expecting property name enclosed in double quotes at column 2)"),
        ("[1, 2]", "line 1: expected a JSON object, got list"),
        ({k: v for k, v in GOOD.items() if k != "evidence"}, "line 1: field 'evidence' is missing"),
        ({**GOOD, "must_include": "China"}, "line 1: field 'must_include' must be a list of strings"),
        ({**GOOD, "sources": []}, "line 1: field 'sources' is empty"),
        ({**GOOD, "question": " "}, "line 1: field 'question' must be a non-empty string"),
        ({**GOOD, "mustinclude": []}, "line 1: unknown field(s) mustinclude"),
        ({**UNANSWERABLE, "sources": ["a.md"]}, "line 1: field 'sources' must be empty for an unanswerable question"),
        ({**GOOD, "type": "unanswerable"}, "line 1: field 'answer' must be NOT_IN_CORPUS"),
        ({**GOOD, "history": [{"role": "bot", "content": "x"}]}, "line 1: field 'history' item 0: role must be"),
        ({**GOOD, "history": ["Who?"]}, "line 1: field 'history' item 0 must be"),
        ({**GOOD, "filters": {"country": "x"}}, "line 1: field 'filters' has unknown key(s) country"),
        ({**GOOD, "filters": {"date_from": "2024/01/01"}}, "line 1: field 'filters.date_from'"),
        ({**GOOD, "sources": ["corpus/briefings/a.md"]}, "must be a file name, not a path"),
    ],
)
def test_problems_name_line_and_field(tmp_path, row, expected):
    found = problems(tmp_path, row)
    assert any(expected in p for p in found), found


def test_duplicate_ids_and_all_problems_reported(tmp_path):
    found = problems(tmp_path, GOOD, GOOD, {**GOOD, "id": "q3", "type": ""})
    assert any("line 2: field 'id' 'q1' repeats the id of line 1" in p for p in found)
    assert any("line 3: field 'type'" in p for p in found)


def test_every_bad_line_is_reported(tmp_path):
    assert problems(tmp_path, "{not json", GOOD, "", "[]") == [
        "line 1: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "line 4: expected a JSON object, got list",
    ]


def test_bom_allowed_and_non_utf8_named(tmp_path):
    path = tmp_path / "q.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert [q.id for q in load_questions(path)] == ["q1"]
    path.write_bytes(json.dumps(GOOD).encode() + b"\n\xff\n")
    with pytest.raises(QuestionFileError, match="not UTF-8") as info:
        load_questions(path)
    assert info.value.problems[0].startswith(f"{path}: not UTF-8")


def test_missing_and_empty_file(tmp_path):
    with pytest.raises(QuestionFileError, match="no such file"):
        load_questions(tmp_path / "nope.jsonl")
    assert "holds no questions" in problems(tmp_path, "")[0]


def test_check_against_corpus(tmp_path):
    (tmp_path / "a.md").write_text("# A\r\n\r\nChina and Russia flew.\r\n", encoding="utf-8")
    qs = load_questions(
        write(
            tmp_path, GOOD, {**GOOD, "id": "q2", "evidence": ["Not there."]}, {**GOOD, "id": "q3", "sources": ["b.md"]}
        )
    )
    found = check_against_corpus(qs, tmp_path)
    assert len(found) == 2
    assert "line 2 (q2): evidence 'Not there.' is not verbatim" in found[0]
    assert "line 3 (q3): source 'b.md' is not in" in found[1]


def test_sample_question_set_is_valid():
    """The shipped question file parses (the corpus-side checks live with the corpus tests)."""
    path = ROOT / "corpus" / "questions" / "briefings.jsonl"
    if not path.exists():
        pytest.skip("corpus/questions/briefings.jsonl not written yet")
    qs = load_questions(path)
    assert len(qs) >= 20
