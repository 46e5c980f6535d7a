"""Vector store adapters, one per file, and the one place that opens them.

Jobs never name an adapter: `open_store` gives the configured collection as a read-only
`VectorStore` (through a throw-away copy with ``store.snapshot``), `open_index_target`
the collection `ragmon index` writes. A second store kind is one adapter module, one
settings model in `monitor.config.STORE_KINDS`, and one branch in each function here.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from monitor.config import StoreConfig
from monitor.ports import IndexTarget, VectorStore

log = logging.getLogger(__name__)


@contextlib.contextmanager
def open_store(settings: StoreConfig) -> Iterator[VectorStore]:
    """The configured collection, read-only, for the length of the block.

    With ``store.snapshot`` an embedded store is copied to a temporary directory first and
    the copy is read: chromadb's PersistentClient rewrites chroma.sqlite3 on open, even to
    read, and a user who needs the store's files left byte-identical asks for this.

    Raises `StoreError` (or `CollectionNotFoundError`) when it cannot be opened.
    """
    from monitor.stores.chroma import ChromaStore

    if not settings.snapshot or settings.path is None:
        yield ChromaStore.from_config(settings)
        return
    with tempfile.TemporaryDirectory(prefix="ragmon-snapshot-") as tmp:
        copy = Path(tmp) / "store"
        shutil.copytree(settings.path, copy)
        log.info("reading a snapshot of %s in %s", settings.path, copy)
        yield ChromaStore.from_config(settings.model_copy(update={"path": copy}))


def open_index_target(settings: StoreConfig) -> IndexTarget:
    """The collection `ragmon index` writes, created when it does not exist yet."""
    from monitor.stores.chroma import ChromaIndexTarget

    return ChromaIndexTarget.from_config(settings)


def describe_store(settings: StoreConfig) -> str:
    """Where the store is, for messages and results (a path or URL, never a secret)."""
    from monitor.stores.chroma import describe

    return describe(settings)
