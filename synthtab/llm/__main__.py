"""`python -m synthtab.llm`: which backend and model SynthTab would use, and one tiny
structured answer with its timing — a smoke check that the LLM works on this machine."""

from __future__ import annotations

import sys
import time

from pydantic import BaseModel, Field

from synthtab.llm.backends import embedded_model_path, get_chat_model
from synthtab.llm.errors import LLMOutputError, LLMUnavailable
from synthtab.llm.messages import ChatMessage
from synthtab.llm.settings import settings_from_env
from synthtab.llm.structured import structured


class ColourAnswer(BaseModel):
    colour: str = Field(description="a colour name")
    hex_code: str = Field(pattern=r"^#[0-9A-Fa-f]{6}$", description="the colour as #RRGGBB")


def main() -> int:
    try:
        settings = settings_from_env()
        print(f"backend: {settings.backend}")
        if settings.backend == "openai":
            print(f"endpoint: {settings.base_url}  model: {settings.model}")
        else:
            started = time.perf_counter()
            path = embedded_model_path(settings)
            print(f"model file: {path} ({time.perf_counter() - started:.1f} s to locate/verify)")
            print(f"threads: {settings.threads}  timeout: {settings.timeout_s:g} s")
        started = time.perf_counter()
        model = get_chat_model(settings)
        print(f"model ready: {model.name} ({time.perf_counter() - started:.1f} s)")
        question = [ChatMessage(role="user", content="Name the colour of the sky on a clear day.")]
        started = time.perf_counter()
        answer = structured(model, question, ColourAnswer, max_tokens=60)
        print(f"answer: {answer.model_dump_json()} ({time.perf_counter() - started:.1f} s)")
    except (LLMUnavailable, LLMOutputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
