"""Matching a chunk to its source: the recorded path to a catalog id, its text to the source.

Text is compared after `monitor.text.normalise`, so re-wrapped or re-indented text
matches exactly. Near-verbatim text (a typo fixed, punctuation changed) is matched with
rapidfuzz's partial-ratio alignment; a near match whose numbers differ from the aligned
source span is *not* a match: "15 days" against "20 days" is the change that matters.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from rapidfuzz import fuzz

from monitor.config import PathRewrite

NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:[.,]\d+)*(?:st|nd|rd|th|%)?(?![\w])")


def numbers_in(text: str) -> list[str]:
    """The numbers in ``text`` in order (thousands separators kept, so 1,200 stays one)."""
    return NUMBER.findall(text)


class SourceResolver:
    """Turns the source a chunk recorded into a catalog document id.

    Tried in order: the configured prefix rewrites; the recorded value as an id; a
    ``file://`` URI or absolute path under the catalog root; a path that starts with the
    root directory's own name (``docs/a.md`` for a root named ``docs``); ``./`` prefixes.
    What matches nothing (the chunk is then orphaned) is returned in the catalog's own
    form where one of those rules applies, else as recorded.
    """

    def __init__(self, ids: Collection[str], root: Path, rewrites: Sequence[PathRewrite] = ()):
        self._ids = ids
        self._roots = {Path(root).absolute(), Path(root).resolve()}
        self._root_name = Path(root).resolve().name
        self._rewrites = list(rewrites)
        self._cache: dict[str, str] = {}

    def resolve(self, recorded: str) -> str:
        found = self._cache.get(recorded)
        if found is None:
            found = self._cache[recorded] = self._resolve(recorded)
        return found

    def _resolve(self, recorded: str) -> str:
        value = recorded
        for rule in self._rewrites:
            if value.startswith(rule.from_):
                value = rule.to + value[len(rule.from_) :]
                break
        if value in self._ids:
            return value
        if value.startswith("file://"):
            value = unquote(urlparse(value).path)
        candidates = self._candidates(value)
        for candidate in candidates:
            if candidate in self._ids:
                return candidate
        # Gone from the catalog: report it the way the catalog would name it.
        return candidates[0] if candidates else value

    def _candidates(self, value: str) -> list[str]:
        out = []
        path = Path(value)
        if path.is_absolute():
            for root in self._roots:
                if path.is_relative_to(root):
                    out.append(path.relative_to(root).as_posix())
        posix = PurePosixPath(value.replace("\\", "/"))
        parts = [p for p in posix.parts if p != "."]
        if len(parts) > 1 and parts[0] == self._root_name:
            out.append(str(PurePosixPath(*parts[1:])))
        if parts:
            out.append(str(PurePosixPath(*parts)))
        return out


@dataclass(frozen=True, kw_only=True, slots=True)
class TextMatch:
    """Whether a chunk's text is still in its source, which rule decided, and where."""

    present: bool
    rule: str
    """``exact``, ``fuzzy`` (near-verbatim), ``numbers-changed`` or ``text-gone``."""
    score: float
    span: tuple[int, int] | None


def match_text(chunk: str, source: str, *, threshold: float) -> TextMatch:
    """Find normalised ``chunk`` in normalised ``source``."""
    if not chunk:
        return TextMatch(present=True, rule="exact", score=100.0, span=None)
    start = source.find(chunk)
    if start >= 0:
        return TextMatch(present=True, rule="exact", score=100.0, span=(start, start + len(chunk)))
    aligned = fuzz.partial_ratio_alignment(chunk, source, score_cutoff=threshold)
    if aligned is None:
        best = fuzz.partial_ratio(chunk, source)
        return TextMatch(present=False, rule="text-gone", score=best, span=None)
    span = (aligned.dest_start, aligned.dest_end)
    if numbers_in(chunk) != numbers_in(source[span[0] : span[1]]):
        return TextMatch(present=False, rule="numbers-changed", score=aligned.score, span=span)
    return TextMatch(present=True, rule="fuzzy", score=aligned.score, span=span)


def coverage(spans: Sequence[tuple[int, int]], length: int) -> float:
    """Share of ``length`` characters covered by the union of ``spans``."""
    if length <= 0:
        return 1.0
    covered, end = 0, 0
    for start, stop in sorted(spans):
        start = max(start, end)
        if stop > start:
            covered += stop - start
            end = stop
    return min(1.0, covered / length)
