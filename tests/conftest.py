"""Shared fixtures: real Chroma (embedded and `chroma run`), real SQLite, the real model."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from monitor.config import StoreConfig
from monitor.stores.chroma import ChromaStore, open_client


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on a free localhost port, for the whole session."""
    chroma = shutil.which("chroma") or str(Path(os.sys.executable).parent / "chroma")
    path = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (path / "server.log").open("w")
    process = subprocess.Popen(
        [chroma, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(
                    "chroma run did not start: " + (path / "server.log").read_text()
                ) from None
            time.sleep(0.2)
    yield "127.0.0.1", port
    process.terminate()
    process.wait(timeout=20)
    log.close()


@pytest.fixture(params=["embedded", "server"])
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., StoreConfig]:
    """Make a `StoreConfig` for a fresh collection, embedded or on the `chroma run` server."""

    def make(*, page_size: int = 1000) -> StoreConfig:
        name = f"c{uuid.uuid4().hex[:12]}"
        if request.param == "embedded":
            return StoreConfig(path=tmp_path / "chroma", collection=name, page_size=page_size)
        host, port = request.getfixturevalue("chroma_server")
        return StoreConfig(host=host, port=port, collection=name, page_size=page_size)

    return make


def fill_collection(
    config: StoreConfig,
    ids: Sequence[str],
    *,
    documents: Sequence[str] | None = None,
    metadatas: Sequence[dict[str, Any]] | None = None,
    embeddings: Any = None,
    dim: int = 8,
    seed: int = 0,
) -> None:
    """Write a collection the way another tool would (through chromadb directly)."""
    client = open_client(config, create=True)
    collection = client.get_or_create_collection(
        config.collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    if embeddings is None:
        embeddings = np.random.default_rng(seed).normal(size=(len(ids), dim))
    step = 500
    for start in range(0, len(ids), step):
        end = start + step
        collection.add(
            ids=list(ids[start:end]),
            embeddings=[list(map(float, v)) for v in embeddings[start:end]],
            documents=list(documents[start:end]) if documents is not None else None,
            metadatas=list(metadatas[start:end]) if metadatas is not None else None,
        )


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The real packaged all-MiniLM-L6-v2, loaded once per session."""
    from monitor.embedding.sbert import SentenceTransformerEmbedder

    model = SentenceTransformerEmbedder()
    model.embed(["warm up"])
    return model


@pytest.fixture()
def open_store() -> Callable[[StoreConfig], ChromaStore]:
    return ChromaStore.from_config


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """A throw-away PostgreSQL server for the session (`tests.postgres.PostgresServer`)."""
    from tests.postgres import running_postgres

    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def history_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh, empty history database: a SQLite file, then a PostgreSQL
    database on the session's server, so each test using it runs on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'history.db'}"
    return str(request.getfixturevalue("postgres").new_database())


@pytest.fixture()
def history(history_url: str) -> Iterator[Any]:
    """A migrated `HistoryStore` on ``history_url`` (SQLite and PostgreSQL)."""
    from monitor.history import HistoryStore

    store = HistoryStore.open(history_url)
    yield store
    store.engine.dispose()
