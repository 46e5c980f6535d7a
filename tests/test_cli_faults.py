"""Every failure of a command is an exit code and a message, never a traceback.

Exit 3 for runtime failures (a damaged history database, an output that cannot be
written, a port in use), exit 2 for what the user typed (a bad option, a bad config).
Each case is made for real: bytes overwritten in the middle of a SQLite file, a path
under a regular file (which cannot be a directory, even for root), a bound socket.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jobs.alerts import evaluate_alerts
from jobs.cli import cli
from monitor.config import load_config
from monitor.history import HistoryStore
from monitor.records import Finding, Severity
from tests.alerting import empty_freshness_result, store_run

COMMANDS = {
    "status": ["status"],
    "report": ["report", "--out", "{tmp}/out"],
    "fix-queue": ["fix-queue"],
    "metrics": ["metrics", "--prometheus", "{tmp}/ragmon.prom"],
    "alerts list": ["alerts", "list"],
}
DAMAGE_AT = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
"""Where in the file (as a share of its size) 8 KiB are overwritten."""


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _no_traceback(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}"
    )
    assert "Traceback" not in result.output


def _write_config(tmp: Path, extra: str = "") -> Path:
    (tmp / "docs").mkdir(exist_ok=True)
    path = tmp / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        "[alerts.dead_mans_switch]\njobs = false\n" + extra,
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def healthy_history(tmp_path_factory) -> Path:
    """A directory with a config and a history of 40 freshness runs with findings, alert
    states and outbox rows, checkpointed into one SQLite file (no WAL left beside it)."""
    tmp = tmp_path_factory.mktemp("history")
    config = load_config(_write_config(tmp, '[alerts.channels.log]\nkind = "jsonl"\npath = "a"\n'))
    history = HistoryStore.open(config.history_url)
    for i in range(40):
        findings = tuple(
            Finding(
                kind="stale",
                severity=Severity.WARNING,
                message=f"chunk {j} of run {i} is stale " * 8,
                source_id=f"doc-{j}.md",
                chunk_ids=(f"doc-{j}.md#0",),
            )
            for j in range(5)
        )
        store_run(
            history,
            {"stale_share": 0.3, "coverage": 0.9, "run": i},
            findings=findings,
            details=empty_freshness_result(),
        )
        evaluate_alerts(config, history)
    history.engine.dispose()
    assert [p.name for p in (tmp / ".ragmon").iterdir()] == ["history.db"]
    return tmp


def test_a_history_damaged_in_the_middle_is_exit_3_for_every_reader(healthy_history, tmp_path):
    """8 KiB overwritten at each point of DAMAGE_AT in turn; every reading command runs.

    A command may not touch the damaged pages at all (exit 0); one that does exits 3
    naming the database, never with a traceback; each command meets the damage somewhere.
    """
    seen: dict[str, set[int]] = {name: set() for name in COMMANDS}
    for where in DAMAGE_AT:
        work = tmp_path / str(where)
        shutil.copytree(healthy_history, work)
        db = work / ".ragmon" / "history.db"
        data = bytearray(db.read_bytes())
        start = int(len(data) * where)
        data[start : start + 8192] = b"\xde\xad\xbe\xef" * 2048
        db.write_bytes(bytes(data))
        for name, args in COMMANDS.items():
            result = _invoke("-c", str(work / "ragmon.toml"), *(a.format(tmp=work) for a in args))
            _no_traceback(result)
            seen[name].add(result.exit_code)
            assert result.exit_code in (0, 3), (where, name, result.output)
            if result.exit_code == 3:
                assert f"history database sqlite:///{db}" in result.output, (where, name)
                assert "malformed" in result.output, (where, name, result.output)
    assert all(3 in codes for codes in seen.values()), seen


# -- outputs that cannot be written ------------------------------------------------


@pytest.fixture()
def config_path(tmp_path) -> Path:
    path = _write_config(tmp_path)
    HistoryStore.open(load_config(path).history_url)
    return path


@pytest.fixture()
def a_file(tmp_path) -> Path:
    """A regular file: nothing can be created under it, whoever runs the test."""
    path = tmp_path / "somefile"
    path.write_text("not a directory\n")
    return path


def test_log_file_in_an_unusable_directory_is_exit_2(config_path, a_file):
    result = _invoke("-c", str(config_path), "--log-file", str(a_file / "log.txt"), "status")
    _no_traceback(result)
    assert result.exit_code == 2
    assert f"Error: --log-file {a_file / 'log.txt'}: cannot open it for appending (a part " in (
        result.output
    )


def test_report_out_that_cannot_be_written_is_exit_3(config_path, a_file):
    result = _invoke("-c", str(config_path), "report", "--out", str(a_file / "report"))
    _no_traceback(result)
    assert result.exit_code == 3
    assert f"Error: Cannot write the report to {a_file / 'report'}: " in result.output


def test_metrics_into_an_unwritable_directory_is_exit_3(config_path, a_file):
    target = a_file / "textfile" / "ragmon.prom"
    result = _invoke("-c", str(config_path), "metrics", "--prometheus", str(target))
    _no_traceback(result)
    assert result.exit_code == 3
    assert f"Error: Cannot write the Prometheus textfile {target}: " in result.output


def test_serve_on_a_port_in_use_is_exit_3(config_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _invoke("-c", str(config_path), "report", "--serve", "--port", str(port))
    _no_traceback(result)
    assert result.exit_code == 3
    assert f"Error: Cannot serve on 127.0.0.1:{port}: " in result.output
    assert "--port" in result.output


@pytest.mark.parametrize("port", ["99999", "-1"])
def test_serve_on_an_impossible_port_is_exit_2(config_path, port):
    result = _invoke("-c", str(config_path), "report", "--serve", "--port", port)
    _no_traceback(result)
    assert result.exit_code == 2
    assert "Invalid value for '--port'" in result.output


@pytest.mark.parametrize(
    "url",
    ["notaurl", "sqlite", "nosuchdb://host/x", "postgresql://host:port/x", "sqlite://0//h.db"],
)
def test_a_history_url_that_is_not_a_database_url_is_exit_2(tmp_path, url):
    path = _write_config(tmp_path, f'[history]\nurl = "{url}"\n')
    result = _invoke("-c", str(path), "status")
    _no_traceback(result)
    assert result.exit_code == 2
    assert f"{path}, line 8: key 'history.url': " in result.output


@pytest.mark.parametrize("value", ["86400000000000.0", '"99999999999w"', "nan", "inf"])
def test_a_duration_too_long_or_not_a_number_is_exit_2(tmp_path, value):
    """Found by the config fuzz test: a huge cooldown overflowed timedelta (a traceback)."""
    path = _write_config(tmp_path, f"[alerts]\ncooldown = {value}\n")
    result = _invoke("-c", str(path), "status")
    _no_traceback(result)
    assert result.exit_code == 2
    assert f"{path}, line 8: key 'alerts.cooldown': expected a duration" in result.output


def test_report_since_too_long_is_exit_2(config_path):
    result = _invoke("-c", str(config_path), "report", "--since", "99999999999w")
    _no_traceback(result)
    assert result.exit_code == 2
    assert "Error: --since: expected a duration" in result.output


@pytest.mark.parametrize("kind", ["[]", "{}", "1", '["webhook"]'])
def test_a_channel_kind_that_is_not_a_string_is_exit_2(tmp_path, kind):
    """Found by the config fuzz test: `kind = []` raised TypeError (unhashable list)."""
    path = _write_config(tmp_path, f"[alerts.channels.hook]\nkind = {kind}\n")
    result = _invoke("-c", str(path), "status")
    _no_traceback(result)
    assert result.exit_code == 2
    assert "key 'alerts.channels': channel 'hook': key 'kind': expected one of: " in result.output
