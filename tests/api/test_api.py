"""The REST API in-process: validation and limits, an interrupted graph answered over HTTP, and a
schemathesis property-based run against the OpenAPI document that must find no 5xx."""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import schemathesis
import uvicorn
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import interrupt

from synthtab.api.app import create_app
from synthtab.api.schemas import ServerSettings
from synthtab.graphs.state import RunState
from synthtab.store.repository import create_api_key, open_store

SMALL = pd.DataFrame({"age": [20, 31, 45, 52, 38, 27] * 5, "city": list("abcabc") * 5})


def asking_graph(saver: SqliteSaver) -> CompiledStateGraph:
    """A two-node graph whose planner asks a clarifying question through LangGraph's interrupt."""

    def planner(state: dict[str, Any]) -> dict[str, Any]:
        answer = interrupt({"question": "How many rows do you need?"})
        return {"messages": [f"planner: the user asked for {answer} rows"]}

    def reporter(state: dict[str, Any]) -> dict[str, Any]:
        return {"status": "complete", "outputs": {}}

    graph = StateGraph(RunState)
    graph.add_node("planner", planner)
    graph.add_node("reporter", reporter)
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "reporter")
    graph.add_edge("reporter", END)
    return graph.compile(checkpointer=saver)


def server_settings(tmp_path: Path, **limits: Any) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path / "server", workers=1, **limits)


def make_key(config: ServerSettings, name: str = "tester") -> str:
    config.data_dir.mkdir(parents=True, exist_ok=True)
    return create_api_key(open_store(config.resolved_database_url()), name)


def upload(client: TestClient | httpx.Client, frame: pd.DataFrame, name: str = "t.csv") -> str:
    response = client.post("/datasets", files={"file": (name, frame.to_csv(index=False))})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def wait_status(client: TestClient, run_id: str, wanted: set[str]) -> dict[str, Any]:
    for _ in range(600):
        run = client.get(f"/runs/{run_id}").json()
        if run["status"] in wanted:
            return run
        time.sleep(0.05)
    raise AssertionError(run)


def test_an_interrupted_run_waits_and_an_answer_resumes_it(tmp_path: Path) -> None:
    config = server_settings(tmp_path)
    key = make_key(config)
    with TestClient(create_app(config, graph_factory=asking_graph)) as client:
        client.headers["X-API-Key"] = key
        dataset_id = upload(client, SMALL)
        run_id = client.post("/runs", json={"dataset_id": dataset_id}).json()["id"]
        waiting = wait_status(client, run_id, {"waiting", "failed", "complete"})
        assert waiting["status"] == "waiting", waiting
        assert waiting["questions"] == [{"question": "How many rows do you need?"}]
        events = client.get(f"/runs/{run_id}/events").text
        assert "event: waiting_for_answer" in events and "How many rows" in events
        answered = client.post(f"/runs/{run_id}/answer", json={"answer": 250})
        assert answered.status_code == 202
        done = wait_status(client, run_id, {"complete", "failed", "incomplete"})
        assert done["status"] == "complete", done
        assert "planner: the user asked for 250 rows" in done["messages"]
        # not waiting any more: a second answer is a conflict
        assert client.post(f"/runs/{run_id}/answer", json={"answer": 1}).status_code == 409


def test_bad_requests_get_clear_4xx_without_stack_traces(tmp_path: Path) -> None:
    config = server_settings(tmp_path, max_upload_bytes=2_000, max_rows=20)
    key = make_key(config)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        assert client.get("/runs").status_code == 401
        client.headers["X-API-Key"] = key + "tampered"
        assert client.get("/runs").status_code == 401
        client.headers["X-API-Key"] = key
        too_many_rows = client.post("/datasets", files={"file": ("a.csv", SMALL.to_csv())})
        assert too_many_rows.status_code == 413 and "limit is 20" in too_many_rows.text
        big = pd.DataFrame({"x": range(1_000)}).to_csv(index=False)
        assert client.post("/datasets", files={"file": ("b.csv", big)}).status_code == 413
        exe = client.post("/datasets", files={"file": ("x.exe", b"MZ")})
        assert exe.status_code == 415
        broken = client.post("/datasets", files={"file": ("c.parquet", b"not parquet")})
        assert broken.status_code == 422 and "Traceback" not in broken.text
        assert not list((config.data_dir / "datasets").iterdir()), "rejected files were kept"
        dataset_id = upload(client, SMALL.head(10))
        unknown_field = client.post("/runs", json={"dataset_id": dataset_id, "rowz": 5})
        assert unknown_field.status_code == 422 and "rowz" in unknown_field.text
        bad_rows = client.post("/runs", json={"dataset_id": dataset_id, "rows": 0})
        assert bad_rows.status_code == 422
        bad_target = client.post("/runs", json={"dataset_id": dataset_id, "target": "nope"})
        assert bad_target.status_code == 422 and "'nope' is not a column" in bad_target.text
        missing_seeds = client.post(
            "/runs", json={"dataset_id": dataset_id, "seed_dataset_id": "nope"}
        )
        assert missing_seeds.status_code == 404 and "no dataset 'nope'" in missing_seeds.text
        foreign = upload(client, pd.DataFrame({"height": [1, 2]}), "seeds.csv")
        bad_seeds = client.post(
            "/runs", json={"dataset_id": dataset_id, "seed_dataset_id": foreign}
        )
        assert bad_seeds.status_code == 422 and "['height'] are not columns" in bad_seeds.text
        bad_rule = client.post(
            "/runs",
            json={"dataset_id": dataset_id, "rules": [{"name": "r", "expression": "age >>"}]},
        )
        assert bad_rule.status_code == 422 and "rule 'r' is invalid" in bad_rule.text
        assert client.get("/runs/nope/artifacts/data.csv").status_code == 404
        assert client.get("/runs/x/artifacts/..%2F..%2Fsecret").status_code in {404, 422}


