"""Load test of the REST API on loopback: many small runs posted at once to a server with a
bounded pool; every run must end complete, none lost, and no more than the pool's size may run
at once. ``python -m synthtab.evals.load --runs 20 --workers 4``"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

DEFAULT_DATASET = Path(__file__).resolve().parents[2].parent / "shared/datasets/titanic.parquet"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def max_overlap(windows: list[tuple[datetime, datetime]]) -> int:
    """The most intervals open at one instant (an end at t comes before a start at t)."""
    marks = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows])
    running = peak = 0
    for _, step in sorted(marks, key=lambda m: (m[0], m[1])):
        running += step
        peak = max(peak, running)
    return peak


def run_load(
    dataset: Path, runs: int, workers: int, rows: int, data_dir: Path, timeout_s: float = 900
) -> dict[str, Any]:
    frame = pd.read_parquet(dataset).sample(300, random_state=0)
    serve = [sys.executable, "-m", "synthtab", "serve", "--data-dir", str(data_dir)]
    key = subprocess.run(
        [*serve, "--create-key", "load"], capture_output=True, text=True, check=True
    ).stdout.strip()
    port = _free_port()
    log = (data_dir / "server.log").open("wb")
    server = subprocess.Popen(
        [*serve, "--port", str(port), "--workers", str(workers)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=url, headers={"X-API-Key": key}, timeout=120) as client:
            upload = client.post("/datasets", files={"file": ("t.csv", frame.to_csv(index=False))})
            upload.raise_for_status()
            body = {"dataset_id": upload.json()["id"], "rows": rows, "compute_tstr": False}
            started = time.perf_counter()

            def post(seed: int) -> str:
                response = client.post("/runs", json={**body, "seed": seed})
                response.raise_for_status()
                return str(response.json()["id"])

            with ThreadPoolExecutor(max_workers=runs) as posters:
                run_ids = list(posters.map(post, range(runs)))
            posted_s = time.perf_counter() - started
            final: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + timeout_s
            while len(final) < runs and time.monotonic() < deadline:
                for run in client.get("/runs", params={"limit": 500}).json():
                    if run["id"] in run_ids and run["status"] not in {"queued", "running"}:
                        final[run["id"]] = run
                time.sleep(0.5)
            wall_s = time.perf_counter() - started
            pool = client.get("/health").json()
    finally:
        server.terminate()
        server.wait(30)
        log.close()
    statuses: dict[str, int] = {}
    for run in final.values():
        statuses[run["status"]] = statuses.get(run["status"], 0) + 1
    windows = [
        (datetime.fromisoformat(r["started_at"]), datetime.fromisoformat(r["finished_at"]))
        for r in final.values()
        if r["started_at"] and r["finished_at"]
    ]
    durations = sorted((end - start).total_seconds() for start, end in windows)
    return {
        "runs_posted": runs,
        "runs_final": len(final),
        "runs_lost": runs - len(final),
        "statuses": statuses,
        "pool_size": workers,
        "max_running_from_timestamps": max_overlap(windows),
        "max_running_seen_by_pool": pool["max_running"],
        "rows_per_run": rows,
        "post_all_s": round(posted_s, 2),
        "wall_s": round(wall_s, 2),
        "run_s_median": round(durations[len(durations) // 2], 2) if durations else None,
        "run_s_max": round(durations[-1], 2) if durations else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--dataset", type=Path, default=DEFAULT_DATASET)
    parser.add_argument("--out", type=Path, help="write the numbers here as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="synthtab-load-") as scratch:
        result = run_load(args.dataset, args.runs, args.workers, args.rows, Path(scratch))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    ok = result["runs_lost"] == 0 and result["statuses"] == {"complete": args.runs}
    return 0 if ok and result["max_running_from_timestamps"] <= args.workers else 1


if __name__ == "__main__":
    sys.exit(main())
