"""`AlertChannel` to a Slack-compatible incoming webhook: Block Kit blocks."""

from __future__ import annotations

from typing import Any

from monitor.alerts.channels.webhook import WebhookChannel
from monitor.alerts.messages import slack_payload
from monitor.records import Notification


class SlackChannel(WebhookChannel):
    """POSTs `slack_payload` (header, headline figure, top findings, report, context)."""

    kind = "slack"

    def payload(self, notification: Notification) -> dict[str, Any]:
        return slack_payload(notification)
