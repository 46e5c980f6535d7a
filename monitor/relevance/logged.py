"""Production queries from the ingested response logs, and the per-response rows written back.

The relevance job reads the queries of both windows from ``responses`` (migration 0005)
with the scores their chunks were logged with (``response_chunks``), and writes what it
found about each sampled current-window response to ``response_retrieval`` (migration
0007). A busy application logs millions of responses a week: only the ids and times of a
window are read to draw the seeded sample; the queries, scores and chunk texts are then
read for the sample alone.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from monitor.history.store import HistoryStore
from monitor.relevance.production import DISTANCE, SIMILARITY, QueryRecord

if TYPE_CHECKING:
    from monitor.relevance.perresponse import ResponseState

_IN_BATCH = 5000
"""Ids per ``IN (...)``."""
_TYPES = (
    "BIGINT",
    "BIGINT",
    "DOUBLE PRECISION",
    "BOOLEAN",
    "INTEGER",
    "BOOLEAN",
    "INTEGER",
    "BIGINT",
)
"""SQL types of the ``response_retrieval`` columns, in insert order."""


def _marks(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


def epoch_us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedChunk:
    """One chunk a logged response was given: its id and its text, as logged."""

    chunk_id: str | None
    text: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedResponse:
    """A sampled response: its query record and what was put in its prompt."""

    record: QueryRecord
    at_us: int
    chunks: tuple[LoggedChunk, ...]
    context: str | None
    """The whole context, when the log carried it as one field."""


@dataclass(frozen=True, kw_only=True, slots=True)
class LoggedWindows:
    """Seeded samples of both windows' logged queries and how many each window holds."""

    current: list[LoggedResponse]
    reference: list[LoggedResponse]
    current_total: int
    reference_total: int

    @property
    def records(self) -> list[QueryRecord]:
        return [r.record for r in self.current + self.reference]


def logged_query_count(history: HistoryStore, *, start: datetime, end: datetime) -> int:
    """Logged responses with a query in ``[start, end)``."""
    with history.engine.connect() as conn:
        mark = _marks(conn, 1)
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM responses "
            f"WHERE at_us >= {mark} AND at_us < {mark} AND query IS NOT NULL AND query <> ''",
            (epoch_us(start), epoch_us(end)),
        ).scalar_one()
    return int(found)


def logged_windows(
    history: HistoryStore,
    *,
    start: datetime,
    split: datetime,
    end: datetime,
    sample: int,
    seed: int,
) -> LoggedWindows:
    """A seeded sample of up to ``sample`` queried responses from ``[split, end)`` (current)
    and from ``[start, split)`` (reference), with their chunks and logged scores.

    The sample is drawn from the windows' responses ordered by time and row, so the same
    history and seed give the same sample.
    """
    lo, mid, hi = epoch_us(start), epoch_us(split), epoch_us(end)
    with history.engine.connect() as conn:
        mark = _marks(conn, 1)
        rows = conn.exec_driver_sql(
            "SELECT rid, at_us FROM responses "
            f"WHERE at_us >= {mark} AND at_us < {mark} AND query IS NOT NULL AND query <> '' "
            "ORDER BY at_us, rid",
            (lo, hi),
        ).all()
        current = [int(rid) for rid, at in rows if at >= mid]
        reference = [int(rid) for rid, at in rows if at < mid]
        cur = _draw(current, sample, f"{seed}:current")
        ref = _draw(reference, sample, f"{seed}:reference")
        found = _read(conn, cur + ref)
    return LoggedWindows(
        current=[found[r] for r in cur if r in found],
        reference=[found[r] for r in ref if r in found],
        current_total=len(current),
        reference_total=len(reference),
    )


def _draw(rids: Sequence[int], size: int, seed: str) -> list[int]:
    if len(rids) <= size:
        return list(rids)
    chosen = set(random.Random(seed).sample(range(len(rids)), size))
    return [rid for i, rid in enumerate(rids) if i in chosen]


