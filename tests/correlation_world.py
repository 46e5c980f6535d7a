"""A small real world for the correlation tests: a LangChain-built Chroma collection over
a few documents, one edited, one deleted, two that disagree; a real freshness run, a real
chunking run, and a flat JSONL response log ingested through `ragmon run ingest-logs`."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from jobs.cli import cli
from jobs.registry import load_config
from monitor.config import Config
from monitor.stores.chroma import open_client
from tests.freshness_scenarios import langchain_index, long_doc, make_config, write
from tests.logfiles import jsonl

ZWSP = "\u200b"
CLAIM = "acme is a mature library with more than {n} tests and a stable public interface."
JUNK = f"# Junk\n\nSpare pads{ZWSP} are kept in cabinet D. Order more when few remain.\n"
STALE_DAYS = 3


def run_cli(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@dataclass(frozen=True)
class World:
    path: Path
    """The ragmon.toml."""
    config: Config
    ids: dict[str, list[str]]
    """Chunk ids per document, in the order LangChain split them."""
    texts: dict[str, str]
    """Chunk text per chunk id."""
    now: datetime


def build_world(tmp_path: Path, embedder: Any, history_url: str) -> World:
    docs = tmp_path / "docs"
    write(docs, "guide/a.md", long_doc("A"))
    write(docs, "guide/b.md", long_doc("B"))
    write(docs, "c.md", long_doc("C"))
    write(docs, "claims/about.md", f"# About\n\n{CLAIM.format(n=1000)}\n")
    write(docs, "claims/index.md", f"# Index\n\n{CLAIM.format(n=2000)}\n")
    write(docs, "junk.md", JUNK)
    now = time.time()
    for age_days, name in [(30, "claims/about.md"), (10, "claims/index.md")]:
        os.utime(docs / name, (now - age_days * 86400, now - age_days * 86400))
    fast = {"embedding_sample": 0, "duplicates_sample": 1000}
    config = make_config(tmp_path, tmp_path / "chroma", "world", docs, freshness=fast)
    ids = langchain_index(config.store, docs, embedder, recorded_prefix="docs/")
    collection = open_client(config.store).get_collection("world", embedding_function=None)
    got = collection.get(ids=[i for v in ids.values() for i in v], include=["documents"])
    texts = dict(zip(got["ids"], got["documents"], strict=True))
    # a.md: one word edited three days ago; b.md deleted
    (docs / "guide/a.md").write_text(long_doc("A").replace("cabinet B", "cabinet C"))
    stale_at = now - STALE_DAYS * 86400
    os.utime(docs / "guide/a.md", (stale_at, stale_at))
    (docs / "guide/b.md").unlink()
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\ncollection = "world"\n'
        '[sources]\nroot = "docs"\n'
        f'[history]\nurl = "{history_url}"\n'
        "[freshness]\nembedding_sample = 0\nduplicates_sample = 1000\n"
        '[logs]\npaths = ["logs/*.jsonl"]\nwindow_days = 7\n'
        '[logs.mapping]\nscore_kind = "distance"\n',
        encoding="utf-8",
    )
    assert run_cli("-c", str(path), "--quiet", "run", "freshness").exit_code == 1  # findings
    assert run_cli("-c", str(path), "--quiet", "run", "chunking").exit_code in (0, 1)
    return World(
        path=path,
        config=load_config(path),
        ids=ids,
        texts=texts,
        now=datetime.fromtimestamp(now, UTC),
    )


def chunk_with(world: World, doc: str, words: str) -> str:
    """The id of ``doc``'s chunk whose text holds ``words``."""
    (found,) = [i for i in world.ids[doc] if words in world.texts[i]]
    return found


def response(
    rid: str, at: datetime, chunks: list[tuple[str, float]], grounding: float | None, **extra: Any
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": rid,
        "timestamp": at.isoformat(),
        "query": f"question {rid}",
        "answer": f"answer {rid}",
        "chunks": [{"id": cid, "score": score} for cid, score in chunks],
        **extra,
    }
    if grounding is not None:
        record["grounding"] = grounding
    return record


def ingest(world: World, records: list[dict[str, Any]]) -> dict[str, Any]:
    log = world.path.parent / "logs" / "app.jsonl"
    log.parent.mkdir(exist_ok=True)
    log.write_text(jsonl(records))
    result = run_cli("-c", str(world.path), "run", "ingest-logs", "--json")
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.output)["result"])


def days_ago(world: World, days: float) -> datetime:
    return world.now - timedelta(days=days)
