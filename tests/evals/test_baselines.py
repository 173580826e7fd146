from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

from synthtab.evals.baselines import (
    PEERS,
    PeerRunner,
    PeerSpec,
    generator_seconds,
    resolve_peers,
    run_measured,
)

# a stand-in peer: bootstraps the training rows, writes the same files a real peer script writes
FAKE_PEER = """
import json, sys, time
import pandas as pd
kind, train_path, rows, out_path, timings_path, seed = sys.argv[1:]
if kind == "crash":
    raise SystemExit("the fake peer crashed on purpose")
if kind == "slow":
    time.sleep(30)
train = pd.read_parquet(train_path)
train.sample(int(rows), replace=True, random_state=int(seed)).to_parquet(out_path, index=False)
json.dump({"fit_seconds": 1.5, "sample_seconds": 0.25}, open(timings_path, "w"))
"""


def test_resolve_peers_accepts_names_and_aliases_once() -> None:
    specs = resolve_peers(["sdv-gaussiancopula", "ctgan", "TVAE", "tabularargn", "sdv-ctgan"])
    assert [s.name for s in specs] == ["sdv-gaussiancopula", "sdv-ctgan", "sdv-tvae", "tabularargn"]
    assert {s.venv for s in specs} == {"sdv", "mostlyai"}


def test_resolve_peers_rejects_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown peer 'synthpop'"):
        resolve_peers(["synthpop"])


def test_every_peer_pins_exact_versions() -> None:
    for spec in PEERS.values():
        assert spec.packages and all("==" in p for p in spec.packages), spec.name


def _event(time: float, event: str, message: str = "", node: str = "generator") -> dict:
    return {"time": time, "event": event, "node": node, "message": message}


def test_generator_seconds_splits_fit_from_sampling_over_rounds() -> None:
    events = [
        _event(0.0, "node_started"),
        _event(1.0, "progress", "fitting argn on 3,000 rows"),
        _event(11.0, "progress", "sampling 4,000 rows (round 1)"),
        _event(12.5, "node_finished"),
        _event(13.0, "node_started", node="validator"),
        _event(14.0, "node_finished", node="validator"),
        _event(15.0, "node_started"),
        _event(15.5, "progress", "sampling 20 rows (round 2)"),
        _event(16.0, "node_finished"),
    ]
    fit, sample = generator_seconds(events)
    assert fit == pytest.approx(10.0)
    assert sample == pytest.approx(2.0)


def test_generator_seconds_is_none_when_events_lack_the_shape() -> None:
    assert generator_seconds([_event(0.0, "node_started"), _event(3.0, "node_finished")]) == (
        None,
        None,
    )


def test_run_measured_reports_exit_code_and_memory(tmp_path: Path) -> None:
    code = "import sys; block = bytearray(80 * 1024 * 1024); print('x' * 200_000, file=sys.stderr)"
    ok = run_measured([sys.executable, "-c", code], tmp_path / "o.log", tmp_path / "e.log")
    assert ok.exit_code == 0
    assert ok.peak_memory_mb > 80  # the child's own allocation, not the parent's
    assert len(ok.log_tail) == 2_000  # 200 kB on stderr: a file, so no pipe ever blocks
    failed = run_measured(
        [sys.executable, "-c", "raise SystemExit(7)"], tmp_path / "o2.log", tmp_path / "e2.log"
    )
    assert failed.exit_code == 7


@pytest.fixture()
def small_train(tmp_path: Path) -> Path:
    frame = pd.DataFrame({"a": range(50), "b": ["x", "y"] * 25})
    path = tmp_path / "train.parquet"
    frame.to_parquet(path, index=False)
    return path


def _fake_runner(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch, timeout: int | None = None
) -> PeerRunner:
    script = tmp_path / "fake_peer.py"
    script.write_text(FAKE_PEER)
    spec = PeerSpec(
        name=f"fake-{kind}",
        label="fake",
        venv="unused",
        packages=["fake==1"],
        script=str(script),  # absolute: PEER_SCRIPTS / script is the script itself
        script_args=[kind],
    )
    runner = PeerRunner(spec, timeout)
    monkeypatch.setattr(runner, "python", lambda: Path(sys.executable))
    return runner


def test_peer_runner_reads_the_scripts_output_and_timings(
    tmp_path: Path, small_train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _fake_runner(tmp_path, "ok", monkeypatch).run(small_train, "b", 70, tmp_path, seed=3)
    assert run.exit_code == 0 and run.status == "ok" and run.error is None
    assert (run.fit_seconds, run.sample_seconds) == (1.5, 0.25)
    assert run.peak_memory_mb > 0
    assert len(pd.read_parquet(run.synthetic_path)) == 70


def test_peer_runner_reports_a_crash(
    tmp_path: Path, small_train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _fake_runner(tmp_path, "crash", monkeypatch).run(small_train, "b", 70, tmp_path, seed=3)
    assert run.exit_code == 1 and run.status == "failed"
    assert run.synthetic_path is None
    assert "crashed on purpose" in (run.error or "")


def test_peer_runner_stops_a_peer_at_the_time_cap(
    tmp_path: Path, small_train: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = _fake_runner(tmp_path, "slow", monkeypatch, timeout=2)
    run = runner.run(small_train, "b", 70, tmp_path, seed=3)
    assert run.exit_code == 124 and run.status == "failed" and run.synthetic_path is None
    assert run.error == "stopped by the suite's time cap after 2 s"
    assert run.wall_seconds < 25


@pytest.mark.parametrize("peer", ["sdv-gaussiancopula"])
def test_real_peer_in_its_venv(peer: str, datasets_dir: Path, tmp_path: Path) -> None:
    """Runs only where the peer's venv is set up (`synthtab eval --suite compare` sets it up)."""
    runner = PeerRunner(PEERS[peer])
    if not runner.ready():
        pytest.skip(f"the {PEERS[peer].venv} venv is not set up in .eval-venvs")
    train = tmp_path / "train.parquet"
    pd.read_parquet(datasets_dir / "credit_data.parquet").sample(400, random_state=0).to_parquet(
        train, index=False
    )
    run = runner.run(train, "Status", 300, tmp_path, seed=0)
    assert run.exit_code == 0, run.error
    synthetic = pd.read_parquet(run.synthetic_path)
    assert len(synthetic) == 300
    assert list(synthetic.columns) == list(pd.read_parquet(train).columns)
    assert run.fit_seconds is not None and run.fit_seconds > 0
