"""``rag train-confidence``: fit the answer's confidence model (rag/answering/confidence.py).

The questions are asked through the real engine, over an index of the SQuAD
v1.1 dev articles the shipped reader was validated on and never trained on
(named in its json), less every paragraph of the SQuAD 2.0 sample; the
held-out articles of ``rag eval --squad`` are refused outright. Three kinds:

- ``pos``: the questions of the indexed paragraphs, each paragraph indexed
  either inside its article (a Markdown document with the title and a heading
  per paragraph, as ``rag eval --squad`` and the briefings have it) or, for a
  seeded half, as a file of its own without a title (as ``rag eval --squad2``
  has it), so that the model does not learn one layout's feature values;
- ``withheld``: the questions of a seeded share of paragraphs left out of the
  index, so the article's topic is there and the answer mostly is not;
- ``swap``: a copy of an indexed paragraph's question with one name or number
  replaced by another of the same article that its paragraph does not hold
  (``data.entity_swap``), the near miss SQuAD 2.0 is made of.

A question is labelled right when the engine answers and the chosen units hold
a gold answer (a swap never is). A logistic regression over the standardised
``FEATURES`` is fitted; five-fold cross-validated probabilities give its AUC,
calibration error and refusal threshold, so none of them is measured on the
data the coefficients were fitted to.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from rag.answering.confidence import FEATURES, SHIPPED, ConfidenceModel
from rag.evaluation.metrics import contains_answer, selective
from rag.evaluation.squad import article_markdown, context_file

from ..progress_bar import progress_bar
from . import data
from .cli import HeldoutOption, SampleOption, SquadOption
from .ship import ece


@dataclass(frozen=True)
class FitQuestion:
    id: str
    question: str
    answers: tuple[str, ...]
    kind: str  # pos | withheld | swap


def questions(
    titles: list[str],
    squad: Path = data.SQUAD_V11,
    sample: Path = data.SAMPLE_V2,
    heldout: list[str] | None = None,
    *,
    seed: int = 0,
    withhold: float = 0.25,
    swap_rate: float = 1.0,
    standalone: float = 0.5,
    max_questions: int | None = None,
) -> tuple[dict[str, str], list[FitQuestion]]:
    """(file name -> Markdown article, the questions): see the module docstring."""
    held = set(data.heldout_titles() if heldout is None else heldout)
    if held & set(titles):
        raise ValueError(f"{sorted(held & set(titles))}: held-out articles of `rag eval --squad` cannot be fitted on")
    articles = {a["title"]: a for a in json.loads(Path(squad).read_text(encoding="utf-8"))["data"]}
    unknown = [t for t in titles if t not in articles]
    if unknown:
        raise ValueError(f"{squad}: no article titled {', '.join(unknown)}")
    banned = data.sample_contexts(sample)
    rng = random.Random(seed)
    docs: dict[str, str] = {}
    out: list[FitQuestion] = []
    for title in titles:
        paragraphs = [p for p in articles[title]["paragraphs"] if p["context"] not in banned]
        pool = data.article_pool([p["context"] for p in paragraphs])
        kept = []
        for p in paragraphs:
            withheld = rng.random() < withhold
            if not withheld and rng.random() < standalone:
                docs[context_file(p["context"])] = p["context"]
            elif not withheld:
                kept.append(p["context"])
            for qa in p["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                out.append(FitQuestion(qa["id"], qa["question"], answers, "withheld" if withheld else "pos"))
                swapped = None if withheld else data.entity_swap(qa["question"], p["context"], p["context"], pool, rng)
                if swapped and rng.random() < swap_rate:
                    out.append(FitQuestion(f"{qa['id']}-swap", swapped[0], answers, "swap"))
        if kept:  # none left in the article: its questions stay, asked of the rest
            docs[f"{title}.md"] = article_markdown(title, kept)
    if max_questions is not None:
        out = random.Random(seed).sample(out, min(max_questions, len(out)))
    return docs, out


def collect(engine, items: list[FitQuestion], progress=None) -> list[dict]:
    """Each question asked through ``engine``: its features, whether the engine
    refused, and whether the answer is right."""
    task = progress.add_task("asking", total=len(items)) if progress else None
    rows = []
    for item in items:
        selection = engine.evidence(item.question).selection
        text = " ".join(e.unit.text for e in selection.chosen)
        right = item.kind != "swap" and not selection.refused and contains_answer(text, item.answers)
        if selection.features:
            rows.append(
                {
                    "id": item.id,
                    "kind": item.kind,
                    "refused": selection.refused,
                    "right": right,
                    "features": selection.features,
                }
            )
        if progress:
            progress.advance(task)
    return rows


def _answered_auc(rows: list[dict], conf: list[float]) -> float | None:
    return selective((not r["refused"], r["right"], c) for r, c in zip(rows, conf, strict=True))["confidence_auc"]


def _threshold(rows: list[dict], conf: list[float]) -> tuple[float, float]:
    """The bar that makes the most right decisions among the questions the engine
    answers (an answer is right when it is right; a refusal when it would not be)."""
    given = [(c, r["right"]) for r, c in zip(rows, conf, strict=True) if not r["refused"]]
    best = (0.0, sum(ok for _, ok in given) / len(given) if given else 0.0)
    for t in sorted({round(c, 3) for c, _ in given}):
        right = sum((c >= t) == ok for c, ok in given) / len(given)
        if right > best[1]:
            best = (t, right)
    return best


def fit(rows: list[dict], reader_sha256: str, seed: int = 0) -> tuple[ConfidenceModel, dict]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    x = np.array([[r["features"][n] for n in FEATURES] for r in rows], dtype=float)
    y = np.array([int(r["right"]) for r in rows])
    fewer = int(min(y.sum(), len(y) - y.sum()))
    if fewer < 2:
        raise ValueError(f"{len(y)} fitting questions, {int(y.sum())} answered right: too few of one kind; ask more")
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = (x - mean) / scale
    folds = StratifiedKFold(n_splits=min(5, fewer), shuffle=True, random_state=seed)
    cv = cross_val_predict(LogisticRegression(max_iter=1000), z, y, cv=folds, method="predict_proba")[:, 1].tolist()
    lr = LogisticRegression(max_iter=1000).fit(z, y)
    threshold, decisions = _threshold(rows, cv)
    model = ConfidenceModel(
        names=FEATURES,
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        coef=tuple(round(float(v), 6) for v in lr.coef_[0]),
        intercept=round(float(lr.intercept_[0]), 6),
        threshold=threshold,
        reader_sha256=reader_sha256,
    )
    reader_p = [1 / (1 + np.exp(-r["features"]["reader"])) for r in rows]
    metrics = {
        "questions": len(rows),
        "right": int(y.sum()),
        "kinds": {k: sum(r["kind"] == k for r in rows) for k in ("pos", "withheld", "swap")},
        "cv_auc_answered": _round(_answered_auc(rows, cv)),
        "reader_auc_answered": _round(_answered_auc(rows, reader_p)),
        "cv_ece": round(ece(np.array(cv), y), 4),
        "threshold_right_decisions": round(decisions, 4),
    }
    return model, metrics


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def train_confidence_command(
    out: Annotated[Path, typer.Option("--out", help="Where the model goes (default: the shipped file)")] = SHIPPED,
    seed: Annotated[int, typer.Option("--seed", help="Seeds the withheld paragraphs, the swaps and the folds")] = 0,
    withhold: Annotated[float, typer.Option("--withhold", help="Share of paragraphs left out of the index")] = 0.25,
    standalone: Annotated[
        float, typer.Option("--standalone", help="Share of indexed paragraphs that are files of their own")
    ] = 0.5,
    max_questions: Annotated[
        int | None, typer.Option("--max-questions", help="Ask at most this many (a quick run)")
    ] = None,
    title: Annotated[
        list[str] | None,
        typer.Option("--title", help="SQuAD article to fit on (repeatable; default: the reader's validation articles)"),
    ] = None,
    squad: SquadOption = data.SQUAD_V11,
    sample: SampleOption = data.SAMPLE_V2,
    heldout: HeldoutOption = None,
    cache: Annotated[Path | None, typer.Option("--cache", help="Where the fitting index is kept")] = None,
) -> None:
    """Fit the answer's confidence (a logistic model over the reader and the evidence scores) on SQuAD articles."""
    from rich.console import Console

    import rag
    from rag.answering.readers.minilm import read_meta
    from rag.evaluation.squad import build_index

    console = Console(stderr=True)
    titles = title or read_meta()["validation"]["titles"]
    held = data.heldout_titles(heldout)
    docs, items = questions(
        titles, squad, sample, held, seed=seed, withhold=withhold, standalone=standalone, max_questions=max_questions
    )
    # Fitted on what the engine does without a confidence model or a gate, so a refit does not depend on the last fit.
    base = rag.Settings.from_env().with_(confidence_model="none", min_confidence=0.0)
    engine, _ = build_index("confidence-fit", docs, base, cache, console.print)
    if engine.reader is None:
        raise typer.BadParameter("the confidence model needs a reader (RAG_READER=none is set)")
    with progress_bar(console) as progress:
        rows = collect(engine, items, progress)
    model, metrics = fit(rows, engine.reader.sha256, seed)
    command = (
        f"rag train-confidence --seed {seed} --withhold {withhold:g} --standalone {standalone:g}"
        + "".join(f" --title {t}" for t in (title or []))
        + (f" --max-questions {max_questions}" if max_questions else "")
    )
    info = {"model": model.to_dict(), "fitted_on": {"titles": titles, "command": command}, "metrics": metrics}
    out = out.expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    console.print(f"{json.dumps(metrics)}\nwritten: {out}")
