"""`rag bench` end to end on a tiny archive, and its generator's determinism."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rag import bench


def test_the_archive_is_deterministic(tmp_path: Path):
    a = bench.generate(tmp_path / "a", 60, seed=7)
    b = bench.generate(tmp_path / "b", 60, seed=7)
    assert a["chunks"] >= 60 and a == b
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.md"))
    assert files_a == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*.md"))
    assert all((tmp_path / "a" / f).read_text() == (tmp_path / "b" / f).read_text() for f in files_a)
    assert bench.questions(a["facts"], 5, seed=1) == bench.questions(b["facts"], 5, seed=1)


@pytest.mark.slow
def test_bench_json_table_and_plot(tmp_path: Path):
    out = tmp_path / "out"
    cmd = [
        str(Path(sys.executable).with_name("rag")),
        "bench",
        "--chunks",
        "150",
        "--json",
        "--out",
        str(out),
        "--backend",
        "onnx-int8",
        "--queries",
        "5",
        "--asks",
        "3",
        "--sample",
        "60",
        "--workdir",
        str(tmp_path / "work"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1
    r = rows[0]
    assert r["chunks"] >= 150
    for key in ("encoder_chunks_per_s", "ingest_chunks_per_s", "ingest_ratio", "peak_rss_mb"):
        assert isinstance(r[key], (int, float)) and r[key] > 0, key
    for key in ("retrieval_ms", "ask_ms"):
        assert set(r[key]) == {"p50", "p95"} and r[key]["p50"] > 0
    assert set(r["retrieval_ms_by_method"]) >= {"dense", "bm25", "hybrid", "hybrid+filters"}
    assert r["asks"] == 3
    assert (out / "bench.png").stat().st_size > 10_000
    assert "| chunks |" in (out / "bench.md").read_text()
    assert json.loads((out / "bench.json").read_text())[0]["chunks"] == r["chunks"]
