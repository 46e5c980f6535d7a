"""What makes the audit fast on stores without hashes must not change what it finds: the
chunk text comes from the scan (never fetched again), the conflict check queries vectors
only for sampled chunks that hold a digit, and the word keys of the alignment match the
per-word rule."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.config import FreshnessConfig
from monitor.freshness.alignment import _key, keys
from monitor.freshness.audit import audit
from monitor.freshness.results import to_result
from monitor.freshness.spool import TextSpool
from monitor.provenance import MetadataMapping
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import ChromaStore
from tests.freshness_scenarios import make_config, write

PARAGRAPHS = [
    "The harbour keeper opens the gate before the morning boats arrive at the market.",
    "A careful reader follows the river along the valley toward the northern bridge.",
    "Every station keeps a record of the weather and the travellers who pass through.",
]


class CountingStore:
    """The real Chroma store, with its `get` and `query` calls counted."""

    def __init__(self, store: ChromaStore):
        self._store = store
        self.gets: list[int] = []
        self.queries = 0

    def get(self, ids, **kwargs):
        self.gets.append(len(ids))
        return self._store.get(ids, **kwargs)

    def query(self, *args, **kwargs):
        self.queries += 1
        return self._store.query(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._store, name)


def _langchain_store(tmp_path, texts: dict[str, list[str]]):
    """A LangChain-convention collection (``source`` paths, no hash, no timestamp) with
    seeded random vectors: the audit needs no model."""
    import chromadb
    from chromadb.config import Settings

    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    collection = client.get_or_create_collection(
        "speed", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    ids, documents, metadatas = [], [], []
    for doc, pieces in texts.items():
        for n, piece in enumerate(pieces):
            ids.append(f"{doc}-{n}")
            documents.append(piece)
            metadatas.append({"source": f"docs/{doc}"})
    vectors = np.random.default_rng(3).standard_normal((len(ids), 16)).astype(np.float32)
    collection.add(ids=ids, documents=documents, metadatas=metadatas, embeddings=vectors)


def _run(tmp_path, docs):
    config = make_config(tmp_path, tmp_path / "chroma", "speed", docs)
    settings = FreshnessConfig(embedding_sample=0, duplicates_sample=100)
    store = CountingStore(ChromaStore.from_config(config.store))
    found = audit(
        DirectoryCatalog.from_config(config.sources),
        store,  # type: ignore[arg-type]
        MetadataMapping(config.mapping),
        settings,
        root=config.sources.root,
    )
    return to_result(found, settings).details, store


@pytest.mark.parametrize("digits", [False, True])
def test_text_from_the_scan_and_vector_queries_only_for_digits(tmp_path, digits):
    docs = tmp_path / "docs"
    paragraphs = (
        [p.replace("record", "record of 12 days") for p in PARAGRAPHS] if digits else PARAGRAPHS
    )
    for name in ("a.md", "b.md"):
        write(docs, name, "\n\n".join(paragraphs) + "\n")
    _langchain_store(tmp_path, {"a.md": paragraphs, "b.md": paragraphs})
    # One word of b.md changes after indexing: exactly one chunk is stale.
    (docs / "b.md").write_text((docs / "b.md").read_text().replace("careful", "patient"))

    details, store = _run(tmp_path, docs)

    assert details["counts"]["chunks"]["fresh"] == 5
    assert details["counts"]["chunks"]["stale"] == 1
    edited = details["by_document"]["b.md"]
    assert edited["status"] == "stale"
    assert edited["chunk_ids"] == {"stale": ["b.md-1"]}
    # The text check took every chunk's text from the scan: no fetch by id.
    # Only chunks with a digit can hold a conflicting value: without one, no vector is
    # fetched or queried; with them, the sample is fetched and queried.
    if digits:
        assert store.queries > 0 and store.gets == [2]  # the two chunks with "12"
    else:
        assert store.queries == 0 and store.gets == []


def test_spool_round_trip():
    texts = ["plain", "Ünïcode straße", "", "lone \udcff surrogate", "x" * 5000]
    with TextSpool() as spool:
        ats = [spool.add(t) for t in texts]
        assert [spool.get(at) for at in ats] == texts
        assert spool.get_many((str(n), at) for n, at in enumerate(ats)) == {
            str(n): t for n, t in enumerate(texts)
        }
        far = spool.add("far " * 400_000)  # beyond the stretch read in one go
        assert spool.get_many([("a", ats[0]), ("far", far)]) == {
            "a": "plain",
            "far": "far " * 400_000,
        }


def test_word_keys_match_the_per_word_rule():
    words = ["**1.0**:", "Ünïcode", "straße", "ΣΊΣΥΦΟΣ", "--", "<b>x</b>", "a_b", "ﬁne", "İ"]
    assert keys(words) == [_key(w) for w in words]
    assert keys([]) == []
