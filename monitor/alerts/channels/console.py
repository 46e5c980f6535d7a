"""`AlertChannel` to a terminal stream (stdout or stderr): a few lines per notice."""

from __future__ import annotations

from typing import TextIO

from monitor.alerts.messages import console_text
from monitor.errors import DeliveryError
from monitor.records import Notification


class ConsoleChannel:
    """Writes each notice to ``stream`` (cron mails whatever a job prints)."""

    def __init__(self, name: str, stream: TextIO, *, label: str = "stderr"):
        self._name = name
        self._stream = stream
        self._label = label

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> str:
        return f"console ({self._label})"

    def send(self, notification: Notification) -> None:
        try:
            self._stream.write(console_text(notification) + "\n")
            self._stream.flush()
        except (OSError, ValueError) as exc:
            raise DeliveryError(self._name, f"cannot write: {exc}", retryable=False) from None
