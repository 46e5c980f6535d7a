"""The relevance job's typed result (`ragmon.relevance/1`), stored with each run."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.relevance.compare import Regression
from monitor.relevance.exact import IndexCheck
from monitor.relevance.metrics import Aggregate, ProbeOutcome
from monitor.relevance.production import Production
from monitor.relevance.selfprobe import SelfRetrieval
from monitor.results import ResultRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class Labelled:
    """Labelled probes of one run."""

    file: str
    aggregate: Aggregate
    outcomes: tuple[ProbeOutcome, ...]
    queries: dict[str, str] = field(default_factory=dict)
    """Probe id to its query text."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Reference:
    """What this run's recall was compared with."""

    kind: str
    """``baseline`` (a pinned run), ``rolling`` (median of recent runs) or ``none``."""
    run_ids: tuple[int, ...] = ()
    recall: float | None = None
    relative_drop: float | None = None
    """(reference - recall@k) / reference of the labelled probes."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Timings:
    embedding_seconds: float
    querying_seconds: float
    queries: int


@dataclass(frozen=True, kw_only=True, slots=True)
class RelevanceResult(ResultRecord):
    SCHEMA = "ragmon.relevance/1"

    collection: str
    store: str
    ran_at: datetime
    k: int
    depth: int
    space: str | None
    score_kind: str
    budget_tokens: int
    chunks: int
    labelled: Labelled | None = None
    regressions: tuple[Regression, ...] = ()
    reference: Reference = Reference(kind="none")
    self_retrieval: SelfRetrieval | None = None
    index: IndexCheck | None = None
    production: Production | None = None
    timings: Timings | None = None
