"""Grounding: how well an answer is backed by the passages it was given.

Layer 1 (`lexical`) finds, per sentence, the content words neither the context nor the
question holds; layer 2 (`structural`) compares numbers, amounts, dates and identifiers
as values, and checks identifiers against a system of record; the score maps both counts
to 0-1 and a band. Layer 3 (`calibration`) maps the score to the probability that a
person judges the answer grounded, from labelled responses; `fitting` learns a
combination of the features where a user's own labels show it helps.

    >>> from monitor.grounding import score
    >>> score("The R2 arm lifts 5 kg.", ["The R2 arm lifts up to 5 kg."]).band.value
    'cite'
"""

from monitor.grounding.results import (
    BANDS,
    Band,
    GroundingFeatures,
    GroundingResult,
    UnsupportedClaim,
)
from monitor.grounding.scorer import Scorer, band_for, raw_score, score
from monitor.grounding.settings import BandSettings, GroundingConfig, ValidatorSettings
from monitor.grounding.structural import Violation

__all__ = [
    "BANDS",
    "Band",
    "BandSettings",
    "GroundingConfig",
    "GroundingFeatures",
    "GroundingResult",
    "Scorer",
    "UnsupportedClaim",
    "ValidatorSettings",
    "Violation",
    "band_for",
    "raw_score",
    "score",
]
