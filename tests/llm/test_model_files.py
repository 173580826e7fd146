"""Assembling the embedded model from part files: atomic, verified, reused cheaply."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from synthtab.llm import DEFAULT_MODEL, ModelArtifact, ModelFileError, ensure_model_file
from synthtab.llm.model_files import default_model_path, installed_part_paths

PART_BYTES = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def fake_parts(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, content in enumerate(PART_BYTES, start=1):
        path = folder / f"part{number:02d}.bin"
        path.write_bytes(content)
        paths.append(path)
    return paths


def fake_artifact(sha256: str | None = None) -> ModelArtifact:
    whole = b"".join(PART_BYTES)
    return ModelArtifact(
        name="tiny test model",
        file_name="tiny.gguf",
        part_modules=("tiny_part1", "tiny_part2", "tiny_part3"),
        part_packages=("tiny-part1==1", "tiny-part2==1", "tiny-part3==1"),
        size_bytes=len(whole),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
    )


def never_called(artifact: ModelArtifact) -> Sequence[Path]:
    raise AssertionError("the cached file should have been reused")


def test_parts_are_concatenated_in_order_verified_and_recorded(tmp_path: Path) -> None:
    parts = fake_parts(tmp_path / "parts")
    artifact = fake_artifact()
    path = ensure_model_file(artifact, tmp_path / "cache", lambda _: parts)
    assert path == tmp_path / "cache" / "models" / "tiny.gguf"
    assert path.read_bytes() == b"".join(PART_BYTES)
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny.gguf", "tiny.gguf.sha256.json"]
    # the second run trusts the recorded hash and never looks at the parts
    assert ensure_model_file(artifact, tmp_path / "cache", never_called) == path


def test_a_sha_mismatch_is_an_error_and_leaves_nothing_behind(tmp_path: Path) -> None:
    parts = fake_parts(tmp_path / "parts")
    artifact = fake_artifact(sha256="0" * 64)
    with pytest.raises(ModelFileError, match="not the expected file.*sha256 0000") as raised:
        ensure_model_file(artifact, tmp_path / "cache", lambda _: parts)
    assert "Reinstall the part packages (tiny-part1==1 ... tiny-part3==1)" in str(raised.value)
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_a_part_in_the_wrong_order_fails_the_hash(tmp_path: Path) -> None:
    parts = fake_parts(tmp_path / "parts")
    with pytest.raises(ModelFileError, match="not the expected file"):
        ensure_model_file(fake_artifact(), tmp_path / "cache", lambda _: parts[::-1])


def test_a_file_copied_in_by_hand_is_hashed_once_then_trusted(tmp_path: Path) -> None:
    artifact = fake_artifact()
    target = default_model_path(artifact, tmp_path / "cache")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"".join(PART_BYTES))
    assert ensure_model_file(artifact, tmp_path / "cache", never_called) == target
    assert target.with_name("tiny.gguf.sha256.json").is_file()


def test_a_truncated_or_altered_cache_file_is_rebuilt(tmp_path: Path) -> None:
    parts = fake_parts(tmp_path / "parts")
    artifact = fake_artifact()
    path = ensure_model_file(artifact, tmp_path / "cache", lambda _: parts)
    path.write_bytes(b"GGUF" + b"x" * (artifact.size_bytes - 4))  # same size, other content
    assert ensure_model_file(artifact, tmp_path / "cache", lambda _: parts).read_bytes() == (
        b"".join(PART_BYTES)
    )
    path.write_bytes(b"short")
    assert ensure_model_file(artifact, tmp_path / "cache", lambda _: parts).stat().st_size == (
        artifact.size_bytes
    )


def test_a_missing_part_file_is_named(tmp_path: Path) -> None:
    parts = fake_parts(tmp_path / "parts")
    parts[1].unlink()
    with pytest.raises(ModelFileError, match="part02.bin is missing"):
        ensure_model_file(fake_artifact(), tmp_path / "cache", lambda _: parts)


def test_a_missing_part_package_says_how_to_install_it() -> None:
    with pytest.raises(ModelFileError, match=r"tiny-part1==1 is missing\). Run `make setup`"):
        installed_part_paths(fake_artifact())


def test_the_installed_default_model_parts_add_up_to_the_model() -> None:
    # The real packages, checked by size only (hashing 1.1 GB belongs to the end-to-end tests).
    parts = installed_part_paths(DEFAULT_MODEL)
    assert len(parts) == 22
    assert [p.name for p in parts[:2]] == ["part01.bin", "part02.bin"]
    assert sum(p.stat().st_size for p in parts) == DEFAULT_MODEL.size_bytes
