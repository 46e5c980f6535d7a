"""Builders for chunking-quality tests: the demo corpus cut well, and re-cut badly.

Good: the reference ingester's splitter (semantic-text-splitter, 200 model tokens, 20 of
overlap). Bad: LangChain's CharacterTextSplitter with no separator, 1,600-character
windows (too long for the model, cut anywhere), a zero-width space injected into every
other chunk and a footer line appended to every third. Collections are written with
chromadb directly, with ragmon's metadata and random vectors (the job reads no vector).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import jobs
from monitor.config import ChunkingConfig, Config, SourcesConfig, StoreConfig
from monitor.history import HistoryStore
from monitor.records import RunResult
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import open_client
from tests.freshness_scenarios import make_config

CORPUS = Path(jobs.__file__).parent / "demo_corpus"
FOOTER = "Was this page helpful? Tell the knowledge-base team on the intranet."
ZWSP = "\u200b"
WINDOW = 1600


def demo_documents() -> dict[str, str]:
    """The demo corpus as the reference ingester reads it (HTML reduced to its text)."""
    catalog = DirectoryCatalog.from_config(SourcesConfig(root=CORPUS))
    return {d.id: catalog.read_text(d) for d in catalog.documents()}


def good_chunks(documents: Mapping[str, str]) -> dict[str, list[str]]:
    from monitor.chunking.tokens import WindowTokenizer
    from monitor.ingest import Chunker

    tokenizer = WindowTokenizer.from_model_dir().tokenizer
    chunker = Chunker(tokenizer, ChunkingConfig(max_tokens=200, overlap_tokens=20))
    return {doc: chunker.split(doc, text)[1] for doc, text in documents.items()}


def bad_chunks(documents: Mapping[str, str]) -> dict[str, list[str]]:
    from langchain_text_splitters import CharacterTextSplitter

    splitter = CharacterTextSplitter(separator="", chunk_size=WINDOW, chunk_overlap=0)
    out = {}
    for doc, text in documents.items():
        pieces = []
        for i, piece in enumerate(splitter.split_text(text)):
            if i % 2 == 0:
                middle = len(piece) // 2
                piece = piece[:middle] + ZWSP + piece[middle:]
            if i % 3 == 1:
                piece = piece + "\n\n" + FOOTER
            pieces.append(piece)
        out[doc] = pieces
    return out


def write_chunks(
    store: StoreConfig,
    chunks: Mapping[str, list[str]],
    *,
    embedded_at: datetime,
    replace: Iterable[str] = (),
) -> None:
    """Add (or, for the documents in ``replace``, re-ingest) chunks with ragmon metadata."""
    client = open_client(store, create=True)
    collection = client.get_or_create_collection(store.collection, embedding_function=None)
    for doc in replace:
        collection.delete(where={"ragmon_source_id": doc})
    rng = np.random.default_rng(len(chunks))
    stamp = embedded_at.astimezone(UTC).isoformat(timespec="seconds")
    for doc, pieces in chunks.items():
        if not pieces:
            continue
        collection.add(
            ids=[f"{doc}#{i}" for i in range(len(pieces))],
            documents=list(pieces),
            embeddings=rng.normal(size=(len(pieces), 8)).tolist(),
            metadatas=[
                {"ragmon_source_id": doc, "ragmon_chunk_index": i, "ragmon_embedded_at": stamp}
                for i in range(len(pieces))
            ],
        )


def chunking_config(tmp_path: Path, collection: str = "kbase", **sections: Any) -> Config:
    return make_config(tmp_path, tmp_path / "chroma", collection, CORPUS, **sections)


def run_and_store(config: Config) -> RunResult:
    """Run the job as `ragmon run chunking` does, so the next run finds this one."""
    from jobs import registry
    from jobs.runner import execute

    history = HistoryStore.open(config.history_url)
    try:
        outcome = execute(registry.get("chunking"), config, history)
        assert outcome.error is None, outcome.error
        assert outcome.result is not None
        return outcome.result
    finally:
        history.engine.dispose()
