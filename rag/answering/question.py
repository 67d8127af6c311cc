"""What a question asks: its cues (who / where / when / how many), the names
it mentions, and whether a set of units holds the kind of fact asked for.

Pure text analysis, no models: the other answering modules read the question
through these functions only.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..lexical import tokenize

_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
DATE = re.compile(rf"\b(?:{_MONTH}|(?:19|20)\d\d\b|\d{{4}}-\d\d-\d\d)", re.I)
NUMBER = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"dozen|hundred|thousand|million|billion)\b",
    re.I,
)
PLACE = re.compile(
    r"\b(?:Sea|Strait|Ocean|Pacific|Atlantic|Gulf|Bay|Peninsula|Island|Islands|border|province|region|"
    r"coast|waters|airspace|capital|city|near|off)\b|\b(?:over|in|at|near|off|across|along|into)\s+(?:the\s+)?[A-Z]"
)
# A capitalised word, or a designation such as "J-16", "Evilton-2", "AH-1Z"; names of several
# words ("Sea of Japan") stay whole.
_WORD = r"[A-Z](?:[a-zA-Z]+(?:-[A-Za-z0-9]+)*|(?:-[A-Za-z0-9]+)+)"
NAME = re.compile(rf"\b{_WORD}(?:\s+(?:of\s+(?:the\s+)?)?{_WORD})*")
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
    r"|\bwhat (?:was|is) the (?:value|cost|price)\b",
    re.I,
)
_YEAR = re.compile(r"^(?:19|20)\d\d$")
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


def question_cues(question: str) -> set[str]:
    q = question.lower()
    cues = set()
    if re.search(r"\bwho\b|\bwhich (?:countr|nation|parties|part|group|force|navy|navies|unit|state|government)", q):
        cues.add("who")
    if re.search(r"\bwhere\b|\bwhich (?:sea|area|region|place|city|border|waters|location|island)", q):
        cues.add("where")
    if re.search(r"\bwhen\b|\bwhat (?:date|day|year|month)\b|\bwhich (?:date|day|year|month)\b", q):
        cues.add("when")
    if re.search(
        r"\bhow (?:many|much|long|far|large|big)\b|\bwhat (?:number|percentage|share|figure|amount|size)\b", q
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
        while words and words[0].lower() in _QUESTION_WORDS:
            words.pop(0)
        while words and words[-1].lower() in _QUESTION_WORDS:
            words.pop()
        if not words:
            continue
        name = " ".join(words).strip("-")
        if len(words) == 1 and all(x[:1].isupper() for x in name.split("-") if x):
            parts = [x for x in name.split("-") if x]  # "China-Russia": two parties
        elif any(c.isdigit() for c in name):
            parts = words  # "Russian Su-30SM": a party and a designation, often apart in the text
        else:
            parts = [name]
        names += [x for x in parts if len(x) >= 3]
    names += re.findall(r"\b(?:19|20)\d\d\b", question)
    return list(dict.fromkeys(names))


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
    words it abbreviates ("European Union")."""
    lowered = text.lower()
    return any(
        not _DISTINCT_STATE.match(lowered, m.end()) or _DISTINCT_STATE.search(name)
        for m in _name_pattern(name).finditer(lowered)
    )


def absent_names(question: str, texts: list[str]) -> list[str]:
    """Names of the question that no text mentions: the briefings are about something else."""
    return [n for n in question_names(question) if not any(name_found(n, t) for t in texts)]


def answers_kind(question: str, units: list[str]) -> bool:
    """Whether the units hold the kind of fact asked for: a figure for
    "how many", an amount of money for "how much did it cost", a date for "when".

    A near miss (the right briefing, but not the asked fact) fails here.
    """
    cues = question_cues(question)
    joined = " ".join(units)
    if _MONEY_QUESTION.search(question):
        return bool(MONEY.search(joined))
    if "number" in cues and not any(not _YEAR.match(m.group(0)) for m in NUMBER.finditer(joined)):
        return False
    return "when" not in cues or bool(DATE.search(joined))


def kind_asked(question: str) -> str:
    """The kind of fact ``answers_kind`` looks for, in words (for a refusal)."""
    cues = question_cues(question)
    if _MONEY_QUESTION.search(question):
        return "amount"
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
    if "number" in cues and NUMBER.search(text):
        hits += 1
    return hits / len(cues)


_MULTI_PART = re.compile(r"\b(?:and|both|each|compare|compared|versus|vs|between|two|which briefings)\b|,", re.I)
_MULTI_DOC = re.compile(
    r"\b(?:both|each|compare|compared|versus|vs|which briefings|two briefings|briefings (?:describe|mention)|"
    r"same way|differ|in the briefings)\b",
    re.I,
)


def is_multi_part(question: str) -> bool:
    """Questions that ask for several facts."""
    return bool(_MULTI_PART.search(question))


def is_multi_doc(question: str, doc_texts: dict[str, str]) -> bool:
    """Questions whose answer spans briefings: they say so, or the names they
    mention are found together in no single retrieved briefing."""
    if _MULTI_DOC.search(question):
        return True
    names = question_names(question)
    if len(names) < 2 or not doc_texts:
        return False
    covered = [{n for n in names if name_found(n, t)} for t in doc_texts.values()]
    return not any(c == set(names) for c in covered) and set().union(*covered) == set(names)


def terms(text: str) -> set[str]:
    return set(tokenize([text])[0])
