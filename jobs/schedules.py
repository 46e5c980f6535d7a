"""Cron expressions: parsing, the next slot of a job, and whether it is overdue.

One parser serves system cron (`ragmon crontab`) and APScheduler (`ragmon schedule`), so
the same text means the same times in both. Two differences between them are smoothed
here: APScheduler 3.x counts weekdays from Monday = 0 while cron counts from Sunday = 0
(numbers are translated to names), and cron runs a job when *either* a restricted day of
month or a restricted day of week matches while APScheduler needs both (such
expressions are refused rather than read two ways).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC_FIELD = re.compile(r"^[0-9*,/-]+$")
_NAMED_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$")
_DAY_ITEM = re.compile(r"^(\*|[0-7]|[a-z]{3})(?:-([0-7]|[a-z]{3}))?(?:/(\d+))?$")


@dataclass(frozen=True, kw_only=True, slots=True)
class CronExpression:
    """A parsed cron expression: five fields, or six with seconds first."""

    text: str
    second: str | None
    """None for a five-field expression (the job runs at second 0)."""
    minute: str
    hour: str
    day: str
    month: str
    day_of_week: str
    """In cron's numbering (Sunday = 0 or 7), as written."""

    @property
    def has_seconds(self) -> bool:
        return self.second is not None

    def trigger(self, timezone: tzinfo = UTC) -> CronTrigger:
        """The APScheduler 3.x trigger firing at exactly the times cron would."""
        from apscheduler.triggers.cron import CronTrigger

        return CronTrigger(
            second=self.second if self.second is not None else "0",
            minute=self.minute,
            hour=self.hour,
            day=self.day,
            month=self.month,
            day_of_week=_weekday_names(self.day_of_week),
            timezone=timezone,
        )


def parse_cron(text: str) -> CronExpression:
    """Parse ``text``: ``minute hour day month weekday``, or ``second`` before those.

    Raises `ValueError` with a message that says what is wrong.
    """
    fields = text.split()
    if len(fields) not in (5, 6):
        raise ValueError(
            f"expected five fields (minute hour day month weekday), or six with seconds "
            f"first, got {len(fields)}"
        )
    second = fields[0] if len(fields) == 6 else None
    minute, hour, day, month, day_of_week = fields[-5:]
    names = ("second", "minute", "hour", "day", "month", "day_of_week")[6 - len(fields) :]
    for name, value in zip(names, fields, strict=True):
        allowed = _NAMED_FIELD if name in ("month", "day_of_week") else _NUMERIC_FIELD
        if not allowed.match(value):
            raise ValueError(
                f"{name.replace('_', ' ')} {value!r}: cron takes numbers, '*', ',', '-' and '/'"
                + (" (and three-letter names)" if allowed is _NAMED_FIELD else "")
                + " only"
            )
    if not day.startswith("*") and not day_of_week.startswith("*"):
        raise ValueError(
            f"it restricts both the day of month ({day}) and the day of week "
            f"({day_of_week}); cron runs a job when either matches, so give only one of "
            "them and '*' for the other"
        )
    expression = CronExpression(
        text=" ".join(fields),
        second=second,
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=day_of_week,
    )
    expression.trigger()  # APScheduler checks every field's values and ranges
    return expression


def _weekday_names(field: str) -> str:
    """Cron's day-of-week field (0 or 7 = Sunday) as APScheduler day names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _DAY_ITEM.match(item)
        if match is None:
            raise ValueError(f"day of week {field!r}: cannot read {item!r}")
        start, end, step = match.groups()
        if start == "*":
            low, high = 0, 6
        else:
            low = _day_number(start, field)
            high = _day_number(end, field) if end else (6 if step else low)
            if end and high == 0:
                high = 7  # "5-0" and "5-7" both mean Friday to Sunday
            if high < low:
                raise ValueError(f"day of week {field!r}: range {item!r} runs backwards")
        days.update(d % 7 for d in range(low, high + 1, int(step or 1)))
    if len(days) == 7:
        return "*"
    return ",".join(_DAY_NAMES[d] for d in sorted(days))


def _day_number(token: str, field: str) -> int:
    if token.isdigit():
        return int(token)
    if token in _DAY_NAMES:
        return _DAY_NAMES.index(token)
    raise ValueError(f"day of week {field!r}: {token!r} is not a day (sun..sat or 0-7)")


def next_fire(expression: str, after: datetime) -> datetime | None:
    """The first slot of ``expression`` strictly after ``after`` (UTC)."""
    trigger = parse_cron(expression).trigger(UTC)
    fire: datetime | None = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    return fire


def previous_fire(expression: str, at: datetime) -> datetime | None:
    """The last slot of ``expression`` at or before ``at`` (UTC); None when there was none
    in the 400 days before."""
    trigger = parse_cron(expression).trigger(UTC)
    lookback = timedelta(seconds=1)
    fire: datetime | None = None
    while lookback <= timedelta(days=400):  # widen the window until it holds a slot
        fire = trigger.get_next_fire_time(None, at - lookback)
        if fire is not None and fire <= at:
            break
        lookback *= 2
    else:
        return None
    assert fire is not None
    while True:  # then walk forward to the last slot in it
        later: datetime | None = trigger.get_next_fire_time(None, fire + timedelta(microseconds=1))
        if later is None or later > at:
            return fire
        fire = later


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
