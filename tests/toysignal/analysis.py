"""The toy analysis: how many chunks are too short to say anything."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.records import Chunk
from monitor.results import ResultRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class TinyResult(ResultRecord):
    SCHEMA = "ragmon.tiny/1"

    chunks: int
    tiny: tuple[str, ...]
    """Ids of the chunks with fewer than ``min_words`` words."""


def tiny_chunks(chunks: Iterable[Chunk], *, min_words: int = 3) -> TinyResult:
    """The chunks with fewer than ``min_words`` words of text."""
    seen, tiny = 0, []
    for chunk in chunks:
        seen += 1
        if len((chunk.text or "").split()) < min_words:
            tiny.append(chunk.id)
    return TinyResult(chunks=seen, tiny=tuple(sorted(tiny)))
