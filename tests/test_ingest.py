"""`ragmon index`: provenance metadata, token-sized chunks, idempotence, updates, deletes."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from monitor.config import ChunkingConfig, StoreConfig
from monitor.ingest import index_sources, plan_index
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import ChromaIndexTarget
from monitor.text import sha256_text

LONG = " ".join(
    f"Sentence number {i} says that robot arm R{i} lifts {i * 3} kilograms safely."
    for i in range(60)
)


@pytest.fixture()
def corpus(tmp_path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# Title\n\n" + LONG + "\n", encoding="utf-8")
    (root / "sub" / "b.txt").write_text("A short note about vacation days.\n", encoding="utf-8")
    (root / "c.md").write_text("Deleted later.\n", encoding="utf-8")
    return root


@pytest.fixture()
def target(tmp_path):
    return ChromaIndexTarget.from_config(StoreConfig(path=tmp_path / "chroma", collection="docs"))


def _all(target):
    return {c.id: c for page in target.reader.pages(include_embeddings=True) for c in page}


def test_index_writes_provenance_and_token_sized_chunks(corpus, target, embedder):
    chunking = ChunkingConfig(max_tokens=64, overlap_tokens=8)
    report = index_sources(DirectoryCatalog(corpus), target, embedder, chunking)

    chunks = _all(target)
    a_chunks = sorted(
        (c for c in chunks.values() if c.metadata["ragmon_source_id"] == "a.md"),
        key=lambda c: c.metadata["ragmon_chunk_index"],
    )
    assert len(a_chunks) > 5
    assert report.chunks_written == len(chunks)
    assert sorted(report.indexed) == ["a.md", "c.md", "sub/b.txt"]
    for chunk in a_chunks:
        meta = chunk.metadata
        assert embedder.count_tokens(chunk.text) <= 64
        assert meta["ragmon_source_sha256"] == sha256_text((corpus / "a.md").read_text())
        assert meta["ragmon_chunk_sha256"] == sha256_text(chunk.text)
        assert meta["ragmon_embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
        assert datetime.fromisoformat(meta["ragmon_embedded_at"]).utcoffset().total_seconds() == 0
        assert json.loads(meta["ragmon_chunker_params"]) == {
            "max_tokens": 64,
            "overlap_tokens": 8,
            "splitter": "markdown",
        }
        assert len(chunk.embedding) == 384
    assert [c.metadata["ragmon_chunk_index"] for c in a_chunks] == list(range(len(a_chunks)))
    # Sentence-aware: no chunk of the long paragraph starts mid-sentence.
    assert all(c.text.startswith(("# Title", "Sentence number")) for c in a_chunks)


def test_second_run_writes_nothing(corpus, target, embedder):
    index_sources(DirectoryCatalog(corpus), target, embedder, ChunkingConfig())
    before = {cid: dict(c.metadata) for cid, c in _all(target).items()}

    again = index_sources(DirectoryCatalog(corpus), target, embedder, ChunkingConfig())

    assert (again.chunks_written, again.chunks_deleted, again.indexed) == (0, 0, [])
    assert again.unchanged == 3
    assert {cid: dict(c.metadata) for cid, c in _all(target).items()} == before


def test_changed_and_deleted_documents_are_updated_and_removed(corpus, target, embedder):
    chunking = ChunkingConfig(max_tokens=64, overlap_tokens=0)
    index_sources(DirectoryCatalog(corpus), target, embedder, chunking)
    (corpus / "a.md").write_text("# Title\n\nNow only one sentence.\n", encoding="utf-8")
    (corpus / "c.md").unlink()
    (corpus / "sub" / "b.txt").write_text("A short note   about\nvacation days.", encoding="utf-8")

    plan = plan_index(DirectoryCatalog(corpus), target.reader)
    assert ([d.id for d in plan.changed], list(plan.removed), [d.id for d in plan.unchanged]) == (
        ["a.md"],
        ["c.md"],
        ["sub/b.txt"],
    )
    report = index_sources(DirectoryCatalog(corpus), target, embedder, chunking)

    chunks = _all(target)
    assert report.indexed == ["a.md"] and report.removed == ["c.md"]
    assert sorted(chunks) == ["a.md#0", "sub/b.txt#0"]
    assert chunks["a.md#0"].text == "# Title\n\nNow only one sentence."
