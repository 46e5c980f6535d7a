"""How a pydantic validation error reads in ragmon: one phrasing for the whole config.

`monitor.config` (the top-level sections) and `monitor.alerts.settings` (rules and
channels, validated one table at a time) both describe errors through `problem`, so
``expected an integer, got 'abc'`` reads the same wherever it happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_EXPECTED = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "list_type": "expected a list",
    "dict_type": "expected a table",
    "model_type": "expected a table",
    "path_type": "expected a path (a string)",
}


def problem(error: Any, allowed: Sequence[str] = ()) -> str:
    """What is wrong with one pydantic error, without naming the key.

    ``allowed`` lists the keys of the table the error is in, for an unknown key.
    """
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key (expected one of: {', '.join(allowed)})" if allowed else "unknown key"
    if kind == "missing":
        return "is required but missing"
    if kind in ("literal_error", "enum"):
        return f"expected {error['ctx']['expected']}, got {given!r}"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {given!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    message = str(error["msg"])
    return f"{message[:1].lower()}{message[1:]}, got {given!r}"


def keyed(error: Any, allowed: Sequence[str] = ()) -> str:
    """`problem` with the key inside its table named: ``key 'port': expected ...``."""
    loc = ".".join(str(p) for p in error["loc"])
    text = problem(error, allowed)
    if not loc:
        return text
    if error["type"] == "extra_forbidden":
        return text.replace("unknown key", f"unknown key '{loc}'", 1)
    return f"key '{loc}': {text}"
