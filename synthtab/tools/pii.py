"""Personal data columns: found by name, value format and uniqueness, replaced by realistic fakes.

A model should never learn a person's name, email, phone number, address or national id: those
values identify people and carry nothing a downstream analysis needs beyond their shape. The
fakes here come from small built-in vocabularies and a seeded generator (nothing is downloaded),
keep the shape of the source (a phone keeps its punctuation, an email stays an email) and map
each distinct real value to one fake, so rows that shared a person still share one.
"""

from __future__ import annotations

import re
import zlib
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

from synthtab.schema import SemanticType, StorageType, Table

PiiKind = Literal[
    "full_name", "first_name", "last_name", "email", "phone", "address", "national_id"
]

# a name or address column whose values repeat this much is a category, not people
MIN_DISTINCT_RATIO = 0.3
# share of values that must match a format for the format alone to decide
FORMAT_MIN_FRACTION = 0.9
NATIONAL_ID_PATTERN = r"^\d{3}-\d{2}-\d{4}$"  # US SSN shape
ADDRESS_PATTERN = r"^\d+[A-Za-z]?\s+\S+.*$"  # "12 Oak Street", "7b Rue de la Paix"

_NATIONAL_ID_TOKENS = frozenset(
    {"ssn", "sin", "nin", "nino", "passport", "tin", "taxid", "nationalid", "socialsecurity"}
)
_FIRST_TOKENS = frozenset({"first", "given", "forename", "firstname", "givenname"})
_LAST_TOKENS = frozenset({"last", "surname", "family", "lastname", "familyname"})
_PERSON_TOKENS = frozenset(
    {
        "customer",
        "client",
        "patient",
        "person",
        "employee",
        "user",
        "contact",
        "owner",
        "full",
        "member",
        "holder",
        "fullname",
        "student",
        "applicant",
    }
)
_ADDRESS_TOKENS = frozenset({"address", "street", "addr", "streetaddress", "address1", "address2"})

FIRST_NAMES = (
    "Alex",
    "Amara",
    "Ana",
    "Ben",
    "Carla",
    "Chen",
    "Dana",
    "David",
    "Elena",
    "Emil",
    "Fatima",
    "Felix",
    "Grace",
    "Hana",
    "Hugo",
    "Ines",
    "Ivan",
    "Jade",
    "James",
    "Julia",
    "Kai",
    "Karim",
    "Lara",
    "Leo",
    "Lina",
    "Luca",
    "Maya",
    "Mei",
    "Mila",
    "Nadia",
    "Noah",
    "Nora",
    "Omar",
    "Oscar",
    "Priya",
    "Rafael",
    "Rosa",
    "Sam",
    "Sara",
    "Sofia",
    "Tariq",
    "Theo",
    "Uma",
    "Vera",
    "Wen",
    "Yara",
    "Yusuf",
    "Zoe",
    "Arjun",
    "Bianca",
    "Diego",
    "Erin",
    "Farah",
    "Gabriel",
    "Helen",
    "Jonas",
    "Kira",
    "Marco",
    "Nils",
    "Paula",
)
LAST_NAMES = (
    "Abbott",
    "Alvarez",
    "Bauer",
    "Becker",
    "Brooks",
    "Castro",
    "Chen",
    "Costa",
    "Dahl",
    "Dubois",
    "Evans",
    "Fischer",
    "Garcia",
    "Gray",
    "Hansen",
    "Haddad",
    "Ito",
    "Jensen",
    "Kaur",
    "Keller",
    "Kim",
    "Larsen",
    "Lopez",
    "Meyer",
    "Moreau",
    "Nakamura",
    "Novak",
    "Okafor",
    "Olsen",
    "Park",
    "Patel",
    "Perez",
    "Quinn",
    "Reyes",
    "Rossi",
    "Santos",
    "Schmidt",
    "Silva",
    "Singh",
    "Sato",
    "Tanaka",
    "Torres",
    "Varga",
    "Wagner",
    "Walsh",
    "Weber",
    "Wright",
    "Yilmaz",
    "Young",
    "Zimmer",
)
STREETS = (
    "Oak",
    "Maple",
    "Cedar",
    "Elm",
    "Pine",
    "Birch",
    "Willow",
    "Hill",
    "Lake",
    "River",
    "Park",
    "Church",
    "Mill",
    "Station",
    "Garden",
    "Forest",
    "Meadow",
    "Spring",
    "Valley",
    "Bridge",
    "Harbor",
    "Sunset",
    "Highland",
    "Orchard",
    "Chestnut",
    "Juniper",
    "Aspen",
    "Summit",
)
STREET_KINDS = ("Street", "Avenue", "Road", "Lane", "Drive", "Way", "Court", "Place")
CITIES = (
    "Springfield",
    "Riverton",
    "Fairview",
    "Lakeside",
    "Greenville",
    "Milford",
    "Oakridge",
    "Brookfield",
    "Westbury",
    "Ashford",
    "Clifton",
    "Dover",
    "Kingston",
    "Newport",
    "Salem",
)
# reserved for documentation (RFC 2606): a fake address can never reach a real mailbox
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


