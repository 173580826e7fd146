"""How to reach the chat model, read from the environment once and passed around as a value.

``SYNTHTAB_LLM_BASE_URL`` set means an OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp server,
OpenAI); otherwise SynthTab runs its embedded model in-process on the CPU.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from synthtab.llm.errors import LLMConfigError

BASE_URL_VAR = "SYNTHTAB_LLM_BASE_URL"
MODEL_VAR = "SYNTHTAB_LLM_MODEL"
API_KEY_VAR = "OPENAI_API_KEY"
MODEL_PATH_VAR = "SYNTHTAB_LLM_MODEL_PATH"
THREADS_VAR = "SYNTHTAB_LLM_THREADS"
TIMEOUT_VAR = "SYNTHTAB_LLM_TIMEOUT"
CACHE_DIR_VAR = "SYNTHTAB_CACHE_DIR"

DEFAULT_TIMEOUT_S = (
    600.0  # a guard against a hung model, not a speed target: 1 CPU thread makes ~7-25 tokens/s
)
DEFAULT_MAX_TOKENS = 1024
# One thread: on a 2-core machine shared with other work, two threads made generation collapse
# from ~60 to 5-12 tokens/s whenever the second core was busy (measured, see LLM.md).
DEFAULT_THREADS = 1


class LLMSettings(BaseModel):
    """Everything a backend needs; frozen so a loaded model can be cached by its settings."""

    model_config = ConfigDict(frozen=True)

    backend: Literal["embedded", "openai"]
    model_path: Path | None = None  # embedded: any GGUF file; None = the bundled default model
    base_url: str | None = None  # openai: the endpoint, e.g. http://127.0.0.1:8080/v1
    model: str | None = None  # openai: the model name the server serves
    api_key: str | None = None
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0)
    max_tokens: int = Field(default=DEFAULT_MAX_TOKENS, gt=0)
    temperature: float = Field(default=0.0, ge=0)
    seed: int = 0
    threads: int = Field(default=DEFAULT_THREADS, gt=0)
    # 8192: an eight-table request with its templates and one round of feedback needs ~5k
    context_tokens: int = Field(default=8192, gt=0)
    batch_tokens: int = Field(default=512, gt=0)
    cache_dir: Path | None = None  # where the assembled default model is kept


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """``$SYNTHTAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/synthtab``, else ``~/.cache/synthtab``."""
    if env.get(CACHE_DIR_VAR):
        return Path(env[CACHE_DIR_VAR]).expanduser()
    if env.get("XDG_CACHE_HOME"):
        return Path(env["XDG_CACHE_HOME"]).expanduser() / "synthtab"
    return Path.home() / ".cache" / "synthtab"


def settings_from_env(env: Mapping[str, str] | None = None) -> LLMSettings:
    """Read the ``SYNTHTAB_LLM_*`` variables (``os.environ`` when ``env`` is None).

    Raises ``LLMConfigError`` naming the variable when a value cannot be used.
    """
    values = os.environ if env is None else env
    base_url = _text(values, BASE_URL_VAR)
    model_path = _text(values, MODEL_PATH_VAR)
    return LLMSettings(
        backend="openai" if base_url else "embedded",
        model_path=Path(model_path).expanduser() if model_path else None,
        base_url=base_url,
        model=_text(values, MODEL_VAR),
        api_key=_text(values, API_KEY_VAR),
        timeout_s=_positive_number(values, TIMEOUT_VAR, DEFAULT_TIMEOUT_S),
        threads=int(_positive_number(values, THREADS_VAR, DEFAULT_THREADS, integer=True)),
        cache_dir=default_cache_dir(values),
    )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _positive_number(
    env: Mapping[str, str], name: str, default: float, *, integer: bool = False
) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    kind = "a whole number" if integer else "a number"
    try:
        number = int(raw) if integer else float(raw)
    except ValueError:
        raise LLMConfigError(f"{name} must be {kind} greater than 0, got {raw!r}") from None
    if not number > 0:
        raise LLMConfigError(f"{name} must be {kind} greater than 0, got {raw!r}")
    return number
