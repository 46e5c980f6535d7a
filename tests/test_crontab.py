"""`ragmon crontab`, and `ragmon run` as cron runs it: exit codes, silence, log file."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from croniter import croniter
from sqlalchemy import insert

from jobs import registry
from jobs.cli import cli
from jobs.schedules import next_fire
from monitor.history.locks import JobLocks
from monitor.history.models import JobLockRow
from monitor.records import RunStatus
from tests.scheduling import RAGMON, build_world, wait_for


@pytest.fixture()
def world(tmp_path):
    return build_world(tmp_path)


def _invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _entries(output):
    """(schedule fields, command words) of every line that is neither comment nor setting."""
    found = []
    for line in output.splitlines():
        if not line or line.startswith("#") or "=" in line.split()[0]:
            continue
        words = line.split()
        found.append((" ".join(words[:5]), shlex.split(" ".join(words[5:]))))
    return found


def test_crontab_lines_are_valid_and_run_the_job(world):
    config = world.config()
    result = _invoke("-c", config, "crontab")
    assert result.exit_code == 0
    assert "CRON_TZ=UTC" in result.output.splitlines()
    entries = _entries(result.output)
    assert [words[-1] for _, words in entries] == ["freshness"]
    schedule, words = entries[0]
    assert croniter.is_valid(schedule)
    assert schedule == registry.get("freshness").schedule == "0 * * * *"
    assert words == [str(RAGMON), "-c", str(config), "--quiet", "run", "freshness"]
    assert Path(words[0]).is_absolute() and os.access(words[0], os.X_OK)
    disabled = [n for n in registry.all_jobs() if n != "freshness"]
    for name in disabled:
        assert f"# {name}: disabled ([jobs.{name}] enabled = false)" in result.output

    # What cron would do: run the command from an empty environment and another directory.
    done = subprocess.run(words, capture_output=True, text=True, cwd="/", env={}, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    (run,) = world.history().runs("freshness")
    assert run.status is RunStatus.OK


def test_crontab_uses_the_configured_schedule_log_file_and_user(world, tmp_path):
    config = world.config(schedule="*/15 6-18 * * mon-fri")
    log = tmp_path / "logs" / "ragmon.log"
    result = _invoke("-c", config, "crontab", "--log-file", log, "--user", "ragmon")
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if x.startswith("*/15"))
    assert line.startswith("*/15 6-18 * * mon-fri ragmon /")
    words = shlex.split(line.split(" ragmon ", 1)[1])
    assert words[3:] == ["--quiet", "--log-file", str(log), "run", "freshness"]


@pytest.mark.parametrize(
    "expression",
    ["0 * * * *", "30 6 * * *", "0 9 * * 0", "0 9 * * 1-5", "15 2 1 * *", "0 9 * * 5-7",
     "*/20 */4 * * sat,sun", "0 0 * 2 mon"],
)  # fmt: skip
def test_cron_and_the_scheduler_agree_on_every_slot(expression):
    """croniter (cron's meaning) and our APScheduler trigger give the same times:
    weekday numbers are cron's (0 = Sunday), not APScheduler's (0 = Monday)."""
    moment = datetime(2026, 11, 24, 5, 10, tzinfo=UTC)
    expected = croniter(expression, moment)
    ours = moment
    for _ in range(12):
        ours = next_fire(expression, ours)
        assert ours == expected.get_next(datetime)


def test_crontab_refuses_a_schedule_with_seconds(world):
    config = world.config(schedule="*/2 * * * * *")
    result = CliRunner().invoke(cli, ["-c", str(config), "crontab"])
    assert result.exit_code == 2
    assert (
        "key 'jobs.freshness.schedule': '*/2 * * * * *' has six fields (seconds first), which "
        "only `ragmon schedule` understands; system cron counts in minutes." in result.output
    )


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("0 * * *", "expected five fields (minute hour day month weekday), or six"),
        ("0 9 1 * 1", "it restricts both the day of month (1) and the day of week (1)"),
        ("0 9 L * *", "day 'L': cron takes numbers"),
        ("0 25 * * *", "higher than the maximum value (23)"),
    ],
)
def test_a_bad_schedule_is_a_config_error_naming_the_key(world, schedule, problem):
    config = world.config(schedule=schedule)
    result = CliRunner().invoke(cli, ["-c", str(config), "status"])
    assert result.exit_code == 2
    assert "key 'jobs.freshness.schedule': expected a cron expression" in result.output
    assert problem in result.output


def test_crontab_escapes_percent_signs(tmp_path):
    world = build_world(tmp_path / "100%")
    result = _invoke("-c", world.config(), "crontab")
    (line,) = [x for x in result.output.splitlines() if x.startswith("0 * * * *")]
    assert r"/100\%/" in line and "100%/" not in line


def test_run_exits_4_with_a_clear_message_while_the_job_is_running(world):
    config = world.config()
    history = world.history()
    lease = JobLocks(history.engine).acquire("freshness").lease
    result = CliRunner().invoke(cli, ["-c", str(config), "--quiet", "run", "freshness"])
    assert result.exit_code == 4
    assert result.stdout == ""
    assert result.stderr == (
        f"freshness is already running since {lease.acquired_at:%Y-%m-%d %H:%M} UTC "
        f"({lease.holder}); this run was skipped. If that process is gone, its lock expires "
        f"at {lease.expires_at:%Y-%m-%d %H:%M:%S} UTC and the next run proceeds.\n"
    )
    assert history.runs("freshness") == []

    as_json = CliRunner().invoke(cli, ["-c", str(config), "run", "all", "--json"])
    assert as_json.exit_code == 4
    assert '"status": "skipped"' in as_json.stdout


def test_a_lock_left_by_a_killed_run_expires_and_the_next_run_proceeds(world):
    config = world.config()
    history = world.history()
    killed = history.start_run("freshness")
    with history.engine.begin() as conn:
        conn.execute(
            insert(JobLockRow).values(
                job="freshness",
                owner="pid 4242 on elsewhere [0badc0de]",
                run_id=killed,
                acquired_at=datetime.now(UTC) - timedelta(minutes=30),
                expires_at=datetime.now(UTC) - timedelta(minutes=5),
            )
        )
    result = _invoke("-c", config, "--quiet", "run", "freshness")
    assert result.exit_code == 0
    assert result.stdout == ""
    new, old = history.runs("freshness")
    assert new.status is RunStatus.OK
    assert old.status is RunStatus.INTERRUPTED
    assert "(pid 4242 on elsewhere) stopped renewing the job's lock" in old.error
    assert JobLocks(history.engine).leases() == []


def test_quiet_run_prints_nothing_and_the_log_file_records_it(world, tmp_path):
    config = world.config()
    log = tmp_path / "logs" / "cron.log"
    done = subprocess.run(
        [RAGMON, "-c", config, "--quiet", "--log-file", log, "run", "freshness"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    text = log.read_text(encoding="utf-8")
    assert "INFO jobs.runner: freshness: run 1 started" in text
    assert "INFO jobs.runner: freshness: run 1 ok: 5 chunks from 2 documents" in text

    # Not healthy: even quiet, cron gets the reason (and mails it).
    (world.docs / "faq" / "visitors.md").unlink()
    done = subprocess.run(
        [RAGMON, "-c", config, "--quiet", "--log-file", log, "run", "freshness"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "freshness findings:" in done.stdout
    assert "freshness: run 2 findings" in log.read_text(encoding="utf-8")


def test_sigterm_to_a_run_records_it_interrupted_and_frees_the_lock(world):
    # Checking embeddings loads the model: a run long enough to be caught in the act.
    config = world.config()
    config.write_text(config.read_text().replace("embedding_sample = 0", "embedding_sample = 5"))
    history = world.history()
    process = subprocess.Popen(
        [RAGMON, "-c", config, "--quiet", "run", "freshness"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: history.runs("freshness"), timeout=30, what="the run to start")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert out == ""
    assert process.returncode == 3, err
    assert "freshness: interrupted (recorded as such)" in err
    (run,) = history.runs("freshness")
    assert (run.status, run.error) == (RunStatus.INTERRUPTED, "interrupted")
    assert JobLocks(history.engine).leases() == []


@pytest.mark.parametrize(
    ("expression", "slot"),
    [
        ("*/2 * * * * *", "2026-11-27 20:04:48"),
        ("* * * * * *", "2026-11-27 20:04:49"),
        ("0 * * * *", "2026-11-27 20:00:00"),
        ("30 6 * * *", "2026-11-27 06:30:00"),
        ("0 0 1 1 *", "2026-01-01 00:00:00"),
        ("4 20 * * 5", "2026-11-27 20:04:00"),  # a Friday, this very minute
    ],
)
def test_the_slot_a_scheduled_run_serves_is_the_last_one_due(expression, slot):
    from jobs.schedules import previous_fire

    at = datetime(2026, 11, 27, 20, 4, 49, 500_000, tzinfo=UTC)
    assert previous_fire(expression, at) == datetime.fromisoformat(slot).replace(tzinfo=UTC)
    exact = datetime.fromisoformat(slot).replace(tzinfo=UTC)
    assert previous_fire(expression, exact) == exact  # a slot serves itself
