"""One engine behind every door (Python API, CLI, chat, evaluation).

Answering runs ``condense -> retrieve -> select evidence`` as a LangChain
chain of typed steps (``rag.turn`` names each step's record), then ``compose``
and ``verify citations``. Compose is a generator: it yields the text as it is
written (a generative backend's reply as it streams, or the extractive answer a
sentence at a time) and returns the ``Answer``, so ``ask_stream`` needs no
thread and ``ask`` is the same run with the pieces dropped. A generative backend
replaces only the compose step; evidence selection still runs, so the
extractive answer is always at hand as the fallback.

The library (what is indexed, removing and re-reading one briefing, checking
the index) is here too, so that the chat and the CLI never reach into the index.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.runnables import Runnable, RunnableLambda

from . import answering, conversation
from .catalog import DocInfo, Filters
from .citations import verify
from .config import Settings
from .index import CheckReport, Index
from .ingest import Progress
from .ingest import ingest as run_ingest
from .models import Answer, Document, FileResult, IngestReport
from .retrieval import SEARCHES
from .turn import Condensed, Retrieved, Selected, Turn

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x1f\x7f-\x9f]")  # ANSI escapes, then single controls

A = TypeVar("A", bound=Turn)
B = TypeVar("B", bound=Turn)


def _timed(name: str, step: Callable[[A], B]) -> Runnable[A, B]:
    def run(record: A) -> B:
        t0 = time.perf_counter()
        out = step(record)
        out.timings[name] = round((time.perf_counter() - t0) * 1000, 2)
        return out

    return RunnableLambda(run, name=name)


class NotIndexed(LookupError):
    """No indexed briefing matches what was asked for."""


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = Index(settings)

    # -- ingest -------------------------------------------------------------
    def ingest(self, paths: Iterable[str], *, prune: bool = False, progress: Progress | None = None) -> IngestReport:
        return run_ingest(paths, self.index, prune=prune, progress=progress)

    # -- the library ----------------------------------------------------------
    def documents(self) -> list[DocInfo]:
        """The indexed briefings (no text; ``document()`` has it)."""
        return self.index.documents()

    def document(self, doc_id: str) -> Document | None:
        return self.index.document(doc_id)

    def sections(self) -> dict[str, list[str]]:
        """Each briefing's heading paths, by doc id."""
        return self.index.catalog.sections()

    def regions(self) -> list[str]:
        return self.index.regions()

    def find(self, briefing: str) -> DocInfo | None:
        """The indexed briefing ``briefing`` names: its doc id, its file's path, or
        (without any folder) its file name when exactly one indexed file has it.

        A path is matched exactly, never by its name alone: two folders may
        hold files of the same name. Raises ``ValueError`` for an ambiguous name.
        """
        docs = self.documents()
        by_id = next((d for d in docs if d.doc_id == briefing), None)
        if by_id is not None:
            return by_id
        name = str(briefing)
        if "/" in name or "\\" in name or name.startswith("~"):
            return self.index.catalog.document_by_source(str(Path(name).expanduser().resolve()))
        same = [d for d in docs if Path(d.source).name == name]
        if len(same) > 1:
            raise ValueError(
                f"{len(same)} indexed files are named {name}: " + ", ".join(d.source for d in same) + "; give the path"
            )
        return same[0] if same else None

    def _found(self, briefing: str) -> DocInfo:
        info = self.find(briefing)
        if info is None:
            raise NotIndexed(f"no indexed briefing is {briefing!r}; `rag docs` lists them")
        return info

    def remove(self, briefing: str) -> DocInfo:
        """Take one briefing out of the index (catalog, Chroma and BM25); its file stays on disk.

        Raises ``NotIndexed`` when nothing matches (see ``find``).
        """
        info = self._found(briefing)
        self.index.remove(info.doc_id)
        return info

    def reindex(self, briefing: str) -> IngestReport:
        """Read one briefing's file again and re-chunk and re-embed it, even if unchanged."""
        info = self._found(briefing)
        if not Path(info.source).exists():
            why = f"{Path(info.source).name} is gone from disk; remove it instead"
            return IngestReport(files=[FileResult(info.source, "failed", why)])
        report = self.ingest([info.source])
        if report.unchanged:
            # Unchanged files are skipped by ingest: take it out first, then it is read as new.
            self.index.remove(info.doc_id)
            report = self.ingest([info.source])
            if not report.failed:
                for f in report.files:
                    f.status = "updated" if f.status == "added" else f.status
        return report

    def check(self, *, repair: bool = False) -> CheckReport:
        """Whether catalog, Chroma and BM25 agree (after a crash, say); ``repair`` fixes what it can."""
        return self.index.check(repair=repair)

    def warm_up(self) -> None:
        """Load the models and search indexes now, not at the first question."""
        if self.documents():
            self.ask("warm up")
        else:
            _ = self.index.embedder
        conversation.about("What did the warm-up say?")  # lemminflect reads its tables at first use (~0.4 s)

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

    @cached_property
    def reader(self) -> answering.Reader | None:
        return answering.get_reader(self.settings)

    @cached_property
    def confidence_model(self) -> answering.ConfidenceModel | None:
        return answering.get_confidence_model(self.settings, self.reader)

    # -- the chain's steps ----------------------------------------------------
    def _condense(self, turn: Turn) -> Condensed:
        rewrite = conversation.rewrite(turn.question, list(turn.history))
        query, focus, notes = rewrite.standalone, rewrite.focus, ()
        if self.generative and rewrite.rewritten:
            from .llm import LLMError, generative

            try:
                query = focus = generative.condense(turn.question, list(turn.history), self.llm)
            except LLMError as exc:
                notes = (f"the follow-up was not rewritten by the model ({exc})",)
        return turn.then(Condensed, rewrite=rewrite, query=query, focus=focus, notes=notes)

    def _retrieve(self, c: Condensed) -> Retrieved:
        search = SEARCHES[c.method]
        passages = search(self.index, c.query, c.k, c.filters)
        return c.then(Retrieved, passages=passages, candidates=self._conversation_passages(c, passages, search))

    def _conversation_passages(self, c: Condensed, passages: list, search) -> list:
        """For a follow-up, the retrieved passages of the briefing the conversation is about.

        That briefing is the one the previous turn (question and answer) retrieves
        first; it is kept unless the follow-up names something it does not mention,
        which is a switch to another event. All passages stay in ``Answer.passages``.
        """
        rewrite = c.rewrite
        if not rewrite.rewritten or not passages:
            return passages
        earlier = search(self.index, rewrite.earlier, 1, c.filters)
        if not earlier:
            return passages
        doc_id = earlier[0].doc_id
        doc = self.index.document(doc_id)
        if doc is None or answering.absent_names(rewrite.focus, [doc.text]):
            return passages
        return [p for p in passages if p.doc_id == doc_id] or passages

    def _select(self, r: Retrieved) -> Selected:
        doc_texts = {}
        for p in r.candidates:
            if p.doc_id not in doc_texts:
                doc = self.index.document(p.doc_id)
                doc_texts[p.doc_id] = doc.text if doc else ""
        # The rewritten question decides what is asked (its cues, terms and names):
        # for a follow-up it is the current turn with its references resolved.
        ranked = answering.score_evidence(
            r.focus, r.candidates, self.index.embedder, doc_texts=doc_texts, embed_units=self.settings.embed_units
        )
        selection = answering.select(
            r.focus,
            ranked,
            self.settings,
            reader=self.reader,
            confidence_model=self.confidence_model,
            doc_texts=doc_texts,
            known=r.rewrite.earlier,
        )
        return r.then(Selected, selection=selection)

    @cached_property
    def prepare(self) -> Runnable[Turn, Selected]:
        """The steps up to the evidence: ``Turn -> Condensed -> Retrieved -> Selected``."""
        return _timed("condense", self._condense) | _timed("retrieve", self._retrieve) | _timed("select", self._select)

    def _compose(self, s: Selected) -> Generator[str, None, Answer]:
        """Yield the answer's text as it is written; return the ``Answer``."""

        def extractive_answer() -> Answer:
            return answering.compose(s.question, s.selection, s.passages)

        if self.generative:
            from .llm import LLMError, generative

            try:
                answer = yield from generative.compose(s.query, s.passages, self.llm, extractive_answer, s.selection)
                answer.question = s.question
                answer.confidence = s.selection.confidence
                return answer
            except LLMError as exc:
                answer = extractive_answer()
                answer.notes.append(f"generative answer unavailable: {exc}; this is the extractive answer")
        else:
            answer = extractive_answer()
        parts = answer.text.replace("] ", "]\n").split("\n")  # one sentence and its markers each
        for i, part in enumerate(parts):
            yield part if i == len(parts) - 1 else part + " "
        return answer

    def _verify(self, s: Selected, answer: Answer) -> Answer:
        answer = verify(answer, self.index.catalog)
        if not answer.refused and not answer.citations:
            answer = answering.refusal(s.question, s.passages, s.selection)
        return answer

    # -- asking ---------------------------------------------------------------
    def _turn(self, question: str, history, filters, k: int | None, method: str) -> Turn:
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
        if method not in SEARCHES:
            raise ValueError(f"unknown search method {method!r}; use one of {', '.join(SEARCHES)}")
        return Turn(
            question=question,
            # Checked at the door: a list of strings from the JSON API raised an AttributeError
            # deep in the rewrite; now the error names the turn that is wrong.
            history=tuple(conversation.parse_history(history or [])),
            filters=Filters.parse(filters),
            k=k or self.settings.k,
            method=method,
        )

    def ask_stream(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: Filters | dict | None = None,
        k: int | None = None,
        method: str = "hybrid",
    ) -> Iterator[tuple[str, Any]]:
        """Yield ``("delta", text)`` pieces, then ``("answer", Answer)``.

        With a generative backend the deltas are the model's raw reply as it
        streams; the final ``Answer`` is what survived citation enforcement (or
        the extractive fallback) and replaces them. Extractive answers come as
        sentence-sized deltas. A bad question or filter raises ``ValueError``
        before anything is yielded.
        """
        turn = self._turn(question, history, filters, k, method)
        return self._stream(turn)

    def _stream(self, turn: Turn) -> Iterator[tuple[str, Any]]:
        t0 = time.perf_counter()
        selected = self.prepare.invoke(turn)
        t1 = time.perf_counter()
        composing = self._compose(selected)
        while True:
            try:
                yield ("delta", next(composing))
            except StopIteration as done:
                answer: Answer = done.value
                break
        t2 = time.perf_counter()
        answer = self._verify(selected, answer)
        t3 = time.perf_counter()
        answer.notes[:0] = selected.notes
        answer.standalone_question = selected.query
        answer.timings = {
            **selected.timings,
            "compose": round((t2 - t1) * 1000, 2),
            "verify": round((t3 - t2) * 1000, 2),
            "total": round((t3 - t0) * 1000, 2),
        }
        yield ("answer", answer)

    def evidence(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: Filters | dict | None = None,
        k: int | None = None,
        method: str = "hybrid",
    ) -> Selected:
        """What an answer would be made from (the retrieved passages and the
        selection, its confidence and the confidence model's inputs), without
        composing it: what ``rag train-confidence`` fits on."""
        return self.prepare.invoke(self._turn(question, history, filters, k, method))

    def ask(
        self,
        question: str,
        *,
        history: list[dict] | None = None,
        filters: Filters | dict | None = None,
        k: int | None = None,
        method: str = "hybrid",
    ) -> Answer:
        """The answer, with a citation for every statement (``ask_stream`` without the deltas)."""
        *_, (_, answer) = self.ask_stream(question, history=history, filters=filters, k=k, method=method)
        return answer


_ENGINES: dict[Settings, Engine] = {}
_LOCK = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """One engine per settings per process: models and indexes load once."""
    with _LOCK:
        engine = _ENGINES.get(settings)
        if engine is None:
            engine = _ENGINES[settings] = Engine(settings)
        return engine
