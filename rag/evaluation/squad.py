"""SQuAD as out-of-sample question sets, asked through the real engine.

``rag eval --squad2 FOLDER``: the SQuAD 2.0 sample (``queries.json`` with
``id``/``context``/``question``, ``ground_truth.json`` with ``answers`` and
``is_impossible``). Every distinct context becomes one ``.txt`` file, all of
them one index; each question is asked over the whole index (open) or, with
``--closed``, filtered to its own context's file, which is what published
SQuAD 2.0 figures measure (the reader is handed the paragraph).

``rag eval --squad PATH``: whole SQuAD v1.1 dev articles, the fixed held-out
set named in corpus/heldout/squad_articles.json, each one Markdown document
(``# title``, then ``## Paragraph N`` per paragraph, so that no chunk crosses
a paragraph), every question asked over all of them.

The documents are written into ``<cache>/<kind>-<hash>/docs`` and ingested
with the engine's own loaders, chunker, Chroma and BM25 into ``.../index``;
the hash covers the documents' names and texts and every setting that changes
chunks or vectors, and ingest skips unchanged files, so a rerun embeds nothing.

Scoring is lenient on purpose, because the extractive answerer returns whole
sentences rather than spans: an answer is correct when some gold answer
(SQuAD-normalised) occurs in it. Report writing is in squad_report.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rag.config import Settings

from .metrics import basename, contains_answer, percentile, selective

FORMAT_VERSION = "1"
ROOT = Path(__file__).resolve().parents[2]
HELDOUT = ROOT / "corpus" / "heldout" / "squad_articles.json"
V11_FILE = "dev-v1.1.json"
Progress = Callable[[int, int, str], None]


class SquadError(ValueError):
    """A SQuAD file or folder that cannot be used; the message names the path."""


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answers: tuple[str, ...]
    is_impossible: bool
    doc: str  # file name of the question's own context / article
    title: str = ""


def heldout_squad_titles(path: Path = HELDOUT) -> list[str]:
    """The SQuAD v1.1 dev articles `rag eval --squad` asks; training and calibration must leave them out."""
    try:
        titles = json.loads(Path(path).read_text(encoding="utf-8"))["titles"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SquadError(f"{path}: cannot read the held-out titles ({exc})") from exc
    return [str(t) for t in titles]


# -- reading -------------------------------------------------------------------
def _json(path: Path) -> Any:
    if not path.is_file():
        raise SquadError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SquadError(f"{path}: not valid JSON ({exc})") from exc


def context_file(context: str) -> str:
    """Named by content, so the same paragraph is the same file in every run."""
    return f"context-{hashlib.sha256(context.encode()).hexdigest()[:12]}.txt"


def read_squad2(folder: Path) -> tuple[dict[str, str], list[Item], list[Path]]:
    """(file name -> context text, questions in file order, the data files)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise SquadError(f"{folder}: no such folder (expected queries.json and ground_truth.json)")
    files = [folder / "queries.json", folder / "ground_truth.json"]
    queries, truth = (_json(p) for p in files)
    try:
        rows = queries["queries"]
        docs: dict[str, str] = {}
        items = []
        for q in rows:
            name = context_file(q["context"])
            docs[name] = q["context"]
            gold = truth[q["id"]]
            items.append(Item(str(q["id"]), q["question"], tuple(gold["answers"]), bool(gold["is_impossible"]), name))
    except (KeyError, TypeError) as exc:
        raise SquadError(f"{folder}: unexpected SQuAD 2.0 sample format (missing {exc})") from exc
    return docs, items, files


def article_markdown(title: str, paragraphs: list[str]) -> str:
    body = "\n\n".join(f"## Paragraph {n}\n\n{p.strip()}" for n, p in enumerate(paragraphs, start=1))
    return f"# {title.replace('_', ' ')}\n\n{body}\n"


