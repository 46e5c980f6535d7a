"""The freshness audit on real Chroma collections, ragmon-made and LangChain-made."""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from monitor.records import RunStatus
from monitor.stores.chroma import open_client
from tests.freshness_scenarios import (
    audit_and_store,
    chunk_ids,
    langchain_index,
    long_doc,
    make_config,
    ragmon_index,
    write,
)

SRC = "ragmon_source_id"


def plant_ragmon_world(root, embedder, store):
    """A ragmon-indexed collection in ``store``, then every kind of drift planted in the
    sources under ``root``. Returns the config and the chunk ids per document."""
    docs = root / "docs"
    write(docs, "keep.md", long_doc("Keep"))
    write(docs, "reflow.md", long_doc("Reflow"))
    write(docs, "change.md", long_doc("Change", "The warranty period is 24 months from delivery."))
    write(docs, "gone.md", long_doc("Gone"))
    write(docs, "move.md", long_doc("Move", "This text moves to another folder."))
    write(docs, "partial.md", long_doc("Partial"))
    config = make_config(root, store, "", docs)
    ragmon_index(config, embedder)

    ids = {
        name: chunk_ids(config, SRC, name)
        for name in ("keep.md", "reflow.md", "change.md", "gone.md", "move.md", "partial.md")
    }
    collection = open_client(config.store).get_collection(
        config.store.collection, embedding_function=None
    )
    collection.delete(ids=["partial.md#1", "partial.md#2"])  # an ingest that died half way
    loose = "A chunk someone added by hand, with no provenance at all."
    collection.add(
        ids=["loose-1"],
        documents=[loose],
        metadatas=[{"note": "manual"}],
        embeddings=[list(map(float, embedder.embed([loose])[0]))],
    )

    reflow = docs / "reflow.md"
    reflow.write_text(re.sub(r"\. ", ".\n   ", reflow.read_text()) + "\n\n\n", encoding="utf-8")
    change = docs / "change.md"
    change.write_text(change.read_text().replace("24 months", "36 months"), encoding="utf-8")
    (docs / "gone.md").unlink()
    (docs / "sub").mkdir()
    (docs / "move.md").rename(docs / "sub" / "moved.md")
    write(docs, "new.md", "# New\n\nNobody indexed this document yet.\n")
    return config, ids


def collection(config):
    return open_client(config.store).get_collection(
        config.store.collection, embedding_function=None
    )


@pytest.fixture()
def ragmon_world(tmp_path, embedder, store_config):
    """`plant_ragmon_world` in an embedded store, then on the `chroma run` server (the
    ``store_config`` fixture), read three chunks per page."""
    return plant_ragmon_world(tmp_path, embedder, store_config(page_size=3))


def test_each_planted_class_is_found_with_exact_ids(ragmon_world):
    config, ids = ragmon_world

    result = audit_and_store(config)
    details = result.details
    by_doc = details["by_document"]

    # The source hash says change.md changed; its text says which chunk did.
    texts = dict(
        zip(
            *[collection(config).get(ids=ids["change.md"])[k] for k in ("ids", "documents")],
            strict=True,
        )
    )
    (changed,) = [i for i, t in texts.items() if "24 months" in t]
    assert by_doc["change.md"]["status"] == "stale"
    assert by_doc["change.md"]["chunk_ids"] == {"stale": [changed]}
    assert by_doc["change.md"]["rules"] == {"edited": 1, "exact": len(ids["change.md"]) - 1}
    assert by_doc["change.md"]["edits"][changed]["diff"] == "- 24 + 36"
    assert by_doc["gone.md"]["status"] == "orphaned"
    assert by_doc["gone.md"]["chunk_ids"] == {"orphaned": ids["gone.md"]}
    assert by_doc["move.md"]["status"] == "moved"
    assert by_doc["move.md"]["moved_to"] == "sub/moved.md"
    assert by_doc["move.md"]["chunk_ids"] == {"moved": ids["move.md"]}
    assert by_doc["sub/moved.md"]["moved_from"] == "move.md"
    assert by_doc["new.md"]["status"] == "missing"
    assert by_doc["partial.md"]["status"] == "partially_indexed"
    assert by_doc["partial.md"]["coverage"] == pytest.approx(
        (len(ids["partial.md"]) - 2) / len(ids["partial.md"])
    )
    assert details["untraceable"] == ["loose-1"]
    # A whitespace-only edit is not a change; untouched documents are fresh.
    assert "reflow.md" not in by_doc and "keep.md" not in by_doc
    counts = details["counts"]
    assert counts["chunks"]["stale"] == 1
    assert counts["chunks"]["orphaned"] == len(ids["gone.md"])
    assert counts["chunks"]["moved"] == len(ids["move.md"])
    assert counts["chunks"]["untraceable"] == 1
    assert counts["documents"] == {
        "fresh": 2,
        "stale": 1,
        "partially_indexed": 1,
        "suspect": 0,
        "unverified": 0,
        "orphaned": 1,
        "moved": 2,
        "missing": 1,
        "unreadable": 0,
    }
    assert result.status is RunStatus.FINDINGS
    crossed = {g.rule for g in result.gates if g.firing}
    # one edited chunk among all of them is under the 5% stale share
    assert crossed == {"orphans"}


