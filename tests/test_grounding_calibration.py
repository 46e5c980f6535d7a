"""Calibration, agreement metrics and fitting on labelled responses (synthetic labels)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from monitor.errors import LabelError
from monitor.grounding import GroundingFeatures
from monitor.grounding.calibration import (
    Calibration,
    cross_fitted,
    expected_calibration_error,
    fit_calibration,
    reliability_bins,
)
from monitor.grounding.evaluation import auroc, auroc_interval, best_f1
from monitor.grounding.fitting import FittedModel, fit_model


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw scores that overstate grounding: P(grounded | s) = s**3."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 1, n)
    grounded = rng.uniform(0, 1, n) < scores**3
    return scores, grounded


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_calibration_lowers_ece_on_held_out_responses(method):
    train_s, train_g = _miscalibrated(2000, seed=1)
    test_s, test_g = _miscalibrated(2000, seed=2)
    calibration = fit_calibration(train_s, train_g, method=method)
    before = expected_calibration_error(test_s, test_g)
    after = expected_calibration_error(calibration.apply(test_s), test_g)
    assert before > 0.15
    assert after < before / 2


def test_cross_fitted_calibration_is_judged_on_questions_it_did_not_see():
    scores, grounded = _miscalibrated(1000, seed=9)
    groups = [i // 10 for i in range(1000)]
    probabilities = cross_fitted(scores, grounded, groups)
    assert probabilities.shape == (1000,)
    assert expected_calibration_error(probabilities, grounded) < (
        expected_calibration_error(scores, grounded) / 2
    )


def test_calibration_round_trips_through_json_with_a_stable_version():
    scores, grounded = _miscalibrated(500, seed=3)
    calibration = fit_calibration(scores, grounded)
    data = calibration.to_json()
    again = Calibration.from_json(data)
    assert again == calibration
    assert data["version"] == again.version
    assert again.apply(0.5) == calibration.apply(0.5)
    refit = fit_calibration(*_miscalibrated(500, seed=4))
    assert refit.version != calibration.version


def test_calibration_refuses_an_unknown_schema():
    with pytest.raises(LabelError, match="schema 2 is not known"):
        Calibration.from_json({"schema": 2})


def test_calibration_needs_both_kinds_of_label():
    with pytest.raises(LabelError, match="both kinds"):
        fit_calibration([0.1] * 20, [True] * 20)


def test_reliability_bins_count_every_response_and_report_observed_shares():
    probabilities = [0.05, 0.15, 0.15, 0.95, 1.0]
    grounded = [False, False, True, True, True]
    table = reliability_bins(probabilities, grounded, bins=10)
    assert [(b.low, b.count, b.observed) for b in table] == [
        (0.0, 1, 0.0),
        (0.1, 2, 0.5),
        (0.9, 2, 1.0),
    ]
    assert expected_calibration_error(probabilities, grounded) == pytest.approx(
        (1 * 0.05 + 2 * 0.35 + 2 * 0.025) / 5
    )


def test_auroc_agrees_with_sklearn_including_ties():
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 5, 300).astype(float)
    hallucinated = rng.uniform(size=300) < 0.3
    # A hallucinated answer should score low: sklearn sees the grounded class as positive.
    assert auroc(scores, hallucinated) == pytest.approx(roc_auc_score(~hallucinated, scores))


def test_best_f1_picks_the_cut_that_flags_the_hallucinated():
    scores = [0.1, 0.2, 0.3, 0.9, 0.95]
    hallucinated = [True, True, False, False, False]
    best = best_f1(scores, hallucinated)
    assert (best.f1, best.threshold, best.precision, best.recall) == (1.0, 0.2, 1.0, 1.0)


def test_auroc_interval_brackets_the_estimate():
    rng = np.random.default_rng(6)
    hallucinated = rng.uniform(size=200) < 0.3
    scores = np.where(hallucinated, rng.normal(0.4, 0.2, 200), rng.normal(0.7, 0.2, 200))
    groups = [i // 5 for i in range(200)]
    interval = auroc_interval(scores, hallucinated, groups, rounds=200)
    assert interval.low < interval.value < interval.high


def _features(novel: int, run: int) -> GroundingFeatures:
    return GroundingFeatures(
        novel_words=novel,
        longest_novel_run=run,
        worst_claim_overlap=1.0,
        word_overlap=1.0,
        claims=3,
        unsupported_claims=0,
        content_words=20,
        number_violations=0,
        value_violations=0,
    )


def _labelled(n: int, seed: int):
    """Hallucination shows in the longest novel run; the untrained score sees only noise."""
    rng = np.random.default_rng(seed)
    hallucinated = rng.uniform(size=n) < 0.4
    runs = np.where(hallucinated, rng.integers(4, 9, n), rng.integers(0, 4, n))
    novel = rng.integers(0, 10, n)
    features = [_features(int(a), int(b)) for a, b in zip(novel, runs, strict=True)]
    untrained = list(np.exp(-0.06 * novel))
    groups = [f"q{i // 4}" for i in range(n)]
    return features, list(hallucinated), groups, untrained


def test_fit_is_adopted_only_when_it_beats_the_untrained_score():
    features, hallucinated, groups, untrained = _labelled(200, seed=7)
    report = fit_model(features, hallucinated, groups, untrained, rounds=200)
    assert report.fitted_auroc > 0.9
    assert report.difference.low > 0
    assert report.adopted
    model = FittedModel.from_json(report.model.to_json())
    assert model == report.model
    assert model.score(_features(0, 0)) > 0.5 > model.score(_features(0, 8))

    # When the untrained score is already perfect, the fit cannot beat it.
    perfect = [0.0 if h else 1.0 for h in hallucinated]
    report = fit_model(features, hallucinated, groups, perfect, rounds=200)
    assert not report.adopted


def test_fit_needs_enough_labels():
    features, hallucinated, groups, untrained = _labelled(10, seed=8)
    with pytest.raises(LabelError, match="at least 20 labelled responses"):
        fit_model(features, hallucinated, groups, untrained)
