"""Fit one SDV single-table synthesizer at its default settings and sample from it.

Runs inside the SDV virtual environment (never imports synthtab):

    python sdv_peer.py SYNTHESIZER TRAIN.parquet ROWS OUT.parquet TIMINGS.json SEED

SYNTHESIZER is gaussiancopula, ctgan or tvae. Metadata comes from SDV's own detection, the way a
user of SDV starts.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sdv.metadata import Metadata
from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

SYNTHESIZERS = {
    "gaussiancopula": GaussianCopulaSynthesizer,
    "ctgan": CTGANSynthesizer,
    "tvae": TVAESynthesizer,
}


def main(argv: list[str]) -> int:
    kind, train_path, rows, out_path, timings_path, seed = argv
    np.random.seed(int(seed))
    try:
        import torch

        torch.manual_seed(int(seed))
    except ImportError:  # the Gaussian copula needs no torch
        pass
    train = pd.read_parquet(train_path)
    started = time.perf_counter()
    metadata = Metadata.detect_from_dataframes({"train": train})
    synthesizer = SYNTHESIZERS[kind](metadata)
    # SDV 2 takes and returns {table name: frame}, even for one table
    synthesizer.fit({"train": train})
    fitted = time.perf_counter()
    synthetic = synthesizer.sample(num_rows=int(rows))["train"]
    sampled = time.perf_counter()
    synthetic.to_parquet(out_path, index=False)
    timings = {"fit_seconds": fitted - started, "sample_seconds": sampled - fitted}
    Path(timings_path).write_text(json.dumps(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
