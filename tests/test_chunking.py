"""Chunks point at exact spans, stay inside sections and keep tables whole."""

from __future__ import annotations

from pathlib import Path

import pytest

import rag
from rag.chunking import chunk_document, count_tokens, plain_headings
from rag.loaders import load

from .conftest import CORPUS, SEEDS

SETTINGS = rag.Settings.from_env(index_dir="/nonexistent")


def _documents() -> list[Path]:
    return sorted(CORPUS.glob("*.md")) + sorted(CORPUS.glob("*.txt")) + sorted(SEEDS.glob("*"))


@pytest.mark.parametrize("path", _documents(), ids=lambda p: p.name)
def test_offsets_round_trip(path: Path) -> None:
    doc = load(path)
    chunks = chunk_document(doc, SETTINGS)
    assert chunks, "every document yields chunks"
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.body
        assert chunk.body.strip() == chunk.body
    # Nothing but headings (carried in each chunk's context) is left outside:
    # '#' lines, or in plain text the lines plain_headings() finds.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    plain = {line.strip(): h.title for h in plain_headings(doc.text) for line in doc.text[h.start : h.end].splitlines()}
    pos = 0
    for line in doc.text.splitlines(keepends=True):
        outside = "".join(ch for i, ch in enumerate(line, pos) if i not in covered).strip()
        if outside:
            assert line.strip() == outside, f"part of a line outside every chunk: {outside!r}"
            if line.startswith("#"):
                assert any(line.lstrip("# ").strip() in c.context for c in chunks)
            else:
                assert outside in plain, f"text outside every chunk: {outside!r}"
                assert any(plain[outside] in c.context for c in chunks) or plain[outside] == doc.title
        pos += len(line)


def test_chunks_stay_in_their_section(tmp_path: Path) -> None:
    path = tmp_path / "b.md"
    path.write_text("# Title\n\n## Alpha\n\nFirst section text.\n\n## Beta\n\nSecond section text.\n")
    chunks = chunk_document(load(path), SETTINGS)
    assert [(c.heading, c.body) for c in chunks] == [
        ("Title > Alpha", "First section text."),
        ("Title > Beta", "Second section text."),
    ]


def test_table_is_kept_whole(tmp_path: Path) -> None:
    table = "| Country | Aircraft |\n|---|---|\n| China | H-6K |\n| Russia | Tu-95MS |"
    path = tmp_path / "t.md"
    path.write_text(f"# T\n\n## Aircraft\n\nIntro sentence.\n\n{table}\n\nAfter the table.\n")
    chunks = chunk_document(load(path), SETTINGS)
    tables = [c for c in chunks if c.kind == "table"]
    assert [c.body for c in tables] == [table]
    assert all("|" not in c.body for c in chunks if c.kind == "text")


def test_long_table_split_by_rows_with_header_repeated(tmp_path: Path) -> None:
    header = "| Ship | Class | Tonnage |\n|---|---|---|"
    rows = [f"| Vessel number {i} of the squadron | Frigate type {i} | {1000 + i} tonnes |" for i in range(120)]
    path = tmp_path / "long.md"
    path.write_text("# Fleet\n\n## Ships\n\n" + header + "\n" + "\n".join(rows) + "\n")
    doc = load(path)
    chunks = [c for c in chunk_document(doc, SETTINGS) if c.kind == "table"]
    assert len(chunks) > 1
    seen = []
    for i, chunk in enumerate(chunks):
        assert doc.text[chunk.start : chunk.end] == chunk.body
        assert count_tokens(chunk.body) <= SETTINGS.chunk_tokens * 3 // 2
        if i:  # continuation pieces carry the header in their context
            assert header in chunk.context
        seen += [line for line in chunk.body.splitlines() if line.startswith("| Vessel")]
    assert seen == rows, "every row exactly once, in order"


def test_metadata(tmp_path: Path) -> None:
    path = tmp_path / "m.md"
    path.write_text("# Border incident\n\nRegion: South Asia\n\nTroops met on 9 December 2022 near Yangtse.\n")
    doc = load(path)
    assert (doc.title, doc.date, doc.region) == ("Border incident", "2022-12-09", "South Asia")
    untitled = tmp_path / "gulf_of_oman-notes.txt"
    untitled.write_text("Date: March 4, 2023\nThree navies drilled.\n")
    doc = load(untitled)
    assert (doc.title, doc.date, doc.region) == ("gulf of oman notes", "2023-03-04", None)
