"""What the report is made of: its input data, the sections' output, and the Section port."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from dashboards.formats import anchor
from monitor.errors import ResultSchemaError
from monitor.history.queries import Point
from monitor.records import Finding, RunRecord
from monitor.results import ResultRecord

log = logging.getLogger(__name__)


class Light(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    GREY = "grey"
    """No data yet."""


@dataclass(frozen=True, kw_only=True, slots=True)
class JobHealth:
    """The monitor's own health for one job, computed by the caller from its schedule."""

    job: str
    schedule: str
    last_success: datetime | None
    last_status: str | None
    next_run: datetime | None
    overdue_since: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertView:
    """A firing alert as the report shows it."""

    rule: str
    severity: str
    signal: str
    """Which headline it colours (``freshness``, ...; ``monitor`` for the dead man's switch)."""
    message: str
    since: datetime | None


@dataclass(kw_only=True)
class ReportData:
    """Everything a report is drawn from; sections read it and never touch the database."""

    title: str
    generated_at: datetime
    since: datetime
    runs: list[RunRecord]
    points: list[Point]
    details: dict[str, tuple[RunRecord, Any]]
    """Per job: its last completed run and that run's machine-readable result."""
    health: list[JobHealth] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)
    retrievals: dict[str, int] | None = None
    """Retrievals per source document over the last week, from the response logs (None
    while no logs were ingested)."""
    low_grounding: dict[str, int] | None = None
    """Low-grounding answers per source document over the same week (None while no logs
    were ingested): the fix queue's first ordering key."""
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    """Per job: the findings of the run in ``details`` (its last completed run)."""

    def series(self, name: str, **labels: str) -> list[Point]:
        """Points of one figure whose labels include ``labels``, oldest first."""
        return [
            p
            for p in self.points
            if p.name == name and all(p.labels.get(k) == v for k, v in labels.items())
        ]


@dataclass(frozen=True, kw_only=True, slots=True)
class Figure:
    """One plot: an element id and a plotly figure as JSON-ready dict."""

    id: str
    title: str
    spec: Mapping[str, Any]

    @property
    def note(self) -> str | None:
        """The sentence shown instead of a chart with too little to draw (one run so far)."""
        note = self.spec.get("note")
        return str(note) if note else None


@dataclass(frozen=True, kw_only=True, slots=True)
class Headline:
    """One figure of a signal's headline on the overview."""

    label: str
    value: float | None
    since_last: float | None
    since_baseline: float | None
    unit: str = ""
    """Shown after the value; `dashboards.formats.DURATION` for seconds in human units."""
    trend: tuple[float, ...] = ()
    """The figure's values in the window, oldest first, for the card's sparkline."""


@dataclass(frozen=True, kw_only=True, slots=True)
class FindingView:
    """One finding behind a section's figures, as the page lists it (with its anchor)."""

    anchor: str
    """The element id of its row: ``anchor("finding", job)`` and its place in the run."""
    job: str
    run_id: int
    kind: str
    severity: str
    message: str
    document: str | None
    chunks: int


@dataclass(kw_only=True)
class SectionOutput:
    """What a section contributes to the page."""

    html: str
    """Rendered, escaped HTML of the section body."""
    figures: list[Figure] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    light: Light = Light.GREY
    data: dict[str, Any] = field(default_factory=dict)
    """Everything shown, for report.json."""
    files: dict[str, bytes] = field(default_factory=dict)
    """Downloads written next to the page (e.g. fix-queue.csv)."""
    links: list[tuple[str, str]] = field(default_factory=list)
    """(label, relative href) of artefacts such as evidently HTML reports."""
    findings: list[FindingView] = field(default_factory=list)
    """The findings behind its figures (`findings_of`); the page lists them under it."""
    fix_rows: list[str] = field(default_factory=list)
    """Documents whose fix-queue row it drew, with the id ``anchor("fix", document)``."""


class Section(Protocol):
    """A part of the report about one signal. Register it in `dashboards.sections`."""

    key: str
    title: str
    signal: str | None
    """The signal whose headline it provides on the overview, if any."""

    def build(self, data: ReportData, render: Any) -> SectionOutput:
        """Draw the section from ``data``; ``render(template, **context)`` gives escaped HTML."""
        ...


TREND_POINTS = 60
"""A sparkline shows at most this many of a figure's latest values."""


def headline(points: Sequence[Point], label: str, unit: str = "") -> Headline:
    """A figure's latest value with its change since the previous run and the first in view."""
    if not points:
        return Headline(label=label, value=None, since_last=None, since_baseline=None, unit=unit)
    last = points[-1].value
    previous = points[-2].value if len(points) > 1 else None
    return Headline(
        label=label,
        value=last,
        since_last=last - previous if previous is not None else None,
        since_baseline=last - points[0].value if len(points) > 1 else None,
        unit=unit,
        trend=tuple(p.value for p in points[-TREND_POINTS:]),
    )


MAX_FINDINGS = 300
"""A section lists at most this many findings (the most severe first); report.json has the count."""
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def findings_of(data: ReportData, *jobs: str) -> list[FindingView]:
    """The findings of ``jobs``' last completed runs, the most severe first.

    Each gets an anchor from its job and its place in its run, so a link from
    the section, the overview or a fix-queue row lands on its row.
    """
    out = []
    for job in jobs:
        found = data.details.get(job)
        if not found:
            continue
        run = found[0]
        for n, f in enumerate(data.findings.get(job, ())):
            out.append(
                FindingView(
                    anchor=anchor("finding", job) + f"-{n}",
                    job=job,
                    run_id=run.id,
                    kind=f.kind,
                    severity=str(f.severity),
                    message=f.message,
                    document=f.source_id,
                    chunks=len(f.chunk_ids),
                )
            )
    out.sort(key=lambda v: _SEVERITY_ORDER.get(v.severity, 3))
    return out


def scaled(points: Sequence[Point], factor: float) -> list[Point]:
    """``points`` with their values multiplied by ``factor`` (shares as %, seconds as days)."""
    return [
        Point(
            run_id=p.run_id,
            job=p.job,
            at=p.at,
            name=p.name,
            value=p.value * factor,
            labels=p.labels,
        )
        for p in points
    ]


def run_light(run: RunRecord | None, latest: object) -> Light:
    """A signal's light from its last run: grey without one, amber with findings."""
    if latest is None:
        return Light.GREY
    return Light.AMBER if run is not None and run.status == "findings" else Light.GREEN


_R = TypeVar("_R", bound=ResultRecord)


def latest_result(
    data: ReportData, job: str, record: type[_R]
) -> tuple[RunRecord | None, _R | None]:
    """``job``'s last completed run and its result read back as ``record``.

    A result stored by another version of ragmon (another schema tag) is left out rather
    than failing the whole report: the section shows its series until the job runs again.
    """
    found = data.details.get(job)
    if not found:
        return None, None
    run, stored = found
    if not stored:
        return run, None
    try:
        return run, record.from_json(stored)
    except ResultSchemaError as exc:
        log.warning("report: %s", exc)
        return run, None
