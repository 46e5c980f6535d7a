"""`ragmon alerts list | test | ack` from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from jobs.alerts import evaluate_alerts
from jobs.cli import cli
from jobs.registry import load_config
from monitor.alerts.figures import fingerprint
from monitor.history import HistoryStore
from monitor.records import Metric
from tests.alerting import Inbox, WebhookServer, outbox, read_jsonl, smtp_server, store_run

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
FP = fingerprint("stale-share", {"collection": "docs"})
ORPHANS = fingerprint("orphans", {"collection": "docs"})


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _config_file(tmp_path, channels: str = "") -> str:
    (tmp_path / "docs").mkdir(exist_ok=True)
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        '[alerts]\ncooldown = "6h"\n'
        '[alerts.retry]\nbudget = "1h"\ninitial_backoff = "0.01s"\nmax_attempts = 3\n'
        "[alerts.dead_mans_switch]\njobs = false\n" + channels,
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture()
def firing(tmp_path):
    """Two alerts firing since T0 (stale share and orphans), no channels."""
    path = _config_file(tmp_path)
    config = load_config(path)
    history = HistoryStore.open(config.history_url)
    store_run(history, {"stale_share": 0.25})
    evaluate_alerts(config, history, now=T0)
    store_run(
        history,
        [
            Metric(name="stale_share", value=0.3, labels={"collection": "docs"}),
            Metric(name="orphaned_chunks", value=3, labels={"collection": "docs"}),
        ],
    )
    evaluate_alerts(config, history, now=T0)
    return path, history


def test_list_shows_firing_alerts_as_aligned_columns(firing):
    path, _ = firing
    result = _invoke("-c", path, "alerts", "list")
    assert result.exit_code == 0
    assert result.output == (
        "FINGERPRINT       STATE   SEVERITY  RULE         SINCE                 SUMMARY\n"
        f"{ORPHANS}  firing  warning   orphans      2026-11-24 06:00 UTC  "
        "orphaned_chunks{collection=docs} = 3 (threshold > 0)\n"
        f"{FP}  firing  warning   stale-share  2026-11-24 06:00 UTC  "
        "stale_share{collection=docs} = 30% (threshold > 5%)\n"
    )


def test_ack_then_list_shows_who_and_why(firing):
    path, _ = firing
    result = _invoke("-c", path, "alerts", "ack", ORPHANS[:8], "--by", "ana", "--note", "tonight")
    assert result.exit_code == 0
    assert result.output == f"Acknowledged {ORPHANS} (orphans): no repeats until it resolves.\n"

    listing = _invoke("-c", path, "alerts", "list", "--json")
    alerts = {a["rule"]: a for a in json.loads(listing.output)["alerts"]}
    assert (alerts["orphans"]["acked_by"], alerts["orphans"]["ack_note"]) == ("ana", "tonight")
    assert alerts["stale-share"]["acked_by"] is None
    assert "acked by ana (tonight)" in _invoke("-c", path, "alerts", "list").output


def test_ack_of_an_unknown_fingerprint_exits_3_and_says_what_to_do(firing):
    path, _ = firing
    result = CliRunner().invoke(cli, ["-c", path, "alerts", "ack", "zzzz"])
    assert result.exit_code == 3
    assert result.output == (
        "Error: No firing alert has a fingerprint starting with 'zzzz'. "
        "See the firing alerts with `ragmon alerts list`.\n"
    )


def test_list_with_nothing_firing_and_pending_deliveries(tmp_path):
    path = _config_file(tmp_path)
    assert _invoke("-c", path, "alerts", "list").output == "No alerts firing.\n"
    assert _invoke("-c", path, "alerts", "list", "--all").output == "No alerts yet.\n"


def test_alerts_test_reaches_every_channel(tmp_path, monkeypatch):
    inbox = Inbox()
    controller = smtp_server(inbox)
    with WebhookServer() as server:
        monkeypatch.setenv("RAGMON_TEST_HOOK", server.url("/hook/SECRET"))
        monkeypatch.setenv("RAGMON_TEST_SLACK", server.url("/slack/SECRET"))
        path = _config_file(
            tmp_path,
            '[alerts.channels.console]\nkind = "console"\n'
            '[alerts.channels.file]\nkind = "jsonl"\npath = "alerts.jsonl"\n'
            '[alerts.channels.hook]\nkind = "webhook"\nurl_env = "RAGMON_TEST_HOOK"\n'
            '[alerts.channels.team]\nkind = "slack"\nurl_env = "RAGMON_TEST_SLACK"\n'
            '[alerts.channels.mail]\nkind = "email"\nhost = "127.0.0.1"\n'
            f'port = {controller.port}\nsecurity = "none"\nfrom = "ragmon@example.com"\n'
            'to = ["oncall@example.com"]\n',
        )
        try:
            result = _invoke("-c", path, "alerts", "test")
        finally:
            controller.stop()

    assert result.exit_code == 0
    assert result.stderr == (
        "ALERT TEST [info] test: ragmon test message for channel 'console': delivery works\n"
    )
    assert result.stdout.splitlines() == [
        "console: delivered (console (stderr))",
        f"file: delivered (JSONL file {tmp_path / 'alerts.jsonl'})",
        "hook: delivered (webhook (URL from $RAGMON_TEST_HOOK))",
        "team: delivered (slack (URL from $RAGMON_TEST_SLACK))",
        f"mail: delivered (email via 127.0.0.1:{controller.port} (none) to oncall@example.com)",
    ]
    (line,) = read_jsonl(tmp_path / "alerts.jsonl")
    assert (line["kind"], line["status"], line["labels"]) == ("test", "test", {"channel": "file"})
    assert sorted(r["path"] for r in server.accepted) == ["/hook/SECRET", "/slack/SECRET"]
    slack = next(r["json"] for r in server.accepted if r["path"] == "/slack/SECRET")
    assert slack["blocks"][0]["text"]["text"] == "TEST [info] test"
    (mail,) = inbox.messages
    assert b"Subject: [ragmon] TEST [info] test: ragmon test message for channel 'mail'" in (
        mail.original_content
    )
    assert read_jsonl(tmp_path / "alerts.jsonl")[0]["fingerprint"] == "test"
    history = HistoryStore.open(load_config(path).history_url)
    assert outbox(history) == []  # tests are never stored


def test_alerts_test_exits_3_when_a_channel_fails(tmp_path, monkeypatch):
    with WebhookServer() as server:
        server.default = "error"
        monkeypatch.setenv("RAGMON_TEST_HOOK", server.url("/hook/SECRET"))
        path = _config_file(
            tmp_path,
            '[alerts.channels.hook]\nkind = "webhook"\nurl_env = "RAGMON_TEST_HOOK"\n'
            '[alerts.channels.slack]\nkind = "slack"\nurl_env = "RAGMON_NOT_SET"\n',
        )
        result = CliRunner().invoke(cli, ["-c", path, "alerts", "test"])
    assert result.exit_code == 3
    tries = len(server.requests)
    assert tries == 3  # max_attempts: the retries end by their count, not the clock
    assert result.output == (
        f"hook: FAILED after {tries} attempt(s): HTTP 500 Internal Server Error "
        "(webhook (URL from $RAGMON_TEST_HOOK))\n"
        "slack: FAILED after 1 attempt(s): environment variable RAGMON_NOT_SET is not set "
        "(slack (unavailable: environment variable RAGMON_NOT_SET is not set))\n"
    )
    assert "SECRET" not in result.output


def test_alerts_test_without_channels_exits_2(tmp_path):
    path = _config_file(tmp_path)
    result = CliRunner().invoke(cli, ["-c", path, "alerts", "test"])
    assert result.exit_code == 2
    assert "No alert channels are configured. Add one as [alerts.channels.NAME]" in result.output

    unknown = CliRunner().invoke(
        cli,
        [
            "-c",
            _config_file(tmp_path, '[alerts.channels.c]\nkind = "console"\n'),
            "alerts",
            "test",
            "--channel",
            "pager",
        ],
    )
    assert unknown.exit_code == 2
    assert "No alert channel named 'pager'. Configured: c." in unknown.output


def test_every_alerts_command_has_an_example():
    group = cli.commands["alerts"]
    for name, command in group.commands.items():
        assert "Example" in (command.help or ""), name
