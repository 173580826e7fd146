from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from synthtab.schema import Column, SemanticType, StorageType, Table
from synthtab.tools.fidelity import assess_quality
from synthtab.tools.privacy import assess_privacy
from synthtab.tools.report_html import render_report_html

VOID_ELEMENTS = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"}
HOSTILE = "<script>alert('x')</script>"


class Collector(HTMLParser):
    """Every start tag with its attributes, and whether open and close tags balance."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.unbalanced: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.unbalanced.append(tag)
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def with_class(self, tag: str, css_class: str) -> list[dict[str, str | None]]:
        return [
            attrs
            for name, attrs in self.tags
            if name == tag and css_class in (attrs.get("class") or "").split()
        ]


def parse(document: str) -> Collector:
    collector = Collector()
    collector.feed(document)
    collector.close()
    assert collector.unbalanced == [], collector.unbalanced
    assert collector.stack == []
    return collector


def frames(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(40, 10, size=rows)
    return pd.DataFrame(
        {
            "customer_id": np.arange(rows),
            "age": x.round(),
            "income": x * 1000 + rng.normal(0, 5000, rows),
            "plan": pd.array(rng.choice(["basic", "pro", HOSTILE], size=rows), dtype="str"),
            "active": rng.random(rows) < 0.5,
            "joined": pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 500, rows), "D"),
            "comment": [f"note {i}" for i in range(rows)],
            "unused": [None] * rows,
        }
    )


@pytest.fixture(scope="module")
def table() -> Table:
    semantics = {
        "customer_id": SemanticType.id,
        "age": SemanticType.numeric,
        "income": SemanticType.numeric,
        "plan": SemanticType.categorical,
        "active": SemanticType.boolean,
        "joined": SemanticType.datetime,
        "comment": SemanticType.text,
        "unused": SemanticType.empty,
    }
    return Table(
        name="customers",
        columns=[
            Column(name=n, storage=StorageType.string, semantic=s) for n, s in semantics.items()
        ],
    )


@pytest.fixture(scope="module")
def full_report(table: Table) -> dict:
    real, holdout, synthetic = frames(400, 0), frames(300, 1), frames(350, 2)
    quality = assess_quality(real, holdout, synthetic, table, "active", seed=0)
    privacy = assess_privacy(real, holdout, synthetic, table, seed=0, exact_copies_removed=2)
    return {
        "summary": {
            "dataset": f"customers {HOSTILE}",
            "rows_requested": 350,
            "rows_delivered": 350,
            "model": "gaussian_copula",
            "model_reason": "small table",
            "status": "complete",
            "seconds": 4.2,
        },
        "validation": {
            "rows": 5000,
            "violating_rows": 3,
            "checks": [
                {
                    "name": "age >= 0",
                    "kind": "range",
                    "columns": ["age"],
                    "checked_rows": 5000,
                    "violations": 3,
                    "example_rows": [{"age": -1}],
                },
                {
                    "name": "unique(customer_id)",
                    "kind": "unique",
                    "columns": ["customer_id"],
                    "checked_rows": 5000,
                    "violations": 0,
                    "example_rows": [],
                },
            ],
        },
        # the renderer reads report.json, so give it exactly what JSON round-trips
        "quality": json.loads(quality.model_dump_json()),
        "privacy": json.loads(privacy.model_dump_json()),
        "iterations": [
            {"iteration": 1, "node": "generator", "action": "fit", "reason": "first pass"},
            {
                "iteration": 2,
                "node": "assessor",
                "action": "refit",
                "reason": "weak age",
                "epochs": 50,
            },
        ],
        "messages": ["all rows delivered", f"message with {HOSTILE}"],
    }


def test_full_report_is_self_contained_and_complete(full_report: dict, table: Table) -> None:
    document = render_report_html(full_report, frames(400, 0), frames(350, 2), table)
    parsed = parse(document)
    charts = parsed.with_class("svg", "column-chart")
    non_id = [c.name for c in table.columns if c.semantic != SemanticType.id]
    assert sorted(a["data-column"] for a in charts) == sorted(non_id)
    heatmaps = parsed.with_class("svg", "heatmap")
    assert sorted(a["data-matrix"] for a in heatmaps) == ["difference", "real", "synthetic"]
    assert len(parsed.with_class("svg", "privacy-chart")) == 2

    assert not any(name in {"script", "link", "img", "iframe"} for name, _ in parsed.tags)
    for _, attrs in parsed.tags:
        assert "src" not in attrs and "href" not in attrs
    assert "http" not in document

    assert HOSTILE not in document
    assert "&lt;script&gt;" in document
    text = " ".join(parsed.text)
    for expected in (
        "complete",
        "gaussian_copula",
        "age >= 0",
        "99.94%",  # 3 violations in 5,000 rows
        "roc_auc",
        "DCR share",
        "weak age",
        "epochs",  # iteration keys beyond the usual ones become columns
        "all rows delivered",
        "holdout reference",
    ):
        assert expected in text, expected


def test_missing_sections_are_skipped(table: Table) -> None:
    document = render_report_html({}, frames(200, 0), frames(150, 1), table)
    parsed = parse(document)
    charts = parsed.with_class("svg", "column-chart")
    assert len(charts) == len(table.columns) - 1
    assert parsed.with_class("svg", "heatmap") == []
    ids = {attrs.get("id") for name, attrs in parsed.tags if name == "section"}
    assert {"overview", "columns"} <= ids
    assert not ids & {"privacy", "validation", "utility", "iterations", "messages", "correlations"}

    partial = {"summary": {"status": "failed"}, "quality": {"notes": ["only notes"]}}
    parse(render_report_html(partial, frames(50, 0), frames(50, 1), table))


def test_columns_absent_from_synthetic_still_get_a_chart(table: Table) -> None:
    synthetic = frames(100, 1).drop(columns=["plan"])
    parsed = parse(render_report_html({}, frames(100, 0), synthetic, table))
    placeholders = [
        a for a in parsed.with_class("svg", "column-chart") if a["data-column"] == "plan"
    ]
    assert len(placeholders) == 1
    assert "missing from synthetic" in (placeholders[0].get("aria-label") or "")


def test_wide_tables_render_every_column() -> None:
    rng = np.random.default_rng(0)
    wide = pd.DataFrame({f"c{i}": rng.normal(size=60) for i in range(300)})
    wide_table = Table(
        name="wide",
        columns=[
            Column(name=n, storage=StorageType.float, semantic=SemanticType.numeric)
            for n in wide.columns
        ],
    )
    parsed = parse(render_report_html({"messages": []}, wide, wide.copy(), wide_table))
    assert len(parsed.with_class("svg", "column-chart")) == 300


def test_scorecard_pca_families_summary_and_feedback_rounds(
    full_report: dict, table: Table
) -> None:
    history = [
        {
            "quality_round": 0,
            "overall": 0.81,
            "model_choice": {"name": "gaussian_copula"},
            "adjustments": [{"tool": "switch_model", "why": f"try argn {HOSTILE}"}],
        },
        {"quality_round": 1, "overall": 0.86, "model_choice": {"name": "argn"}, "adjustments": []},
    ]
    report = {**full_report, "quality_history": history, "thresholds": {"overall_score": 0.999}}
    document = render_report_html(report, frames(400, 0), frames(350, 2), table)
    parsed = parse(document)
    assert HOSTILE not in document
    quality = full_report["quality"]
    scatter = parsed.with_class("svg", "pca-scatter")
    assert len(scatter) == 1 and float(scatter[0]["width"] or 0) > 0
    circles = [a for tag, a in parsed.tags if tag == "circle" and "pca-" in (a.get("class") or "")]
    expected = len(quality["pca"]["real_points"]) + len(quality["pca"]["synthetic_points"])
    assert len(circles) == expected
    text = " ".join(parsed.text)
    assert "Scores against their ceilings" in text and "Three model families" in text
    assert "In plain words" in text and "falls short of the 1.00 threshold" in text
    # the overall score fails the run's own 0.999 threshold in the scorecard
    assert f"{quality['overall_score']:.3f}" in text and "fail" in text
    assert "+0.050" in text  # the measured change between the two feedback rounds
    assert "switch_model" in text
    # no summary source recorded: the page wrote the template itself and says so
    source = next(a for tag, a in parsed.tags if a.get("id") == "summary-source")
    assert source is not None and "Source: template" in text


def test_every_round_shows_its_adjustment_scores_and_what_was_delivered(
    full_report: dict, table: Table
) -> None:
    """A run that switched model, then tried something that made it worse and started again
    from the best round: each row says what made it, from which round, and its scores."""
    switch = {"tool": "switch_model", "why": "detection AUC 0.838 > 0.75: switch to argn"}
    longer = {"tool": "train_longer", "why": "overall fidelity 0.990 < 0.995: train longer"}
    types = {"tool": "fix_column_type", "why": f"age {HOSTILE}"}

    def rnd(i: int, model: str, overall: float, auc: float, merit: float, **more: object) -> dict:
        return {
            "quality_round": i,
            "model_choice": {"name": model},
            "overall": overall,
            "pair_trends": overall - 0.01,
            "detection_auc": auc,
            "tstr_ratio": 0.95,
            "merit": merit,
            "failing": ["fidelity"],
            **more,
        }

    history = [
        rnd(
            0,
            "gaussian_copula",
            0.973,
            0.838,
            0.741,
            from_round=None,
            applied=[],
            adjustments=[switch],
            refit_from=0,
            chosen_by="policy",
        ),
        rnd(
            1,
            "argn",
            0.990,
            0.529,
            0.973,
            from_round=0,
            applied=[switch],
            adjustments=[longer],
            refit_from=1,
            chosen_by="llm",
        ),
        rnd(
            2,
            "argn",
            0.985,
            0.560,
            0.952,
            from_round=1,
            applied=[longer],
            adjustments=[types],
            refit_from=1,
            chosen_by="policy",
        ),
        rnd(3, "argn", 0.991, 0.531, 0.975, from_round=1, applied=[types], adjustments=[]),
    ]
    report = {
        **full_report,
        "quality_history": history,
        "quality_round_delivered": 3,
        "feedback_thresholds": {"overall_score": 0.995, "detection_auc": 0.75, "tstr_ratio": 0.9},
        "plain_summary": "Fidelity is 0.991.",
        "summary_source": "llm",
        "summary_model": "qwen-test",
    }
    document = render_report_html(report, frames(400, 0), frames(350, 2), table)
    parsed = parse(document)
    assert HOSTILE not in document
    section = document[document.index('<section id="feedback">') :]
    section = section[: section.index("</section>")]
    rows = section.split("<tr>")[2:]  # past the header row
    assert len(rows) == 4
    # round 2 and round 3 both started from round 1: the change is measured against it
    assert "train_longer" in rows[2] and "(from round 1)" in rows[2] and "-0.021" in rows[2]
    assert "fix_column_type" in rows[3] and "(from round 1)" in rows[3] and "+0.002" in rows[3]
    assert "0.529" in rows[1] and "0.973" in rows[1] and "+0.232" in rows[1]
    assert "delivered" in rows[3] and "delivered" not in rows[1]
    assert "chosen by llm" in rows[1] and "first fit" in rows[0]
    assert "detection AUC at most 0.750" in section
    text = " ".join(parsed.text)
    assert "Source: llm" in text and "qwen-test" in text and "checked against this report" in text


def test_privacy_attacks_protection_and_policy_are_rendered(table: Table) -> None:
    privacy = {
        "risk": "high",
        "verdict": "membership inference succeeds",
        "dcr_share": 0.71,
        "attacks": {
            "results": [
                {
                    "attack": "attribute_inference",
                    "column": HOSTILE,
                    "target_rate": 0.61,
                    "control_rate": 0.2,
                    "risk": 0.51,
                    "risk_low": 0.44,
                    "risk_high": 0.58,
                    "level": "high",
                    "verdict": "guessing it works",
                }
            ]
        },
        "protection": [
            {
                "actions": [
                    {
                        "column": "plan",
                        "action": "merge",
                        "values_changed": 3,
                        "detail": "2 categories under k=5 into 'Other'",
                    }
                ]
            }
        ],
        "policy": [
            {
                "round": 1,
                "action": "stronger protection",
                "reason": "risk 0.44 > 0.2",
                "changes": "rare_category_k 5 -> 10",
            }
        ],
    }
    document = render_report_html({"privacy": privacy}, frames(100, 0), frames(100, 1), table)
    parsed = parse(document)
    headings = {attrs.get("id") for name, attrs in parsed.tags if name == "h3"}
    assert {"privacy-attacks", "privacy-protection", "privacy-policy"} <= headings
    assert "0.510 [0.440, 0.580]" in document
    assert "rare_category_k 5 -&gt; 10" in document
    assert HOSTILE not in document  # the column name is data: escaped
