"""Relevance on real collections: the packaged model, embedded Chroma past its sync threshold."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jobs.registry import config_from_dict, get
from jobs.runner import execute
from monitor.config import Config, StoreConfig
from monitor.history import HistoryStore
from monitor.records import RunStatus
from monitor.relevance.results import RelevanceResult
from monitor.stores.chroma import open_client
from tests.conftest import fill_collection
from tests.relevance_corpus import PROBES, demo_chunks, filler_paragraphs, write_probes

FILLER = 1000


@pytest.fixture(scope="session")
def corpus(embedder: Any) -> dict[str, Any]:
    """1,144 chunks (the demo corpus and filler) with their vectors, embedded once."""
    demo = demo_chunks()
    filler = filler_paragraphs(FILLER)
    ids = [c for c, _, _ in demo] + [f"filler/{i // 10}.txt#{i % 10}" for i in range(len(filler))]
    sources = [s for _, s, _ in demo] + [f"filler/{i // 10}.txt" for i in range(len(filler))]
    texts = [t for _, _, t in demo] + filler
    return {"ids": ids, "sources": sources, "texts": texts, "vectors": embedder.embed(texts)}


def build(tmp_path: Path, corpus: dict[str, Any], name: str = "docs") -> StoreConfig:
    config = StoreConfig(path=tmp_path / "chroma", collection=name)
    fill_collection(
        config,
        corpus["ids"],
        documents=corpus["texts"],
        metadatas=[{"source": s} for s in corpus["sources"]],
        embeddings=corpus["vectors"],
    )
    return config


def make_config(tmp_path: Path, store: StoreConfig, **relevance: Any) -> Config:
    (tmp_path / "docs").mkdir(exist_ok=True)
    data = {
        "store": {"path": str(store.path), "collection": store.collection},
        "sources": {"root": str(tmp_path / "docs")},
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        "report": {"out_dir": str(tmp_path / "report")},
        "relevance": relevance,
    }
    return config_from_dict(data, base_dir=tmp_path)


def run_job(config: Config) -> tuple[Any, RelevanceResult]:
    history = HistoryStore.open(config.history_url)
    outcome = execute(get("relevance"), config, history)
    assert outcome.result is not None, outcome.error
    return outcome, RelevanceResult.from_json(outcome.result.details)


def figures(outcome: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(m.name, tuple(sorted(m.labels.items()))): m.value for m in outcome.result.metrics}


def test_removed_document_lowers_recall_and_mrr_by_hand_and_names_the_probe(tmp_path, corpus):
    store = build(tmp_path, corpus)
    probes = write_probes(tmp_path / "probes.jsonl")
    config = make_config(tmp_path, store, probes=str(probes), self_sample=0, index_sample=0)

    first, before = run_job(config)
    assert before.labelled is not None
    ranks = {o.id: o.rank for o in before.labelled.outcomes}
    # Every probe finds its document in the top two (the datasheet's payload also shows in
    # the quickstart, the first week also in the HR FAQ); expenses is found first.
    assert all(rank in (1, 2) for rank in ranks.values()) and ranks["expenses"] == 1
    assert before.labelled.aggregate.recall_at_k == 1.0
    mrr_before = sum(1 / r for r in ranks.values()) / len(PROBES)
    assert before.labelled.aggregate.mrr == pytest.approx(mrr_before)
    assert first.status == RunStatus.OK

    client = open_client(store)
    client.get_collection(store.collection).delete(where={"source": "handbook/expenses.md"})
    del client

    second, after = run_job(config)
    assert after.labelled is not None
    n = len(PROBES)
    # One probe of n loses its only expected document: recall@5 falls by 1/n, MRR by
    # (1/1)/n; the other probes keep their ranks.
    assert after.labelled.aggregate.recall_at_k == pytest.approx((n - 1) / n)
    assert after.labelled.aggregate.mrr == pytest.approx(mrr_before - 1 / n)
    assert {o.id: o.rank for o in after.labelled.outcomes} == {**ranks, "expenses": None}
    assert [(r.probe, r.rank_from, r.rank_to, r.against) for r in after.regressions] == [
        ("expenses", 1, None, "previous")
    ]
    found = figures(second)
    drop = found[("relevance_recall_relative_drop", (("k", "5"), ("probes", "labelled"), ("reference", "rolling")))]
    assert drop == pytest.approx(1 / n)
    # 1/8 = 12.5% is above the recall-drop gate's 10%: the run ends with findings.
    assert second.status == RunStatus.FINDINGS
    assert any(f.kind == "regressed_probe" and "expenses" in f.message for f in second.result.findings)
