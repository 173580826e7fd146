"""Every generative model by name, so callers pick one without importing it.

A model plugs in with one line in ``_MODELS``: its name and where its class lives. Classes are
imported on first use, so asking for the copula never imports a neural model's dependencies.
Every class takes its settings as keyword arguments: ``cls(**settings)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from synthtab.models.base import Synthesizer

_MODELS: Mapping[str, str] = MappingProxyType(
    {
        "argn": "synthtab.models.argn:ARGNSynthesizer",
        "dp_copula": "synthtab.models.dp_copula:DPCopulaSynthesizer",
        "dp_mst": "synthtab.models.dp_mst:DPMSTSynthesizer",
        "gaussian_copula": "synthtab.models.copula:GaussianCopulaSynthesizer",
    }
)


def available_models() -> list[str]:
    """The names ``get_model`` accepts, sorted."""
    return sorted(_MODELS)


def model_class(name: str) -> type[Synthesizer]:
    """The class registered under ``name`` (for ``load``-ing a saved model, say)."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(available_models())}")
    module_name, _, class_name = _MODELS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Synthesizer)) or cls.name != name:
        raise TypeError(f"{_MODELS[name]} is not a Synthesizer named {name!r}")
    return cls


def get_model(name: str, **settings: Any) -> Synthesizer:
    """A fresh, unfitted model; unknown settings raise a ``ValueError``."""
    return model_class(name)(**settings)


def load_model(name: str, path: Path | str) -> Synthesizer:
    """A fitted model that ``save`` wrote to ``path``."""
    return model_class(name).load(Path(path))
