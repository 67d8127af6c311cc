"""Any OpenAI-compatible chat server through langchain-openai's ``ChatOpenAI``.

vLLM, llama.cpp's ``llama-server`` / ``python -m llama_cpp.server``, LM Studio
and hosted APIs all speak ``/v1/chat/completions``; ``RAG_LLM_URL`` is the base
URL ending in ``/v1``. No default URL: without one nothing is contacted.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

from .base import LLMBackend, LLMError, Message
from .messages import to_langchain


def describe(exc: Exception, url: str, model: str) -> str:
    """A sentence a user can act on, from an openai/httpx exception."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"the LLM server at {url} did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return f"the LLM server at {url} cannot be reached ({exc.__cause__ or exc})"
    if isinstance(exc, openai.NotFoundError):
        return f"the LLM server at {url} does not know model {model!r} (or has no /chat/completions)"
    if isinstance(exc, openai.AuthenticationError):
        return f"the LLM server at {url} refused the key (set RAG_LLM_KEY)"
    if isinstance(exc, openai.APIStatusError):
        return f"the LLM server at {url} answered HTTP {exc.status_code}: {str(exc)[:200]}"
    return f"the LLM server at {url} failed: {type(exc).__name__}: {str(exc)[:200]}"


class OpenAIBackend(LLMBackend):
    name = "openai"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.url = settings.llm_url.rstrip("/")
        self._model = settings.llm_model

    @property
    def model(self) -> str:
        return self._model

    def _client_kwargs(self) -> dict:
        return {
            "base_url": self.url,
            "api_key": self.settings.llm_key or "not-needed",
            "timeout": self.settings.llm_timeout,
            "max_retries": 0,  # fail fast: the extractive answer is the fallback
        }

    @cached_property
    def chat(self):
        from langchain_openai import ChatOpenAI

        n = self.settings.llm_max_tokens
        kwargs = self._client_kwargs()
        return ChatOpenAI(
            model=self._model,
            temperature=self.settings.llm_temperature,
            max_tokens=n,  # sent as max_completion_tokens
            extra_body={"max_tokens": n},  # what older servers (llama.cpp) read
            **kwargs,
        )

    def _check(self) -> None:
        if not self.url:
            raise LLMError("RAG_LLM=openai needs RAG_LLM_URL (the server's base URL, e.g. http://127.0.0.1:8080/v1)")
        import openai

        client = openai.OpenAI(**self._client_kwargs())
        try:
            ids = [m.id for m in client.models.list()]
        except Exception as exc:  # whatever openai/httpx raise becomes a sentence, see describe
            raise LLMError(describe(exc, self.url, self._model)) from exc
        if not self._model:
            if not ids:
                raise LLMError(f"the LLM server at {self.url} lists no model; set RAG_LLM_MODEL")
            self._model = ids[0]
            self.__dict__.pop("chat", None)
        elif ids and self._model not in ids:
            raise LLMError(
                f"the LLM server at {self.url} does not serve model {self._model!r}; it offers {', '.join(ids[:5])}"
            )

    def _stream(self, messages: list[Message]) -> Iterator[str]:
        try:
            for chunk in self.chat.stream(to_langchain(messages)):
                if isinstance(chunk.content, str) and chunk.content:
                    yield chunk.content
        except Exception as exc:  # whatever openai/httpx raise becomes a sentence, see describe
            raise LLMError(describe(exc, self.url, self._model)) from exc
