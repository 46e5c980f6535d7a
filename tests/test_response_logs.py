"""Flat response logs (JSONL, gzip, CSV) read incrementally into a real SQLite history."""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.history import HistoryStore
from monitor.history.response_reads import trace_response
from monitor.logs.lineage import Lineage
from tests.logfiles import ingest, jsonl, query, record, settings, stored_ids


def test_nested_mapping_reads_every_field(tmp_path):
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    log.write_text(
        jsonl(
            [
                {
                    "request": {"id": "req-1", "at": 1795773600123},
                    "input": {"question": "How long is the warranty?"},
                    "output": {"text": "Two years.", "context": "Warranty: two years."},
                    "retrieval": {
                        "hits": [
                            {"doc": {"chunk": "w-3"}, "distance": 0.12, "body": "Warranty..."},
                            {"doc": {"chunk": "w-9"}, "distance": 0.4},
                        ]
                    },
                    "eval": {"grounding": 0.82},
                    "user": {"feedback": True, "tier": "gold"},
                    "env": "prod",
                    "latency_ms": 812,
                }
            ]
        )
    )
    logs = settings(
        paths=["logs/*.jsonl"],
        mapping={
            "id": "request.id",
            "time": "request.at",
            "query": "input.question",
            "answer": "output.text",
            "context": "output.context",
            "chunks": "retrieval.hits",
            "chunk_id": "doc.chunk",
            "chunk_score": "distance",
            "chunk_text": "body",
            "score_kind": "distance",
            "grounding": "eval.grounding",
            "feedback": "user.feedback",
            "labels": ["user.tier"],
        },
    )
    report = ingest(tmp_path, logs)
    assert (report.responses, sum(report.rejects.values())) == (1, 0)
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    found = trace_response(history, "req-1")
    assert found is not None
    assert found.at_us == 1795773600123000
    assert (found.query, found.answer) == ("How long is the warranty?", "Two years.")
    assert (found.grounding, found.feedback) == (0.82, "true")
    assert found.labels == {"user.tier": "gold", "env": "prod", "latency_ms": "812"}
    assert [(c.chunk_id, c.score, c.score_kind, c.text) for c in found.chunks] == [
        ("w-3", 0.12, "distance", "Warranty..."),
        ("w-9", 0.4, "distance", None),
    ]
    assert query(tmp_path, "SELECT context FROM responses") == [("Warranty: two years.",)]


def test_gzip_log_is_read_once(tmp_path):
    (tmp_path / "logs").mkdir()
    with gzip.open(tmp_path / "logs" / "app.jsonl.gz", "wt") as out:
        out.write(jsonl([record(i) for i in range(40)]).rstrip("\n"))  # no final newline
    logs = settings(paths=["logs/*.jsonl.gz"])
    first = ingest(tmp_path, logs)
    assert first.responses == 40
    again = ingest(tmp_path, logs)
    assert (again.files_read, again.lines, again.responses) == (0, 0, 0)
    assert stored_ids(tmp_path) == [f"r{i}" for i in range(40)]


