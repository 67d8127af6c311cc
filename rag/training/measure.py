"""Measure a trained reader (and the bi-encoder baseline) on what it never saw.

  python -m rag.training.measure RUN/epoch-1 RUN [--baseline] [--out results.json]

(i) SQuAD 2.0 sample, CLOSED: every unit of the question's own context is
    scored; a question's score is its max unit score. AUC of answerable vs
    unanswerable, and for answerable ones whether the top unit holds a gold
    answer. The sample's contexts are excluded from training (data.build).
(ii) The sample corpus's TEST split (corpus/questions/test.jsonl), measure
    only: the real engine retrieves (engine.ask -> answer.passages), the
    units of those passages are scored, AUC of max score answerable vs not.
The baseline is the base MiniLM bi-encoder: max cosine(question, unit).
Retrieval runs once and every model scores the same units.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from rag.evaluation.metrics import auc
from rag.sentences import units_of

from .data import SAMPLE_V2, SQUAD_V11, TEST_QUESTIONS

BRIEFINGS = TEST_QUESTIONS.parents[1] / "briefings"


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower()).split())


def squad2_items(sample: Path = SAMPLE_V2, squad: Path = SQUAD_V11) -> list[dict]:
    """Questions with their context's units as reader inputs ("title. unit").

    Titles come from SQuAD v1.1 dev (every sample context is one of its
    paragraphs), so the input has the same shape as in training.
    """
    title_of = {
        p["context"]: a["title"].replace("_", " ")
        for a in json.loads(Path(squad).read_text())["data"]
        for p in a["paragraphs"]
    }
    queries = json.loads((Path(sample) / "queries.json").read_text())["queries"]
    truth = json.loads((Path(sample) / "ground_truth.json").read_text())
    out = []
    for q in queries:
        head = title_of.get(q["context"], "")
        units = [u.readable() for u in units_of(q["context"])]
        gold = truth[q["id"]]
        out.append(
            {
                "id": q["id"],
                "question": q["question"],
                "texts": [f"{head}. {u}" if head else u for u in units],
                "answerable": not gold["is_impossible"],
                "answers": list(gold["answers"]),
            }
        )
    return out


def test_items(questions: Path = TEST_QUESTIONS, briefings: Path = BRIEFINGS) -> list[dict]:
    """Test-split questions with the units of the passages the engine retrieves for them."""
    import rag
    from rag.config import Settings

    rows = [json.loads(line) for line in questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    index = tempfile.mkdtemp(prefix="reader-measure-index-")
    engine = rag.get_engine(Settings.from_env().with_(index_dir=index))
    engine.ingest([str(briefings)])
    out = []
    for r in rows:
        answer = engine.ask(r["question"], history=r.get("history"), filters=r.get("filters"))
        texts = []
        for p in answer.passages:
            head = " > ".join(x for x in (p.title, p.heading) if x)
            for u in units_of(p.text, p.start):
                texts.append(f"{head}. {u.readable()}" if head else u.readable())
        # A follow-up ("And what ransom ...?") is scored as the engine's standalone rewrite,
        # as the answerer would see it; the words alone do not say what is asked.
        out.append(
            {
                "id": r["id"],
                "question": answer.standalone_question or r["question"],
                "asked": r["question"],
                "texts": list(dict.fromkeys(texts)),
                "answerable": bool(r["sources"]),
                "evidence": r.get("evidence", []),
                "follow_up": bool(r.get("history")),
            }
        )
    return out


def reader_scorer(path: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from .scoring import device, score

    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path).to(device())
    return lambda pairs: score(model, tok, pairs)


def cosine_scorer():
    from sentence_transformers import SentenceTransformer

    from .train import base_model_path

    model = SentenceTransformer(base_model_path(), device="cpu")

    def run(pairs):
        qs = sorted({q for q, _ in pairs})
        ts = sorted({t for _, t in pairs})
        qv = dict(zip(qs, model.encode(qs, normalize_embeddings=True, batch_size=64), strict=True))
        tv = dict(zip(ts, model.encode(ts, normalize_embeddings=True, batch_size=64), strict=True))
        return [float(qv[q] @ tv[t]) for q, t in pairs]

    return run


def evaluate(scorer, items: list[dict], kind: str) -> dict:
    pairs = [(it["question"], t) for it in items for t in it["texts"]]
    scores = scorer(pairs)
    at, best, top = 0, [], []
    for it in items:
        part = scores[at : at + len(it["texts"])]
        at += len(it["texts"])
        if not part:
            best.append(float("-inf"))
            top.append("")
            continue
        i = max(range(len(part)), key=part.__getitem__)
        best.append(part[i])
        top.append(it["texts"][i])
    ans = [b for b, it in zip(best, items, strict=True) if it["answerable"]]
    una = [b for b, it in zip(best, items, strict=True) if not it["answerable"]]
    out = {"questions": len(items), "answerable": len(ans), "unanswerable": len(una), "auc_max_score": auc(ans, una)}
    if kind == "squad2":
        hits = [
            any(_norm(a) in _norm(t) for a in it["answers"])
            for t, it in zip(top, items, strict=True)
            if it["answerable"]
        ]
    else:  # the top unit is (part of) an evidence sentence
        hits = [
            any(_norm(t.split(". ", 1)[-1]) in _norm(e) or _norm(e) in _norm(t) for e in it["evidence"])
            for t, it in zip(top, items, strict=True)
            if it["answerable"]
        ]
    out["top_unit_correct_answerable"] = round(sum(hits) / len(hits), 4) if hits else None
    if any(it.get("follow_up") for it in items):
        first = [(b, it) for b, it in zip(best, items, strict=True) if not it.get("follow_up")]
        out["auc_first_questions"] = auc(
            [b for b, it in first if it["answerable"]], [b for b, it in first if not it["answerable"]]
        )
    out["max_scores"] = {it["id"]: round(b, 4) for b, it in zip(best, items, strict=True)}
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="*", help="reader folders (a run folder or its epoch-N)")
    ap.add_argument("--baseline", action="store_true", help="also the base MiniLM bi-encoder cosine")
    ap.add_argument("--no-test", action="store_true", help="skip the test split")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--only", help="score only this set (squad2_closed | test_retrieved)")
    ap.add_argument(
        "--items",
        type=Path,
        help="cache of the scored units: written once, read after (same retrieval for every model)",
    )
    args = ap.parse_args(argv)
    if args.items and args.items.exists():
        sets = json.loads(args.items.read_text(encoding="utf-8"))
    else:
        sets = {"squad2_closed": squad2_items()}
        if TEST_QUESTIONS.exists() and not args.no_test:
            sets["test_retrieved"] = test_items()
        if args.items:
            args.items.write_text(json.dumps(sets), encoding="utf-8")
    if args.only:
        sets = {args.only: sets[args.only]}
    scorers = ([("baseline-cosine", cosine_scorer)] if args.baseline else []) + [
        (m, lambda m=m: reader_scorer(m)) for m in args.models
    ]
    results = {}
    for name, make in scorers:
        scorer = make()
        results[name] = {}
        for set_name, items in sets.items():
            t0 = time.time()
            r = evaluate(scorer, items, "squad2" if set_name.startswith("squad2") else "test")
            r["seconds"] = round(time.time() - t0, 1)
            results[name][set_name] = r
            print(
                json.dumps({"model": name, "set": set_name, **{k: v for k, v in r.items() if k != "max_scores"}}),
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
