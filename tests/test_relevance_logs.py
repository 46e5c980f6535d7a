"""Production queries from the ingested response logs, and the per-response retrieval rows.

Flat JSONL logs go through the real `ingest-logs` job into a real SQLite history; the
`relevance` job reads both windows from it, embeds them with the packaged model and
writes ``response_retrieval`` rows for the current window's sample. The store is a real
Chroma collection past its sync threshold (the relevance corpus).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jobs.registry import get
from jobs.runner import execute
from monitor.config import Config
from monitor.history import HistoryStore
from monitor.history.models import ResponseRetrievalRow
from monitor.relevance.selfprobe import query_sentences
from tests.logfiles import jsonl
from tests.relevance_corpus import demo_chunks, filler_paragraphs
from tests.test_relevance import build, corpus, figures, make_config, run_job  # noqa: F401

NOW = datetime.now(UTC).replace(microsecond=0)
REF, CUR = 200, 100
"""Logged queries of the reference and the current window (embedding them is the cost)."""

OFF_TOPIC = [
    "How long should I roast a whole chicken at 200 degrees?",
    "Which football team won the league last season?",
    "What is a good substitute for eggs when baking banana bread?",
    "How do I get red wine stains out of a white carpet?",
    "When is the best time of year to plant tulip bulbs?",
    "How many calories does a marathon runner burn per hour?",
    "What should I pack for a week of hiking in the Alps?",
    "Can you recommend a good recipe for vegetarian lasagne?",
]


def _library_questions() -> list[str]:
    """First sentences of the standard library's docstrings, each once."""
    return list(dict.fromkeys(p.split(". ")[0] for p in filler_paragraphs(1300)))


def _handbook_questions() -> list[str]:
    return [s for _, _, t in demo_chunks() for s in query_sentences(t).values()]


def _line(
    rid: str, when: datetime, query: str, chunks: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": rid,
        "timestamp": when.isoformat(),
        "query": query,
        "answer": "an answer",
        **({"chunks": chunks} if chunks is not None else {}),
        **extra,
    }


def _scored(ids: list[str], distances: list[float]) -> list[dict[str, Any]]:
    return [{"id": i, "score": d} for i, d in zip(ids, distances, strict=True)]


def _config(tmp_path: Path, store: Any, lines: list[dict[str, Any]], **relevance: Any) -> Config:
    (tmp_path / "logs").mkdir(exist_ok=True)
    (tmp_path / "logs" / "app.jsonl").write_text(jsonl(lines), encoding="utf-8")
    config = make_config(
        tmp_path,
        store,
        self_sample=0,
        index_sample=0,
        drift_report=False,
        **relevance,
    )
    logs = {
        "paths": ["logs/*.jsonl"],
        "retention_days": 100000,
        "mapping": {"score_kind": "distance"},
    }
    return config.model_copy(update={"logs": type(config.logs).model_validate(logs)})


def _ingest(config: Config) -> None:
    history = HistoryStore.open(config.history_url)
    try:
        outcome = execute(get("ingest-logs"), config, history)
        assert outcome.result is not None, outcome.error
    finally:
        history.engine.dispose()


def _rows(config: Config) -> dict[str, ResponseRetrievalRow]:
    """The stored rows by response id."""
    from monitor.history.models import ResponseRow

    history = HistoryStore.open(config.history_url)
    try:
        with history.session() as session:
            found = session.execute(
                select(ResponseRow.id, ResponseRetrievalRow).join(
                    ResponseRetrievalRow, ResponseRetrievalRow.rid == ResponseRow.rid
                )
            ).all()
            session.expunge_all()
            return {rid: row for rid, row in found}
    finally:
        history.engine.dispose()


def _windows(
    reference: list[str],
    current: list[str],
    ref_d: list[list[float]],
    cur_d: list[list[float]],
    chunk_ids: list[str],
) -> list[dict[str, Any]]:
    """Reference queries spread over days 8-34 before now, current ones over the last 6."""
    lines = []
    for i, (q, d) in enumerate(zip(reference, ref_d, strict=True)):
        when = NOW - timedelta(days=8) - timedelta(minutes=180 * i)
        lines.append(_line(f"ref-{i}", when, q, _scored(chunk_ids, d)))
    for i, (q, d) in enumerate(zip(current, cur_d, strict=True)):
        when = NOW - timedelta(minutes=80 * i + 1)
        lines.append(_line(f"cur-{i}", when, q, _scored(chunk_ids, d)))
    return lines


