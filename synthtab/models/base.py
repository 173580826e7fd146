"""The one interface every generative model answers: fit / sample / save / load."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import pandas as pd

from synthtab.schema import Table


class Synthesizer(ABC):
    """A generative model of one table.

    ``fit`` learns from a DataFrame described by ``table``; ``sample`` returns ``n`` new rows with
    the table's columns in the table's order and dtypes close to the training data's. The same
    seed gives the same rows, bit for bit. Conditioning is optional and declared in the registry
    (``model_capabilities(name).conditioning``): ``conditions`` has one row per sampled row and
    fixes its columns' values in the rows returned, in order; the other columns are drawn given
    them. A model that cannot condition raises ``NotImplementedError`` for non-empty
    ``conditions``; a condition naming an unknown column, or a value the model cannot produce,
    raises ``ValueError``.
    """

    name: ClassVar[str]

    @abstractmethod
    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self: ...

    @abstractmethod
    def sample(
        self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None
    ) -> pd.DataFrame: ...

    @abstractmethod
    def settings(self) -> dict[str, Any]:
        """The model's settings as plain JSON values (recorded in the run manifest)."""

    @abstractmethod
    def save(self, path: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, path: Path) -> Self: ...
