"""Every embedder and every LLM backend through the same assertions.

The cases are keyed by registry name (``rag.embedders.BACKENDS``,
``rag.llm.BACKENDS``): a backend added to a table without a case here fails
``test_every_registered_llm_backend_has_contract_cases``. Embedders run always.
The scripted LLM backend and Ollama (its real client stack against the
recorded-format replay server of test_llm_ollama.py) run always; ``openai``
against llama.cpp's server and ``llamacpp`` in process are slow and need
``make llm-server``, with test_llm_server.py's guard: skipped without it, a
failure when RAG_REQUIRE_LLM_SERVER=1 or CI is set. The failure cases contact
nothing that answers, so they run always and fast.
"""

from __future__ import annotations

import pkgutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import rag
from rag import embedders, llm
from rag.embedders import Embedder, get_embedder
from rag.llm import LLMBackend, LLMError, backend_class, get_backend
from rag.llm.server import free_port
from tests.test_llm import Scripted
from tests.test_llm_ollama import (
    CHAT_PIECES,
    replay,  # noqa: F401 - a fixture: pytest finds it by name in this module
)
from tests.test_llm_server import (
    llama_server,  # noqa: F401 - a fixture, as above
    require_llama_cpp,
)

# -- embedders ----------------------------------------------------------------------
TEXTS = [
    "Chinese and Russian bombers flew a joint patrol over the Sea of Japan and the East China Sea.",
    "Who joined the patrol and where?",
    "ceasefire",
    "Stir the flour into the butter and bake the cake for forty minutes.",
]


@pytest.fixture(scope="module", params=sorted(embedders.BACKENDS))
def embedder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    # a fresh index folder: onnx-int8 is seeded from the machine-wide build (or builds once, ~30 s)
    index_dir = tmp_path_factory.mktemp(f"contract-{request.param}")
    return get_embedder(rag.Settings(index_dir=str(index_dir), embed_backend=request.param))


def test_embedder_gives_normalised_float32_rows_of_its_dimension(embedder: Embedder) -> None:
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_embedder_is_deterministic_and_its_langchain_face_agrees(embedder: Embedder) -> None:
    vectors = embedder.encode(TEXTS)
    assert np.array_equal(embedder.encode(TEXTS), vectors)
    assert np.array_equal(np.asarray(embedder.embed_documents(TEXTS), dtype=np.float32), vectors)
    assert np.array_equal(np.asarray(embedder.embed_query(TEXTS[1]), dtype=np.float32), embedder.encode(TEXTS[1:2])[0])


def test_embedder_of_nothing_is_an_empty_matrix(embedder: Embedder) -> None:
    assert embedder.encode([]).shape == (0, embedder.dim)
    assert embedder.embed_documents([]) == []


def test_embedder_puts_a_question_nearer_its_answer_than_a_recipe(embedder: Embedder) -> None:
    patrol, question, _, recipe = embedder.encode(TEXTS)
    assert question @ patrol > question @ recipe + 0.1


def test_embedder_registry_rows_resolve_to_distinctly_named_embedders() -> None:
    classes = [pkgutil.resolve_name(spec) for spec in embedders.BACKENDS.values()]
    assert all(issubclass(cls, Embedder) for cls in classes)
    assert len({cls.name for cls in classes}) == len(classes)  # the index tells their vectors apart by name


def test_unknown_embedder_name_lists_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="word2vec") as raised:
        get_embedder(rag.Settings(index_dir=str(tmp_path), embed_backend="word2vec"))
    assert all(repr(name) in str(raised.value) for name in embedders.BACKENDS)


# -- LLM backends ---------------------------------------------------------------------
# every role, so each backend's message conversion is exercised
MESSAGES = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "Which countries flew the joint air patrol?"},
    {"role": "assistant", "content": "China and Russia."},
    {"role": "user", "content": "How long did it last?"},
]
REPLY = "The whole mission lasted about eight hours [1]."
MAX_TOKENS = 16  # a 135M model on two shared cores: a few pieces are enough


class RawFailure(Scripted):
    """Fails the way a client library does: a raw exception, halfway through the reply."""

    def _stream(self, messages):
        yield from super()._stream(messages)
        raise ConnectionResetError("peer went away")


# name -> build(request) -> (backend, its reply when known in advance, else None).
# A real model's reply is not known, and greedy decoding is not guaranteed to
# repeat across calls (llama.cpp reuses the cached prompt), so those cases only
# check that text streams.
Working = Callable[[pytest.FixtureRequest], tuple[LLMBackend, str | None]]


