"""The ollama backend's requests and its handling of responses.

No Ollama server can be installed on this machine (not in Debian, not on
PyPI), so these tests run the real client stack (langchain-ollama -> ollama
-> httpx) against a loopback HTTP server that replays RECORDED-FORMAT
responses: NDJSON written by hand after Ollama's API documentation
(GET /api/tags, streaming POST /api/chat, the 404 error body), NOT captured
from a live Ollama. They check what we send and how we read the replies; they
do not prove compatibility with any particular Ollama version.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import rag
from rag.llm import LLMError
from rag.llm.ollama_backend import OllamaBackend

# -- recorded-format responses (hand-written after the Ollama API docs) ----------------
TAGS = {
    "models": [
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "modified_at": "2024-11-01T10:00:00.000000000Z",
            "size": 2019393189,
            "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72",
            "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B", "quantization_level": "Q4_K_M"},
        }
    ]
}
CHAT_PIECES = ["The whole mission", " lasted about", " eight hours [1]."]


def chat_stream(model: str) -> bytes:
    lines = [
        {
            "model": model,
            "created_at": "2024-11-01T10:00:01Z",
            "message": {"role": "assistant", "content": p},
            "done": False,
        }
        for p in CHAT_PIECES
    ]
    lines.append(
        {
            "model": model,
            "created_at": "2024-11-01T10:00:02Z",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "total_duration": 812345678,
            "load_duration": 1234567,
            "prompt_eval_count": 412,
            "prompt_eval_duration": 300000000,
            "eval_count": 14,
            "eval_duration": 500000000,
        }
    )
    return b"".join(json.dumps(x).encode() + b"\n" for x in lines)


NOT_FOUND = {"error": 'model "mistral" not found, try pulling it first'}


class Replay(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, dict]] = []

    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Replay.requests.append(("GET", self.path, {}))
        if self.path == "/api/tags":
            self._send(200, json.dumps(TAGS).encode())
        else:
            self._send(404, b"404 page not found", "text/plain")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        Replay.requests.append(("POST", self.path, body))
        if self.path != "/api/chat":
            self._send(404, b"404 page not found", "text/plain")
        elif body.get("model", "").split(":")[0] != "llama3.2":
            self._send(404, json.dumps(NOT_FOUND).encode())
        else:
            self._send(200, chat_stream(body["model"]), "application/x-ndjson")


@pytest.fixture(scope="module")
def small_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    """An index of the first three sample briefings (the patrol briefing among them)."""
    from tests.test_llm import _index

    return _index(tmp_path_factory, "small", None)


@pytest.fixture
def replay():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    Replay.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def backend(url: str, model: str = "llama3.2") -> OllamaBackend:
    return OllamaBackend(rag.Settings(llm="ollama", llm_url=url, llm_model=model, llm_max_tokens=123, llm_timeout=5))


def test_streaming_chat_request_and_reply(replay: str) -> None:
    b = backend(replay)
    pieces = list(b.stream([{"role": "system", "content": "rules"}, {"role": "user", "content": "question"}]))
    assert "".join(pieces) == "".join(CHAT_PIECES) and len(pieces) == 3
    ((_, path, body),) = [r for r in Replay.requests if r[0] == "POST"]
    assert path == "/api/chat" and body["model"] == "llama3.2" and body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["options"]["num_predict"] == 123 and body["options"]["temperature"] == 0.0
    assert ("GET", "/api/tags", {}) in Replay.requests  # the startup check, once
    list(b.stream([{"role": "user", "content": "again"}]))
    assert sum(1 for r in Replay.requests if r[1] == "/api/tags") == 1


def test_unknown_model_is_named_in_the_error(replay: str) -> None:
    with pytest.raises(LLMError, match=r"no model 'mistral'.*ollama pull mistral"):
        backend(replay, "mistral").check()


def test_model_missing_at_chat_time_gives_clear_error(replay: str, monkeypatch: pytest.MonkeyPatch) -> None:
    b = backend(replay, "mistral")
    monkeypatch.setattr(b, "_check", lambda: None)  # the tags list said yes, then the model went away
    with pytest.raises(LLMError, match="ollama pull mistral"):
        list(b.stream([{"role": "user", "content": "q"}]))


def test_model_is_required() -> None:
    with pytest.raises(LLMError, match="RAG_LLM_MODEL"):
        backend("http://127.0.0.1:1", model="").check()


def test_engine_with_ollama_backend_end_to_end(replay: str, small_settings: rag.Settings) -> None:
    settings = small_settings.with_(
        llm="ollama", llm_url=replay, llm_model="llama3.2", refuse_below=-1.0, min_confidence=0.0
    )
    answer = rag.ask("How long did the China-Russia joint air patrol last?", settings=settings)
    assert answer.backend == "ollama:llama3.2" and answer.text.startswith("The whole mission lasted about eight hours.")
    doc = rag.get_engine(settings).index.catalog.document(answer.citations[0].doc_id)
    assert doc.text[answer.citations[0].start : answer.citations[0].end] == answer.citations[0].quote
