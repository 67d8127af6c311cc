"""The chat's 👍/👎 file, and its export as draft evaluation questions.

``record_feedback`` appends one JSON line per judgement to ``feedback.jsonl``
in the index folder (or ``RAG_FEEDBACK_PATH``); the file holds user questions,
so it is created readable by its owner only (mode 0600).

``export_drafts`` turns it into a question file in the evaluation harness's
format (rag/evaluation/questions.py): one draft per distinct question (the
latest judgement wins), thumbs-down first, every draft ``needs_review: true``
with the answer given, its rating and its citations as evidence candidates.
A reviewer writes ``must_include``, ``sources`` and ``evidence`` from the
candidates and removes ``needs_review``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from .evaluation.questions import FILTER_KEYS, NOT_IN_CORPUS
from .jsonl import objects

FEEDBACK_FILE = "feedback.jsonl"
_FEEDBACK_LOCK = threading.Lock()
_MARKER = re.compile(r"\s*\[\d+\]")


class FeedbackError(ValueError):
    """The feedback file is missing, empty or malformed; the message names the file (and line)."""


def feedback_path(settings: Any) -> Path:
    return Path(settings.feedback_path or Path(settings.index_dir) / FEEDBACK_FILE).expanduser()


def _open_private(path: Path, flags: int):
    """``path`` opened for writing, created with mode 0600 (and tightened to it if it was wider)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


def record_feedback(settings: Any, rating: str, answer: dict, extra: dict | None = None) -> dict:
    """Append one judgement of an answer as a JSON line; returns the record."""
    record = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rating": rating,  # "up" | "down"
        "question": answer.get("question", ""),
        "standalone_question": answer.get("standalone_question", ""),
        "answer": answer.get("text", ""),
        "refused": answer.get("refused", False),
        "backend": answer.get("backend", ""),
        "citations": [
            {
                k: c.get(k)
                for k in ("n", "source", "title", "date", "region", "quote", "start", "end", "doc_id", "chunk_id")
            }
            for c in answer.get("citations") or []
        ],
        "retrieved": [p.get("chunk_id") for p in answer.get("passages") or []],
        **(extra or {}),
    }
    path = feedback_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _FEEDBACK_LOCK, _open_private(path, os.O_APPEND) as fh:
        fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return record


# -- export -------------------------------------------------------------------------------


def _check(record: dict, where: str) -> None:
    """FeedbackError naming ``where`` if a record lacks what a draft is made from."""
    if record.get("rating") not in ("up", "down"):
        raise FeedbackError(
            f"{where}: field 'rating' must be \"up\" or \"down\", got {json.dumps(record.get('rating'))}"
        )
    question = record.get("standalone_question") or record.get("question")
    if not isinstance(question, str) or not question.strip():
        raise FeedbackError(f"{where}: field 'question' is missing or empty")
    if not isinstance(record.get("citations") or [], list):
        raise FeedbackError(f"{where}: field 'citations' must be a list")


def read_feedback(path: Path) -> list[dict]:
    """The records of a feedback file, in the order written; FeedbackError if missing, empty or malformed."""
    # Checked here rather than by the reader: a missing file is the normal state before anyone has rated.
    if not path.is_file():
        raise FeedbackError(f"{path}: no feedback file (nothing has been rated in the chat yet)")
    records = []
    for n, record in objects(path, FeedbackError):
        _check(record, f"{path}:{n}")
        records.append(record)
    if not records:
        raise FeedbackError(f"{path}: the feedback file is empty (nothing has been rated in the chat yet)")
    return records


def _key(question: str) -> str:
    return " ".join(question.casefold().split()).rstrip(" ?")


def _candidate(c: Any) -> dict | None:
    if not isinstance(c, dict) or not isinstance(c.get("quote"), str) or not c["quote"].strip():
        return None
    start, end = c.get("start"), c.get("end")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start <= end:
        return None
    source = re.split(r"[\\/]", str(c.get("source") or ""))[-1]
    return {"source": source, "quote": c["quote"], "start": start, "end": end} if source else None


