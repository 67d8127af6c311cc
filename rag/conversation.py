"""Follow-up questions rewritten into standalone ones, offline and without a model.

"How many Indians were hurt in it?" after "What happened near Lunpo La in
October?" becomes "How many Indians were hurt in the events near Lunpo La in
October?": the pronoun is replaced by what it points at, so the *follow-up's*
asked fact (a number of injured) decides the answer while the earlier turn only
says which event is meant. Concatenating the two turns, as before, made the
earlier question's frame ("what happened") win.

The rules work on the words of the turns alone (no lexicon of the briefings):

- the *antecedent* of a question is the phrase it asks about: its first noun
  phrase that starts with a determiner, a name or a preposition before a name,
  with the question frame ("Which ships took part in") stripped;
- pronouns and demonstratives ("it", "that flight", "there", "they", "the 2019
  one") in the follow-up are replaced by the antecedent (or keep their own
  noun: "that flight" -> "the flight over ...");
- an elliptical follow-up ("And the patrol in the Fram Strait?", "What about
  the Chinese one?") is completed from the previous question's frame: a name of
  the same kind (a demonym, a year, a month, a designation) replaces its
  counterpart, anything else replaces the antecedent;
- a follow-up with no pronoun and no name of its own ("How many people were on
  board?") gets what the previous question was about as context, in brackets: its
  antecedent, or for "How did the thieves get into the depot?" the clause "how
  the thieves got into the depot" (the verb's past form from lemminflect);
- a follow-up that names its own subject and points back at nothing stands
  alone (a switch to another event).

Earlier user turns are condensed the same way first, so a third turn can point
back through the second one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lemminflect import getAllLemmas, getInflection

_WH = {"who", "whom", "whose", "what", "when", "where", "which", "why", "how"}
_QUANTITY = {"many", "much", "long", "far", "large", "big", "often", "old", "soon", "badly", "severe"}
_AUX = {
    "did",
    "does",
    "do",
    "was",
    "were",
    "is",
    "are",
    "has",
    "have",
    "had",
    "will",
    "would",
    "can",
    "could",
    "should",
    "may",
    "might",
    "been",
    "be",
    "being",
}
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "its", "their", "his", "her"}
_PREPOSITIONS = {
    "in",
    "on",
    "at",
    "over",
    "near",
    "off",
    "across",
    "along",
    "into",
    "between",
    "during",
    "from",
    "to",
    "around",
    "through",
    "against",
    "with",
    "by",
    "of",
    "for",
    "after",
    "before",
    "inside",
    "outside",
    "under",
    "above",
}
_OPENERS = re.compile(
    r"^\s*(?:and\s+)?(?:also\s+)?(?:what|how)\s+about\s+|^\s*(?:and|so|but|ok|okay|well)\b,?\s+(?:also\s+)?"
    r"|^\s*also\s+|^\s*then\s+",
    re.I,
)
# A phrase set before the question and closed by a colon or a dash ("And the Turkish crew - how
# many of them were taken?"): what the question's pronouns point at.
_FRONTING = {":", "-", "\u2013", "\u2014"}
# A yes/no question about "anyone" is not about anyone in particular: no antecedent.
_INDEFINITE = {"anyone", "anybody", "someone", "somebody", "anything", "something", "any", "there"}
_PRONOUNS = {
    "it",
    "its",
    "they",
    "them",
    "their",
    "there",
    "he",
    "she",
    "him",
    "his",
    "her",
    "this",
    "that",
    "those",
    "these",
}
_MONTHS = {
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
}
_ADVERBS = {
    "still",
    "also",
    "really",
    "now",
    "then",
    "ever",
    "only",
    "actually",
    "true",
    "right",
    "correct",
    "accurate",
    "all",
}
_COPULAS = {"is", "was", "are", "were"}
_DO = {"did", "does", "do"}
_MODALS = {"will", "can", "could", "would", "should"}
# A reaction with its object left out ("How did Minsk respond?") is to the conversation's event.
_REACTION = re.compile(r"\b(?:respond|react|reply|retaliate|answer|comment)(?:ed|s)?\s*[?.!]*\s*$", re.I)
# A count in words, which an answer may open with ("Two frigates ...").
_NUMBER_WORD = re.compile(r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|some|several")
# An answer's citation markers ("... in Gabon. [1]"): no part of what it says.
_MARKERS = re.compile(r"\s*\[\d+\]")
# A word (letters of any alphabet, digits; inner apostrophes, hyphens, dots) or one other character.
_TOKEN = re.compile(r"[^\W_](?:[^\W_]|['’\-.])*[^\W_]|[^\W_]|[^\s\w]|_")


@dataclass(frozen=True)
class Rewrite:
    """A follow-up as asked and as rewritten.

    ``standalone`` is what retrieval searches with; ``focus`` is the same
    without the context added in brackets, what the answerer matches units
    against, so the current turn decides what is asked. ``previous`` (the
    earlier question, itself rewritten) and ``previous_answer`` say which
    briefing the conversation is about.
    """

    question: str
    standalone: str
    focus: str
    previous: str = ""
    previous_answer: str = ""

    @property
    def rewritten(self) -> bool:
        return bool(self.previous)

    @property
    def earlier(self) -> str:
        """What the conversation already said: the previous question and its answer."""
        return f"{self.previous} {self.previous_answer}".strip()


def parse_history(value: object) -> list[dict]:
    """A conversation as given by a user (``rag ask --history FILE``): ``[{"role", "content"}, ...]``.

    Raises ValueError naming the item that is wrong.
    """
    if not isinstance(value, (list, tuple)):
        raise ValueError('history: expected a list of {"role": "user"|"assistant", "content": "..."} turns')
    for i, turn in enumerate(value):
        if not isinstance(turn, dict) or not isinstance(turn.get("content"), str):
            raise ValueError(f'history: turn {i} must be {{"role": ..., "content": "..."}}, got {turn!r:.60}')
        if turn.get("role") not in ("user", "assistant"):
            raise ValueError(f"history: turn {i}: role must be 'user' or 'assistant', got {turn.get('role')!r}")
    return [{"role": t["role"], "content": t["content"]} for t in value]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _join(tokens: list[str]) -> str:
    text = " ".join(tokens)
    text = re.sub(r"\s+([?.,;:!)’'])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    text = re.sub(r"\s+'s\b", "'s", text)
    return re.sub(r"(s)'s\b", r"\1'", text).strip()  # "fighters's" -> "fighters'"


def _is_name(token: str, first: bool = False) -> bool:
    """A capitalised word not at the start, a number or a designation ("J-16")."""
    if any(c.isdigit() for c in token):
        return True
    return token[:1].isupper() and not first and token.lower() not in _WH


def _kind(token: str) -> str:
    """The kind of a name, so that a follow-up's name replaces its own counterpart."""
    low = token.lower()
    if re.fullmatch(r"(?:19|20)\d\d", token):
        return "year"
    if low in _MONTHS:
        return "month"
    if re.fullmatch(r"\d[\d,.]*", token):
        return "number"
    if any(c.isdigit() for c in token) and any(c.isalpha() for c in token):
        return "designation"
    if token[:1].isupper() and re.search(r"(?:ese|ian|ians|ish|ean|eans|an|ans|i|is|ch)$", token):
        return "demonym"
    return "name"


