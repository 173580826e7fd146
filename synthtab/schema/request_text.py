"""What a plain-language request says outright: row counts per thing and output formats.

These are read deterministically, so "50 customers" is 50 whatever the LLM proposes."""

from __future__ import annotations

import re
from collections.abc import Iterator

from synthtab.schema.proposal import safe_identifier

_NUMBER = r"(\d{1,3}(?:[,_]\d{3})+|\d+(?:\.\d+)?)\s*(k|thousand|m|million)?"
_COUNT = re.compile(_NUMBER + r"\s+([a-zA-Z][a-zA-Z_-]*)(?:\s+([a-zA-Z][a-zA-Z_-]*))?")
# "ratings from 1 to 5 stars": the second number ends a range, it counts nothing
_RANGE_END = re.compile(r"\d\s*(?:to|-|–|and|or)\s*$", re.IGNORECASE)
_ROW_WORDS = frozenset({"rows", "row", "records", "record", "entries", "entry"})
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


def _count_mentions(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each whole number the text puts before a word, with the one or two words it counts
    (units such as 'rows' and 'days' and leading adjectives such as 'different' dropped)."""
    for match in _COUNT.finditer(text):
        number, scale, first, second = match.groups()
        value = float(number.replace(",", "").replace("_", "")) * _SCALE.get(
            (scale or "").lower(), 1
        )
        words = [w.lower() for w in (first, second) if w]
        if words and words[0] in _ADJECTIVES and len(words) == 2:
            words = words[1:]
        if value < 1 or value != int(value) or _RANGE_END.search(text[: match.start()]):
            continue
        yield int(value), words


def mentioned_counts(text: str) -> dict[str, int]:
    """``'about 50 customers, 20 products and 200 sales'`` -> {customers: 50, products: 20,
    sales: 200}; a two-word name counts under both its words ('200 sales transactions')."""
    counts: dict[str, int] = {}
    for value, counted in _count_mentions(text):
        words = [w for w in counted if w not in _NOT_TABLES]
        if not words:
            continue
        for word in words[:2]:
            counts.setdefault(safe_identifier(word), value)
        if len(words) == 2:
            counts.setdefault(safe_identifier("_".join(words)), value)
    return counts


def counted_things(text: str) -> list[tuple[str, ...]]:
    """The things a request counts ('25 households', '200 sales transactions'), each as the
    names a table for it may have; a request that counts a thing needs a table for it."""
    things: list[tuple[str, ...]] = []
    for _, counted in _count_mentions(text):
        words = [w for w in counted if w not in _NOT_TABLES]
        if not words or (counted and counted[0] in _NOT_TABLES):
            continue
        names = [safe_identifier(w) for w in words]
        if len(names) == 2:
            names.append("_".join(names))
        if tuple(names) not in things:
            things.append(tuple(names))
    return things


_SEGMENT_END = re.compile(r"[.;:!?()\[\]]")
_LIST_JOIN = re.compile(
    r"\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+(?:(?:their|the|its|his|her)\s+)?"
)
_PART_STOP = frozenset(
    "for with in of on from that who which where per by at to as into about each every sold made".split()
)
_NOT_PLURAL = frozenset(
    "is was has does this yes us its series news status analysis bus gas plus less".split()
)


def _plural(word: str) -> bool:
    return len(word) > 2 and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def listed_things(text: str) -> list[tuple[str, ...]]:
    """Plural nouns a request lists ('customers, products and sales transactions', 'members and
    their visits'): each a thing it needs a table for, as the names that table may have. A list
    counts only when it has two or more items and each is a short plural phrase, so 'name,
    department and salary' (columns) is not read as tables."""
    things: list[tuple[str, ...]] = []
    chain: list[list[str]] = []

    def close() -> None:
        if len(chain) >= 2:
            things.extend(_thing(item) for item in chain)
        chain.clear()

    def add(words: list[str]) -> bool:
        words = [w for w in words if w not in _ADJECTIVES]
        if 1 <= len(words) <= 2 and _plural(words[-1]) and words[-1] not in _NOT_PLURAL:
            chain.append(words)
            return True
        return False

    for segment in _SEGMENT_END.split(text.lower()):
        for part in _LIST_JOIN.split(segment):
            words = [w.strip("'") for w in re.findall(r"[a-z][a-z'_-]*", part)]
            stops = [i for i, w in enumerate(words) if w in _PART_STOP]
            if not stops:
                if not add(words):
                    close()
                continue
            # 'grades for a school' ends a list; 'a crm with accounts' may start one
            add(words[: stops[0]])
            close()
            add(words[stops[-1] + 1 :])
        close()
    return [t for t in dict.fromkeys(things) if t[-1] not in _NOT_TABLES]


def _thing(words: list[str]) -> tuple[str, ...]:
    """'sales transactions' may be a table 'sales_transactions', 'transactions' or 'sales'."""
    names = [safe_identifier("_".join(words))]
    if len(words) == 2:
        names.append(safe_identifier(words[-1]))
        if _plural(words[0]):
            names.append(safe_identifier(words[0]))
    return tuple(names)


def mentioned_row_total(text: str) -> int | None:
    """'1000 rows' (or records, entries): the size of a one-table request, when the text gives
    exactly one such number."""
    totals = {value for value, words in _count_mentions(text) if words and words[0] in _ROW_WORDS}
    return totals.pop() if len(totals) == 1 else None


def mentioned_formats(text: str) -> list[str]:
    """Output formats a request names, in a stable order; empty when it names none."""
    lowered = text.lower()
    return [fmt for pattern, fmt in _FORMAT_WORDS if re.search(pattern, lowered)]