def read_squad(path: Path, titles: list[str]) -> tuple[dict[str, str], list[Item], list[Path]]:
    """The articles ``titles`` of a SQuAD v1.1 file (or a folder holding dev-v1.1.json), one document each."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / V11_FILE
    elif not path.exists():
        raise SquadError(f"{path}: no such file or folder (expected {V11_FILE} or a folder holding it)")
    data = _json(path)
    try:
        articles = {a["title"]: a["paragraphs"] for a in data["data"]}
        missing = [t for t in titles if t not in articles]
        if missing:
            raise SquadError(f"{path}: held-out article(s) {', '.join(missing)} not found (titles from {HELDOUT.name})")
        docs: dict[str, str] = {}
        items = []
        for title in titles:
            name = f"{title}.md"
            docs[name] = article_markdown(title, [p["context"] for p in articles[title]])
            for p in articles[title]:
                for qa in p["qas"]:
                    answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                    items.append(Item(str(qa["id"]), qa["question"], answers, False, name, title))
    except (KeyError, TypeError) as exc:
        raise SquadError(f"{path}: unexpected SQuAD v1.1 format (missing {exc})") from exc
    return docs, items, [path]


# -- the cached index ------------------------------------------------------------
def index_key(docs: dict[str, str], settings: Settings) -> str:
    h = hashlib.sha256(
        json.dumps([FORMAT_VERSION, settings.chunk_tokens, settings.chunk_overlap, settings.embed_backend]).encode()
    )
    for name in sorted(docs):
        h.update(f"\0{name}\0{docs[name]}".encode())
    return h.hexdigest()[:12]


def build_index(kind: str, docs: dict[str, str], base: Settings, cache_root: Path | None, log: Callable[[str], None]):
    """Write the documents once and ingest them with the normal engine; returns (engine, ingest counts)."""
    import rag
    from rag.offline import cache_root as default_root

    folder = Path(cache_root or default_root()) / f"{kind}-{index_key(docs, base)}"
    doc_dir = folder / "docs"
    doc_dir.mkdir(parents=True, exist_ok=True)
    for name, text in docs.items():
        target = doc_dir / name
        # Rewritten when different, so a file cut short by an interrupted run is mended.
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
    # A local index always: a Chroma server configured for briefings must not receive SQuAD.
    settings = base.with_(index_dir=str(folder / "index"), collection=kind, chroma_url="")
    engine = rag.get_engine(settings)
    report = engine.ingest([str(doc_dir)], prune=True)
    if not report.ok:
        log("some documents failed to ingest: " + "; ".join(f.reason for f in report.failed[:5]))
    return engine, report.counts()


# -- asking and scoring ------------------------------------------------------------
def ask_one(engine, item: Item, closed: bool, k: int | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": item.id,
        "question": item.question,
        "gold": list(item.answers),
        "is_impossible": item.is_impossible,
        "doc": item.doc,
        **({"title": item.title} if item.title else {}),
    }
    filters = {"sources": [item.doc]} if closed else None
    try:
        answer = engine.ask(item.question, filters=filters, k=k)
    except Exception as exc:  # one broken question must not hide the others; it counts as wrong
        record.update(
            error=f"{type(exc).__name__}: {exc}",
            answer="",
            refused=None,
            cited=[],
            correct=False,
            own_first=False,
            own_any=False,
        )
        return record
    cited = [basename(c.source) for c in answer.citations]
    refused = bool(answer.refused)
    correct = refused if item.is_impossible else (not refused and contains_answer(answer.text, item.answers))
    record.update(
        answer=answer.text,
        refused=refused,
        cited=cited,
        correct=correct,
        own_first=bool(cited) and cited[0] == item.doc,
        own_any=item.doc in cited,
        confidence=_number(getattr(answer, "confidence", None)),
        ms=answer.timings.get("total"),
    )
    return record


def _number(value: Any) -> float | None:
    return None if value is None else float(value)  # a numpy float would not go into report.json


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def squad_metrics(records: list[dict[str, Any]], with_unanswerable: bool) -> dict[str, Any]:
    """Flat metrics (the --fail-under names). Errored questions stay in every denominator as wrong:
    not correct, wrongly refused, unanswerable not refused, own context not cited."""
    ok = [r for r in records if "error" not in r]
    ans = [r for r in records if not r["is_impossible"]]
    unans = [r for r in records if r["is_impossible"]]
    answered = [r for r in ans if r["refused"] is not True]  # errored ones included, as not citing
    times = [float(r["ms"]) for r in ok if r.get("ms") is not None]
    metrics: dict[str, Any] = {
        "questions": len(records),
        "answerable": len(ans),
        "errors": len(records) - len(ok),
        "answerable_correct": _share(sum(r["correct"] for r in ans), len(ans)),
        "answerable_wrongly_refused": _share(sum(r["refused"] is not False for r in ans), len(ans)),
    }
    if with_unanswerable:
        metrics["unanswerable"] = len(unans)
        metrics["unanswerable_refused"] = _share(sum(r["refused"] is True for r in unans), len(unans))
        metrics["overall"] = _share(sum(r["correct"] for r in records), len(records))
    metrics.update(
        own_context_cited_first=_share(sum(r["own_first"] for r in answered), len(answered)),
        own_context_cited=_share(sum(r["own_any"] for r in answered), len(answered)),
        **{"latency.total.p50": percentile(times, 50), "latency.total.p95": percentile(times, 95)},
    )
    chosen = squad_selective(records)
    metrics.update({f"selective.{name}": v for name, v in chosen.items() if name != "curve"})
    return metrics


def squad_selective(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Risk-coverage and confidence AUC (metrics.selective); an errored question was not answered."""
    return selective(
        (r["refused"] is False, bool(r["correct"]) and r["refused"] is False, r.get("confidence")) for r in records
    )


