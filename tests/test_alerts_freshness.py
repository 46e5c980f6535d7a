"""Alerts driven by real runs of the freshness job on a small embedded Chroma collection."""

from __future__ import annotations

import pytest

from jobs import registry
from jobs.runner import execute, standard_hooks
from monitor.history import HistoryStore
from monitor.history.alerts import AlertStore
from tests.alerting import FAST_RETRY, WebhookServer, outbox, read_jsonl
from tests.conftest import fill_collection
from tests.freshness_scenarios import long_doc, make_config, write

HOOK = "/hooks/ragmon/SECRET-freshness-token"


@pytest.fixture()
def world(tmp_path, monkeypatch):
    """Two documents chunked by paragraph into a LangChain-style collection (text stored,
    metadata ``source``); no model is loaded (``embedding_sample = 0``)."""
    docs = tmp_path / "docs"
    texts = {
        "a.md": long_doc("A"),
        "b.md": long_doc("B", "Orders ship within 5 working days of payment."),
    }
    ids, chunks, metadatas = [], [], []
    for name, text in texts.items():
        write(docs, name, text)
        for number, piece in enumerate(p for p in text.split("\n\n") if p.strip()):
            ids.append(f"{name}-{number}")
            chunks.append(piece)
            metadatas.append({"source": name})
    with WebhookServer() as server:
        monkeypatch.setenv("RAGMON_TEST_HOOK", server.url(HOOK))
        config = make_config(
            tmp_path,
            tmp_path / "chroma",
            "handbook",
            docs,
            freshness={"embedding_sample": 0, "duplicates_sample": 0},
            alerts={
                "report_url": "report/index.html",
                "retry": FAST_RETRY,
                "channels": {
                    "console": {"kind": "console"},
                    "file": {"kind": "jsonl", "path": "alerts.jsonl"},
                    "hook": {"kind": "webhook", "url_env": "RAGMON_TEST_HOOK"},
                },
            },
        )
        fill_collection(config.store, ids, documents=chunks, metadatas=metadatas)
        history = HistoryStore.open(config.history_url)
        yield config, history, docs, server
        history.engine.dispose()


def _run(config, history):
    outcome = execute(registry.get("freshness"), config, history, hooks=standard_hooks())
    assert outcome.error is None
    return outcome


def test_a_stale_source_fires_once_resolves_once_and_survives_a_webhook_outage(world, capsys):
    config, history, docs, server = world
    jsonl = config.base_dir / "alerts.jsonl"

    assert _run(config, history).status == "ok"
    assert read_jsonl(jsonl) == []

    b = docs / "b.md"
    b.write_text(b.read_text().replace("5 working days", "9 working days"), encoding="utf-8")
    server.default = "error"
    outcome = _run(config, history)

    assert outcome.status == "findings"  # the job's own result, whatever the webhook did
    (firing,) = read_jsonl(jsonl)
    assert (firing["kind"], firing["rule"], firing["labels"]) == (
        "firing",
        "stale-share",
        {"collection": "handbook"},
    )
    assert firing["run_id"] == outcome.run_id
    assert firing["findings"] == ["b.md: 1 of 6 chunks stale (edited: - 5 + 9)"]
    assert firing["report"] == str(config.base_dir / "report" / "index.html")
    assert "ALERT FIRING [warning] stale-share: stale_share{collection=handbook} = 9.09% " in (
        capsys.readouterr().err
    )
    assert {r["channel"]: r["status"] for r in outbox(history)} == {
        "console": "delivered",
        "file": "delivered",
        "hook": "pending",
    }

    server.default = "ok"
    for _ in range(2):
        _run(config, history)  # still stale: nothing new, the pending webhook goes out
    assert [n["kind"] for n in read_jsonl(jsonl)] == ["firing"]
    assert [r["json"]["id"] for r in server.accepted] == [firing["id"]]

    b.write_text(b.read_text().replace("9 working days", "5 working days"), encoding="utf-8")
    _run(config, history)
    assert [n["kind"] for n in read_jsonl(jsonl)] == ["firing", "resolved"]
    assert [r["json"]["kind"] for r in server.accepted] == ["firing", "resolved"]
    assert AlertStore(history).states() == []