def _distances(rng: random.Random, n: int, low: float, high: float) -> list[list[float]]:
    """Three logged distances per response, deliberately not in rank order."""
    return [[round(rng.uniform(low, high), 4) for _ in range(3)] for _ in range(n)]


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory, corpus: dict[str, Any]) -> Any:  # noqa: F811
    return build(tmp_path_factory.mktemp("store"), corpus)


def test_drift_from_logs_finds_a_shifted_window_with_its_logged_distances(
    tmp_path,
    shared_store,
    corpus,  # noqa: F811
):
    library, handbook = _library_questions(), _handbook_questions()
    rng = random.Random(7)
    ref_d = _distances(rng, REF, 0.20, 0.55)
    cur_d = _distances(rng, CUR, 0.40, 0.85)
    lines = _windows(library[:REF], handbook[:CUR], ref_d, cur_d, corpus["ids"][:3])
    config = _config(tmp_path, shared_store, lines, window="7d", reference_window="28d")
    _ingest(config)

    outcome, result = run_job(config)
    prod = result.production
    assert prod is not None and prod.source == "logs" and prod.skipped is None
    assert (prod.queries, prod.reference_queries) == (CUR, REF)
    assert (prod.sampled, prod.reference_sampled) == (CUR, REF)
    assert prod.query_drift is not None and prod.query_drift.drifted
    # The logged scores, as logged: distances, best (smallest) first.
    assert (prod.scores_from, prod.score_kind) == ("logged", "distance")
    assert prod.floor == pytest.approx(0.7)  # similarity floor 0.3 in the cosine space
    best_now = sorted(min(d) for d in cur_d)
    assert sorted(prod.top1_scores) == pytest.approx(best_now, abs=1e-5)
    assert prod.no_relevant_share == pytest.approx(sum(d > 0.7 for d in best_now) / CUR)
    assert prod.reference_no_relevant_share == pytest.approx(sum(min(d) > 0.7 for d in ref_d) / REF)
    assert prod.top1 is not None and prod.top1.p_value < 0.01 and prod.top1.median_shift > 0
    assert prod.topk is not None and prod.topk.p_value < 0.01
    found = figures(outcome)
    assert found[("query_drift_detected", (("method", "model"),))] == 1.0
    assert found[("response_retrieval_rows", ())] == CUR
    assert "queries from logs" in outcome.result.summary
    rows = _rows(config)
    assert set(rows) == {f"cur-{i}" for i in range(CUR)}
    assert {r.relevance_run for r in rows.values()} == {outcome.run_id}
    # Handbook questions lie away from library ones: most are past the reference's own
    # 95% novelty.
    assert sum(bool(r.query_drifted) for r in rows.values()) > 0.5 * CUR


def test_drift_from_logs_stays_quiet_on_a_resample(tmp_path, shared_store, corpus):  # noqa: F811
    library = _library_questions()
    shuffled = random.Random(3).sample(library, REF + CUR)
    rng = random.Random(11)
    ref_d = _distances(rng, REF, 0.20, 0.55)
    cur_d = _distances(rng, CUR, 0.20, 0.55)
    lines = _windows(shuffled[:REF], shuffled[REF:], ref_d, cur_d, corpus["ids"][:3])
    config = _config(tmp_path, shared_store, lines)
    _ingest(config)

    outcome, result = run_job(config)
    prod = result.production
    assert prod is not None and prod.source == "logs"
    assert prod.query_drift is not None and not prod.query_drift.drifted
    assert prod.top1 is not None and prod.top1.p_value > 0.05
    rows = _rows(config)
    assert len(rows) == CUR
    # The same distribution: about the nominal 5% are past the 95% conformal threshold.
    assert sum(bool(r.query_drifted) for r in rows.values()) <= 0.12 * CUR
    assert figures(outcome)[("query_novel_share", (("window", "current"),))] <= 0.12


