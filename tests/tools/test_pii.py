from __future__ import annotations

import numpy as np
import pandas as pd

from synthtab.schema.infer import infer_table
from synthtab.tools.pii import detect_pii, name_tokens, replace_with_fakes


def _people(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            # random letters: a counter like "Given17" would rightly be inferred as an id
            "customerFirstName": [
                "".join(rng.choice(list("aeioubdklmnrst"), size=6)).title() for _ in range(n)
            ],
            "customer_name": [f"Given{i} Family{i}" for i in range(n)],
            "email": [f"user{i}@mail.com" for i in range(n)],
            "phone": [f"+1 (555) {i:03d}-{(i * 7) % 10_000:04d}" for i in range(n)],
            "tax_code": [f"{i:03d}-{i % 100:02d}-{(i * 13) % 10_000:04d}" for i in range(n)],
            "home_address": [f"{i + 1} Main Street" for i in range(n)],
            "product_name": rng.choice(["basic", "plus", "pro"], size=n),
            "city": rng.choice(["a", "b", "c"], size=n),
        }
    )


def test_detects_personal_columns_by_name_format_and_uniqueness() -> None:
    df = _people()
    found = {p.name: p.kind for p in detect_pii(df, infer_table(df, "people"))}
    assert found == {
        "customerFirstName": "first_name",
        "customer_name": "full_name",
        "email": "email",
        "phone": "phone",
        "tax_code": "national_id",  # by its SSN shape alone
        "home_address": "address",
    }


def test_name_tokens_split_camel_and_snake_case() -> None:
    assert {"customer", "first", "name", "firstname"} <= name_tokens("customerFirstName")


def test_fakes_are_consistent_distinct_shaped_and_seeded() -> None:
    real = pd.Series(["+1 (555) 010-2000", "+1 (555) 010-2000", "+44 20 7946 0958", None])
    real.name = "phone"
    fake = replace_with_fakes(real, "phone", seed=7)
    assert fake.iloc[0] == fake.iloc[1] and fake.iloc[0] != fake.iloc[2]
    assert pd.isna(fake.iloc[3])
    assert not set(fake.dropna()) & set(real.dropna())
    assert (
        fake.dropna().str.fullmatch(r"\+\d \(\d{3}\) \d{3}-\d{4}|\+\d{2} \d{2} \d{4} \d{4}").all()
    )
    assert fake.equals(replace_with_fakes(real, "phone", seed=7))
    assert not fake.equals(replace_with_fakes(real, "phone", seed=8))
    emails = pd.Series([f"u{i}@x.org" for i in range(3000)], name="email")
    faked = replace_with_fakes(emails, "email", seed=0)
    assert faked.is_unique and faked.str.endswith((".com", ".org", ".net")).all()
