"""The `embeddings` job: do the stored vectors come from the configured model and text?

It loads the embedding model (torch), so it runs daily by default, apart from the hourly
`freshness` job, and re-embeds only a sample (``freshness.embedding_sample`` chunks).
"""

from __future__ import annotations

from jobs.registry import register
from monitor.alerts.builtin import BuiltinRule
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.records import RunResult, RunStatus, Severity

RULES = (
    BuiltinRule(
        name="model-mismatch",
        metric="model_mismatch",
        op=">=",
        threshold=1,
        severity=Severity.CRITICAL,
        gate=True,
        gate_key="freshness.fail_on_model_mismatch",
        finding_kinds=("model_mismatch", "mixed_models"),
        description="The stored vectors were not made by the configured embedding model: "
        "queries and chunks live in different spaces.",
    ),
)
"""The embedding check's built-in alert rules; the gate sets `ragmon run`'s exit code."""


@register("embeddings", schedule="45 2 * * *", signal=True, rules=RULES)
def run(config: Config, history: HistoryStore, *, full: bool = False) -> RunResult:
    """Re-embed a sample of chunks: vectors from another model or from other text."""
    from monitor.embedding.sbert import SentenceTransformerEmbedder
    from monitor.freshness.embeddings import audit_embeddings, to_result
    from monitor.provenance import MetadataMapping
    from monitor.stores import describe_store, open_store

    settings = config.freshness
    if settings.embedding_sample <= 0:
        return RunResult(
            status=RunStatus.OK,
            summary="the embedding check is off (freshness.embedding_sample = 0)",
        )
    embedder = SentenceTransformerEmbedder.from_config(config.embedding)
    with open_store(config.store) as store:
        found = audit_embeddings(
            store,
            MetadataMapping(config.mapping),
            embedder,
            settings,
            root=config.sources.root,
            rewrites=config.mapping.path_rewrites,
        )
    found.location = describe_store(config.store)
    return to_result(found)
