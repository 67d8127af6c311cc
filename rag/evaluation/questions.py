"""Question sets: JSON Lines, one question a line, validated with errors that name line and field.

Fields (see README-section.md):

- ``id`` (str, unique), ``question`` (str), ``answer`` (str: the short gold answer,
  or ``"NOT_IN_CORPUS"``), ``type`` (str: factoid, who-and-where, table, multi-hop,
  temporal, unanswerable, ...)
- ``must_include`` (list of str): keys a correct answer must contain
- ``sources`` (list of str): file names that hold the evidence
- ``evidence`` (list of str): verbatim substrings of those files
- optional ``history``: earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``
- optional ``filters``: ``{"region": str|list, "date_from": "YYYY-MM-DD", "date_to": ..., "sources": list}``
- optional, for a draft made from chat feedback (``rag feedback export``):
  ``needs_review`` (bool: true until a person has checked the gold fields),
  ``rating`` (``"up"`` | ``"down"``), ``given_answer`` (str: the answer that was
  rated), ``candidates`` (list of ``{"source": file name, "quote": str, "start":
  int, "end": int}``: its citations, evidence to pick from), ``asked_at`` (str)

An unanswerable question has ``answer == "NOT_IN_CORPUS"`` and empty
``must_include``, ``sources`` and ``evidence``. A draft (``needs_review: true``)
may leave those three empty for an answerable question: the reviewer fills them in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rag.jsonl import JsonlError, read_lines

NOT_IN_CORPUS = "NOT_IN_CORPUS"
REQUIRED = ("id", "question", "answer", "must_include", "sources", "evidence", "type")
DRAFT = ("needs_review", "rating", "given_answer", "candidates", "asked_at")  # from chat feedback
OPTIONAL = ("history", "filters") + DRAFT
IGNORED = ("note", "notes", "comment")  # free text for authors, never read
FILTER_KEYS = ("region", "regions", "date_from", "date_to", "source", "sources")


class QuestionFileError(ValueError):
    """Every problem found in a question file, one per line of the message."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = problems[:30]
        more = f"\n  ... and {len(problems) - 30} more" if len(problems) > 30 else ""
        super().__init__(f"{path}: {len(problems)} problem(s)\n  " + "\n  ".join(shown) + more)


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answer: str
    must_include: tuple[str, ...]
    sources: tuple[str, ...]
    evidence: tuple[str, ...]
    type: str
    history: tuple[dict, ...] = ()
    filters: dict | None = None
    line: int = 0
    needs_review: bool = False
    rating: str | None = None
    given_answer: str = ""
    candidates: tuple[dict, ...] = ()
    asked_at: str = ""

    @property
    def answerable(self) -> bool:
        return self.answer != NOT_IN_CORPUS

    def gold(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("line")
        for key in ("must_include", "sources", "evidence", "history", "candidates"):
            d[key] = list(d[key])
        if not self.needs_review:
            for key in DRAFT:
                d.pop(key)
        return d


def _str_list(obj: dict, key: str, where: str, problems: list[str]) -> tuple[str, ...]:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: field '{key}' must be a list of strings, got {json.dumps(value)[:80]}")
        return ()
    blank = [i for i, v in enumerate(value) if not v.strip()]
    if blank:
        problems.append(f"{where}: field '{key}' item {blank[0]} is blank")
    return tuple(value)


def _check_history(value: Any, where: str, problems: list[str]) -> tuple[dict, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.append(f"{where}: field 'history' must be a list of {{\"role\", \"content\"}} objects")
        return ()
    turns = []
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or set(turn) - {"role", "content"} or "content" not in turn or "role" not in turn:
            problems.append(
                f"{where}: field 'history' item {i} must be {{\"role\": ..., \"content\": ...}}, "
                f"got {json.dumps(turn)[:80]}"
            )
        elif turn["role"] not in ("user", "assistant"):
            problems.append(
                f"{where}: field 'history' item {i}: role must be 'user' or 'assistant', got {turn['role']!r}"
            )
        elif not isinstance(turn["content"], str) or not turn["content"].strip():
            problems.append(f"{where}: field 'history' item {i}: content must be a non-empty string")
        else:
            turns.append({"role": turn["role"], "content": turn["content"]})
    return tuple(turns)


def _check_filters(value: Any, where: str, problems: list[str]) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(f"{where}: field 'filters' must be an object")
        return None
    unknown = sorted(set(value) - set(FILTER_KEYS))
    if unknown:
        problems.append(
            f"{where}: field 'filters' has unknown key(s) {', '.join(unknown)} "
            "(allowed: region, date_from, date_to, sources)"
        )
    for key in ("date_from", "date_to"):
        if value.get(key) is not None:
            try:
                date.fromisoformat(str(value[key]))
            except ValueError:
                problems.append(f"{where}: field 'filters.{key}' = {value[key]!r} is not a YYYY-MM-DD date")
    for key in ("region", "regions", "source", "sources"):
        v = value.get(key)
        if (
            v is not None
            and not isinstance(v, str)
            and not (isinstance(v, list) and all(isinstance(x, str) for x in v))
        ):
            problems.append(f"{where}: field 'filters.{key}' must be a string or a list of strings")
    return dict(value)


def _check_draft(obj: dict, where: str, problems: list[str]) -> dict[str, Any]:
    """The draft fields of a line (from chat feedback), checked."""
    out: dict[str, Any] = {}
    if "needs_review" in obj:
        if not isinstance(obj["needs_review"], bool):
            problems.append(f"{where}: field 'needs_review' must be true or false")
        out["needs_review"] = obj["needs_review"] is True
    if "rating" in obj:
        if obj["rating"] not in ("up", "down"):
            problems.append(f"{where}: field 'rating' must be \"up\" or \"down\", got {json.dumps(obj['rating'])[:40]}")
        out["rating"] = obj["rating"]
    for key in ("given_answer", "asked_at"):
        if key in obj:
            if not isinstance(obj[key], str):
                problems.append(f"{where}: field '{key}' must be a string")
            out[key] = obj[key]
    value = obj.get("candidates")
    if value is not None:
        if not isinstance(value, list):
            problems.append(
                f"{where}: field 'candidates' must be a list of {{\"source\", \"quote\", \"start\", \"end\"}} objects"
            )
            value = []
        for i, c in enumerate(value):
            ok = (
                isinstance(c, dict)
                and set(c) == {"source", "quote", "start", "end"}
                and isinstance(c["source"], str)
                and c["source"].strip()
                and "/" not in c["source"]
                and "\\" not in c["source"]
                and isinstance(c["quote"], str)
                and c["quote"].strip()
                and all(isinstance(c[k], int) and not isinstance(c[k], bool) for k in ("start", "end"))
                and 0 <= c["start"] <= c["end"]
            )
            if not ok:
                problems.append(
                    f"{where}: field 'candidates' item {i} must be {{\"source\": file name, \"quote\": str, "
                    f"\"start\": int, \"end\": int}}, got {json.dumps(c)[:80]}"
                )
        out["candidates"] = tuple(dict(c) for c in value if isinstance(c, dict))
    return out


def parse_line(obj: Any, where: str, problems: list[str]) -> Question | None:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected a JSON object, got {type(obj).__name__}")
        return None
    before = len(problems)
    for key in REQUIRED:
        if key not in obj:
            problems.append(f"{where}: field '{key}' is missing")
    unknown = sorted(set(obj) - set(REQUIRED) - set(OPTIONAL) - set(IGNORED))
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    if len(problems) > before and any("is missing" in p for p in problems[before:]):
        return None
    for key in ("id", "question", "answer", "type"):
        if not isinstance(obj[key], str) or not obj[key].strip():
            problems.append(f"{where}: field '{key}' must be a non-empty string")
    must = _str_list(obj, "must_include", where, problems)
    sources = _str_list(obj, "sources", where, problems)
    evidence = _str_list(obj, "evidence", where, problems)
    history = _check_history(obj.get("history"), where, problems)
    filters = _check_filters(obj.get("filters"), where, problems)
    draft = _check_draft(obj, where, problems)
    if len(problems) > before:
        return None
    answer, qtype = obj["answer"].strip(), obj["type"].strip()
    if answer == NOT_IN_CORPUS:
        for key, value in (("must_include", must), ("sources", sources), ("evidence", evidence)):
            if value:
                problems.append(
                    f"{where}: field '{key}' must be empty for an unanswerable question (answer NOT_IN_CORPUS)"
                )
    else:
        if qtype == "unanswerable":
            problems.append(f"{where}: field 'answer' must be NOT_IN_CORPUS when type is 'unanswerable'")
        for key, value in (("must_include", must), ("sources", sources), ("evidence", evidence)):
            if not value and not draft.get("needs_review"):
                problems.append(f"{where}: field '{key}' is empty; an answerable question needs at least one")
        for s in sources:
            if "/" in s or "\\" in s:
                problems.append(f"{where}: field 'sources' item {s!r} must be a file name, not a path")
    if len(problems) > before:
        return None
    return Question(
        id=obj["id"].strip(),
        question=obj["question"].strip(),
        answer=answer,
        must_include=must,
        sources=sources,
        evidence=evidence,
        type=qtype,
        history=history,
        filters=filters,
        **draft,
        line=int(where.rsplit(":", 1)[-1]) if where.rsplit(":", 1)[-1].isdigit() else 0,
    )


def load_questions(path: str | Path) -> list[Question]:
    """Read and validate a question file; raises QuestionFileError listing every problem."""
    path = Path(path)
    try:
        # Read whole before checking: a question file is small, and a file-level error replaces every other.
        lines = list(read_lines(path, encoding="utf-8-sig"))  # -sig: a BOM, as some editors write, is allowed
    except JsonlError as exc:
        raise QuestionFileError(path, [str(exc)]) from exc
    problems: list[str] = []
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for line in lines:
        n, where = line.number, f"line {line.number}"
        if line.obj is None:
            problems.append(f"{where}: {line.problem}")
            continue
        q = parse_line(line.obj, where, problems)
        if q is None:
            continue
        q = Question(**{**q.__dict__, "line": n})
        if q.id in seen:
            problems.append(f"{where}: field 'id' {q.id!r} repeats the id of line {seen[q.id]}")
            continue
        seen[q.id] = n
        questions.append(q)
    if not questions and not problems:
        problems.append(f"{path}: holds no questions")
    if problems:
        raise QuestionFileError(path, problems)
    return questions


def check_against_corpus(questions: list[Question], briefings: str | Path) -> list[str]:
    """Problems where gold data disagrees with the files: missing sources, evidence not verbatim."""
    folder = Path(briefings)
    problems: list[str] = []
    cache: dict[str, str | None] = {}
    for q in questions:
        texts = []
        for s in q.sources:
            if s not in cache:
                f = folder / s
                cache[s] = f.read_text(encoding="utf-8").replace("\r\n", "\n") if f.is_file() else None
            if cache[s] is None:
                problems.append(f"line {q.line} ({q.id}): source {s!r} is not in {folder}")
            else:
                texts.append(cache[s])
        for e in q.evidence:
            if texts and not any(e in t for t in texts):
                problems.append(
                    f"line {q.line} ({q.id}): evidence {e[:60]!r} is not verbatim in {', '.join(q.sources)}"
                )
    return problems
