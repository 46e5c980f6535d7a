"""Reading a chunk's provenance from its metadata, for the conventions found in the wild.

- ``ragmon``: what `ragmon index` writes (``ragmon_source_id``, hashes, ``embedded_at``...).
- ``langchain``: ``source`` holds the file path; the chunk text is the stored document.
- ``llamaindex``: ``file_path`` (or, failing that, ``ref_doc_id``); node text as document.
- ``auto``: decide per chunk from the keys present, in the order above.
Keys given explicitly in the config override the preset's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from monitor.config import MappingConfig
from monitor.records import Chunk, Provenance

RAGMON_KEYS = {
    "source_key": "ragmon_source_id",
    "source_sha256_key": "ragmon_source_sha256",
    "chunk_sha256_key": "ragmon_chunk_sha256",
    "chunk_index_key": "ragmon_chunk_index",
    "embedded_at_key": "ragmon_embedded_at",
    "embedding_model_key": "ragmon_embedding_model",
}
"""Metadata keys `ragmon index` writes (plus ``ragmon_chunker`` and ``ragmon_chunker_params``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class KeySet:
    """The metadata keys of one convention; ``source`` is tried in order."""

    source: tuple[str, ...]
    source_sha256: str | None = None
    chunk_sha256: str | None = None
    chunk_index: str | None = None
    embedded_at: str | None = None
    embedding_model: str | None = None


PRESETS: dict[str, KeySet] = {
    "ragmon": KeySet(
        source=(RAGMON_KEYS["source_key"],),
        source_sha256=RAGMON_KEYS["source_sha256_key"],
        chunk_sha256=RAGMON_KEYS["chunk_sha256_key"],
        chunk_index=RAGMON_KEYS["chunk_index_key"],
        embedded_at=RAGMON_KEYS["embedded_at_key"],
        embedding_model=RAGMON_KEYS["embedding_model_key"],
    ),
    "langchain": KeySet(source=("source",)),
    "llamaindex": KeySet(source=("file_path", "ref_doc_id")),
}


class MetadataMapping:
    """Turns chunk metadata into a `Provenance` according to a `MappingConfig`."""

    def __init__(self, config: MappingConfig | None = None):
        self._config = config or MappingConfig()
        self._keys: dict[str, KeySet] = {}
        self._times: dict[Any, datetime | None] = {}

    def keys_for(self, metadata: Mapping[str, Any]) -> KeySet:
        """The key set that applies to a chunk with this metadata."""
        preset: str = self._config.preset
        if preset == "auto":
            preset = detect_preset(metadata) or "ragmon"
        found = self._keys.get(preset)
        if found is None:
            found = self._keys[preset] = self._merge(preset)
        return found

    def _merge(self, preset: str) -> KeySet:
        base = PRESETS[preset]
        c = self._config
        return KeySet(
            source=(c.source_key,) if c.source_key else base.source,
            source_sha256=c.source_sha256_key or base.source_sha256,
            chunk_sha256=c.chunk_sha256_key or base.chunk_sha256,
            chunk_index=c.chunk_index_key or base.chunk_index,
            embedded_at=c.embedded_at_key or base.embedded_at,
            embedding_model=c.embedding_model_key or base.embedding_model,
        )

    def provenance(self, chunk: Chunk) -> Provenance:
        """Read where ``chunk`` came from; ``source`` is None when no key names it."""
        meta = chunk.metadata or {}
        keys = self.keys_for(meta)
        source = None
        for key in keys.source:
            source = _str(meta, key)
            if source is not None:
                break
        return Provenance(
            source=source,
            source_sha256=_str(meta, keys.source_sha256),
            chunk_sha256=_str(meta, keys.chunk_sha256),
            chunk_index=_int(meta, keys.chunk_index),
            embedded_at=self._when(meta, keys.embedded_at),
            embedding_model=_str(meta, keys.embedding_model),
        )

    def _when(self, meta: Mapping[str, Any], key: str | None) -> datetime | None:
        # Chunks of one ingest share their timestamp: parse each distinct value once.
        value = meta.get(key) if key else None
        if value is None:
            return None
        if not isinstance(value, str | int | float):
            return None  # a list or a table is no timestamp (and cannot be a cache key)
        if value not in self._times:
            self._times[value] = _when(meta, key)
        return self._times[value]


def detect_preset(metadata: Mapping[str, Any]) -> str | None:
    """The convention a single chunk's metadata follows, or None."""
    if RAGMON_KEYS["source_key"] in metadata:
        return "ragmon"
    if "source" in metadata:
        return "langchain"
    if "file_path" in metadata or "ref_doc_id" in metadata:
        return "llamaindex"
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class MappingProposal:
    """What `ragmon init --inspect` suggests after sampling a collection."""

    preset: str | None
    sampled: int
    conventions: Mapping[str, int]
    """Chunks per detected convention (``none`` for chunks matching no convention)."""
    key_counts: Mapping[str, int]
    """How many sampled chunks carry each metadata key."""


def propose_mapping(chunks: Iterable[Chunk]) -> MappingProposal:
    """Sample chunks and propose the preset that traces most of them to a source."""
    conventions: Counter[str] = Counter()
    keys: Counter[str] = Counter()
    sampled = 0
    for chunk in chunks:
        sampled += 1
        meta = chunk.metadata or {}
        keys.update(meta.keys())
        conventions[detect_preset(meta) or "none"] += 1
    traced = [(n, p) for p, n in conventions.items() if p != "none"]
    preset = max(traced)[1] if traced else None
    return MappingProposal(
        preset=preset, sampled=sampled, conventions=dict(conventions), key_counts=dict(keys)
    )


def _str(meta: Mapping[str, Any], key: str | None) -> str | None:
    if key is None:
        return None
    value = meta.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    # A number names a source or a hash well enough; a list or a table names nothing (its
    # repr as a path would make the chunk look orphaned).
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(meta: Mapping[str, Any], key: str | None) -> int | None:
    """A chunk index: a whole number from 0, else None (a bool, -1 or 2.5 is no index)."""
    value = meta.get(key) if key is not None else None
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, float):
            number = int(value) if value.is_integer() else -1
        elif isinstance(value, int | str):
            number = int(value)
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if number >= 0 else None


def _when(meta: Mapping[str, Any], key: str | None) -> datetime | None:
    if key is None or meta.get(key) in (None, ""):
        return None
    value = meta[key]
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        parsed = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
