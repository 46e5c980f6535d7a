"""`ragmon run freshness` and `ragmon fix-queue` from the command line; read-only guarantees."""

from __future__ import annotations

import csv
import hashlib
import io
import json

from click.testing import CliRunner

from jobs.cli import cli
from monitor.freshness.results import FreshnessResult
from monitor.freshness.states import DocClass
from tests.freshness_scenarios import long_doc, make_config, ragmon_index, write


def _world(tmp_path, embedder, **sections):
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A"))
    write(docs, "b.md", long_doc("B", "Orders ship within 5 working days."))
    config = make_config(tmp_path, tmp_path / "chroma", "cli-docs", docs, **sections)
    ragmon_index(config, embedder)
    path = tmp_path / "ragmon.toml"
    snapshot = "snapshot = true\n" if sections.get("store", {}).get("snapshot") else ""
    path.write_text(
        f'[store]\npath = "chroma"\ncollection = "cli-docs"\n{snapshot}'
        f'[sources]\nroot = "docs"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n',
        encoding="utf-8",
    )
    return path, docs


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_healthy_store_exits_0_and_quiet_prints_nothing(tmp_path, embedder):
    config, _ = _world(tmp_path, embedder)
    result = _run("-c", str(config), "--quiet", "run", "freshness")
    assert result.exit_code == 0
    assert result.output == ""


def test_threshold_crossed_exits_1_and_json_follows_the_schema(tmp_path, embedder):
    config, docs = _world(tmp_path, embedder)
    (docs / "b.md").write_text(long_doc("B", "Orders ship within 9 working days."))
    result = _run("-c", str(config), "run", "freshness", "--json")
    assert result.exit_code == 1
    payload = json.loads(result.output)
    assert payload["job"] == "freshness" and payload["status"] == "findings"
    body = payload["result"]
    assert body["schema"] == "ragmon.freshness/2"
    assert body["by_document"]["b.md"]["status"] == "stale"
    assert set(body["counts"]["chunks"]) == {
        "fresh",
        "stale",
        "suspect",
        "orphaned",
        "moved",
        "untraceable",
        "unverified",
        "unreadable",
    }
    assert {c["rule"]: c["crossed"] for c in payload["thresholds"]}["stale-share"] is True
    assert FreshnessResult.from_json(body).by_document["b.md"].status is DocClass.STALE


def test_fix_queue_as_json_and_csv(tmp_path, embedder):
    config, docs = _world(tmp_path, embedder)
    (docs / "a.md").unlink()
    write(docs, "c.md", "# C\n\nNew text nobody indexed.\n")
    _run("-c", str(config), "run", "freshness")

    as_json = json.loads(_run("-c", str(config), "fix-queue", "--format", "json").output)
    assert sorted((i["document"], i["action"]) for i in as_json) == [
        ("a.md", "delete"),
        ("c.md", "ingest"),
    ]
    assert as_json[0]["age_days"] >= as_json[1]["age_days"]
    rows = list(
        csv.DictReader(io.StringIO(_run("-c", str(config), "fix-queue", "--format", "csv").output))
    )
    assert sorted((r["document"], r["action"]) for r in rows) == [
        ("a.md", "delete"),
        ("c.md", "ingest"),
    ]
    assert set(rows[0]) == {
        "document",
        "action",
        "chunks",
        "age_days",
        "changed_share",
        "low_grounding",
        "retrievals",
        "target",
        "reason",
    }


def test_fix_queue_before_any_run_says_what_to_do(tmp_path, embedder):
    config, _ = _world(tmp_path, embedder)
    result = CliRunner().invoke(cli, ["-c", str(config), "fix-queue"])
    assert result.exit_code == 2
    assert "No completed freshness run yet. Run: ragmon run freshness" in result.output


def _digest(directory):
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_snapshot_mode_leaves_the_store_files_byte_identical(tmp_path, embedder):
    config, docs = _world(tmp_path, embedder, store={"snapshot": True})
    (docs / "b.md").write_text(long_doc("B", "Orders ship within 9 working days."))
    before = _digest(tmp_path / "chroma")
    result = _run("-c", str(config), "run", "freshness", "--json")
    assert json.loads(result.output)["result"]["by_document"]["b.md"]["status"] == "stale"
    assert _digest(tmp_path / "chroma") == before


def test_default_mode_never_changes_the_collection(tmp_path, embedder):
    from monitor.stores.chroma import open_client

    config, docs = _world(tmp_path, embedder)
    (docs / "a.md").unlink()
    store = make_config(tmp_path, tmp_path / "chroma", "cli-docs", docs).store

    def contents():
        got = (
            open_client(store)
            .get_collection("cli-docs", embedding_function=None)
            .get(include=["documents", "metadatas", "embeddings"])
        )
        return got["ids"], got["documents"], got["metadatas"], [list(v) for v in got["embeddings"]]

    before = contents()
    _run("-c", str(config), "run", "freshness")
    assert contents() == before