def _read(conn: Connection, rids: Sequence[int]) -> dict[int, LoggedResponse]:
    heads: dict[int, tuple[int, str, str | None]] = {}
    chunks: dict[int, list[tuple[str | None, float | None, str | None, str | None]]] = defaultdict(
        list
    )
    for begin in range(0, len(rids), _IN_BATCH):
        part = tuple(rids[begin : begin + _IN_BATCH])
        marks = _marks(conn, len(part))
        for rid, at_us, query, context in conn.exec_driver_sql(
            f"SELECT rid, at_us, query, context FROM responses WHERE rid IN ({marks})", part
        ):
            heads[int(rid)] = (int(at_us), query, context)
        for rid, chunk_id, score, kind, text in conn.exec_driver_sql(
            "SELECT rid, chunk_id, score, score_kind, text FROM response_chunks "
            f"WHERE rid IN ({marks}) ORDER BY rid, position",
            part,
        ):
            chunks[int(rid)].append((chunk_id, score, kind, text))
    out = {}
    for rid, (at_us, query, context) in heads.items():
        given = chunks.get(rid, [])
        scores, kind = _scores(given)
        out[rid] = LoggedResponse(
            record=QueryRecord(
                time=datetime.fromtimestamp(at_us / 1_000_000, UTC),
                query=query,
                scores=scores,
                score_kind=kind,
                rid=rid,
            ),
            at_us=at_us,
            chunks=tuple(LoggedChunk(chunk_id=c, text=t) for c, _, _, t in given),
            context=context,
        )
    return out


def _scores(
    chunks: Sequence[tuple[str | None, float | None, str | None, str | None]],
) -> tuple[tuple[float, ...] | None, str | None]:
    """A response's logged scores and their kind; None unless every chunk has a score of
    one kind (a partial list would make its top-1 and mean a different statistic)."""
    if not chunks or any(score is None for _, score, _, _ in chunks):
        return None, None
    kinds = {kind or SIMILARITY for _, _, kind, _ in chunks}
    if len(kinds) != 1 or not kinds <= {SIMILARITY, DISTANCE}:
        return None, None
    return tuple(float(score) for _, score, _, _ in chunks if score is not None), kinds.pop()


def write_states(
    history: HistoryStore, states: Sequence[ResponseState], *, run_id: int | None, now_us: int
) -> int:
    """Upsert one ``response_retrieval`` row per state in one transaction; a later run's row
    replaces an earlier one. A response deleted meanwhile (retention) is left out.
    Returns the rows written."""
    if not states:
        return 0
    with history.engine.begin() as conn:
        mark = _marks(conn, 1)
        # Typed casts: PostgreSQL cannot infer a parameter's type in a SELECT list.
        values = ", ".join(f"CAST({mark} AS {t})" for t in _TYPES)
        # INSERT ... SELECT ... WHERE EXISTS keeps the foreign key satisfied; ON CONFLICT
        # is spelled the same by SQLite (3.24+) and PostgreSQL.
        result = conn.exec_driver_sql(
            "INSERT INTO response_retrieval (rid, at_us, query_novelty, query_drifted, "
            f"context_tokens, over_budget, relevance_run, computed_us) SELECT {values} "
            f"WHERE EXISTS (SELECT 1 FROM responses WHERE rid = CAST({mark} AS BIGINT)) "
            "ON CONFLICT (rid) DO UPDATE SET at_us = excluded.at_us, "
            "query_novelty = excluded.query_novelty, query_drifted = excluded.query_drifted, "
            "context_tokens = excluded.context_tokens, over_budget = excluded.over_budget, "
            "relevance_run = excluded.relevance_run, computed_us = excluded.computed_us",
            [
                (
                    s.rid,
                    s.at_us,
                    s.query_novelty,
                    s.query_drifted,
                    s.context_tokens,
                    s.over_budget,
                    run_id,
                    now_us,
                    s.rid,
                )
                for s in states
            ],
        )
        written = result.rowcount
    return int(written) if written is not None and written >= 0 else len(states)