class PiiColumn(BaseModel):
    """A column found to hold personal data, and why."""

    name: str
    kind: PiiKind
    reason: str


def name_tokens(name: str) -> set[str]:
    """``customerFirstName`` / ``customer_first_name`` -> {customer, first, name, firstname...}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if p]
    joined = {a + b for a, b in zip(parts, parts[1:], strict=False)}
    return set(parts) | joined | {"".join(parts)}


def _match_share(values: pd.Series, pattern: str) -> float:
    if len(values) == 0:
        return 0.0
    return float(values.str.fullmatch(pattern).fillna(False).astype(bool).mean())


def _classify(name: str, values: pd.Series, semantic: SemanticType) -> tuple[PiiKind, str] | None:
    tokens = name_tokens(name)
    distinct_ratio = values.nunique() / max(len(values), 1)
    diverse = distinct_ratio >= MIN_DISTINCT_RATIO
    if semantic == SemanticType.email:
        return "email", "semantic type email (schema inference)"
    if semantic == SemanticType.phone:
        return "phone", "semantic type phone (schema inference)"
    if tokens & _NATIONAL_ID_TOKENS or {"national", "id"} <= tokens:
        return "national_id", "named like a national id"
    if _match_share(values, NATIONAL_ID_PATTERN) >= FORMAT_MIN_FRACTION:
        return "national_id", "values shaped like social security numbers (NNN-NN-NNNN)"
    if "name" in tokens or tokens & {"firstname", "lastname", "surname", "fullname"}:
        why = f"named like a person's name, {distinct_ratio:.0%} distinct values"
        if not diverse:
            return None
        if tokens & _FIRST_TOKENS:
            return "first_name", why
        if tokens & _LAST_TOKENS:
            return "last_name", why
        if tokens & _PERSON_TOKENS or tokens == {"name"}:
            return "full_name", why
        return None
    if tokens & _ADDRESS_TOKENS and not tokens & {"email", "mail", "ip", "mac", "web"}:
        if diverse:
            return "address", f"named like an address, {distinct_ratio:.0%} distinct values"
        return None
    if (
        diverse
        and _match_share(values, ADDRESS_PATTERN) >= FORMAT_MIN_FRACTION
        and (
            values.str.contains(r"\b(?:St|Street|Ave|Avenue|Rd|Road|Lane|Ln|Dr|Drive)\b").mean()
            >= FORMAT_MIN_FRACTION
        )
    ):
        return "address", "values shaped like street addresses"
    return None


def detect_pii(frame: pd.DataFrame, table: Table, skip: set[str] | None = None) -> list[PiiColumn]:
    """Columns of ``frame`` that hold personal data, with the evidence for each.

    Only text-valued columns qualify. A plain identifier (``customer_id``) is not personal data
    by itself — the models issue fresh ones — but a column inferred as ``id`` that is named or
    shaped like a name, email, phone, address or national id is faked all the same.
    """
    found: list[PiiColumn] = []
    for column in table.columns:
        if column.name not in frame.columns or column.name in (skip or set()):
            continue
        if column.storage != StorageType.string or column.semantic in {
            SemanticType.datetime,
            SemanticType.boolean,
            SemanticType.constant,
            SemanticType.empty,
        }:
            continue
        values = frame[column.name].dropna().astype("string")
        if len(values) == 0:
            continue
        decided = _classify(column.name, values, column.semantic)
        if decided is not None:
            found.append(PiiColumn(name=column.name, kind=decided[0], reason=decided[1]))
    return found


# ---- fakes ---------------------------------------------------------------------------------------


def column_rng(seed: int, column: str) -> np.random.Generator:
    """A generator for one column, stable across runs (crc32, unlike hash(), is not salted)."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(column.encode())]))


