"""What the index keeps is the owner's alone, and settings never print their secrets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import rag
from rag.evaluation.harness import public_settings, run_eval
from ui import library

from .conftest import CORPUS

SECRETS = ("sk-secret", "hunter2pw")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_index_folder_is_0700_and_its_text_files_0600_whatever_the_umask(tmp_path: Path, umask_022) -> None:
    index_dir = tmp_path / "index"
    settings = rag.Settings.from_env(index_dir=str(index_dir))
    engine = rag.get_engine(settings)
    briefing = tmp_path / "browser" / "x.md"
    briefing.parent.mkdir()
    briefing.write_bytes(sorted(CORPUS.glob("*.md"))[0].read_bytes())
    report = library.ingest_uploads(engine, [{"path": str(briefing), "orig_name": "x.md"}])
    assert [f.status for f in report.files] == ["added"]
    assert mode(index_dir) == 0o700
    uploads = library.uploads_dir(settings.index_dir)
    assert mode(uploads) == 0o700
    assert mode(uploads / "x.md") == 0o600
    catalog = index_dir / "catalog.sqlite"
    assert mode(catalog) == 0o600
    for extra in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
        if (index_dir / extra).exists():
            assert mode(index_dir / extra) == 0o600, extra
    # a replacement upload keeps the mode too
    briefing.write_bytes(briefing.read_bytes() + b"\nOne more line on 3 December 2024.\n")
    assert [f.status for f in library.ingest_uploads(engine, [str(briefing)]).files] == ["updated"]
    assert mode(uploads / "x.md") == 0o600


def test_an_existing_index_folder_is_tightened_when_opened(tmp_path: Path, umask_022) -> None:
    index_dir = tmp_path / "old-index"
    index_dir.mkdir(mode=0o755)
    assert mode(index_dir) == 0o755
    folder = tmp_path / "briefings"
    folder.mkdir()
    (folder / "a.md").write_bytes(sorted(CORPUS.glob("*.md"))[1].read_bytes())
    assert rag.ingest([str(folder)], settings=rag.Settings.from_env(index_dir=str(index_dir))).ok
    assert mode(index_dir) == 0o700
    assert mode(index_dir / "catalog.sqlite") == 0o600


def test_settings_repr_hides_secrets() -> None:
    settings = rag.Settings(llm_key="sk-secret", ui_auth="admin:hunter2pw")
    text = repr(settings)
    assert not any(s in text for s in SECRETS), text
    assert "llm_key='***'" in text and "ui_auth='***'" in text
    assert "llm_key=''" in repr(rag.Settings()), "an unset secret shows as unset"
    public = settings.public_dict()
    assert not any(s in json.dumps(public) for s in SECRETS)
    assert public["llm"] == "extractive" and public["k"] == settings.k
    assert public_settings(settings) == public
    assert settings.llm_key == "sk-secret", "the value itself is untouched"


def test_eval_report_json_holds_no_secrets(corpus_settings: rag.Settings, tmp_path: Path) -> None:
    questions = tmp_path / "questions" / "one.jsonl"
    questions.parent.mkdir()
    line = (CORPUS.parent / "questions" / "briefings.jsonl").read_text(encoding="utf-8").splitlines()[0]
    questions.write_text(line + "\n", encoding="utf-8")
    settings = corpus_settings.with_(llm_key="sk-secret", ui_auth="admin:hunter2pw")
    report = run_eval(questions, settings, log=lambda _: None)
    text = json.dumps(report)
    assert report["metrics"] and report["config"]["settings"]["llm"] == "extractive"
    assert not any(s in text for s in SECRETS)
