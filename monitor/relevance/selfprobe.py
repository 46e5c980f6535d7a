"""Self-retrieval probes (inverse cloze): a chunk's own sentences as queries, no labels.

A seeded sample of chunks is drawn once and kept (its ids are stored with each run's
result and handed to the next run); a chunk that disappeared from the store is replaced
by a fresh draw and counted. From each chunk up to three sentences are taken, at its
start, middle and end, and each must bring its own chunk (or, with ``self_match =
"source"``, a chunk of its source) back in the top k. The model reads only the first
~256 tokens of a chunk, so a long chunk's late sentences miss while its early ones hit:
a gap between ``start`` and ``end`` is a measurement of truncation, not noise.

The figures track change over time, not absolute quality: a sentence is an easy query
for the chunk it was cut from.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from monitor.relevance.metrics import Aggregate, ProbeOutcome, aggregate, score_probe
from monitor.relevance.retrieval import Retriever

log = logging.getLogger(__name__)

POSITIONS = ("start", "middle", "end")
MIN_WORDS = 4
"""Shorter sentences (headings, list bullets) say too little to be a query."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SampleChoice:
    ids: tuple[str, ...]
    replaced: int
    """Chunks of the previous sample that are gone from the store, replaced by new draws."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SelfRetrieval:
    """Self-retrieval figures of one run."""

    sample_ids: tuple[str, ...]
    """The persisted sample, in draw order; the next run starts from it."""
    seed: int
    replaced: int
    unusable: int
    """Sampled chunks without a sentence of at least four words."""
    match: str
    overall: Aggregate
    by_position: dict[str, Aggregate]
    late_misses: tuple[str, ...]
    """Chunks whose start sentence hit but whose end sentence missed (at most 50)."""


def choose_sample(
    all_ids: Iterable[str], previous: Sequence[str], *, size: int, seed: int
) -> SampleChoice:
    """Keep the previous sample's ids that still exist, and draw the rest (seeded)."""
    present = set(all_ids)
    kept = [i for i in previous if i in present][:size]
    gone = sum(1 for i in previous if i not in present)
    need = size - len(kept)
    if need <= 0:
        return SampleChoice(ids=tuple(kept), replaced=gone)
    pool = sorted(present.difference(kept))
    # The draw depends only on the seed and on what is being replaced, so identical
    # stores give identical samples.
    rng = random.Random(f"{seed}:{len(previous)}:{gone}")
    drawn = rng.sample(pool, min(need, len(pool)))
    return SampleChoice(ids=tuple(kept + drawn), replaced=min(gone, len(drawn)) if previous else 0)


def query_sentences(text: str) -> dict[str, str]:
    """The start, middle and end sentences of a chunk (fewer for short chunks)."""
    from sentencex import segment

    sentences = [s.strip() for s in segment("en", text)]
    usable = [s for s in sentences if len(s.split()) >= MIN_WORDS]
    if not usable:
        return {}
    if len(usable) == 1:
        return {"start": usable[0]}
    if len(usable) == 2:
        return {"start": usable[0], "end": usable[1]}
    return {"start": usable[0], "middle": usable[len(usable) // 2], "end": usable[-1]}


def self_retrieval(
    retriever: Retriever,
    choice: SampleChoice,
    *,
    k: int,
    depth: int,
    seed: int,
    match: str = "chunk",
    budget: int | None = None,
) -> tuple[SelfRetrieval, list[tuple[str, str, ProbeOutcome]]]:
    """Run the sample's sentences as queries; figures overall and by position.

    Also returns each probe as (chunk id, position, outcome), for the index check.
    """
    chunks = {c.id: c for c in retriever.store.get(list(choice.ids))}
    queries: list[tuple[str, str, str]] = []
    unusable = 0
    for chunk_id in choice.ids:
        chunk = chunks.get(chunk_id)
        sentences = query_sentences(chunk.text or "") if chunk else {}
        if not sentences:
            unusable += 1
        queries += [(chunk_id, pos, sentence) for pos, sentence in sentences.items()]
    ranked = retriever.rank([q for _, _, q in queries], depth, k=k)
    probes: list[tuple[str, str, ProbeOutcome]] = []
    for (chunk_id, position, _), hits in zip(queries, ranked, strict=True):
        unit: Literal["source", "chunk"] = "chunk"
        expected = {chunk_id: 1.0}
        if match == "source":
            source = retriever.source_of(chunk_id, chunks[chunk_id].metadata)
            expected, unit = {source or chunk_id: 1.0}, "source"
        outcome = score_probe(
            f"{chunk_id}@{position}",
            expected,
            unit,
            hits,
            k=k,
            budget=budget,
        )
        probes.append((chunk_id, position, outcome))
    by_position = {
        pos: aggregate([o for _, p, o in probes if p == pos])
        for pos in POSITIONS
        if any(p == pos for _, p, _ in probes)
    }
    start_hit = {c for c, p, o in probes if p == "start" and o.hit}
    late = tuple(c for c, p, o in probes if p == "end" and not o.hit and c in start_hit)[:50]
    result = SelfRetrieval(
        sample_ids=choice.ids,
        seed=seed,
        replaced=choice.replaced,
        unusable=unusable,
        match=match,
        overall=aggregate([o for _, _, o in probes]),
        by_position=by_position,
        late_misses=late,
    )
    return result, probes
