"""Layer 3, calibration: from a raw score to the probability that an answer is grounded.

Fitted from labelled responses (feedback, or a labelled file) with scikit-learn:
isotonic regression (monotone steps, needs a few hundred labels) or Platt scaling (a
logistic curve, fine with fewer). The fitted curve is a small JSON-ready record with a
schema number and a content version, so it can be stored, compared between fits and
applied without scikit-learn. Works the same for ragmon's score and for an
application's own confidence score, so the two can be shown side by side.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from monitor import clock
from monitor.errors import LabelError

SCHEMA = 1
Method = Literal["isotonic", "platt"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Calibration:
    """A fitted calibration curve; `apply` maps raw scores to P(grounded)."""

    method: Method
    x: tuple[float, ...]
    """Isotonic: the knots' raw scores (increasing). Platt: empty."""
    y: tuple[float, ...]
    """Isotonic: the probabilities at the knots. Platt: (slope, intercept)."""
    n: int
    """Labelled responses it was fitted on."""
    fitted_at: str
    source: str = "ragmon"
    """Whose score it calibrates: "ragmon", or the name of the application's score."""

    @property
    def version(self) -> str:
        """Content hash of the curve: equal curves share a version, a refit gets a new one."""
        payload = json.dumps([self.method, self.x, self.y, self.source]).encode()
        return hashlib.sha256(payload).hexdigest()[:12]

    def apply(self, scores: Sequence[float] | float) -> Any:
        """P(grounded) for one raw score (a float) or many (a numpy array)."""
        s = np.asarray(scores, dtype=float)
        if self.method == "isotonic":
            out = np.interp(s, self.x, self.y)
        else:
            slope, intercept = self.y
            out = 1.0 / (1.0 + np.exp(-(slope * s + intercept)))
        return float(out) if out.ndim == 0 else out

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict, with the schema number and version."""
        return {
            "schema": SCHEMA,
            "version": self.version,
            "method": self.method,
            "x": list(self.x),
            "y": list(self.y),
            "n": self.n,
            "fitted_at": self.fitted_at,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        """Read back `to_json`; refuses a schema this ragmon does not know."""
        if data.get("schema") != SCHEMA:
            raise LabelError(
                f"calibration schema {data.get('schema')!r} is not known to this ragmon "
                f"(it reads schema {SCHEMA}); refit it with this version"
            )
        return cls(
            method=data["method"],
            x=tuple(float(v) for v in data["x"]),
            y=tuple(float(v) for v in data["y"]),
            n=int(data["n"]),
            fitted_at=str(data["fitted_at"]),
            source=str(data.get("source", "ragmon")),
        )


def fit_calibration(
    scores: Sequence[float],
    grounded: Sequence[bool],
    *,
    method: Method = "isotonic",
    source: str = "ragmon",
) -> Calibration:
    """Fit P(grounded | score) on labelled responses (``grounded`` True = judged grounded)."""
    s = np.asarray(scores, dtype=float)
    g = np.asarray(grounded, dtype=float)
    if len(s) != len(g):
        raise LabelError(f"{len(s)} scores but {len(g)} labels")
    if len(s) < 10 or g.min() == g.max():
        raise LabelError(
            f"calibration needs at least 10 labelled responses of both kinds, got {len(s)} "
            f"({int(g.sum())} grounded)"
        )
    now = clock.now().isoformat(timespec="seconds")
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, g)
        xs = tuple(float(v) for v in model.X_thresholds_)
        ys = tuple(float(v) for v in model.y_thresholds_)
        return Calibration(method=method, x=xs, y=ys, n=len(s), fitted_at=now, source=source)
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        model = LogisticRegression(C=1e6).fit(s.reshape(-1, 1), g)
        slope, intercept = float(model.coef_[0][0]), float(model.intercept_[0])
        return Calibration(
            method=method, x=(), y=(slope, intercept), n=len(s), fitted_at=now, source=source
        )
    raise ValueError(f"unknown calibration method {method!r}; use 'isotonic' or 'platt'")


def cross_fitted(
    scores: Sequence[float],
    grounded: Sequence[bool],
    groups: Sequence[Hashable],
    *,
    method: Method = "isotonic",
    folds: int = 5,
) -> Any:
    """Each response's calibrated probability from a curve fitted on the *other* groups.

    The honest way to report a calibration's error on the labels it learns from: the
    ECE of these probabilities is what a curve fitted on all of them can expect on new
    questions. Returns a numpy array.
    """
    from sklearn.model_selection import GroupKFold

    s, g = np.asarray(scores, dtype=float), np.asarray(grounded, dtype=bool)
    k = min(folds, len(set(groups)))
    if k < 2:
        raise LabelError("cross-fitting a calibration needs labels from at least 2 questions")
    out = np.empty(len(s))
    for train, test in GroupKFold(n_splits=k).split(s, g, list(groups)):
        out[test] = fit_calibration(s[train], g[train], method=method).apply(s[test])
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class ReliabilityBin:
    """One bar of the reliability diagram: predicted vs observed share grounded."""

    low: float
    high: float
    count: int
    mean_predicted: float
    observed: float


def reliability_bins(
    probabilities: Sequence[float], grounded: Sequence[bool], *, bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; empty bins are left out."""
    p = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    g = np.asarray(grounded, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # The last bin is closed on the right, so a probability of 1.0 is counted.
    which = np.minimum(np.searchsorted(edges, p, side="right") - 1, bins - 1)
    out = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            out.append(
                ReliabilityBin(
                    low=float(edges[b]),
                    high=float(edges[b + 1]),
                    count=int(mask.sum()),
                    mean_predicted=float(p[mask].mean()),
                    observed=float(g[mask].mean()),
                )
            )
    return out


def expected_calibration_error(
    probabilities: Sequence[float], grounded: Sequence[bool], *, bins: int = 10
) -> float:
    """Mean |predicted - observed| over the reliability bins, weighted by their counts."""
    table = reliability_bins(probabilities, grounded, bins=bins)
    total = sum(b.count for b in table)
    if not total:
        return math.nan
    return sum(b.count * abs(b.mean_predicted - b.observed) for b in table) / total
