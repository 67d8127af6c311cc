"""Candidate evidence: the citable units of the retrieved passages, each
scored against the question by cheap signals (lexical overlap, cues, names,
retrieval rank) and the bi-encoder, best first. The reader re-scores the best
of them (rag/answering/readers/); selection picks from the result.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..embedders import Embedder
from ..lexical import tokenize
from ..models import Citation, Passage
from ..sentences import Unit, passage_units, split_row
from .question import CORRECTION, cue_score, name_coverage, question_cues, question_names, terms


@dataclass
class Evidence:
    unit: Unit
    passage: Passage
    score: float
    parts: dict[str, float] = field(default_factory=dict)

    def context(self) -> str:
        """Where the unit sits, as the reader was trained to see it: "title > heading"."""
        return " > ".join(x for x in (self.passage.title, section(self.passage)) if x)

    def reader_text(self) -> str:
        head = self.context()
        return f"{head}. {self.unit.readable()}" if head else self.unit.readable()

    def cite(self, n: int) -> Citation:
        p = self.passage
        return Citation(
            n=n,
            source=p.source,
            title=p.title,
            date=p.date,
            region=p.region,
            passage=p.text,
            quote=self.unit.text,
            start=self.unit.start,
            end=self.unit.end,
            score=round(self.score, 4),
            doc_id=p.doc_id,
            chunk_id=p.chunk_id,
        )


class _VectorCache:
    """Sentence vectors by embedder and text: the same passages come back for
    related questions (keyed by embedder too, so backends never mix).

    Each text is encoded on its own. onnx-int8 quantises activations with one
    scale for the whole batch, so a vector encoded beside other texts differs
    (cosine down to 0.987) from the same text alone (torch: in the last bits,
    from padding); cached, it made an answer
    depend on which questions the process had asked before (4 of 40 sample
    questions changed when asked in reverse order). Alone is also no slower
    here: short sentences batched together pay for padding to the longest.
    """

    def __init__(self, size: int = 20000) -> None:
        self.size = size
        self.data: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()

    def encode(self, embedder: Embedder, texts: list[str]) -> np.ndarray:
        keys = [(embedder.name, t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self.data))
        if missing:
            for key in missing:
                self.data[key] = embedder.encode([key[1]])[0]
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return np.stack([self.data[k] for k in keys]) if keys else np.zeros((0, embedder.dim), np.float32)


_CACHE = _VectorCache()


def unit_vectors(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """The vectors of citable units' texts, from the cache (each encoded alone: see ``_VectorCache``)."""
    return _CACHE.encode(embedder, texts)


def _headings_of(passage: Passage) -> set[str]:
    """The title and heading path of a passage, normalised: context, never a unit."""
    names = [passage.title, *passage.heading.split(" > ")]
    return {" ".join(n.lower().strip(" #*_").split()) for n in names if n.strip()}


def section(passage: Passage) -> str:
    """The heading of the section a passage sits in; empty when it sits under
    the title alone (a heading equal to the title is the title, or its fallback:
    the file name for an untitled file)."""
    if not passage.heading or passage.heading == passage.title:
        return ""
    return passage.heading.rsplit(" > ", 1)[-1]


def _units(passages: list[Passage]) -> list[tuple[Unit, Passage]]:
    seen: set[str] = set()
    out = []
    for p in passages:
        header_line = p.context.splitlines()[-1] if p.kind == "table" and "\n" in p.context else ""
        header = tuple(split_row(header_line)) if header_line.startswith("|") else ()
        headings = _headings_of(p)
        for unit in passage_units(p, header):
            key = " ".join(unit.text.lower().split())
            if key.strip(" #*_.") in headings:
                continue  # a heading line is context for the units below it, not an answer
            if key not in seen:
                seen.add(key)
                out.append((unit, p))
    return out


def briefing_texts(passages: list[Passage], doc_texts: dict[str, str] | None = None) -> dict[str, str]:
    """doc_id -> where a briefing's names are looked up: its whole text when
    known, else the title and text of its first passage."""
    texts: dict[str, str] = {}
    for p in passages:
        if p.doc_id not in texts:
            texts[p.doc_id] = (doc_texts or {}).get(p.doc_id) or f"{p.title} {p.text}"
    return texts


def score_evidence(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    *,
    doc_texts: dict[str, str] | None = None,
    embed_units: int | None = None,
) -> list[Evidence]:
    """The units of ``passages`` scored against the question, best first.

    ``question`` is what is asked: for a follow-up, the current turn with its
    references resolved (its focus), not the words of earlier turns.
    ``doc_texts`` (doc_id -> text) lets names be looked up in the whole
    briefing rather than the passage alone.
    """
    pairs = _units(passages)
    if not pairs:
        return []
    cues = question_cues(question)
    q_terms = terms(question)
    names = question_names(question)
    unit_terms = tokenize([u.readable() for u, _ in pairs])
    context_terms = tokenize([f"{p.title} {p.heading}" for _, p in pairs])
    best_rank = {p.chunk_id: p.rank for _, p in pairs}
    coverage = name_coverage(question, briefing_texts([p for _, p in pairs], doc_texts))
    missing_in = {d: 1 - len(got) / len(names) if names else 0.0 for d, got in coverage.items()}
    cheap = []
    for i, (unit, passage) in enumerate(pairs):
        own, ctx = set(unit_terms[i]), set(context_terms[i])
        lexical = (len(q_terms & own) + 0.5 * len(q_terms & (ctx - own))) / len(q_terms) if q_terms else 0.0
        cue = cue_score(cues, unit.readable())
        correction = 0.05 if "number" in cues and CORRECTION.search(unit.text) else 0.0
        prior = 0.05 / best_rank[passage.chunk_id]
        partial = 0.35 * lexical + 0.12 * cue + correction + prior - 0.2 * missing_in[passage.doc_id]
        cheap.append((partial, i, lexical, cue))
    # Embedding every unit is most of an answer's time; the units that share
    # nothing with the question and sit in low passages cannot win, so only
    # the best ``embed_units`` by the cheap parts of the score are embedded.
    cheap.sort(reverse=True)
    kept = cheap[:embed_units] if embed_units else cheap
    vectors = unit_vectors(embedder, [f"{pairs[i][1].title}. {pairs[i][0].readable()}" for _, i, _, _ in kept])
    q_vec = np.asarray(embedder.embed_query(question), dtype=np.float32)
    dense = vectors @ q_vec
    out = []
    for (partial, i, lexical, cue), sim in zip(kept, dense, strict=True):
        unit, passage = pairs[i]
        parts = {"dense": float(sim), "lexical": lexical, "cue": cue, "missing_names": missing_in[passage.doc_id]}
        out.append(Evidence(unit, passage, 0.55 * float(sim) + partial, parts))
    out.sort(key=lambda e: e.score, reverse=True)
    return out
