"""One alert evaluation: rules and the dead man's switch over stored history, transitions
and their outbox rows in one transaction, then delivery of everything pending."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from monitor.alerts.channels import ChannelSet
from monitor.alerts.deadman import (
    EMBEDDING_AGE,
    SOURCE_CHANGE_AGE,
    overdue_jobs,
    stalled_ingestion,
)
from monitor.alerts.delivery import Attempt, DeliveryReport, deliver_pending, send_with_retry
from monitor.alerts.rules import evaluate_rule, runs_needed
from monitor.alerts.settings import AlertsSettings, RetrySettings
from monitor.alerts.state import notification_for, plan
from monitor.history.alerts import AlertStore
from monitor.history.store import HistoryStore
from monitor.records import (
    AlertState,
    Evaluation,
    Finding,
    JobDeadline,
    Notification,
    NotificationKind,
    Severity,
)

log = logging.getLogger(__name__)

SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True, kw_only=True, slots=True)
class AlertReport:
    """What one evaluation did."""

    evaluations: int
    firing: tuple[AlertState, ...]
    queued: tuple[Notification, ...]
    delivery: DeliveryReport
    broken_rules: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        counts = {s: sum(1 for a in self.firing if a.severity is s) for s in Severity}
        by_severity = ", ".join(f"{n} {s}" for s, n in reversed(counts.items()) if n)
        parts = [
            f"{len(self.firing)} alert(s) firing" + (f" ({by_severity})" if by_severity else ""),
            f"{len(self.queued)} notification(s) queued, {self.delivery.delivered} delivered",
        ]
        if self.delivery.pending:
            failing = ", ".join(f"{c}: {e}" for c, e in sorted(self.delivery.failures.items()))
            parts.append(f"{self.delivery.pending} pending" + (f" ({failing})" if failing else ""))
        if self.broken_rules:
            parts.append(f"rules not evaluated: {', '.join(self.broken_rules)}")
        return "; ".join(parts)


def evaluate(
    settings: AlertsSettings,
    history: HistoryStore,
    channels: ChannelSet,
    *,
    now: datetime,
    deadlines: Sequence[JobDeadline] = (),
    report: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AlertReport:
    """Evaluate every rule, apply the transitions, queue and deliver their notices.

    ``deadlines`` feed the dead man's switch for jobs; ``report`` (a path or URL) is linked
    from every message. Delivery failures are recorded, never raised.
    """
    store = AlertStore(history)
    evaluations, broken = collect(settings, store, history, now=now, deadlines=deadlines)
    queued: list[Notification] = []
    with store.transaction(now) as tx:
        changes = plan(
            tx.states(), evaluations, now=now, cooldown=settings.cooldown, keep_rules=broken
        )
        for change in changes:
            tx.save_state(change.state)
            if change.notify is None:
                continue
            notification = notification_for(change, at=now, report=report)
            tx.enqueue(notification, routes(settings, notification.severity))
            queued.append(notification)
        tx.prune()
    for n in queued:
        log.info("alert %s %s: %s", n.kind, n.rule, n.summary)
    delivery = deliver_pending(
        store,
        channels.channels,
        settings.retry,
        now=now,
        redact=channels.redactor,
        sleep=sleep,
        clock=clock,
    )
    return AlertReport(
        evaluations=len(evaluations),
        firing=tuple(store.states()),
        queued=tuple(queued),
        delivery=delivery,
        broken_rules=tuple(sorted(broken)),
    )


def collect(
    settings: AlertsSettings,
    store: AlertStore,
    history: HistoryStore,
    *,
    now: datetime,
    deadlines: Sequence[JobDeadline] = (),
) -> tuple[list[Evaluation], set[str]]:
    """Every evaluation of this moment, and the rules that could not be evaluated."""
    evaluations: list[Evaluation] = []
    broken: set[str] = set()
    findings: dict[int, list[Finding]] = {}
    for rule in settings.rules:
        if not rule.enabled:
            continue
        try:
            runs = store.figure_runs(rule.metric, job=rule.job, runs=runs_needed(rule))
            pinned = None
            if rule.baseline is not None and rule.baseline.run is not None:
                pinned = store.figure_in_run(rule.metric, rule.baseline.run)
            for evaluation in evaluate_rule(rule, runs, pinned=pinned):
                if evaluation.firing and evaluation.run_id is not None and settings.top_findings:
                    if evaluation.run_id not in findings:
                        findings[evaluation.run_id] = history.findings(evaluation.run_id)
                    top = top_findings(
                        findings[evaluation.run_id], rule.finding_kinds, settings.top_findings
                    )
                    evaluation = replace(evaluation, findings=top)
                evaluations.append(evaluation)
        except Exception:  # one broken rule must not silence the others
            log.exception("alert rule %s could not be evaluated", rule.name)
            broken.add(rule.name)
    switch = settings.dead_mans_switch
    if switch.jobs:
        evaluations += overdue_jobs(deadlines, switch)
    if switch.ingestion:
        embedding = store.figure_runs(EMBEDDING_AGE)
        if embedding:
            source = store.figure_runs(SOURCE_CHANGE_AGE, job=embedding[0].job)
            evaluations += stalled_ingestion(
                embedding[0], source[0] if source else None, switch, now=now
            )
    return evaluations, broken


def top_findings(findings: Sequence[Finding], kinds: Sequence[str], limit: int) -> tuple[str, ...]:
    """The most severe findings (then those touching most chunks), one line each."""
    chosen = [f for f in findings if not kinds or f.kind in kinds]
    chosen.sort(key=lambda f: (-SEVERITY_RANK[f.severity], -len(f.chunk_ids)))
    return tuple(
        f"{f.source_id}: {f.message}" if f.source_id else f.message for f in chosen[:limit]
    )


def routes(settings: AlertsSettings, severity: Severity) -> list[str]:
    """The channels whose ``min_severity`` lets a notice of ``severity`` through."""
    return [
        name
        for name, channel in settings.channels.items()
        if SEVERITY_RANK[severity] >= SEVERITY_RANK[channel.min_severity]
    ]


def send_test(
    channels: ChannelSet,
    retry: RetrySettings,
    *,
    now: datetime,
    report: str | None = None,
    only: Sequence[str] = (),
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Attempt]:
    """Send a test notice through each channel (or those in ``only``), straight away and
    with the usual retries; nothing is stored."""
    results: dict[str, Attempt] = {}
    for name, channel in channels.channels.items():
        if only and name not in only:
            continue
        notification = Notification(
            id=uuid.uuid4().hex,
            kind=NotificationKind.TEST,
            fingerprint="test",
            rule="test",
            severity=Severity.INFO,
            summary=f"ragmon test message for channel '{name}': delivery works",
            description="Sent by `ragmon alerts test`. No alert is firing because of it.",
            at=now,
            labels={"channel": name},
            report=report,
        )
        results[name] = send_with_retry(
            channel, notification, retry, redact=channels.redactor, sleep=sleep, clock=clock
        )
    return results
