"""briefing Q&A: offline question answering over security briefings, every claim cited.

>>> import rag
>>> rag.ingest(["corpus/briefings"], index_dir="/tmp/idx")
>>> rag.ask("Who joined the patrol and where?", index_dir="/tmp/idx").text
"""

from .offline import go_offline

go_offline()  # before anything below imports huggingface, chromadb or gradio

from collections.abc import Iterable  # noqa: E402

from .catalog import Filters  # noqa: E402
from .config import Settings  # noqa: E402
from .engine import Engine, get_engine  # noqa: E402
from .ingest import Progress  # noqa: E402
from .models import Answer, Chunk, Citation, Document, FileResult, IngestReport, Passage  # noqa: E402


def _settings(index_dir: str | None, settings: Settings | None) -> Settings:
    base = settings or Settings.from_env()
    return base.with_(index_dir=str(index_dir)) if index_dir else base


def ingest(
    paths: Iterable[str] | str,
    *,
    index_dir: str | None = None,
    prune: bool = False,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest files or folders; unchanged files are skipped, changed ones replaced."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    return get_engine(_settings(index_dir, settings)).ingest(paths, prune=prune, progress=progress)


def ask(
    question: str,
    *,
    index_dir: str | None = None,
    history: list[dict] | None = None,
    filters: dict | Filters | None = None,
    k: int | None = None,
    settings: Settings | None = None,
) -> Answer:
    """Answer from the indexed briefings, with a citation for every statement."""
    return get_engine(_settings(index_dir, settings)).ask(question, history=history, filters=filters, k=k)


def ask_stream(
    question: str,
    *,
    index_dir: str | None = None,
    history: list[dict] | None = None,
    filters: dict | Filters | None = None,
    k: int | None = None,
    settings: Settings | None = None,
):
    """Like :func:`ask`, streamed: ``("delta", text)`` pieces, then ``("answer", Answer)``."""
    return get_engine(_settings(index_dir, settings)).ask_stream(question, history=history, filters=filters, k=k)


__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "Document",
    "Engine",
    "FileResult",
    "Filters",
    "IngestReport",
    "Passage",
    "Settings",
    "ask",
    "ask_stream",
    "get_engine",
    "ingest",
]
