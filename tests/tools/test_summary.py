from __future__ import annotations

import re

import pandas as pd

from synthtab.schema.infer import infer_table
from synthtab.tools.fidelity import assess_quality
from synthtab.tools.summary import summarize_report


def test_every_number_in_the_summary_is_in_the_report(adult: pd.DataFrame) -> None:
    sample = adult.sample(3000, random_state=9).reset_index(drop=True)
    table = infer_table(sample, "adult")
    train, holdout = sample.iloc[:1500], sample.iloc[1500:2200]
    synthetic = sample.iloc[2200:].assign(age=sample["age"].iloc[2200:] + 15)
    quality = assess_quality(train, holdout, synthetic, table, "income", seed=0)
    report = {
        "quality": quality.model_dump(mode="json"),
        "quality_history": [{"overall": 0.5}, {"overall": quality.overall_score}],
        "thresholds": {"overall_score": 0.99},
    }
    text = summarize_report(report)
    assert "falls short of the 0.99 threshold" in text
    assert "age" in text  # the shifted column is called out as the weakest
    values = [float(v) for v in re.findall(r"\d+\.\d+", text)]
    flat = re.findall(r"-?\d+\.\d+(?:e-?\d+)?", quality.model_dump_json())
    reported = {round(float(v), 3) for v in flat} | {0.5, 0.99}
    assert values and all(round(v, 3) in reported for v in values)


def test_an_empty_report_says_so() -> None:
    assert summarize_report({}) == "The report holds no metrics to summarise."


def test_a_delivered_earlier_round_is_named() -> None:
    report = {
        "quality_history": [
            {"quality_round": 0, "overall": 0.971},
            {"quality_round": 1, "overall": 0.963},
            {"quality_round": 2, "overall": 0.961},
        ],
        "quality_round_delivered": 0,
    }
    text = summarize_report(report)
    assert "went from 0.971 to 0.961" in text
    assert "delivered rows are round 0's (overall fidelity 0.971)" in text
    assert "round 0's" not in summarize_report({**report, "quality_round_delivered": 2})
