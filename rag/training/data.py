"""Build (question, unit) pairs for the answerability reader.

Source: SQuAD v1.1 dev minus every paragraph that the SQuAD 2.0 sample asks
(exact context string) minus the held-out articles `rag eval --squad` asks,
so no evaluation ever scores the reader on text it was trained or
calibrated on. Units come from ``rag.sentences.units_of`` -- the segmenter
the answerer uses at inference -- so train and inference units match.

Per question: the gold unit (label 1) and negatives (label 0):
  para  the other unit of its paragraph with most question-word overlap
  topic the unit of another paragraph of the article with most overlap
  swap  the question with a name/number/year that the gold unit states
        replaced by another of the same kind from the article that the
        paragraph does not hold, paired with the gold unit
  attr  the question asking for an attribute (when/where/who/how many)
        that the gold unit does not hold, paired with the gold unit
  hole  (``holes=True``) the question with its gold unit, the answer taken
        out of the unit or put in vague words ("on 3 May" dropped, "Ericsson"
        -> "a company", "40" -> "several"): the topic and every other word of
        the question stay, only the asked detail is missing -- the near miss
        that a question written from a briefing's own sentence makes
Paragraph negatives alone gave no separation of near-miss unanswerables in
the prototype (AUC 0.43); swap/attr are the near misses it lacked.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rag.sentences import units_of

ROOT = Path(__file__).resolve().parents[2]
SQUAD_V11 = ROOT.parent / "shared" / "benchmarks" / "squad-v1.1-dev" / "dev-v1.1.json"
SAMPLE_V2 = ROOT.parent / "shared" / "benchmarks" / "squad-v2-sample500"
HELDOUT_JSON = ROOT / "corpus" / "heldout" / "squad_articles.json"
TEST_QUESTIONS = ROOT / "corpus" / "questions" / "test.jsonl"

SYNTHETIC = ("swap", "attr", "hole")

_STOP = set(
    "a an the of in on at to for from by with and or but is are was were be been being do does did has have had "
    "what which who whom whose when where why how many much that this these those it its as into than then there "
    "their they he she his her him them not no can could would should will may might also such about over under "
    "after before during between through s".split()
)
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Example:
    question: str
    text: str  # f"{title}. {unit}" -- the briefing side passes "title > heading. unit"
    label: int
    kind: str  # pos | para | topic | swap | attr | hole
    qid: str
    title: str
    answer: str = ""  # a positive's gold answer, found in ``text`` (the span head's target)


@dataclass(frozen=True)
class Group:
    """One validation question with every unit of its paragraph, for P@1."""

    question: str
    texts: tuple[str, ...]
    gold: int


@dataclass
class Built:
    train: list[Example]
    val: list[Example]
    val_groups: list[Group]
    train_titles: list[str]
    val_titles: list[str]
    stats: dict = field(default_factory=dict)


# -- attribute checks: does a unit hold a fact of the asked kind? ---------------
# Deliberately over-inclusive (a unit "has" a time if it has any digit or
# temporal word), so an attr negative is only made when the unit surely lacks it.
_NUMBER_WORDS = (
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|"
    r"millions?|billions?|trillions?|dozens?|couple|several|few|half|single|double|triple|once|twice|thrice|"
    r"both|pair|score|numerous|multiple)\b"
)
_TIME_WORDS = (
    r"\b(january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|"
    r"wednesday|thursday|friday|saturday|sunday|centur(y|ies)|decades?|years?|era|age|ages|period|dynasty|reign|"
    r"during|after|before|since|until|till|when|while|ago|later|earlier|today|now|then|daily|annual(ly)?|"
    r"morning|evening|night|spring|summer|autumn|fall|winter|seasons?|wars?|medieval|ancient|modern|times?|"
    r"recent(ly)?|early|late|bc|ad|bce|ce|month|week|day|days|hours?|once|first|last|previously|currently|"
    r"formerly|eventually|finally|soon|born|died|founded|established)\b"
)
_PERSON_WORDS = (
    r"\b(he|she|his|her|him|they|them|their|who|whom|king|queen|prince|princess|emperor|empress|pope|president|"
    r"minister|leader|ruler|chief|general|officer|people|person|man|men|woman|women|author|writer|scientist|"
    r"team|group|company|government|army|family|father|mother|son|daughter|wife|husband|founder|members?|"
    r"players?|coach|director|owner|khan|lord|bishop|priest|council|committee|board|court|parliament|"
    r"[a-z]+(ers?|ists?|ians?|ors?))\b"
)
_PLACE_WORDS = (
    r"\b(city|cities|country|countries|state|states|region|river|island|islands|county|town|village|area|"
    r"north|south|east|west|northern|southern|eastern|western|central|coast|province|capital|continent|ocean|"
    r"sea|mountains?|valley|abroad|overseas|here|there|where|local(ly)?|nationwide|worldwide|home|site|"
    r"building|street|district|territory|border|land)\b"
)
_PLACE = re.compile(
    r"\b(in|at|from|near|to|into|across|throughout|within|outside|inside|on|of|between|around)\s+(the\s+)?[A-Z]"
)
_CAPITAL = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z'\-]+")


def has_number(text: str) -> bool:
    return bool(re.search(r"\d", text) or re.search(_NUMBER_WORDS, text, re.I))


def has_time(text: str) -> bool:
    return bool(re.search(r"\d", text) or re.search(_TIME_WORDS, text, re.I))


def has_name(text: str) -> bool:
    """Any capitalised word past the unit's first (an "I" counts as none)."""
    return any(m.group(0) != "I" for m in _CAPITAL.finditer(text.strip()))


