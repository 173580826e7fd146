"""Template retrieval over chromadb with the packaged MiniLM model: offline, accurate, persistent."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synthtab.tools.retrieval import TemplateIndex
from synthtab.tools.templates import load_templates

# requests phrased the way users write them, each with the template it should find; none copies
# the template's description (checked below)
PARAPHRASES: list[tuple[str, str]] = [
    (
        "a supermarket chain's till receipts: shoppers, items on the shelves and what was bought",
        "retail_sales",
    ),
    ("webshop data with buyers, baskets, checkout lines and parcel dispatch", "ecommerce_orders"),
    ("staff directory with teams, who reports to whom, pay and yearly appraisals", "hr_employees"),
    ("monthly wage slips with tax withheld and take-home amounts", "payroll"),
    (
        "inpatients, their beds on different units, what they were diagnosed with and when they "
        "went home",
        "hospital_admissions",
    ),
    (
        "GP surgery bookings with physicians, missed visits and why people came in",
        "clinic_appointments",
    ),
    ("a chemist filling scripts written by doctors for medicines", "pharmacy"),
    ("pupils, class teachers, subjects and homework marks for a high school", "school_grades"),
    (
        "borrowing books: the catalogue, card holders, checkouts and overdue penalties",
        "library_loans",
    ),
    ("current accounts with deposits and withdrawals, balances and bank branches", "bank_accounts"),
    ("swipes at shops on plastic cards with spending limits, some fraudulent", "credit_cards"),
    ("car and home cover: policy premiums and accident claims paid out", "insurance_claims"),
    (
        "consumer credit requests, approvals, interest and monthly instalment payments",
        "loan_applications",
    ),
    ("courier consignments between hubs with scan events until handover", "logistics_shipments"),
    (
        "stock on hand per SKU in distribution centres and reorders from vendors",
        "warehouse_inventory",
    ),
    ("flight legs between airports and travellers' tickets with seat numbers", "airline_bookings"),
    (
        "guests staying in rooms: arrival and departure dates, nightly prices, cancellations",
        "hotel_reservations",
    ),
    ("dishes on a menu, bills from the waiters and gratuity", "restaurant_orders"),
    (
        "recurring software plans, MRR and churned customers with monthly bills",
        "saas_subscriptions",
    ),
    (
        "helpdesk requests with urgency, response times and the agent who answered",
        "support_tickets",
    ),
    ("thermometers and humidity probes streaming telemetry with threshold warnings", "iot_sensors"),
    (
        "households' electricity consumption in kWh from smart meters and their bills",
        "energy_meters",
    ),
    ("mobile phone CDRs, minutes of talk time and data use per subscriber", "telecom_calls"),
    (
        "homes on the market with bedrooms, asking price, house viewings and bids",
        "real_estate_listings",
    ),
    (
        "vehicle hire: collection and drop-off branches, kilometres driven, what renters paid",
        "car_rentals",
    ),
    ("health club members, spin and yoga class attendance, turnstile entries", "gym_memberships"),
    (
        "concert tickets sold for shows at arenas, with barcodes scanned at the door",
        "event_ticketing",
    ),
    ("B2B deal pipeline with reps, prospects, stages and won or lost deals", "crm_sales_pipeline"),
    (
        "online ad spend, impressions, click-through and conversions per campaign",
        "marketing_campaigns",
    ),
    ("factory production orders, scrap and QC inspection defects", "manufacturing_work_orders"),
    ("crop yields per hectare across farm plots and seasons", "agriculture_harvests"),
    ("football clubs, squads, fixtures and goals scored by each player", "sports_league"),
    (
        "what people binge on a video platform: films, shows, minutes watched and star reviews",
        "movie_streaming",
    ),
    ("songs, albums, bands and how often listeners stream them", "music_catalog"),
    (
        "who follows whom, status updates, replies and hearts on an app like twitter",
        "social_network",
    ),
    ("jira-style tickets with assignees, story points and hours booked", "project_management"),
    ("job openings, people applying, interview feedback and offer letters", "recruiting_pipeline"),
    ("bus and metro lines, stations and passengers tapping their travel cards", "public_transport"),
    (
        "hourly temperature, rainfall and wind readings from meteorological sites",
        "weather_stations",
    ),
    (
        "a drug study with randomised subjects, placebo group, visits and side effects",
        "clinical_trial",
    ),
    (
        "city hall paperwork for construction approvals, site inspectors and what was charged",
        "government_permits",
    ),
    ("charity gifts from supporters, appeals and monthly pledges", "nonprofit_donations"),
]

_WORD = re.compile(r"[a-z0-9']+")


def _trigrams(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(len(words) - 2)}


@pytest.fixture(scope="module")
def network_attempts() -> list[str]:
    return []


@pytest.fixture(scope="module")
def index(network_attempts: list[str]) -> Iterator[TemplateIndex]:
    """One index for the module, built and first queried with every socket connection refused."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        network_attempts.append(repr(args[1:] if len(args) > 1 else args))
        raise OSError("network disabled in this test")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket.socket, "connect_ex", refuse)
        patch.setattr(socket, "create_connection", refuse)
        built = TemplateIndex()
        built.nearest("warm-up: customers and orders", k=1)  # loads the model offline too
        yield built


