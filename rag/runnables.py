"""LangChain doors onto the engine: a retriever and a runnable, for LCEL chains.

``as_retriever`` is the hybrid search (the same one answering uses, filters
resolved by the catalog) as a ``BaseRetriever``: LangChain ``Document``s with
each passage's fields in ``metadata``. ``as_runnable`` is the whole answering
chain as a ``Runnable``: a question, or ``{question, history, filters, k}``, in;
an ``rag.Answer`` out, its citations checked against the briefings.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict

from .catalog import Filters
from .engine import Engine
from .models import Answer
from .retrieval import SEARCHES


class BriefingRetriever(BaseRetriever):
    """The engine's search as a LangChain retriever (passage fields in metadata)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: Engine
    k: int = 6
    filters: Filters = Filters()
    method: str = "hybrid"

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        passages = SEARCHES[self.method](self.engine.index, query, self.k, self.filters)
        return [LCDocument(page_content=p.text, metadata=p.to_dict(), id=p.chunk_id) for p in passages]


def as_retriever(engine: Engine, *, k: int | None = None, method: str = "hybrid", **filters: Any) -> BriefingRetriever:
    """``filters``: ``region``, ``date_from``, ``date_to``, ``source`` (as for ``ask``), checked now."""
    if method not in SEARCHES:
        raise ValueError(f"unknown search method {method!r}; use one of {', '.join(SEARCHES)}")
    return BriefingRetriever(engine=engine, k=k or engine.settings.k, filters=Filters.parse(filters), method=method)


def as_runnable(engine: Engine) -> Runnable[str | dict, Answer]:
    def answer(request: str | dict) -> Answer:
        if isinstance(request, str):
            return engine.ask(request)
        if not isinstance(request, dict):
            raise ValueError(f"give a question or a dict with 'question', not {type(request).__name__}")
        unknown = set(request) - {"question", "history", "filters", "k"}
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}; use question, history, filters, k")
        return engine.ask(
            request.get("question"),
            history=request.get("history"),
            filters=request.get("filters"),
            k=request.get("k"),
        )

    return RunnableLambda(answer, name="briefing_qa")
