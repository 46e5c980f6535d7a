"""Field values shared by the log adapters: times, scores, ids. Each failure names its key."""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

import orjson

from monitor.errors import LogLineError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def loads(line: bytes) -> Any:
    """Parse one JSON line. orjson first; Python's reader for lines orjson refuses, because
    apps that log with ``json.dumps`` write ``NaN`` and ``Infinity`` (the score check then
    names them)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise LogLineError("invalid_json", str(exc)) from None


def parse_time(value: Any, key: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text or epoch seconds, ms, µs or ns.

    The epoch unit is told by magnitude (apps log all four): below 1e11 seconds, below
    1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
    """
    if isinstance(value, str):
        text = value.strip()
        if text[:1].isdigit() and text.isdigit():
            return _from_number(int(text), key)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise LogLineError(
                "bad_time", f"{key}: {value[:40]!r} is not an ISO 8601 time"
            ) from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LogLineError("wrong_type", f"{key}: expected a time, got {type(value).__name__}")
    return _from_number(value, key)


def _from_number(value: float, key: str) -> datetime:
    if not math.isfinite(value) or value < 0:
        raise LogLineError("bad_time", f"{key}: {value!r} is not a time")
    magnitude = abs(value)
    if magnitude < 1e11:
        seconds = float(value)
    elif magnitude < 1e14:
        seconds = value / 1e3
    elif magnitude < 1e17:
        seconds = value / 1e6
    else:
        seconds = value / 1e9
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise LogLineError("bad_time", f"{key}: {value!r} is out of range") from None


def parse_score(value: Any, key: str, bounds: tuple[float, float] | None = None) -> float | None:
    """A finite float (numbers given as text too), within ``bounds`` when given."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise LogLineError("wrong_type", f"{key}: expected a number, got a boolean")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise LogLineError(
                "wrong_type", f"{key}: expected a number, got {value[:40]!r}"
            ) from None
    elif not isinstance(value, int | float):
        raise LogLineError("wrong_type", f"{key}: expected a number, got {type(value).__name__}")
    score = float(value)
    if not math.isfinite(score):
        raise LogLineError("bad_score", f"{key}: {value!r} is not a finite number")
    if bounds is not None and not bounds[0] <= score <= bounds[1]:
        raise LogLineError("bad_score", f"{key}: {score} is outside [{bounds[0]}, {bounds[1]}]")
    return score


def text_or_none(value: Any, key: str) -> str | None:
    """Text as is; numbers as their text; anything else is the wrong type."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise LogLineError("wrong_type", f"{key}: expected text, got {type(value).__name__}")


def hex_id(value: Any) -> str:
    """A trace or span id as lowercase hex: the collector writes hex, protobuf's JSON base64."""
    if not isinstance(value, str) or not value:
        return ""
    if len(value) in (16, 32):
        # Hex; base64 of 8 or 16 bytes is 12 or 24 characters, so the lengths never clash.
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (ValueError, TypeError):
        return value


def epoch_us(moment: datetime) -> int:
    """Microseconds since 1970 (how the history stores response times)."""
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
