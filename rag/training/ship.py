"""Ship a trained reader: the weights that differ from the base, in fp16,
with the calibration and refusal threshold fitted on the validation part.

  python -m rag.training.ship RUN [--dest rag/answering/readers/weights/minilm-reader.safetensors]

(``rag train-reader --ship`` runs this after training.)

Calibration: Platt scaling of the reader's logit, fitted on what the answerer
meets at inference, from the validation articles only (never trained on):
  positive  a validation question, scored against every unit of its
            paragraph; label 1 when its best unit is the gold one, else 0
  negative  its synthetic near misses (swap / attr / hole: the asked fact is not in
            the paragraph), max over the same units, label 0
The threshold is the confidence that best separates the two (Youden's J) on
the same part; the json records both, the calibration error (ECE, 10 bins)
and the command that made the run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rag.answering.readers.minilm import WEIGHTS, MiniLMReader, sha256
from rag.evaluation.metrics import auc

from .data import SYNTHETIC, Built, build, heldout_titles

ATTRIBUTION = (
    "Fine-tuned on pairs built from SQuAD v1.1 (Rajpurkar et al., 2016; CC BY-SA 4.0, "
    "https://rajpurkar.github.io/SQuAD-explorer/) from the all-MiniLM-L6-v2 weights (Apache-2.0)."
)


def write_delta(run: Path, dest: Path) -> int:
    """The run's weights less the frozen word embeddings, in fp16; returns the parameter count."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(run)
    state = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if "word_embeddings" not in k and not k.endswith("position_ids")
    }
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(dest))
    return sum(v.numel() for v in state.values())


def calibration_set(reader, built: Built) -> tuple[np.ndarray, np.ndarray]:
    """(max logit, label) per validation instance, as described above."""
    xs, ys = [], []
    group_of = {t: g for g in built.val_groups for t in g.texts}
    asking = {g.question: g for g in built.val_groups}
    for g in built.val_groups:
        s = reader.logits(g.question, g.texts)
        xs.append(float(s.max()))
        ys.append(int(int(s.argmax()) == g.gold))
    for e in built.val:
        if e.kind == "hole" and e.question in asking:
            # The paragraph with the hole in place of its gold unit: no unit of it answers.
            g = asking[e.question]
            texts = (*g.texts[: g.gold], e.text, *g.texts[g.gold + 1 :])
        elif e.kind in SYNTHETIC and e.text in group_of:
            texts = group_of[e.text].texts
        else:
            continue
        xs.append(float(reader.logits(e.question, texts).max()))
        ys.append(0)
    return np.array(xs), np.array(ys)


def ece(prob: np.ndarray, label: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: |accuracy - confidence| per equal-width bin, weighted by its share."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(prob, edges[1:-1]), 0, bins - 1)
    return float(
        sum(
            abs(label[which == b].mean() - prob[which == b].mean()) * (which == b).mean()
            for b in range(bins)
            if (which == b).any()
        )
    )


def fit(xs: np.ndarray, ys: np.ndarray) -> dict:
    from sklearn.linear_model import LogisticRegression

    if len(set(ys.tolist())) < 2:  # a tiny slice (the CI test) can lack one side: nothing to fit
        return {
            "a": 1.0,
            "b": 0.0,
            "threshold": 0.5,
            "ece": None,
            "auc": None,
            "instances": int(len(ys)),
            "positives": int(ys.sum()),
            "fitted": False,
        }
    lr = LogisticRegression(C=1e6).fit(xs.reshape(-1, 1), ys)  # Platt: no regularisation to speak of
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    prob = 1 / (1 + np.exp(-(a * xs + b)))
    cuts = np.unique(prob)
    j = [(ys[prob >= c].sum() / max(ys.sum(), 1)) - ((1 - ys)[prob >= c].sum() / max((1 - ys).sum(), 1)) for c in cuts]
    threshold = float(cuts[int(np.argmax(j))])
    return {
        "a": round(a, 6),
        "b": round(b, 6),
        "threshold": round(threshold, 4),
        "ece": round(ece(prob, ys), 4),
        "auc": auc(xs[ys == 1].tolist(), xs[ys == 0].tolist()),
        "instances": int(len(ys)),
        "positives": int(ys.sum()),
        "fitted": True,
    }


def ship(run: Path, dest: Path = WEIGHTS, built: Built | None = None, log=print) -> dict:
    """Write ``dest`` and its json; ``built`` is the run's data (rebuilt from run.json's seed when not given)."""
    info = json.loads((run / "reader.json").read_text(encoding="utf-8"))
    params = write_delta(run, dest)
    meta_path = dest.with_suffix(".json")
    meta = {"sha256": sha256(dest), "calibration": {"a": 1.0, "b": 0.0}, "threshold": 0.5}
    meta_path.write_text(json.dumps(meta), encoding="utf-8")  # uncalibrated, to score the calibration set
    reader = MiniLMReader(dest, meta_path)
    # A run with hole negatives has them in its validation part (and so in its calibration set).
    holes = "hole" in info.get("stats", {}).get("val", {})
    built = built or build(seed=info["seed"], heldout=heldout_titles(), holes=holes)
    xs, ys = calibration_set(reader, built)
    cal = fit(xs, ys)
    meta = {
        "sha256": meta["sha256"],
        "parameters": params,
        "dtype": "float16",
        "base": info["base"],
        "calibration": {"a": cal["a"], "b": cal["b"]},
        "threshold": cal["threshold"],
        "validation": {k: cal[k] for k in ("auc", "ece", "instances", "positives", "fitted")}
        | {"titles": built.val_titles},
        "training": {k: info[k] for k in ("seed", "epochs", "lr", "batch_size", "max_length", "stats") if k in info}
        | {"metrics": info.get("metrics"), "command": info.get("command", "")},
        "attribution": ATTRIBUTION,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log(
        f"shipped {params / 1e6:.1f}M parameters to {dest} ({dest.stat().st_size / 1e6:.1f} MB); "
        f"calibration {json.dumps(cal)}"
    )
    return meta


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="a run folder of rag train-reader (or its epoch-N)")
    ap.add_argument("--dest", type=Path, default=WEIGHTS)
    args = ap.parse_args(argv)
    ship(args.run.expanduser(), args.dest)


if __name__ == "__main__":
    main()
