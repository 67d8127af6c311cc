"""The users' own briefing format: plain text with unmarked headings, lists and tables.

The seed (../shared/seeds/000_b0efd9b96fa7dc8e.txt) is the one real example of
what users ingest: a lead paragraph, headline lines standing alone as section
headings, bullet lists and pipe tables, no Markdown. These tests hold the
structure found in such text (title, sections, lists, tables, dateline
metadata) to what a reader sees, offsets to the file's own characters, and
the answers to "headings are context, never cited; a cited row reads with its
own section, never the file name".
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

import rag
from rag.chunking import chunk_document, heading_candidate, plain_headings
from rag.loaders import find_date, find_region, find_title, load
from rag.sentences import units_of

ROOT = Path(__file__).resolve().parents[1]
SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
SEED = SEEDS / "000_b0efd9b96fa7dc8e.txt"
CORPUS = ROOT / "corpus" / "briefings"
PLAIN = sorted(CORPUS.glob("*.txt"))
QUESTION_FILES = [ROOT / "corpus" / "questions" / "briefings.jsonl", ROOT / "corpus" / "questions" / "test.jsonl"]
SETTINGS = rag.Settings.from_env(index_dir="/nonexistent")
PATROL = "Who joined the patrol and where?"
AIRCRAFT = "How many aircraft took part in the patrol?"
SEED_HEADINGS = [
    "China and Russia Enhance Military Cooperation in East China Sea Operations",
    "Implications of Joint Air Patrols for Regional Security Dynamics",
    "Expert Analysis on Strategic Alliances and Future Naval Exercises in Asia-Pacific",
    "The Conclusion",
]
BODY = (
    "The two navies sailed together for three days and exchanged liaison officers before the drill ended near the port."
)


def _seed() -> Path:
    if not SEED.is_file():
        pytest.fail(
            f"the seed briefing {SEED} is missing: it is the one real example of the users' format "
            "and these tests must run on it (restore ../shared/seeds from the project's shared material)"
        )
    return SEED


def titles(text: str) -> list[str]:
    return [h.title for h in plain_headings(text)]


# --------------------------------------------------------------------------- headings on small strings


@pytest.mark.parametrize(
    "text, expected",
    [
        # The seed's shape: a lead paragraph, then a headline line directly above its paragraph.
        (f"A lead sentence ends here.\nNavies Drill Off the Coast\n{BODY}", ["Navies Drill Off the Coast"]),
        # After a table row and after a list item.
        (f"| a | b |\nWhat Follows for the Region\n{BODY}", ["What Follows for the Region"]),
        (f"- the last item of a list\nThe Conclusion\n{BODY}", ["The Conclusion"]),
        # ALL CAPS, and a heading with blank lines around it.
        (f"Intro sentence.\n\nBACKGROUND\n\n{BODY}", ["BACKGROUND"]),
        # A headline question.
        (f"Intro sentence.\nCan Moldova Protect Its Own Sky?\n{BODY}", ["Can Moldova Protect Its Own Sky?"]),
        # A title at the very top, then a section heading straight under it.
        (f"Border Talks Stall\n\nWhat Went Wrong\n\n{BODY}", ["Border Talks Stall", "What Went Wrong"]),
        # A short label over a list, a bold label, and a Setext heading.
        ("Intro sentence.\nKey Facts\n- Three ships.\n- Two days.", ["Key Facts"]),
        (f"Intro sentence.\n\n**Route and Duration**\n\n{BODY}", ["Route and Duration"]),
        (f"Strait Transit Notes\n====================\n\n{BODY}", ["Strait Transit Notes"]),
        # A one-word label over a one-line paragraph.
        ("Intro sentence.\n\nBackground\nTalks began in May.", ["Background"]),
        # Phrasal verbs end headlines.
        (f"Fighting Spills Across\n\n{BODY}", ["Fighting Spills Across"]),
        # A headline of 15 words or more is still the title line at the top.
        (
            f"Pirates Kill a Crewman and Kidnap 15 From the Container Ship Mozart off Sao Tome\n\n{BODY}",
            ["Pirates Kill a Crewman and Kidnap 15 From the Container Ship Mozart off Sao Tome"],
        ),
    ],
)
def test_headings_found(text: str, expected: list[str]) -> None:
    assert titles(text) == expected
    for h in plain_headings(text):
        assert h.title in text[h.start : h.end]


@pytest.mark.parametrize(
    "text",
    [
        # A list's lead-in ends with a colon; the items under it are not headings.
        "Intro sentence.\nKey points of this partnership include:\n- Joint exercises.\n- Shared intelligence.",
        "Participating navies:\nRoyal Thai Navy\nRoyal Malaysian Navy\n"
        "The drill began on Monday and lasted three days.",
        # A short sentence fragment: a hard-wrapped paragraph, the next line continuing it.
        "Intro sentence.\n\nThe shipment was delayed because the port\nauthority closed the berth after the storm.",
        "Intro sentence.\n\n"
        "The shipment was delayed at the southern port\nChinese authorities closed the berth after a storm.",
        "Intro sentence.\n\n"
        "Officials said the talks would resume in the\nspring, once both sides had consulted capitals.",
        # Ends on a word that cannot end a heading, or holds two sentences.
        f"Intro sentence.\nThe partnership includes\n{BODY}",
        f"Intro sentence.\nTalks failed. Both sides left\n{BODY}",
        # Not standing alone: the line before it runs on.
        f"The drill was led by the\nNavies of Three Countries\n{BODY}",
        # Metadata, datelines, stamps, bylines, greetings, markings, e-mail questions.
        f"Date: 30 November 2024\n{BODY}",
        f"Region: East Asia\n{BODY}",
        f"30 November 2024\n\n{BODY}",
        f"Updated Mon 2 Dec 2024 10:41 GMT\n\n{BODY}",
        f"By Jane Doe and John Roe\n\n{BODY}",
        f"Hi all\n\n{BODY}",
        f"Thanks\n\n{BODY}",
        f"CONFIDENTIAL\n\n{BODY}",
        f"Intro sentence.\n\nCan you send me the latest figures?\n\n{BODY}",
        # Not followed by body text: a signature at the end, an unbulleted column of names.
        f"{BODY}\n\nJohn Smith\nAnalyst, Regional Desk",
        f"{BODY}\nParticipants\nChina\nRussia\nIran\n{BODY}",
        # A line ending with a full stop, comma or dash.
        f"Intro sentence.\nThe talks ended.\n{BODY}",
        f"Intro sentence.\nIn the north,\n{BODY}",
        # Past the first line, a line of 15 words is a sentence's start, not a heading.
        f"Intro sentence.\n\nPirates Kill a Crewman and Kidnap 15 From the Ship Mozart off Sao Tome Island\n\n{BODY}",
    ],
)
def test_not_headings(text: str) -> None:
    assert titles(text) == [], titles(text)


def test_markdown_headings_switch_plain_detection_off() -> None:
    text = f"# Title\n\nIntro sentence.\nNavies Drill Off the Coast\n{BODY}"
    assert plain_headings(text) == []
    assert heading_candidate("Navies Drill Off the Coast") == "Navies Drill Off the Coast"


def test_title_line_and_email_subject() -> None:
    text = f"Title: Strait Transit Notes\nSource: desk\n\n{BODY}"
    assert find_title(text, Path("x.txt")) == "Strait Transit Notes"
    mail = f"From: desk@example.org\nSubject: RE: Fwd: Frigate Crossing\n\nHi all,\n\n{BODY}"
    assert find_title(mail, Path("x.txt")) == "Frigate Crossing"
    # Neither: the file name, as before.
    assert find_title(f"{BODY}\n", Path("gulf_of_oman-notes.txt")) == "gulf of oman notes"


def test_windows_line_endings_keep_offsets(tmp_path: Path) -> None:
    path = tmp_path / "crlf.txt"
    path.write_bytes(f"Intro sentence.\r\nNavies Drill Off the Coast\r\n{BODY}\r\n- One item.\r\n".encode())
    doc = load(path)
    assert doc.title == "Navies Drill Off the Coast"
    for chunk in chunk_document(doc, SETTINGS):
        assert doc.text[chunk.start : chunk.end] == chunk.body
        assert "Navies Drill" not in chunk.body


# --------------------------------------------------------------------------- lists and tables


def test_bullets_and_numbers_are_list_items() -> None:
    text = "- dash item\n* star item\n• dot item\n1. numbered item\n2) other numbered item"
    units = units_of(text, 100)
    assert [(u.kind, u.readable()) for u in units] == [
        ("item", "dash item"),
        ("item", "star item"),
        ("item", "dot item"),
        ("item", "numbered item"),
        ("item", "other numbered item"),
    ]
    for u in units:
        assert text[u.start - 100 : u.end - 100] == u.text


def test_table_without_rule_header_from_a_figure_column() -> None:
    text = (
        "| Sector | Lead agency | Patrol assets |\n"
        "| Central lane | Malaysian Navy | 3 patrol craft |\n"
        "| North | Thai Navy | 2 vessels |"
    )
    units = units_of(text)
    assert [u.readable() for u in units] == [
        "Sector: Central lane; Lead agency: Malaysian Navy; Patrol assets: 3 patrol craft",
        "Sector: North; Lead agency: Thai Navy; Patrol assets: 2 vessels",
    ]
    # No column of figures: no way to tell a header, so every row is data.
    plain = "| China | Air Force | Joint patrols |\n| Russia | Navy | Drills |"
    assert [u.readable() for u in units_of(plain)] == ["China; Air Force; Joint patrols", "Russia; Navy; Drills"]


def test_heading_lines_are_never_units() -> None:
    # Text chunked before headings were found (an older index) still holds them.
    text = f"| Russia | Navy | Drills |\nImplications of Joint Air Patrols for Regional Security Dynamics\n{BODY}"
    quotes = [u.text for u in units_of(text)]
    assert "Implications of Joint Air Patrols for Regional Security Dynamics" not in " ".join(quotes)
    assert quotes[-1] == BODY


def test_metadata_lines_are_never_units() -> None:
    # The Date: line is when the briefing was written: quoted, it "answered" when an event happened.
    text = "# Title\n\nDate: 2023-11-21\nRegion: Middle East\n\n## Events\n\nA ship was seized.\n\nCrew: 25 seafarers\n"
    assert [u.text for u in units_of(text)] == ["A ship was seized.", "Crew: 25 seafarers"]


# --------------------------------------------------------------------------- dates and regions


@pytest.mark.parametrize(
    "text, date, region",
    [
        (
            "BEIJING, 30 Nov (Reuters) – China and Russia flew bombers on 29 November 2024 over the sea.",
            "2024-11-30",
            "East Asia",
        ),
        # No year in the dateline and none in the text for that month: no date.
        ("BEIJING, 30 Nov (Reuters) – China and Russia flew bombers. The first was in July 2019.", None, "East Asia"),
        # Two years offered for the dateline's month: no date.
        ("BEIJING, 30 Nov (Reuters) – Flights on 29 November 2024 and on 3 November 2023.", None, "East Asia"),
        ("MANILA, Philippines, March 14, 2024 (AP) — The coast guard said so.", "2024-03-14", "Southeast Asia"),
        # City and country disagree, or the place spans regions: no region.
        ("MANILA, Japan, March 14, 2024 (AP) — The coast guard said so.", "2024-03-14", None),
        ("MOSCOW, 5 Feb 2024 (TASS) – The fleet sailed.", "2024-02-05", None),
        ("SPRINGFIELD, 5 Feb 2024 – The council met.", "2024-02-05", None),
        ("DHAKA – Border guards said on 5 February 2024 that shells fell.", "2024-02-05", "South Asia"),
        # The lead's one date; two in the lead: none; a date only further down: none.
        (
            "Headline Here\nThe talks ended on 3 May 2023 in Lima.\nLater Section\nA new round on 9 June 2023 was set.",
            "2023-05-03",
            None,
        ),
        ("Headline Here\nThe talks ended on 3 May 2023 after the row of 2 May 2023.", None, None),
        (
            "Headline Here\nThe talks ended in May.\nLater Section\n"
            "A new round on 9 June 2023 was set for the capitals.",
            None,
            None,
        ),
        # Explicit lines win.
        ("Date: 2024-12-02\nRegion: Arctic\nBEIJING, 30 Nov – Text on 29 November 2024.", "2024-12-02", "Arctic"),
    ],
)
def test_dates_and_regions_only_when_unambiguous(text: str, date: str | None, region: str | None) -> None:
    assert (find_date(text), find_region(text)) == (date, region)


# --------------------------------------------------------------------------- the seed


def test_seed_title_sections_and_no_guessed_metadata() -> None:
    doc = load(_seed())
    assert doc.title == SEED_HEADINGS[0]
    assert titles(doc.text) == SEED_HEADINGS
    chunks = chunk_document(doc, SETTINGS)
    # The lead sits under the title; each headline line opens a section, carried
    # in the context of every chunk below it, as a Markdown heading would be.
    assert list(dict.fromkeys(c.heading for c in chunks)) == SEED_HEADINGS
    for chunk in chunks:
        assert chunk.context.startswith(doc.title)
        assert chunk.heading in chunk.context
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.body
        assert not any(h in chunk.body.splitlines() for h in SEED_HEADINGS), "a heading line inside a chunk"
    assert [c.kind for c in chunks].count("table") == 2
    # The seed gives no date and no place: none is guessed.
    assert (doc.date, doc.region) == (None, None)
    # The lead paragraph sits under the title; the lists are items.
    lead = chunks[0]
    assert lead.body.startswith("In a significant show of military cooperation, China announced")
    items = {u.start for c in chunks if c.kind == "text" for u in units_of(c.body, c.start) if u.kind == "item"}
    assert len(items) == 9


@pytest.fixture(scope="module")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    folder = tmp_path_factory.mktemp("seeds")
    shutil.copy(_seed(), folder / SEED.name)
    settings = rag.Settings.from_env(index_dir=str(tmp_path_factory.mktemp("seed-index")))
    report = rag.ingest([str(folder)], settings=settings)
    assert report.ok, report.failed
    return settings


def _heading_lines(text: str) -> set[str]:
    return {" ".join(h.title.split()) for h in plain_headings(text)}


def _check_citations(answer: rag.Answer, settings: rag.Settings) -> None:
    """Every quote exact at its offsets, none a heading, no row written with the file name."""
    index = rag.get_engine(settings).index
    for c in answer.citations:
        doc = index.document(c.doc_id)
        assert doc.text[c.start : c.end] == c.quote
        assert " ".join(c.quote.split()) not in _heading_lines(doc.text), f"heading cited: {c.quote!r}"
        for h in plain_headings(doc.text):
            assert c.end <= h.start or c.start >= h.end, f"citation {c.quote!r} overlaps heading {h.title!r}"
        stem = Path(doc.source).stem.replace("_", " ").replace("-", " ")
        assert stem not in answer.text, f"file name {stem!r} in the answer"


def test_seed_docs_show_title(seed_settings: rag.Settings) -> None:
    docs = rag.get_engine(seed_settings).index.documents()
    assert [d.title for d in docs] == [SEED_HEADINGS[0]]
    assert docs[0].n_chunks >= 5


def test_rag_docs_shows_title_and_sections(seed_settings: rag.Settings) -> None:
    """`rag ingest ../shared/seeds && rag docs`: a real title and the headline lines as sections."""
    from typer.testing import CliRunner

    from rag.cli import app

    result = CliRunner().invoke(app, ["docs", "--json", "--index", seed_settings.index_dir])
    assert result.exit_code == 0, result.output
    (doc,) = json.loads(result.output)
    assert doc["title"] == SEED_HEADINGS[0]
    assert doc["sections"] == SEED_HEADINGS
    table = CliRunner().invoke(app, ["docs", "--index", seed_settings.index_dir], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "The Conclusion" in table.output and "000 b0efd9b96fa7dc8e" not in table.output


def test_seed_patrol_question(seed_settings: rag.Settings) -> None:
    answer = rag.ask(PATROL, settings=seed_settings)
    assert not answer.refused, answer.text
    _check_citations(answer, seed_settings)
    first = answer.citations[0].quote
    for name in ("China", "Russia", "East China Sea", "western Pacific"):
        assert name in first, f"first citation lacks {name}: {first!r}"
    # Which of the seed's two sentences that name all four comes first (the lead, "In a significant
    # show ...", or "In conclusion, ...") is a near tie: evidence scores 0.489 and 0.493 on an AVX-512
    # machine, the other order on an AVX2 one (the int8 embedder's and the reader's kernels differ in
    # the last digits by instruction set), so the test asks for the names, not for one of the two.
    assert first.startswith(("In a significant show of military cooperation", "In conclusion, the joint air patrol"))
    for heading in SEED_HEADINGS:
        assert heading not in answer.text.replace(f"{heading}:", ""), f"heading {heading!r} cited as an answer"


def test_seed_patrol_question_cites_no_unrelated_row(seed_settings: rag.Settings) -> None:
    answer = rag.ask(PATROL, settings=seed_settings)
    index = rag.get_engine(seed_settings).index
    for c in answer.citations:
        if index.document(c.doc_id).text[c.start : c.end].startswith("|"):
            assert "East China Sea" in c.quote or "western Pacific" in c.quote, f"unrelated row cited: {c.quote!r}"


def test_seed_aircraft_question_cites_no_heading_or_file_name(seed_settings: rag.Settings) -> None:
    answer = rag.ask(AIRCRAFT, settings=seed_settings)
    _check_citations(answer, seed_settings)
    assert all(not c.quote.startswith("|") for c in answer.citations), "a table row cited for an aircraft count"


def test_seed_aircraft_question_is_refused(seed_settings: rag.Settings) -> None:
    assert rag.ask(AIRCRAFT, settings=seed_settings).refused


# --------------------------------------------------------------------------- the plain-text corpus briefings

EXPECTED = {
    "23-singapore-strait-sea-robbery-measures.txt": (
        "Four Navies Tighten the Night Watch Over the Singapore Strait",
        "2024-03-12",
        "Southeast Asia",
    ),
    "24-bangladesh-myanmar-border-spillover.txt": (
        "Bangladesh Reinforces Its Border as Myanmar's Fighting Spills Across",
        "2024-02-06",
        "South Asia",
    ),
    "25-moldova-drone-debris-radar-request.txt": (
        "Moldova Seeks Radar Help After Drone Wreckage Falls Near Its Border",
        "2024-02-10",
        "Eastern Europe",
    ),
}


def test_plain_corpus_briefings_present() -> None:
    assert sorted(p.name for p in PLAIN) == sorted(EXPECTED)


@pytest.mark.parametrize("path", PLAIN, ids=lambda p: p.name)
def test_plain_briefing_structure(path: Path) -> None:
    doc = load(path)
    assert (doc.title, doc.date, doc.region) == EXPECTED[path.name]
    headings = plain_headings(doc.text)
    assert len(headings) >= 3
    chunks = chunk_document(doc, SETTINGS)
    assert any(c.kind == "table" for c in chunks)
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.body
        assert not any(h.title in chunk.body.splitlines() for h in headings)
    # The table has no |---| rule; its header comes from its figure column.
    rows = [u for c in chunks if c.kind == "table" for u in units_of(c.body, c.start)]
    assert rows and all(u.kind == "row" and u.header for u in rows)
    kinds = {u.kind for c in chunks for u in units_of(c.body, c.start)}
    assert {"sentence", "item", "row"} <= kinds


@pytest.fixture(scope="module")
def plain_settings(tmp_path_factory: pytest.TempPathFactory) -> rag.Settings:
    folder = tmp_path_factory.mktemp("plain")
    for path in PLAIN:
        shutil.copy(path, folder / path.name)
    settings = rag.Settings.from_env(index_dir=str(tmp_path_factory.mktemp("plain-index")))
    report = rag.ingest([str(folder)], settings=settings)
    assert report.ok, report.failed
    return settings


def _plain_questions() -> list[dict]:
    rows = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else None
            if row and re.fullmatch(r"pt?\d{3}", row["id"]):
                rows.append(row)
    return rows


def test_plain_questions_in_both_splits() -> None:
    ids = [r["id"] for r in _plain_questions()]
    assert sum(i.startswith("pt") for i in ids) >= 9 and sum(not i.startswith("pt") for i in ids) >= 9


def test_plain_questions_cite_no_heading(plain_settings: rag.Settings) -> None:
    """Every question on the plain-text briefings: quotes exact, never a heading or a file-name row."""
    for row in _plain_questions():
        answer = rag.ask(row["question"], settings=plain_settings, filters=row.get("filters"))
        _check_citations(answer, plain_settings)


def test_plain_table_row_reads_with_its_section(plain_settings: rag.Settings) -> None:
    answer = rag.ask(
        "How many fast boats does the Indonesian Maritime Police commit to the eastbound lane off Batam?",
        settings=plain_settings,
    )
    assert not answer.refused and "4 fast boats" in answer.text
    # The table sits under the headline that is also the title: the row is
    # written with nothing before it (the title is on the source card), and
    # never with the file name; its column names come from the first row.
    row = "Sector: Eastbound lane off Batam; Lead agency: Indonesian Maritime Police; Assets on station: 4 fast boats."
    assert re.search(rf"(?:^|\] ){re.escape(row)} \[\d\]", answer.text), answer.text
    assert "23 singapore strait" not in answer.text.lower()


def test_seed_row_reads_with_its_own_section() -> None:
    """A row under a section heading (not the title) is written with that heading;
    a row under the title alone with nothing before it, never the file name."""
    from rag.answering import Evidence, Selection, compose
    from rag.models import Passage

    doc = load(_seed())
    written = {}
    for chunk in chunk_document(doc, SETTINGS):
        if chunk.kind != "table":
            continue
        passage = Passage(
            chunk_id=chunk.chunk_id,
            doc_id=doc.doc_id,
            source=doc.source,
            title=doc.title,
            date=doc.date,
            region=doc.region,
            heading=chunk.heading,
            text=chunk.body,
            start=chunk.start,
            end=chunk.end,
            score=1.0,
            rank=1,
            kind="table",
            context=chunk.context,
        )
        unit = next(u for u in units_of(passage.text, passage.start) if u.kind == "row")
        written[chunk.heading] = compose(PATROL, Selection([Evidence(unit, passage, 1.0)], 1.0), [passage]).text
    assert written[SEED_HEADINGS[2]].startswith(f"{SEED_HEADINGS[2]}: Country: China; Naval Strength Rank: 1"), written
    assert written[SEED_HEADINGS[0]].startswith("Country: China; Military Focus: Air Force Enhancement"), written
