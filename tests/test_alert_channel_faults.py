"""One bad channel never silences the others: malformed or unusable webhook URLs, permanent
errors that are not retried, and an SMTP server that echoes the password in its error.

Real HTTP and SMTP servers on localhost; the bad URLs come from the environment, as in
production, so they are checked when a message is sent, and fail only their channel.
"""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from jobs.alerts import evaluate_alerts
from jobs.cli import cli
from monitor.alerts.channels import build_channels
from monitor.alerts.engine import send_test
from monitor.alerts.settings import RetrySettings
from monitor.history import HistoryStore
from tests.alerting import (
    Inbox,
    WebhookServer,
    alert_config,
    every_row,
    outbox,
    read_jsonl,
    store_run,
)

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
GOOD_PATH = "/hooks/good-SECRET-PATH-0001"
PASSWORD = "pw-Echoed-S3cret!"


@pytest.fixture()
def server():
    with WebhookServer() as running:
        yield running


def _bad_urls(port: int) -> dict[str, str]:
    """URLs a user might put in the environment, each unusable for its own reason."""
    return {
        "ipv6": "http://[::1/x",
        "scheme": f"htp://127.0.0.1:{port}/hook",
        "ftp": f"ftp://127.0.0.1:{port}/hook",
        "credentials": f"http://ops:{PASSWORD}@127.0.0.1:{port}/hook",
        "port": "http://127.0.0.1:notaport/hook",
        "nohost": "http:///hook",
    }


def _channels(monkeypatch, server, bad_url):
    monkeypatch.setenv("RAGMON_BAD_HOOK", bad_url)
    monkeypatch.setenv("RAGMON_GOOD_HOOK", server.url(GOOD_PATH))
    return {
        "bad": {"kind": "webhook", "url_env": "RAGMON_BAD_HOOK", "timeout": "1s"},
        "good": {"kind": "webhook", "url_env": "RAGMON_GOOD_HOOK", "timeout": "1s"},
        "log": {"kind": "jsonl", "path": "alerts.jsonl"},
    }


@pytest.mark.parametrize("case", list(_bad_urls(1)))
def test_a_bad_webhook_url_fails_only_its_channel_and_is_not_retried(
    case, tmp_path, monkeypatch, server, caplog
):
    caplog.set_level(logging.DEBUG)
    bad_url = _bad_urls(server.port)[case]
    config = alert_config(
        tmp_path,
        dead_mans_switch={"jobs": False},
        channels=_channels(monkeypatch, server, bad_url),
        retry={"budget": "5s", "initial_backoff": "0.01s", "max_attempts": 5},
    )
    history = HistoryStore.open(config.history_url)
    store_run(history, {"stale_share": 0.3})

    report = evaluate_alerts(config, history, now=T0)

    assert report is not None and [a.rule for a in report.firing] == ["stale-share"]
    assert [r["rule"] for r in read_jsonl(tmp_path / "alerts.jsonl")] == ["stale-share"]
    assert [r["path"] for r in server.accepted] == [GOOD_PATH]  # the bad URL reached nothing
    rows = {r["channel"]: r for r in outbox(history)}
    assert rows["good"]["status"] == "delivered"
    assert rows["bad"]["status"] == "pending"
    assert rows["bad"]["attempts"] == 1  # permanent: not retried within the run
    assert "$RAGMON_BAD_HOOK" in rows["bad"]["last_error"]
    for secret in (bad_url, PASSWORD, "/hook"):
        assert secret not in rows["bad"]["last_error"]
        assert secret not in caplog.text
    assert PASSWORD not in every_row(history)


def test_send_time_errors_of_a_channel_are_permanent(monkeypatch, server, tmp_path):
    config = alert_config(
        tmp_path, channels={"hook": {"kind": "webhook", "url_env": "RAGMON_HOOK"}}
    )
    retry = RetrySettings(budget="5s", initial_backoff="0.01s", max_attempts=5)
    for case, url in _bad_urls(server.port).items():
        monkeypatch.setenv("RAGMON_HOOK", url)
        channels = build_channels(config.alerts.channels, base_dir=tmp_path)
        attempt = send_test(channels, retry, now=T0)["hook"]
        assert not attempt.delivered, case
        assert attempt.attempts == 1, case
        assert attempt.error is not None and url not in attempt.error, case
        assert PASSWORD not in attempt.error, case
    assert server.requests == []


def test_unknown_url_type_from_urllib_is_not_retried(server):
    """The HTTP client's own refusal (``unknown url type``) is a permanent error too."""
    from monitor.alerts.channels.http import post_json
    from monitor.errors import DeliveryError

    with pytest.raises(DeliveryError) as failed:
        post_json(f"htp://127.0.0.1:{server.port}/x", {}, timeout=1, channel="c")
    assert failed.value.retryable is False


def _cli_config(tmp_path, channels: str) -> str:
    (tmp_path / "docs").mkdir(exist_ok=True)
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        '[alerts.retry]\nbudget = "2s"\ninitial_backoff = "0.01s"\n'
        "[alerts.dead_mans_switch]\njobs = false\n" + channels,
        encoding="utf-8",
    )
    return str(path)


CLI_CHANNELS = (
    '[alerts.channels.bad]\nkind = "webhook"\nurl_env = "RAGMON_BAD_HOOK"\n'
    '[alerts.channels.good]\nkind = "webhook"\nurl_env = "RAGMON_GOOD_HOOK"\n'
    '[alerts.channels.log]\nkind = "jsonl"\npath = "alerts.jsonl"\n'
)


