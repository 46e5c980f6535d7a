"""Boilerplate: lines repeated across many chunks of several documents (navigation,
footers, cookie banners), found exactly with numpy over per-line hashes.

Each chunk contributes the hashes of its distinct lines; the counts are taken once at the
end. A line's text is kept when it repeats within a page, which a line found in a share
of all chunks does unless the collection is ordered so that it never does.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_LINE_CHARS = 8
_STRUCTURE = re.compile(r"^(?:[-=_*~`#|:+ ]+|```.*|~~~.*)$")
_NAMES_LIMIT = 100_000


@dataclass(frozen=True, kw_only=True, slots=True)
class RepeatedLine:
    """A boilerplate line: its text and in how many chunks and documents it occurs."""

    text: str
    chunks: int
    documents: int


class LineCounter:
    """Collects the lines of each chunk; `boilerplate` names those repeated widely."""

    def __init__(self) -> None:
        self._hashes: list[np.ndarray] = []
        self._chunks: list[np.ndarray] = []
        self._names: dict[int, str] = {}

    def add(self, texts: Sequence[str], first_chunk: int) -> None:
        """The lines of one page of chunks, numbered from ``first_chunk``."""
        hashes: list[int] = []
        owners: list[int] = []
        page: Counter[int] = Counter()
        seen: dict[int, str] = {}
        for i, text in enumerate(texts):
            lines = {
                line
                for raw in text.splitlines()
                if len(line := raw.strip()) >= MIN_LINE_CHARS and not _STRUCTURE.match(line)
            }
            for line in lines:
                h = hash(line)
                hashes.append(h)
                owners.append(first_chunk + i)
                seen[h] = line
            page.update(hash(line) for line in lines)
        if len(self._names) < _NAMES_LIMIT:
            for h, n in page.items():
                if n > 1 and h not in self._names:
                    self._names[h] = seen[h]
        self._hashes.append(np.array(hashes, dtype=np.int64))
        self._chunks.append(np.array(owners, dtype=np.int64))

    def boilerplate(
        self,
        documents: np.ndarray,
        *,
        min_chunks: int,
        min_documents: int,
        limit: int = 50,
    ) -> tuple[list[RepeatedLine], np.ndarray]:
        """The repeated lines, most frequent first, and a per-chunk flag of holding one.

        ``documents`` gives each chunk's document number.
        """
        flags = np.zeros(len(documents), dtype=bool)
        if not self._hashes:
            return [], flags
        hashes = np.concatenate(self._hashes)
        chunks = np.concatenate(self._chunks)
        if not len(hashes):
            return [], flags
        unique, counts = np.unique(hashes, return_counts=True)
        frequent = unique[counts >= min_chunks]
        if not len(frequent):
            return [], flags
        mask = np.isin(hashes, frequent)
        pairs = np.unique(np.stack([hashes[mask], documents[chunks[mask]]], axis=1), axis=0)
        line_ids, doc_counts = np.unique(pairs[:, 0], return_counts=True)
        widely = line_ids[doc_counts >= min_documents]
        if not len(widely):
            return [], flags
        flags[chunks[np.isin(hashes, widely)]] = True
        chunk_count = dict(zip(unique.tolist(), counts.tolist(), strict=True))
        doc_count = dict(zip(line_ids.tolist(), doc_counts.tolist(), strict=True))
        lines = [
            RepeatedLine(
                text=self._names.get(h, f"(text not kept; line hash {h & 0xFFFFFFFF:08x})"),
                chunks=chunk_count[h],
                documents=doc_count[h],
            )
            for h in widely.tolist()
        ]
        lines.sort(key=lambda line: (-line.chunks, line.text))
        return lines[:limit], flags
