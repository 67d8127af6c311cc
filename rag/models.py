"""Plain dataclasses for what crosses module lines."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One briefing as extracted: ``text`` is what every offset points into."""

    doc_id: str  # sha256 of the extracted text
    source: str  # absolute path of the file it came from
    title: str
    date: str | None  # ISO yyyy-mm-dd
    region: str | None
    text: str
    sha256: str  # of the file's bytes


@dataclass(frozen=True)
class Chunk:
    """A span of a document: ``document.text[start:end] == body``.

    ``context`` (title, heading path, a split table's header row) is prepended
    for embedding and BM25 but is not part of the span.
    """

    chunk_id: str
    doc_id: str
    ord: int
    start: int
    end: int
    body: str
    heading: str
    context: str
    kind: str = "text"  # "text" or "table"

    @property
    def search_text(self) -> str:
        return f"{self.context}\n{self.body}" if self.context else self.body


@dataclass
class Passage:
    """A retrieved chunk with the metadata a reader needs to judge it."""

    chunk_id: str
    doc_id: str
    source: str
    title: str
    date: str | None
    region: str | None
    heading: str
    text: str
    start: int
    end: int
    score: float
    rank: int
    dense_rank: int | None = None
    bm25_rank: int | None = None
    kind: str = "text"
    context: str = ""  # heading path, and a split table's header row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Citation:
    """One ``[n]`` marker: the quoted sentence and where it sits in its source.

    ``start``/``end`` are offsets into the document's extracted text, so
    ``document.text[start:end] == quote``.
    """

    n: int
    source: str
    title: str
    date: str | None
    region: str | None
    passage: str
    quote: str
    start: int
    end: int
    score: float
    doc_id: str = ""
    chunk_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    standalone_question: str = ""
    backend: str = "extractive"
    notes: list[str] = field(default_factory=list)
    # Calibrated probability that the answer answers the question (the reader's,
    # on the validation part of its training data; with RAG_READER=none the
    # evidence score clipped to [0, 1]); also set on a refusal.
    confidence: float = 0.0
    # A refusal's closest evidence: the best passages found, shown apart from
    # citations because they do not answer.
    closest: list[Citation] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "refused": self.refused,
            "confidence": self.confidence,
            "backend": self.backend,
            "notes": list(self.notes),
            "citations": [c.to_dict() for c in self.citations],
            "closest": [c.to_dict() for c in self.closest],
            "passages": [p.to_dict() for p in self.passages],
            "timings": dict(self.timings),
        }


@dataclass
class FileResult:
    path: str
    status: str  # added | updated | unchanged | removed | failed
    reason: str = ""
    chunks: int = 0


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)

    def _with(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    @property
    def added(self) -> list[FileResult]:
        return self._with("added")

    @property
    def updated(self) -> list[FileResult]:
        return self._with("updated")

    @property
    def unchanged(self) -> list[FileResult]:
        return self._with("unchanged")

    @property
    def removed(self) -> list[FileResult]:
        return self._with("removed")

    @property
    def failed(self) -> list[FileResult]:
        return self._with("failed")

    @property
    def ok(self) -> bool:
        return not self.failed

    def counts(self) -> dict[str, int]:
        return {s: len(self._with(s)) for s in ("added", "updated", "unchanged", "removed", "failed")}

    def to_dict(self) -> dict[str, Any]:
        return {"counts": self.counts(), "files": [asdict(f) for f in self.files]}
