"""Stores indexed on another machine: the prefix rewrite that links their paths to sources.

A store built in a container records ``/srv/app/docs/guide/intro.rst`` where the monitor
sees ``guide/intro.rst`` under its sources root. The recorded paths whose remainder,
after some leading directories, is a catalog id vote for that prefix; the prefix that
resolves the most chunks is the rewrite to propose (``ragmon init --inspect``) or to
demand (an audit that would otherwise report every chunk orphaned).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from monitor.errors import ConfigError
from monitor.freshness.matching import SourceResolver

MASS_ORPHANING = 0.5
"""Share of chunks whose recorded source does not resolve that makes an audit refuse to
report them orphaned when one prefix rewrite would resolve them."""


@dataclass(frozen=True, kw_only=True, slots=True)
class RewriteChoice:
    """A prefix rewrite and how many of the recorded chunks it resolves."""

    from_: str
    to: str = ""
    resolves: int
    """Chunks whose recorded source is a catalog id once rewritten (or already was)."""
    total: int
    as_is: int
    """Chunks that resolve without any rewrite."""

    @property
    def toml(self) -> str:
        """The config line to add under ``[mapping]``."""
        return (
            f"path_rewrites = [{{ from = {json.dumps(self.from_)}, to = {json.dumps(self.to)} }}]"
        )


def best_rewrite(
    recorded: Mapping[str, int], ids: Collection[str], root: Path
) -> RewriteChoice | None:
    """The prefix rewrite that resolves the most chunks, if it resolves more than none.

    ``recorded`` counts chunks per recorded source value; ``ids`` are the catalog ids.
    """
    resolver = SourceResolver(ids, root)
    total = sum(recorded.values())
    as_is = sum(n for source, n in recorded.items() if resolver.resolve(source) in ids)
    votes: Counter[str] = Counter()
    for source, n in recorded.items():
        if resolver.resolve(source) in ids:
            continue
        path = unquote(urlparse(source).path) if source.startswith("file://") else source
        path = path.replace("\\", "/")
        cuts = [i + 1 for i, ch in enumerate(path) if ch == "/"]
        # Longest remainder first: the fewest leading directories that make it an id.
        for cut in cuts:
            if path[cut:] in ids:
                votes[path[:cut]] += n
                break
    if not votes:
        return None
    prefix, resolved = max(votes.items(), key=lambda kv: (kv[1], -len(kv[0])))
    return RewriteChoice(from_=prefix, resolves=as_is + resolved, total=total, as_is=as_is)


class PathRewriteNeededError(ConfigError):
    """Most chunks name sources that resolve only once a common prefix is rewritten."""

    def __init__(self, choice: RewriteChoice, example: str):
        self.choice = choice
        unresolved = choice.total - choice.as_is
        self.file, self.key, self.line = "config", "mapping.path_rewrites", None
        self.problem = (
            f"{unresolved} of {choice.total} chunks name sources that are not under "
            f"sources.root (e.g. {example!r}), but {choice.resolves} resolve once the prefix "
            f"{choice.from_!r} is rewritten: the store was indexed with other paths, not "
            f"orphaned. Add under [mapping]: {choice.toml}"
        )
        Exception.__init__(self, f"key 'mapping.path_rewrites': {self.problem}")


def refuse_mass_orphaning(
    recorded: Mapping[str, int],
    ids: Collection[str],
    root: Path,
    resolver: SourceResolver | None = None,
) -> None:
    """Raise `PathRewriteNeededError` when most chunks only resolve after a prefix rewrite.

    ``resolver``: one already made for ``ids`` and ``root`` without rewrites (its cache is
    reused)."""
    total = sum(recorded.values())
    if not total or not ids:
        return
    resolver = resolver or SourceResolver(ids, root)
    unresolved = {s: n for s, n in recorded.items() if resolver.resolve(s) not in ids}
    if sum(unresolved.values()) <= MASS_ORPHANING * total:
        return
    choice = best_rewrite(recorded, ids, root)
    if choice is not None and choice.resolves > MASS_ORPHANING * total:
        raise PathRewriteNeededError(choice, example=max(unresolved, key=unresolved.__getitem__))
