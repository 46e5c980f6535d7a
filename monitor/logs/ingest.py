"""Ingesting response logs: every configured file from where the last run stopped.

Per batch (about ``logs.batch_bytes`` of lines): parse, look the chunk ids up in the
lineage, append rejected lines to the quarantine file, then store the responses, their
chunks, the counts and the file's new offset in one transaction. Rejected lines are
written before the commit, so a crash in between may repeat one in the quarantine file
but never loses one; their counts are in the database and exact.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from monitor import clock
from monitor.errors import LogLineError
from monitor.history.responses import (
    Located,
    Written,
    apply_retention,
    forget_offsets,
    load_offsets,
    load_pending,
    write_batch,
)
from monitor.history.store import HistoryStore
from monitor.logs.files import FileState, first_line, has_news, read_blocks, resume_point
from monitor.logs.lineage import Lineage
from monitor.logs.settings import LogsSettings
from monitor.logs.textmatch import TextMatches
from monitor.logs.values import epoch_us
from monitor.ports import ResponseLog
from monitor.records import ResponseRecord

log = logging.getLogger(__name__)
Rejected = tuple[str, int, LogLineError, bytes]
"""A line that went to the quarantine: file, line number, why, and the line."""
QUARANTINE_TEXT = 10_000
"""Characters of a rejected line kept in the quarantine file."""


@dataclass(kw_only=True)
class IngestReport:
    """What one ingestion did."""

    files: int = 0
    files_read: int = 0
    bytes_read: int = 0
    lines: int = 0
    responses: int = 0
    duplicates: int = 0
    chunk_refs: int = 0
    unknown_chunks: int = 0
    rejects: Counter[str] = field(default_factory=Counter)
    text_matches: TextMatches | None = None
    """Chunks the log named only by text, matched against the store (None: no store)."""
    expired: int = 0
    waiting: int = 0
    deleted: int = 0

    def add(self, written: Written) -> None:
        self.responses += written.inserted
        self.duplicates += written.duplicates
        self.chunk_refs += written.chunk_refs
        self.unknown_chunks += written.unknown_chunks


def make_log(settings: LogsSettings, *, now: Callable[[], datetime] | None = None) -> ResponseLog:
    """The adapter for ``settings.format``; ``now`` is the clock trace formats note first
    sight of a trace by (the same clock `ingest_logs` expires them by)."""
    if settings.format == "openinference":
        from monitor.logs.openinference import OpenInferenceLog

        return OpenInferenceLog(
            score_kind=settings.score_kind,
            grounding_attribute=settings.grounding_attribute,
            feedback_attribute=settings.feedback_attribute,
            now=now,
        )
    if settings.format == "genai":
        from monitor.logs.genai import GenAILog

        return GenAILog(score_kind=settings.score_kind, now=now)
    from monitor.logs.flat import FlatLog

    return FlatLog(settings.mapping, csv_format=settings.format == "csv")


def ingest_logs(
    history: HistoryStore,
    reader: ResponseLog,
    files: Sequence[Path],
    *,
    lineage: Lineage,
    settings: LogsSettings,
    quarantine: Path,
    now: Callable[[], datetime] = clock.now,
) -> IngestReport:
    """Read what is new in ``files`` into the history; return what was done."""
    report = IngestReport(files=len(files))
    known = load_offsets(history)
    stored_pending = load_pending(history, reader.format)
    reader.restore(stored_pending)
    saved = [stored_pending]
    lineage_rows: dict[str, int] = {}

    def store(located: list[Located], bad: list[Rejected], offset: FileState | None) -> None:
        pending = reader.pending()
        changed: bytes | bool | None = pending if pending != saved[0] else False
        if bad:
            _quarantine(quarantine, bad)
        located = _identified(located, lineage)
        ids = {c.id for item in located for c in item.record.chunks if c.id is not None}
        rejects = Counter((path, exc.reason) for path, _, exc, _ in bad)
        report.rejects.update(exc.reason for _, _, exc, _ in bad)
        written = write_batch(
            history,
            located,
            fmt=reader.format,
            lineage=lineage.classify(ids),
            rejects=rejects,
            offset=offset,
            pending=changed,
            now_us=epoch_us(now()),
            lineage_rows=lineage_rows,
        )
        saved[0] = pending
        report.add(written)
        gc.collect(0)  # the batch's cyclic garbage (a rejected line's traceback): see below

    with _cycle_collection_per_batch():
        _read_files(files, known, reader, settings, report, store)
    expired: list[Located] = []
    lost: list[Rejected] = []
    for item in reader.expire(now() - timedelta(seconds=settings.trace_wait_seconds)):
        report.expired += 1
        if isinstance(item, LogLineError):
            lost.append(("(traces)", 0, item, b""))
        else:
            expired.append(Located(record=item, file="(expired traces)", line=0))
    if expired or lost or reader.pending() != saved[0]:
        store(expired, lost, None)
    report.waiting = getattr(reader, "waiting", 0)
    report.text_matches = lineage.texts.counts if lineage.texts is not None else None
    gone = [p for p in known if not Path(p).exists()]
    if gone:
        forget_offsets(history, gone)
    cutoff = now() - timedelta(days=settings.retention_days)
    report.deleted = apply_retention(history, before_us=epoch_us(cutoff))
    return report


def _read_files(
    files: Sequence[Path],
    known: Mapping[str, FileState],
    reader: ResponseLog,
    settings: LogsSettings,
    report: IngestReport,
    store: Callable[[list[Located], list[Rejected], FileState | None], None],
) -> None:
    """Parse what is new in each file, a block at a time, and ``store`` each block."""
    for path in files:
        state = resume_point(path, known)
        if not has_news(path, state):
            continue
        report.files_read += 1
        name = str(path)
        try:
            reader.begin(name, first_line(path) if reader.format == "csv" else None)
        except LogLineError as exc:
            store([], [(name, 1, exc, b"")], None)
            continue
        start = state.offset
        for block in read_blocks(path, state, settings.block_bytes):
            located: list[Located] = []
            bad: list[Rejected] = []
            number = block.first_line
            for line in block.lines:
                if line and not line.isspace():
                    _parse(reader, line, name, number, located, bad)
                number += 1
            report.lines += len(block.lines)
            store(located, bad, block.state)
            report.bytes_read += block.state.offset - start
            start = block.state.offset


@contextlib.contextmanager
def _cycle_collection_per_batch() -> Iterator[None]:
    """Pause Python's automatic cycle collection while files are read.

    Parsing makes millions of short-lived dicts and lists without cycles, freed by
    reference counting alone; but the automatic collector, triggered by allocation
    counts, would rescan the young objects every 700 allocations: about a fifth of the
    ingestion time (1M flat records). Instead each stored batch collects the youngest
    generation once (`store`), which frees the few cycles a batch makes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse(
    reader: ResponseLog,
    line: bytes,
    name: str,
    number: int,
    located: list[Located],
    bad: list[Rejected],
) -> None:
    try:
        found = reader.parse(line)
    except LogLineError as exc:
        bad.append((name, number, exc, line))
        return
    for item in found:
        if isinstance(item, ResponseRecord):
            located.append(Located(item, name, number))
        else:
            bad.append((name, number, item, line))


def _identified(located: list[Located], lineage: Lineage) -> list[Located]:
    """``located`` with store ids for the chunks its records name only by text."""
    if lineage.texts is None:
        return located
    out = []
    for item in located:
        chunks = item.record.chunks
        found = lineage.identify(chunks)
        if found is not chunks:
            item = item._replace(record=replace(item.record, chunks=found))
        out.append(item)
    return out


def _quarantine(path: Path, bad: list[Rejected]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as out:
        for file, number, exc, line in bad:
            text = line[:QUARANTINE_TEXT].decode("utf-8", errors="replace")
            out.write(
                orjson.dumps(
                    {
                        "file": file,
                        "line": number,
                        "reason": exc.reason,
                        "detail": exc.detail,
                        "text": text,
                    }
                )
                + b"\n"
            )
