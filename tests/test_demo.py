"""`ragmon demo` end to end: the sample corpus drifts and the jobs find each planted change."""

from __future__ import annotations

import json

from dashboards.grounding import BAND_COLOURS
from jobs.demo import run_demo
from jobs.demo_rechunk import BAD_DOCUMENTS, FOOTER
from jobs.registry import load_config
from jobs.setup import last_details
from monitor.freshness.results import FreshnessResult
from monitor.history import HistoryStore
from monitor.stores import open_store

BANDS = tuple(BAND_COLOURS)


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
    # the bad re-ingest of three files, against the chunking run made right after indexing
    chunking = last_details(history, "chunking")
    changed = {c["document"]: c for c in chunking["comparison"]["documents"]}
    assert set(changed) == set(BAD_DOCUMENTS)
    assert all(
        c["shares_after"]["truncated"] > c["shares_before"]["truncated"] for c in changed.values()
    )
    assert FOOTER in [b["text"] for b in chunking["snapshot"]["boilerplate"]]
    run = history.last_success("chunking")
    assert run is not None and run.status == "findings"  # its truncation gate fired
    assert chunking["snapshot"]["shares"]["truncated"] > 0.01

    # One grouped conflict, documents oldest first, the newest value marked.
    (conflict,) = FreshnessResult.from_json(details).conflicts
    assert [v.source_id for v in conflict.voices] == [
        "faq/hr-faq.md",
        "handbook/vacation-policy.md",
    ]
    assert conflict.values == ["15", "20"]
    assert (conflict.newest.source_id, conflict.newest.value) == (
        "handbook/vacation-policy.md",
        "20",
    )
    assert conflict.template == "Full-time employees receive N days of paid vacation per year."

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

    # the app's response log, ingested with each chunk's lineage
    logs = last_details(history, "ingest-logs")
    # Unknown: the planted id, and the ids of the chunks the bad re-ingest replaced.
    logged = [
        hit["id"]
        for line in (workdir / "logs" / "responses.jsonl").read_text().splitlines()
        for hit in json.loads(line)["chunks"]
    ]
    with open_store(load_config(workdir / "ragmon.toml").store) as store:
        held = {c.id for c in store.get(sorted(set(logged)))}
    gone = [i for i in logged if i not in held]
    assert "deleted-long-ago" in gone and len(gone) > 1
    assert (logs["responses"], logs["unknown_chunks"], logs["quarantined"]) == (120, len(gone), {})
    from jobs.setup import queue_with_retrievals

    config = load_config(workdir / "ragmon.toml")
    queue = queue_with_retrievals(history, details, config)
    assert all(isinstance(item.retrievals, int) for item in queue)
    assert sum(item.retrievals for item in queue) > 0

    # the grounding job scored the logged answers against the store's chunk text
    grounding = last_details(history, "grounding")
    assert grounding["scored"] + grounding["no_context"] == 120
    assert grounding["from_store"] == grounding["scored"] > 100
    counts = {band: sum(d["counts"][band] for d in grounding["days"]) for band in BANDS}
    assert sum(counts.values()) == grounding["scored"]
    assert counts["escalate"] >= 12  # every tenth answer is the made-up order
    assert counts["cite"] > counts["escalate"] and all(counts.values()), counts
    worst = grounding["worst"][0]
    assert worst["band"] == "escalate" and "ORD-7842" in worst["answer"]
    assert any("FedEx" in c["novel_words"] for c in worst["unsupported_claims"])
    (ours, app) = grounding["calibration"]
    assert (ours["source"], app["source"]) == ("ragmon", "app")
    assert ours["n"] == app["n"] == grounding["scored"]
    report = json.loads((workdir / ".ragmon" / "report" / "report.json").read_text())
    section = report["sections"]["grounding"]
    assert {t["name"] for t in section["series"]["grounding-bands"]} == set(BANDS)
    assert "grounding-reliability" in section["series"]