def has_person(text: str) -> bool:
    return has_name(text) or bool(re.search(_PERSON_WORDS, text, re.I))


def has_place(text: str) -> bool:
    return bool(_PLACE.search(text) or has_name(text) or re.search(_PLACE_WORDS, text, re.I))


HOLDS = {"time": has_time, "place": has_place, "person": has_person, "number": has_number}
TARGET = {"time": "When", "place": "Where", "person": "Who", "number": "How many times"}

# Only aux-inverted questions ("When did X do Y?") are rewritten: there the
# wh-phrase can be swapped for another and the question stays grammatical.
# "How many N have ..." is left out: N is often the subject ("How many actors
# have played ...") and dropping it leaves a broken question, a shortcut cue.
_WH = re.compile(
    r"^(?P<wh>who|whom|when|where|in what year|what year|how often)\s+"
    r"(?P<aux>did|does|do|was|were|is|are|has|have|had|can|could|will|would)\b(?P<rest>.+)$",
    re.I,
)


def asked_attribute(wh: str) -> str:
    wh = wh.lower()
    if wh in ("who", "whom"):
        return "person"
    if wh == "where":
        return "place"
    if wh == "how often":
        return "number"
    return "time"


def attribute_swaps(question: str, unit: str) -> list[tuple[str, str]]:
    """(attribute, rewritten question) for each attribute the unit lacks."""
    m = _WH.match(question.strip())
    if not m:
        return []
    asked = asked_attribute(m.group("wh"))
    out = []
    for attr, holds in HOLDS.items():
        if attr != asked and not holds(unit):
            out.append((attr, f"{TARGET[attr]} {m.group('aux').lower()}{m.group('rest')}"))
    return out


