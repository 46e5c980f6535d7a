"""Each channel's format of a notification: JSON (webhook, JSONL, outbox), Slack, email, console.

The JSON form is also what the outbox stores, so a notice queued by one ragmon version
and retried later is rebuilt with `notification_from_json`.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from monitor.alerts.figures import format_when
from monitor.records import Notification, NotificationKind, Severity

SCHEMA = "ragmon.alert/1"
_TITLE = {
    NotificationKind.FIRING: "FIRING",
    NotificationKind.REPEAT: "STILL FIRING",
    NotificationKind.RESOLVED: "RESOLVED",
    NotificationKind.TEST: "TEST",
}


def headline(n: Notification) -> str:
    """``FIRING [warning] stale-share``."""
    return f"{_TITLE[n.kind]} [{n.severity}] {n.rule}"


def status_of(n: Notification) -> str:
    if n.kind is NotificationKind.TEST:
        return "test"
    return "resolved" if n.kind is NotificationKind.RESOLVED else "firing"


def notification_json(n: Notification) -> dict[str, Any]:
    """The generic webhook body and the JSONL line (schema ``ragmon.alert/1``)."""
    return {
        "schema": SCHEMA,
        "id": n.id,
        "kind": n.kind.value,
        "status": status_of(n),
        "fingerprint": n.fingerprint,
        "rule": n.rule,
        "severity": n.severity.value,
        "summary": n.summary,
        "description": n.description,
        "labels": dict(sorted(n.labels.items())),
        "metric": n.metric,
        "value": n.value,
        "threshold": n.threshold,
        "op": n.op,
        "since": _iso(n.since),
        "at": _iso(n.at),
        "job": n.job,
        "run_id": n.run_id,
        "findings": list(n.findings),
        "report": n.report,
    }


def notification_from_json(data: dict[str, Any]) -> Notification:
    """The inverse of `notification_json`."""
    return Notification(
        id=data["id"],
        kind=NotificationKind(data["kind"]),
        fingerprint=data["fingerprint"],
        rule=data["rule"],
        severity=Severity(data["severity"]),
        summary=data["summary"],
        at=datetime.fromisoformat(data["at"]),
        labels=dict(data.get("labels") or {}),
        description=data.get("description") or "",
        metric=data.get("metric"),
        value=data.get("value"),
        threshold=data.get("threshold"),
        op=data.get("op"),
        since=datetime.fromisoformat(data["since"]) if data.get("since") else None,
        job=data.get("job"),
        run_id=data.get("run_id"),
        findings=tuple(data.get("findings") or ()),
        report=data.get("report"),
    )


def slack_payload(n: Notification) -> dict[str, Any]:
    """A Slack incoming-webhook body: header, headline figure, top findings, report, context."""
    title = headline(n)
    main = f"*{_esc(n.summary)}*" + (f"\n{_esc(n.description)}" if n.description else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(title, 150)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(main, 3000)}},
    ]
    if n.findings:
        lines = "\n".join(f"• {_esc(f)}" for f in n.findings)
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(f"*Top findings*\n{lines}", 3000)},
            }
        )
    if n.report:
        link = f"<{n.report}>" if n.report.startswith(("http://", "https://")) else f"`{n.report}`"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"*Report:* {link}"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _esc(_context(n))}]})
    return {"text": _esc(f"{title}: {n.summary}"), "blocks": blocks}


def email_subject(n: Notification) -> str:
    """``[ragmon] FIRING [warning] stale-share: stale_share{...} = 22% (threshold > 5%)``."""
    return _clip(f"[ragmon] {headline(n)}: {n.summary}".replace("\n", " "), 250)


def email_body(n: Notification) -> str:
    """The plain-text body of the email."""
    lines = [headline(n), "", n.summary]
    if n.description:
        lines.append(n.description)
    lines.append("")
    if n.labels:
        lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())))
    if n.since is not None:
        lines.append(f"Since: {format_when(n.since)}")
    if n.run_id is not None:
        lines.append(f"Run: {n.run_id} ({n.job})")
    if n.findings:
        lines += ["", "Top findings:", *(f"- {f}" for f in n.findings)]
    if n.report:
        lines += ["", f"Report: {n.report}"]
    lines += ["", f"Fingerprint: {n.fingerprint}", f"Sent by ragmon at {format_when(n.at)}."]
    return "\n".join(lines) + "\n"


def email_message(n: Notification, *, sender: str, to: list[str]) -> EmailMessage:
    """The whole email. Its Message-ID is the notice's id, the same on every retry."""
    message = EmailMessage()
    message["Subject"] = email_subject(n)
    message["From"] = sender
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(n.at)
    message["Message-ID"] = f"<{n.id}@ragmon>"
    message.set_content(email_body(n))
    return message


def console_text(n: Notification) -> str:
    """A few lines for a terminal or a cron mail."""
    lines = [f"ALERT {headline(n)}: {n.summary}"]
    lines += [f"  - {f}" for f in n.findings]
    if n.report:
        lines.append(f"  report: {n.report}")
    return "\n".join(lines)


def _context(n: Notification) -> str:
    parts = []
    if n.labels:
        parts.append(", ".join(f"{k}={v}" for k, v in sorted(n.labels.items())))
    if n.since is not None and n.kind is not NotificationKind.TEST:
        parts.append(f"since {format_when(n.since)}")
    if n.run_id is not None:
        parts.append(f"run {n.run_id} ({n.job})")
    parts.append(f"fingerprint {n.fingerprint}")
    return " · ".join(parts)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _esc(text: str) -> str:
    """Slack's three control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
