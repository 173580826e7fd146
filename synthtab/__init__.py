"""SynthTab: synthetic tabular data people can trust.

The public Python surface, imported lazily so that ``import synthtab`` stays light:

    synthtab.generate(df, rows=..., target=..., rules=[...])  -> Result
    synthtab.evaluate(real, synthetic, target=...)            -> dict
    synthtab.Schema.infer(df)                                  -> Schema
    synthtab.Synthesizer("gaussian_copula").fit(df).sample(n) -> DataFrame
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "generate": "synthtab.sdk",
    "evaluate": "synthtab.sdk",
    "infer_schema": "synthtab.sdk",
    "Result": "synthtab.sdk",
    "Synthesizer": "synthtab.sdk",
    "RunFailed": "synthtab.sdk",
    "InputError": "synthtab.io.errors",
    "Schema": "synthtab.schema",
    "Table": "synthtab.schema",
    "Rule": "synthtab.schema",
    "GenerationRequest": "synthtab.schema",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'synthtab' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
