"""Per-response upstream features, joined in the history database.

`load_frames` builds one row per response with a grounding score in the window: its
grounding, aggregates over the chunks it retrieved (lineage class shares, the largest
edit, the stalest age, conflict membership, chunking flags, the top-1 score and margin)
and its retrieval state (query drift, context budget). The database (SQLite or
PostgreSQL) returns one row per response with its top two chunks joined by key, one row
per lineage row with its chunk's flags, and the retrieved chunks as one text of integers
per block of responses; numpy parses that text and sums per response, so millions of
retrieved chunks never pass through a Python loop or become Python tuples.

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

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from monitor.correlation.reading import Reader, RidIndex, read_chunks, reader
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
    with reader(history) as db:
        source = _grounding_source(db, lo, hi)
        rid_lo, rid_hi = _rid_range(db, lo, hi)
        window = {"lo": lo, "hi": hi, "rid_lo": rid_lo, "rid_hi": rid_hi}
        raw = db.frame(
            _responses_sql(db.dialect, wanted, source), {**window, **_label_params(db, wanted)}
        )
        lineage = _Lineage(db.frame(_lineage_sql(db.dialect)))
        rid = raw["rid"].to_numpy(dtype=np.int64)
        chunks = read_chunks(db, rid_lo, rid_hi, rid)
    rows = lineage.rows(chunks.lineage)
    _aggregate(raw, chunks.response, rows, lineage.table)
    raw["top1_source"] = lineage.take("source_id", lineage.rows(raw["top1_lineage"]))
    retrieved = pd.DataFrame(
        {"rid": rid[chunks.response], "position": chunks.position}, columns=["rid", "position"]
    )
    for column in ("chunk_id", "source_id", "chunk_class"):
        retrieved[column] = lineage.take(column, rows)
    return Frames(
        responses=_responses_frame(raw, wanted),
        retrieved=retrieved,
        documents=latest_documents(history),
        grounding_source=source,
    )


def _grounding_source(db: Reader, lo: int, hi: int) -> str:
    scored = db.frame(
        "SELECT count(*) AS n FROM (SELECT 1 FROM response_grounding "
        "WHERE at_us >= :lo AND at_us < :hi AND status = 'scored' AND score IS NOT NULL "
        "LIMIT 1) x",
        {"lo": lo, "hi": hi},
    )
    return GROUNDING_RAGMON if int(scored["n"].iloc[0]) else GROUNDING_LOG


def _rid_range(db: Reader, lo: int, hi: int) -> tuple[int, int]:
    """The smallest and largest row id of the window's responses: the chunks are read by
    this key range (rows are numbered in ingestion order, so it is tight), and only the
    chunks of the window's scored responses are kept."""
    found = db.frame(
        "SELECT min(rid) AS lo, max(rid) AS hi FROM responses WHERE at_us >= :lo AND at_us < :hi",
        {"lo": lo, "hi": hi},
    )
    low, high = found["lo"].iloc[0], found["hi"].iloc[0]
    return (int(low), int(high)) if pd.notna(low) else (0, -1)


def _lineage_sql(dialect: str) -> str:
    """Every lineage row (the ids the retrieved chunks point at), in id order, with the
    latest chunking run's flags of its chunk."""
    true = "TRUE" if dialect == "postgresql" else "1"
    return (
        "SELECT l.id AS id, l.chunk_id AS chunk_id, l.source_id AS source_id, "
        "l.chunk_class AS chunk_class, "
        "CASE WHEN l.in_conflict IS NULL THEN NULL "
        f"WHEN l.in_conflict = {true} THEN 1 ELSE 0 END AS conflict, "
        "CASE WHEN l.chunk_class = 'fresh' THEN 0.0 ELSE l.changed_share END AS changed, "
        "CASE WHEN l.chunk_class = 'fresh' THEN 0.0 ELSE l.stale_age_s END AS age, "
        "CASE WHEN q.chunk_id IS NULL THEN 0 ELSE 1 END AS quality, "
        f"CASE WHEN q.truncated = {true} THEN 1 ELSE 0 END AS truncated, "
        f"CASE WHEN q.mid_sentence = {true} THEN 1 ELSE 0 END AS mid_sentence, "
        f"CASE WHEN q.junk = {true} THEN 1 ELSE 0 END AS junk "
        "FROM chunk_lineage l LEFT JOIN chunk_quality q ON q.chunk_id = l.chunk_id "
        "ORDER BY l.id"
    )


def _scored_clause(source: str) -> str:
    if source == GROUNDING_RAGMON:
        return "g.status = 'scored' AND g.score IS NOT NULL"
    return "r.grounding IS NOT NULL"


def _label(dialect: str, param: str) -> str:
    if dialect == "postgresql":
        return f"(CAST(r.labels AS json) ->> :{param})"
    return f"json_extract(r.labels, :{param})"


