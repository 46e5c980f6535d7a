"""Chunk ids for retrieved chunks a log names only by their text.

Some instrumentations record what the retriever returned but not the store's id (older
LangChain Documents carry no id; OpenInference's RETRIEVER span then holds only
``document.content`` and ``document.metadata``). Such a chunk is found by its exact text
among the store's chunks. Identical texts do occur (a file copied under another name, a
boilerplate paragraph), so when several chunks share the text, the logged metadata's
source picks one; a text still shared by several chunks, or absent from the store, is
left without an id and counted, never guessed.

The index (a 16-byte digest of each chunk's text -> its ids and sources) is built once per
ingestion run, from one paged scan of the store, and only when a chunk without an id
turns up.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from monitor.records import Chunk, RetrievedChunk

Entry = tuple[str, str | None]
"""A chunk's id and the source its metadata names."""


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.strip().encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(kw_only=True)
class TextMatches:
    """What matching by text did in one run."""

    matched: int = 0
    """Chunks given the id of the one store chunk with their text (and source)."""
    ambiguous: int = 0
    """Chunks whose text (and source) several store chunks share: left without an id."""
    not_found: int = 0
    """Chunks whose text no store chunk has: left without an id."""


class TextIndex:
    """Store chunks by text, built on first use from ``scan``."""

    def __init__(
        self,
        scan: Callable[[], Iterator[list[Chunk]]],
        source_of: Callable[[Chunk], str | None],
    ):
        self._scan = scan
        self._source_of = source_of
        self._by_text: dict[bytes, list[Entry]] | None = None
        self.counts = TextMatches()

    def _index(self) -> dict[bytes, list[Entry]]:
        if self._by_text is None:
            by_text: dict[bytes, list[Entry]] = {}
            for page in self._scan():
                for chunk in page:
                    if chunk.text:
                        entry = (chunk.id, self._source_of(chunk))
                        by_text.setdefault(digest(chunk.text), []).append(entry)
            self._by_text = by_text
        return self._by_text

    def identify(self, chunks: Iterable[RetrievedChunk]) -> tuple[RetrievedChunk, ...]:
        """``chunks`` with the id filled in where the text names exactly one store chunk."""
        out = []
        for chunk in chunks:
            if chunk.id is None and chunk.text:
                found = self._one(chunk.text, chunk.source)
                if found is not None:
                    chunk = chunk._replace(id=found)
            out.append(chunk)
        return tuple(out)

    def _one(self, text: str, source: str | None) -> str | None:
        entries = self._index().get(digest(text), [])
        if len(entries) > 1 and source is not None:
            entries = [e for e in entries if e[1] == source] or entries
        if len(entries) == 1:
            self.counts.matched += 1
            return entries[0][0]
        if entries:
            self.counts.ambiguous += 1
        else:
            self.counts.not_found += 1
        return None
