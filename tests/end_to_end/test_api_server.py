"""The real server: `synthtab serve` in a subprocess on a loopback port, driven over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, data_dir: Path, workers: int = 2) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"server-{self.port}.log"

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "synthtab", "serve", "--data-dir", str(self.data_dir), *args],
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    def create_key(self, name: str) -> str:
        return self.cli("--create-key", name)

    def start(self) -> None:
        command = [sys.executable, "-m", "synthtab", "serve", "--data-dir", str(self.data_dir)]
        command += ["--port", str(self.port), "--workers", str(self.workers)]
        handle = self.log.open("ab")
        self.process = subprocess.Popen(command, stdout=handle, stderr=handle)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError(f"the server did not start:\n{self.log.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=60)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "server")
    running.data_dir.mkdir()
    yield running
    running.stop()


def upload(client: httpx.Client, frame: pd.DataFrame, name: str = "table.csv") -> dict:
    response = client.post("/datasets", files={"file": (name, frame.to_csv(index=False))})
    assert response.status_code == 201, response.text
    return response.json()


def wait_for(client: httpx.Client, run_id: str, statuses: set[str], seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}").json()
        if run["status"] in statuses:
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} stayed {run['status']}")


def sse_events(client: httpx.Client, run_id: str) -> list[tuple[str, dict]]:
    events = []
    with client.stream("GET", f"/runs/{run_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        kind = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                events.append((kind, json.loads(line.removeprefix("data: "))))
    return events


@pytest.fixture(scope="module")
def titanic(datasets_dir: Path) -> pd.DataFrame:
    return pd.read_parquet(datasets_dir / "titanic.parquet").sample(300, random_state=0)


def test_upload_run_stream_download_and_isolation(server: Server, titanic: pd.DataFrame) -> None:
    first_key, second_key = server.create_key("first"), server.create_key("second")
    server.start()
    with server.client(first_key) as first, server.client(second_key) as second:
        dataset = upload(first, titanic, "../../etc/passwd.csv")
        assert dataset["rows"] == 300 and dataset["name"] == "passwd.csv"
        assert not (server.data_dir.parent / "etc").exists()
        body = {"dataset_id": dataset["id"], "rows": 200, "compute_tstr": False, "seed": 3}
        body["rules"] = [{"name": "fare_not_negative", "expression": "fare >= 0"}]
        created = first.post("/runs", json=body)
        assert created.status_code == 202, created.text
        run_id = created.json()["id"]

        events = sse_events(first, run_id)
        kinds = [kind for kind, _ in events]
        finished_nodes = [e["node"] for k, e in events if k == "node_finished"]
        assert kinds[0] == "run_queued" and kinds[-1] == "end"
        assert "run_started" in kinds and "run_finished" in kinds
        assert finished_nodes[:4] == ["planner", "profiler", "privacy_pre", "generator"]
        assert finished_nodes[-1] == "reporter"

        run = first.get(f"/runs/{run_id}").json()
        assert run["status"] == "complete" and run["rows_delivered"] == 200
        assert 0.0 < run["fidelity"] <= 1.0 and run["tstr_ratio"] is None
        assert {a["name"] for a in run["artifacts"]} >= {"synthetic.csv", "report.html"}
        data = first.get(f"/runs/{run_id}/artifacts/data.csv")
        assert data.status_code == 200
        rows = data.text.strip().splitlines()
        assert len(rows) == 201 and rows[0].split(",") == list(titanic.columns)
        parquet = first.get(f"/runs/{run_id}/artifacts/data.parquet")
        assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
        xlsx = first.get(f"/runs/{run_id}/artifacts/data.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        manifest = first.get(f"/runs/{run_id}/artifacts/manifest.json").json()
        assert manifest["status"] == "complete" and manifest["request"]["rows"] == 200
        assert "<html" in first.get(f"/runs/{run_id}/artifacts/report.html").text.lower()
        assert first.post(f"/runs/{run_id}/cancel").status_code == 409
        assert first.post(f"/runs/{run_id}/answer", json={"answer": "x"}).status_code == 409

        # the second key sees nothing of the first key's
        assert second.get(f"/runs/{run_id}").status_code == 404
        assert second.get(f"/runs/{run_id}/events").status_code == 404
        assert second.get(f"/runs/{run_id}/artifacts/data.csv").status_code == 404
        assert second.get(f"/datasets/{dataset['id']}").status_code == 404
        assert second.get("/runs").json() == []
        stolen = second.post("/runs", json={"dataset_id": dataset["id"]})
        assert stolen.status_code == 404
        assert httpx.get(f"{server.url}/runs").status_code == 401

    # keys are kept only as salted hashes
    database = (server.data_dir / "synthtab.db").read_bytes()
    assert first_key.split("_", 2)[2].encode() not in database


def test_cancel_a_queued_and_a_running_run(tmp_path: Path, adult: pd.DataFrame) -> None:
    server = Server(tmp_path / "server", workers=1)
    server.data_dir.mkdir()
    key = server.create_key("k")
    server.start()
    try:
        with server.client(key) as client:
            dataset = upload(client, adult.sample(3_000, random_state=2), "adult.csv")
            body = {"dataset_id": dataset["id"], "target": "income"}
            running_id = client.post("/runs", json=body).json()["id"]
            queued_id = client.post("/runs", json=body).json()["id"]
            wait_for(client, running_id, {"running"})
            assert client.get(f"/runs/{queued_id}").json()["status"] == "queued"
            assert client.post(f"/runs/{queued_id}/cancel").json()["status"] == "cancelled"
            assert client.post(f"/runs/{running_id}/cancel").json()["status"] == "cancelling"
            cancelled = wait_for(client, running_id, {"cancelled", "complete", "failed"})
            assert cancelled["status"] == "cancelled"
            assert client.get(f"/runs/{running_id}/artifacts/data.csv").status_code == 409
            run_dir = server.data_dir / "runs" / running_id / ".synthtab"
            assert not list(run_dir.glob("*.parquet")), "real rows left behind"
            # the pool is free again: the cancelled queued run never started
            assert client.get(f"/runs/{queued_id}").json()["started_at"] is None
    finally:
        server.stop()


def test_server_killed_mid_run_resumes_it_after_restart(
    tmp_path: Path, adult: pd.DataFrame
) -> None:
    server = Server(tmp_path / "server", workers=1)
    server.data_dir.mkdir()
    key = server.create_key("k")
    server.start()
    with server.client(key) as client:
        dataset = upload(client, adult.sample(3_000, random_state=3), "adult.csv")
        body = {"dataset_id": dataset["id"], "target": "income", "rows": 2_000}
        run_id = client.post("/runs", json=body).json()["id"]
        seen = sse_events_until_node(client, run_id, "generator")
        assert seen, "the run ended before the generator finished"
        assert client.get(f"/runs/{run_id}").json()["status"] == "running"
    server.kill()
    server.start()
    try:
        with server.client(key) as client:
            run = wait_for(client, run_id, {"complete", "incomplete", "failed"}, seconds=180)
            assert run["status"] == "complete", run
            assert run["attempts"] == 2
            kinds = [kind for kind, _ in sse_events(client, run_id)]
            assert "run_recovered" in kinds and "run_resumed" in kinds
            assert kinds.count("run_started") == 1
            assert client.get(f"/runs/{run_id}/artifacts/manifest.json").status_code == 200
    finally:
        server.stop()


def sse_events_until_node(client: httpx.Client, run_id: str, node: str) -> list[tuple[str, dict]]:
    """Events up to (and including) the moment ``node`` has finished; the stream is left open."""
    seen = []
    with client.stream("GET", f"/runs/{run_id}/events") as response:
        kind = "message"
        for line in response.iter_lines():
            if line.startswith("event: "):
                kind = line.removeprefix("event: ")
            elif line.startswith("data: "):
                body = json.loads(line.removeprefix("data: "))
                seen.append((kind, body))
                if kind == "node_finished" and body.get("node") == node:
                    return seen
    return []


def test_serve_binds_loopback_by_default() -> None:
    from synthtab.app import build_parser

    args = build_parser().parse_args(["serve"])
    assert args.host == "127.0.0.1" and os.environ.get("SYNTHTAB_HOST") is None
