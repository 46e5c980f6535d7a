"""Generated correlation frames (the contract's `responses` and `retrieved`), seeded.

Answers of one day share a random day effect on grounding, and every feature's
prevalence swings from day to day, as in real logs: the case where a test that treats
answers as independent finds day-to-day noise "significant".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

START = datetime(2026, 10, 1, tzinfo=UTC)
K = 5
"""Chunks retrieved per answer."""


@dataclass(frozen=True)
class DocState:
    status: str
    action: str | None
    fix_rank: int | None


@dataclass(frozen=True)
class Frames:
    responses: pd.DataFrame
    retrieved: pd.DataFrame
    documents: dict[str, DocState]
    stale_docs: tuple[str, ...]


def generate(
    rng: np.random.Generator,
    *,
    days: int = 30,
    per_day: int = 80,
    docs: int = 100,
    stale_docs: int = 0,
    stale_effect: float = 0.0,
    day_sd: float = 0.06,
    noise_sd: float = 0.08,
    base: float = 0.8,
    topics: int = 0,
    topic_effect: float = 0.0,
    stale_share_in_topic: float = 0.5,
    stale_only_in_topic: bool = False,
    lagged_stale: int | None = None,
) -> Frames:
    """``days`` x ``per_day`` answers retrieving ``K`` of ``docs`` documents each.

    Without ``stale_docs`` every feature is drawn independently of grounding (the
    null). With them, ``any_stale`` and ``share_stale`` follow from the documents an
    answer retrieved, and grounding drops by ``stale_effect`` when any is stale. With
    ``topics``, documents belong to topics (the strata), the first topic holds every
    stale document and its answers score ``topic_effect`` lower whatever they
    retrieved. ``lagged_stale`` plants a day-level lead: the share of stale answers on
    a day lowers mean grounding that many days later.
    """
    n = days * per_day
    day_index = np.repeat(np.arange(days), per_day)
    day_effect = rng.normal(0.0, day_sd, days)
    at = pd.to_datetime([START + timedelta(days=int(d)) for d in range(days)], utc=True)[
        day_index
    ] + pd.to_timedelta(rng.uniform(0, 86_399, n), unit="s")
    doc_names = np.array([f"topic{i % max(topics, 1)}/doc{i:03d}.md" for i in range(docs)])
    if topics:
        topic = rng.integers(0, topics, n)
        topic_docs = [np.flatnonzero(np.arange(docs) % topics == t) for t in range(topics)]
    else:
        topic = np.zeros(n, dtype=np.int64)
        topic_docs = [np.arange(docs)]
    stale = np.zeros(docs, dtype=bool)
    if stale_docs:
        stale[topic_docs[0][:stale_docs]] = True
    retrieved_docs = np.empty((n, K), dtype=np.int64)
    for t, pool in enumerate(topic_docs):
        rows = np.flatnonzero(topic == t)
        if topics and t == 0 and stale_docs:
            # Within the first topic, about `stale_share_in_topic` of the answers retrieve
            # a stale document first (all of them when `stale_only_in_topic`).
            fresh_pool = pool[~stale[pool]]
            stale_pool = pool[stale[pool]]
            retrieved_docs[rows] = rng.choice(fresh_pool, size=(rows.size, K))
            share = 1.0 if stale_only_in_topic else stale_share_in_topic
            hit = rows[rng.random(rows.size) < share]
            retrieved_docs[hit, 0] = rng.choice(stale_pool, size=hit.size)
        else:
            retrieved_docs[rows] = rng.choice(pool, size=(rows.size, K))
    daily_stale = rng.uniform(0.05, 0.6, days)
    if lagged_stale is not None:
        stale_flags = rng.random((n, K)) < daily_stale[day_index][:, None] / K * 2
    elif stale_docs:
        stale_flags = stale[retrieved_docs]
    else:
        stale_flags = _chunk_flags(rng, day_index, days)
    any_stale = stale_flags.any(axis=1)
    grounding = base + day_effect[day_index] + rng.normal(0.0, noise_sd, n)
    grounding -= stale_effect * any_stale
    if topics:
        grounding -= topic_effect * (topic == 0)
    if lagged_stale is not None:
        day_share = pd.Series(any_stale).groupby(day_index).mean().to_numpy()
        lead = np.zeros(days)
        lead[lagged_stale:] = day_share[: days - lagged_stale]
        grounding -= 0.5 * (lead - lead[lagged_stale:].mean())[day_index]
    grounding = np.clip(grounding, 0.0, 1.0)

    frame: dict[str, object] = {
        "rid": np.arange(n),
        "response_id": [f"r{i}" for i in range(n)],
        "at": at,
        "day": at.strftime("%Y-%m-%d"),
        "grounding": grounding,
        "band": None,
        "low": grounding < 0.8,
    }
    frame["cluster"] = frame["day"]
    frame["stratum"] = [f"topic{t}" for t in topic] if topics else None
    # Per retrieved chunk, each problem with its own prevalence per day; the features
    # follow from the chunks, as the contract defines them.
    chunks = {"stale": stale_flags}
    for state in ("orphaned", "moved", "suspect", "truncated", "mid_sentence", "junk"):
        chunks[state] = _chunk_flags(rng, day_index, days)
    for state, flags in chunks.items():
        frame[f"any_{state}"] = pd.array(flags.any(axis=1), dtype="boolean")
    bad_cut = chunks["truncated"] | chunks["mid_sentence"] | chunks["junk"]
    frame["any_bad_cut"] = pd.array(bad_cut.any(axis=1), dtype="boolean")
    for name in ("any_conflict", "query_drifted", "over_budget"):
        frame[name] = pd.array(_daily_bernoulli(rng, day_index, days), dtype="boolean")
    for state in ("stale", "orphaned", "moved", "suspect"):
        frame[f"share_{state}"] = chunks[state].mean(axis=1)
    frame["max_changed_share"] = np.where(any_stale, rng.uniform(0.02, 1, n), np.nan)
    frame["max_stale_age_days"] = np.where(
        any_stale, rng.exponential(5 + 10 * rng.random(days)[day_index]), np.nan
    )
    frame["top1_score"] = 0.6 + rng.normal(0, 0.05, days)[day_index] + rng.normal(0, 0.08, n)
    frame["margin"] = np.abs(rng.normal(0.05, 0.04, n))
    responses = pd.DataFrame(frame)

    retrieved = pd.DataFrame(
        {
            "rid": np.repeat(np.arange(n), K),
            "position": np.tile(np.arange(K), n),
            "chunk_id": [
                f"c{d}-{p}"
                for d, p in zip(retrieved_docs.ravel(), np.tile(np.arange(K), n), strict=True)
            ],
            "source_id": doc_names[retrieved_docs.ravel()],
            "chunk_class": np.where(stale[retrieved_docs.ravel()], "stale", "fresh"),
        }
    )
    stale_names = tuple(doc_names[stale])
    documents = {
        name: DocState(status="stale", action="re-embed", fix_rank=i + 1)
        for i, name in enumerate(stale_names)
    }
    return Frames(responses, retrieved, documents, stale_names)


def _chunk_flags(rng: np.random.Generator, day_index: np.ndarray, days: int) -> np.ndarray:
    """Per answer and retrieved chunk: a problem whose prevalence swings per day (about 5%
    of chunks on average, so about 22% of answers retrieve at least one)."""
    return rng.random((day_index.size, K)) < rng.beta(1, 20, days)[day_index][:, None]


def _daily_bernoulli(rng: np.random.Generator, day_index: np.ndarray, days: int) -> np.ndarray:
    """Each day its own prevalence (mean 0.2, swinging from about 0.05 to 0.45)."""
    return rng.random(day_index.size) < rng.beta(2, 8, days)[day_index]


def significant(features: Sequence[object]) -> list[str]:
    return [f.name for f in features if f.status == "finding"]  # type: ignore[attr-defined]
