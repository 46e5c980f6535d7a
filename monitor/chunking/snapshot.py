"""The chunking job's typed result: this run's snapshot, and its comparison with a reference.

Stored as the run's details; `ChunkingResult.to_json` / `from_json` (`ResultRecord`)
convert it, and `from_json` refuses any schema tag but ``ragmon.chunking/1``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from monitor.chunking.features import Example
from monitor.results import ResultRecord

SCHEMA = "ragmon.chunking/1"


@dataclass(frozen=True, kw_only=True, slots=True)
class Histogram:
    """Counts per bin; bin i is [edges[i], edges[i+1]); the last bin is open-ended."""

    edges: tuple[int, ...]
    counts: tuple[int, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Lengths:
    """Chunk lengths in model tokens and characters, against the model's window."""

    window: int
    """Tokens of text the model embeds (its max_seq_length less its special tokens)."""
    max_seq_length: int
    tokens: Mapping[str, float]
    """Quantiles: p50, p90, p95, p99, max."""
    chars: Mapping[str, float]
    token_histogram: Histogram
    char_histogram: Histogram
    token_sample: tuple[int, ...]
    """Token counts of a deterministic sample of chunks (chosen by a CRC of their text)."""
    char_sample: tuple[int, ...]
    not_embedded_sample: tuple[float, ...]
    """Per sampled chunk: the share of its characters beyond the window."""
    chunks_per_document: tuple[int, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class BoilerplateLine:
    text: str
    chunks: int
    documents: int


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentTable:
    """Per document, one row of counts (columnar, to keep a large collection's JSON small)."""

    columns: tuple[str, ...]
    ids: tuple[str, ...]
    rows: tuple[tuple[int, ...], ...]

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {
            d: dict(zip(self.columns, r, strict=True))
            for d, r in zip(self.ids, self.rows, strict=True)
        }


@dataclass(frozen=True, kw_only=True, slots=True)
class Batch:
    """Documents embedded close together (one ingest), with their shares."""

    number: int
    first_embedded_at: datetime
    last_embedded_at: datetime
    documents: int
    chunks: int
    text_not_embedded_share: float
    shares: Mapping[str, float]


@dataclass(frozen=True, kw_only=True, slots=True)
class WorstDocument:
    document: str
    chunks: int
    text_not_embedded_share: float
    problem_share: float
    """Share of its chunks with any cut or content problem (truncated, mid-sentence, in a
    word, a table row or a code block, fragment, junk)."""
    shares: Mapping[str, float]
    example: Example | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Snapshot:
    """One run's feature distributions over the whole collection."""

    collection: str
    store: str
    computed_at: datetime
    tokenizer: str
    chunks: int
    documents: int
    chars: int
    chars_not_embedded: int
    without_text: int
    counts: Mapping[str, int]
    """Chunks per flag (see `monitor.chunking.features.FLAGS`)."""
    shares: Mapping[str, float]
    """Per flag, of all chunks; ``text_not_embedded`` and ``junk_chars`` of all characters."""
    lengths: Lengths
    boilerplate: tuple[BoilerplateLine, ...]
    by_document: DocumentTable
    batches: tuple[Batch, ...]
    batches_note: str = ""
    """Why there are no ingest batches (no embedding timestamp in the metadata), if so."""
    worst: tuple[WorstDocument, ...] = ()
    examples: Mapping[str, Example] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class FeatureDrift:
    """One feature against the reference: the test, its outcome, and the plain delta."""

    feature: str
    kind: Literal["share", "distribution"]
    test: str
    """``chi-square`` (2x2, shares of chunks), ``two-sample K-S`` (distributions), or
    ``delta`` (character-weighted shares: judged by the delta alone)."""
    statistic: float | None
    p_value: float | None
    reference: float
    """The reference's share, or its mean for a distribution."""
    current: float
    delta: float
    drifted: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class DocumentChange:
    """A document whose chunking changed: counts and shares before and after, examples."""

    document: str
    status: Literal["changed", "new", "removed"]
    chunks_before: int
    chunks_after: int
    score: float
    shares_before: Mapping[str, float]
    shares_after: Mapping[str, float]
    example_before: Example | None = None
    example_after: Example | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Comparison:
    reference_run: int
    reference_kind: Literal["baseline", "previous"]
    reference_at: datetime
    features: tuple[FeatureDrift, ...]
    documents: tuple[DocumentChange, ...]
    """The documents whose chunking changed most, most first."""
    documents_added: int
    documents_removed: int
    documents_changed: int

    @property
    def drifted(self) -> tuple[str, ...]:
        return tuple(f.feature for f in self.features if f.drifted)


@dataclass(frozen=True, kw_only=True, slots=True)
class ChunkingResult(ResultRecord):
    """What one chunking run found; `details` of the run (schema ``ragmon.chunking/1``)."""

    SCHEMA = SCHEMA

    snapshot: Snapshot
    comparison: Comparison | None
    reference_note: str
    """Which reference was used, or why there is none."""
