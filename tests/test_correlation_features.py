"""Per-response features joined in the history database, checked response by response
against a real freshness run, a real chunking run and a real ingestion."""

from __future__ import annotations

import json
import math
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from monitor.correlation.features import (
    BINARY,
    CONTINUOUS,
    RESPONSE_COLUMNS,
    RETRIEVED_COLUMNS,
    FrameSettings,
    load_frames,
    top_folder,
)
from monitor.freshness.results import FreshnessResult
from monitor.history import HistoryStore
from tests.correlation_world import (
    STALE_DAYS,
    build_world,
    chunk_with,
    days_ago,
    ingest,
    response,
    run_cli,
)


def _freshness(history):
    run = history.last_success("freshness")
    return FreshnessResult.from_json(history.details(run.id))


def _quality(history):
    with history.engine.connect() as conn:
        return {
            cid: (bool(t), bool(m), bool(j))
            for cid, t, m, j in conn.execute(
                text("SELECT chunk_id, truncated, mid_sentence, junk FROM chunk_quality")
            )
        }


def test_features_per_response_against_real_runs(tmp_path, embedder, history_url):
    world = build_world(tmp_path, embedder, history_url)
    edited = chunk_with(world, "guide/a.md", "cabinet B")
    a_other = chunk_with(world, "guide/a.md", "Firmware")
    b0 = world.ids["guide/b.md"][0]
    c0, c1 = world.ids["c.md"][:2]
    about = world.ids["claims/about.md"][0]
    junk = world.ids["junk.md"][0]
    d1, d2 = days_ago(world, 2), days_ago(world, 1)
    body = ingest(
        world,
        [
            response("r1", d1, [(edited, 0.2), (c0, 0.5)], 0.3, topic="billing"),
            response("r2", d1, [(b0, 0.3), ("ghost-chunk", 0.35)], 0.9, topic="billing"),
            response("r3", d2, [(c0, 0.1), (c1, 0.4)], 0.85),
            response("r4", d2, [(about, 0.25), (junk, 0.3), (a_other, 0.6)], 0.6),
            response("r5", d2, [], 0.7),
            response("r6", d2, [(c0, 0.1)], None),
        ],
    )
    assert body["responses"] == 6

    history = HistoryStore.open(history_url)
    try:
        result = _freshness(history)
        quality = _quality(history)
        # 1. the lineage rows carry the run's edit size, staleness age and conflicts
        with history.engine.connect() as conn:
            lineage = {
                row[0]: row[1:]
                for row in conn.execute(
                    text(
                        "SELECT chunk_id, chunk_class, changed_share, stale_age_s, in_conflict "
                        "FROM chunk_lineage"
                    )
                )
            }
        a_doc = result.by_document["guide/a.md"]
        share = a_doc.edits[edited].changed_share
        assert 0 < share < 0.2
        age = a_doc.stale_age_seconds
        assert age is not None and abs(age - STALE_DAYS * 86400) < 600
        assert lineage[edited][0] == "stale"
        assert lineage[edited][1] == pytest.approx(share)
        assert lineage[edited][2] == pytest.approx(age)
        assert not lineage[edited][3]
        assert lineage[a_other][0] == "fresh"
        assert lineage[a_other][1] is None and lineage[a_other][2] == pytest.approx(age)
        assert lineage[b0][0] == "orphaned" and lineage[b0][2] is None
        assert lineage[about][0] == "fresh" and bool(lineage[about][3]) is True
        assert {v.source_id for g in result.conflicts for v in g.voices} == {
            "claims/about.md",
            "claims/index.md",
        }
        assert lineage["ghost-chunk"][0] == "unknown_chunk" and lineage["ghost-chunk"][3] is None
        assert quality[junk][2] is True  # the chunking run saw the zero-width space

        # 3. the frames
        since, until = days_ago(world, 7), world.now + timedelta(minutes=1)
        frames = load_frames(history, world.config, since=since, until=until)
        assert frames.grounding_source == "log"
        rs = frames.responses
        assert tuple(rs.columns) == RESPONSE_COLUMNS
        assert list(rs["response_id"]) == ["r1", "r2", "r3", "r4", "r5"]  # r6: no grounding
        assert str(rs["at"].dtype) == "datetime64[ns, UTC]"
        for column in BINARY:
            assert str(rs[column].dtype) == "boolean", column
        for column in CONTINUOUS:
            assert rs[column].dtype == float, column
        row = {r["response_id"]: r for r in rs.to_dict("records")}
        r1, r2, r3, r4, r5 = (row[f"r{i}"] for i in range(1, 6))
        assert r1["day"] == d1.strftime("%Y-%m-%d") == r1["cluster"]
        assert r3["day"] == d2.strftime("%Y-%m-%d")
        assert (r1["grounding"], r1["low"], r1["band"]) == (0.3, True, None)
        assert (r2["low"], r3["low"], r4["low"]) == (False, False, True)
        # r1: an edited stale chunk and a fresh one
        assert r1["share_stale"] == 0.5 and r1["any_stale"] is True
        assert r1["any_orphaned"] is False and r1["share_orphaned"] == 0.0
        assert r1["max_changed_share"] == pytest.approx(share)
        assert r1["max_stale_age_days"] == pytest.approx(age / 86400)
        assert r1["any_conflict"] is False
        assert r1["top1_score"] == pytest.approx(0.8) and r1["margin"] == pytest.approx(0.3)
        assert r1["stratum"] == "guide"
        flags = [quality[edited], quality[c0]]
        assert r1["any_truncated"] is any(f[0] for f in flags)
        assert r1["any_mid_sentence"] is any(f[1] for f in flags)
        assert r1["any_junk"] is False
        assert r1["any_bad_cut"] is any(any(f) for f in flags)
        # r2: an orphaned chunk and an id the store never held
        assert r2["share_orphaned"] == 0.5 and r2["any_orphaned"] is True
        assert r2["any_stale"] is False
        assert math.isnan(r2["max_changed_share"]) and math.isnan(r2["max_stale_age_days"])
        assert r2["top1_score"] == pytest.approx(0.7) and r2["margin"] == pytest.approx(0.05)
        # r3: fresh chunks of a document at the root
        assert (r3["share_stale"], r3["max_changed_share"], r3["max_stale_age_days"]) == (0, 0, 0)
        assert r3["stratum"] == "." and r3["margin"] == pytest.approx(0.3)
        # r4: a conflicting document, a junk chunk, a fresh chunk of the stale document
        assert r4["any_conflict"] is True and r4["any_junk"] is True and r4["any_bad_cut"] is True
        assert r4["any_stale"] is False and r4["max_stale_age_days"] == 0
        assert r4["stratum"] == "claims"
        # r5: nothing retrieved, nothing known
        nothing = rs[rs["response_id"] == "r5"].iloc[0]
        for column in BINARY:
            assert nothing[column] is pd.NA, column
        assert math.isnan(r5["share_stale"]) and math.isnan(r5["top1_score"])
        assert r5["stratum"] is None
        # no response_retrieval rows yet: not measured
        assert rs["query_drifted"].isna().all() and rs["over_budget"].isna().all()

        rt = frames.retrieved
        assert tuple(rt.columns) == RETRIEVED_COLUMNS
        assert len(rt) == 9
        ghost = rt[rt["chunk_id"] == "ghost-chunk"].iloc[0]
        assert (ghost["position"], ghost["source_id"], ghost["chunk_class"]) == (
            1,
            None,
            "unknown_chunk",
        )
        first = rt[(rt["rid"] == r1["rid"]) & (rt["position"] == 0)].iloc[0]
        assert (first["chunk_id"], first["source_id"], first["chunk_class"]) == (
            edited,
            "guide/a.md",
            "stale",
        )
        docs = frames.documents
        assert docs["guide/a.md"].status == "stale" and docs["guide/a.md"].action == "re-embed"
        assert docs["guide/b.md"].action == "delete"
        assert docs["claims/about.md"].action == "review"
        ranks = [d.fix_rank for d in docs.values() if d.fix_rank is not None]
        assert sorted(ranks) == list(range(1, len(result.fix_queue) + 1))

        # clusters and strata from a label
        by_topic = load_frames(
            history,
            world.config,
            since=since,
            until=until,
            settings=FrameSettings(cluster_by="topic", strata_by="topic"),
        ).responses.set_index("response_id")
        assert by_topic.loc["r1", "cluster"] == "billing" == by_topic.loc["r2", "stratum"]
        assert by_topic.loc["r3", "cluster"] == r3["day"] and by_topic.loc["r3", "stratum"] is None
        # a window that leaves r1 and r2 out
        later = load_frames(history, world.config, since=d2 - timedelta(hours=1), until=until)
        assert list(later.responses["response_id"]) == ["r3", "r4", "r5"]
        assert set(later.retrieved["rid"]) == {r3["rid"], r4["rid"]}
    finally:
        history.engine.dispose()

    # 5. the fix queue puts the documents behind the most low-grounding answers first:
    # a.md (r1, r4), about.md (r4), then b.md (r2 was well grounded)
    queue = json.loads(run_cli("-c", str(world.path), "fix-queue", "--format", "json").output)
    assert [(i["document"], i["low_grounding"]) for i in queue][:3] == [
        ("guide/a.md", 2),
        ("claims/about.md", 1),
        ("guide/b.md", 0),
    ]
    assert {i["document"]: i["retrievals"] for i in queue}["guide/b.md"] == 1

    # ragmon's own scores, once the grounding job ran, replace the logged ones
    assert run_cli("-c", str(world.path), "--quiet", "run", "grounding").exit_code == 0
    history = HistoryStore.open(history_url)
    try:
        with history.engine.connect() as conn:
            scored = {
                rid: (score, band)
                for rid, score, band in conn.execute(
                    text(
                        "SELECT r.id, g.score, g.band FROM response_grounding g "
                        "JOIN responses r ON r.rid = g.rid WHERE g.status = 'scored'"
                    )
                )
            }
        assert scored, "the grounding job scored nothing"
        frames = load_frames(history, world.config, since=since, until=until)
        assert frames.grounding_source == "ragmon"
        got = frames.responses.set_index("response_id")
        assert set(got.index) == set(scored)
        for rid, (score, band) in scored.items():
            assert got.loc[rid, "grounding"] == pytest.approx(score)
            assert got.loc[rid, "band"] == band
            assert got.loc[rid, "low"] == (band in ("disclaim", "partial", "escalate"))
    finally:
        history.engine.dispose()


def test_top_folder():
    assert top_folder("guide/a.md") == "guide"
    assert top_folder("a.md") == "."
    assert top_folder("/abs/x/y.md") == "abs"


def test_low_grounding_answers_order_the_fix_queue_first():
    from monitor.freshness.fixqueue import FIX_QUEUE_COLUMNS, FixItem, with_retrievals

    def item(doc, age):
        return FixItem(document=doc, action="re-embed", reason="r", chunks=1, age_days=age)

    queue = [item("old.md", 30.0), item("new.md", 1.0), item("mid.md", 10.0)]
    assert with_retrievals(queue, None, None) == queue  # no logs: as stored
    ordered = with_retrievals(queue, {"old.md": 500, "new.md": 3}, {"new.md": 7, "mid.md": 7})
    assert [(i.document, i.low_grounding, i.retrievals) for i in ordered] == [
        ("mid.md", 7, 0),  # as many low answers as new.md, and older
        ("new.md", 7, 3),
        ("old.md", 0, 500),
    ]
    assert FIX_QUEUE_COLUMNS.index("low_grounding") < FIX_QUEUE_COLUMNS.index("retrievals")
