from __future__ import annotations

import numpy as np
import pandas as pd

from synthtab.schema.infer import infer_table
from synthtab.tools.protection import (
    ProtectionSettings,
    apply_protection,
    fit_protection,
    protected_table,
)


def _frame(n: int = 1_000) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    city = rng.choice(["north", "south", "east"], size=n).astype(object)
    city[:3] = ["tiny_a", "tiny_a", "tiny_b"]
    return pd.DataFrame(
        {
            "full_name": [f"First{i} Last{i}" for i in range(n)],
            "city": city,
            "salary": np.round(rng.lognormal(10, 1, size=n), 2),
            "target": rng.choice(["yes", "no", "rare"], size=n, p=[0.5, 0.498, 0.002]),
        }
    )


def test_each_protection_is_applied_counted_and_reported() -> None:
    df = _frame()
    table = infer_table(df, "t")
    plan = fit_protection(df, table, ProtectionSettings(), target="target")
    out, report = apply_protection(df, plan, seed=0)
    actions = {a.column: a for a in report.actions}
    assert actions["full_name"].action == "fake" and actions["full_name"].values_changed == 1_000
    assert not set(out["full_name"]) & set(df["full_name"])
    assert actions["city"].values_changed == 3 and set(out["city"]) == {
        "north",
        "south",
        "east",
        "Other",
    }
    low, high = np.quantile(df["salary"], [0.005, 0.995])
    assert actions["salary"].values_changed == int(
        ((df["salary"] < low) | (df["salary"] > high)).sum()
    )
    assert out["salary"].between(low, high).all()
    assert "target" in report.skipped and set(out["target"]) == set(df["target"])
    new_table = protected_table(table, plan, out)
    assert "Other" in (new_table.column("city").allowed_values or ["Other"])


def test_every_protection_can_be_switched_off() -> None:
    df = _frame()
    table = infer_table(df, "t")
    off = ProtectionSettings(fake_pii=False, rare_category_k=0, cap_quantile=0.0)
    out, report = apply_protection(df, fit_protection(df, table, off), seed=0)
    assert report.actions == [] and out.equals(df)


def test_suppress_removes_rare_rows_and_stronger_climbs() -> None:
    df = _frame()
    table = infer_table(df, "t")
    settings = ProtectionSettings(fake_pii=False, cap_quantile=0.0, rare_action="suppress")
    out, report = apply_protection(df, fit_protection(df, table, settings), seed=0)
    assert report.rows_out == len(out) == len(df) - 3
    stronger = ProtectionSettings().stronger()
    assert stronger.rare_category_k == 10 and stronger.cap_quantile == 0.025
