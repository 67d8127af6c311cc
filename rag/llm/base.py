"""The small interface every backend implements, and the factory."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

from ..config import Settings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

BACKENDS = ("openai", "ollama", "llamacpp")


class LLMError(RuntimeError):
    """A backend could not answer. The message is shown to the user as a note."""


class LLMBackend(ABC):
    name = "llm"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._checked_at = 0.0
        self._problem: str | None = None
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        """What ``Answer.backend`` says, e.g. ``openai:smollm2``."""
        return f"{self.name}:{self.model}" if self.model else self.name

    @property
    def model(self) -> str:
        return self.settings.llm_model

    @abstractmethod
    def _check(self) -> None:
        """Raise ``LLMError`` saying plainly what is wrong (unreachable, unknown model, missing file)."""

    @abstractmethod
    def _stream(self, messages: list[Message]) -> Iterator[str]:
        """Yield the reply's text in pieces; raise ``LLMError`` on any failure."""

    def check(self, *, recheck_after: float = 30.0) -> None:
        """Check the backend once; a failed check is retried at most every ``recheck_after`` s."""
        with self._lock:
            now = time.monotonic()
            if self._checked_at and (self._problem is None or now - self._checked_at < recheck_after):
                if self._problem:
                    raise LLMError(self._problem)
                return
            try:
                self._check()
                self._problem = None
            except LLMError as exc:
                self._problem = str(exc)
            except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised raw
                self._problem = f"{self.name} backend check failed: {type(exc).__name__}: {exc}"
            self._checked_at = now
            if self._problem:
                raise LLMError(self._problem)

    def stream(self, messages: list[Message]) -> Iterator[str]:
        self.check()
        try:
            yield from self._stream(messages)
        except LLMError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise LLMError(f"the {self.name} backend failed while answering: {type(exc).__name__}: {exc}") from exc

    def complete(self, messages: list[Message]) -> str:
        return "".join(self.stream(messages))


_BACKENDS: dict[Settings, LLMBackend] = {}
_LOCK = threading.Lock()


def get_backend(settings: Settings) -> LLMBackend:
    """One backend object per settings per process (its check result is kept)."""
    name = settings.llm.strip().lower()
    with _LOCK:
        backend = _BACKENDS.get(settings)
        if backend is not None:
            return backend
        if name == "openai":
            from .openai_backend import OpenAIBackend as cls
        elif name == "ollama":
            from .ollama_backend import OllamaBackend as cls
        elif name == "llamacpp":
            from .llamacpp_backend import LlamaCppBackend as cls
        else:
            raise LLMError(f"RAG_LLM={settings.llm!r} is not a backend; use extractive, {', '.join(BACKENDS)}")
        backend = _BACKENDS[settings] = cls(settings)
        return backend
