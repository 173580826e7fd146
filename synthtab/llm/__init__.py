"""One way to reach a chat model: the embedded default (llama.cpp, offline, CPU) or any
OpenAI-compatible endpoint, with structured output into pydantic models.

    from synthtab.llm import get_chat_model, structured, ChatMessage
    model = get_chat_model()
    sketch = structured(model, [ChatMessage(role="user", content="...")], SchemaSketch)
"""

from synthtab.llm.backends import embedded_model_path, get_chat_model
from synthtab.llm.embedded import EmbeddedChatModel, release_embedded_model
from synthtab.llm.errors import (
    LLMConfigError,
    LLMOutputError,
    LLMTimeout,
    LLMUnavailable,
    ModelFileError,
)
from synthtab.llm.messages import ChatMessage, ChatModel, with_system_note
from synthtab.llm.model_files import DEFAULT_MODEL, ModelArtifact, ensure_model_file
from synthtab.llm.openai_backend import OpenAIChatModel
from synthtab.llm.prompts import PromptError, prompt_names, render_prompt
from synthtab.llm.settings import LLMSettings, settings_from_env
from synthtab.llm.structured import choose_tool, extract_json, structured, tool_name

__all__ = [
    "DEFAULT_MODEL",
    "ChatMessage",
    "ChatModel",
    "EmbeddedChatModel",
    "LLMConfigError",
    "LLMOutputError",
    "LLMSettings",
    "LLMTimeout",
    "LLMUnavailable",
    "ModelArtifact",
    "ModelFileError",
    "OpenAIChatModel",
    "PromptError",
    "choose_tool",
    "embedded_model_path",
    "ensure_model_file",
    "extract_json",
    "get_chat_model",
    "prompt_names",
    "release_embedded_model",
    "render_prompt",
    "settings_from_env",
    "structured",
    "tool_name",
    "with_system_note",
]
