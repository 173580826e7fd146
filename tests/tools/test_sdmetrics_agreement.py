"""Our column-shape and pair-trend scores against SDMetrics' own QualityReport on the same data.

SDMetrics needs pandas < 3, so it runs in its own virtual environment (synthtab.evals.venvs),
created on first use and cached; the test skips when that environment cannot be set up (no
network) unless CI is set, where it must run.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from synthtab.models.copula import GaussianCopulaSynthesizer
from synthtab.schema.infer import infer_table
from synthtab.tools.fidelity import column_fidelity, correlation_difference, sdmetrics_compatible

SDMETRICS = ["sdmetrics==0.32.0"]
TOLERANCE = 0.02

SCRIPT = """
import json, sys
import pandas as pd
from sdmetrics.reports.single_table import QualityReport

real_path, synthetic_path, metadata_path, out_path = sys.argv[1:5]
metadata = json.load(open(metadata_path))
real = pd.read_csv(real_path)
synthetic = pd.read_csv(synthetic_path)
for name, column in metadata["columns"].items():
    if column["sdtype"] == "categorical":
        real[name] = real[name].astype(object)
        synthetic[name] = synthetic[name].astype(object)
report = QualityReport()
report.generate(real, synthetic, metadata, verbose=False)
scores = report.get_properties().set_index("Property")["Score"].to_dict()
json.dump({"column_shapes": scores["Column Shapes"],
           "column_pair_trends": scores["Column Pair Trends"]}, open(out_path, "w"))
"""


def _peer_python() -> Path:
    from synthtab.evals.venvs import VenvError, peer_python

    try:
        return peer_python("sdmetrics", SDMETRICS, with_torch=False)
    except VenvError as error:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"SDMetrics environment unavailable: {error}")


@pytest.mark.parametrize("synthetic_kind", ["copula", "noisy_copy"])
def test_scores_agree_with_sdmetrics(
    adult: pd.DataFrame, tmp_path: Path, synthetic_kind: str
) -> None:
    python = _peer_python()
    sample = adult.sample(4000, random_state=2).reset_index(drop=True)
    real_rows, rest = sample.iloc[:2000].reset_index(drop=True), sample.iloc[2000:]
    table = infer_table(real_rows, "adult")
    if synthetic_kind == "copula":
        model = GaussianCopulaSynthesizer().fit(real_rows, table, seed=0)
        synthetic = model.sample(2000, seed=1)
    else:
        # other real rows with a third of each column's cells shuffled: a plausible bad synthesizer
        synthetic = rest.reset_index(drop=True).copy()
        for offset, name in enumerate(synthetic.columns):
            cells = synthetic.sample(frac=0.33, random_state=offset).index
            synthetic.loc[cells, name] = (
                synthetic.loc[cells, name].sample(frac=1.0, random_state=100 + offset).to_numpy()
            )
    real_csv, synthetic_csv = tmp_path / "real.csv", tmp_path / "synthetic.csv"
    real_rows.to_csv(real_csv, index=False)
    synthetic.to_csv(synthetic_csv, index=False)
    # both sides read the very same files
    real_read, synthetic_read = pd.read_csv(real_csv), pd.read_csv(synthetic_csv)
    ours = sdmetrics_compatible(real_read, synthetic_read, table)
    metadata = {"columns": {name: {"sdtype": sdtype} for name, sdtype in ours.sdtypes.items()}}
    (tmp_path / "metadata.json").write_text(json.dumps(metadata))
    (tmp_path / "score.py").write_text(SCRIPT)
    done = subprocess.run(
        [
            str(python),
            str(tmp_path / "score.py"),
            str(real_csv),
            str(synthetic_csv),
            str(tmp_path / "metadata.json"),
            str(tmp_path / "scores.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    theirs = json.loads((tmp_path / "scores.json").read_text())
    print(synthetic_kind, "sdmetrics", theirs, "ours", ours.column_shapes, ours.column_pair_trends)
    assert ours.column_shapes == pytest.approx(theirs["column_shapes"], abs=TOLERANCE)
    assert ours.column_pair_trends == pytest.approx(theirs["column_pair_trends"], abs=TOLERANCE)
    # our own column-shape score differs only in counting nulls as a value: on adult it agrees too
    native_shapes = [c.score for c in column_fidelity(real_read, synthetic_read, table)]
    assert sum(native_shapes) / len(native_shapes) == pytest.approx(
        theirs["column_shapes"], abs=TOLERANCE
    )
    # the native pair-trend score (Cramér's V / correlation ratio) is a different measure: shown
    native_pairs = correlation_difference(real_read, synthetic_read, table).score
    print(synthetic_kind, "native pair trends", native_pairs)
