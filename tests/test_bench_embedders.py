"""The onnx-int8 embedder: built from the shipped weights, verified against
torch, checksummed, cached beside the index; and an index refuses to mix
vectors of two backends."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import rag
from rag.embedders import get_embedder, onnx_int8
from rag.index import Index

from .conftest import CORPUS


@pytest.fixture(scope="module")
def onnx_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    index_dir = tmp_path_factory.mktemp("onnx-index")
    return rag.Settings.from_env(index_dir=str(index_dir), embed_backend="onnx-int8")


@pytest.fixture(scope="module")
def onnx(onnx_settings: rag.Settings) -> onnx_int8.OnnxInt8Embedder:
    return get_embedder(onnx_settings)


def test_built_beside_the_index_with_a_checksum(onnx, onnx_settings):
    folder = onnx_settings.index_path / "models" / onnx_int8.BUILD_NAME
    assert onnx.folder == folder
    record = json.loads((folder / "build.json").read_text())
    assert record["sha256"] == onnx_int8.sha256_file(folder / "model.onnx")
    assert record["mean_cosine"] >= onnx_int8.MIN_COSINE
    assert onnx_int8.valid_build(folder) == record


def test_agrees_with_torch_and_is_normalised(onnx, onnx_settings):
    torch = get_embedder(onnx_settings.with_(embed_backend="torch"))
    texts = [p.read_text()[:1500] for p in sorted(CORPUS.glob("*.md"))[:6]] + ["Who joined the patrol?"]
    a, b = onnx.encode(texts), torch.encode(texts)
    assert a.shape == b.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert float((a * b).sum(axis=1).mean()) >= 0.98
    # Dynamic int8 quantises activations with one scale per tensor, so a
    # text's vector depends a little on its batch (padding included): alone
    # vs in a mixed-length batch they agree to cosine ~0.99, not exactly.
    assert float(onnx.encode(texts[-1:])[0] @ a[-1]) >= 0.98
    assert np.array_equal(onnx.encode(texts), a)  # but the same batch gives the same vectors


def test_a_tampered_model_is_not_trusted(onnx, tmp_path):
    copy = tmp_path / onnx_int8.BUILD_NAME
    shutil.copytree(onnx.folder, copy)
    assert onnx_int8.valid_build(copy)
    with open(copy / "model.onnx", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02\x03")
    assert onnx_int8.valid_build(copy) is None  # ensure_built would rebuild it


def test_a_build_that_disagrees_with_torch_is_refused(onnx, tmp_path, monkeypatch):
    tmp = tmp_path / "candidate"
    shutil.copytree(onnx.folder, tmp)
    (tmp / "build.json").unlink()
    monkeypatch.setattr(onnx_int8, "verify", lambda folder: 0.9)
    target = tmp_path / "published"
    with pytest.raises(RuntimeError, match="refusing"):
        onnx_int8.publish(tmp, target)
    assert not target.exists()


def test_a_new_index_is_seeded_from_the_machine_cache(onnx, tmp_path):
    shared = tmp_path / "shared" / onnx_int8.BUILD_NAME
    onnx_int8.copy_build(onnx.folder, shared)
    fresh = tmp_path / "index" / "models" / onnx_int8.BUILD_NAME
    record = onnx_int8.ensure_built(fresh, shared)  # would take ~30 s if it built
    assert record["sha256"] == onnx.record["sha256"]
    assert (fresh / "model.onnx").exists()


def test_an_index_refuses_vectors_of_another_backend(onnx_settings, tmp_path):
    files = sorted(CORPUS.glob("*.md"))[:2]
    settings = onnx_settings.with_(index_dir=str(tmp_path / "idx"))
    report = rag.ingest([str(f) for f in files], settings=settings)
    assert report.ok
    index = Index(settings)
    assert index.vectors.collection.metadata["embedder"] == "all-MiniLM-L6-v2/onnx-int8"
    with pytest.raises(RuntimeError, match="built with all-MiniLM-L6-v2/onnx-int8"):
        _ = Index(settings.with_(embed_backend="torch")).vectors  # opening the store is what refuses


def test_ingest_pipeline_surfaces_a_writer_failure(onnx_settings, tmp_path, monkeypatch):
    settings = onnx_settings.with_(index_dir=str(tmp_path / "idx"))
    index = Index(settings)

    def boom(items):
        raise OSError("disk full")

    monkeypatch.setattr(index, "put_many", boom)
    from rag.ingest import ingest

    with pytest.raises(OSError, match="disk full"):
        ingest([str(CORPUS)], index, batch_chunks=16)
    assert index.catalog.chunk_ids() == [] and index.check().ok  # nothing half-written


def test_ingest_pipeline_writes_every_document_once(onnx_settings, tmp_path):
    settings = onnx_settings.with_(index_dir=str(tmp_path / "idx"))
    index = Index(settings)
    from rag.ingest import ingest

    report = ingest([str(CORPUS)], index, batch_chunks=32)  # many batches in flight
    assert report.ok
    added = [f for f in report.files if f.status == "added"]
    assert len(added) == len([p for p in CORPUS.iterdir() if p.suffix in {".md", ".txt"}])
    n = sum(f.chunks for f in added)
    assert index.vectors.count() == n == len(index.catalog.chunk_ids())
    assert index.check().ok
