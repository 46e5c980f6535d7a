"""The `embeddings` job: do the stored vectors come from the configured model and text?

It loads the embedding model (torch), so it runs daily by default, apart from the hourly
`freshness` job, and re-embeds only a sample (``freshness.embedding_sample`` chunks).
"""

from __future__ import annotations

from jobs.registry import register
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import RunResult, RunStatus


@register("embeddings", schedule="45 2 * * *")
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Re-embed a sample of chunks: vectors from another model or from other text."""
    from jobs.freshness import store_view
    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.freshness.embeddings import audit_embeddings, to_result
    from monitor.provenance import MetadataMapping
    from monitor.stores.chroma import ChromaStore, describe

    settings = config.freshness
    if settings.embedding_sample <= 0:
        return RunResult(
            status=RunStatus.OK,
            summary="the embedding check is off (freshness.embedding_sample = 0)",
        )
    embedder = SentenceTransformerEmbedder.from_config(config.embedding)
    with store_view(config.store) as store_config:
        found = audit_embeddings(
            ChromaStore.from_config(store_config),
            MetadataMapping(config.mapping),
            embedder,
            settings,
            root=config.sources.root,
            rewrites=config.mapping.path_rewrites,
        )
    found.location = describe(config.store)
    return to_result(found, settings)
