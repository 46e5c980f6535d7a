"""Matching a chunk to its source document: the recorded path to a catalog id.

(Its text is matched to the source in `monitor.freshness.alignment`.)
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from monitor.config import PathRewrite


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
        if os.sep == "/" and not value.startswith("/") and "\\" not in value:
            # A relative POSIX path (the usual case): what the general rules below give,
            # without pathlib's cost (it shows at tens of thousands of sources).
            parts = [p for p in value.split("/") if p and p != "."]
            out = ["/".join(parts[1:])] if len(parts) > 1 and parts[0] == self._root_name else []
            return [*out, "/".join(parts)] if parts else out
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
