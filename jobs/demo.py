"""`ragmon demo`: index the bundled corpus, let it drift the way real corpora do, run the jobs."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jobs.ui import console


@dataclass(frozen=True)
class Drift:
    """One change made to the sources after indexing, and what ragmon should make of it."""

    path: str
    what: str
    apply: Callable[[Path], None]


def _replace(old: str, new: str) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise RuntimeError(f"demo corpus changed: {old!r} not found in {path}")
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return apply


def _reflow(path: Path) -> None:
    """Re-wrap every paragraph to other line lengths: a whitespace-only edit."""
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r"(?<=\w) (?=\w)", "\n", text, count=40), encoding="utf-8")


def _append(section: str) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(section)

    return apply


def _delete(path: Path) -> None:
    path.unlink()


def _move(to: str) -> Callable[[Path], None]:
    def apply(path: Path) -> None:
        root = path
        while root.name != "docs":
            root = root.parent
        (root / to).parent.mkdir(parents=True, exist_ok=True)
        path.rename(root / to)

    return apply


NEW_DOCUMENT = """# Parental leave

Northwind Robotics offers 16 weeks of fully paid parental leave to every employee who
becomes a parent through birth, adoption or foster placement, regardless of gender.
Leave can be taken in up to three blocks within the first 18 months.

Tell your manager and People Operations at least eight weeks before the first block.
"""

NEW_SECTION = """
## Travel booked through the portal

From January, every trip over 300 EUR must be booked through the travel portal. Receipts
for portal bookings are attached automatically; claims for trips booked elsewhere will be
returned unpaid unless Finance approved an exception in writing beforehand.
"""

DRIFTS = [
    Drift(
        "handbook/vacation-policy.md",
        "policy changed: 20 -> 25 days of vacation",
        _replace("20 days of paid vacation", "25 days of paid vacation"),
    ),
    Drift(
        "products/warranty.txt",
        "warranty period changed: 24 -> 36 months",
        _replace("24 months", "36 months"),
    ),
    Drift("handbook/expenses.md", "new section appended (never embedded)", _append(NEW_SECTION)),
    Drift("faq/it-faq.md", "deleted from the sources", _delete),
    Drift(
        "handbook/remote-work.md",
        "moved to handbook/policies/remote-work.md",
        _move("handbook/policies/remote-work.md"),
    ),
    Drift("handbook/onboarding.md", "re-wrapped lines only (must not count as a change)", _reflow),
]


DEMO_ALERTS = """
# Added by `ragmon demo`: alerts on the console and in a JSON Lines file.
[alerts.channels.console]
kind = "console"

[alerts.channels.file]
kind = "jsonl"
path = ".ragmon/alerts.jsonl"

# Staleness is counted per chunk: the demo's two changed numbers are 2 of 63 chunks.
[[alerts.rules]]
name = "stale-share"
threshold = 0.02
"""


def run_demo(workdir: Path, *, quiet: bool = False) -> int:
    """Run the demo in ``workdir`` (recreated); return the worst exit code of its jobs."""
    from jobs import registry
    from jobs.demo_logs import DEMO_LOGS, write_demo_log
    from jobs.demo_rechunk import rechunk_badly
    from jobs.runner import execute, standard_hooks
    from jobs.setup import last_details, queue_with_retrievals, render_config, run_index
    from jobs.status import job_statuses
    from jobs.ui import render_fix_queue, render_outcome, render_status
    from monitor.history import HistoryStore
    from monitor.ingest import plan_index
    from monitor.sources.directory import DirectoryCatalog
    from monitor.stores import open_store

    out = console(quiet)
    if workdir.exists():
        shutil.rmtree(workdir)
    docs = workdir / "docs"
    _copy_corpus(docs)
    config_path = workdir / "ragmon.toml"
    rendered = render_config(
        store_path="chroma",
        host=None,
        port=8000,
        collection="handbook",
        sources_root="docs",
        preset="auto",
    )
    config_path.write_text(rendered + DEMO_ALERTS + DEMO_LOGS, encoding="utf-8")
    config = registry.load_config(config_path)
    out.rule("1. Index the sample corpus")
    run_index(config, None, dry_run=False, quiet=quiet)

    with open_store(config.store) as store:
        logged = write_demo_log(store, workdir / "logs/responses.jsonl")
    out.print(f"  the app logged {logged} responses to logs/responses.jsonl")

    history = HistoryStore.open(config.history_url)
    out.rule("2. Measure how the corpus is cut (ragmon run chunking)")
    render_outcome(execute(registry.get("chunking"), config, history), quiet=quiet)

    out.rule("3. The corpus drifts; nobody re-indexes; a new pipeline re-ingests three files")
    _write_new(docs / "handbook/parental-leave.md")
    out.print("  added    handbook/parental-leave.md (never indexed)")
    for drift in DRIFTS:
        drift.apply(docs / drift.path)
        out.print(f"  {drift.path}: {drift.what}")
    for line in rechunk_badly(config):
        out.print(line)

    out.rule("4. What changed since the last index (ragmon index --dry-run)")
    with open_store(config.store) as store:
        plan = plan_index(DirectoryCatalog.from_config(config.sources), store)
    out.print(plan.describe(), markup=False)

    worst = 0
    jobs = registry.all_jobs()
    if jobs:
        out.rule("5. Run every job (ragmon run all)")
    for name in jobs:
        outcome = execute(jobs[name], config, history, hooks=standard_hooks())
        render_outcome(outcome, quiet=quiet)
        worst = max(worst, 3 if outcome.error else int(outcome.status == "findings"))
    out.rule("ragmon status")
    render_status(job_statuses(config, history), quiet=quiet)
    details = last_details(history, "freshness")
    if details is not None and not quiet:
        out.rule("ragmon fix-queue")
        render_fix_queue(queue_with_retrievals(history, details, config), "table")
    report = config.report.out_dir / "index.html"
    if report.is_file():
        out.print(f"\nHTML report: {report.resolve()}", markup=False)
    alerts = workdir / ".ragmon" / "alerts.jsonl"
    if alerts.is_file():
        out.print(f"Alerts (one JSON object per line): {alerts.resolve()}", markup=False)
    out.print(
        f"\nThe demo store, sources and config are in {workdir}/. Try:\n"
        f"  ragmon -c {config_path} status\n"
        f"  ragmon -c {config_path} alerts list\n"
        f"  ragmon -c {config_path} run freshness --json\n"
        f"  ragmon -c {config_path} trace demo-0000\n"
        f"  ragmon -c {config_path} report --serve\n"
        f"  ragmon -c {config_path} index --dry-run",
        markup=False,
    )
    return worst


def _copy_corpus(target: Path) -> None:
    corpus = resources.files("jobs").joinpath("demo_corpus")
    with resources.as_file(corpus) as source:
        shutil.copytree(source, target)


def _write_new(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(NEW_DOCUMENT, encoding="utf-8")
