"""Two-sample drift tests, behind one adapter (scipy's objects stay in this module).

Shares of chunks are compared with a chi-square test on the 2x2 table (with and without
the feature, reference and current); distributions with the two-sample Kolmogorov-Smirnov
test. Each returns the test's name, its statistic and its p-value.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

CHI_SQUARE = "chi-square"
KS = "two-sample K-S"


@dataclass(frozen=True, kw_only=True, slots=True)
class TestOutcome:
    test: str
    statistic: float
    p_value: float


def share_test(reference: tuple[int, int], current: tuple[int, int]) -> TestOutcome:
    """Chi-square test of ``(with feature, total)`` counts, reference against current.

    A table with an empty row or column (nothing has the feature in either, or a side has
    no chunks) has no evidence of a difference: statistic 0, p-value 1.
    """
    k1, n1 = reference
    k2, n2 = current
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    if min(n1, n2) == 0 or k1 + k2 == 0 or (n1 - k1) + (n2 - k2) == 0:
        return TestOutcome(test=CHI_SQUARE, statistic=0.0, p_value=1.0)
    from scipy.stats import chi2_contingency

    found = chi2_contingency(table)
    return TestOutcome(
        test=CHI_SQUARE, statistic=_finite(found.statistic), p_value=_finite(found.pvalue, 1.0)
    )


def distribution_test(reference: Sequence[float], current: Sequence[float]) -> TestOutcome:
    """Two-sample K-S test; statistic 0 and p-value 1 when either sample is empty."""
    if not reference or not current:
        return TestOutcome(test=KS, statistic=0.0, p_value=1.0)
    from scipy.stats import ks_2samp

    with warnings.catch_warnings():
        # scipy falls back from the exact to the asymptotic p-value on its own and says so.
        warnings.simplefilter("ignore", RuntimeWarning)
        found = ks_2samp(reference, current)
    return TestOutcome(
        test=KS, statistic=_finite(found.statistic), p_value=_finite(found.pvalue, 1.0)
    )


def _finite(value: float, default: float = 0.0) -> float:
    number = float(value)
    return number if math.isfinite(number) else default
