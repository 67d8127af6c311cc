"""Citations always match: every ``[n]`` in the answer has one citation, every citation a marker.

A sentence whose citation fails verification (its quote is no longer verbatim
at its offsets in the catalog's document text) is removed with its marker,
never left in the answer uncited; the remaining citations are renumbered and
their markers with them.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

import rag
from rag.catalog import Catalog
from rag.citations import verify
from rag.llm import generative
from rag.models import Answer, Citation, Document
from tests.test_llm import passage, scripted_engine

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "briefings"
QUESTION = "How long did the China-Russia joint air patrol last?"
GOOD = (
    "China and Russia conducted a joint air patrol over the East China Sea and the western Pacific on 29 November 2024."
)
BAD = "The whole mission lasted about eight hours."  # its document text is corrupted below
_MARK = re.compile(r"\[(\d+)\]")


def assert_markers_match(answer: Answer) -> None:
    """The set of markers in the text is the set of citation numbers; each number cited once, 1..N."""
    numbers = [c.n for c in answer.citations]
    assert len(numbers) == len(set(numbers)), f"a citation number repeats: {numbers}"
    assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"citations are not numbered 1..N: {numbers}"
    if answer.refused:
        assert not answer.citations, "a refusal has no citations"
        return
    marks = {int(n) for n in _MARK.findall(answer.text)}
    assert marks == set(numbers), f"markers {sorted(marks)} != citations {numbers} in {answer.text!r}"
    # No sentence is left uncited: the text ends with a marker.
    assert re.search(r"\[\d+\]\s*$", answer.text), f"text ends with an uncited sentence: {answer.text!r}"


def _quotes_are_verbatim(answer: Answer, engine: rag.Engine) -> None:
    for c in answer.citations:
        assert engine.index.catalog.document(c.doc_id).text[c.start : c.end] == c.quote


# -- verify(), on a hand-made answer ----------------------------------------------------
@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    cat = Catalog(tmp_path / "catalog.sqlite")
    text = "Alpha flew north. Bravo sailed south. Charlie stayed home."
    cat.replace_document(Document("d1", "/b/a.md", "A", None, None, text, "x"), [])
    return cat


def _cite(n: int, quote: str, start: int) -> Citation:
    return Citation(
        n=n,
        source="/b/a.md",
        title="A",
        date=None,
        region=None,
        passage="",
        quote=quote,
        start=start,
        end=start + len(quote),
        score=1.0,
        doc_id="d1",
    )


def test_verify_removes_the_sentence_of_a_failed_citation_and_renumbers(catalog: Catalog) -> None:
    answer = Answer(
        question="q",
        refused=False,
        text="Alpha flew north. [1] Bravo sailed west. [2] Charlie stayed home. [3]",
        citations=[
            _cite(1, "Alpha flew north.", 0),
            _cite(2, "Bravo sailed west.", 18),
            _cite(3, "Charlie stayed home.", 38),
        ],
    )
    out = verify(answer, catalog)
    assert out.text == "Alpha flew north. [1] Charlie stayed home. [2]"
    assert [(c.n, c.quote) for c in out.citations] == [(1, "Alpha flew north."), (2, "Charlie stayed home.")]
    assert any("Bravo sailed west" in n for n in out.notes)
    assert_markers_match(out)


def test_verify_keeps_a_sentence_that_still_has_one_valid_marker(catalog: Catalog) -> None:
    answer = Answer(
        question="q",
        refused=False,
        text="Alpha flew north and Bravo sailed. [1] [2] Bravo sailed west. [1]",
        citations=[_cite(1, "Bravo sailed west.", 18), _cite(2, "Alpha flew north.", 0)],
    )
    out = verify(answer, catalog)
    assert out.text == "Alpha flew north and Bravo sailed. [1]"
    assert [(c.n, c.quote) for c in out.citations] == [(1, "Alpha flew north.")]
    assert_markers_match(out)


def test_verify_with_every_citation_failing_leaves_nothing_cited(catalog: Catalog) -> None:
    answer = Answer(
        question="q", refused=False, text="Bravo sailed west. [1]", citations=[_cite(1, "Bravo sailed west.", 18)]
    )
    out = verify(answer, catalog)
    assert out.text == "" and out.citations == []


# -- the engine, with a corrupted catalog ----------------------------------------------------
@pytest.fixture(scope="module")
def corrupted_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    """Three briefings; in the catalog, the document text of "eight hours" no longer matches its chunks."""
    folder = tmp_path_factory.mktemp("cite-corpus")
    for path in sorted(CORPUS.glob("*.md"))[:3]:
        (folder / path.name).write_text(path.read_text())
    settings = rag.Settings.from_env(index_dir=str(tmp_path_factory.mktemp("cite-index")))
    assert rag.ingest([str(folder)], settings=settings).ok
    with sqlite3.connect(Path(settings.index_dir) / "catalog.sqlite") as conn:
        changed = conn.execute(
            "UPDATE documents SET text = replace(text, 'about eight hours', 'about eight hourz') "
            "WHERE text LIKE '%about eight hours%'"
        ).rowcount
    assert changed == 1
    return settings


def test_generative_sentence_whose_citation_fails_is_removed_with_its_marker(corrupted_settings: rag.Settings) -> None:
    engine, _ = scripted_engine(corrupted_settings, f"{GOOD[:-1]} [1]. {BAD[:-1]} [2].")
    answer = engine.ask(QUESTION)
    assert not answer.refused and answer.backend.startswith("scripted")
    assert "eight hours" not in answer.text, answer.text  # removed, not left uncited
    assert answer.text == f"{GOOD} [1]"
    assert [c.quote for c in answer.citations] == [GOOD]
    assert any("eight hours" in n for n in answer.notes), answer.notes
    assert_markers_match(answer)
    _quotes_are_verbatim(answer, engine)


def test_generative_failed_first_citation_renumbers_the_rest(corrupted_settings: rag.Settings) -> None:
    engine, _ = scripted_engine(corrupted_settings, f"{BAD[:-1]} [1]. {GOOD[:-1]} [2].")
    answer = engine.ask(QUESTION)
    assert answer.text == f"{GOOD} [1]"
    assert [(c.n, c.quote) for c in answer.citations] == [(1, GOOD)]
    assert_markers_match(answer)
    _quotes_are_verbatim(answer, engine)


def test_generative_reply_whose_only_citation_fails_becomes_the_refusal(corrupted_settings: rag.Settings) -> None:
    engine, _ = scripted_engine(corrupted_settings, f"{BAD[:-1]} [1].")
    answer = engine.ask(QUESTION)
    assert answer.refused and not answer.citations
    assert answer.text.startswith("The briefings do not say")
    assert_markers_match(answer)


# -- the extractive path --------------------------------------------------------------------
EXTRACTIVE_QUESTIONS = [
    "How long did the China-Russia joint air patrol last?",
    "Who joined the patrol and where?",
    "Which aircraft took part in the joint air patrol?",
    "What did South Korea's Joint Chiefs of Staff report?",
    "Who won the 2030 football world cup?",
]


@pytest.mark.parametrize("question", EXTRACTIVE_QUESTIONS)
def test_extractive_answers_markers_match(corpus_settings: rag.Settings, question: str) -> None:
    answer = rag.ask(question, settings=corpus_settings)
    assert_markers_match(answer)


FOOTNOTED = """# Border convoy