def test_fix_queue_gives_one_action_per_document(ragmon_world):
    config, ids = ragmon_world
    details = audit_and_store(config).details
    queue = {item["document"]: item for item in details["fix_queue"]}
    assert {doc: item["action"] for doc, item in queue.items()} == {
        "change.md": "re-embed",
        "partial.md": "re-embed",
        "gone.md": "delete",
        "move.md": "re-point",
        "new.md": "ingest",
    }
    assert queue["move.md"]["target"] == "sub/moved.md"
    assert queue["gone.md"]["chunks"] == len(ids["gone.md"])


def test_staleness_age_is_measured_from_the_source_change(ragmon_world, tmp_path):
    """Embedded ten days ago, source changed three days ago: three days behind."""
    config, ids = ragmon_world
    now = time.time()
    collection = open_client(config.store).get_collection(
        config.store.collection, embedding_function=None
    )
    metas = collection.get(ids=ids["change.md"])["metadatas"]
    ten_days_ago = datetime.fromtimestamp(now - 10 * 86400, UTC).isoformat()
    collection.update(
        ids=ids["change.md"], metadatas=[{**m, "ragmon_embedded_at": ten_days_ago} for m in metas]
    )
    os.utime(tmp_path / "docs" / "change.md", (now - 3 * 86400, now - 3 * 86400))

    changed = now - 3 * 86400
    age = audit_and_store(config).details["staleness_age_seconds"]
    after = time.time()

    # Measured at the audit's own "now", which lies between `now` and `after`.
    assert now - changed <= age["p50"] <= age["p95"] <= age["max"] <= after - changed


def test_second_run_reads_no_source_file_and_full_rereads(ragmon_world):
    config, _ = ragmon_world
    first = audit_and_store(config)
    second = audit_and_store(config)
    assert first.details["source_reads"] >= 6
    assert second.details["source_reads"] == 0
    assert second.details["counts"] == first.details["counts"]
    from tests.freshness_scenarios import audit_now

    assert audit_now(config, full=True).details["source_reads"] >= 6


@pytest.fixture()
def langchain_world(tmp_path, embedder, store_config):
    """A LangChain-made collection (embedded, then on the server), then drift."""
    docs = tmp_path / "docs"
    write(docs, "policy.md", long_doc("Policy", "The warranty period is 24 months from delivery."))
    write(docs, "reflow.md", long_doc("Reflow"))
    write(docs, "grows.md", long_doc("Grows"))
    write(docs, "gone.md", long_doc("Gone"))
    write(docs, "move.md", "# Moving\n\nThis short note about parking will move elsewhere.\n")
    config = make_config(
        tmp_path,
        store_config(page_size=3),
        "",
        docs,
        mapping={"path_rewrites": [{"from": "/srv/app/docs/", "to": ""}]},
    )
    ids = langchain_index(config.store, docs, embedder, recorded_prefix="/srv/app/docs/")

    policy = docs / "policy.md"
    policy.write_text(policy.read_text().replace("24 months", "36 months"), encoding="utf-8")
    reflow = docs / "reflow.md"
    reflow.write_text(reflow.read_text().replace(". ", ".\n"), encoding="utf-8")
    grows = docs / "grows.md"
    grows.write_text(
        grows.read_text()
        + "\n\n## New section\n\n"
        + " ".join(f"Step {i}: tighten bolt {i} to the torque in table {i}." for i in range(40)),
        encoding="utf-8",
    )
    (docs / "gone.md").unlink()
    (docs / "archive").mkdir()
    (docs / "move.md").rename(docs / "archive" / "parking.md")
    return config, ids


