"""What can go wrong when SynthTab talks to a language model, worded for the user.

``LLMUnavailable`` means no answer can be had (nothing installed, a bad setting, a server that
does not answer, a deadline passed): callers may fall back to a path without the LLM.
``LLMOutputError`` means the model answered, but never with something usable.
"""

from __future__ import annotations

from collections.abc import Sequence


class LLMUnavailable(Exception):
    """No chat model can be reached; the message says what is missing and how to fix it."""


class LLMConfigError(LLMUnavailable):
    """An ``SYNTHTAB_LLM_*`` setting has a value that cannot be used."""


class LLMTimeout(LLMUnavailable):
    """The model did not finish within the wall-clock limit (``SYNTHTAB_LLM_TIMEOUT``)."""


class ModelFileError(LLMUnavailable):
    """The model file (or its parts) is missing, truncated or not the expected file."""


class LLMOutputError(Exception):
    """Every attempt gave an answer that did not parse, validate or pass the checks.

    ``attempts`` holds, per attempt, the list of problems found in that answer.
    """

    def __init__(self, message: str, attempts: Sequence[Sequence[str]]) -> None:
        super().__init__(message)
        self.attempts: list[list[str]] = [list(problems) for problems in attempts]

    def __str__(self) -> str:
        lines = [str(self.args[0])]
        for number, problems in enumerate(self.attempts, start=1):
            lines.append(f"  attempt {number}: " + "; ".join(problems))
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.args[0], self.attempts))
