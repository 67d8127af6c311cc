"""What a question asks: its cues (who / where / when / how many), the names
it mentions, and whether a set of units holds the kind of fact asked for.

Pure text analysis, no models: the other answering modules read the question
through these functions only.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import regex
from lemminflect import getAllLemmas

from ..lexical import tokenize
from .countries import longer_countries, other_names

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
DATE = re.compile(rf"\b(?:{_MONTH}|(?:19|20)\d\d\b|\d{{4}}-\d\d-\d\d)", re.I)
NUMBER = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"(?:thir|four|fif|six|seven|eigh|nine)teen|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:-\w+)?|"
    r"dozen|hundred|thousand|million|billion)\b",
    re.I,
)
PLACE = re.compile(
    r"\b(?:Sea|Strait|Ocean|Pacific|Atlantic|Gulf|Bay|Peninsula|Island|Islands|border|province|region|"
    r"coast|waters|airspace|capital|city|near|off)\b|\b(?:over|in|at|near|off|across|along|into)\s+(?:the\s+)?[A-Z]"
)
# A capitalised word, or a designation such as "J-16", "Evilton-2", "AH-1Z"; names of several
# words ("Sea of Japan") stay whole.
# Letters of any alphabet ("Temüjin", "Chișinău", "Côte"): an ASCII-only class cut such a name
# to "Tem", which no briefing mentions, so the question was refused. (regex: \p{Lu} and \p{L}.)
_WORD = r"\p{Lu}(?:\p{L}+(?:-[\p{L}0-9]+)*|(?:-[\p{L}0-9]+)+)"
NAME = regex.compile(rf"\b{_WORD}(?:\s+(?:of\s+(?:the\s+)?)?{_WORD})*")
MONEY = re.compile(
    r"[$€£¥]\s?\d|\b\d[\d,.]*\s*(?:million|billion|bn|m)?\s*(?:dollars?|euros?|pounds?|yuan|rupees?|naira|roubles?|"
    r"rubles?|yen|won|francs?|USD|EUR|GBP)\b|\b(?:USD|EUR|GBP)\s?\d",
    re.I,
)
# "How much did it cost" asks for money; "how much ammunition" does not.
_MONEY_QUESTION = re.compile(
    r"\bhow much\b.*\b(?:cost|costs|pay|paid|worth|value|price|ransom|compensation|fine|budget|spend|spent"
    r"|fund|funding)\b"
    r"|\b(?:cost|price|value|ransom|compensation|fine|budget)\b.*\bhow much\b"
    r"|\bwhat did\b.*\b(?:pay|spend|charge)\b"
    r"|\bwhat (?:was|is) the (?:value|cost|price)\b"
    r"|\bwhat (?:\w+ )?(?:ransom|price|fee|fine|compensation|sum)\b",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
_YEARS = re.compile(r"\b(?:19|20)\d\d\b")  # a year anywhere in a text
# "In which month", "what year": one part of a date is asked.
_PART_OF_DATE = re.compile(r"\b(?:what|which) (?:\w+ )?(?P<part>month|year)\b", re.I)
_DURATION_QUESTION = re.compile(r"\bhow (?:many (?:years|months|decades|weeks|days)|long)\b", re.I)
# "At what time", "what local time": the hour, not the day.
# ("What time period", "which time frame": an era, not an hour.)
_TIME_QUESTION = re.compile(r"\b(?:what|which) (?:\w+ )?(?:time|hour)\b(?!\s+(?:period|frame|span|scale|line|zone))")
CLOCK = re.compile(
    r"\b\d{1,2}[:.]\d\d\b|\b\d{3,4}\s*(?:GMT|UTC|Z|hrs|hours|local)\b|\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?)(?!\w)"
    r"|\bo['\u2019]clock\b|\b(?:midnight|noon|midday)\b",
    re.I,
)
CORRECTION = re.compile(
    r"\b(?:correct(?:ed|ion)|revis(?:ed|ion)|updated|later (?:said|put|gave|confirmed)|amended)\b", re.I
)
# Words that open or link a question: a capitalised one ("Which", "According") is not a name.
_QUESTION_WORDS = {
    "who",
    "what",
    "when",
    "where",
    "which",
    "why",
    "how",
    "did",
    "does",
    "do",
    "is",
    "are",
    "was",
    "were",
    "and",
    "the",
    "a",
    "an",
    "in",
    "of",
    "on",
    "for",
    "to",
    "by",
    "with",
    "according",
    "briefing",
    "briefings",
    "tell",
    "give",
    "list",
    "name",
    "can",
    "could",
    "would",
    "should",
    "has",
    "have",
    "had",
    "i",
    "me",
    "it",
    "whom",
    "whose",
    "both",
    "each",
    "compare",
    "between",
    "two",
    "three",
    "after",
    "before",
}
# Adjective endings of place names ("Chinese", "Russian", "Ukrainian", "Israeli",
# "British", "Dutch" aside): a name and its adjective are the same party.
_DEMONYM_ENDINGS = ("ians", "ian", "ans", "an", "ese", "ish", "is", "i", "n")
# What a place name's adjective is built from: the name, or the name less a final vowel.
_NAME_ENDINGS = ("", "a", "e", "ia", "y")
# "Dominican Republic" is not "Dominica", "Central African Republic" not "Central Africa"
# (an island keeps its name: "Bioko Island" is Bioko).
_DISTINCT_STATE = re.compile(r"\s+Republic\b", re.I)


# "When" asks for a time where it opens the question or one of its parts ("..., and when
# did it end?", "since when"); "Who was hurt when the roof fell?" asks who.
# ("When dating rocks, what is ...?" opens with a clause: the question is the "what".)
_WHEN_ASKED = re.compile(
    r"^\W*(?:\w+ly\s+)?when\b(?![^,?]*,\s*(?:what|which|who|whom|whose|where|how|why)\b)"
    r"|(?:[,;:]|\band|\bor|\bsince|\buntil)\s+when\b"
)


def question_cues(question: str) -> set[str]:
    q = question.lower()
    cues = set()
    if re.search(r"\bwho\b|\bwhich (?:countr|nation|parties|part|group|force|navy|navies|unit|state|government)", q):
        cues.add("who")
    if re.search(r"\bwhere\b|\bwhich (?:sea|area|region|place|city|border|waters|location|island)", q):
        cues.add("where")
    if _WHEN_ASKED.search(q) or re.search(r"\b(?:what|which) (?:\w+ )?(?:date|day|year|month)\b", q):
        cues.add("when")
    if _TIME_QUESTION.search(q):
        cues.add("time")
    if re.search(
        r"\bhow (?:many|much|long|far|large|big)\b|\bwhat (?:number|percentage|share|figure|amount|size)\b"
        # "Is that still the accepted number?", "Was the first figure accurate?": about a figure.
        # ("the central figure in the dispute" is a person.)
        r"|\b(?:the|that|this) (?:\w+ )?(?:number|count|tally|figure(?!\s+(?:in|of|behind|at|among)\b))\b",
        q,
    ):
        cues.add("number")
    return cues


def question_names(question: str) -> list[str]:
    """Proper names and years the question mentions; evidence should mention them too.

    "China-Russia" counts as two names; a designation ("J-16", "Evilton-2") is a name, matched exactly.
    """
    names = []
    for match in NAME.finditer(question):
        words = match.group(0).split()
        if match.start() == 0 and _opening_word(words[0]):
            words.pop(0)  # "Besides Britain": the name is Britain; "Pollution of ...": none
        while words and words[0].lower() in _QUESTION_WORDS:
            words.pop(0)
        while words and words[-1].lower() in _QUESTION_WORDS:
            words.pop()
        if not words:
            continue
        name = " ".join(words).strip("-")
        if len(words) == 1 and not any(c.isdigit() for c in name) and "-" in name:
            # "Svalbard-mainland", "Kalvari-class": the capitalised parts are the names.
            name = "-".join(x for x in name.split("-") if x[:1].isupper())
        if len(words) == 1 and "-" in name and other_names(name):
            parts = [name]  # "Guinea-Bissau" is one country, not Guinea and Bissau
        elif len(words) == 1 and all(x[:1].isupper() for x in name.split("-") if x):
            # "China-Russia": two parties. "Sino-Russian": "Sino-" is China's combining
            # form, which no briefing writes alone; the other part is the name to look for.
            parts = [x for x in name.split("-") if x and x.lower() not in _COMBINING_FORMS]
        elif any(c.isdigit() for c in name):
            parts = words  # "Russian Su-30SM": a party and a designation, often apart in the text
        else:
            parts = [name]
        names += [x for x in parts if len(x) >= 3]
    names += _YEARS.findall(question)
    return list(dict.fromkeys(names))


# The combining forms of peoples' and countries' names in English compounds ("Sino-Indian",
# "Russo-Ukrainian", "Franco-German", "Anglo-French"): a closed class of the language.
_COMBINING_FORMS = {
    "sino", "russo", "franco", "anglo", "indo", "italo", "greco", "graeco", "turco", "austro", "hispano",
    "luso", "nippo", "afro", "euro", "judeo", "serbo", "dano", "germano", "polono", "swedo", "fenno",
}  # fmt: skip


# Words that open a sentence and are in no lexicon of content words.
_OPENING_FUNCTION_WORDS = {
    "if", "during", "despite", "although", "though", "because", "among", "amongst", "upon", "unless",
    "whether", "whereas", "since", "until", "as", "per", "via", "like", "once", "throughout", "towards",
}  # fmt: skip


def _opening_word(word: str) -> bool:
    """Whether the capitalised word that opens a question is an ordinary English
    word ("Going back to ...", "Besides Britain ...", "Pollution of water ...",
    "If Roman numerals ..."), not a name: lemminflect's lexicon knows it, or it is a
    function word. A place stays a name though English has the word ("China",
    "Turkey", "Jersey": a country or place under its other names)."""
    low = word.lower()
    if low in _OPENING_FUNCTION_WORDS:
        return True
    return low not in _QUESTION_WORDS and bool(getAllLemmas(low)) and not other_names(word)


def _word_forms(word: str) -> list[str]:
    """Regexes for the forms of one word of a name: itself, and for a place
    name or its adjective the other one ("China" ~ "Chinese", "Russian" ~
    "Russia", "Ukraine" ~ "Ukrainian"), built by rule from the endings above,
    not from a table, so it holds for names no sample mentions. Exact words
    stay exact: "Niger" is not "Nigeria" (an ending "-ia" is a name, not an
    adjective)."""
    w = word.lower()
    if any(c.isdigit() for c in w) or len(w) < 4:
        return [re.escape(w)]  # a designation, or too short to inflect: Evilton-2 is not Evilton-1
    stems = {w}
    for end in _DEMONYM_ENDINGS:  # an adjective: its place names
        if w.endswith(end) and len(w) - len(end) >= 3:
            stems |= {w[: len(w) - len(end)] + e for e in _NAME_ENDINGS}
    if w.endswith(_DEMONYM_ENDINGS):
        stems.add(w + "y")  # "German" ~ "Germany"
    if w.endswith("s") and not w.endswith("ss") and len(w) > 4:
        stems.add(w[:-1])  # a plural: "Tucanos" ~ "Tucano"
    else:
        stems |= {w + "s", w + "es"}  # and the other way: "Panther" ~ "Panthers"
    bases = {w} | ({w[:-1]} if w[-1] in "aey" else set())  # a place name: its adjectives
    stems |= {b + e for b in bases for e in ("n", "an", "ian", "ese", "i", "ish")}
    return sorted((re.escape(s) for s in stems), key=len, reverse=True)


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern:
    parts = []
    for w in name.split():
        forms = _word_forms(w)
        if w.isupper() and 2 <= len(w) <= 5:  # an acronym, or the words it abbreviates
            forms.append(r"\w*\s+".join(re.escape(c) for c in w.lower()) + r"\w*")
        parts.append("(?:" + "|".join(forms) + ")")
    # Words side by side, a possessive allowed between them ("Russia's Northern Fleet").
    return re.compile(r"\b" + r"(?:['\u2019]s)?[\s\-]+(?:(?:of|the)\s+)*".join(parts) + r"(?:['\u2019]s)?\b")


def name_found(name: str, text: str) -> bool:
    """Whether ``text`` mentions ``name``: the same words in order, each as
    itself or its place-name/adjective form; an acronym ("EU") matches the
    words it abbreviates ("European Union"); a country matches its other
    names ("Filipino" ~ "Philippines", "Washington" ~ "United States")."""
    lowered = _searchable(text)
    return any(
        (not _DISTINCT_STATE.match(lowered, m.end()) or _DISTINCT_STATE.search(alias))
        and not _in_other_country(m.group(0), lowered, m.start(), m.end())
        for alias in (name, *sorted(other_names(name)))
        for m in _name_pattern(_fold(alias)).finditer(lowered)
    )


@lru_cache(maxsize=64)
def _searchable(text: str) -> str:
    """``text`` lowered and folded, once per text: each of a question's names is
    looked up in the same briefings, and folding a briefing costs ten times lowering it."""
    return _fold(text.lower())


def _fold(text: str) -> str:
    """``text`` without its accents: "Beyonce" and "Chisinau" are how many write
    "Beyoncé" and "Chișinău"."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _in_other_country(found: str, lowered: str, start: int, end: int) -> bool:
    """Whether the mention ``found`` at ``start:end`` is part of another country's
    name: "Guinea" in "Guinea-Bissau" or "Equatorial Guinea" is not Guinea."""
    longer = longer_countries(found)
    if longer is None:
        return False
    offset = max(0, start - 80)  # longer than any country's name but one
    window = lowered[offset : end + 80]
    return any(m.start() + offset <= start and end <= m.end() + offset for m in longer.finditer(window))