def _scripted(request: pytest.FixtureRequest) -> tuple[LLMBackend, str | None]:
    return Scripted(rag.Settings(), REPLY), REPLY


def _ollama(request: pytest.FixtureRequest) -> tuple[LLMBackend, str | None]:
    url = request.getfixturevalue("replay")
    settings = rag.Settings(llm="ollama", llm_url=url, llm_model="llama3.2", llm_timeout=5.0)
    return get_backend(settings), "".join(CHAT_PIECES)


def _openai(request: pytest.FixtureRequest) -> tuple[LLMBackend, str | None]:
    _, url = request.getfixturevalue("llama_server")
    settings = rag.Settings(llm="openai", llm_url=url, llm_max_tokens=MAX_TOKENS, llm_timeout=300.0)
    return get_backend(settings), None


def _llamacpp(request: pytest.FixtureRequest) -> tuple[LLMBackend, str | None]:
    require_llama_cpp()
    return get_backend(rag.Settings(llm="llamacpp", llm_max_tokens=MAX_TOKENS)), None


WORKING: dict[str, Working] = {"scripted": _scripted, "ollama": _ollama, "openai": _openai, "llamacpp": _llamacpp}
SLOW = {"openai", "llamacpp"}  # a real model answers


def _closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


# name -> (build() -> a backend that cannot answer, what its LLMError says)
BROKEN: dict[str, tuple[Callable[[], LLMBackend], str]] = {
    "scripted": (
        lambda: RawFailure(rag.Settings(), REPLY),
        "scripted backend failed while answering: ConnectionResetError",
    ),
    "ollama": (
        lambda: get_backend(rag.Settings(llm="ollama", llm_url=_closed_url(), llm_model="llama3.2", llm_timeout=5.0)),
        "cannot be reached",
    ),
    "openai": (
        lambda: get_backend(rag.Settings(llm="openai", llm_url=f"{_closed_url()}/v1", llm_timeout=5.0)),
        "cannot be reached",
    ),
    "llamacpp": (
        lambda: get_backend(rag.Settings(llm="llamacpp", llm_path="/nonexistent/model.gguf")),
        "llama-cpp-python|is not a file",  # whichever is missing first
    ),
}


@pytest.fixture(
    params=[pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name for name in sorted(WORKING)]
)
def working(request: pytest.FixtureRequest) -> tuple[LLMBackend, str | None]:
    return WORKING[request.param](request)


@pytest.fixture(params=sorted(BROKEN))
def broken(request: pytest.FixtureRequest) -> tuple[LLMBackend, str]:
    build, says = BROKEN[request.param]
    return build(), says


def test_chat_call_returns_text(working: tuple[LLMBackend, str | None]) -> None:
    backend, reply = working
    text = backend.complete(MESSAGES)
    assert isinstance(text, str) and text.strip(), text
    if reply is not None:
        assert text == reply


def test_streaming_yields_pieces_that_join_to_the_reply(working: tuple[LLMBackend, str | None]) -> None:
    backend, reply = working
    pieces = list(backend.stream(MESSAGES))
    assert len(pieces) > 1 and all(isinstance(p, str) and p for p in pieces), pieces
    if reply is not None:
        assert "".join(pieces) == reply


def test_failures_surface_as_llm_error(broken: tuple[LLMBackend, str]) -> None:
    backend, says = broken
    with pytest.raises(LLMError, match=says):
        list(backend.stream(MESSAGES))
    with pytest.raises(LLMError, match=says):  # the one-shot call fails the same way
        backend.complete(MESSAGES)


def test_every_registered_llm_backend_has_contract_cases() -> None:
    assert set(llm.BACKENDS) <= set(WORKING) & set(BROKEN)


def test_llm_registry_rows_resolve_to_backends_named_as_registered() -> None:
    for name in llm.BACKENDS:
        cls = backend_class(f" {name.upper()} ")  # RAG_LLM is read case- and space-insensitively
        assert issubclass(cls, LLMBackend) and cls.name == name


def test_unknown_llm_backend_name_lists_the_known_ones() -> None:
    with pytest.raises(LLMError, match="'gpt9' is not a backend") as raised:
        get_backend(rag.Settings(llm="gpt9"))
    assert all(name in str(raised.value) for name in ["extractive", *llm.BACKENDS])
