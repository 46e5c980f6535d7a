"""ChromaDB adapters: `ChromaStore` (the read-only `VectorStore`) and `ChromaIndexTarget`.

chromadb's API moves between releases; its objects stay inside this module. Telemetry
is always off, and no collection is opened with Chroma's default embedding function
(which downloads a model): ragmon passes vectors itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from monitor.config import StoreConfig
from monitor.errors import CollectionNotFoundError, StoreError
from monitor.records import Chunk, Neighbour
from monitor.stores.calls import with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")


def open_client(config: StoreConfig, *, create: bool = False) -> Any:
    """A chromadb client for ``config``: embedded when ``path`` is set, HTTP otherwise.

    An embedded store that does not exist is an error unless ``create`` is true, so a
    typo in ``store.path`` never silently creates an empty store.
    """
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if config.path is not None:
        path = Path(config.path)
        if not create and not (path / "chroma.sqlite3").is_file():
            raise StoreError(
                f"No Chroma store at {path} (store.path): expected a directory holding "
                "chroma.sqlite3. Build one with `ragmon index`, or correct store.path."
            )
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=settings)
    token = config.auth_token()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    where = describe(config)
    timeout = config.timeout_seconds

    def connect() -> Any:
        return _connect_http(config, headers, settings)

    try:
        return with_retries(connect, what="connect", where=where, timeout=timeout)
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(
            f"Cannot reach the Chroma server at {where}: {exc}. "
            "Is it running (`chroma run`)? Check store.host and store.port."
        ) from None


def _connect_http(config: StoreConfig, headers: dict[str, str] | None, settings: Any) -> Any:
    """An HttpClient whose every later request times out after ``store.timeout_seconds``.

    chromadb 1.x builds its httpx client with no timeout and talks to the server while it
    is constructed, so the construction runs in a daemon thread that is abandoned (to end
    when the server closes the socket, or with the process) if the server does not answer
    in time; the timeout is then set on the client's session for every later call.
    """
    import chromadb
    import httpx

    made: dict[str, Any] = {}

    def make() -> None:
        try:
            made["client"] = chromadb.HttpClient(
                host=str(config.host),
                port=config.port,
                ssl=config.ssl,
                headers=headers,
                settings=settings,
            )
        except BaseException as exc:  # handed to the caller's thread
            made["error"] = exc

    thread = threading.Thread(target=make, name="ragmon-chroma-connect", daemon=True)
    thread.start()
    thread.join(config.timeout_seconds)
    if thread.is_alive():
        raise TimeoutError(f"no answer within {config.timeout_seconds:g} s")
    if "error" in made:
        raise made["error"]
    client = made["client"]
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(config.timeout_seconds)
    else:  # a chromadb whose internals moved: still works, only without the timeout
        log.warning("cannot set store.timeout_seconds on this chromadb's HTTP client")
    return client


def describe(config: StoreConfig) -> str:
    """Where the store is, without secrets."""
    if config.path is not None:
        return str(config.path)
    scheme = "https" if config.ssl else "http"
    return f"{scheme}://{config.host}:{config.port}"


def _collection(client: Any, name: str, where: str, timeout: float | None) -> Any:
    try:
        return with_retries(
            lambda: client.get_collection(name, embedding_function=None),
            what=f"open collection {name!r}",
            where=where,
            timeout=timeout,
        )
    except StoreError:
        raise
    except Exception as exc:
        if "does not exist" in str(exc) or "not found" in str(exc).lower():
            try:
                available = [c if isinstance(c, str) else c.name for c in client.list_collections()]
            except Exception:
                available = []
            raise CollectionNotFoundError(name, where, available) from None
        raise StoreError(f"Cannot open collection {name!r} in {where}: {exc}") from None


class ChromaStore:
    """Read-only `VectorStore` over one Chroma collection."""

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        page_size: int = 1000,
        where: str = "",
        timeout: float | None = None,
    ):
        self._where = where or "Chroma"
        self._timeout = timeout
        """Of a server's calls (already set on the client); named in errors."""
        self._collection = _collection(client, collection, self._where, timeout)
        self._page_size = page_size

    @classmethod
    def from_config(cls, config: StoreConfig) -> ChromaStore:
        return cls(
            open_client(config),
            config.collection,
            page_size=config.page_size,
            where=describe(config),
            timeout=config.timeout_seconds if config.host is not None else None,
        )

    @property
    def name(self) -> str:
        return str(self._collection.name)

    @property
    def location(self) -> str:
        return self._where

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The collection's own metadata (e.g. ``hnsw:space``)."""
        return dict(self._collection.metadata or {})

    def count(self) -> int:
        return int(self._call("count"))

    @property
    def space(self) -> str | None:
        configuration = getattr(self._collection, "configuration", None) or {}
        hnsw = configuration.get("hnsw") if isinstance(configuration, dict) else None
        found = (hnsw or {}).get("space") or self.metadata.get("hnsw:space")
        return str(found) if found else "l2"  # Chroma's default space

    def pages(
        self, *, include_text: bool = True, include_embeddings: bool = False
    ) -> Iterator[list[Chunk]]:
        include = ["metadatas"]
        if include_text:
            include.append("documents")
        if include_embeddings:
            include.append("embeddings")
        offset = 0
        while True:
            result = self._call("get", limit=self._page_size, offset=offset, include=include)
            page = _chunks(result)
            if not page:
                return
            yield page
            if len(page) < self._page_size:
                return
            offset += len(page)

    def get(self, ids: Sequence[str], *, include_embeddings: bool = False) -> list[Chunk]:
        if not ids:
            return []
        include = ["metadatas", "documents"] + (["embeddings"] if include_embeddings else [])
        return _chunks(self._call("get", ids=list(ids), include=include))

    def query(
        self, embeddings: Sequence[Any], k: int, *, include_embeddings: bool = False
    ) -> list[list[Neighbour]]:
        if len(embeddings) == 0:
            return []
        include = ["distances", "documents", "metadatas"]
        if include_embeddings:
            include.append("embeddings")
        result = self._call(
            "query",
            query_embeddings=[list(map(float, e)) for e in embeddings],
            n_results=k,
            include=include,
        )
        hits: list[list[Neighbour]] = []
        for i, ids in enumerate(result["ids"]):
            docs = (result.get("documents") or [[None] * len(ids)])[i]
            metas = (result.get("metadatas") or [[{}] * len(ids)])[i]
            vectors = result.get("embeddings")
            vectors = vectors[i] if vectors is not None else [None] * len(ids)
            dists = result["distances"][i]
            hits.append(
                [
                    Neighbour(id=cid, distance=float(d), text=t, metadata=m or {}, embedding=v)
                    for cid, d, t, m, v in zip(ids, dists, docs, metas, vectors, strict=True)
                ]
            )
        return hits

    def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return with_retries(
                lambda: getattr(self._collection, method)(**kwargs),
                what=method,
                where=self._where,
                timeout=self._timeout,
            )
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"Chroma {method} failed on {self._where}: {exc}") from None


