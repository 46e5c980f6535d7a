"""Learning from a user's own labels: a logistic combination of the layer-1/2 features.

Fitted with scikit-learn, judged by AUROC cross-validated with whole questions held out
(answers to one question never sit on both sides of a fold), beside the untrained
score's AUROC on the same responses. The fitted model is *adopted* only when a paired
bootstrap over questions puts the whole 95% interval of (fitted - untrained) above
zero: on the RAGTruth dev set it does not, so nothing fitted ships as the default.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from monitor import clock
from monitor.errors import LabelError
from monitor.grounding.evaluation import Interval, auroc, grouped_bootstrap
from monitor.grounding.results import GroundingFeatures

SCHEMA = 1


@dataclass(frozen=True, kw_only=True, slots=True)
class FittedModel:
    """Logistic regression on log1p of the features, standardised; JSON-ready."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    n: int
    fitted_at: str
    adopted: bool
    """True when it beat the untrained score by more than the bootstrap interval."""

    @property
    def version(self) -> str:
        """Content hash of the parameters."""
        payload = json.dumps([self.features, self.mean, self.scale, self.coef, self.intercept])
        return hashlib.sha256(payload.encode()).hexdigest()[:12]

    def score(self, features: GroundingFeatures) -> float:
        """P(grounded) of one response from its features."""
        x = _transform(np.asarray([features.vector()]))[0]
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = float(z @ np.asarray(self.coef) + self.intercept)
        return float(1.0 / (1.0 + np.exp(-logit)))

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict with the schema number and version."""
        return {
            "schema": SCHEMA,
            "kind": "logistic",
            "version": self.version,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "n": self.n,
            "fitted_at": self.fitted_at,
            "adopted": self.adopted,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FittedModel:
        """Read back `to_json`; refuses another schema or other feature names."""
        if data.get("schema") != SCHEMA or data.get("kind") != "logistic":
            raise LabelError(
                f"fitted grounding model schema {data.get('schema')!r} / kind "
                f"{data.get('kind')!r} is not known to this ragmon; refit it"
            )
        names = tuple(data["features"])
        if names != GroundingFeatures.names():
            raise LabelError(
                "the fitted grounding model was made from other features "
                f"({', '.join(names)}); refit it with `ragmon grounding fit`"
            )
        return cls(
            features=names,
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            coef=tuple(data["coef"]),
            intercept=float(data["intercept"]),
            n=int(data["n"]),
            fitted_at=str(data["fitted_at"]),
            adopted=bool(data["adopted"]),
        )


@dataclass(frozen=True, kw_only=True, slots=True)
class FitReport:
    """The fitted model and how it compares with the untrained score."""

    model: FittedModel
    fitted_auroc: float
    """Cross-validated (out-of-fold) AUROC, questions held out."""
    untrained_auroc: float
    difference: Interval
    """fitted - untrained AUROC, with its paired bootstrap interval over questions."""
    folds: int

    @property
    def adopted(self) -> bool:
        return self.model.adopted


def _transform(x: np.ndarray) -> np.ndarray:
    # Counts are heavy-tailed; log1p keeps one long answer from dominating the fit.
    return np.log1p(np.clip(x, 0, None))


def _logistic(x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x), y)
    return scaler, model


def fit_model(
    features: Sequence[GroundingFeatures],
    hallucinated: Sequence[bool],
    groups: Sequence[Hashable],
    untrained: Sequence[float],
    *,
    folds: int = 5,
    rounds: int = 1000,
    seed: int = 0,
) -> FitReport:
    """Fit on all the labels, cross-validate by group, compare with ``untrained`` scores."""
    from sklearn.model_selection import StratifiedGroupKFold

    y_bad = np.asarray(hallucinated, dtype=bool)
    grounded = ~y_bad
    n_groups = len(set(groups))
    if len(y_bad) < 20 or y_bad.sum() < 5 or grounded.sum() < 5 or n_groups < 3:
        raise LabelError(
            f"fitting needs at least 20 labelled responses, 5 of each kind, from at least "
            f"3 questions; got {len(y_bad)} ({int(y_bad.sum())} hallucinated) from "
            f"{n_groups} questions"
        )
    x = _transform(np.asarray([f.vector() for f in features], dtype=float))
    k = min(folds, n_groups, int(y_bad.sum()), int(grounded.sum()))
    first_seen = {g: i for i, g in enumerate(dict.fromkeys(groups))}
    group_ids = np.asarray([first_seen[g] for g in groups])
    oof = np.empty(len(y_bad))
    splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in splitter.split(x, grounded, group_ids):
        if len(set(grounded[train])) < 2:
            oof[test] = 0.5
            continue
        scaler, model = _logistic(x[train], grounded[train])
        oof[test] = model.predict_proba(scaler.transform(x[test]))[:, 1]
    base = np.asarray(untrained, dtype=float)
    fitted_auc, base_auc = auroc(oof, y_bad), auroc(base, y_bad)
    low, high = grouped_bootstrap(
        lambda rows: auroc(oof[rows], y_bad[rows]) - auroc(base[rows], y_bad[rows]),
        list(groups),
        rounds=rounds,
        seed=seed,
    )
    scaler, model = _logistic(x, grounded)
    fitted = FittedModel(
        features=GroundingFeatures.names(),
        mean=tuple(float(v) for v in scaler.mean_),
        scale=tuple(float(v) for v in scaler.scale_),
        coef=tuple(float(v) for v in model.coef_[0]),
        intercept=float(model.intercept_[0]),
        n=len(y_bad),
        fitted_at=clock.now().isoformat(timespec="seconds"),
        adopted=low > 0,
    )
    return FitReport(
        model=fitted,
        fitted_auroc=fitted_auc,
        untrained_auroc=base_auc,
        difference=Interval(value=fitted_auc - base_auc, low=low, high=high),
        folds=k,
    )
