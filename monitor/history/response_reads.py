"""Reading the response logs back: one response's trace, retrieval and low-grounding
counts per document, quarantine counts. Written by `monitor.history.responses`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import func, select

from monitor.history.models import (
    ChunkLineageRow,
    LogRejectRow,
    ResponseChunkRow,
    ResponseRow,
    RetrievalCountRow,
)
from monitor.history.responses import DAY_US
from monitor.history.store import HistoryStore


@dataclass(frozen=True, kw_only=True, slots=True)
class TracedChunk:
    """One chunk of a traced response, with its lineage at ingestion."""

    position: int
    chunk_id: str | None
    score: float | None
    score_kind: str | None
    text: str | None
    chunk_class: str | None
    source_id: str | None
    source_version: str | None
    current_version: str | None
    freshness_run: int | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ResponseTrace:
    """A stored response and the chunks and source versions behind it."""

    id: str
    at_us: int
    query: str | None
    answer: str | None
    grounding: float | None
    feedback: str | None
    labels: Mapping[str, str]
    format: str
    file: str | None
    line: int | None
    chunks: tuple[TracedChunk, ...]


def trace_response(history: HistoryStore, response_id: str) -> ResponseTrace | None:
    """The chain answer -> chunks -> documents and versions of one response, or None."""
    with history.session() as session:
        row = session.scalars(select(ResponseRow).where(ResponseRow.id == response_id)).first()
        if row is None:
            return None
        c, lin = ResponseChunkRow, ChunkLineageRow
        chunks = session.execute(
            select(c, lin)
            .outerjoin(lin, lin.id == c.lineage_id)
            .where(c.rid == row.rid)
            .order_by(c.position)
        ).all()
        return ResponseTrace(
            id=row.id,
            at_us=row.at_us,
            query=row.query,
            answer=row.answer,
            grounding=row.grounding,
            feedback=row.feedback,
            labels=orjson.loads(row.labels) if row.labels else {},
            format=row.format,
            file=row.file,
            line=row.line,
            chunks=tuple(
                TracedChunk(
                    position=ch.position,
                    chunk_id=ch.chunk_id,
                    score=ch.score,
                    score_kind=ch.score_kind,
                    text=ch.text,
                    chunk_class=li.chunk_class if li is not None else None,
                    source_id=li.source_id if li is not None else None,
                    source_version=li.source_version if li is not None else None,
                    current_version=li.current_version if li is not None else None,
                    freshness_run=li.freshness_run if li is not None else None,
                )
                for ch, li in chunks
            ),
        )


def retrievals_by_document(history: HistoryStore, *, since_us: int) -> dict[str, int]:
    """How often each source document's chunks were retrieved since ``since_us``."""
    t = RetrievalCountRow
    with history.session() as session:
        rows = session.execute(
            select(t.source_id, func.sum(t.retrievals))
            .where(t.day >= since_us // DAY_US, t.source_id.is_not(None))
            .group_by(t.source_id)
        )
        return {str(s): int(n) for s, n in rows}


def retrievals_by_chunk(history: HistoryStore, *, since_us: int) -> dict[str, int]:
    """How often each chunk id was retrieved since ``since_us``."""
    t = RetrievalCountRow
    with history.session() as session:
        rows = session.execute(
            select(t.chunk_id, func.sum(t.retrievals))
            .where(t.day >= since_us // DAY_US)
            .group_by(t.chunk_id)
        )
        return {str(c): int(n) for c, n in rows}


def reject_counts(history: HistoryStore) -> Counter[str]:
    """Quarantined lines per reason, over every file ever read."""
    with history.session() as session:
        out: Counter[str] = Counter()
        for row in session.scalars(select(LogRejectRow)):
            out[row.reason] += row.lines
        return out


def response_count(history: HistoryStore) -> int:
    with history.session() as session:
        return int(session.scalar(select(func.count(ResponseRow.rid))) or 0)


def document_retrievals(history: HistoryStore, *, since_us: int) -> dict[str, int] | None:
    """Retrievals per source document since ``since_us``; None while no response was ever
    ingested (so a fix queue shows "no logs" rather than zeros)."""
    counts = retrievals_by_document(history, since_us=since_us)
    if counts or response_count(history) > 0:
        return counts
    return None


def low_grounding_by_document(
    history: HistoryStore,
    *,
    since_us: int,
    low_bands: Sequence[str] = ("disclaim", "partial", "escalate"),
    low_below: float = 0.8,
) -> dict[str, int] | None:
    """Low-grounding answers since ``since_us`` per source document they retrieved a chunk
    of (each answer counted once per document); None while no response was ever ingested.

    An answer is low when ragmon scored it into one of ``low_bands``, or, not scored, when
    the application logged a grounding below ``low_below``. Counted by the database.
    """
    if not response_count(history):
        return None
    bands = tuple(dict.fromkeys(low_bands)) or ("",)
    with history.engine.connect() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        rows = conn.exec_driver_sql(
            "SELECT l.source_id, count(DISTINCT r.rid) FROM responses r "
            "JOIN response_chunks c ON c.rid = r.rid "
            "JOIN chunk_lineage l ON l.id = c.lineage_id "
            "LEFT JOIN response_grounding g ON g.rid = r.rid AND g.status = 'scored' "
            f"WHERE r.at_us >= {mark} AND l.source_id IS NOT NULL AND ("
            f"g.band IN ({', '.join([mark] * len(bands))}) "
            f"OR (g.rid IS NULL AND r.grounding < {mark})) "
            "GROUP BY l.source_id",
            (since_us, *bands, low_below),
        )
        return {str(source): int(n) for source, n in rows}
