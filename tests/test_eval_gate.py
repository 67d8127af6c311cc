"""The regression gate: `rag eval` on the sample question set must meet the bars in corpus/questions/gate.json.

Plus the CLI around it: reports written, --fail-under failing when a bar sits above
the measured value (naming the metric), --compare, and clear errors.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "corpus" / "questions" / "briefings.jsonl"
BRIEFINGS = ROOT / "corpus" / "briefings"
GATE = ROOT / "corpus" / "questions" / "gate.json"

pytestmark = pytest.mark.skipif(not QUESTIONS.exists(), reason="corpus/questions/briefings.jsonl not written yet")


def bars() -> dict[str, float]:
    return json.loads(GATE.read_text())["bars"]


def run(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("eval-gate-index")


@pytest.fixture(scope="module")
def gate_run(index_dir, tmp_path_factory):
    """The full sample set once; the index is built from corpus/briefings because it starts empty."""
    out = Path(os.environ.get("RAG_EVAL_GATE_OUT") or tmp_path_factory.mktemp("eval-gate-report"))
    args = [str(QUESTIONS), "--index", str(index_dir), "--out", str(out)]
    for name, value in bars().items():
        args += ["--fail-under", f"{name}={value}"]
    return run(*args), out


def test_gate(gate_run):
    result, out = gate_run
    assert result.exit_code == 0, f"the answer-quality gate failed:\n{result.output}"
    assert "bar(s) met" in result.output


def test_reports_written(gate_run):
    _, out = gate_run
    report = json.loads((out / "report.json").read_text())
    n = sum(1 for line in QUESTIONS.read_text().splitlines() if line.strip())
    assert report["metrics"]["questions"] == n == len(report["questions"])
    assert report["config"]["ingested"]["folder"] == str(BRIEFINGS.resolve())
    first = report["questions"][0]
    assert {"gold", "answer", "metrics"} <= set(first)
    assert {"text", "refused", "citations", "passages", "timings"} <= set(first["answer"])
    for name in bars():
        assert name in report["metrics"]
    md = (out / "report.md").read_text()
    assert "| Key accuracy (answerable)" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script" not in page


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """Four questions of the sample set, two of them unanswerable if there are any."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    answerable = [r for r in rows if r["answer"] != "NOT_IN_CORPUS"][:2]
    unanswerable = [r for r in rows if r["answer"] == "NOT_IN_CORPUS"][:2]
    path = tmp_path_factory.mktemp("small") / "small.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in answerable + unanswerable) + "\n")
    return path


def test_fail_under_fails_above_measured(small_set, index_dir, tmp_path, gate_run):
    out = tmp_path / "r"
    ok = run(str(small_set), "--index", str(index_dir), "--ingest", str(BRIEFINGS), "--out", str(out), "--fail-under", "hit_at_k=0")
    assert ok.exit_code == 0, ok.output
    measured = json.loads((out / "report.json").read_text())["metrics"]
    above = min(measured["key_accuracy"] + 0.01, 1.01)
    bad = run(str(small_set), "--index", str(index_dir), "--out", str(out), "--fail-under", f"key_accuracy={above}", "--fail-under", "mrr=0")
    assert bad.exit_code == 1
    assert f"key_accuracy = {measured['key_accuracy']} is below its bar {above}" in bad.output
    assert "mrr" not in bad.output.split("FAIL", 1)[1]  # only the failing metric is named
    ceiling = run(str(small_set), "--index", str(index_dir), "--out", str(out), "--fail-under", "answerable_wrongly_refused=-0.01")
    assert ceiling.exit_code == 1 and "answerable_wrongly_refused" in ceiling.output and "ceiling" in ceiling.output
    unknown = run(str(small_set), "--index", str(index_dir), "--out", str(out), "--fail-under", "accuracy=0.5")
    assert unknown.exit_code == 1 and "accuracy: no such metric" in unknown.output


def test_compare(tmp_path):
    a = {"metrics": {"key_accuracy": 0.5, "answerable_wrongly_refused": 0.2, "questions": 10}}
    b = {"metrics": {"key_accuracy": 0.75, "answerable_wrongly_refused": 0.3, "questions": 10}}
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    result = run("--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json")
    assert result.exit_code == 0, result.output
    rows = {r["metric"]: r for r in json.loads(result.output)}
    assert rows["key_accuracy"]["delta"] == 0.25 and rows["key_accuracy"]["verdict"] == "better"
    assert rows["answerable_wrongly_refused"]["verdict"] == "worse"  # lower is better
    assert rows["questions"]["verdict"] == ""
    table = run("--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert table.exit_code == 0 and "+0.2500" in table.output
    assert run("--compare", str(tmp_path / "a.json")).exit_code == 2


def test_bad_question_file_names_line_and_field(tmp_path, index_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "Q?", "answer": "A", "must_include": "A", "sources": ["a.md"], "evidence": ["A"], "type": "factoid"}) + "\n")
    result = run(str(bad), "--index", str(index_dir), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "line 1: field 'must_include' must be a list of strings" in result.output


def test_bad_bar_syntax(tmp_path):
    result = run(str(QUESTIONS), "--out", str(tmp_path), "--fail-under", "key_accuracy")
    assert result.exit_code == 2 and "metric=value" in result.output
