"""An LLM proposal becomes a checked schema, or a list of problems the LLM can act on."""

from __future__ import annotations

from synthtab.schema import Column, Rule, ValuePrior
from synthtab.schema.proposal import (
    ColumnProposal,
    Grounding,
    SchemaProposal,
    TableProposal,
    describe_schema,
    missing_things,
    named_template_things,
    proposal_problems,
    proposal_to_schema,
    requested_table_counts,
    resolve_template_table,
    safe_identifier,
    unresolved_references,
    with_template_tables_for,
    without_unknown_templates,
    without_unrequested_tables,
)


def _shop(
    rules: list[str] | None = None, reference: str = "customers.customer_id"
) -> SchemaProposal:
    return SchemaProposal(
        tables=[
            TableProposal(
                name="Customers",
                rows=40,
                columns=[
                    ColumnProposal(name="customer_id", type="id"),
                    ColumnProposal(name="first_name", type="text"),
                    ColumnProposal(name="Contact Email", type="text"),
                    ColumnProposal(name="segment", type="category", values=["retail", "b2b"]),
                ],
            ),
            TableProposal(
                name="orders",
                columns=[
                    ColumnProposal(name="order_id", type="id"),
                    ColumnProposal(name="customer_id", type="id", references=reference),
                    ColumnProposal(name="amount", type="money", min=0, max=5000),
                    ColumnProposal(name="ordered_on", type="date"),
                    ColumnProposal(name="shipped_on", type="date", nullable=True),
                ],
                rules=rules or [],
            ),
        ]
    )


def test_a_sound_proposal_becomes_a_schema_with_keys_fakes_and_counts() -> None:
    proposal = _shop(rules=["shipped_on >= ordered_on"])
    assert proposal_problems(proposal) == []
    schema = proposal_to_schema(proposal, Grounding(), {"orders": 300})
    customers, orders = schema.table("customers"), schema.table("orders")
    assert customers.primary_key == ["customer_id"] and customers.row_count == 40
    assert customers.column("first_name").fake == "first_name"
    assert customers.column("contact_email").fake == "email"
    assert customers.column("segment").allowed_values == ["retail", "b2b"]
    fk = orders.foreign_keys[0]
    assert (fk.ref_table, fk.ref_columns, fk.columns) == (
        "customers",
        ["customer_id"],
        ["customer_id"],
    )
    assert orders.row_count == 300 and fk.cardinality is not None and fk.cardinality.mean == 7.5
    assert orders.column("amount").decimals == 2 and orders.column("amount").maximum == 5000.0
    assert orders.column("ordered_on").datetime_format == "%Y-%m-%d"
    assert [r.expression for r in orders.rules] == ["shipped_on >= ordered_on"]
    assert any("customers (40 rows)" in line for line in describe_schema(schema))


def test_problems_name_the_table_column_and_fix() -> None:
    problems = proposal_problems(_shop(rules=["total > 0"]))
    assert len(problems) == 1 and "rule 'total > 0'" in problems[0]
    assert "unknown column 'total'" in problems[0] and "amount" in problems[0]


def test_a_reference_to_a_table_left_out_becomes_a_plain_column() -> None:
    proposal = _shop(reference="clients.id")
    assert proposal_problems(proposal) == []
    assert unresolved_references(proposal) == ["orders.customer_id -> clients.id"]
    orders = proposal_to_schema(proposal, Grounding(), {}).table("orders")
    assert orders.foreign_keys == [] and orders.has_column("customer_id")


def test_a_template_qualified_reference_resolves() -> None:
    proposal = _shop(reference="shop_template.customers.customer_id")
    assert proposal_problems(proposal) == [] and unresolved_references(proposal) == []


def test_a_reference_to_a_non_key_column_is_a_problem() -> None:
    problems = proposal_problems(_shop(reference="customers.segment"))
    assert problems == [
        "table 'orders' column 'customer_id' references customers.segment; reference the "
        "primary key customers.customer_id instead"
    ]


def test_templates_lend_vocabularies_but_never_override_the_proposal() -> None:
    grounding = Grounding(
        columns={
            "segment": Column(
                name="segment", storage="string", semantic="categorical", examples=["x", "y"]
            ),
            "amount": Column(
                name="amount",
                storage="float",
                semantic="numeric",
                prior=ValuePrior(distribution="lognormal", mean=80, std=40),
                minimum=1,
                maximum=900,
            ),
        }
    )
    schema = proposal_to_schema(_shop(), grounding, {})
    assert schema.table("customers").column("segment").allowed_values == ["retail", "b2b"]
    assert schema.table("customers").column("segment").examples is None
    amount = schema.table("orders").column("amount")
    assert amount.prior is not None and amount.prior.distribution == "lognormal"
    assert (amount.minimum, amount.maximum) == (0.0, 5000.0)


