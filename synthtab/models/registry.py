"""Every generative model by name, so callers pick one without importing it.

A model plugs in with one entry in ``_MODELS``: its name, where its class lives and what it can
do beyond the interface every model answers (``capabilities``). Classes are imported on first
use, so asking for the copula never imports a neural model's dependencies. Every class takes its
settings as keyword arguments: ``cls(**settings)``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict

from synthtab.models.base import Synthesizer


class ModelCapabilities(BaseModel):
    """What a model declares it can do; the shared model test template holds it to each claim
    (tests/models/test_interface.py), both ways."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # sample(n, conditions=...) fixes any subset of columns; a model that cannot raises
    # NotImplementedError for non-empty conditions
    conditioning: bool


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    location: str  # "module:ClassName"
    capabilities: ModelCapabilities


_MODELS: Mapping[str, _Entry] = MappingProxyType(
    {
        "argn": _Entry(
            location="synthtab.models.argn:ARGNSynthesizer",
            capabilities=ModelCapabilities(conditioning=True),
        ),
        "dp_argn": _Entry(
            location="synthtab.models.dp_argn:DPARGNSynthesizer",
            capabilities=ModelCapabilities(conditioning=False),
        ),
        "dp_copula": _Entry(
            location="synthtab.models.dp_copula:DPCopulaSynthesizer",
            capabilities=ModelCapabilities(conditioning=False),
        ),
        "dp_mst": _Entry(
            location="synthtab.models.dp_mst:DPMSTSynthesizer",
            capabilities=ModelCapabilities(conditioning=False),
        ),
        "gaussian_copula": _Entry(
            location="synthtab.models.copula:GaussianCopulaSynthesizer",
            capabilities=ModelCapabilities(conditioning=True),
        ),
    }
)


def available_models() -> list[str]:
    """The names ``get_model`` accepts, sorted."""
    return sorted(_MODELS)


def _entry(name: str) -> _Entry:
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; known models: {', '.join(available_models())}")
    return _MODELS[name]


def model_capabilities(name: str) -> ModelCapabilities:
    """What the model registered under ``name`` declares it can do (no import of the model)."""
    return _entry(name).capabilities


def model_class(name: str) -> type[Synthesizer]:
    """The class registered under ``name`` (for ``load``-ing a saved model, say)."""
    location = _entry(name).location
    module_name, _, class_name = location.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Synthesizer)) or cls.name != name:
        raise TypeError(f"{location} is not a Synthesizer named {name!r}")
    return cls


def get_model(name: str, **settings: Any) -> Synthesizer:
    """A fresh, unfitted model; unknown settings raise a ``ValueError``."""
    return model_class(name)(**settings)


def load_model(name: str, path: Path | str) -> Synthesizer:
    """A fitted model that ``save`` wrote to ``path``."""
    return model_class(name).load(Path(path))
