"""Conflicting duplicates as a person reads them: one finding per sentence template.

Pairs found by `find_conflicts` that share a sentence template (the sentence with its
values masked) are one disagreement among several documents: "3 documents say *acme is
a mature library with more than N tests* with 3 different values: 1000 (oldest) ...
2000 (newest)". Documents are ordered by modification time; the newest is marked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.freshness.conflicts import Conflict


@dataclass(frozen=True, kw_only=True, slots=True)
class Voice:
    """What one document's chunk says in a conflict group."""

    source_id: str
    chunk_id: str
    sentence: str
    value: str
    """The values that differ from the others', joined."""
    modified_at: datetime | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConflictGroup:
    """Documents that say one sentence with different values, oldest first."""

    template: str
    """The sentence with each value shown as N."""
    voices: tuple[Voice, ...]
    pairs: tuple[Conflict, ...]

    @property
    def newest(self) -> Voice:
        return self.voices[-1]

    @property
    def values(self) -> list[str]:
        """Distinct values, in the order of the documents that say them."""
        return list(dict.fromkeys(v.value for v in self.voices))

    def describe(self) -> str:
        """One line for findings and alerts."""
        shown = [
            f"{v.value} ({v.source_id}"
            + (", oldest" if i == 0 else ", newest" if i == len(self.voices) - 1 else "")
            + ")"
            for i, v in enumerate(self.voices)
        ]
        listing = " … ".join(shown) if len(shown) <= 6 else f"{shown[0]} … {shown[-1]}"
        return (
            f"{len(self.voices)} documents say “{self.template}” with {len(self.values)} "
            f"different values: {listing}"
        )

    def to_json(self) -> dict[str, Any]:
        newest = self.newest
        return {
            "template": self.template,
            "source_ids": [v.source_id for v in self.voices],
            "values": self.values,
            "newest": {"source_id": newest.source_id, "value": newest.value},
            "documents": [
                {
                    "source_id": v.source_id,
                    "chunk_id": v.chunk_id,
                    "sentence": v.sentence,
                    "value": v.value,
                    "modified_at": v.modified_at.isoformat() if v.modified_at else None,
                    "newest": v is newest,
                }
                for v in self.voices
            ],
            "pairs": [
                {
                    "chunk_ids": list(c.chunk_ids),
                    "source_ids": list(c.source_ids),
                    "values": [list(x) for x in c.values],
                    "similarity": round(c.similarity, 4),
                }
                for c in self.pairs
            ],
        }


def group_conflicts(
    conflicts: Sequence[Conflict], modified: Mapping[str, datetime | None]
) -> list[ConflictGroup]:
    """Join pairs that share a sentence (chunk and template) into groups."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(node: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    voices: dict[tuple[str, str], Voice] = {}
    for c in conflicts:
        nodes = []
        for side in (0, 1):
            node = (c.chunk_ids[side], c.templates[side].casefold())
            nodes.append(node)
            voices.setdefault(
                node,
                Voice(
                    source_id=c.source_ids[side],
                    chunk_id=c.chunk_ids[side],
                    sentence=c.sentences[side],
                    value=", ".join(c.values[side]),
                    modified_at=modified.get(c.source_ids[side]),
                ),
            )
        parent[find(nodes[0])] = find(nodes[1])
    members: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for node in voices:
        members.setdefault(find(node), []).append(node)
    groups = []
    for nodes in members.values():
        chunk_ids = {n[0] for n in nodes}
        pairs = tuple(c for c in conflicts if c.chunk_ids[0] in chunk_ids)
        # One voice per document: its first chunk saying this sentence.
        by_doc: dict[str, Voice] = {}
        for node in sorted(nodes):
            by_doc.setdefault(voices[node].source_id, voices[node])
        ordered = sorted(
            by_doc.values(),
            key=lambda v: (v.modified_at is not None, v.modified_at or datetime.min, v.source_id),
        )
        keys = [n[1] for n in nodes]
        key = max(keys, key=keys.count)
        original = next(
            (c.templates[i] for c in pairs for i in (0, 1) if c.templates[i].casefold() == key),
            key,
        )
        groups.append(
            ConflictGroup(template=_display(original), voices=tuple(ordered), pairs=pairs)
        )
    return sorted(groups, key=lambda g: (-len(g.voices), g.template))


def _display(masked: str) -> str:
    return masked.replace("<V>", "N").replace("<ID>", "…")
