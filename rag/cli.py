"""The ``rag`` command line: a thin door onto the engine."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

import rag
from rag.config import Settings

app = typer.Typer(help="Offline question answering over security briefings, every claim cited.", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

IndexOpt = Annotated[str | None, typer.Option("--index", help="Index folder (default: RAG_INDEX_DIR or ./.rag-index)")]


def settings_for(index: str | None) -> Settings:
    try:
        return Settings.from_env(index_dir=index)
    except ValueError as exc:
        err.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from exc


def print_report(report: rag.IngestReport) -> None:
    table = Table(title="Ingest summary", show_lines=False)
    table.add_column("status")
    table.add_column("file")
    table.add_column("chunks", justify="right")
    table.add_column("reason")
    colours = {"added": "green", "updated": "cyan", "unchanged": "dim", "removed": "yellow", "failed": "red"}
    for f in report.files:
        if f.status != "unchanged":
            table.add_row(f"[{colours[f.status]}]{f.status}[/]", f.path, str(f.chunks or ""), f.reason)
    if table.row_count:
        console.print(table)
    console.print(", ".join(f"{n} {s}" for s, n in report.counts().items()))


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of briefings (.md .txt .html .pdf .docx)")],
    index: IndexOpt = None,
    prune: Annotated[bool, typer.Option(help="Remove documents whose files are gone")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Add or update briefings in the index (unchanged files are skipped)."""
    from rag.progress_bar import progress_bar

    settings = settings_for(index)
    with progress_bar(err, disable=as_json) as bar:
        task = bar.add_task("ingesting", total=None)

        def progress(done: int, total: int, name: str) -> None:
            bar.update(task, completed=done, total=total, description=f"ingesting {name}"[:60])

        report = rag.ingest([str(p) for p in paths], settings=settings, prune=prune, progress=progress)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def print_answer(answer: rag.Answer) -> None:
    style = "yellow" if answer.refused else "bold"
    console.print(f"[{style}]{answer.text}[/]", highlight=False)
    verdict = "not answered" if answer.refused else "answered"
    console.print(f"[dim]{verdict} · confidence {answer.confidence:.2f}[/]\n", highlight=False)
    for note in answer.notes:
        console.print(f"[yellow]note:[/] {note}")
    for c in answer.citations:
        where = " · ".join(x for x in (c.title, c.date, c.region) if x)
        console.print(f"[cyan][{c.n}][/] {where}\n    {c.source}:{c.start}-{c.end}", highlight=False)
        console.print(f"    “{c.quote}”", style="green", highlight=False)
    if answer.closest:
        console.print("[yellow]closest evidence[/] (does not answer the question):")
    for c in answer.closest:
        console.print(
            f"  [dim]·[/] {c.title} · {c.source}:{c.start}-{c.end}\n    “{c.quote}”", style="dim", highlight=False
        )


def read_history(path: Path) -> list[dict]:
    from rag.conversation import parse_history

    try:
        return parse_history(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        err.print(f"[red]error:[/] --history {path}: cannot be read ({exc.strerror or exc})")
    except json.JSONDecodeError as exc:
        err.print(f"[red]error:[/] --history {path}: is not JSON ({exc.msg} at line {exc.lineno})")
    except ValueError as exc:
        err.print(f"[red]error:[/] --history {path}: {exc}")
    raise typer.Exit(2)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question")],
    index: IndexOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print Answer.to_dict() as JSON")] = False,
    k: Annotated[int | None, typer.Option(help="Passages to retrieve")] = None,
    region: Annotated[list[str] | None, typer.Option(help="Only briefings of this region (repeatable)")] = None,
    date_from: Annotated[str | None, typer.Option(help="Only briefings dated on or after YYYY-MM-DD")] = None,
    date_to: Annotated[str | None, typer.Option(help="Only briefings dated on or before YYYY-MM-DD")] = None,
    source: Annotated[list[str] | None, typer.Option(help="Only this file (name or path; repeatable)")] = None,
    history: Annotated[
        Path | None,
        typer.Option(help='Earlier turns, a JSON file: [{"role": "user"|"assistant", "content": "..."}, ...]'),
    ] = None,
) -> None:
    """Ask a question; the answer cites the sentences it rests on."""
    settings = settings_for(index)
    filters = {"region": region, "date_from": date_from, "date_to": date_to, "source": source}
    turns = read_history(history) if history else None
    try:
        answer = rag.ask(question, settings=settings, filters=filters, k=k, history=turns)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
    else:
        print_answer(answer)