def _strip_frame(tokens: list[str]) -> tuple[list[str], list[str]]:
    """(frame, rest): "Which ships took part in" | "VARTIO 25"; the rest starts at the asked-about phrase."""
    words = [t for t in tokens if t not in "?.!"]
    start = None
    for i, tok in enumerate(words):
        low = tok.lower()
        if i > 0 and (low in _DETERMINERS - {"that", "this", "these", "those"} or _is_name(tok, first=i == 0)):
            start = i
            break
    if start is None:
        return words, []
    # A preposition right before the phrase belongs to it ("near Lunpo La").
    if start > 1 and words[start - 1].lower() in _PREPOSITIONS and words[start - 1].lower() not in {"of", "for", "to"}:
        start -= 1
    return words[:start], words[start:]


# "According to the corrected count, how many ...": who says it, not what is asked about.
_ATTRIBUTION = re.compile(r"^\s*(?:according to|as reported by|as per|per)\b[^,?]*,\s*", re.I)


def _first_part(tokens: list[str]) -> list[str]:
    """The first question of several ("Who seized the ship | and where did they take it?",
    "Which firm did the EU list | , and for what?"): its subject is what the next turn
    points at. A question opens with its wh-word or auxiliary; a phrase set before it
    ("In 2023, how many ...") is kept."""
    if not tokens or tokens[0].lower() not in _WH | _AUX:
        return tokens
    for i in range(2, len(tokens) - 1):
        if tokens[i] not in {",", "and", "or"}:
            continue
        j = i
        while j < len(tokens) and tokens[j].lower() in {",", "and", "or"}:
            j += 1
        if j < len(tokens) and tokens[j].lower() in _PREPOSITIONS:
            j += 1  # ", and for what"
        if j < len(tokens) and tokens[j].lower() in _WH | _AUX:
            return tokens[:i]  # not at a list's comma ("Iran, Russia and China")
    return tokens