def _apples(n: int) -> str:
    """``n`` tokens in the model's WordPiece vocabulary (one per word)."""
    return " ".join(["apple"] * n)


def test_response_rows_flag_off_topic_queries_and_count_context_tokens(
    tmp_path,
    corpus,  # noqa: F811
    embedder,
):
    planted_ids = ["budget/seventy.txt#0", "budget/fifty.txt#0"]
    planted = [_apples(70), _apples(50)]
    extended = {
        "ids": corpus["ids"] + planted_ids,
        "sources": corpus["sources"] + ["budget/seventy.txt", "budget/fifty.txt"],
        "texts": corpus["texts"] + planted,
        "vectors": __import__("numpy").concatenate([corpus["vectors"], embedder.embed(planted)]),
    }
    store = build(tmp_path, extended)
    library = random.Random(5).sample(_library_questions(), REF + 60)
    reference, on_topic = library[:REF], library[REF:]
    lines = [
        _line(f"ref-{i}", NOW - timedelta(days=9, minutes=97 * i), q, [{"id": "c1"}])
        for i, q in enumerate(reference)
    ]
    budget_cases = {
        # response id: (chunks, expected context tokens, expected over_budget); budget 100
        "fits": ([{"id": planted_ids[1]}, {"id": "t1", "text": _apples(40)}], 90, False),
        "over": ([{"id": planted_ids[0]}, {"id": "t2", "text": _apples(40)}], 110, True),
        "exact": ([{"id": "t3", "text": _apples(100)}], 100, False),
        "gone": ([{"id": "gone/1.txt#0"}], None, None),
        "gone-but-over": ([{"id": "gone/2.txt#0"}, {"id": "t4", "text": _apples(120)}], None, True),
    }
    for i, q in enumerate(on_topic):
        when = NOW - timedelta(hours=2, minutes=41 * i)
        if i < len(budget_cases):
            rid = list(budget_cases)[i]
            lines.append(_line(rid, when, q, budget_cases[rid][0]))
        elif i == len(budget_cases):
            lines.append(_line("context-only", when, q, context=_apples(30)))
        else:
            lines.append(_line(f"on-{i}", when, q, [{"id": planted_ids[1]}]))
    for i, q in enumerate(OFF_TOPIC):
        when = NOW - timedelta(hours=1, minutes=7 * i)
        lines.append(_line(f"off-{i}", when, q, [{"id": planted_ids[1]}]))
    config = _config(tmp_path, store, lines, budget_tokens=100)
    _ingest(config)

    outcome, result = run_job(config)
    prod = result.production
    assert prod is not None and prod.source == "logs"
    # The chunks were logged without scores: both windows were asked from the store.
    assert prod.scores_from == "store"
    rows = _rows(config)
    assert len(rows) == 60 + len(OFF_TOPIC)  # every current response (query_sample 500)
    for rid, (_, tokens, over) in budget_cases.items():
        assert (rows[rid].context_tokens, rows[rid].over_budget) == (tokens, over), rid
    assert (rows["context-only"].context_tokens, rows["context-only"].over_budget) == (30, False)
    assert all(rows[f"on-{i}"].context_tokens == 50 for i in range(6, 60))
    assert all(rows[f"off-{i}"].context_tokens == 50 for i in range(len(OFF_TOPIC)))
    assert all(rows[f"off-{i}"].query_drifted for i in range(len(OFF_TOPIC)))
    on = [r for rid, r in rows.items() if not rid.startswith("off-")]
    assert sum(bool(r.query_drifted) for r in on) <= 0.12 * len(on)
    off_novelty = min(rows[f"off-{i}"].query_novelty for i in range(len(OFF_TOPIC)))
    assert off_novelty > sorted(r.query_novelty for r in on)[len(on) // 2]
    each = prod.per_response
    assert each is not None and each.rows == 68 and each.novelty_threshold is not None
    assert (each.over_budget, each.tokens_unknown) == (2, 2)
    assert prod.over_budget_share == pytest.approx(2 / 67)  # of those with a known answer
    assert {r.relevance_run for r in rows.values()} == {outcome.run_id}
    from jobs.report import build_report

    history = HistoryStore.open(config.history_url)
    html = build_report(config, history).index.read_text()
    history.engine.dispose()
    assert "Queries from the ingested response logs" in html
    assert "Per response (68 sampled responses of the current window" in html
    assert "novel queries (past the reference" in html

    # A second run replaces the rows (one per response), stamped with its own run.
    again, _ = run_job(config)
    rows = _rows(config)
    assert len(rows) == 68 and {r.relevance_run for r in rows.values()} == {again.run_id}

    # The query file overrides the logs when asked to; the result says which was used.
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        "".join(
            json.dumps({"query": q, "time": (NOW - timedelta(hours=1)).isoformat()}) + "\n"
            for q in OFF_TOPIC
        ),
        encoding="utf-8",
    )
    forced = config.model_copy(
        update={
            "relevance": config.relevance.model_copy(
                update={"queries": queries, "query_source": "file"}
            )
        }
    )
    _, from_file = run_job(forced)
    assert from_file.production is not None
    assert (from_file.production.source, from_file.production.source_detail) == (
        "file",
        str(queries),
    )
    assert from_file.production.per_response is None
    assert from_file.production.skipped is not None  # no reference window in the file