def _label_params(db: Reader, settings: FrameSettings) -> dict[str, str]:
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
    labels = ""
    if settings.cluster_by != "day":
        labels += f"{_label(dialect, 'cluster_label')} AS cluster_label, "
    if settings.strata_by:
        labels += f"{_label(dialect, 'stratum_label')} AS stratum_label, "
    # One row per response (every joined table is keyed by rid, the chunks by rid and
    # position): the top two chunks are read by key; the rest of the chunks are read
    # apart and summed in numpy (`_chunks`, `_aggregate`). Few columns: each cell of a
    # million rows costs a Python object.
    return f"""
SELECT r.rid AS rid, r.id AS response_id, r.at_us AS at_us, {labels}
  coalesce(g.score, r.grounding) AS grounding, g.band AS band,
  CASE WHEN rr.rid IS NULL THEN NULL
    ELSE (CASE WHEN rr.query_drifted = {true} THEN 1 ELSE 0 END)
      + (CASE WHEN rr.over_budget = {true} THEN 2 ELSE 0 END) END AS retrieval,
  {_score("c0")} AS top1, {_score("c1")} AS top2, c0.lineage_id AS top1_lineage
FROM responses r
{"JOIN" if source == GROUNDING_RAGMON else "LEFT JOIN"} response_grounding g ON g.rid = r.rid
LEFT JOIN response_retrieval rr ON rr.rid = r.rid
LEFT JOIN response_chunks c0 ON c0.rid = r.rid AND c0.position = 0
LEFT JOIN response_chunks c1 ON c1.rid = r.rid AND c1.position = 1
WHERE r.rid BETWEEN :rid_lo AND :rid_hi AND r.at_us >= :lo AND r.at_us < :hi
  AND {_scored_clause(source)}
ORDER BY r.rid
"""


def _aggregate(
    raw: pd.DataFrame, response: np.ndarray, rows: np.ndarray, table: pd.DataFrame
) -> None:
    """Adds to ``raw`` each response's sums over the states of its retrieved chunks (the
    chunk of ``response`` row at lineage ``rows``; ``len(table)`` for none): counts of
    known classes, of each class and flag, and the largest edit and stale age."""
    n = len(raw)
    found = rows < len(table)
    who = response[found]
    state = rows[found]

    def count(values: np.ndarray) -> np.ndarray:
        return np.bincount(who, weights=values[state], minlength=n).astype(np.int64)

    classes = table["chunk_class"].to_numpy(dtype=object)
    raw["known"] = count((classes != "unknown").astype(np.float64))
    for cls in CLASS_FEATURES:
        raw[cls] = count((classes == cls).astype(np.float64))
    conflict = table["conflict"].astype(float).to_numpy()
    raw["conflict_known"] = count((~np.isnan(conflict)).astype(np.float64))
    raw["conflict"] = count(np.nan_to_num(conflict))
    for flag in ("quality", "truncated", "mid_sentence", "junk"):
        raw[flag] = count(table[flag].astype(float).to_numpy())
    for column, name in (("changed", "max_changed"), ("age", "max_age")):
        values = table[column].astype(float).to_numpy()[state]
        out = np.full(n, np.nan)
        np.fmax.at(out, who, values)
        raw[name] = out


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
    out["grounding"] = raw["grounding"].astype(float)
    band = raw["band"].astype(object)
    out["band"] = band.where(band.notna(), None)
    out["low"] = np.where(
        band.notna(), band.isin(settings.low_bands), out["grounding"] < settings.low_below
    ).astype(bool)

    known = raw["known"].to_numpy(dtype=float)
    has_known = known > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        for cls in CLASS_FEATURES:
            count = raw[cls].to_numpy()
            out[f"share_{cls}"] = np.where(has_known, count / known, np.nan)
            out[f"any_{cls}"] = _boolean(count > 0, has_known, raw.index)
    has_quality = raw["quality"].to_numpy() > 0
    for flag in ("truncated", "mid_sentence", "junk"):
        out[f"any_{flag}"] = _boolean(raw[flag].to_numpy() > 0, has_quality, raw.index)
    bad = (raw["truncated"] + raw["mid_sentence"] + raw["junk"]).to_numpy() > 0
    out["any_bad_cut"] = _boolean(bad, has_quality, raw.index)
    out["any_conflict"] = _boolean(
        raw["conflict"].to_numpy() > 0, raw["conflict_known"].to_numpy() > 0, raw.index
    )
    retrieval = raw["retrieval"].astype(float).to_numpy()  # drifted + 2 * over budget
    has_retrieval = ~np.isnan(retrieval)
    state = np.nan_to_num(retrieval).astype(np.int64)
    out["query_drifted"] = _boolean(state & 1 > 0, has_retrieval, raw.index)
    out["over_budget"] = _boolean(state & 2 > 0, has_retrieval, raw.index)
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
    """The lineage rows, sorted by id, looked up in numpy."""

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self._index = RidIndex(table["id"].to_numpy(dtype=np.int64))
        self._values: dict[str, np.ndarray] = {}

    def rows(self, lineage_ids: Any) -> np.ndarray:
        """The row of each lineage id; ``len(table)`` where the id is NULL, negative or
        unknown."""
        wanted = pd.Series(lineage_ids).to_numpy(dtype=float, na_value=-1)
        at, found = self._index.locate(wanted.astype(np.int64))
        return np.where(found, at, len(self.table))

    def take(self, column: str, rows: np.ndarray) -> np.ndarray:
        """``column`` at each of ``rows`` (from `rows`; None where there is no row)."""
        values = self._values.get(column)
        if values is None:
            # None in place of NaN once per lineage row, not once per retrieved chunk;
            # the last slot stands for no lineage row.
            values = np.empty(len(self.table) + 1, dtype=object)
            values[: len(self.table)] = self.table[column].to_numpy(dtype=object)
            values[pd.isna(values)] = None
            self._values[column] = values
        return values[rows]


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
