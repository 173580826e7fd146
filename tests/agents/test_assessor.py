"""The assessor's feedback policy: weak spots -> tools -> adjustments the model accepts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synthtab.agents import assessor
from synthtab.agents.assessor import (
    Adjustment,
    FeedbackThresholds,
    applicable_adjustments,
    apply_adjustments,
    best_earlier_round,
    best_round,
    choose_adjustments,
    configuration_key,
    feedback_tools,
    find_weak_spots,
    learn_from_rounds,
    tool_order,
)
from synthtab.app import main
from synthtab.graphs.runner import start_run
from synthtab.io.readers import demo_dataset_path
from synthtab.schema import GenerationRequest
from synthtab.tools.fidelity import QualityReport


def quality(
    *,
    shapes: float = 0.98,
    pairs: float = 0.85,
    tstr_ratio: float | None = None,
    auc: float = 0.9,
    columns: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "overall_score": (shapes + pairs) / 2,
        "column_shape_score": shapes,
        "pair_trend_score": pairs,
        "target": "y",
        "holdout_reference": {
            "overall_score": 0.99,
            "column_shape_score": 0.99,
            "pair_trend_score": 0.99,
            "column_scores": {"age": 0.99, "colour": 0.99, "y": 0.99},
        },
        "columns": columns or [],
        "utility": {"ratio": tstr_ratio} if tstr_ratio is not None else None,
        "detection": {"auc": auc, "score": 1 - 2 * abs(auc - 0.5)},
    }


def category(name: str, score: float, real: list[float], synthetic: list[float]) -> dict[str, Any]:
    labels = [f"v{i}" for i in range(len(real) - 1)] + ["(other)"]
    plot = {"kind": "categories", "labels": labels, "real": real, "synthetic": synthetic}
    return {"column": name, "metric": "tvd", "score": score, "plot": plot}


def test_every_tool_has_a_name_a_description_and_its_settings() -> None:
    tools = feedback_tools()
    assert {t.name for t in tools} == {
        "switch_model",
        "train_longer",
        "fix_column_type",
        "condition_on_column",
        "adjust_temperature",
    }
    assert all(t.description for t in tools)


def test_weak_spots_are_read_off_the_report() -> None:
    report = quality(
        shapes=0.9,
        pairs=0.97,
        columns=[
            {"column": "age", "metric": "ks", "score": 0.8, "plot": {"kind": "histogram"}},
            category("colour", 0.8, [0.8, 0.2, 0.0], [0.4, 0.4, 0.2]),
            category("y", 0.99, [0.7, 0.3, 0.0], [0.7, 0.3, 0.0]),
        ],
    )
    spots = find_weak_spots(report)
    assert spots.weak_continuous == ["age"] and spots.weak_categorical == ["colour"]
    assert spots.synthetic_too_diverse is True
    assert spots.target_shares == {"v0": 0.7, "v1": 0.3}
    assert spots.column_gap > spots.pair_gap
    assert tool_order(spots)[0] == "fix_column_type"


def test_neural_model_gets_temperature_and_conditioning_only_it_accepts() -> None:
    report = quality(
        shapes=0.9,
        pairs=0.97,
        tstr_ratio=0.7,
        columns=[
            category("colour", 0.8, [0.8, 0.2, 0.0], [0.4, 0.4, 0.2]),
            category("y", 0.95, [0.7, 0.3, 0.0], [0.6, 0.4, 0.0]),
        ],
    )
    argn_choice = {"name": "argn", "settings": {"temperature": 1.0}}
    # one adjustment a round, so that the next round can tell whether it helped
    argn = choose_adjustments(report, argn_choice)
    assert [a.tool for a in argn] == ["condition_on_column"]
    assert argn[0].settings == {"rebalance": {"y": {"v0": 0.7, "v1": 0.3}}}
    spots = find_weak_spots(report, FeedbackThresholds(fidelity=0.99))
    assert spots.failing == ["utility", "fidelity"]
    temperature = [a for a in applicable_adjustments(spots, argn_choice)][-1]
    assert temperature.settings == {"temperature": 0.85}  # too diverse: lower
    # the copula has neither setting: the same report gets it other tools
    copula = choose_adjustments(report, {"name": "gaussian_copula", "settings": {}})
    assert all(a.tool not in {"condition_on_column", "adjust_temperature"} for a in copula)
    assert copula


def test_apply_keeps_only_settings_the_new_model_accepts() -> None:
    choice = {"name": "gaussian_copula", "settings": {"max_knots": 10_000}}
    switched = apply_adjustments(
        choice,
        [
            Adjustment(
                tool="switch_model",
                model="argn",
                settings={"max_training_seconds": 30.0},
                why="w",
            ),
            Adjustment(tool="train_longer", settings={"max_fit_rows": 10**6}, why="w"),
        ],
    )
    assert switched == {"name": "argn", "settings": {"max_training_seconds": 30.0}}


def test_the_copula_with_everything_raised_can_only_switch() -> None:
    report = quality()
    settings = {"max_fit_rows": 1_000_000, "max_knots": 10_000, "max_discrete_values": 1_000}
    chosen = choose_adjustments(report, {"name": "gaussian_copula", "settings": settings})
    assert [a.tool for a in chosen] == ["switch_model"]
    # a model the registry does not know has no settings: only a switch is left
    assert choose_adjustments(report, {"name": "unknown"})[0].model == "argn"


def test_a_run_below_threshold_records_adjustments_and_measured_change(tmp_path: Path) -> None:
    out = tmp_path / "run"
    arguments = ["generate", "--demo", "--rows", "800", "--no-tstr", "--quiet"]
    # one round keeps the test quick: the copula's first adjustment (the switch to the neural
    # model comes second; the eval harness's feedback suite measures that one)
    code = main(
        [*arguments, "--out", str(out), "--quality-threshold", "0.999", "--max-quality-rounds", "1"]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    history = report["quality_history"]
    assert len(history) == 2
    first, second = history
    assert [a["tool"] for a in first["adjustments"]][0] == "train_longer"
    assert second["model_choice"]["settings"]["max_fit_rows"] == 1_000_000
    html = (out / "report.html").read_text()
    change = f"{second['merit'] - first['merit']:+.3f}"  # measured against the round before
    assert "Feedback rounds" in html and change in html

    off = tmp_path / "off"
    code = main(
        [*arguments, "--out", str(off), "--quality-threshold", "0.999", "--max-quality-rounds", "0"]
    )
    assert code == 0
    report = json.loads((off / "report.json").read_text())
    assert len(report["quality_history"]) == 1 and not report["quality_history"][0]["adjustments"]
    assert any("no adjustment is left" in m for m in report["messages"])


def test_weak_pairs_on_the_copula_switch_before_training_longer() -> None:
    report = quality(shapes=0.98, pairs=0.85)
    spots = find_weak_spots(report)
    assert spots.pair_gap > spots.column_gap
    # training the copula longer moves nothing measurable: a switch comes first
    assert tool_order(spots, "gaussian_copula")[:2] == ["switch_model", "train_longer"]
    assert tool_order(spots, "argn")[:2] == ["train_longer", "switch_model"]
    chosen = choose_adjustments(report, {"name": "gaussian_copula", "settings": {}})
    assert [a.tool for a in chosen] == ["switch_model"] and chosen[0].model == "argn"


def record(quality_round: int, overall: float, rows: int = 100) -> dict[str, Any]:
    return {"quality_round": quality_round, "overall": overall, "rows": rows}


def test_a_high_detection_auc_alone_sends_feedback_that_targets_it() -> None:
    # fidelity passes its threshold and no TSTR was measured: only the classifier fails
    report = quality(shapes=0.99, pairs=0.97, auc=0.95)
    spots = find_weak_spots(report, FeedbackThresholds(fidelity=0.9))
    assert spots.failing == ["detection"]
    copula = choose_adjustments(spots, {"name": "gaussian_copula", "settings": {}})
    assert [a.tool for a in copula] == ["switch_model"] and copula[0].model == "argn"
    assert "detection AUC 0.950 > 0.9" in copula[0].why
    # the neural model trains longer before anything else is tried
    argn = choose_adjustments(spots, {"name": "argn", "settings": {}})
    assert [a.tool for a in argn] == ["train_longer"] and "detection AUC" in argn[0].why
    # only tools that answer the classifier are promising: no temperature, no conditioning
    assert set(tool_order(spots, "argn")) == {"train_longer", "switch_model", "fix_column_type"}
    # the threshold is the request's: a laxer one sends nothing
    assert (
        find_weak_spots(report, FeedbackThresholds(fidelity=0.9, detection_auc=0.96)).failing == []
    )


def test_a_low_tstr_ratio_alone_sends_feedback_that_targets_it() -> None:
    columns = [category("y", 0.95, [0.7, 0.3, 0.0], [0.6, 0.4, 0.0])]
    report = quality(shapes=0.99, pairs=0.97, tstr_ratio=0.6, auc=0.6, columns=columns)
    spots = find_weak_spots(report, FeedbackThresholds(fidelity=0.9, tstr_ratio=0.85))
    assert spots.failing == ["utility"]
    argn = choose_adjustments(spots, {"name": "argn", "settings": {}})
    assert [a.tool for a in argn] == ["condition_on_column"] and argn[0].column == "y"
    assert "TSTR ratio 0.600 < 0.85" in argn[0].why
    # the copula cannot condition: a model that can comes first
    copula = choose_adjustments(spots, {"name": "gaussian_copula", "settings": {}})
    assert [a.tool for a in copula] == ["switch_model"]
    assert find_weak_spots(report, FeedbackThresholds(fidelity=0.9, tstr_ratio=0.5)).failing == []


def spread_wider() -> dict[str, Any]:
    """Weak pair trends and a categorical column spread wider than the real one."""
    return quality(columns=[category("colour", 0.8, [0.8, 0.2, 0.0], [0.4, 0.4, 0.2])])


def round_record(
    quality_round: int,
    merit: float,
    model_choice: dict[str, Any],
    *,
    from_round: int | None = None,
    applied: list[str] | None = None,
) -> dict[str, Any]:
    spots = find_weak_spots(spread_wider(), FeedbackThresholds(fidelity=0.99))
    return {
        "quality_round": quality_round,
        "overall": merit,
        "merit": merit,
        "rows": 100,
        "model_choice": model_choice,
        "from_round": from_round,
        "applied": [{"tool": t} for t in applied or []],
        "weak_spots": spots.model_dump(mode="json"),
    }


def test_the_policy_restarts_from_the_best_round_and_never_repeats_what_made_it_worse() -> None:
    copula = {"name": "gaussian_copula", "settings": {}}
    switched = apply_adjustments(copula, choose_adjustments(quality(), copula))
    longer = apply_adjustments(switched, choose_adjustments(quality(), switched))
    assert longer["name"] == "argn" and longer != switched  # round 2 trained argn longer
    rounds = [
        round_record(0, 0.80, copula),
        round_record(1, 0.90, switched, from_round=0, applied=["switch_model"]),
        round_record(2, 0.85, longer, from_round=1, applied=["train_longer"]),
    ]
    best = best_round(rounds)
    assert best["quality_round"] == 1
    lessons = learn_from_rounds(rounds)
    assert lessons.made_worse == ["train_longer on argn"]
    assert configuration_key(longer) in lessons.tried
    # from round 1's settings, neither training longer again nor a configuration already
    # measured (the copula of round 0) is proposed
    spots = find_weak_spots(spread_wider(), FeedbackThresholds(fidelity=0.99))
    proposals = [a.tool for a in applicable_adjustments(spots, best["model_choice"], lessons)]
    assert "train_longer" not in proposals and "switch_model" not in proposals
    assert proposals == ["adjust_temperature"]  # too-spread categories: not tried yet
    # once the temperature has made things worse too, nothing promising is left: stop
    cooler = apply_adjustments(switched, choose_adjustments(spots, switched, lessons))
    rounds.append(round_record(3, 0.88, cooler, from_round=1, applied=["adjust_temperature"]))
    assert choose_adjustments(spots, switched, learn_from_rounds(rounds)) == []
    # a round that helped is not a lesson against its tool
    assert learn_from_rounds(rounds[:2]).made_worse == []
    # where the user named the model, no proposal swaps it
    kept = learn_from_rounds(rounds[:1], keep_model=True)
    assert "switch_model" in [a.tool for a in applicable_adjustments(spots, copula)]
    assert "switch_model" not in [a.tool for a in applicable_adjustments(spots, copula, kept)]
    # a setting the user set (--model-setting) is never what a proposal changes
    assert "adjust_temperature" in [a.tool for a in applicable_adjustments(spots, switched)]
    pinned = learn_from_rounds(rounds[:1], keep_model=True, pinned=["temperature"])
    assert "adjust_temperature" not in [
        a.tool for a in applicable_adjustments(spots, switched, pinned)
    ]


def test_a_round_that_passes_every_threshold_outranks_a_higher_merit() -> None:
    failing = {**record(0, 0.95), "merit": 0.95, "passed": False}
    passing = {**record(1, 0.93), "merit": 0.93, "passed": True}
    assert best_round([failing, passing])["quality_round"] == 1
    assert best_earlier_round([passing], failing) is not None
    assert best_earlier_round([failing], passing) is None


def test_best_earlier_round_is_strictly_better_earliest_on_ties_and_as_complete() -> None:
    assert best_earlier_round([], record(0, 0.9)) is None
    assert best_earlier_round([record(0, 0.9)], record(1, 0.95)) is None
    assert best_earlier_round([record(0, 0.95)], record(1, 0.95)) is None  # the final on a tie
    best = best_earlier_round([record(0, 0.97), record(1, 0.97), record(2, 0.96)], record(3, 0.9))
    assert best is not None and best["quality_round"] == 0
    best = best_earlier_round([record(0, 0.96), record(1, 0.97)], record(2, 0.9))
    assert best is not None and best["quality_round"] == 1
    # a round that accepted fewer rows would deliver an incomplete table: it does not compete
    assert best_earlier_round([record(0, 0.99, rows=90)], record(1, 0.9)) is None


def test_a_later_round_that_scores_lower_is_not_delivered_nor_built_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real graph on the demo, with the assessor's metric tool made to score every round
    after the first lower (fidelity 0.05 down, detection AUC 0.1 up): the second refit starts
    again from the first round's settings with another tool, and the first round's rows, report
    and model are delivered."""
    measured = assessor.assess_quality
    pools: list[pd.DataFrame] = []
    monkeypatch.setattr(assessor, "SWITCH_TRAINING_SECONDS", 5.0)  # a quick neural refit

    first: list[QualityReport] = []

    def later_rounds_worse(**kwargs: Any) -> QualityReport:
        report = measured(**kwargs)
        pools.append(kwargs["synthetic"].copy())
        if len(pools) == 1:
            first.append(report)
            return report
        # worse than the first round whatever the refit scored on its own
        worst_auc = max(float(report.detection.auc or 0.5), float(first[0].detection.auc or 0.5))
        auc = min(worst_auc + 0.1, 1.0)
        detection = report.detection.model_copy(update={"auc": auc, "score": 2 * (1 - auc)})
        overall = min(report.overall_score, first[0].overall_score) - 0.05
        return report.model_copy(update={"overall_score": overall, "detection": detection})

    monkeypatch.setattr(assessor, "assess_quality", later_rounds_worse)
    request = GenerationRequest(
        source=str(demo_dataset_path()),
        rows=600,
        target="income",
        compute_tstr=False,
        output_format="parquet",
        quality_threshold=0.999,
        max_quality_rounds=2,
    )
    out = tmp_path / "run"
    outcome = start_run(request, out)
    assert outcome.exit_code == 0 and len(pools) == 3

    report = json.loads((out / "report.json").read_text())
    first, second, third = report["quality_history"]
    assert first["merit"] > second["merit"] and first["merit"] > third["merit"]
    assert second["from_round"] == 0 and third["from_round"] == 0  # not built on round 1
    first_tool, second_tool = second["applied"][0]["tool"], third["applied"][0]["tool"]
    assert first_tool != second_tool  # what made round 1 worse is not repeated
    assert (
        len(
            {
                json.dumps(r["model_choice"]["settings"], sort_keys=True)
                for r in (first, second, third)
            }
        )
        == 3
    )
    restart = [
        i
        for i in report["iterations"]
        if i["node"] == "assessor" and "starting again from round 0" in i["reason"]
    ]
    assert len(restart) == 1 and restart[0]["from_round"] == 0
    assert report["quality_round_delivered"] == 0
    assert report["quality"]["overall_score"] == first["overall"]
    delivered = pd.read_parquet(out / "synthetic.parquet")
    pd.testing.assert_frame_equal(delivered, pools[0], check_dtype=False)
    assert not delivered.equals(pools[1])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["settings"] == first["model_choice"]["settings"]
    assert report["validation"]["rows"] == 600 and report["validation"]["violating_rows"] == 0
    assert report["privacy"] is not None
    note = f"delivered round 0 (overall {first['overall']:.3f}, merit {first['merit']:.3f})"
    assert any(note in m for m in report["messages"])
    assert any(i["action"] == "deliver round 0" for i in report["iterations"])
    # the report shows every round: what made it, its scores, and the one delivered
    html = (out / "report.html").read_text()
    assert f"{first_tool}: " in html and f"{second_tool}: " in html and "delivered</span>" in html
    assert f"{third['merit'] - first['merit']:+.3f}" in html
    # the kept rounds held synthetic rows and real distributions: removed with the work files
    assert not list((out / ".synthtab").glob("round_*"))


