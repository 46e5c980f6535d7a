"""Helpers for response-log tests: ingest files into a real SQLite history and read it back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import text

from monitor.history import HistoryStore
from monitor.logs.files import find_files
from monitor.logs.ingest import IngestReport, ingest_logs, make_log
from monitor.logs.lineage import Lineage
from monitor.logs.settings import LogsSettings


def settings(**values: Any) -> LogsSettings:
    return LogsSettings.model_validate(values)


def ingest(
    tmp_path: Path, logs: LogsSettings, *, lineage: Lineage | None = None, now: Any = None
) -> IngestReport:
    """One ingestion run, as the job does it (a new adapter, state from the database)."""
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    try:
        kwargs = {"now": now} if now is not None else {}
        return ingest_logs(
            history,
            make_log(logs, now=now),
            find_files(logs.paths, tmp_path),
            lineage=lineage or Lineage(run_id=None, audit=None, stamps={}),
            settings=logs,
            quarantine=tmp_path / "quarantine.jsonl",
            **kwargs,
        )
    finally:
        history.engine.dispose()


def ingest_into(history: HistoryStore, base: Path, logs: LogsSettings) -> IngestReport:
    """One ingestion run into ``history`` (SQLite or PostgreSQL), globs relative to
    ``base``, lineage without a freshness run."""
    return ingest_logs(
        history,
        make_log(logs),
        find_files(logs.paths, base),
        lineage=Lineage(run_id=None, audit=None, stamps={}),
        settings=logs,
        quarantine=base / "quarantine.jsonl",
    )


def stored_ids(tmp_path: Path) -> list[str]:
    """Every stored response id, in storage order (duplicates would show twice)."""
    return [row[0] for row in query(tmp_path, "SELECT id FROM responses ORDER BY rid")]


def query(tmp_path: Path, sql: str) -> list[Any]:
    history = HistoryStore.open(f"sqlite:///{tmp_path / 'history.db'}")
    try:
        with history.engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        history.engine.dispose()


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def record(i: int, **extra: Any) -> dict[str, Any]:
    """A flat record in the default mapping's shape."""
    return {
        "id": f"r{i}",
        "timestamp": f"2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "query": f"question {i}",
        "answer": f"answer {i}",
        "chunks": [{"id": f"c{i % 7}", "score": 0.5}, {"id": f"c{(i + 1) % 7}", "score": 0.25}],
        **extra,
    }
