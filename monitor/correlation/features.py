"""Per-response upstream features, joined in the history database.

`load_frames` asks the database for one row per response with a grounding score in the
window: its grounding, and aggregates over the chunks it retrieved (lineage class shares,
the largest edit, the stalest age, conflict membership, chunking flags, the top-1 score
and margin) and its retrieval state (query drift, context budget). The join and the
``GROUP BY`` run in SQL (SQLite or PostgreSQL), so millions of retrieved chunks never
pass through a Python loop; pandas only names and types the columns.

Where each feature comes from:

- ``share_*`` / ``any_*`` of stale, orphaned, moved, suspect: ``chunk_lineage.chunk_class``
  of each retrieved chunk as of the freshness run that was the latest when the response
  was ingested; the share is over the chunks whose class was known (not ``unknown``).
- ``max_changed_share``: ``chunk_lineage.changed_share`` (0 for fresh chunks);
  ``max_stale_age_days``: ``chunk_lineage.stale_age_s`` / 86400 (0 for fresh chunks);
  ``any_conflict``: ``chunk_lineage.in_conflict``.
- ``any_truncated`` / ``any_mid_sentence`` / ``any_junk`` (``any_bad_cut``: any of them):
  ``chunk_quality``, the latest chunking run's flags of the chunk; NA when the chunking
  job never saw any of the response's chunks.
- ``top1_score`` / ``margin``: ``response_chunks.score`` at rank 0 and 1; a distance is
  turned into ``1 - distance`` (Chroma's cosine distance becomes the cosine similarity;
  any other distance is flipped so that higher is better, and a margin keeps its size).
- ``query_drifted`` / ``over_budget``: ``response_retrieval`` (the relevance job).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import text

from monitor.logs.values import epoch_us

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from monitor.config import Config
    from monitor.history import HistoryStore

DAY_US = 86_400_000_000
GROUNDING_RAGMON = "ragmon"
GROUNDING_LOG = "log"
LOW_BANDS_DEFAULT = ("disclaim", "partial", "escalate")
CLASS_FEATURES = ("stale", "orphaned", "moved", "suspect")
QUALITY_FEATURES = ("truncated", "mid_sentence", "junk", "bad_cut")
BINARY = (
    *(f"any_{c}" for c in CLASS_FEATURES),
    *(f"any_{q}" for q in QUALITY_FEATURES),
    "any_conflict",
    "query_drifted",
    "over_budget",
)
CONTINUOUS = (
    *(f"share_{c}" for c in CLASS_FEATURES),
    "max_changed_share",
    "max_stale_age_days",
    "top1_score",
    "margin",
)
RESPONSE_COLUMNS = (
    "rid",
    "response_id",
    "at",
    "day",
    "cluster",
    "stratum",
    "grounding",
    "band",
    "low",
    *BINARY,
    *CONTINUOUS,
)
RETRIEVED_COLUMNS = ("rid", "position", "chunk_id", "source_id", "chunk_class")
ROOT_FOLDER = "."
"""The stratum of a top-1 source that lies in no folder."""


@dataclass(frozen=True, kw_only=True, slots=True)
class DocState:
    """A source document as the latest freshness run left it."""

    status: str
    action: str | None = None
    fix_rank: int | None = None
    """1-based place in the stored fix queue; None when it is not in the queue."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Frames:
    """What the correlation analysis reads (see the module docstring and the contract)."""

    responses: pd.DataFrame
    retrieved: pd.DataFrame
    documents: dict[str, DocState]
    grounding_source: str
    """``ragmon`` (the grounding job's scores) or ``log`` (the application's own)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FrameSettings:
    """The `[correlation]` settings the frames need (a view of `CorrelationSettings`)."""

    cluster_by: str = "day"
    strata_by: str | None = None
    low_bands: tuple[str, ...] = LOW_BANDS_DEFAULT
    low_below: float = 0.8
    """Grounding under which a response without a band is low (the ``cite`` bound)."""


def frame_settings(config: Config) -> FrameSettings:
    """The frame settings from ``config``: its ``[correlation]`` table once it has one."""
    section = getattr(config, "correlation", None)
    cite = float(config.grounding.bands.cite)
    if section is None:
        return FrameSettings(low_below=cite)
    return FrameSettings(
        cluster_by=section.cluster_by,
        strata_by=section.strata_by,
        low_bands=tuple(section.low_bands),
        low_below=cite,
    )


def load_frames(
    history: HistoryStore,
    config: Config,
    *,
    since: datetime,
    until: datetime,
    settings: FrameSettings | None = None,
) -> Frames:
    """The responses with a grounding score in ``[since, until)``, their features and
    retrieved chunks, and the latest freshness state of each document."""
    wanted = settings or frame_settings(config)
    lo, hi = epoch_us(since), epoch_us(until)
    with history.engine.connect() as conn:
        source = _grounding_source(conn, lo, hi)
        rows = conn.execute(
            text(_responses_sql(conn, wanted, source)),
            {"lo": lo, "hi": hi, **_label_params(conn, wanted)},
        ).fetchall()
        retrieved = _retrieved(conn, lo, hi, source)
    return Frames(
        responses=_responses_frame(rows, wanted),
        retrieved=retrieved,
        documents=latest_documents(history),
        grounding_source=source,
    )


def _grounding_source(conn: Connection, lo: int, hi: int) -> str:
    scored = conn.execute(
        text(
            "SELECT 1 FROM response_grounding WHERE at_us >= :lo AND at_us < :hi "
            "AND status = 'scored' AND score IS NOT NULL LIMIT 1"
        ),
        {"lo": lo, "hi": hi},
    ).first()
    return GROUNDING_RAGMON if scored is not None else GROUNDING_LOG


def _scored_clause(source: str) -> str:
    if source == GROUNDING_RAGMON:
        return "g.status = 'scored' AND g.score IS NOT NULL"
    return "r.grounding IS NOT NULL"


def _label(conn: Connection, param: str) -> str:
    if conn.dialect.name == "postgresql":
        return f"(CAST(r.labels AS json) ->> :{param})"
    return f"json_extract(r.labels, :{param})"


def _label_params(conn: Connection, settings: FrameSettings) -> dict[str, str]:
    params = {}
    if settings.cluster_by != "day":
        params["cluster_label"] = _label_path(conn, settings.cluster_by)
    if settings.strata_by:
        params["stratum_label"] = _label_path(conn, settings.strata_by)
    return params


def _label_path(conn: Connection, name: str) -> str:
    # SQLite reads a JSON path; a quoted key may hold dots and spaces.
    return name if conn.dialect.name == "postgresql" else '$."' + name.replace('"', '""') + '"'


def _score(column: str) -> str:
    return f"CASE WHEN c.score_kind = 'distance' THEN 1.0 - {column} ELSE {column} END"


def _responses_sql(conn: Connection, settings: FrameSettings, source: str) -> str:
    def flag(expr: str) -> str:
        return f"max(CASE WHEN {expr} THEN 1 ELSE 0 END)"

    classes = ",\n".join(
        f"  sum(CASE WHEN l.chunk_class = '{c}' THEN 1 ELSE 0 END) AS n_{c}" for c in CLASS_FEATURES
    )
    cluster = _label(conn, "cluster_label") if settings.cluster_by != "day" else "NULL"
    stratum = _label(conn, "stratum_label") if settings.strata_by else "NULL"
    truncated = "q.truncated = TRUE" if conn.dialect.name == "postgresql" else "q.truncated = 1"
    mid = truncated.replace("truncated", "mid_sentence")
    junk = truncated.replace("truncated", "junk")
    conflict = truncated.replace("q.truncated", "l.in_conflict")
    # Every per-response column is the same on each of the response's rows; max() keeps
    # the query valid where GROUP BY must name them all (PostgreSQL).
    return f"""
