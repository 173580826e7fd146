"""`synthtab generate --epsilon`: the run spends within its epsilon, says how step by step, the
output keeps the released schema, the ledger refuses a run over the total before it reads the
data, and a model whose encodings are not private is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthtab.app import main
from synthtab.store.ledger import PrivacyLedger


@pytest.fixture()
def ledger_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "synthtab-home"
    monkeypatch.setenv("SYNTHTAB_HOME", str(home))  # never the real home dir
    return home


def test_a_private_run_spends_within_epsilon_and_the_ledger_refuses_more(
    adult_csv: Path, tmp_path: Path, ledger_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    common = ["--target", "income", "--rows", "2000", "--no-attacks", "--quiet"]
    code = main(
        [
            "generate",
            str(adult_csv),
            "--out",
            str(out),
            "--epsilon",
            "1",
            "--privacy-budget",
            "1.5",
            *common,
        ]
    )
    assert code == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    dp = manifest["differential_privacy"]
    assert dp["epsilon"] == 1.0 and dp["within_budget"]
    assert 0.0 < dp["spent_epsilon"] <= 1.0 and dp["spent_delta"] <= 1e-6 * (1 + 1e-9)
    assert sum(s["epsilon"] for s in dp["spends"]) == pytest.approx(dp["spent_epsilon"])
    assert manifest["model"]["name"] in ("dp_mst", "dp_copula")
    assert "epsilon" in manifest["model"]["reason"]
    parts = " ".join(p["touched"] for s in dp["spends"] for p in s["parts"])
    assert "'age'" in parts and "'workclass'" in parts  # bounds and categories released with DP
    report = json.loads((out / "report.json").read_text())
    assert report["quality"]["internal_not_covered_by_epsilon"] is True
    assert "NOT COVERED BY EPSILON" in (out / "report.html").read_text()
    # the output keeps the released schema: ranges and value lists, no data-found constraints
    schema = json.loads((out / "schema.json").read_text())["tables"][0]
    assert not [c for c in schema["constraints"] if c.get("source") != "declared"]
    synthetic = pd.read_csv(out / "synthetic.csv")
    assert len(synthetic) == 2000
    for column in schema["columns"]:
        values = synthetic[column["name"]].dropna()
        if column.get("allowed_values") is not None:
            allowed = {str(v) for v in column["allowed_values"]}
            assert set(values.astype(str)) <= allowed, column["name"]
        if column.get("minimum") is not None and column["semantic"] == "numeric":
            assert values.between(column["minimum"], column["maximum"]).all(), column["name"]
    ledger = PrivacyLedger(ledger_home / "privacy_ledger.db")
    [entry] = ledger.entries(manifest["input"]["sha256"])
    assert entry.status == "settled" and entry.epsilon == pytest.approx(dp["spent_epsilon"])
    ledger.close()

    capsys.readouterr()
    second = tmp_path / "second"
    code = main(
        [
            "generate",
            str(adult_csv),
            "--out",
            str(second),
            "--epsilon",
            "1",
            "--privacy-budget",
            "1.5",
            *common,
        ]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "already spent" in err and "asks 1" in err and "1.5" in err
    assert not second.exists()  # refused before the data was read


def test_without_rows_a_private_run_delivers_the_noisy_count_not_the_real_one(
    adult_csv: Path, tmp_path: Path, ledger_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "generate",
            str(adult_csv),
            "--out",
            str(out),
            "--epsilon",
            "1",
            "--model",
            "dp_mst",
            "--no-attacks",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    real_rows = len(pd.read_csv(adult_csv))
    delivered = len(pd.read_csv(out / "synthetic.csv"))
    assert delivered != real_rows and abs(delivered - real_rows) < 0.2 * real_rows
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "complete"
    assert report["summary"]["rows_requested"] == delivered
    assert any("noisy row count" in m for m in report["messages"])
    # what states the exact count is marked internal, in the report and in the manifest
    assert report["summary"]["internal_not_covered_by_epsilon"] is True
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input"]["internal_not_covered_by_epsilon"] is True
    assert (
        "manifest.json input" in manifest["differential_privacy"]["internal_not_covered_by_epsilon"]
    )
    assert str(real_rows) not in json.dumps(manifest["differential_privacy"])


def test_argn_is_refused_under_epsilon(
    adult_csv: Path, tmp_path: Path, ledger_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "generate",
            str(adult_csv),
            "--out",
            str(tmp_path / "r"),
            "--epsilon",
            "1",
            "--model",
            "argn",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "argn cannot run under --epsilon" in err and "encodings" in err
    assert not (ledger_home / "privacy_ledger.db").exists()


def test_auto_picks_the_dp_copula_and_a_forced_model_wins() -> None:
    from synthtab.agents.generator import choose_model
    from synthtab.schema import Column, GenerationRequest, SemanticType, StorageType, Table

    table = Table(
        name="t",
        columns=[Column(name="a", storage=StorageType.integer, semantic=SemanticType.numeric)],
    )
    for epsilon in (0.3, 1.0, 10.0):
        auto = GenerationRequest(source="x.csv", epsilon=epsilon)
        assert choose_model(auto, table, 5000)["name"] == "dp_copula"
    forced = GenerationRequest(source="x.csv", epsilon=0.5, model="dp_mst")
    assert choose_model(forced, table, 5000)["name"] == "dp_mst"