def antecedent(question: str) -> str:
    """The phrase a question is about, as a noun phrase: what "it" in the next turn points at."""
    tokens = _first_part(_tokens(_ATTRIBUTION.sub("", question)))
    verb = _verb_after_subject(tokens, 1) if tokens[:1] and tokens[0].lower() in _DO else None
    if verb is not None and verb > 1 and not (verb == 2 and tokens[1].lower() in _INDEFINITE):
        # "Did a submarine take part in JIMEX 22?": what the next "it" points at is the subject
        # ("Did anyone claim it?" is about what was claimed, not about "anyone").
        subject = tokens[1:verb]
        while len(subject) > 1 and subject[-1].lower() in _ADVERBS:
            subject = subject[:-1]  # "Does the alliance still want ...": "still" is not the alliance
        return _join(["the", *subject[1:]] if subject[0].lower() in {"a", "an"} else subject)
    frame, rest = _strip_frame(tokens)
    if not rest:
        rest = [t for t in frame if t.lower() not in _WH | _QUANTITY | _AUX]
    # "When did Operation 1027 begin": an inverted question ends in its verb.
    if frame and frame[-1].lower() in _DO | _MODALS:
        verb = _verb_after_subject(rest, 0)
        if verb is not None:
            rest = rest[:verb]  # "When did [the Chinese Y-9] cross into Japanese airspace"
        else:
            while len(rest) > 1 and rest[-1][:1].islower() and not any(c.isdigit() for c in rest[-1]):
                rest = rest[:-1]
    rest = [t for t in rest if t.lower() not in _AUX]
    if not rest:
        return ""
    if rest[0].lower() in _PREPOSITIONS:
        rest = ["the", "events", *rest]
    elif rest[0].lower() not in _DETERMINERS and not _is_name(rest[0]) and rest[0][:1].islower():
        rest = ["the", *rest]
    elif rest[0][:1].isupper() and len(rest) > 1 and rest[1][:1].islower() and _kind(rest[0]) == "demonym":
        rest = ["the", *rest]  # "Ukrainian mobile operator ..." -> "the Ukrainian mobile operator ..."
    return _join(rest)


def about(question: str) -> str:
    """What a question is about, as words that read right in brackets after the
    next one: "How did the thieves get into the depot?" -> "how the thieves got into
    the depot", "Did a submarine take part?" -> "whether a submarine took part" (a
    question inverted with "did" / "does" / "do" becomes a clause); any other
    question gives its antecedent."""
    words = [t for t in _first_part(_tokens(_ATTRIBUTION.sub("", question))) if t not in "?.!"]
    first = words[0].lower() if words else ""
    # "How did X get in" -> "how X got in"; "What ship did X stop" -> "what ship X stopped";
    # "Did X take part" -> "whether X took part".
    if first in _DO:
        opener, at = ["whether"], 0
    else:
        # "Which firm in Gomel did the EU list": the wh-phrase may hold a place or a name
        at = next((j for j in range(1, min(6, len(words))) if words[j].lower() in _DO), 0)
        opener = [first, *words[1:at]]
    aux = words[at].lower() if len(words) > at + 2 else ""
    if (at == 0 or first in _WH) and aux in _DO:
        verb = _verb_after_subject(words, at + 1)
        if verb is not None:
            form = getInflection(words[verb], "VBD" if aux == "did" else "VBZ") if aux != "do" else None
            return _join([*opener, *words[at + 1 : verb], form[0] if form else words[verb], *words[verb + 1 :]])
    return antecedent(question)


def _verb_after_subject(words: list[str], start: int) -> int | None:
    """The position of the bare verb after the subject that starts at ``start``
    ("did [the first reports] say about ..."): the first lowercase word, after one
    word of the subject at least, that is a verb's base form and does not follow a
    determiner ("the patrol report": "patrol" is a noun there)."""
    for i in range(start + 1, len(words)):
        w = words[i]
        before = words[i - 1]
        if not w[:1].islower() or before.lower() in _DETERMINERS or w in _ADVERBS | _PREPOSITIONS:
            continue
        if before.endswith(("'s", "\u2019s")):
            continue  # "North Korea's space agency": after a possessive, a noun
        if _base_verb(w) and not _verb_follows(words, i + 1):
            return i
    return None


