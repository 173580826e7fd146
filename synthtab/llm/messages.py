"""The small objects every backend speaks: chat messages and the ChatModel protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict


class ChatMessage(BaseModel):
    """One turn of a conversation, in the role vocabulary all chat backends share."""

    model_config = ConfigDict(frozen=True)

    role: Literal["system", "user", "assistant"]
    content: str


def system(content: str) -> ChatMessage:
    return ChatMessage(role="system", content=content)


def user(content: str) -> ChatMessage:
    return ChatMessage(role="user", content=content)


def assistant(content: str) -> ChatMessage:
    return ChatMessage(role="assistant", content=content)


@runtime_checkable
class ChatModel(Protocol):
    """A chat model that answers with text; with ``json_schema`` the text is one JSON value
    constrained to that schema (as far as the backend can enforce it)."""

    name: str

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> str: ...


def as_wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, str]]:
    """Messages as the plain dicts both llama-cpp-python and the OpenAI API expect."""
    return [{"role": message.role, "content": message.content} for message in messages]


def with_system_note(messages: Sequence[ChatMessage], note: str) -> list[ChatMessage]:
    """``messages`` with ``note`` added to the system message (one is created if absent).

    One system message, not two: small models' chat templates handle only a leading one well.
    """
    if messages and messages[0].role == "system":
        if note in messages[0].content:
            return list(messages)
        merged = ChatMessage(role="system", content=f"{messages[0].content}\n\n{note}")
        return [merged, *messages[1:]]
    return [ChatMessage(role="system", content=note), *messages]
