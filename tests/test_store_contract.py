"""The `VectorStore` and `IndexTarget` contract, run against every store adapter.

Each adapter enters through `STORES`: a way to make settings for a fresh collection. The
tests write through `open_index_target` and read through `open_store` only, so a second
store kind is one more entry here (and its adapter passes or fails the same tests).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from monitor.config import StoreConfig
from monitor.errors import CollectionNotFoundError
from monitor.ports import IndexTarget, VectorStore
from monitor.stores import open_index_target, open_store


def _chroma_embedded(tmp_path: Path, request: pytest.FixtureRequest, page_size: int) -> StoreConfig:
    return StoreConfig(path=tmp_path / "chroma", collection=_name(), page_size=page_size)


def _chroma_server(tmp_path: Path, request: pytest.FixtureRequest, page_size: int) -> StoreConfig:
    host, port = request.getfixturevalue("chroma_server")
    return StoreConfig(host=host, port=port, collection=_name(), page_size=page_size)


STORES: dict[str, Callable[[Path, pytest.FixtureRequest, int], StoreConfig]] = {
    "chroma-embedded": _chroma_embedded,
    "chroma-server": _chroma_server,
}
"""Every store adapter, by how a test makes settings for a fresh collection of it."""


def _name() -> str:
    return f"c{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=list(STORES))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., StoreConfig]:
    def make(*, page_size: int = 1000) -> StoreConfig:
        return STORES[request.param](tmp_path, request, page_size)

    return make


def _fill(
    settings: StoreConfig,
    ids: Sequence[str],
    *,
    texts: Sequence[str] | None = None,
    metadatas: Sequence[dict[str, Any]] | None = None,
    vectors: Any = None,
) -> IndexTarget:
    target = open_index_target(settings)
    assert isinstance(target, IndexTarget)
    if vectors is None:
        vectors = np.random.default_rng(0).normal(size=(len(ids), 8))
    target.add(
        ids,
        texts if texts is not None else [f"text of {i}" for i in ids],
        vectors,
        metadatas if metadatas is not None else [{"source": "a.md"} for _ in ids],
    )
    return target


def test_pages_cover_every_chunk_once_over_several_pages(make_store):
    settings = make_store(page_size=7)
    ids = [f"id-{i:03d}" for i in range(45)]
    _fill(
        settings,
        ids,
        texts=[f"text {i}" for i in range(45)],
        metadatas=[{"source": f"doc{i % 4}.md", "n": i} for i in range(45)],
    )
    with open_store(settings) as store:
        assert isinstance(store, VectorStore)
        pages = list(store.pages())
        assert store.count() == 45

    assert [len(p) for p in pages] == [7, 7, 7, 7, 7, 7, 3]
    seen = [c.id for p in pages for c in p]
    assert sorted(seen) == ids
    by_id = {c.id: c for p in pages for c in p}
    assert by_id["id-012"].text == "text 12"
    assert by_id["id-012"].metadata == {"source": "doc0.md", "n": 12}
    assert by_id["id-012"].embedding is None


def test_pages_with_embeddings_return_the_stored_vectors(make_store):
    settings = make_store(page_size=4)
    vectors = np.random.default_rng(3).normal(size=(10, 8))
    _fill(settings, [f"v{i}" for i in range(10)], vectors=vectors)
    with open_store(settings) as store:
        pages = store.pages(include_embeddings=True, include_text=False)
        chunks = {c.id: c for page in pages for c in page}

    assert len(chunks) == 10
    assert chunks["v3"].text is None
    np.testing.assert_allclose(np.asarray(chunks["v3"].embedding), vectors[3], rtol=1e-5)


def test_an_exact_multiple_of_the_page_size_ends_cleanly(make_store):
    settings = make_store(page_size=5)
    _fill(settings, [f"m{i}" for i in range(10)])
    with open_store(settings) as store:
        assert [len(p) for p in store.pages()] == [5, 5]


def test_query_returns_nearest_first(make_store):
    settings = make_store()
    vectors = np.eye(8)
    _fill(settings, [f"e{i}" for i in range(8)], texts=[f"d{i}" for i in range(8)], vectors=vectors)
    with open_store(settings) as store:
        hits = store.query([vectors[5] + 0.01 * vectors[2]], k=2)

    assert [h.id for h in hits[0]] == ["e5", "e2"]
    assert hits[0][0].distance < hits[0][1].distance
    assert hits[0][0].text == "d5"


def test_get_by_ids_leaves_out_missing_ids(make_store):
    settings = make_store()
    _fill(settings, ["a", "b"], texts=["A", "B"])
    with open_store(settings) as store:
        assert [(c.id, c.text) for c in store.get(["b", "zzz"])] == [("b", "B")]


def test_the_index_target_overwrites_and_deletes_and_its_reader_sees_it(make_store):
    settings = make_store()
    target = _fill(settings, ["a", "b", "c"], texts=["A", "B", "C"])
    target.add(["b"], ["B2"], np.ones((1, 8)), [{"source": "b.md"}])
    target.delete(["c", "never-there"])
    with open_store(settings) as store:
        got = {c.id: (c.text, dict(c.metadata)) for page in store.pages() for c in page}
    assert got == {"a": ("A", {"source": "a.md"}), "b": ("B2", {"source": "b.md"})}
    assert target.reader.count() == 2


def test_missing_collection_names_what_exists(make_store):
    settings = make_store()
    _fill(settings, ["a"])
    wrong = settings.model_copy(update={"collection": "nope"})
    with pytest.raises(CollectionNotFoundError) as caught, open_store(wrong):
        pass
    assert "No collection named 'nope'" in str(caught.value)
    assert repr(settings.collection) in str(caught.value)