def _only_verb(word: str) -> bool:
    """A verb's form that is no noun ("happened", "went", "happen"); a gerund reads as
    a noun after "that" ("that shelling")."""
    lemmas = getAllLemmas(word)
    return "VERB" in lemmas and "NOUN" not in lemmas and not word.endswith("ing")


def _base_verb(word: str) -> bool:
    return word in getAllLemmas(word, upos="VERB").get("VERB", ())


def _verb_follows(words: list[str], i: int) -> bool:
    """Whether ``words[i]`` is the verb rather than the word before it ("the boarding
    team cut the search": "team" is a verb's form too, but "cut" is followed by its object)."""
    if i >= len(words) or not words[i][:1].islower() or words[i] in _PREPOSITIONS or not _base_verb(words[i]):
        return False  # "take over the base": "over" is a particle, never the verb
    nxt = words[i + 1] if i + 1 < len(words) else ""
    # ... by a determiner or a name: its object ("take part in" is one verb, "part" no other)
    return nxt.lower() in _DETERMINERS or nxt[:1].isupper()


def _head_noun(phrase: str) -> str:
    """The noun a phrase is about: "the joint air patrol over the East China Sea" -> "patrol"."""
    words = _tokens(phrase)
    head = ""
    for tok in words:
        if tok.lower() in _PREPOSITIONS and head:
            break
        if tok[:1].islower() and tok.lower() not in _DETERMINERS and tok.lower() not in _PREPOSITIONS:
            head = tok
    return head


def _modifiers(phrase: str) -> list[str]:
    """The prepositional tail of a phrase: "over the East China Sea in 2024"."""
    words = _tokens(phrase)
    for i, tok in enumerate(words):
        if i > 0 and tok.lower() in _PREPOSITIONS:
            return words[i:]
    return []


def _pronoun_at(tokens: list[str], i: int) -> bool:
    """Whether ``tokens[i]`` points back at the conversation.

    "that" / "this" point back only where a pronoun or a demonstrative can stand
    (first, or after a preposition, an auxiliary or a wh-word: "after that",
    "Is that ..."); after a noun "that" is a relative ("the force that moved").
    "there" before or after an auxiliary is existential ("Was there ...").
    """
    low = tokens[i].lower()
    prev = tokens[i - 1].lower() if i > 0 else ""
    nxt = tokens[i + 1].lower() if i + 1 < len(tokens) else ""
    if low in {"that", "this", "those", "these"}:
        return i == 0 or prev in _PREPOSITIONS | _AUX | _WH | {"and", "of", "about"} or prev[:1] in {",", "("}
    if low == "there":
        return prev not in _AUX and nxt not in _AUX
    if low == "one":
        return i > 0 and prev not in {"only", "no", "any", "every", "each", "at", "of"}
    if low == "other":
        return prev in {"the"} and nxt in {"one", "?", ""}
    return low in _PRONOUNS


def _points_back(tokens: list[str]) -> bool:
    return any(_pronoun_at(tokens, i) for i in range(len(tokens)))


def _own_names(tokens: list[str], initial: bool = True) -> list[str]:
    """Names that say what a question is about: a demonym or a month alone does not.
    ``initial``: the first token opens the question, so its capital says nothing
    (after a stripped "And", "Rome's own flight" is a name)."""
    return [
        t
        for i, t in enumerate(tokens)
        if _is_name(t, first=initial and i == 0) and _kind(t) not in {"demonym", "month"}
    ]


def is_follow_up(question: str, history: list[dict] | None) -> bool:
    """Leans on the conversation: opens with "and ..." / "what about ...", points back with a
    pronoun or "the other one", or names nothing of its own. A question that names its own
    subject and points back at nothing stands alone even after "And"."""
    if not history or not any(t.get("role") == "user" for t in history):
        return False
    tokens = _tokens(_OPENERS.sub("", question))
    if _points_back(tokens):
        return True
    opened = bool(_OPENERS.match(question))
    if opened and not _is_question(tokens):
        return True  # "And the patrol in the Fram Strait?"
    return not _own_names(tokens, initial=not opened) or bool(_REACTION.search(question))


