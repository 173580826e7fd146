from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from synthtab.app import main


def _people_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(2)
    n = 400
    city = rng.choice(["north", "south", "east"], size=n).astype(object)
    city[:4] = "hamlet"  # rare: at most 4 of them reach the training rows
    df = pd.DataFrame(
        {
            "email": [f"someone{i}@realmail.com" for i in range(n)],
            "city": city,
            "salary": np.round(rng.lognormal(10, 1, size=n), 2),
        }
    )
    path = tmp_path / "people.csv"
    df.to_csv(path, index=False)
    return path


def _run(tmp_path: Path, name: str, *flags: str) -> dict:
    source = _people_csv(tmp_path)
    out = tmp_path / name
    code = main(
        [
            "generate",
            str(source),
            "--out",
            str(out),
            "--rows",
            "200",
            "--no-tstr",
            "--quiet",
            *flags,
        ]
    )
    assert code == 0
    return json.loads((out / "report.json").read_text())["privacy"], out


def test_privacy_pre_protects_training_rows_and_reports_it(tmp_path: Path) -> None:
    privacy, out = _run(tmp_path, "on")
    actions = {a["column"]: a for a in privacy["protection"][0]["actions"]}
    assert actions["email"]["action"] == "fake" and actions["email"]["values_changed"] > 0
    assert actions["city"]["action"] == "merge" and "hamlet" in actions["city"]["detail"]
    assert actions["salary"]["action"] == "cap"
    delivered = pd.read_csv(out / "synthetic.csv")
    assert not delivered["email"].str.endswith("@realmail.com").any()
    assert "hamlet" not in set(delivered["city"])
    assert privacy["attacks"] is not None and privacy["policy"] == []


def test_each_protection_switches_off(tmp_path: Path) -> None:
    privacy, out = _run(
        tmp_path, "off", "--no-fake-pii", "--rare-k", "0", "--cap-quantile", "0", "--no-attacks"
    )
    assert privacy["protection"][0]["actions"] == []
    assert privacy["attacks"] is None
    delivered = pd.read_csv(out / "synthetic.csv")
    assert delivered["email"].str.endswith("@realmail.com").all()
