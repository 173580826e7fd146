"""The one scripted stand-in for the LLM in the tests: a ChatModel that answers with scripted
replies, to pin a branch of everything above the backends.

Test files import it (``from ..llm.fakes import ScriptedChatModel``); tests/conftest.py hands the
same class out as the ``scripted_llm`` fixture and under its older name ``ScriptedLLM``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from synthtab.llm import ChatMessage

# a reply as the model would send it: text as it stands, a dict or list as its JSON
Reply = str | Mapping[str, Any] | list[Any]


@dataclass
class ScriptedCall:
    messages: list[ChatMessage]
    max_tokens: int
    json_schema: dict[str, Any] | None


class ScriptedChatModel:
    """Answers with the scripted replies in order, records every call, and fails the test when
    asked more often than scripted."""

    def __init__(self, replies: Sequence[Reply], name: str = "scripted") -> None:
        self.replies = [r if isinstance(r, str) else json.dumps(r) for r in replies]
        self.name = name
        self.calls: list[ScriptedCall] = []

    @property
    def asked(self) -> list[list[ChatMessage]]:
        """The messages of each call, in order."""
        return [call.messages for call in self.calls]

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> str:
        self.calls.append(ScriptedCall(list(messages), max_tokens, json_schema))
        if len(self.calls) > len(self.replies):
            raise AssertionError(f"asked {len(self.calls)} times, scripted {len(self.replies)}")
        return self.replies[len(self.calls) - 1]
