"""The `VectorStore` contract, run against embedded Chroma and a `chroma run` server."""

from __future__ import annotations

import numpy as np
import pytest

from monitor.config import StoreConfig
from monitor.errors import CollectionNotFoundError, StoreError
from monitor.ports import VectorStore
from monitor.stores.chroma import ChromaStore
from tests.conftest import fill_collection


def test_pages_cover_every_chunk_once_over_several_pages(store_config):
    config = store_config(page_size=7)
    ids = [f"id-{i:03d}" for i in range(45)]
    fill_collection(
        config,
        ids,
        documents=[f"text {i}" for i in range(45)],
        metadatas=[{"source": f"doc{i % 4}.md", "n": i} for i in range(45)],
    )
    store = ChromaStore.from_config(config)
    assert isinstance(store, VectorStore)

    pages = list(store.pages())

    assert [len(p) for p in pages] == [7, 7, 7, 7, 7, 7, 3]
    seen = [c.id for p in pages for c in p]
    assert sorted(seen) == ids
    by_id = {c.id: c for p in pages for c in p}
    assert by_id["id-012"].text == "text 12"
    assert by_id["id-012"].metadata == {"source": "doc0.md", "n": 12}
    assert by_id["id-012"].embedding is None
    assert store.count() == 45


def test_pages_with_embeddings_return_the_stored_vectors(store_config):
    config = store_config(page_size=4)
    vectors = np.random.default_rng(3).normal(size=(10, 8))
    fill_collection(config, [f"v{i}" for i in range(10)], documents=["x"] * 10, embeddings=vectors)
    store = ChromaStore.from_config(config)

    chunks = {c.id: c for p in store.pages(include_embeddings=True, include_text=False) for c in p}

    assert len(chunks) == 10
    assert chunks["v3"].text is None
    np.testing.assert_allclose(np.asarray(chunks["v3"].embedding), vectors[3], rtol=1e-5)


def test_an_exact_multiple_of_the_page_size_ends_cleanly(store_config):
    config = store_config(page_size=5)
    fill_collection(config, [f"m{i}" for i in range(10)], documents=["t"] * 10)
    pages = list(ChromaStore.from_config(config).pages())
    assert [len(p) for p in pages] == [5, 5]


def test_query_returns_nearest_first(store_config):
    config = store_config()
    vectors = np.eye(8)
    fill_collection(
        config,
        [f"e{i}" for i in range(8)],
        documents=[f"d{i}" for i in range(8)],
        embeddings=vectors,
    )
    store = ChromaStore.from_config(config)

    hits = store.query([vectors[5] + 0.01 * vectors[2]], k=2)

    assert [h.id for h in hits[0]] == ["e5", "e2"]
    assert hits[0][0].distance < hits[0][1].distance
    assert hits[0][0].text == "d5"


def test_get_by_ids_leaves_out_missing_ids(store_config):
    config = store_config()
    fill_collection(config, ["a", "b"], documents=["A", "B"])
    got = ChromaStore.from_config(config).get(["b", "zzz"])
    assert [(c.id, c.text) for c in got] == [("b", "B")]


def test_missing_collection_names_what_exists(store_config):
    config = store_config()
    fill_collection(config, ["a"], documents=["A"])
    wrong = config.model_copy(update={"collection": "nope"})
    with pytest.raises(CollectionNotFoundError) as caught:
        ChromaStore.from_config(wrong)
    assert "No collection named 'nope'" in str(caught.value)
    assert repr(config.collection) in str(caught.value)


def test_no_store_at_path_is_an_error_and_creates_nothing(tmp_path):
    config = StoreConfig(path=tmp_path / "typo", collection="docs")
    with pytest.raises(StoreError, match="No Chroma store at .*typo"):
        ChromaStore.from_config(config)
    assert not (tmp_path / "typo").exists()


def test_unreachable_server_is_a_store_error():
    from tests.conftest import free_port

    config = StoreConfig(host="127.0.0.1", port=free_port(), collection="docs")
    with pytest.raises(StoreError, match="Cannot reach the Chroma server at http://127.0.0.1"):
        ChromaStore.from_config(config)
