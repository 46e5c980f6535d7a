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
def corpus(embedder: Any, pytestconfig: pytest.Config) -> dict[str, Any]:
    """1,144 chunks (the demo corpus and filler) with their vectors, embedded once.

    The vectors are kept in pytest's cache, keyed by the texts and the model, because
    embedding them takes minutes on a busy machine.
    """
    demo = demo_chunks()
    filler = filler_paragraphs(FILLER)
    ids = [c for c, _, _ in demo] + [f"filler/{i // 10}.txt#{i % 10}" for i in range(len(filler))]
    sources = [s for _, s, _ in demo] + [f"filler/{i // 10}.txt" for i in range(len(filler))]
    texts = [t for _, _, t in demo] + filler
    return {
        "ids": ids,
        "sources": sources,
        "texts": texts,
        "vectors": embed_cached(embedder, texts, pytestconfig),
    }


def embed_cached(embedder: Any, texts: list[str], pytestconfig: pytest.Config) -> Any:
    import hashlib

    key = hashlib.sha256("\0".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = pytestconfig.cache.mkdir("relevance-vectors") / f"{key}.npy"
    if path.exists():
        return np.load(path)
    vectors = embedder.embed(texts)
    np.save(path, vectors)
    return vectors


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
    drop = found[
        (
            "relevance_recall_relative_drop",
            (("k", "5"), ("probes", "labelled"), ("reference", "rolling")),
        )
    ]
    assert drop == pytest.approx(1 / n)
    # 1/8 = 12.5% is above the recall-drop gate's 10%: the run ends with findings.
    assert second.status == RunStatus.FINDINGS
    assert any(
        f.kind == "regressed_probe" and "expenses" in f.message for f in second.result.findings
    )

    # Pinned, the first run is the baseline: a third run regresses against it, not
    # against the second run.
    from monitor.history.pins import pin_run

    pin_run(HistoryStore.open(config.history_url), "relevance", first.run_id)
    _third, again = run_job(config)
    assert [(r.probe, r.rank_from, r.rank_to, r.against) for r in again.regressions] == [
        ("expenses", 1, None, "baseline")
    ]
    assert again.reference.kind == "baseline" and again.reference.run_ids == (first.run_id,)
    assert again.reference.relative_drop == pytest.approx(1 / n)


def retriever_for(store: StoreConfig, embedder: Any) -> Any:
    from monitor.relevance.retrieval import Retriever, token_counter
    from monitor.stores.chroma import ChromaStore

    return Retriever(
        store=ChromaStore.from_config(store),
        embedder=embedder,
        count_tokens=token_counter(embedder.tokenizer),
    )


def settings(**values: Any) -> Any:
    from monitor.relevance.settings import RelevanceConfig

    return RelevanceConfig(**values)


NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def test_self_retrieval_finds_truncated_chunks_by_their_late_sentences(tmp_path, embedder):
    from monitor.relevance.analysis import measure
    from tests.relevance_corpus import long_chunks

    texts = long_chunks(80, 16)
    assert min(embedder.count_tokens(t) for t in texts) > 1.5 * embedder.max_tokens
    store = StoreConfig(path=tmp_path / "chroma", collection="long")
    ids = [f"long/{i}.txt#0" for i in range(len(texts))]
    fill_collection(
        store,
        ids,
        documents=texts,
        metadatas=[{"source": i.split("#")[0]} for i in ids],
        embeddings=embedder.embed(texts),
    )
    result = measure(
        retriever_for(store, embedder),
        settings(self_sample=60, index_sample=0),
        now=NOW,
        location="test",
    )
    own = result.self_retrieval
    assert own is not None
    start, end = own.by_position["start"], own.by_position["end"]
    # The model reads the first 256 tokens: a chunk's first sentence finds it, its last
    # sentence (some 400 tokens further on) was never embedded.
    assert start.hit_at_k >= 0.9
    assert end.hit_at_k <= 0.3
    assert start.probes == end.probes == 60
    assert len(own.late_misses) >= 40


def test_self_retrieval_on_short_chunks_has_no_position_gap(tmp_path, corpus, embedder):
    from monitor.relevance.analysis import measure

    store = build(tmp_path, corpus)
    result = measure(
        retriever_for(store, embedder),
        settings(self_sample=90, index_sample=0),
        now=NOW,
        location="t",
    )
    own = result.self_retrieval
    assert own is not None
    assert own.by_position["end"].hit_at_k >= own.by_position["start"].hit_at_k - 0.1


def comparable(result: RelevanceResult) -> dict[str, Any]:
    data = result.to_json()
    data.pop("timings")
    return data


def test_identical_runs_give_identical_figures_and_a_gone_chunk_is_replaced(
    tmp_path, corpus, embedder
):
    from monitor.relevance.analysis import Earlier, measure

    store = build(tmp_path, corpus)
    probes = write_probes(tmp_path / "probes.jsonl")
    from monitor.relevance.probes import load_probes

    loaded = load_probes(probes)
    conf = settings(self_sample=60, index_sample=50, seed=7)
    first = measure(retriever_for(store, embedder), conf, now=NOW, location="t", probes=loaded)
    earlier = [Earlier(run_id=1, result=first, against="previous")]
    # A fresh client (the store reopened) and the previous run's sample handed over.
    second = measure(
        retriever_for(store, embedder), conf, now=NOW, location="t", probes=loaded, earlier=earlier
    )
    assert comparable(first) == comparable(second)
    assert second.regressions == ()
    assert first.index is not None and first.index.recall >= 0.95

    own = first.self_retrieval
    assert own is not None and len(own.sample_ids) == 60 and own.replaced == 0
    gone = list(own.sample_ids[:3])
    client = open_client(store)
    client.get_collection(store.collection).delete(ids=gone)
    del client
    third = measure(
        retriever_for(store, embedder), conf, now=NOW, location="t", probes=loaded, earlier=earlier
    )
    again = third.self_retrieval
    assert again is not None
    assert again.replaced == 3
    assert len(again.sample_ids) == 60
    assert again.sample_ids[:57] == own.sample_ids[3:]
    assert not set(gone) & set(again.sample_ids)


@pytest.fixture(scope="session")
def pools(embedder: Any, pytestconfig: pytest.Config) -> tuple[Any, Any]:
    """Reference queries: library documentation sentences; shifted: the staff handbook's."""
    from monitor.relevance.selfprobe import query_sentences

    reference = [p.split(". ")[0] for p in filler_paragraphs(1300)]
    shifted = [s for _, _, t in demo_chunks() for s in query_sentences(t).values()]
    return embed_cached(embedder, reference, pytestconfig), embed_cached(
        embedder, shifted, pytestconfig
    )


def test_query_drift_is_found_on_shifted_queries_and_not_on_resamples(pools):
    from monitor.drift_evidently import embedding_drift

    reference, shifted = pools
    rng = np.random.default_rng(0)
    ref_rows = reference[rng.choice(len(reference), 300, replace=False)]
    found = embedding_drift(ref_rows, shifted[:200])
    assert found.drifted and found.method == "model" and found.bootstrap
    assert found.score > 0.9

    alarms = 0
    repetitions = 40
    for seed in range(repetitions):
        order = np.random.default_rng(seed).permutation(len(reference))
        outcome = embedding_drift(reference[order[:300]], reference[order[300:600]])
        alarms += outcome.drifted
    # The bootstrap decides below 1,000 reference rows at its 95% quantile: at most the
    # nominal 5% of resamples of one distribution may be called drift.
    assert alarms <= 0.05 * repetitions


def test_query_drift_with_many_reference_rows_uses_the_auc_threshold(pools):
    from monitor.drift_evidently import embedding_drift

    reference, shifted = pools
    order = np.random.default_rng(1).permutation(len(reference))
    same = embedding_drift(np.concatenate([reference[order[:1000]]]), reference[order[1000:]])
    assert same.threshold == 0.55 and not same.bootstrap and not same.drifted
    moved = embedding_drift(reference[order[:1000]], shifted)
    assert moved.drifted and moved.score > 0.55


def write_queries(path: Path, queries: list[tuple[str, str]]) -> Path:
    path.write_text(
        "".join(json.dumps({"query": q, "time": t}) + "\n" for q, t in queries), encoding="utf-8"
    )
    return path


def test_job_with_production_queries_writes_the_drift_report_and_the_section(tmp_path, corpus):
    from datetime import timedelta

    from jobs.report import build_report
    from monitor.relevance.selfprobe import query_sentences

    store = build(tmp_path, corpus)
    xss = "<script>window.__x=1</script> How many vacation days do I get?"
    probes = write_probes(
        tmp_path / "probes.jsonl", [*PROBES, ("xss", xss, "handbook/vacation-policy.md")]
    )
    now = datetime.now(UTC)
    old = [p.split(". ")[0] for p in filler_paragraphs(60)]
    new = [s for _, _, t in demo_chunks()[:40] for s in query_sentences(t).values()][:60]
    queries = write_queries(
        tmp_path / "queries.jsonl",
        [(q, (now - timedelta(days=10, minutes=i)).isoformat()) for i, q in enumerate(old)]
        + [(q, (now - timedelta(hours=1, minutes=i)).isoformat()) for i, q in enumerate(new)],
    )
    config = make_config(
        tmp_path,
        store,
        probes=str(probes),
        queries=str(queries),
        self_sample=30,
        index_sample=30,
        window="7d",
        reference_window="28d",
    )
    outcome, result = run_job(config)
    prod = result.production
    assert prod is not None and prod.queries == 60 and prod.reference_queries == 60
    assert prod.query_drift is not None and prod.query_drift.drifted
    assert prod.query_drift.bootstrap and prod.query_drift.method == "model"
    # Handbook sentences find their own handbook paragraphs: top-1 scores moved up.
    assert prod.top1 is not None and prod.top1.p_value < 0.05
    assert prod.report is not None and (config.report.out_dir / prod.report).is_file()
    found = figures(outcome)
    assert found[("query_drift_detected", (("method", "model"),))] == 1.0
    assert ("query_drift_auc", (("method", "model"), ("threshold", "bootstrap-q0.95"))) in found
    assert ("index_recall_at_k", (("k", "5"),)) in found

    history = HistoryStore.open(config.history_url)
    files = build_report(config, history)
    html = files.index.read_text()
    assert "<script>window.__x=1</script>" not in html
    assert f'href="{prod.report}"' in html
    assert "track change, not absolute quality" in html
    data = json.loads(files.data.read_text())
    ids = {f["id"] for f in data["figures"]}
    assert {"relevance-probes", "relevance-self", "relevance-scores"} <= ids
    history.engine.dispose()


def test_vectors_from_another_space_lower_recall_by_hand(tmp_path, corpus):
    """A document re-embedded by another model: its vectors live in another space.

    No second model ships offline, so a random rotation of its vectors stands in for one:
    the same lengths and the same geometry among themselves, unrelated to the queries.
    """
    store = build(tmp_path, corpus)
    probes = write_probes(tmp_path / "probes.jsonl")
    config = make_config(tmp_path, store, probes=str(probes), self_sample=0, index_sample=0)
    _, before = run_job(config)
    assert before.labelled is not None
    ranks = {o.id: o.rank for o in before.labelled.outcomes}

    victim = "products/warranty.txt"
    rows = [i for i, s in enumerate(corpus["sources"]) if s == victim]
    rotation, _ = np.linalg.qr(np.random.default_rng(5).normal(size=(384, 384)))
    client = open_client(store)
    client.get_collection(store.collection).update(
        ids=[corpus["ids"][i] for i in rows],
        embeddings=(corpus["vectors"][rows] @ rotation).astype(np.float32),
    )
    del client

    _, after = run_job(config)
    assert after.labelled is not None
    n = len(PROBES)
    after_ranks = {o.id: o.rank for o in after.labelled.outcomes}
    assert after_ranks["warranty"] is None or after_ranks["warranty"] > 5
    assert {p: r for p, r in after_ranks.items() if p != "warranty"} == {
        p: r for p, r in ranks.items() if p != "warranty"
    }
    lost = 1 / ranks["warranty"] - (1 / after_ranks["warranty"] if after_ranks["warranty"] else 0)
    assert after.labelled.aggregate.recall_at_k == pytest.approx((n - 1) / n)
    assert after.labelled.aggregate.mrr == pytest.approx(before.labelled.aggregate.mrr - lost / n)
    assert [r.probe for r in after.regressions] == ["warranty"]


def test_a_collection_built_with_another_model_is_a_config_error_that_says_so(
    tmp_path, corpus, embedder
):
    """Queries embedded with the configured model cannot search vectors of another size:
    the run fails with exit code 2 and names both dimensions, not Chroma's message."""
    from click.testing import CliRunner

    from jobs.cli import cli

    store = StoreConfig(path=tmp_path / "chroma", collection="other-model")
    rng = np.random.default_rng(0)
    fill_collection(
        store,
        corpus["ids"],
        documents=corpus["texts"],
        metadatas=[{"source": s} for s in corpus["sources"]],
        embeddings=rng.normal(size=(len(corpus["ids"]), 64)).tolist(),
    )
    probes = write_probes(tmp_path / "probes.jsonl")
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "{store.path}"\ncollection = "other-model"\n'
        f'[sources]\nroot = "{tmp_path}"\n[relevance]\nprobes = "{probes}"\n'
    )
    result = CliRunner().invoke(cli, ["-c", str(path), "run", "relevance"])
    assert result.exit_code == 2, result.output
    assert "64 dimensions" in result.output and "gives 384" in result.output
    assert "embedding.model" in result.output