def test_a_detection_auc_over_its_threshold_alone_refits_through_the_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fidelity passes and no TSTR is measured; a strict detection threshold alone sends the
    copula's run (auto, preference fast) to the neural model, and the report says which metric
    failed. A model the user named is kept: feedback may tune it, never swap it."""
    monkeypatch.setattr(assessor, "SWITCH_TRAINING_SECONDS", 5.0)
    request = GenerationRequest(
        source=str(demo_dataset_path()),
        rows=500,
        target="income",
        compute_tstr=False,
        privacy_attacks=False,
        quality_threshold=0.5,
        detection_threshold=0.5,  # any classifier that does better than chance fails it
        max_quality_rounds=1,
    )
    out = tmp_path / "run"
    assert start_run(request, out).exit_code == 0
    report = json.loads((out / "report.json").read_text())
    first, second = report["quality_history"]
    assert first["failing"] == ["detection"] and first["overall"] >= 0.5
    assert [a["tool"] for a in first["adjustments"]] == ["switch_model"]
    assert second["model_choice"]["name"] == "argn" and second["applied"] == first["adjustments"]
    assert report["feedback_thresholds"]["detection_auc"] == 0.5
    refit = next(i for i in report["iterations"] if i["node"] == "assessor")
    assert f"detection AUC {first['detection_auc']:.3f} > 0.5" in refit["reason"]
    assert first["model_choice"]["name"] == "gaussian_copula"

    forced = request.model_copy(update={"model": "gaussian_copula"})
    assert start_run(forced, tmp_path / "forced").exit_code == 0
    report = json.loads((tmp_path / "forced" / "report.json").read_text())
    assert report["quality_history"][0]["failing"] == ["detection"]
    models = {r["model_choice"]["name"] for r in report["quality_history"]}
    assert models == {"gaussian_copula"}
