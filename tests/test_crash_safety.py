"""SIGKILL an ingest at several points, run it again, and find a consistent index.

Kill points are chosen from outside, by watching the index (no test hooks in
production code): a fixed delay after start (before anything is written), the
moment Chroma's files start changing (vectors being written, catalog not yet),
and the moment the catalog's generation has moved a few steps (in the middle of
the per-document swaps). After every kill the index must have no missing
vectors and every document must be exactly its old or exactly its new version;
after the final run ``rag check`` is clean and Chroma, BM25 and the catalog
hold the same chunk ids.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

import rag
from rag.chunking import chunk_document
from rag.loaders import load

from .fixtures.hardening import CORPUS, RAG, ROOT, index_state, run_rag

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _write_corpus(folder: Path, version: int) -> None:
    """30 briefings: the 22 of the corpus and 8 variants; version 2 changes every one."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(CORPUS.glob("*.md"))
    items = [(p.name, p.read_text(encoding="utf-8")) for p in sources]
    for i, p in enumerate(sources[:8]):
        text = p.read_text(encoding="utf-8").replace("\n", f" (variant {i})\n", 1)
        items.append((f"variant-{i:02d}-{p.name}", text + f"\nAnalyst note {i}: treat as a variant copy.\n"))
    for name, text in items:
        if version == 2:
            text += f"\n## Update\n\nOn 1 July 2024 the desk reviewed this briefing ({name}) and found no change.\n"
        (folder / name).write_text(text, encoding="utf-8")


def _expected(folder: Path, settings: rag.Settings) -> dict[str, set[str]]:
    """source -> chunk ids of the document made from the file as it is now."""
    out = {}
    for path in sorted(folder.glob("*.md")):
        doc = load(path)
        out[doc.source] = {c.chunk_id for c in chunk_document(doc, settings)}
    return out


