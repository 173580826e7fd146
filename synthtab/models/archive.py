"""One saved-model file format for every model: a zip holding meta.json and arrays.npz
(numpy arrays only, never pickles), tagged with the model's format name and version."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

Arrays = dict[str, np.ndarray]


def write_model_archive(path: Path | str, meta: dict[str, Any], arrays: Arrays) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with zipfile.ZipFile(Path(path), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("arrays.npz", buffer.getvalue())


def read_model_archive(
    path: Path | str,
    model_name: str,
    file_format: str,
    version: int,
    also_reads: tuple[int, ...] = (),
) -> tuple[dict[str, Any], Arrays]:
    """meta.json and the arrays of a saved model; ValueError naming the file when it is not one.
    ``also_reads``: older versions the current reader still understands."""
    try:
        with zipfile.ZipFile(Path(path)) as archive:
            meta = json.loads(archive.read("meta.json"))
            raw_arrays = archive.read("arrays.npz")
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise ValueError(f"{path}: not a saved {model_name} model ({error})") from error
    if meta.get("format") != file_format or meta.get("version") not in (version, *also_reads):
        raise ValueError(
            f"{path}: format {meta.get('format')!r} version {meta.get('version')!r}; "
            f"this SynthTab reads {file_format!r} version {version}"
        )
    with np.load(io.BytesIO(raw_arrays), allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in stored.files}
    return meta, arrays
