"""``rag eval``: question sets, report comparison, BEIR benchmarks and SQuAD.

Registered in rag/cli.py; heavy imports stay inside the function so ``rag --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..progress_bar import progress_bar

EXAMPLES = """
Examples:

  rag eval corpus/questions/briefings.jsonl --out /tmp/r
  rag eval corpus/questions/briefings.jsonl --fail-under key_accuracy_answerable=0.9 --fail-under quote_validity=1
  rag eval --compare before/report.json after/report.json
  rag eval --beir ../shared/benchmarks/beir-scifact --split test --retriever hybrid --run-out run.trec
  rag eval --squad2 ../shared/benchmarks/squad-v2-sample500 --closed --out /tmp/squad2-closed
  rag eval --squad ../shared/benchmarks/squad-v1.1-dev --fail-under answerable_correct=0.5
"""


def eval_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="QUESTIONS.jsonl, or with --compare two report.json files", show_default=False),
    ] = None,
    index: Annotated[
        str | None,
        typer.Option(
            "--index",
            help="Index folder (default: RAG_INDEX_DIR or ./.rag-index); with --beir, the cache folder; "
            "with --squad/--squad2, the cache folder (default: RAG_CACHE_DIR)",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md, report.html")] = Path(
        "eval-report"
    ),
    k: Annotated[int | None, typer.Option("--k", help="Passages retrieved per question (default: RAG_K)")] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-under",
            help="metric=value; exit 1 if the metric is below the bar "
            "(a ceiling for answerable_wrongly_refused and latency.*). Repeatable.",
        ),
    ] = None,
    ingest: Annotated[
        str | None,
        typer.Option(
            "--ingest",
            help="Ingest this folder first (default: the briefings beside the questions, when the index is empty)",
        ),
    ] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Print per-metric differences between two report.json files")
    ] = False,
    beir: Annotated[
        Path | None, typer.Option("--beir", help="A BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    ] = None,
    split: Annotated[str, typer.Option("--split", help="BEIR qrels split")] = "test",
    retriever: Annotated[str, typer.Option("--retriever", help="BEIR: dense | bm25 | hybrid")] = "hybrid",
    run_out: Annotated[Path | None, typer.Option("--run-out", help="BEIR: write the TREC run file here")] = None,
    squad2: Annotated[
        Path | None, typer.Option("--squad2", help="A SQuAD 2.0 sample folder (queries.json, ground_truth.json)")
    ] = None,
    squad: Annotated[
        Path | None,
        typer.Option(
            "--squad",
            help="SQuAD v1.1 dev-v1.1.json or its folder: the held-out articles of corpus/heldout/squad_articles.json",
        ),
    ] = None,
    closed: Annotated[
        bool,
        typer.Option(
            "--closed", help="SQuAD: retrieve only from the question's own context (as published reader scores do)"
        ),
    ] = False,
    chunk_tokens: Annotated[
        int | None,
        typer.Option("--chunk-tokens", help="Override RAG_CHUNK_TOKENS (BEIR indexes are cached per value)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics as JSON")] = False,
) -> None:
    """Measure answers, citations, refusals and latency on a question set; or run a BEIR benchmark or SQuAD."""
    from rich.console import Console

    from rag.config import Settings

    console = Console(stderr=True)
    say = lambda msg: console.print(msg, highlight=False)  # noqa: E731
    paths = list(paths or [])
    try:
        bars = _bars(fail_under or [])
    except ValueError as exc:
        say(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    try:
        # BEIR and SQuAD build their own indexes; --index names the cache folder for them.
        settings = Settings.from_env(index_dir=None if (beir or squad2 or squad) else index, chunk_tokens=chunk_tokens)
    except ValueError as exc:
        say(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from exc

    if compare:
        if len(paths) != 2:
            say("[red]error:[/] --compare takes two report.json files: rag eval --compare A/report.json B/report.json")
            raise typer.Exit(2)
        _compare(paths[0], paths[1], as_json)
        return
    if beir is not None:
        if paths:
            say("[red]error:[/] --beir takes no question file")
            raise typer.Exit(2)
        metrics = _beir(beir, split, retriever, run_out, settings, index, out, as_json, say)
    elif squad2 is not None or squad is not None:
        if paths or (squad2 is not None and squad is not None):
            say("[red]error:[/] give one of --squad2 FOLDER or --squad PATH, and no question file")
            raise typer.Exit(2)
        kind, data = ("squad2", squad2) if squad2 is not None else ("squad", squad)
        metrics = _squad(kind, data, closed, settings, k, index, out, as_json, say)
    else:
        if len(paths) != 1:
            say(
                "[red]error:[/] give one question file (JSONL), e.g. rag eval corpus/questions/briefings.jsonl"
                + EXAMPLES
            )
            raise typer.Exit(2)
        metrics = _questions(paths[0], settings, k, ingest, out, as_json, say)
    _gate(metrics, bars, say)


def _bars(items: list[str]) -> dict[str, float]:
    from .metrics import parse_bars

    bars: dict[str, float] = {}
    for item in items:  # allow "a=1 b=2" in one option as well as repeated options
        bars.update(parse_bars(item.split()))
    return bars


def _gate(metrics: dict, bars: dict[str, float], say) -> None:
    from .metrics import check_bars

    if not bars:
        return
    failed = check_bars(metrics, bars)
    if failed:
        for f in failed:
            say(f"[red]FAIL[/] {f}")
        raise typer.Exit(1)
    say(f"[green]all {len(bars)} bar(s) met[/]: " + ", ".join(f"{n} {metrics[n]} (bar {b})" for n, b in bars.items()))


def _print_metrics(metrics: dict, title: str, rows: list[tuple[str, str, str]], as_json: bool) -> None:
    """The metrics as JSON on stdout, or ``rows`` (label, name, value) as a table."""
    from rich.console import Console
    from rich.table import Table

    if as_json:
        print(json.dumps(metrics, indent=1))
        return
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("name", style="dim")
    table.add_column("value", justify="right")
    for row in rows:
        table.add_row(*row)
    Console().print(table)


def _questions(path: Path, settings, k, ingest, out: Path, as_json: bool, say) -> dict:
    from rich.console import Console

    from .harness import run_eval
    from .questions import QuestionFileError
    from .report import HEADLINE, fmt, write_reports

    console = Console(stderr=True)
    try:
        with progress_bar(console, disable=as_json) as bar:
            task = bar.add_task("evaluating", total=None)

            def progress(done: int, total: int, name: str) -> None:
                bar.update(task, completed=done, total=total, description=f"evaluating {name}"[:40])

            report = run_eval(path, settings, k=k, ingest=ingest, progress=progress, log=say)
    except QuestionFileError as exc:
        say(f"[red]invalid question file[/] {exc}")
        raise typer.Exit(2) from exc
    except FileNotFoundError as exc:
        say(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    paths = write_reports(report, out)
    m = report["metrics"]
    rows = [(label, name, fmt(m.get(name))) for name, label in HEADLINE]
    rows.append(
        (
            "Latency total p50 / p95 (ms)",
            "latency.total.p50|p95",
            f"{fmt(m.get('latency.total.p50'))} / {fmt(m.get('latency.total.p95'))}",
        )
    )
    _print_metrics(m, f"{m['questions']} questions, k = {m['k']}", rows, as_json)
    if not as_json and m.get("errors"):
        say(f"[red]{m['errors']} question(s) raised an error; see report.md[/]")
    say(f"reports: {paths['json']}, {paths['md']}, {paths['html']}")
    return m


def _compare(a_path: Path, b_path: Path, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    from .report import compare, fmt

    try:
        a, b = (json.loads(Path(p).read_text(encoding="utf-8")) for p in (a_path, b_path))
        rows = compare(a, b)
    except (OSError, ValueError, KeyError) as exc:
        Console(stderr=True).print(f"[red]error:[/] cannot read the reports ({exc})")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps([dict(zip(("metric", "a", "b", "delta", "verdict"), r, strict=True)) for r in rows], indent=1))
        return
    table = Table(title=f"A = {a_path}  B = {b_path}")
    for col, just in (("metric", "left"), ("A", "right"), ("B", "right"), ("B − A", "right"), ("", "left")):
        table.add_column(col, justify=just)
    for name, va, vb, delta, verdict in rows:
        colour = {"better": "green", "worse": "red"}.get(verdict, "")
        d = "" if delta is None else f"{delta:+.4f}"
        table.add_row(
            name,
            fmt(va),
            fmt(vb),
            f"[{colour}]{d}[/]" if colour else d,
            f"[{colour}]{verdict}[/]" if colour else verdict,
        )
    Console().print(table)


def _beir(folder: Path, split: str, retriever: str, run_out, settings, cache, out: Path, as_json: bool, say) -> dict:
    from rich.console import Console

    from .beir import BeirError, run_beir

    console = Console(stderr=True)
    try:
        with progress_bar(console, disable=as_json) as bar:
            task = bar.add_task("BEIR", total=None)

            def progress(done: int, total: int, name: str) -> None:
                bar.update(task, completed=done, total=total, description=name[:40])

            result = run_beir(
                folder,
                split=split,
                retriever=retriever,
                settings=settings,
                cache_root=cache,
                run_out=run_out,
                progress=progress,
            )
    except BeirError as exc:
        say(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"beir-{result.dataset}-{split}-{retriever}.json"
    path.write_text(json.dumps(result.to_dict(), indent=1))
    if as_json:
        print(json.dumps(result.to_dict(), indent=1))
    else:
        m = result.metrics
        Console().print(
            f"{result.dataset} {split} "
            f"({result.queries} queries, {result.documents} documents, {result.chunks} chunks), "
            f"{retriever}: nDCG@10 {m['ndcg@10']:.4f}  Recall@100 {m['recall@100']:.4f}  MRR@10 {m['mrr@10']:.4f}",
            highlight=False,
        )
        if run_out:
            say(f"run file: {run_out}")
        say(f"result: {path}")
    return dict(result.metrics)


def _squad(kind: str, data: Path, closed: bool, settings, k, cache, out: Path, as_json: bool, say) -> dict:
    from rich.console import Console

    from .report import fmt
    from .squad import SquadError, run_squad
    from .squad_report import rows, title, write_squad_reports

    console = Console(stderr=True)
    try:
        with progress_bar(console, disable=as_json) as bar:
            task = bar.add_task(kind, total=None)

            def progress(done: int, total: int, name: str) -> None:
                bar.update(task, completed=done, total=total, description=f"{kind} {name}"[:40])

            report = run_squad(kind, data, settings, closed=closed, k=k, cache_root=cache, progress=progress, log=say)
    except SquadError as exc:
        say(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    paths = write_squad_reports(report, out)
    m = report["metrics"]
    heading = f"{title(report)}: {m['questions']} questions, {report['config']['wall_seconds']} s"
    _print_metrics(m, heading, [(label, name, fmt(value)) for label, name, value in rows(m)], as_json)
    say(f"reports: {paths['json']}, {paths['md']}, {paths['html']}")
    return m
