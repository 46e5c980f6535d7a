"""Grounding: how well an answer is backed by the passages it was given.

Layer 1 (`lexical`) finds, per sentence, the content words neither the context nor the
question holds; layer 2 (`structural`) compares numbers, amounts, dates and identifiers
as values, and checks identifiers against a system of record; the score maps both counts
to 0-1 and a band. Layer 3 (`calibration`) maps the score to the probability that a
person judges the answer grounded, from labelled responses; `fitting` learns a
combination of the features where a user's own labels show it helps. Optional, off by
default: an NLI model on disk (`nli`) and a pointer to each claim's nearest passage
(`passages`).

    >>> from monitor.grounding import score
    >>> score("The R2 arm lifts 5 kg.", ["The R2 arm lifts up to 5 kg."]).band.value
    'cite'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.grounding.results import (
        BANDS,
        Band,
        GroundingFeatures,
        GroundingResult,
        NearestPassage,
        SupportedClaim,
        UnsupportedClaim,
    )
    from monitor.grounding.scorer import Scorer, band_for, raw_score, score
    from monitor.grounding.settings import (
        BandSettings,
        GroundingConfig,
        NliSettings,
        ValidatorSettings,
    )
    from monitor.grounding.structural import Violation

# Imported on first use: `monitor.config` imports `monitor.grounding.settings`, and
# reading the config must not pay for the scorer's imports.
_HOME = {
    "BANDS": "results",
    "Band": "results",
    "GroundingFeatures": "results",
    "GroundingResult": "results",
    "NearestPassage": "results",
    "SupportedClaim": "results",
    "UnsupportedClaim": "results",
    "Scorer": "scorer",
    "band_for": "scorer",
    "raw_score": "scorer",
    "score": "scorer",
    "BandSettings": "settings",
    "GroundingConfig": "settings",
    "NliSettings": "settings",
    "ValidatorSettings": "settings",
    "Violation": "structural",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(importlib.import_module(f"monitor.grounding.{_HOME[name]}"), name)
    raise AttributeError(f"module 'monitor.grounding' has no attribute {name!r}")


__all__ = [
    "BANDS",
    "Band",
    "BandSettings",
    "GroundingConfig",
    "GroundingFeatures",
    "GroundingResult",
    "NearestPassage",
    "NliSettings",
    "Scorer",
    "SupportedClaim",
    "UnsupportedClaim",
    "ValidatorSettings",
    "Violation",
    "band_for",
    "raw_score",
    "score",
]