def absent_names(question: str, texts: list[str]) -> list[str]:
    """Names of the question that no text mentions: the briefings are about something else."""
    return [n for n in question_names(question) if not any(name_found(n, t) for t in texts)]


def name_coverage(question: str, doc_texts: dict[str, str]) -> dict[str, frozenset[str]]:
    """Which of the question's names each briefing mentions (doc_id -> names):
    looked up once, since the refusal, the span and the swap decisions all read it."""
    names = question_names(question)
    return {d: frozenset(n for n in names if name_found(n, t)) for d, t in doc_texts.items()}


# A number that refers back ("the two nations", "these three ships", "one of the
# vessels") counts nothing: it is not a figure that could answer "how many".
_REFERRING = re.compile(r"\b(?:the|these|those|both)\s+$", re.I)
_ONE_OF = re.compile(r"\s+of\b|\s+another\b", re.I)
# Nor does a day of a date ("6 February", "Nov. 30") or a number that is part of a
# name ("JIMEX 22", "Type 12", "Resolution 2231").
_SHORT_MONTH = r"(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_DAY_BEFORE_MONTH = re.compile(rf"\s*(?:{_MONTH}|{_SHORT_MONTH})\b", re.I)
# A month as dates write it (capitalised: "may" is a verb), or an ISO date.
_PART_FOUND = {
    "month": re.compile(rf"\b(?:{_MONTH}|{_SHORT_MONTH})(?!\w)|\b\d{{4}}-\d\d\b"),
    "year": _YEARS,
}
_MONTH_BEFORE_DAY = re.compile(rf"\b(?:{_MONTH}|{_SHORT_MONTH})\s+$", re.I)
_DESIGNATION_BEFORE = re.compile(
    r"(?:\b[A-Z][A-Z0-9\-]*[A-Z][A-Z0-9\-]*|\b(?:Type|Article|Resolution|Unit|Phase|No\.|Number|Block|Batch|Flight))\s+$"
)
# Nor a place in an order ("Naval Strength Rank: 1", "ranked 3"): a rank counts nothing.
_RANK_BEFORE = re.compile(r"\brank(?:ed|ing)?\s*(?::|\bNo\.|#)?\s*$", re.I)