def test_logged_windows_and_rows_on_sqlite_and_postgresql(history, tmp_path):
    """The sample is read and the rows upserted the same way on both databases."""
    from monitor.relevance.logged import logged_windows, write_states
    from monitor.relevance.perresponse import ResponseState
    from tests.logfiles import ingest_into, record, settings

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.jsonl").write_text(jsonl([record(i) for i in range(40)]))
    logs = settings(paths=["logs/*.jsonl"], retention_days=100000)
    ingest_into(history, tmp_path, logs)
    # record(i) is at 10:00:i on 2026-11-20: the first 25 are the reference window.
    bounds = {
        "start": datetime(2026, 11, 20, 9, tzinfo=UTC),
        "split": datetime(2026, 11, 20, 10, 0, 25, tzinfo=UTC),
        "end": datetime(2026, 11, 20, 11, tzinfo=UTC),
    }
    found = logged_windows(history, **bounds, sample=10, seed=0)
    assert (found.current_total, found.reference_total) == (15, 25)
    assert (len(found.current), len(found.reference)) == (10, 10)
    assert {r.record.query for r in found.current} <= {f"question {i}" for i in range(25, 40)}
    assert all(r.record.scores == (0.5, 0.25) for r in found.current + found.reference)
    assert {r.record.score_kind for r in found.current} == {"similarity"}
    again = logged_windows(history, **bounds, sample=10, seed=0)
    assert [r.record.rid for r in again.current] == [r.record.rid for r in found.current]

    def state(rid: int, novelty: float) -> ResponseState:
        return ResponseState(
            rid=rid,
            at_us=0,
            query_novelty=novelty,
            query_drifted=novelty > 0.5,
            context_tokens=12,
            over_budget=False,
        )

    rids = [r.record.rid for r in found.current[:3]]
    assert write_states(history, [state(r, 0.2) for r in rids], run_id=1, now_us=5) == 3
    # A later run replaces them; a response gone meanwhile (retention) is left out.
    written = write_states(history, [state(r, 0.9) for r in [*rids, 10**9]], run_id=2, now_us=6)
    assert written == 3
    with history.session() as session:
        rows = session.scalars(select(ResponseRetrievalRow).order_by(ResponseRetrievalRow.rid))
        got = [
            (r.rid, r.query_novelty, r.query_drifted, r.relevance_run, r.computed_us) for r in rows
        ]
    assert got == [(r, 0.9, True, 2, 6) for r in sorted(rids)]

    # Retention deletes the responses with their rows.
    from monitor.history.responses import apply_retention

    assert apply_retention(history, before_us=2**62) == 40
    with history.session() as session:
        assert session.scalars(select(ResponseRetrievalRow)).first() is None
