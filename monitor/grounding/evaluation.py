"""Agreement of grounding scores with people's labels: AUROC, best F1, grouped intervals.

Labels are ``True`` for a hallucinated (ungrounded) response. Scores are grounding
scores, higher meaning better grounded, so a score ranks well when hallucinated
responses score low. Intervals come from a bootstrap that resamples *questions* (the
groups), because several answers to one question are not independent.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from monitor.errors import LabelError


@dataclass(frozen=True, kw_only=True, slots=True)
class Interval:
    """A point estimate and its bootstrap percentile interval."""

    value: float
    low: float
    high: float
    level: float = 0.95


@dataclass(frozen=True, kw_only=True, slots=True)
class BestF1:
    """The best F1 for detecting hallucinated responses, and the score cut reaching it."""

    f1: float
    threshold: float
    """Responses scoring at or below this are flagged."""
    precision: float
    recall: float


def _arrays(scores: npt.ArrayLike, labels: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if s.shape != y.shape:
        raise LabelError(f"{len(s)} scores but {len(y)} labels")
    if y.all() or not y.any():
        raise LabelError(
            "the labels are all one class; AUROC and F1 need hallucinated and grounded "
            "responses both"
        )
    return s, y


def auroc(scores: npt.ArrayLike, labels: npt.ArrayLike) -> float:
    """Probability that a grounded response scores above a hallucinated one (ties half)."""
    s, y = _arrays(scores, labels)
    from scipy.stats import rankdata

    # Mann-Whitney: rank of the grounded responses among all, higher score = higher rank.
    ranks = rankdata(s)
    grounded = ~y
    n_pos, n_neg = grounded.sum(), y.sum()
    return float((ranks[grounded].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def best_f1(scores: npt.ArrayLike, labels: npt.ArrayLike) -> BestF1:
    """The cut on the score that best detects hallucinated responses (F1 of that class)."""
    s, y = _arrays(scores, labels)
    order = np.argsort(s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    flagged_true = np.cumsum(y_sorted)
    flagged = np.arange(1, len(s) + 1)
    # Only cut between distinct scores: every response at the cut score is flagged.
    last = np.r_[s_sorted[1:] != s_sorted[:-1], True]
    tp, n_flag = flagged_true[last], flagged[last]
    f1 = 2 * tp / (n_flag + y.sum())
    best = int(np.argmax(f1))
    return BestF1(
        f1=float(f1[best]),
        threshold=float(s_sorted[last][best]),
        precision=float(tp[best] / n_flag[best]),
        recall=float(tp[best] / y.sum()),
    )


def grouped_bootstrap(
    metric: Callable[[np.ndarray], float],
    groups: Sequence[Hashable],
    *,
    rounds: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``metric(indices)`` over resamples of whole groups.

    ``metric`` receives the row indices of one resample (with repeats); resamples where
    it cannot be computed (one class only) are skipped.
    """
    rng = np.random.default_rng(seed)
    keys = list(dict.fromkeys(groups))
    index = {key: i for i, key in enumerate(keys)}
    members: list[list[int]] = [[] for _ in keys]
    for row, key in enumerate(groups):
        members[index[key]].append(row)
    member_arrays = [np.asarray(m) for m in members]
    values = []
    for _ in range(rounds):
        picked = rng.integers(0, len(keys), len(keys))
        rows = np.concatenate([member_arrays[g] for g in picked])
        try:
            values.append(metric(rows))
        except LabelError:
            continue
    if not values:
        raise LabelError("no bootstrap resample had both classes; label more responses")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def auroc_interval(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: Sequence[Hashable],
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> Interval:
    """AUROC with its bootstrap interval, resampling groups (questions)."""
    return _interval(auroc, scores, labels, groups, rounds=rounds, seed=seed)


def best_f1_interval(
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: Sequence[Hashable],
    *,
    rounds: int = 1000,
    seed: int = 0,
) -> Interval:
    """Best F1 with its bootstrap interval (the cut re-chosen in each resample)."""
    return _interval(
        lambda s, y: best_f1(s, y).f1, scores, labels, groups, rounds=rounds, seed=seed
    )


def _interval(
    figure: Callable[[Any, Any], float],
    scores: npt.ArrayLike,
    labels: npt.ArrayLike,
    groups: Sequence[Hashable],
    *,
    rounds: int,
    seed: int,
) -> Interval:
    s, y = _arrays(scores, labels)
    low, high = grouped_bootstrap(
        lambda rows: figure(s[rows], y[rows]), groups, rounds=rounds, seed=seed
    )
    return Interval(value=figure(s, y), low=low, high=high)