def test_langchain_collection_without_any_ragmon_metadata(langchain_world):
    config, ids = langchain_world
    collection = open_client(config.store).get_collection(
        config.store.collection, embedding_function=None
    )
    texts = dict(
        zip(*[collection.get(ids=ids["policy.md"])[k] for k in ("ids", "documents")], strict=True)
    )
    changed = sorted(i for i, t in texts.items() if "24 months" in t)

    details = audit_and_store(config).details
    by_doc = details["by_document"]

    assert by_doc["policy.md"]["status"] == "stale"
    assert by_doc["policy.md"]["chunk_ids"]["stale"] == changed
    assert by_doc["policy.md"]["rules"]["edited"] == len(changed)
    assert {e["diff"] for e in by_doc["policy.md"]["edits"].values()} == {"- 24 + 36"}
    assert "reflow.md" not in by_doc
    assert by_doc["grows.md"]["status"] == "partially_indexed"
    assert by_doc["grows.md"]["coverage"] < 0.9
    assert by_doc["gone.md"]["chunk_ids"] == {"orphaned": sorted(ids["gone.md"])}
    assert by_doc["move.md"]["status"] == "moved"
    assert by_doc["move.md"]["moved_to"] == "archive/parking.md"
    assert details["counts"]["chunks"]["untraceable"] == 0
    assert details["counts"]["documents"]["missing"] == 0


def test_langchain_second_run_reads_nothing(langchain_world):
    config, _ = langchain_world
    first = audit_and_store(config)
    second = audit_and_store(config)
    assert first.details["source_reads"] > 0
    assert second.details["source_reads"] == 0

    def verdicts(details):
        return {
            d: (v["status"], v["chunk_ids"], v["rules"]) for d, v in details["by_document"].items()
        }

    assert verdicts(second.details) == verdicts(first.details)


def test_llamaindex_convention_and_timestamps_only(tmp_path, embedder):
    docs = tmp_path / "docs"
    fresh = write(docs, "a.md", "Alpha text that stays the same.\n")
    later = write(docs, "b.md", "Beta text.\n")
    config = make_config(
        tmp_path,
        tmp_path / "chroma",
        "lidocs",
        docs,
        mapping={"preset": "llamaindex", "embedded_at_key": "indexed_at"},
    )
    collection = open_client(config.store, create=True).get_or_create_collection(
        "lidocs", embedding_function=None
    )
    text = "Alpha text that stays the same."
    collection.add(
        ids=["n1", "n2", "n3"],
        documents=[text, None, None],
        embeddings=[list(map(float, v)) for v in embedder.embed([text, "x", "y"])],
        metadatas=[
            {"file_path": str(fresh), "ref_doc_id": "uuid-1"},
            {"file_path": str(later), "indexed_at": "2000-01-01T00:00:00+00:00"},
            {"ref_doc_id": str(later)},
        ],
    )
    details = audit_and_store(config).details
    assert "a.md" not in details["by_document"]
    assert details["by_document"]["b.md"]["status"] == "suspect"
    assert details["by_document"]["b.md"]["chunk_ids"] == {"suspect": ["n2"], "unverified": ["n3"]}


