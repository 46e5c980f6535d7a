"""The chunking job keeps every chunk's latest flags in the history (``chunk_quality``),
which the correlation job joins with the responses that retrieved the chunk."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from monitor.history import HistoryStore
from tests.chunking_scenarios import ZWSP, chunking_config, run_and_store, write_chunks

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CLEAN = "The badge office issues visitor badges on weekdays. Visitors wear safety glasses."
MID = "and the inspector checks the gripper pads before the first shift starts"
JUNK = f"Spare gripper pads{ZWSP} are kept in cabinet B. Order more when ten remain."
LONG = "Robots are inspected every Monday. " * 60


def _rows(config):
    history = HistoryStore.open(config.history_url)
    try:
        with history.engine.connect() as conn:
            return {
                row[0]: tuple(row[1:])
                for row in conn.execute(
                    text(
                        "SELECT chunk_id, truncated, mid_sentence, junk, tokens, chunking_run "
                        "FROM chunk_quality"
                    )
                )
            }
    finally:
        history.engine.dispose()


def test_chunking_run_upserts_each_chunks_flags(tmp_path, history_url):
    config = chunking_config(tmp_path, history={"url": history_url})
    write_chunks(config.store, {"guide.md": [CLEAN, MID, JUNK, LONG]}, embedded_at=T0)
    first = run_and_store(config)
    rows = _rows(config)
    assert set(rows) == {"guide.md#0", "guide.md#1", "guide.md#2", "guide.md#3"}
    flags = {cid: tuple(bool(v) for v in row[:3]) for cid, row in rows.items()}
    assert flags == {
        "guide.md#0": (False, False, False),
        "guide.md#1": (False, True, False),
        "guide.md#2": (False, False, True),
        "guide.md#3": (True, False, False),
    }
    tokens = {cid: row[3] for cid, row in rows.items()}
    assert tokens["guide.md#3"] > 256 > tokens["guide.md#0"] > 10
    runs = {row[4] for row in rows.values()}
    assert len(runs) == 1 and runs.pop() is not None

    # Re-ingested without the junk and the long chunk: those two rows change, one run on.
    write_chunks(
        config.store,
        {"guide.md": [CLEAN, MID, JUNK.replace(ZWSP, ""), "Robots are inspected on Monday."]},
        embedded_at=T0,
        replace=["guide.md"],
    )
    run_and_store(config)
    again = _rows(config)
    assert len(again) == 4
    assert tuple(bool(v) for v in again["guide.md#2"][:3]) == (False, False, False)
    assert tuple(bool(v) for v in again["guide.md#3"][:3]) == (False, False, False)
    assert again["guide.md#3"][3] < 20
    assert {row[4] for row in again.values()} == {rows["guide.md#0"][4] + 1}
    assert first.details is not None