_ISO_DATE = re.compile(r"\b\d{4}-\d\d-\d\d\b")


def figures(text: str) -> list[re.Match]:
    """The numbers of ``text`` that could answer "how many": not years, not
    referring back, not the day of a date (nor the month and day of "2023-12-20"),
    not part of a name."""
    in_dates = [(d.start(), d.end()) for d in _ISO_DATE.finditer(text)]
    return [
        m
        for m in NUMBER.finditer(text)
        if not _YEAR.match(m.group(0))
        and not any(a <= m.start() < b for a, b in in_dates)
        and not _REFERRING.search(text[max(0, m.start() - 8) : m.start()])
        and not _MONTH_BEFORE_DAY.search(text[max(0, m.start() - 12) : m.start()])
        and not _DAY_BEFORE_MONTH.match(text, m.end())
        and not _DESIGNATION_BEFORE.search(text[max(0, m.start() - 20) : m.start()])
        and not _RANK_BEFORE.search(text[max(0, m.start() - 16) : m.start()])
        and not (m.group(0).lower() == "one" and _ONE_OF.match(text, m.end()))
    ]


def new_figures(question: str, text: str) -> list[re.Match]:
    """The figures of ``text`` the question does not give itself: "How many of
    the 85 personnel did it send?" is not answered by "85 personnel"."""
    given = {m.group(0).lower() for m in NUMBER.finditer(question)}
    return [m for m in figures(text) if m.group(0).lower() not in given]


