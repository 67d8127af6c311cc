"""The library operations (rag.documents/remove/reindex/check) and the LangChain doors
(rag.as_retriever/as_runnable), used the way a Python or LangChain user would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from langchain_core.documents import Document as LCDocument
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnableParallel, RunnablePassthrough
from typer.testing import CliRunner

import rag
from rag.cli import app

from .conftest import CORPUS, settings_at

PATROL_FILE = "01-china-russia-joint-air-patrol.md"


@pytest.fixture
def library(tmp_path: Path) -> tuple[rag.Settings, Path]:
    """Three briefings, one of them also in a second folder under the same file name."""
    folder, other = tmp_path / "briefings", tmp_path / "other"
    folder.mkdir()
    other.mkdir()
    for name in (PATROL_FILE, "05-second-thomas-shoal-water-cannon.md", "23-singapore-strait-sea-robbery-measures.txt"):
        shutil.copy(CORPUS / name, folder / name)
    shutil.copy(CORPUS / "09-india-china-yangtse-border-clash.md", other / PATROL_FILE)  # same name, other text
    settings = settings_at(tmp_path / "index")
    assert rag.ingest([str(folder), str(other)], settings=settings).ok
    return settings, folder


def test_documents_lists_what_is_indexed(library) -> None:
    settings, folder = library
    docs = rag.documents(settings=settings)
    assert len(docs) == 4 and all(isinstance(d, rag.DocInfo) for d in docs)
    assert {Path(d.source).parent for d in docs} == {folder, folder.parent / "other"}
    assert all(d.title and d.n_chunks > 0 for d in docs)


def test_remove_by_path_name_or_id(library) -> None:
    settings, folder = library
    with pytest.raises(ValueError, match=f"2 indexed files are named {PATROL_FILE}"):
        rag.remove(PATROL_FILE, settings=settings)  # a bare name two folders share is refused, not guessed
    removed = rag.remove(str(folder / PATROL_FILE), settings=settings)
    assert removed.source == str(folder / PATROL_FILE)
    left = {d.source for d in rag.documents(settings=settings)}
    assert str(folder / PATROL_FILE) not in left and str(folder.parent / "other" / PATROL_FILE) in left
    assert (folder / PATROL_FILE).exists(), "the file stays on disk"
    assert rag.check(settings=settings).ok, "catalog, Chroma and BM25 all lost it"
    # Now the name is unique again, and a doc id works too.
    shoal = next(d for d in rag.documents(settings=settings) if "second-thomas" in d.source)
    assert rag.remove(shoal.doc_id, settings=settings).doc_id == shoal.doc_id
    with pytest.raises(rag.NotIndexed, match="no indexed briefing"):
        rag.remove(shoal.doc_id, settings=settings)
    answer = rag.ask("What did the coast guard use against the resupply boat?", settings=settings)
    assert all("second-thomas" not in c.source for c in answer.citations)


def test_reindex_reads_the_file_again(library) -> None:
    settings, folder = library
    path = folder / "23-singapore-strait-sea-robbery-measures.txt"
    before = next(d for d in rag.documents(settings=settings) if d.source == str(path))
    report = rag.reindex(path.name, settings=settings)
    assert [f.status for f in report.files] == ["updated"], "unchanged on disk, and still read again"
    after = next(d for d in rag.documents(settings=settings) if d.source == str(path))
    assert after.ingested_at > before.ingested_at and after.sha256 == before.sha256
    path.write_text(path.read_text() + "\n\nPatrols by the four littoral states were doubled in March.\n")
    assert [f.status for f in rag.reindex(str(path), settings=settings).files] == ["updated"]
    assert "doubled" in rag.ask("What was doubled in March?", settings=settings).text
    path.unlink()
    gone = rag.reindex(str(path), settings=settings)
    assert gone.failed and "gone from disk" in gone.failed[0].reason
    assert rag.check(settings=settings).ok


def test_check_finds_and_repairs_a_missing_vector(library) -> None:
    settings, _ = library
    engine = rag.get_engine(settings)
    report = rag.check(settings=settings)
    assert report.ok and report.documents == 4 and report.chunks == report.vectors
    some_chunk = engine.index.vectors.ids()[0]
    engine.index.vectors.delete([some_chunk])  # a crash between the catalog and Chroma writes
    broken = rag.check(settings=settings)
    assert not broken.ok and broken.missing_vectors == [some_chunk]
    rag.check(repair=True, settings=settings)
    assert rag.check(settings=settings).ok


def test_cli_remove_and_reindex(library) -> None:
    settings, folder = library
    runner = CliRunner()
    index = ["--index", settings.index_dir]
    result = runner.invoke(app, ["reindex", "nowhere.md", *index])
    assert result.exit_code == 1 and "no indexed briefing is 'nowhere.md'" in result.output
    result = runner.invoke(app, ["reindex", str(folder / "05-second-thomas-shoal-water-cannon.md"), *index])
    assert result.exit_code == 0 and "1 updated" in result.output
    result = runner.invoke(app, ["remove", PATROL_FILE, *index])
    assert result.exit_code == 1 and "give the path" in result.output
    result = runner.invoke(app, ["remove", str(folder / PATROL_FILE), *index])
    assert result.exit_code == 0 and "the file stays on disk" in result.output
    assert len(rag.documents(settings=settings)) == 3


# -- LangChain ------------------------------------------------------------------------


def test_as_retriever_is_a_langchain_retriever_that_obeys_filters(corpus_settings: rag.Settings) -> None:
    retriever = rag.as_retriever(settings=corpus_settings, region="East Asia", k=4)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke("joint bomber patrol")
    assert 0 < len(docs) <= 4 and all(isinstance(d, LCDocument) for d in docs)
    assert {d.metadata["region"] for d in docs} == {"East Asia"}
    assert any("patrol" in d.page_content.lower() for d in docs)
    assert all(d.id == d.metadata["chunk_id"] for d in docs)
    everywhere = rag.as_retriever(settings=corpus_settings, k=10).invoke("naval exercise")
    assert len({d.metadata["region"] for d in everywhere}) > 1
    with pytest.raises(ValueError, match="date_from"):
        rag.as_retriever(settings=corpus_settings, date_from="yesterday-ish")
    with pytest.raises(ValueError, match="unknown search method"):
        rag.as_retriever(settings=corpus_settings, method="grep")


def test_retriever_in_an_lcel_chain(corpus_settings: rag.Settings) -> None:
    """The classic LCEL shape: {context: retriever | format, question: passthrough} | prompt | model | parser.
    The model here is a function that quotes the first line of context: we have no chat model to put there."""
    retriever = rag.as_retriever(settings=corpus_settings, k=3)
    prompt = PromptTemplate.from_template("Context:\n{context}\n\nQuestion: {question}")
    chain = (
        RunnableParallel(
            context=retriever | RunnableLambda(lambda docs: "\n".join(d.page_content for d in docs)),
            question=RunnablePassthrough(),
        )
        | prompt
        | RunnableLambda(lambda value: value.to_string())
        | StrOutputParser()
    )
    out = chain.invoke("Which vessel did the Houthis seize?")
    assert out.startswith("Context:\n") and out.endswith("Question: Which vessel did the Houthis seize?")
    assert "Galaxy Leader" in out


def test_as_runnable_answers_with_citations(corpus_settings: rag.Settings) -> None:
    qa = rag.as_runnable(settings=corpus_settings)
    answer = qa.invoke("Which vessel did the Houthis seize?")
    assert isinstance(answer, rag.Answer) and not answer.refused and "Galaxy Leader" in answer.text
    assert answer.citations and all("houthi" in c.source for c in answer.citations)

    # In a chain, with a dict input: a follow-up with history, and a filter.
    text_of = qa | RunnableLambda(lambda a: a.text)
    follow_up = text_of.invoke(
        {
            "question": "When did they seize it?",
            "history": [
                {"role": "user", "content": "Which vessel did the Houthis seize?"},
                {"role": "assistant", "content": answer.text},
            ],
        }
    )
    assert "2023" in follow_up or "November" in follow_up
    filtered = qa.invoke({"question": "Which vessel did the Houthis seize?", "filters": {"region": "East Asia"}})
    assert filtered.refused or all("houthi" not in c.source for c in filtered.citations)
    answers = qa.batch(["Which vessel did the Houthis seize?", "Who joined the joint air patrol?"])
    assert [a.refused for a in answers] == [False, False]
    with pytest.raises(ValueError, match="unknown key"):
        qa.invoke({"question": "Who?", "region": "East Asia"})
    with pytest.raises(ValueError, match="question is empty"):
        qa.invoke({"history": []})