def _pick(rng: np.random.Generator, vocabulary: tuple[str, ...], n: int) -> np.ndarray:
    return np.asarray(vocabulary, dtype=object)[rng.integers(0, len(vocabulary), size=n)]


def _digits_like(template: str, rng: np.random.Generator) -> str:
    """``template`` with every digit redrawn and every letter redrawn in its case: the shape
    (punctuation, length, prefix plus sign) stays, the number is new."""
    out: list[str] = []
    for ch in template:
        if ch.isdigit():
            out.append(str(int(rng.integers(0, 10))))
        elif ch.isalpha():
            letter = chr(ord("A") + int(rng.integers(0, 26)))
            out.append(letter if ch.isupper() else letter.lower())
        else:
            out.append(ch)
    return "".join(out)


def fake_values(kind: PiiKind, originals: list[str], rng: np.random.Generator) -> list[str]:
    """One distinct fake per entry of ``originals`` (distinct real values), shaped like them."""
    n = len(originals)
    first = _pick(rng, FIRST_NAMES, n)
    last = _pick(rng, LAST_NAMES, n)
    if kind == "first_name":
        base = list(first)
    elif kind == "last_name":
        base = list(last)
    elif kind == "full_name":
        base = [f"{f} {s}" for f, s in zip(first, last, strict=True)]
    elif kind == "email":
        domains = _pick(rng, EMAIL_DOMAINS, n)
        numbers = rng.integers(1, 1000, size=n)
        base = [
            f"{f.lower()}.{s.lower()}{k}@{d}"
            for f, s, k, d in zip(first, last, numbers, domains, strict=True)
        ]
    elif kind == "address":
        numbers = rng.integers(1, 2000, size=n)
        streets = _pick(rng, STREETS, n)
        kinds = _pick(rng, STREET_KINDS, n)
        cities = _pick(rng, CITIES, n)
        base = [
            f"{k} {s} {t}" + (f", {c}" if "," in original else "")
            for k, s, t, c, original in zip(numbers, streets, kinds, cities, originals, strict=True)
        ]
    else:  # phone, national_id: the source's shape with fresh digits
        base = [_digits_like(original, rng) for original in originals]
    return _made_distinct(base, originals, kind, rng)


def _made_distinct(
    base: list[str], originals: list[str], kind: PiiKind, rng: np.random.Generator
) -> list[str]:
    """Distinct real values get distinct fakes, and no fake equals a real value."""
    real = set(originals)
    seen: set[str] = set()
    out: list[str] = []
    for value, original in zip(base, originals, strict=True):
        candidate, attempt = value, 0
        while candidate in seen or candidate in real:
            attempt += 1
            if kind in {"phone", "national_id"} and attempt < 50:
                candidate = _digits_like(original, rng)
            elif kind == "email":
                local, _, domain = value.partition("@")
                candidate = f"{local}.{attempt}@{domain}"
            else:
                candidate = f"{value} {_roman(attempt + 1)}"
        seen.add(candidate)
        out.append(candidate)
    return out


def _roman(number: int) -> str:
    """Name suffixes (II, III...) keep a duplicate fake looking like a name."""
    numerals = (
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    )
    out = ""
    for value, numeral in numerals:
        while number >= value:
            out += numeral
            number -= value
    return out


def replace_with_fakes(series: pd.Series, kind: PiiKind, seed: int) -> pd.Series:
    """``series`` with each distinct value replaced by its fake; nulls stay null."""
    present = series.dropna().astype(str)
    distinct = sorted(pd.unique(present))
    fakes = fake_values(kind, distinct, column_rng(seed, str(series.name)))
    mapping = dict(zip(distinct, fakes, strict=True))
    replaced = series.astype("object").map(lambda v: mapping.get(str(v)) if pd.notna(v) else v)
    return replaced.astype(series.dtype if series.dtype == "string" else "object")


# ---- fakes for schema-first data (no real values to take a shape from) -------------------------

