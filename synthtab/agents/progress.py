"""Progress events from inside a node; a no-op when the node runs outside a graph (unit tests)."""

from __future__ import annotations

from typing import Any


def emit_progress(node: str, message: str, **fields: Any) -> None:
    try:
        from langgraph.config import get_stream_writer

        writer = get_stream_writer()
    except RuntimeError:  # not running inside a graph
        return
    writer({"event": "progress", "node": node, "message": message, **fields})
