"""Virtual environments for peer tools (SDV, mostlyai-engine, SDMetrics, smartnoise...), set up on
request and reused, so SynthTab itself never depends on them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

VENVS_ENV = "SYNTHTAB_EVAL_VENVS"
DEFAULT_ROOT = Path(".eval-venvs")
# the CPU build that lies on the machine's disk; installed first so no peer pulls a CUDA build
TORCH_PIN = "torch==2.13.0"
STAMP = ".synthtab-stamp"


class VenvError(RuntimeError):
    pass


def venvs_root() -> Path:
    return Path(os.environ.get(VENVS_ENV, DEFAULT_ROOT)).resolve()


def _digest(packages: Sequence[str], with_torch: bool, remove: Sequence[str]) -> str:
    wanted = "\n".join(
        [*([TORCH_PIN] if with_torch else []), *packages, *(f"-{r}" for r in remove)]
    )
    return hashlib.sha256(wanted.encode()).hexdigest()


def ready_python(
    name: str, packages: Sequence[str], with_torch: bool = True, remove: Sequence[str] = ()
) -> Path | None:
    """The venv's python if it is already set up with exactly these packages, else None."""
    root = venvs_root() / name
    python, stamp = root / "bin" / "python", root / STAMP
    if python.exists() and stamp.exists():
        if stamp.read_text() == _digest(packages, with_torch, remove):
            return python
    return None


def peer_python(
    name: str, packages: list[str], with_torch: bool = True, remove: Sequence[str] = ()
) -> Path:
    """The python of venv ``name`` holding ``packages`` (pinned specs), created on first use.

    ``remove``: distributions uninstalled after the install (a dependency that is declared but
    breaks the import of what is used). A stamp file records what was installed; a changed
    package list rebuilds the venv."""
    python = ready_python(name, packages, with_torch, remove)
    if python is not None:
        return python
    root = venvs_root() / name
    python = root / "bin" / "python"
    root.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", "--clear", str(root)]]
    if with_torch:
        steps.append([str(python), "-m", "pip", "install", "--quiet", TORCH_PIN])
    steps.append([str(python), "-m", "pip", "install", "--quiet", *packages])
    if remove:
        steps.append([str(python), "-m", "pip", "uninstall", "--yes", "--quiet", *remove])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            raise VenvError(
                f"setting up the {name} venv failed at {' '.join(step[-3:])}:\n"
                f"{done.stderr[-3000:]}"
            )
    (root / STAMP).write_text(_digest(packages, with_torch, remove))
    return python
