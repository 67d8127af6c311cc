"""Offline by construction: a full ingest + ask in a fresh interpreter whose
sockets to anything but loopback are refused, and every such attempt recorded.

A fresh process matters: the libraries decide at import time whether to phone
home (telemetry, hub lookups), so the guard must be in place before ``rag`` is
imported, as it is on an analyst's air-gapped machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import CORPUS, PATROL, ROOT

SCRIPT = textwrap.dedent(
    """
    import ipaddress, json, socket, sys

    attempts = []

    def loopback(host):
        if host in (None, "", "localhost"):
            return True
        if isinstance(host, bytes):
            host = host.decode()
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def guard(event, args):
        if event == "socket.connect":
            address = args[1]
            if isinstance(address, tuple) and not loopback(address[0]):
                attempts.append(["connect", str(address)])
                raise ConnectionRefusedError(f"blocked by test: {address}")
        elif event == "socket.getaddrinfo" and not loopback(args[0]):
            attempts.append(["getaddrinfo", str(args[0])])
            raise socket.gaierror(f"blocked by test: {args[0]}")

    sys.addaudithook(guard)

    import rag
    corpus, index_dir, question = sys.argv[1:4]
    settings = rag.Settings.from_env(index_dir=index_dir)
    report = rag.ingest([corpus], settings=settings)
    answer = rag.ask(question, settings=settings)
    print(json.dumps({"attempts": attempts, "failed": [str(f) for f in report.failed],
                      "added": len(report.added), "refused": answer.refused,
                      "citations": len(answer.citations)}))
    """
)


def test_full_ingest_and_ask_make_no_remote_connection(tmp_path: Path) -> None:
    # Without HF_HUB_OFFLINE in the parent environment: the package itself must set it.
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("HF_", "TRANSFORMERS_", "GRADIO_"))}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(CORPUS), str(tmp_path / "index"), PATROL],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["attempts"] == [], data["attempts"]
    assert not data["failed"] and data["added"] >= 20, data
    # The ask really ran through retrieval and answering, so the guard saw the whole path.
    assert not data["refused"] and data["citations"] >= 1, data