Date: 2024-05-02
Region: South Asia

## Summary

A convoy of fourteen supply trucks crossed the border at Tamu on 1 May [2024] [2].
The crossing was escorted by police [14] and took three hours.
"""


def test_extractive_answer_quoting_a_bracketed_number_has_no_stray_marker(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "convoy.md").write_text(FOOTNOTED)
    settings = rag.Settings.from_env(index_dir=str(tmp_path / "index"))
    assert rag.ingest([str(folder)], settings=settings).ok
    answer = rag.ask(
        "How many supply trucks crossed the border at Tamu?",
        settings=settings.with_(refuse_below=-1.0, min_confidence=0.0),
    )
    assert not answer.refused and "at Tamu on 1 May 2024." in answer.text, answer.text
    assert_markers_match(answer)
    assert any("[2]" in c.quote for c in answer.citations)  # the quote stays verbatim


def test_generative_bracketed_year_is_not_left_as_a_marker() -> None:
    out = generative.enforce(
        "China and Russia conducted a joint air patrol over the East China Sea on 29 November [2024] [1].", [passage()]
    )
    assert out.text == "China and Russia conducted a joint air patrol over the East China Sea on 29 November 2024. [1]"
    assert_markers_match(Answer(question="q", text=out.text, refused=False, citations=out.citations))
