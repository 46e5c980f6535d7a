"""Correlation benchmark: the per-response feature join over a large SQLite history.

Generates (and caches under bench/.cache/) a migrated SQLite history with ``--responses``
responses retrieving 5 chunks each (``response_chunks``: 5 rows per response), every
response scored by the grounding job (``response_grounding``) and measured by the
relevance job (``response_retrieval``), and ``--chunks`` chunk states (``chunk_lineage``
and ``chunk_quality`` rows). The rows are made by SQLite itself (recursive CTEs), not in
Python. Each measurement runs in its own process, so its peak RSS is its own:

- scan (reference): ``SELECT count(*), sum(score) FROM response_chunks``, the plain scan
  of the largest table, no join;
- read (reference): ``response_chunks``' rid, position and lineage id read into pandas
  without any join, the way `load_frames` reads the retrieved chunks;
- frames: `load_frames` over the whole window, both frames built (what the correlate job
  does before the analysis);
- analyse: `load_frames` then `monitor.correlation.stats.analyse`, when that module is
  there.

Target (issue 17): the join and the analysis under 30 s on this machine.

    python bench/correlate.py [--responses 1000000] [--chunks 200000]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))

DAY_US = 86_400_000_000
DAYS = 30
START = datetime(2026, 10, 1, tzinfo=UTC)
PER_RESPONSE = 5


def generate(db: Path, responses: int, chunks: int) -> float:
    """A migrated history with the benchmark's rows; returns the seconds it took."""
    from monitor.history import HistoryStore

    started = time.perf_counter()
    history = HistoryStore.open(f"sqlite:///{db}")
    history.engine.dispose()
    start_us = int(START.timestamp() * 1_000_000)
    step = DAYS * DAY_US // responses
    conn = sqlite3.connect(db)
    conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;")
    with conn:
        conn.execute(
            f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {chunks})
INSERT INTO chunk_lineage (id, chunk_id, freshness_run, chunk_class, source_id,
  source_version, current_version, changed_share, stale_age_s, in_conflict)
SELECT i, 'chunk-' || i, 1,
  CASE WHEN i % 20 = 0 THEN 'stale' WHEN i % 53 = 0 THEN 'orphaned'
       WHEN i % 97 = 0 THEN 'moved' WHEN i % 101 = 0 THEN 'suspect' ELSE 'fresh' END,
  'folder' || (i % 40) || '/doc-' || (i / 10) || '.md', 'sha256:x', 'sha256:y',
  CASE WHEN i % 20 = 0 THEN (i % 7) / 10.0 END,
  CASE WHEN i % 20 = 0 THEN 86400.0 * (i % 30) END,
  i % 500 = 0
FROM n"""
        )
        conn.execute(
            f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {chunks})
INSERT INTO chunk_quality (chunk_id, truncated, mid_sentence, junk, tokens, chunking_run,
  updated_us)
SELECT 'chunk-' || i, i % 61 = 0, i % 9 = 0, i % 89 = 0, 40 + i % 200, 2, {start_us} FROM n"""
        )
        conn.execute(
            f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {responses})
