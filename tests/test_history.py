"""History store: migrations on empty and existing databases, atomic runs, WAL.

Every test but the SQLite-only ones (WAL) runs on SQLite and on a real PostgreSQL (the
``history_url`` fixture in conftest.py)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import inspect, text

from monitor.errors import UnknownSchemaError
from monitor.history import HistoryStore
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity


def _result(**kwargs) -> RunResult:
    return RunResult(
        status=RunStatus.FINDINGS,
        summary="2 stale",
        metrics=(Metric(name="stale_chunks", value=2, labels={"collection": "docs"}),),
        findings=(
            Finding(
                kind="stale",
                severity=Severity.WARNING,
                message="m",
                source_id="a.md",
                chunk_ids=("a#0", "a#1"),
                evidence={"rule": "hash"},
            ),
        ),
        **kwargs,
    )


def test_empty_database_is_migrated_to_head_with_wal(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'history.db'}"
    store = HistoryStore.open(url)
    with store.engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("select name from sqlite_master"))}
        revision = conn.execute(text("select version_num from alembic_version")).scalar()
    assert {"runs", "metrics", "findings", "alembic_version"} <= tables
    assert revision == store.migrate()
    raw = sqlite3.connect(tmp_path / "sub" / "history.db")
    assert raw.execute("pragma journal_mode").fetchone()[0] == "wal"


def test_an_empty_database_is_migrated_to_head(history_url):
    store = HistoryStore.open(history_url)
    tables = set(inspect(store.engine).get_table_names())
    with store.engine.connect() as conn:
        revision = conn.execute(text("select version_num from alembic_version")).scalar()
    store.engine.dispose()
    assert {"runs", "metrics", "findings", "job_locks", "alert_outbox", "alembic_version"} <= (
        tables
    )
    assert revision == store.migrate()


def test_existing_database_keeps_its_runs_across_reopen_and_migration(history_url):
    url = history_url
    first = HistoryStore.open(url)
    run_id = first.start_run("freshness")
    first.finish_run(run_id, _result())
    first.engine.dispose()

    again = HistoryStore.open(url)

    assert [r.id for r in again.runs("freshness")] == [run_id]
    assert again.metrics(run_id) == [
        Metric(name="stale_chunks", value=2.0, labels={"collection": "docs"})
    ]
    finding = again.findings(run_id)[0]
    assert finding.chunk_ids == ("a#0", "a#1")
    assert finding.evidence == {"rule": "hash"}


def test_first_revision_database_is_upgraded_in_place(history_url):
    from alembic import command
    from alembic.config import Config

    from monitor.history.store import MIGRATIONS

    url = history_url
    old = HistoryStore.open(url, migrate=False)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            text(
                "insert into runs (job, started_at, status) "
                "values ('freshness', '2026-01-01 00:00:00', 'ok')"
            )
        )
    head = HistoryStore.open(url)
    assert [r.job for r in head.runs()] == ["freshness"]
    with head.engine.connect() as conn:
        assert conn.execute(text("select version_num from alembic_version")).scalar() == (
            head.migrate()
        )


def test_a_database_from_a_newer_ragmon_is_refused(history_url):
    url = history_url
    store = HistoryStore.open(url)
    with store.engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999_future'"))
    store.engine.dispose()
    with pytest.raises(UnknownSchemaError, match="'9999_future'.*upgrade ragmon"):
        HistoryStore.open(url)


def test_a_run_that_fails_while_saving_leaves_nothing_half_written(history):
    store = history
    good = store.start_run("freshness")
    store.finish_run(good, _result())
    bad = store.start_run("freshness")

    def explode(_session):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        store.finish_run(bad, _result(), also=explode)

    assert store.metrics(bad) == []
    assert store.findings(bad) == []
    assert store.runs("freshness")[0].status is RunStatus.RUNNING
    assert len(store.findings(good)) == 1
    assert store.last_success("freshness").id == good


def test_failed_runs_keep_their_error_and_are_not_successes(history):
    store = history
    run_id = store.start_run("freshness")
    store.fail_run(run_id, "Chroma unreachable")
    (record,) = store.runs("freshness")
    assert (record.status, record.error) == (RunStatus.FAILED, "Chroma unreachable")
    assert record.finished_at is not None and record.finished_at.tzinfo is not None
    assert store.last_success("freshness") is None
