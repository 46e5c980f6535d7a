"""Builders for scheduling tests: a small real Chroma world, configs, the real `ragmon`."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jobs import registry
from monitor.config import StoreConfig
from monitor.history import HistoryStore
from monitor.records import RunRecord, RunStatus
from tests.conftest import fill_collection

RAGMON = Path(sys.executable).parent / "ragmon"

DOCS = {
    "handbook/inspections.md": [
        "# Inspections",
        "Robots in the north hall are inspected every Monday before the first shift.",
        "Spare gripper pads are kept in cabinet B; order more below ten.",
    ],
    "faq/visitors.md": [
        "# Visitors",
        "Visitors must be escorted at all times and wear safety glasses.",
    ],
}


@dataclass(frozen=True, kw_only=True)
class World:
    """A source directory, a Chroma collection built from it, and a history database."""

    root: Path
    docs: Path
    store: Path
    history_url: str

    def config(
        self,
        *,
        schedule: str | None = None,
        scheduler: dict[str, int] | None = None,
        extra: str = "",
        enabled: bool = True,
    ) -> Path:
        """Write a config with only `freshness` enabled (plus ``extra``) and return its path."""
        lines = [
            "[store]",
            'path = "chroma"',
            'collection = "docs"',
            "[sources]",
            'root = "docs"',
            "[freshness]",
            "embedding_sample = 0",  # no model load: runs take a fraction of a second
            "duplicates_sample = 0",
            "[history]",
            f'url = "{self.history_url}"',
            "[scheduler]",
            *(f"{key} = {value}" for key, value in (scheduler or {}).items()),
            "[jobs.freshness]",
            *([f'schedule = "{schedule}"'] if schedule else []),
            *([] if enabled else ["enabled = false"]),
        ]
        for other in registry.all_jobs():
            if other != "freshness" and f"[jobs.{other}]" not in extra:
                lines += [f"[jobs.{other}]", "enabled = false"]
        path = self.root / "ragmon.toml"
        path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
        return path

    def history(self) -> HistoryStore:
        return HistoryStore.open(self.history_url)


def world_chunks() -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Ids, texts and metadata of the world's chunks: exactly the paragraphs of `DOCS`."""
    ids, texts, metadatas = [], [], []
    for rel, paragraphs in DOCS.items():
        for index, text in enumerate(paragraphs):
            ids.append(f"{rel}#{index}")
            texts.append(text)
            metadatas.append({"source": rel})
    return ids, texts, metadatas


def build_world(root: Path, *, history_url: str | None = None) -> World:
    """Docs and a collection whose chunks are exactly their paragraphs (all fresh); the
    history in a SQLite file under ``root`` unless ``history_url`` names another."""
    docs = root / "docs"
    for rel, paragraphs in DOCS.items():
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n\n".join(paragraphs) + "\n", encoding="utf-8")
    ids, texts, metadatas = world_chunks()
    fill_collection(
        StoreConfig(path=root / "chroma", collection="docs"),
        ids,
        documents=texts,
        metadatas=metadatas,
    )
    return World(
        root=root,
        docs=docs,
        store=root / "chroma",
        history_url=history_url or f"sqlite:///{root / 'history.db'}",
    )


def ragmon(*args: str | Path, **kwargs: Any) -> subprocess.Popen[str]:
    """Start the installed `ragmon` with ``args``; output to pipes unless told otherwise."""
    kwargs.setdefault("stdout", subprocess.PIPE)
    kwargs.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([str(RAGMON), *map(str, args)], text=True, **kwargs)


class SchedulerProcess:
    """`ragmon -v -c CONFIG --log-file LOG schedule` in a subprocess."""

    def __init__(self, config: Path, log: Path):
        self.log = log
        self.output = log.with_suffix(".out")
        self._out = self.output.open("w")
        self.process = ragmon(
            "-v", "-c", config, "--log-file", log, "schedule", stdout=self._out, stderr=self._out
        )

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8") if self.log.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._out.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._out.close()

    def check_alive(self) -> None:
        code = self.process.poll()
        assert code is None, (
            f"the scheduler exited with {code}:\n{self.output.read_text()}\n{self.log_text()}"
        )


def wait_for(
    predicate: Callable[[], Any], *, timeout: float, what: str, every: float = 0.05
) -> Any:
    """Poll ``predicate`` until it returns something truthy, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def runs(history: HistoryStore, job: str = "freshness") -> list[RunRecord]:
    """Runs of ``job``, oldest first."""
    return list(reversed(history.runs(job, limit=10_000)))


def finished(history: HistoryStore, job: str = "freshness") -> list[RunRecord]:
    return [r for r in runs(history, job) if r.status is not RunStatus.RUNNING]


def assert_disjoint(intervals: Sequence[tuple[datetime, datetime]]) -> None:
    """No two ``(start, end)`` intervals overlap."""
    ordered = sorted(intervals)
    for (start_a, end_a), (start_b, end_b) in itertools.pairwise(ordered):
        assert end_a <= start_b, f"[{start_a}, {end_a}] overlaps [{start_b}, {end_b}]"
