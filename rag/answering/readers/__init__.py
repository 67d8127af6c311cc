"""Readers: score how well a unit answers a question, behind one small ABC.

A reader returns a calibrated probability per (question, unit): the chance
that the unit states what is asked. One file per backend, named in
``READERS``; ``Settings.reader`` picks one ("none" answers without one, on
the evidence score alone).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from ...config import Settings


class ReaderError(RuntimeError):
    """The reader cannot be loaded (missing or altered weights)."""


class Reader(ABC):
    name: str
    #: the confidence below which an answer is refused, chosen on the reader's validation part
    threshold: float
    #: what identifies the weights (a confidence model fitted on them names it)
    sha256: str = ""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Reader: ...

    @abstractmethod
    def probabilities(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """P(text answers question) for each text, calibrated."""


READERS = {"minilm": "rag.answering.readers.minilm:MiniLMReader"}

_LOADED: dict[tuple[str, str], Reader] = {}
_LOCK = threading.Lock()


def get_reader(settings: Settings) -> Reader | None:
    """The configured reader, loaded once per process; None for ``reader="none"``."""
    name = settings.reader.strip().lower()
    if name in ("", "none"):
        return None
    if name not in READERS:
        raise ValueError(f"RAG_READER={settings.reader!r}: choose one of {', '.join([*READERS, 'none'])}")
    key = (name, settings.reader_weights)
    with _LOCK:
        if key not in _LOADED:
            import importlib

            module, cls = READERS[name].split(":")
            _LOADED[key] = getattr(importlib.import_module(module), cls).from_settings(settings)
        return _LOADED[key]
