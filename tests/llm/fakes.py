"""A scripted ChatModel for tests of everything above the backends."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synthtab.llm import ChatMessage


@dataclass
class ScriptedCall:
    messages: list[ChatMessage]
    max_tokens: int
    json_schema: dict[str, Any] | None


@dataclass
class ScriptedChatModel:
    """Answers with the given texts in order and records what it was asked."""

    answers: list[str]
    name: str = "scripted"
    calls: list[ScriptedCall] = field(default_factory=list)

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> str:
        self.calls.append(ScriptedCall(list(messages), max_tokens, json_schema))
        if len(self.calls) > len(self.answers):
            raise AssertionError(f"asked {len(self.calls)} times, scripted {len(self.answers)}")
        return self.answers[len(self.calls) - 1]
