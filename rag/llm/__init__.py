"""Generative answering through an LLM backend, with citations enforced.

``RAG_LLM`` picks the backend: ``extractive`` (default, no model), ``openai``
(any OpenAI-compatible server: vLLM, llama.cpp's server, LM Studio, a hosted
API), ``ollama``, or ``llamacpp`` (in process, ``pip install -e .[local]``).
Only the *compose* step of the chain changes; whatever a model writes is
checked sentence by sentence against the passages it cites (``generative``).
"""

from __future__ import annotations

from .base import LLMBackend, LLMError, get_backend

__all__ = ["LLMBackend", "LLMError", "get_backend"]
