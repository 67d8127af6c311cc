"""Two processes on one index: a server answering while ``rag ingest`` writes.

Every process rebuilds the BM25 model when the catalog generation moves and
saves it as a cache. Saves used to go through fixed folders, so two processes
collided and a reader could load ``model`` and ``ids.json`` from two different
saves (FileNotFoundError, or rows mapped to the wrong ids). Saves now use
unique temporary names, and a load that fails or straddles a save rebuilds
from the catalog; this test writes in one process while searching in another.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import rag
from rag.catalog import Catalog
from rag.chunking import chunk_document
from rag.loaders import load

from .fixtures.hardening import CORPUS

_WORKER = r"""
import sys, time
from pathlib import Path
from rag.catalog import Catalog, Filters
from rag.lexical import Lexical
index, role = Path(sys.argv[1]), sys.argv[2]
catalog = Catalog(index / "catalog.sqlite")
lexical = Lexical(catalog, index / "bm25")
errors, t0 = 0, time.monotonic()
while time.monotonic() - t0 < 6:
    try:
        if role == "writer":          # what an ingest does after each document swap:
            catalog.remove_document("no-such-briefing")  # a real write that bumps the generation
            lexical.refresh()
        else:                          # what a question does
            lexical.search("joint air patrol China Russia", 5, Filters())
    except Exception as exc:
        errors += 1
        if errors == 1:
            print(type(exc).__name__, exc, file=sys.stderr)
print(errors)
"""


def test_bm25_survives_a_writer_in_another_process(tmp_path: Path) -> None:
    settings = rag.Settings.from_env(index_dir=str(tmp_path))
    catalog = Catalog(tmp_path / "catalog.sqlite")
    for path in sorted(CORPUS.glob("*.md"))[:8]:
        doc = load(path)
        catalog.replace_document(doc, chunk_document(doc, settings))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(tmp_path), role],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for role in ("writer", "reader", "reader")
    ]
    results = [p.communicate(timeout=120) for p in procs]
    failures = {
        role: (int(out.strip() or -1), err.strip()[:200])
        for role, (out, err) in zip(("writer", "r1", "r2"), results, strict=True)
    }
    assert all(n == 0 for n, _ in failures.values()), failures