def _filters(raw: Any) -> dict | None:
    if not isinstance(raw, dict):
        return None
    out = {}
    for key in FILTER_KEYS:
        value = raw.get(key)
        if not value:
            continue
        if key in ("source", "sources"):  # a file name names the file wherever the corpus sits
            value = [re.split(r"[\\/]", s)[-1] for s in ([value] if isinstance(value, str) else value)]
        out[key] = value
    return out or None


def draft(record: dict) -> dict:
    """One feedback record as a draft question (harness format, ``needs_review: true``)."""
    asked = record["question"].strip() if isinstance(record.get("question"), str) else ""
    question = (record.get("standalone_question") or asked).strip()
    given = str(record.get("answer") or "")
    refused = bool(record.get("refused"))
    row: dict[str, Any] = {
        "id": "fb-" + hashlib.sha1(_key(question).encode("utf-8")).hexdigest()[:10],
        "question": question,
        # Draft gold: what was answered; the reviewer corrects it (a thumbs-down says it is wrong).
        "answer": NOT_IN_CORPUS if refused or not given.strip() else " ".join(_MARKER.sub("", given).split()),
        "type": "unanswerable" if refused or not given.strip() else "feedback",
        "must_include": [],
        "sources": [],
        "evidence": [],
        "needs_review": True,
        "rating": record["rating"],
        "given_answer": given,
        "candidates": [c for c in map(_candidate, record.get("citations") or []) if c],
    }
    if isinstance(record.get("ts"), str) and record["ts"]:
        row["asked_at"] = record["ts"]
    filters = _filters(record.get("filters"))
    if filters:
        row["filters"] = filters
    notes = []
    if record["rating"] == "down":
        notes.append("THUMBS DOWN: the answer given was judged wrong; write the gold answer from the briefings")
    if asked and asked != question:
        notes.append(f"asked as a follow-up: {asked!r}")
    if notes:
        row["note"] = "; ".join(notes)
    return row


def drafts(records: list[dict]) -> list[dict]:
    """One draft per distinct question (the latest record wins), thumbs-down first, then in file order."""
    latest: dict[str, dict] = {}
    for record in records:
        row = draft(record)
        latest.pop(_key(row["question"]), None)  # re-inserted: the order is that of the latest record
        latest[_key(row["question"])] = row
    rows = list(latest.values())
    return [r for r in rows if r["rating"] == "down"] + [r for r in rows if r["rating"] != "down"]


def export_drafts(settings: Any, out: Path | None = None) -> tuple[str, list[dict]]:
    """The draft question file's text, written to ``out`` (mode 0600) when given; FeedbackError on a problem."""
    rows = drafts(read_feedback(feedback_path(settings)))
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if out is not None:
        try:
            with _open_private(Path(out), os.O_TRUNC) as fh:
                fh.write(text)
        except OSError as exc:
            raise FeedbackError(f"{out}: cannot be written ({exc.strerror or exc})") from exc
    return text, rows


# -- command line: `rag feedback export` ---------------------------------------------------

feedback_app = typer.Typer(help="The chat's thumbs-up/down feedback file.", no_args_is_help=True)


@feedback_app.command("export")
def export_command(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the draft question file here (default: stdout)")
    ] = None,
    index: Annotated[
        str | None, typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./.rag-index)")
    ] = None,
) -> None:
    """Turn feedback.jsonl into draft evaluation questions (JSON Lines, each needs_review: true)."""
    from .config import Settings

    try:
        settings = Settings.from_env(index_dir=index)
    except ValueError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        text, rows = export_drafts(settings, out)
    except FeedbackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    if out is None:
        typer.echo(text, nl=False)
    down = sum(r["rating"] == "down" for r in rows)
    typer.echo(
        f"{len(rows)} draft question(s), {down} thumbs-down first, each needs_review: true"
        + (f"; written to {out}" if out is not None else ""),
        err=True,
    )
