"""A new signal is one module per layer and one line per registry (see `tests/toysignal`)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from dashboards import registry as sections
from jobs import registry
from jobs.cli import cli
from tests.conftest import fill_collection


@pytest.fixture()
def with_toy_signal(monkeypatch, tmp_path):
    # The one line in each registry:
    monkeypatch.setattr(registry, "JOB_MODULES", (*registry.JOB_MODULES, "tests.toysignal.job"))
    monkeypatch.setattr(
        sections, "SECTION_MODULES", (*sections.SECTION_MODULES, "tests.toysignal.section")
    )
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("A long enough paragraph of text.\n\nok\n", encoding="utf-8")
    config = tmp_path / "ragmon.toml"
    config.write_text(
        '[store]\npath = "chroma"\ncollection = "docs"\n[sources]\nroot = "docs"\n'
        "[freshness]\nembedding_sample = 0\nduplicates_sample = 0\n"
        '[alerts.channels.file]\nkind = "jsonl"\npath = "alerts.jsonl"\n',
        encoding="utf-8",
    )
    from monitor.config import StoreConfig

    fill_collection(
        StoreConfig(path=tmp_path / "chroma", collection="docs"),
        ["a#0", "a#1"],
        documents=["A long enough paragraph of text.", "ok"],
        metadatas=[{"source": "a.md"}, {"source": "a.md"}],
    )
    return str(config)


def _invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_registered_signal_appears_everywhere(with_toy_signal, tmp_path):
    config = with_toy_signal

    help_text = _invoke("run", "--help").output
    assert "tiny" in help_text and "Count the chunks too short to say anything." in help_text
    assert registry.ordered(["alerts", "report", "tiny"]) == ["tiny", "alerts", "report"]

    ran = _invoke("-c", config, "run", "tiny", "--json")
    assert ran.exit_code == 1, ran.output  # its gate fired: one tiny chunk
    body = json.loads(ran.output)
    assert body["result"] == {"schema": "ragmon.tiny/1", "chunks": 2, "tiny": ["a#1"]}
    assert [(t["rule"], t["crossed"]) for t in body["thresholds"]] == [("tiny-chunks", True)]

    alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [(a["kind"], a["rule"]) for a in alerts] == [("firing", "tiny-chunks")]

    status = _invoke("-c", config, "status").output
    assert "tiny" in status and "20 4 * * *" in status

    crontab = _invoke("-c", config, "crontab").output
    assert any(
        line.endswith(" run tiny") and line.startswith("20 4 * * *")
        for line in crontab.splitlines()
    )

    report = _invoke("-c", config, "report", "--out", str(tmp_path / "out"))
    assert report.exit_code == 0, report.output
    page = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert '<section id="tiny">' in page and "<p id='tiny-ids'>a#1</p>" in page
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    card = next(s for s in data["overview"]["signals"] if s["signal"] == "tiny")
    assert (card["light"], card["headlines"][0]["value"]) == ("amber", 1.0)
