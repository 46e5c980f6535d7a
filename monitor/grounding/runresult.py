"""The typed result of the `grounding` job: band shares per day, worst answers, calibration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from monitor.grounding.calibration import ReliabilityBin
from monitor.results import ResultRecord


@dataclass(frozen=True, kw_only=True, slots=True)
class DayBands:
    """How the responses of one UTC day fell into the bands (from every stored score)."""

    day: date
    responses: int
    counts: dict[str, int]
    """Every band, zero included."""
    mean_score: float | None


@dataclass(frozen=True, kw_only=True, slots=True)
class ClaimEvidence:
    text: str
    novel_words: tuple[str, ...]
    reason: str = ""
    """Why it is unsupported ("not in the context: ...", "nli: not entailed (p=0.12)")."""
    nearest_passage: int | None = None
    """With ``grounding.nearest_passage``: the index of the passage it is closest to."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ViolationEvidence:
    kind: str
    text: str
    reason: str


@dataclass(frozen=True, kw_only=True, slots=True)
class WorstAnswer:
    """A low-scoring response and why: the claims and values its context does not back."""

    id: str
    at_us: int
    query: str | None
    answer: str | None
    score: float
    band: str
    unsupported_claims: tuple[ClaimEvidence, ...]
    violations: tuple[ViolationEvidence, ...]
    calibrated: float | None = None
    """P(grounded) from the calibration adopted when it was scored; None without one."""


@dataclass(frozen=True, kw_only=True, slots=True)
class ScoreCalibration:
    """One score (ragmon's or the application's) against the feedback labels."""

    source: str
    """``ragmon``, or ``app`` for the score the application logged."""
    n: int
    grounded: int
    """Labelled responses that people judged grounded."""
    ece_raw: float
    ece_calibrated: float
    cross_fitted: bool
    """True when each calibrated probability comes from a curve fitted on the other
    questions (the honest error); False when too few questions allowed only an in-sample fit."""
    bins_raw: tuple[ReliabilityBin, ...]
    bins_calibrated: tuple[ReliabilityBin, ...]
    curve_version: str
    curve: dict[str, object]
    """`Calibration.to_json()` of the curve fitted on every label: apply it to new scores."""
    adopted: bool = False
    """True when the curve is applied to new scores: it was judged on questions it did not
    see (``cross_fitted``) and lowered the error there (``ece_calibrated < ece_raw``)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class GroundingRunResult(ResultRecord):
    """What one `grounding` run scored, and the figures over every stored score."""

    SCHEMA = "ragmon.grounding/1"

    scorer: str
    """Version of the scorer and settings that scored this run's responses."""
    bands: dict[str, float]
    """The band thresholds: cite, disclaim, partial."""
    scored: int
    no_context: int
    """Responses with neither logged context nor chunk text in the store: not scored."""
    no_answer: int
    deferred: int = 0
    """Responses that needed the store while it could not be read: the next run scores them."""
    from_store: int
    """Of the scored, those whose context came from the store's chunk text."""
    days_touched: tuple[date, ...]
    days: tuple[DayBands, ...]
    """Every day with scores in the report window, oldest first."""
    worst: tuple[WorstAnswer, ...]
    calibration_applied: str = ""
    """Version of the calibration curve this run's new scores got as ``calibrated`` (the
    one the previous run adopted); empty when none applied."""
    calibration: tuple[ScoreCalibration, ...] = ()
    calibration_note: str = ""
    """Why there is no calibration (no labels, too few, one kind only), when there is none."""
