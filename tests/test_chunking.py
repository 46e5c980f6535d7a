"""Chunking quality on real text in a real embedded Chroma: the demo corpus cut well, then
re-cut badly (all of it, or a quarter), and cut the same way twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.chunking.snapshot import ChunkingResult
from monitor.chunking.tokens import WindowTokenizer
from monitor.records import RunStatus
from tests.chunking_scenarios import (
    FOOTER,
    ZWSP,
    bad_chunks,
    chunking_config,
    demo_documents,
    good_chunks,
    run_and_store,
    write_chunks,
)

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def documents() -> dict[str, str]:
    return demo_documents()


@pytest.fixture(scope="module")
def good(documents):
    return good_chunks(documents)


@pytest.fixture(scope="module")
def bad(documents):
    return bad_chunks(documents)


def _result(run) -> ChunkingResult:
    return ChunkingResult.from_json(run.details)


def _expected_not_embedded(chunks: dict[str, list[str]]) -> tuple[int, float]:
    """Chunks over the window and the share of text beyond it, by encoding each chunk whole."""
    tok = WindowTokenizer.from_model_dir()
    over, beyond, total = 0, 0, 0
    for pieces in chunks.values():
        for piece in pieces:
            encoding = tok.tokenizer.encode(piece, add_special_tokens=False)
            total += len(piece)
            if len(encoding) > tok.window:
                over += 1
                beyond += len(piece) - encoding.offsets[tok.window - 1][1]
    return over, beyond / total


def test_bad_rechunk_moves_every_feature_and_is_detected_as_drift(tmp_path, good, bad):
    config = chunking_config(tmp_path)
    write_chunks(config.store, good, embedded_at=T0)
    before = run_and_store(config)
    write_chunks(config.store, bad, embedded_at=T0 + timedelta(days=3), replace=good)
    after = run_and_store(config)

    old, new = _result(before).snapshot, _result(after).snapshot
    n_bad = sum(map(len, bad.values()))
    assert old.chunks == sum(map(len, good.values())) and new.chunks == n_bad

    # The good cut fits the model: nothing truncated, nothing lost.
    assert old.counts["truncated"] == 0 and old.shares["text_not_embedded"] == 0
    # The bad cut: exactly the chunks the tokenizer finds over 254 tokens, exactly the text
    # beyond the window.
    over, beyond = _expected_not_embedded(bad)
    assert over > n_bad / 2
    assert new.counts["truncated"] == over
    assert new.shares["text_not_embedded"] == pytest.approx(beyond, abs=1e-5)
    # Zero-width spaces went into every other chunk: exactly those hold junk.
    injected = sum(1 for pieces in bad.values() for p in pieces if ZWSP in p)
    assert (old.counts["junk"], new.counts["junk"]) == (0, injected)
    # The footer went into every third chunk: it is the one boilerplate line, named.
    footed = sum(1 for pieces in bad.values() for p in pieces if FOOTER in p)
    assert old.boilerplate == ()
    assert [b.text for b in new.boilerplate] == [FOOTER]
    assert new.counts["boilerplate"] == footed
    # Windows cut anywhere: the chunks that neither end their document nor carry the footer
    # end mid-sentence (barring a cut right after a full stop); many start mid-sentence or
    # inside a word.
    cut = sum(len(ps) - 1 - sum(1 for p in ps[:-1] if FOOTER in p) for ps in bad.values())
    assert old.shares["mid_sentence_end"] <= 0.05
    assert new.counts["mid_sentence_end"] >= 0.8 * cut
    assert new.shares["mid_sentence_end"] >= old.shares["mid_sentence_end"] + 0.2
    assert new.shares["mid_sentence_start"] >= old.shares["mid_sentence_start"] + 0.3
    assert new.shares["cut_in_word"] >= old.shares["cut_in_word"] + 0.1
    assert new.lengths.tokens["p50"] > old.lengths.window > old.lengths.tokens["max"]

    comparison = _result(after).comparison
    assert comparison is not None and comparison.reference_kind == "previous"
    drifted = set(comparison.drifted)
    assert {
        "truncated",
        "text_not_embedded",
        "mid_sentence_end",
        "mid_sentence_start",
        "junk",
        "boilerplate",
        "tokens",
        "chars",
    } <= drifted
    tests = {f.feature: f for f in comparison.features}
    assert tests["truncated"].test == "chi-square" and tests["truncated"].p_value < 0.01
    assert tests["tokens"].test == "two-sample K-S" and tests["tokens"].statistic >= 0.5
    assert tests["truncated"].delta == pytest.approx(new.shares["truncated"])
    assert after.status == RunStatus.FINDINGS
    assert before.status == RunStatus.OK
    kinds = {f.kind for f in after.findings}
    assert {"text_not_embedded", "boilerplate", "drift", "document_changed"} <= kinds


def test_same_cut_twice_shows_no_drift(tmp_path, good):
    config = chunking_config(tmp_path)
    write_chunks(config.store, good, embedded_at=T0)
    first = run_and_store(config)
    # Re-ingested the same way a week later: new timestamps, the same chunks.
    write_chunks(config.store, good, embedded_at=T0 + timedelta(days=7), replace=good)
    second = run_and_store(config)

    comparison = _result(second).comparison
    assert comparison is not None
    assert comparison.drifted == ()
    assert comparison.documents == () and comparison.documents_changed == 0
    assert all(f.delta == 0 for f in comparison.features)
    assert second.status == first.status == RunStatus.OK
    figures = {(m.name, tuple(sorted(m.labels.items()))): m.value for m in second.metrics}
    assert figures[("chunking_drifted_features", (("collection", "kbase"),))] == 0


def test_a_quarter_rechunked_is_named_per_document_and_per_batch(tmp_path, good, bad):
    config = chunking_config(tmp_path)
    write_chunks(config.store, good, embedded_at=T0)
    run_and_store(config)
    victims = ["handbook/expenses.md", "products/firmware-updates.rst", "faq/it-faq.md"]
    write_chunks(
        config.store,
        {d: bad[d] for d in victims},
        embedded_at=T0 + timedelta(days=2),
        replace=victims,
    )
    result = _result(run_and_store(config))

    comparison = result.comparison
    assert comparison is not None
    changed = comparison.documents
    assert {c.document for c in changed} == set(victims)
    for change in changed:
        assert change.chunks_before == len(good[change.document])
        assert change.chunks_after == len(bad[change.document])
        assert change.shares_after["truncated"] > change.shares_before["truncated"] == 0
        assert change.example_before is not None and change.example_after is not None
        assert change.example_after.chunk_id.startswith(change.document)
    # Two ingest batches; the newer one holds the three re-cut documents and their damage.
    batches = result.snapshot.batches
    assert [b.documents for b in batches] == [len(good) - 3, 3]
    assert batches[0].shares["truncated"] == 0
    assert batches[1].shares["truncated"] > 0.5
    assert batches[1].text_not_embedded_share > 5 * result.snapshot.shares["text_not_embedded"] / 2
    # The worst documents lead with their text never embedded: the re-cut ones.
    assert {w.document for w in result.snapshot.worst[:3]} == set(victims)


def test_result_round_trips_and_refuses_another_schema(tmp_path, good):
    from monitor.errors import ResultSchemaError

    config = chunking_config(tmp_path)
    write_chunks(config.store, good, embedded_at=T0)
    details = run_and_store(config).details
    assert details["schema"] == "ragmon.chunking/1"
    again = ChunkingResult.from_json(details)
    assert again.to_json() == details
    with pytest.raises(ResultSchemaError, match="ragmon.chunking/1"):
        ChunkingResult.from_json({**details, "schema": "ragmon.chunking/0"})


def test_no_timestamp_means_no_batches_and_says_so(tmp_path, good):
    from monitor.stores.chroma import open_client

    config = chunking_config(tmp_path)
    collection = open_client(config.store, create=True).get_or_create_collection(
        "kbase", embedding_function=None
    )
    pieces = [(doc, i, p) for doc, ps in good.items() for i, p in enumerate(ps)]
    collection.add(
        ids=[f"{d}#{i}" for d, i, _ in pieces],
        documents=[p for *_, p in pieces],
        embeddings=[[0.1 * (k % 7), 1.0] for k in range(len(pieces))],
        metadatas=[{"source": f"/srv/docs/{d}"} for d, *_ in pieces],
    )
    snapshot = _result(run_and_store(config)).snapshot
    assert snapshot.batches == ()
    assert "no embedding time" in snapshot.batches_note
    assert snapshot.documents == len(good)


def test_an_empty_collection_is_measured_without_error(tmp_path):
    from monitor.stores.chroma import open_client

    config = chunking_config(tmp_path)
    open_client(config.store, create=True).get_or_create_collection(
        "kbase", embedding_function=None
    )
    run = run_and_store(config)
    snapshot = _result(run).snapshot
    assert (snapshot.chunks, snapshot.documents, snapshot.worst) == (0, 0, ())
    assert run.status == RunStatus.OK
    again = _result(run_and_store(config))
    assert again.comparison is not None and again.comparison.drifted == ()


def test_a_hub_model_name_needs_the_tokenizer_directory(tmp_path):
    from jobs.chunking import run_chunking
    from monitor.errors import ConfigError
    from monitor.history import HistoryStore

    config = chunking_config(tmp_path, embedding={"model": "intfloat/e5-small-v2"})
    history = HistoryStore.open(config.history_url)
    with pytest.raises(ConfigError, match="chunking_quality.model_dir"):
        run_chunking(config, history, quiet=True)
    history.engine.dispose()


def test_documents_are_named_as_the_freshness_audit_names_them(tmp_path, embedder):
    """A LangChain store indexed on another machine records ``/srv/app/docs/...``: with the
    path rewrite the audit needs, the chunking job names the same documents the same way."""
    from tests.freshness_scenarios import audit_and_store, langchain_index, make_config, write

    docs = tmp_path / "docs"
    for name, text in demo_documents().items():
        write(docs, name, text)
    config = make_config(
        tmp_path,
        tmp_path / "chroma",
        "elsewhere",
        docs,
        mapping={"path_rewrites": [{"from": "/srv/app/docs/", "to": ""}]},
    )
    langchain_index(config.store, docs, embedder, recorded_prefix="/srv/app/docs/")
    chunking = _result(run_and_store(config)).snapshot.by_document.ids
    audit = audit_and_store(config).details
    assert audit["counts"]["chunks"]["orphaned"] == 0
    assert set(chunking) == {n for n in demo_documents() if n.endswith(".md")}
    assert not any(name.startswith("/srv/") for name in chunking)
