"""Conflicting duplicates, found through a real Chroma index with the real packaged model."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pytest

from monitor.config import StoreConfig
from monitor.freshness.conflicts import Conflict, find_conflicts
from monitor.records import Chunk
from monitor.stores.chroma import ChromaStore
from tests.conftest import fill_collection

VACATION = (
    "Full-time employees receive {days} days of paid vacation per year. "
    "Vacation requests must be approved by your manager at least two weeks in advance. "
    "Unused days can be carried over until 31 March of the following year."
)
TRAVEL = (
    "The new travel policy is effective {date} and replaces all earlier versions. "
    "Economy class is required for flights shorter than six hours."
)
ALLOWANCE = (
    "The annual home office allowance is {amount} per employee, paid in January. "
    "Receipts must be submitted through the expense portal."
)
OFFICE = (
    "The Berlin office is open from 8 to 18 on weekdays. "
    "Visitors must register at the front desk on arrival."
)

# id -> (source or None for untraceable, text)
CORPUS: dict[str, tuple[str | None, str]] = {
    "hr-vacation": ("hr/policy.md", VACATION.format(days=20)),
    "old-faq-vacation": ("faq/old-faq.md", VACATION.format(days=15)),
    # Same source as policy-vacation: a document may contradict itself, but that is
    # not a cross-source conflict.
    "hr-vacation-draft": ("hr/policy.md", VACATION.format(days=18)),
    "wiki-vacation": (None, VACATION.format(days=25)),
    "hr-travel": ("hr/policy.md", TRAVEL.format(date="1 March 2024")),
    "intranet-travel": ("intranet/travel.html", TRAVEL.format(date="1 May 2024")),
    "hr-allowance": ("hr/policy.md", ALLOWANCE.format(amount="$1,200")),
    "old-faq-allowance": ("faq/old-faq.md", ALLOWANCE.format(amount="$1,500")),
    "office-a": ("facilities/berlin.md", OFFICE),
    "office-b": ("faq/old-faq.md", OFFICE),
    # Repeats the vacation sentence with another number, inside an unrelated chunk: the
    # chunks are not near-duplicates (cosine about 0.37), so this is no conflict.
    "parking": (
        "facilities/parking.md",
        "The parking garage has 300 spaces and costs $5 per day. "
        "Electric vehicles can charge for free on level 2. Bicycles go in the courtyard. "
        "Full-time employees receive 30 days of paid vacation per year.",
    ),
}


def source_of(metadata: Mapping[str, Any]) -> str | None:
    source = metadata.get("source")
    return source if isinstance(source, str) else None


def build_store(config: StoreConfig, embedder: Any) -> ChromaStore:
    ids = list(CORPUS)
    texts = [text for _, text in CORPUS.values()]
    metadatas = [
        {"source": source} if source else {"n": i} for i, (source, _) in enumerate(CORPUS.values())
    ]
    fill_collection(
        config, ids, documents=texts, metadatas=metadatas, embeddings=embedder.embed(texts)
    )
    return ChromaStore.from_config(config)


def stored_chunks(store: ChromaStore) -> list[Chunk]:
    return [chunk for page in store.pages(include_embeddings=True) for chunk in page]


def by_pair(conflicts: list[Conflict]) -> dict[tuple[str, str], Conflict]:
    return {c.chunk_ids: c for c in conflicts}


def test_finds_the_planted_conflicts(
    store_config: Callable[..., StoreConfig], embedder: Any, caplog: pytest.LogCaptureFixture
) -> None:
    store = build_store(store_config(), embedder)
    chunks = stored_chunks(store)

    with caplog.at_level(logging.DEBUG, logger="monitor.freshness.conflicts"):
        conflicts = find_conflicts(store, chunks, source_of)

    # Sorted by source ids, then chunk ids; each pair once although both sides were queried.
    assert [c.chunk_ids for c in conflicts] == [
        ("hr-allowance", "old-faq-allowance"),
        ("hr-vacation", "old-faq-vacation"),
        ("hr-vacation-draft", "old-faq-vacation"),
        ("hr-travel", "intranet-travel"),
    ]
    found = by_pair(conflicts)
    vacation = found[("hr-vacation", "old-faq-vacation")]
    assert vacation.source_ids == ("hr/policy.md", "faq/old-faq.md")
    assert vacation.sentences == (
        "Full-time employees receive 20 days of paid vacation per year.",
        "Full-time employees receive 15 days of paid vacation per year.",
    )
    assert vacation.values == (("20",), ("15",))
    vectors = {c.id: np.asarray(c.embedding) for c in chunks}
    expected = float(vectors["hr-vacation"] @ vectors["old-faq-vacation"])
    assert vacation.similarity == pytest.approx(expected, abs=1e-5)
    assert 0.8 <= vacation.similarity < 1.0

    travel = found[("hr-travel", "intranet-travel")]
    assert travel.source_ids == ("hr/policy.md", "intranet/travel.html")
    assert travel.sentences == (
        "The new travel policy is effective 1 March 2024 and replaces all earlier versions.",
        "The new travel policy is effective 1 May 2024 and replaces all earlier versions.",
    )
    assert travel.values == (("1 March 2024",), ("1 May 2024",))

    allowance = found[("hr-allowance", "old-faq-allowance")]
    assert allowance.values == (("$1,200",), ("$1,500",))
    assert allowance.sentences[1] == (
        "The annual home office allowance is $1,500 per employee, paid in January."
    )
    assert "candidate pairs" in caplog.text


def test_pairs_without_a_value_change_or_across_one_source_are_not_conflicts(
    store_config: Callable[..., StoreConfig], embedder: Any
) -> None:
    store = build_store(store_config(), embedder)
    conflicts = find_conflicts(store, stored_chunks(store), source_of)

    involved = {cid for c in conflicts for cid in c.chunk_ids}
    # office-a / office-b: same text, same numbers, two sources.
    assert not involved & {"office-a", "office-b"}
    # hr-vacation-draft differs from hr-vacation (same source) and from
    # old-faq-vacation (another source): only the latter may be reported.
    assert ("hr-vacation", "hr-vacation-draft") not in by_pair(conflicts)
    # wiki-vacation has no source: neither queried nor accepted as a neighbour.
    assert "wiki-vacation" not in involved
    # parking shares a sentence with other values, but the chunks are not near-duplicates.
    assert "parking" not in involved
    # ...which only the cosine threshold decides: without it the sentence would conflict.
    loose = find_conflicts(store, stored_chunks(store), source_of, min_cosine=0.0)
    assert ("hr-vacation", "parking") in by_pair(loose)
    assert by_pair(loose)[("hr-vacation", "parking")].values == (("20",), ("30",))


def test_a_second_source_with_a_third_value_is_a_separate_conflict(
    store_config: Callable[..., StoreConfig], embedder: Any
) -> None:
    store = build_store(store_config(), embedder)
    conflicts = find_conflicts(store, stored_chunks(store), source_of)

    found = by_pair(conflicts)
    # The draft (hr/policy.md, 18 days) conflicts with the FAQ (15 days), not with
    # its own document.
    assert found[("hr-vacation-draft", "old-faq-vacation")].values == (("18",), ("15",))
    # Each pair once, although both chunks of every pair were queried.
    assert len(found) == len(conflicts)
    assert all(c.chunk_ids[0] < c.chunk_ids[1] for c in conflicts)
    for conflict in conflicts:
        for cid, sentence in zip(conflict.chunk_ids, conflict.sentences, strict=True):
            assert sentence in CORPUS[cid][1]


def test_thresholds_are_honoured(store_config: Callable[..., StoreConfig], embedder: Any) -> None:
    store = build_store(store_config(), embedder)
    chunks = stored_chunks(store)
    everything = find_conflicts(store, chunks, source_of)
    highest = max(c.similarity for c in everything)

    assert find_conflicts(store, chunks, source_of, min_cosine=highest + 1e-4) == []
    # Only the chunks given are queried; a pair is still found from one side.
    only_faq = [c for c in chunks if c.id == "old-faq-vacation"]
    assert [c.chunk_ids for c in find_conflicts(store, only_faq, source_of)] == [
        ("hr-vacation", "old-faq-vacation"),
        ("hr-vacation-draft", "old-faq-vacation"),
    ]
    # With values masked, the planted sentences are identical: 100 still finds them all.
    strict = find_conflicts(store, chunks, source_of, min_sentence_similarity=100.0)
    assert [c.chunk_ids for c in strict] == [c.chunk_ids for c in everything]
    assert len(strict) == 4
    # A masked-sentence threshold above 100 rejects even identical sentences.
    assert find_conflicts(store, chunks, source_of, min_sentence_similarity=100.1) == []


def test_untraceable_chunk_is_skipped_even_when_it_is_the_only_other_side(
    store_config: Callable[..., StoreConfig], embedder: Any
) -> None:
    config = store_config()
    texts = [VACATION.format(days=20), VACATION.format(days=25)]
    fill_collection(
        config,
        ["a", "b"],
        documents=texts,
        metadatas=[{"source": "hr/policy.md"}, {"other": "x"}],
        embeddings=embedder.embed(texts),
    )
    store = ChromaStore.from_config(config)
    chunks = stored_chunks(store)
    assert find_conflicts(store, chunks, source_of) == []
    # The same collection with a resolver that traces b does report the pair.
    [conflict] = find_conflicts(store, chunks, lambda m: m.get("source") or "wiki/b.md")
    assert conflict.values == (("20",), ("25",))


def test_reports_only_the_values_that_differ_and_reads_dates_in_any_format(
    store_config: Callable[..., StoreConfig], embedder: Any
) -> None:
    config = store_config()
    hours = (
        "Support is available from 8 to {close} on weekdays and from 10 to 14 on Saturdays. "
        "Call the hotline or open a ticket in the portal."
    )
    move = (
        "The support team moves to the new building on {date}. "
        "Please update the address on your letters and parcels."
    )
    texts = [
        hours.format(close=18),
        hours.format(close=17),
        move.format(date="1 March 2024"),
        move.format(date="2024-03-01"),
    ]
    fill_collection(
        config,
        ["hours-a", "hours-b", "move-a", "move-b"],
        documents=texts,
        metadatas=[{"source": "a.md"}, {"source": "b.md"}] * 2,
        embeddings=embedder.embed(texts),
    )
    store = ChromaStore.from_config(config)

    conflicts = find_conflicts(store, stored_chunks(store), source_of)

    # The moving date is the same day written two ways: not a conflict.
    [conflict] = conflicts
    assert conflict.chunk_ids == ("hours-a", "hours-b")
    assert conflict.values == (("18",), ("17",))
    assert conflict.sentences == (
        "Support is available from 8 to 18 on weekdays and from 10 to 14 on Saturdays.",
        "Support is available from 8 to 17 on weekdays and from 10 to 14 on Saturdays.",
    )
