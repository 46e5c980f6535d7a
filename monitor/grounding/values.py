"""Typed values found in text: amounts, percentages, dates, identifiers, plain numbers.

Each is parsed to a value so that two spellings of it compare equal: "$4,200.00" and
"4200 USD" are both 4200 USD (amounts parsed by `price-parser`), "March 2nd" and
"2026-03-02" are both the 2nd of March (dates parsed by `python-dateutil`; a field the
text leaves out, such as the year of "March 2nd", matches any), "ORD-7842" and
"#ord7842" are both the identifier ORD7842.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from monitor.grounding.lexicon import number_key


class ValueKind(enum.StrEnum):
    AMOUNT = "amount"
    PERCENT = "percent"
    DATE = "date"
    IDENTIFIER = "identifier"
    NUMBER = "number"


DatePart = tuple[int | None, int | None, int | None]


@dataclass(frozen=True, kw_only=True, slots=True)
class Value:
    """One value as written (``text``, offsets into the text) and as compared."""

    kind: ValueKind
    text: str
    start: int
    end: int
    number: Decimal | None = None
    """Amounts, percentages and numbers."""
    currency: str | None = None
    """ISO code of an amount's currency, when the text names one."""
    date: DatePart | None = None
    """(year, month, day); None for a field the text does not give."""
    ident: str | None = None
    """Identifiers: upper case without '#', spaces, '-' and '_'."""
    validator: str | None = None
    """Name of the user validator whose pattern found this identifier."""

    def display(self) -> str:
        """The value as compared, for evidence: "4200 USD", "????-03-02", "ORD7842"."""
        if self.kind is ValueKind.DATE and self.date:
            y, m, d = self.date
            return f"{y if y else '????'}-{f'{m:02d}' if m else '??'}-{f'{d:02d}' if d else '??'}"
        if self.kind is ValueKind.IDENTIFIER:
            return str(self.ident)
        if self.kind is ValueKind.PERCENT:
            return f"{_plain(self.number)}%"
        if self.kind is ValueKind.AMOUNT:
            return f"{_plain(self.number)} {self.currency or ''}".strip()
        return _plain(self.number)


def _plain(number: Decimal | None) -> str:
    if number is None:
        return "?"
    text = format(number.normalize(), "f")
    return text if text != "-0" else "0"


_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MULT = r"(?:\s?(?:thousand|million|billion|trillion|bn|k|m)\b)?"
_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CODES = "USD|EUR|GBP|JPY|CHF|CAD|AUD|INR|CNY"
_WORDS = {"dollar": "USD", "euro": "EUR", "pound": "GBP", "yen": "JPY", "rupee": "INR"}
_AMOUNT = re.compile(
    rf"(?:(?:US|CA|A)?[$€£¥₹]|\b(?:{_CODES})\s?)(?:{_NUM}){_MULT}"
    rf"|\b(?:{_NUM}){_MULT}\s?(?:(?:{_CODES})\b|(?:dollar|euro|pound|yen|rupee)s?\b)",
)
_PERCENT = re.compile(rf"\b(?:{_NUM})\s?(?:%|percent\b|per cent\b)")
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_DATE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b"
    r"|\b\d{1,2}/\d{1,2}/(?:\d{4}|\d{2})\b"
    rf"|\b{_MONTH}\s+{_DAY}\b(?:,?\s+\d{{4}}\b)?"
    rf"|\b{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+\d{{4}}\b)?"
    rf"|\b{_MONTH}\s+\d{{4}}\b"
)
_IDENT = re.compile(
    r"#\s?[A-Za-z0-9][\w-]*\d[\w-]*|#\d+|\b[A-Z]{2,}[-_]?\d{2,}[A-Z0-9-]*\b|\b\d{8,}\b"
)
_NUMBER = re.compile(rf"(?<![\w.,])(?:{_NUM})(?![\w]|[.,]\d)")
_MULTIPLIERS = {
    "k": Decimal(1000),
    "thousand": Decimal(1000),
    "m": Decimal(10**6),
    "million": Decimal(10**6),
    "bn": Decimal(10**9),
    "billion": Decimal(10**9),
    "trillion": Decimal(10**12),
}
_DIGIT = re.compile(r"\d")
_SCALE_AFTER = re.compile(r"\s?(thousand|million|billion|trillion)\b", re.I)


def normalise_identifier(text: str) -> str:
    """Identifiers compare without case, '#', spaces, '-' and '_'."""
    return re.sub(r"[#\s_-]", "", text).upper()


def _decimal(text: str) -> Decimal | None:
    try:
        return Decimal(number_key(text))
    except InvalidOperation:
        return None


