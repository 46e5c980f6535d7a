"""Builders for freshness tests: corpora and collections made the way real tools make them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from jobs.registry import config_from_dict
from monitor.config import ChunkingConfig, Config, StoreConfig
from monitor.history import HistoryStore
from monitor.ingest import index_sources
from monitor.records import RunResult
from monitor.sources.directory import DirectoryCatalog
from monitor.stores.chroma import ChromaIndexTarget, open_client

PARAGRAPHS = [
    "Robots in the north hall are inspected every Monday before the first shift starts. "
    "The inspector checks the gripper pads, the cable guides and the emergency stop.",
    "Spare gripper pads are kept in cabinet B. Order more when fewer than ten remain, "
    "using the purchasing form on the intranet; deliveries take about a week.",
    "Firmware updates are installed by the line lead only, never during a shift. "
    "A robot that fails its self-test after an update is tagged and taken off the line.",
    "Visitors must be escorted at all times on the shop floor and wear safety glasses. "
    "The badge office issues visitor badges between eight and four on weekdays.",
]


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def long_doc(title: str, *extra: str) -> str:
    """A document of several paragraphs, none of which occurs in another title's document."""
    body = [f"{title} guide, part {i + 1}. {p}" for i, p in enumerate(PARAGRAPHS)]
    return f"# {title}\n\n" + "\n\n".join([*body, *extra]) + "\n"


def make_config(
    tmp_path: Path,
    store_path: Path | StoreConfig,
    collection: str,
    docs: Path,
    **sections: Any,
) -> Config:
    """A config over ``docs``; the store an embedded directory and a collection name, or a
    whole `StoreConfig` (embedded or a server; ``collection`` is then ignored)."""
    if isinstance(store_path, StoreConfig):
        store = store_path.model_dump(exclude_none=True, exclude_defaults=True)
        store["collection"] = store_path.collection
    else:
        store = {"path": str(store_path), "collection": collection}
    data: dict[str, Any] = {
        "store": store,
        "sources": {"root": str(docs)},
        "history": {"url": f"sqlite:///{tmp_path / 'history.db'}"},
    }
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return config_from_dict(data, base_dir=tmp_path)


def audit_now(config: Config, *, full: bool = False) -> RunResult:
    from jobs.freshness import run_freshness

    history = HistoryStore.open(config.history_url)
    try:
        return run_freshness(config, history, full=full)
    finally:
        history.engine.dispose()


def audit_and_store(config: Config, job: str = "freshness") -> RunResult:
    """Run the job as `ragmon run` does, so the next run sees this one's stamps and memos."""
    from jobs import registry
    from jobs.runner import execute, standard_hooks

    history = HistoryStore.open(config.history_url)
    try:
        outcome = execute(registry.get(job), config, history, hooks=standard_hooks())
        assert outcome.error is None, outcome.error
        assert outcome.result is not None
        return outcome.result
    finally:
        history.engine.dispose()


def ragmon_index(config: Config, embedder: Any, *, max_tokens: int = 48) -> None:
    target = ChromaIndexTarget.from_config(config.store)
    index_sources(
        DirectoryCatalog.from_config(config.sources),
        target,
        embedder,
        ChunkingConfig(max_tokens=max_tokens, overlap_tokens=0),
    )


