"""The dead man's switch: overdue jobs and a stalled ingest pipeline; the `alerts` job."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from jobs import registry
from jobs.alerts import evaluate_alerts
from jobs.cli import cli
from monitor.history import HistoryStore
from monitor.history.models import RunRow
from tests.alerting import alert_config, read_jsonl, store_run

T0 = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)
DAY = 86400.0


@pytest.fixture()
def world(tmp_path):
    config = alert_config(tmp_path, channels={"file": {"kind": "jsonl", "path": "alerts.jsonl"}})
    history = HistoryStore.open(config.history_url)
    yield config, history, tmp_path / "alerts.jsonl"
    history.engine.dispose()


def _ran(history, job, at, *, ok=True):
    """A run of ``job`` that started and finished at ``at``."""
    if ok:
        run_id = store_run(history, {}, job=job, started_at=at)
    else:
        run_id = history.start_run(job, started_at=at)
        history.fail_run(run_id, "Chroma unreachable")
    with history.session() as session, session.begin():
        session.execute(update(RunRow).where(RunRow.id == run_id).values(finished_at=at))
    return run_id


def test_an_overdue_job_raises_its_own_alert_and_resolves_when_it_succeeds(world):
    config, history, jsonl = world
    _ran(history, "freshness", T0)  # hourly: the next slot is 07:00, overdue after 07:10

    evaluate_alerts(config, history, now=T0 + 69 * MIN)
    assert read_jsonl(jsonl) == []
    evaluate_alerts(config, history, now=T0 + 71 * MIN)
    evaluate_alerts(config, history, now=T0 + 90 * MIN)

    (firing,) = read_jsonl(jsonl)
    assert (firing["rule"], firing["severity"], firing["labels"]) == (
        "job-overdue",
        "critical",
        {"job": "freshness"},
    )
    assert firing["summary"] == (
        "job freshness has not completed successfully since 2026-11-24 06:00 UTC; its slot at "
        "2026-11-24 07:00 UTC passed (schedule '0 * * * *')"
    )

    _ran(history, "freshness", T0 + 95 * MIN)
    evaluate_alerts(config, history, now=T0 + 96 * MIN)
    assert [(n["kind"], n["rule"]) for n in read_jsonl(jsonl)] == [
        ("firing", "job-overdue"),
        ("resolved", "job-overdue"),
    ]


def test_a_job_failing_since_its_first_run_is_overdue_too(world):
    config, history, jsonl = world
    _ran(history, "freshness", T0, ok=False)
    _ran(history, "freshness", T0 + 60 * MIN, ok=False)
    evaluate_alerts(config, history, now=T0 + 75 * MIN)
    (firing,) = read_jsonl(jsonl)
    assert firing["summary"] == (
        "job freshness has not completed successfully since its first run (never completed "
        "successfully); its slot at 2026-11-24 07:00 UTC passed (schedule '0 * * * *')"
    )


def test_jobs_that_never_ran_are_disabled_or_unwatched_raise_nothing(tmp_path):
    channels = {"file": {"kind": "jsonl", "path": "alerts.jsonl"}}
    never = alert_config(tmp_path, channels=channels)
    history = HistoryStore.open(never.history_url)
    evaluate_alerts(never, history, now=T0 + timedelta(days=30))
    _ran(history, "freshness", T0)
    for config in (
        alert_config(tmp_path, channels=channels, dead_mans_switch={"jobs": False}),
        alert_config(tmp_path, channels=channels, jobs={"freshness": {"enabled": False}}),
    ):
        evaluate_alerts(config, history, now=T0 + 3 * 60 * MIN)
    assert read_jsonl(tmp_path / "alerts.jsonl") == []


def _ingest_figures(history, *, embedded_days, changed_days, at=T0):
    store_run(
        history,
        {
            "last_embedding_age_seconds": embedded_days * DAY,
            "last_source_change_age_seconds": changed_days * DAY,
        },
        started_at=at,
    )


def test_an_ingest_pipeline_that_stopped_while_sources_changed_raises_an_alert(world):
    config, history, jsonl = world
    _ingest_figures(history, embedded_days=8, changed_days=2)
    evaluate_alerts(config, history, now=T0)
    (firing,) = read_jsonl(jsonl)
    assert (firing["rule"], firing["severity"], firing["labels"]) == (
        "ingestion-stalled",
        "warning",
        {"collection": "docs"},
    )
    assert firing["summary"] == (
        "no new embedding in collection docs for 8 days while sources changed 2 days ago "
        "(threshold 7 days)"
    )


@pytest.mark.parametrize(
    ("embedded_days", "changed_days", "later_days", "firing"),
    [
        (8, 9, 0, False),  # nothing changed since the last embedding: a quiet corpus
        (6, 1, 0, False),  # changed, but the pipeline wrote 6 days ago: within its week
        (6, 1, 1.5, True),  # ... and a day and a half later, still nothing: stalled
    ],
)
def test_ingestion_stall_needs_a_change_after_the_last_embedding_for_long_enough(
    world, embedded_days, changed_days, later_days, firing
):
    config, history, jsonl = world
    _ingest_figures(history, embedded_days=embedded_days, changed_days=changed_days)
    evaluate_alerts(config, history, now=T0 + timedelta(days=later_days))
    stalled = [n for n in read_jsonl(jsonl) if n["rule"] == "ingestion-stalled"]
    assert len(stalled) == int(firing)


def test_the_alerts_job_is_registered_and_runs_from_the_cli(tmp_path):
    spec = registry.get("alerts")
    assert (spec.schedule, spec.after_signals) == ("*/5 * * * *", True)
    assert registry.ordered(["alerts", "freshness"]) == ["freshness", "alerts"]
    assert spec.description == (
        "Re-evaluate alert rules and the dead man's switch; retry pending deliveries."
    )
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        '[alerts.channels.file]\nkind = "jsonl"\npath = "alerts.jsonl"\n',
        encoding="utf-8",
    )
    history = HistoryStore.open(f"sqlite:///{tmp_path / '.ragmon' / 'history.db'}")
    store_run(history, {"stale_share": 0.5})

    result = CliRunner().invoke(
        cli, ["-c", str(path), "run", "alerts", "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["status"] == "ok"
    body = payload["result"]
    assert body["schema"] == "ragmon.alerts/1"
    assert [a["rule"] for a in body["firing"]] == ["stale-share"]
    assert (body["delivered"], body["pending"]) == (1, 0)
    assert [n["rule"] for n in read_jsonl(tmp_path / "alerts.jsonl")] == ["stale-share"]


@pytest.mark.parametrize("grace", ["10m", "2h"])
def test_status_and_the_dead_mans_switch_agree_on_what_is_overdue(tmp_path, grace):
    """One deadline(): the same jobs overdue in `status` and in the switch, whatever the grace."""
    from jobs.alerts import job_deadlines
    from jobs.status import job_statuses

    config = alert_config(tmp_path, dead_mans_switch={"grace": grace})
    history = HistoryStore.open(config.history_url)
    _ran(history, "freshness", T0)  # succeeded once; next slot 07:00
    _ran(history, "report", T0, ok=False)  # failed since its first run; next slot tomorrow 06:30
    for now in (T0 + 30 * MIN, T0 + 71 * MIN, T0 + 4 * 60 * MIN, T0 + 25 * 60 * MIN):
        status = {s.name: s.overdue_since for s in job_statuses(config, history, now=now)}
        switch = {d.job: d.overdue_since for d in job_deadlines(config, history, now)}
        assert status == switch, now
    overdue_late = {j for j, since in switch.items() if since is not None}
    assert overdue_late == {"freshness", "report"}  # alerts never ran: "never run", not overdue
    history.engine.dispose()
