"""Text from outside is printed literally: rich markup, newlines, CSV formulas (issue 11)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from tests.freshness_scenarios import long_doc, make_config, ragmon_index, write

MARKUP_DOC = "notes[/draft].md"
RED_DOC = "[red]name.md"
NEWLINE_DOC = "two\nlines.md"
SENTENCE = "Employees get {} days of paid vacation [/bold] per calendar year."


def _world(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, MARKUP_DOC, long_doc("Notes"))
    write(docs, RED_DOC, long_doc("Red"))
    write(docs, NEWLINE_DOC, long_doc("Lines"))
    write(docs, "policy.md", SENTENCE.format(20) + "\n")
    write(docs, "faq.md", SENTENCE.format(15) + "\n")
    for name in ("=1+1.md", "@sum.md", "-x.md", "+x.md"):
        write(docs, name, long_doc(name[1:-3].title() or "Formula"))
    config = make_config(tmp_path, tmp_path / "chroma", "lit", docs)
    ragmon_index(config, embedder)
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "chroma"\ncollection = "lit"\n[sources]\nroot = "docs"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
        f'[report]\nout_dir = "{tmp_path / "report"}"\n'
        "[freshness]\nembedding_sample = 0\n",
        encoding="utf-8",
    )
    return path, docs


def _drift(docs):
    # An edit inside an embedded paragraph (an appended one would only be unindexed text).
    edited = long_doc("Notes").replace("Notes guide, part 1.", "Notes guide [/bold], part 1.")
    (docs / MARKUP_DOC).write_text(edited)
    (docs / RED_DOC).unlink()
    (docs / NEWLINE_DOC).unlink()


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def drifted(tmp_path, embedder):
    config, docs = _world(tmp_path, embedder)
    _drift(docs)
    return config, docs


def test_run_prints_paths_and_text_literally(drifted):
    config, _docs = drifted
    result = _invoke("-c", str(config), "run", "freshness")
    assert result.exit_code == 1
    assert f" {MARKUP_DOC}: " in result.output
    assert f" {RED_DOC}: " in result.output
    assert " two\\nlines.md: " in result.output
    assert "[/bold] per calendar year" in result.output  # the conflicting sentences
    assert not any(
        line.strip() == "lines.md: source deleted" for line in result.output.splitlines()
    )


def test_run_all_reaches_the_report_and_alerts(drifted, tmp_path):
    config, _docs = drifted
    result = _invoke("-c", str(config), "run", "all")
    assert result.exit_code == 1
    assert "report ok" in result.output and "alerts ok" in result.output
    assert (tmp_path / "report" / "index.html").is_file()


def test_fix_queue_table_shows_names_literally(drifted):
    config, _docs = drifted
    _invoke("-c", str(config), "run", "freshness")
    result = _invoke("-c", str(config), "fix-queue")
    assert result.exit_code == 0
    assert RED_DOC in result.output
    assert "two\\nlines.md" in result.output
    assert MARKUP_DOC in result.output


def test_index_dry_run_shows_names_literally_on_one_line(drifted):
    config, _docs = drifted
    result = _invoke("-c", str(config), "index", "--dry-run")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert f"  changed  {MARKUP_DOC}" in lines
    assert any(line.startswith(f"  deleted  {RED_DOC} (") for line in lines)
    assert any(line.startswith("  deleted  two\\nlines.md (") for line in lines)


def test_log_lines_are_never_split_by_a_file_name(tmp_path, embedder):
    config, docs = _world(tmp_path, embedder)
    (docs / NEWLINE_DOC).write_text(long_doc("Lines", "Changed."))
    (docs / "bad\nname.md").write_bytes(b"caf\xe9")
    log = tmp_path / "ragmon.log"
    result = _invoke("-c", str(config), "--log-file", str(log), "index")
    assert result.exit_code == 0, result.output
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ ")
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines and all(stamp.match(line) for line in lines), lines
    assert any("indexed two\\nlines.md" in line for line in lines)
    assert any("bad\\nname.md" in line for line in lines)
    assert "skipped bad\\nname.md: not valid UTF-8" in result.output


# --- spreadsheet formulas ------------------------------------------------------------------


FORMULAS = {"=1+1.md", "@sum.md", "-x.md", "+x.md"}


def _formula_world(tmp_path, embedder):
    config, docs = _world(tmp_path, embedder)
    for name in FORMULAS:
        (docs / name).unlink()
    _invoke("-c", str(config), "run", "freshness")
    return config


def test_fix_queue_csv_neutralises_formulas(tmp_path, embedder):
    config = _formula_world(tmp_path, embedder)
    result = _invoke("-c", str(config), "fix-queue", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    documents = {r["document"] for r in rows if r["action"] == "delete"}
    assert documents == {"'" + name for name in FORMULAS}
    as_json = json.loads(_invoke("-c", str(config), "fix-queue", "--format", "json").output)
    assert {i["document"] for i in as_json} >= FORMULAS  # JSON keeps the real names


def test_report_fix_queue_csv_neutralises_formulas(tmp_path, embedder):
    config = _formula_world(tmp_path, embedder)
    assert _invoke("-c", str(config), "report").exit_code == 0
    text = (tmp_path / "report" / "fix-queue.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    documents = {r["document"] for r in rows if r["action"] == "delete"}
    assert documents == {"'" + name for name in FORMULAS}


def test_spreadsheet_safe_cells():
    from monitor.freshness.fixcsv import spreadsheet_safe

    assert spreadsheet_safe("=cmd|' /C calc'!A0") == "'=cmd|' /C calc'!A0"
    for lead in "=+-@\t\r":
        assert spreadsheet_safe(lead + "x") == "'" + lead + "x"
    assert spreadsheet_safe("plain.md") == "plain.md"
    assert spreadsheet_safe(-1.5) == -1.5  # numbers stay numbers
    assert spreadsheet_safe(None) is None


def test_log_formatter_keeps_every_record_on_one_line():
    import logging

    from jobs.logformat import FORMAT, OneLineFormatter

    record = logging.LogRecord(
        "monitor.x", logging.ERROR, __file__, 1, "job %s failed: %s", ("j", "a\nFORGED"), None
    )
    line = OneLineFormatter(FORMAT).format(record)
    assert "\n" not in line and line.endswith("job j failed: a\\nFORGED")
