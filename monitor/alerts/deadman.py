"""The dead man's switch: alerts about silence rather than about a figure.

- ``job-overdue``: a job has not completed successfully within its schedule's interval
  (plus a grace). The jobs package works the deadlines out from its registry and hands
  them in as `JobDeadline` records; a silent monitor is the worst failure of all.
- ``ingestion-stalled``: the ingest pipeline wrote no new embedding for a while although
  source documents changed since its last one (from the freshness figures
  ``last_embedding_age_seconds`` and ``last_source_change_age_seconds``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.alerts.figures import fingerprint, format_seconds, format_when
from monitor.alerts.settings import DeadMansSwitchSettings
from monitor.records import Evaluation, FigureRun, JobDeadline

JOB_RULE = "job-overdue"
INGESTION_RULE = "ingestion-stalled"
EMBEDDING_AGE = "last_embedding_age_seconds"
SOURCE_CHANGE_AGE = "last_source_change_age_seconds"


def overdue_jobs(
    deadlines: Sequence[JobDeadline], settings: DeadMansSwitchSettings
) -> list[Evaluation]:
    """One evaluation per job: firing while it is overdue."""
    out = []
    for deadline in deadlines:
        labels = {"job": deadline.job}
        last = deadline.last_success_at
        if deadline.overdue_since is not None:
            since = (
                f"since {format_when(last)}"
                if last is not None
                else "since its first run (never completed successfully)"
            )
            summary = (
                f"job {deadline.job} has not completed successfully {since}; its slot at "
                f"{format_when(deadline.overdue_since)} passed (schedule '{deadline.schedule}')"
            )
        else:
            summary = f"job {deadline.job} is on time (last success {format_when(last)})"
        out.append(
            Evaluation(
                rule=JOB_RULE,
                fingerprint=fingerprint(JOB_RULE, labels),
                labels=labels,
                severity=settings.job_severity,
                firing=deadline.overdue_since is not None,
                summary=summary,
                description="ragmon's own job stopped running or keeps failing: check its "
                "cron entry or scheduler, `ragmon status`, and the job's log.",
                job=deadline.job,
            )
        )
    return out


def stalled_ingestion(
    embedding: FigureRun | None,
    source_change: FigureRun | None,
    settings: DeadMansSwitchSettings,
    *,
    now: datetime,
) -> list[Evaluation]:
    """One evaluation per series (collection) of the newest run's embedding age.

    Ages were measured when that run audited; they are moved on to ``now``.
    """
    if embedding is None:
        return []
    later = max(0.0, (now - embedding.started_at).total_seconds())
    limit = settings.ingestion_stalled_after.total_seconds()
    out = []
    for key in sorted(embedding.series):
        labels = dict(key)
        embedded = embedding.series[key] + later
        changed_raw = source_change.series.get(key) if source_change is not None else None
        changed = changed_raw + later if changed_raw is not None else None
        firing = changed is not None and changed < embedded and embedded > limit
        where = ", ".join(f"{k} {v}" for k, v in sorted(labels.items())) or "the store"
        summary = (
            f"no new embedding in {where} for {format_seconds(embedded)}"
            + (
                f" while sources changed {format_seconds(changed)} ago"
                if changed is not None and changed < embedded
                else " (no source changed since)"
            )
            + f" (threshold {format_seconds(limit)})"
        )
        out.append(
            Evaluation(
                rule=INGESTION_RULE,
                fingerprint=fingerprint(INGESTION_RULE, labels),
                labels=labels,
                severity=settings.ingestion_severity,
                firing=firing,
                summary=summary,
                description="The ingest pipeline seems to have stopped: sources keep changing "
                "but nothing was re-embedded. Check the ingest job.",
                metric=EMBEDDING_AGE,
                value=embedded,
                threshold=limit,
                op=">",
                job=embedding.job,
                run_id=embedding.run_id,
            )
        )
    return out
