"""The email channel against a real SMTP server (aiosmtpd) on localhost: plain, STARTTLS and
implicit TLS with a throw-away CA, AUTH with a password from the environment, errors."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import UTC, datetime, timedelta

import pytest

from jobs.alerts import evaluate_alerts
from monitor.alerts.figures import fingerprint
from monitor.history import HistoryStore
from tests.alerting import (
    Inbox,
    alert_config,
    every_row,
    outbox,
    smtp_server,
    stale_finding,
    store_run,
    tls_pair,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"  # the implicit-TLS server
)

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
PASSWORD = "s3cret-Pa55word!"
TO = ["oncall@example.com", "data-team@example.com"]


def _config(tmp_path, controller, *, security="none", auth=True, ca_file=None, **extra):
    channel = {
        "kind": "email",
        "host": "127.0.0.1",
        "port": controller.port,
        "security": security,
        "from": "ragmon@example.com",
        "to": TO,
        "timeout": "2s",
        **extra,
    }
    if auth:
        channel |= {"username": "ragmon", "password_env": "RAGMON_TEST_SMTP_PASSWORD"}
    if ca_file is not None:
        channel["ca_file"] = str(ca_file)
    config = alert_config(
        tmp_path,
        dead_mans_switch={"jobs": False},
        report_url="reports/index.html",
        channels={"mail": channel},
    )
    return config, HistoryStore.open(config.history_url)


@pytest.fixture()
def inbox():
    return Inbox()


@pytest.fixture()
def tls(tmp_path):
    return tls_pair(tmp_path)


def _message(envelope):
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def test_plain_smtp_sends_the_documented_subject_and_body(tmp_path, inbox):
    controller = smtp_server(inbox)
    try:
        config, history = _config(tmp_path, controller, auth=False)
        run_id = store_run(history, {"stale_share": 0.3}, findings=(stale_finding("a.md", 2),))
        evaluate_alerts(config, history, now=T0)
    finally:
        controller.stop()

    (envelope,) = inbox.messages
    assert (envelope.mail_from, envelope.rcpt_tos) == ("ragmon@example.com", TO)
    message = _message(envelope)
    fp = fingerprint("stale-share", {"collection": "docs"})
    notice_id = outbox_payload_id(history)
    assert message["Subject"] == (
        "[ragmon] FIRING [warning] stale-share: stale_share{collection=docs} = 30% (threshold > 5%)"
    )
    assert message["From"] == "ragmon@example.com"
    assert message["To"] == "oncall@example.com, data-team@example.com"
    assert message["Message-ID"] == f"<{notice_id}@ragmon>"
    assert message.get_content().replace("\r\n", "\n") == (
        "FIRING [warning] stale-share\n"
        "\n"
        "stale_share{collection=docs} = 30% (threshold > 5%)\n"
        "Chunks whose source document changed after they were embedded. Re-embed them "
        "(ragmon fix-queue lists which).\n"
        "\n"
        "Labels: collection=docs\n"
        "Since: 2026-11-24 06:00 UTC\n"
        f"Run: {run_id} (freshness)\n"
        "\n"
        "Top findings:\n"
        "- a.md: 2 of 2 chunks stale (source hash changed)\n"
        "\n"
        f"Report: {tmp_path / 'reports' / 'index.html'}\n"
        "\n"
        f"Fingerprint: {fp}\n"
        "Sent by ragmon at 2026-11-24 06:00 UTC.\n"
    )


def outbox_payload_id(history):
    from sqlalchemy import text

    with history.engine.connect() as conn:
        return conn.execute(text("select notification_id from alert_outbox")).scalar_one()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_auth_with_the_password_from_the_environment(
    tmp_path, inbox, tls, monkeypatch, security
):
    context, ca_file = tls
    monkeypatch.setenv("RAGMON_TEST_SMTP_PASSWORD", PASSWORD)
    controller = smtp_server(inbox, mode=security, tls=context, login=("ragmon", PASSWORD))
    try:
        config, history = _config(tmp_path, controller, security=security, ca_file=ca_file)
        store_run(history, {"stale_share": 0.3})
        report = evaluate_alerts(config, history, now=T0)
    finally:
        controller.stop()
    assert report.delivery.delivered == 1
    (envelope,) = inbox.messages
    assert _message(envelope)["Subject"].startswith("[ragmon] FIRING [warning] stale-share")


def test_an_untrusted_certificate_is_refused_and_kept_pending(tmp_path, inbox, tls, monkeypatch):
    context, _ = tls
    monkeypatch.setenv("RAGMON_TEST_SMTP_PASSWORD", PASSWORD)
    controller = smtp_server(inbox, mode="ssl", tls=context, login=("ragmon", PASSWORD))
    try:
        config, history = _config(tmp_path, controller, security="ssl")  # system CAs only
        store_run(history, {"stale_share": 0.3})
        report = evaluate_alerts(config, history, now=T0)
    finally:
        controller.stop()
    assert report.delivery.failures["mail"].startswith("server certificate not trusted")
    assert inbox.messages == []
    assert outbox(history)[0]["status"] == "pending"


def test_smtp_errors_retry_keep_pending_and_deliver_later(tmp_path, inbox, monkeypatch):
    monkeypatch.setenv("RAGMON_TEST_SMTP_PASSWORD", PASSWORD)
    controller = smtp_server(inbox, login=("ragmon", PASSWORD))
    try:
        config, history = _config(tmp_path, controller)
        store_run(history, {"stale_share": 0.3})
        inbox.script.extend(["busy"])  # 451: temporary, retried within the run
        first = evaluate_alerts(config, history, now=T0)
        assert first.delivery.delivered == 1
        assert outbox(history)[0]["attempts"] == 2

        store_run(history, {"stale_share": 0.0})
        inbox.default = "reject"  # 554: permanent for this run, pending for the next
        second = evaluate_alerts(config, history, now=T0 + timedelta(hours=1))
        assert second.delivery.failures == {"mail": "SMTP 554 5.6.0 Message rejected"}
        assert outbox(history)[1] == {
            "channel": "mail",
            "kind": "resolved",
            "status": "pending",
            "attempts": 1,
            "last_error": "SMTP 554 5.6.0 Message rejected",
        }

        inbox.default = "ok"
        evaluate_alerts(config, history, now=T0 + timedelta(hours=2))
        evaluate_alerts(config, history, now=T0 + timedelta(hours=3))
    finally:
        controller.stop()
    assert [_message(e)["Subject"].split(":")[0] for e in inbox.messages] == [
        "[ragmon] FIRING [warning] stale-share",
        "[ragmon] RESOLVED [warning] stale-share",
    ]


def test_a_wrong_password_is_reported_and_no_password_is_logged_or_stored(
    tmp_path, inbox, tls, monkeypatch, caplog
):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the test server's own log
    context, ca_file = tls
    controller = smtp_server(inbox, mode="starttls", tls=context, login=("ragmon", PASSWORD))
    try:
        monkeypatch.setenv("RAGMON_TEST_SMTP_PASSWORD", "wrong-Pa55word!")
        config, history = _config(tmp_path, controller, security="starttls", ca_file=ca_file)
        store_run(history, {"stale_share": 0.3})
        report = evaluate_alerts(config, history, now=T0)
        assert report.delivery.failures["mail"].startswith("SMTP 535 ")

        monkeypatch.setenv("RAGMON_TEST_SMTP_PASSWORD", PASSWORD)
        evaluate_alerts(config, history, now=T0 + timedelta(minutes=5))
    finally:
        controller.stop()
    assert len(inbox.messages) == 1
    for secret in (PASSWORD, "wrong-Pa55word!"):
        assert secret not in caplog.text
        assert secret not in every_row(history)


def test_a_missing_password_variable_keeps_notices_pending_and_says_which(tmp_path, inbox):
    controller = smtp_server(inbox)
    try:
        config, history = _config(tmp_path, controller)
        store_run(history, {"stale_share": 0.3})
        report = evaluate_alerts(config, history, now=T0)
    finally:
        controller.stop()
    assert report.delivery.failures == {
        "mail": "environment variable RAGMON_TEST_SMTP_PASSWORD is not set"
    }
    assert outbox(history)[0]["status"] == "pending"
