"""One engine behind every door (Python API, CLI, chat, evaluation).

Answering is a LangChain runnable chain:
``condense -> retrieve -> select evidence -> compose -> verify citations``.
A generative backend replaces only the ``compose`` step; evidence selection
still runs, so the extractive answer is always at hand as the fallback.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from langchain_core.runnables import Runnable, RunnableLambda

from . import answering, conversation
from .catalog import Filters
from .citations import verify
from .config import Settings
from .index import Index
from .ingest import Progress
from .ingest import ingest as run_ingest
from .models import Answer, IngestReport
from .retrieval import SEARCHES

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f]")  # ANSI escapes, then single controls


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = Index(settings)

    # -- ingest -------------------------------------------------------------
    def ingest(self, paths: Iterable[str], *, prune: bool = False, progress: Progress | None = None) -> IngestReport:
        return run_ingest(paths, self.index, prune=prune, progress=progress)

    # -- the chain ----------------------------------------------------------
    def _timed(self, name: str, fn):
        def step(state: dict[str, Any]) -> dict[str, Any]:
            t0 = time.perf_counter()
            state = fn(state)
            state["timings"][name] = round((time.perf_counter() - t0) * 1000, 2)
            return state

        return RunnableLambda(step, name=name)

    # -- generative backend (rag/llm): replaces compose, condenses follow-ups --
    @property
    def generative(self) -> bool:
        return self.settings.llm.strip().lower() not in ("", "extractive")

    @cached_property
    def llm(self):
        from .llm import get_backend

        return get_backend(self.settings)

    def check_llm(self) -> str | None:
        """None when the configured backend answers, else what is wrong (for a startup banner)."""
        if not self.generative:
            return None
        from .llm import LLMError

        try:
            self.llm.check()
        except LLMError as exc:
            return str(exc)
        return None

    def _condense(self, state: dict[str, Any]) -> dict[str, Any]:
        rewrite = conversation.rewrite(state["question"], state["history"])
        state["rewrite"] = rewrite
        state["query"], state["focus"] = rewrite.standalone, rewrite.focus
        if self.generative and rewrite.rewritten:
            from .llm import LLMError, generative

            try:
                state["query"] = state["focus"] = generative.condense(state["question"], state["history"], self.llm)
            except LLMError as exc:
                state["notes"].append(f"the follow-up was not rewritten by the model ({exc})")
        return state

    def _retrieve(self, state: dict[str, Any]) -> dict[str, Any]:
        search = SEARCHES[state.get("method", "hybrid")]
        state["passages"] = search(self.index, state["query"], state["k"], state["filters"])
        state["candidates"] = self._conversation_passages(state, search)
        return state

    def _conversation_passages(self, state: dict[str, Any], search) -> list:
        """For a follow-up, the retrieved passages of the briefing the conversation is about.

        That briefing is the one the previous turn (question and answer) retrieves
        first; it is kept unless the follow-up names something it does not mention,
        which is a switch to another event. All passages stay in ``Answer.passages``.
        """
        rewrite = state["rewrite"]
        passages = state["passages"]
        if not rewrite.rewritten or not passages:
            return passages
        earlier = search(self.index, f"{rewrite.previous} {rewrite.previous_answer}".strip(), 1, state["filters"])
        if not earlier:
            return passages
        doc_id = earlier[0].doc_id
        doc = self.index.document(doc_id)
        if doc is None or answering.absent_names(rewrite.focus, [doc.text]):
            return passages
        return [p for p in passages if p.doc_id == doc_id] or passages

    def _select(self, state: dict[str, Any]) -> dict[str, Any]:
        doc_texts = {}
        for p in state["candidates"]:
            if p.doc_id not in doc_texts:
                doc = self.index.document(p.doc_id)
                doc_texts[p.doc_id] = doc.text if doc else ""
        # The rewritten question decides what is asked (its cues, terms and names):
        # for a follow-up it is the current turn with its references resolved.
        ranked = answering.score_evidence(
            state["focus"],
            state["candidates"],
            self.index.embedder,
            doc_texts=doc_texts,
            embed_units=self.settings.embed_units,
        )
        state["selection"] = answering.select(
            state["focus"], ranked, self.settings, reader=self.reader, doc_texts=doc_texts
        )
        return state

    @cached_property
    def reader(self) -> answering.Reader | None:
        return answering.get_reader(self.settings)

    def _compose(self, state: dict[str, Any]) -> dict[str, Any]:
        selection = state["selection"]

        def extractive_answer() -> Answer:
            return answering.compose(state["question"], selection, state["passages"])

        if not self.generative:
            state["answer"] = extractive_answer()
            return state
        from .llm import LLMError, generative

        try:
            answer = generative.compose(
                state["query"], state["passages"], self.llm, extractive_answer, state["on_delta"], selection
            )
            answer.question = state["question"]
            answer.confidence = selection.confidence
        except LLMError as exc:
            answer = extractive_answer()
            answer.notes.append(f"generative answer unavailable: {exc}; this is the extractive answer")
        state["answer"] = answer
        return state

    def _verify(self, state: dict[str, Any]) -> dict[str, Any]:
        answer = verify(state["answer"], self.index.catalog)
        if not answer.refused and not answer.citations:
            answer = answering.refusal(state["question"], state["passages"], state["selection"])
        state["answer"] = answer
        return state

    @cached_property
    def chain(self) -> Runnable:
        return (
            self._timed("condense", self._condense)
            | self._timed("retrieve", self._retrieve)
            | self._timed("select", self._select)
            | self._timed("compose", self._compose)
            | self._timed("verify", self._verify)
        )

    def ask(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: Filters | dict | None = None,
        k: int | None = None,
        method: str = "hybrid",
        on_delta=None,
    ) -> Answer:
        """``on_delta(text)``, if given, receives a generative backend's reply as it streams."""
        question = "" if question is None else question
        if not isinstance(question, str):
            raise ValueError("the question must be text")
        # Control characters (terminal escapes, NULs from a paste) become spaces.
        question = " ".join(_CONTROL.sub(" ", question).split())
        if not question:
            raise ValueError("the question is empty; type a question about the briefings")
        if len(question) > MAX_QUESTION_CHARS:
            # Refused, not truncated: a cut-off question would be answered as a different question.
            raise ValueError(
                f"the question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}; "
                "ask a shorter question"
            )
        t0 = time.perf_counter()
        state = self.chain.invoke(
            {
                "question": question,
                "history": list(history or []),
                "filters": Filters.parse(filters),
                "k": k or self.settings.k,
                "method": method,
                "timings": {},
                "notes": [],
                "on_delta": on_delta,
            }
        )
        answer: Answer = state["answer"]
        answer.notes[:0] = state["notes"]
        answer.standalone_question = state["query"]
        answer.timings = {**state["timings"], "total": round((time.perf_counter() - t0) * 1000, 2)}
        return answer

    def ask_stream(
        self,
        question: str,
        history: list[dict] | None = None,
        filters: Filters | dict | None = None,
        k: int | None = None,
        method: str = "hybrid",
    ) -> Iterator[tuple[str, Any]]:
        """Yield ``("delta", text)`` pieces, then ``("answer", Answer)``.

        With a generative backend the deltas are the model's raw reply as it
        streams; the final ``Answer`` is what survived citation enforcement (or
        the extractive fallback) and replaces them. Extractive answers come as
        a few sentence-sized deltas. Errors (an empty question) raise here.
        """
        pieces: queue.Queue = queue.Queue()
        done = object()
        result: dict[str, Any] = {}

        def run() -> None:
            try:
                result["answer"] = self.ask(
                    question,
                    history=history,
                    filters=filters,
                    k=k,
                    method=method,
                    on_delta=lambda text: pieces.put(text),
                )
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                result["error"] = exc
            finally:
                pieces.put(done)

        threading.Thread(target=run, name="rag-ask-stream", daemon=True).start()
        streamed = False
        while (piece := pieces.get()) is not done:
            streamed = True
            yield ("delta", piece)
        if "error" in result:
            raise result["error"]
        answer: Answer = result["answer"]
        if not streamed:
            parts = answer.text.replace("] ", "]\n").split("\n")  # one sentence and its markers each
            for i, part in enumerate(parts):
                yield ("delta", part if i == len(parts) - 1 else part + " ")
        yield ("answer", answer)


_ENGINES: dict[Settings, Engine] = {}
_LOCK = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """One engine per settings per process: models and indexes load once."""
    with _LOCK:
        engine = _ENGINES.get(settings)
        if engine is None:
            engine = _ENGINES[settings] = Engine(settings)
        return engine
