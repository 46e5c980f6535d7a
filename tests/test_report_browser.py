"""The demo's month, its report opened in headless Chromium at 1280 and 1920 px.

The history is the 30-day demo's (real jobs on the real demo store against the simulated
clock), with a hostile document added and audited afterwards. The page is written by the
`report` job itself. Screenshots of the overview and of every section at both widths
are kept in ``$RAGMON_ARTIFACTS/report`` (default ``test-output/report``, gitignored).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboards.registry import sections
from jobs import registry
from jobs.demo import run_demo
from jobs.demo_summary import PLANTED_DOCUMENTS
from jobs.runner import execute
from jobs.setup import last_details
from monitor.correlation.results import CorrelationResult
from monitor.history import HistoryStore
from monitor.records import RunResult
from tests.browser import chromium

ARTIFACTS = (
    Path(os.environ.get("RAGMON_ARTIFACTS") or os.environ.get("RAGMON_TEST_OUTPUT", "test-output"))
    / "report"
)
XSS_NAME = '<img src=x onerror="window.__xss=1">.md'
XSS_TEXT = "<script>window.__xss=2</script>"
DAYS = 9
"""Days of runs before the demo's own: the time axes must read in days."""
SIGNAL_JOBS = ("freshness", "chunking", "embeddings", "relevance", "ingest-logs", "grounding")
WIDTHS = (1280, 1920)
HUMAN_DURATION = re.compile(r"^(—|<1 ms|\d[\d,]*(\.\d)? (ms|s|min|h|d))$")
MILLISECOND_TIME = re.compile(r"\d\d:\d\d:\d\d\.\d")


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HistoryStore]:
    workdir = tmp_path_factory.mktemp("report-days") / "demo"
    run_demo(workdir, days=30, quiet=True)
    config = registry.load_config(workdir / "ragmon.toml")
    history = HistoryStore.open(config.history_url)
    # Text from outside, on every path into the page: a document's name and text, an error.
    hostile = Path(config.sources.root) / XSS_NAME
    hostile.write_text(f"# Hostile\n\n{XSS_TEXT} Staff receive 30 days of leave.\n")
    execute(registry.get("freshness"), config, history)
    if _span_of_runs(history) < timedelta(days=3):  # a one-day demo: give it the days before
        _store_days_before(history, DAYS)
    failed = history.start_run("relevance", started_at=datetime.now(UTC) - timedelta(days=2))
    history.fail_run(failed, f"Chroma unreachable {XSS_TEXT}")
    written = execute(registry.get("report"), config, history)
    assert written.error is None, written.error
    return config.report.out_dir / "index.html", history


def _span_of_runs(history: HistoryStore) -> timedelta:
    runs = history.runs("freshness", limit=1000)
    return runs[0].started_at - runs[-1].started_at if runs else timedelta(0)


def _store_days_before(history: HistoryStore, days: int) -> None:
    """Each signal job's last run, stored once a day for ``days`` days before it, its
    figures growing towards today's; each run took 40 seconds."""
    import monitor.history.store as store

    now = datetime.now(UTC)
    for job in SIGNAL_JOBS:
        last = history.last_success(job)
        assert last is not None, f"the demo ran no {job}"
        metrics, findings = history.metrics(last.id), history.findings(last.id)
        for d in range(days, 0, -1):
            started = now - timedelta(days=d, minutes=SIGNAL_JOBS.index(job))
            factor = 0.4 + 0.6 * (days - d) / days
            scaled = [
                type(m)(name=m.name, value=_grown(m.value, factor), labels=m.labels)
                for m in metrics
            ]
            with pytest.MonkeyPatch.context() as clock:
                clock.setattr(store, "utcnow", lambda s=started: s + timedelta(seconds=40))
                run_id = history.start_run(job, started_at=started)
                history.finish_run(
                    run_id,
                    RunResult(
                        status=last.status,
                        summary=f"{job} on day -{d}",
                        metrics=tuple(scaled),
                        findings=tuple(findings),
                        details=history.details(last.id) or {},
                    ),
                )


def _grown(value: float, factor: float) -> float:
    return float(round(value * factor)) if float(value).is_integer() else value * factor


