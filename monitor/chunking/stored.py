"""The latest chunking flags of every chunk, kept in the history database (``chunk_quality``).

The chunking job measures every chunk of the collection (no sampling: the sample only
feeds the distribution tests) and upserts one row per chunk it saw, so the correlation
job can join a response's retrieved chunks with how they were cut. Rows of chunks that
left the store stay with their last flags: older responses still retrieved them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from monitor.chunking.features import BIT, FeatureTable

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from monitor.history import HistoryStore

BATCH = 10_000
"""Rows per ``executemany``."""
_COLUMNS = ("chunk_id", "truncated", "mid_sentence", "junk", "tokens", "chunking_run", "updated_us")


QualityRow = tuple[str, bool, bool, bool, int, int | None, int]


def quality_rows(
    ids: Sequence[str], table: FeatureTable, *, run_id: int | None, now_us: int
) -> list[QualityRow]:
    """One row per chunk: truncated (over the model's window), mid_sentence (starts or ends
    inside a sentence), junk (invisible characters or mojibake), tokens."""
    if len(ids) != len(table.flags):
        raise ValueError(f"{len(ids)} chunk ids for {len(table.flags)} measured chunks")
    flags = table.flags
    truncated = (flags & BIT["truncated"]) != 0
    mid = (flags & (BIT["mid_sentence_start"] | BIT["mid_sentence_end"])) != 0
    junk = (flags & BIT["junk"]) != 0
    return list(
        zip(
            ids,
            truncated.tolist(),
            mid.tolist(),
            junk.tolist(),
            table.tokens.tolist(),
            [run_id] * len(ids),
            [now_us] * len(ids),
            strict=True,
        )
    )


def save_quality(
    history: HistoryStore,
    ids: Sequence[str],
    table: FeatureTable,
    *,
    run_id: int | None,
    now_us: int,
) -> int:
    """Upsert the flags of every chunk in ``table`` (``ids`` in table order); returns rows."""
    rows = quality_rows(ids, table, run_id=run_id, now_us=now_us)
    with history.engine.begin() as conn:
        for start in range(0, len(rows), BATCH):
            _upsert(conn, rows[start : start + BATCH])
    return len(rows)


def _upsert(
    conn: Connection, rows: list[tuple[str, bool, bool, bool, int, int | None, int]]
) -> None:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS[1:])
    # A page can hold one id twice (a store listing it twice): the last one wins, as in a
    # row-by-row upsert; ON CONFLICT refuses two rows for one key in one statement only
    # for multi-row VALUES, not for executemany.
    conn.exec_driver_sql(
        f"INSERT INTO chunk_quality ({', '.join(_COLUMNS)}) "
        f"VALUES ({', '.join([mark] * len(_COLUMNS))}) "
        f"ON CONFLICT (chunk_id) DO UPDATE SET {updates}",
        rows,
    )
