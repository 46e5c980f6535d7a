"""Lineage of logged responses against a real freshness run; `ragmon trace`; fix-queue
retrievals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from jobs.cli import cli
from tests.freshness_scenarios import chunk_ids, long_doc, make_config, ragmon_index, write
from tests.logfiles import jsonl, query


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _world(tmp_path, embedder):
    """a.md rewritten (stale), b.md deleted (orphaned), c.md untouched (fresh), audited."""
    docs = tmp_path / "docs"
    for title in "ABC":
        write(docs, f"{title.lower()}.md", long_doc(title))
    fast = {"embedding_sample": 0, "duplicates_sample": 0}
    config = make_config(tmp_path, tmp_path / "chroma", "lineage", docs, freshness=fast)
    ragmon_index(config, embedder)
    ids = {doc: chunk_ids(config, "ragmon_source_id", doc) for doc in ("a.md", "b.md", "c.md")}
    write(docs, "a.md", "# A\n\nEverything in this guide was rewritten last night.\n")
    (docs / "b.md").unlink()
    path = tmp_path / "ragmon.toml"
    path.write_text(
        '[store]\npath = "chroma"\ncollection = "lineage"\n'
        '[sources]\nroot = "docs"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
        "[freshness]\nembedding_sample = 0\nduplicates_sample = 0\n"
        '[logs]\npaths = ["logs/*.jsonl"]\nwindow_days = 7\n',
        encoding="utf-8",
    )
    assert _run("-c", str(path), "--quiet", "run", "freshness").exit_code == 1  # stale: findings
    return path, ids


def test_lineage_classes_trace_and_fix_queue_retrievals(tmp_path, embedder):
    config, ids = _world(tmp_path, embedder)
    a, b, c = ids["a.md"], ids["b.md"], ids["c.md"]
    now = datetime.now(UTC)
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()

    def response(rid, chunks, minutes):
        return {
            "id": rid,
            "timestamp": (now - timedelta(minutes=minutes)).isoformat(),
            "query": f"[bold]question {rid}[/bold]",
            "answer": f"answer {rid}",
            "chunks": [{"id": cid, "score": 0.8 - 0.1 * n} for n, cid in enumerate(chunks)],
            "grounding": 0.5,
        }

    log.write_text(
        jsonl(
            [
                response("r1", [a[0], c[0]], 30),
                response("r2", [b[0], "ghost-chunk"], 20),
                response("r3", [a[0], a[1]], 10),
            ]
        )
        + "not json\n"
    )
    result = _run("-c", str(config), "run", "ingest-logs", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)["result"]
    assert (body["responses"], body["chunk_refs"], body["unknown_chunks"]) == (3, 6, 1)
    assert body["quarantined"] == {"invalid_json": 1}

    classes = dict(
        query(
            tmp_path,
            "SELECT r.id || '/' || c.position, l.chunk_class FROM response_chunks c "
            "JOIN responses r ON r.rid = c.rid JOIN chunk_lineage l ON l.id = c.lineage_id",
        )
    )
    assert classes == {
        "r1/0": "stale",
        "r1/1": "fresh",
        "r2/0": "orphaned",
        "r2/1": "unknown_chunk",
        "r3/0": "stale",
        "r3/1": "stale",
    }

    traced = _run("-c", str(config), "trace", "r1")
    assert traced.exit_code == 0
    lines = traced.output.splitlines()
    assert lines[1] == "  query:  [bold]question r1[/bold]"  # printed literally
    assert lines[2] == "  answer: answer r1"
    assert lines[3] == "  grounding: 0.500  feedback: -"
    assert lines[4] == "  chunks (2, rank order):"
    assert lines[5] == f"    1. {a[0]}  [stale]  0.8000 similarity"
    assert lines[6].startswith("       -> a.md  embedded from sha256:") and lines[6].endswith(
        "(changed since)"
    )
    assert lines[7].startswith("       (freshness run ")
    assert lines[8] == f"    2. {c[0]}  [fresh]  0.7000 similarity"
    assert lines[9].startswith("       -> c.md  embedded from sha256:") and lines[9].endswith(
        "(unchanged)"
    )
    orphan = json.loads(_run("-c", str(config), "trace", "r2", "--json").output)
    first, ghost = orphan["chunks"]
    assert (first["chunk_class"], first["source_id"], first["current_version"]) == (
        "orphaned",
        "b.md",
        None,
    )
    assert (ghost["chunk_id"], ghost["chunk_class"], ghost["source_id"]) == (
        "ghost-chunk",
        "unknown_chunk",
        None,
    )
    missing = _run("-c", str(config), "trace", "nope")
    assert missing.exit_code == 2 and "No response with id 'nope'" in missing.output

    queue = json.loads(_run("-c", str(config), "fix-queue", "--format", "json").output)
    retrievals = {item["document"]: item["retrievals"] for item in queue}
    assert retrievals == {"a.md": 3, "b.md": 1}

    again = json.loads(_run("-c", str(config), "run", "ingest-logs", "--json").output)["result"]
    assert (again["lines"], again["responses"]) == (0, 0)

    out = tmp_path / "report"
    assert _run("-c", str(config), "--quiet", "report", "--out", str(out)).exit_code == 0
    data = json.loads((out / "report.json").read_text())
    section = data["sections"]["responses"]
    assert section["quarantined_total"] == {"invalid_json": 1}
    volume = section["series"]["responses-volume"][0]
    assert volume["y"] == [3, 0]
    unknown = section["series"]["responses-unknown-chunks"][1]
    assert unknown["name"] == "unknown to the store" and unknown["y"] == [1, 0]
    assert 'id="responses-quarantine-table"' in (out / "index.html").read_text()
    fix_csv = (out / "fix-queue.csv").read_text().splitlines()
    assert any(line.startswith("a.md,re-embed,") and ",3," in line for line in fix_csv)
