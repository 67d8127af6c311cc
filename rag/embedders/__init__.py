"""Sentence embedders behind one small interface, one file per backend.

A backend is one module with an ``Embedder`` subclass plus one row in
``BACKENDS``. The rows are strings, imported on first use, so choosing one
backend never loads another's libraries (torch, onnxruntime).
"""

from __future__ import annotations

import pkgutil
from functools import lru_cache

from ..config import Settings
from .base import Embedder, model_path

__all__ = ["BACKENDS", "Embedder", "get_embedder", "model_path"]

#: ``RAG_EMBED_BACKEND`` value -> "module:Class" (``pkgutil.resolve_name`` syntax)
BACKENDS: dict[str, str] = {
    "torch": "rag.embedders.torch_backend:TorchEmbedder",
    "onnx-int8": "rag.embedders.onnx_int8:OnnxInt8Embedder",
}


@lru_cache(maxsize=4)
def _cached(backend: str, models_dir: str) -> Embedder:
    spec = BACKENDS.get(backend)
    if spec is None:
        known = " or ".join(repr(name) for name in BACKENDS)
        raise ValueError(f"RAG_EMBED_BACKEND={backend!r}: choose {known}")
    return pkgutil.resolve_name(spec).for_index(models_dir)


def get_embedder(settings: Settings) -> Embedder:
    """One loaded model per backend per process: loading MiniLM takes seconds.

    A built model (onnx-int8) lives in ``<index>/models``: the exact file that
    embedded an index's vectors travels with it (copy the folder, the queries
    still match), and deleting the index deletes it. A second, machine-wide
    copy under ``RAG_CACHE_DIR/models`` seeds each new index, so the ~30 s
    export-and-verify runs once per machine, not once per index.
    """
    return _cached(settings.embed_backend, str(settings.index_path / "models"))
