"""Grounding score: the inline API, lexical evidence, bands, and the fabricated order."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from monitor.grounding import (
    Band,
    BandSettings,
    GroundingConfig,
    GroundingResult,
    Scorer,
    ValidatorSettings,
    band_for,
    score,
)
from monitor.grounding.claims import split_claims
from monitor.grounding.lexicon import key_set, mask_markers, number_key

SHIPPING = [
    "Orders placed before 2 pm ship the same business day. We ship with UPS Ground; "
    "delivery takes 3 to 5 business days. You can follow a parcel from the Orders page "
    "of your account.",
    "Refunds are issued to the original payment method within 10 days of the return.",
]
FABRICATED = "Order #ORD-7842 was shipped on March 2nd via FedEx tracking #7891234567."
ORDER_CONTEXT = [
    "Order ORD-7842 was shipped on 2026-03-02 with FedEx, tracking number 7891234567. "
    "The invoice total was 4200 USD.",
]
FAITHFUL = (
    "Your order #ORD-7842 was shipped on March 2nd via FedEx, tracking #7891234567. "
    "The total was $4,200.00."
)


def test_fabricated_order_escalates_and_the_faithful_answer_is_cited():
    fabricated = score(FABRICATED, SHIPPING, "Where is my order?")
    assert fabricated.score < 0.3
    assert fabricated.band is Band.ESCALATE
    assert {v.value for v in fabricated.violations} == {"ORD7842", "????-03-02", "7891234567"}
    assert fabricated.unsupported_claims[0].novel_words == ("FedEx", "tracking")

    faithful = score(FAITHFUL, ORDER_CONTEXT, "Where is my order?")
    assert faithful.score > 0.8
    assert faithful.band is Band.CITE
    assert faithful.violations == ()


def test_fabricated_order_escalates_against_the_orders_table(tmp_path):
    db = tmp_path / "shop.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        conn.executemany("INSERT INTO orders VALUES (?)", [("ORD-7001",), ("ORD-7002",)])
    settings = GroundingConfig(
        validators=[
            ValidatorSettings(
                name="order",
                pattern=r"(?P<id>ORD-\d+)",
                url=f"sqlite:///{db}",
                query="SELECT 1 FROM orders WHERE id = :value",
            )
        ]
    )
    # The context even names the order: the system of record says it does not exist.
    result = score(FABRICATED, [*SHIPPING, "Order ORD-7842 is on its way."], settings=settings)
    assert result.band is Band.ESCALATE
    order = next(v for v in result.violations if v.validator == "order")
    assert order.reason == f"no order 'ORD-7842' in sqlite:///{db}"


def test_inline_api_accepts_one_context_string_and_uses_the_question():
    context = "The R2 arm lifts up to 5 kg and reaches 1.2 m."
    assert score("The R2 arm lifts 5 kg.", context).band is Band.CITE
    without = score("Yes, the warranty covers the R2 arm.", context)
    with_query = score(
        "Yes, the warranty covers the R2 arm.", context, "Does the warranty cover it?"
    )
    assert without.score < with_query.score
    assert with_query.unsupported_claims[0].novel_words == ("Yes",) or with_query.grounded


def test_result_is_frozen_and_round_trips_through_json():
    result = score(FABRICATED, SHIPPING)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1.0  # type: ignore[misc]
    assert GroundingResult.from_json(result.to_json()) == dataclasses.replace(
        result, score=round(result.score, 6)
    )


def test_unsupported_claim_offsets_point_into_the_answer():
    answer = "The arm lifts 5 kg.\nIt also sings opera beautifully. It is blue."
    result = score(answer, ["The arm lifts 5 kg. It is blue."])
    (claim,) = result.unsupported_claims
    assert answer[claim.start : claim.end] == "It also sings opera beautifully."
    assert claim.novel_words == ("sings", "opera", "beautifully")
    assert result.features.longest_novel_run == 3


def test_stemming_and_number_words_support_paraphrase():
    result = score(
        "Three engineers were shipping the updated parts.",
        ["3 engineers ship the parts after the update."],
    )
    assert result.grounded
    assert result.score == 1.0


def test_more_novel_words_score_lower():
    context = ["The museum opens at nine and closes at five on weekdays."]
    one = score("The museum opens at nine and has a cafe.", context)
    three = score("The museum opens at nine and has a cafe, a shop and a garden.", context)
    assert 1.0 > one.score > three.score


@pytest.mark.parametrize(
    ("value", "band"),
    [
        (1.0, Band.CITE),
        (0.8, Band.CITE),
        (0.79, Band.DISCLAIM),
        (0.5, Band.DISCLAIM),
        (0.49, Band.PARTIAL),
        (0.3, Band.PARTIAL),
        (0.29, Band.ESCALATE),
        (0.0, Band.ESCALATE),
    ],
)
def test_default_bands(value, band):
    assert band_for(value) is band


def test_configured_bands_change_the_band_not_the_score():
    strict = GroundingConfig(bands=BandSettings(cite=0.99, disclaim=0.98, partial=0.97))
    answer = "The museum opens at nine and has a cafe."
    context = ["The museum opens at nine."]
    default, configured = score(answer, context), score(answer, context, settings=strict)
    assert default.score == configured.score
    assert default.band is Band.CITE and configured.band is Band.ESCALATE


def test_bands_must_be_ordered():
    with pytest.raises(ValueError, match="partial <= disclaim <= cite"):
        BandSettings(cite=0.5, disclaim=0.6)


def test_scorer_without_value_checks_counts_numbers_as_words():
    scorer = Scorer(GroundingConfig(check_values=False))
    result = scorer.score("It costs 45 dollars.", ["It costs 40 dollars."])
    assert result.violations == ()
    assert result.unsupported_claims[0].novel_words == ("45",)


def test_claims_keep_offsets_and_abbreviations():
    text = "Dr. Smith paid $4.50 on Monday.  He left.\n- one item"
    claims = split_claims(text)
    assert [c.text for c in claims] == ["Dr. Smith paid $4.50 on Monday.", "He left.", "- one item"]
    assert all(text[c.start : c.end] == c.text for c in claims)


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("4,200.00", "4200"),
        ("4200", "4200"),
        ("1.50", "1.5"),
        ("3,5", "3.5"),
        ("2nd", "2"),
        ("007", "7"),
        ("1,234,567", "1234567"),
    ],
)
def test_number_key(written, key):
    assert number_key(written) == key


def test_list_and_passage_markers_are_not_numbers():
    masked = mask_markers("1. Passage 2 says so.\n2) See [3].")
    assert not any(c.isdigit() for c in masked)
    assert len(masked) == len("1. Passage 2 says so.\n2) See [3].")


def test_key_set_normalises_units_and_months():
    assert key_set("5 km in Sept") >= key_set("5 kilometres in September")


def test_band_summary_per_day_gives_shares_and_metric_rows():
    from datetime import UTC, datetime, timedelta, timezone

    from monitor.grounding.summary import summarise, summarise_by_day, worst

    good = score("The museum opens at nine.", ["The museum opens at nine."])
    bad = score(FABRICATED, SHIPPING)
    monday = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    # 01:00 at UTC+2 on Tuesday is still Monday in UTC.
    late = datetime(2026, 3, 3, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    days = summarise_by_day([(monday, good), (late, bad), (monday + timedelta(days=1), good)])
    assert [(d.day.isoformat(), d.responses) for d in days] == [
        ("2026-03-02", 2),
        ("2026-03-03", 1),
    ]
    first = days[0]
    assert first.shares[Band.CITE] == 0.5 and first.shares[Band.ESCALATE] == 0.5
    rows = {(m.name, m.labels.get("band")): m.value for m in first.metrics({"source": "app"})}
    assert rows[("grounding_band_share", "escalate")] == 0.5
    assert rows[("grounding_band_count", "partial")] == 0
    assert rows[("grounding_responses", None)] == 2
    assert all(m.labels["day"] == "2026-03-02" for m in first.metrics())
    assert summarise([]).mean_score is None
    assert [i for i, _ in worst([("a", good), ("b", bad)], 1)] == ["b"]