def _is_question(tokens: list[str]) -> bool:
    """A full question, not a fragment: a wh-word or an auxiliary first, or right
    after a phrase set before it ("And in the 2019 flight, how long did ...?",
    "Rome's own flight: how many people did it bring out?")."""
    if tokens and (tokens[0].lower() in _WH or tokens[0].lower() in _AUX):
        return True
    # The phrase set before is a time or place ("in ...", "on ...") or closed by a colon;
    # "And Poland, which was also hit?" is a fragment with a relative clause.
    fronted = bool(tokens) and tokens[0].lower() in _PREPOSITIONS
    for i, tok in enumerate(tokens[:-1]):
        if (tok in _FRONTING or (tok == "," and fronted)) and tokens[i + 1].lower() in _WH | _AUX:
            return True
    return False


# "Yes, an Indian Kalvari-class submarine, which ..." after "Did a submarine take part?":
# the answer to a yes/no question names what the next turn's "it" points at.
_YES_NO = re.compile(r"^\s*(?:yes|no)\b[,.;:]?\s*", re.I)
_DEFINITE = re.compile(r"(?:an?|the|one|two|three|four|five|six|seven|eight|nine|ten|\d[\d,]*)\s[^,;.]+", re.I)
_CLAUSE_END = re.compile(r"\s+(?:which|that|who|whose|was|were|is|are|had|has|did)\b.*$", re.I)


def _confirmed_phrase(answer: str) -> list[str]:
    """The noun phrase a yes/no answer opens with, as a definite phrase ("the Indian
    Kalvari-class submarine"); empty when the answer does not open that way."""
    opening = _YES_NO.match(answer)
    match = _DEFINITE.match(answer, opening.end()) if opening else None
    if not match:
        return []
    words = _tokens(_CLAUSE_END.sub("", match.group(0)))
    if words and words[0].lower() in {"a", "an"}:
        words[0] = "the"
    return words if len(words) >= 2 else []


def _without_yes_no(answer: str) -> str:
    return _YES_NO.sub("", answer)


def _answer_phrase(answer: str) -> list[str]:
    """What "they" / "them" points at in a previous answer: its first run of names and
    the nouns after them, eight words at most ("T129 ATAK attack helicopters", "the Hong
    Kong-flagged container ship Newnew Polar Bear"), or a short answer whole."""
    words = _tokens(re.split(r"[.;:,]", answer, maxsplit=1)[0])
    if 0 < len(words) <= 6:
        return _lower_opening(words)
    out: list[str] = []
    for i, tok in enumerate(words):
        if not out and not _is_name(tok, first=i == 0):
            continue
        if not out and i and words[i - 1].lower() == "the":
            out.append("the")  # "the Hong Kong-flagged container ship ..."
        # "built by", "made by"; not a compound adjective ("Hong Kong-flagged")
        participle = ("-" not in tok and tok.endswith(("ed", "ing"))) or words[i + 1 : i + 2] == ["by"]
        if tok.lower() in _PREPOSITIONS | _AUX or participle or len(out) >= 8:
            break
        out.append(tok)
    while out and out[-1].lower() in {"the", "and", "or"}:
        out.pop()  # cut at the limit: "... Sea Falcon Two and | its sister ship"
    return _lower_opening(out)


def _lower_opening(words: list[str]) -> list[str]:
    """An answer's first word in lower case where it is capitalised only for opening the
    answer ("Roughly 300 Chinese soldiers" -> "roughly 300 ..."): an adverb, a determiner,
    a preposition or a number word; a name ("Italy") keeps its capital."""
    first = words[0].lower() if words else ""
    if "ADV" in getAllLemmas(first) or first in _DETERMINERS | _PREPOSITIONS or _NUMBER_WORD.fullmatch(first):
        return [first, *words[1:]]
    return words


