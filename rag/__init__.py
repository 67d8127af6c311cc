"""briefing Q&A: offline question answering over security briefings, every claim cited.

>>> import rag
>>> rag.ingest(["corpus/briefings"], index_dir="/tmp/idx")
>>> rag.ask("Who joined the patrol and where?", index_dir="/tmp/idx").text
>>> [d.title for d in rag.documents(index_dir="/tmp/idx")]
>>> chain = rag.as_runnable(index_dir="/tmp/idx") | (lambda answer: answer.text)  # LangChain LCEL
"""

from .offline import go_offline

go_offline()  # before anything below imports huggingface, chromadb or gradio

from collections.abc import Iterable  # noqa: E402

from langchain_core.runnables import Runnable  # noqa: E402

from . import runnables  # noqa: E402
from .catalog import DocInfo, Filters  # noqa: E402
from .config import Settings  # noqa: E402
from .engine import Engine, NotIndexed, get_engine  # noqa: E402
from .index import CheckReport  # noqa: E402
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


def documents(*, index_dir: str | None = None, settings: Settings | None = None) -> list[DocInfo]:
    """The indexed briefings: title, date, region, source file, chunks, when ingested."""
    return get_engine(_settings(index_dir, settings)).documents()


def remove(briefing: str, *, index_dir: str | None = None, settings: Settings | None = None) -> DocInfo:
    """Take one briefing out of the index; its file stays on disk.

    ``briefing`` is a doc id, the file's path, or its bare file name when that is
    unique. Raises ``NotIndexed`` when nothing matches, ``ValueError`` when a name
    is ambiguous.
    """
    return get_engine(_settings(index_dir, settings)).remove(briefing)


def reindex(briefing: str, *, index_dir: str | None = None, settings: Settings | None = None) -> IngestReport:
    """Read one briefing's file again (re-chunked and re-embedded even if unchanged)."""
    return get_engine(_settings(index_dir, settings)).reindex(briefing)


def check(*, repair: bool = False, index_dir: str | None = None, settings: Settings | None = None) -> CheckReport:
    """Whether catalog, Chroma and BM25 agree; ``repair=True`` fixes what can be fixed."""
    return get_engine(_settings(index_dir, settings)).check(repair=repair)


def as_retriever(
    *,
    k: int | None = None,
    method: str = "hybrid",
    index_dir: str | None = None,
    settings: Settings | None = None,
    **filters: str | list[str],
) -> runnables.BriefingRetriever:
    """A LangChain ``BaseRetriever`` over the index: ``rag.as_retriever(region="East Asia").invoke("patrol")``.

    ``filters`` are ``region``, ``date_from``, ``date_to`` and ``source``, as for :func:`ask`.
    """
    return runnables.as_retriever(get_engine(_settings(index_dir, settings)), k=k, method=method, **filters)


def as_runnable(*, index_dir: str | None = None, settings: Settings | None = None) -> Runnable[str | dict, Answer]:
    """The answering chain as a LangChain ``Runnable``: a question (or ``{question, history, filters, k}``)
    in, an :class:`Answer` out."""
    return runnables.as_runnable(get_engine(_settings(index_dir, settings)))


__all__ = [
    "Answer",
    "CheckReport",
    "Chunk",
    "Citation",
    "DocInfo",
    "Document",
    "Engine",
    "FileResult",
    "Filters",
    "IngestReport",
    "NotIndexed",
    "Passage",
    "Settings",
    "ask",
    "as_retriever",
    "as_runnable",
    "ask_stream",
    "check",
    "documents",
    "get_engine",
    "ingest",
    "reindex",
    "remove",
]
