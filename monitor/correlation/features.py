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

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from monitor.logs.values import epoch_us

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.history import HistoryStore

DAY_US = 86_400_000_000
GROUNDING_RAGMON = "ragmon"
GROUNDING_LOG = "log"
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
    low_bands: tuple[str, ...] = ("disclaim", "partial", "escalate")
    low_below: float = 0.8
    """Grounding under which a response without a band is low (the ``cite`` bound)."""


def frame_settings(config: Config) -> FrameSettings:
    """The frame settings from ``config``'s ``[correlation]`` table."""
    section = config.correlation
    cite = float(config.grounding.bands.cite)
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
    with _reader(history) as db:
        source = _grounding_source(db, lo, hi)
        rid_lo, rid_hi = _rid_range(db, lo, hi)
        window = {"lo": lo, "hi": hi, "rid_lo": rid_lo, "rid_hi": rid_hi}
        db.execute(f"DROP TABLE IF EXISTS {STATE}")
        db.execute(_STATE_TABLE)
        db.execute(_state_sql(db.dialect))
        raw = db.frame(
            _responses_sql(db.dialect, wanted, source), {**window, **_label_params(db, wanted)}
        )
        lineage = _Lineage(
            db.frame(
                "SELECT l.id AS id, l.chunk_id AS chunk_id, l.source_id AS source_id, "
                "l.chunk_class AS chunk_class FROM chunk_lineage l "
                f"WHERE l.id IN (SELECT id FROM {STATE}) ORDER BY l.id"
            )
        )
        retrieved = _retrieved(db, window, raw["rid"].to_numpy(dtype=np.int64), lineage)
        db.execute(f"DROP TABLE {STATE}")
    raw["top1_source"] = lineage.take("source_id", raw["top1_lineage"])
    return Frames(
        responses=_responses_frame(raw, wanted),
        retrieved=retrieved,
        documents=latest_documents(history),
        grounding_source=source,
    )


STATE = "ragmon_corr_state"
"""A temporary table: one row per lineage row with its state packed into two integers, so
the join over millions of retrieved chunks looks up one integer key per chunk (not a
chunk id string in ``chunk_quality``) and sums two columns instead of a dozen."""
_STATE_TABLE = (
    f"CREATE TEMPORARY TABLE {STATE} "
    "(id INTEGER PRIMARY KEY, classes BIGINT, flags BIGINT, changed FLOAT, age FLOAT)"
)
_BITS = 10
"""Bits per packed count: up to 1023 chunks of one response."""
_CLASS_FIELDS = ("known", *CLASS_FEATURES)
_FLAG_FIELDS = ("conflict_known", "conflict", "quality", "truncated", "mid_sentence", "junk")


class _Reader:
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
        self._cursor.execute(self._render(sql, params or {}), dict(params or {}))
        names = [d[0] for d in self._cursor.description]
        return pd.DataFrame.from_records(self._cursor.fetchall(), columns=names)


@contextlib.contextmanager
def _reader(history: HistoryStore) -> Iterator[_Reader]:
    with history.engine.connect() as conn:
        dbapi: Any = conn.connection.dbapi_connection
        cursor = dbapi.cursor()
        try:
            yield _Reader(conn.dialect.name, cursor)
        finally:
            cursor.close()
            conn.rollback()


def _grounding_source(db: _Reader, lo: int, hi: int) -> str:
    scored = db.frame(
        "SELECT count(*) AS n FROM (SELECT 1 FROM response_grounding "
        "WHERE at_us >= :lo AND at_us < :hi AND status = 'scored' AND score IS NOT NULL "
        "LIMIT 1) x",
        {"lo": lo, "hi": hi},
    )
    return GROUNDING_RAGMON if int(scored["n"].iloc[0]) else GROUNDING_LOG


def _rid_range(db: _Reader, lo: int, hi: int) -> tuple[int, int]:
    """The smallest and largest row id of the window's responses: the chunks are read by
    this key range (rows are numbered in ingestion order, so it is tight), and the final
    join keeps only the window's responses."""
    found = db.frame(
        "SELECT min(rid) AS lo, max(rid) AS hi FROM responses WHERE at_us >= :lo AND at_us < :hi",
        {"lo": lo, "hi": hi},
    )
    low, high = found["lo"].iloc[0], found["hi"].iloc[0]
    return (int(low), int(high)) if pd.notna(low) else (0, -1)


def _pack(fields: Sequence[tuple[str, str]]) -> str:
    """``fields`` (name, 0/1 SQL expression) packed ``_BITS`` bits apart; a sum of packed
    values is the packed sum of each field, as long as each stays under 2**_BITS."""
    return " + ".join(
        f"(CASE WHEN {expr} THEN {1 << (_BITS * i)} ELSE 0 END)"
        for i, (_name, expr) in enumerate(fields)
    )