# --- schemathesis: no operation answers a 5xx, whatever valid-looking input it gets -------------

openapi = create_app(ServerSettings()).openapi()
schema = schemathesis.openapi.from_dict(openapi)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """A uvicorn server on a loopback port in a thread, a key, and one uploaded dataset."""
    config = server_settings(tmp_path_factory.mktemp("live"))
    key = make_key(config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    with httpx.Client(base_url=url, headers={"X-API-Key": key}) as client:
        dataset_id = upload(client, SMALL)
    yield url, key, dataset_id
    server.should_exit = True
    thread.join(10)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error(case: Any, live: tuple[str, str, str]) -> None:
    url, key, _ = live
    if case.path == "/runs" and case.method == "POST":
        # quick runs only: a generated body may ask for millions of rows
        if isinstance(case.body, dict):
            case.body["rows"] = 5
    response = case.call(base_url=url, headers={"X-API-Key": key}, timeout=60)
    assert response.status_code < 500, (case.method, case.path, response.text)


def test_a_run_seeded_by_an_uploaded_table_keeps_its_rows(
    tmp_path: Path, adult: pd.DataFrame
) -> None:
    config = server_settings(tmp_path)
    key = make_key(config)
    seeds = adult.sample(150, random_state=4)[["age", "education"]].reset_index(drop=True)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = key
        dataset_id = upload(client, adult.sample(1_500, random_state=3), "adult.csv")
        seed_id = upload(client, seeds, "seeds.csv")
        body = {"model": "gaussian_copula", "compute_tstr": False, "cap_quantile": 0.0}
        created = client.post(
            "/runs", json={"dataset_id": dataset_id, "seed_dataset_id": seed_id, **body}
        )
        assert created.status_code == 202, created.text
        run = wait_status(client, created.json()["id"], {"complete", "incomplete", "failed"})
        assert run["status"] == "complete", run
        data = client.get(f"/runs/{run['id']}/artifacts/data.csv")
        assert data.status_code == 200
    delivered = pd.read_csv(io.StringIO(data.text))
    assert delivered["age"].tolist() == seeds["age"].tolist()
    assert delivered["education"].tolist() == seeds["education"].tolist()


def test_a_dp_run_is_charged_to_the_privacy_ledger_and_an_overdraft_refused(
    tmp_path: Path, adult: pd.DataFrame
) -> None:
    import json
    import sqlite3

    config = server_settings(tmp_path)
    key = make_key(config)
    body = {"epsilon": 1.0, "privacy_budget": 1.5, "rows": 200, "compute_tstr": False}
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        client.headers["X-API-Key"] = key
        dataset_id = upload(client, adult.sample(2_000, random_state=3), "adult.csv")
        created = client.post("/runs", json={"dataset_id": dataset_id, **body})
        assert created.status_code == 202, created.text
        run_id = created.json()["id"]
        for _ in range(1_200):
            run = client.get(f"/runs/{run_id}").json()
            if run["status"] in {"complete", "incomplete", "failed"}:
                break
            time.sleep(0.1)
        assert run["status"] in {"complete", "incomplete"}, run
        manifest_path = config.data_dir / "runs" / run_id / "manifest.json"
        spent = json.loads(manifest_path.read_text())["differential_privacy"]["spent_epsilon"]
        assert 0 < spent <= 1.0
        # a second epsilon 1 on the same file would take it to ~2 > 1.5: refused, nothing run
        refused = client.post("/runs", json={"dataset_id": dataset_id, **body})
        assert refused.status_code == 422 and "privacy budget refused" in refused.text
        assert "Traceback" not in refused.text
        assert len(client.get("/runs").json()) == 1
    with sqlite3.connect(config.resolved_ledger_path()) as connection:
        entries = connection.execute("SELECT epsilon, status FROM privacy_ledger").fetchall()
    assert entries == [(pytest.approx(spent), "settled")]