def figure_of(question: str, text: str, window: int = 3) -> bool:
    """Whether a figure of ``text`` stands within ``window`` words of a term
    of the question ("eleven Indian personnel" for "how many Indians"): a
    figure elsewhere in a briefing (a table's rank column) is about something else.
    A duration ("how many years after ...") is reckoned from any date."""
    if _DURATION_QUESTION.search(question) and DATE.search(text):
        return True
    q_terms = terms(question)
    for m in new_figures(question, text):
        before = text[: m.start()].split()[-window:]
        after = text[m.end() :].split()[:window]
        if terms(" ".join(before + after)) & q_terms:
            return True
    return False


# "What was the name of the corvette", "the colonel's name", "Name the ship": the
# question asks for the name of one role or thing. ("Who was the commander" is
# left to the reader: "who" is as often answered by a party as by a name.)
_NAME_OF = (
    re.compile(r"\bnames? of (?:the |that |this |their |its |his |her |a |an )?(?P<noun>[^?,.;]+)", re.I),
    re.compile(r"\b(?:the |that |this )(?P<noun>[\w\-'\u2019 ]+?)['\u2019]s names?\b", re.I),
    re.compile(r"\bname the (?P<noun>[^?,.;]+)", re.I),
)
# Where the noun phrase of the named thing ends: "the first outpost | in South Carolina",
# "the islands | formed by the Rhine" (a participle, as near as a rule gets to one).
_PHRASE_END = re.compile(
    r"\s+(?:that|who|which|whose|in|at|on|of|from|to|for|with|by|during|near|behind|after|before|since|when|where"
    r"|under|over|into|as|about|against|between|across|through|along|than|was|were|is|are|did|does|had|has"
    r"|\w+ed)\b",
    re.I,
)
_NOT_A_NAME = re.compile(r"-(?:class|type|style|based|led|backed|made|built)$", re.I)


