"""Leading indicators: does an upstream figure today go with grounding days later?

Per feature, its daily mean (for a binary feature: the share of the day's answers with
it) is set against the daily mean grounding 0, 1, ..., ``max_lag_days`` calendar days
later, by Spearman's rho over the day pairs where both are known. The lag with the
largest rho in size is reported with its rho and number of day pairs. It is a
description, not a test: with fewer than ``min_lag_days`` days of history nothing is
reported but "history too short", and eight lags of a few dozen days will show some
rho by chance, so the report words it as what moved together, not as a forecast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from monitor.correlation.clusters import numeric
from monitor.correlation.results import DayGrounding, Lag
from monitor.correlation.settings import CorrelationSettings

if TYPE_CHECKING:
    import pandas as pd

TOO_SHORT = "history too short"
MIN_PAIRS = 3


def daily_grounding(responses: pd.DataFrame, low: np.ndarray) -> tuple[DayGrounding, ...]:
    """Responses, mean grounding and share of ``low`` answers per UTC day."""
    if "day" not in responses or not len(responses):
        return ()
    days, code = _days(responses)
    count = np.bincount(code, minlength=len(days))
    grounding = np.bincount(code, weights=responses["grounding"].to_numpy(float))
    low_count = np.bincount(code, weights=low.astype(np.float64), minlength=len(days))
    return tuple(
        DayGrounding(
            day=day,
            responses=int(n),
            mean_grounding=round(float(g / n), 6),
            low_share=round(float(lo / n), 6),
        )
        for day, n, g, lo in zip(days, count, grounding, low_count, strict=True)
        if n
    )


def lags(
    responses: pd.DataFrame, features: Sequence[str], settings: CorrelationSettings
) -> tuple[Lag, ...]:
    """Each feature's best lag against daily mean grounding (see the module)."""
    import pandas as pd

    if "day" not in responses or not len(responses):
        return ()
    days, code = _days(responses)
    calendar = [
        d.strftime("%Y-%m-%d") for d in pd.date_range(days[0], days[-1], freq="D", tz="UTC")
    ]
    # Days without answers stay NaN, so a lag is always counted in calendar days.
    position = np.searchsorted(calendar, days)
    present = [name for name in features if name in responses]
    grounding = _daily_means(responses["grounding"].to_numpy(float), code, position, calendar)
    daily = (
        np.column_stack(
            [_daily_means(numeric(responses[name]), code, position, calendar) for name in present]
        )
        if present
        else np.empty((len(calendar), 0))
    )
    rhos, pairs = _lagged_rhos(daily, grounding, settings.max_lag_days)
    out = []
    for j, name in enumerate(present):
        if not np.isfinite(daily[:, j]).any():
            out.append(Lag(feature=name, status="not_measured", days=len(days)))
            continue
        if len(days) < settings.min_lag_days:
            out.append(Lag(feature=name, status=TOO_SHORT, days=len(days)))
            continue
        column = [None if np.isnan(r) else round(float(r), 6) for r in rhos[:, j]]
        defined = [(abs(r), -i, i) for i, r in enumerate(column) if r is not None]
        if not defined:
            out.append(Lag(feature=name, status="no variation", days=len(days), rhos=tuple(column)))
            continue
        best = max(defined)[2]
        out.append(
            Lag(
                feature=name,
                status="ok",
                days=len(days),
                best_lag_days=best,
                rho=column[best],
                n_days=int(pairs[best, j]),
                rhos=tuple(column),
            )
        )
    return tuple(out)


def _days(responses: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The distinct days, sorted, and each response's index into them."""
    import pandas as pd

    code, uniques = pd.factorize(responses["day"].astype(str), sort=True)
    return [str(d) for d in uniques], np.asarray(code)


def _daily_means(
    values: np.ndarray, code: np.ndarray, position: np.ndarray, calendar: list[str]
) -> np.ndarray:
    known = np.isfinite(values)
    total = np.bincount(code[known], weights=values[known], minlength=position.size)
    count = np.bincount(code[known], minlength=position.size)
    out = np.full(len(calendar), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        out[position] = np.where(count > 0, total / count, np.nan)
    return out


def _lagged_rhos(
    daily: np.ndarray, grounding: np.ndarray, max_lag: int
) -> tuple[np.ndarray, np.ndarray]:
    """Rho (NaN where undefined) and day pairs of each feature column of ``daily`` against
    ``grounding`` ``lag`` days later, as (lags x features) arrays."""
    days, width = daily.shape
    rhos = np.full((max_lag + 1, width), np.nan)
    pairs = np.zeros((max_lag + 1, width), dtype=np.int64)
    for lag in range(min(max_lag, days - 1) + 1):
        rows = np.isfinite(grounding[lag:])
        x, y = daily[: days - lag][rows], grounding[lag:][rows]
        known = np.isfinite(x)
        pairs[lag] = known.sum(axis=0)
        complete = known.all(axis=0)
        if complete.any() and known.shape[0] >= MIN_PAIRS:
            rhos[lag, complete] = _column_rhos(x[:, complete], y)
        for j in np.flatnonzero(~complete & (pairs[lag] >= MIN_PAIRS)):
            rho = spearman(x[known[:, j], j], y[known[:, j]])
            rhos[lag, j] = np.nan if rho is None else rho
    return rhos, pairs


def _column_rhos(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of every column of ``x`` with ``y`` (NaN for a constant one)."""
    from scipy.stats import rankdata

    a = rankdata(x, axis=0)
    b = rankdata(y)
    a -= a.mean(axis=0)
    b -= b.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            (a * b[:, None]).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum())
        )


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rho, or None when either side does not vary."""
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    a, b = ranks(x), ranks(y)
    a -= a.mean()
    b -= b.mean()
    return round(float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())), 6)


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties given their average rank (scipy's ``rankdata``, without its
    per-call overhead, which dominates on short daily series)."""
    n = values.size
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    first = np.empty(n, dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, n))
    out = np.empty(n)
    out[order] = np.repeat(starts + (counts + 1) / 2.0, counts)
    return out
