"""Grounding scores of ingested responses in the history database: reads and bulk writes.

The `grounding` job reads the responses that have no row in ``response_grounding`` yet,
in batches by ``rid``, scores them, and writes one row per response (a score, or why
there is none) in one transaction per batch; a response is therefore looked at once, and
a run killed mid-way resumes at the first batch it did not write. Per-day figures are
counted by the database from the stored rows, so re-running never counts a response
twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import orjson
from sqlalchemy import Connection, delete, func, select

from monitor import clock
from monitor.grounding.results import BANDS, Band
from monitor.grounding.summary import BandSummary
from monitor.history.models import ResponseGroundingRow
from monitor.history.store import HistoryStore

DAY_US = 86_400_000_000
SCORED = "scored"
NO_CONTEXT = "no_context"
NO_ANSWER = "no_answer"


def _marks(conn: Connection, n: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * n)


@dataclass(frozen=True, kw_only=True, slots=True)
class PendingResponse:
    """An ingested response without a grounding row, with the chunks it was given."""

    rid: int
    id: str
    at_us: int
    query: str | None
    answer: str | None
    context: str | None
    chunks: tuple[tuple[str | None, str | None], ...]
    """(chunk id, logged text or None) in rank order."""


@dataclass(frozen=True, kw_only=True, slots=True)
class GroundingRow:
    """One row to write: a score with its evidence, or a status saying why there is none."""

    rid: int
    at_us: int
    score: float | None
    band: str | None
    status: str
    evidence: str | None


def pending(history: HistoryStore, *, after_rid: int, limit: int) -> list[PendingResponse]:
    """Up to ``limit`` responses after ``after_rid`` (in rid order) that have no row yet."""
    with history.engine.connect() as conn:
        mark = _marks(conn, 1)
        rows = conn.exec_driver_sql(
            "SELECT r.rid, r.id, r.at_us, r.query, r.answer, r.context FROM responses r "
            "LEFT JOIN response_grounding g ON g.rid = r.rid "
            f"WHERE g.rid IS NULL AND r.rid > {mark} ORDER BY r.rid LIMIT {mark}",
            (after_rid, limit),
        ).all()
        if not rows:
            return []
        chunks: dict[int, list[tuple[str | None, str | None]]] = defaultdict(list)
        wanted = {row[0] for row in rows}
        # One range scan over the (rid, position) key instead of a long IN list.
        for rid, chunk_id, text in conn.exec_driver_sql(
            "SELECT rid, chunk_id, text FROM response_chunks "
            f"WHERE rid BETWEEN {mark} AND {mark} ORDER BY rid, position",
            (rows[0][0], rows[-1][0]),
        ):
            if rid in wanted:
                chunks[rid].append((chunk_id, text))
    return [
        PendingResponse(
            rid=rid,
            id=rid_id,
            at_us=at_us,
            query=query,
            answer=answer,
            context=context,
            chunks=tuple(chunks.get(rid, ())),
        )
        for rid, rid_id, at_us, query, answer, context in rows
    ]


def write_rows(history: HistoryStore, rows: Sequence[GroundingRow], *, scorer: str) -> None:
    """Store one batch of rows in one transaction (rows already stored are replaced)."""
    if not rows:
        return
    now = int(clock.now().timestamp() * 1_000_000)
    with history.engine.begin() as conn:
        # Idempotent under a concurrent or repeated run: drop what is there, then insert.
        conn.execute(
            delete(ResponseGroundingRow).where(ResponseGroundingRow.rid.in_([r.rid for r in rows]))
        )
        conn.exec_driver_sql(
            "INSERT INTO response_grounding (rid, at_us, score, band, status, scorer, evidence, "
            f"scored_us) VALUES ({_marks(conn, 8)})",
            [(r.rid, r.at_us, r.score, r.band, r.status, scorer, r.evidence, now) for r in rows],
        )


def day_of(at_us: int) -> date:
    """The UTC day of a time in microseconds since 1970."""
    return date(1970, 1, 1) + timedelta(days=at_us // DAY_US)


def day_summaries(
    history: HistoryStore, *, days: Iterable[date] | None = None, since: date | None = None
) -> list[BandSummary]:
    """Band counts and mean score per UTC day, counted from the stored rows, oldest first.

    ``days`` restricts to those days; ``since`` to the days from it on.
    """
    epoch = date(1970, 1, 1)
    t = ResponseGroundingRow.__table__
    conditions = [t.c.status == SCORED]
    if since is not None:
        conditions.append(t.c.at_us >= (since - epoch).days * DAY_US)
    wanted = None if days is None else {(d - epoch).days for d in days}
    if wanted:
        conditions.append(t.c.at_us >= min(wanted) * DAY_US)
        conditions.append(t.c.at_us < (max(wanted) + 1) * DAY_US)
    counts: dict[int, dict[Band, int]] = defaultdict(lambda: dict.fromkeys(BANDS, 0))
    totals: dict[int, float] = defaultdict(float)
    with history.engine.connect() as conn:
        # Counted in Python from a narrow indexed scan: integer division of a BigInteger
        # is not spelled the same by every database SQLAlchemy speaks to.
        for at_us, band, score in conn.execute(
            select(t.c.at_us, t.c.band, t.c.score).where(*conditions)
        ):
            day = at_us // DAY_US
            if wanted is not None and day not in wanted:
                continue
            counts[day][Band(band)] += 1
            totals[day] += score
    out = []
    for day in sorted(counts):
        n = sum(counts[day].values())
        out.append(
            BandSummary(
                day=epoch + timedelta(days=day),
                responses=n,
                counts=counts[day],
                mean_score=totals[day] / n if n else None,
            )
        )
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredScore:
    """A scored response with what a person needs to judge it."""

    id: str
    at_us: int
    query: str | None
    answer: str | None
    score: float
    band: str
    evidence: dict[str, object]
    app_score: float | None
    feedback: str | None


def _stored(
    conn: Connection, where: str, params: tuple[object, ...], tail: str
) -> list[StoredScore]:
    rows = conn.exec_driver_sql(
        "SELECT r.id, r.at_us, r.query, r.answer, g.score, g.band, g.evidence, r.grounding, "
        "r.feedback FROM response_grounding g JOIN responses r ON r.rid = g.rid "
        f"WHERE g.status = '{SCORED}' {where} {tail}",
        params,
    )
    return [
        StoredScore(
            id=rid,
            at_us=at_us,
            query=query,
            answer=answer,
            score=float(score),
            band=band,
            evidence=orjson.loads(evidence) if evidence else {},
            app_score=app,
            feedback=feedback,
        )
        for rid, at_us, query, answer, score, band, evidence, app, feedback in rows
    ]


def worst_scored(history: HistoryStore, *, since_us: int, n: int) -> list[StoredScore]:
    """The ``n`` lowest-scoring responses at or after ``since_us``, lowest first."""
    with history.engine.connect() as conn:
        mark = _marks(conn, 1)
        return _stored(
            conn,
            f"AND g.at_us >= {mark}",
            (since_us, n),
            f"ORDER BY g.score, r.at_us, r.id LIMIT {mark}",
        )


def labelled_scores(history: HistoryStore, *, since_us: int) -> list[StoredScore]:
    """Scored responses at or after ``since_us`` whose log carried feedback."""
    with history.engine.connect() as conn:
        mark = _marks(conn, 1)
        return _stored(
            conn, f"AND g.at_us >= {mark} AND r.feedback IS NOT NULL", (since_us,), "ORDER BY g.rid"
        )


def newest_scored_us(history: HistoryStore) -> int | None:
    """Time of the newest scored response, or None when nothing is scored."""
    t = ResponseGroundingRow.__table__
    with history.engine.connect() as conn:
        value = conn.execute(select(func.max(t.c.at_us)).where(t.c.status == SCORED)).scalar()
    return int(value) if value is not None else None


def forget_scores(history: HistoryStore) -> int:
    """Drop every stored grounding row (``ragmon run grounding --full`` rescores all)."""
    with history.engine.begin() as conn:
        return int(conn.execute(delete(ResponseGroundingRow)).rowcount or 0)
