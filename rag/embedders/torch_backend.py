"""all-MiniLM-L6-v2 through sentence-transformers on PyTorch (CPU)."""

from __future__ import annotations

import numpy as np

from .base import Embedder, model_path


class TorchEmbedder(Embedder):
    name = "all-MiniLM-L6-v2/torch"

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        self.model = SentenceTransformer(model_path(), device="cpu")
        self.dim = self.model.get_embedding_dimension() or 384

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=len(texts), normalize_embeddings=True, convert_to_numpy=True)
