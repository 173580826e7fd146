"""Fit mostlyai-engine's TabularARGN at its default settings and sample from it.

Runs inside the mostlyai-engine virtual environment (never imports synthtab):

    python mostlyai_peer.py TRAIN.parquet ROWS OUT.parquet TIMINGS.json SEED
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd
from mostlyai.engine import TabularARGN


def main(argv: list[str]) -> int:
    train_path, rows, out_path, timings_path, seed = argv
    train = pd.read_parquet(train_path)
    # the workspace goes next to the output, so nothing is left in the caller's folder
    workspace = Path(out_path).with_suffix(".workspace")
    started = time.perf_counter()
    model = TabularARGN(workspace_dir=workspace, random_state=int(seed))
    model.fit(train)
    fitted = time.perf_counter()
    synthetic = model.sample(n_samples=int(rows))
    sampled = time.perf_counter()
    synthetic.to_parquet(out_path, index=False)
    timings = {"fit_seconds": fitted - started, "sample_seconds": sampled - fitted}
    Path(timings_path).write_text(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
