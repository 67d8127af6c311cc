"""Scale fixes found by `rag bench`: BM25 filter masks without a SQL join per query."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import rag
from rag import bench
from rag.catalog import Filters
from rag.chunking import chunk_document
from rag.index import Index
from rag.loaders import load


def test_bm25_filter_masks_match_the_catalog(tmp_path: Path):
    made = bench.generate(tmp_path / "archive", 400, seed=3)
    settings = rag.Settings.from_env(index_dir=str(tmp_path / "index"))
    index = Index(settings)  # catalog and BM25 only: no embedder, no vectors needed
    chunks_of: dict[str, list[str]] = {}  # source -> chunk ids, kept here, independent of the catalog
    for path in sorted((tmp_path / "archive").rglob("*.md")):
        doc = load(path)
        chunks = chunk_document(doc, settings)
        index.catalog.replace_document(doc, chunks)
        chunks_of[doc.source] = [c.chunk_id for c in chunks]
    lexical = index.lexical
    row = {c: i for i, c in enumerate(lexical.ids())}
    regions = index.catalog.regions()
    name = Path(index.catalog.documents()[0].source).name
    cases = [Filters(regions=(regions[0],)), Filters(regions=(regions[1].upper(), regions[2], "Atlantis"))]
    cases += [Filters(date_from="2020-01-01"), Filters(date_to="2018-12-31"), Filters(regions=("Atlantis",))]
    cases += [Filters(regions=(regions[3],), date_from="2017-03-01", date_to="2022-10-31")]
    for q in bench.questions(made["facts"], 3, seed=2):
        cases.append(Filters.parse(q["filters"]))
    for filters in cases:
        expected = np.zeros(len(row), dtype=np.float32)
        expected[[row[c] for c in index.catalog.chunk_ids(filters)]] = 1.0
        assert np.array_equal(lexical.filter_mask(filters), expected), filters
    # A sources filter is answered by the catalog in the mask itself, so compare it with the
    # chunk ids recorded at ingest: a source is named by its full path or its file name.
    sources = sorted(chunks_of)
    for named in [(name,), (sources[1],), (Path(sources[2]).name, sources[3], "nope.md"), ("nope.md",)]:
        wanted = {c for s in sources if s in named or Path(s).name in named for c in chunks_of[s]}
        if named != ("nope.md",):
            assert wanted, named
        expected = np.zeros(len(row), dtype=np.float32)
        expected[[row[c] for c in wanted]] = 1.0
        assert np.array_equal(lexical.filter_mask(Filters(sources=named)), expected), named
    # a new generation invalidates the per-row metadata
    doc = index.catalog.document(index.catalog.documents()[0].doc_id)
    index.catalog.remove_document(doc.doc_id)
    hits = lexical.search("patrol vessels", 50, cases[0])
    assert all(c in set(index.catalog.chunk_ids(cases[0])) for c, _ in hits)


def test_filtered_bm25_ranks_the_allowed_chunks_as_unfiltered_bm25_does(tmp_path: Path):
    """Filtered BM25 ranks only the allowed rows (no weight mask), with unfiltered BM25's scores; ties in row order."""
    made = bench.generate(tmp_path / "archive", 400, seed=4)
    settings = rag.Settings.from_env(index_dir=str(tmp_path / "index"))
    index = Index(settings)
    for path in sorted((tmp_path / "archive").rglob("*.md")):
        doc = load(path)
        index.catalog.replace_document(doc, chunk_document(doc, settings))
    lexical = index.lexical
    row = {c: i for i, c in enumerate(lexical.ids())}
    for q in bench.questions(made["facts"], 4, seed=5):
        filters = Filters.parse(q["filters"])
        allowed = set(index.catalog.chunk_ids(filters))
        ranked = [(c, s) for c, s in lexical.search(q["question"], len(row), Filters()) if c in allowed]
        assert ranked, q
        ranked.sort(key=lambda hit: (-hit[1], row[hit[0]]))  # equal scores: in row order, as filtered BM25 gives them
        for k in (3, 40, len(row)):
            assert lexical.search(q["question"], k, filters) == ranked[:k], (q, k)