def test_requests_do_not_copy_the_templates() -> None:
    by_name = {t.name: t for t in load_templates()}
    assert len(PARAPHRASES) >= 20
    for request, name in PARAPHRASES:
        template = by_name[name]
        assert not _trigrams(request) & _trigrams(template.description), request
        assert name.replace("_", " ") not in request


def test_offline_retrieval(index: TemplateIndex, network_attempts: list[str]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network used"))
        matches = index.nearest("patients admitted to hospital wards", k=3)
    assert network_attempts == []
    assert [m.template.name for m in matches][0] == "hospital_admissions"
    assert all(0.0 <= m.distance <= 2.0 for m in matches)
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)


def test_paraphrased_requests_find_their_template(index: TemplateIndex) -> None:
    top1 = top3 = 0
    misses = []
    results = index.nearest_many([request for request, _ in PARAPHRASES], k=3)
    for (request, expected), matches in zip(PARAPHRASES, results, strict=True):
        names = [m.template.name for m in matches]
        top1 += names[0] == expected
        top3 += expected in names
        if expected not in names:
            misses.append((request, expected, names))
    print(
        f"\nretrieval over {len(PARAPHRASES)} requests: top-1 {top1}, top-3 {top3}; misses {misses}"
    )
    assert top3 >= 20
    single = [m.template.name for m in index.nearest(PARAPHRASES[0][0], k=3)]
    assert single == [m.template.name for m in results[0]]
    assert top3 >= 0.85 * len(PARAPHRASES), misses


def test_nearest_validates_arguments(index: TemplateIndex) -> None:
    with pytest.raises(ValueError, match="empty"):
        index.nearest("   ")
    with pytest.raises(ValueError, match="k must be"):
        index.nearest("orders", k=0)
    assert len(index.nearest("orders", k=100)) == len(index.templates)


def test_example_rows_ground_on_user_data(index: TemplateIndex, adult: pd.DataFrame) -> None:
    frame = adult.head(500)
    assert index.add_example_rows("adult", frame, max_rows=30) == 30
    rows = index.similar_rows("occupation=Exec-managerial; education=Masters", k=5)
    assert len(rows) == 5
    assert all(set(r) == {str(c) for c in frame.columns} for r in rows)
    assert any(r.get("occupation") == "Exec-managerial" for r in rows)
    # replacing a table's rows does not pile up duplicates
    assert index.add_example_rows("adult", frame.head(10)) == 10
    matches = index.similar_row_matches("anything", k=50, table_name="adult")
    assert len(matches) == 10 and {m.table for m in matches} == {"adult"}


def test_example_rows_hold_nulls_and_dates(index: TemplateIndex) -> None:
    frame = pd.DataFrame(
        {
            "city": ["Lisbon", "Oslo", None],
            "visits": [3, None, 7],
            "seen": pd.to_datetime(["2024-01-05", None, "2024-03-01"]),
        }
    )
    assert index.add_example_rows("trips", frame) == 3
    matches = index.similar_row_matches("city=Oslo", k=1, table_name="trips")
    assert matches[0].row == {"city": "Oslo", "visits": None, "seen": None}
    assert index.add_example_rows("empty", frame.iloc[0:0]) == 0


def test_persistent_store_reopens_without_reembedding(tmp_path: Path, index: TemplateIndex) -> None:
    from chromadb.api.client import SharedSystemClient

    embedder = index.embedder  # the module's loaded model: no second load in this test
    before = embedder.documents_embedded
    first = TemplateIndex(persist_dir=tmp_path / "store", embedder=embedder)
    assert embedder.documents_embedded - before == len(first.templates)
    expected = [m.template.name for m in first.nearest("library books and loans", k=3)]
    del first
    SharedSystemClient.clear_system_cache()  # the next client reads the folder, not memory

    before = embedder.documents_embedded
    reopened = TemplateIndex(persist_dir=tmp_path / "store", embedder=embedder)
    assert embedder.documents_embedded == before
    assert [m.template.name for m in reopened.nearest("library books and loans", k=3)] == expected
    assert embedder.documents_embedded == before + 1  # only the query
    assert expected[0] == "library_loans"


def test_a_changed_template_is_reembedded(tmp_path: Path, index: TemplateIndex) -> None:
    templates = index.templates[:3]
    TemplateIndex(persist_dir=tmp_path / "store", templates=templates, embedder=index.embedder)
    changed = [templates[0].model_copy(update={"description": "Something else entirely."})]
    before = index.embedder.documents_embedded
    reopened = TemplateIndex(
        persist_dir=tmp_path / "store", templates=changed + templates[1:], embedder=index.embedder
    )
    assert index.embedder.documents_embedded - before == 3
    assert len(reopened.nearest("anything", k=10)) == 3