# -- entity / number / year swaps -----------------------------------------------
_NUM = re.compile(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?(?![\w])")
_NAME = re.compile(r"\b[A-Z][a-zA-Z'\-]+(?:\s+[A-Z][a-zA-Z'\-]+)*")
_NOT_NAMES = set(
    "I The A An In On At Of For From By With This That These Those It He She They His Her Its Their "
    "What Which Who When Where Why How During After Before Since As".split()
)


def _kind(span: str) -> str:
    if _NUM.fullmatch(span):
        return "year" if re.fullmatch(r"1\d{3}|20\d{2}", span) else "number"
    return f"name{min(len(span.split()), 3)}"


def spans(text: str, skip_first: bool) -> list[str]:
    """Names (runs of capitalised words), numbers and years of ``text``."""
    out = [m.group(0) for m in _NUM.finditer(text)]
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        if skip_first and m.start() == 0:
            words = words[1:]
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if words:
            out.append(" ".join(words))
    return out


def entity_swap(
    question: str, unit: str, paragraph: str, pool: dict[str, list[str]], rng: random.Random
) -> tuple[str, str, str] | None:
    """(question with one span replaced, old span, new span) or None.

    The old span must be stated by the gold unit (so the swap is a real
    mismatch with it) and the new one absent from the whole paragraph.
    """
    candidates = [s for s in dict.fromkeys(spans(question, skip_first=True)) if s in unit]
    rng.shuffle(candidates)
    low = paragraph.lower()
    for old in candidates:
        options = [s for s in pool.get(_kind(old), []) if s != old and s.lower() not in low]
        if options:
            new = rng.choice(options)
            return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", new, question, count=1), old, new
    return None


# -- answer holes ---------------------------------------------------------------
# What stands in for an answer that was taken out, by what the question asks
# (a time is dropped with its preposition instead).
# Several words per kind, so that no one word becomes the cue for "not stated".
_VAGUE = {
    "person": ("someone", "an official", "a group", "others"),
    "place": ("the area", "the region", "a site there"),
    "number": ("several", "a number of", "some"),
}
_TIME_PREP = re.compile(
    r"\b(?:in|on|at|of|by|during|since|from|until|around|about|circa|after|before)\s+(?:the\s+)?$", re.I
)
_ARTICLE_END = re.compile(r"\b(?:the|a|an)\s*$", re.I)
_WHICH = re.compile(
    r"^(?:which|what)\s+(?P<noun>[a-z]+)\b(?!\s+(?:of|did|does|do|was|were|is|are|has|have|had)\b)", re.I
)
_NOT_A_NOUN = {"year", "kind", "type", "name", "term", "way", "can", "could", "would", "will", "happened"}
_HOW_MANY = re.compile(r"^how\s+(?:many|much)\b", re.I)
_NUMERIC = re.compile(rf"^[$\u00a3\u20ac]?\d[\d,.]*\s*\w*$|^{_NUMBER_WORDS}", re.I)


def _asked(question: str, answer: str) -> str | None:
    """What kind of detail the answer is, judged from the question's wh-phrase:
    person / place / number / time, or "a <noun>" for "which <noun>" asking a name."""
    q = question.strip()
    first = q.split()[0].lower() if q else ""
    if _HOW_MANY.match(q):
        return "number" if _NUMERIC.match(answer) else None
    if first in ("who", "whom", "where") and not answer[:1].isupper():
        return None  # a description ("the city council"), not a name: no vague word fits its place
    if first in ("who", "whom"):
        return "person"
    if first == "where":
        return "place"
    if first == "when" or re.match(r"^(?:in\s+)?what\s+year\b", q, re.I):
        return "time"
    m = _WHICH.match(q)
    if m and answer[:1].isupper() and m.group("noun").islower() and m.group("noun") not in _STOP | _NOT_A_NOUN:
        noun = m.group("noun")
        return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"
    return None


def answer_hole(question: str, unit: str, answer: str, rng: random.Random) -> str | None:
    """``unit`` with ``answer`` taken out (a time with its preposition) or put
    in vague words of the asked kind; None when the question's kind is not
    known, the answer is long or the unit still states it elsewhere."""
    asked = _asked(question, answer)
    at = unit.find(answer)
    if asked is None or at < 0 or len(answer.split()) > 5:
        return None
    before, after = unit[:at], unit[at + len(answer) :]
    prep = _TIME_PREP.search(before)
    if asked == "time":
        if not prep:
            return None  # "as early as 1700": no vague word reads right in its place
        before = before[: prep.start()]
        stand_in = ""
    else:
        stand_in = rng.choice(_VAGUE.get(asked, (asked,)))
        if _ARTICLE_END.search(before):
            first, _, rest = stand_in.partition(" ")
            if first not in ("a", "an", "the") or not rest:
                return None  # "a someone": no grammatical stand-in
            stand_in = rest  # "the" + "a company" -> "the company"
    joined = re.sub(r"\s{2,}", " ", f"{before.rstrip()} {stand_in} {after.lstrip()}")
    hole = re.sub(r"\s+([,.;:])", r"\1", joined).strip().lstrip(",;: ")
    if answer.lower() in hole.lower():
        return None
    return hole[:1].upper() + hole[1:]


# -- overlap --------------------------------------------------------------------
def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def best_by_overlap(question: str, candidates: Iterable[str]) -> str | None:
    q = content_words(question)
    best, score = None, -1
    for text in candidates:
        s = len(q & content_words(text))
        if s > score:
            best, score = text, s
    return best


# -- sources --------------------------------------------------------------------
def heldout_titles(path: Path | None = None) -> list[str]:
    """The articles `rag eval --squad` asks (its own reader when it is there)."""
    if path is None:
        try:
            from rag.evaluation.squad import heldout_squad_titles

            return heldout_squad_titles()
        except ImportError:
            path = HELDOUT_JSON
    return [str(t) for t in json.loads(Path(path).read_text(encoding="utf-8"))["titles"]]


def sample_contexts(folder: Path) -> set[str]:
    rows = json.loads((Path(folder) / "queries.json").read_text(encoding="utf-8"))["queries"]
    return {q["context"] for q in rows}


def split_titles(titles: list[str], seed: int, val_fraction: float) -> tuple[list[str], list[str]]:
    """Articles, not questions, are split, so validation paragraphs are unseen topics."""
    order = sorted(titles)
    random.Random(seed).shuffle(order)
    n_val = max(1, round(len(order) * val_fraction)) if len(order) > 1 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


def article_pool(paragraphs: list[str]) -> dict[str, list[str]]:
    pool: dict[str, set[str]] = {}
    for text in paragraphs:
        for s in spans(text, skip_first=False):
            pool.setdefault(_kind(s), set()).add(s)
    return {k: sorted(v) for k, v in pool.items()}


def question_examples(
    title: str,
    qid: str,
    question: str,
    answer: str,
    answer_start: int,
    paragraph: str,
    units: list[str],
    offsets: list[tuple[int, int]],
    other_units: list[str],
    pool: dict[str, list[str]],
    rng: random.Random,
    holes: bool = False,
) -> tuple[list[Example], int | None]:
    """The examples of one question and the index of its gold unit."""
    gold = next((i for i, (s, e) in enumerate(offsets) if s <= answer_start < e), None)
    if gold is None:
        return [], None
    head = title.replace("_", " ")
    pair = lambda unit: f"{head}. {unit}"  # noqa: E731
    unit = units[gold]
    out = [Example(question, pair(unit), 1, "pos", qid, title, answer)]
    ans = answer.lower()
    # A unit that repeats the answer may answer too: not a safe negative.
    para = best_by_overlap(question, [u for i, u in enumerate(units) if i != gold and ans not in u.lower()])
    if para:
        out.append(Example(question, pair(para), 0, "para", qid, title))
    topic = best_by_overlap(question, [u for u in other_units if ans not in u.lower()])
    if topic:
        out.append(Example(question, pair(topic), 0, "topic", qid, title))
    swapped = entity_swap(question, unit, paragraph, pool, rng)
    if swapped:
        assert swapped[2].lower() not in unit.lower()
        out.append(Example(swapped[0], pair(unit), 0, "swap", qid, title))
    attrs = attribute_swaps(question, unit)
    if attrs:
        attr, text = rng.choice(attrs)
        assert not HOLDS[attr](unit)
        out.append(Example(text, pair(unit), 0, "attr", qid, title))
    # Its own generator, so that the other kinds' choices match a build without holes.
    hole = holes and answer_hole(question, unit, answer, random.Random(f"hole-{qid}"))
    if hole and not any(ans in u.lower() for i, u in enumerate(units) if i != gold):
        out.append(Example(question, pair(hole), 0, "hole", qid, title))
    return out, gold


def build(
    squad: Path = SQUAD_V11,
    sample: Path = SAMPLE_V2,
    heldout: list[str] | None = None,
    seed: int = 13,
    val_fraction: float = 0.1,
    max_examples: int | None = None,
    val_questions: int = 400,
    extra: list[Example] | None = None,
    holes: bool = False,
) -> Built:
    """``extra``: in-domain examples (``indomain.tune_examples()``), added to training only:
    validation stays SQuAD so that epochs compare across variants."""
    data = json.loads(Path(squad).read_text(encoding="utf-8"))["data"]
    held = set(heldout_titles() if heldout is None else heldout)
    banned = sample_contexts(sample)
    articles = {}
    for art in data:
        if art["title"] in held:
            continue
        paras = [p for p in art["paragraphs"] if p["context"] not in banned]
        if paras:
            articles[art["title"]] = paras
    train_t, val_t = split_titles(list(articles), seed, val_fraction)
    rng = random.Random(seed)
    built = Built([], [], [], train_t, val_t)
    used_contexts: set[str] = set()
    for part, titles in (("train", train_t), ("val", val_t)):
        questions = []  # (title, paragraph index, qa)
        units_by = {}
        for title in titles:
            paras = articles[title]
            for i, p in enumerate(paras):
                us = units_of(p["context"])
                units_by[(title, i)] = ([u.readable() for u in us], [(u.start, u.end) for u in us])
                questions += [(title, i, qa) for qa in p["qas"]]
        rng.shuffle(questions)  # so --max-examples keeps the mix of articles
        pools = {t: article_pool([p["context"] for p in articles[t]]) for t in titles}
        examples: list[Example] = []
        n_q = 0
        for title, i, qa in questions:
            if part == "train" and max_examples is not None and len(examples) >= max_examples:
                break
            if part == "val" and n_q >= val_questions:
                break
            units, offsets = units_by[(title, i)]
            others = [u for j in range(len(articles[title])) if j != i for u in units_by[(title, j)][0]]
            a = qa["answers"][0]
            exs, gold = question_examples(
                title,
                qa["id"],
                qa["question"],
                a["text"],
                a["answer_start"],
                articles[title][i]["context"],
                units,
                offsets,
                others,
                pools[title],
                rng,
                holes,
            )
            if not exs:
                continue
            n_q += 1
            used_contexts.add(articles[title][i]["context"])
            examples += exs
            if part == "val" and len(units) > 1:
                head = title.replace("_", " ")
                built.val_groups.append(Group(qa["question"], tuple(f"{head}. {u}" for u in units), gold))
        if part == "train" and max_examples is not None:
            examples = examples[:max_examples]
        setattr(built, part, examples)
        built.stats[part] = {"questions": n_q, "examples": len(examples), **_kinds(examples)}
    if extra:
        built.train += extra
        built.stats["tune"] = _kinds(extra)
    check_no_leak(built, held, banned, used_contexts)
    return built


def _kinds(examples: list[Example]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in examples:
        out[e.kind] = out.get(e.kind, 0) + 1
    return out


def check_no_leak(built: Built, held: set[str], banned_contexts: set[str], used_contexts: set[str]) -> None:
    """Nothing an evaluation asks may reach training or calibration."""
    titles = {e.title for e in built.train + built.val if not e.kind.startswith("tune")}
    assert not titles & held, f"held-out article in training data: {sorted(titles & held)}"
    assert not set(built.train_titles) & set(built.val_titles), "an article is in both train and validation"
    assert not used_contexts & banned_contexts, "a SQuAD 2.0 sample context is in the training data"
    if TEST_QUESTIONS.exists():
        test_q = {
            json.loads(line)["question"]
            for line in TEST_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
        assert not {e.question for e in built.train + built.val} & test_q, (
            "a test-split question is in the training data"
        )
