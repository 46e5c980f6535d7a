"""Layer 2, structural validation: the answer's values must be the context's values.

Numbers, amounts, percentages and dates of the answer are looked for among the values of
the retrieved passages and the question, compared as values (see `values`). Identifiers
a user validator declares with a system of record must exist there; every other
identifier must occur in the context. What fails is a `Violation`, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from monitor.grounding.lexicon import key_set
from monitor.grounding.values import (
    DatePart,
    IdentifierPattern,
    Value,
    ValueKind,
    find_values,
    normalise_identifier,
)
from monitor.ports import SystemOfRecord

# Any run of word characters, '#' and '-' holding a digit: a context's identifiers are
# taken whatever their shape, so an answer's "ORD7842" meets the context's "ord-7842".
_IDENT_LIKE = re.compile(r"[#\w-]*\d[#\w-]*")


@dataclass(frozen=True, kw_only=True, slots=True)
class Violation:
    """A value of the answer that its context (or system of record) does not back."""

    kind: ValueKind
    text: str
    """As written in the answer."""
    start: int
    end: int
    value: str
    """As compared: "4200 USD", "????-03-02", "ORD7842"."""
    reason: str
    validator: str | None = None


@dataclass(kw_only=True, slots=True)
class ContextValues:
    """The values of the retrieved passages and the question, ready for look-ups."""

    numbers: set[Decimal] = field(default_factory=set)
    amounts: list[tuple[Decimal, str | None]] = field(default_factory=list)
    percents: set[Decimal] = field(default_factory=set)
    dates: list[DatePart] = field(default_factory=list)
    idents: set[str] = field(default_factory=set)


def context_values(
    texts: Iterable[str],
    patterns: Sequence[IdentifierPattern] = (),
    support: Iterable[str] | None = None,
) -> ContextValues:
    """Collect every value of ``texts`` (the passages and the question).

    ``support`` is their lexical key set (`support_keys`), when the caller has it.
    """
    texts = list(texts)
    found = ContextValues()
    # Number words ("three") back the numeral "3".
    keys = support if support is not None else (k for t in texts for k in key_set(t))
    found.numbers.update(Decimal(key) for key in keys if key.isdigit())
    for text in texts:
        for value in find_values(text, patterns):
            if value.number is not None:
                found.numbers.add(value.number)
            if value.kind is ValueKind.AMOUNT and value.number is not None:
                found.amounts.append((value.number, value.currency))
            elif value.kind is ValueKind.PERCENT and value.number is not None:
                found.percents.add(value.number)
            elif value.kind is ValueKind.DATE and value.date is not None:
                found.dates.append(value.date)
                # "in 2019" and "on the 2nd" are backed by a full date that holds them.
                found.numbers.update(Decimal(part) for part in value.date if part)
            elif value.kind is ValueKind.IDENTIFIER and value.ident:
                found.idents.add(value.ident)
                if value.ident.isdigit():
                    found.numbers.add(Decimal(value.ident))
        found.idents.update(normalise_identifier(m) for m in _IDENT_LIKE.findall(text))
    return found


def _dates_agree(one: DatePart, other: DatePart) -> bool:
    return all(a is None or b is None or a == b for a, b in zip(one, other, strict=True))


def check_values(
    values: Sequence[Value],
    context: ContextValues,
    systems: Mapping[str, SystemOfRecord] | None = None,
) -> list[Violation]:
    """The violations among the answer's ``values``, in answer order."""
    systems = systems or {}
    violations = []
    for value in values:
        reason = _unsupported(value, context, systems)
        if reason:
            violations.append(
                Violation(
                    kind=value.kind,
                    text=value.text,
                    start=value.start,
                    end=value.end,
                    value=value.display(),
                    reason=reason,
                    validator=value.validator,
                )
            )
    return violations


def _unsupported(
    value: Value, context: ContextValues, systems: Mapping[str, SystemOfRecord]
) -> str | None:
    """Why ``value`` is not backed, or None when it is."""
    kind = value.kind
    if kind is ValueKind.IDENTIFIER:
        system = systems.get(value.validator) if value.validator else None
        if system is not None:
            if system.exists(value.text):
                return None
            return f"no {value.validator} {value.text!r} in {system.describe()}"
        return None if value.ident in context.idents else "not in the context"
    if kind is ValueKind.DATE:
        assert value.date is not None
        if any(_dates_agree(value.date, other) for other in context.dates):
            return None
        return "no such date in the context"
    number = value.number
    if number is None:
        return None
    if kind is ValueKind.AMOUNT:
        same = [cur for amount, cur in context.amounts if amount == number]
        if not same:
            # A bare "4200" in the context backs "$4,200": the currency is not in doubt.
            return None if number in context.numbers else "no such amount in the context"
        if value.currency is None or any(c is None or c == value.currency for c in same):
            return None
        return f"the context has this amount in {', '.join(sorted({str(c) for c in same}))}"
    if kind is ValueKind.PERCENT:
        return (
            None
            if number in context.percents or number in context.numbers
            else ("no such percentage in the context")
        )
    return None if number in context.numbers else "no such number in the context"
