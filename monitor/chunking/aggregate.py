"""From a `FeatureTable` to a `Snapshot`: per collection, per document, per ingest batch."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from monitor import clock
from monitor.chunking.features import FLAGS, FeatureTable
from monitor.chunking.settings import ChunkingQualitySettings
from monitor.chunking.snapshot import (
    Batch,
    BoilerplateLine,
    DocumentTable,
    Histogram,
    Lengths,
    Snapshot,
    WorstDocument,
)

PROBLEMS = (
    "truncated",
    "mid_sentence_start",
    "mid_sentence_end",
    "cut_in_word",
    "table_row_cut",
    "code_block_cut",
    "fragment",
    "junk",
)
"""Flags that make a chunk a problem chunk for a document's problem share."""
BATCH_SHARES = ("truncated", "mid_sentence_end", "cut_in_word", "fragment", "junk", "boilerplate")
DOCUMENT_COLUMNS = ("chunks", "chars", "not_embedded_chars", *FLAGS, "max_tokens", "batch")
QUANTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99, "max": 100}


def snapshot(
    table: FeatureTable,
    settings: ChunkingQualitySettings,
    *,
    collection: str,
    store: str,
    tokenizer: str,
    max_seq_length: int,
    computed_at: datetime | None = None,
) -> Snapshot:
    """Aggregate ``table`` into this run's snapshot."""
    n = len(table.chars)
    chars = int(table.chars.sum())
    not_embedded = table.chars - table.embedded_chars
    counts = {flag: int(table.has(flag).sum()) for flag in FLAGS}
    shares = {flag: _share(counts[flag], n) for flag in FLAGS}
    shares["text_not_embedded"] = _share(int(not_embedded.sum()), chars)
    shares["junk_chars"] = _share(int(table.invisible_chars.sum()), chars)
    batch_of_doc, batches, note = _batches(table, settings)
    by_document = _documents(table, not_embedded, batch_of_doc)
    worst = _worst(table, by_document, settings)
    kept = {w.document for w in worst[: settings.examples]}
    ranked = [w.document for w in worst] + [d for d in by_document.ids if d not in kept]
    position = {d: i for i, d in enumerate(table.documents)}
    examples = {}
    for document in ranked[: settings.examples]:
        example = table.examples.get(position[document])
        if example is not None:
            examples[document] = example
    return Snapshot(
        collection=collection,
        store=store,
        computed_at=computed_at or clock.now(),
        tokenizer=tokenizer,
        chunks=n,
        documents=len(table.documents),
        chars=chars,
        chars_not_embedded=int(not_embedded.sum()),
        without_text=table.without_text,
        counts=counts,
        shares=shares,
        lengths=_lengths(table, not_embedded, max_seq_length),
        boilerplate=tuple(
            BoilerplateLine(text=b.text, chunks=b.chunks, documents=b.documents)
            for b in table.boilerplate
        ),
        by_document=by_document,
        batches=batches,
        batches_note=note,
        worst=tuple(worst[: settings.top_documents]),
        examples=examples,
    )


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _lengths(table: FeatureTable, not_embedded: np.ndarray, max_seq_length: int) -> Lengths:
    window = table.window
    sample = table.sampled
    token_edges = list(range(0, 4 * window + 1, max(1, window // 8)))
    char_edges = list(range(0, 8001, 250))
    per_doc = np.bincount(table.document, minlength=len(table.documents))
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(table.chars > 0, not_embedded / np.maximum(table.chars, 1), 0.0)
    return Lengths(
        window=window,
        max_seq_length=max_seq_length,
        tokens=_quantiles(table.tokens),
        chars=_quantiles(table.chars),
        token_histogram=_histogram(table.tokens, token_edges),
        char_histogram=_histogram(table.chars, char_edges),
        token_sample=tuple(int(v) for v in table.tokens[sample]),
        char_sample=tuple(int(v) for v in table.chars[sample]),
        not_embedded_sample=tuple(round(float(v), 4) for v in fraction[sample]),
        chunks_per_document=tuple(int(v) for v in per_doc),
    )


def _quantiles(values: np.ndarray) -> dict[str, float]:
    if not len(values):
        return {k: 0.0 for k in QUANTILES}
    found = np.percentile(values, list(QUANTILES.values()))
    return {k: float(v) for k, v in zip(QUANTILES, found, strict=True)}


def _histogram(values: np.ndarray, edges: list[int]) -> Histogram:
    # The last bin is open-ended: everything from the last edge up lands in it.
    clipped = np.minimum(values, edges[-1])
    counts, _ = np.histogram(clipped, bins=[*edges, edges[-1] + 1])
    return Histogram(edges=tuple(edges), counts=tuple(int(c) for c in counts))


def _batches(
    table: FeatureTable, settings: ChunkingQualitySettings
) -> tuple[np.ndarray, tuple[Batch, ...], str]:
    """Group documents by when they were embedded: a new batch after a gap of `batch_gap`."""
    batch_of_doc = np.full(len(table.documents), -1, dtype=np.int64)
    if not table.embedded_at:
        return (
            batch_of_doc,
            (),
            "no embedding time in the chunks' metadata (e.g. ragmon_embedded_at, or "
            "mapping.embedded_at_key): ingest batches cannot be told apart",
        )
    gap = settings.batch_gap.total_seconds()
    order = sorted(table.embedded_at.items(), key=lambda item: item[1])
    number, previous = 0, order[0][1]
    for doc, when in order:
        if when - previous > gap:
            number += 1
        batch_of_doc[doc] = number
        previous = when
    chunk_batch = batch_of_doc[table.document]
    not_embedded = table.chars - table.embedded_chars
    batches = []
    for b in range(number + 1):
        docs = np.flatnonzero(batch_of_doc == b)
        mask = chunk_batch == b
        times = [table.embedded_at[int(d)] for d in docs]
        chunks = int(mask.sum())
        batches.append(
            Batch(
                number=b,
                first_embedded_at=datetime.fromtimestamp(min(times), UTC),
                last_embedded_at=datetime.fromtimestamp(max(times), UTC),
                documents=len(docs),
                chunks=chunks,
                text_not_embedded_share=_share(
                    int(not_embedded[mask].sum()), int(table.chars[mask].sum())
                ),
                shares={f: _share(int(table.has(f)[mask].sum()), chunks) for f in BATCH_SHARES},
            )
        )
    unstamped = int((batch_of_doc < 0).sum())
    note = f"{unstamped} document(s) carry no embedding time" if unstamped else ""
    return batch_of_doc, tuple(batches), note


def _documents(
    table: FeatureTable, not_embedded: np.ndarray, batch_of_doc: np.ndarray
) -> DocumentTable:
    size = len(table.documents)

    def per_doc(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(table.document, weights=weights, minlength=size).astype(np.int64)

    columns = [per_doc(), per_doc(table.chars), per_doc(not_embedded)]
    columns += [per_doc(table.has(flag).astype(np.int64)) for flag in FLAGS]
    max_tokens = np.zeros(size, dtype=np.int64)
    np.maximum.at(max_tokens, table.document, table.tokens)
    columns += [max_tokens, batch_of_doc]
    rows = np.stack(columns, axis=1) if size else np.zeros((0, len(DOCUMENT_COLUMNS)))
    return DocumentTable(
        columns=DOCUMENT_COLUMNS,
        ids=table.documents,
        rows=tuple(tuple(int(v) for v in row) for row in rows.tolist()),
    )


def document_shares(row: dict[str, int]) -> dict[str, float]:
    """A document's shares from its row: each flag of its chunks, text never embedded."""
    shares = {flag: _share(row[flag], row["chunks"]) for flag in FLAGS}
    shares["text_not_embedded"] = _share(row["not_embedded_chars"], row["chars"])
    return shares


def _worst(
    table: FeatureTable, documents: DocumentTable, settings: ChunkingQualitySettings
) -> list[WorstDocument]:
    """Documents by the share of their text never embedded, then by problem chunks."""
    problem = np.zeros(len(table.chars), dtype=bool)
    for flag in PROBLEMS:
        problem |= table.has(flag)
    problems = np.bincount(table.document, weights=problem, minlength=len(table.documents))
    ranked = []
    for i, (document, row) in enumerate(zip(documents.ids, documents.rows, strict=True)):
        values = dict(zip(documents.columns, row, strict=True))
        shares = document_shares(values)
        problem_share = _share(int(problems[i]), values["chunks"])
        if not (shares["text_not_embedded"] or problem_share):
            continue
        ranked.append(
            WorstDocument(
                document=document,
                chunks=values["chunks"],
                text_not_embedded_share=shares["text_not_embedded"],
                problem_share=problem_share,
                shares={k: v for k, v in shares.items() if v},
                example=table.examples.get(i),
            )
        )
    ranked.sort(key=lambda w: (-w.text_not_embedded_share, -w.problem_share, w.document))
    return ranked
