"""Reading the correlation's tables fast: plain DB-API tuples on the history's own
connection, and each block of responses' retrieved chunks as one packed text that numpy
parses (`monitor.correlation.features` builds the frames from them)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from monitor.history import HistoryStore


class Reader:
    """Runs the feature queries on the engine's own DB-API connection, fetching plain
    tuples (SQLAlchemy's row objects would cost more than the query).

    Not through a second SQLite library (ADBC's bundled one, which returns Arrow columns
    and halved the fetch time): two SQLite copies in one process do not see each other's
    POSIX locks, and the one closing last deleted the WAL under the other's feet."""

    def __init__(self, dialect: str, cursor: Any):
        self.dialect = dialect
        self._cursor = cursor

    def _render(self, sql: str, params: Mapping[str, Any]) -> str:
        if self.dialect == "sqlite":
            return sql  # sqlite3 binds :name itself
        return re.sub(r"(?<!:):(\w+)", r"%(\1)s", sql)

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._cursor.execute(self._render(sql, params or {}), dict(params or {}))

    def frame(self, sql: str, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
        self.execute(sql, params)
        names = [d[0] for d in self._cursor.description]
        return pd.DataFrame.from_records(self._cursor.fetchall(), columns=names)

    def value(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        self.execute(sql, params)
        row = self._cursor.fetchone()
        return None if row is None else row[0]


@contextlib.contextmanager
def reader(history: HistoryStore) -> Iterator[Reader]:
    with history.engine.connect() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        cursor = dbapi.cursor()
        try:
            yield Reader(conn.dialect.name, cursor)
        finally:
            cursor.close()
            conn.rollback()


_BLOCK = 100_000
"""Response row ids per chunk query: the query returns one text of about 16 bytes per
retrieved chunk, well under SQLite's 1 GB string limit."""
_POSITION_BITS = 24
"""Bits of a chunk's position (its 0-based rank in the retrieved list, far under 2**24)
in the packed key."""


@dataclass(frozen=True, slots=True)
class Chunks:
    """The retrieved chunks of the window's responses, sorted by response and position."""

    response: np.ndarray
    """Row of each chunk's response in the responses frame."""
    position: np.ndarray
    lineage: np.ndarray
    """Lineage id; -1 when the chunk has none."""


def read_chunks(db: Reader, rid_lo: int, rid_hi: int, rids: np.ndarray) -> Chunks:
    """The (response, position, lineage id) of each chunk retrieved by a response in
    ``rids`` (ascending), read by key range. Each block of responses comes back as one
    comma-separated text of two integers per chunk that numpy parses: fetching five
    million rows as Python tuples cost more than the query (and another SQLite library
    in the process is no option, see `Reader`)."""
    concat = "group_concat" if db.dialect == "sqlite" else "string_agg"
    # (rid - block start, position) in one integer, in key order; then the lineage id.
    sql = (
        f"SELECT {concat}(CAST(CAST(rid - :lo AS BIGINT) * {1 << _POSITION_BITS} + position "
        "AS TEXT) || ',' || CAST(coalesce(lineage_id, -1) AS TEXT), ',') FROM response_chunks "
        "WHERE rid BETWEEN :lo AND :hi"
    )
    index = RidIndex(rids)
    mask = (1 << _POSITION_BITS) - 1
    found: dict[str, list[np.ndarray]] = {"response": [], "position": [], "lineage": []}
    for start in range(rid_lo, rid_hi + 1, _BLOCK):
        text = db.value(sql, {"lo": start, "hi": min(start + _BLOCK - 1, rid_hi)})
        if not text:
            continue
        pairs = np.fromstring(text, dtype=np.int64, sep=",").reshape(-1, 2)
        del text
        key, lineage = pairs[:, 0], pairs[:, 1]
        if np.any(key[1:] <= key[:-1]):  # the database returned them out of key order
            order = np.argsort(key, kind="stable")
            key, lineage = key[order], lineage[order]
        at, keep = index.locate(start + (key >> _POSITION_BITS))
        if not keep.all():
            at, key, lineage = at[keep], key[keep], lineage[keep]
        found["response"].append(at)
        found["position"].append(key & mask)
        found["lineage"].append(lineage)
    joined = {
        name: np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        for name, parts in found.items()
    }
    return Chunks(**joined)


class RidIndex:
    """Positions of integer keys in an ascending array of distinct keys: a direct table
    when the keys are dense (row ids usually are), a binary search otherwise."""

    def __init__(self, keys: np.ndarray):
        self._keys = np.asarray(keys, dtype=np.int64)
        self._table: np.ndarray | None = None
        if len(self._keys):
            low, high = int(self._keys[0]), int(self._keys[-1])
            if high - low < 4 * len(self._keys) + 1_000_000:
                self._low = low
                self._table = np.full(high - low + 1, -1, dtype=np.int64)
                self._table[self._keys - low] = np.arange(len(self._keys))

    def locate(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The position of each of ``wanted`` (int64) and whether it is there."""
        keys = self._keys
        if not len(keys):
            return np.zeros(len(wanted), dtype=np.int64), np.zeros(len(wanted), dtype=bool)
        if self._table is not None:
            offset = wanted - self._low
            inside = (offset >= 0) & (offset < len(self._table))
            at = self._table[np.where(inside, offset, 0)]
            found = inside & (at >= 0)
            return np.where(found, at, 0), found
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return at, keys[at] == wanted
