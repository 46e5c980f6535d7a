"""The alert state machine, as pure functions: from stored states and evaluations to changes.

    (none | resolved) --firing--> firing        notify "firing"
    firing --still firing, not acked, cooldown passed--> firing   notify "repeat"
    firing --not firing, or its series/rule is gone--> resolved   notify "resolved"

An acknowledgement silences repeats until the alert resolves; resolving clears it. The
caller applies the changes and queues their notifications in one transaction, so a
transition, and its message, happens once however many runs overlap.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from monitor.records import (
    AlertState,
    AlertStatus,
    Evaluation,
    Notification,
    NotificationKind,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """A new state to store, and the notice it calls for (if any)."""

    state: AlertState
    notify: NotificationKind | None
    evaluation: Evaluation | None
    """What the state was decided from; None when the alert's series or rule is gone."""


def plan(
    states: Mapping[str, AlertState],
    evaluations: Sequence[Evaluation],
    *,
    now: datetime,
    cooldown: timedelta,
    keep_rules: Collection[str] = (),
) -> list[Change]:
    """The changes this evaluation makes. Firing alerts with no evaluation resolve, except
    those of ``keep_rules`` (rules that could not be evaluated this time)."""
    changes: list[Change] = []
    seen: set[str] = set()
    for evaluation in evaluations:
        seen.add(evaluation.fingerprint)
        change = _step(states.get(evaluation.fingerprint), evaluation, now, cooldown)
        if change is not None:
            changes.append(change)
    for fp, state in sorted(states.items()):
        if fp in seen or state.status is not AlertStatus.FIRING or state.rule in keep_rules:
            continue
        changes.append(
            Change(
                state=_resolved(state, now, state.summary),
                notify=NotificationKind.RESOLVED,
                evaluation=None,
            )
        )
    return changes


def _step(
    state: AlertState | None, evaluation: Evaluation, now: datetime, cooldown: timedelta
) -> Change | None:
    firing_now = state is not None and state.status is AlertStatus.FIRING
    if not evaluation.firing:
        if state is None or not firing_now:
            return None
        return Change(
            state=_resolved(state, now, evaluation.summary),
            notify=NotificationKind.RESOLVED,
            evaluation=evaluation,
        )
    if state is None or not firing_now:
        fresh = AlertState(
            fingerprint=evaluation.fingerprint,
            rule=evaluation.rule,
            labels=dict(evaluation.labels),
            severity=evaluation.severity,
            status=AlertStatus.FIRING,
            summary=evaluation.summary,
            value=evaluation.value,
            since=now,
            last_seen_at=now,
            last_notified_at=now,
            notifications=(state.notifications if state else 0) + 1,
        )
        return Change(state=fresh, notify=NotificationKind.FIRING, evaluation=evaluation)
    wait = evaluation.cooldown if evaluation.cooldown is not None else cooldown
    due = state.acked_at is None and (
        state.last_notified_at is None or now - state.last_notified_at >= wait
    )
    updated = replace(
        state,
        severity=evaluation.severity,
        summary=evaluation.summary,
        value=evaluation.value,
        last_seen_at=now,
        last_notified_at=now if due else state.last_notified_at,
        notifications=state.notifications + int(due),
    )
    return Change(
        state=updated, notify=NotificationKind.REPEAT if due else None, evaluation=evaluation
    )


def _resolved(state: AlertState, now: datetime, summary: str) -> AlertState:
    return replace(
        state,
        status=AlertStatus.RESOLVED,
        summary=summary,
        last_seen_at=now,
        last_notified_at=now,
        resolved_at=now,
        acked_at=None,
        acked_by=None,
        ack_note=None,
        notifications=state.notifications + 1,
    )


def notification_for(change: Change, *, at: datetime, report: str | None) -> Notification:
    """The notice a change calls for. Only call it when ``change.notify`` is set."""
    assert change.notify is not None
    state, evaluation = change.state, change.evaluation
    gone = evaluation is None
    return Notification(
        id=uuid.uuid4().hex,
        kind=change.notify,
        fingerprint=state.fingerprint,
        rule=state.rule,
        severity=state.severity,
        summary=state.summary + (" (no longer reported)" if gone else ""),
        at=at,
        labels=dict(state.labels),
        description=evaluation.description if evaluation else "",
        metric=evaluation.metric if evaluation else None,
        value=evaluation.value if evaluation else None,
        threshold=evaluation.threshold if evaluation else None,
        op=evaluation.op if evaluation else None,
        since=state.since,
        job=evaluation.job if evaluation else None,
        run_id=evaluation.run_id if evaluation else None,
        findings=evaluation.findings if evaluation and evaluation.firing else (),
        report=report,
    )
