"""The ``[correlation]`` section of ``ragmon.toml``: which answers are compared, and how.

Example::

    [correlation]
    window_days = 30          # responses of the last 30 days
    min_group = 30            # fewer responses in a group: "not enough data", never a finding
    alpha = 0.05              # false discovery rate across features
    correction = "by"         # "by": Benjamini-Yekutieli (any dependence); "bh": Benjamini-Hochberg
    bootstrap = 1000          # cluster-bootstrap resamples (and sign flips for the p-value)
    seed = 0
    cluster_by = "day"        # or a response label, e.g. "session"
    # strata_by = "topic"     # a response label; unset: the top folder of the top-1 source
    low_bands = ["disclaim", "partial", "escalate"]
    min_effect = 0.1          # grounding difference the stale-drives-grounding rule needs
    max_lag_days = 7
    min_lag_days = 14         # fewer days of history: lags are "history too short"
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

BAND_NAMES = ("cite", "disclaim", "partial", "escalate")
"""The grounding bands, best first (`monitor.grounding.Band`)."""


class CorrelationSettings(BaseModel):
    """How the correlate job joins grounding with upstream state and tests the features."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int = Field(default=30, ge=1, le=3650)
    """Responses of this many days, ending at the newest, are analysed."""
    min_group: int = Field(default=30, ge=2, le=1_000_000)
    """Responses each group needs (with and without a feature; low and the rest) for a
    comparison to be made; below it the feature is "not enough data", never a finding."""
    alpha: float = Field(default=0.05, gt=0, lt=1)
    """False discovery rate: a feature is a finding when its adjusted p-value is below this
    (and its interval excludes zero)."""
    correction: Literal["by", "bh"] = "by"
    """How p-values are adjusted across the features tested: Benjamini-Hochberg's step-up
    procedure in the Benjamini-Yekutieli form (``by``, valid whatever the dependence
    between features) or plain Benjamini-Hochberg (``bh``, valid for independent or
    positively dependent tests). The features are dependent by construction (any_stale and
    share_stale measure one thing), and with ``bh`` the null rate of runs with a false
    finding measured 4.5-6.0% (bench/correlation_null.py), above alpha; hence ``by``."""
    bootstrap: int = Field(default=1000, ge=100, le=100_000)
    """Cluster-bootstrap resamples for the intervals, and sign flips for the p-values."""
    seed: int = 0
    """Seed of the resampling, so a run can be repeated exactly."""
    cluster_by: str = Field(default="day", min_length=1)
    """Responses in one cluster are not independent, and are resampled together: ``day``
    (UTC) or the name of a response label such as ``session``."""
    strata_by: str | None = None
    """A response label (e.g. ``topic``) whose values are the strata the effect is also
    measured within; unset: the top-level folder of each response's top-1 source."""
    low_bands: list[str] = Field(default_factory=lambda: ["disclaim", "partial", "escalate"])
    """Grounding bands that count as a low-grounding answer (attribution, hotspots)."""
    min_effect: float = Field(default=0.1, gt=0, le=1)
    """The grounding drop (without minus with stale chunks) at or above which the built-in
    rule ``stale-drives-grounding`` fires, besides significance: the rule's threshold."""
    max_lag_days: int = Field(default=7, ge=0, le=90)
    """Leading indicators: upstream figures are compared with grounding 0 to this many
    days later."""
    min_lag_days: int = Field(default=14, ge=3, le=3650)
    """With fewer days of history, lags are reported as "history too short"."""

    @field_validator("low_bands")
    @classmethod
    def _known_bands(cls, value: list[str]) -> list[str]:
        unknown = [band for band in value if band not in BAND_NAMES]
        if unknown:
            raise ValueError(
                f"expected grounding bands among {', '.join(BAND_NAMES)}; got {unknown[0]!r}"
            )
        if not value:
            raise ValueError("must name at least one band, or no answer is ever low")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _lags_fit(self) -> CorrelationSettings:
        if self.min_lag_days < self.max_lag_days + 3:
            raise ValueError(
                "correlation.min_lag_days must be at least correlation.max_lag_days + 3, "
                "so every lag has three days or more to correlate; got "
                f"min_lag_days={self.min_lag_days}, max_lag_days={self.max_lag_days}"
            )
        return self
