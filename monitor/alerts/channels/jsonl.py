"""`AlertChannel` to a JSON Lines file: one ``ragmon.alert/1`` object per notice."""

from __future__ import annotations

import json
import os
from pathlib import Path

from monitor.alerts.messages import notification_json
from monitor.errors import DeliveryError
from monitor.records import Notification


class JsonlChannel:
    """Appends each notice as one line to ``path`` (parent directories are created)."""

    def __init__(self, name: str, path: Path):
        self._name = name
        self.path = path

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> str:
        return f"JSONL file {self.path}"

    def send(self, notification: Notification) -> None:
        line = json.dumps(notification_json(notification), ensure_ascii=False) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of one line in append mode: concurrent writers never interleave.
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise DeliveryError(self._name, f"cannot append to {self.path}: {exc}") from None
