"""SDMetrics' QualityReport of synthetic tables against one real table.

Runs inside a virtual environment that has sdmetrics (the SDV one ships it); never imports
synthtab:

    python sdmetrics_quality.py REAL.parquet METADATA.json OUT.json NAME=SYNTHETIC.parquet ...

Writes {NAME: {"score", "column_shapes", "column_pair_trends"} or {"error"}} to OUT.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from sdmetrics.reports.single_table import QualityReport


def _score(real: pd.DataFrame, synthetic: pd.DataFrame, metadata: dict) -> dict:
    report = QualityReport()
    report.generate(real, synthetic[list(real.columns)], metadata, verbose=False)
    properties = report.get_properties().set_index("Property")["Score"]
    return {
        "score": float(report.get_score()),
        "column_shapes": float(properties.get("Column Shapes")),
        "column_pair_trends": float(properties.get("Column Pair Trends")),
    }


def main(argv: list[str]) -> int:
    real_path, metadata_path, out_path, *named = argv
    real = pd.read_parquet(real_path)
    metadata = json.loads(Path(metadata_path).read_text())
    scores: dict[str, dict] = {}
    for item in named:
        name, _, path = item.partition("=")
        try:
            scores[name] = _score(real, pd.read_parquet(path), metadata)
        except Exception as error:  # one bad table must not lose the others' scores
            scores[name] = {"error": f"{type(error).__name__}: {error}"}
    Path(out_path).write_text(json.dumps(scores, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