def _multiplier(text: str) -> Decimal:
    for word, factor in _MULTIPLIERS.items():
        if re.search(rf"\d\s?{word}\b", text, re.I):
            return factor
    return Decimal(1)


def _currency_code(found: str | None, text: str) -> str | None:
    """ISO code of the currency price-parser found ("$", "US$", "CA$", "USD", "euros")."""
    if found is None:
        lower = text.lower()
        return next((code for word, code in _WORDS.items() if word in lower), None)
    symbol = found.strip("ACUS")
    if symbol in _SYMBOLS:
        # "US$" and "CA$" keep their country: only a bare "$" reads as US dollars.
        prefix = found[: found.index(symbol)]
        return {"CA": "CAD", "A": "AUD"}.get(prefix, _SYMBOLS[symbol])
    word = found.lower().rstrip("s")
    return _WORDS.get(word, found.upper())


def _amount(text: str, start: int) -> Value | None:
    from price_parser import Price

    price = Price.fromstring(text)
    if price.amount is None:
        return None
    currency = _currency_code(price.currency, text)
    return Value(
        kind=ValueKind.AMOUNT,
        text=text,
        start=start,
        end=start + len(text),
        number=price.amount * _multiplier(text),
        currency=currency,
    )


@lru_cache(maxsize=4096)
def parse_date(text: str) -> DatePart | None:
    """(year, month, day) of a date as written; a field the text omits is None."""
    from dateutil import parser

    cleaned = text.replace(" of ", " ")
    try:
        one = parser.parse(cleaned, default=datetime(2000, 1, 1))
        two = parser.parse(cleaned, default=datetime(2001, 2, 3))
    except (ValueError, OverflowError):
        return None
    # A field that follows the default was not in the text.
    return (
        one.year if one.year == two.year else None,
        one.month if one.month == two.month else None,
        one.day if one.day == two.day else None,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class IdentifierPattern:
    """A user's identifier kind: its name and compiled pattern (group ``id`` if present)."""

    name: str
    pattern: re.Pattern[str]


def find_values(text: str, patterns: Sequence[IdentifierPattern] = ()) -> list[Value]:
    """Every value in ``text``, each span taken once, in the order: user identifiers,
    amounts, percentages, dates, other identifiers, plain numbers."""
    taken = bytearray(len(text))
    values: list[Value] = []

    def free(start: int, end: int) -> bool:
        if any(taken[start:end]):
            return False
        taken[start:end] = b"\x01" * (end - start)
        return True

    for user in patterns:
        for match in user.pattern.finditer(text):
            group = "id" if "id" in user.pattern.groupindex else 0
            start, end = match.span(group)
            if start < end and free(start, end):
                values.append(
                    Value(
                        kind=ValueKind.IDENTIFIER,
                        text=match.group(group),
                        start=start,
                        end=end,
                        ident=normalise_identifier(match.group(group)),
                        validator=user.name,
                    )
                )
    if _DIGIT.search(text):
        for match in _AMOUNT.finditer(text):
            if free(*match.span()) and (value := _amount(match.group(), match.start())):
                values.append(value)
        for match in _PERCENT.finditer(text):
            number = _decimal(re.match(_NUM, match.group()).group())  # type: ignore[union-attr]
            if free(*match.span()):
                values.append(
                    Value(
                        kind=ValueKind.PERCENT,
                        text=match.group(),
                        start=match.start(),
                        end=match.end(),
                        number=number,
                    )
                )
        for match in _DATE.finditer(text):
            parsed = parse_date(match.group())
            if parsed and free(*match.span()):
                values.append(
                    Value(
                        kind=ValueKind.DATE,
                        text=match.group(),
                        start=match.start(),
                        end=match.end(),
                        date=parsed,
                    )
                )
        for match in _IDENT.finditer(text):
            if free(*match.span()):
                values.append(
                    Value(
                        kind=ValueKind.IDENTIFIER,
                        text=match.group(),
                        start=match.start(),
                        end=match.end(),
                        ident=normalise_identifier(match.group()),
                    )
                )
        for match in _NUMBER.finditer(text):
            number = _decimal(match.group())
            if number is not None and free(*match.span()):
                scale = _SCALE_AFTER.match(text, match.end())
                if scale:
                    number *= _MULTIPLIERS[scale.group(1).lower()]
                values.append(
                    Value(
                        kind=ValueKind.NUMBER,
                        text=match.group(),
                        start=match.start(),
                        end=match.end(),
                        number=number,
                    )
                )
    values.sort(key=lambda v: v.start)
    return values
