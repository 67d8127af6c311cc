"""20 analysts at once: gradio_client users asking while an upload is ingesting.

A real server (``ui.app.start``) on a free loopback port. Each of 20 clients
asks 10 questions through the named ``/ask`` endpoint while an 21st connection
uploads new briefings. Every answer must belong to the question that was
asked (its ``question`` field, and the briefing that holds its answer among
its passages); a watcher checks, in single-snapshot SQL, that no reader could
ever see a document with only some of its chunks. p50/p95 are printed.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

import rag
from rag.llm.server import free_port
from ui import app as ui_app

from .fixtures.hardening import CORPUS, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

CLIENTS, PER_CLIENT = 20, 10

UPLOAD_TEXT = """# Port Evilton Logistics Review {n}

Date: 2024-06-{day:02d}
Region: Testland

## Summary

The port authority of Evilton-{n} counted {ships} ships in the outer anchorage on the morning of the review.
{body}
"""


def _questions() -> list[tuple[str, str]]:
    """20 gold questions with 20 different source briefings."""
    seen, out = set(), []
    for line in (ROOT / "corpus" / "questions" / "briefings.jsonl").read_text().splitlines():
        q = json.loads(line)
        sources = q.get("sources") or []
        if len(sources) == 1 and sources[0] not in seen and len(q["question"]) > 25:
            seen.add(sources[0])
            out.append((q["question"], sources[0]))
    return out[:CLIENTS]


def _half_written(index: Path) -> tuple[list[tuple], int]:
    """Documents with only some of their chunks, and the catalog generation."""
    db = sqlite3.connect(f"file:{index / 'catalog.sqlite'}?mode=ro", uri=True, timeout=30)
    try:  # one statement = one snapshot
        rows = db.execute(
            "SELECT d.source, d.n_chunks, (SELECT count(*) FROM chunks c WHERE c.doc_id = d.doc_id) AS have "
            "FROM documents d WHERE d.n_chunks != have"
        ).fetchall()
        generation = db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()
        return rows, int(generation[0]) if generation else 0
    finally:
        db.close()


def test_twenty_clients_ask_while_an_upload_ingests(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    questions = _questions()
    assert len(questions) == CLIENTS
    settings = rag.Settings.from_env(
        index_dir=str(tmp_path / "index"), feedback_path=str(tmp_path / "feedback.jsonl"), ui_auth=""
    )
    assert rag.get_engine(settings).ingest([str(CORPUS)]).ok
    uploads = []
    for n in range(4):  # ~40 chunks each, about nothing the questions ask
        filler = "\n\n".join(
            f"### Berth {k}\n\nBerth {k} of Evilton-{n} handled {100 + 7 * k + n} containers of grain and "
            f"{k + n} reefer units during shift {k % 3 + 1}; the crane crew logged {k % 5} minor delays."
            for k in range(120)
        )
        path = tmp_path / f"evilton-{n}.md"
        path.write_text(UPLOAD_TEXT.format(n=n, day=n + 1, ships=40 + n, body=filler))
        uploads.append(path)

    port = free_port()
    demo = ui_app.start(settings, host="127.0.0.1", port=port, block=False, quiet=True)
    url = f"http://127.0.0.1:{port}/"
    latencies: list[float] = []
    errors: list[str] = []
    mixed: list[str] = []
    half: list = []
    lock = threading.Lock()
    upload_window: dict[str, float] = {}
    during_upload = [0]
    intervals: list[tuple[float, float]] = []  # (sent, answered) of every answer
    swaps: list[float] = []  # when the watcher saw the catalog generation move: the upload's swaps
    generations: list[int] = []  # first and last generation the watcher saw
    stop_watch = threading.Event()

    def watcher() -> None:
        last = _half_written(settings.index_path)[1]
        generations[:] = [last, last]
        while not stop_watch.is_set():
            rows, generation = _half_written(settings.index_path)
            if rows:
                half.append(rows)
            if generation != last:
                swaps.append(time.monotonic())
                last = generations[1] = generation
            time.sleep(0.01)

    def uploader(start: threading.Barrier) -> None:
        client = Client(url, verbose=False, download_files=False)
        start.wait()
        upload_window["start"] = time.monotonic()
        try:
            message, *_ = client.predict([handle_file(str(p)) for p in uploads], api_name="/upload")
            upload_window["message"] = message
        except Exception as exc:  # noqa: BLE001
            errors.append(f"upload: {exc!r}")
        upload_window["end"] = time.monotonic()

    def analyst(i: int, start: threading.Barrier) -> None:
        try:
            client = Client(url, verbose=False, download_files=False)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"client {i} could not connect: {exc!r}")
            start.wait()
            return
        start.wait()
        for j in range(PER_CLIENT):
            question, source = questions[(i + j) % len(questions)]
            t0 = time.monotonic()
            try:
                data = client.predict(question, api_name="/ask")
            except Exception as exc:  # noqa: BLE001
                errors.append(f"client {i} q{j}: {exc!r}")
                continue
            t1 = time.monotonic()
            with lock:
                latencies.append(t1 - t0)
                intervals.append((t0, t1))
                if upload_window.get("start", 1e18) <= t1 and t0 <= upload_window.get("end", 1e18):
                    during_upload[0] += 1
            if data.get("question") != question:
                mixed.append(f"client {i} asked {question!r}, got the answer to {data.get('question')!r}")
            elif source not in {Path(p["source"]).name for p in data.get("passages", [])}:
                mixed.append(f"client {i}: {question!r} answered without its briefing {source}")

    try:
        start = threading.Barrier(CLIENTS + 1)
        watch = threading.Thread(target=watcher, daemon=True)
        watch.start()
        threads = [threading.Thread(target=analyst, args=(i, start)) for i in range(CLIENTS)]
        threads.append(threading.Thread(target=uploader, args=(start,)))
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=360)
        wall = time.monotonic() - t0
        stop_watch.set()
        watch.join()

        assert not errors, errors[:5]
        assert not mixed, mixed[:5]
        assert not half, f"a reader could have seen a half-written document: {half[:3]}"
        assert len(latencies) == CLIENTS * PER_CLIENT
        assert "4 added" in upload_window.get("message", ""), upload_window
        # The point of the test: answers were being served while the upload ingested,
        # on the client's clock and on the server's (a swap happened mid-answer).
        assert during_upload[0] > 0, f"no answer overlapped the upload {upload_window}"
        assert swaps and generations[1] - generations[0] >= 4, (
            f"catalog generation {generations} for 4 uploaded briefings"
        )
        in_flight = sum(1 for t0, t1 in intervals if any(t0 <= s <= t1 for s in swaps))
        assert in_flight > 0, "no answer was in flight while the upload's documents were swapped in"
        # After the upload, the new briefings answer like any other.
        after = Client(url, verbose=False, download_files=False).predict(
            "How many ships did the port authority of Evilton-2 count in the outer anchorage?", api_name="/ask"
        )
        assert "42" in after["text"] and not after["refused"], after["text"]
        check = rag.get_engine(settings).index.check()
        assert check.ok, check
    finally:
        stop_watch.set()
        demo.close()

    lat = sorted(latencies)
    p50 = statistics.median(lat)
    p95 = lat[min(len(lat) - 1, int(round(0.95 * len(lat))) - 1)]
    with capsys.disabled():  # shown in every run, not only with -s
        print(
            f"\n{CLIENTS} clients x {PER_CLIENT} questions over /ask in {wall:.1f}s wall; "
            f"p50 {p50:.2f}s, p95 {p95:.2f}s, max {lat[-1]:.2f}s; {during_upload[0]} answers overlapped the upload, "
            f"{in_flight} were in flight during one of its {len(swaps)} swaps "
            f"({upload_window['end'] - upload_window['start']:.1f}s: {upload_window.get('message')})"
        )
