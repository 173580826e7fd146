"""Row counts and formats a request states in words are read without the LLM."""

from __future__ import annotations

import pytest

from synthtab.schema.request_text import mentioned_counts, mentioned_formats


def test_counts_per_thing_from_the_issue_example() -> None:
    text = (
        "I need data for a lesson on product sales: customers, products and sales transactions, "
        "about 50 customers, 20 products and 200 sales; CSV and Excel"
    )
    assert mentioned_counts(text) == {"customers": 50, "products": 20, "sales": 200}


def test_thousands_separators_and_suffixes() -> None:
    counts = mentioned_counts("3 departments, 1,000 patients and 2.5k admissions over 2 years")
    assert counts == {"departments": 3, "patients": 1000, "admissions": 2500}


def test_units_and_adjectives_are_not_tables() -> None:
    counts = mentioned_counts("10 rows, 5 different products, 30 days of 12 sensors")
    assert counts == {"products": 5, "sensors": 12}


@pytest.mark.parametrize(
    ("text", "formats"),
    [
        ("give me CSV and Excel", ["csv", "xlsx"]),
        ("a SQL dump for postgres and a spreadsheet", ["xlsx", "sql"]),
        ("parquet please", ["parquet"]),
        ("customers and orders", []),
    ],
)
def test_formats_named_in_the_text(text: str, formats: list[str]) -> None:
    assert mentioned_formats(text) == formats