PAGE_FACTS = """
function lines(el) {
  var range = document.createRange(); range.selectNodeContents(el); var tops = {};
  Array.prototype.forEach.call(range.getClientRects(), function (r) {
    if (r.width > 0) { tops[Math.round(r.top)] = 1; } });
  return Object.keys(tops).length;
}
function overlaps(a, b) {
  return a.left < b.right - 0.5 && b.left < a.right - 0.5
    && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
}
var figs = Array.prototype.map.call(document.querySelectorAll('#overview .fig'), function (fig) {
  var parts = Array.prototype.slice.call(fig.children);
  var boxes = parts.map(function (p) { return p.getBoundingClientRect(); });
  var overlap = false;
  for (var i = 0; i < boxes.length; i++) { for (var j = i + 1; j < boxes.length; j++) {
    if (overlaps(boxes[i], boxes[j])) { overlap = true; } } }
  var value = fig.querySelector('.value'), card = fig.closest('.card').getBoundingClientRect();
  var box = fig.getBoundingClientRect();
  return {card: fig.closest('.card').getAttribute('data-signal'), value: value.textContent.trim(),
          label: fig.querySelector('.label').textContent.trim(),
          value_lines: lines(value), value_height: value.getBoundingClientRect().height,
          delta_lines: Array.prototype.map.call(fig.querySelectorAll('.delta'), lines),
          clipped: value.scrollWidth > value.clientWidth + 1,
          outside: box.left < card.left || box.right > card.right + 0.5, overlap: overlap};
});
var plots = Array.prototype.map.call(document.querySelectorAll('.plot'), function (el) {
  var x = el._fullLayout && el._fullLayout.xaxis;
  return {id: el.id, kinds: (el.data || []).map(function (t) { return t.type; }),
          points: (el.data || []).reduce(function (n, t) {
            return n + ((t.x || t.y || []).length); }, 0),
          type: x ? x.type : null, range: x ? x.range : null, dtick: x ? x.dtick : null,
          ticks: Array.prototype.map.call(el.querySelectorAll('.xtick text'), function (t) {
            return t.textContent; })};
});
var svgText = Array.prototype.map.call(document.querySelectorAll('svg text'), function (t) {
  return t.textContent; }).join('\\n');
var runs = document.querySelectorAll('#runs-table tbody tr');
var broken = Array.prototype.filter.call(document.querySelectorAll('a[href^="#"]'), function (a) {
  return !document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1))); })
  .map(function (a) { return a.getAttribute('href'); });
return {
  width: window.innerWidth, figs: figs, plots: plots,
  notes: Array.prototype.map.call(document.querySelectorAll('.plot-note'), function (n) {
    return [n.id, n.textContent]; }),
  text: document.body.innerText + '\\n' + svgText, broken: broken,
  xss: window.__xss || null,
  durations: Array.prototype.map.call(runs, function (r) { return r.cells[3].textContent.trim(); }),
  own: Array.prototype.map.call(runs, function (r) {
    return [r.cells[0].textContent, r.cells[2].textContent, r.cells[4].textContent]; }),
  report_job: (document.querySelector('#card-monitor tr[data-job="report"]') || {}).innerText,
  sections: Array.prototype.map.call(document.querySelectorAll('main > section'), function (s) {
    return [s.id, s.innerText, s.querySelectorAll('.plot, table tbody tr, table tr').length]; }),
  finding_links: document.querySelectorAll('table.findings a[href^="#fix-"]').length,
  fix_rows: document.querySelectorAll('#fix-queue tbody tr[id^="fix-"]').length
};
"""


def _open(browser: Any, page: Path, width: int) -> dict[str, Any]:
    browser.set_window_size(width, 1400)
    browser.get(page.resolve().as_uri())
    facts: dict[str, Any] = browser.execute_script(PAGE_FACTS)
    facts["errors"] = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Tall enough for the tallest section: an element's screenshot stops at the window.
    tallest = browser.execute_script(
        "return Math.max.apply(null, Array.prototype.map.call("
        "document.querySelectorAll('main > section'), function (s) { return s.offsetHeight; }));"
    )
    browser.set_window_size(width, min(max(1400, tallest + 200), 16000))
    shots = []
    for key in ["overview", *(s.key for s in sections())]:
        element = browser.find_element("id", key)
        browser.execute_script("arguments[0].scrollIntoView();", element)
        path = ARTIFACTS / f"{key}-{width}.png"
        path.unlink(missing_ok=True)
        element.screenshot(str(path))
        shots.append(path)
    facts["shots"] = shots
    return facts


