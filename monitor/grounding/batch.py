"""Responses from a JSONL file: ``id``, ``query``, ``context`` (passages or one string),
``answer``, and any label fields; a bad line is reported by number, not fatal."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor.errors import GroundingError


class ResponseFileError(GroundingError):
    """The responses file cannot be opened or read at all."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        super().__init__(f"{path}: cannot be read ({reason})")


@dataclass(frozen=True, kw_only=True, slots=True)
class Response:
    """One response to score: the answer, the passages it was given, the question."""

    id: str
    line: int
    answer: str
    contexts: tuple[str, ...]
    query: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    """The whole record, for labels and grouping."""


@dataclass(frozen=True, kw_only=True, slots=True)
class BadLine:
    """A line that is not a usable response, and why."""

    line: int
    problem: str


def parse_response(data: Any, line: int) -> Response | BadLine:
    """Validate one decoded record."""
    if not isinstance(data, dict):
        return BadLine(line=line, problem=f"expected a JSON object, got {type(data).__name__}")
    answer = data.get("answer")
    if not isinstance(answer, str):
        return BadLine(line=line, problem="key 'answer': expected a string")
    context = data.get("context", data.get("contexts"))
    if isinstance(context, str):
        contexts: tuple[str, ...] = (context,)
    elif isinstance(context, list) and all(isinstance(c, str) for c in context):
        contexts = tuple(context)
    else:
        return BadLine(line=line, problem="key 'context': expected a string or a list of strings")
    query = data.get("query")
    if query is not None and not isinstance(query, str):
        return BadLine(line=line, problem="key 'query': expected a string")
    ident = data.get("id", line)
    if not isinstance(ident, str | int):
        return BadLine(line=line, problem="key 'id': expected a string or a number")
    return Response(
        id=str(ident), line=line, answer=answer, contexts=contexts, query=query, fields=data
    )


def read_responses(path: Path | str) -> Iterator[Response | BadLine]:
    """Each line of ``path`` as a `Response`, or a `BadLine`; blank lines are skipped.

    Raises `ResponseFileError` when the file cannot be opened or is not UTF-8.
    """
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ResponseFileError(path, exc.strerror or str(exc)) from None
    with handle:
        try:
            for number, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    yield BadLine(line=number, problem=f"not valid JSON ({exc.msg})")
                    continue
                yield parse_response(data, number)
        except UnicodeDecodeError as exc:
            raise ResponseFileError(path, f"not UTF-8: {exc.reason}") from None
        except OSError as exc:
            raise ResponseFileError(path, exc.strerror or str(exc)) from None


_TRUE = {"true", "yes", "1", "y"}
_FALSE = {"false", "no", "0", "n"}


def label_of(response: Response, key: str) -> bool | None:
    """The boolean label in ``key``: true/false, 1/0, "yes"/"no"; None when absent.

    Raises `ValueError` naming the key when the value is not one of those.
    """
    value = response.fields.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"key {key!r}: expected true/false, 1/0 or yes/no, got {value!r}")
