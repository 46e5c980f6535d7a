"""`ragmon demo` end to end on a short span: a few simulated days of drift, app traffic and
scheduled jobs, run for real (Chroma, the packaged model, SQLite), found by ragmon."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from statistics import mean

import pytest
from sqlalchemy import select

from jobs import registry
from jobs.demo import run_demo
from jobs.demo_planted import PLANTED
from jobs.demo_rechunk import BAD_DOCUMENTS, OTHER_MODEL, SWAPPED_DOCUMENTS
from jobs.demo_summary import recall_series
from jobs.registry import load_config
from jobs.setup import last_details
from monitor.history import HistoryStore
from monitor.history.models import (
    MetricRow,
    ResponseGroundingRow,
    ResponseRow,
    RunRow,
)

DAYS = 4
END = datetime(2026, 3, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo") / "run"
    worst = run_demo(workdir, days=DAYS, seed=7, quiet=True, end=END)
    history = HistoryStore.open(load_config(workdir / "ragmon.toml").history_url)
    return workdir, history, worst


def _runs(history):
    with history.session() as session:
        return session.execute(select(RunRow.job, RunRow.started_at, RunRow.status)).all()


def _figures(history):
    with history.session() as session:
        rows = session.execute(
            select(RunRow.job, RunRow.started_at, MetricRow.name, MetricRow.labels, MetricRow.value)
            .join(MetricRow, MetricRow.run_id == RunRow.id)
            .order_by(RunRow.started_at, RunRow.job, MetricRow.id)
        ).all()
    return [(j, str(at), n, json.dumps(lab, sort_keys=True), v) for j, at, n, lab, v in rows]


def test_every_job_runs_on_its_schedule_on_every_simulated_day(demo):
    _, history, worst = demo
    days = defaultdict(set)
    for job, started, status in _runs(history):
        assert status in ("ok", "findings"), (job, started, status)
        days[job].add(started.date())
    assert worst == 1  # findings, no failure
    assert set(days) == set(registry.all_jobs())
    span = {END.date().fromordinal(END.date().toordinal() - d) for d in range(1, DAYS + 1)}
    for job, seen in days.items():
        # every job ran on each simulated day of the span (daily jobs once, the others
        # every 6 hours); runs never carry the real date
        assert span <= seen, (job, sorted(seen))
        assert max(seen) <= END.date()
    freshness = [s for j, s, _ in _runs(history) if j == "freshness"]
    assert len(freshness) == 4 * DAYS + 2  # every 6 h, and the morning after the span


def test_planted_problems_are_found_by_their_signals(demo):
    _, history, _ = demo
    fresh = last_details(history, "freshness")
    by_doc = fresh["by_document"]
    status = {doc: d["status"] for doc, d in by_doc.items()}
    assert status["handbook/vacation-policy.md"] == "stale"
    assert [e["diff"] for e in by_doc["handbook/vacation-policy.md"]["edits"].values()] == [
        "- 20 + 25"
    ]
    assert status["products/warranty.txt"] == "stale"
    assert status["handbook/remote-work.md"] == "moved"
    assert status["handbook/policies/remote-work.md"] == "moved"
    assert status["handbook/onboarding.md"] == "moved"
    assert status["faq/it-faq.md"] == "orphaned"
    assert status["handbook/parental-leave.md"] == "missing"
    assert status["handbook/expenses.md"] == "partially_indexed"
    assert "handbook/security-basics.md" not in status  # re-wrapped only: still fresh
    # The planted disagreement (15 vs 20 days of vacation) is one group, newest value marked.
    (group,) = [g for g in fresh["conflicts"] if "vacation" in g["template"]]
    assert {v["value"] for v in group["voices"]} == {"15", "20"}

    chunking = last_details(history, "chunking")
    assert chunking["comparison"]["reference_kind"] == "baseline"
    changed = {c["document"] for c in chunking["comparison"]["documents"]}
    assert changed == set(BAD_DOCUMENTS)

    embedding = last_details(history, "embeddings")["embedding"]
    assert set(embedding["models_in_metadata"]) == {
        "sentence-transformers/all-MiniLM-L6-v2",
        OTHER_MODEL,
    }
    swapped = {m["chunk_id"].split("#")[0] for m in embedding["mismatched"]}
    assert swapped == set(SWAPPED_DOCUMENTS)

    recall = [value for _, value in recall_series(history)]
    assert len(recall) == DAYS + 1
    assert recall[-1] < min(recall[:-2]) - 0.05  # the swap lands on the last day


def test_answers_from_stale_chunks_are_less_grounded(demo):
    workdir, history, _ = demo
    truth = {
        json.loads(line)["id"]: json.loads(line)["kind"]
        for line in (workdir / "demo-truth.jsonl").read_text().splitlines()
    }
    with history.session() as session:
        scored = session.execute(
            select(ResponseRow.id, ResponseGroundingRow.score).join(
                ResponseGroundingRow, ResponseGroundingRow.rid == ResponseRow.rid
            )
        ).all()
    assert len(scored) == len(truth)  # every logged answer was ingested and scored
    by_kind = defaultdict(list)
    for rid, score in scored:
        by_kind[truth[rid]].append(score)
    stale = by_kind["stale"]
    clean = by_kind["grounded"] + by_kind["embellished"]
    assert len(stale) >= 3 and len(clean) >= 30
    assert mean(stale) < mean(clean) - 0.1
    invented = by_kind["invented_cut"] + by_kind["invented_orphan"] + by_kind["own_knowledge"]
    assert mean(invented) < mean(clean) - 0.1


def test_closing_summary_lists_each_planted_problem_and_its_section(demo):
    workdir, _, _ = demo
    summary = (workdir / "demo-summary.txt").read_text()
    for planted in PLANTED:
        assert planted.what in summary
        assert planted.section in summary
    assert "NOT FOUND" not in summary and "WRONGLY" not in summary
    assert summary.count("found;") == len(PLANTED) - 1


def test_same_seed_same_figures(demo, tmp_path):
    workdir, history, _ = demo
    run_demo(tmp_path / "again", days=DAYS, seed=7, quiet=True, end=END)
    again = HistoryStore.open(load_config(tmp_path / "again" / "ragmon.toml").history_url)
    # every figure but the report's size, which holds the working directory's path
    first, second = ([f for f in _figures(h) if f[2] != "report_bytes"] for h in (history, again))
    assert len(first) > 500
    assert [(a, b) for a, b in zip(first, second, strict=False) if a != b] == []
    assert len(first) == len(second)
    logs = sorted((workdir / "logs").glob("*.jsonl"))
    assert [p.read_text() for p in logs] == [
        (tmp_path / "again" / "logs" / p.name).read_text() for p in logs
    ]