def _state_sql(dialect: str) -> str:
    true = "TRUE" if dialect == "postgresql" else "1"
    classes = _pack(
        [("known", "l.chunk_class <> 'unknown'")]
        + [(c, f"l.chunk_class = '{c}'") for c in CLASS_FEATURES]
    )
    flags = _pack(
        [
            ("conflict_known", "l.in_conflict IS NOT NULL"),
            ("conflict", f"l.in_conflict = {true}"),
            ("quality", "q.chunk_id IS NOT NULL"),
            ("truncated", f"q.truncated = {true}"),
            ("mid_sentence", f"q.mid_sentence = {true}"),
            ("junk", f"q.junk = {true}"),
        ]
    )
    return (
        f"INSERT INTO {STATE} SELECT l.id, {classes}, {flags}, "
        "CASE WHEN l.chunk_class = 'fresh' THEN 0.0 ELSE l.changed_share END, "
        "CASE WHEN l.chunk_class = 'fresh' THEN 0.0 ELSE l.stale_age_s END "
        "FROM chunk_lineage l LEFT JOIN chunk_quality q ON q.chunk_id = l.chunk_id"
    )


def _scored_clause(source: str) -> str:
    if source == GROUNDING_RAGMON:
        return "g.status = 'scored' AND g.score IS NOT NULL"
    return "r.grounding IS NOT NULL"


def _label(dialect: str, param: str) -> str:
    if dialect == "postgresql":
        return f"(CAST(r.labels AS json) ->> :{param})"
    return f"json_extract(r.labels, :{param})"


def _label_params(db: _Reader, settings: FrameSettings) -> dict[str, str]:
    params = {}
    if settings.cluster_by != "day":
        params["cluster_label"] = _label_path(db.dialect, settings.cluster_by)
    if settings.strata_by:
        params["stratum_label"] = _label_path(db.dialect, settings.strata_by)
    return params


def _label_path(dialect: str, name: str) -> str:
    # SQLite reads a JSON path; a quoted key may hold dots and spaces.
    return name if dialect == "postgresql" else '$."' + name.replace('"', '""') + '"'


def _score(alias: str) -> str:
    return (
        f"CASE WHEN {alias}.score_kind = 'distance' THEN 1.0 - {alias}.score ELSE {alias}.score END"
    )


def _responses_sql(dialect: str, settings: FrameSettings, source: str) -> str:
    true = "TRUE" if dialect == "postgresql" else "1"
    cluster = _label(dialect, "cluster_label") if settings.cluster_by != "day" else "NULL"
    stratum = _label(dialect, "stratum_label") if settings.strata_by else "NULL"
    # One pass over the window's responses in key order: each response's chunks are read
    # by key and summed as the scan goes (no sort, no materialised subquery). A response
    # that retrieved nothing keeps NULL aggregates. Per-response columns are the same on
    # each of its rows; max() keeps the query valid where GROUP BY must name them all.
    return f"""
SELECT r.rid AS rid, max(r.id) AS response_id, max(r.at_us) AS at_us,
  max({cluster}) AS cluster_label, max({stratum}) AS stratum_label,
  max(g.score) AS score, max(g.band) AS band, max(r.grounding) AS logged,
  max(CASE WHEN rr.rid IS NULL THEN NULL WHEN rr.query_drifted = {true} THEN 1 ELSE 0 END)
    AS drifted,
  max(CASE WHEN rr.rid IS NULL THEN NULL WHEN rr.over_budget = {true} THEN 1 ELSE 0 END)
    AS over_budget,
  count(c.rid) AS n_chunks, CAST(sum(s.classes) AS BIGINT) AS classes,
  CAST(sum(s.flags) AS BIGINT) AS flags, max(s.changed) AS max_changed, max(s.age) AS max_age,
  max(CASE WHEN c.position = 0 THEN {_score("c")} END) AS top1,
  max(CASE WHEN c.position = 1 THEN {_score("c")} END) AS top2,
  max(CASE WHEN c.position = 0 THEN c.lineage_id END) AS top1_lineage
FROM responses r
{"JOIN" if source == GROUNDING_RAGMON else "LEFT JOIN"} response_grounding g ON g.rid = r.rid
LEFT JOIN response_retrieval rr ON rr.rid = r.rid
LEFT JOIN response_chunks c ON c.rid = r.rid
LEFT JOIN {STATE} s ON s.id = c.lineage_id
WHERE r.rid BETWEEN :rid_lo AND :rid_hi AND r.at_us >= :lo AND r.at_us < :hi
  AND {_scored_clause(source)}
GROUP BY r.rid
ORDER BY r.rid
"""


def _unpack(packed: pd.Series, fields: Sequence[str]) -> dict[str, np.ndarray]:
    values = packed.fillna(0).to_numpy(dtype=np.int64)
    mask = (1 << _BITS) - 1
    return {name: (values >> (_BITS * i)) & mask for i, name in enumerate(fields)}


