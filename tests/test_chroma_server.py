"""Chroma server mode against a real ``chroma run`` on a free loopback port.

Ingest a few briefings into the server, ask, restart the server, ask again:
the answer must be the same each time, and the same as in embedded mode.
BM25 and the catalog stay local; a missing or stale BM25 is rebuilt from the
catalog.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import rag
from rag.engine import Engine
from rag.llm.server import free_port

from .conftest import CORPUS, PATROL

pytestmark = pytest.mark.slow

CHROMA = Path(sys.executable).with_name("chroma")
FILES = [
    "01-china-russia-joint-air-patrol.md",
    "02-china-russia-sea-of-japan-patrol-2019.md",
    "20-svalbard-undersea-cable-damage.md",
    "15-nigeria-attack-helicopter-deliveries.md",
]
QUESTIONS = [PATROL, "What happened to the Svalbard cable?", "How many attack helicopters did Nigeria receive?"]


class ChromaServer:
    def __init__(self, path: Path, port: int, log: Path) -> None:
        self.path, self.port, self.log = path, port, log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> None:
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma run exited with {self.proc.returncode}:\n{self.log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"chroma run did not answer on {self.url} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture
def server(tmp_path: Path):
    if not CHROMA.exists():
        pytest.skip(f"no chroma CLI at {CHROMA}")
    srv = ChromaServer(tmp_path / "chroma-server", free_port(), tmp_path / "chroma.log")
    srv.start()
    yield srv
    srv.stop()


def _briefings(tmp_path: Path) -> Path:
    folder = tmp_path / "briefings"
    folder.mkdir()
    for name in FILES:
        shutil.copy(CORPUS / name, folder / name)
    return folder


def _key(answer: rag.Answer) -> tuple:
    return answer.text, answer.refused, [(c.source, c.start, c.end) for c in answer.citations]


def test_server_mode_answers_like_embedded_mode_and_survives_a_restart(server: ChromaServer, tmp_path: Path):
    folder = _briefings(tmp_path)
    embedded = Engine(rag.Settings.from_env(index_dir=str(tmp_path / "embedded")))
    assert embedded.ingest([str(folder)]).ok
    expected = [_key(embedded.ask(q)) for q in QUESTIONS]
    assert not expected[0][1], "the patrol question must be answerable from these briefings"

    settings = rag.Settings.from_env(index_dir=str(tmp_path / "local"), chroma_url=server.url)
    engine = Engine(settings)
    report = engine.ingest([str(folder)])
    assert report.ok and report.counts()["added"] == len(FILES)
    assert not (settings.index_path / "chroma").exists(), "vectors must go to the server, not a local Chroma"
    n = len(engine.index.catalog.chunk_ids())
    assert engine.index.vectors.count() == n
    assert [_key(engine.ask(q)) for q in QUESTIONS] == expected

    server.stop()
    server.start()
    # the same engine reconnects over HTTP; a fresh one (a new process, say) too
    assert [_key(engine.ask(q)) for q in QUESTIONS] == expected
    fresh = Engine(settings)
    assert fresh.index.vectors.count() == n
    assert [_key(fresh.ask(q)) for q in QUESTIONS] == expected
    assert fresh.index.check().ok

    # BM25 lives beside the catalog: gone or stale, it is rebuilt from the catalog
    shutil.rmtree(settings.index_path / "bm25")
    rebuilt = Engine(settings)
    assert [_key(rebuilt.ask(q)) for q in QUESTIONS] == expected
    assert (settings.index_path / "bm25" / "stamp.json").exists()

    # re-ingesting unchanged files against the server is a no-op
    again = Engine(settings).ingest([str(folder)])
    assert again.counts()["unchanged"] == len(FILES)


def test_server_refuses_an_index_of_another_backend(server: ChromaServer, tmp_path: Path):
    folder = _briefings(tmp_path)
    settings = rag.Settings.from_env(index_dir=str(tmp_path / "local"), chroma_url=server.url, collection="mix")
    assert Engine(settings).ingest([str(folder / FILES[0])]).ok
    other = "onnx-int8" if settings.embed_backend == "torch" else "torch"
    with pytest.raises(RuntimeError, match="built with"):
        _ = Engine(settings.with_(embed_backend=other)).index.vectors  # opening the store is what refuses
