"""The HTML report: rendered from a real history, opened in headless Chromium."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from jobs.cli import cli
from jobs.report import build_report, prometheus_text
from monitor.history import HistoryStore
from tests.browser import chromium
from tests.freshness_scenarios import audit_and_store, long_doc, make_config, ragmon_index, write

XSS_NAME = '<img src=x onerror="window.__xss=1">.md'
XSS_TEXT = "<script>window.__xss=2</script>"
OUTPUT = Path(os.environ.get("RAGMON_TEST_OUTPUT", "test-output"))


@pytest.fixture(scope="module")
def populated(tmp_path_factory, embedder):
    """Three freshness runs over a drifting corpus (with hostile text), one failed run."""
    tmp = tmp_path_factory.mktemp("report")
    docs = tmp / "docs"
    write(docs, "a.md", long_doc("A"))
    write(docs, XSS_NAME, long_doc("X", f"{XSS_TEXT} Staff receive 20 days of paid leave."))
    write(docs, "faq.md", long_doc("F", f"{XSS_TEXT} Staff receive 15 days of paid leave."))
    config = make_config(
        tmp, tmp / "chroma", "report-docs", docs, report={"out_dir": str(tmp / "out")}
    )
    ragmon_index(config, embedder)
    audit_and_store(config)
    (docs / XSS_NAME).write_text(long_doc("X", "Staff receive 25 days of paid leave."))
    audit_and_store(config)
    (docs / "a.md").unlink()
    write(docs, "new.md", "# New\n\nNever indexed.\n")
    audit_and_store(config)
    history = HistoryStore.open(config.history_url)
    failed = history.start_run("freshness")
    history.fail_run(failed, f"Chroma unreachable {XSS_TEXT}")
    return config, history


def test_report_files_and_json(populated):
    config, history = populated
    files = build_report(config, history)
    assert files.index.is_file() and (files.index.parent / "plotly.min.js").is_file()
    html = files.index.read_text()
    assert "cdn.plot.ly" not in html and 'src="http' not in html
    assert XSS_TEXT not in html and "&lt;script&gt;window.__xss=2&lt;/script&gt;" in html
    import json

    data = json.loads(files.data.read_text())
    latest = data["sections"]["freshness"]["latest"]
    assert latest["by_document"]["a.md"]["status"] == "orphaned"
    assert latest["by_document"][XSS_NAME]["status"] == "stale"
    stale_series = data["sections"]["freshness"]["series"]["freshness-classes"][0]
    assert stale_series["name"] == "stale chunks" and len(stale_series["y"]) == 3
    firing = {a["rule"]: a for a in data["overview"]["alerts"]}
    assert firing["stale-share"]["signal"] == "freshness"
    assert firing["orphans"]["severity"] == "warning"
    (freshness,) = [s for s in data["overview"]["signals"] if s["signal"] == "freshness"]
    assert freshness["light"] == "amber"
    assert 'id="alerts"' in html and "stale-share" in html
    csv_text = (files.index.parent / "fix-queue.csv").read_text()
    assert csv_text.splitlines()[0] == (
        "document,action,chunks,age_days,changed_share,low_grounding,retrievals,target,reason"
    )
    assert "a.md,delete" in csv_text


def test_report_in_headless_chromium(populated):
    config, history = populated
    files = build_report(config, history)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with chromium(offline=True) as browser:
        browser.get(files.index.resolve().as_uri())
        plots = browser.execute_script(
            "return Array.from(document.querySelectorAll('.plot')).map(function (el) {"
            " return [el.id, (el.data || []).reduce(function (n, t) {"
            "  return n + ((t.x || t.y || []).length); }, 0)]; });"
        )
        notes = browser.execute_script(
            "return Array.from(document.querySelectorAll('.plot-note'))"
            ".map(function (el) { return [el.id, el.textContent]; });"
        )
        xss = browser.execute_script("return window.__xss || null;")
        text = browser.find_element("tag name", "body").text
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        browser.save_screenshot(str(OUTPUT / "report-overview.png"))

        rows = browser.find_elements("css selector", "#fix-queue tbody tr")
        browser.find_element("css selector", "input[data-table=fix-queue]").send_keys("ingest")
        visible = [r.text for r in rows if r.is_displayed()]

    assert errors == []
    assert len(plots) == 2 and all(points > 0 for _, points in plots), plots
    # one stale document: a sentence, not a histogram of one bar
    assert [n for n, _ in notes] == ["freshness-age-distribution-note"]
    assert notes[0][1].startswith("The one stale document is ")
    assert xss is None
    assert XSS_NAME in text and XSS_TEXT in text
    assert len(rows) >= 3 and len(visible) == 1 and visible[0].startswith("new.md")
    assert (OUTPUT / "report-overview.png").stat().st_size > 10_000


def test_no_secret_from_the_config_reaches_the_report(populated, monkeypatch):
    config, history = populated
    monkeypatch.setenv("CHROMA_TOKEN", "s3cr3t-token-value")
    store = config.store.model_copy(update={"auth_token_env": "CHROMA_TOKEN"})
    files = build_report(config.model_copy(update={"store": store}), history)
    for path in files.index.parent.iterdir():
        if path.name != "plotly.min.js":
            assert b"s3cr3t-token-value" not in path.read_bytes()


def test_prometheus_text_parses_with_the_official_parser(populated):
    config, history = populated
    families = {
        f.name: f for f in text_string_to_metric_families(prometheus_text(config, history).decode())
    }
    stale = [s for s in families["ragmon_chunks"].samples if s.labels["class"] == "stale"]
    assert stale and stale[0].labels["job"] == "freshness"
    assert stale[0].labels["collection"] == "report-docs"
    assert families["ragmon_stale_share"].samples[0].value >= 0
    overdue = {s.labels["job"]: s.value for s in families["ragmon_job_overdue"].samples}
    assert (overdue["freshness"], overdue["report"]) == (0.0, 0.0)


def test_metrics_command_writes_a_textfile_atomically(populated, tmp_path):
    config, _ = populated
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "{config.store.path}"\ncollection = "report-docs"\n'
        f'[sources]\nroot = "{config.sources.root}"\n[history]\nurl = "{config.history_url}"\n'
    )
    target = tmp_path / "textfile" / "ragmon.prom"
    result = CliRunner().invoke(
        cli, ["-c", str(path), "metrics", "--prometheus", str(target)], catch_exceptions=False
    )
    assert result.exit_code == 0
    names = {f.name for f in text_string_to_metric_families(target.read_text())}
    assert {"ragmon_stale_share", "ragmon_chunks", "ragmon_last_success_timestamp_seconds"} <= names
    assert [p.name for p in target.parent.iterdir()] == ["ragmon.prom"]


def test_serve_is_read_only_and_answers_metrics(populated):
    from dashboards.serve import make_server

    config, history = populated
    files = build_report(config, history)
    server = make_server(
        files.index.parent,
        lambda: prometheus_text(config, history),
        files=files.names,
        port=0,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        page = urllib.request.urlopen(f"{base}/index.html", timeout=10).read().decode()
        metrics = urllib.request.urlopen(f"{base}/metrics", timeout=10)
        body = metrics.read().decode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(f"{base}/index.html", data=b"x", method="POST"), timeout=10
            )
    finally:
        server.shutdown()
        server.server_close()
    assert "Freshness" in page
    assert metrics.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "ragmon_stale_share" in body
    assert refused.value.code == 405


def test_report_command_window_and_bad_window(populated, tmp_path):
    config, _ = populated
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "{config.store.path}"\ncollection = "report-docs"\n'
        f'[sources]\nroot = "{config.sources.root}"\n[history]\nurl = "{config.history_url}"\n'
    )
    out = tmp_path / "site"
    ok = CliRunner().invoke(
        cli, ["-c", str(path), "report", "--out", str(out), "--since", "2h"], catch_exceptions=False
    )
    assert ok.exit_code == 0
    assert ok.output == f"Report: {(out / 'index.html').resolve()}\n"
    import json

    data = json.loads((out / "report.json").read_text())
    assert data["sections"]["runs"]["runs"], "runs of the last two hours are listed"
    bad = CliRunner().invoke(cli, ["-c", str(path), "report", "--since", "3x"])
    assert bad.exit_code == 2
    assert "--since: expected a duration such as '30s'" in bad.output


def test_a_result_stored_by_an_older_ragmon_leaves_its_section_empty_not_the_report(tmp_path):
    from tests.alerting import alert_config, store_run

    config = alert_config(tmp_path)
    history = HistoryStore.open(config.history_url)
    store_run(history, {"stale_share": 0.2}, details={"schema": "ragmon.freshness/1"})
    files = build_report(config, history, out_dir=tmp_path / "out")
    import json

    data = json.loads(files.data.read_text())
    assert data["sections"]["freshness"]["latest"] is None
    (card,) = [s for s in data["overview"]["signals"] if s["signal"] == "freshness"]
    assert card["headlines"][0]["value"] == 20.0  # its figures are still shown
    history.engine.dispose()