COMPANY_WORDS = (
    "Acme",
    "Apex",
    "Blue Harbor",
    "Brightline",
    "Cedar",
    "Copperfield",
    "Evergreen",
    "Fairway",
    "Golden Gate",
    "Granite",
    "Horizon",
    "Ironwood",
    "Keystone",
    "Lakeshore",
    "Meridian",
    "Northwind",
    "Oakmont",
    "Pinnacle",
    "Redwood",
    "Silverline",
    "Summit",
    "Sunrise",
    "Tidewater",
    "Vantage",
)
COMPANY_TRADES = (
    "Analytics",
    "Foods",
    "Logistics",
    "Systems",
    "Health",
    "Supply",
    "Media",
    "Energy",
    "Consulting",
    "Software",
    "Retail",
    "Labs",
)
COMPANY_SUFFIXES = ("Ltd", "Inc", "LLC", "GmbH", "Group", "Co")
COUNTRIES = (
    "United States",
    "Canada",
    "Mexico",
    "Brazil",
    "Argentina",
    "United Kingdom",
    "Ireland",
    "France",
    "Germany",
    "Spain",
    "Italy",
    "Netherlands",
    "Sweden",
    "Poland",
    "Turkey",
    "Egypt",
    "Nigeria",
    "Kenya",
    "South Africa",
    "India",
    "China",
    "Japan",
    "South Korea",
    "Indonesia",
    "Australia",
    "New Zealand",
)


def _joined(*parts: np.ndarray) -> np.ndarray:
    """Element-wise concatenation of equally long arrays of text (object arrays add as str)."""
    out = parts[0].astype(object)
    for part in parts[1:]:
        out = out + part.astype(object)
    return out


def fake_emails(first: np.ndarray, last: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``first.last<k>@example.*`` per row, so an email matches the name in the same row."""
    n = len(first)
    numbers = rng.integers(1, 100, size=n).astype(str)
    domains = _pick(rng, EMAIL_DOMAINS, n)
    local_first = np.char.lower(np.asarray(first, dtype=str)).astype(object)
    local_last = np.char.lower(np.asarray(last, dtype=str)).astype(object)
    return _joined(local_first, np.full(n, "."), local_last, numbers, np.full(n, "@"), domains)


def fake_column(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` fake values of ``kind`` (a schema FakeKind), not necessarily distinct.

    Phones use the 555 exchange and national ids start with 9, which no US social security
    number does: a fake can never be a real person's number.
    """
    if kind == "first_name":
        return _pick(rng, FIRST_NAMES, n)
    if kind == "last_name":
        return _pick(rng, LAST_NAMES, n)
    if kind == "full_name":
        return _joined(_pick(rng, FIRST_NAMES, n), np.full(n, " "), _pick(rng, LAST_NAMES, n))
    if kind == "email":
        return fake_emails(_pick(rng, FIRST_NAMES, n), _pick(rng, LAST_NAMES, n), rng)
    if kind == "phone":
        line = rng.integers(0, 10_000, size=n)
        middle = rng.integers(100, 1000, size=n)
        return np.asarray([f"+1-555-{m}-{k:04d}" for m, k in zip(middle, line, strict=True)])
    if kind == "national_id":
        area = rng.integers(900, 1000, size=n)
        group = rng.integers(1, 100, size=n)
        serial = rng.integers(1, 10_000, size=n)
        return np.asarray(
            [f"{a}-{g:02d}-{s:04d}" for a, g, s in zip(area, group, serial, strict=True)]
        )
    if kind == "address":
        numbers = rng.integers(1, 2000, size=n).astype(str)
        return _joined(
            numbers,
            np.full(n, " "),
            _pick(rng, STREETS, n),
            np.full(n, " "),
            _pick(rng, STREET_KINDS, n),
            np.full(n, ", "),
            _pick(rng, CITIES, n),
        )
    if kind == "company":
        suffixes = _pick(rng, COMPANY_SUFFIXES, n)
        return _joined(
            _pick(rng, COMPANY_WORDS, n),
            np.full(n, " "),
            _pick(rng, COMPANY_TRADES, n),
            np.full(n, " "),
            suffixes,
        )
    if kind == "city":
        return _pick(rng, CITIES, n)
    if kind == "country":
        return _pick(rng, COUNTRIES, n)
    raise ValueError(f"unknown fake kind {kind!r}")
