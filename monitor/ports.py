"""The ports: small Protocols the analyses depend on. Adapters live one per file.

Each contract, and the errors it raises, is written once here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from monitor.errors import LogLineError
from monitor.records import (
    Chunk,
    Neighbour,
    Notification,
    ResponseRecord,
    SourceDocument,
    SourceProblem,
    SourceStamp,
)


@runtime_checkable
class SourceCatalog(Protocol):
    """The current source documents a vector store was (or should have been) built from."""

    def documents(self, known: Mapping[str, SourceStamp] | None = None) -> Iterator[SourceDocument]:
        """Yield every current document.

        ``known`` maps document ids to what an earlier scan saw; a document whose size and
        modification time still match reuses the stored hash instead of being read again.
        Files that cannot be used are skipped and listed in `problems`, never raised.
        """
        ...

    def read_text(self, document: SourceDocument, *, markup: bool = False) -> str:
        """Return the document's text (decoded, markup stripped, not yet normalised).

        With ``markup`` the text as stored, tags and all: ingesters that load HTML as plain
        text (LangChain's TextLoader, say) embed that, and a chunk is compared with both.

        Raises `SourceFileError` when the file vanished or cannot be decoded since the scan.
        """
        ...

    @property
    def problems(self) -> Sequence[SourceProblem]:
        """Files skipped by the last `documents` call, with the reason."""
        ...

    @property
    def reads(self) -> int:
        """How many files were read (to hash or to return text) since the catalog was made."""
        ...


@runtime_checkable
class VectorStore(Protocol):
    """A read-only view of one collection of a vector store.

    Raises `StoreError` (or `CollectionNotFoundError`) when it cannot be reached or the
    collection does not exist. No method writes to the store.
    """

    @property
    def name(self) -> str:
        """Collection name."""
        ...

    @property
    def location(self) -> str:
        """Where the store is, for messages (a path or host:port). Never holds secrets."""
        ...

    def count(self) -> int:
        """Number of chunks in the collection."""
        ...

    @property
    def space(self) -> str | None:
        """Distance of `query`: ``cosine``, ``l2``, ``ip``, or None when unknown."""
        ...

    def pages(
        self, *, include_text: bool = True, include_embeddings: bool = False
    ) -> Iterator[list[Chunk]]:
        """Yield the chunks page by page, so memory stays flat as the collection grows."""
        ...

    def get(self, ids: Sequence[str], *, include_embeddings: bool = False) -> list[Chunk]:
        """Return the chunks with these ids (missing ids are left out)."""
        ...

    def query(
        self, embeddings: Sequence[Any], k: int, *, include_embeddings: bool = False
    ) -> list[list[Neighbour]]:
        """Return the ``k`` nearest chunks for each query embedding, nearest first.

        Distances are in the collection's own space (cosine, l2 or ip); ask for the
        embeddings to compute a comparable similarity.
        """
        ...


@runtime_checkable
class IndexTarget(Protocol):
    """The collection `ragmon index` writes: the only port that changes a store.

    Raises `StoreError` when a write fails.
    """

    @property
    def reader(self) -> VectorStore:
        """The same collection, read-only."""
        ...

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        embeddings: Any,
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Add chunks, or overwrite those with the same ids."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove chunks by id (unknown ids are ignored)."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """A text embedding model. Loading it may be slow; adapters load lazily.

    Raises `EmbedderError` when the model cannot be loaded.
    """

    @property
    def name(self) -> str:
        """Model name as recorded in chunk metadata."""
        ...

    @property
    def dimension(self) -> int:
        """Length of the vectors it returns."""
        ...

    @property
    def max_tokens(self) -> int:
        """Tokens the model reads before it silently truncates the input."""
        ...

    @property
    def tokenizer(self) -> Any:
        """The model's `tokenizers.Tokenizer`, for cutting chunks in model tokens."""
        ...

    def embed(self, texts: Sequence[str]) -> Any:
        """Return a 2-D float32 numpy array of unit-length vectors, one row per text."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of model tokens in ``text`` (without special tokens)."""
        ...


@runtime_checkable
class AlertChannel(Protocol):
    """Somewhere alert notifications go: console, JSONL file, webhook, Slack, email.

    `send` delivers one notification once, or raises `DeliveryError` (with ``retryable``
    set when trying again soon may help). Retries, backoff and the outbox are the
    caller's; a channel never retries by itself. Neither `name`, `describe` nor an
    error's reason ever holds a secret (webhook URL, password).
    """

    @property
    def name(self) -> str:
        """The channel's name in the config (``[alerts.channels.NAME]``)."""
        ...

    def describe(self) -> str:
        """Where messages go, for logs and `ragmon alerts test`, with secrets left out."""
        ...

    def send(self, notification: Notification) -> None:
        """Deliver ``notification``; raise `DeliveryError` when it did not arrive."""
        ...


@runtime_checkable
class SystemOfRecord(Protocol):
    """Where identifiers of one kind (orders, invoices) that really exist are listed.

    Grounding's structural layer asks it whether an identifier an answer names exists;
    an adapter reads without ever writing, and raises `SystemOfRecordError` when it
    cannot be read.
    """

    def describe(self) -> str:
        """Where the records are (a path, a URL without its password), for evidence."""
        ...

    def exists(self, identifier: str) -> bool:
        """True when ``identifier`` (as the validator's pattern matched it) is a record."""
        ...


@runtime_checkable
class ResponseLog(Protocol):
    """One log format of the application's responses, read line by line.

    The ingester owns files, offsets and batches; an adapter turns lines into records. A
    line that cannot be used raises `LogLineError` (with its reason) and the next line is
    read as if nothing happened. Adapters of trace formats keep the spans of traces whose
    root has not arrived yet between calls, and hand that state out as `pending`.
    """

    @property
    def format(self) -> str:
        """The format's name in the config (``openinference``, ``genai``, ``jsonl``, ``csv``)."""
        ...

    def begin(self, file: str, header: bytes | None) -> None:
        """Reading ``file`` starts or resumes; ``header`` is its first line (CSV needs it)."""
        ...

    def parse(self, line: bytes) -> Sequence[ResponseRecord | LogLineError]:
        """The responses this line completes (none, one, or several for trace batches).

        A line that cannot be read at all raises `LogLineError`; in a line of several
        traces, one that cannot be used is returned as a `LogLineError` in its place.
        """
        ...

    def expire(self, before: datetime) -> Iterator[ResponseRecord | LogLineError]:
        """Stop waiting for traces first seen before ``before``: yield what they hold."""
        ...

    def pending(self) -> bytes | None:
        """Spans of traces still waiting for their root, to keep until the next run."""
        ...

    def restore(self, state: bytes | None) -> None:
        """Take back what `pending` gave at the end of the previous run."""
        ...