def langchain_index(
    store: StoreConfig,
    docs: Path,
    embedder: Any,
    *,
    recorded_prefix: str,
    key: str = "source",
    pieces_of: Any = None,
) -> dict[str, list[str]]:
    """Build a collection as LangChain's Chroma integration does: uuid ids, text as documents,
    metadata ``source`` = the path the loader was given. Returns chunk ids per file.
    ``pieces_of(text, pieces)`` stands for a loader that rewrites what it stores."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=220, chunk_overlap=0)
    collection = open_client(store, create=True).get_or_create_collection(
        store.collection, embedding_function=None
    )
    ids_by_file: dict[str, list[str]] = {}
    for path in sorted(docs.rglob("*.md")):
        rel = path.relative_to(docs).as_posix()
        text = path.read_text(encoding="utf-8")
        pieces = splitter.split_text(text)
        if pieces_of is not None:
            pieces = pieces_of(text, pieces)
        ids = [str(uuid.uuid4()) for _ in pieces]
        collection.add(
            ids=ids,
            documents=pieces,
            embeddings=[list(map(float, v)) for v in embedder.embed(pieces)],
            metadatas=[{key: recorded_prefix + rel} for _ in pieces],
        )
        ids_by_file[rel] = ids
    return ids_by_file


def chunk_ids(config: Config, source_key: str, value: str) -> list[str]:
    collection = open_client(config.store).get_collection(
        config.store.collection, embedding_function=None
    )
    got = collection.get(where={source_key: value}, include=["metadatas"])
    return sorted(got["ids"])


def llamaindex_document_hash(text: str, metadata: dict[str, Any]) -> str:
    """`Document.hash` as llama-index-core 0.12+ computes it (metadata lines, then text)."""
    import hashlib

    lines = "\n".join(f"{k}: {v}" for k, v in metadata.items())
    text_hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    identity = "-".join(p for p in (lines, text_hash) if p)
    return hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()


def llamaindex_index(
    store: StoreConfig,
    docs: Path,
    embedder: Any,
    *,
    pieces_of: Any = None,
    glob: str = "*.md",
    offsets: bool = True,
) -> dict[str, list[str]]:
    """Build a collection as LlamaIndex's ChromaVectorStore writes one: node ids, node text
    as documents, flat file metadata from SimpleDirectoryReader, the node as JSON without
    its text in ``_node_content`` (with ``start_char_idx``/``end_char_idx``, null without
    ``offsets`` as LlamaIndex allows, and the source document's hash), and
    ``document_id``/``doc_id``/``ref_doc_id``."""
    import json
    from datetime import date

    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=220, chunk_overlap=0)
    collection = open_client(store, create=True).get_or_create_collection(
        store.collection, embedding_function=None
    )
    ids_by_file: dict[str, list[str]] = {}
    for path in sorted(docs.rglob(glob)):
        rel = path.relative_to(docs).as_posix()
        text = path.read_text(encoding="utf-8")
        file_meta = {
            "file_path": str(path),
            "file_name": path.name,
            "file_type": "text/markdown",
            "file_size": path.stat().st_size,
            "creation_date": date.today().isoformat(),
            "last_modified_date": date.today().isoformat(),
        }
        doc_id = str(uuid.uuid4())
        doc_hash = llamaindex_document_hash(text, file_meta)
        pieces = splitter.split_text(text)
        stored = pieces_of(text, pieces) if pieces_of else pieces
        ids, metas, cursor = [], [], 0
        for piece in pieces:
            start = text.find(piece, cursor)
            cursor = start + len(piece)
            node_id = str(uuid.uuid4())
            node = {
                "id_": node_id,
                "embedding": None,
                "metadata": file_meta,
                "excluded_embed_metadata_keys": ["file_name", "file_type", "file_size"],
                "excluded_llm_metadata_keys": ["file_name", "file_type", "file_size"],
                "relationships": {
                    "1": {
                        "node_id": doc_id,
                        "node_type": "4",
                        "metadata": file_meta,
                        "hash": doc_hash,
                        "class_name": "RelatedNodeInfo",
                    }
                },
                "metadata_template": "{key}: {value}",
                "metadata_separator": "\n",
                "text": "",
                "mimetype": "text/plain",
                "start_char_idx": start if offsets else None,
                "end_char_idx": cursor if offsets else None,
                "metadata_seperator": "\n",
                "text_template": "{metadata_str}\n\n{content}",
                "class_name": "TextNode",
            }
            ids.append(node_id)
            metas.append(
                {
                    **file_meta,
                    "_node_content": json.dumps(node),
                    "_node_type": "TextNode",
                    "document_id": doc_id,
                    "doc_id": doc_id,
                    "ref_doc_id": doc_id,
                }
            )
        collection.add(
            ids=ids,
            documents=stored,
            embeddings=[list(map(float, v)) for v in embedder.embed(stored)],
            metadatas=metas,
        )
        ids_by_file[rel] = ids
    return ids_by_file
