"""Virtual environments for peer tools (SDV, mostlyai-engine, SDMetrics, smartnoise...), set up on
request and reused, so SynthTab itself never depends on them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

VENVS_ENV = "SYNTHTAB_EVAL_VENVS"
DEFAULT_ROOT = Path(".eval-venvs")
# the CPU build that lies on the machine's disk; installed first so no peer pulls a CUDA build
TORCH_PIN = "torch==2.13.0"


class VenvError(RuntimeError):
    pass


def venvs_root() -> Path:
    return Path(os.environ.get(VENVS_ENV, DEFAULT_ROOT)).resolve()


def peer_python(name: str, packages: list[str], with_torch: bool = True) -> Path:
    """The python of venv ``name`` holding ``packages`` (pinned specs), created on first use.

    A stamp file records what was installed; a changed package list rebuilds the venv."""
    root = venvs_root() / name
    python = root / "bin" / "python"
    wanted = "\n".join([*([TORCH_PIN] if with_torch else []), *packages])
    stamp = root / ".synthtab-stamp"
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == digest:
        return python
    root.parent.mkdir(parents=True, exist_ok=True)
    steps = [[sys.executable, "-m", "venv", "--clear", str(root)]]
    if with_torch:
        steps.append([str(python), "-m", "pip", "install", "--quiet", TORCH_PIN])
    steps.append([str(python), "-m", "pip", "install", "--quiet", *packages])
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            raise VenvError(
                f"setting up the {name} venv failed at {' '.join(step[-3:])}:\n"
                f"{done.stderr[-3000:]}"
            )
    stamp.write_text(digest)
    return python
