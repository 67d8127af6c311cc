"""BEIR mode on a tiny hand-made BEIR folder: qrels parsing, cached index, run file, metrics, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import app
from rag.config import Settings
from rag.evaluation import beir

DOCS = {
    "d1": (
        "Warning shots over Dokdo",
        "South Korean fighters fired warning shots at a Russian A-50 early warning aircraft over the Dokdo islets.",
    ),
    "d2": (
        "Water cannon at Second Thomas Shoal",
        "A China Coast Guard ship fired a water cannon at a Philippine supply boat.",
    ),
    "d3": (
        "Cable damage near Svalbard",
        "An undersea fibre-optic cable between Svalbard and mainland Norway was damaged.",
    ),
    "d4": ("Tanker detained", "Equatorial Guinea detained an oil tanker whose crew were later released."),
    "d5": ("", "A document without a title about naval drills in the Gulf of Oman with Iran, Russia and China."),
    "d6": ("Border closure", "The Dominican Republic closed its border with Haiti over a canal dispute."),
}
QUERIES = {
    "1": "warning shots early warning aircraft Dokdo",
    "2": "water cannon Philippine supply boat",
    "3": "undersea cable Svalbard Norway damaged",
    "9": "a train query that is not in the test qrels",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("beir-tiny")
    with (root / "corpus.jsonl").open("w") as fh:
        for doc_id, (title, text) in DOCS.items():
            fh.write(json.dumps({"_id": doc_id, "title": title, "text": text}) + "\n")
    with (root / "queries.jsonl").open("w") as fh:
        for qid, text in QUERIES.items():
            fh.write(json.dumps({"_id": qid, "text": text}) + "\n")
    (root / "qrels").mkdir()
    # CRLF line endings and a header row, as in the published SciFact qrels.
    (root / "qrels" / "test.tsv").write_bytes(
        b"query-id\tcorpus-id\tscore\r\n1\td1\t1\r\n2\td2\t1\r\n3\td3\t1\r\n3\td4\t1\r\n"
    )
    return root


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("beir-cache")


def test_read_qrels_crlf(folder):
    qrels = beir.read_qrels(folder / "qrels" / "test.tsv")
    assert qrels == {"1": {"d1": 1}, "2": {"d2": 1}, "3": {"d3": 1, "d4": 1}}
    assert all("\r" not in k for q in qrels.values() for k in q)


def test_bad_qrels_line(tmp_path):
    (tmp_path / "t.tsv").write_text("query-id\tcorpus-id\tscore\n1 d1 1\n")
    with pytest.raises(beir.BeirError, match=r"t.tsv:2: expected query-id<TAB>corpus-id<TAB>score"):
        beir.read_qrels(tmp_path / "t.tsv")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("{not json", r"corpus.jsonl:2: not valid JSON \(.* at column 2\)"),
        ('{"title": "no id"}', r"corpus.jsonl:2: expected an object with an '_id' field"),
        ("[]", r"corpus.jsonl:2: expected a JSON object, got list"),
    ],
)
def test_bad_corpus_line_names_file_and_line(tmp_path, line, expected):
    (tmp_path / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "text": "x"}) + "\n" + line + "\n")
    with pytest.raises(beir.BeirError, match=expected):
        beir.read_corpus(tmp_path)


def test_missing_corpus_is_named(tmp_path):
    with pytest.raises(beir.BeirError, match=r"corpus.jsonl: no such file"):
        beir.read_corpus(tmp_path)


def test_document_text_keeps_title_out_of_body(folder, cache):
    from rag.chunking import chunk_document
    from rag.models import Document

    text = beir.document_text("A  title\n", "Body text.")
    assert text == "# A title\n\nBody text."
    doc = Document("d", "beir://x/d", "A title", None, None, text, "h")
    chunks = chunk_document(doc, Settings())
    assert [c.body for c in chunks] == ["Body text."]
    assert chunks[0].search_text == "A title\nBody text."  # BEIR's title + text, title once
    assert all(text[c.start : c.end] == c.body for c in chunks)


@pytest.mark.parametrize("retriever", ["bm25", "dense", "hybrid"])
def test_run_beir(folder, cache, tmp_path, retriever):
    run_file = tmp_path / "run.trec"
    result = beir.run_beir(
        folder,
        split="test",
        retriever=retriever,
        settings=Settings.from_env(),
        cache_root=cache,
        run_out=run_file,
        depth=100,
    )
    assert result.queries == 3 and result.documents == len(DOCS)
    assert Path(result.index_dir).parent == cache and Path(result.index_dir).name.startswith(f"beir-{folder.name}-")
    lines = run_file.read_text().splitlines()
    by_query: dict[str, list[list[str]]] = {}
    for line in lines:
        parts = line.split()
        assert len(parts) == 6 and parts[1] == "Q0" and parts[5] == f"briefing-rag-{retriever}"
        by_query.setdefault(parts[0], []).append(parts)
    assert set(by_query) == {"1", "2", "3"}  # only the split's queries
    for rows in by_query.values():
        docs = [r[2] for r in rows]
        assert len(docs) == len(set(docs))  # one document once
        assert [int(r[3]) for r in rows] == list(range(1, len(rows) + 1))
        scores = [float(r[4]) for r in rows]
        assert scores == sorted(scores, reverse=True)
    for qid, rel in (("1", "d1"), ("2", "d2"), ("3", "d3")):
        assert by_query[qid][0][2] == rel
    m = result.metrics
    assert set(m) == {"ndcg@10", "recall@100", "mrr@10"}
    assert m["mrr@10"] == 1.0
    assert 0.8 < m["ndcg@10"] <= 1.0
    assert beir.read_trec(run_file)["1"]["d1"] > 0


def test_index_is_cached(folder, cache):
    settings = beir.index_settings(folder, Settings.from_env(), cache)
    marker = settings.index_path / "beir-complete.json"
    beir.build_index(folder, settings)
    before = marker.stat().st_mtime_ns
    beir.build_index(folder, settings)
    assert marker.stat().st_mtime_ns == before  # not rebuilt
    # Another chunk size is another index.
    other = beir.index_settings(folder, Settings.from_env(chunk_tokens=50), cache)
    assert other.index_path != settings.index_path


def test_score_run_missing_query_counts_zero():
    qrels = {"1": {"a": 1}, "2": {"b": 1}}
    m = beir.score_run(qrels, {"1": [("a", 0.5), ("c", 0.5)]})
    assert m["mrr@10"] == 0.5 and m["recall@100"] == 0.5
    # Ties in score keep our rank order.
    assert beir.score_run({"1": {"c": 1}}, {"1": [("a", 1.0), ("c", 1.0)]})["mrr@10"] == 0.5


def test_cli_beir(folder, cache, tmp_path):
    run_file = tmp_path / "run.trec"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "--beir",
            str(folder),
            "--split",
            "test",
            "--retriever",
            "bm25",
            "--run-out",
            str(run_file),
            "--index",
            str(cache),
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert run_file.exists()
    saved = json.loads((tmp_path / "out" / f"beir-{folder.name}-test-bm25.json").read_text())
    assert saved["metrics"]["mrr@10"] == 1.0
    bad = CliRunner().invoke(
        app, ["eval", "--beir", str(folder), "--split", "dev", "--index", str(cache), "--out", str(tmp_path)]
    )
    assert bad.exit_code == 2 and "dev.tsv" in bad.output
