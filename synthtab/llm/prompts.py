"""Prompt templates live as files in ``synthtab/prompts/<name>.md`` (Jinja2).

StrictUndefined: a value the template needs but the caller did not pass is an error, not a
silently empty hole in the prompt. Autoescaping is off: prompts are plain text, not HTML.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

import jinja2

_PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class PromptError(ValueError):
    """A prompt template that does not exist or cannot be filled with the given values."""


def prompt_names() -> list[str]:
    """The templates that ship with SynthTab."""
    folder = resources.files("synthtab") / "prompts"
    return sorted(
        entry.name.removesuffix(".md") for entry in folder.iterdir() if entry.name.endswith(".md")
    )


# The environment is immutable once built; one per process avoids re-parsing templates.
@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_prompt(name: str, **values: Any) -> str:
    """Fill ``synthtab/prompts/<name>.md`` with ``values``."""
    if not _PROMPT_NAME.match(name):
        raise PromptError(f"{name!r} is not a prompt name (lower-case letters, digits, _ and -)")
    source = resources.files("synthtab") / "prompts" / f"{name}.md"
    if not source.is_file():
        raise PromptError(f"no prompt named {name!r}; known prompts: {', '.join(prompt_names())}")
    try:
        template = _environment().from_string(source.read_text(encoding="utf-8"))
        return template.render(**values).strip()
    except jinja2.UndefinedError as error:
        raise PromptError(
            f"prompt {name!r} needs a value the caller did not give: {error}"
        ) from None
    except jinja2.TemplateSyntaxError as error:
        raise PromptError(f"prompt {name!r}, line {error.lineno}: {error.message}") from None
