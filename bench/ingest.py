"""Log ingestion benchmark: flat JSONL and OpenInference OTLP traces into SQLite.

Generates (and caches under bench/.cache/) a flat JSONL log of ``--records`` responses
with 5 retrieved chunks each (about 450 bytes a line) and an OTLP JSON log of
``--traces`` OpenInference traces in the collector's file format (root CHAIN, RETRIEVER
with 5 documents, LLM; one export batch of several traces per line, spans children
first). Each measurement runs in its own process, so its peak RSS is its own:

- parse: the same block reader and the same JSON parser (orjson), nothing stored;
- ingest: `ingest_logs` into a fresh SQLite history, end to end;
- again: a second ingest over the unchanged files (must read 0 bytes);
- floor: the rows the ingest stored (one response row and one row per retrieved chunk),
  inserted again into a fresh history of the same schema with nothing else to do: the
  fastest any ingestion into these tables can go on this machine.

Targets: flat >= 150,000 records/s, OTLP >= 30,000 traces/s, peak RSS < 1 GB and flat in
file size, a second run reads nothing.

    python bench/ingest.py [--records 1000000] [--traces 200000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
sys.path.insert(0, str(ROOT))

WORDS = tuple(
    [
        "robot",
        "gripper",
        "firmware",
        "update",
        "warranty",
        "cabinet",
        "badge",
        "visitor",
        "shift",
        "inspection",
        "cable",
        "guide",
        "emergency",
        "stop",
        "order",
        "delivery",
        "week",
        "intranet",
        "form",
        "pad",
        "line",
        "lead",
        "self",
        "test",
    ]
)


def make_flat(path: Path, records: int, chunk_pool: int) -> None:
    import orjson

    rng = random.Random(1)
    pool = [f"chunk-{i:07d}-{rng.getrandbits(32):08x}" for i in range(chunk_pool)]
    start = 1_790_000_000_000
    with path.open("wb") as out:
        buf = []
        for i in range(records):
            chunks = [
                {"id": pool[rng.randrange(chunk_pool)], "score": round(rng.random(), 4)}
                for _ in range(5)
            ]
            buf.append(
                orjson.dumps(
                    {
                        "id": f"resp-{i:09d}",
                        "timestamp": start + i * 50,
                        "query": " ".join(rng.choices(WORDS, k=8)),
                        "answer": " ".join(rng.choices(WORDS, k=24)),
                        "retrieval": {"chunks": chunks},
                        "grounding": round(rng.random(), 3),
                        "feedback": rng.choice(["up", "down", None]),
                        "user": f"u{rng.randrange(1000)}",
                        "env": "prod",
                    }
                )
            )
            if len(buf) == 10_000:
                out.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            out.write(b"\n".join(buf) + b"\n")


def _attr(key: str, value: object) -> dict[str, object]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def make_otlp(path: Path, traces: int, chunk_pool: int, per_line: int = 4) -> None:
    import orjson

    rng = random.Random(2)
    pool = [f"chunk-{i:07d}-{rng.getrandbits(32):08x}" for i in range(chunk_pool)]
    start_ns = 1_790_000_000_000_000_000
    resource_attrs = [_attr("service.name", "rag-app")]
    with path.open("wb") as out:
        spans: list[dict[str, object]] = []
        for t in range(traces):
            trace = f"{rng.getrandbits(128):032x}"
            root, ret, llm = (f"{rng.getrandbits(64):016x}" for _ in range(3))
            t0 = start_ns + t * 50_000_000
            query = " ".join(rng.choices(WORDS, k=8))
            docs = [pool[rng.randrange(chunk_pool)] for _ in range(5)]
            ret_attrs = [_attr("openinference.span.kind", "RETRIEVER"), _attr("input.value", query)]
            for n, d in enumerate(docs):
                ret_attrs += [
                    _attr(f"retrieval.documents.{n}.document.id", d),
                    _attr(f"retrieval.documents.{n}.document.score", round(rng.random(), 4)),
                    _attr(f"retrieval.documents.{n}.document.metadata", '{"source": "a.md"}'),
                ]
            answer = " ".join(rng.choices(WORDS, k=24))

            def span(
                sid: str, parent: str, name: str, offset: int, attrs: list, trace=trace, t0=t0
            ) -> dict:
                return {
                    "traceId": trace,
                    "spanId": sid,
                    "parentSpanId": parent,
                    "name": name,
                    "kind": 1,
                    "startTimeUnixNano": str(t0 + offset),
                    "endTimeUnixNano": str(t0 + offset + 1000),
                    "attributes": attrs,
                    "status": {},
                }

            spans += [
                span(ret, root, "VectorStoreRetriever", 1000, ret_attrs),
                span(
                    llm,
                    root,
                    "ChatModel",
                    2000,
                    [
                        _attr("openinference.span.kind", "LLM"),
                        _attr("llm.token_count.prompt", 812),
                        _attr("output.value", answer),
                    ],
                ),
                span(
                    root,
                    "",
                    "RunnableSequence",
                    0,
                    [
                        _attr("openinference.span.kind", "CHAIN"),
                        _attr("input.value", query),
                        _attr("output.value", answer),
                    ],
                ),
            ]
            if (t + 1) % per_line == 0 or t == traces - 1:
                line = {
                    "resourceSpans": [
                        {
                            "resource": {"attributes": resource_attrs},
                            "scopeSpans": [
                                {
                                    "scope": {"name": "openinference.instrumentation.langchain"},
                                    "spans": spans,
                                }
                            ],
                        }
                    ]
                }
                out.write(orjson.dumps(line) + b"\n")
                spans = []


def child(kind: str, fmt: str, file: str, db: str) -> None:
    """One measurement, in its own process: print JSON with the rate and peak RSS."""
    import orjson

    from monitor.history import HistoryStore
    from monitor.logs.files import read_blocks, resume_point
    from monitor.logs.ingest import ingest_logs, make_log
    from monitor.logs.lineage import Lineage
    from monitor.logs.settings import LogsSettings

    if kind == "floor":
        print(json.dumps(insert_floor(Path(db))))
        return
    path = Path(file)
    cpu = time.process_time()
    settings = LogsSettings.model_validate(
        {"paths": [file], "format": fmt, "mapping": {"chunks": "retrieval.chunks"}}
    )
    began = time.perf_counter()
    if kind == "parse":
        lines = 0
        for block in read_blocks(path, resume_point(path, {}), settings.block_bytes):
            for line in block.lines:
                orjson.loads(line)
            lines += len(block.lines)
        out = {"lines": lines}
    else:
        history = HistoryStore.open(f"sqlite:///{db}")
        report = ingest_logs(
            history,
            make_log(settings),
            [path],
            lineage=Lineage(run_id=None, audit=None, stamps={}),
            settings=settings,
            quarantine=Path(db).with_suffix(".quarantine.jsonl"),
        )
        out = {
            "lines": report.lines,
            "responses": report.responses,
            "bytes_read": report.bytes_read,
            "rejects": sum(report.rejects.values()),
        }
    out["seconds"] = time.perf_counter() - began
    out["cpu_seconds"] = time.process_time() - cpu
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def insert_floor(ingested: Path, per_batch: int = 12_500) -> dict[str, float]:
    """The rows an ingest stored, inserted again into a fresh history of the same schema:
    pre-built tuples, executemany, one transaction per batch, nothing else. Only the
    inserts are timed: the rate no ingestion into these tables can beat."""
    import sqlite3

    from monitor.history import HistoryStore

    target = ingested.with_name("floor.db")
    HistoryStore.open(f"sqlite:///{target}").engine.dispose()  # the schema, by migration
    src, dst = sqlite3.connect(ingested), sqlite3.connect(target)
    dst.execute("PRAGMA journal_mode=WAL")
    top = src.execute("SELECT coalesce(max(rid), 0) FROM responses").fetchone()[0]
    seconds = cpu = 0.0

    def marks(n: int) -> str:
        return ", ".join("?" * n)

    for first in range(1, top + 1, per_batch):
        span = (first, first + per_batch - 1)
        responses = src.execute("SELECT * FROM responses WHERE rid BETWEEN ? AND ?", span)
        response_rows = responses.fetchall()
        chunks = src.execute("SELECT * FROM response_chunks WHERE rid BETWEEN ? AND ?", span)
        chunk_rows = chunks.fetchall()
        began, began_cpu = time.perf_counter(), time.process_time()
        with dst:
            dst.executemany(f"INSERT INTO responses VALUES ({marks(13)})", response_rows)
            dst.executemany(f"INSERT INTO response_chunks VALUES ({marks(7)})", chunk_rows)
        seconds += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
    return {"responses": top, "seconds": seconds, "cpu_seconds": cpu}


def measure(kind: str, fmt: str, file: Path, db: Path) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, fmt, str(file), str(db)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(label: str, fmt: str, file: Path, unit: str, count: int) -> None:
    size = file.stat().st_size
    parse = measure("parse", fmt, file, Path("/dev/null"))
    with tempfile.TemporaryDirectory(prefix="ragmon-bench-") as tmp:
        db = Path(tmp) / "history.db"
        first = measure("ingest", fmt, file, db)
        again = measure("ingest", fmt, file, db)
        db_mb = db.stat().st_size / 2**20
        floor = measure("floor", fmt, file, db)
    mb = size / 2**20
    print(
        f"{label}: {count:,} {unit} in {mb:,.0f} MB (wall rate, then per CPU second: the"
        f" machine is shared)\n"
        f"  reference, raw parse (orjson, same reader, same run):\n"
        f"                                   {parse['lines'] / parse['seconds']:>10,.0f} lines/s"
        f"  {parse['lines'] / parse['cpu_seconds']:>10,.0f} lines/CPU-s"
        f"  ({mb / parse['cpu_seconds']:,.0f} MB/CPU-s), peak RSS {parse['peak_rss_mb']:,.0f} MB\n"
        f"  ingest into SQLite:              {count / first['seconds']:>10,.0f} {unit}/s"
        f"  {count / first['cpu_seconds']:>10,.0f} {unit}/CPU-s"
        f"  ({first['seconds']:.1f} s wall, {first['cpu_seconds']:.1f} s CPU;"
        f" {first['responses']:,} stored, {first['rejects']} rejected),"
        f" peak RSS {first['peak_rss_mb']:,.0f} MB, database {db_mb:,.0f} MB\n"
        f"  reference, insert floor (the stored rows again, pre-built, executemany into the"
        f" same tables, same run):\n"
        f"                                   {floor['responses'] / floor['seconds']:>10,.0f}"
        f" {unit}/s  {floor['responses'] / floor['cpu_seconds']:>10,.0f} {unit}/CPU-s"
        f"  ({floor['seconds']:.1f} s for {floor['responses']:,} responses with their chunks)\n"
        f"  second run over the same file:   {again['bytes_read']} bytes read,"
        f" {again['responses']} stored, {again['seconds']:.2f} s",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="flat JSONL responses")
    parser.add_argument("--traces", type=int, default=200_000, help="OTLP traces")
    parser.add_argument("--chunks", type=int, default=50_000, help="distinct chunk ids")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    CACHE.mkdir(parents=True, exist_ok=True)
    flat = CACHE / f"responses-{args.records}.jsonl"
    otlp = CACHE / f"traces-{args.traces}.otlp.jsonl"
    if args.records and not flat.exists():
        print(f"generating {flat} ...", flush=True)
        make_flat(flat, args.records, args.chunks)
    if args.traces and not otlp.exists():
        print(f"generating {otlp} ...", flush=True)
        make_otlp(otlp, args.traces, args.chunks)
    if args.records:
        run("flat JSONL", "jsonl", flat, "records", args.records)
    if args.traces:
        run("OpenInference OTLP", "openinference", otlp, "traces", args.traces)


if __name__ == "__main__":
    main()
