"""``synthtab serve``: the REST API under uvicorn, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def add_serve_parser(commands: Any) -> None:
    serve = commands.add_parser("serve", help="run the REST API (OpenAPI docs at /docs)")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument(
        "--data-dir",
        default=os.environ.get("SYNTHTAB_DATA_DIR", "synthtab-server"),
        help="folder for uploads, runs and (by default) the SQLite job store",
    )
    serve.add_argument(
        "--db",
        default=os.environ.get("SYNTHTAB_DATABASE_URL"),
        help="SQLAlchemy URL of the job store (default: SQLite file in --data-dir)",
    )
    serve.add_argument("--workers", type=int, default=2, help="runs executing at once")
    serve.add_argument("--max-upload-mb", type=float, default=200.0)
    serve.add_argument("--max-rows", type=int, default=2_000_000)
    serve.add_argument(
        "--create-key", metavar="NAME", help="create an API key, print it once, and exit"
    )


def run_serve_cli(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from synthtab.api.schemas import ServerSettings

    try:
        settings = ServerSettings(
            data_dir=Path(args.data_dir),
            database_url=args.db,
            workers=args.workers,
            max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
            max_rows=args.max_rows,
        )
    except ValidationError as error:
        print(f"error: invalid server settings: {error}", file=sys.stderr)
        return 1
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if args.create_key:
        from synthtab.store.repository import create_api_key, open_store

        store = open_store(settings.resolved_database_url())
        key = create_api_key(store, args.create_key)
        print(key)
        print("store this key now: it is shown once and kept only as a hash", file=sys.stderr)
        return 0
    import uvicorn

    from synthtab.api.app import create_app

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