def test_a_junction_table_uses_its_two_references_as_key() -> None:
    proposal = _shop()
    proposal.tables.append(
        TableProposal(
            name="products",
            rows=10,
            columns=[
                ColumnProposal(name="product_id", type="id"),
                ColumnProposal(name="title", type="text"),
            ],
        )
    )
    proposal.tables.append(
        TableProposal(
            name="order_items",
            columns=[
                ColumnProposal(name="order_id", type="id", references="orders"),
                ColumnProposal(name="product_id", type="id", references="product"),
                ColumnProposal(name="quantity", type="integer", min=1, max=9),
            ],
        )
    )
    assert proposal_problems(proposal) == []
    items = proposal_to_schema(proposal, Grounding(), {}).table("order_items")
    assert items.primary_key == ["order_id", "product_id"]
    assert {fk.ref_table for fk in items.foreign_keys} == {"orders", "products"}


def test_names_become_safe_identifiers() -> None:
    assert safe_identifier("../../etc/passwd") == "etc_passwd"
    assert safe_identifier("2024 Sales") == "t_2024_sales"
    assert safe_identifier("Order Items") == "order_items"


def test_counts_in_words_match_singular_and_plural_table_names() -> None:
    counts = {"customers": 50, "sale": 200, "order": 7}
    assert requested_table_counts(["customers", "sales", "products"], counts) == {
        "customers": 50,
        "sales": 200,
    }


def _template_grounding() -> Grounding:
    from synthtab.schema import ForeignKey, Schema, Table

    stores = Table(
        name="stores",
        columns=[Column(name="store_id", storage="integer", semantic="id", unique=True)],
        primary_key=["store_id"],
        row_count=5,
    )
    clients = Table(
        name="clients",
        columns=[
            Column(name="client_id", storage="integer", semantic="id", unique=True),
            Column(
                name="tier", storage="string", semantic="categorical", allowed_values=["a", "b"]
            ),
        ],
        primary_key=["client_id"],
        row_count=50,
    )
    sales = Table(
        name="sales",
        columns=[
            Column(name="sale_id", storage="integer", semantic="id", unique=True),
            Column(name="client_id", storage="integer", semantic="id"),
            Column(name="store_id", storage="integer", semantic="id"),
            Column(name="quantity", storage="integer", semantic="numeric", minimum=1, maximum=9),
        ],
        primary_key=["sale_id"],
        foreign_keys=[
            ForeignKey(columns=["client_id"], ref_table="clients", ref_columns=["client_id"]),
            ForeignKey(columns=["store_id"], ref_table="stores", ref_columns=["store_id"]),
        ],
        rules=[
            Rule(name="qty", expression="quantity >= 1"),
            Rule(name="st", expression="store_id > 0"),
        ],
        row_count=400,
    )
    schema = Schema(tables=[stores, clients, sales])
    return Grounding(tables={f"shop.{t.name}": t for t in schema.tables})


def test_a_copied_template_table_is_renamed_and_loses_keys_to_tables_left_out() -> None:
    proposal = SchemaProposal(
        tables=[
            TableProposal(name="customers", template_table="shop.clients"),
            # the small model often names the wrong template before the right table
            TableProposal(name="purchases", template_table="other.sales", rows=90),
        ]
    )
    grounding = _template_grounding()
    assert proposal_problems(proposal, grounding) == []
    schema = proposal_to_schema(proposal, grounding, {"customers": 30})
    customers, purchases = schema.table("customers"), schema.table("purchases")
    assert customers.row_count == 30 and customers.column("tier").allowed_values == ["a", "b"]
    assert purchases.row_count == 90 and purchases.column_names == [
        "sale_id",
        "client_id",
        "quantity",
    ]
    assert [(fk.ref_table, fk.columns) for fk in purchases.foreign_keys] == [
        ("customers", ["client_id"])
    ]
    assert purchases.foreign_keys[0].cardinality.mean == 3.0
    assert [r.expression for r in purchases.rules] == ["quantity >= 1"]


def test_an_unknown_template_table_is_a_problem_naming_the_listed_ones() -> None:
    proposal = SchemaProposal(tables=[TableProposal(name="x", template_table="shop.invoices")])
    problems = proposal_problems(proposal, _template_grounding())
    assert len(problems) == 1 and "'shop.invoices' is not a listed table" in problems[0]
    assert "shop.sales" in problems[0]


def test_tables_the_request_did_not_ask_for_are_left_out_but_parents_stay() -> None:
    grounding = _template_grounding()
    proposal = SchemaProposal(
        tables=[
            TableProposal(name="purchases", template_table="shop.sales"),
            TableProposal(name="clients", template_table="shop.clients"),
            TableProposal(name="stores", template_table="shop.stores"),
            TableProposal(
                name="returns",
                columns=[
                    ColumnProposal(name="return_id", type="id"),
                    ColumnProposal(name="sale_id", type="id", references="purchases"),
                ],
            ),
        ]
    )
    kept, dropped = without_unrequested_tables(proposal, "200 purchases please", grounding)
    assert [t.name for t in kept.tables] == ["purchases", "clients", "stores"]
    assert dropped == ["returns"]
    untouched, none = without_unrequested_tables(proposal, "a shop", grounding)
    assert untouched == proposal and none == []


