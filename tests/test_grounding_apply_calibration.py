"""Applying the adopted calibration to new scores: the `grounding` job stores each new
response's calibrated probability with the curve's version, and `ragmon grounding
score` prints them; score and band stay the raw score's."""

from __future__ import annotations

import json

import pytest

from monitor.grounding.calibration import Calibration
from tests.logfiles import jsonl, query
from tests.test_grounding_job import CONTEXT, _config, _response, _run, _scored


def _labelled(n=40):
    # Fully backed answers (raw 1.0) judged right half the time, fabricated ones (0.23)
    # always judged wrong: the raw score is overconfident, a curve lowers the error.
    records = []
    for i in range(n):
        band = "cite" if i % 2 == 0 else "escalate"
        right = band == "cite" and i % 4 == 0
        records.append(
            _response(f"l{i}", 20, i, band, feedback="thumbs_up" if right else "thumbs_down")
        )
    return records


def test_new_scores_get_the_adopted_calibration_of_the_last_run(tmp_path):
    config = _config(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    log.write_text(jsonl(_labelled()))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    first = _scored(config)["result"]
    (ours,) = first["calibration"]
    assert ours["adopted"] and ours["ece_calibrated"] < ours["ece_raw"]
    assert first["calibration_applied"] == ""  # nothing was adopted before this run
    curve = Calibration.from_json(ours["curve"])

    # New answers across the bands, unlabelled: the second run applies the curve.
    new = [_response(f"n{b}", 21, i, b) for i, b in enumerate(("cite", "disclaim", "partial"))]
    with log.open("a") as out:
        out.write(jsonl(new))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    second = _scored(config)["result"]
    assert second["calibration_applied"] == curve.version
    rows = query(
        tmp_path,
        "SELECT r.id, g.score, g.band, g.evidence FROM response_grounding g "
        "JOIN responses r ON r.rid = g.rid ORDER BY g.rid",
    )
    stored = {rid: (score, band, json.loads(evidence)) for rid, score, band, evidence in rows}
    for rid in ("ncite", "ndisclaim", "npartial"):
        score, band, evidence = stored[rid]
        assert evidence["calibrated"] == pytest.approx(curve.apply(score), abs=1e-6)
        assert evidence["calibration"] == curve.version
        assert band == rid[1:]  # the band is the raw score's
    assert 0 < stored["ndisclaim"][2]["calibrated"] < 0.5  # between the knots 0.23 and 1.0
    assert "calibrated" not in stored["l0"][2]  # scored before any curve was adopted
    # The worst answers (the fabricated ones, scored before) carry no calibrated value.
    assert [w["calibrated"] for w in second["worst"]] == [None] * 10

    # The batch command applies the same curve to a file's answers.
    data = tmp_path / "batch.jsonl"
    answers = ["Refunds are issued within 10 days, usually faster abroad.", CONTEXT[0]]
    data.write_text(
        jsonl([{"id": i, "context": CONTEXT, "answer": a} for i, a in enumerate(answers)])
    )
    result = _run("-c", str(config), "grounding", "score", str(data))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["calibrated"] for line in lines] == pytest.approx(
        [curve.apply(line["score"]) for line in lines], abs=1e-6
    )
    assert {line["calibration"] for line in lines} == {curve.version}
    assert lines[1]["score"] == 1.0 and lines[1]["band"] == "cite"
    assert result.stderr.endswith(
        f"; calibrated with curve {curve.version} (the last grounding run's)\n"
    )

    # Another scorer (a changed weight) gets no curve fitted on this one's scores.
    text = config.read_text() + "[grounding]\nnovel_word_weight = 0.07\n"
    config.write_text(text)
    result = _run("-c", str(config), "-q", "grounding", "score", str(data))
    assert result.exit_code == 0
    assert all("calibrated" not in json.loads(line) for line in result.stdout.splitlines())


def test_a_curve_that_does_not_lower_the_error_is_not_adopted(tmp_path):
    config = _config(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    # Every answer of one question: no curve can be judged on questions it did not see.
    records = [{**r, "query": "one question"} for r in _labelled()]
    log.write_text(jsonl(records))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    (ours,) = _scored(config)["result"]["calibration"]
    assert not ours["cross_fitted"] and not ours["adopted"]
    with log.open("a") as out:
        out.write(jsonl([_response("late", 21, 0, "cite")]))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    assert _scored(config)["result"]["calibration_applied"] == ""
    (evidence,) = query(
        tmp_path,
        "SELECT g.evidence FROM response_grounding g JOIN responses r ON r.rid = g.rid "
        "WHERE r.id = 'late'",
    )[0]
    assert "calibrated" not in json.loads(evidence)


def test_the_pointer_is_not_a_new_scorer_but_an_nli_model_is(tmp_path):
    from monitor.grounding import GroundingConfig, NliSettings
    from monitor.grounding.scheduled import scorer_version

    plain = scorer_version(GroundingConfig())
    assert scorer_version(GroundingConfig(nearest_passage=True)) == plain
    assert scorer_version(GroundingConfig(nli=NliSettings(model=tmp_path))) != plain
    assert scorer_version(GroundingConfig(novel_word_weight=0.07)) != plain
