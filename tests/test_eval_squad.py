"""`rag eval --squad2/--squad` on tiny hand-written SQuAD files through the real engine.

Plus the pure parts (normalisation, containment, AUC, errors in the metrics) and the
held-out article list checked against the shared SQuAD 2.0 sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.evaluation import squad
from rag.evaluation.metrics import auc, contains_answer, selective, squad_normalise

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE500 = SHARED / "benchmarks" / "squad-v2-sample500"
DEV11 = SHARED / "benchmarks" / "squad-v1.1-dev" / "dev-v1.1.json"

EIFFEL = (
    "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. It was completed in 1889 "
    "as the entrance arch to the World's Fair, and it is 330 metres tall."
)
KILI = (
    "Mount Kilimanjaro is a dormant volcano in Tanzania. It is the highest mountain in Africa, rising about "
    "5,895 metres above sea level, and its first recorded ascent was made by Hans Meyer in 1889."
)
DANUBE = (
    "The Danube is the second-longest river in Europe. It rises in the Black Forest of Germany and flows "
    "through ten countries before it empties into the Black Sea."
)
# (id, context, question, answers, is_impossible). "d2" asks about the Eiffel Tower under the
# Danube's context, like SQuAD 2.0's adversarial questions: open retrieval finds the Eiffel
# paragraph, --closed must not.
SQUAD2 = [
    ("e1", EIFFEL, "In which city is the Eiffel Tower?", ["Paris"], False),
    ("k1", KILI, "Which country is Mount Kilimanjaro in?", ["Tanzania"], False),
    ("d2", DANUBE, "How tall is the Eiffel Tower?", [], True),
    ("u2", EIFFEL, "Who painted the Mona Lisa?", [], True),
]
ARTICLES = {
    "United_Methodist_Church": (
        "The United Methodist Church was formed in 1968 in Dallas, Texas, by the union of the Methodist Church "
        "and the Evangelical United Brethren Church.",
        "In which city was the United Methodist Church formed?",
        "Dallas",
    ),
    "Kenya": (
        "Nairobi is the capital and the largest city of Kenya. Kenya lies on the equator in East Africa.",
        "What is the capital of Kenya?",
        "Nairobi",
    ),
    "Apollo_program": (
        "The Apollo program was run by NASA. Apollo 11 landed the first humans on the Moon in July 1969.",
        "Which mission landed the first humans on the Moon?",
        "Apollo 11",
    ),
    "Genghis_Khan": (
        "Genghis Khan founded the Mongol Empire. He was born with the name Temujin.",
        "What was the birth name of Genghis Khan?",
        "Temujin",
    ),
    "Newcastle_upon_Tyne": (
        "Newcastle upon Tyne is a city in North East England on the north bank of the River Tyne.",
        "On which river does Newcastle upon Tyne stand?",
        "River Tyne",
    ),
    "Not_Held_Out": (
        "Basalt is a dark volcanic rock formed from rapidly cooled lava.",
        "What kind of rock is basalt?",
        "volcanic rock",
    ),
}


def run(*args: str):
    return CliRunner().invoke(app, ["eval", *args], env={"COLUMNS": "400"})


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("squad-cache")


@pytest.fixture(scope="module")
def squad2_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("squad2-tiny")
    (root / "queries.json").write_text(
        json.dumps({"queries": [{"id": i, "context": c, "question": q} for i, c, q, _, _ in SQUAD2]})
    )
    (root / "ground_truth.json").write_text(
        json.dumps({i: {"answers": a, "is_impossible": imp} for i, _, _, a, imp in SQUAD2})
    )
    return root


@pytest.fixture(scope="module")
def squad_file(tmp_path_factory) -> Path:
    data = [
        {
            "title": t,
            "paragraphs": [
                {
                    "context": c,
                    "qas": [{"id": f"q-{t}", "question": q, "answers": [{"answer_start": c.index(a), "text": a}] * 2}],
                }
            ],
        }
        for t, (c, q, a) in ARTICLES.items()
    ]
    path = tmp_path_factory.mktemp("squad11-tiny") / "dev-v1.1.json"
    path.write_text(json.dumps({"version": "1.1", "data": data}))
    return path


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


@pytest.fixture(scope="module")
def open_run(squad2_dir, cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("squad2-open")
    return run("--squad2", str(squad2_dir), "--index", str(cache), "--out", str(out)), out


@pytest.fixture(scope="module")
def closed_run(squad2_dir, cache, tmp_path_factory, open_run):
    out = tmp_path_factory.mktemp("squad2-closed")
    return run("--squad2", str(squad2_dir), "--closed", "--index", str(cache), "--out", str(out)), out


# -- pure parts ------------------------------------------------------------------
def test_squad_normalisation():
    assert squad_normalise("The Eiffel Tower!") == "eiffel tower"
    assert squad_normalise("  An  apple, a PEAR. ") == "apple pear"
    assert contains_answer("It is The Eiffel Tower! [1]", ["eiffel tower"])
    assert contains_answer("Paris [2] is big.", ["paris is"])  # citation markers do not split an answer
    assert not contains_answer("It opened in 1990. [1]", ["1"])  # whole words only
    assert not contains_answer("The tower.", ["the"])  # an answer that normalises to nothing matches nothing
    assert not contains_answer("anything", [])


def test_auc():
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5, 0.7], [0.5]) == 0.75  # a tie counts half
    assert auc([0.5], []) is None


def test_selective_answering_metrics():
    out = selective([(True, True, 0.9), (True, False, 0.8), (False, False, 0.1), (True, True, 0.3)])
    assert out["curve"] == [(0.25, 1.0), (0.5, 0.5), (0.75, 0.6667)]  # most confident first; refused never covered
    assert out["coverage"] == 0.75 and out["accuracy_answered"] == 0.6667
    assert out["risk_coverage_area"] == round((1 + 0.5 + 2 / 3) / 4, 4)
    assert out["confidence_auc"] == 0.5  # 0.9 above the wrong 0.8, 0.3 below it
    assert selective([(True, True, 0.2), (True, False, 0.1)])["confidence_auc"] == 1.0


def test_errors_stay_in_every_denominator():
    ok = {
        "id": "a",
        "is_impossible": False,
        "correct": True,
        "refused": False,
        "own_first": True,
        "own_any": True,
        "ms": 10.0,
        "confidence": None,
    }
    un = {
        "id": "u",
        "is_impossible": True,
        "correct": True,
        "refused": True,
        "own_first": False,
        "own_any": False,
        "ms": 20.0,
    }

    class Broken:
        def ask(self, *a, **kw):
            raise RuntimeError("boom")

    bad_ans = squad.ask_one(Broken(), squad.Item("b", "q?", ("x",), False, "c.txt"), False, None)
    bad_un = squad.ask_one(Broken(), squad.Item("v", "q?", (), True, "c.txt"), True, None)
    assert bad_ans["error"] == "RuntimeError: boom" and bad_ans["correct"] is False
    m = squad.squad_metrics([ok, un, bad_ans, bad_un], with_unanswerable=True)
    assert m["errors"] == 2 and m["questions"] == 4
    assert m["answerable_correct"] == 0.5 and m["answerable_wrongly_refused"] == 0.5
    assert m["unanswerable_refused"] == 0.5 and m["overall"] == 0.5
    assert m["own_context_cited_first"] == 0.5 and m["own_context_cited"] == 0.5
    assert m["latency.total.p50"] == 15.0
    assert m["selective.coverage"] == 0.25 and m["selective.accuracy_answered"] == 1.0  # only ok was answered
    assert m["selective.confidence_auc"] is None  # no confidence on these answers


def test_article_markdown():
    assert (
        squad.article_markdown("Genghis_Khan", ["One.", " Two. "])
        == "# Genghis Khan\n\n## Paragraph 1\n\nOne.\n\n## Paragraph 2\n\nTwo.\n"
    )


# -- through the CLI and the real engine ---------------------------------------------
def test_open_run(open_run, squad2_dir):
    result, out = open_run
    assert result.exit_code == 0, result.output
    for name in ("report.json", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    report = _report(out)
    cfg, m = report["config"], report["metrics"]
    assert (
        cfg["mode"] == "open" and cfg["documents"] == 3 and set(cfg["sha256"]) == {"queries.json", "ground_truth.json"}
    )
    assert "llm_key" not in cfg["settings"] and cfg["dataset"] == str(squad2_dir.resolve())
    by_id = {r["id"]: r for r in report["questions"]}
    assert by_id["e1"]["correct"] and by_id["k1"]["correct"]  # the gold answer is in the only context about it
    assert by_id["u2"]["refused"] and by_id["u2"]["correct"]
    eiffel = squad.context_file(EIFFEL)
    assert eiffel in by_id["d2"]["cited"]  # open retrieval reads the Eiffel paragraph
    assert m["questions"] == 4 and m["answerable"] == 2 and m["unanswerable"] == 2 and m["errors"] == 0
    assert m["answerable_correct"] == 1.0 and m["answerable_wrongly_refused"] == 0.0
    assert m["own_context_cited_first"] == 1.0
    assert m["overall"] == round(sum(r["correct"] for r in report["questions"]) / 4, 4)
    assert m["latency.total.p50"] > 0
    assert 0 < m["selective.coverage"] <= 1 and len(report["risk_coverage"]) == round(m["selective.coverage"] * 4)
    html = (out / "report.html").read_text()
    assert "<script" not in html.lower() and "href=" not in html
    assert html.count("src=") == html.count("src='data:image/png;base64,") == 1  # the risk-coverage plot, inlined
    assert "## Wrong answers" in (out / "report.md").read_text()


def test_closed_run_filters_to_own_context(closed_run):
    result, out = closed_run
    assert result.exit_code == 0, result.output
    report = _report(out)
    assert report["config"]["mode"] == "closed"
    for r in report["questions"]:
        assert set(r["cited"]) <= {r["doc"]}, r  # only the question's own context can be cited
    by_id = {r["id"]: r for r in report["questions"]}
    assert squad.context_file(EIFFEL) not in by_id["d2"]["cited"]
    assert report["metrics"]["answerable_correct"] == 1.0
    assert report["config"]["ingested"]["added"] == 0  # the open run's cached index, not embedded again


def test_squad11_heldout_articles_and_gate(squad_file, cache, tmp_path):
    out = tmp_path / "out"
    result = run(
        "--squad",
        str(squad_file),
        "--index",
        str(cache),
        "--out",
        str(out),
        "--fail-under",
        "answerable_correct=1.01",
        "--fail-under",
        "latency.total.p95=0.001",
    )
    assert result.exit_code == 1, result.output
    assert "answerable_correct" in result.output and "below its bar 1.01" in result.output
    assert "latency.total.p95" in result.output and "above its ceiling" in result.output
    report = _report(out)  # reports are written before the gate
    titles = squad.heldout_squad_titles()
    assert report["config"]["documents"] == len(titles) and list(report["by_title"]) == titles  # Not_Held_Out left out
    assert report["metrics"]["questions"] == len(titles) and "unanswerable_refused" not in report["metrics"]
    by_id = {r["id"]: r for r in report["questions"]}
    assert by_id["q-Kenya"]["correct"] and by_id["q-Kenya"]["cited"][0] == "Kenya.md"
    doc = Path(report["config"]["index_dir"]).parent / "docs" / "Kenya.md"
    assert doc.read_text().startswith("# Kenya\n\n## Paragraph 1\n\nNairobi")


def test_missing_folder_exits_2(tmp_path):
    missing = tmp_path / "no-such-squad"
    result = run("--squad2", str(missing), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert str(missing) in result.output and "no such folder" in result.output
    result = run("--squad", str(missing), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and str(missing) in result.output


# -- the held-out list ---------------------------------------------------------------
def test_heldout_titles_file():
    titles = squad.heldout_squad_titles()
    assert len(titles) >= 5 and len(set(titles)) == len(titles)
    assert "held out" in json.loads(squad.HELDOUT.read_text())["comment"]


@pytest.mark.skipif(not (SAMPLE500.is_dir() and DEV11.is_file()), reason="../shared/benchmarks SQuAD files not present")
def test_heldout_articles_not_in_squad2_sample():
    sample = {q["context"] for q in json.loads((SAMPLE500 / "queries.json").read_text())["queries"]}
    articles = {a["title"]: a for a in json.loads(DEV11.read_text())["data"]}
    for title in squad.heldout_squad_titles():
        assert title in articles
        overlap = [p for p in articles[title]["paragraphs"] if p["context"] in sample]
        assert not overlap, f"{title}: {len(overlap)} paragraph(s) are in squad-v2-sample500"