def _replace_pronouns(
    tokens: list[str],
    ante: str,
    answer: str,
    context_phrase: str = "",
    initial: bool = True,
    entity: list[str] | None = None,
    place: list[str] | None = None,
    circumstance: bool = False,
    plural: list[str] | None = None,
    last_place: list[str] | None = None,
) -> list[str]:
    """Each pronoun replaced by what it points at; where no phrase fits, what the
    conversation is about (``context_phrase``, else the antecedent) is added at the end.

    ``entity``: the thing the previous answer named when the previous question asked
    for one ("Which warship ...?" "The frigate Hessen."): what "it" points at next.
    ``place``: the place the previous answer gave to "Where ...?": what "there" is.
    ``circumstance``: the previous question asked why, how, when or where.
    ``plural``: what "they" points at when the question says so itself (a fronted phrase).
    ``last_place``: the place the conversation last named, what "there" is when nothing
    nearer says."""
    ante_tokens = _tokens(ante)
    head = _head_noun(ante)
    out: list[str] = []
    context = False
    i = 0
    while i < len(tokens):
        tok, low = tokens[i], tokens[i].lower()
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if not _pronoun_at(tokens, i):
            out.append(tok)
        elif low not in {"one", "other"} and _own_names(tokens[:i], initial):
            # "Was there an earlier ECOWAS force ..., and when was it there?": the
            # pronoun may point at the question's own subject; keep it, add context.
            out.append(tok)
            context = True
        elif low in {"they", "them", "their"} and _plural_before(tokens, i):
            # "How many seafarers were aboard, and how many of them were Sri Lankan?":
            # the question's own earlier clause holds what "them" is.
            out.append(tok)
            context = True
        elif (
            low in {"that", "this", "those", "these"}
            and nxt[:1].islower()
            and nxt.lower() not in _AUX | _PREPOSITIONS | _ADVERBS
            and not nxt.endswith("ly")  # "when did that officially start"
            and not _only_verb(nxt)
        ):
            out.append("the")  # "that flight" -> "the flight", the antecedent as context
            context = True
        elif low == "one":
            if head:
                out.append(head)  # "the 2019 one" -> "the 2019 patrol"
            else:
                out.append(tok)
                context = True
        elif low == "other":
            out.append(tok)
            context = True
        elif low in {"that", "this"} and i and tokens[i - 1].lower() in {"after", "before", "since", "until"}:
            # "What happened to his party role after that?": that is the previous turn's event,
            # which the context in brackets says; no noun phrase reads right in its place.
            out.append(tok)
            context = True
        elif low in {"that", "this"} and (
            {tokens[i - 1].lower() if i else "", nxt.lower()} & _COPULAS or _only_verb(nxt)
        ):
            # "Which firm was that?", "Is that still the number?", "Has that happened before?":
            # "that" is what the answer said or told of, not the question's phrase; keep it,
            # add the phrase as context.
            out.append(tok)
            context = True
        elif low == "it":
            out += entity or ante_tokens or [tok]
        elif low in {"that", "this"}:
            out += ante_tokens or [tok]
        elif low == "its":
            owner = entity or ante_tokens
            out += [*owner, "'s"] if owner else [tok]
        elif low == "there":
            out += ["in", *place] if place else _modifiers(ante) or ["in", *(last_place or ante_tokens)]
        elif low in {"they", "them", "those", "these", "their"}:
            # After "Why / How / When / Where did the team ...?" the answer is a reason or a
            # time, not a party: "they" is the team. After "What did X receive?" it is the answer.
            phrase = plural or (_answer_phrase(answer) if not circumstance else []) or ante_tokens
            out += [*phrase, "'s"] if low == "their" else phrase
        elif low in {"he", "she", "him", "his", "her"}:
            person = _person(answer, ante)
            if person:
                out += [person, "'s"] if low == "his" else [person]
            else:
                out.append(tok)
                context = True
        else:
            out.append(tok)
        i += 1
    if context and ante_tokens:
        out = [t for t in out if t not in "?.!"] + ["(", *(_tokens(context_phrase) or ante_tokens), ")"]
    return out


def _asked_entity(previous: str, answer: str) -> list[str]:
    """What the previous answer named, when the previous question asked for one thing
    ("Which warship ...?", "What rocket ...?"): "The frigate Hessen" as "the frigate Hessen".
    Empty for a question about an event, a reason or several things ("Which countries ...?")."""
    words = [t for t in _tokens(previous) if t not in "?.!"]
    if len(words) < 3 or words[0].lower() not in {"which", "what"}:
        return []
    noun = next((w for w in words[1:4] if w[:1].islower()), "")  # "Which EU warship": warship
    lemmas = getAllLemmas(noun, upos="NOUN").get("NOUN", ())
    verb = getAllLemmas(noun, upos="VERB").get("VERB", ())
    if not noun or noun in _AUX | _QUANTITY or (lemmas and noun not in lemmas) or (verb and not lemmas):
        return []  # "What did ...", "What happened ...", "Which ships ..." (a plural)
    said = _without_yes_no(answer)
    phrase = _answer_phrase(said)
    if phrase and phrase[0].lower() in {"the", "a", "an"}:
        phrase = ["the", *phrase[1:]]
    # "The frigate Hessen", or a name the answer opens with ("TotalEnergies, which halted ...");
    # not "Two frigates", nor a name cut from a longer phrase ("The Hong Kong-flagged ship ...").
    alone = len(phrase) == 1 and said.lstrip().startswith(phrase[0]) and _kind(phrase[0]) in {"name", "designation"}
    if not any(_is_name(t) for t in phrase[1:]) and not alone:
        return []
    return phrase


