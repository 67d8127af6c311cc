"""One filter rule (``Filters`` docstring), obeyed alike by the catalog, dense and BM25.

The index is real (Chroma, MiniLM, bm25s) and small: same-named files in
several folders, documents with and without a date or a region, and dates that
sit exactly on the bounds the random filters draw.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

import rag
from rag.catalog import Filters
from rag.index import Index

# Every chunk says it, so a query for it reaches every allowed chunk in BM25 too.
WORD = "quartermaster"


@dataclass(frozen=True)
class Spec:
    rel: str
    date: str | None
    region: str | None


SPECS = [
    Spec("a/report.md", "2024-03-01", "East Asia"),
    Spec("b/report.md", "2024-03-10", "Europe"),
    Spec("f/sub/report.md", "2024-03-10", "europe"),
    Spec("g/myreport.md", "2024-03-05", "East Asia"),
    Spec("c/notes.md", None, "Europe"),
    Spec("d/undated.md", None, None),
    Spec("e/summary.md", "2024-03-05", None),
    Spec("h/a_b.md", "2024-02-28", "Middle East"),
    Spec("h/axb.md", "2024-02-28", "Middle East"),
    Spec("i/brief.md", "2024-03-01", "Île-de-France"),  # SQLite's lower() leaves "Î" as it is
]


def _text(i: int, spec: Spec) -> str:
    lines = [f"# Briefing {i} on the {WORD} stores", ""]
    if spec.date:
        lines.append(f"Date: {spec.date}")
    if spec.region:
        lines.append(f"Region: {spec.region}")
    lines += ["", "## Summary", "", f"The {WORD} counted tents, rations and fuel for briefing number {i}.", ""]
    return "\n".join(lines)


@dataclass
class Built:
    index: Index
    root: Path
    doc_of: dict[str, str]  # source -> doc_id
    spec_of: dict[str, Spec]  # source -> what was written


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    base = tmp_path_factory.mktemp("filters")
    root = (base / "docs").resolve()
    for i, spec in enumerate(SPECS):
        path = root / spec.rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_text(i, spec), encoding="utf-8")
    settings = rag.Settings.from_env(index_dir=str(base / "index"))
    report = rag.ingest([str(root)], settings=settings)
    assert report.ok and len(report.added) == len(SPECS), report
    index = rag.get_engine(settings).index
    docs = index.catalog.documents()
    doc_of = {d.source: d.doc_id for d in docs}
    spec_of = {str(root / s.rel): s for s in SPECS}
    assert set(doc_of) == set(spec_of)
    for d in docs:  # the loader read what was written, else the oracle is off
        assert (d.date, d.region) == (spec_of[d.source].date, spec_of[d.source].region), d
    return Built(index, root, doc_of, spec_of)


def oracle(b: Built, f: Filters) -> set[str]:
    """The rule, written out on its own: the sources that ``f`` allows."""

    def ok(source: str, spec: Spec) -> bool:
        if f.regions and (spec.region is None or spec.region.lower() not in {r.lower() for r in f.regions}):
            return False
        if (f.date_from or f.date_to) and spec.date is None:
            return False
        if f.date_from and spec.date < f.date_from:
            return False
        if f.date_to and spec.date > f.date_to:
            return False
        return not f.sources or any(source == s or source.endswith("/" + s) for s in f.sources)

    return {s for s, spec in b.spec_of.items() if ok(s, spec)}


def _sources(b: Built, doc_ids) -> set[str]:
    by_id = {d: s for s, d in b.doc_of.items()}
    return {by_id[d] for d in doc_ids}


def dense(b: Built, f: Filters, id_limit: int | None = None) -> set[str]:
    """``id_limit=0`` takes the path of a broad filter (doc ids to Chroma, not chunk ids)."""
    if id_limit is None:
        hits = b.index.dense_search(WORD, 1000, f)
    else:
        b.index.dense_id_limit = id_limit
        try:
            hits = b.index.dense_search(WORD, 1000, f)
        finally:
            del b.index.dense_id_limit
    rows = b.index.catalog.chunks_with_docs(c for c, _ in hits)
    return {rows[c][1].source for c, _ in hits}


def bm25(b: Built, f: Filters) -> set[str]:
    hits = b.index.bm25_search(WORD, 1000, f)
    rows = b.index.catalog.chunks_with_docs(c for c, _ in hits)
    return {rows[c][1].source for c, _ in hits}


def catalog(b: Built, f: Filters) -> set[str]:
    allowed = b.index.catalog.allowed_doc_ids(f)
    rows = b.index.catalog.chunks_with_docs(b.index.catalog.chunk_ids(f))
    assert {doc.doc_id for _, doc in rows.values()} == (set(b.doc_of.values()) if allowed is None else allowed)
    return {doc.source for _, doc in rows.values()}


def _all_agree(b: Built, f: Filters) -> set[str]:
    want = oracle(b, f)
    assert catalog(b, f) == want, f
    assert dense(b, f) == want, f
    assert dense(b, f, id_limit=0) == want, f
    assert bm25(b, f) == want, f
    return want


def _path(b: Built, rel: str) -> str:
    return str(b.root / rel)


# -- the bugs this rule fixed --------------------------------------------------


def test_undated_documents_fail_a_date_to_bound_in_dense(built: Built) -> None:
    # With a source filter dense search used Chroma's ``where``, where "no date" was 0.
    f = Filters(date_to="2024-12-31", sources=("undated.md", "notes.md", "summary.md"))
    assert dense(built, f) == {_path(built, "e/summary.md")}
    assert _all_agree(built, f) == {_path(built, "e/summary.md")}


def test_full_path_matches_only_that_file_in_dense(built: Built) -> None:
    full = _path(built, "a/report.md")
    assert dense(built, Filters(sources=(full,))) == {full}
    assert _all_agree(built, Filters(sources=(full,))) == {full}


def test_folder_suffix_matches_only_files_in_that_folder(built: Built) -> None:
    assert _all_agree(built, Filters(sources=("sub/report.md",))) == {_path(built, "f/sub/report.md")}
    assert _all_agree(built, Filters(sources=("a/report.md",))) == {_path(built, "a/report.md")}


def test_bare_name_matches_every_file_of_that_name_and_no_other(built: Built) -> None:
    want = {_path(built, r) for r in ("a/report.md", "b/report.md", "f/sub/report.md")}
    assert _all_agree(built, Filters(sources=("report.md",))) == want  # not myreport.md
    # "_" is a character like any other, not SQL's LIKE wildcard
    assert _all_agree(built, Filters(sources=("a_b.md",))) == {_path(built, "h/a_b.md")}
    assert _all_agree(built, Filters(sources=("REPORT.md",))) == set()


def test_documents_without_a_region_fail_every_region_filter(built: Built) -> None:
    f = Filters(regions=("east asia", "Europe", "Middle East"))
    got = _all_agree(built, f)
    assert _path(built, "d/undated.md") not in got and _path(built, "e/summary.md") not in got
    assert _path(built, "c/notes.md") in got and _path(built, "f/sub/report.md") in got
    assert _all_agree(built, Filters(regions=("ÎLE-DE-FRANCE",))) == {_path(built, "i/brief.md")}


# -- the rule over random filters -------------------------------------------------


def _shift(iso: str, days: int) -> str:
    return (date.fromisoformat(iso) + timedelta(days=days)).isoformat()


_DATES = sorted({_shift(s.date, d) for s in SPECS if s.date for d in (-1, 0, 1)})
_REGIONS = sorted({v for s in SPECS if s.region for v in (s.region, s.region.upper(), s.region.lower())}) + ["Atlantis"]
_NAMES = sorted(
    {Path(s.rel).name for s in SPECS}
    | {"/".join(Path(s.rel).parts[-2:]) for s in SPECS}
    | {"sub/report.md", "nope.md", "port.md"}
)


@st.composite
def random_filters(draw) -> tuple[tuple[str, ...], str | None, str | None, tuple[str, ...]]:
    regions = draw(st.lists(st.sampled_from(_REGIONS), max_size=2))
    date_from = draw(st.none() | st.sampled_from(_DATES))
    date_to = draw(st.none() | st.sampled_from(_DATES))
    # full paths are only known once the index is built: ("full", rel) stands for one
    full = st.sampled_from([s.rel for s in SPECS]).map(lambda rel: ("full", rel))
    sources = draw(st.lists(st.sampled_from(_NAMES).map(lambda n: ("name", n)) | full, max_size=3))
    return tuple(regions), date_from, date_to, tuple(sources)


@hsettings(max_examples=40, deadline=None)
@given(drawn=random_filters())
def test_catalog_dense_and_bm25_allow_the_same_documents(built: Built, drawn) -> None:
    regions, date_from, date_to, named = drawn
    sources = tuple(_path(built, v) if kind == "full" else v for kind, v in named)
    _all_agree(built, Filters(regions, date_from, date_to, sources))


def test_no_filter_allows_everything(built: Built) -> None:
    assert _all_agree(built, Filters()) == set(built.spec_of)
    assert built.index.catalog.allowed_doc_ids(Filters()) is None


def test_a_new_catalog_generation_is_filtered_too(tmp_path: Path) -> None:
    from rag.catalog import Catalog
    from rag.models import Chunk, Document

    cat = Catalog(tmp_path / "catalog.sqlite")

    def put(n: int, region: str | None) -> str:
        doc = Document(f"d{n}", f"/x/{n}.md", "t", "2024-01-01", region, "body", "sha")
        cat.replace_document(doc, [Chunk(f"c{n}", doc.doc_id, 0, 0, 4, "body", "", "")])
        return doc.doc_id

    east = Filters(regions=("east",))
    assert cat.allowed_doc_ids(east) == frozenset() and cat.chunk_ids(east) == []
    first = put(1, "East")
    assert cat.allowed_doc_ids(east) == {first}
    second = put(2, "EAST")
    put(3, None)
    assert cat.allowed_doc_ids(east) == {first, second} and cat.chunk_ids(east) == ["c1", "c2"]
    cat.remove_document(first)
    assert cat.allowed_doc_ids(east) == {second}
