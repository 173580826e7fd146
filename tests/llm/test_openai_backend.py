"""The OpenAI-compatible backend against a tiny local server speaking /v1/chat/completions:
wire format, json_schema -> json_object fallback, retries on transient errors only, timeouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import BaseModel

from synthtab.llm import (
    ChatMessage,
    LLMConfigError,
    LLMSettings,
    LLMTimeout,
    LLMUnavailable,
    OpenAIChatModel,
    get_chat_model,
    settings_from_env,
    structured,
)


class City(BaseModel):
    name: str
    population: int


@dataclass
class CannedReply:
    status: int = 200
    content: str | None = '{"name": "Lyon", "population": 520000}'
    delay_s: float = 0.0


@dataclass
class ChatServer:
    """Answers each POST with the next canned reply and records the requests."""

    replies: list[CannedReply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    port: int = 0


def completion(content: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "test-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


@pytest.fixture()
def chat_server() -> Iterator[ChatServer]:
    state = ChatServer(replies=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length", 0))
            state.requests.append(json.loads(self.rfile.read(length)))
            state.authorizations.append(self.headers.get("Authorization"))
            state.paths.append(self.path)
            reply = state.replies.pop(0) if state.replies else CannedReply(status=418)
            time.sleep(reply.delay_s)
            if reply.status == 200:
                body = json.dumps(completion(reply.content)).encode()
            else:
                body = json.dumps({"error": {"message": f"canned {reply.status}"}}).encode()
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def model_for(server: ChatServer, **overrides: Any) -> OpenAIChatModel:
    env = {
        "SYNTHTAB_LLM_BASE_URL": f"http://127.0.0.1:{server.port}/v1",
        "SYNTHTAB_LLM_MODEL": "test-model",
        "OPENAI_API_KEY": "sk-local",
        "SYNTHTAB_LLM_TIMEOUT": "5",
    }
    settings = settings_from_env(env).model_copy(update=overrides)
    model = get_chat_model(settings)
    assert isinstance(model, OpenAIChatModel)
    return model


ASK = [
    ChatMessage(role="system", content="You answer about cities."),
    ChatMessage(role="user", content="A French city?"),
]


def test_wire_format_of_a_structured_request(chat_server: ChatServer) -> None:
    chat_server.replies = [CannedReply()]
    city = structured(model_for(chat_server), ASK, City, max_tokens=64)
    assert city == City(name="Lyon", population=520000)
    assert chat_server.paths == ["/v1/chat/completions"]
    assert chat_server.authorizations == ["Bearer sk-local"]
    body = chat_server.requests[0]
    assert body["model"] == "test-model"
    assert body["messages"] == [
        {"role": "system", "content": "You answer about cities."},
        {"role": "user", "content": "A French city?"},
    ]
    assert (body["max_tokens"], body["temperature"], body["seed"]) == (64, 0.0, 0)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "City", "schema": City.model_json_schema(), "strict": False},
    }


def test_plain_completion_sends_no_response_format(chat_server: ChatServer) -> None:
    chat_server.replies = [CannedReply(content="Lyon.")]
    assert model_for(chat_server).complete(ASK, max_tokens=8) == "Lyon."
    assert "response_format" not in chat_server.requests[0]


def test_refused_json_schema_falls_back_to_json_object_with_the_schema_in_the_prompt(
    chat_server: ChatServer,
) -> None:
    chat_server.replies = [
        CannedReply(status=500),
        CannedReply(content='```json\n{"name": "Nice", "population": 340000}\n```'),
        CannedReply(content='{"name": "Metz", "population": 120000}'),
    ]
    model = model_for(chat_server)
    assert structured(model, ASK, City).name == "Nice"
    first, fallback = chat_server.requests[:2]
    assert first["response_format"]["type"] == "json_schema"
    assert fallback["response_format"] == {"type": "json_object"}
    system_text = fallback["messages"][0]["content"]
    assert system_text.startswith("You answer about cities.")
    assert json.dumps(City.model_json_schema(), separators=(",", ":")) in system_text
    # the refusal is remembered: the next call goes straight to json_object
    assert structured(model, ASK, City).name == "Metz"
    assert len(chat_server.requests) == 3
    assert chat_server.requests[2]["response_format"] == {"type": "json_object"}


def test_transient_errors_are_retried(chat_server: ChatServer) -> None:
    chat_server.replies = [CannedReply(status=503), CannedReply(status=429), CannedReply()]
    assert structured(model_for(chat_server), ASK, City).name == "Lyon"
    assert len(chat_server.requests) == 3


def test_retries_are_bounded(chat_server: ChatServer) -> None:
    chat_server.replies = [CannedReply(status=503)] * 5
    with pytest.raises(LLMUnavailable, match="failed after 3 attempts: HTTP 503"):
        model_for(chat_server).complete(ASK, max_tokens=8)
    assert len(chat_server.requests) == 3


def test_a_wrong_key_is_not_retried_and_says_what_to_check(chat_server: ChatServer) -> None:
    chat_server.replies = [CannedReply(status=401)]
    with pytest.raises(LLMUnavailable, match=r"HTTP 401: .*check OPENAI_API_KEY"):
        structured(model_for(chat_server), ASK, City)
    assert len(chat_server.requests) == 1


def test_a_slow_server_times_out(chat_server: ChatServer) -> None:
    chat_server.replies = [CannedReply(delay_s=1.5)]
    with pytest.raises(LLMTimeout, match="did not answer within 0.3 s"):
        model_for(chat_server, timeout_s=0.3).complete(ASK, max_tokens=8)


def test_no_server_is_a_clear_unavailable_error() -> None:
    settings = LLMSettings(
        backend="openai", base_url="http://127.0.0.1:9/v1", model="m", timeout_s=3
    )
    with pytest.raises(LLMUnavailable, match=r"127.0.0.1:9/v1 \(model m\) failed after 3"):
        OpenAIChatModel(settings).complete(ASK, max_tokens=8)


def test_a_base_url_without_a_model_name_is_a_config_error() -> None:
    with pytest.raises(LLMConfigError, match="SYNTHTAB_LLM_MODEL is not"):
        get_chat_model(settings_from_env({"SYNTHTAB_LLM_BASE_URL": "http://x/v1"}))
