"""The report's correlation section, drawn from a stored `CorrelationResult` in a real
SQLite history: figures with n, wording, escaping, links into the fix queue."""

from __future__ import annotations

import html as htmllib
import json
import re

import numpy as np
from markupsafe import escape

from dashboards.formats import anchor as element_id
from jobs.report import build_report
from monitor.correlation.results import ASSOCIATION, figures, findings
from monitor.correlation.settings import CorrelationSettings
from monitor.correlation.stats import analyse
from monitor.history import HistoryStore
from monitor.records import Metric
from tests.alerting import alert_config, empty_freshness_result, store_run
from tests.correlation_frames import DocState, generate

XSS_DOC = '<img src=x onerror="window.__xss=4">.md'


def test_section_draws_the_stored_result_with_n_wording_escaping_and_fix_queue_links(tmp_path):
    frames = generate(np.random.default_rng(12), stale_docs=5, stale_effect=0.3)
    victim = frames.stale_docs[0]
    retrieved = frames.retrieved.assign(
        source_id=frames.retrieved["source_id"].replace({victim: XSS_DOC})
    )
    documents = dict(frames.documents)
    documents[XSS_DOC] = DocState(status="stale", action="re-embed", fix_rank=1)
    del documents[victim]
    del documents[frames.stale_docs[1]]  # a hotspot that is not in the fix queue
    result = analyse(frames.responses, retrieved, CorrelationSettings(), documents=documents)

    config = alert_config(tmp_path)
    history = HistoryStore.open(config.history_url)
    freshness = empty_freshness_result()
    freshness["fix_queue"] = [
        {"document": d, "action": "re-embed", "reason": "stale", "chunks": 2, "age_days": 3.0}
        for d in documents
    ]
    store_run(history, {"stale_share": 0.1}, details=freshness)
    store_run(
        history,
        [Metric(name=k, value=v) for k, v in figures(result).items()],
        job="correlate",
        findings=tuple(findings(result)),
        details=result.to_json(),
    )
    files = build_report(config, history, out_dir=tmp_path / "out")
    page = files.index.read_text()
    data = json.loads(files.data.read_text())

    section = data["sections"]["correlation"]
    assert section["latest"]["schema"] == "ragmon.correlation/1"
    shown = {f["id"]: f for f in data["figures"] if f["id"].startswith("correlation-")}
    assert set(shown) == {
        "correlation-forest",
        "correlation-rho",
        "correlation-attribution",
        "correlation-lags",
    }
    stale = result.feature("any_stale")
    assert stale is not None
    forest = shown["correlation-forest"]["spec"]
    (found,) = [t for t in forest["data"] if t["name"].startswith("finding")]
    row = f"retrieved a stale chunk (n = {stale.n_with:,} / {stale.n_without:,})"
    assert found["y"] == [row] and found["x"] == [round(stale.diff, 4)]
    assert found["error_x"]["arrayminus"][0] == round(stale.diff - stale.ci_low, 4)
    assert all("(n = " in name for name in forest["layout"]["yaxis"]["categoryarray"])
    bars = shown["correlation-attribution"]["spec"]["data"][0]
    assert bars["x"][0] == f"low-grounding answers (n = {result.n_low:,})"
    assert all("n = " in t["name"] for t in shown["correlation-lags"]["spec"]["data"])

    # Every finding reads as an association; the page says what the analysis is.
    assert htmllib.escape(ASSOCIATION, quote=False) in page
    items = re.findall(r'<ul id="correlation-finding-list">(.*?)</ul>', page, re.S)[0]
    found_names = [f.name for f in result.features if f.status == "finding"]
    assert "any_stale" in found_names
    assert items.count("<li>") == len(found_names) == items.count("not proof of cause")
    assert "retrieved a stale chunk scored" in items

    # Hostile document ids are escaped; hotspots link to their rows in the fix queue.
    assert XSS_DOC not in page and str(escape(XSS_DOC)) in page
    anchor = element_id("fix", XSS_DOC)
    assert f'<tr id="{anchor}">' in page
    links = re.findall(r'<a class="fix-link" href="#(fix-[^"]+)">', page)
    assert anchor in links
    assert all(f'<tr id="{target}">' in page for target in links)
    assert len(links) == len([h for h in result.hotspots if h.fix_rank is not None])
    assert "not in the fix queue" in page  # the hotspot left out of it
    summary = re.findall(r'<p id="correlation-hotspots-summary">(.*?)</p>', page, re.S)[0]
    share = round(result.hotspots[4].cumulative_share_of_low * 100)
    assert f"Fixing these 5 documents touches {share}% of the" in " ".join(summary.split())

    flat = " ".join(page.split())
    a = result.attribution
    assert a is not None and a.lift is not None
    assert (
        f"retrieved at least one stale, orphaned or badly cut chunk, against "
        f"{round(a.share_rest * 100)}% ({a.flagged_rest:,} of {a.n_rest:,}) of the rest: "
        f"a lift of {a.lift:.2f}"
    ) in flat
    assert "&lt; 0.001" in page  # the smallest p a thousand sign flips can give

    (card,) = [s for s in data["overview"]["signals"] if s["signal"] == "correlate"]
    assert card["light"] == "amber" and card["anchor"] == "correlation"
    assert card["headlines"][0]["value"] == 1 + sum(
        f.status == "finding" for f in result.features if f.name != "any_stale"
    )
    history.engine.dispose()


def test_section_without_a_run_and_with_too_short_a_history(tmp_path):
    config = alert_config(tmp_path)
    history = HistoryStore.open(config.history_url)
    page = build_report(config, history, out_dir=tmp_path / "empty").index.read_text()
    assert "No correlation run yet." in page

    frames = generate(np.random.default_rng(2), days=8, per_day=40)
    result = analyse(
        frames.responses, frames.retrieved, CorrelationSettings(), documents=frames.documents
    )
    store_run(history, [], job="correlate", details=result.to_json())
    page = build_report(config, history, out_dir=tmp_path / "short").index.read_text()
    assert "History too short: 8 days of answers; leading indicators need 14" in page, (
        "lag status missing"
    )
    assert 'id="correlation-lags"' not in page
    history.engine.dispose()
