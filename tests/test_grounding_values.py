"""Structural validation: values compared as values; identifiers against systems of record."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from monitor.errors import SystemOfRecordError
from monitor.grounding import GroundingConfig, Scorer, ValidatorSettings, score
from monitor.grounding.lexicon import number_key
from monitor.grounding.structural import check_values, context_values
from monitor.grounding.systems import CsvRecords, SqlRecords
from monitor.grounding.values import ValueKind, find_values, parse_date


def _violations(answer: str, context: str) -> list[tuple[str, str]]:
    found = check_values(find_values(answer), context_values([context]))
    return [(v.text, v.reason) for v in found]


@pytest.mark.parametrize(
    ("answer", "context"),
    [
        ("The total was $4,200.00.", "Total: 4200 USD."),
        ("It costs 4200 dollars.", "It costs $4,200."),
        ("It costs USD 1.2 million.", "It costs $1,200,000."),
        ("It costs 12 euros.", "It costs €12."),
        ("It costs CA$5.", "It costs 5 CAD."),
        ("Revenue grew 15%.", "Revenue grew by 15 percent."),
        ("It shipped on March 2nd.", "Shipped 2026-03-02."),
        ("It shipped on 2 March 2026.", "Shipped March 2, 2026."),
        ("It shipped in March 2026.", "Shipped 2026-03-02."),
        ("It was built in 2019.", "Built on 5 May 2019."),
        ("There are 3 offices.", "There are three offices."),
        ("About 1,200,000 people.", "About 1.2 million people."),
        ("Invoice #inv-0042 is due.", "Invoice INV-0042 is due."),
    ],
)
def test_equal_values_written_differently_are_supported(answer, context):
    assert _violations(answer, context) == []


@pytest.mark.parametrize(
    ("answer", "context", "reason"),
    [
        ("The total was €4,200.", "Total: 4200 USD.", "the context has this amount in USD"),
        ("The total was $4,300.", "Total: 4200 USD.", "no such amount in the context"),
        ("It shipped on March 3rd.", "Shipped 2026-03-02.", "no such date in the context"),
        ("It shipped in 2025 on March 2.", "Shipped 2026-03-02.", "no such number in the context"),
        ("Revenue grew 16%.", "Revenue grew by 15 percent.", "no such percentage in the context"),
        ("There are 4 offices.", "There are three offices.", "no such number in the context"),
        ("Invoice INV-0043 is due.", "Invoice INV-0042 is due.", "not in the context"),
    ],
)
def test_different_values_are_violations(answer, context, reason):
    (violation,) = _violations(answer, context)
    assert violation[1] == reason


def test_values_are_typed_with_offsets():
    text = "Paid $4,200.00 on March 2nd for ORD-7842, 15% off, 3 items."
    kinds = [(v.kind, text[v.start : v.end]) for v in find_values(text)]
    assert kinds == [
        (ValueKind.AMOUNT, "$4,200.00"),
        (ValueKind.DATE, "March 2nd"),
        (ValueKind.IDENTIFIER, "ORD-7842"),
        (ValueKind.PERCENT, "15%"),
        (ValueKind.NUMBER, "3"),
    ]
    amount = find_values("$4,200.00")[0]
    assert (amount.number, amount.currency, amount.display()) == (
        Decimal("4200.00"),
        "USD",
        "4200 USD",
    )


def test_parse_date_leaves_out_what_the_text_does_not_say():
    assert parse_date("March 2nd") == (None, 3, 2)
    assert parse_date("2026-03-02") == (2026, 3, 2)
    assert parse_date("March 2026") == (2026, 3, None)


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=99))
def test_thousands_separators_and_trailing_zeros_do_not_change_a_number(whole, cents):
    plain = f"{whole}.{cents:02d}"
    grouped = f"{whole:,}.{cents:02d}"
    assert number_key(plain) == number_key(grouped) == number_key(grouped + "0")


# -- systems of record -------------------------------------------------------------


@pytest.fixture
def orders_csv(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("order_id,status\nORD-0001,shipped\nORD-0002,open\n", encoding="utf-8")
    return path


@pytest.fixture
def invoices_db(tmp_path):
    path = tmp_path / "billing.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE invoices (number TEXT PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices VALUES ('INV-0042', 4200)")
    return path


def test_csv_validator_checks_identifiers_against_the_file(orders_csv):
    settings = GroundingConfig(
        validators=[
            ValidatorSettings(name="order", pattern=r"ORD-\d{4}", csv=orders_csv, column="order_id")
        ]
    )
    context = ["Your orders are listed on the account page."]
    known = score("Order ORD-0002 is open.", context, settings=settings)
    assert known.violations == ()
    unknown = score("Order ORD-0009 is open.", context, settings=settings)
    (violation,) = unknown.violations
    assert (violation.validator, violation.reason) == (
        "order",
        f"no order 'ORD-0009' in {orders_csv}",
    )


def test_csv_validator_names_a_missing_column(orders_csv):
    with pytest.raises(SystemOfRecordError, match="no column 'id' \\(columns: order_id, status\\)"):
        CsvRecords("order", orders_csv, "id")


def test_csv_validator_names_a_missing_file(tmp_path):
    settings = GroundingConfig(
        validators=[
            ValidatorSettings(
                name="order", pattern="ORD", csv=tmp_path / "gone.csv", column="order_id"
            )
        ]
    )
    with pytest.raises(SystemOfRecordError, match="gone.csv"):
        Scorer(settings)


def test_sqlite_validator_checks_identifiers_against_the_table(invoices_db):
    settings = GroundingConfig(
        validators=[
            ValidatorSettings(
                name="invoice",
                pattern=r"(?P<id>INV-\d{4})",
                url=f"sqlite:///{invoices_db}",
                query="SELECT 1 FROM invoices WHERE number = :value",
            )
        ]
    )
    scorer = Scorer(settings)
    context = ["Invoices are due 30 days after issue."]
    assert scorer.score("Invoice INV-0042 is due in 30 days.", context).violations == ()
    (violation,) = scorer.score("Invoice INV-0043 is due in 30 days.", context).violations
    assert violation.reason == f"no invoice 'INV-0043' in sqlite:///{invoices_db}"


def test_sqlite_system_of_record_cannot_write(invoices_db):
    records = SqlRecords(
        "invoice",
        f"sqlite:///{invoices_db}",
        "WITH x AS (SELECT 1) SELECT 1 FROM invoices WHERE number = :value",
    )
    assert records.exists("INV-0042")
    with records._engine.connect() as conn:  # the same connections the look-ups use
        from sqlalchemy import text
        from sqlalchemy.exc import OperationalError

        with pytest.raises(OperationalError, match="readonly"):
            conn.execute(text("DELETE FROM invoices"))
    records.close()
    with sqlite3.connect(invoices_db) as conn:
        assert conn.execute("SELECT count(*) FROM invoices").fetchone() == (1,)


def test_sql_errors_name_the_validator(invoices_db):
    records = SqlRecords(
        "invoice", f"sqlite:///{invoices_db}", "SELECT 1 FROM nope WHERE number = :value"
    )
    with pytest.raises(SystemOfRecordError, match="Grounding validator 'invoice'.*no such table"):
        records.exists("INV-0042")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"query": "DELETE FROM invoices WHERE number = :value"}, "one SELECT statement"),
        ({"query": "SELECT 1 FROM invoices"}, "parameter :value"),
        ({"query": "SELECT 1 FROM a WHERE b = :value; DROP TABLE a"}, "one SELECT statement"),
    ],
)
def test_validator_settings_refuse_queries_that_are_not_one_select(fields, message):
    with pytest.raises(ValidationError, match=message):
        ValidatorSettings(name="invoice", pattern="INV", url="sqlite:///x.db", **fields)
