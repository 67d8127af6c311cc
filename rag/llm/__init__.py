"""Generative answering through an LLM backend, with citations enforced.

``RAG_LLM`` picks the backend: ``extractive`` (default, no model), ``openai``
(any OpenAI-compatible server: vLLM, llama.cpp's server, LM Studio, a hosted
API), ``ollama``, or ``llamacpp`` (in process, ``pip install -e .[local]``).
Only the *compose* step of the chain changes; whatever a model writes is
checked sentence by sentence against the passages it cites (``generative``).

A backend is one module with an ``LLMBackend`` subclass plus one row in
``BACKENDS``. The rows are strings, imported on first use: a backend's client
library (langchain-openai, ollama, llama-cpp-python) is loaded only when it is
chosen, and no backend module is imported by this package at import time.
"""

from __future__ import annotations

import pkgutil
import threading

from ..config import Settings
from .base import LLMBackend, LLMError

__all__ = ["BACKENDS", "LLMBackend", "LLMError", "backend_class", "get_backend"]

#: ``RAG_LLM`` value -> "module:Class" (``pkgutil.resolve_name`` syntax)
BACKENDS: dict[str, str] = {
    "openai": "rag.llm.openai_backend:OpenAIBackend",
    "ollama": "rag.llm.ollama_backend:OllamaBackend",
    "llamacpp": "rag.llm.llamacpp_backend:LlamaCppBackend",
}

_MADE: dict[Settings, LLMBackend] = {}
_LOCK = threading.Lock()


def backend_class(name: str) -> type[LLMBackend]:
    """The class registered for ``RAG_LLM=name`` (case and spaces ignored), imported now."""
    spec = BACKENDS.get(name.strip().lower())
    if spec is None:
        raise LLMError(f"RAG_LLM={name!r} is not a backend; use extractive, {', '.join(BACKENDS)}")
    return pkgutil.resolve_name(spec)


def get_backend(settings: Settings) -> LLMBackend:
    """One backend object per settings per process (its check result is kept)."""
    with _LOCK:
        backend = _MADE.get(settings)
        if backend is None:
            backend = _MADE[settings] = backend_class(settings.llm)(settings)
        return backend
