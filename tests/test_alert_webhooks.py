"""Webhook and Slack channels against a real HTTP server on localhost: exact payloads,
retries, pending and later delivery, timeouts, refused connections, redaction."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest

from jobs import registry
from jobs.alerts import evaluate_alerts
from jobs.freshness import RULES
from jobs.runner import execute, standard_hooks
from monitor.alerts.figures import fingerprint
from monitor.history import HistoryStore
from tests.alerting import (
    VirtualClock,
    WebhookServer,
    alert_config,
    every_row,
    outbox,
    stale_finding,
    store_run,
)
from tests.conftest import free_port

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
HOOK_PATH = "/hooks/generic/7f3c9a2e-SECRET-TOKEN-4b1d"
SLACK_PATH = "/services/T0000/B0000/XXXXSLACKSECRETXXXX"
REPORT = "https://reports.example.com/ragmon/index.html"


@pytest.fixture()
def server():
    with WebhookServer() as running:
        yield running


def _config(tmp_path, monkeypatch, server, *, slack=True, timeout="0.2s", extra=None):
    monkeypatch.setenv("RAGMON_TEST_HOOK", server.url(HOOK_PATH))
    channels = {"hook": {"kind": "webhook", "url_env": "RAGMON_TEST_HOOK", "timeout": timeout}}
    channels |= extra or {}
    if slack:
        monkeypatch.setenv("RAGMON_TEST_SLACK", server.url(SLACK_PATH))
        channels["team"] = {"kind": "slack", "url_env": "RAGMON_TEST_SLACK", "timeout": timeout}
    config = alert_config(
        tmp_path,
        dead_mans_switch={"jobs": False},
        report_url=REPORT,
        channels=channels,
    )
    return config, HistoryStore.open(config.history_url)


def _by_path(requests, path):
    return [r["json"] for r in requests if r["path"] == path]


def test_generic_json_and_slack_blocks_are_exactly_as_documented(tmp_path, monkeypatch, server):
    config, history = _config(tmp_path, monkeypatch, server)
    run_id = store_run(
        history,
        {"stale_share": 0.3},
        findings=(stale_finding("a.md", 2), stale_finding("b.md", 7)),
    )

    evaluate_alerts(config, history, now=T0)

    fp = fingerprint("stale-share", {"collection": "docs"})
    (generic,) = _by_path(server.accepted, HOOK_PATH)
    assert re.fullmatch(r"[0-9a-f]{32}", generic["id"])
    assert generic == {
        "schema": "ragmon.alert/1",
        "id": generic["id"],
        "kind": "firing",
        "status": "firing",
        "fingerprint": fp,
        "rule": "stale-share",
        "severity": "warning",
        "summary": "stale_share{collection=docs} = 30% (threshold > 5%)",
        "description": next(r for r in RULES if r.name == "stale-share").description,
        "labels": {"collection": "docs"},
        "metric": "stale_share",
        "value": 0.3,
        "threshold": 0.05,
        "op": ">",
        "since": "2026-11-24T06:00:00+00:00",
        "at": "2026-11-24T06:00:00+00:00",
        "job": "freshness",
        "run_id": run_id,
        "findings": [
            "b.md: 7 of 7 chunks stale (source hash changed)",
            "a.md: 2 of 2 chunks stale (source hash changed)",
        ],
        "report": REPORT,
    }
    assert {r["content_type"] for r in server.accepted} == {"application/json"}

    (slack,) = _by_path(server.accepted, SLACK_PATH)
    assert slack == {
        "text": "FIRING [warning] stale-share: stale_share{collection=docs} = 30% "
        "(threshold &gt; 5%)",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "FIRING [warning] stale-share"},
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*stale_share{collection=docs} = 30% (threshold &gt; 5%)*\n"
                    "Chunks whose source document changed after they were embedded. "
                    "Re-embed them (ragmon fix-queue lists which).",
                },
            },
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": "*Top findings*\n"
                    "• b.md: 7 of 7 chunks stale (source hash changed)\n"
                    "• a.md: 2 of 2 chunks stale (source hash changed)",
                },
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Report:* <{REPORT}>"}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"collection=docs · since 2026-11-24 06:00 UTC · run {run_id} "
                        f"(freshness) · fingerprint {fp}",
                    }
                ],
            },
        ],
    }

    store_run(history, {"stale_share": 0.0})
    evaluate_alerts(config, history, now=T0 + timedelta(hours=1))
    resolved = _by_path(server.accepted, SLACK_PATH)[-1]
    assert resolved["blocks"][0]["text"]["text"] == "RESOLVED [warning] stale-share"
    assert [b["type"] for b in resolved["blocks"]] == ["header", "section", "section", "context"]
    assert _by_path(server.accepted, HOOK_PATH)[-1]["status"] == "resolved"


def test_delivered_once_however_many_runs_follow(tmp_path, monkeypatch, server):
    config, history = _config(tmp_path, monkeypatch, server)
    store_run(history, {"stale_share": 0.3})
    for minutes in range(0, 50, 10):
        evaluate_alerts(config, history, now=T0 + timedelta(minutes=minutes))
    assert len(server.requests) == 2  # one per channel
    assert [r["status"] for r in outbox(history)] == ["delivered", "delivered"]


def test_http_500_is_retried_then_pending_then_delivered_on_the_next_run(
    tmp_path, monkeypatch, server
):
    config, history = _config(tmp_path, monkeypatch, server, slack=False)
    store_run(history, {"stale_share": 0.3})
    server.default = "error"

    outcome = execute(registry.get("alerts"), config, history, hooks=standard_hooks())

    assert outcome.error is None and outcome.status == "ok"
    tries = len(server.requests)
    assert tries == 3  # retried with backoff up to max_attempts (FAST_RETRY)
    assert outbox(history) == [
        {
            "channel": "hook",
            "kind": "firing",
            "status": "pending",
            "attempts": tries,
            "last_error": "HTTP 500 Internal Server Error",
        }
    ]
    assert outcome.result.summary == (
        "1 alert(s) firing (1 warning); 1 notification(s) queued, 0 delivered; "
        "1 pending (hook: HTTP 500 Internal Server Error)"
    )

    server.default = "ok"
    report = evaluate_alerts(config, history, now=T0 + timedelta(minutes=5))
    assert report.delivery.delivered == 1 and report.delivery.pending == 0
    assert len(server.accepted) == 1
    assert server.accepted[0]["json"]["kind"] == "firing"
    assert outbox(history)[0]["status"] == "delivered"
    assert outbox(history)[0]["attempts"] == tries + 1

    evaluate_alerts(config, history, now=T0 + timedelta(minutes=10))
    assert len(server.accepted) == 1  # never sent again once delivered


def test_a_receiver_that_hangs_times_out_and_retries_stop_at_the_budget(
    tmp_path, monkeypatch, server
):
    config, history = _config(tmp_path, monkeypatch, server, slack=False)
    config = _with_retry(config, budget="0.5s", initial="0.05s", most="0.2s", attempts=10)
    store_run(history, {"stale_share": 0.3})
    server.default = "hang"
    clock = VirtualClock()  # the budget is spent by the backoffs alone

    report = evaluate_alerts(config, history, now=T0, clock=clock.monotonic, sleep=clock.sleep)

    # Backoffs 0.05, 0.1, 0.2 fit in the 0.5 s budget; the next (0.2) would end past it.
    assert clock.slept == [0.05, 0.1, 0.2]
    assert len(server.requests) == 4
    assert report.delivery.failures == {"hook": "timed out after 0.2 s"}
    (row,) = outbox(history)
    assert (row["status"], row["last_error"], row["attempts"]) == (
        "pending",
        "timed out after 0.2 s",
        4,
    )

    server.default = "ok"
    evaluate_alerts(config, history, now=T0 + timedelta(minutes=5))
    assert [r["json"]["kind"] for r in server.accepted] == ["firing"]


def test_the_attempt_in_flight_counts_against_the_budget():
    """Pure retry logic: attempts that each take their 0.2 s timeout (on a virtual clock)
    use the budget up too, so a 0.5 s budget allows two, not four."""
    from monitor.alerts.delivery import send_with_retry
    from monitor.alerts.redact import Redactor
    from monitor.alerts.settings import RetrySettings
    from monitor.errors import DeliveryError

    clock = VirtualClock()

    class SlowChannel:
        name = "slow"

        def send(self, notification):
            clock.advance(0.2)  # the attempt waited for its timeout
            raise DeliveryError("slow", "timed out after 0.2 s", retryable=True)

        def describe(self):
            return "a channel that always times out"

    retry = RetrySettings.model_validate(
        {"budget": "0.5s", "initial_backoff": "0.05s", "max_backoff": "0.2s", "max_attempts": 10}
    )
    attempt = send_with_retry(
        SlowChannel(),
        _notification(),
        retry,
        redact=Redactor(()),
        sleep=clock.sleep,
        clock=clock.monotonic,
    )
    # 0.2 (attempt) + 0.05 (backoff) + 0.2 (attempt) = 0.45; another backoff of 0.1 would
    # end at 0.55, past the budget: stop.
    assert (attempt.delivered, attempt.attempts) == (False, 2)
    assert clock.slept == [0.05]
    assert clock.now <= 0.5 + 0.2  # the budget plus at most the attempt in flight


def _notification():
    from monitor.records import Notification, NotificationKind, Severity

    return Notification(
        id="n1",
        kind=NotificationKind.TEST,
        fingerprint="test",
        rule="test",
        severity=Severity.INFO,
        summary="s",
        description="d",
        at=T0,
        labels={},
        report=None,
    )


def _with_retry(config, *, budget, initial, most, attempts):
    retry = {
        "budget": budget,
        "initial_backoff": initial,
        "max_backoff": most,
        "max_attempts": attempts,
    }
    alerts = config.alerts.model_copy(
        update={"retry": type(config.alerts.retry).model_validate(retry)}
    )
    return config.model_copy(update={"alerts": alerts})


def test_later_notices_wait_behind_a_failed_one_and_keep_their_order(tmp_path, monkeypatch, server):
    config, history = _config(tmp_path, monkeypatch, server, slack=False)
    store_run(history, {"stale_share": 0.3})
    server.default = "error"
    evaluate_alerts(config, history, now=T0)
    store_run(history, {"stale_share": 0.0})
    evaluate_alerts(config, history, now=T0 + timedelta(minutes=5))
    assert [(r["kind"], r["status"]) for r in outbox(history)] == [
        ("firing", "pending"),
        ("resolved", "pending"),
    ]

    server.default = "ok"
    evaluate_alerts(config, history, now=T0 + timedelta(minutes=10))
    assert [r["json"]["kind"] for r in server.accepted] == ["firing", "resolved"]


def test_a_refused_connection_and_a_4xx_leave_the_notice_pending(tmp_path, monkeypatch, server):
    monkeypatch.setenv("RAGMON_TEST_DOWN", f"http://127.0.0.1:{free_port()}{HOOK_PATH}")
    config, history = _config(
        tmp_path,
        monkeypatch,
        server,
        slack=False,
        extra={"down": {"kind": "webhook", "url_env": "RAGMON_TEST_DOWN", "timeout": "0.2s"}},
    )
    store_run(history, {"stale_share": 0.3})
    server.script.append("bad")

    report = evaluate_alerts(config, history, now=T0)

    assert report.delivery.failures["hook"] == "HTTP 400 Bad Request"
    assert report.delivery.failures["down"].startswith("connection failed: ")
    assert "Connection refused" in report.delivery.failures["down"]
    assert len(server.requests) == 1  # a 4xx is not retried within the run ...
    evaluate_alerts(config, history, now=T0 + timedelta(minutes=5))
    assert len(server.accepted) == 1  # ... but on the next one
    assert {r["channel"]: r["status"] for r in outbox(history)} == {
        "hook": "delivered",
        "down": "pending",
    }


def test_webhook_urls_never_reach_the_logs_or_the_history_store(
    tmp_path, monkeypatch, server, caplog
):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RAGMON_TEST_DOWN", f"http://127.0.0.1:{free_port()}{SLACK_PATH}-down")
    config, history = _config(tmp_path, monkeypatch, server)
    store_run(history, {"stale_share": 0.3})
    for behaviour in ("error", "hang", "bad", "ok"):
        server.default = behaviour
        store_run(history, {"stale_share": 0.0 if behaviour in ("hang", "ok") else 0.3})
        evaluate_alerts(config, history, now=datetime.now(UTC))
    execute(registry.get("alerts"), config, history, hooks=standard_hooks())

    assert "delivery failed after" in caplog.text  # failures were logged ...
    for secret in (HOOK_PATH, SLACK_PATH, "SECRET-TOKEN", "SLACKSECRET"):
        assert secret not in caplog.text  # ... without the URL
        assert secret not in every_row(history)
