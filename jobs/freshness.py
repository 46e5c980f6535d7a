"""The `freshness` job: audit every chunk of the collection against its source document.

Hourly by default, so it never loads the embedding model (no torch import): the check of
the stored vectors is the daily `embeddings` job (`jobs.embeddings`).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from jobs.registry import register
from monitor.config import Config, StoreConfig
from monitor.history import HistoryStore
from monitor.records import RunResult

log = logging.getLogger(__name__)


@register("freshness", schedule="0 * * * *")
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Check every chunk against its current source: stale, orphaned, moved, missing."""
    return run_freshness(config, history, full=full)


def run_freshness(
    config: Config, history: HistoryStore, *, full: bool = False, quiet: bool = False
) -> RunResult:
    """Audit the configured collection; ``full`` re-hashes every source file."""
    from jobs.ui import progress_bar
    from monitor.freshness.audit import audit
    from monitor.freshness.results import to_result
    from monitor.provenance import MetadataMapping
    from monitor.sources.directory import DirectoryCatalog
    from monitor.stores.chroma import ChromaStore, describe

    settings = config.freshness
    with store_view(config.store) as store_config, progress_bar(quiet) as bar:
        store = ChromaStore.from_config(store_config)
        task = bar.add_task("auditing chunks", total=store.count())
        found = audit(
            DirectoryCatalog.from_config(config.sources),
            store,
            MetadataMapping(config.mapping),
            settings,
            root=config.sources.root,
            rewrites=config.mapping.path_rewrites,
            known=None if full else history.source_stamps(),
            memo_get=history.memo_get,
            rotation=history.count_runs(),
            progress=lambda n: bar.advance(task, n),
        )
    found.location = describe(config.store)
    return to_result(found, settings)


@contextlib.contextmanager
def store_view(config: StoreConfig) -> Iterator[StoreConfig]:
    """The store to open: itself, or with ``store.snapshot`` a throw-away copy of it.

    chromadb's PersistentClient rewrites chroma.sqlite3 on open even to read, so a user who
    needs the store's files left byte-identical audits a copy.
    """
    if not config.snapshot or config.path is None:
        yield config
        return
    with tempfile.TemporaryDirectory(prefix="ragmon-snapshot-") as tmp:
        copy = Path(tmp) / "store"
        shutil.copytree(config.path, copy)
        log.info("auditing a snapshot of %s in %s", config.path, copy)
        yield config.model_copy(update={"path": copy})
