"""Labelled probes: queries with the source documents or chunks that should answer them.

A JSONL file has one probe per line; a YAML file a list of them (or ``probes:`` holding
the list). Each probe::

    {"id": "vacation-days", "query": "How many vacation days do I get?",
     "expected_sources": ["handbook/vacation-policy.md"]}

``expected_sources`` (source document ids as the chunks record them) or
``expected_chunks`` (chunk ids), either a list (every item graded 1) or a mapping of id
to a positive grade (``{"a.md": 2, "b.md": 1}``) for nDCG. ``id`` defaults to the line
(or list position).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from monitor.errors import RelevanceInputError


@dataclass(frozen=True, kw_only=True, slots=True)
class Probe:
    """One labelled probe."""

    id: str
    query: str
    unit: Literal["source", "chunk"]
    """Whether ``expected`` names source documents or chunks."""
    expected: Mapping[str, float]
    """Expected ids and their grades (1 unless graded)."""


def load_probes(path: Path) -> list[Probe]:
    """Read a JSONL or YAML probe file; raises `RelevanceInputError` naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RelevanceInputError(path, None, "no such probe file (relevance.probes)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RelevanceInputError(path, None, f"cannot be read ({exc})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        items = _yaml_items(path, text)
    else:
        items = _jsonl_items(path, text)
    probes: list[Probe] = []
    seen: set[str] = set()
    for line, item in items:
        probe = _probe(path, line, item)
        if probe.id in seen:
            raise RelevanceInputError(path, line, f"probe id {probe.id!r} appears twice")
        seen.add(probe.id)
        probes.append(probe)
    return probes


def _jsonl_items(path: Path, text: str) -> list[tuple[int, Any]]:
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise RelevanceInputError(path, number, f"not valid JSON ({exc.msg})") from None
    return items


def _yaml_items(path: Path, text: str) -> list[tuple[int, Any]]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise RelevanceInputError(path, line, f"not valid YAML ({exc})") from None
    if isinstance(data, Mapping) and "probes" in data:
        data = data["probes"]
    if data is None:
        return []
    if not isinstance(data, list):
        raise RelevanceInputError(path, None, "expected a list of probes (or `probes:` with one)")
    # YAML loses line numbers; the item's position (1-based) stands in for them.
    return list(enumerate(data, start=1))


def _probe(path: Path, line: int, item: Any) -> Probe:
    if not isinstance(item, Mapping):
        raise RelevanceInputError(path, line, "expected an object with `query` and expected ids")
    unknown = set(item) - {"id", "query", "expected_sources", "expected_chunks"}
    if unknown:
        raise RelevanceInputError(
            path,
            line,
            f"unknown key {sorted(unknown)[0]!r} (expected id, query, "
            "expected_sources or expected_chunks)",
        )
    query = item.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RelevanceInputError(path, line, "key 'query': expected a non-empty string")
    has_sources, has_chunks = "expected_sources" in item, "expected_chunks" in item
    if has_sources == has_chunks:
        raise RelevanceInputError(
            path, line, "set exactly one of 'expected_sources' or 'expected_chunks'"
        )
    key = "expected_sources" if has_sources else "expected_chunks"
    expected = _grades(path, line, key, item[key])
    probe_id = item.get("id", str(line))
    if not isinstance(probe_id, str | int) or isinstance(probe_id, bool):
        raise RelevanceInputError(path, line, "key 'id': expected a string")
    return Probe(
        id=str(probe_id),
        query=query,
        unit="source" if has_sources else "chunk",
        expected=expected,
    )


def _grades(path: Path, line: int, key: str, value: Any) -> dict[str, float]:
    pairs: Sequence[tuple[Any, Any]]
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [(v, 1) for v in value]
    else:
        raise RelevanceInputError(
            path, line, f"key {key!r}: expected a list of ids or a mapping of id to grade"
        )
    if not pairs:
        raise RelevanceInputError(path, line, f"key {key!r}: expected at least one id")
    grades: dict[str, float] = {}
    for ident, grade in pairs:
        if not isinstance(ident, str) or not ident:
            raise RelevanceInputError(path, line, f"key {key!r}: ids must be non-empty strings")
        if isinstance(grade, bool) or not isinstance(grade, int | float) or grade <= 0:
            raise RelevanceInputError(
                path, line, f"key {key!r}: grade of {ident!r} must be a positive number"
            )
        grades[ident] = float(grade)
    return grades
