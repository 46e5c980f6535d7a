"""Probe files, ranking figures by hand, the context budget, the [relevance] section."""

from __future__ import annotations

import math

import pytest

from jobs.registry import config_from_dict
from monitor.errors import ConfigError, RelevanceInputError
from monitor.relevance.compare import regressions
from monitor.relevance.metrics import RankedHit, aggregate, score_probe, similarity
from monitor.relevance.probes import load_probes
from monitor.relevance.production import load_queries
from monitor.relevance.selfprobe import choose_sample, query_sentences


def hits(*items: tuple[str, str, float, int]) -> list[RankedHit]:
    return [RankedHit(chunk_id=c, source=s, similarity=sim, tokens=t) for c, s, sim, t in items]


RANKED = hits(
    ("x#0", "x.md", 0.9, 100),
    ("a#0", "a.md", 0.8, 100),
    ("a#1", "a.md", 0.7, 100),
    ("y#0", "y.md", 0.6, 100),
    ("b#0", "b.md", 0.5, 100),
    ("c#0", "c.md", 0.4, 100),
)


def test_graded_probe_figures_match_the_hand_computation():
    outcome = score_probe("p", {"a.md": 2, "b.md": 1, "z.md": 1}, "source", RANKED, k=5, budget=250)
    assert outcome.rank == 2 and outcome.score == 0.8
    assert outcome.rr == 0.5
    assert outcome.recall == pytest.approx(2 / 3)  # a and b in the top 5, z nowhere
    assert outcome.hit
    # a.md counts once, at rank 2; b.md at rank 5. Ideal: 2, 1, 1 at ranks 1-3.
    dcg = 2 / math.log2(3) + 1 / math.log2(6)
    idcg = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert outcome.ndcg == pytest.approx(dcg / idcg)
    assert outcome.margin == pytest.approx(0.8 - 0.9)
    # 100 tokens each: the budget of 250 ends inside rank 3, so b.md (rank 5) is cut.
    assert (outcome.tokens, outcome.over_budget, outcome.beyond_budget) == (500, True, 1)


def test_a_probe_that_finds_nothing_has_no_rank_and_zero_figures():
    outcome = score_probe("p", {"q#9": 1}, "chunk", RANKED, k=5, budget=10_000)
    assert (outcome.rank, outcome.rr, outcome.recall, outcome.ndcg, outcome.hit) == (
        None,
        0.0,
        0.0,
        0.0,
        False,
    )
    assert outcome.score is None and outcome.margin is None and not outcome.over_budget
    assert aggregate([outcome]).mrr == 0.0


def test_regressions_name_drops_from_the_top_k_but_not_deep_shuffles():
    before = [
        score_probe("up-top", {"a.md": 1}, "source", RANKED, k=5),
        score_probe("deep", {"c.md": 1}, "source", RANKED, k=2),
    ]
    moved = hits(("x#0", "x.md", 0.9, 1), ("y#0", "y.md", 0.6, 1), ("a#0", "a.md", 0.5, 1))
    deeper = hits(*[(f"n{i}", f"n{i}", 0.9, 1) for i in range(7)], ("c#0", "c.md", 0.1, 1))
    after = [
        score_probe("up-top", {"a.md": 1}, "source", moved, k=5),
        score_probe("deep", {"c.md": 1}, "source", deeper, k=2),
    ]
    found = regressions(after, before, {"up-top": "q"}, k=2, against="previous", run_id=4)
    assert [(r.probe, r.rank_from, r.rank_to, r.query) for r in found] == [("up-top", 2, 3, "q")]


