"""The `grounding` job end to end: real log files ingested into real SQLite, a real Chroma
store for chunks whose text was not logged, scores stored once, per-day band shares,
the worst answers, calibration against feedback, and the report section."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from jobs.cli import cli
from monitor.config import StoreConfig
from tests.conftest import fill_collection
from tests.logfiles import jsonl, query

CONTEXT = [
    "Orders placed before 2 pm ship the same business day with UPS Ground.",
    "Refunds are issued within 10 days of the return.",
]
ANSWERS = {
    "cite": "Orders placed before 2 pm ship the same business day with UPS Ground.",
    "disclaim": "Refunds are issued within 10 days, usually faster for premium members "
    "living abroad.",
    "partial": "Refunds arrive within 10 days as store credit, gift vouchers, or bank "
    "transfers depending on region, loyalty tier, courier strikes and weather.",
    "escalate": "Order #ORD-7842 was shipped on March 2nd via FedEx tracking #7891234567.",
}


def _run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _response(rid, day, minute, band, *, text=True, **extra):
    chunks = [
        {"id": f"k{n}", "score": 0.8, **({"text": passage} if text else {})}
        for n, passage in enumerate(CONTEXT)
    ]
    return {
        "id": rid,
        "timestamp": f"2026-11-{day:02d}T10:{minute:02d}:00Z",
        "query": f"Where is my order? ({rid})",
        "answer": ANSWERS[band],
        "chunks": chunks,
        **extra,
    }


def _config(tmp_path, collection="kbase"):
    path = tmp_path / "ragmon.toml"
    path.write_text(
        f'[store]\npath = "chroma"\ncollection = "{collection}"\n'
        '[sources]\nroot = "docs"\n'
        f'[history]\nurl = "sqlite:///{tmp_path / "history.db"}"\n'
        '[logs]\npaths = ["logs/*.jsonl"]\nretention_days = 100000\n',
        encoding="utf-8",
    )
    (tmp_path / "docs").mkdir(exist_ok=True)
    return path


def _scored(config):
    """Run the job; its --json output plus the metrics and findings it stored."""
    result = _run("-c", str(config), "run", "grounding", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)  # a warning about the store goes to stderr
    tmp = config.parent
    run = body["run_id"]
    body["metrics"] = [
        {"name": n, "value": v, "labels": json.loads(labels) if isinstance(labels, str) else labels}
        for n, v, labels in query(
            tmp, f"SELECT name, value, labels FROM metrics WHERE run_id = {run}"
        )
    ]
    body["findings"] = [
        {"kind": k, "message": m}
        for k, m in query(tmp, f"SELECT kind, message FROM findings WHERE run_id = {run}")
    ]
    return body


def test_scores_once_per_day_shares_worst_and_report(tmp_path):
    fill_collection(
        StoreConfig(path=tmp_path / "chroma", collection="kbase"), ["k0", "k1"], documents=CONTEXT
    )
    config = _config(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    # Day 20: cite, cite, cite, escalate. Day 21: cite, disclaim, partial, plus one whose
    # chunk text was not logged (scored from the store: cite) and one whose chunks the
    # store never held (no context).
    day20 = [_response(f"a{n}", 20, n, b) for n, b in enumerate(["cite"] * 3 + ["escalate"])]
    day21 = [
        _response("b0", 21, 0, "cite"),
        _response("b1", 21, 1, "disclaim"),
        _response("b2", 21, 2, "partial"),
        _response("b3", 21, 3, "cite", text=False),
        {**_response("b4", 21, 4, "cite", text=False), "chunks": [{"id": "ghost"}]},
    ]
    log.write_text(jsonl(day20 + day21))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0

    first = _scored(config)
    body = first["result"]
    assert (body["scored"], body["no_context"], body["from_store"]) == (8, 1, 1)
    assert body["days_touched"] == ["2026-11-20", "2026-11-21"]
    days = {d["day"]: d for d in body["days"]}
    assert days["2026-11-20"]["counts"] == {"cite": 3, "disclaim": 0, "partial": 0, "escalate": 1}
    assert days["2026-11-21"]["counts"] == {"cite": 2, "disclaim": 1, "partial": 1, "escalate": 0}
    shares = {
        (m["labels"].get("day"), m["labels"]["band"]): m["value"]
        for m in first["metrics"]
        if m["name"] == "grounding_band_share" and "day" in m["labels"]
    }
    assert shares[("2026-11-20", "escalate")] == 0.25
    assert shares[("2026-11-21", "partial")] == 0.25
    assert shares[("2026-11-20", "cite")] == 0.75

    # The fabricated order answer: escalate, first among the worst, with its evidence.
    worst = body["worst"][0]
    assert (worst["id"], worst["band"]) == ("a3", "escalate")
    assert worst["unsupported_claims"][0]["novel_words"] == ["FedEx", "tracking"]
    assert {v["text"] for v in worst["violations"]} >= {"#ORD-7842", "March 2nd"}
    (finding,) = first["findings"]
    assert finding["kind"] == "ungrounded_answer" and "a3" in finding["message"]

    # Stored once: nothing new the second time; a new line is scored alone and only
    # its day's figures are recomputed, from the table (no double count).
    again = _scored(config)["result"]
    assert (again["scored"], again["no_context"], again["days_touched"]) == (0, 0, [])
    assert query(tmp_path, "SELECT count(*) FROM response_grounding")[0][0] == 9
    with log.open("a") as out:
        out.write(jsonl([_response("b5", 21, 5, "escalate")]))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    third = _scored(config)
    assert third["result"]["scored"] == 1
    counts = {
        m["labels"]["band"]: m["value"]
        for m in third["metrics"]
        if m["name"] == "grounding_band_count" and m["labels"].get("day") == "2026-11-21"
    }
    assert counts == {"cite": 2, "disclaim": 1, "partial": 1, "escalate": 1}
    latest = {
        m["labels"]["band"]: m["value"]
        for m in third["metrics"]
        if m["name"] == "grounding_band_share" and m["labels"].get("window") == "latest_day"
    }
    assert latest["escalate"] == 0.2
    assert not any(m["labels"].get("day") == "2026-11-20" for m in third["metrics"])

    out = tmp_path / "report"
    assert _run("-c", str(config), "--quiet", "report", "--out", str(out)).exit_code == 0
    section = json.loads((out / "report.json").read_text())["sections"]["grounding"]
    bars = {t["name"]: t["y"] for t in section["series"]["grounding-bands"]}
    assert bars["escalate"] == [0.25, 0.2]
    assert section["latest"]["worst"][0]["id"] in {"a3", "b5"}
    page = (out / "index.html").read_text()
    assert 'id="grounding-worst"' in page and "FedEx" in page


def test_worst_answer_text_is_escaped_in_the_report(tmp_path):
    config = _config(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    bad = _response("x1", 20, 0, "escalate")
    bad["answer"] = "<script>alert(1)</script> Order #ORD-9 shipped via FedEx."
    log.write_text(jsonl([bad]))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    _scored(config)
    out = tmp_path / "report"
    assert _run("-c", str(config), "--quiet", "report", "--out", str(out)).exit_code == 0
    page = (out / "index.html").read_text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize("app_score", [0.9])
def test_calibration_lowers_the_error_of_miscalibrated_scores(tmp_path, app_score):
    config = _config(tmp_path)
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    # Fully backed answers (raw score 1.0) that people judge right only half the time,
    # and fabricated ones (0.23) they always judge wrong: the raw score is overconfident.
    # The application logged 0.9 for every answer, which says nothing.
    records = []
    for n in range(40):
        band = "cite" if n % 2 == 0 else "escalate"
        right = band == "cite" and n % 4 == 0
        records.append(
            _response(
                f"l{n}",
                20,
                n,
                band,
                feedback="thumbs_up" if right else "thumbs_down",
                grounding=app_score,
            )
        )
    records.append(_response("unlabelled", 20, 50, "cite", feedback="meh"))
    log.write_text(jsonl(records))
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    body = _scored(config)
    cal = {c["source"]: c for c in body["result"]["calibration"]}
    assert set(cal) == {"ragmon", "app"}
    ours, app = cal["ragmon"], cal["app"]
    assert (ours["n"], ours["grounded"]) == (40, 10)
    assert ours["cross_fitted"]
    assert ours["ece_raw"] > 0.3
    assert ours["ece_calibrated"] < ours["ece_raw"] / 3
    assert app["ece_raw"] == pytest.approx(0.9 - 10 / 40)
    assert sum(b["count"] for b in ours["bins_raw"]) == 40
    ece = {
        (m["labels"]["source"], m["labels"]["calibration"]): m["value"]
        for m in body["metrics"]
        if m["name"] == "grounding_calibration_error"
    }
    assert ece[("ragmon", "raw")] == ours["ece_raw"]

    out = tmp_path / "report"
    assert _run("-c", str(config), "--quiet", "report", "--out", str(out)).exit_code == 0
    section = json.loads((out / "report.json").read_text())["sections"]["grounding"]
    names = [t["name"] for t in section["series"]["grounding-reliability"]]
    assert names == ["perfect", "ragmon raw", "ragmon calibrated", "app raw", "app calibrated"]


def test_responses_needing_an_unreadable_store_wait_for_the_next_run(tmp_path):
    config = _config(tmp_path)  # no store at "chroma" yet: it cannot be read
    log = tmp_path / "logs" / "app.jsonl"
    log.parent.mkdir()
    log.write_text(
        jsonl([_response("s0", 20, 0, "cite"), _response("s1", 20, 1, "cite", text=False)])
    )
    assert _run("-c", str(config), "--quiet", "run", "ingest-logs").exit_code == 0
    first = _scored(config)["result"]
    assert (first["scored"], first["deferred"], first["no_context"]) == (1, 1, 0)
    fill_collection(
        StoreConfig(path=tmp_path / "chroma", collection="kbase"), ["k0", "k1"], documents=CONTEXT
    )
    second = _scored(config)["result"]
    assert (second["scored"], second["from_store"], second["deferred"]) == (1, 1, 0)
    assert second["days"][0]["counts"]["cite"] == 2
