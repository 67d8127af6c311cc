"""Follow-up questions rewritten into standalone ones (rag/conversation.py), and the engine using them.

The cases are the issue's own examples and generic shapes of follow-ups; none comes
from the test split, which only measures.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import rag
from rag.cli import app
from rag.conversation import about, antecedent, is_follow_up, rewrite


def turns(*pairs: str) -> list[dict]:
    """user, assistant, user, assistant, ... as history dicts."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": c} for i, c in enumerate(pairs)]


LUNPO = turns("What happened near Lunpo La in October?", "Indian and Chinese patrols clashed.")


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        # a pronoun replaced by what it points at; the follow-up's own frame kept
        (
            "How many Indians were hurt in it?",
            LUNPO,
            "How many Indians were hurt in the events near Lunpo La in October?",
        ),
        (
            "And when did it take place?",
            turns("Who joined the joint air patrol over the East China Sea?", "China and Russia."),
            "When did the joint air patrol over the East China Sea take place?",
        ),
        # ellipsis completed from the previous question's frame
        (
            "And the patrol in the Fram Strait?",
            turns("Which ships took part in VARTIO 25?", "Two frigates."),
            "Which ships took part in the patrol in the Fram Strait?",
        ),
        # ... where the frame holds the subject ("When did X begin?"), the fragment is the new subject
        (
            "And the Kokang offensive?",
            turns("When did Operation 1027 begin?", "On 27 October 2023."),
            "When did the Kokang offensive begin?",
        ),
        (
            "What about the Italian destroyer?",
            turns("How many drones did the Hessen shoot down?", "Two."),
            "How many drones did the Italian destroyer shoot down?",
        ),
        # a name of the same kind replaces its counterpart, through a rewritten second turn
        (
            "And the Chinese one?",
            [*LUNPO, *turns("How many Indians were hurt in it?", "Eleven.")],
            "How many Chinese were hurt in the events near Lunpo La in October?",
        ),
        # "one" takes the antecedent's noun
        (
            "How many aircraft took part in the 2019 one?",
            turns("Who flew the joint air patrol over the East China Sea in 2024?", "China and Russia."),
            "How many aircraft took part in the 2019 patrol?",
        ),
        # nothing named, nothing pointed at: the conversation's subject is added as context
        (
            "How many people were on board?",
            turns("Where was the Galaxy Leader taken after the hijacking?", "To Salif."),
            "How many people were on board (the Galaxy Leader taken after the hijacking)?",
        ),
        # a relative "that" is not a pronoun; the context still comes along
        (
            "Which unit fired the missile that hit the ship?",
            turns("What happened to the MV Tern near Aden?", "A missile hit it."),
            "Which unit fired the missile that hit the ship (the MV Tern near Aden)?",
        ),
        # the answer to a yes/no question names what "it" points at; "Yes" itself is no name
        (
            "What was its name?",
            turns("Did a frigate escort the convoy?", "Yes, a Dutch air-defence frigate, which left on Monday."),
            "What was the Dutch air-defence frigate's name?",
        ),
        (
            "When are they due?",
            turns("Is the navy buying more patrol boats?", "Yes, four more Damen boats are planned."),
            "When are four more Damen boats due?",
        ),
        # ... nor cut at a compound adjective ("Malta-flagged")
        (
            "When did it leave port?",
            turns(
                "Which ship carried the cargo?", "The Malta-flagged bulk carrier Sea Falcon Two, which sailed in May."
            ),
            "When did the Malta-flagged bulk carrier Sea Falcon Two leave port?",
        ),
        # an answer's opening adverb or determiner is no name: it loses its capital
        (
            "How high is the ridge they tried to occupy?",
            turns("Who crossed the line at Yangtse?", "Roughly 300 Chinese soldiers."),
            "How high is the ridge roughly 300 Chinese soldiers tried to occupy?",
        ),
        # "they" is the answer's names, not the participle after them ("built by ...")
        (
            "Are more of them on the way?",
            turns(
                "What did the air force receive?", "A pair of T129 ATAK attack helicopters built by Turkish Aerospace."
            ),
            "Are more of T129 ATAK attack helicopters on the way?",
        ),
        # "that" by a copula is what the answer said: kept, the question's phrase as context
        (
            "Which company was that?",
            turns("How did the thieves get into the depot at Kiel?", "Through a cleaning contractor with a key."),
            "Which company was that (how the thieves got into the depot at Kiel)?",
        ),
        # "he" after "Who owns ...?" is the owner, not the thing owned; unnamed, it stays
        (
            "What is his name?",
            turns("Who owns the MV Tern?", "The MV Tern is a Maltese-flagged tanker managed from Limassol."),
            "What is his name (the MV Tern)?",
        ),
        (
            "What did he add?",
            turns("What did Defence Minister Ali Shah say about the drill?", "That it was routine."),
            "What did Defence Minister Ali Shah add?",
        ),
        # a reaction whose object is left out is to the conversation's event
        (
            "How did Oslo respond?",
            turns("What did Russia announce about the Fram Strait?", "A closure for firing practice."),
            "How did Oslo respond (what Russia announced about the Fram Strait)?",
        ),
        # "the year before" shifts the previous question's year
        (
            "What about the year before?",
            turns("How many drills did the navy hold in 2021?", "Three."),
            "How many drills did the navy hold in 2020?",
        ),
        # "them" in a later clause is the question's own plural noun, not the answer's phrase
        (
            "How many sailors were aboard it, and how many of them were hurt?",
            turns("What happened to the cargo ship MV Tern off Aden?", "It hit a mine."),
            "How many sailors were aboard the cargo ship MV Tern off Aden, and how many of them were hurt (the"
            " cargo ship MV Tern off Aden)?",
        ),
        # after "Which <thing> ...?" the answer names what "it" is
        (
            "Where had it set out from?",
            turns("Which German warship shot down the drones?", "The frigate Hessen."),
            "Where had the frigate Hessen set out from?",
        ),
        # ... also when the answer is a name alone, not a year
        (
            "What does it need before it goes back to work?",
            turns("Which company stopped building the gas plant?", "Fenmark, which halted work in 2021."),
            "What does Fenmark need before Fenmark goes back to work?",
        ),
        (
            "What happened in it?",
            turns("Which year saw the first joint patrol?", "2019, when two bombers flew together."),
            "What happened in the first joint patrol?",
        ),
        # after "Where ...?" the answer's place is what "there" is
        (
            "When did it get there?",
            turns("Where did the tanker go after the raid?", "Its crew took it to Port-Gentil in Gabon."),
            "When did the tanker get in Port-Gentil?",
        ),
        # otherwise "there" is the place the conversation last named, not "in <the phrase>";
        # "in March" names a time
        (
            "How many incidents were logged there?",
            [
                *turns("What did the IMB report about kidnappings?", "Most were taken in March in the Gulf of Guinea."),
                *turns("How far from shore did those attacks reach?", "As far as 200 nautical miles."),
            ],
            "How many incidents were logged in the Gulf of Guinea?",
        ),
        # a phrase set before a dash is what the question's pronouns point at
        (
            "And the Turkish crew - how many of them were taken?",
            turns("Who was killed when pirates stormed the Mozart?", "The ship's engineer."),
            "The Turkish crew - how many of the Turkish crew were taken (the Mozart)?",
        ),
        # after "Why did the team ...?" the answer is a reason: "they" is the team
        (
            "When did they get off?",
            turns("Why did the boarding team cut the search short?", "Turkey objected to it."),
            "When did the boarding team get off?",
        ),
        # "after that" is the previous turn's event, given as context; "So" opens, it is no name
        (
            "So what happened to his party role after that?",
            turns("Did anyone claim the attack?", "Yes. Milan Radoicic said he had organised it."),
            "What happened to Milan Radoicic's party role after that (whether anyone claimed the attack)?",
        ),
        # "that" before a verb is the subject, what the answer told of: no "the happened"
        (
            "Has that happened before?",
            turns("What did the survey vessel do off Yakushima?", "It entered Japanese waters."),
            "Has that happened before (what the survey vessel did off Yakushima)?",
        ),
        # who says it ("According to ...") is not what the question is about
        (
            "How many were children?",
            turns("According to the ministry, how many people did the ferry carry to Malta?", "About 300."),
            "How many were children (how many people the ferry carried to Malta)?",
        ),
    ],
)
def test_rewrite(question: str, history: list[dict], expected: str) -> None:
    assert rewrite(question, history).standalone == expected


