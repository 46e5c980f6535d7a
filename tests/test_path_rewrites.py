"""A store indexed on another machine: `init --inspect` proposes the prefix rewrite, and an
audit without it stops with the line to add instead of reporting every chunk orphaned."""

from __future__ import annotations

import tomllib

from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import StoreConfig
from tests.freshness_scenarios import langchain_index, long_doc, write

LINE = 'path_rewrites = [{ from = "/srv/app/docs/", to = "" }]'


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _foreign_store(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "guide/intro.md", long_doc("Intro"))
    write(docs, "guide/setup.md", long_doc("Setup"))
    write(docs, "faq.md", long_doc("FAQ"))
    store = StoreConfig(path=tmp_path / "chroma", collection="foreign")
    langchain_index(store, docs, embedder, recorded_prefix="/srv/app/docs/")
    return docs


def test_audit_refuses_a_mass_orphaning_a_prefix_rewrite_explains(tmp_path, embedder):
    _foreign_store(tmp_path, embedder)
    config = tmp_path / "ragmon.toml"
    config.write_text(
        '[store]\npath = "chroma"\ncollection = "foreign"\n[sources]\nroot = "docs"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n',
        encoding="utf-8",
    )
    result = _run("-c", str(config), "run", "freshness")
    assert result.exit_code == 2
    assert LINE in result.output
    assert "not orphaned" in result.output


def test_init_inspect_proposes_and_writes_the_rewrite(tmp_path, embedder):
    _foreign_store(tmp_path, embedder)
    config = tmp_path / "ragmon.toml"
    result = _run(
        "-c",
        str(config),
        "init",
        "--store-path",
        str(tmp_path / "chroma"),
        "--collection",
        "foreign",
        "--sources",
        "docs",
        "--inspect",
    )
    assert result.exit_code == 0, result.output
    assert "as recorded, 0 of" in result.output
    assert f"Proposed: {LINE}" in result.output
    written = tomllib.loads(config.read_text())
    assert written["mapping"]["path_rewrites"] == [{"from": "/srv/app/docs/", "to": ""}]

    audit = _run("-c", str(config), "run", "freshness", "--json")
    assert audit.exit_code == 0, audit.output
    assert '"orphaned": 0' in audit.output
