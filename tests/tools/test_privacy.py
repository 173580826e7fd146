from __future__ import annotations

import pandas as pd

from synthtab.schema.infer import infer_table
from synthtab.tools.privacy import assess_privacy, exact_copies, near_copies


def test_ignored_columns_do_not_hide_a_copy_and_near_copies_are_found(adult: pd.DataFrame) -> None:
    df = adult.sample(2_000, random_state=5).reset_index(drop=True)
    table = infer_table(df, "adult")
    train, holdout = df.iloc[:1_000], df.iloc[1_000:]
    copy = train.iloc[:50].copy()
    copy["occupation"] = "faked"  # as if occupation had been replaced by fakes
    assert not exact_copies(copy, train, table).any()
    assert exact_copies(copy, train, table, ignore_columns={"occupation"}).all()
    nudged = train.iloc[:50].copy()
    nudged["fnlwgt"] = nudged["fnlwgt"] + 1
    close, threshold = near_copies(nudged, train, holdout, table, seed=0)
    assert threshold > 0 and close.all()
    far, _ = near_copies(holdout.iloc[:200], train, holdout, table, seed=0)
    assert far.mean() < 0.2


def test_assess_privacy_keeps_its_fields_and_adds_attacks(adult: pd.DataFrame) -> None:
    df = adult.sample(2_000, random_state=6).reset_index(drop=True)
    table = infer_table(df, "adult")
    train, holdout = df.iloc[:1_000], df.iloc[1_000:]
    leaky = assess_privacy(train, holdout, train.iloc[:500], table, seed=0, attacks=True)
    assert leaky.exact_copy_rate == 1.0 and leaky.risk == "high"
    assert leaky.attacks is not None and leaky.attacks.level == "high"
    plain = assess_privacy(train, holdout, holdout.iloc[:500], table, seed=0)
    assert plain.attacks is None and plain.dcr_share is not None
