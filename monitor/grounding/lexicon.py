"""Words as the lexical layer compares them: tokens, stems, number and unit forms, stop list.

Two texts support each other's words when their *normalised* forms meet: "shipped" and
"ships" share the stem "ship", "4,200.00" and "4200" the number "4200", "three" and "3"
the number "3", "km" and "kilometres" the unit "kilometr". The stop list is short on
purpose: function words only, so that a content word the context does not hold always
counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

# Words ("don't", "e-mail" split at the hyphen), numbers with separators and decimals,
# ordinals ("2nd"), and a percent sign as its own token.
_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)*(?:st|nd|rd|th)?|[^\W\d_]+(?:['’][^\W\d_]+)*|%",
)
_ORDINAL_SUFFIX = re.compile(r"(?<=\d)(?:st|nd|rd|th)$")


def _words(text: str) -> list[str]:
    return text.split()


# Function words only (articles, pronouns, auxiliaries, prepositions, conjunctions and a
# few discourse words an answer adds around grounded content).
STOP_WORDS: frozenset[str] = frozenset(
    _words(
        """
        a an the and or but nor so yet if then than that this these those there here
        is are was were be been being am do does did doing done have has had having
        i me my mine we us our ours you your yours he him his she her hers it its they them
        their theirs who whom whose which what when where why how
        of in on at by for with without within into onto from to up down out over under
        about above below between among through during before after since until while
        via per upon across along around against toward towards off onto near
        as also not no only just very too more most much many some any all each every both
        either neither other another such same own can could may might must shall should
        will would let lets s t d ll re ve m
        """
    )
)
# Words an answer uses to talk about its sources rather than to state facts.
SOURCE_WORDS: frozenset[str] = frozenset(
    _words(
        """
        based according provided mentioned passage passages context given information
        answer question however therefore thus
        """
    )
)

# Number words up to twenty, the tens and the first ordinals, so "three" meets "3".
_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        _words(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen "
            "fourteen fifteen sixteen seventeen eighteen nineteen twenty"
        )
    )
}
_NUMBER_WORDS.update(
    {
        w: str(10 * i)
        for i, w in enumerate(_words("thirty forty fifty sixty seventy eighty ninety"), 3)
    }
)
_NUMBER_WORDS.update({"hundred": "100", "thousand": "1000", "million": "1000000"})
_NUMBER_WORDS.update(
    {
        w: str(i)
        for i, w in enumerate(
            _words("first second third fourth fifth sixth seventh eighth ninth tenth"), 1
        )
    }
)

# Unit symbols and abbreviations to the word they stand for (stemmed afterwards).
_UNITS = {
    "%": "percent",
    "pct": "percent",
    "km": "kilometer",
    "kms": "kilometer",
    "kilometre": "kilometer",
    "kilometres": "kilometer",
    "m": "meter",
    "metre": "meter",
    "metres": "meter",
    "cm": "centimeter",
    "mm": "millimeter",
    "mi": "mile",
    "ft": "foot",
    "feet": "foot",
    "kg": "kilogram",
    "kgs": "kilogram",
    "g": "gram",
    "mg": "milligram",
    "lb": "pound",
    "lbs": "pound",
    "oz": "ounce",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "sec": "second",
    "secs": "second",
    "yr": "year",
    "yrs": "year",
    "usd": "dollar",
    "dollars": "dollar",
    "eur": "euro",
    "gbp": "pound",
    "jan": "january",
    "feb": "february",
    "mar": "march",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sep": "september",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}


# Enumeration and citation markers ("1.", "2)", "[3]", "Passage 2", "Document 1") number
# the answer's own structure, not facts, so neither layer treats them as numbers.
_MARKERS = re.compile(
    r"(?m)^[ \t]*[-*•]?[ \t]*\(?\d{1,2}[.):](?=\s|$)"
    r"|\[\d{1,2}\]"
    r"|\b(?:[Pp]assage|[Dd]ocument|[Ss]ource|[Ss]tep|[Oo]ption|[Pp]oint)s?\s+\d{1,2}\b"
    r"(?:(?:,\s*|\s+and\s+|\s*&\s*)\d{1,2}\b)*"
)


def mask_markers(text: str) -> str:
    """``text`` with list and citation markers blanked out (same length, same offsets)."""
    return _MARKERS.sub(lambda m: " " * len(m.group()), text)


@dataclass(frozen=True, kw_only=True, slots=True)
class Token:
    """One word of a text: its surface form, its normalised key, and whether it counts."""

    surface: str
    key: str
    """Stem of a word, canonical digits of a number ("4200", "1.5"), or the unit's stem."""
    content: bool
    """False for stop words: they never make a claim unsupported."""
    number: bool


@lru_cache(maxsize=1)
def _stemmer() -> object:
    import snowballstemmer

    # snowballstemmer uses PyStemmer's C implementation when that is installed.
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """The English Snowball stem of a lower-case word (memoised: answers repeat words)."""
    return str(_stemmer().stemWord(word))  # type: ignore[attr-defined]


def number_key(text: str) -> str:
    """Canonical digits of a numeral: "4,200.00" -> "4200", "1.50" -> "1.5", "2nd" -> "2".

    A comma followed by exactly three digits is a thousands separator; any other comma is
    a decimal point (European style), so "3,5" -> "3.5".
    """
    text = _ORDINAL_SUFFIX.sub("", text)
    if "," in text:
        parts = text.split(",")
        thousands = all(len(p) == 3 for p in parts[1:])
        # "1,234" and "1,234.5" have thousands separators; "3,5" a decimal comma.
        text = text.replace(",", "" if thousands or "." in text else ".")
    if "." in text:
        whole, _, frac = text.partition(".")
        if "." in frac:  # "1.2.3": a version or a date, keep it as written
            return text
        frac = frac.rstrip("0")
        whole = whole.lstrip("0") or "0"
        return f"{whole}.{frac}" if frac else whole
    return text.lstrip("0") or "0"


@lru_cache(maxsize=200_000)
def _surface(surface: str) -> tuple[str, bool, bool]:
    """(key, content, number) of one token as written; memoised, words repeat."""
    if surface[0].isdigit():
        return number_key(surface), True, True
    lower = surface.lower().replace("’", "'")
    if lower in _NUMBER_WORDS:
        return _NUMBER_WORDS[lower], True, True
    if lower in _UNITS:
        return stem(_UNITS[lower]), True, False
    if "'" in lower:
        if lower.endswith("n't"):
            return lower, False, False
        lower = lower.split("'", 1)[0]
    if lower in STOP_WORDS or lower in SOURCE_WORDS or len(lower) < 2:
        return lower, False, False
    return stem(lower), True, False


def tokens(text: str) -> Iterator[Token]:
    """The tokens of ``text`` in order, normalised for comparison."""
    for surface in _TOKEN.findall(text):
        key, content, number = _surface(surface)
        yield Token(surface=surface, key=key, content=content, number=number)


def key_set(text: str) -> set[str]:
    """Every normalised key in ``text`` (content words, numbers and stop words alike)."""
    return {_surface(surface)[0] for surface in _TOKEN.findall(text)}
