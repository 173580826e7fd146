"""What a plain-language request says outright: row counts per thing and output formats.

These are read deterministically, so "50 customers" is 50 whatever the LLM proposes."""

from __future__ import annotations

import re

from synthtab.schema.proposal import safe_identifier

_NUMBER = r"(\d{1,3}(?:[,_]\d{3})+|\d+(?:\.\d+)?)\s*(k|thousand|m|million)?"
_COUNT = re.compile(_NUMBER + r"\s+([a-zA-Z][a-zA-Z_-]*)(?:\s+([a-zA-Z][a-zA-Z_-]*))?")
_SCALE = {"k": 1_000, "thousand": 1_000, "m": 1_000_000, "million": 1_000_000}
# words after a number that are units, not tables
_NOT_TABLES = frozenset(
    {
        "rows",
        "row",
        "records",
        "record",
        "entries",
        "entry",
        "tables",
        "table",
        "columns",
        "column",
        "years",
        "year",
        "months",
        "month",
        "days",
        "day",
        "weeks",
        "week",
        "hours",
        "hour",
        "minutes",
        "percent",
        "per",
        "of",
        "and",
        "or",
        "to",
        "more",
        "different",
        "distinct",
        "unique",
        "random",
        "realistic",
        "fake",
        "sample",
        "synthetic",
        "times",
        "each",
        "over",
        "in",
        "for",
        "with",
        "from",
        "across",
        "by",
        "on",
        "who",
        "that",
        "which",
        "where",
        "a",
        "the",
        "into",
        "within",
        "between",
        "than",
        "every",
        "at",
        "most",
        "least",
        "about",
        "around",
        "roughly",
        "x",
    }
)
_ADJECTIVES = frozenset(
    {
        "different",
        "distinct",
        "unique",
        "random",
        "realistic",
        "fake",
        "sample",
        "synthetic",
        "active",
        "new",
    }
)
_FORMAT_WORDS: tuple[tuple[str, str], ...] = (
    (r"\bcsv\b", "csv"),
    (r"\b(?:excel|xlsx|spreadsheet|workbook)\b", "xlsx"),
    (r"\b(?:sql|sqlite|postgres(?:ql)?|mysql|insert statements|database dump)\b", "sql"),
    (r"\bparquet\b", "parquet"),
    (r"\bjson\b", "json"),
)


def mentioned_counts(text: str) -> dict[str, int]:
    """``'about 50 customers, 20 products and 200 sales'`` -> {customers: 50, products: 20,
    sales: 200}; a two-word name counts under both its words ('200 sales transactions')."""
    counts: dict[str, int] = {}
    for match in _COUNT.finditer(text):
        number, scale, first, second = match.groups()
        value = float(number.replace(",", "").replace("_", "")) * _SCALE.get(
            (scale or "").lower(), 1
        )
        words = [w.lower() for w in (first, second) if w]
        if words and words[0] in _ADJECTIVES and len(words) == 2:
            words = words[1:]
        words = [w for w in words if w not in _NOT_TABLES]
        if not words or value < 1 or value != int(value):
            continue
        for word in words[:2]:
            counts.setdefault(safe_identifier(word), int(value))
        if len(words) == 2:
            counts.setdefault(safe_identifier("_".join(words)), int(value))
    return counts


def mentioned_formats(text: str) -> list[str]:
    """Output formats a request names, in a stable order; empty when it names none."""
    lowered = text.lower()
    return [fmt for pattern, fmt in _FORMAT_WORDS if re.search(pattern, lowered)]
