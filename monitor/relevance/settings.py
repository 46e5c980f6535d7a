"""The ``[relevance]`` section of ``ragmon.toml``: probes, sampling, budget, production queries.

Example::

    [relevance]
    probes = "probes.jsonl"        # labelled probes (JSONL or YAML); empty: none
    k = 5
    self_sample = 300              # chunks probed by their own sentences (0: off)
    seed = 0
    budget_tokens = 2000           # context budget of the retrieved top k
    score_floor = 0.3              # best similarity below it: nothing relevant found
    queries = "queries.jsonl"      # production queries {"query": ..., "time": ...}
    query_source = "auto"          # logs when ingested, else the file; or "logs", "file"
    window = "7d"                  # current window, ending now
    reference_window = "28d"       # the window before it
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RelevanceConfig(_Section):
    """Settings of the relevance job; relative paths are taken from the config's directory."""

    probes: Path | None = None
    """Labelled probes: a JSONL or YAML file of queries with their expected ids."""
    k: int = Field(default=5, ge=1, le=100)
    """Retrieval depth the figures are taken at (hit@k, recall@k, nDCG@k, the budget)."""
    depth: int = Field(default=20, ge=1, le=1000)
    """How deep each probe looks for its expected hit (rank and MRR); at least ``k``."""
    self_sample: int = Field(default=300, ge=0, le=100_000)
    """Chunks sampled for self-retrieval probes (0 turns them off)."""
    self_match: Literal["chunk", "source"] = "chunk"
    """A self-retrieval probe hits when its own chunk (or any chunk of its source) comes back."""
    seed: int = 0
    index_sample: int = Field(default=200, ge=0, le=100_000)
    """Stored vectors used as queries to check the index against an exact search (0: off)."""
    budget_tokens: int = Field(default=2000, ge=1)
    """Tokens the prompt has room for: the retrieved top k is measured against it."""
    tokenizer: Path | None = None
    """A ``tokenizer.json`` to count budget tokens with; empty: the embedding model's."""
    score_floor: float = Field(default=0.3, ge=-1, le=1)
    """A query whose best cosine similarity is below this found nothing relevant."""
    queries: Path | None = None
    """Production queries, JSONL of ``{"query": ..., "time": ...}``; empty: none."""
    query_source: Literal["auto", "logs", "file"] = "auto"
    """Where production queries come from: ``auto`` reads the ingested response logs when
    both windows hold logged queries, else the ``queries`` file; ``logs`` and ``file``
    force one."""
    window: timedelta = timedelta(days=7)
    reference_window: timedelta = timedelta(days=28)
    query_sample: int = Field(default=500, ge=10, le=100_000)
    """Queries of each window that are embedded and compared."""
    drift_threshold: float = Field(default=0.55, gt=0.5, lt=1)
    """ROC AUC of the domain classifier above which queries drifted (with >= 1,000
    reference rows; below that a bootstrap against random scores decides)."""
    drift_report: bool = True
    """Write evidently's HTML drift report next to the report."""
    rolling_runs: int = Field(default=7, ge=1, le=365)
    """Without a pinned baseline, recall is compared with the median of this many runs."""

    @field_validator("window", "reference_window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        from monitor.durations import parse_duration

        return parse_duration(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _file_for_file_source(self) -> RelevanceConfig:
        if self.query_source == "file" and self.queries is None:
            raise ValueError('query_source = "file" needs a query file (relevance.queries)')
        return self

    @property
    def search_depth(self) -> int:
        return max(self.k, self.depth)

    def resolved(self, base: Path) -> RelevanceConfig:
        """The settings with relative paths taken from ``base``."""
        update = {
            name: base / value
            for name in ("probes", "tokenizer", "queries")
            if (value := getattr(self, name)) is not None and not value.is_absolute()
        }
        return self.model_copy(update=update) if update else self
