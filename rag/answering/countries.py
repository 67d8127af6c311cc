"""One country under its several names: "Filipino" is the Philippines,
"Washington" the United States, "Minsk" Belarus.

The names come from the countryinfo package (name, adjective, capital and
long spellings of 250 countries), so they hold for countries no sample
briefing mentions; rules derive only the regular adjectives ("China" ~
"Chinese", see ``question._word_forms``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache


def _spellings(info: dict) -> list[str]:
    capitals = info.get("capital") or []
    capitals = [capitals] if isinstance(capitals, str) else capitals
    names = [info.get("name") or "", info.get("demonym") or ""] + [c.removesuffix(" D.C.") for c in capitals]
    # Long spellings only: codes ("US", "DM") are words of their own ("us"), and
    # native-script names are not how English briefings write them.
    names += [s for s in info.get("altSpellings", []) if len(s) >= 4 and s.isascii() and not s.isupper()]
    return [n for n in names if n]


@lru_cache(maxsize=1)
def _groups() -> dict[str, frozenset[str]]:
    from countryinfo import CountryInfo

    countries = list(CountryInfo.all().values())
    # An adjective shared by several countries ("Dominican", "American") names
    # the most populous of them; the others keep their own name and capital.
    holder: dict[str, dict] = {}
    for info in countries:
        d = (info.get("demonym") or "").lower()
        if d and (d not in holder or (info.get("population") or 0) > (holder[d].get("population") or 0)):
            holder[d] = info
    by_name: dict[str, set[str]] = defaultdict(set)
    for info in countries:
        demonym = (info.get("demonym") or "").lower()
        names = [n for n in _spellings(info) if n.lower() != demonym or holder[demonym] is info]
        for n in names:
            by_name[n.lower()].update(names)
    return {k: frozenset(v) for k, v in by_name.items()}


def other_names(name: str) -> frozenset[str]:
    """The country's other names when ``name`` is one of them (any case), else nothing."""
    return _groups().get(name.lower(), frozenset()) - {name}


@lru_cache(maxsize=4096)
def longer_countries(name: str) -> re.Pattern | None:
    """Other countries whose names hold ``name`` as words ("Guinea-Bissau",
    "Equatorial Guinea" and "Papua New Guinea" for "Guinea", "South Sudan" for
    "Sudan"), as one pattern; None when there are none or ``name`` is not a
    country's name. A name of the country itself ("Republic of Guinea") is not one."""
    low = name.lower()
    groups = _groups()
    if low not in groups:
        return None
    own = {n.lower() for n in groups[low]}
    word = re.compile(rf"(?<![\w-]){re.escape(low)}(?![\w])")
    foreign = sorted((n for n in groups if n != low and n not in own and word.search(n)), key=len, reverse=True)
    if not foreign:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(n) for n in foreign) + r")(?![\w])")
