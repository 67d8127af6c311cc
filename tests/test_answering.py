"""The answering package's parts on their own: name matching, the shipped
reader's integrity check, and the refusal's closest evidence."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

import rag
from rag.answering.question import absent_names, name_found, question_parts


def _indexed(tmp_path, files: dict[str, str]) -> rag.Settings:
    """A folder of the given briefings, ingested into its own index."""
    folder = tmp_path / "briefings"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    settings = rag.Settings.from_env(index_dir=str(tmp_path / "index"))
    assert rag.ingest([str(folder)], settings=settings).ok
    return settings


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("Niger", "Niger closed its airspace.", True),
        ("Niger", "Nigeria closed its airspace.", False),  # another country, not an inflection
        ("Dominica", "The Dominican Republic shut the crossings.", False),
        ("Dominica", "Dominica declared an emergency.", True),
        ("Washington", "Belarus said the drills were defensive.", False),  # no "us " substring match
        ("Chinese", "China and Russia flew a patrol.", True),
        ("Russia", "Russian bombers took part.", True),
        ("Ukraine", "Ukrainian drones struck a depot.", True),
        ("Israeli", "Israel said the strike was over.", True),
        ("Japanese", "over the Sea of Japan", True),
        ("EU", "the European Union agreed sanctions", True),
        ("Evilton-2", "the Evilton-1 reactor", False),  # a designation is exact
        ("North Korea", "South Korea said", False),
        ("Bioko", "held off Bioko Island", True),  # an island keeps its name
        ("German", "Germany's embassy", True),
        ("Tucanos", "six A-29 Super Tucano aircraft", True),
        ("Russian Northern Fleet", "Russia's Northern Fleet ran the drill", True),
        # A country under its other names (countryinfo's adjective, capital, long spellings).
        ("Filipino", "a crew from the Philippines", True),
        ("Washington", "The United States approved the sale.", True),
        ("Minsk", "Belarus rejected the measures.", True),
        ("Turkish", "built in Turkey", True),
        ("Dominican", "Dominica declared an emergency.", True),  # the rule's adjective form, as before
        ("Dominican", "Roseau declared an emergency.", False),  # Dominica's capital: another country
        ("Finnish", "Sweden's navy watched.", False),
        # A country inside another country's name is not mentioned.
        ("Guinea", "Guinea-Bissau has a long record of coups.", False),
        ("Guinea", "Equatorial Guinea detained the tanker.", False),
        ("Guinea", "Guinean troops crossed at Yenga.", True),
        ("Guinea", "Guinea-Bissau and Guinea signed it.", True),
        ("Sudan", "South Sudan closed the border.", False),
        ("China", "the People's Republic of China said", True),  # its own long name
        ("China", "the China-Russia patrol", True),  # a pair of parties, not a country's name
        ("Guinea-Bissau", "Guinea-Bissau asked for the force.", True),
    ],
)
def test_name_found(name: str, text: str, found: bool) -> None:
    assert name_found(name, text) is found


def test_a_hyphenated_country_is_one_name() -> None:
    from rag.answering.question import question_names

    assert question_names("Why did ECOWAS send a force to Guinea-Bissau in 2022?") == [
        "ECOWAS",
        "Guinea-Bissau",
        "2022",
    ]
    assert question_names("Who flew the China-Russia patrol?") == ["China", "Russia"]
    # "Sino-" is China in compounds only: the other part is the name a briefing writes
    assert question_names("When was the first Sino-Russian bomber patrol?") == ["Russian"]
    assert absent_names("Which Franco-German brigade deployed?", ["The German brigade deployed."]) == []


def test_an_opening_verb_or_adverb_is_no_name() -> None:
    """ "Going back to ..." does not ask about someone called Going; an opening country still counts."""
    from rag.answering.question import question_names

    assert question_names("Going back to the cable cut: which firm runs the Faroe link?") == ["Faroe"]
    assert question_names("Later that year, what did Oslo say?") == ["Oslo"]
    assert question_names("Turkey sold what to Nigeria?") == ["Turkey", "Nigeria"]
    # an opening common word or function word is cut from the name it opens
    assert question_names("Besides Poland and Latvia, who sent troops?") == ["Poland", "Latvia"]
    assert question_names("Pollution of the river came from which plant?") == []
    assert question_names("During the drill, what did Jersey say?") == ["Jersey"]
    assert question_names("The West African bloc sent what?") == ["West African"]


def test_names_in_any_alphabet() -> None:
    """ "Temüjin" is one name (an ASCII class cut it to "Tem", which no text mentions)."""
    from rag.answering.question import question_names

    assert question_names("What did Temüjin offer the envoy in Chișinău?") == ["Temüjin", "Chișinău"]
    assert absent_names("What did Temüjin offer?", ["Temüjin offered a truce."]) == []
    assert absent_names("What did Temüjin offer?", ["Tem offered a truce."]) == ["Temüjin"]
    # a name in the singular is the same party as its plural ("Panther", "the Panthers")
    assert absent_names("Which Panther was hurt?", ["Two Panthers were hurt."]) == []
    # written with or without its accents, a name is the same name
    assert absent_names("Who met the envoy in Chisinau?", ["The envoy arrived in Chișinău."]) == []
    assert absent_names("Who met the envoy in Chișinău?", ["The envoy arrived in Chisinau."]) == []


def test_absent_names_keep_each_name() -> None:
    assert absent_names("Did Niger and Chad sign it?", ["Nigeria and Chad signed a pact."]) == ["Niger"]
    # The capitalised part of a compound is the name: "Svalbard-mainland" is Svalbard.
    assert absent_names("What runs on the Svalbard-mainland link?", ["The cable links Svalbard to Norway."]) == []


def test_names_spread_over_briefings_are_a_swap_unless_several_facts_are_asked() -> None:
    from rag.answering.question import is_multi_doc, name_coverage

    docs = {"gb": "ECOWAS sent a force to Guinea-Bissau.", "ng": "Nigeria received two helicopters."}

    def spans(q: str) -> bool:
        return is_multi_doc(q, name_coverage(q, docs))

    assert not spans("How many troops has Nigeria sent to the ECOWAS force in Guinea-Bissau?")
    assert spans("What did Nigeria receive, and where did ECOWAS send a force?")
    assert spans("Nigeria received helicopters. Where did ECOWAS send a force?")  # two sentences
    assert not spans("What did Nigeria receive, and where did Chad send a force?")  # Chad is in neither


def test_a_swapped_name_is_refused_naming_what_no_one_briefing_holds(tmp_path) -> None:
    settings = _indexed(
        tmp_path,
        {
            "drill.md": "# Navies of Iran and Russia Drill off Chabahar\n\n"
            "The navies of Iran and Russia held a joint exercise off Chabahar in March 2023. "
            "Iran sent the frigate Jamaran.\n",
            "port.md": "# Pakistan Opens a Fishing Port\n\nPakistan opened a new fishing port at Gwadar in May 2023.\n",
        },
    )
    swapped = rag.ask("Which Pakistani warship joined the exercise off Chabahar?", settings=settings)
    assert swapped.refused and "together" in swapped.text, swapped.text
    answered = rag.ask("Which Iranian warship joined the exercise off Chabahar?", settings=settings)
    assert not answered.refused and answered.citations[0].source.endswith("drill.md"), answered.text


def test_shipped_reader_loads_and_reads() -> None:
    """The reader in git: its sha256 matches its json, and it prefers the sentence that answers."""
    from rag.answering.readers.minilm import META, WEIGHTS, MiniLMReader, read_meta, sha256

    meta = read_meta()
    assert sha256(WEIGHTS) == meta["sha256"] and WEIGHTS.stat().st_size < 25e6
    assert "CC BY-SA 4.0" in meta["attribution"] and meta["training"]["command"].startswith("rag train-reader")
    assert 0 < meta["threshold"] < 1 and meta["validation"]["fitted"]
    reader = MiniLMReader(WEIGHTS, META)
    p = reader.probabilities(
        "When did the coast guard fire water cannon at the resupply boat?",
        [
            "Shoal standoff > Incident. The coast guard fired water cannon at the resupply boat on 5 August.",
            "Shoal standoff > Reactions. Manila summoned the ambassador and lodged a protest.",
        ],
    )
    assert p[0] > p[1], p


def test_altered_reader_is_refused_with_its_path(tmp_path) -> None:
    from rag.answering.readers import ReaderError
    from rag.answering.readers.minilm import META, WEIGHTS, MiniLMReader

    copy = tmp_path / "reader.safetensors"
    data = bytearray(WEIGHTS.read_bytes())
    data[len(data) // 2] ^= 1
    copy.write_bytes(bytes(data))
    shutil.copy(META, copy.with_suffix(".json"))
    with pytest.raises(ReaderError, match=r"reader\.safetensors: sha256 .* does not match"):
        MiniLMReader(copy, copy.with_suffix(".json"))
    (tmp_path / "gone.json").write_text(json.dumps(json.loads(META.read_text())))
    with pytest.raises(ReaderError, match="weights are missing"):
        MiniLMReader(tmp_path / "gone.safetensors", tmp_path / "gone.json")


def test_refusal_carries_closest_evidence_and_confidence(corpus_settings) -> None:
    import rag

    answer = rag.ask("How many satellites did Kazakhstan launch in 2021?", settings=corpus_settings)
    assert answer.refused and not answer.citations
    assert answer.text.endswith(
        (
            "None of them mentions Kazakhstan.",
            "mentions Kazakhstan and 2021 together.",
            "The closest passages do not state it.",
        )
    )  # why
    data = answer.to_dict()
    assert 0.0 <= data["confidence"] <= 1.0 and "closest" in data
    for c in answer.closest:  # the closest sentences are verbatim at their offsets, like citations
        assert c.passage and c.quote and c.end > c.start
    answered = rag.ask("Who joined the patrol and where?", settings=corpus_settings)
    assert not answered.refused and not answered.closest and 0.0 < answered.confidence <= 1.0


@pytest.mark.parametrize("backend", ["onnx-int8", "torch"])
def test_unit_vectors_do_not_depend_on_their_batch(backend: str, tmp_path) -> None:
    """A unit's vector is the same whichever texts were encoded beside it: through the cache, an
    answer must not depend on which questions the process asked before (onnx-int8 scales its int8
    activations per batch, so a batch-mate changed a vector by up to 0.013 in cosine; torch's padded
    batches change the last bits). Both failed before units were encoded one at a time."""
    from rag.answering.evidence import unit_vectors
    from rag.embedders import get_embedder

    embedder = get_embedder(rag.Settings(index_dir=str(tmp_path), embed_backend=backend))
    texts = [
        f"Batch probe {tmp_path.name}: the frigate docked.",  # unique: nothing cached yet
        f"Batch probe {tmp_path.name}: " + "a long sentence about a naval exercise with many escorts " * 4,
        f"Batch probe {tmp_path.name}: two bombers crossed the strait at dawn and turned back north.",
    ]
    together = unit_vectors(embedder, texts)
    for text, vector in zip(texts, together, strict=True):
        assert np.array_equal(vector, embedder.encode([text])[0])


# --------------------------------------------------------------------------- what the question asks for


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        ("Five ships took part.", ["Five"]),
        ("It involved multiple aircraft from the two nations' air forces.", []),  # "the two" refers back
        ("One of the ships turned back.", []),
        ("DHAKA, 6 February 2024 - troops moved in; on March 11 they left; Nov. 30 too.", []),  # days of dates
        ("JIMEX 22 and Type 12 missiles under Resolution 2231.", []),  # numbers inside names
        ("About 20 aircraft and 300 soldiers.", ["20", "300"]),
        ("The attack was reported on 2023-12-20 by 12 officials.", ["12"]),  # month and day of an ISO date
        ("Navy: Oman; Regional rank: 2; Ships sent: 4", ["4"]),  # a rank is a place in an order
        ("The navy, ranked 7 in the region, sent 3 ships.", ["3"]),
    ],
)
def test_figures_count_only_what_could_answer_how_many(text: str, counted: list[str]) -> None:
    from rag.answering.question import figures

    assert [m.group(0) for m in figures(text)] == counted


def test_a_further_figure_must_stand_by_a_word_of_the_question() -> None:
    from rag.answering.question import figure_of

    assert figure_of("How many Indians were hurt?", "Eleven Indian personnel were injured.")
    assert not figure_of("How many aircraft took part?", "Country: Russia; Naval Strength Rank: 2")
    assert figure_of("How many years after the war did they sign?", "In 2013 they signed.")  # a duration


@pytest.mark.parametrize(
    ("question", "units", "holds"),
    [
        ("At what local time did the bombers form up?", ["They formed up early on 29 November."], False),
        ("At what time did the bombers form up?", ["They formed up at 07:40 local time."], True),
        ("On which exact date was it announced?", ["It was announced on 3 August 2023."], True),
        ("On which exact date was it announced?", ["It was announced soon after."], False),
        ("What did Nigeria pay Turkey for the helicopters?", ["Turkey supplied 2 helicopters."], False),
        ("What did Nigeria pay Turkey for the helicopters?", ["Nigeria paid $60 million."], True),
        ("How many years after the war did they sign?", ["The war ended in 2002; they signed in 2013."], True),
        # The question's own figure is not its answer.
        ("How many of the 85 soldiers came from Antigua?", ["The RSS deployed 85 soldiers."], False),
        ("How many of the 85 soldiers came from Antigua?", ["Antigua sent 30 of the 85 soldiers."], True),
        # One part of a date: a month (capitalised, "may" is a verb), a year.
        ("In which month are the helicopters due?", ["Two more are due later in the year."], False),
        ("In which month are the helicopters due?", ["Two more may arrive soon."], False),
        ("In which month are the helicopters due?", ["Two more are due in May."], True),
        ("What year did the base open?", ["The base opened on 16 March."], False),
        ("What year did the base open?", ["The base opened in March 2016."], True),
        # A ransom, a fee, a fine is an amount of money.
        ("What ransom did the Houthis demand for the crew?", ["The crew of 25 was held ashore."], False),
        ("What ransom did the Houthis demand for the crew?", ["They asked for $5 million."], True),
        # A question about a figure ("that number") asks for one.
        ("Is that still the accepted number?", ["The ministry stood by its report."], False),
        ("Was the first figure accurate?", ["The ministry later corrected it to 1,079 people."], True),
        ("Who was the central figure in the dispute?", ["The foreign minister led the talks."], True),  # a person
        # "when" in a clause does not ask for a date; opening the question or a part of it, it does
        ("Who was hurt when the roof fell?", ["Two guards were hurt."], True),
        ("Who was hurt, and when did the roof fall?", ["Two guards were hurt."], False),
        ("Exactly when did the roof fall?", ["The roof fell at dawn."], False),
        ("When the roof fell, who was hurt?", ["Two guards were hurt."], True),  # a clause set before
        # a number written out is a figure, teens and tens too
        ("How many boats were seized?", ["Fifteen boats were seized."], True),
        ("How long was the delay?", ["It went out after a delay of eighty seconds."], True),
        # "what time period" asks for an era, not an hour
        ("What time period do the records cover?", ["The records run from 2001 to 2009."], True),
    ],
)
def test_answers_kind(question: str, units: list[str], holds: bool) -> None:
    from rag.answering.question import answers_kind

    assert answers_kind(question, units) is holds


@pytest.mark.parametrize(
    ("question", "role"),
    [
        ("What was the name of the Russian corvette that shadowed the patrol?", "corvette"),
        ("What was the name of Houthi fighters' commander?", "commander"),
        ("What is that minister's name?", "minister"),
        ("Name the ship that was seized.", "ship"),
        ("What was the name of the first outpost in South Carolina?", "outpost"),
        ("What is the Proto-Germanic form of the name of the Rhine?", None),  # a name's name
        ("Who was the commander?", None),  # "who" is as often a party as a name
        ("Which ships took part?", None),
    ],
)
def test_asked_role(question: str, role: str | None) -> None:
    from rag.answering.question import asked_role

    assert asked_role(question) == role


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("A Steregushchiy-class corvette shadowed the group.", False),  # a class is not a name
        ("A Russian corvette shadowed the group.", False),
        ("The Russian corvette Sovershenny shadowed the group.", True),
        ("Sovershenny, a Russian corvette, shadowed the group.", True),
        ("The corvette then met Admiral Ivanov's flagship.", False),  # a name nearby, not the corvette's
        ("The corvette, known as Sovershenny in the fleet, shadowed the group.", True),
        ("The corvette, Sovershenny, shadowed the group.", True),  # an apposition
        ("A corvette, Baltic patrol boats and two tankers sailed.", False),  # a list, not an apposition
    ],
)
def test_names_role(text: str, named: bool) -> None:
    from rag.answering.question import names_role

    assert names_role("What was the name of the corvette?", "corvette", text) is named


@pytest.mark.parametrize(
    ("text", "new"),
    [
        ("Houthi fighters seized the car carrier Galaxy Leader on 19 November 2023.", False),  # all known
        ("The crew was held by Colonel Ahmed Saleh.", True),
        ("Officials said nothing more.", False),  # a capital opening a sentence is not a name
        ("A Steregushchiy-class corvette shadowed the group.", False),
        ("The frigate Sovershenny shadowed the group.", True),  # a paraphrase of the asked noun, named
    ],
)
def test_gives_new_name(text: str, new: bool) -> None:
    from rag.answering.question import gives_new_name

    known = "What was the name of their commander? Who seized the Galaxy Leader? Houthi fighters."
    assert gives_new_name(known, text) is new


def test_a_further_unit_must_be_about_the_question(tmp_path) -> None:
    """A unit brought in for the asked kind of fact must share a word with the
    question or follow a chosen sentence: a date elsewhere in the briefing does
    not say when something else happens, but "That deal, worth ..." goes on
    about the sale."""
    settings = _indexed(
        tmp_path,
        {
            "air-force.md": "# Air Force Takes Delivery of Attack Helicopters\n\n"
            "The air force held a ceremony at its main base on 4 March 2024. "
            "Two further attack helicopters are due later in the year.\n\n"
            "Separately, the United States approved the sale of 12 transport helicopters to the country in 2022. "
            "That deal, worth about 997 million dollars, has not yet produced deliveries.\n",
        },
    )
    month = rag.ask("In which month are the two further attack helicopters supposed to arrive?", settings=settings)
    assert month.refused and "March" not in month.text, month.text
    value = rag.ask(
        "What is the value of the transport helicopter sale that the United States approved?", settings=settings
    )
    assert not value.refused and "997 million dollars" in value.text, value.text


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "How many were aboard her, and how many of them were Sri Lankan?",
            ["How many were aboard her", "how many of them were Sri Lankan?"],
        ),
        ("Which firm did the EU list, and for what?", ["Which firm did the EU list and for what?"]),  # too short
        ("Who joined the patrol and where?", ["Who joined the patrol and where?"]),
        ("When, and where, was the drill held?", ["When and where, was the drill held?"]),
        (  # a clause that sets the scene is no question
            "When the coast guard fired, which ships were escorting, and where were they heading?",
            ["When the coast guard fired, which ships were escorting", "where were they heading?"],
        ),
        ("Which ships from Iran, Russia and China took part?", ["Which ships from Iran, Russia and China took part?"]),
        (  # the phrase set before the first question belongs to it
            "In the attack on the palace, who was the target, and did he come through it?",
            ["In the attack on the palace, who was the target", "did he come through it?"],
        ),
    ],
)
def test_question_parts(question: str, parts: list[str]) -> None:
    assert question_parts(question) == parts


def test_each_part_of_a_question_is_answered(tmp_path) -> None:
    """The reader, given the whole question, ranks the sentence with the village first;
    the officer's name is a different sentence with no word of the question but "officer",
    found by reading the second part alone. The order of the parts does not matter."""
    settings = _indexed(
        tmp_path,
        {
            "ambush.md": "# Police Patrol Ambushed Near the Border\n\n"
            "Before dawn on 4 May 2024 a police patrol was ambushed at the bridge into Korvik, a village in Ostra "
            "municipality about 12 kilometres from the border. The gunmen had blocked the bridge with two lorries. "
            "Officer Dana Miret, a 41-year-old traffic policeman, was killed and two colleagues were hurt. "
            "The gunmen then withdrew into the hills.\n\n"
            "Shops in the town stayed closed for a week, and the border crossing was shut for three days.\n",
        },
    )
    for question in (
        "Which police officer died in the border ambush, and in which municipality is the village where it happened?",
        "In which municipality is the village where the border ambush happened, and which officer was killed?",
    ):
        answer = rag.ask(question, settings=settings)
        assert "Ostra" in answer.text and "Dana Miret" in answer.text, answer.text


def test_a_table_rank_does_not_answer_how_many(tmp_path) -> None:
    """A rank in a table row about the asked subject is no count: the briefing says
    "several" warships and ranks the navies in a table, so "how many" is refused."""
    settings = _indexed(
        tmp_path,
        {
            "strait.md": "# Navies Escort Tankers Through the Strait\n\n"
            "Several warships escorted the tanker convoy through the strait this week.\n\n"
            "| Navy | Regional rank | Convoy role |\n|---|---|---|\n"
            "| Oman | 2 | Escorted the tanker convoy |\n| India | 1 | Air cover for the convoy |\n\n"
            "The voyage lasted 40 hours and ended on Friday.\n",
        },
    )
    warships = rag.ask("How many warships escorted the tanker convoy?", settings=settings)
    assert warships.refused, warships.text
    hours = rag.ask("How many hours did the voyage last?", settings=settings)
    assert not hours.refused and "40 hours" in hours.text, hours.text


def test_a_question_across_briefings_quotes_each_without_naming_them(tmp_path) -> None:
    """ "Two briefings describe cyber intrusions": nothing in the question tells the
    briefings apart by name, yet the answer quotes both, not the best one alone."""
    settings = _indexed(
        tmp_path,
        {
            "shipyard.md": "# Shipyard Network Breached by Hackers\n\n"
            "Hackers broke into the network of Harbour Yards, a naval shipbuilder, in a cyber intrusion in March 2024. "
            "The intrusion was found when staff noticed large transfers at night.\n",
            "telecom.md": "# Mobile Operator Knocked Offline\n\n"
            "A cyber intrusion knocked the mobile operator Fastlink offline for two days in May 2024. "
            "Millions of subscribers lost service during the intrusion.\n",
            "drill.md": "# Navies Hold a Joint Drill\n\nThree navies held a joint drill in the gulf in June 2024.\n",
        },
    )
    answer = rag.ask("Two briefings describe cyber intrusions. Which targets were hit?", settings=settings)
    cited = {c.source.rsplit("/", 1)[-1] for c in answer.citations}
    assert cited == {"shipyard.md", "telecom.md"}, answer.text


def test_a_sentence_that_points_back_is_quoted_with_the_one_before(tmp_path) -> None:
    """ "It promised mirror measures" does not say who promised: the sentence before it does."""
    settings = _indexed(
        tmp_path,
        {
            "sanctions.md": "# Minsk Answers the Sanctions Package\n\n"
            "The foreign ministry of Belarus rejected the package on 25 June 2024. "
            "It promised mirror measures but gave no details. "
            "Trade between the two sides had already fallen by a third.\n",
        },
    )
    answer = rag.ask("What kind of measures were promised?", settings=settings)
    quotes = [c.quote for c in answer.citations]
    assert quotes[:2] == [
        "The foreign ministry of Belarus rejected the package on 25 June 2024.",
        "It promised mirror measures but gave no details.",
    ], answer.text
    assert all(answer.text.count(f"[{c.n}]") == 1 for c in answer.citations)


def test_withheld_and_unnamed_details_are_refused(tmp_path) -> None:
    """The briefing says the figure was withheld and leaves the corvette unnamed:
    both are refusals naming what is missing, not a figure or name from elsewhere."""
    settings = _indexed(
        tmp_path,
        {
            "convoy.md": "# Corvette Shadows Convoy in the Skagerrak\n\n"
            "A Russian corvette shadowed a Danish supply convoy through the Skagerrak on 4 March 2025. "
            "The corvette was not named by the Danish navy. "
            "Officials did not say how many sailors were hurt when a winch failed on the lead ship. "
            "The lead ship, the Absalon, had 120 sailors on board for the voyage.\n",
        },
    )
    unnamed = rag.ask("What was the name of the Russian corvette that shadowed the convoy?", settings=settings)
    assert unnamed.refused and unnamed.text.endswith("do not name the corvette."), unnamed.text
    assert unnamed.closest and not unnamed.citations
    withheld = rag.ask("How many sailors were hurt?", settings=settings)
    assert withheld.refused and "120" not in withheld.text, withheld.text
    named = rag.ask("What was the name of the lead ship?", settings=settings)
    assert not named.refused and "Absalon" in named.text, named.text
