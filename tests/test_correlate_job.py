"""The `correlate` job: registered daily with its rule; nothing to analyse is a normal run;
the window it loads ends at the newest response."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from jobs import registry
from jobs.cli import cli
from jobs.correlate import analysis_window, load_window
from jobs.registry import load_config
from monitor.alerts.engine import collect
from monitor.correlation.settings import CorrelationSettings
from monitor.errors import ConfigError
from monitor.history import HistoryStore
from monitor.history.alerts import AlertStore
from tests.alerting import store_run
from tests.logfiles import ingest, jsonl, record, settings

WINDOW_DAYS = CorrelationSettings().window_days

NEWEST = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _config(tmp_path):
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\ncollection = "c"\n[sources]\nroot = "."\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
        '[logs]\npaths = ["logs/*.jsonl"]\n',
        encoding="utf-8",
    )
    return path


def _run(path):
    return CliRunner().invoke(
        cli, ["-c", str(path), "run", "correlate", "--json"], catch_exceptions=False
    )


def _log(tmp_path, records):
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "app.jsonl").write_text(jsonl(records))
    ingest(tmp_path, settings(paths=["logs/*.jsonl"]))


def test_registered_daily_after_grounding_with_its_rule():
    spec = registry.get("correlate")
    assert (spec.schedule, spec.signal) == ("15 4 * * *", True)
    (rule,) = spec.rules
    assert (rule.name, rule.metric, rule.op, rule.threshold, rule.threshold_key) == (
        "stale-drives-grounding",
        "correlation_stale_grounding_drop",
        ">=",
        0.1,
        "correlation.min_effect",
    )
    modules = registry.JOB_MODULES
    assert modules.index("jobs.correlate") == modules.index("jobs.grounding") + 1
    order = list(registry.all_jobs())
    assert order.index("correlate") > order.index("grounding")


def test_min_effect_is_the_rule_threshold_and_the_rule_fires_above_it(tmp_path):
    """[correlation] min_effect is an alias of the rule's threshold: a significant drop of
    0.25 fires at min_effect 0.2, not at 0.3; setting both keys is refused naming both."""
    path = _config(tmp_path)
    base = path.read_text(encoding="utf-8")
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    store_run(history, {"correlation_stale_grounding_drop": 0.25}, job="correlate", labels={})
    firing = {}
    for effect in (0.2, 0.3):
        path.write_text(base + f"[correlation]\nmin_effect = {effect}\n", encoding="utf-8")
        config = load_config(path)
        (rule,) = [r for r in config.alerts.rules if r.name == "stale-drives-grounding"]
        assert rule.threshold == effect
        evaluations, broken = collect(config.alerts, AlertStore(history), history, now=NEWEST)
        assert broken == set()
        firing[effect] = [e.firing for e in evaluations if e.rule == "stale-drives-grounding"]
    assert firing == {0.2: [True], 0.3: [False]}

    path.write_text(
        base + '[correlation]\nmin_effect = 0.2\n[[alerts.rules]]\nname = "stale-drives-grounding"'
        "\nthreshold = 0.4\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "correlation.min_effect" in str(raised.value)


def test_without_scored_responses_the_run_is_normal(tmp_path):
    path = _config(tmp_path)
    empty = _run(path)
    assert empty.exit_code == 0, empty.output
    body = json.loads(empty.output)
    assert body["result"]["status"] == "not_enough_data"
    assert "no response with a grounding score was ever ingested" in body["result"]["note"]

    # responses without any grounding score (the log has none, nothing scored them)
    _log(tmp_path, [record(i) for i in range(5)])
    unscored = _run(path)
    assert unscored.exit_code == 0, unscored.output
    result = json.loads(unscored.output)["result"]
    assert result["status"] == "not_enough_data"
    assert result["note"].startswith("no response with a grounding score between 2026-10-21")
    assert result["window"]["until"].startswith("2026-11-20T10:00:04")


def test_the_window_ends_at_the_newest_response(tmp_path):
    records = []
    for n, days in enumerate([0, 3, WINDOW_DAYS - 1, WINDOW_DAYS + 2]):
        records.append(
            record(n, timestamp=(NEWEST - timedelta(days=days)).isoformat(), grounding=0.5)
        )
    _log(tmp_path, records)
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    try:
        config = registry.load_config(_config(tmp_path))
        window = analysis_window(config, history)
        assert window is not None
        since, until = window
        assert until == NEWEST + timedelta(microseconds=1)
        assert until - since == timedelta(days=WINDOW_DAYS)
        frames = load_window(config, history, since=since, until=until)
        assert list(frames.responses["response_id"]) == ["r0", "r1", "r2"]
        assert frames.grounding_source == "log"
        assert set(frames.retrieved["rid"]) == set(frames.responses["rid"])
        assert len(frames.retrieved) == 6  # two chunks each
        # Reading the frames leaves the database usable by this process and others
        # (a second SQLite library in the process once deleted the WAL under the first).
        with history.engine.begin() as conn:
            assert conn.exec_driver_sql("UPDATE responses SET feedback = 'seen'").rowcount == 4
        other = sqlite3.connect(tmp_path / "history.db")
        assert (
            other.execute("SELECT count(*) FROM responses WHERE feedback = 'seen'").fetchone()[0]
            == 4
        )
        other.close()
    finally:
        history.engine.dispose()
