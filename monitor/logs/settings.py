"""The ``[logs]`` section: which files hold the application's responses, and how to read them."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldMapping(_Section):
    """Where each field of a flat record is: a dotted path into the JSON object (or a CSV
    column name). Empty means the log does not carry that field."""

    id: str = "id"
    time: str = "timestamp"
    query: str = "query"
    answer: str = "answer"
    chunks: str = "chunks"
    """A list of retrieved chunks, each an object (see ``chunk_id`` ...) or a plain id."""
    chunk_id: str = "id"
    """Path of the id inside one item of ``chunks``."""
    chunk_score: str = "score"
    chunk_text: str = "text"
    chunk_ids: str = ""
    """Alternatively, a list of ids (CSV: one cell, a JSON list or ids separated by
    ``list_separator``) ..."""
    chunk_scores: str = ""
    """... and the list of their scores, in the same order."""
    context: str = "context"
    grounding: str = "grounding"
    feedback: str = "feedback"
    labels: list[str] = Field(default_factory=list)
    """Paths kept as labels, named by their path."""
    other_fields_as_labels: bool = True
    """Keep top-level scalar fields that no other key maps as labels."""
    list_separator: str = "|"
    score_kind: Literal["distance", "similarity"] = "similarity"
    score_range: tuple[float, float] | None = None
    """Scores outside this closed range are quarantined (NaN and infinities always are)."""
    grounding_range: tuple[float, float] | None = (0.0, 1.0)
    """Grounding scores outside this closed range are quarantined."""


class LogsSettings(_Section):
    """Where the response logs are and how to read them (`ragmon run ingest-logs`)."""

    paths: list[str] = Field(default_factory=list)
    """Globs, relative to the config file. Include rotated names (``app.jsonl*``) so the
    unread tail of a file renamed by rotation is still read."""
    format: Literal["openinference", "genai", "jsonl", "csv"] = "jsonl"
    """``jsonl`` and ``csv`` files may be gzipped (``.gz``)."""
    mapping: FieldMapping = Field(default_factory=FieldMapping)
    """Field mapping of the flat formats (``jsonl``, ``csv``)."""
    score_kind: Literal["distance", "similarity"] = "similarity"
    """What scores in trace formats measure (OpenInference does not say)."""
    grounding_attribute: str = ""
    """Span attribute holding a grounding score in trace formats, if the app sets one."""
    feedback_attribute: str = ""
    trace_wait_seconds: int = Field(default=900, ge=0)
    """How long the spans of a trace wait for its root span (maybe in a later file) before
    the trace is taken as it is."""
    retention_days: int = Field(default=90, ge=1)
    """Responses, their chunks and retrieval counts older than this are deleted."""
    window_days: int = Field(default=7, ge=1)
    """Retrieval counts shown in the fix queue cover this many days."""
    quarantine: Path = Path(".ragmon/quarantine.jsonl")
    """Lines that could not be used, with file, line and reason (relative to the config)."""
    batch_bytes: int | None = Field(default=None, ge=1 << 16)
    """Bytes read per batch; each batch and its file offset commit in one transaction.
    Unset: 8 MB of flat lines, 32 MB of trace lines (a trace takes about four times the
    bytes of a flat record), so a batch is about 12,000 responses either way."""

    @property
    def block_bytes(self) -> int:
        """``batch_bytes``, or the format's default."""
        if self.batch_bytes is not None:
            return self.batch_bytes
        return (32 << 20) if self.format in ("openinference", "genai") else (8 << 20)

    @model_validator(mode="after")
    def _paths_for_format(self) -> LogsSettings:
        if any(not p.strip() for p in self.paths):
            raise ValueError("logs.paths: an empty glob")
        return self