def _generation(index: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{index / 'catalog.sqlite'}?mode=ro", uri=True, timeout=1)
        try:
            row = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        finally:
            db.close()
        return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0


def _chroma_bytes(index: Path) -> int:
    total = 0
    for root, _, files in os.walk(index / "chroma"):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.stat(os.path.join(root, name)).st_size
    return total


def _ingest_and_kill(folder: Path, index: Path, trigger: str) -> str:
    """Start ``rag ingest`` and SIGKILL it when ``trigger`` fires; returns what happened.

    An ingest that ends before its trigger fires (or a trigger that never fires) fails
    the test: the kill is what is being tested, and a run it never hit proves nothing.
    """
    gen0, bytes0 = _generation(index), _chroma_bytes(index)
    # The ingest runs at the lowest priority: its embedding takes both cores, and a poller
    # starved of CPU slept through all 30 swaps (a fresh-clone run saw generation 0 -> 30).
    proc = subprocess.Popen(
        ["nice", "-n", "19", *RAG, "ingest", str(folder), "--index", str(index)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    t0 = time.monotonic()
    try:
        while proc.poll() is None:
            elapsed = time.monotonic() - t0
            fire = (
                (trigger == "after-1s" and elapsed >= 1.0)
                or (trigger == "chroma-writing" and _chroma_bytes(index) != bytes0)
                or (trigger == "mid-swaps" and _generation(index) >= gen0 + 2)
            )
            if fire:
                proc.kill()  # SIGKILL: no finally blocks, no atexit, no flush
                proc.wait()
                return f"killed at {trigger} after {elapsed:.1f}s (generation {gen0} -> {_generation(index)})"
            if elapsed > 400:
                pytest.fail(f"{trigger} never fired in {elapsed:.0f}s (generation {gen0} -> {_generation(index)})")
            time.sleep(0.003)
        pytest.fail(
            f"the ingest finished (exit {proc.returncode}, generation {gen0} -> {_generation(index)}) "
            f"before the {trigger} kill landed: nothing was interrupted"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _assert_consistent(index: Path, v1: dict[str, set[str]], v2: dict[str, set[str]], *, final: bool) -> dict:
    state = index_state(index)
    catalog_ids = [c for c, _ in state["chunks"]]
    assert len(catalog_ids) == len(set(catalog_ids)), "duplicate chunk ids"
    vectors = set(state["vectors"])
    assert len(vectors) == len(state["vectors"])
    missing = set(catalog_ids) - vectors
    assert not missing, f"{len(missing)} catalog chunks have no vector"
    by_doc: dict[str, set[str]] = {}
    for cid, doc_id in state["chunks"]:
        by_doc.setdefault(doc_id, set()).add(cid)
    versions = {}
    for source, info in state["docs"].items():
        have = by_doc.get(info["doc_id"], set())
        assert len(have) == info["n_chunks"], f"{source}: {len(have)} of {info['n_chunks']} chunks"
        if have == v2.get(source):
            versions[source] = 2
        elif have == v1.get(source):
            versions[source] = 1
        else:
            raise AssertionError(f"{Path(source).name} is neither fully old nor fully new")
    texts = [info["text"] for info in state["docs"].values()]
    assert len(texts) == len(set(texts)), "the same document twice"
    if final:
        assert set(versions) == set(v2) and set(versions.values()) == {2}, versions
        assert vectors == set(catalog_ids), f"{len(vectors - set(catalog_ids))} orphan vectors"
        assert state["bm25"]["generation"] == state["generation"]
        assert sorted(state["bm25"]["ids"]) == sorted(catalog_ids), "BM25 disagrees with the catalog"
    state["versions"] = versions
    return state


def test_sigkill_during_ingest_then_rerun(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder, index = tmp_path / "briefings", tmp_path / "index"
    settings = rag.Settings.from_env(index_dir=str(index))
    _write_corpus(folder, 1)
    v1 = _expected(folder, settings)
    _write_corpus(folder, 2)
    v2 = _expected(folder, settings)
    _write_corpus(folder, 1)
    assert len(v1) == 30

    log = []
    # 1. A fresh ingest killed in the middle of its document swaps.
    log.append(_ingest_and_kill(folder, index, "mid-swaps"))
    state = _assert_consistent(index, v1, v2, final=False)
    log.append(f"  -> {len(state['docs'])} documents, all v1: {set(state['versions'].values()) <= {1}}")
    assert 0 < len(state["docs"]) < len(v1), f"the kill did not land mid-swaps: {log[-2]}"
    # 2-4. Every file changes; killed while vectors are written, mid swaps, and before any write.
    _write_corpus(folder, 2)
    for trigger in ("chroma-writing", "mid-swaps", "after-1s"):
        before = state
        log.append(_ingest_and_kill(folder, index, trigger))
        state = _assert_consistent(index, v1, v2, final=False)
        counts = {v: list(state["versions"].values()).count(v) for v in (1, 2)}
        # Where the kill landed: no swap yet, or some swaps but not all of them.
        if trigger == "mid-swaps":
            assert state["generation"] > before["generation"], f"no swap before the kill: {log[-1]}"
            assert counts[1] or len(state["docs"]) < len(v2), f"the kill landed after the last swap: {log[-1]}"
        else:
            assert state["generation"] == before["generation"], f"{trigger}: documents were swapped: {log[-1]}"
        orphans = len(set(state["vectors"]) - {c for c, _ in state["chunks"]})
        log.append(f"  -> {len(state['docs'])} documents: {counts[1]} old, {counts[2]} new; {orphans} orphan vectors")
    # 5. Run again to the end: it repairs what the kills left and finishes the job.
    t0 = time.monotonic()
    done = run_rag("ingest", str(folder), "--index", str(index))
    log.append(
        f"final run: exit {done.returncode} in {time.monotonic() - t0:.1f}s: {done.stdout.strip().splitlines()[-1]}"
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    _assert_consistent(index, v1, v2, final=True)
    check = run_rag("check", "--index", str(index))
    log.append(check.stdout.strip().replace("\n", " "))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 orphan vectors, 0 missing vectors, 0 chunks with bad offsets, 0 BM25 disagreements" in " ".join(
        check.stdout.split()
    )
    assert "interrupted" not in check.stdout
    with capsys.disabled():  # shown in every run, not only with -s
        print("\n" + "\n".join(log))


def test_check_and_repair_fix_orphans_missing_vectors_and_stale_bm25(tmp_path: Path) -> None:
    index = tmp_path / "index"
    folder = tmp_path / "b"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.md"))[:3]:
        shutil.copy(path, folder / path.name)
    settings = rag.Settings.from_env(index_dir=str(index))
    assert rag.ingest([str(folder)], settings=settings).ok
    idx = rag.get_engine(settings).index
    chunks = idx.catalog.all_chunks()
    # Damage: two orphan vectors, one missing vector, a stale marker, BM25 files of another index.
    collection = idx.vectors.collection
    collection.upsert(ids=["orphan-1", "orphan-2"], embeddings=[[0.1] * idx.embedder.dim] * 2, documents=["x", "y"])
    collection.delete(ids=[chunks[0].chunk_id])
    (index / "ingest.pending").write_text("12345")
    (index / "bm25" / "ids.json").write_text('["not-a-chunk"]')
    idx.lexical.forget()  # as a fresh process would: read the saved files

    report = idx.check()
    assert not report.ok
    assert report.orphan_vectors == ["orphan-1", "orphan-2"]
    assert report.missing_vectors == [chunks[0].chunk_id]
    assert report.interrupted_ingest
    assert report.bm25_mismatch

    cli = run_rag("check", "--index", str(index))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    said = " ".join(cli.stdout.split())
    assert "2 orphan vectors, 1 missing vectors" in said and "interrupted" in said and "--repair" in said

    repaired = run_rag("check", "--repair", "--index", str(index))
    assert repaired.returncode == 0 and "repaired" in repaired.stdout, repaired.stdout + repaired.stderr
    state = index_state(index)
    ids = sorted(c for c, _ in state["chunks"])
    assert sorted(state["vectors"]) == ids
    assert sorted(state["bm25"]["ids"]) == ids
    assert not (index / "ingest.pending").exists()
    idx.lexical.forget()
    assert idx.check().ok


def test_index_state_surfaces_a_chroma_read_failure(tmp_path: Path) -> None:
    """The consistency checks above read Chroma through index_state: a Chroma that cannot
    be read must fail them, not pass as an index with no vectors."""
    folder, index = tmp_path / "b", tmp_path / "index"
    folder.mkdir()
    shutil.copy(sorted(CORPUS.glob("*.md"))[0], folder)
    assert rag.ingest([str(folder)], settings=rag.Settings.from_env(index_dir=str(index))).ok
    state = index_state(index)
    assert state["vectors"] and sorted(state["vectors"]) == sorted(c for c, _ in state["chunks"])
    db = sqlite3.connect(index / "chroma" / "chroma.sqlite3")
    db.execute("DROP TABLE embeddings")  # the collection is listed, its vectors cannot be read
    db.commit()
    db.close()
    with pytest.raises(AssertionError, match="no such table: embeddings"):
        index_state(index)
    # An index killed before Chroma made its collection is the one case of "no vectors".
    empty = tmp_path / "empty"
    (empty / "chroma").mkdir(parents=True)
    sqlite3.connect(empty / "catalog.sqlite").executescript(
        "CREATE TABLE documents(doc_id, source, n_chunks, text); CREATE TABLE chunks(chunk_id, doc_id);"
        "CREATE TABLE meta(key, value);"
    )
    assert index_state(empty)["vectors"] == []
