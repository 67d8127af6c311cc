"""Score (question, text) pairs with a cross-encoder; the validation metrics.

Shared by the training loop (end-of-epoch metrics) and ``measure`` so both
read a model the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evaluation.metrics import auc

from .data import SYNTHETIC, Example, Group

MAX_LENGTH = 128


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def score(
    model, tokenizer, pairs: Sequence[tuple[str, str]], batch_size: int = 64, max_length: int = MAX_LENGTH
) -> list[float]:
    """Logits, in input order; pairs are scored longest-first so batches pad little."""
    import torch

    order = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))
    out = [0.0] * len(pairs)
    model.eval()
    dev = next(model.parameters()).device
    with torch.inference_mode():
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            enc = tokenizer(
                [pairs[i][0] for i in idx],
                [pairs[i][1] for i in idx],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(dev)
            logits = model(**enc).logits[:, 0].float().cpu().tolist()
            for i, v in zip(idx, logits, strict=True):
                out[i] = v
    return out


def validation_metrics(model, tokenizer, examples: list[Example], groups: list[Group]) -> dict[str, float | None]:
    """pair AUC (positives vs all negatives), P@1 of the gold unit in its paragraph, near-miss AUC."""
    s = score(model, tokenizer, [(e.question, e.text) for e in examples])
    pos = [v for v, e in zip(s, examples, strict=True) if e.label == 1]
    neg = [v for v, e in zip(s, examples, strict=True) if e.label == 0]
    near = [v for v, e in zip(s, examples, strict=True) if e.kind in SYNTHETIC]
    flat = [(g.question, t) for g in groups for t in g.texts]
    gs = score(model, tokenizer, flat)
    hits, at = 0, 0
    for g in groups:
        part = gs[at : at + len(g.texts)]
        at += len(g.texts)
        hits += max(range(len(part)), key=part.__getitem__) == g.gold
    out = {
        "pair_auc": auc(pos, neg),
        "p_at_1": round(hits / len(groups), 4) if groups else None,
        "near_miss_auc": auc(pos, near),
    }
    for kind in ("para", "topic", "swap", "attr", "hole"):
        out[f"auc_{kind}"] = auc(pos, [v for v, e in zip(s, examples, strict=True) if e.kind == kind])
    return out
