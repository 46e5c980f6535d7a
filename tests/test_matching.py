"""Pure logic of matching: recorded paths to catalog ids, chunk text to source text."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import PathRewrite
from monitor.freshness.alignment import SourceText, coverage, match_words
from monitor.freshness.matching import SourceResolver

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


SOURCE = SourceText(
    match_words(
        "Full-time employees receive 20 days of paid vacation per year.\n"
        "The allowance accrues monthly and is pro-rated for part-time contracts. "
        "See http://example.org/en/stable/leave.html and call leave_days() for the balance."
    )
)


def locate(text: str):
    return SOURCE.locate(match_words(text), threshold=95)


def test_reflowed_text_and_invisible_characters_match_verbatim():
    assert locate("Full-time employees receive 20 days\n   of paid vacation per year.").kind == (
        "verbatim"
    )
    # NFKC, a soft hyphen, a zero-width space and a non-breaking space are not content.
    assert locate("Full-time \uff45m\u00adployees re\u200bceive 20\u00a0days").kind == "verbatim"


def test_every_word_change_is_an_edit_with_its_diff():
    typo = locate("Full-time employes receive 20 days of paid vacation per year.")
    assert (typo.kind, typo.diff) == ("aligned", "- employes + employees")
    number = locate("Full-time employees receive 15 days of paid vacation per year.")
    assert (number.kind, number.diff, number.tolerant) == ("aligned", "- 15 + 20", False)
    assert number.changed_share == pytest.approx(1 - 2 * 9 / 20)
    link = locate("See http://example.org/en/latest/leave.html and call leave_days() for")
    assert (
        link.diff
        == "- http://example.org/en/latest/leave.html + http://example.org/en/stable/leave.html"
    )
    renamed = locate("and call leave_balance() for the balance.")
    assert renamed.diff == "- leave_balance() + leave_days()"


def test_text_that_is_gone_is_stale():
    assert locate("The canteen serves soup on Fridays.").kind == "gone"


def test_markup_aside_the_same_words_are_tolerant():
    rewritten = locate("Full-time employees receive **20 days** of paid vacation per year")
    assert (rewritten.kind, rewritten.tolerant) == ("aligned", True)


def test_coverage():
    assert coverage([(0, 10), (5, 20), (30, 40)], 50) == pytest.approx(0.6)
    assert coverage([], 0) == 1.0