_PLACE_GIVEN = re.compile(
    r"\b(?i:to|in|at|near|off|into|towards?)\s+((?:the\s+)?[A-Z][\w\-'\u2019]*(?:\s+(?:of\s+)?[A-Z][\w\-'\u2019]*)*)"
)


def _answered_place(previous: str, answer: str) -> list[str]:
    """The place a "Where ...?" answer gave ("took it to Port-Gentil in Gabon": Port-Gentil):
    what "there" in the next turn means."""
    if not re.match(r"^\W*(?:to |from )?where\b", previous, re.I):
        return []
    return _place_in(answer)


def _place_in(text: str) -> list[str]:
    """The first place ``text`` names after a preposition of place ("in the Gulf of Guinea");
    "in March" is a time."""
    for found in _PLACE_GIVEN.finditer(text):
        words = _tokens(found.group(1))
        if words and _kind(words[0] if words[0].lower() != "the" else words[-1]) != "month":
            return words
    return []


def _last_place(turns: list[dict]) -> list[str]:
    """The place the conversation last named, newest turn first: what "there" points at
    when the earlier question's phrase holds no place ("How far did those attacks reach?")."""
    for turn in reversed(turns):
        place = _place_in(_MARKERS.sub("", turn["content"]))
        if place:
            return place
    return []


def _plural_before(tokens: list[str], i: int) -> bool:
    """Whether a clause of the question before the pronoun at ``i`` (closed by a
    comma or "and") holds a plural noun the pronoun can stand for."""
    breaks = [j for j in range(i) if tokens[j] == "," or tokens[j].lower() == "and"]
    if not breaks:
        return False
    for tok in tokens[: breaks[-1]]:
        lemmas = getAllLemmas(tok, upos="NOUN").get("NOUN", ()) if tok[:1].islower() else ()
        if lemmas and tok not in lemmas and tok.endswith("s"):
            return True
    return False


def _person(answer: str, ante: str) -> str:
    """The first run of two or more capitalised words in the answer (a person's name,
    often with a title), not the thing the question was about ("Who owns the Galaxy
    Leader?": "he" is not the ship); else in the antecedent ("What did Minister Ali
    Shah say?"), unless the antecedent is a thing whose person was asked for."""
    for text, about in ((answer, ante), ("" if ante.startswith("the ") else ante, "")):
        for match in re.finditer(r"\b[A-Z][a-z]+(?:\s+[A-Z][a-z]+)+", text or ""):
            name = re.sub(r"^(?:The|A|An)\s+", "", match.group(0))
            if " " in name and name.lower() not in about.lower():
                return name
    return ""


_RELATIVE_YEAR = re.compile(
    r"(?:in\s+)?(?:the|a)\s+(?:year\s+(?:(?P<back>before|earlier)|after|later)|(?:(?P<back2>previous|prior)|following|next)\s+year)",
    re.I,
)


def _complete_fragment(fragment: list[str], previous: str) -> list[str]:
    """ "the Chinese one" after "How many Indians were hurt in ...?" -> "How many Chinese were hurt in ...?";
    "the patrol in the Fram Strait" after "Which ships took part in VARTIO 25?" -> "Which ships took part
    in the patrol in the Fram Strait?"."""
    frag = [t for t in fragment if t not in "?.!"]
    if frag and frag[-1].lower() == "one" and len(frag) > 2:
        frag = frag[:-1]
    prev = [t for t in _tokens(previous) if t not in "?.!"]
    relative = _RELATIVE_YEAR.fullmatch(" ".join(frag))
    years = [i for i, t in enumerate(prev) if _kind(t) == "year"]
    if relative and len(years) == 1:
        # "What about the year before?" after "... in 2023?": the same question about 2022.
        step = -1 if relative.group("back") or relative.group("back2") else 1
        return [*prev[: years[0]], str(int(prev[years[0]]) + step), *prev[years[0] + 1 :]]
    names = [t for t in frag if _is_name(t)]
    if names:
        kinds = {_kind(n): n for n in names}
        swapped, used = [], set()
        for i, tok in enumerate(prev):
            k = _kind(tok) if _is_name(tok, first=i == 0) else None
            if k in kinds and k != "name" and k not in used:
                swapped.append(kinds[k])
                used.add(k)
            else:
                swapped.append(tok)
        if used and len(used) == len({_kind(n) for n in names}):
            return swapped
    frame, rest = _strip_frame(prev)
    if not names or not frame or not rest:
        # "What about the second one?": the earlier question, with the reference as context.
        return [*prev, "(", *frag, ")"]
    one = any(t.lower() == "one" for t in frag)  # "the one at Tessalit": a thing like one named, not the subject
    if frame[-1].lower() in _DO | _MODALS and not one and not any(t.lower() in _WH for t in frag):
        # "When did [Operation 1027] begin?": the fragment is the new subject, the verb stays.
        verb = _verb_after_subject(rest, 0)
        if verb is not None:
            return [*frame, *frag, *rest[verb:]]
    if rest[0].lower() in _PREPOSITIONS and not (frag and frag[0].lower() in _PREPOSITIONS):
        frame = [*frame, rest[0]]
    return frame + frag


