"""Pure logic of matching: recorded paths to catalog ids, chunk text to source text."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import PathRewrite
from monitor.freshness.matching import SourceResolver, coverage, match_text, numbers_in
from monitor.text import normalise

IDS = {"a.md", "sub/b.md"}


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ("a.md", "a.md"),
        ("./sub/b.md", "sub/b.md"),
        ("docs/a.md", "a.md"),
        ("/kb/docs/sub/b.md", "sub/b.md"),
        ("file:///kb/docs/a.md", "a.md"),
        ("/srv/app/docs/sub/b.md", "sub/b.md"),
        # Gone from the catalog: named as the catalog would name it.
        ("docs/gone.md", "gone.md"),
        ("/kb/docs/gone.md", "gone.md"),
        ("/elsewhere/a.md", "/elsewhere/a.md"),
    ],
)
def test_recorded_paths_resolve_to_catalog_ids(recorded, expected):
    resolver = SourceResolver(IDS, Path("/kb/docs"), [PathRewrite(**{"from": "/srv/app/docs/"})])
    assert resolver.resolve(recorded) == expected


SOURCE = normalise(
    "Full-time employees receive 20 days of paid vacation per year.\n"
    "The allowance accrues monthly and is pro-rated for part-time contracts."
)


def test_reflowed_text_matches_exactly():
    chunk = normalise("Full-time employees receive 20 days\n   of paid vacation per year.")
    found = match_text(chunk, SOURCE, threshold=95)
    assert (found.present, found.rule) == (True, "exact")


def test_a_fixed_typo_is_still_present_but_a_changed_number_is_not():
    typo = normalise("Full-time employes receive 20 days of paid vacation per year.")
    number = normalise("Full-time employees receive 15 days of paid vacation per year.")
    assert match_text(typo, SOURCE, threshold=95).rule == "fuzzy"
    changed = match_text(number, SOURCE, threshold=95)
    assert (changed.present, changed.rule) == (False, "numbers-changed")


def test_text_that_is_gone_is_stale():
    found = match_text("The canteen serves soup on Fridays.", SOURCE, threshold=95)
    assert (found.present, found.rule) == (False, "text-gone")


def test_numbers_and_coverage():
    assert numbers_in("Pay $1,200 by 2024-05-01: 15 days, 3.5%") == [
        "1,200",
        "2024",
        "05",
        "01",
        "15",
        "3.5%",
    ]
    assert coverage([(0, 10), (5, 20), (30, 40)], 50) == pytest.approx(0.6)
    assert coverage([], 0) == 1.0