def asked_role(question: str) -> str | None:
    """The head noun of the role or thing whose name is asked ("corvette",
    "commander"), or None when the question does not ask for a name."""
    for pattern in _NAME_OF:
        m = pattern.search(question)
        if m:
            words = _PHRASE_END.split(m.group("noun"), maxsplit=1)[0].split()
            # A common noun only: "the name of the Rhine" asks for another name of a name.
            if words and words[-1].islower() and words[-1] not in _QUESTION_WORDS:
                return words[-1]
    return None


def mentions_role(role: str, text: str) -> bool:
    """Whether ``text`` speaks of the role or thing at all (its stem, any form)."""
    stem = terms(role)
    return bool(stem) and bool(terms(text) & stem)


def names_role(question: str, role: str, text: str) -> bool:
    """Whether ``text`` gives a name for ``role``: a capitalised name the
    question does not already hold, right after the role noun ("Colonel
    Ibrahim Traore", "the frigate Sovershenny", "its commander, Ali Shah") or
    set before it as an apposition ("Ali Shah, the defence minister",
    "Chicago Pile-1 (the first reactor"), or given outright in a unit about
    it, in quotes or after "called" / "known as". A
    modifier before the noun ("the Defence Minister", "a Steregushchiy-class
    corvette", "a Russian corvette") is not a name."""
    stem = terms(role)
    if not stem:
        return False
    q_words = {w.lower() for w in re.findall(r"[\w\-]+", question)}

    def is_name(found: str) -> bool:
        return any(
            x.lower() not in q_words and x.lower() not in _QUESTION_WORDS and not terms(x) & stem
            for x in re.findall(r"[\w\-]+", found)
            if not _NOT_A_NAME.search(x)
        )

    mentioned = False
    for m in re.finditer(r"[\w\-]+", text):
        if not terms(m.group(0)) & stem:
            continue
        mentioned = True
        after = _NAME_AFTER.match(text, m.end())
        if after and is_name(after.group(1) or after.group(2)):
            return True
        before = _NAME_BEFORE.search(text[max(0, m.start() - 120) : m.start()])
        if before and is_name(before.group(1)):
            return True
    # Or, in a unit about it, names something outright: "launched its service under
    # the name Sky Digital", 'the islands, "Werder" in the dialect'.
    return mentioned and any(is_name(n.group(1)) for n in _NAMING.finditer(text))


