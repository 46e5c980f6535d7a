"""The `freshness` job: audit every chunk of the collection against its source document.

Hourly by default, so it never loads the embedding model (no torch import): the check of
the stored vectors is the daily `embeddings` job (`jobs.embeddings`).
"""

from __future__ import annotations

import logging

from jobs.registry import register
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import RunResult

log = logging.getLogger(__name__)


RULES = (
    BuiltinRule(
        name="stale-share",
        metric="stale_share",
        threshold=0.05,
        gate=True,
        threshold_key="freshness.max_stale_share",
        finding_kinds=("stale", "partially_indexed"),
        description="Chunks whose source document changed after they were embedded. "
        "Re-embed them (ragmon fix-queue lists which).",
    ),
    BuiltinRule(
        name="orphans",
        metric="orphaned_chunks",
        threshold=0,
        gate=True,
        threshold_key="freshness.max_orphaned",
        finding_kinds=("orphaned", "moved"),
        description="Chunks whose source document was deleted (or moved) can still be "
        "retrieved. Delete them from the store, or re-point the moved ones.",
    ),
    BuiltinRule(
        name="unreadable-sources",
        metric="chunks",
        labels={"class": "unreadable"},
        threshold=0,
        gate=True,
        threshold_key="freshness.max_unreadable",
        finding_kinds=("unreadable",),
        description="Chunks whose source document exists but could not be read (not UTF-8, "
        "a FIFO, a broken link, too large, under a directory that cannot be listed, or "
        "vanished during the run). They are kept, never deleted: fix the access or encoding.",
    ),
    BuiltinRule(
        name="missing-documents",
        metric="documents",
        labels={"class": "missing"},
        threshold=None,
        gate=True,
        threshold_key="freshness.max_missing",
        finding_kinds=("missing",),
        description="Source documents that were never indexed cannot be retrieved.",
    ),
    BuiltinRule(
        name="staleness-age",
        metric="staleness_age_seconds",
        labels={"stat": "p95"},
        threshold=7 * 86400,
        finding_kinds=("stale",),
        description="Stale chunks have been behind their sources for more than a week.",
    ),
)
"""The freshness signal's built-in alert rules; the gates set `ragmon run`'s exit code."""


@register("freshness", schedule="0 * * * *", signal=True, rules=RULES)
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
    from monitor.stores import describe_store, open_store

    settings = config.freshness
    with open_store(config.store) as store, progress_bar(quiet) as bar:
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
    found.location = describe_store(config.store)
    return to_result(found, settings)
