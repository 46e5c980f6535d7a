"""Response logs in the history database: bulk writes of one batch (reading them back:
`monitor.history.response_reads`).

One batch (responses, their chunks, lineage, retrieval counts, rejected-line counts, the
file's new offset and the waiting spans) is one transaction: a process killed mid-file
leaves the previous batch's offset with the previous batch's rows, so the next run
neither loses nor repeats a line. Rows go in through the DB-API's ``executemany``: the
ORM would cost more than parsing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from monitor.history.models import (
    ChunkLineageRow,
    LogOffsetRow,
    LogPendingRow,
    LogRejectRow,
    ResponseChunkRow,
    ResponseGroundingRow,
    ResponseRetrievalRow,
    ResponseRow,
    RetrievalCountRow,
)
from monitor.history.store import HistoryStore
from monitor.logs.files import FileState
from monitor.logs.values import epoch_us
from monitor.records import ChunkLineage, ResponseRecord

DAY_US = 86_400_000_000
_IN_BATCH = 5000
"""Ids per ``IN (...)`` (SQLite allows 32766 parameters since 3.32)."""


class Located(NamedTuple):
    """A response with where it was read (a tuple: one is made per log line)."""

    record: ResponseRecord
    file: str
    line: int


@dataclass(frozen=True, kw_only=True, slots=True)
class Written:
    inserted: int
    duplicates: int
    chunk_refs: int
    unknown_chunks: int


def _marks(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def load_offsets(history: HistoryStore) -> dict[str, FileState]:
    """The stored read position of every log file seen."""
    with history.session() as session:
        return {
            r.path: FileState(
                path=r.path,
                inode=r.inode,
                size=r.size,
                offset=r.offset,
                lines=r.lines,
                head_sha256=r.head_sha256,
                head_len=r.head_len,
                at_eof=r.at_eof,
            )
            for r in session.scalars(select(LogOffsetRow))
        }


def load_pending(history: HistoryStore, fmt: str) -> bytes | None:
    with history.session() as session:
        row = session.get(LogPendingRow, fmt)
        return row.state if row is not None else None


def forget_offsets(history: HistoryStore, paths: Iterable[str]) -> None:
    """Drop the positions of files that are gone."""
    gone = list(paths)
    with history.engine.begin() as conn:
        for start in range(0, len(gone), _IN_BATCH):
            conn.execute(
                delete(LogOffsetRow).where(LogOffsetRow.path.in_(gone[start : start + _IN_BATCH]))
            )


def write_batch(
    history: HistoryStore,
    located: Sequence[Located],
    *,
    fmt: str,
    lineage: Mapping[str, ChunkLineage],
    rejects: Mapping[tuple[str, str], int],
    offset: FileState | None,
    pending: bytes | bool | None,
    now_us: int,
    lineage_rows: dict[str, int] | None = None,
) -> Written:
    """Store one batch and the read position after it, in one transaction.

    ``pending`` is the trace adapter's waiting spans, or False to leave them as stored.
    Responses whose id is already stored are skipped (ingestion is idempotent on ids).
    ``lineage_rows`` caches lineage row ids between the batches of one run (one freshness
    run): pass the same dict to every batch.
    """
    cache = lineage_rows if lineage_rows is not None else {}
    with history.engine.begin() as conn:
        fresh = _new_responses(conn, located)
        refs = unknown = 0
        if fresh:
            lineage_ids = _lineage_ids(conn, fresh, lineage, cache)
            unknown_ids = {i for i, li in lineage.items() if li.chunk_class == "unknown_chunk"}
            first = (
                int(
                    conn.exec_driver_sql("SELECT coalesce(max(rid), 0) FROM responses").scalar_one()
                )
                + 1
            )
            dumps = orjson.dumps
            response_rows = []
            days = []
            for rid, (r, file, line) in enumerate(fresh, start=first):
                at_us = epoch_us(r.time)
                days.append(at_us // DAY_US)
                response_rows.append(
                    (
                        rid,
                        r.id,
                        at_us,
                        r.query,
                        r.answer,
                        r.context,
                        r.grounding,
                        r.feedback,
                        dumps(r.labels).decode() if r.labels else None,
                        fmt,
                        file,
                        line,
                        now_us,
                    )
                )
            lid = lineage_ids.get
            # A chunk is (id, score, score_kind, text, source); str() drops the enum type,
            # which the DB-API would otherwise adapt row by row.
            chunk_rows = [
                (rid, position, c[0], c[1], c[2] and str(c[2]), c[3], c[0] and lid(c[0]))
                for rid, (r, _, _) in enumerate(fresh, start=first)
                for position, c in enumerate(r.chunks)
            ]
            unknown = sum(1 for row in chunk_rows if row[2] is None or row[2] in unknown_ids)
            refs = len(chunk_rows)
            conn.exec_driver_sql(
                f"INSERT INTO responses (rid, id, at_us, query, answer, context, grounding, "
                f"feedback, labels, format, file, line, ingested_us) VALUES ({_marks(conn, 13)})",
                response_rows,
            )
            if chunk_rows:
                conn.exec_driver_sql(
                    "INSERT INTO response_chunks (rid, position, chunk_id, score, score_kind, "
                    f"text, lineage_id) VALUES ({_marks(conn, 7)})",
                    chunk_rows,
                )
                _count_retrievals(conn, fresh, days, lineage)
        if rejects:
            _count_rejects(conn, rejects, now_us)
        if offset is not None:
            _save_offset(conn, offset, now_us)
        if pending is not False:
            conn.execute(delete(LogPendingRow).where(LogPendingRow.format == fmt))
            if pending:
                conn.execute(insert(LogPendingRow), {"format": fmt, "state": pending})
    return Written(
        inserted=len(fresh),
        duplicates=len(located) - len(fresh),
        chunk_refs=refs,
        unknown_chunks=unknown,
    )


def _new_responses(conn: Connection, located: Sequence[Located]) -> list[Located]:
    by_id: dict[str, Located] = {}
    for item in located:
        by_id.setdefault(item.record.id, item)
    ids = list(by_id)
    for start in range(0, len(ids), _IN_BATCH):
        part = ids[start : start + _IN_BATCH]
        found = conn.exec_driver_sql(
            f"SELECT id FROM responses WHERE id IN ({_marks(conn, len(part))})", tuple(part)
        )
        for (rid,) in found:
            by_id.pop(rid, None)
    return list(by_id.values())


def _lineage_ids(
    conn: Connection,
    fresh: Sequence[Located],
    lineage: Mapping[str, ChunkLineage],
    ids: dict[str, int],
) -> dict[str, int]:
    """Row ids of the lineage of every chunk id in ``fresh``, inserting the missing ones."""
    wanted = {
        c.id for item in fresh for c in item.record.chunks if c.id is not None and c.id not in ids
    }
    if not wanted:
        return ids
    run = next(iter(lineage[i] for i in wanted)).freshness_run
    table = ChunkLineageRow.__table__
    run_clause = table.c.freshness_run.is_(None) if run is None else table.c.freshness_run == run
    listing = list(wanted)
    for start in range(0, len(listing), _IN_BATCH):
        part = listing[start : start + _IN_BATCH]
        found = conn.execute(
            select(table.c.chunk_id, table.c.id).where(run_clause, table.c.chunk_id.in_(part))
        )
        ids.update({cid: lid for cid, lid in found})
    missing = [lineage[i] for i in listing if i not in ids]
    if missing:
        top = int(
            conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM chunk_lineage").scalar_one()
        )
        rows = []
        for lid, item in enumerate(missing, start=top + 1):
            ids[item.chunk_id] = lid
            rows.append(
                (
                    lid,
                    item.chunk_id,
                    item.freshness_run,
                    item.chunk_class,
                    item.source_id,
                    item.source_version,
                    item.current_version,
                    item.changed_share,
                    item.stale_age_s,
                    item.in_conflict,
                )
            )
        conn.exec_driver_sql(
            "INSERT INTO chunk_lineage (id, chunk_id, freshness_run, chunk_class, source_id, "
            "source_version, current_version, changed_share, stale_age_s, in_conflict) "
            f"VALUES ({_marks(conn, 10)})",
            rows,
        )
    return ids


def _count_retrievals(
    conn: Connection,
    fresh: Sequence[Located],
    days: Sequence[int],
    lineage: Mapping[str, ChunkLineage],
) -> None:
    """Add the batch's retrievals per (day, chunk) to the daily counts: counted here, one
    upsert per distinct pair, rather than by reading the rows just written back."""
    counts: Counter[tuple[int, str]] = Counter(
        (day, c[0])
        for day, (r, _, _) in zip(days, fresh, strict=True)
        for c in r.chunks
        if c[0] is not None
    )
    if not counts:
        return
    known = lineage.get
    rows = [(day, cid, (li := known(cid)) and li.source_id, n) for (day, cid), n in counts.items()]
    conn.exec_driver_sql(
        "INSERT INTO retrieval_counts (day, chunk_id, source_id, retrievals) "
        f"VALUES ({_marks(conn, 4)}) ON CONFLICT (day, chunk_id) DO UPDATE SET "
        "retrievals = retrieval_counts.retrievals + excluded.retrievals, "
        "source_id = coalesce(excluded.source_id, retrieval_counts.source_id)",
        rows,
    )


def _count_rejects(conn: Connection, rejects: Mapping[tuple[str, str], int], now_us: int) -> None:
    t = LogRejectRow
    for (path, reason), n in rejects.items():
        updated = conn.execute(
            update(t)
            .where(t.path == path, t.reason == reason)
            .values(lines=t.lines + n, last_us=now_us)
        )
        if not updated.rowcount:
            conn.execute(insert(t), {"path": path, "reason": reason, "lines": n, "last_us": now_us})


def _save_offset(conn: Connection, state: FileState, now_us: int) -> None:
    conn.execute(delete(LogOffsetRow).where(LogOffsetRow.path == state.path))
    conn.execute(
        insert(LogOffsetRow),
        {
            "path": state.path,
            "inode": state.inode,
            "size": state.size,
            "offset": state.offset,
            "lines": state.lines,
            "head_sha256": state.head_sha256,
            "head_len": state.head_len,
            "at_eof": state.at_eof,
            "updated_us": now_us,
        },
    )


def apply_retention(history: HistoryStore, *, before_us: int) -> int:
    """Delete responses (and their chunks and daily counts) older than ``before_us``."""
    with history.engine.begin() as conn:
        old = select(ResponseRow.rid).where(ResponseRow.at_us < before_us).scalar_subquery()
        conn.execute(delete(ResponseChunkRow).where(ResponseChunkRow.rid.in_(old)))
        conn.execute(delete(ResponseGroundingRow).where(ResponseGroundingRow.rid.in_(old)))
        conn.execute(delete(ResponseRetrievalRow).where(ResponseRetrievalRow.rid.in_(old)))
        gone = conn.execute(delete(ResponseRow).where(ResponseRow.at_us < before_us)).rowcount
        conn.execute(delete(RetrievalCountRow).where(RetrievalCountRow.day < before_us // DAY_US))
    return int(gone or 0)