INSERT INTO responses (rid, id, at_us, grounding, labels, format, ingested_us)
SELECT i, 'resp-' || i, {start_us} + i * {step}, (abs(random()) % 1000) / 1000.0,
  '{{"session": "s' || (i / 40) || '"}}', 'jsonl', {start_us} FROM n"""
        )
        conn.execute(
            f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {responses}),
p(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM p WHERE k < {PER_RESPONSE - 1})
INSERT INTO response_chunks (rid, position, chunk_id, score, score_kind, lineage_id)
SELECT i, k, 'chunk-' || c, 0.2 + k * 0.05 + (abs(random()) % 100) / 1000.0, 'distance', c
FROM (SELECT i, k, 1 + abs(random()) % {chunks} AS c FROM n, p)
ORDER BY i, k"""
        )
        conn.execute(
            f"""
INSERT INTO response_grounding (rid, at_us, score, band, status, scorer, scored_us)
SELECT rid, at_us, s, CASE WHEN s >= 0.8 THEN 'cite' WHEN s >= 0.5 THEN 'disclaim'
  WHEN s >= 0.3 THEN 'partial' ELSE 'escalate' END, 'scored', 'bench', {start_us}
FROM (SELECT rid, at_us, ((rid * 2654435761) % 1000) / 1000.0 AS s FROM responses)"""
        )
        conn.execute(
            f"""
INSERT INTO response_retrieval (rid, at_us, query_novelty, query_drifted, context_tokens,
  over_budget, relevance_run, computed_us)
SELECT rid, at_us, 0.1, rid % 17 = 0, 900, rid % 23 = 0, 3, {start_us} FROM responses"""
        )
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase(name: str, db: Path) -> dict[str, Any]:
    cpu = time.process_time()
    if name == "scan":
        conn = sqlite3.connect(db)
        started = time.perf_counter()
        rows, _ = conn.execute("SELECT count(*), sum(score) FROM response_chunks").fetchone()
        return {
            "wall": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "rows": rows,
            "peak_rss_mb": _rss_mb(),
        }
    if name == "read":
        import pandas as pd

        conn = sqlite3.connect(db)
        cpu = time.process_time()
        started = time.perf_counter()
        frame = pd.DataFrame.from_records(
            conn.execute("SELECT rid, position, lineage_id FROM response_chunks").fetchall(),
            columns=["rid", "position", "lineage_id"],
        )
        return {
            "wall": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "rows": len(frame),
            "peak_rss_mb": _rss_mb(),
        }
    from monitor.config import config_from_dict
    from monitor.correlation.features import load_frames
    from monitor.history import HistoryStore

    config = config_from_dict(
        {
            "store": {"path": str(db.parent / "chroma"), "collection": "bench"},
            "sources": {"root": str(db.parent)},
            "history": {"url": f"sqlite:///{db}"},
        },
        base_dir=db.parent,
    )
    history = HistoryStore.open(f"sqlite:///{db}")
    import monitor.freshness.results  # noqa: F401  (imported before the clock, as the job has)

    since, until = START, START + timedelta(days=DAYS + 1)
    cpu = time.process_time()
    started = time.perf_counter()
    frames = load_frames(history, config, since=since, until=until)
    joined = time.perf_counter() - started
    out: dict[str, Any] = {
        "join": joined,
        "join_cpu": time.process_time() - cpu,
        "responses": len(frames.responses),
        "rows": len(frames.retrieved),
        "low": int(frames.responses["low"].sum()),
        "any_stale": float(frames.responses["any_stale"].mean()),
    }
    if name == "analyse":
        from monitor.correlation.stats import analyse

        settings = config.correlation
        begun = time.perf_counter()
        analyse(frames.responses, frames.retrieved, settings, documents=frames.documents)
        out["analyse"] = time.perf_counter() - begun
    out["cpu"] = time.process_time() - cpu
    out["wall"] = time.perf_counter() - started
    out["peak_rss_mb"] = _rss_mb()
    history.engine.dispose()
    return out


def child(name: str, db: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--phase", name, "--db", str(db)]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"phase {name} failed (exit {done.returncode})")
    return dict(json.loads(lines[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--chunks", type=int, default=200_000, help="chunk states")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.db)))
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"correlate-{args.responses}-{args.chunks}.db"
    if not db.exists():
        partial = db.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        took = generate(partial, args.responses, args.chunks)
        partial.rename(db)
        print(f"generated {db.name} in {took:.1f} s ({db.stat().st_size / 1e6:.0f} MB)")
    refs = args.responses * PER_RESPONSE
    scan = child("scan", db)
    read = child("read", db)
    has_stats = importlib.util.find_spec("monitor.correlation.stats") is not None
    frames = child("analyse" if has_stats else "frames", db)
    print(
        f"{args.responses:,} responses x {PER_RESPONSE} chunks ({refs:,} retrieved-chunk rows), "
        f"{args.chunks:,} chunk states; load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs (wall times grow with it; CPU seconds do not)"
    )
    print(
        f"  reference scan   count(*) over response_chunks   {scan['wall']:6.2f} s "
        f"(CPU {scan['cpu']:6.2f} s)  "
        f"{scan['rows'] / scan['wall']:>12,.0f} rows/s  peak RSS {scan['peak_rss_mb']:6.0f} MB"
    )
    print(
        f"  reference read   response_chunks into pandas     {read['wall']:6.2f} s "
        f"(CPU {read['cpu']:6.2f} s)  "
        f"{read['rows'] / read['wall']:>12,.0f} rows/s  peak RSS {read['peak_rss_mb']:6.0f} MB"
    )
    print(
        f"  load_frames      join, both frames               {frames['join']:6.2f} s "
        f"(CPU {frames['join_cpu']:6.2f} s)  "
        f"{frames['rows'] / frames['join']:>12,.0f} rows/s  "
        f"peak RSS {frames['peak_rss_mb']:6.0f} MB"
        f"  ({frames['responses']:,} responses, {frames['low']:,} low)"
    )
    if "analyse" in frames:
        print(f"  analyse          statistics on the frames        {frames['analyse']:6.2f} s")
        print(
            f"  join + analysis                                  {frames['wall']:6.2f} s "
            f"(CPU {frames['cpu']:6.2f} s)"
        )
    else:
        print("  analyse          monitor.correlation.stats is not in this tree: join only")
    total = frames["wall"]
    print(f"  target: join + analysis under 30 s: {'met' if total < 30 else 'MISSED'}")


if __name__ == "__main__":
    main()