def rewrite(question: str, history: list[dict] | None) -> Rewrite:
    """The standalone form of ``question`` given the earlier turns."""
    turns = [t for t in history or [] if t.get("content")]
    if not is_follow_up(question, turns):
        return Rewrite(question, question, question)
    users = [i for i, t in enumerate(turns) if t.get("role") == "user"]
    last = users[-1]
    previous = rewrite(turns[last]["content"], turns[:last]).standalone
    answer = next((t["content"] for t in turns[last + 1 :] if t.get("role") == "assistant"), "")
    answer = _MARKERS.sub("", answer)
    opener = _tokens(previous)[:1]
    confirmed = _confirmed_phrase(answer) if opener and opener[0].lower() in _AUX else []
    ante = _join(confirmed) if confirmed else antecedent(previous)
    # What "they" / "he" are looked for in: the confirmed phrase, or the answer less its "Yes,".
    named = ante if confirmed else _without_yes_no(answer)
    body = _OPENERS.sub("", question).strip()
    tokens = _tokens(body)
    context = ante if confirmed else about(previous)
    fronted = _fronted(tokens)
    if not _is_question(tokens) and _OPENERS.match(question):
        out = _complete_fragment(tokens, previous)
    elif fronted:
        # "the Turkish crew - how many of them were taken?": the pronouns are the fronted phrase.
        out = _replace_pronouns(
            tokens, _join(fronted), named, context, initial=not _OPENERS.match(question), plural=fronted
        )
        if context and not _own_names(fronted, initial=False) and "(" not in out:
            out = [t for t in out if t not in "?.!"] + ["(", *_tokens(context), ")"]  # "the regional bloc's mission"
    elif _points_back(tokens):
        out = _replace_pronouns(
            tokens,
            ante,
            named,
            context,
            initial=not _OPENERS.match(question),
            entity=[] if confirmed else _asked_entity(previous, answer),
            place=_answered_place(previous, answer),
            last_place=_last_place(turns),
            circumstance=bool(re.match(r"^\W*(?:why|how|when|where)\s+(?:did|does|do)\b", previous, re.I)),
        )
    else:
        # Names nothing and points back at nothing: the conversation's subject is implied.
        words = [t for t in tokens if t not in "?.!"]
        subject = ante if confirmed else about(previous)
        out = [*words, "(", *_tokens(subject), ")"] if subject else words
    words = [t for t in out if t not in "?.!"]
    cut = words.index("(") if "(" in words and words[-1] == ")" else len(words)
    text, focus = _sentence(words), _sentence(words[:cut])
    return Rewrite(question, text, focus, previous, answer)


def _fronted(tokens: list[str]) -> list[str]:
    """The phrase set before the question and closed by a colon or a dash ("the Turkish
    crew - how many ...?"), when it points back at nothing itself; else empty."""
    for i, tok in enumerate(tokens[:-1]):
        if tok in _FRONTING and tokens[i + 1].lower() in _WH | _AUX:
            front = tokens[:i]
            # "the two officers who were hurt with him - what are their names?": their = the officers
            cut = next((j for j, t in enumerate(front) if t.lower() in {"who", "which", "that", "whose"}), len(front))
            front = front[:cut]
            return front if front and not _points_back(front) and front[0].lower() not in _WH else []
    return []


def _sentence(words: list[str]) -> str:
    text = _join(words)
    return text[:1].upper() + text[1:] + "?"