def test_random_vectors_of_the_right_dimension_are_a_model_mismatch(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A"))
    config = make_config(tmp_path, tmp_path / "chroma", "rnd", docs)
    ragmon_index(config, embedder)
    collection = open_client(config.store).get_collection("rnd", embedding_function=None)
    got = collection.get(include=[])
    vectors = np.random.default_rng(1).normal(size=(len(got["ids"]), 384))
    collection.update(ids=got["ids"], embeddings=[list(map(float, v)) for v in vectors])

    result = audit_and_store(config, "embeddings")

    embedding = result.details["embedding"]
    assert embedding["model_mismatch"] is True
    assert sorted(m["chunk_id"] for m in embedding["mismatched"]) == sorted(got["ids"])
    assert any(f.kind == "model_mismatch" for f in result.findings)
    assert "model-mismatch" in {g.rule for g in result.gates if g.firing}
    assert {m.name: m.value for m in result.metrics}["model_mismatch"] == 1


def test_a_different_dimension_is_a_model_mismatch(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "a.md", "Some text.\n")
    config = make_config(tmp_path, tmp_path / "chroma", "dim768", docs)
    collection = open_client(config.store, create=True).get_or_create_collection(
        "dim768", embedding_function=None
    )
    collection.add(
        ids=["x"],
        documents=["Some text."],
        metadatas=[{"source": "a.md"}],
        embeddings=[[0.01] * 768],
    )
    embedding = audit_and_store(config, "embeddings").details["embedding"]
    assert (embedding["stored_dimension"], embedding["model_dimension"]) == (768, 384)
    assert embedding["model_mismatch"] is True


def test_swapped_vectors_are_caught_per_chunk(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A"))
    write(docs, "b.md", "# B\n\nCompletely different: the canteen serves soup on Fridays.\n")
    config = make_config(tmp_path, tmp_path / "chroma", "swap", docs)
    ragmon_index(config, embedder)
    collection = open_client(config.store).get_collection("swap", embedding_function=None)
    b_vector = collection.get(ids=["b.md#0"], include=["embeddings"])["embeddings"][0]
    collection.update(ids=["a.md#1"], embeddings=[list(map(float, b_vector))])

    result = audit_and_store(config, "embeddings")

    embedding = result.details["embedding"]
    assert [m["chunk_id"] for m in embedding["mismatched"]] == ["a.md#1"]
    assert embedding["model_mismatch"] is False
    (finding,) = [f for f in result.findings if f.kind == "embedding_mismatch"]
    assert (finding.source_id, finding.chunk_ids) == ("a.md", ("a.md#1",))


def test_mixed_models_are_reported_with_counts(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A"))
    config = make_config(
        tmp_path, tmp_path / "chroma", "mixed", docs, freshness={"embedding_sample": 5}
    )
    ragmon_index(config, embedder)
    collection = open_client(config.store).get_collection("mixed", embedding_function=None)
    meta = collection.get(ids=["a.md#0"])["metadatas"][0]
    collection.update(ids=["a.md#0"], metadatas=[{**meta, "ragmon_embedding_model": "bge-small"}])
    result = audit_and_store(config, "embeddings")
    models = result.details["embedding"]["models_in_metadata"]
    assert models["bge-small"] == 1
    assert (
        models["sentence-transformers/all-MiniLM-L6-v2"] == len(chunk_ids(config, SRC, "a.md")) - 1
    )
    assert any(f.kind == "mixed_models" for f in result.findings)


def test_healthy_store_is_ok(tmp_path, embedder):
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A"))
    config = make_config(tmp_path, tmp_path / "chroma", "okdocs", docs)
    ragmon_index(config, embedder)
    result = audit_and_store(config)
    assert result.status is RunStatus.OK
    assert result.details["by_document"] == {}
    assert result.details["fix_queue"] == []
    # Nothing is behind its source: the staleness age is 0, not missing (a chart or a
    # headline would otherwise keep showing an earlier run's age).
    ages = {m.labels["stat"]: m.value for m in result.metrics if m.name == "staleness_age_seconds"}
    assert ages == {"p50": 0.0, "p95": 0.0, "max": 0.0}


def test_embedded_and_served_stores_give_the_same_audit(tmp_path, embedder, chroma_server):
    """The same drift planted in an embedded store and in a `chroma run` server: the same
    counts, the same findings per document, the same fix queue."""
    import uuid

    from monitor.config import StoreConfig

    host, port = chroma_server
    stores = {
        "embedded": StoreConfig(path=tmp_path / "embedded" / "chroma", page_size=4),
        "server": StoreConfig(host=host, port=port, collection=f"h{uuid.uuid4().hex[:12]}"),
    }
    results, gates, vectors = {}, {}, {}
    for kind, store in stores.items():
        config, _ = plant_ragmon_world(tmp_path / kind, embedder, store)
        result = audit_and_store(config)
        results[kind] = result.details
        # The vector check is the `embeddings` job's.
        vectors[kind] = audit_and_store(config, "embeddings").details["embedding"]
        gates[kind] = [(g.rule, g.value, g.firing) for g in result.gates]
    embedded, served = results["embedded"], results["server"]
    assert gates["embedded"] == gates["server"]

    assert embedded["counts"] == served["counts"]
    assert embedded["counts"]["chunks"]["stale"] > 0
    assert embedded["by_document"].keys() == served["by_document"].keys()
    for doc, entry in _without_times(embedded["by_document"]).items():
        for key, value in entry.items():
            assert value == served["by_document"][doc][key], (doc, key)
    assert [
        (f["document"], f["action"], f["chunks"], f["target"]) for f in embedded["fix_queue"]
    ] == [(f["document"], f["action"], f["chunks"], f["target"]) for f in served["fix_queue"]]
    for key in ("chunks", "documents", "shares", "untraceable", "conflicts"):
        assert embedded[key] == served[key], key
    assert vectors["embedded"]["mismatched"] == vectors["server"]["mismatched"] == []


TIMES = ("modified_at", "embedded_at", "stale_age_seconds")


def _without_times(by_document):
    """Per-document results without the file and embedding times (two worlds were written
    a moment apart)."""
    return {
        doc: {k: v for k, v in entry.items() if k not in TIMES}
        for doc, entry in by_document.items()
    }


def test_audit_over_a_chroma_server(tmp_path, embedder, chroma_server):
    """The same audit through `HttpClient` against a real `chroma run` server."""
    from jobs.registry import config_from_dict

    host, port = chroma_server
    docs = tmp_path / "docs"
    write(docs, "a.md", long_doc("A"))
    write(docs, "b.md", long_doc("B", "Orders ship within 5 working days."))
    config = config_from_dict(
        {
            "store": {"host": host, "port": port, "collection": "served-docs", "page_size": 3},
            "sources": {"root": str(docs)},
            "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
        },
        base_dir=tmp_path,
    )
    ids = langchain_index(config.store, docs, embedder, recorded_prefix="docs/")
    (docs / "a.md").unlink()

    details = audit_and_store(config).details

    assert details["store"] == f"http://{host}:{port}"
    assert details["chunks"] == len(ids["a.md"]) + len(ids["b.md"])
    assert details["by_document"]["a.md"]["chunk_ids"] == {"orphaned": sorted(ids["a.md"])}
    assert "b.md" not in details["by_document"]


def test_html_embedded_with_its_tags_is_matched_against_the_raw_page(tmp_path, embedder):
    """LangChain's TextLoader embeds HTML as it is stored, tags and all."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    docs = tmp_path / "docs"
    rows = "".join(
        f"<li>Error E{i}: reset controller {i} and wait {i * 5} seconds.</li>\n"
        for i in range(1, 30)
    )
    page = (
        "<html><head><title>Errors</title></head><body><h1>Errors</h1>\n"
        f"<ul>\n{rows}</ul>\n</body></html>\n"
    )
    write(docs, "errors.html", page)
    config = make_config(tmp_path, tmp_path / "chroma", "html-raw", docs)
    pieces = RecursiveCharacterTextSplitter(chunk_size=300, chunk_overlap=0).split_text(page)
    collection = open_client(config.store, create=True).get_or_create_collection(
        "html-raw", embedding_function=None
    )
    ids = [f"h{i}" for i in range(len(pieces))]
    collection.add(
        ids=ids,
        documents=pieces,
        metadatas=[{"source": "docs/errors.html"}] * len(pieces),
        embeddings=[list(map(float, v)) for v in embedder.embed(pieces)],
    )

    assert "errors.html" not in audit_and_store(config).details["by_document"]

    (docs / "errors.html").write_text(page.replace("wait 35 seconds", "wait 90 seconds"))
    stale = audit_and_store(config).details["by_document"]["errors.html"]
    (changed,) = [i for i, p in zip(ids, pieces, strict=True) if "wait 35 seconds" in p]
    assert stale["chunk_ids"] == {"stale": [changed]}
    assert stale["rules"]["edited"] == 1
    assert stale["edits"][changed]["diff"] == "- 35 + 90"


def test_langchain_audits_with_the_history_on_postgresql(langchain_world, postgres):
    """The stamps, memos and verdicts are bulk-written the same way on PostgreSQL: the
    second run reads no source and agrees with the first."""
    config, _ = langchain_world
    url = postgres.new_database()
    config = config.model_copy(update={"history": config.history.model_copy(update={"url": url})})
    first = audit_and_store(config)
    second = audit_and_store(config)
    assert first.details["by_document"]["policy.md"]["status"] == "stale"
    assert (first.details["source_reads"] > 0, second.details["source_reads"]) == (True, 0)
    for doc, verdict in first.details["by_document"].items():
        again = second.details["by_document"][doc]
        for key in ("status", "chunk_ids", "rules", "edits", "coverage"):
            assert again.get(key) == verdict.get(key), (doc, key)
