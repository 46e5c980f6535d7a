"""Chunk text kept on disk between the scan and the text checks.

The scan streams every chunk's text once; the text checks need it again for the chunks
they judge. Fetching it back from the store by id costs more than the whole paged scan,
and keeping it in memory would make memory grow with the collection. So the scan
appends the text of each chunk it leaves to the text checks to an unnamed temporary
file, and the checks read it back by (offset, length).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable

_FLUSH = 1 << 20


class TextSpool:
    """An append-only file of UTF-8 text, read back by the position `add` returned."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="ragmon-text-")  # noqa: SIM115 (closed by close)
        self._size = 0
        self._buffer: list[bytes] = []
        """Encoded text not yet written: one write per `_FLUSH` bytes, not one per chunk."""
        self._buffered = 0

    def add(self, text: str) -> tuple[int, int]:
        data = text.encode("utf-8", "surrogatepass")
        at = (self._size, len(data))
        self._size += len(data)
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered >= _FLUSH:
            self._flush()
        return at

    def get(self, at: tuple[int, int]) -> str:
        if self._buffer:
            self._flush()
        offset, length = at
        return os.pread(self._file.fileno(), length, offset).decode("utf-8", "surrogatepass")

    def _flush(self) -> None:
        self._file.write(b"".join(self._buffer))
        self._file.flush()
        self._buffer, self._buffered = [], 0

    def get_many(self, ats: Iterable[tuple[str, tuple[int, int]]]) -> dict[str, str]:
        """``{id: text}`` for ``(id, position)`` pairs: one read for the stretch of file
        they span when they lie close together (as a document's chunks do), else one each."""
        items = sorted(ats, key=lambda item: item[1])
        if not items:
            return {}
        if self._buffer:
            self._flush()
        start = items[0][1][0]
        end = max(offset + length for _, (offset, length) in items)
        wanted = sum(length for _, (_, length) in items)
        if end - start > 4 * wanted + _FLUSH:
            return {key: self.get(at) for key, at in items}
        block = os.pread(self._file.fileno(), end - start, start)
        return {
            key: block[offset - start : offset - start + length].decode("utf-8", "surrogatepass")
            for key, (offset, length) in items
        }

    @property
    def size(self) -> int:
        return self._size

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TextSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