def gives_new_name(question: str, text: str) -> bool:
    """Whether ``text`` holds a name the question does not hold: the least an
    answer to "What was the name of their commander?" must give when it does
    not mention the commander at all (a paraphrase, "the ship" for "the
    corvette", may still name it). A capitalised word opening a sentence is
    not a name by itself, nor a month or a modifier such as "Steregushchiy-class"."""
    q_terms = terms(question)
    for m in NAME.finditer(text):
        words = [
            w
            for w in m.group(0).split()
            if w.lower() not in _QUESTION_WORDS
            and not _NOT_A_NAME.search(w)
            and not DATE.fullmatch(w)
            and not terms(w) <= q_terms
        ]
        opens = text[: m.start()].rstrip()[-1:] in '.!?:;"\u201c('  # "" (the text's start) is in it too
        if words and not (opens and len(m.group(0).split()) == 1 and not any(c.isdigit() for c in m.group(0))):
            return True
    return False


_NAMING = regex.compile(
    r"(?:\b(?:called|named|known as|dubbed|code-?named|nicknamed|titled|the name)\s+(?:the\s+)?['\"\u201c\u2018]?"
    rf"|[\"\u201c])({NAME.pattern})"
)
# Right after the noun ("the frigate Sovershenny"), or after a comma as an apposition that
# the next comma or the sentence closes ("its commander, Ali Shah, said"); a comma followed by
# a name and more nouns is a list ("a submarine, P-8I patrol aircraft and ...").
_NAME_AFTER = regex.compile(rf"(?:\s+(?:the\s+)?({NAME.pattern})|,\s+(?:the\s+)?({NAME.pattern})(?=\s*(?:[,.;:)]|$)))")
_NAME_BEFORE = regex.compile(rf"({NAME.pattern})(?:,|\s+\()\s*(?:the|a|an|its|their|his|her)\s+(?:[\w\-]+\s+){{0,5}}$")


ABSENCE = re.compile(
    r"\b(?:did not|didn't|would not|declined to|refused to|could not) (?:disclose|say|name|identify|give|reveal|"
    r"specify|confirm|put a (?:number|figure))\b"
    r"|\b(?:was|were|has|have|had|is|are)(?: not| never)(?: been)? (?:named|identified|disclosed|released|given|"
    r"made public|announced|set)\b"
    r"|\b(?:undisclosed|unnamed|unidentified|unspecified|unknown)\b",
    re.I,
)


def states_absence(text: str) -> bool:
    """The text says a detail was withheld or is not known ("did not disclose",
    "was not named", "an unspecified number"): a refusal, not a search elsewhere."""
    return bool(ABSENCE.search(text))


def answers_kind(question: str, units: list[str]) -> bool:
    """Whether the units hold the kind of fact asked for: a figure for
    "how many", an amount of money for "how much did it cost", a date for "when".

    A near miss (the right briefing, but not the asked fact) fails here.
    """
    cues = question_cues(question)
    joined = " ".join(units)
    if _MONEY_QUESTION.search(question):
        return bool(MONEY.search(joined))
    if (
        "number" in cues
        and not new_figures(question, joined)
        and not (_DURATION_QUESTION.search(question) and DATE.search(joined))
    ):
        # "How many years after ..." is reckoned from the years the units give.
        return False
    if "time" in cues and not CLOCK.search(joined):
        return False
    part = _PART_OF_DATE.search(question)
    if part:
        # "In which month": a month, not "later in the year"; "what year": a year.
        return bool(_PART_FOUND[part.group("part").lower()].search(joined))
    return "when" not in cues or bool(DATE.search(joined))


def kind_asked(question: str) -> str:
    """The kind of fact ``answers_kind`` looks for, in words (for a refusal)."""
    cues = question_cues(question)
    if _MONEY_QUESTION.search(question):
        return "amount"
    if "time" in cues:
        return "time of day"
    part = _PART_OF_DATE.search(question)
    if part:
        return part.group("part").lower()
    return "figure" if "number" in cues else "date" if "when" in cues else "answer"