def test_csv_with_ids_in_one_cell(tmp_path):
    (tmp_path / "logs").mkdir()
    with (tmp_path / "logs" / "app.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["response_id", "ts", "question", "reply", "chunk_ids", "scores", "team"])
        writer.writerow(
            ["a1", "2026-11-20T10:00:00+01:00", "Q, with comma", "A", "x|y", "0.9|0.8", "ops"]
        )
        writer.writerow(["a2", "2026-11-20T10:01:00Z", "Q2", "A2", '["z"]', "[0.7]", "ops"])
    logs = settings(
        paths=["logs/app.csv"],
        format="csv",
        mapping={
            "id": "response_id",
            "time": "ts",
            "query": "question",
            "answer": "reply",
            "chunk_ids": "chunk_ids",
            "chunk_scores": "scores",
        },
    )
    assert ingest(tmp_path, logs).responses == 2
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    first = trace_response(history, "a1")
    assert first is not None and first.query == "Q, with comma"
    assert first.at_us == datetime(2026, 11, 20, 9, 0, tzinfo=UTC).timestamp() * 1_000_000
    assert [(c.chunk_id, c.score) for c in first.chunks] == [("x", 0.9), ("y", 0.8)]
    assert first.labels == {"team": "ops"}
    second = trace_response(history, "a2")
    assert second is not None and [c.chunk_id for c in second.chunks] == ["z"]


def test_appended_lines_and_a_line_still_being_written(tmp_path):
    log = tmp_path / "app.jsonl"
    log.write_text(jsonl([record(i) for i in range(3)]) + '{"id": "r3", "timest')
    logs = settings(paths=["app.jsonl"])
    assert ingest(tmp_path, logs).responses == 3
    with log.open("a") as out:
        out.write(json.dumps(record(3))[len('{"id": "r3", "timest') :] + "\n")
        out.write(jsonl([record(4)]))
    report = ingest(tmp_path, logs)
    assert (report.responses, report.lines) == (2, 2)
    assert stored_ids(tmp_path) == ["r0", "r1", "r2", "r3", "r4"]


def test_rotation_by_rename_and_create(tmp_path):
    log = tmp_path / "app.jsonl"
    log.write_text(jsonl([record(i) for i in range(5)]))
    logs = settings(paths=["app.jsonl*"])
    assert ingest(tmp_path, logs).responses == 5
    with log.open("a") as out:  # written after the last run, before the rotation
        out.write(jsonl([record(i) for i in range(5, 8)]))
    log.rename(tmp_path / "app.jsonl.1")
    log.write_text(jsonl([record(i) for i in range(8, 12)]))
    report = ingest(tmp_path, logs)
    assert report.responses == 7 and report.duplicates == 0
    assert sorted(stored_ids(tmp_path), key=lambda r: int(r[1:])) == [f"r{i}" for i in range(12)]
    assert ingest(tmp_path, logs).lines == 0


def test_rotation_by_copytruncate(tmp_path):
    log = tmp_path / "app.jsonl"
    log.write_text(jsonl([record(i) for i in range(5)]))
    logs = settings(paths=["app.jsonl*"])
    assert ingest(tmp_path, logs).responses == 5
    with log.open("a") as out:
        out.write(jsonl([record(i) for i in range(5, 7)]))
    shutil.copy(log, tmp_path / "app.jsonl.1")
    with log.open("r+") as out:
        out.truncate(0)
    with log.open("a") as out:
        out.write(jsonl([record(i) for i in range(7, 10)]))
    report = ingest(tmp_path, logs)
    assert report.responses == 5 and report.duplicates == 0
    assert sorted(stored_ids(tmp_path), key=lambda r: int(r[1:])) == [f"r{i}" for i in range(10)]


def test_truncated_and_rewritten_file_is_read_from_its_start(tmp_path):
    log = tmp_path / "app.jsonl"
    log.write_text(jsonl([record(i) for i in range(20)]))
    logs = settings(paths=["app.jsonl"])
    assert ingest(tmp_path, logs).responses == 20
    log.write_text(jsonl([record(i) for i in range(100, 103)]))  # same inode, shorter
    report = ingest(tmp_path, logs)
    assert report.responses == 3


def test_quarantine_counts_are_exact_and_no_valid_line_is_lost(tmp_path):
    good = [record(i) for i in range(90)]
    planted: list[tuple[str, str]] = [
        ("not json at all", "invalid_json"),
        ('{"id": "x1", "timestamp": ', "invalid_json"),
        ("[1, 2, 3]", "wrong_type"),
        (json.dumps({"timestamp": "2026-11-20T10:00:00Z", "query": "no id"}), "missing_field"),
        (json.dumps({"id": "x2", "query": "no time"}), "missing_field"),
        (json.dumps(record(900, timestamp="last tuesday")), "bad_time"),
        (json.dumps(record(901, query=["a", "list"])), "wrong_type"),
        (json.dumps(record(902, chunks=[{"id": "c1", "score": float("nan")}])), "bad_score"),
        (json.dumps(record(903, grounding=1.7)), "bad_score"),
        (json.dumps(record(904, chunks="c1|c2", grounding=float("inf"))), "bad_score"),
    ]
    lines = [json.dumps(r) for r in good]
    expected: dict[int, str] = {}
    for n, (text, _) in enumerate(planted):
        lines.insert(9 * n + 4, text)
    for number, line in enumerate(lines, start=1):
        for text, reason in planted:
            if line == text:
                expected[number] = reason
    (tmp_path / "app.jsonl").write_text("\n".join(lines) + "\n")
    report = ingest(tmp_path, settings(paths=["app.jsonl"]))
    assert report.responses == 90
    assert dict(report.rejects) == {
        "invalid_json": 2,
        "wrong_type": 2,
        "missing_field": 2,
        "bad_time": 1,
        "bad_score": 3,
    }
    quarantined = [json.loads(x) for x in (tmp_path / "quarantine.jsonl").read_text().splitlines()]
    assert {q["line"]: q["reason"] for q in quarantined} == expected
    assert {q["file"] for q in quarantined} == {str(tmp_path / "app.jsonl")}
    assert sorted(query(tmp_path, "SELECT reason, lines FROM log_rejects")) == [
        ("bad_score", 3),
        ("bad_time", 1),
        ("invalid_json", 2),
        ("missing_field", 2),
        ("wrong_type", 2),
    ]


def _committed_offset(db: Path) -> int:
    """The committed offset, read with plain sqlite3 (cheap enough to poll)."""
    import sqlite3

    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT max(offset) FROM log_offsets").fetchone()
    except sqlite3.Error:  # not migrated yet, or busy
        return 0
    return int(row[0] or 0)


def test_kill_mid_file_then_rerun_neither_loses_nor_repeats(tmp_path):
    n = 100_000
    (tmp_path / "app.jsonl").write_text(jsonl([record(i) for i in range(n)]))
    size = (tmp_path / "app.jsonl").stat().st_size
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[2]);"
        "from tests.logfiles import ingest, settings;"
        "ingest(Path(sys.argv[1]), settings(paths=['app.jsonl'], batch_bytes=65536))"
    )
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root}
    child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), root], env=env)
    try:
        offset = 0
        while offset == 0:  # wait for the first committed batch: then it is mid-file
            assert child.poll() is None, "the ingest finished before it could be killed"
            time.sleep(0.02)
            offset = _committed_offset(tmp_path / "history.db")
        child.send_signal(signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
    before = query(tmp_path, "SELECT offset FROM log_offsets")[0][0]
    assert 0 < before < size
    partial = len(stored_ids(tmp_path))
    assert 0 < partial < n
    report = ingest(tmp_path, settings(paths=["app.jsonl"], batch_bytes=65536))
    assert report.duplicates == 0
    ids = stored_ids(tmp_path)
    assert len(ids) == n and set(ids) == {f"r{i}" for i in range(n)}
    assert query(tmp_path, "SELECT count(*) FROM response_chunks") == [(2 * n,)]


@pytest.mark.parametrize("score", ["NaN", "Infinity"])
def test_non_finite_scores_written_by_python_json_are_bad_scores(tmp_path, score):
    line = json.dumps(record(1))[:-1] + f', "grounding": {score}}}'
    (tmp_path / "app.jsonl").write_text(line + "\n")
    report = ingest(tmp_path, settings(paths=["app.jsonl"]))
    assert dict(report.rejects) == {"bad_score": 1}


def test_retention_deletes_old_responses_and_their_counts(tmp_path):
    (tmp_path / "app.jsonl").write_text(
        jsonl([record(1, timestamp="2020-01-01T00:00:00Z"), record(2)])
    )
    ingest(
        tmp_path,
        settings(paths=["app.jsonl"], retention_days=30),
        now=lambda: datetime(2026, 11, 27, tzinfo=UTC),
    )
    assert stored_ids(tmp_path) == ["r2"]
    assert query(tmp_path, "SELECT count(*) FROM response_chunks") == [(2,)]
    assert query(tmp_path, "SELECT sum(retrievals) FROM retrieval_counts") == [(2,)]


def test_a_line_longer_than_a_batch_is_read_whole(tmp_path):
    context = "x" * (3 << 20)  # 3 MB in one line, with 64 KB batches
    (tmp_path / "app.jsonl").write_text(jsonl([record(1), record(2, context=context), record(3)]))
    report = ingest(tmp_path, settings(paths=["app.jsonl"], batch_bytes=65536))
    assert (report.responses, report.lines) == (3, 3)
    assert query(tmp_path, "SELECT length(context) FROM responses WHERE id = 'r2'") == [(3 << 20,)]


def test_the_commented_logs_keys_of_the_starter_config_are_valid():
    import re
    import tomllib

    from jobs.setup import render_config
    from monitor.logs.settings import LogsSettings

    text = render_config(
        store_path="chroma",
        host=None,
        port=8000,
        collection="docs",
        sources_root="docs",
        preset="auto",
    )
    lines = []
    for line in text[text.index("# [logs]") :].splitlines():
        match = re.match(r"^# (\[logs[^\]]*\]|[a-z_]+ = .*?)(\s+#.*)?$", line)
        if match:
            lines.append(match.group(1).split("  #")[0])
        elif not line.startswith("#"):
            break
    logs = LogsSettings.model_validate(tomllib.loads("\n".join(lines))["logs"])
    assert logs.paths == ["/var/log/rag-app/responses.jsonl*"]
    assert logs.mapping.score_kind == "similarity" and logs.retention_days == 90


def test_retrieval_counts_per_chunk_and_day_across_batches_and_runs(history, tmp_path):
    """Counted per (day, chunk) in each batch and added up across batches and runs, the
    same on SQLite and PostgreSQL; a response seen again adds nothing."""
    from monitor.history.response_reads import retrievals_by_chunk
    from tests.logfiles import ingest_into

    def day(i: int) -> str:
        return f"2026-11-{20 + i % 3:02d}T10:00:{i % 60:02d}Z"

    first = [record(i, timestamp=day(i)) for i in range(300)]
    later = [record(i, timestamp=day(i)) for i in range(250, 420)]  # 50 seen before
    logs = settings(paths=["app.jsonl"], batch_bytes=1 << 16, retention_days=100000)

    def run(records: list[dict]) -> None:
        (tmp_path / "app.jsonl").write_text(jsonl(records))
        ingest_into(history, tmp_path, logs)

    run(first)
    run(first + later)  # the file grew: 120 new records and 50 seen before
    expected: dict[tuple[int, str], int] = {}
    for i in range(420):
        for c in record(i)["chunks"]:
            key = (20 + i % 3, c["id"])
            expected[key] = expected.get(key, 0) + 1
    with history.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT day, chunk_id, retrievals FROM retrieval_counts")
        day0 = (datetime(2026, 11, 20, tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)).days
        stored = {(int(d) - day0 + 20, c): int(n) for d, c, n in rows}
    assert stored == expected
    assert sum(retrievals_by_chunk(history, since_us=0).values()) == 840


def test_automatic_garbage_collection_is_restored_after_ingestion(tmp_path):
    """Ingestion pauses the automatic cycle collector while it reads (collecting once per
    batch instead) and leaves it as it found it, also when a batch fails."""
    import gc

    (tmp_path / "app.jsonl").write_text(jsonl([record(i) for i in range(50)]) + "garbage\n")
    logs = settings(paths=["app.jsonl"], batch_bytes=1 << 16)
    assert gc.isenabled()
    assert ingest(tmp_path, logs).responses == 50
    assert gc.isenabled()
    gc.disable()
    try:
        (tmp_path / "app.jsonl").write_text(jsonl([record(i) for i in range(50, 60)]))
        assert ingest(tmp_path, logs).responses == 10
        assert not gc.isenabled()
    finally:
        gc.enable()

    def store_gone(ids: object) -> list:
        raise ConnectionError("the store went away")

    (tmp_path / "app.jsonl").write_text(jsonl([record(i) for i in range(60, 70)]))
    lineage = Lineage(run_id=None, audit=None, stamps={}, lookup=store_gone)
    with pytest.raises(ConnectionError):
        ingest(tmp_path, logs, lineage=lineage)
    assert gc.isenabled()
    assert len(stored_ids(tmp_path)) == 60  # the failed batch stored nothing
