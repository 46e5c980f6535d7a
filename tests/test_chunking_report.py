"""The chunking section of the HTML report, and `ragmon baseline`, on real runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from jobs.cli import cli
from jobs.report import build_report
from monitor.history import HistoryStore
from tests.chunking_scenarios import (
    FOOTER,
    bad_chunks,
    chunking_config,
    demo_documents,
    good_chunks,
    run_and_store,
    write_chunks,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
XSS = "<script>window.__xss=3</script>"


def test_report_shows_shares_lengths_against_the_window_and_worst_documents(tmp_path):
    documents = demo_documents()
    good, bad = good_chunks(documents), bad_chunks(documents)
    victim = "handbook/expenses.md"
    bad[victim][0] = XSS + bad[victim][0]
    config = chunking_config(tmp_path, report={"out_dir": str(tmp_path / "out")})
    write_chunks(config.store, good, embedded_at=T0)
    run_and_store(config)
    write_chunks(
        config.store, {victim: bad[victim]}, embedded_at=T0 + timedelta(days=1), replace=[victim]
    )
    run_and_store(config)

    history = HistoryStore.open(config.history_url)
    files = build_report(config, history)
    html = files.index.read_text()
    data = json.loads(files.data.read_text())
    section = data["sections"]["chunking"]
    snapshot = section["latest"]["snapshot"]
    assert snapshot["worst"][0]["document"] == victim
    assert XSS not in html and "&lt;script&gt;window.__xss=3&lt;/script&gt;" in html
    figures = {f["id"]: f for f in data["figures"]}
    lengths = figures["chunking-lengths"]["spec"]
    assert lengths["layout"]["shapes"][0]["x0"] == 254
    assert sum(lengths["data"][0]["y"]) == snapshot["chunks"]
    shares = {s["name"]: s["y"] for s in figures["chunking-shares"]["spec"]["data"]}
    assert shares["over the window"][0] == 0 and shares["over the window"][1] > 0
    (signal,) = [s for s in data["overview"]["signals"] if s["signal"] == "chunking"]
    assert signal["light"] == "amber"  # its gates fired: findings
    assert "Documents whose chunking changed most" in html and victim in html
    history.engine.dispose()


def _invoke(config_path, *args):
    return CliRunner().invoke(cli, ["-c", str(config_path), *args], catch_exceptions=False)


def test_baseline_set_pins_the_reference_until_cleared(tmp_path):
    documents = demo_documents()
    good, bad = good_chunks(documents), bad_chunks(documents)
    config_path = tmp_path / "ragmon.toml"
    config_path.write_text(
        f'[store]\npath = "{tmp_path / "chroma"}"\ncollection = "kbase"\n'
        f'[sources]\nroot = "{tmp_path}"\n'
    )
    config = chunking_config(tmp_path)  # the same store, for writing chunks
    write_chunks(config.store, good, embedded_at=T0)

    nothing = _invoke(config_path, "baseline", "set", "chunking")
    assert nothing.exit_code == 2
    assert "No completed chunking run to pin. Run `ragmon run chunking` first." in nothing.output

    assert _invoke(config_path, "-q", "run", "chunking").exit_code == 0
    pinned = _invoke(config_path, "baseline", "set", "chunking")
    assert pinned.exit_code == 0 and pinned.output.startswith("Pinned run 1 (")
    assert _invoke(config_path, "baseline", "show").output.startswith("chunking: run 1, pinned ")

    write_chunks(config.store, bad, embedded_at=T0 + timedelta(days=1), replace=good)
    first_bad = _invoke(config_path, "run", "chunking", "--json")
    assert first_bad.exit_code == 1
    # Run again on the same bad cut: against the pinned good run it still drifted.
    second_bad = json.loads(_invoke(config_path, "run", "chunking", "--json").output)
    comparison = second_bad["result"]["comparison"]
    assert (comparison["reference_run"], comparison["reference_kind"]) == (1, "baseline")
    assert "truncated" in [f["feature"] for f in comparison["features"] if f["drifted"]]

    assert _invoke(config_path, "baseline", "clear", "chunking").output == (
        "Cleared the chunking baseline.\n"
    )
    third = json.loads(_invoke(config_path, "run", "chunking", "--json").output)
    comparison = third["result"]["comparison"]
    assert (comparison["reference_run"], comparison["reference_kind"]) == (3, "previous")
    assert [f["feature"] for f in comparison["features"] if f["drifted"]] == []
    assert FOOTER in [b["text"] for b in third["result"]["snapshot"]["boilerplate"]]

    wrong = _invoke(config_path, "baseline", "set", "chunking", "--run", "99")
    assert wrong.exit_code == 2 and "Run 99 is not a completed chunking run" in wrong.output
