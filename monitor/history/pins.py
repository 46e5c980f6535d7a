"""Pinned baselines: a job's reference run, chosen with `ragmon baseline set JOB`.

Stored in the memo table under ``baseline:JOB`` (no migration needed). Memo entries
unused for `MEMO_RETENTION` are dropped, so a job that reads its pin hands `pin_memo`
back with its result, which keeps the pin as long as the job runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete

from monitor.history.models import MemoRow
from monitor.history.store import HistoryStore, utcnow

_PREFIX = "baseline:"


@dataclass(frozen=True, kw_only=True, slots=True)
class Pin:
    job: str
    run_id: int
    pinned_at: datetime


def pin_run(history: HistoryStore, job: str, run_id: int) -> Pin:
    """Make ``run_id`` the reference of ``job`` (replacing any earlier pin)."""
    pin = Pin(job=job, run_id=run_id, pinned_at=utcnow())
    key = _PREFIX + job
    with history.session() as session, session.begin():
        session.execute(delete(MemoRow).where(MemoRow.key == key))
        session.add(MemoRow(key=key, value=_value(pin), used_at=pin.pinned_at))
    return pin


def pinned(history: HistoryStore, job: str) -> Pin | None:
    """The run pinned as ``job``'s reference, if any."""
    value = history.memo_get([_PREFIX + job]).get(_PREFIX + job)
    if not isinstance(value, dict) or not isinstance(value.get("run_id"), int):
        return None
    return Pin(
        job=job, run_id=value["run_id"], pinned_at=datetime.fromisoformat(value["pinned_at"])
    )


def unpin(history: HistoryStore, job: str) -> bool:
    """Drop ``job``'s pin; False when there was none."""
    with history.session() as session, session.begin():
        found = session.execute(delete(MemoRow).where(MemoRow.key == _PREFIX + job))
    return bool(getattr(found, "rowcount", 0))


def pin_memo(pin: Pin) -> dict[str, Any]:
    """The memo entry that keeps ``pin`` alive when a run hands it back."""
    return {_PREFIX + pin.job: _value(pin)}


def _value(pin: Pin) -> dict[str, Any]:
    return {"run_id": pin.run_id, "pinned_at": pin.pinned_at.isoformat()}