def _responses_frame(raw: pd.DataFrame, settings: FrameSettings) -> pd.DataFrame:
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
        label = raw["cluster_label"].astype(object)
        out["cluster"] = label.where(label.notna(), out["day"])
    if settings.strata_by:
        out["stratum"] = raw["stratum_label"].astype(object)
    else:
        # One top_folder call per distinct source, not per response.
        codes, uniques = pd.factorize(raw["top1_source"], use_na_sentinel=True)
        folders = np.array([top_folder(str(u)) for u in uniques] + [None], dtype=object)
        out["stratum"] = folders[codes]  # code -1 (no source) takes the trailing None
    out["stratum"] = out["stratum"].where(out["stratum"].notna(), None)
    score = raw["score"].astype(float)
    out["grounding"] = np.where(score.notna(), score, raw["logged"].astype(float))
    band = raw["band"].astype(object)
    out["band"] = band.where(band.notna(), None)
    out["low"] = np.where(
        band.notna(), band.isin(settings.low_bands), out["grounding"] < settings.low_below
    ).astype(bool)

    classes = _unpack(raw["classes"], _CLASS_FIELDS)
    flags = _unpack(raw["flags"], _FLAG_FIELDS)
    known = classes["known"].astype(float)
    has_known = known > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        for cls in CLASS_FEATURES:
            share = np.where(has_known, classes[cls] / known, np.nan)
            out[f"share_{cls}"] = share
            out[f"any_{cls}"] = _boolean(classes[cls] > 0, has_known, raw.index)
    has_quality = flags["quality"] > 0
    for flag in ("truncated", "mid_sentence", "junk"):
        out[f"any_{flag}"] = _boolean(flags[flag] > 0, has_quality, raw.index)
    bad = (flags["truncated"] > 0) | (flags["mid_sentence"] > 0) | (flags["junk"] > 0)
    out["any_bad_cut"] = _boolean(bad, has_quality, raw.index)
    out["any_conflict"] = _boolean(flags["conflict"] > 0, flags["conflict_known"] > 0, raw.index)
    drifted = raw["drifted"].astype(float)
    has_retrieval = drifted.notna().to_numpy()
    out["query_drifted"] = _boolean(drifted.to_numpy() > 0, has_retrieval, raw.index)
    budget = raw["over_budget"].astype(float).to_numpy()
    out["over_budget"] = _boolean(budget > 0, has_retrieval, raw.index)
    out["max_changed_share"] = raw["max_changed"].astype(float)
    out["max_stale_age_days"] = raw["max_age"].astype(float) / 86400.0
    out["top1_score"] = raw["top1"].astype(float)
    out["margin"] = raw["top1"].astype(float) - raw["top2"].astype(float)
    return out[list(RESPONSE_COLUMNS)]


def _boolean(values: np.ndarray, known: np.ndarray, index: pd.Index) -> pd.Series:
    """``values`` as pandas' nullable boolean, NA where ``known`` is False."""
    out = pd.array(np.asarray(values, dtype=bool), dtype="boolean")
    out[~np.asarray(known, dtype=bool)] = pd.NA
    return pd.Series(out, index=index)


def top_folder(source_id: str) -> str:
    """The top-level folder of a source path (``.`` for a file at the root)."""
    head, sep, _rest = source_id.lstrip("/").partition("/")
    return head if sep else ROOT_FOLDER


class _Lineage:
    """The lineage rows of the window, sorted by id, looked up in numpy."""

    def __init__(self, table: pd.DataFrame):
        self._table = table
        self._ids = table["id"].to_numpy(dtype=np.int64)

    def take(self, column: str, lineage_ids: Any) -> np.ndarray:
        """``column`` of each lineage id (None where the id is NULL or unknown)."""
        wanted = np.asarray(pd.Series(lineage_ids).to_numpy(dtype=float, na_value=np.nan))
        ids = self._ids
        found = ~np.isnan(wanted)
        keys = np.where(found, wanted, -1).astype(np.int64)
        at = np.searchsorted(ids, keys)
        if len(ids):
            at = np.minimum(at, len(ids) - 1)
            found &= ids[at] == keys
        else:
            found[:] = False
        values = np.empty(len(ids) + 1, dtype=object)  # the last slot: no lineage row
        values[: len(ids)] = self._table[column].to_numpy(dtype=object)
        taken = values[np.where(found, at, len(ids))]
        taken[pd.isna(taken)] = None
        return taken


def _retrieved(
    db: _Reader, window: Mapping[str, int], rids: np.ndarray, lineage: _Lineage
) -> pd.DataFrame:
    """One row per (scored response, retrieved chunk): the chunks are read by key range
    (no join, no sort) and kept for the responses in ``rids`` (ascending)."""
    pairs = db.frame(
        "SELECT rid, position, lineage_id FROM response_chunks "
        "WHERE rid BETWEEN :rid_lo AND :rid_hi",
        window,
    )
    rid = pairs["rid"].to_numpy(dtype=np.int64)
    keep = np.isin(rid, rids)
    out = pd.DataFrame(
        {"rid": rid[keep], "position": pairs["position"].to_numpy(dtype=np.int64)[keep]}
    )
    lineage_ids = pairs["lineage_id"].to_numpy(dtype=float, na_value=np.nan)[keep]
    del pairs
    for column in ("chunk_id", "source_id", "chunk_class"):
        out[column] = lineage.take(column, lineage_ids)
    return out


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
