"""Band shares and figures over many scored responses, per day: what a job stores.

A scheduled job scores each new response (`Scorer.score`), keeps the result with the
response, and stores the figures of `summarise` (or of each day of `summarise_by_day`)
as metric rows, so band shares can be drawn over time and alerted on
(``grounding_band_share{band="escalate"} > 0.1``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from monitor.grounding.results import BANDS, Band, GroundingResult
from monitor.records import Metric


@dataclass(frozen=True, kw_only=True, slots=True)
class BandSummary:
    """How many responses fell in each band, and their mean score."""

    day: date | None
    """The UTC day summarised, or None for a summary over everything given."""
    responses: int
    counts: Mapping[Band, int]
    """Every band, zero included."""
    mean_score: float | None

    @property
    def shares(self) -> dict[Band, float]:
        """Share of the responses per band (all zero when there were none)."""
        total = self.responses
        return {band: (self.counts[band] / total if total else 0.0) for band in BANDS}

    def metrics(self, labels: Mapping[str, str] | None = None) -> list[Metric]:
        """The figures as metric rows: responses, mean score, count and share per band."""
        base = dict(labels or {})
        if self.day is not None:
            base["day"] = self.day.isoformat()
        rows = [Metric(name="grounding_responses", value=self.responses, labels=base)]
        if self.mean_score is not None:
            rows.append(Metric(name="grounding_mean_score", value=self.mean_score, labels=base))
        shares = self.shares
        for band in BANDS:
            band_labels = {**base, "band": band.value}
            rows.append(
                Metric(name="grounding_band_count", value=self.counts[band], labels=band_labels)
            )
            rows.append(Metric(name="grounding_band_share", value=shares[band], labels=band_labels))
        return rows


def summarise(results: Iterable[GroundingResult], day: date | None = None) -> BandSummary:
    """Band counts and mean score of ``results``."""
    counts: Counter[Band] = Counter()
    total = 0.0
    for result in results:
        counts[result.band] += 1
        total += result.score
    n = sum(counts.values())
    return BandSummary(
        day=day,
        responses=n,
        counts={band: counts[band] for band in BANDS},
        mean_score=total / n if n else None,
    )


def summarise_by_day(scored: Iterable[tuple[datetime, GroundingResult]]) -> list[BandSummary]:
    """One summary per UTC day of the responses' times, oldest first.

    A naive datetime is taken as UTC.
    """
    days: dict[date, list[GroundingResult]] = defaultdict(list)
    for when, result in scored:
        aware = when if when.tzinfo else when.replace(tzinfo=UTC)
        days[aware.astimezone(UTC).date()].append(result)
    return [summarise(days[day], day) for day in sorted(days)]


def worst(
    results: Iterable[tuple[str, GroundingResult]], n: int = 10
) -> list[tuple[str, GroundingResult]]:
    """The ``n`` lowest-scoring (id, result) pairs, lowest first; ties keep input order."""
    return sorted(results, key=lambda pair: pair[1].score)[:n]
