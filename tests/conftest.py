"""Shared fixtures: a real index over the sample corpus, built once per session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import rag

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus" / "briefings"
SHARED = ROOT.parent / "shared"
SEEDS = SHARED / "seeds"
PATROL = "Who joined the patrol and where?"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: takes minutes (real servers, browsers, benchmarks)")


@pytest.fixture(scope="session")
def corpus_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    """Settings for an index of corpus/briefings, ingested once for the session."""
    index_dir = tmp_path_factory.mktemp("corpus-index")
    settings = rag.Settings.from_env(index_dir=str(index_dir))
    report = rag.ingest([str(CORPUS)], settings=settings)
    assert report.ok, report.failed
    return settings


@pytest.fixture
def briefing_dir(tmp_path: Path) -> Path:
    """A writable copy of three sample briefings."""
    folder = tmp_path / "briefings"
    folder.mkdir()
    for path in sorted(CORPUS.glob("*.md"))[:3]:
        shutil.copy(path, folder / path.name)
    return folder


def settings_at(path: Path) -> rag.Settings:
    return rag.Settings.from_env(index_dir=str(path))