def test_similarity_from_each_chroma_space():
    assert similarity(0.25, "cosine") == 0.75
    assert similarity(0.25, "ip") == 0.75
    assert similarity(0.5, "l2") == 0.75  # squared L2 of unit vectors: 2 - 2 cos
    assert similarity(3.0, None) == -3.0


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ('{"query": "q", "expected_sources": ["a"]}\n{"query": "q"\n', 2, "not valid JSON"),
        ('{"query": "", "expected_sources": ["a"]}\n', 1, "key 'query'"),
        ('{"query": "q"}\n', 1, "exactly one of 'expected_sources' or 'expected_chunks'"),
        (
            '{"query": "q", "expected_chunks": {"a": 0}}\n',
            1,
            "grade of 'a' must be a positive number",
        ),
        ('{"query": "q", "expected_chunks": []}\n', 1, "at least one id"),
        ('{"query": "q", "expected": ["a"]}\n', 1, "unknown key 'expected'"),
        ('{"id": "x", "query": "q", "expected_chunks": ["a"]}\n' * 2, 2, "appears twice"),
    ],
)
def test_bad_probe_lines_are_refused_with_file_and_line(tmp_path, text, line, problem):
    path = tmp_path / "probes.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RelevanceInputError) as raised:
        load_probes(path)
    assert str(raised.value).startswith(f"{path}, line {line}: ")
    assert problem in str(raised.value)


def test_yaml_probes_with_grades(tmp_path):
    path = tmp_path / "probes.yaml"
    path.write_text(
        "probes:\n"
        "  - id: vacation\n"
        "    query: How many vacation days?\n"
        "    expected_sources: {handbook/vacation.md: 2, faq/hr.md: 1}\n"
        "  - query: Who approves expenses?\n"
        "    expected_chunks: [handbook/expenses.md#3]\n",
        encoding="utf-8",
    )
    first, second = load_probes(path)
    assert (first.id, first.unit, dict(first.expected)) == (
        "vacation",
        "source",
        {"handbook/vacation.md": 2.0, "faq/hr.md": 1.0},
    )
    assert (second.id, second.unit) == ("2", "chunk")


def test_query_file_lines_are_checked(tmp_path):
    path = tmp_path / "queries.jsonl"
    path.write_text(
        '{"query": "a", "time": "2026-11-20T10:00:00Z", "scores": [0.8, 0.5]}\n'
        '{"query": "b", "time": "yesterday"}\n',
        encoding="utf-8",
    )
    with pytest.raises(RelevanceInputError) as raised:
        load_queries(path)
    assert str(raised.value) == (
        f"{path}, line 2: key 'time': expected an ISO 8601 time, got 'yesterday'"
    )


def test_self_sample_is_seeded_kept_and_replaced():
    ids = [f"c{i}" for i in range(100)]
    first = choose_sample(reversed(ids), (), size=10, seed=3)
    assert first == choose_sample(ids, (), size=10, seed=3)  # the store's order is irrelevant
    assert first != choose_sample(ids, (), size=10, seed=4)
    kept = choose_sample(ids, first.ids, size=10, seed=3)
    assert kept.ids == first.ids and kept.replaced == 0
    gone = set(first.ids[:2])
    again = choose_sample([i for i in ids if i not in gone], first.ids, size=10, seed=3)
    assert again.replaced == 2 and again.ids[:8] == first.ids[2:]
    assert not gone & set(again.ids)


def test_sentences_by_position():
    text = "Short one. The first real sentence is here. Then a middle sentence comes. " * 1
    text += "And this is the last sentence of it."
    assert query_sentences(text) == {
        "start": "The first real sentence is here.",
        "middle": "Then a middle sentence comes.",
        "end": "And this is the last sentence of it.",
    }
    assert query_sentences("Too short.") == {}


def test_relevance_section_is_validated_with_the_key_named(tmp_path):
    (tmp_path / "docs").mkdir()
    base = {"store": {"path": "chroma"}, "sources": {"root": "docs"}}
    config = config_from_dict(
        {**base, "relevance": {"probes": "p.jsonl", "window": "3d", "k": 10}}, base_dir=tmp_path
    )
    settings = config.relevance.resolved(config.base_dir)
    assert settings.probes == tmp_path / "p.jsonl"
    assert settings.window.days == 3 and settings.search_depth == 20
    with pytest.raises(ConfigError) as raised:
        config_from_dict({**base, "relevance": {"top_k": 5}}, base_dir=tmp_path)
    assert "relevance.top_k" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        config_from_dict({**base, "relevance": {"window": "soon"}}, base_dir=tmp_path)
    assert "relevance.window" in str(raised.value)
