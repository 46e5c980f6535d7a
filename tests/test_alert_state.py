"""The alert state machine through real evaluations: one notice per firing, cooldown,
resolved notices, acks, severity routing, overlapping evaluations. JSONL as the channel.
The tests on the ``world`` fixture run on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from jobs.alerts import evaluate_alerts
from monitor.errors import AlertNotFoundError
from monitor.history import HistoryStore
from monitor.history.alerts import AlertStore
from monitor.records import AlertStatus, Metric
from tests.alerting import alert_config, outbox, read_jsonl, store_run

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture()
def world(tmp_path, history_url):
    config = alert_config(
        tmp_path,
        history_url=history_url,
        cooldown="6h",
        dead_mans_switch={"jobs": False},
        channels={"file": {"kind": "jsonl", "path": "alerts/alerts.jsonl"}},
    )
    history = HistoryStore.open(config.history_url)
    yield config, history, tmp_path / "alerts" / "alerts.jsonl"
    history.engine.dispose()


def _kinds(path):
    return [(n["kind"], n["rule"]) for n in read_jsonl(path)]


def test_one_notice_per_firing_across_repeated_runs_then_resolved(world):
    config, history, jsonl = world
    store_run(history, {"stale_share": 0.3})
    for minutes in (0, 5, 10, 15, 60):
        evaluate_alerts(config, history, now=T0 + timedelta(minutes=minutes))
    assert _kinds(jsonl) == [("firing", "stale-share")]

    store_run(history, {"stale_share": 0.01})
    evaluate_alerts(config, history, now=T0 + 2 * HOUR)
    evaluate_alerts(config, history, now=T0 + 3 * HOUR)

    firing, resolved = read_jsonl(jsonl)
    assert resolved["kind"] == "resolved" and resolved["status"] == "resolved"
    assert resolved["fingerprint"] == firing["fingerprint"]
    assert resolved["summary"] == "stale_share{collection=docs} = 1% (threshold > 5%)"
    assert resolved["since"] == firing["since"] == T0.isoformat()
    assert [(r["kind"], r["status"]) for r in outbox(history)] == [
        ("firing", "delivered"),
        ("resolved", "delivered"),
    ]
    (state,) = AlertStore(history).states(include_resolved=True)
    assert (state.status, state.resolved_at, state.notifications) == (
        AlertStatus.RESOLVED,
        T0 + 2 * HOUR,
        2,
    )

    store_run(history, {"stale_share": 0.4})
    evaluate_alerts(config, history, now=T0 + 4 * HOUR)
    assert _kinds(jsonl)[-1] == ("firing", "stale-share")
    assert read_jsonl(jsonl)[-1]["since"] == (T0 + 4 * HOUR).isoformat()


def test_a_firing_alert_repeats_only_after_the_cooldown(world):
    config, history, jsonl = world
    store_run(history, {"stale_share": 0.3})
    times = [T0, T0 + HOUR, T0 + 5 * HOUR, T0 + 6 * HOUR, T0 + 7 * HOUR, T0 + 12 * HOUR]
    for now in times:
        evaluate_alerts(config, history, now=now)
    notices = read_jsonl(jsonl)
    assert [(n["kind"], n["at"]) for n in notices] == [
        ("firing", T0.isoformat()),
        ("repeat", (T0 + 6 * HOUR).isoformat()),
        ("repeat", (T0 + 12 * HOUR).isoformat()),
    ]
    assert {n["since"] for n in notices} == {T0.isoformat()}


def test_a_rule_can_have_its_own_cooldown(tmp_path, history_url):
    config = alert_config(
        tmp_path,
        history_url=history_url,
        dead_mans_switch={"jobs": False},
        rules=[{"name": "stale-share", "cooldown": "30m"}],
        channels={"file": {"kind": "jsonl", "path": "a.jsonl"}},
    )
    history = HistoryStore.open(config.history_url)
    store_run(history, {"stale_share": 0.3})
    for minutes in (0, 20, 30, 45, 60):
        evaluate_alerts(config, history, now=T0 + timedelta(minutes=minutes))
    assert [n["kind"] for n in read_jsonl(tmp_path / "a.jsonl")] == ["firing", "repeat", "repeat"]


def test_ack_silences_repeats_until_the_alert_resolves(world):
    config, history, jsonl = world
    store_run(history, {"stale_share": 0.3})
    evaluate_alerts(config, history, now=T0)
    (state,) = AlertStore(history).states()

    acked = AlertStore(history).ack(
        state.fingerprint[:6], by="ana", note="re-index tonight", now=T0 + HOUR
    )
    assert (acked.acked_by, acked.ack_note, acked.acked_at) == (
        "ana",
        "re-index tonight",
        T0 + HOUR,
    )
    for hours in (7, 13, 30):
        evaluate_alerts(config, history, now=T0 + hours * HOUR)
    assert _kinds(jsonl) == [("firing", "stale-share")]

    store_run(history, {"stale_share": 0.0})
    evaluate_alerts(config, history, now=T0 + 31 * HOUR)
    assert _kinds(jsonl)[-1] == ("resolved", "stale-share")  # the resolve is still sent
    (after,) = AlertStore(history).states(include_resolved=True)
    assert after.acked_at is None

    store_run(history, {"stale_share": 0.5})
    for hours in (32, 38):
        evaluate_alerts(config, history, now=T0 + hours * HOUR)
    assert [k for k, _ in _kinds(jsonl)] == ["firing", "resolved", "firing", "repeat"]


def test_ack_needs_a_unique_prefix_of_a_firing_alert(tmp_path, history_url):
    config = alert_config(
        tmp_path,
        history_url=history_url,
        default_rules=False,
        dead_mans_switch={"jobs": False},
        rules=[{"name": "errors", "metric": "errors", "threshold": 0}],
    )
    history = HistoryStore.open(config.history_url)
    store = AlertStore(history)
    with pytest.raises(AlertNotFoundError, match="No firing alert has a fingerprint starting"):
        store.ack("abc", by="ana", note=None, now=T0)
    # 17 series: two of them share the first hex digit of their fingerprint
    store_run(
        history, [Metric(name="errors", value=1, labels={"shard": str(i)}) for i in range(17)]
    )
    evaluate_alerts(config, history, now=T0)
    firsts = Counter(s.fingerprint[0] for s in store.states())
    shared = next(c for c, n in firsts.items() if n > 1)
    with pytest.raises(AlertNotFoundError, match="matches several alerts"):
        store.ack(shared, by="ana", note=None, now=T0)
    unique = store.states()[0].fingerprint
    assert store.ack(unique, by="ana", note=None, now=T0).fingerprint == unique


def test_channels_get_only_what_reaches_their_minimum_severity(tmp_path, history_url):
    config = alert_config(
        tmp_path,
        history_url=history_url,
        dead_mans_switch={"jobs": False},
        channels={
            "all": {"kind": "jsonl", "path": "all.jsonl"},
            "pager": {"kind": "jsonl", "path": "pager.jsonl", "min_severity": "critical"},
        },
    )
    history = HistoryStore.open(config.history_url)
    store_run(history, {"stale_share": 0.3})
    store_run(history, {"model_mismatch": 1}, job="embeddings")
    evaluate_alerts(config, history, now=T0)
    assert sorted(n["rule"] for n in read_jsonl(tmp_path / "all.jsonl")) == [
        "model-mismatch",
        "stale-share",
    ]
    assert [(n["rule"], n["severity"]) for n in read_jsonl(tmp_path / "pager.jsonl")] == [
        ("model-mismatch", "critical")
    ]


def test_overlapping_evaluations_queue_and_send_each_notice_once(world):
    config, history, jsonl = world
    store_run(history, {"stale_share": 0.3})
    stores = [HistoryStore.open(config.history_url) for _ in range(6)]
    start = threading.Barrier(len(stores))
    errors = []

    def evaluate(store):
        try:
            start.wait()
            evaluate_alerts(config, store, now=T0)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=evaluate, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores:
        store.engine.dispose()

    assert errors == []
    assert _kinds(jsonl) == [("firing", "stale-share")]
    assert outbox(history) == [
        {
            "channel": "file",
            "kind": "firing",
            "status": "delivered",
            "attempts": 1,
            "last_error": None,
        }
    ]


def test_alerts_off_evaluates_nothing(tmp_path, history_url):
    config = alert_config(
        tmp_path,
        history_url=history_url,
        enabled=False,
        channels={"file": {"kind": "jsonl", "path": "a.jsonl"}},
    )
    history = HistoryStore.open(config.history_url)
    store_run(history, {"stale_share": 0.3})
    assert evaluate_alerts(config, history, now=T0) is None
    assert AlertStore(history).states(include_resolved=True) == []


def test_the_alerts_migration_upgrades_a_0003_database_and_reverts(history_url):
    from alembic import command
    from alembic.config import Config as AlembicConfig
    from sqlalchemy import inspect, text

    from monitor.history.store import MIGRATIONS

    url = history_url
    old = HistoryStore.open(url, migrate=False)
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    run_id = store_run(old, {"stale_share": 0.3})
    old.engine.dispose()

    store = HistoryStore.open(url)
    assert store.migrate() >= "0004"  # the head: later migrations come after it
    tables = set(inspect(store.engine).get_table_names())
    assert {"alert_states", "alert_outbox", "alert_guard", "job_locks"} <= tables
    with store.engine.connect() as conn:
        assert conn.execute(text("select id, evaluations from alert_guard")).all() == [(1, 0)]
    assert store.metrics(run_id)[0].name == "stale_share"

    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert "alert_states" not in inspect(store.engine).get_table_names()
    store.migrate()
    assert "alert_outbox" in inspect(store.engine).get_table_names()
