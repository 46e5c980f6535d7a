"""The `ragmon` CLI: help for every command, exit codes, init, status."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from jobs.cli import cli
from jobs.registry import load_config


def _invoke(*args, **kwargs):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_every_command_has_help_text_and_an_example():
    for name, command in cli.commands.items():
        assert command.help, f"{name} has no help text"
        assert "Example" in command.help, f"{name} help shows no example"
        result = _invoke(name, "--help")
        assert result.exit_code == 0
        assert f"Usage: cli {name}" in result.output or f"Usage: ragmon {name}" in result.output


def test_version():
    result = _invoke("--version")
    assert result.exit_code == 0
    assert re.fullmatch(r"ragmon, version \d+\.\d+\.\d+\n", result.output)


def test_missing_config_exits_2_and_says_how_to_make_one(tmp_path):
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "ragmon.toml"), "status"])
    assert result.exit_code == 2
    assert "ragmon.toml: no such file. Write a starter config with `ragmon init`." in result.output


def test_bad_config_exits_2_naming_the_key(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text('[store]\npath = "chroma"\npage_size = "big"\n[sources]\nroot = "docs"\n')
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert f"{path}, line 3: key 'store.page_size': expected an integer, got 'big'" in result.output


def test_unknown_job_table_exits_2(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text('[store]\npath = "c"\n[sources]\nroot = "docs"\n[jobs.frshness]\n')
    result = CliRunner().invoke(cli, ["-c", str(path), "status"])
    assert result.exit_code == 2
    assert "key 'jobs.frshness': no such job" in result.output


def test_runtime_failure_exits_3(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text('[store]\npath = "nothing-here"\n[sources]\nroot = "docs"\n')
    result = CliRunner().invoke(cli, ["-c", str(path), "index", "--dry-run"])
    assert result.exit_code == 3
    assert "No Chroma store at" in result.output


def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(tmp_path):
    (tmp_path / "kb").mkdir()
    path = tmp_path / "ragmon.toml"
    result = _invoke(
        "-c",
        str(path),
        "init",
        "--store-path",
        "vectors",
        "--sources",
        "kb",
        "--collection",
        "handbook",
    )
    assert result.exit_code == 0
    config = load_config(path)
    assert config.store.path == tmp_path / "vectors"
    assert config.store.collection == "handbook"
    assert config.sources.root == tmp_path / "kb"

    again = CliRunner().invoke(cli, ["-c", str(path), "init"])
    assert again.exit_code == 2
    assert "already exists. Use --force to overwrite it." in again.output


def test_init_for_a_server_writes_host_and_port(tmp_path):
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    _invoke("-c", str(path), "init", "--host", "chroma.internal", "--port", "8001")
    config = load_config(path)
    assert (config.store.host, config.store.port, config.store.path) == (
        "chroma.internal",
        8001,
        None,
    )


def test_init_inspect_proposes_the_langchain_preset(tmp_path, capsys):
    from monitor.config import StoreConfig
    from tests.conftest import fill_collection

    (tmp_path / "docs").mkdir()
    fill_collection(
        StoreConfig(path=tmp_path / "chroma", collection="lcdocs"),
        ["1", "2", "3"],
        documents=["a", "b", "c"],
        metadatas=[{"source": "/srv/docs/a.md"}, {"source": "/srv/docs/b.md"}, {"page": 1}],
    )
    path = tmp_path / "ragmon.toml"
    result = _invoke(
        "-c",
        str(path),
        "init",
        "--store-path",
        str(tmp_path / "chroma"),
        "--collection",
        "lcdocs",
        "--inspect",
    )
    assert result.exit_code == 0
    assert "Sampled 3 of 3 chunks in 'lcdocs'." in result.output
    assert "Conventions: langchain 2, none 1" in result.output
    assert "Proposed mapping: preset = 'langchain'" in result.output
    assert load_config(path).mapping.preset == "langchain"


@pytest.mark.parametrize("name", ["status"])
def test_commands_do_not_need_the_model(name, tmp_path):
    """`status` works with only a config: no store, no model."""
    (tmp_path / "docs").mkdir()
    path = tmp_path / "ragmon.toml"
    path.write_text('[store]\npath = "c"\n[sources]\nroot = "docs"\n')
    result = _invoke("-c", str(path), name)
    assert result.exit_code == 0
    assert "ragmon jobs" in result.output
    assert isinstance(cli, click.Group)
