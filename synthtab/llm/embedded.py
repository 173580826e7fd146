"""The default backend: a GGUF model run in-process on the CPU by llama-cpp-python.

Offline, no server, no key. Structured output is enforced by a grammar compiled from the JSON
schema (llama.cpp drops ``minimum``/``maximum`` while compiling, so callers still validate).
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from synthtab.llm.errors import LLMTimeout, LLMUnavailable, ModelFileError
from synthtab.llm.messages import ChatMessage, as_wire_messages
from synthtab.llm.settings import MODEL_PATH_VAR, LLMSettings

if TYPE_CHECKING:
    from llama_cpp import Llama

INSTALL_HINT = (
    "Run `make setup` (or `CMAKE_ARGS=-DGGML_NATIVE=OFF pip install llama-cpp-python==0.3.36`), "
    "or set SYNTHTAB_LLM_BASE_URL to use an OpenAI-compatible server instead."
)


@dataclass(frozen=True)
class LoadedLlama:
    """A loaded model and the lock that serialises calls into it (a llama.cpp context holds
    one KV cache and is not safe to use from two threads at once)."""

    llama: Llama
    lock: threading.Lock


# Loading reads ~1.1 GB and takes ~1 s, and a graph run asks the model many times from several
# nodes: the process keeps the last loaded model. maxsize=1 bounds memory to one model (~1.9 GB);
# asking for another file or thread count replaces it. release_embedded_model() empties it.
@lru_cache(maxsize=1)
def load_llama(
    model_path: Path, threads: int, context_tokens: int, batch_tokens: int
) -> LoadedLlama:
    """Load ``model_path`` with llama-cpp-python (cached: see the comment above)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        raise LLMUnavailable(f"llama-cpp-python is not installed. {INSTALL_HINT}") from None
    if not model_path.is_file():
        raise ModelFileError(f"the model file {model_path} does not exist (check {MODEL_PATH_VAR})")
    try:
        llama = Llama(
            model_path=str(model_path),
            n_threads=threads,
            n_threads_batch=threads,
            n_ctx=context_tokens,
            # 512, not LangChain's 8: prompt evaluation in batches of 8 made calls 20-40 s.
            n_batch=batch_tokens,
            chat_format=None,  # the chat template stored in the GGUF file
            verbose=False,
        )
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"llama.cpp could not load {model_path} as a GGUF model ({error}); check "
            f"{MODEL_PATH_VAR} or reinstall the model parts"
        ) from None
    return LoadedLlama(llama=llama, lock=threading.Lock())


def release_embedded_model() -> None:
    """Forget the loaded model so its memory can be freed."""
    load_llama.cache_clear()


# free the model while llama_cpp is still importable: at interpreter teardown its __del__
# finds the module's functions already gone and prints a TypeError
atexit.register(release_embedded_model)


class EmbeddedChatModel:
    """A ChatModel backed by the in-process llama.cpp model."""

    def __init__(self, settings: LLMSettings, model_path: Path) -> None:
        self.settings = settings
        self.model_path = model_path
        self.name = model_path.name
        self._loaded = load_llama(
            model_path, settings.threads, settings.context_tokens, settings.batch_tokens
        )

    def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        json_schema: dict[str, Any] | None = None,
    ) -> str:
        """The model's answer; stops and raises ``LLMTimeout`` at the wall-clock deadline."""
        deadline = time.monotonic() + self.settings.timeout_s
        response_format: dict[str, Any] | None = None
        if json_schema is not None:
            response_format = {"type": "json_object", "schema": json_schema}
        if not self._loaded.lock.acquire(timeout=self.settings.timeout_s):
            raise self._timeout("waiting for another call to the model to finish")
        try:
            stream = cast(
                Iterator[dict[str, Any]],
                self._loaded.llama.create_chat_completion(
                    messages=as_wire_messages(messages),  # type: ignore[arg-type]
                    temperature=self.settings.temperature,
                    seed=self.settings.seed,
                    max_tokens=max_tokens,
                    response_format=response_format,  # type: ignore[arg-type]
                    stream=True,
                ),
            )
            return self._collect(stream, deadline)
        except ValueError as error:
            # llama-cpp-python's only ValueError here: prompt + max_tokens exceed the context.
            raise LLMUnavailable(
                f"the embedded model {self.name} cannot take this request: {error} (context "
                f"{self.settings.context_tokens} tokens); shorten the prompt or max_tokens"
            ) from None
        finally:
            self._loaded.lock.release()

    def _collect(self, stream: Iterator[dict[str, Any]], deadline: float) -> str:
        # Streaming is what makes the deadline enforceable: llama.cpp returns control after
        # every token, so a slow answer is cut within one token of the limit (the prompt
        # itself is evaluated in one go before the first token).
        pieces: list[str] = []
        try:
            for chunk in stream:
                content = chunk["choices"][0]["delta"].get("content")
                if content:
                    pieces.append(content)
                if time.monotonic() > deadline:
                    raise self._timeout(f"after {len(pieces)} tokens")
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return "".join(pieces)

    def _timeout(self, detail: str) -> LLMTimeout:
        return LLMTimeout(
            f"the embedded model {self.name} did not answer within {self.settings.timeout_s:g} s "
            f"({detail}); raise SYNTHTAB_LLM_TIMEOUT or ask for a shorter answer"
        )
