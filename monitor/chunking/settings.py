"""The ``[chunking_quality]`` section of ``ragmon.toml`` (``[chunking]`` is the ingester's).

Validated once when the config is read; the chunking job gets only this section.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from monitor.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class ChunkingQualitySettings(BaseModel):
    """Thresholds of the chunking-quality job and how its drift is judged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_dir: str = ""
    """Directory holding the model's ``tokenizer.json`` and ``sentence_bert_config.json``;
    empty means the packaged all-MiniLM-L6-v2. Only the tokenizer is loaded."""
    max_tokens: int | None = Field(default=None, ge=8, le=65536)
    """The model's window in tokens; unset reads ``max_seq_length`` from the model."""
    min_useful_tokens: int = Field(default=16, ge=1, le=4096)
    """A chunk shorter than this (in model tokens) is a fragment."""
    boilerplate_min_share: float = Field(default=0.01, gt=0, le=1)
    """A line found in at least this share of chunks (and `boilerplate_min_chunks`) in at
    least `boilerplate_min_documents` documents is boilerplate."""
    boilerplate_min_chunks: int = Field(default=5, ge=2)
    boilerplate_min_documents: int = Field(default=3, ge=1)
    near_duplicate_jaccard: float = Field(default=0.8, gt=0, le=1)
    """Estimated Jaccard similarity of word 3-gram sets above which two chunks are
    near-duplicates (MinHash)."""
    # Aliases of the chunking job's built-in alert rules (`jobs.chunking.RULES`): set,
    # they become the rule's threshold or gate; their defaults live with the rules.
    max_truncated_share: float | None = Field(default=None, ge=0, le=1)
    """Alias of rule ``chunking-truncated``'s threshold (default 0.01)."""
    max_text_not_embedded_share: float | None = Field(default=None, ge=0, le=1)
    """Alias of rule ``chunking-text-not-embedded``'s threshold (default 0.01)."""
    fail_on_drift: bool | None = None
    """Alias of whether rule ``chunking-drift`` is a gate (default true)."""
    reference: Literal["baseline", "previous"] = "baseline"
    """``baseline``: the run pinned with `ragmon baseline set chunking`, else the previous
    completed run; ``previous``: always the previous completed run."""
    drift_p_value: float = Field(default=0.01, gt=0, lt=1)
    """A feature drifted when its test's p-value is below this ..."""
    drift_min_share_delta: float = Field(default=0.02, ge=0, le=1)
    """... and its share moved by at least this much (absolute) ..."""
    drift_min_ks_statistic: float = Field(default=0.1, ge=0, le=1)
    """... or, for a distribution, its K-S statistic is at least this."""
    batch_gap: Duration = timedelta(minutes=30)
    """Documents embedded within this gap of each other belong to one ingest batch."""
    sample_size: int = Field(default=5000, ge=100, le=100_000)
    """Chunks whose lengths are kept in the snapshot for the distribution tests."""
    examples: int = Field(default=2000, ge=0, le=100_000)
    """Documents whose worst chunk is kept as an example (the worst documents first)."""
    top_documents: int = Field(default=20, ge=1, le=1000)
    """Worst and most-changed documents named in findings and the report."""