def test_focus_is_the_current_turn() -> None:
    """The answerer matches units against the follow-up itself; the added context is for retrieval."""
    r = rewrite(
        "How many people were on board?", turns("Where was the Galaxy Leader taken after the hijacking?", "To Salif.")
    )
    assert r.focus == "How many people were on board?"
    assert r.previous == "Where was the Galaxy Leader taken after the hijacking?" and r.previous_answer == "To Salif."


def test_stand_alone_questions_are_not_rewritten() -> None:
    history = turns("Who flew the patrol?", "China and Russia.")
    for question in ("And what did Nigeria's air force receive from Turkey?", "Which ships took part in VARTIO 25?"):
        r = rewrite(question, history)
        assert not r.rewritten and r.standalone == question == r.focus
    assert not is_follow_up("And where did it take place?", [])
    assert is_follow_up("And where did it take place?", history)
    assert is_follow_up("Is that still the accepted figure?", history)
    # existential "there" and a relative "that" do not point back by themselves
    assert not is_follow_up("Was there a second Houthi attack on the Galaxy Leader?", history)
    # a full question after a phrase set before it ("And in ..., how long ...?") is no fragment
    fronted = "And on the first flight in 2019, how long did the bombers stay in the zone?"
    assert not is_follow_up(fronted, history) and rewrite(fronted, history).standalone == fronted
    # after a stripped "And", a capitalised first word is a name of the question's own
    assert not rewrite("And Rome's own flight: how many people did it carry?", history).focus.count("patrol")
    # a fragment with a relative clause is still completed from the previous question
    assert rewrite("And Poland, which was also hit?", history).rewritten
    # words in any alphabet stay whole
    assert antecedent("Who met the envoy in Chișinău?") == "the envoy in Chișinău"


