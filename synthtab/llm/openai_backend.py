"""Any OpenAI-compatible chat endpoint: vLLM, Ollama, llama.cpp server, OpenAI itself.

Structured output asks for ``json_schema`` first; a server that refuses it (llama.cpp's server
answers HTTP 500, others 400/422) gets ``json_object`` from then on, with the schema in the
prompt (``structured`` puts it there) and pydantic validation afterwards.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import openai
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from synthtab.llm.errors import LLMConfigError, LLMTimeout, LLMUnavailable
from synthtab.llm.messages import ChatMessage, as_wire_messages, with_system_note
from synthtab.llm.prompts import render_prompt
from synthtab.llm.settings import BASE_URL_VAR, MODEL_VAR, LLMSettings

# Status codes worth another try: the server is busy or a proxy hiccuped. Anything else (a bad
# request, a wrong key, an unknown model) fails the same way every time.
TRANSIENT_STATUS = frozenset({408, 409, 429, 502, 503, 504})
# How a server says it does not support response_format=json_schema.
SCHEMA_REFUSED_STATUS = frozenset({400, 404, 415, 422, 500, 501})
MAX_TRANSPORT_ATTEMPTS = 3


def is_transient(error: BaseException) -> bool:
    """Connection problems, timeouts, rate limits and gateway errors; nothing else."""
    if isinstance(error, openai.APIConnectionError):  # includes APITimeoutError
        return True
    return isinstance(error, openai.APIStatusError) and error.status_code in TRANSIENT_STATUS


class OpenAIChatModel:
    """A ChatModel that calls ``/chat/completions`` through the ``openai`` client."""

    def __init__(self, settings: LLMSettings) -> None:
        if not settings.base_url:
            raise LLMConfigError(f"{BASE_URL_VAR} is not set")
        if not settings.model:
            raise LLMConfigError(
                f"{BASE_URL_VAR} is set but {MODEL_VAR} is not: set it to the model name the "
                f"server at {settings.base_url} serves"
            )
        self.settings = settings
        self.name = settings.model
        # Local servers want no key, but the client insists on one.
        self._client = openai.OpenAI(
            base_url=settings.base_url,
            api_key=settings.api_key or "not-needed",
            timeout=settings.timeout_s,
            max_retries=0,  # tenacity retries, on transient errors only
        )
        # Learned from the server's first refusal, so later calls do not pay for it again.
        self._server_takes_json_schema = True

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> str:
        request: dict[str, Any] = {
            "model": self.settings.model,
            "messages": as_wire_messages(messages),
            "temperature": self.settings.temperature,
            "seed": self.settings.seed,
            # max_tokens, not max_completion_tokens: llama.cpp's server ignores the latter.
            "max_tokens": max_tokens,
        }
        try:
            if json_schema is None:
                return self._send(request)
            if self._server_takes_json_schema:
                try:
                    return self._send(
                        {**request, "response_format": _json_schema_format(json_schema)}
                    )
                except openai.APIStatusError as error:
                    if error.status_code not in SCHEMA_REFUSED_STATUS:
                        raise
                    self._server_takes_json_schema = False
            # json_object mode does not see the schema: the prompt has to carry it.
            schema_note = render_prompt(
                "json_reply", schema=json.dumps(json_schema, separators=(",", ":"))
            )
            request["messages"] = as_wire_messages(with_system_note(messages, schema_note))
            return self._send({**request, "response_format": {"type": "json_object"}})
        except openai.APIError as error:
            # Not transient (those are retried, then reported by _give_up).
            raise self._unavailable(error) from None

    def _send(self, request: dict[str, Any]) -> str:
        """One chat completion, retried on transient errors within the timeout."""
        started = time.monotonic()
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            stop=stop_after_attempt(MAX_TRANSPORT_ATTEMPTS)
            | stop_after_delay(self.settings.timeout_s),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry_error_callback=self._give_up,
        )
        response = retrying(self._client.chat.completions.create, **request)
        if not response.choices:
            raise LLMUnavailable(f"{self.settings.base_url} answered with no choices")
        content = response.choices[0].message.content
        if content is None:
            raise LLMUnavailable(
                f"{self.settings.base_url} answered with no text after "
                f"{time.monotonic() - started:.1f} s (finish_reason "
                f"{response.choices[0].finish_reason!r})"
            )
        return content

    def _give_up(self, state: RetryCallState) -> Any:
        error = state.outcome.exception() if state.outcome is not None else None
        if error is None:  # pragma: no cover - tenacity only calls this after a failure
            raise LLMUnavailable(f"{self.settings.base_url} did not answer")
        if isinstance(error, openai.APITimeoutError):
            raise LLMTimeout(
                f"{self.settings.base_url} did not answer within {self.settings.timeout_s:g} s "
                f"({_attempts(state.attempt_number)}); raise SYNTHTAB_LLM_TIMEOUT"
            ) from None
        if isinstance(error, openai.APIStatusError | openai.APIConnectionError):
            raise self._unavailable(error, attempts=state.attempt_number) from None
        raise error

    def _unavailable(self, error: openai.APIError, attempts: int = 1) -> LLMUnavailable:
        if isinstance(error, openai.APIStatusError):
            detail = f"HTTP {error.status_code}: {_short(error.message)}"
            if error.status_code in (401, 403):
                detail += " (check OPENAI_API_KEY)"
        else:
            detail = _short(str(error))
        tried = f" after {attempts} attempts" if attempts > 1 else ""
        return LLMUnavailable(
            f"the chat endpoint {self.settings.base_url} (model {self.settings.model}) "
            f"failed{tried}: {detail}"
        )


def _json_schema_format(json_schema: dict[str, Any]) -> dict[str, Any]:
    name = str(json_schema.get("title") or "answer")
    safe_name = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    # strict=False: strict mode demands additionalProperties=false everywhere and every field
    # required, which pydantic schemas with defaults do not satisfy.
    return {
        "type": "json_schema",
        "json_schema": {"name": safe_name, "schema": json_schema, "strict": False},
    }


def _attempts(count: int) -> str:
    return "1 attempt" if count == 1 else f"{count} attempts"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