def test_a_made_up_template_table_resolves_to_the_one_holding_that_thing() -> None:
    grounding = _template_grounding()
    assert resolve_template_table("shop.tiers", grounding) == "shop.clients"
    assert resolve_template_table("other.sales", grounding) == "shop.sales"
    assert resolve_template_table("shop.invoices", grounding) is None


def test_template_tables_the_request_names_by_their_plural_are_things() -> None:
    grounding = _template_grounding()
    assert named_template_things("clients and their sales", grounding) == [
        ("clients",),
        ("sales",),
    ]
    # a singular or a look-alike word names nothing
    assert named_template_things("a client and one store", grounding) == []


def test_a_missing_thing_is_added_from_the_template_table_of_that_name() -> None:
    grounding = _template_grounding()
    proposal = SchemaProposal(tables=[TableProposal(name="sales", template_table="shop.sales")])
    things = [("sales",), ("clients",), ("invoices",)]
    assert missing_things(proposal, things) == [("clients",), ("invoices",)]
    added, names = with_template_tables_for(proposal, things, grounding)
    assert names == ["clients"]
    assert [(t.name, t.template_table) for t in added.tables] == [
        ("sales", "shop.sales"),
        ("clients", "shop.clients"),
    ]
    assert missing_things(added, things) == [("invoices",)]


def test_a_made_up_template_name_is_dropped_when_the_table_has_columns() -> None:
    grounding = _template_grounding()
    made_up = TableProposal(
        name="carriers",
        template_table="shop.carriers",
        columns=[ColumnProposal(name="carrier_id", type="id")],
    )
    bare = TableProposal(name="depots", template_table="shop.depots")
    fixed, notes = without_unknown_templates(SchemaProposal(tables=[made_up, bare]), grounding)
    assert [t.template_table for t in fixed.tables] == [None, "shop.depots"]
    assert notes == ["carriers (shop.carriers)"]
    assert any("'depots'" in p for p in proposal_problems(fixed, grounding))


def test_a_key_pointing_at_a_text_keyed_table_stores_text() -> None:
    from synthtab.schema import StorageType, Table
    from synthtab.tools.templates import load_templates

    airline = next(t for t in load_templates() if t.name == "airline_bookings")
    airports = airline.schema_.table("airports")
    grounding = Grounding(tables={"airline_bookings.airports": airports})
    proposal = SchemaProposal(
        tables=[
            TableProposal(name="airports", template_table="airline_bookings.airports"),
            TableProposal(
                name="flights",
                columns=[
                    ColumnProposal(name="flight_id", type="id"),
                    ColumnProposal(name="origin", type="id", references="airports.airport_code"),
                ],
            ),
        ]
    )
    schema = proposal_to_schema(proposal, grounding, {})
    flights: Table = schema.table("flights")
    assert airports.column("airport_code").storage == StorageType.string
    assert flights.column("origin").storage == StorageType.string
    assert flights.column("flight_id").storage == StorageType.integer


def test_singular_forms_of_table_names() -> None:
    from synthtab.schema.proposal import singular

    assert [singular(w) for w in ["customers", "categories", "movies", "addresses", "status"]] == [
        "customer",
        "category",
        "movie",
        "address",
        "status",
    ]


def test_a_key_that_references_itself_is_the_tables_own_key() -> None:
    from synthtab.schema.proposal import without_self_key_references

    reviews = TableProposal(
        name="reviews",
        columns=[
            ColumnProposal(name="review_id", type="id", references="reviews.review_id"),
            ColumnProposal(name="reply_to", type="id", references="reviews.review_id"),
            ColumnProposal(name="stars", type="integer", min=1, max=5),
        ],
    )
    cleaned = without_self_key_references(SchemaProposal(tables=[reviews]))
    refs = [c.references for c in cleaned.tables[0].columns]
    assert refs == [None, "reviews.review_id", None]  # a real self-reference stays
    schema = proposal_to_schema(cleaned, Grounding(), {})
    assert schema.table("reviews").primary_key == ["review_id"]


def test_a_junction_table_gets_no_more_rows_than_its_parents_can_key() -> None:
    def ref(name: str, target: str) -> ColumnProposal:
        return ColumnProposal(name=name, type="id", references=target)

    proposal = SchemaProposal(
        tables=[
            TableProposal(
                name="students", rows=120, columns=[ColumnProposal(name="student_id", type="id")]
            ),
            TableProposal(
                name="courses", rows=10, columns=[ColumnProposal(name="course_id", type="id")]
            ),
            TableProposal(
                name="grades",
                rows=7_300,
                primary_key=["student_id", "course_id"],
                columns=[
                    ref("student_id", "students.student_id"),
                    ref("course_id", "courses.course_id"),
                    ColumnProposal(name="grade", type="integer", min=0, max=100),
                ],
            ),
        ]
    )
    grades = proposal_to_schema(proposal, Grounding(), {}).table("grades")
    assert grades.row_count == 300
    assert (
        proposal_to_schema(proposal, Grounding(), {"grades": 900}).table("grades").row_count == 900
    )
