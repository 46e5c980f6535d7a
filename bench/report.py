"""Report benchmark: render 90 days of hourly freshness runs; print time and page size.

Fills a fresh SQLite history (cached under bench/.cache/) with one freshness run an hour
for 90 days, each with the figures the real job stores and, for the last run, a full
result (fix queue, conflicts, per-document detail). Then renders the report and prints
its wall time and the size of index.html, beside a reference measured in the same run:
a plain SELECT of every figure in the window.

Targets: render under 10 s; index.html under 5 MB.

    python bench/report.py [--days 90] [--documents 2000]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import config_from_dict  # noqa: E402
from monitor.history import HistoryStore  # noqa: E402
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity  # noqa: E402

CLASSES = ["fresh", "stale", "suspect", "orphaned", "moved", "untraceable", "unverified"]
DOC_CLASSES = [
    "fresh",
    "stale",
    "partially_indexed",
    "suspect",
    "unverified",
    "orphaned",
    "moved",
    "missing",
]


def fill(history: HistoryStore, *, days: int, documents: int, now: datetime) -> int:
    rng = random.Random(7)
    start = now - timedelta(days=days)
    runs = days * 24
    for hour in range(runs):
        at = start + timedelta(hours=hour)
        stale = max(0, int(400 + 300 * rng.random() + hour * 0.5))
        chunks = {c: rng.randint(0, 50) for c in CLASSES}
        chunks["stale"], chunks["fresh"] = stale, 200_000 - stale
        docs = {c: rng.randint(0, 20) for c in DOC_CLASSES}
        labels = {"collection": "docs"}
        metrics = [
            Metric(name="chunks", value=v, labels={**labels, "class": k}) for k, v in chunks.items()
        ]
        metrics += [
            Metric(name="documents", value=v, labels={**labels, "class": k})
            for k, v in docs.items()
        ]
        metrics += [
            Metric(name="stale_share", value=stale / 200_000, labels=labels),
            Metric(name="orphan_share", value=chunks["orphaned"] / 200_000, labels=labels),
            Metric(name="coverage", value=0.98, labels=labels),
            *(
                Metric(
                    name="staleness_age_seconds",
                    value=rng.uniform(1, 30) * 86400 * q,
                    labels={**labels, "stat": s},
                )
                for s, q in (("p50", 0.5), ("p95", 0.9), ("max", 1.0))
            ),
        ]
        last = hour == runs - 1
        details = _details(rng, documents) if last else {}
        run_id = history.start_run("freshness", started_at=at)
        history.finish_run(
            run_id,
            RunResult(
                status=RunStatus.FINDINGS,
                summary=f"{stale} stale",
                metrics=tuple(metrics),
                findings=(Finding(kind="stale", severity=Severity.WARNING, message="m"),),
                details=details,
            ),
        )
    return runs


def _details(rng: random.Random, documents: int) -> dict:
    """The last run's stored result: a typed `FreshnessResult` with a long fix queue."""
    from monitor.freshness.fixqueue import FixItem
    from monitor.freshness.results import (
        AgeStats,
        ClassCounts,
        DocumentVerdict,
        FreshnessResult,
        Shares,
        TextCheck,
    )
    from monitor.freshness.states import ChunkClass, DocClass

    queue = tuple(
        FixItem(
            document=f"docs/section-{i // 50}/page-{i}.md",
            action=rng.choice(["re-embed", "delete", "ingest", "re-point", "review"]),
            reason="source hash changed",
            chunks=rng.randint(1, 40),
            age_days=round(rng.uniform(0, 90), 2),
        )
        for i in range(documents)
    )
    return FreshnessResult(
        collection="docs",
        store="/srv/chroma",
        audited_at=datetime.now(UTC),
        chunks=200_000,
        documents=20_000,
        counts=ClassCounts(
            chunks=dict.fromkeys(ChunkClass, 1), documents=dict.fromkeys(DocClass, 1)
        ),
        shares=Shares(stale=0.05, orphaned=0.01, coverage=0.98),
        staleness_age_seconds=AgeStats(),
        newest_embedding=None,
        newest_source_change=None,
        text_check=TextCheck(
            rule="verbatim", loader_rewrote_text=False, checked=0, verbatim=0, aligned_closely=0
        ),
        models_in_metadata={"m": 200_000},
        conflicts=(),
        untraceable=(),
        source_reads=0,
        source_problems=(),
        by_document={
            q.document: DocumentVerdict(
                status=DocClass.STALE,
                chunk_ids={},
                rules={},
                stale_age_seconds=(q.age_days or 0) * 86400,
            )
            for q in queue
        },
        fix_queue=queue,
    ).to_json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--documents", type=int, default=2000, help="fix-queue length")
    args = parser.parse_args()
    from jobs.report import build_report

    cache = ROOT / "bench" / ".cache" / f"report-{args.days}d-{args.documents}"
    cache.mkdir(parents=True, exist_ok=True)
    db = cache / "history.db"
    now = datetime(2026, 11, 24, tzinfo=UTC)
    fresh = not db.exists()
    history = HistoryStore.open(f"sqlite:///{db}")
    if fresh:
        began = time.perf_counter()
        runs = fill(history, days=args.days, documents=args.documents, now=now)
        print(f"filled {runs} runs in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "docs").mkdir()
        config = config_from_dict(
            {
                "store": {"path": "chroma"},
                "sources": {"root": "docs"},
                "history": {"url": f"sqlite:///{db}"},
                "report": {"since_days": args.days + 1},
            },
            base_dir=Path(tmp),
        )
        began = time.perf_counter()
        with history.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "select m.name, m.value, m.labels, r.started_at from metrics m "
                    "join runs r on r.id = m.run_id where r.started_at >= :since"
                ),
                {"since": (now - timedelta(days=args.days + 1)).replace(tzinfo=None)},
            ).all()
        reference = time.perf_counter() - began
        began = time.perf_counter()
        files = build_report(config, history, out_dir=Path(tmp) / "out", now=now)
        render = time.perf_counter() - began
        size = files.size_bytes
        json_size = files.data.stat().st_size
    print(
        f"history: {args.days} days of hourly runs, {len(rows):,} figures, "
        f"fix queue of {args.documents} documents"
    )
    print(f"{'step':<44} {'seconds':>8}")
    print(f"{'reference: SELECT every figure in the window':<44} {reference:>8.2f}")
    print(f"{'ragmon report (load, draw, write)':<44} {render:>8.2f}")
    print(
        f"index.html {size / 1e6:.2f} MB, report.json {json_size / 1e6:.2f} MB "
        "(plotly.min.js 4.6 MB beside them, shared)"
    )
    ok = render < 10 and size < 5e6
    print(f"target: render < 10 s and index.html < 5 MB -> {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