@pytest.fixture(scope="module")
def pages(report_page: tuple[Path, HistoryStore]) -> dict[int, dict[str, Any]]:
    page, _ = report_page
    with chromium(offline=True) as browser:
        return {width: _open(browser, page, width) for width in WIDTHS}


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_opens_cleanly_with_every_section_and_plot_filled(pages, width):
    facts = pages[width]
    assert facts["errors"] == []
    assert width - 20 <= facts["width"] <= width
    assert facts["xss"] is None
    assert XSS_NAME in facts["text"] and XSS_TEXT in facts["text"]  # shown, as text
    assert facts["broken"] == [], "every in-page link lands on an element"
    by_id = {s[0]: s for s in facts["sections"]}
    assert set(by_id) == {"overview", *(s.key for s in sections())}
    for key, text, parts in facts["sections"]:
        assert parts > 0, f"section {key} is empty"
        assert not re.search(r"^No (completed|response logs|grounding run)", text, re.M), key
    plots = {p["id"]: p for p in facts["plots"]}
    assert {"freshness-classes", "chunking-shares", "relevance-self", "responses-volume"} <= set(
        plots
    )
    assert all(p["points"] > 0 for p in plots.values()), plots
    # Only figures that are not series of runs may stand as a sentence.
    assert {n for n, _ in facts["notes"]} <= {
        "freshness-age-distribution-note",
        "grounding-bands-note",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_time_axes_read_in_days(pages, width):
    dated = [p for p in pages[width]["plots"] if p["type"] == "date"]
    assert len(dated) >= 5
    for plot in dated:
        first, last = (datetime.fromisoformat(v[:19]) for v in plot["range"])
        if set(plot["kinds"]) == {"scatter"}:  # figures of runs; the bars are days of answers
            assert last - first >= timedelta(days=DAYS), plot
        assert plot["dtick"] % 86_400_000 == 0, plot  # a tick per day (or per week)
        assert plot["ticks"] and all(
            re.fullmatch(r"[A-Z][a-z]{2} \d{1,2}", t) for t in plot["ticks"]
        )


@pytest.mark.parametrize("width", WIDTHS)
def test_durations_in_human_units_never_si_prefixes(pages, width):
    facts = pages[width]
    assert "µ" not in facts["text"]
    assert not MILLISECOND_TIME.search(facts["text"])
    assert facts["durations"] and all(HUMAN_DURATION.match(d) for d in facts["durations"])
    (age,) = [f for f in facts["figs"] if f["label"] == "staleness age p95"]
    assert HUMAN_DURATION.match(age["value"]), age


@pytest.mark.parametrize("width", WIDTHS)
def test_overview_figures_do_not_wrap_into_their_labels(pages, width):
    figs = pages[width]["figs"]
    cards = {f["card"] for f in figs}
    assert {"freshness", "chunking", "relevance", "grounding"} <= cards
    for fig in figs:
        assert fig["value_lines"] == 1 and fig["value_height"] < 40, fig
        assert all(n == 1 for n in fig["delta_lines"]), fig
        assert not fig["clipped"] and not fig["outside"] and not fig["overlap"], fig


def test_sections_link_to_their_findings_and_the_fix_queue(pages, report_page):
    facts = pages[WIDTHS[0]]
    assert facts["fix_rows"] >= 5
    assert facts["finding_links"] >= 3  # findings whose document has a fix-queue row
    page, history = report_page[0].read_text(encoding="utf-8"), report_page[1]
    linked = 0
    for key, job in (
        ("freshness", "freshness"),
        ("chunking", "chunking"),
        ("grounding", "grounding"),
        ("correlation", "correlate"),
    ):
        last = history.last_success(job)
        assert last is not None, job
        if history.findings(last.id):  # a run that found nothing has nothing to link to
            assert f'href="#{key}-findings"' in page and f'id="{key}-findings"' in page
            linked += 1
    assert linked >= 3
    ids = re.findall(r'<[a-z0-9]+[^>]*\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_the_report_job_shows_as_finished_in_its_own_report(pages):
    facts = pages[WIDTHS[0]]
    assert "running" not in facts["report_job"] and "ok" in facts["report_job"]
    own = [row for row in facts["own"] if row[0] == "report" and row[2] == "this report"]
    assert [row[1] for row in own] == ["ok"]


def test_screenshots_of_the_overview_and_every_section_at_both_widths_are_kept(pages):
    shots = [path for width in WIDTHS for path in pages[width]["shots"]]
    assert len(shots) == 2 * (1 + len(sections()))
    for path in shots:
        assert path.is_file() and path.stat().st_size > 2_000, path


def test_the_month_shows_staleness_as_the_top_correlation_finding(report_page):
    """The demo's app answers worse from stale chunks: the correlation finds that, worded
    as an association, and its top hotspot is a document the demo made stale."""
    path, history = report_page
    result = CorrelationResult.from_json(last_details(history, "correlate") or {})
    found = sorted(
        (f for f in result.features if f.status == "finding" and f.kind == "binary"),
        key=lambda f: f.diff or 0,
    )
    assert found and found[0].name == "any_stale", [(f.name, f.diff) for f in found]
    stale = found[0]
    assert stale.diff is not None and stale.ci_high is not None and stale.ci_high < -0.2
    top = result.hotspots[0]
    assert top.source_id in PLANTED_DOCUMENTS and top.status == "stale", top
    page = path.read_text(encoding="utf-8")
    assert "answers that retrieved a stale chunk scored" in page
    summary = (path.parents[2] / "demo-summary.txt").read_text(encoding="utf-8")
    assert f"top hotspot: {top.source_id} (stale)" in summary
    assert "a document the demo planted a problem in" in summary
