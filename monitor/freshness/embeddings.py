"""The embedding check, apart from the hourly audit: it needs the model, so it runs daily.

It streams the collection's metadata once (no text, no vectors) to count the embedding
models chunks record and to draw a deterministic sample, re-embeds the sample
(`check_vectors`) and turns what it found into figures and findings:
``embedding_mismatch_share``, ``model_mismatch``, ``mixed_models``.
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from monitor import clock
from monitor.config import FreshnessConfig, PathRewrite
from monitor.freshness.matching import SourceResolver
from monitor.freshness.vectors import VectorCheck, VectorMismatch, check_vectors
from monitor.ports import Embedder, VectorStore
from monitor.provenance import MetadataMapping
from monitor.records import Finding, Metric, RunResult, RunStatus, Severity
from monitor.results import ResultRecord

SCHEMA = "ragmon.embeddings/1"


class Sample:
    """The ``size`` ids with the smallest salted hash: a deterministic streaming sample."""

    def __init__(self, size: int, salt: str):
        self._size = size
        self._salt = int.from_bytes(hashlib.blake2b(salt.encode(), digest_size=8).digest(), "big")
        self._heap: list[tuple[int, str, str, bool]] = []

    def offer(self, chunk_id: str, digest: int, source: str, *, mark: bool = True) -> None:
        """Consider ``chunk_id`` of ``source``, whose unsalted hash is ``digest`` (`id_hash`);
        ``mark`` is kept with it (see `marked`) and has no say in what is sampled."""
        if self._size <= 0:
            return
        item = (-(digest ^ self._salt), chunk_id, source, mark)
        if len(self._heap) < self._size:
            heapq.heappush(self._heap, item)
        elif item > self._heap[0]:
            heapq.heapreplace(self._heap, item)

    @property
    def ids(self) -> list[str]:
        return sorted(chunk_id for _, chunk_id, _, _ in self._heap)

    def wants(self, digest: int) -> bool:
        """Whether `offer` could keep an id whose unsalted hash is ``digest`` (so what it
        would be offered with need not be worked out otherwise)."""
        if self._size <= 0:
            return False
        return len(self._heap) < self._size or -(digest ^ self._salt) >= self._heap[0][0]

    @property
    def marked(self) -> list[str]:
        """The sampled ids that were offered with ``mark`` true, sorted."""
        return sorted(chunk_id for _, chunk_id, _, mark in self._heap if mark)

    @property
    def owners(self) -> dict[str, str]:
        """The source of each sampled chunk."""
        return {chunk_id: source for _, chunk_id, source, _ in self._heap}


def id_hash(chunk_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(chunk_id.encode(), digest_size=8).digest(), "big")


@dataclass(kw_only=True)
class EmbeddingAudit:
    """What the embedding check found."""

    collection: str
    location: str
    audited_at: datetime
    chunks: int = 0
    models: Counter[str] = field(default_factory=Counter)
    """Chunks per recorded embedding model."""
    vectors: VectorCheck | None = None
    vector_owners: dict[str, str] = field(default_factory=dict)
    """Source of each chunk the check sampled."""


def audit_embeddings(
    store: VectorStore,
    mapping: MetadataMapping,
    embedder: Embedder,
    settings: FreshnessConfig,
    *,
    root: Path,
    rewrites: Sequence[PathRewrite] = (),
    now: datetime | None = None,
) -> EmbeddingAudit:
    """Re-embed a sample of ``store`` with ``embedder``; count recorded models."""
    result = EmbeddingAudit(
        collection=store.name, location=store.location, audited_at=now or clock.now()
    )
    # No catalog: sources are named the way the catalog would name them.
    resolver = SourceResolver((), root, rewrites)
    sample = Sample(settings.embedding_sample, "vectors")
    for page in store.pages(include_text=False):
        for chunk in page:
            result.chunks += 1
            prov = mapping.provenance(chunk)
            if prov.embedding_model:
                result.models[prov.embedding_model] += 1
            source = resolver.resolve(prov.source) if prov.source else ""
            sample.offer(chunk.id, id_hash(chunk.id), source)
    if sample.ids:
        result.vectors = check_vectors(
            store, sample.ids, embedder, min_cosine=settings.embedding_min_cosine
        )
        result.vector_owners = sample.owners
    return result


@dataclass(frozen=True, kw_only=True, slots=True)
class EmbeddingSummary:
    """Models recorded in metadata and, when a sample was re-embedded, how it compared."""

    models_in_metadata: dict[str, int]
    model: str | None = None
    sampled: int | None = None
    stored_dimension: int | None = None
    model_dimension: int | None = None
    min_cosine: float | None = None
    mismatched: tuple[VectorMismatch, ...] = ()
    mismatch_share: float | None = None
    model_mismatch: bool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class EmbeddingsResult(ResultRecord):
    """One embedding check as stored with its run (schema ``ragmon.embeddings/1``)."""

    SCHEMA = SCHEMA

    collection: str
    store: str
    audited_at: datetime
    chunks: int
    embedding: EmbeddingSummary


def to_result(audit: EmbeddingAudit) -> RunResult:
    """Figures, findings and the typed result of one embedding check.

    The status is ``ok``: ``model-mismatch`` is the job's gate rule, applied by the runner.
    """
    vectors = audit.vectors
    labels = {"collection": audit.collection}
    metrics = [
        Metric(name="mixed_models", value=max(0, len(audit.models) - 1), labels=labels),
        Metric(name="embedding_sampled", value=vectors.sampled if vectors else 0, labels=labels),
    ]
    if vectors is not None:
        metrics += [
            Metric(name="embedding_mismatch_share", value=vectors.mismatch_share, labels=labels),
            Metric(name="model_mismatch", value=int(vectors.model_mismatch), labels=labels),
        ]
    record = EmbeddingsResult(
        collection=audit.collection,
        store=audit.location,
        audited_at=audit.audited_at,
        chunks=audit.chunks,
        embedding=embedding_summary(audit),
    )
    summary = (
        f"{vectors.sampled} of {audit.chunks} chunks re-embedded with {vectors.model}: "
        + (
            "the collection was not embedded with this model"
            if vectors.model_mismatch
            else f"{len(vectors.mismatches)} below cosine {vectors.min_cosine}"
        )
        if vectors
        else f"{audit.chunks} chunks, none with text to re-embed"
    )
    return RunResult(
        status=RunStatus.OK,
        summary=summary,
        metrics=tuple(metrics),
        findings=tuple(_findings(audit)),
        details=record.to_json(),
    )


def embedding_summary(audit: EmbeddingAudit) -> EmbeddingSummary:
    """The recorded models and, when a sample was re-embedded, the outcome."""
    models = dict(audit.models)
    vectors = audit.vectors
    if vectors is None:
        return EmbeddingSummary(models_in_metadata=models)
    return EmbeddingSummary(
        models_in_metadata=models,
        model=vectors.model,
        sampled=vectors.sampled,
        stored_dimension=vectors.stored_dimension,
        model_dimension=vectors.model_dimension,
        min_cosine=vectors.min_cosine,
        mismatched=vectors.mismatches,
        mismatch_share=round(vectors.mismatch_share, 4),
        model_mismatch=vectors.model_mismatch,
    )


def _findings(audit: EmbeddingAudit) -> list[Finding]:
    findings: list[Finding] = []
    vectors = audit.vectors
    if vectors is not None and vectors.model_mismatch:
        why = (
            f"stored vectors have {vectors.stored_dimension} dimensions, "
            f"{vectors.model} gives {vectors.model_dimension}"
            if vectors.dimension_mismatch
            else f"{100 * vectors.mismatch_share:.0f}% of {vectors.sampled} sampled vectors do "
            f"not match their text under {vectors.model}"
        )
        findings.append(
            Finding(
                kind="model_mismatch",
                severity=Severity.CRITICAL,
                message=f"the collection was not embedded with the configured model: {why}",
                evidence={
                    "stored_dimension": vectors.stored_dimension,
                    "model_dimension": vectors.model_dimension,
                    "mismatch_share": vectors.mismatch_share,
                },
            )
        )
    elif vectors is not None:
        cosines = {m.chunk_id: m.cosine for m in vectors.mismatches}
        by_doc: dict[str, list[str]] = {}
        for chunk_id in sorted(cosines):
            by_doc.setdefault(audit.vector_owners.get(chunk_id, ""), []).append(chunk_id)
        for doc, ids in sorted(by_doc.items()):
            findings.append(
                Finding(
                    kind="embedding_mismatch",
                    severity=Severity.WARNING,
                    message=f"{len(ids)} vectors do not match their text under the configured "
                    "model; re-embed them",
                    source_id=doc or None,
                    chunk_ids=tuple(ids),
                    evidence={"cosine": {i: cosines[i] for i in ids}},
                )
            )
    if len(audit.models) > 1:
        findings.append(
            Finding(
                kind="mixed_models",
                severity=Severity.WARNING,
                message="chunks record different embedding models: "
                + ", ".join(f"{m} ({n})" for m, n in audit.models.most_common()),
                evidence={"models": dict(audit.models)},
            )
        )
    return findings
