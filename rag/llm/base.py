"""The small interface every backend implements; ``rag.llm.get_backend`` builds them."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

from ..config import Settings

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


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
            except Exception as exc:  # any failure is reported, never raised raw
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
        except Exception as exc:  # callers handle LLMError only: a raw library error would escape them
            raise LLMError(f"the {self.name} backend failed while answering: {type(exc).__name__}: {exc}") from exc

    def complete(self, messages: list[Message]) -> str:
        return "".join(self.stream(messages))
