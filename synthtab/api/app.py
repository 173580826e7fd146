"""The REST API: upload a dataset, start runs of the graph, follow them, fetch what they made.

``create_app(settings)`` builds the FastAPI app; ``synthtab serve`` runs it with uvicorn. Every
route but the docs needs an ``X-API-Key``; a key sees only its own datasets and runs (anything
else is a 404, so ids of other keys' runs leak nothing). Files live under the server's data
directory by generated id; an uploader's file name is only ever shown, never used as a path."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, File, Header, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import ValidationError

from synthtab.agents.workspace import RunPaths
from synthtab.api.schemas import (
    AnswerIn,
    ArtifactOut,
    CancelOut,
    DatasetOut,
    ErrorOut,
    PoolOut,
    RunCreate,
    RunOut,
    ServerSettings,
)
from synthtab.api.worker import (
    RunPool,
    cancel_reservation,
    record_reservation,
    reserve_budget,
)
from synthtab.graphs.build import build_graph
from synthtab.graphs.runner import GraphFactory, prepare_run
from synthtab.io.errors import InputError
from synthtab.io.readers import read_table
from synthtab.io.writers import write_table
from synthtab.schema import GenerationRequest
from synthtab.store import repository as repo
from synthtab.store.models import Dataset, Run

log = logging.getLogger("synthtab.api")

UPLOAD_FORMATS = {".csv": "csv", ".parquet": "parquet"}
CHUNK_BYTES = 1 << 20
SSE_POLL_SECONDS = 0.25
DOCUMENTS = ("report.html", "report.json", "manifest.json", "schema.json")
ArtifactName = Literal[
    "data.csv",
    "data.parquet",
    "data.json",
    "data.xlsx",
    "report.html",
    "report.json",
    "manifest.json",
    "schema.json",
]
NOT_FOUND = {404: {"model": ErrorOut, "description": "no such item for this API key"}}
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)


def _store(request: Request) -> repo.Store:
    return request.app.state.store


def _settings(request: Request) -> ServerSettings:
    return request.app.state.settings


def _pool(request: Request) -> RunPool:
    return request.app.state.pool


def owner_of_key(request: Request, api_key: Annotated[str | None, Depends(api_key_header)]) -> str:
    if not api_key:
        raise HTTPException(401, "missing X-API-Key header")
    owner = repo.authenticate(_store(request), api_key)
    if owner is None:
        raise HTTPException(401, "invalid API key")
    return owner


Owner = Annotated[str, Depends(owner_of_key)]
StoreDep = Annotated[repo.Store, Depends(_store)]


def _run_out(store: repo.Store, run: Run) -> RunOut:
    artifacts = [
        ArtifactOut(name=a.name, size_bytes=a.size_bytes, sha256=a.sha256)
        for a in repo.list_artifacts(store, run.id)
    ]
    fields = {name: getattr(run, name) for name in RunOut.model_fields if name != "artifacts"}
    return RunOut(**fields, artifacts=artifacts)


def _dataset_out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(**{name: getattr(dataset, name) for name in DatasetOut.model_fields})


def _owned_run(store: repo.Store, owner: str, run_id: str) -> Run:
    run = repo.get_run(store, run_id, owner)
    if run is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return run


async def _save_upload(upload: UploadFile, target: Path, limit: int) -> tuple[int, str]:
    """Copy the upload to ``target`` chunk by chunk, stopping as soon as it passes ``limit``."""
    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as handle:
        while chunk := await upload.read(CHUNK_BYTES):
            size += len(chunk)
            if size > limit:
                raise HTTPException(413, f"the file is larger than the limit of {limit:,} bytes")
            digest.update(chunk)
            handle.write(chunk)
    return size, digest.hexdigest()


def _recover(store: repo.Store, pool: RunPool) -> None:
    """Runs a previous server left behind go back into the pool; execute() resumes each from its
    checkpoint, or the worker fails it with the reason when its files are gone."""
    for run in repo.unfinished_runs(store):
        if run.status == "running":
            reason = "the server stopped during the run; resuming from its checkpoint"
            repo.requeue_run(store, run.id, reason)
            repo.append_event(store, run.id, {"event": "run_recovered", "reason": reason})
        pool.submit(run.id)


def create_app(
    settings: ServerSettings | None = None, graph_factory: GraphFactory = build_graph
) -> FastAPI:
    settings = settings or ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for folder in ("datasets", "runs", "exports"):
            (settings.data_dir / folder).mkdir(parents=True, exist_ok=True)
        store = repo.open_store(settings.resolved_database_url())
        pool = RunPool(store, settings.workers, graph_factory)
        app.state.settings, app.state.store, app.state.pool = settings, store, pool
        _recover(store, pool)
        try:
            yield
        finally:
            pool.shutdown()
            store.engine.dispose()

    app = FastAPI(
        title="SynthTab",
        summary="Synthetic tabular data people can trust, over HTTP.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.exception_handler(InputError)
    async def input_error(_: Request, error: InputError) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=422)

    @app.exception_handler(ValidationError)
    async def invalid_value(_: Request, error: ValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)

    @app.get("/health", response_model=PoolOut)
    def health(request: Request) -> PoolOut:
        return PoolOut(**_pool(request).stats())

    @app.post("/datasets", response_model=DatasetOut, status_code=201)
    async def upload_dataset(
        owner: Owner,
        store: StoreDep,
        file: Annotated[UploadFile, File(description="a CSV or Parquet file")],
        content_length: Annotated[int | None, Header()] = None,
    ) -> DatasetOut:
        limit = settings.max_upload_bytes
        if content_length is not None and content_length > limit + CHUNK_BYTES:
            raise HTTPException(413, f"the upload is larger than the limit of {limit:,} bytes")
        display_name = Path(file.filename or "upload").name[:255] or "upload"
        suffix = Path(display_name).suffix.lower()
        if suffix not in UPLOAD_FORMATS:
            raise HTTPException(415, "upload a .csv or .parquet file")
        dataset_id = repo.new_id()
        target = settings.data_dir / "datasets" / f"{dataset_id}{suffix}"
        try:
            size, sha256 = await _save_upload(file, target, limit)
            frame = await run_in_threadpool(read_table, target)
        except BaseException:
            target.unlink(missing_ok=True)
            raise
        if len(frame) > settings.max_rows:
            target.unlink(missing_ok=True)
            raise HTTPException(
                413, f"the table has {len(frame):,} rows; the limit is {settings.max_rows:,}"
            )
        if len(frame) == 0 or frame.shape[1] == 0:
            target.unlink(missing_ok=True)
            raise HTTPException(422, "the table has no data rows or no columns")
        dataset = Dataset(
            id=dataset_id,
            owner_id=owner,
            name=display_name,
            file_format=UPLOAD_FORMATS[suffix],
            path=str(target),
            size_bytes=size,
            rows=len(frame),
            columns=[str(c) for c in frame.columns],
            sha256=sha256,
        )
        return _dataset_out(repo.add_dataset(store, dataset))

    @app.get("/datasets", response_model=list[DatasetOut])
    def list_datasets(owner: Owner, store: StoreDep) -> list[DatasetOut]:
        return [_dataset_out(d) for d in repo.list_datasets(store, owner)]

    @app.get("/datasets/{dataset_id}", response_model=DatasetOut, responses=NOT_FOUND)
    def get_dataset(dataset_id: str, owner: Owner, store: StoreDep) -> DatasetOut:
        dataset = repo.get_dataset(store, owner, dataset_id)
        if dataset is None:
            raise HTTPException(404, f"no dataset {dataset_id!r}")
        return _dataset_out(dataset)

    @app.post("/runs", response_model=RunOut, status_code=202, responses=NOT_FOUND)
    def create_run(body: RunCreate, owner: Owner, store: StoreDep, request: Request) -> RunOut:
        dataset = repo.get_dataset(store, owner, body.dataset_id)
        if dataset is None:
            raise HTTPException(404, f"no dataset {body.dataset_id!r}")
        seed_dataset = None
        if body.seed_dataset_id is not None:
            seed_dataset = repo.get_dataset(store, owner, body.seed_dataset_id)
            if seed_dataset is None:
                raise HTTPException(404, f"no dataset {body.seed_dataset_id!r}")
        settings_fields = body.model_dump(exclude={"dataset_id", "seed_dataset_id"})
        generation = GenerationRequest(
            source=dataset.path,
            table_name=Path(dataset.name).stem[:64] or "data",
            seed_table=None if seed_dataset is None else seed_dataset.path,
            **settings_fields,
        )
        run_id = repo.new_id()
        run_dir = settings.data_dir / "runs" / run_id
        ledger_path = settings.resolved_ledger_path()
        reservation = None
        if generation.epsilon is not None:
            # the budget is charged before anything reads the rows, as the CLI's private run
            reservation = reserve_budget(
                ledger_path, Path(dataset.path), dataset.name, generation.epsilon,
                generation.delta, generation.privacy_budget, run_dir,
            )  # fmt: skip
        try:
            prepare_run(generation, run_dir)  # checks the request against the data: 422 now
            if reservation is not None:
                record_reservation(ledger_path, reservation, run_dir)
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)
            if reservation is not None:
                cancel_reservation(ledger_path, reservation)
            raise
        run = Run(
            id=run_id,
            owner_id=owner,
            dataset_id=dataset.id,
            status="queued",
            request=body.model_dump(mode="json"),
            run_dir=str(run_dir),
            messages=[],
        )
        repo.add_run(store, run)
        repo.append_event(store, run_id, {"event": "run_queued", "run_id": run_id})
        _pool(request).submit(run_id)
        return _run_out(store, run)

    @app.get("/runs", response_model=list[RunOut])
    def list_runs(
        owner: Owner,
        store: StoreDep,
        status: Annotated[str | None, Query(max_length=16)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> list[RunOut]:
        return [_run_out(store, r) for r in repo.list_runs(store, owner, status, limit, offset)]

    @app.get("/runs/{run_id}", response_model=RunOut, responses=NOT_FOUND)
    def get_run(run_id: str, owner: Owner, store: StoreDep) -> RunOut:
        return _run_out(store, _owned_run(store, owner, run_id))

    @app.get("/runs/{run_id}/events", responses=NOT_FOUND)
    async def run_events(
        run_id: str,
        owner: Owner,
        store: StoreDep,
        request: Request,
        last_event_id: Annotated[int | None, Header(ge=0)] = None,
    ) -> StreamingResponse:
        """Server-Sent Events: every stored event first, then new ones as the graph moves; the
        stream ends when the run is final or waits for an answer."""
        await run_in_threadpool(_owned_run, store, owner, run_id)

        async def stream() -> AsyncIterator[str]:
            after = last_event_id or 0
            while True:
                batch = await run_in_threadpool(repo.events_after, store, run_id, after)
                for item in batch:
                    after = item.id
                    kind = item.body.get("event", "message")
                    yield f"id: {item.id}\nevent: {kind}\ndata: {json.dumps(item.body)}\n\n"
                if batch:
                    continue
                run = await run_in_threadpool(repo.get_run, store, run_id)
                if run is None or repo.is_final(run.status) or run.status == "waiting":
                    final = await run_in_threadpool(repo.events_after, store, run_id, after)
                    if not final:
                        yield f"event: end\ndata: {json.dumps({'status': getattr(run, 'status', None)})}\n\n"
                        return
                    continue
                if await request.is_disconnected():
                    return
                await asyncio.sleep(SSE_POLL_SECONDS)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @app.post(
        "/runs/{run_id}/answer",
        response_model=RunOut,
        status_code=202,
        responses={**NOT_FOUND, 409: {"model": ErrorOut}},
    )
    def answer_run(
        run_id: str, body: AnswerIn, owner: Owner, store: StoreDep, request: Request
    ) -> RunOut:
        _owned_run(store, owner, run_id)
        if not repo.queue_answer(store, run_id, body.answer):
            raise HTTPException(409, "the run is not waiting for an answer")
        repo.append_event(store, run_id, {"event": "answer_received"})
        _pool(request).submit(run_id)
        return _run_out(store, _owned_run(store, owner, run_id))

    @app.post(
        "/runs/{run_id}/cancel",
        response_model=CancelOut,
        status_code=202,
        responses={**NOT_FOUND, 409: {"model": ErrorOut}},
    )
    def cancel_run(run_id: str, owner: Owner, store: StoreDep) -> CancelOut:
        run = _owned_run(store, owner, run_id)
        if repo.is_final(run.status):
            raise HTTPException(409, f"the run has already ended ({run.status})")
        status = repo.request_cancel(store, run_id)
        if status == "cancelled":
            paths = RunPaths(run_dir=Path(run.run_dir))
            for path in paths.sensitive_work_files():
                path.unlink(missing_ok=True)
            repo.append_event(store, run_id, {"event": "run_cancelled"})
        return CancelOut(id=run_id, status=status)

    @app.get(
        "/runs/{run_id}/artifacts/{name}",
        responses={**NOT_FOUND, 409: {"model": ErrorOut}},
        response_class=FileResponse,
    )
    def get_artifact(run_id: str, name: ArtifactName, owner: Owner, store: StoreDep) -> Any:
        run = _owned_run(store, owner, run_id)
        if run.status not in {"complete", "incomplete"}:
            raise HTTPException(409, f"the run has no artifacts yet ({run.status})")
        paths = RunPaths(run_dir=Path(run.run_dir))
        if name in DOCUMENTS:
            return FileResponse(paths.run_dir / name, filename=name)
        fmt = name.removeprefix("data.")
        delivered_format = run.request.get("output_format", "csv")
        delivered = paths.data_file(delivered_format)
        if fmt == delivered_format:
            return FileResponse(delivered, filename=delivered.name)
        export = settings.data_dir / "exports" / run_id / paths.data_file(fmt).name
        if not export.exists():
            export.parent.mkdir(parents=True, exist_ok=True)
            write_table(read_table(delivered), export, fmt)  # type: ignore[arg-type]
        return FileResponse(export, filename=export.name)

    return app
