"""An Ollama server through langchain-ollama's ``ChatOllama``.

``RAG_LLM_URL`` defaults to Ollama's own address, ``http://127.0.0.1:11434``;
``RAG_LLM_MODEL`` must name a model the server has pulled.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

from .base import LLMBackend, LLMError, Message
from .messages import to_langchain

DEFAULT_URL = "http://127.0.0.1:11434"


class OllamaBackend(LLMBackend):
    name = "ollama"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.url = (settings.llm_url or DEFAULT_URL).rstrip("/")

    def describe(self, exc: Exception) -> str:
        import httpx
        import ollama

        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404:
                return f"the Ollama server at {self.url} has no model {self.model!r} (run `ollama pull {self.model}`)"
            return f"the Ollama server at {self.url} answered HTTP {exc.status_code}: {exc.error[:200]}"
        if isinstance(exc, httpx.TimeoutException):
            return f"the Ollama server at {self.url} did not answer in time"
        if isinstance(exc, (httpx.TransportError, ConnectionError)):
            return f"the Ollama server at {self.url} cannot be reached ({exc})"
        return f"the Ollama server at {self.url} failed: {type(exc).__name__}: {str(exc)[:200]}"

    @cached_property
    def chat(self):
        from langchain_ollama import ChatOllama

        return ChatOllama(
            model=self.model,
            base_url=self.url,
            temperature=self.settings.llm_temperature,
            num_predict=self.settings.llm_max_tokens,
            client_kwargs={"timeout": self.settings.llm_timeout},
        )

    def _check(self) -> None:
        if not self.model:
            raise LLMError("RAG_LLM=ollama needs RAG_LLM_MODEL (a model the server has pulled, e.g. llama3.2)")
        import ollama

        try:
            listed = ollama.Client(host=self.url, timeout=self.settings.llm_timeout).list()
        except Exception as exc:  # whatever ollama/httpx raise becomes a sentence, see describe
            raise LLMError(self.describe(exc)) from exc
        names = {m.model for m in listed.models if m.model}
        if self.model not in names and f"{self.model}:latest" not in names:
            offered = ", ".join(sorted(names)[:5]) or "none"
            raise LLMError(
                f"the Ollama server at {self.url} has no model {self.model!r} (it has: {offered}); "
                f"run `ollama pull {self.model}`"
            )

    def _stream(self, messages: list[Message]) -> Iterator[str]:
        try:
            for chunk in self.chat.stream(to_langchain(messages)):
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except Exception as exc:  # whatever ollama/httpx raise becomes a sentence, see describe
            raise LLMError(self.describe(exc)) from exc
