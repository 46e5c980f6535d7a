"""Cron arithmetic for `status`: the next slot of a job and whether it is overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def next_fire(expression: str, after: datetime) -> datetime | None:
    """The first slot of ``expression`` strictly after ``after`` (UTC)."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(expression, timezone=UTC)
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire


def overdue_since(
    expression: str, last_success: datetime | None, now: datetime, *, grace: timedelta
) -> datetime | None:
    """When the job became overdue, or None if it is not.

    A job is overdue when the first slot after its last successful run has passed by
    more than ``grace``. A job that never succeeded is not overdue; `status` says
    "never run" instead.
    """
    if last_success is None:
        return None
    slot = next_fire(expression, last_success)
    if slot is not None and now > slot + grace:
        return slot
    return None
