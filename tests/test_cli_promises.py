"""Smaller promises of the CLI: `init` writes TOML that reads back, a relative SQLite
history is next to the config wherever ragmon runs from, `metrics --prometheus` never
replaces what is not a regular file."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import load_config


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("sources", "collection"),
    [
        ("my\\docs", 'the "main" docs'),
        ("C:\\Users\\me\\kb", "back\\slash"),
        ("docs with 'quotes' and \"more\"", "tab\there"),
        ("ünïcode/döcs", "#not-a-comment"),
        ("new\nline", "x = 1\n[store]"),
    ],
)
def test_init_writes_toml_that_reads_back_what_was_given(tmp_path, sources, collection):
    path = tmp_path / "ragmon.toml"
    result = _invoke(
        "-c", str(path), "init", "--store-path", "vec\\tors", "--sources", sources,
        "--collection", collection,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["sources"]["root"] == sources
    assert data["store"]["collection"] == collection
    assert data["store"]["path"] == "vec\\tors"
    # and ragmon itself reads it, once the directory exists
    (tmp_path / sources).mkdir(parents=True)
    config = load_config(path)
    assert config.store.collection == collection
    assert config.sources.root == tmp_path / sources


def test_init_keeps_the_example_comments(tmp_path):
    path = tmp_path / "ragmon.toml"
    assert _invoke("-c", str(path), "init", "--host", "chroma.internal").exit_code == 0
    text = path.read_text(encoding="utf-8")
    assert "# The vector store to watch." in text
    assert "# [alerts.channels.oncall]" in text
    data = tomllib.loads(text)
    assert data["store"] == {"host": "chroma.internal", "port": 8000, "collection": "docs"}


def test_a_relative_sqlite_history_is_next_to_the_config_from_any_directory(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "docs").mkdir(parents=True)
    path = project / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\n[sources]\nroot = "docs"\n'
        '[history]\nurl = "sqlite:///state/history.db"\n'
    )
    elsewhere = tmp_path / "cron-home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert load_config(path).history_url == f"sqlite:///{project / 'state' / 'history.db'}"
    result = _invoke("-c", str(path), "status")

    assert result.exit_code == 0, result.output
    assert (project / "state" / "history.db").is_file()
    assert not (elsewhere / "state").exists()


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",
        "sqlite:///:memory:",
        "postgresql+psycopg://ragmon@db-host/ragmon",
    ],
)
def test_other_history_urls_are_left_as_they_are(tmp_path, url):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text(f'[store]\npath = "c"\n[sources]\nroot = "docs"\n[history]\nurl = "{url}"\n')
    assert load_config(path).history_url == url


def test_an_absolute_sqlite_history_is_left_as_it_is(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    url = f"sqlite:///{tmp_path / 'h.db'}"
    path.write_text(f'[store]\npath = "c"\n[sources]\nroot = "docs"\n[history]\nurl = "{url}"\n')
    assert load_config(path).history_url == url


# -- metrics --prometheus onto something that is not a regular file ---------------


@pytest.fixture()
def config_path(tmp_path) -> Path:
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text('[store]\npath = "c"\n[sources]\nroot = "docs"\n')
    return path


def _device_node(tmp_path: Path) -> Path:
    """A character device like /dev/full (1, 7), made in tmp_path so that a failing test
    never replaces the machine's own /dev/full."""
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("making a device node needs root (CAP_MKNOD)")
    return node


def test_metrics_never_replaces_a_device_node(config_path, tmp_path):
    node = _device_node(tmp_path)
    before = os.lstat(node)
    result = _invoke("-c", str(config_path), "metrics", "--prometheus", str(node))
    after = os.lstat(node)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 3
    assert (
        f"Error: Cannot write the Prometheus textfile {node}: it is a character device, "
        "not a regular file; give the path of a file (it is replaced atomically)"
    ) in result.output
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("full")] == ["full"]


def test_metrics_never_replaces_a_fifo(config_path, tmp_path):
    fifo = tmp_path / "pipe.prom"
    os.mkfifo(fifo)
    result = _invoke("-c", str(config_path), "metrics", "--prometheus", str(fifo))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert result.exit_code == 3
    assert "it is a named pipe, not a regular file" in result.output


def test_metrics_through_a_symlink_updates_the_file_it_points_to(config_path, tmp_path):
    real = tmp_path / "real.prom"
    real.write_text("# old\n")
    link = tmp_path / "link.prom"
    link.symlink_to(real)
    result = _invoke("-c", str(config_path), "metrics", "--prometheus", str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == real
    assert "ragmon_job_overdue" in real.read_text()


def test_metrics_writes_a_new_file_and_replaces_a_regular_one(config_path, tmp_path):
    target = tmp_path / "new" / "ragmon.prom"
    assert _invoke("-c", str(config_path), "metrics", "--prometheus", str(target)).exit_code == 0
    first = target.stat().st_ino
    assert _invoke("-c", str(config_path), "metrics", "--prometheus", str(target)).exit_code == 0
    assert target.stat().st_ino != first  # replaced by rename, never written in place
    assert [p.name for p in target.parent.iterdir()] == ["ragmon.prom"]
