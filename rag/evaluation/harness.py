"""Run a question set through the engine and score every answer."""

from __future__ import annotations

import hashlib
import platform
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.config import Settings

from .metrics import CONVERSATION_METRICS, aggregate, basename, records_selective, score_question
from .questions import Question, QuestionFileError, check_against_corpus, load_questions

Progress = Callable[[int, int, str], None]


def default_briefings(questions_path: Path) -> Path:
    """``<questions dir>/../briefings``: where the sample corpus sits beside its questions."""
    return questions_path.resolve().parent.parent / "briefings"


class DocTexts:
    """``(catalog text, file text)`` per cited document, cached; file text only for .md/.txt."""

    def __init__(self, index) -> None:
        self.index = index
        self._cache: dict[tuple[str, str], tuple[str | None, str | None]] = {}

    def __call__(self, doc_id: str, source: str) -> tuple[str | None, str | None]:
        key = (doc_id, source)
        if key not in self._cache:
            doc = self.index.document(doc_id) if doc_id else None
            file_text = None
            path = Path(source) if source else None
            if path and path.suffix.lower() in {".md", ".markdown", ".txt"} and path.is_file():
                try:
                    file_text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
                except (OSError, UnicodeDecodeError):
                    file_text = None
            self._cache[key] = (doc.text if doc else None, file_text)
        return self._cache[key]


def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def public_settings(settings: Settings) -> dict[str, Any]:
    """The settings as a report records them: without the API key and the login."""
    return settings.public_dict()


def prepare_index(
    engine, questions_path: Path, ingest: str | None, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Ingest ``ingest`` if given, or the briefings beside the questions when the index is empty."""
    info: dict[str, Any] = {"ingested": None}
    folder = Path(ingest) if ingest else None
    prune = False
    if folder is None:
        beside = default_briefings(questions_path)
        docs = engine.index.documents()
        if not docs:
            if not beside.is_dir():
                raise FileNotFoundError(
                    f"the index {engine.settings.index_path} is empty and there is no {beside} to ingest; "
                    "pass --ingest DIR"
                )
            log(f"index {engine.settings.index_path} is empty: ingesting {beside}")
            folder = beside
        elif beside.is_dir() and any(Path(d.source).parent == beside.resolve() for d in docs):
            # An index of the sample corpus: bring it up to date (unchanged files are skipped).
            folder, prune = beside, True
    if folder is not None:
        report = engine.ingest([str(folder)], prune=prune)
        info["ingested"] = {"folder": str(folder.resolve()), **report.counts()}
        if not report.ok:
            log("some files failed to ingest: " + "; ".join(f.reason for f in report.failed))
    return info


def run_eval(
    questions_path: str | Path,
    settings: Settings,
    *,
    k: int | None = None,
    ingest: str | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The whole report as a dict (what report.json holds)."""
    import rag

    questions_path = Path(questions_path)
    questions = load_questions(questions_path)
    drafts = [q for q in questions if q.needs_review]
    if drafts:  # a draft's gold is the answer being judged: scoring it would measure nothing
        raise QuestionFileError(
            questions_path,
            [
                f"line {q.line}: {q.id} has needs_review: true; fill in must_include, sources and evidence from its "
                "candidates, then set needs_review to false"
                for q in drafts
            ],
        )
    engine = rag.get_engine(settings)
    index_info = prepare_index(engine, questions_path, ingest, log)
    indexed = {basename(d.source) for d in engine.index.documents()}
    warnings = []
    missing = sorted({s for q in questions for s in q.sources if s not in indexed})
    if missing:
        warnings.append(f"{len(missing)} gold source(s) are not in the index: {', '.join(missing[:10])}")
    briefings = default_briefings(questions_path)
    if briefings.is_dir():
        warnings += check_against_corpus(questions, briefings)
    for w in warnings[:20]:
        log(f"warning: {w}")

    texts = DocTexts(engine.index)
    k = k or settings.k
    records: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for i, q in enumerate(questions):
        if progress:
            progress(i, len(questions), q.id)
        records.append(evaluate_one(engine, q, k, texts))
    if progress:
        progress(len(questions), len(questions), "")
    wall = time.perf_counter() - t0
    metrics, by_type = aggregate(records, k)
    metrics.update(conversation_metrics(records, k))
    return {
        "config": {
            "questions_file": str(questions_path.resolve()),
            "questions_sha256": hashlib.sha256(questions_path.read_bytes()).hexdigest(),
            "index_dir": str(settings.index_path),
            "documents": len(indexed),
            "k": k,
            "settings": public_settings(settings),
            "git_commit": git_commit(Path(__file__).resolve().parent),
            "python": platform.python_version(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 1),
            **index_info,
        },
        "warnings": warnings,
        "metrics": metrics,
        "by_type": by_type,
        "risk_coverage": records_selective(records)["curve"],
        "questions": records,
    }


def conversation_metrics(records: list[dict[str, Any]], k: int) -> dict[str, Any]:
    """``follow_up.<metric>`` over questions with a history, ``first.<metric>`` over the rest.

    Reported on their own: follow-ups fail in ways first questions do not (the
    question leans on the conversation), and an average over both hides that.
    """
    out: dict[str, Any] = {}
    for prefix, part in (
        ("follow_up", [r for r in records if r.get("follow_up")]),
        ("first", [r for r in records if not r.get("follow_up")]),
    ):
        if not part:
            continue
        metrics, _ = aggregate(part, k)
        out.update({f"{prefix}.{name}": metrics[name] for name in CONVERSATION_METRICS})
    return out


def evaluate_one(engine, q: Question, k: int, texts) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": q.id,
        "type": q.type,
        "answerable": q.answerable,
        "follow_up": bool(q.history),
        "gold": q.gold(),
    }
    try:
        answer = engine.ask(q.question, history=[dict(t) for t in q.history], filters=q.filters, k=k).to_dict()
    except Exception as exc:  # one broken question must not hide the other results
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    record["answer"] = answer
    record["timings"] = answer.get("timings", {})
    record["metrics"] = score_question(q, answer, texts)
    return record
