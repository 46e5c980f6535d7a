"""A snapshot against a reference snapshot: per-feature drift, and the documents that moved."""

from __future__ import annotations

import math
from statistics import fmean
from typing import Literal

from monitor.chunking.aggregate import document_shares
from monitor.chunking.features import FLAGS
from monitor.chunking.settings import ChunkingQualitySettings
from monitor.chunking.snapshot import Comparison, DocumentChange, FeatureDrift, Snapshot
from monitor.drift import distribution_test, share_test

DOCUMENT_FEATURES = (
    "text_not_embedded",
    "truncated",
    "mid_sentence_start",
    "mid_sentence_end",
    "cut_in_word",
    "fragment",
    "junk",
    "boilerplate",
    "duplicate_exact",
)
"""Shares whose change, with the change in chunk count, ranks a document's change."""


def compare(
    current: Snapshot,
    reference: Snapshot,
    settings: ChunkingQualitySettings,
    *,
    reference_run: int,
    reference_kind: Literal["baseline", "previous"],
) -> Comparison:
    """Every feature of ``current`` against ``reference``, and the documents that changed."""
    features = [_share(current, reference, flag, settings) for flag in FLAGS]
    features.append(
        _distribution(
            "text_not_embedded",
            current.lengths.not_embedded_sample,
            reference.lengths.not_embedded_sample,
            settings,
            shares=(reference.shares["text_not_embedded"], current.shares["text_not_embedded"]),
        )
    )
    delta = current.shares["junk_chars"] - reference.shares["junk_chars"]
    features.append(
        FeatureDrift(
            feature="junk_chars",
            kind="share",
            test="delta",
            statistic=abs(delta),
            p_value=None,
            reference=reference.shares["junk_chars"],
            current=current.shares["junk_chars"],
            delta=delta,
            drifted=abs(delta) >= settings.drift_min_share_delta,
        )
    )
    for name, now, before in (
        ("tokens", current.lengths.token_sample, reference.lengths.token_sample),
        ("chars", current.lengths.char_sample, reference.lengths.char_sample),
        (
            "chunks_per_document",
            current.lengths.chunks_per_document,
            reference.lengths.chunks_per_document,
        ),
    ):
        features.append(_distribution(name, now, before, settings))
    changes, added, removed, changed = _documents(current, reference, settings)
    return Comparison(
        reference_run=reference_run,
        reference_kind=reference_kind,
        reference_at=reference.computed_at,
        features=tuple(features),
        documents=tuple(changes),
        documents_added=added,
        documents_removed=removed,
        documents_changed=changed,
    )


def _share(
    current: Snapshot, reference: Snapshot, flag: str, settings: ChunkingQualitySettings
) -> FeatureDrift:
    before, now = reference.counts.get(flag, 0), current.counts.get(flag, 0)
    outcome = share_test((before, reference.chunks), (now, current.chunks))
    old, new = reference.shares.get(flag, 0.0), current.shares.get(flag, 0.0)
    return FeatureDrift(
        feature=flag,
        kind="share",
        test=outcome.test,
        statistic=round(outcome.statistic, 6),
        p_value=outcome.p_value,
        reference=old,
        current=new,
        delta=round(new - old, 6),
        drifted=outcome.p_value < settings.drift_p_value
        and abs(new - old) >= settings.drift_min_share_delta,
    )


def _distribution(
    name: str,
    now: tuple[float, ...] | tuple[int, ...],
    before: tuple[float, ...] | tuple[int, ...],
    settings: ChunkingQualitySettings,
    *,
    shares: tuple[float, float] | None = None,
) -> FeatureDrift:
    outcome = distribution_test(before, now)
    old, new = shares if shares else (_mean(before), _mean(now))
    return FeatureDrift(
        feature=name,
        kind="share" if shares else "distribution",
        test=outcome.test,
        statistic=round(outcome.statistic, 6),
        p_value=outcome.p_value,
        reference=round(old, 6),
        current=round(new, 6),
        delta=round(new - old, 6),
        drifted=outcome.p_value < settings.drift_p_value
        and outcome.statistic >= settings.drift_min_ks_statistic
        and (shares is None or abs(new - old) >= settings.drift_min_share_delta),
    )


def _mean(values: tuple[float, ...] | tuple[int, ...]) -> float:
    return fmean(values) if values else 0.0


def _documents(
    current: Snapshot, reference: Snapshot, settings: ChunkingQualitySettings
) -> tuple[list[DocumentChange], int, int, int]:
    after_rows = current.by_document.as_dict()
    before_rows = reference.by_document.as_dict()
    changes: list[DocumentChange] = []
    added = removed = 0
    for document in after_rows.keys() | before_rows.keys():
        after, before = after_rows.get(document), before_rows.get(document)
        shares_after = _key_shares(after) if after else {}
        shares_before = _key_shares(before) if before else {}
        if after is None:
            removed += 1
            status: Literal["changed", "new", "removed"] = "removed"
        elif before is None:
            added += 1
            status = "new"
        else:
            status = "changed"
        n_after = after["chunks"] if after else 0
        n_before = before["chunks"] if before else 0
        score = abs(math.log2((n_after + 1) / (n_before + 1))) + sum(
            abs(shares_after.get(k, 0.0) - shares_before.get(k, 0.0)) for k in DOCUMENT_FEATURES
        )
        if status == "changed" and score == 0:
            continue
        changes.append(
            DocumentChange(
                document=document,
                status=status,
                chunks_before=n_before,
                chunks_after=n_after,
                score=round(score, 6),
                shares_before=shares_before,
                shares_after=shares_after,
                example_before=reference.examples.get(document),
                example_after=current.examples.get(document),
            )
        )
    changes.sort(key=lambda c: (-c.score, c.document))
    changed = sum(1 for c in changes if c.status == "changed")
    return changes[: settings.top_documents], added, removed, changed


def _key_shares(row: dict[str, int]) -> dict[str, float]:
    shares = document_shares(row)
    return {k: shares[k] for k in DOCUMENT_FEATURES}