def test_about_reads_as_a_clause() -> None:
    """What an inverted question is about, as the brackets of the next turn show it."""
    assert about("How did the thieves get into the depot at Kiel?") == "how the thieves got into the depot at Kiel"
    assert about("What did the patrol report about the strait?") == "what the patrol reported about the strait"
    assert about("What does the alliance still want?") == "what the alliance still wants"
    assert about("Did a submarine take part in JIMEX 22?") == "whether a submarine took part in JIMEX 22"
    assert about("Which firm in Gomel did the EU list?") == "which firm in Gomel the EU listed"
    assert about("Where was the ship taken?") == antecedent("Where was the ship taken?")  # no "did": the antecedent


def test_antecedent() -> None:
    assert antecedent("Which ships took part in VARTIO 25?") == "the events in VARTIO 25"
    assert antecedent("When did Operation 1027 begin?") == "Operation 1027"
    # a yes/no question is about its subject: "What was its name?" after "No."
    assert antecedent("Did a submarine take part in JIMEX 22?") == "the submarine"
    assert antecedent("Does the alliance still want talks?") == "the alliance"
    # the subject ends at its verb, even after a possessive or a noun that is also a verb
    assert antecedent("What did North Korea's space agency say about the satellite?") == "North Korea's space agency"
    assert antecedent("Why did the boarding team cut the search short?") == "the boarding team"
    assert antecedent("When did the Chinese Y-9 cross into Japanese airspace?") == "the Chinese Y-9"
    assert antecedent("When did the army take over the base at Gossi?") == "the army"  # "over" is no verb
    # "anyone" is nobody in particular: the question is about what was claimed
    assert antecedent("Did anyone claim responsibility for the attack?") == "the attack"
    assert (
        antecedent("Who joined the joint air patrol over the East China Sea?")
        == "the joint air patrol over the East China Sea"
    )
    # of a question in two parts, the first says what the next turn points at; a list's comma is no part
    assert antecedent("Who seized the Galaxy Leader and where did they take it?") == "the Galaxy Leader"
    assert antecedent("How many sailors were aboard, and how many were hurt?") == "the sailors aboard"
    assert (
        about("What unit does Japan keep on Yonaguni, and how many personnel?") == "what unit Japan keeps on Yonaguni"
    )
    assert antecedent("Who trained with Iran, Russia and China?") == "the events with Iran, Russia and China"


def test_follow_up_is_answered_from_its_own_focus(corpus_settings: rag.Settings) -> None:
    """The follow-up's asked fact decides the answer; the previous question only says which event."""
    history = turns("Who joined the joint air patrol over the East China Sea in November 2024?", "China and Russia.")
    answer = rag.ask(
        "How many aircraft entered the Korean air defence zone during it?", settings=corpus_settings, history=history
    )
    assert not answer.refused, answer.text
    assert "East China Sea" in answer.standalone_question
    assert "11" in answer.text
    assert all("joint-air-patrol" in Path(c.source).name for c in answer.citations)


def test_follow_up_near_miss_is_refused(corpus_settings: rag.Settings) -> None:
    history = turns("Who seized the Galaxy Leader?", "Houthi fighters, in the southern Red Sea.")
    answer = rag.ask("What was the name of their commander?", settings=corpus_settings, history=history)
    # No retrieved unit mentions a commander, and the one about the seizure names only
    # what the conversation already said (the Houthis, the Galaxy Leader, the Red Sea).
    assert answer.refused and answer.text.endswith("do not name the commander."), answer.text


def test_cli_ask_history_file(corpus_settings: rag.Settings, tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(turns("Who joined the joint air patrol over the East China Sea?", "China and Russia.")))
    result = CliRunner().invoke(
        app,
        ["ask", "And when did it take place?", "--history", str(path), "--json", "--index", corpus_settings.index_dir],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["standalone_question"] == "When did the joint air patrol over the East China Sea take place?"
    assert not data["refused"] and "29 November 2024" in data["text"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "is not JSON"),
        (json.dumps({"role": "user"}), "a list of"),
        (json.dumps([{"role": "bot", "content": "x"}]), "role"),
    ],
)
def test_cli_ask_bad_history_file(corpus_settings: rag.Settings, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "history.json"
    path.write_text(content)
    result = CliRunner().invoke(app, ["ask", "And when?", "--history", str(path), "--index", corpus_settings.index_dir])
    assert result.exit_code == 2
    said = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    assert path.name in said and message in said