def _chunks(result: Mapping[str, Any]) -> list[Chunk]:
    ids = result["ids"]
    docs = result.get("documents")
    metas = result.get("metadatas")
    vectors = result.get("embeddings")
    return [
        Chunk(
            id=cid,
            text=docs[i] if docs is not None else None,
            metadata=(metas[i] or {}) if metas is not None else {},
            embedding=vectors[i] if vectors is not None else None,
        )
        for i, cid in enumerate(ids)
    ]


class ChromaIndexTarget:
    """The collection `ragmon index` builds. The only class in ragmon that writes to Chroma."""

    def __init__(
        self,
        client: Any,
        collection: str,
        *,
        page_size: int = 1000,
        where: str = "",
        timeout: float | None = None,
    ):
        self._where = where or "Chroma"
        self._timeout = timeout
        self._collection = self._retried(
            "create collection",
            lambda: client.get_or_create_collection(
                collection, embedding_function=None, metadata={"hnsw:space": "cosine"}
            ),
        )
        self._reader = ChromaStore(
            client, collection, page_size=page_size, where=where, timeout=timeout
        )

    @classmethod
    def from_config(cls, config: StoreConfig) -> ChromaIndexTarget:
        return cls(
            open_client(config, create=True),
            config.collection,
            page_size=config.page_size,
            where=describe(config),
            timeout=config.timeout_seconds if config.host is not None else None,
        )

    def _retried(self, what: str, call: Callable[[], T]) -> T:
        # upsert and delete by id are idempotent, so a retried write is harmless.
        return with_retries(call, what=what, where=self._where, timeout=self._timeout)

    @property
    def reader(self) -> ChromaStore:
        return self._reader

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: Any,
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Add (or overwrite) chunks."""
        vectors = [list(map(float, e)) for e in embeddings]
        self._retried(
            "upsert",
            lambda: self._collection.upsert(
                ids=list(ids),
                documents=list(texts),
                embeddings=vectors,
                metadatas=[dict(m) for m in metadatas],
            ),
        )

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id."""
        if ids:
            self._retried("delete", lambda: self._collection.delete(ids=list(ids)))