SELECT r.rid, max(r.id), max(r.at_us), max({cluster}), max({stratum}),
  max(g.score), max(g.band), max(r.grounding),
  {flag("rr.query_drifted = " + ("TRUE" if conn.dialect.name == "postgresql" else "1"))},
  {flag("rr.over_budget = " + ("TRUE" if conn.dialect.name == "postgresql" else "1"))},
  count(rr.rid),
  count(c.rid),
  sum(CASE WHEN l.chunk_class IS NOT NULL AND l.chunk_class <> 'unknown' THEN 1 ELSE 0 END),
{classes},
  max(CASE WHEN l.chunk_class = 'fresh' THEN 0.0 ELSE l.changed_share END),
  max(CASE WHEN l.chunk_class = 'fresh' THEN 0.0 ELSE l.stale_age_s END),
  count(l.in_conflict),
  {flag(conflict)},
  count(q.chunk_id),
  {flag(truncated)},
  {flag(mid)},
  {flag(junk)},
  max(CASE WHEN c.position = 0 THEN {_score("c.score")} END),
  max(CASE WHEN c.position = 1 THEN {_score("c.score")} END),
  max(CASE WHEN c.position = 0 THEN l.source_id END)
FROM responses r
{"JOIN" if source == GROUNDING_RAGMON else "LEFT JOIN"} response_grounding g ON g.rid = r.rid
LEFT JOIN response_retrieval rr ON rr.rid = r.rid
LEFT JOIN response_chunks c ON c.rid = r.rid
LEFT JOIN chunk_lineage l ON l.id = c.lineage_id
LEFT JOIN chunk_quality q ON q.chunk_id = c.chunk_id
WHERE r.at_us >= :lo AND r.at_us < :hi AND {_scored_clause(source)}
GROUP BY r.rid
ORDER BY r.rid
"""


_RAW = (
    "rid",
    "response_id",
    "at_us",
    "cluster_label",
    "stratum_label",
    "score",
    "band",
    "logged",
    "drifted",
    "over_budget",
    "n_retrieval",
    "n_chunks",
    "n_known",
    *(f"n_{c}" for c in CLASS_FEATURES),
    "max_changed",
    "max_age",
    "n_conflict_known",
    "conflict",
    "n_quality",
    "truncated",
    "mid_sentence",
    "junk",
    "top1",
    "top2",
    "top1_source",
)


def _responses_frame(rows: Sequence[Any], settings: FrameSettings) -> pd.DataFrame:
    raw = pd.DataFrame.from_records(rows, columns=list(_RAW), coerce_float=True)
    out = pd.DataFrame(index=raw.index)
    out["rid"] = raw["rid"].astype("int64")
    out["response_id"] = raw["response_id"].astype(object)
    at_us = raw["at_us"].astype("int64").to_numpy()
    out["at"] = pd.to_datetime(at_us, unit="us", utc=True).astype("datetime64[ns, UTC]")
    days = at_us // DAY_US
    # One strftime per distinct day, not per response.
    unique, inverse = np.unique(days, return_inverse=True)
    names = pd.to_datetime(unique * DAY_US, unit="us").strftime("%Y-%m-%d").to_numpy()
    out["day"] = names[inverse] if len(unique) else pd.Series([], dtype=object)
    if settings.cluster_by == "day":
        out["cluster"] = out["day"]
    else:
        # A response without the label is clustered with its day.
        out["cluster"] = raw["cluster_label"].where(raw["cluster_label"].notna(), out["day"])
    if settings.strata_by:
        out["stratum"] = raw["stratum_label"].astype(object)
    else:
        out["stratum"] = raw["top1_source"].map(top_folder, na_action="ignore").astype(object)
    scored = raw["score"].notna()
    out["grounding"] = np.where(scored, raw["score"], raw["logged"]).astype(float)
    out["band"] = raw["band"].astype(object).where(raw["band"].notna(), None)
    low_band = raw["band"].isin(settings.low_bands)
    out["low"] = np.where(raw["band"].notna(), low_band, out["grounding"] < settings.low_below)
    out["low"] = out["low"].astype(bool)

    known = raw["n_known"].astype(float)
    has_known = known > 0
    for cls in CLASS_FEATURES:
        share = (raw[f"n_{cls}"].astype(float) / known).where(has_known)
        out[f"share_{cls}"] = share
        out[f"any_{cls}"] = _boolean(share > 0, has_known)
    has_quality = raw["n_quality"] > 0
    for flag in ("truncated", "mid_sentence", "junk"):
        out[f"any_{flag}"] = _boolean(raw[flag] > 0, has_quality)
    out["any_bad_cut"] = _boolean(
        (raw["truncated"] > 0) | (raw["mid_sentence"] > 0) | (raw["junk"] > 0), has_quality
    )
    out["any_conflict"] = _boolean(raw["conflict"] > 0, raw["n_conflict_known"] > 0)
    has_retrieval = raw["n_retrieval"] > 0
    out["query_drifted"] = _boolean(raw["drifted"] > 0, has_retrieval)
    out["over_budget"] = _boolean(raw["over_budget"] > 0, has_retrieval)
    out["max_changed_share"] = raw["max_changed"].astype(float)
    out["max_stale_age_days"] = raw["max_age"].astype(float) / 86400.0
    out["top1_score"] = raw["top1"].astype(float)
    out["margin"] = raw["top1"].astype(float) - raw["top2"].astype(float)
    return out[list(RESPONSE_COLUMNS)]


def _boolean(values: pd.Series, known: pd.Series) -> pd.Series:
    """``values`` as pandas' nullable boolean, NA where ``known`` is False."""
    out = pd.array(values.to_numpy(dtype=bool), dtype="boolean")
    out[~known.to_numpy(dtype=bool)] = pd.NA
    return pd.Series(out, index=values.index)


