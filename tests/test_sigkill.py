"""SIGKILL at random points: `ragmon run freshness` and `ragmon run all` on a small real
store are killed again and again, and after each kill the history must be consistent.

Where to kill is seeded: after a random number of the run's own log lines (``-vv``), plus a
random delay of up to a few hundred milliseconds, so kills land before the run row, while
the audit streams the collection, around the commit of the results and in the after-run
hooks. What is checked is not timing but state:

- every run row is either completed (``ok``/``findings``) with all its figures and
  findings (as many as a clean run of that job stores), or not completed (``running``,
  ``failed``, ``interrupted``) with none;
- the killed run's lock frees itself once its time to live (1 s here) has passed;
- the next run then succeeds, and records a killed run still marked running as
  interrupted.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from jobs import registry
from jobs.registry import load_config
from jobs.runner import execute
from monitor.config import StoreConfig
from monitor.errors import JobLockedError
from monitor.history import HistoryStore
from monitor.history.locks import JobLocks
from monitor.history.models import FindingRow, MetricRow, RunRow
from tests.conftest import fill_collection
from tests.scheduling import RAGMON, wait_for

SEED = 20261127
KILLS = 20
COMPLETED = {"ok", "findings"}
JOBS = ("freshness", "report", "alerts")
"""The jobs `run all` runs here; every other registered job is disabled in the config."""
NOT_COMPLETED = {"running", "failed", "interrupted"}


@dataclass(frozen=True, kw_only=True)
class Killable:
    root: Path
    config: Path

    def history(self) -> HistoryStore:
        return HistoryStore.open(load_config(self.config).history_url)


def _world(root: Path) -> Killable:
    """30 documents of three paragraphs in a collection read two chunks per page; then
    drift (3 documents deleted, 3 edited), so a completed run stores findings too."""
    docs = root / "docs"
    ids, texts, metadatas = [], [], []
    for number in range(30):
        rel = f"section-{number // 10}/doc-{number}.md"
        paragraphs = [
            f"# Document {number}",
            f"Machine {number} is serviced every {number + 2} weeks by the north team.",
            f"Spare parts for machine {number} are kept in cabinet {number % 7}.",
        ]
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
        for index, text in enumerate(paragraphs):
            ids.append(f"{rel}#{index}")
            texts.append(text)
            metadatas.append({"source": rel})
    fill_collection(
        StoreConfig(path=root / "chroma", collection="docs"),
        ids,
        documents=texts,
        metadatas=metadatas,
    )
    for number in range(3):
        (docs / f"section-0/doc-{number}.md").unlink()
        edited = docs / f"section-1/doc-{10 + number}.md"
        edited.write_text(edited.read_text().replace("weeks", "months"), encoding="utf-8")
    config = root / "ragmon.toml"
    config.write_text(
        "\n".join(
            [
                "[store]",
                'path = "chroma"',
                'collection = "docs"',
                "page_size = 2",
                "[sources]",
                'root = "docs"',
                "[freshness]",
                "embedding_sample = 0",  # no model load: a run takes about a second
                "duplicates_sample = 0",
                "[history]",
                f'url = "sqlite:///{root / "history.db"}"',
                "[scheduler]",
                "lock_ttl_seconds = 1",
                "[alerts.channels.file]",
                'kind = "jsonl"',
                'path = "alerts.jsonl"',
                *(
                    f"[jobs.{name}]\nenabled = false"
                    for name in registry.all_jobs()
                    if name not in JOBS
                ),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    return Killable(root=root, config=config)


def _start(world: Killable, job: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(RAGMON), "-vv", "-c", str(world.config), "run", job],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _reference(world: Killable) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """A clean `run all` and `run freshness`: figures and findings per completed run of
    each job, and how many log lines each command writes."""
    lines = {}
    for job in ("all", "freshness"):
        process = _start(world, job)
        _, err = process.communicate(timeout=300)
        assert process.returncode in (0, 1), err
        lines[job] = len(err.splitlines())
    history = world.history()
    try:
        counts = _counts(history)
    finally:
        history.engine.dispose()
    reference: dict[str, tuple[int, int]] = {}
    for _, job, status, metrics, findings in counts:
        assert status in COMPLETED
        assert reference.setdefault(job, (metrics, findings)) == (metrics, findings)
    assert set(reference) == set(JOBS)
    assert reference["freshness"][1] > 0  # the drift gives findings to lose
    return reference, lines


def _counts(history: HistoryStore) -> list[tuple[int, str, str, int, int]]:
    """(run id, job, status, figures, findings) of every run."""
    metrics = (
        select(MetricRow.run_id, func.count().label("n")).group_by(MetricRow.run_id).subquery()
    )
    findings = (
        select(FindingRow.run_id, func.count().label("n")).group_by(FindingRow.run_id).subquery()
    )
    query = (
        select(
            RunRow.id,
            RunRow.job,
            RunRow.status,
            func.coalesce(metrics.c.n, 0),
            func.coalesce(findings.c.n, 0),
        )
        .outerjoin(metrics, metrics.c.run_id == RunRow.id)
        .outerjoin(findings, findings.c.run_id == RunRow.id)
        .order_by(RunRow.id)
    )
    with history.engine.connect() as conn:
        return [(i, j, str(getattr(s, "value", s)), m, f) for i, j, s, m, f in conn.execute(query)]


def _check(history: HistoryStore, reference: dict[str, tuple[int, int]]) -> Counter[str]:
    """Every run complete with all of its results, or incomplete with none of them."""
    statuses: Counter[str] = Counter()
    for run_id, job, status, metrics, findings in _counts(history):
        statuses[status] += 1
        if status in COMPLETED:
            assert (metrics, findings) == reference[job], (run_id, job, status)
        else:
            assert status in NOT_COMPLETED, (run_id, job, status)
            assert (metrics, findings) == (0, 0), (run_id, job, status)
    return statuses


def _lock_free(history: HistoryStore) -> bool:
    now = datetime.now(UTC)
    return all(lease.expired(now) for lease in JobLocks(history.engine).leases())


def test_runs_killed_at_random_points_leave_a_consistent_history(tmp_path):
    world = _world(tmp_path)
    reference, lines = _reference(world)
    config = load_config(world.config)
    rng = random.Random(SEED)
    kills: Counter[str] = Counter()
    landed: Counter[str] = Counter()
    attempts = 0
    history = world.history()
    try:
        while sum(kills.values()) < KILLS:
            attempts += 1
            assert attempts <= 4 * KILLS, f"only {sum(kills.values())} kills landed"
            job = rng.choice(["freshness", "freshness", "all"])
            after_lines = rng.randint(0, lines[job])
            delay = rng.uniform(0.0, 0.4)
            before = len(_counts(history))
            process = _start(world, job)
            assert process.stderr is not None
            for _ in range(after_lines):
                if not process.stderr.readline():
                    break  # it finished first
            time.sleep(delay)  # seeded: only *where* the kill lands depends on it
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills[job] += 1
            process.communicate(timeout=300)
            killed = process.returncode == -signal.SIGKILL

            _check(history, reference)
            if killed:
                new = [row[2] for row in _counts(history)[before:]]
                landed[_where(new)] += 1
                # The killed run's lock frees itself after its time to live ...
                wait_for(lambda: _lock_free(history), timeout=60, what="the lock to expire")
            # ... and the next run proceeds, recording a run left running as interrupted.
            for name in registry.ordered(JOBS) if job == "all" else (job,):
                outcome = _execute_when_free(name, config, history)
                assert outcome.error is None and outcome.status in COMPLETED, outcome
            statuses = _check(history, reference)
            assert statuses["running"] == 0, statuses
    finally:
        history.engine.dispose()
    print(
        f"\n{sum(kills.values())} kills ({dict(kills)}) in {attempts} attempts; "
        f"landed: {dict(landed)}; runs: {dict(statuses)}"
    )
    assert kills["freshness"] and kills["all"]
    assert landed["inside a run"] > 0


def _where(statuses: list[str]) -> str:
    """Where a kill landed, from the run rows the killed command left."""
    if "running" in statuses:
        return "inside a run"
    if statuses:
        return "after a run's results were stored"
    return "before a run started"


def _execute_when_free(job, config, history):
    def attempt():
        try:
            return execute(registry.get(job), config, history)
        except JobLockedError:
            return None  # not expired yet on this host's clock: try again

    return wait_for(attempt, timeout=60, what="the next run to take the lock")


@pytest.fixture(autouse=True)
def _jobs_registered():
    registry.all_jobs()