@app.command()
def docs(index: IndexOpt = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the indexed briefings with their sections."""
    engine = rag.get_engine(settings_for(index))
    infos = engine.documents()
    sections = engine.sections()
    if as_json:
        print(json.dumps([{**info.__dict__, "sections": sections.get(info.doc_id, [])} for info in infos], indent=2))
        return
    table = Table(title=f"{len(infos)} briefings")
    for col in ("title", "date", "region", "sections", "chunks", "ingested", "file"):
        table.add_column(col)
    for d in infos:
        ingested = datetime.fromtimestamp(d.ingested_at).strftime("%Y-%m-%d %H:%M")
        # The heading path's last part, without the title repeated before each section.
        heads = [h.rsplit(" > ", 1)[-1] for h in sections.get(d.doc_id, []) if h != d.title]
        table.add_row(
            d.title, d.date or "", d.region or "", "\n".join(heads), str(d.n_chunks), ingested, Path(d.source).name
        )
    console.print(table)


@app.command()
def check(
    index: IndexOpt = None,
    repair: Annotated[bool, typer.Option(help="Fix what can be fixed")] = False,
) -> None:
    """Verify that catalog, Chroma and BM25 agree (after a crash, say)."""
    report = rag.check(repair=repair, settings=settings_for(index))
    console.print(
        f"{report.documents} documents, {report.chunks} chunks, {report.vectors} vectors; "
        f"{len(report.orphan_vectors)} orphan vectors, {len(report.missing_vectors)} missing vectors, "
        f"{len(report.bad_offsets)} chunks with bad offsets, {len(report.bm25_mismatch)} BM25 disagreements"
        + ("; an ingest was interrupted" if report.interrupted_ingest else "")
    )
    if repair:
        console.print("[green]repaired[/]")
    elif not report.ok:
        console.print("[yellow]run `rag check --repair` to fix[/]")
        raise typer.Exit(1)


BriefingArg = Annotated[str, typer.Argument(help="The briefing: its file's path, its file name, or its doc id")]


@app.command()
def remove(briefing: BriefingArg, index: IndexOpt = None) -> None:
    """Take one briefing out of the index (its file stays on disk)."""
    try:
        info = rag.remove(briefing, settings=settings_for(index))
    except (LookupError, ValueError) as exc:  # not indexed, or a name two files share
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"removed “{info.title}” ({info.source}); the file stays on disk")


@app.command()
def reindex(briefing: BriefingArg, index: IndexOpt = None) -> None:
    """Read one briefing's file again: re-chunked and re-embedded even if unchanged."""
    try:
        report = rag.reindex(briefing, settings=settings_for(index))
    except (LookupError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    print_report(report)
    if report.failed:
        raise typer.Exit(1)


from rag.evaluation.cli import eval_command  # noqa: E402

app.command("eval")(eval_command)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option(help="Interface to listen on; a non-loopback one needs logins (RAG_UI_USERS)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 7860,
    index: IndexOpt = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Serve a non-loopback host without a login (warns)")
    ] = False,
) -> None:
    """Serve the chat (Gradio) at http://HOST:PORT; logins from RAG_UI_USERS (rag users add) or RAG_UI_AUTH."""
    settings = settings_for(index)
    from ui.app import start  # lazily: gradio is heavy and only this command needs it

    try:
        start(settings, host=host, port=port, no_auth=no_auth)
    except ValueError as exc:  # a bad users file, or a network-facing host without logins
        err.print(f"[red]configuration error:[/] {exc}")
        raise typer.Exit(2) from exc


users_app = typer.Typer(help="Chat logins: readers ask, editors also change the library.", no_args_is_help=True)
app.add_typer(users_app, name="users")
UsersFileOpt = Annotated[Path | None, typer.Option("--file", help="Users file (default: RAG_UI_USERS)")]


def _users_file(file: Path | None) -> Path:
    if file is None:
        configured = settings_for(None).ui_users
        if not configured:
            err.print("[red]no users file:[/] pass --file PATH or set RAG_UI_USERS")
            raise typer.Exit(2)
        file = Path(configured)
    return file.expanduser()


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name")],
    role: Annotated[str, typer.Option(help="reader (asks) or editor (also uploads, deletes, re-indexes)")] = "reader",
    file: UsersFileOpt = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Add a login, or replace its password and role; only a scrypt hash is stored."""
    from rag.users import add_user

    path = _users_file(file)
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    )
    try:
        replaced = add_user(path, name, role, password)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    console.print(f"{'replaced' if replaced else 'added'} {name} ({role}) in {path}")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument(help="Login name")], file: UsersFileOpt = None) -> None:
    """Remove a login."""
    from rag.users import remove_user

    path = _users_file(file)
    try:
        removed = remove_user(path, name)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    if not removed:
        err.print(f"[red]error:[/] no login {name!r} in {path}")
        raise typer.Exit(1)
    console.print(f"removed {name} from {path}")


@users_app.command("list")
def users_list(file: UsersFileOpt = None) -> None:
    """Login names and roles (never the hashes)."""
    from rag.users import read_users

    path = _users_file(file)
    try:
        users = read_users(path)
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    for user in users.values():
        typer.echo(f"{user.name}\t{user.role}")  # tab-separated for scripts; rich would expand the tab


from rag.bench import bench_command  # noqa: E402

app.command("bench")(bench_command)

from rag.training.cli import train_reader_command  # noqa: E402
from rag.training.confidence import train_confidence_command  # noqa: E402

app.command("train-reader")(train_reader_command)
app.command("train-confidence")(train_confidence_command)

from rag.feedback import feedback_app  # noqa: E402

app.add_typer(feedback_app, name="feedback")  # rag feedback export


def main() -> None:  # pragma: no cover - console script entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
