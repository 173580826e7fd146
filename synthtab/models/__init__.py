"""Generative models behind one interface: fit / sample / settings / save / load."""

from synthtab.models.base import Synthesizer
from synthtab.models.copula import GaussianCopulaSettings, GaussianCopulaSynthesizer
from synthtab.models.registry import available_models, get_model, load_model, model_class

__all__ = [
    "GaussianCopulaSettings",
    "GaussianCopulaSynthesizer",
    "Synthesizer",
    "available_models",
    "get_model",
    "load_model",
    "model_class",
]
