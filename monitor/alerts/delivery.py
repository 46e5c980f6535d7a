"""Emptying the outbox: each pending notice to its channel, retried with backoff in a budget.

A delivery that still fails when the budget is spent stays pending in the history store
(with its redacted error) and the channel's later notices wait behind it, in order; the
next run (a job's, or the ``alerts`` job every few minutes) tries again. A notice is
marked delivered as soon as its channel accepted it and is never sent again after that.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from monitor.alerts.redact import Redactor
from monitor.alerts.settings import RetrySettings
from monitor.errors import DeliveryError
from monitor.history.alerts import AlertStore
from monitor.ports import AlertChannel
from monitor.records import Notification, OutboxItem

log = logging.getLogger(__name__)

CLAIM_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, kw_only=True, slots=True)
class Attempt:
    """How sending one notice went."""

    delivered: bool
    attempts: int
    error: str | None = None


@dataclass(kw_only=True)
class DeliveryReport:
    delivered: int = 0
    dropped: int = 0
    pending: int = 0
    """Notices still waiting after this pass, on every channel."""
    failures: dict[str, str] = field(default_factory=dict)
    """Channel -> the (redacted) error that stopped it this pass."""


def send_with_retry(
    channel: AlertChannel,
    notification: Notification,
    retry: RetrySettings,
    *,
    redact: Redactor,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Attempt:
    """Send once, then retry retryable failures with exponential backoff until
    ``retry.max_attempts`` or ``retry.budget`` (the attempt in flight may add its timeout).

    The budget is measured on ``clock`` (seconds) and the backoff waits with ``sleep``:
    a test passes a virtual clock that only ``sleep`` moves, so how many attempts fit in
    the budget does not depend on how busy the machine is.
    """
    from tenacity import (
        RetryCallState,
        Retrying,
        retry_if_exception,
        wait_exponential,
    )

    attempts = 0
    budget = retry.budget.total_seconds()
    started = clock()

    def stop(state: RetryCallState) -> bool:
        # Out of attempts, or a backoff that would end past the budget (tenacity's
        # stop_before_delay, but on our clock rather than its own).
        if state.attempt_number >= retry.max_attempts:
            return True
        return clock() - started + (state.upcoming_sleep or 0.0) >= budget

    def once() -> None:
        nonlocal attempts
        attempts += 1
        try:
            channel.send(notification)
        except DeliveryError:
            raise
        except Exception as exc:  # an adapter bug must not stop the other channels
            reason = redact(f"{type(exc).__name__}: {exc}")
            raise DeliveryError(channel.name, reason, retryable=False) from None

    def before_sleep(state: RetryCallState) -> None:
        error: Any = state.outcome.exception() if state.outcome else None
        log.info(
            "alert channel %s: attempt %d failed (%s); retrying in %.2f s",
            channel.name,
            state.attempt_number,
            redact(getattr(error, "reason", str(error))),
            state.upcoming_sleep,
        )

    initial = retry.initial_backoff.total_seconds()
    retrying = Retrying(
        stop=stop,
        wait=wait_exponential(
            multiplier=initial, min=initial, max=retry.max_backoff.total_seconds()
        ),
        retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retryable),
        sleep=sleep,
        reraise=True,
        before_sleep=before_sleep,
    )
    try:
        retrying(once)
    except DeliveryError as exc:
        return Attempt(delivered=False, attempts=attempts, error=redact(exc.reason))
    return Attempt(delivered=True, attempts=attempts)


def deliver_pending(
    store: AlertStore,
    channels: Mapping[str, AlertChannel],
    retry: RetrySettings,
    *,
    now: datetime,
    redact: Redactor,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> DeliveryReport:
    """Claim every pending notice and send it; see the module docstring for what fails.

    ``sleep`` and ``clock`` pace the retries (see `send_with_retry`)."""
    owner = uuid.uuid4().hex
    lease = (retry.budget + timedelta(minutes=1)) * max(1, len(channels)) + CLAIM_MARGIN
    report = DeliveryReport()
    queues: dict[str, list[OutboxItem]] = {}
    for item in store.claim(owner=owner, now=now, lease=lease):
        queues.setdefault(item.channel, []).append(item)
    for name, queue in queues.items():
        channel = channels.get(name)
        if channel is None:
            for item in queue:
                store.dropped(
                    item.id, owner=owner, now=now, reason=f"channel {name!r} is not configured"
                )
            report.dropped += len(queue)
            log.warning(
                "dropped %d alert notification(s) for channel %r, which is no longer configured",
                len(queue),
                name,
            )
            continue
        for index, item in enumerate(queue):
            attempt = send_with_retry(
                channel, item.notification, retry, redact=redact, sleep=sleep, clock=clock
            )
            if attempt.delivered:
                store.delivered(item.id, owner=owner, now=now, attempts=attempt.attempts)
                report.delivered += 1
                log.info(
                    "alert %s %s sent to %s",
                    item.notification.kind,
                    item.notification.rule,
                    name,
                )
                continue
            error = attempt.error or "unknown error"
            store.failed(item.id, owner=owner, now=now, attempts=attempt.attempts, error=error)
            rest = queue[index + 1 :]
            store.release((i.id for i in rest), owner=owner)
            report.failures[name] = error
            log.warning(
                "alert channel %s (%s): delivery failed after %d attempt(s): %s; "
                "%d notification(s) kept pending for the next run",
                name,
                redact(channel.describe()),
                attempt.attempts,
                error,
                1 + len(rest),
            )
            break
    report.pending = sum(c.pending for c in store.pending())
    return report