def cue_score(cues: set[str], text: str) -> float:
    """Share of the question's cues the text can answer (a name for who, a place for where, ...)."""
    if not cues:
        return 0.0
    hits = 0
    if "who" in cues and len(NAME.findall(text[1:])) >= 1:
        hits += 1
    if "where" in cues and PLACE.search(text):
        hits += 1
    if "when" in cues and DATE.search(text):
        hits += 1
    if "time" in cues and CLOCK.search(text):
        hits += 1
    if "number" in cues and NUMBER.search(text):
        hits += 1
    return hits / len(cues)


# Several facts: joined, compared, listed, or asked in more than one sentence.
_MULTI_PART = re.compile(
    r"\b(?:and|both|each|compare|compared|versus|vs|between|two|which briefings)\b|,|[.:;]\s+[A-Z]", re.I
)
_MULTI_DOC = re.compile(
    r"\b(?:both|each|compare|compared|versus|vs|which briefings|two briefings|briefings (?:describe|mention)|"
    r"same way|differ|in the briefings)\b",
    re.I,
)


# A second question joined to the first (", and where did they take it?", "; how many ...?"):
# it opens with a wh-word or an auxiliary, perhaps after a preposition ("and for what?").
_AUXILIARY = r"(?:is|are|was|were|did|does|do|has|have|had|can|could|will|would|should)\b"
_WH_OR_AUX = rf"(?:(?:who|whom|whose|what|when|where|which|why|how)\b|{_AUXILIARY})"
_OPENING = rf"(?:(?:for|to|from|in|on|at|by|with|of)\s+)?{_WH_OR_AUX}"
_PART_BREAK = re.compile(rf"(?:,\s*|\s+)(?:and|or|but)\s+(?={_OPENING})|[,;]\s+(?={_WH_OR_AUX})", re.I)
_OPENS_PART = re.compile(_OPENING, re.I)
# "when Beijing's coast guard turned a water cannon on ...," is a clause that sets the scene,
# not a question: no auxiliary follows its "when" or "where".
_CLAUSE = re.compile(rf"(?:when|where)\s+(?!{_AUXILIARY})", re.I)


def question_parts(question: str) -> list[str]:
    """The questions joined in ``question``: "How many were aboard her, and how many of
    them were Sri Lankan?" -> ["How many were aboard her", "how many of them were Sri
    Lankan?"]. A list ("Iran, Russia and China") or a bare "and where?" is no break:
    a part of fewer than three words is joined back to the one before it, and a phrase
    set before a question ("In the attack on the palace,") or a clause that sets the
    scene ("When the coast guard fired,") to the question after it."""
    parts: list[str] = []
    asks: list[bool] = []  # whether each part holds a question yet ("In 2023," and "When," do not)
    for piece in filter(None, (p.strip() for p in _PART_BREAK.split(question))):
        opens = bool(_OPENS_PART.match(piece)) and not _CLAUSE.match(piece) and len(piece.split()) >= 3
        if parts and len(piece.split()) < 3:
            parts[-1] = f"{parts[-1]} and {piece}"
        elif parts and not asks[-1]:
            parts[-1], asks[-1] = f"{parts[-1]}, {piece}", opens  # "In the attack on the palace, who ..."
        else:
            parts.append(piece)
            asks.append(opens)
    return parts


def is_multi_part(question: str) -> bool:
    """Questions that ask for several facts."""
    return bool(_MULTI_PART.search(question))


def is_multi_doc(question: str, coverage: dict[str, frozenset[str]]) -> bool:
    """Questions whose answer spans briefings: they say so, or they ask for
    several facts ("Niger and Nigeria: ...") and the names they mention
    (``coverage``, from ``name_coverage``) are found together in no single
    retrieved briefing. A question about one fact whose names are spread over
    briefings is a swap, not a span."""
    if _MULTI_DOC.search(question):
        return True
    names = set(question_names(question))
    if len(names) < 2 or not coverage or not is_multi_part(question):
        return False
    return names not in coverage.values() and set().union(*coverage.values()) == names


def terms(text: str) -> set[str]:
    return set(tokenize([text])[0])
