"""`ragmon demo` end to end: the sample corpus drifts and the jobs find each planted change."""

from __future__ import annotations

import json

from jobs.demo import run_demo
from jobs.setup import last_details
from monitor.config import load_config
from monitor.history import HistoryStore


def test_demo_finds_every_planted_drift(tmp_path, capsys):
    workdir = tmp_path / "demo"
    worst = run_demo(workdir, quiet=True)

    history = HistoryStore.open(load_config(workdir / "ragmon.toml").history_url)
    details = last_details(history, "freshness")
    status = {doc: d["status"] for doc, d in details["by_document"].items()}

    assert worst == 1
    assert (workdir / ".ragmon" / "report" / "index.html").is_file()
    assert status == {
        "handbook/vacation-policy.md": "stale",
        "products/warranty.txt": "stale",
        "handbook/expenses.md": "partially_indexed",
        "faq/it-faq.md": "orphaned",
        "handbook/remote-work.md": "moved",
        "handbook/policies/remote-work.md": "moved",
        "handbook/parental-leave.md": "missing",
    }
    # Chunk-level: the appended section leaves every embedded chunk fresh, and the changed
    # number makes exactly one chunk stale, with the number as its evidence.
    by_doc = details["by_document"]
    assert by_doc["handbook/expenses.md"]["chunk_ids"] == {}
    assert by_doc["handbook/expenses.md"]["unembedded_chars"] > 200
    vacation = by_doc["handbook/vacation-policy.md"]
    assert len(vacation["chunk_ids"]["stale"]) == 1
    assert [e["diff"] for e in vacation["edits"].values()] == ["- 20 + 25"]
    assert [e["diff"] for e in by_doc["products/warranty.txt"]["edits"].values()] == ["- 24 + 36"]
    # One grouped conflict, documents oldest first, the newest value marked.
    (conflict,) = details["conflicts"]
    assert conflict["source_ids"] == ["faq/hr-faq.md", "handbook/vacation-policy.md"]
    assert conflict["values"] == ["15", "20"]
    assert conflict["newest"] == {"source_id": "handbook/vacation-policy.md", "value": "20"}
    assert conflict["template"] == "Full-time employees receive N days of paid vacation per year."

    # the staleness alert, on the console and in the JSONL file
    assert "ALERT FIRING [warning] stale-share: stale_share{collection=handbook} = " in (
        capsys.readouterr().err
    )
    alerts = [
        json.loads(line) for line in (workdir / ".ragmon" / "alerts.jsonl").read_text().splitlines()
    ]
    stale = [a for a in alerts if a["rule"] == "stale-share"]
    assert [(a["kind"], a["severity"], a["labels"]) for a in stale] == [
        ("firing", "warning", {"collection": "handbook"})
    ]
    assert any("handbook/vacation-policy.md" in f for f in stale[0]["findings"])