def top_folder(source_id: str) -> str:
    """The top-level folder of a source path (``.`` for a file at the root)."""
    head, sep, _rest = source_id.lstrip("/").partition("/")
    return head if sep else ROOT_FOLDER


def _retrieved(conn: Connection, lo: int, hi: int, source: str) -> pd.DataFrame:
    """One row per (scored response, retrieved chunk). Rows carry the lineage row id only
    (integers are cheap to fetch); the few distinct lineage rows are joined in pandas."""
    join = "JOIN" if source == GROUNDING_RAGMON else "LEFT JOIN"
    pairs = conn.execute(
        text(
            "SELECT c.rid, c.position, c.lineage_id FROM responses r "
            f"{join} response_grounding g ON g.rid = r.rid "
            "JOIN response_chunks c ON c.rid = r.rid "
            f"WHERE r.at_us >= :lo AND r.at_us < :hi AND {_scored_clause(source)} "
            "ORDER BY c.rid, c.position"
        ),
        {"lo": lo, "hi": hi},
    ).fetchall()
    frame = pd.DataFrame.from_records(pairs, columns=["rid", "position", "lineage_id"])
    lineage = conn.execute(
        text(
            "SELECT l.id, l.chunk_id, l.source_id, l.chunk_class FROM chunk_lineage l "
            "WHERE l.id IN (SELECT c.lineage_id FROM responses r "
            "JOIN response_chunks c ON c.rid = r.rid "
            "WHERE r.at_us >= :lo AND r.at_us < :hi)"
        ),
        {"lo": lo, "hi": hi},
    ).fetchall()
    table = pd.DataFrame.from_records(
        lineage, columns=["lineage_id", "chunk_id", "source_id", "chunk_class"]
    )
    merged = frame.merge(table, on="lineage_id", how="left", sort=False)
    merged["rid"] = merged["rid"].astype("int64")
    merged["position"] = merged["position"].astype("int64")
    for column in ("chunk_id", "source_id", "chunk_class"):
        merged[column] = merged[column].astype(object).where(merged[column].notna(), None)
    return merged[list(RETRIEVED_COLUMNS)]


def latest_documents(history: HistoryStore) -> dict[str, DocState]:
    """Each document of the latest completed freshness run that is not fresh or is in its
    fix queue: its class, its fix-queue action and place."""
    from monitor.errors import ResultSchemaError
    from monitor.freshness.results import FreshnessResult

    run = history.last_success("freshness")
    if run is None:
        return {}
    try:
        result = FreshnessResult.from_json(history.details(run.id))
    except ResultSchemaError:
        return {}
    return documents_of(result.by_document, result.fix_queue)


def documents_of(by_document: Mapping[str, Any], fix_queue: Any) -> dict[str, DocState]:
    """`DocState` per document of ``by_document`` (verdicts) or ``fix_queue`` (items)."""
    ranks: dict[str, tuple[int | None, str | None]] = {}
    for place, item in enumerate(fix_queue, start=1):
        ranks.setdefault(item.document, (place, item.action))
    out = {}
    for doc in dict.fromkeys([*by_document, *ranks]):
        verdict = by_document.get(doc)
        status = str(verdict.status.value) if verdict is not None else "fresh"
        rank, action = ranks.get(doc, (None, None))
        out[doc] = DocState(status=status, action=action, fix_rank=rank)
    return out
