"""`AlertChannel` stand-in for a channel that cannot be made (its secret is not set)."""

from __future__ import annotations

from monitor.errors import DeliveryError
from monitor.records import Notification


class UnavailableChannel:
    """Fails every delivery with the reason, so notices wait in the outbox until fixed."""

    def __init__(self, name: str, kind: str, reason: str):
        self._name = name
        self._kind = kind
        self._reason = reason

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> str:
        return f"{self._kind} (unavailable: {self._reason})"

    def send(self, notification: Notification) -> None:
        raise DeliveryError(self._name, self._reason, retryable=False)
