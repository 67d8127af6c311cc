"""``rag train-reader``: build the pairs and train the answerability reader.

Registered in rag/cli.py; torch and transformers are imported inside, so
``rag --help`` stays fast.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from ..progress_bar import progress_bar
from . import data, indomain

RUNS = Path("~/.cache/briefing-rag/reader-runs")
# The public data both training commands read (and what they must leave out).
SquadOption = Annotated[Path, typer.Option("--squad", help="SQuAD v1.1 dev JSON")]
SampleOption = Annotated[Path, typer.Option("--sample", help="SQuAD 2.0 sample folder: its contexts are left out")]
HeldoutOption = Annotated[
    Path | None, typer.Option("--heldout", help="Held-out titles JSON (default: corpus/heldout/squad_articles.json)")
]


def train_reader_command(
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Run folder (default: ~/.cache/briefing-rag/reader-runs/<timestamp>)"),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs")] = 2,
    seed: Annotated[
        int, typer.Option("--seed", help="Seeds the article split, the synthetic negatives, batch order and init")
    ] = 13,
    max_examples: Annotated[int | None, typer.Option("--max-examples", help="Train on at most this many pairs")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from --out/checkpoint (same seed and --max-examples)")
    ] = False,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", help="Optimizer steps between checkpoints")
    ] = 200,
    max_steps: Annotated[
        int | None,
        typer.Option("--max-steps", help="Stop after this many steps (checkpointed; continue with --resume)"),
    ] = None,
    lr: Annotated[float, typer.Option("--lr")] = 4e-5,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pairs per step (length-bucketed)")] = 32,
    squad: SquadOption = data.SQUAD_V11,
    sample: SampleOption = data.SAMPLE_V2,
    heldout: HeldoutOption = None,
    val_questions: Annotated[int, typer.Option("--val-questions", help="Validation questions scored each epoch")] = 400,
    tune: Annotated[
        bool,
        typer.Option(
            "--tune", help="Add in-domain pairs from the briefings' TUNE split (corpus/questions/briefings.jsonl)"
        ),
    ] = False,
    tune_repeat: Annotated[
        int, typer.Option("--tune-repeat", help="Each TUNE pair this many times an epoch (with --tune)")
    ] = 1,
    holes: Annotated[
        bool,
        typer.Option("--holes", help="Add hole negatives: the gold unit with its answer taken out (see data.py)"),
    ] = False,
    init: Annotated[
        Path | None,
        typer.Option("--init", help="Start from these shipped weights (.safetensors) instead of the base model"),
    ] = None,
    span_weight: Annotated[
        float,
        typer.Option(
            "--span-weight",
            help="Also train an answer-span head (start/end, [CLS] for no answer) with this loss weight; not shipped",
        ),
    ] = 0.0,
    ship: Annotated[
        bool,
        typer.Option(
            "--ship", help="Then ship it: fp16 weights, calibration and threshold into rag/answering/readers/weights"
        ),
    ] = False,
    ship_to: Annotated[
        Path | None, typer.Option("--ship-to", help="Ship to this .safetensors path instead (its .json beside it)")
    ] = None,
) -> None:
    """Fine-tune the MiniLM weights into a cross-encoder that scores (question, unit) for answerability."""
    from rich.console import Console

    from .train import examples_jsonl, train

    console = Console(stderr=True)
    out = (out or RUNS / datetime.now().strftime("%Y%m%d-%H%M%S")).expanduser()
    titles = data.heldout_titles(heldout)
    extra = indomain.tune_examples() * tune_repeat if tune else None
    built = data.build(
        squad,
        sample,
        titles,
        seed=seed,
        max_examples=max_examples,
        val_questions=val_questions,
        extra=extra,
        holes=holes,
    )
    console.print(f"data: {json.dumps(built.stats)}; validation articles {built.val_titles}")
    out.mkdir(parents=True, exist_ok=True)
    examples_jsonl(built, out / "examples.jsonl")
    with progress_bar(console, transient=False) as progress:
        metrics = train(
            built,
            out,
            epochs=epochs,
            seed=seed,
            resume=resume,
            lr=lr,
            batch_size=batch_size,
            checkpoint_every=checkpoint_every,
            max_steps=max_steps,
            log=progress.console.print,
            progress=progress,
            command=_command(
                epochs, seed, max_examples, lr, batch_size, val_questions, tune, tune_repeat, init, holes, span_weight
            ),
            init=init,
            span_weight=span_weight,
        )
    if (ship or ship_to) and (out / "reader.json").exists() and metrics.get("epoch") == epochs:
        from rag.answering.readers.minilm import WEIGHTS

        from .ship import ship as ship_reader

        ship_reader(out, ship_to or WEIGHTS, built, log=console.print)


def _command(
    epochs: int,
    seed: int,
    max_examples: int | None,
    lr: float,
    batch_size: int,
    val_questions: int,
    tune: bool,
    tune_repeat: int = 1,
    init: Path | None = None,
    holes: bool = False,
    span_weight: float = 0.0,
) -> str:
    """The command line that reproduces this run's data and schedule (recorded in run.json and the shipped json)."""
    parts = [
        "rag train-reader",
        f"--epochs {epochs}",
        f"--seed {seed}",
        f"--lr {lr:g}",
        f"--batch-size {batch_size}",
        f"--val-questions {val_questions}",
    ]
    parts += [f"--max-examples {max_examples}"] if max_examples else []
    parts += ["--tune"] if tune else []
    parts += [f"--tune-repeat {tune_repeat}"] if tune and tune_repeat != 1 else []
    parts += [f"--init {init}"] if init else []
    parts += ["--holes"] if holes else []
    parts += [f"--span-weight {span_weight:g}"] if span_weight else []
    return " ".join(parts)
