"""The regression gate: `rag eval` on the sample question sets must meet the bars in corpus/questions/gate.json.

Five splits: *test* (written fresh, never tuned on), *holdout* (written blind, from
the briefings alone, later than test) and *blind* (written blind with briefings of
its own, corpus/fresh) are the gates that say how the answerer generalises; *tune*
and *dev* (questions about corpus/fresh's other new briefings, which the answerer
may be tuned on) are looser regression checks. A split names the briefing folders
its index holds (``corpus``, default ``["briefings"]``).
A missing question file fails; a question that raises counts in ``errors``, whose
ceiling is 0; every question type has a floor.

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
QUESTIONS_DIR = ROOT / "corpus" / "questions"
QUESTIONS = QUESTIONS_DIR / "briefings.jsonl"  # the tune split
BRIEFINGS = ROOT / "corpus" / "briefings"
GATE = QUESTIONS_DIR / "gate.json"
SPLITS = ("test", "holdout", "tune", "dev", "blind")


def gate(split: str) -> dict:
    return json.loads(GATE.read_text())["splits"][split]


def run(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


def corpus_of(split: str) -> list[Path]:
    return [ROOT / "corpus" / folder for folder in gate(split).get("corpus", ["briefings"])]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory):
    """Indexes by briefing folders, each built once for every test here."""
    import rag

    built: dict[tuple[Path, ...], Path] = {}

    def index_of(folders: list[Path]) -> Path:
        key = tuple(folders)
        if key not in built:
            path = tmp_path_factory.mktemp("eval-gate-index")
            report = rag.ingest([str(f) for f in folders], index_dir=str(path))
            assert report.ok, report.failed
            built[key] = path
        return built[key]

    return index_of


@pytest.fixture(scope="module")
def index_dir(indexes) -> Path:
    """The sample corpus alone."""
    return indexes([BRIEFINGS])


@pytest.fixture(scope="module", params=SPLITS)
def gate_run(request, indexes, tmp_path_factory):
    """One split, whole, on an index of its briefing folders."""
    split = request.param
    spec = gate(split)
    questions = QUESTIONS_DIR / spec["questions"]
    assert questions.is_file(), f"the {split} split {questions} is missing: the gate cannot measure anything"
    base = os.environ.get("RAG_EVAL_GATE_OUT")
    out = Path(base) / split if base else tmp_path_factory.mktemp(f"eval-gate-{split}")
    args = [str(questions), "--index", str(indexes(corpus_of(split))), "--out", str(out)]
    for name, value in spec["bars"].items():
        args += ["--fail-under", f"{name}={value}"]
    return split, questions, run(*args), out


def test_gate_bars_cover_every_type_errors_and_latency():
    """The bars themselves: no type can collapse unseen, an error turns the gate red, p95 has a ceiling."""
    for split in SPLITS:
        spec = gate(split)
        rows = [
            json.loads(line) for line in (QUESTIONS_DIR / spec["questions"]).read_text().splitlines() if line.strip()
        ]
        types = {r["type"] for r in rows}
        missing = sorted(t for t in types if f"key_accuracy.{t}" not in spec["bars"])
        assert not missing, f"{split}: no floor for question type(s) {missing}"
        assert spec["bars"].get("errors") == 0, f"{split}: errors must have a ceiling of 0"
        assert "latency.total.p95" in spec["bars"], f"{split}: no ceiling on answer latency p95"


def test_gate(gate_run):
    split, _, result, out = gate_run
    assert result.exit_code == 0, f"the answer-quality gate failed on the {split} split:\n{result.output}"
    assert "bar(s) met" in result.output


def test_reports_written(gate_run):
    split, questions, _, out = gate_run
    report = json.loads((out / "report.json").read_text())
    n = sum(1 for line in questions.read_text().splitlines() if line.strip())
    assert report["metrics"]["questions"] == n == len(report["questions"])
    # the briefings beside the questions are the ones brought up to date; the index holds every folder
    assert report["config"]["ingested"]["folder"] == str((questions.parent.parent / "briefings").resolve())
    folders = corpus_of(split)
    assert report["config"]["documents"] == sum(len([p for p in f.iterdir() if p.is_file()]) for f in folders)
    first = report["questions"][0]
    assert {"gold", "answer", "metrics"} <= set(first)
    assert {"text", "refused", "citations", "passages", "timings"} <= set(first["answer"])
    for name in gate("test")["bars"]:
        if not name.startswith("key_accuracy."):
            assert name in report["metrics"]
    followups = sum(1 for r in report["questions"] if r["gold"]["history"])
    assert report["metrics"].get("follow_up.questions", 0) == followups
    md = (out / "report.md").read_text()
    assert "| Key accuracy (answerable)" in md
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3
    # Self-contained: nothing fetched from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script" not in page


def test_a_question_that_raises_fails_the_gate(tmp_path, index_dir, monkeypatch):
    """One question that raises is an error (ceiling 0) and wrong in every metric, not dropped."""
    import rag

    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()][:3]
    path = tmp_path / "three.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    engine = rag.get_engine(rag.Settings.from_env(index_dir=str(index_dir)))
    real = engine.ask

    def flaky(question, **kw):
        if question == rows[0]["question"]:
            raise RuntimeError("boom")
        return real(question, **kw)

    monkeypatch.setattr(engine, "ask", flaky)
    result = run(str(path), "--index", str(index_dir), "--out", str(tmp_path / "r"), "--fail-under", "errors=0")
    assert result.exit_code == 1 and "errors = 1 is above its ceiling 0" in result.output, result.output
    metrics = json.loads((tmp_path / "r" / "report.json").read_text())["metrics"]
    assert metrics["questions"] == 3 and metrics["errors"] == 1
    assert metrics["key_accuracy"] <= round(2 / 3, 4)  # the raising question counts as wrong


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    """Four questions of the sample set, two of them unanswerable if there are any."""
    rows = [json.loads(line) for line in QUESTIONS.read_text().splitlines() if line.strip()]
    answerable = [r for r in rows if r["answer"] != "NOT_IN_CORPUS"][:2]
    unanswerable = [r for r in rows if r["answer"] == "NOT_IN_CORPUS"][:2]
    path = tmp_path_factory.mktemp("small") / "small.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in answerable + unanswerable) + "\n")
    return path


def test_fail_under_fails_above_measured(small_set, index_dir, tmp_path):
    out = tmp_path / "r"
    ok = run(
        str(small_set),
        "--index",
        str(index_dir),
        "--ingest",
        str(BRIEFINGS),
        "--out",
        str(out),
        "--fail-under",
        "hit_at_k=0",
    )
    assert ok.exit_code == 0, ok.output
    measured = json.loads((out / "report.json").read_text())["metrics"]
    above = min(measured["key_accuracy"] + 0.01, 1.01)
    bad = run(
        str(small_set),
        "--index",
        str(index_dir),
        "--out",
        str(out),
        "--fail-under",
        f"key_accuracy={above}",
        "--fail-under",
        "mrr=0",
    )
    assert bad.exit_code == 1
    assert f"key_accuracy = {measured['key_accuracy']} is below its bar {above}" in bad.output
    assert "mrr" not in bad.output.split("FAIL", 1)[1]  # only the failing metric is named
    ceiling = run(
        str(small_set), "--index", str(index_dir), "--out", str(out), "--fail-under", "answerable_wrongly_refused=-0.01"
    )
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
    bad.write_text(
        json.dumps(
            {
                "id": "x",
                "question": "Q?",
                "answer": "A",
                "must_include": "A",
                "sources": ["a.md"],
                "evidence": ["A"],
                "type": "factoid",
            }
        )
        + "\n"
    )
    result = run(str(bad), "--index", str(index_dir), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "line 1: field 'must_include' must be a list of strings" in result.output


def test_bad_bar_syntax(tmp_path):
    result = run(str(QUESTIONS), "--out", str(tmp_path), "--fail-under", "key_accuracy")
    assert result.exit_code == 2 and "metric=value" in result.output
