"""Row counts and formats a request states in words are read without the LLM."""

from __future__ import annotations

import pytest

from synthtab.schema.request_text import (
    counted_things,
    listed_things,
    mentioned_counts,
    mentioned_formats,
    mentioned_row_total,
)


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


@pytest.mark.parametrize(
    ("text", "things"),
    [
        ("gym members and their visits", [("gym_members", "members"), ("visits",)]),
        (
            "customers, products and sales transactions",
            [("customers",), ("products",), ("sales_transactions", "transactions", "sales")],
        ),
        ("students, courses and grades for a school", [("students",), ("courses",), ("grades",)]),
        (
            "a CRM with accounts, contacts and opportunities",
            [("accounts",), ("contacts",), ("opportunities",)],
        ),
        # columns, not tables: not every item is a plural
        ("employees with name, department, salary and hire date", []),
        (
            "a football league with 12 teams and matches with home and away scores",
            [("teams",), ("matches",)],
        ),
    ],
)
def test_listed_plural_nouns_are_things_that_need_a_table(
    text: str, things: list[tuple[str, ...]]
) -> None:
    assert listed_things(text) == things


def test_counted_things_skip_units_and_range_ends() -> None:
    text = "25 households, 3000 temperature readings over 30 days, ratings from 1 to 5 stars"
    assert counted_things(text) == [
        ("households",),
        ("temperature", "readings", "temperature_readings"),
    ]


def test_a_row_total_is_read_only_when_it_is_unambiguous() -> None:
    assert mentioned_row_total("one table of website visits; 1000 rows") == 1000
    assert mentioned_row_total("1,000 records of visits") == 1000
    assert mentioned_row_total("10 rows of this and 20 rows of that") is None
    assert mentioned_row_total("50 customers") is None