def by_title(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for title in dict.fromkeys(r["title"] for r in records if r.get("title")):
        rs = [r for r in records if r.get("title") == title]
        out[title] = {"n": len(rs), "answerable_correct": _share(sum(r["correct"] for r in rs), len(rs))}
    return out


# -- the run -------------------------------------------------------------------------
def tracked(items: list[Item], progress: Progress | None) -> Iterator[Item]:
    """``items``, telling ``progress`` before each one and once more when all are done."""
    for i, item in enumerate(items):
        if progress:
            progress(i, len(items), item.id)
        yield item
    if progress:
        progress(len(items), len(items), "")


def run_squad(
    kind: str,
    path: str | Path,
    settings: Settings,
    *,
    closed: bool = False,
    k: int | None = None,
    cache_root: str | Path | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """``kind`` "squad2" (the 2.0 sample folder) or "squad" (v1.1, the held-out articles); the report dict."""
    from .beir import _file_hash
    from .harness import git_commit, public_settings

    path = Path(path)
    docs, items, files = read_squad2(path) if kind == "squad2" else read_squad(path, heldout_squad_titles())
    t0 = time.perf_counter()
    engine, ingested = build_index(kind, docs, settings, Path(cache_root) if cache_root else None, log)
    t_index = time.perf_counter() - t0
    t1 = time.perf_counter()
    records = [ask_one(engine, item, closed, k) for item in tracked(items, progress)]
    t_ask = time.perf_counter() - t1
    return {
        "config": {
            "kind": kind,
            "dataset": str(path.resolve()),
            "sha256": {f.name: _file_hash(f) for f in files},
            "mode": "closed" if closed else "open",
            "documents": len(docs),
            "index_dir": str(engine.settings.index_path),
            "ingested": ingested,
            "k": k or engine.settings.k,
            "settings": public_settings(engine.settings),
            "git_commit": git_commit(ROOT),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "index_seconds": round(t_index, 1),
            "ask_seconds": round(t_ask, 1),
            "wall_seconds": round(time.perf_counter() - t0, 1),
            # Latency on a shared machine is only readable beside how busy it was.
            "load_average_1min_end": round(os.getloadavg()[0], 2),
        },
        "metrics": squad_metrics(records, with_unanswerable=kind == "squad2"),
        "by_title": by_title(records),
        "risk_coverage": squad_selective(records)["curve"],
        "questions": records,
    }