def test_the_alerts_job_succeeds_and_other_channels_deliver(tmp_path, monkeypatch, server):
    monkeypatch.setenv("RAGMON_BAD_HOOK", "http://[::1/x")
    monkeypatch.setenv("RAGMON_GOOD_HOOK", server.url(GOOD_PATH))
    path = _cli_config(tmp_path, CLI_CHANNELS)
    history = HistoryStore.open(f"sqlite:///{tmp_path / '.ragmon' / 'history.db'}")
    store_run(history, {"stale_share": 0.3})

    for _ in range(2):  # and again: no run is stuck on the bad channel
        result = CliRunner().invoke(cli, ["-c", path, "run", "alerts"])
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    assert [r["path"] for r in server.accepted] == [GOOD_PATH]
    assert len(read_jsonl(tmp_path / "alerts.jsonl")) == 1


def test_alerts_test_says_per_channel_what_failed_without_a_traceback(
    tmp_path, monkeypatch, server
):
    monkeypatch.setenv("RAGMON_BAD_HOOK", "http://[::1/x")
    monkeypatch.setenv("RAGMON_GOOD_HOOK", server.url(GOOD_PATH))
    path = _cli_config(tmp_path, CLI_CHANNELS)

    result = CliRunner().invoke(cli, ["-c", path, "alerts", "test"])

    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 3
    lines = result.output.splitlines()
    assert (
        "bad: FAILED after 1 attempt(s): $RAGMON_BAD_HOOK does not hold a usable webhook URL: "
        "not a valid URL (Invalid IPv6 URL) (webhook (URL from $RAGMON_BAD_HOOK))"
    ) in lines
    assert "good: delivered (webhook (URL from $RAGMON_GOOD_HOOK))" in lines
    assert f"log: delivered (JSONL file {tmp_path / 'alerts.jsonl'})" in lines
    assert "Traceback" not in result.output and "[::1/x" not in result.output


@pytest.mark.parametrize(
    ("key", "line"),
    [
        ("alerts.report_url", 'report_url = "http://[::1/x"'),
        ("alerts.report_url", 'report_url = "https:///index.html"'),
        ("alerts.report_url", 'report_url = "https://reports.example.com:99999/"'),
    ],
)
def test_a_malformed_url_in_the_file_is_refused_at_load(tmp_path, key, line):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text(f'[store]\npath = "c"\n[sources]\nroot = "docs"\n[alerts]\n{line}\n')
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert f"{path}, line 6: key '{key}': " in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "value", ["https://reports.example.com/ragmon/", "file:///srv/report/index.html", "r/i.html"]
)
def test_a_report_url_or_path_is_accepted(tmp_path, value):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "c"\n[sources]\nroot = "docs"\n[alerts]\nreport_url = "{value}"\n'
    )
    assert CliRunner().invoke(cli, ["-c", str(path), "status"]).exit_code == 0


def test_an_email_host_that_is_a_url_is_refused_at_load(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "c"\n[sources]\nroot = "docs"\n'
        '[alerts.channels.mail]\nkind = "email"\nhost = "smtp://mail.example.com"\n'
        'from = "r@example.com"\nto = ["a@example.com"]\n'
    )
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert (
        "key 'alerts.channels': channel 'mail': key 'host': expected a host name or IP address, "
        "got 'smtp://mail.example.com'"
    ) in result.output


# -- SMTP AUTH that echoes the password -----------------------------------------


def _echoing_smtp(inbox):
    """aiosmtpd whose authenticator rejects every login with a message that repeats the
    password, in clear and as the base64 the client sent."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.conftest import free_port

    def authenticate(server, session, envelope, mechanism, data):
        plain = base64.b64encode(b"\0ragmon\0" + data.password).decode()
        alone = base64.b64encode(data.password).decode()
        return AuthResult(
            success=False,
            handled=False,
            message=(
                f"535 5.7.8 {mechanism} failed for {data.login.decode()} with password "
                f"{data.password.decode()} (you sent {plain} / {alone})"
            ),
        )

    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    return controller


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_an_smtp_server_echoing_the_password_never_puts_it_in_output(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RAGMON_SMTP_PASSWORD", PASSWORD)
    inbox = Inbox()
    controller = _echoing_smtp(inbox)
    forms = {
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(b"\0ragmon\0" + PASSWORD.encode()).decode(),
    }
    try:
        path = _cli_config(
            tmp_path,
            '[alerts.channels.mail]\nkind = "email"\nhost = "127.0.0.1"\n'
            f'port = {controller.port}\nsecurity = "none"\nusername = "ragmon"\n'
            'password_env = "RAGMON_SMTP_PASSWORD"\nfrom = "ragmon@example.com"\n'
            'to = ["oncall@example.com"]\ntimeout = "2s"\n',
        )
        tested = CliRunner().invoke(cli, ["-c", path, "alerts", "test"])
        history = HistoryStore.open(f"sqlite:///{tmp_path / '.ragmon' / 'history.db'}")
        store_run(history, {"stale_share": 0.3})
        ran = CliRunner().invoke(cli, ["-c", path, "run", "alerts"])
        listed = CliRunner().invoke(cli, ["-c", path, "alerts", "list"])
    finally:
        controller.stop()

    assert tested.exit_code == 3 and ran.exit_code == 0 and listed.exit_code == 0
    assert "mail: FAILED after 1 attempt(s): SMTP 535 5.7.8" in tested.output
    (row,) = outbox(history)
    assert row["status"] == "pending" and row["last_error"].startswith("SMTP 535 5.7.8")
    assert inbox.messages == []
    for form in forms:
        for text in (tested.output, ran.output, listed.output, caplog.text, every_row(history)):
            assert form not in text
