"""`AlertChannel` to a generic webhook: the ``ragmon.alert/1`` JSON object, POSTed."""

from __future__ import annotations

from monitor.alerts.channels.http import post_json, url_problem
from monitor.alerts.messages import notification_json
from monitor.errors import DeliveryError
from monitor.records import Notification


class WebhookChannel:
    """POSTs `notification_json` to a URL read from the environment."""

    kind = "webhook"

    def __init__(self, name: str, url: str, *, timeout: float, url_env: str):
        self._name = name
        self._url = url
        self._url_env = url_env
        self.timeout = timeout

    @property
    def name(self) -> str:
        return self._name

    def describe(self) -> str:
        return f"{self.kind} (URL from ${self._url_env})"

    def send(self, notification: Notification) -> None:
        problem = url_problem(self._url)
        if problem is not None:
            reason = f"${self._url_env} does not hold a usable webhook URL: {problem}"
            raise DeliveryError(self._name, reason, retryable=False)
        post_json(self._url, self.payload(notification), timeout=self.timeout, channel=self._name)

    def payload(self, notification: Notification) -> dict[str, object]:
        return notification_json(notification)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._name!r}, url=${self._url_env})"
