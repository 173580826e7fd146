from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from synthtab.evals.baselines import PEERS, PeerRunner, SynthesisRun
from synthtab.evals.compare import (
    HOLDOUT_NAME,
    ComparisonRow,
    SplitFiles,
    compare_dataset,
    fit_ratio,
    goal_checks,
    measure_synthetic,
    median_row,
    median_rows,
    prepare_split,
    results_markdown,
    run_compare,
    sdmetrics_metadata,
    sdmetrics_scores,
    summary_table,
)
from synthtab.evals.suites import EvalCase
from synthtab.schema import Table
from synthtab.schema.infer import infer_table


@pytest.fixture(scope="module")
def credit_sample(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(datasets_dir / "credit_data.parquet").sample(1_200, random_state=4)


@pytest.fixture()
def split(credit_sample: pd.DataFrame, tmp_path: Path) -> SplitFiles:
    source = tmp_path / "credit_data.parquet"
    credit_sample.to_parquet(source, index=False)
    return prepare_split(source, "credit_data", "Status", tmp_path / "split", seed=0)


class FakeRunner:
    """A synthesizer stand-in: a fixed way of making rows from the training file."""

    def __init__(self, name: str, family: str, how: str, fit_seconds: float | None) -> None:
        self.name, self.family, self.how, self.fit_seconds = name, family, how, fit_seconds

    def run(
        self, train_path: Path, target: str | None, rows: int, work_dir: Path, seed: int
    ) -> SynthesisRun:
        base = SynthesisRun(
            synthesizer=self.name,
            family=self.family,  # type: ignore[arg-type]
            exit_code=0,
            wall_seconds=1.0,
            fit_seconds=self.fit_seconds,
            sample_seconds=0.1,
            peak_memory_mb=100.0,
            rows_requested=rows,
        )
        if self.how == "fail":
            return base.model_copy(update={"exit_code": 1, "status": "failed", "error": "boom"})
        train = pd.read_parquet(train_path)
        if self.how == "copy":  # a memoriser: every row is a training row
            frame = train.sample(rows, replace=True, random_state=seed)
        else:  # independent columns: right marginals, no relationships, few copies
            frame = pd.DataFrame(
                {c: train[c].sample(rows, replace=True, random_state=seed + i).to_numpy()
                 for i, c in enumerate(train.columns)}
            )  # fmt: skip
        path = work_dir / f"{self.name}.parquet"
        frame.to_parquet(path, index=False)
        return base.model_copy(update={"synthetic_path": str(path)})


def fake_scorer(split: SplitFiles, synthetic: dict[str, Path], work_dir: Path) -> dict:
    scores = {name: {"score": 0.8, "column_shapes": 0.9, "column_pair_trends": 0.7}
              for name in synthetic}  # fmt: skip
    scores[HOLDOUT_NAME] = {"score": 0.95, "column_shapes": 0.96, "column_pair_trends": 0.94}
    return scores


def test_prepare_split_is_deterministic_and_disjoint(
    split: SplitFiles, credit_sample: pd.DataFrame, tmp_path: Path
) -> None:
    train, holdout = pd.read_parquet(split.train_path), pd.read_parquet(split.holdout_path)
    assert len(train) + len(holdout) == len(credit_sample) == 1_200
    assert split.holdout_rows == len(holdout) == 240
    again = prepare_split(
        tmp_path / "credit_data.parquet", "credit_data", "Status", tmp_path / "again", seed=0
    )
    pd.testing.assert_frame_equal(pd.read_parquet(again.train_path), train)
    table = Table.model_validate_json(Path(split.table_path).read_text())
    assert table.column("Status").semantic.value == "categorical"


def test_measure_synthetic_flags_a_memoriser(split: SplitFiles) -> None:
    train, holdout = pd.read_parquet(split.train_path), pd.read_parquet(split.holdout_path)
    table = infer_table(train, "credit_data")
    copied = measure_synthetic(train, holdout, train, table, "Status", 0)
    assert copied.exact_copy_rate == 1.0
    assert copied.dcr_share is not None
    assert copied.tstr_metric == "roc_auc" and copied.tstr_ratio is not None
    unseen = measure_synthetic(train, holdout, holdout, table, "Status", 0)
    assert unseen.exact_copy_rate == unseen.natural_copy_rate
    # the DCR reference samples hold as many train rows as the holdout has (240 of 960), so a
    # full copy scores 1/4 * 1 + 3/4 * ~0.5, still well above rows the model never saw
    assert unseen.dcr_share is not None and unseen.dcr_share < copied.dcr_share - 0.05


def test_sdmetrics_metadata_maps_semantic_types(split: SplitFiles) -> None:
    table = Table.model_validate_json(Path(split.table_path).read_text())
    metadata = sdmetrics_metadata(table)
    columns = metadata["columns"]
    assert columns["Status"] == {"sdtype": "categorical"}  # type: ignore[index]
    assert columns["Amount"] == {"sdtype": "numerical"}  # type: ignore[index]


def test_compare_dataset_scores_every_runner_on_the_same_split(
    split: SplitFiles, tmp_path: Path
) -> None:
    runners = [
        FakeRunner("synthtab-fake", "synthtab", "independent", 2.0),
        FakeRunner("tabularargn", "peer", "copy", 10.0),
        FakeRunner("sdv-ctgan", "peer", "fail", None),
    ]
    reference, rows = compare_dataset(split, runners, tmp_path / "runs", 500, fake_scorer)
    by_name = {r.synthesizer: r for r in rows}
    assert by_name["tabularargn"].exact_copy_rate == 1.0
    assert by_name["synthtab-fake"].exact_copy_rate < 0.5
    assert by_name["synthtab-fake"].rows == 500
    # independent columns keep the marginals but lose the pair trends a copy keeps
    assert by_name["synthtab-fake"].pair_trends < by_name["tabularargn"].pair_trends
    assert by_name["sdv-ctgan"].fidelity is None and by_name["sdv-ctgan"].error == "boom"
    assert by_name["synthtab-fake"].sdmetrics_quality == 0.8
    assert by_name["sdv-ctgan"].sdmetrics_quality is None
    assert reference.sdmetrics_quality == 0.95
    assert reference.fidelity is not None and reference.fidelity > 0.8
    assert fit_ratio(by_name["synthtab-fake"], rows) == pytest.approx(0.2)

    checks = goal_checks(rows)
    assert len(checks) == 1
    check = checks[0]
    assert check.fit_at_most_half_of_tabularargn is True
    assert check.copies_at_most_natural is not None
    assert check.quality_metric == "sdmetrics_quality"
    assert check.quality_at_least_best_peer is True  # 0.8 vs the peers' 0.8


def _row(
    name: str, family: str, dataset: str, fit: float, fidelity: float | None, seed: int = 0
) -> ComparisonRow:
    return ComparisonRow(
        dataset=dataset,
        synthesizer=name,
        family=family,
        seed=seed,
        exit_code=0 if fidelity is not None else 1,
        status="ok" if fidelity is not None else "failed",
        fit_seconds=fit,
        wall_seconds=fit + 1,
        peak_memory_mb=10.0,
        fidelity=fidelity,
        tstr_synthetic=fidelity,
        dcr_share=0.51,
        exact_copy_rate=0.0,
        natural_copy_rate=0.01,
    )


def test_summary_and_goal_checks_use_medians_and_per_dataset_ratios() -> None:
    rows = [
        _row("synthtab-x", "synthtab", "a", 10.0, 0.90),
        _row("tabularargn", "peer", "a", 40.0, 0.85),
        _row("synthtab-x", "synthtab", "b", 30.0, 0.70),
        _row("tabularargn", "peer", "b", 50.0, 0.80),
        _row("synthtab-x", "synthtab", "c", 20.0, None),
    ]
    table = summary_table(rows)
    line = next(line for line in table.splitlines() if line.startswith("| synthtab-x"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[1] == "2/3"  # one dataset without output
    assert cells[2] == "20.0"  # median fit over datasets with output
    assert cells[3] == "0.42"  # median of 10/40 and 30/50
    checks = {c.dataset: c for c in goal_checks(rows)}
    assert checks["a"].quality_at_least_best_peer is True
    assert checks["b"].quality_at_least_best_peer is False
    assert checks["b"].fit_at_most_half_of_tabularargn is False  # 30 / 50 = 0.6
    assert checks["a"].dcr_share_at_most_053 is True
    assert checks["a"].copies_at_most_natural is True


def test_compare_dataset_repeats_every_runner_with_its_own_seed(
    split: SplitFiles, tmp_path: Path
) -> None:
    runners = [
        FakeRunner("synthtab-fake", "synthtab", "independent", 2.0),
        FakeRunner("tabularargn", "peer", "copy", 10.0),
    ]
    _, rows = compare_dataset(split, runners, tmp_path / "runs", 300, fake_scorer, repeats=3)
    assert [(r.synthesizer, r.seed) for r in rows] == [
        ("synthtab-fake", 0), ("tabularargn", 0), ("synthtab-fake", 1), ("tabularargn", 1),
        ("synthtab-fake", 2), ("tabularargn", 2),
    ]  # fmt: skip
    # each repeat writes into its own folder, so no run overwrites another's rows
    assert all(
        (tmp_path / "runs" / f"seed-{k}" / "synthtab-fake.parquet").exists() for k in range(3)
    )
    fake = [r for r in rows if r.synthesizer == "synthtab-fake"]
    assert len({r.tstr_synthetic for r in fake}) > 1  # different draws, different scores
    (collapsed, _) = median_rows(rows)
    assert collapsed.runs == 3 and collapsed.seed == 0
    tstr = sorted(r.tstr_synthetic for r in fake)  # type: ignore[type-var]
    assert collapsed.tstr_synthetic == tstr[1]
    assert collapsed.spread["tstr_synthetic"] == (tstr[0], tstr[2])
    with pytest.raises(ValueError, match="at least 1"):
        compare_dataset(split, runners, tmp_path / "none", 300, fake_scorer, repeats=0)


def test_median_row_takes_medians_over_the_runs_that_delivered() -> None:
    runs = [
        _row("synthtab-x", "synthtab", "a", 10.0, 0.90, seed=0),
        _row("synthtab-x", "synthtab", "a", 30.0, 0.70, seed=1),
        _row("synthtab-x", "synthtab", "a", 20.0, 0.80, seed=2),
        _row("synthtab-x", "synthtab", "a", 99.0, None, seed=3),
    ]
    row = median_row(runs)
    assert row.fit_seconds == 20.0 and row.fidelity == 0.80  # the failed run left out
    assert row.spread["fidelity"] == (0.70, 0.90)
    assert row.runs == 3 and row.exit_code == 1 and row.status == "partly failed"
    assert "1 of 4 runs delivered no output" in row.notes
    assert median_row(runs[:1]) == runs[0]  # a single run stands as it is
    assert median_row([runs[3]]).status == "failed"
    assert median_row(runs[3:] * 2).status == "failed"


def test_run_compare_writes_results_with_the_command(
    credit_sample: pd.DataFrame, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    credit_sample.to_parquet(data_dir / "credit_data.parquet", index=False)
    runners = [
        FakeRunner("synthtab-fake", "synthtab", "independent", 1.0),
        FakeRunner("tabularargn", "peer", "copy", 4.0),
    ]
    out = tmp_path / "out"
    results = run_compare(
        [EvalCase(dataset="credit_data", target="Status")],
        data_dir, out, runners, "synthtab eval --suite compare", rows=300, scorer=fake_scorer,
    )  # fmt: skip
    assert [r.synthesizer for r in results.rows] == ["synthtab-fake", "tabularargn"]
    saved = json.loads((out / "results.json").read_text())
    assert saved["command"] == "synthtab eval --suite compare"
    assert len(saved["rows"]) == 2
    markdown = (out / "results.md").read_text()
    assert "`synthtab eval --suite compare`" in markdown
    assert "| synthtab-fake |" in markdown and "### credit_data" in markdown
    assert markdown == results_markdown(results)


def _copula_compare_cli(
    credit_sample: pd.DataFrame, tmp_path: Path, *flags: str
) -> tuple[int, Path]:
    """`synthtab eval --suite compare` on the credit sample, SynthTab's copula only, no
    SDMetrics: the exit code and the --out folder."""
    from synthtab.app import main

    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    credit_sample.to_parquet(data_dir / "credit_data.parquet", index=False)
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
    code = main(
        ["eval", "--suite", "compare", "--datasets", "credit_data", "--peers", "none",
         "--models", "gaussian_copula", "--no-sdmetrics", *flags,
         "--data-dir", str(data_dir), "--out", str(out)]
    )  # fmt: skip
    return code, out


def test_compare_cli_end_to_end_with_the_copula(
    credit_sample: pd.DataFrame, tmp_path: Path
) -> None:
    """The real path: split, `python -m synthtab generate` as a subprocess, our metrics."""
    code, out = _copula_compare_cli(credit_sample, tmp_path, "--rows", "400")
    assert code == 0
    saved = json.loads((out / "results.json").read_text())
    (row,) = saved["rows"]
    assert row["synthesizer"] == "synthtab-gaussian_copula"
    assert row["exit_code"] == 0 and row["rows"] == 400
    assert row["fit_seconds"] is not None and row["sample_seconds"] is not None
    assert row["peak_memory_mb"] > 50
    assert 0.5 < row["fidelity"] <= 1.0
    assert row["tstr_metric"] == "roc_auc" and row["tstr_ratio"] > 0.5
    assert row["exact_copy_rate"] <= 0.01 and 0.3 < row["dcr_share"] < 0.7
    assert any("internal holdout" in n for n in row["notes"])
    assert "--suite compare --datasets credit_data" in saved["command"]


def test_compare_cli_repeats_report_medians_with_their_range(
    credit_sample: pd.DataFrame, tmp_path: Path
) -> None:
    """Two real runs of the copula with seeds 0 and 1; the table shows their median and range."""
    code, out = _copula_compare_cli(credit_sample, tmp_path, "--rows", "300", "--repeats", "2")
    assert code == 0
    saved = json.loads((out / "results.json").read_text())
    assert saved["repeats"] == 2 and "--repeats 2" in saved["command"]
    assert [r["seed"] for r in saved["rows"]] == [0, 1]
    tstr = sorted(r["tstr_synthetic"] for r in saved["rows"])
    markdown = (out / "results.md").read_text()
    assert "ran 2 times per dataset" in markdown
    line = next(
        x for x in markdown.splitlines() if x.startswith("| synthtab-gaussian_copula | 2 |")
    )
    assert f"{(tstr[0] + tstr[1]) / 2:.3f} ({tstr[0]:.3f}–{tstr[1]:.3f})" in line
    code, refused = _copula_compare_cli(credit_sample, tmp_path, "--repeats", "0")
    assert code == 2 and not refused.exists()


def test_sdmetrics_scores_in_the_sdv_venv(split: SplitFiles, tmp_path: Path) -> None:
    """Runs only where the SDV venv is set up; it holds sdmetrics."""
    if not PeerRunner(PEERS["sdv-gaussiancopula"]).ready():
        pytest.skip("the sdv venv is not set up in .eval-venvs")
    holdout = pd.read_parquet(split.holdout_path)
    train = pd.read_parquet(split.train_path)
    shuffled = pd.DataFrame(  # each column its own permutation: pairs destroyed
        {c: train[c].sample(frac=1, random_state=i).to_numpy() for i, c in enumerate(train)}
    )
    path = tmp_path / "shuffled.parquet"
    shuffled.to_parquet(path, index=False)
    scores = sdmetrics_scores(split, {"shuffled": path}, tmp_path)
    assert 0.0 < scores["shuffled"]["score"] <= 1.0  # type: ignore[operator]
    # a real holdout keeps the column pairs that independent shuffling destroys
    assert len(holdout) == split.holdout_rows
    assert scores[HOLDOUT_NAME]["column_pair_trends"] > scores["shuffled"]["column_pair_trends"]  # type: ignore[operator]
