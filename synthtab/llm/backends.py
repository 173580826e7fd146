"""Pick and build the chat model the settings ask for."""

from __future__ import annotations

import os
from pathlib import Path

from synthtab.llm.embedded import EmbeddedChatModel
from synthtab.llm.errors import ModelFileError
from synthtab.llm.messages import ChatModel
from synthtab.llm.model_files import DEFAULT_MODEL, ensure_model_file
from synthtab.llm.openai_backend import OpenAIChatModel
from synthtab.llm.settings import MODEL_PATH_VAR, LLMSettings, default_cache_dir, settings_from_env


def embedded_model_path(settings: LLMSettings) -> Path:
    """The GGUF file the embedded backend runs: ``SYNTHTAB_LLM_MODEL_PATH`` or the default model,
    assembled into the cache on first use."""
    if settings.model_path is not None:
        if not settings.model_path.is_file():
            raise ModelFileError(
                f"{MODEL_PATH_VAR} points to {settings.model_path}, which is not a file"
            )
        return settings.model_path
    cache_dir = settings.cache_dir or default_cache_dir(os.environ)
    return ensure_model_file(DEFAULT_MODEL, cache_dir)


def get_chat_model(settings: LLMSettings | None = None) -> ChatModel:
    """The chat model for ``settings`` (from the environment when None): the embedded model
    unless an OpenAI-compatible base URL is set. Raises ``LLMUnavailable`` saying what is
    missing."""
    settings = settings or settings_from_env()
    if settings.backend == "openai":
        return OpenAIChatModel(settings)
    return EmbeddedChatModel(settings, embedded_model_path(settings))
