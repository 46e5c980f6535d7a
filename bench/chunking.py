"""Chunking-quality benchmark: the chunking job against a plain paged scan of the same store.

Builds (once, cached under bench/.cache/) a Chroma collection of synthetic prose chunks
with ragmon's metadata: most documents cut at sentence boundaries within the model's
window, a tenth cut into 1,600-character windows (over the window, mid-sentence, inside
words), a footer line in a twentieth of the chunks, zero-width spaces in one chunk in fifty,
headings and tables here and there. Vectors are random and 16-dimensional: neither phase
reads them. Then, each in its own child process (so each has its own peak RSS), times a
plain paged `collection.get` of text and metadata, and the `chunking` job (tokenizer
load, features, snapshot, comparison with no reference, result) on the same collection.
Targets: the job under 60 s and within 3x the scan's wall time.

    python bench/chunking.py [--chunks 200000] [--docs 20000] [--seed 7] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CACHE = REPO / "bench" / ".cache"
PAGE = 1000
DIM = 16
BATCH = 5000
WINDOW_CHARS = 1600
FOOTER = "Was this page helpful? Tell the knowledge-base team on the intranet."
EMBEDDED_AT = datetime(2025, 6, 1, tzinfo=UTC)
_VOCABULARY = """
the of and to in a is that for it as was with be by on not this are or from at which but
have an they you were her she there one all we their has been if more when will would
who so no river signal model index vector store document source chunk library garden
window morning evening winter summer station harbour market village mountain valley
forest meadow bridge tower engine letter report review table record number value measure
system network process method result change season weather traveller teacher student
doctor farmer writer painter builder keeper reader quiet bright early late small large
green silver golden narrow broad careful simple common rare ancient modern northern
southern open closed heavy light warm cold slow quick gentle steady walks writes reads
builds carries finds keeps holds opens closes watches follows gathers remembers explains
describes returns arrives leaves crosses shows needs makes takes gives brings sends
turns moves stands rests begins ends across along behind beneath beyond during through
toward under within without again always often never perhaps still already almost
together slowly quickly calibration gripper firmware controller warranty expenses
"""
WORDS = np.array(_VOCABULARY.split())


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def sentences(rng: np.random.Generator, count: int) -> list[str]:
    lengths = rng.integers(6, 22, size=count)
    words = WORDS[rng.integers(0, len(WORDS), size=int(lengths.sum()))].tolist()
    out, pos = [], 0
    for n in lengths.tolist():
        text = " ".join(words[pos : pos + n])
        pos += n
        out.append(text[0].upper() + text[1:] + ".")
    return out


def document_chunks(rng: np.random.Generator, count: int, bad: bool) -> list[str]:
    """``count`` chunks of one document: whole sentences, or (bad) fixed-size windows."""
    if bad:
        text = " ".join(sentences(rng, count * 14))
        pieces = [text[i : i + WINDOW_CHARS] for i in range(0, len(text), WINDOW_CHARS)]
        return (pieces + [pieces[-1]] * count)[:count]
    chunks = []
    for _ in range(count):
        body = " ".join(sentences(rng, int(rng.integers(2, 12))))
        kind = rng.random()
        if kind < 0.05:
            body = "## " + " ".join(WORDS[rng.integers(0, len(WORDS), 3)]).title() + "\n\n" + body
        elif kind < 0.07:
            rows = [f"| {w} | {int(rng.integers(1, 999))} |" for w in WORDS[rng.integers(0, 50, 4)]]
            body = body + "\n\n| name | value |\n|---|---|\n" + "\n".join(rows)
        chunks.append(body)
    return chunks


def ensure_corpus(chunks: int, docs: int, seed: int) -> Path:
    root = CACHE / f"chunking-{chunks}-{docs}-{seed}"
    if (root / ".complete").is_file():
        log(f"[gen] reusing {root.relative_to(REPO)}")
        return root
    if root.exists():
        shutil.rmtree(root)
    import chromadb
    from chromadb.config import Settings

    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    per_doc = 1 + rng.multinomial(chunks - docs, [1 / docs] * docs)
    client = chromadb.PersistentClient(
        path=str(root / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection("bench", embedding_function=None)
    batch: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": []}
    added = 0
    for d, count in enumerate(per_doc.tolist()):
        doc_id = f"docs/d{d:05d}.md"
        bad = d % 10 == 0
        stamp = (EMBEDDED_AT + timedelta(days=3 if bad else 0, seconds=d)).isoformat()
        for i, text in enumerate(document_chunks(rng, count, bad)):
            if rng.random() < 0.05:
                text += "\n\n" + FOOTER
            if rng.random() < 0.02:
                text = text[:40] + "\u200b" + text[40:]
            batch["ids"].append(f"{doc_id}#{i}")
            batch["documents"].append(text)
            batch["metadatas"].append(
                {"ragmon_source_id": doc_id, "ragmon_chunk_index": i, "ragmon_embedded_at": stamp}
            )
        if len(batch["ids"]) >= BATCH:
            n = len(batch["ids"])
            collection.add(embeddings=rng.standard_normal((n, DIM)).astype(np.float32), **batch)
            added += n
            for values in batch.values():
                values.clear()
            log(f"[gen] {added}/{chunks} chunks ({time.perf_counter() - start:.0f} s)")
    if batch["ids"]:
        n = len(batch["ids"])
        collection.add(embeddings=rng.standard_normal((n, DIM)).astype(np.float32), **batch)
    assert collection.count() == chunks, collection.count()
    (root / ".complete").write_text(datetime.now(UTC).isoformat() + "\n")
    log(f"[gen] done in {time.perf_counter() - start:.0f} s")
    return root


def phase_scan(root: Path) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings

    start = time.perf_counter()
    client = chromadb.PersistentClient(
        path=str(root / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.get_collection("bench", embedding_function=None)
    seen = offset = 0
    while True:
        page = collection.get(limit=PAGE, offset=offset, include=["documents", "metadatas"])
        got = len(page["ids"])
        seen += got
        offset += got
        if got < PAGE:
            break
    return {"wall": time.perf_counter() - start, "chunks": seen}


def phase_job(root: Path) -> dict[str, Any]:
    import chromadb  # noqa: F401  (imported before the clock, as the scan does)

    from jobs.chunking import run_chunking
    from monitor.config import config_from_dict
    from monitor.history import HistoryStore

    with tempfile.TemporaryDirectory(prefix="ragmon-bench-") as tmp:
        config = config_from_dict(
            {
                "store": {"path": str(root / "chroma"), "collection": "bench", "page_size": PAGE},
                "sources": {"root": str(root)},
            },
            base_dir=root,
        )
        history = HistoryStore.open(f"sqlite:///{tmp}/history.db")
        start = time.perf_counter()
        result = run_chunking(config, history, quiet=True)
        wall = time.perf_counter() - start
        details = dict(result.details)
    snap = details["snapshot"]
    return {
        "wall": wall,
        "chunks": snap["chunks"],
        "summary": result.summary,
        "shares": snap["shares"],
        "boilerplate": [b["text"] for b in snap["boilerplate"]],
        "batches": [(b["documents"], b["chunks"]) for b in snap["batches"]],
        "details_bytes": len(json.dumps(details)),
    }


def child(phase: str, root: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--phase", phase, "--corpus", str(root)]
    done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, cwd=REPO)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": f"{phase} child exited {done.returncode}; see its stderr"}
    return json.loads(lines[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--phase", choices=["scan", "job"], help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        root = Path(args.corpus)
        out = phase_scan(root) if args.phase == "scan" else phase_job(root)
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(out), flush=True)
        return 0
    root = ensure_corpus(args.chunks, args.docs, args.seed)
    runs: dict[str, list[dict[str, Any]]] = {"scan": [], "job": []}
    for rep in range(args.repeat):
        for phase in ("scan", "job"):
            log(f"[bench] repetition {rep + 1}/{args.repeat}: {phase}")
            runs[phase].append(child(phase, root))
    failed = [r for rs in runs.values() for r in rs if "error" in r]
    if failed:
        print(failed[0]["error"])
        return 3
    n = args.chunks
    scan = statistics.median(r["wall"] for r in runs["scan"])
    job = statistics.median(r["wall"] for r in runs["job"])
    print(f"{n} chunks, {args.docs} documents; median of {args.repeat} repetition(s)\n")
    print(f"{'phase':<16} {'wall s':>8} {'chunks/s':>10} {'peak RSS MB':>12}")
    for label, key, wall in (("plain scan", "scan", scan), ("chunking job", "job", job)):
        rss = max(r["rss_mb"] for r in runs[key])
        print(f"{label:<16} {wall:>8.2f} {n / wall:>10.0f} {rss:>12.1f}")
    last = runs["job"][-1]
    print(f"\njob/scan {job / scan:.2f}x; details JSON {last['details_bytes'] / 1e6:.2f} MB")
    print(f"summary: {last['summary']}")
    print(f"boilerplate: {last['boilerplate']}; batches (documents, chunks): {last['batches']}")
    targets = [
        (f"job under 60 s ({job:.1f} s)", job < 60),
        (f"job within 3x the scan ({job / scan:.2f}x)", job <= 3 * scan),
        (f"every chunk measured ({last['chunks']})", last["chunks"] == n),
    ]
    print("\ntargets:")
    for label, ok in targets:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
