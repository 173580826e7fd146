"""Generator v2: an autoregressive network over discretised columns (the TabularARGN family).

Every column becomes one token per row:
- numeric and datetime columns: a quantile bin of the column's empirical CDF (or, with few
  distinct values, the value itself); on sampling a uniform draw inside the bin goes back through
  the empirical quantile function, so values keep their within-bin spread, are rounded like the
  source and never leave the range seen in training;
- categorical columns: the category, most frequent first; categories beyond ``max_categories``
  (or seen fewer than ``min_category_count`` times) share one "other" token that is decoded by
  drawing from the empirical tail;
- a datetime that varies within the day also gets a time-of-day token, and one whose dates
  cover most days of their span a weekday token, after the table's columns (``clock_parts``):
  its own bin is days wide;
- a null is its own token, in every column that had nulls;
- ids, constants and empty columns are generated like the copula does (only their nulls are
  learned).

The column models (marginals, codecs, dtype restoring) are the copula's, so both models read and
write values the same way.

The network predicts each column's token from the tokens before it in a column order. Each
token has an embedding; the context of column k is the sum of the embeddings of the columns
before k (a masked sum, i.e. a linear layer on their one-hot concatenation), normalised, plus a
query vector for k, then a residual MLP shared by all columns and a softmax head per column.
The tokens of a numeric or datetime column are ordered, and the network knows it: their
embeddings and head weights have a part shared along that order (see ``TokenNetwork``), which is
what lets it learn how numbers move together from a few thousand rows. One forward pass scores
every column of a batch. Training mixes the fixed table order with random orders (a fifth of
the steps), so the model can also condition on any subset of columns: those go first, and each
conditioned row is drawn several times and one draw kept by importance resampling towards the
table's order (see ``ChunkSampler``). What is validated and kept are the weights averaged over
about the last epoch's steps; an epoch without progress halves the learning rate, and
``patience`` of them in a row end the training.
Sampling runs column by column over chunks of 16k rows (whole-chunk torch operations, no per-row
Python): inverse-CDF draws on each column's own slice of the head, then one arrow take per text
column to decode.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import ndtri
from torch import nn

from synthtab.models.archive import read_model_archive, write_model_archive
from synthtab.models.base import Synthesizer
from synthtab.models.clock_parts import (
    ClockPart,
    clock_parts,
    fit_part_codec,
    part_values,
    with_clock_parts,
)
from synthtab.models.copula import (
    CategoricalCodec,
    ColumnModel,
    DatetimeCodec,
    GaussianCopulaSettings,
    NumericCodec,
    checked_conditions,
    decode_columns,
    encode_columns,
    fit_column,
    restore_dtype,
)
from synthtab.models.dp_sgd import (
    OpacusStep,
    PrivateStep,
    epsilon_spent,
    noise_for_budget,
)
from synthtab.schema import Table
from synthtab.tools.conditions import rebalanced_probabilities

_FILE_FORMAT = "synthtab.argn"
_FILE_VERSION = 3
# version 2 had no clock-part token columns; its files read the same way
_OLDER_VERSIONS = (2,)
# rows per sampling pass: a chunk's activations (rows x hidden floats) stay in the CPU's cache;
# measured on adult (rows per CPU-second): 2k-row chunks 145k, 16k 155k, 32k 109k
_SAMPLING_CHUNK = 16_384
# a draw inside a token's interval stays this far (relatively) from its edges, so an atom's
# draw never lands on the boundary it shares with its neighbour
_EDGE_MARGIN = 1e-6

Arrays = dict[str, np.ndarray]


class DifferentialPrivacySettings(BaseModel):
    """DP-SGD: per-example gradient clipping and Gaussian noise, accounted with RDP."""

    model_config = ConfigDict(extra="forbid")

    epsilon: float = Field(gt=0.0, description="the privacy budget of the training")
    delta: float = Field(default=1e-5, gt=0.0, lt=1.0)
    max_grad_norm: float = Field(default=1.0, gt=0.0, description="per-example clipping norm")
    engine: Literal["builtin", "opacus"] = Field(
        default="builtin",
        description="'builtin': synthtab's DP-SGD and RDP accountant; 'opacus': opacus's "
        "DPOptimizer (clipping, noise) and RDPAccountant",
    )


DEFAULT_LEARNING_RATE = 3e-3
TARGET_LEARNING_RATE = 1e-3


class ARGNSettings(BaseModel):
    """What a user may tune; recorded in the run manifest."""

    model_config = ConfigDict(extra="forbid")

    hidden_size: int = Field(default=64, ge=4, description="width of embeddings and the MLP")
    layers: int = Field(default=1, ge=0, le=8, description="residual MLP layers")
    bins: int = Field(default=64, ge=2, le=1024, description="quantile bins per numeric column")
    max_discrete_values: int = Field(
        default=100,
        ge=1,
        description="numeric/datetime columns with at most this many distinct values get one "
        "token per value",
    )
    max_categories: int = Field(
        default=200, ge=2, description="tokens per categorical column; rarer ones share 'other'"
    )
    min_category_count: int = Field(
        default=1, ge=1, description="categories seen fewer times go to the 'other' token"
    )
    clock_tokens: bool = Field(
        default=True,
        description="a datetime that varies within the day gets a time-of-day token, one whose "
        "dates cover most days a weekday token (see synthtab/models/clock_parts.py); without "
        "them its only token is a quantile bin days wide (`synthtab eval --suite datetimes` "
        "measures both)",
    )
    max_epochs: int = Field(default=100, ge=1)
    batch_size: int = Field(default=1024, ge=8, description="largest training batch")
    learning_rate: float | None = Field(
        default=None,
        gt=0.0,
        description="AdamW's first step size; None: 3e-3, or 1e-3 when a target is weighted "
        "(measured over 5 seeds: 1e-3 raised the median TSTR on all four benchmark tables with "
        "a categorical target, lending_club 0.669 -> 0.684, at the same fidelity and 1.4-1.9x "
        "the fit time; with no target it lowered california_housing's r2, 0.768 -> 0.758)",
    )
    weight_decay: float = Field(
        default=1.0,
        ge=0.0,
        description="decoupled weight decay (AdamW) on the per-token embeddings and head "
        "weights only (measured on credit_data: 1.0 lowered the validation loss)",
    )
    validation_share: float = Field(default=0.1, ge=0.0, lt=0.5)
    max_validation_rows: int = Field(default=10_000, ge=1)
    patience: int = Field(default=4, ge=1, description="epochs without improvement before stop")
    average_weights: bool = Field(
        default=True,
        description="validate, keep and sample from the weights averaged over about the last "
        "epoch's steps instead of the last step's",
    )
    plateau_lr_factor: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="an epoch without improvement multiplies the learning rate by this",
    )
    max_training_seconds: float | None = Field(default=600.0, gt=0.0)
    random_order_share: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="share of training steps in a random column order (what conditioning on "
        "any subset of columns relies on); the rest use the table's order",
    )
    temperature: float = Field(
        default=1.0, gt=0.0, description="above 1: more diverse, below 1: more typical rows"
    )
    rebalance: dict[str, dict[str, float]] | None = Field(
        default=None, description="{column: {category: share}}: target shares of categories"
    )
    conditioning_candidates: int = Field(
        default=8,
        ge=1,
        le=256,
        description="conditional sampling draws this many candidate rows per requested row "
        "(conditioned columns first) and keeps one, with probability proportional to how much "
        "likelier the table's order, the one most trained, finds it than the draw did "
        "(importance resampling); 1 keeps the draw: faster, but a condition on a column late in "
        "the table's order is then followed weakly. Not used when the conditioned columns "
        "already lead the table's order",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for training (default: all); sampling runs this many chunks "
        "of rows at once, each on one thread (default: half the cores)",
    )
    memory_budget_mb: int = Field(
        default=1024, ge=16, description="activation memory a training batch may use"
    )
    dp: DifferentialPrivacySettings | None = None
    target: str | None = Field(
        default=None,
        description="the column the synthetic rows will be used to predict (a run's --target): "
        "its likelihood term weighs target_weight times each other column's, in training and "
        "in the validation loss that stops it",
    )
    target_weight: float = Field(
        default=5.0,
        ge=1.0,
        description="measured over 3 seeds on the benchmark tables: 5 raised the median TSTR "
        "on the four with a categorical target (lending_club 0.639 -> 0.690) at the same "
        "fidelity; on california_housing's numeric one it cost SDMetrics quality, so a run "
        "weighs only a categorical or boolean target",
    )

    def step_size(self) -> float:
        """The learning rate a fit starts from (``learning_rate``'s default resolved)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return TARGET_LEARNING_RATE if self.target is not None else DEFAULT_LEARNING_RATE


# ---------------------------------------------------------------------------------------------
# tokens


@dataclass(frozen=True)
class _TokenColumn:
    """How one column's values map to tokens: intervals of its uniform (CDF) scale.

    Token t < ``values`` covers [edges[t], edges[t + 1]]; token ``values`` (when present) is null.
    A column without a value codec (id, constant) has one "present" token. A datetime's clock
    part (``part``: its time of day or weekday, see ``clock_parts``) is a token column of its
    own, on ``part_codec``'s uniform scale.
    """

    column: int  # position among the table's columns
    edges: np.ndarray
    has_null_token: bool
    ordered: bool  # numeric or datetime: its value tokens lie in the values' order
    part: ClockPart | None = None
    part_codec: NumericCodec | None = None

    def scores(self) -> np.ndarray:
        """Each token's place in the column's order as a normal score of its interval's middle
        (0 for the null token and for every token of an unordered column)."""
        scores = np.zeros(self.vocabulary)
        if self.ordered:
            middle = (self.edges[:-1] + self.edges[1:]) / 2.0
            scores[: self.values] = ndtri(np.clip(middle, 1e-4, 1.0 - 1e-4))
        return scores

    @property
    def values(self) -> int:
        return self.edges.size - 1

    @property
    def vocabulary(self) -> int:
        return self.values + int(self.has_null_token)

    @property
    def null_token(self) -> int:
        return self.values


def _value_edges(codec: Any, settings: ARGNSettings) -> np.ndarray:
    if isinstance(codec, CategoricalCodec):
        counts = np.diff(codec.cdf, prepend=0.0) * codec.count
        kept = int(min(settings.max_categories - 1, np.sum(counts >= settings.min_category_count)))
        kept = max(kept, 1)
        if kept >= codec.cdf.size - 1:
            return np.concatenate(([0.0], codec.cdf))
        # the categories after ``kept`` share the last token, decoded from the empirical tail
        return np.concatenate(([0.0], codec.cdf[:kept], [1.0]))
    marginal = codec.marginal
    if marginal.discrete:
        return np.concatenate(([0.0], marginal.cdf))
    return _quantile_edges(settings.bins, marginal.count)


# each extra tail bin holds this share of the one outside it
_TAIL_RATIO = 4.0
# ... and at least this many training rows
_TAIL_MIN_ROWS = 8


def _quantile_edges(bins: int, rows: int) -> np.ndarray:
    """Evenly spaced CDF edges, with the first and last bins split again towards the extremes
    (1/4, 1/16, ... of a bin while that holds a few rows): a value in the top 0.1% lands in a
    token of its own, so the network can pair extremes with extremes (california_housing's
    AveRooms and AveBedrms correlate 0.84 through a few dozen extreme rows, 0.09 in rank)."""
    tail = []
    share = 1.0 / bins / _TAIL_RATIO
    while share * rows >= _TAIL_MIN_ROWS:
        tail.append(share)
        share /= _TAIL_RATIO
    tail_edges = np.array(tail[::-1])
    return np.concatenate(
        ([0.0], tail_edges, np.linspace(0.0, 1.0, bins + 1)[1:-1], 1.0 - tail_edges[::-1], [1.0])
    )


def _is_ordered(column: ColumnModel) -> bool:
    return column.codec.kind in ("numeric", "datetime")


def _token_layout(
    columns: list[ColumnModel], data: pd.DataFrame, settings: ARGNSettings
) -> list[_TokenColumn]:
    layout = []
    clock_layout = []
    marginal_settings = _marginal_settings(settings)
    for index, column in enumerate(columns):
        has_null = 0.0 < column.missing_rate < 1.0 and column.codec.kind != "empty"
        if column.codec.has_latent:
            edges = _value_edges(column.codec, settings)
            layout.append(_TokenColumn(index, edges, has_null, _is_ordered(column)))
        elif has_null:
            layout.append(_TokenColumn(index, np.array([0.0, 1.0]), True, False))
        if settings.clock_tokens and isinstance(column.codec, DatetimeCodec):
            units, present = column.codec.parse(data[column.name])
            units = units[present]
            for part in clock_parts(column.codec, units):
                codec = fit_part_codec(column.codec, part, units, marginal_settings)
                edges = _value_edges(codec, settings)
                ordered = part == "time_of_day"
                clock_layout.append(_TokenColumn(index, edges, has_null, ordered, part, codec))
    return layout + clock_layout


def _marginal_settings(settings: ARGNSettings) -> GaussianCopulaSettings:
    return GaussianCopulaSettings(max_discrete_values=settings.max_discrete_values)


def _token_codec_and_values(
    token_column: _TokenColumn, column: ColumnModel, series: pd.Series
) -> tuple[Any, pd.Series]:
    """The codec whose uniform scale a token column cuts, and the values it reads: the
    column's own, or (for a clock part) the part of each value."""
    if token_column.part is None:
        return column.codec, series
    codec = column.codec
    assert isinstance(codec, DatetimeCodec) and token_column.part_codec is not None
    units, present = codec.parse(series)
    values = np.full(len(series), np.nan)
    values[present] = part_values(codec, token_column.part, units[present])
    return token_column.part_codec, pd.Series(values, name=series.name)


def _inside(low: np.ndarray, high: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """A point of each [low, high] interval at the relative position ``draws``, off the edges."""
    draws = np.clip(draws, _EDGE_MARGIN, 1.0 - _EDGE_MARGIN)
    return low + (high - low) * draws


def _encode_column(
    token_column: _TokenColumn,
    column: ColumnModel,
    series: pd.Series,
    rng: np.random.Generator,
    strict: bool,
) -> np.ndarray:
    """One token per row; ``strict`` (for conditions) refuses values that cannot be read."""
    n = len(series)
    present = series.notna().to_numpy()
    tokens = np.zeros(n, dtype=np.int64)
    if column.codec.has_latent:
        codec, series = _token_codec_and_values(token_column, column, series)
        assert isinstance(codec, NumericCodec | DatetimeCodec | CategoricalCodec)
        located = codec.intervals(series, strict=strict)
        present = located.present
        u = _inside(located.low, located.high, rng.random(located.low.size))
        edges = token_column.edges
        tokens[present] = np.clip(
            np.searchsorted(edges, u, side="right") - 1, 0, token_column.values - 1
        )
    if (~present).any():
        if not token_column.has_null_token:
            raise ValueError(
                f"column {column.name!r} was never null in training; cannot fix it to null"
            )
        tokens[~present] = token_column.null_token
    return tokens


def _token_uniforms(
    token_column: _TokenColumn, tokens: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A uniform draw inside each token's interval."""
    value_tokens = np.minimum(tokens, token_column.values - 1)
    edges = token_column.edges
    return _inside(edges[value_tokens], edges[value_tokens + 1], rng.random(tokens.size))


def _decode_column(
    token_columns: list[tuple[_TokenColumn, np.ndarray]],
    column: ColumnModel,
    n: int,
    rng: np.random.Generator,
) -> pd.Series:
    """A column's values from its token columns (the value's own first, then clock parts)."""
    own = token_columns[0] if token_columns and token_columns[0][0].part is None else None
    if column.codec.kind == "empty":
        missing = np.ones(n, dtype=bool)
    elif own is not None and own[0].has_null_token:
        missing = own[1] == own[0].null_token
    else:
        missing = np.zeros(n, dtype=bool)
    u = _token_uniforms(*own, rng) if column.codec.has_latent and own is not None else None
    codec = column.codec
    parts = [(t, tokens) for t, tokens in token_columns if t.part is not None]
    if isinstance(codec, DatetimeCodec) and u is not None and parts:
        drawn: dict[ClockPart, np.ndarray] = {}
        for token_column, tokens in parts:
            assert token_column.part is not None and token_column.part_codec is not None
            part_missing = (
                tokens == token_column.null_token
                if token_column.has_null_token
                else np.zeros(n, dtype=bool)
            )
            part_u = _token_uniforms(token_column, tokens, rng)
            decoded = token_column.part_codec.decode(part_u, part_missing, rng)
            drawn[token_column.part] = decoded.to_numpy(dtype=float)
        units = with_clock_parts(codec, codec.marginal.quantile(u), drawn)
        values = codec.stamps(units, missing)
    else:
        values = codec.decode(u, missing, rng)  # type: ignore[arg-type]
    strings = _categories_as_arrow_strings(values, column.dtype)
    return strings if strings is not None else restore_dtype(values, column.dtype)


def _categories_as_arrow_strings(values: pd.Series, dtype: str) -> pd.Series | None:
    """A categorical Series of text cast to an arrow-backed string dtype with one arrow take;
    pandas' ``astype`` goes through Python objects (measured on adult: 200 ms of a 100,000-row
    sample's 1.4 s). None where that does not apply (``restore_dtype`` does the cast then)."""
    target = pd.api.types.pandas_dtype(dtype)
    if not (
        isinstance(target, pd.StringDtype)
        and target.storage == "pyarrow"
        and isinstance(values.dtype, pd.CategoricalDtype)
        and pd.api.types.is_string_dtype(values.cat.categories.dtype)
    ):
        return None
    categories = np.asarray(values.cat.categories, dtype=object)
    codes = values.cat.codes.to_numpy()
    dictionary = pa.array(categories, type=pa.large_string())
    taken = dictionary.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype=target), name=values.name)


# ---------------------------------------------------------------------------------------------
# the network


class TokenNetwork(nn.Module):
    """Masked-sum context over column embeddings, a residual MLP and one head per column.

    Tokens of a numeric or datetime column are ordered: each has a score (the normal score of
    its interval's middle, ``_token_scores``). A column's input embeddings and head weights are
    a free part per token plus a slope and a curvature per column along that score, so what the
    network learns about one bin carries over to its neighbours: a shift of a column's
    distribution with its context is a few shared weights instead of one weight per bin, which a
    small table has too few rows to learn bin by bin. Both parts add up to one plain embedding
    table and head matrix (``token_embeddings``, ``head_weights``), so sampling costs the same.
    """

    def __init__(
        self,
        vocabularies: list[int],
        hidden: int,
        layers: int,
        scores: np.ndarray | None = None,
    ) -> None:
        """``scores``: one per token (all vocabularies in a row); None: no token is ordered."""
        super().__init__()
        if scores is None:
            scores = np.zeros(int(sum(vocabularies)), dtype=np.float32)
        columns = len(vocabularies)
        widest = max(vocabularies)
        offsets = np.concatenate(([0], np.cumsum(vocabularies)[:-1])).astype(np.int64)
        self.register_buffer("offsets", torch.from_numpy(offsets))
        self.embedding = nn.Embedding(int(sum(vocabularies)), hidden)
        self.norm = nn.LayerNorm(hidden)
        self.query = nn.Parameter(torch.randn(columns, hidden) * 0.1)
        self.blocks = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(layers))
        self.head_weight = nn.Parameter(torch.randn(columns, hidden, widest) / math.sqrt(hidden))
        self.head_bias = nn.Parameter(torch.zeros(columns, widest))
        # the ordered part: zero at the start, so training begins from the plain network
        self.embedding_slope = nn.Parameter(torch.zeros(2, columns, hidden))
        self.head_slope = nn.Parameter(torch.zeros(2, columns, hidden))
        padding = torch.zeros(columns, widest)
        head_scores = torch.zeros(columns, widest)
        token_scores = torch.from_numpy(np.asarray(scores, dtype=np.float32))
        for k, size in enumerate(vocabularies):
            padding[k, size:] = -1e9  # tokens a column does not have are never predicted
            head_scores[k, :size] = token_scores[offsets[k] : offsets[k] + size]
        self.register_buffer("padding", padding)
        # each column's weight in the loss (see ARGNSettings.target); set for training only
        self.register_buffer("column_weights", torch.ones(columns), persistent=False)
        # derived from the token layout, so rebuilt (not stored) when a model is loaded
        token_column = np.repeat(np.arange(columns), vocabularies)
        self.register_buffer("token_column", torch.from_numpy(token_column), persistent=False)
        self.register_buffer(
            "token_features", torch.stack((token_scores, token_scores**2 - 1.0)), persistent=False
        )
        self.register_buffer(
            "head_features", torch.stack((head_scores, head_scores**2 - 1.0)), persistent=False
        )
        nn.init.normal_(self.embedding.weight, std=0.1)

    def parameter_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """Weight decay on the free per-token parts only: it pulls a bin that few rows
        inform towards what its column's ordered part says, and leaves the rest alone."""
        free = [self.embedding.weight, self.head_weight]
        rest = [p for p in self.parameters() if all(p is not q for q in free)]
        return [
            {"params": free, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ]

    def token_embeddings(self) -> torch.Tensor:
        """Every token's input embedding (tokens, hidden): free part plus the ordered part."""
        ordered = torch.einsum(
            "ft,fth->th", self.token_features, self.embedding_slope[:, self.token_column]
        )
        return self.embedding.weight + ordered

    def head_weights(self) -> torch.Tensor:
        """Every column's head (columns, hidden, widest): free part plus the ordered part."""
        ordered = torch.einsum("fkh,fkv->khv", self.head_slope, self.head_features)
        return self.head_weight + ordered

    def _hidden(self, context: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        h = torch.nn.functional.gelu(self.norm(context) + query)
        for block in self.blocks:
            h = h + torch.nn.functional.gelu(block(h))
        return h

    def forward(self, tokens: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        """Logits (batch, columns, widest) of each column given the columns ``before`` it
        (``before[k, j] = 1`` when column j precedes column k)."""
        embedded = torch.nn.functional.embedding(tokens + self.offsets, self.token_embeddings())
        context = torch.matmul(before, embedded)
        h = self._hidden(context, self.query)
        logits = torch.einsum("bkh,khv->bkv", h, self.head_weights())
        return logits + self.head_bias + self.padding

    def loss(self, tokens: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood per row (summed over columns with their
        ``column_weights``), averaged over the batch."""
        logits = self.forward(tokens, before)
        # flat rows of logits: cross-entropy over a transposed (batch, tokens, columns) view is
        # about 1.6x slower forward and backward (measured on adult's shape)
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1), reduction="none"
        ).view(tokens.shape)
        return (nll * self.column_weights).sum() / tokens.shape[0]

    def sampling_heads(self, sizes: list[int]) -> list[_SamplingHead]:
        """Each column's weights laid out for sampling, computed once per ``sample`` call:
        the query folded into the norm's bias and the head cut to the column's own tokens and
        made contiguous, so each sampling step is one layer_norm, one gelu and one addmm."""
        embedding = self.token_embeddings()
        head_weight = self.head_weights()
        heads = []
        for k, size in enumerate(sizes):
            offset = int(self.offsets[k])
            heads.append(
                _SamplingHead(
                    norm_bias=(self.norm.bias + self.query[k]).contiguous(),
                    weight=head_weight[k, :, :size].contiguous(),
                    bias=self.head_bias[k, :size].contiguous(),
                    embedding=embedding[offset : offset + size].contiguous(),
                )
            )
        return heads

    def sampling_logits(self, context: torch.Tensor, head: _SamplingHead) -> torch.Tensor:
        """Logits of one column's tokens for a batch of contexts (batch, hidden); the same
        function as ``forward``'s for that column, with fewer passes over the batch."""
        hidden = self.norm.normalized_shape
        h = torch.nn.functional.layer_norm(
            context, hidden, self.norm.weight, head.norm_bias, self.norm.eps
        )
        h = torch.nn.functional.gelu(h)
        for block in self.blocks:
            h += torch.nn.functional.gelu(block(h))
        return torch.addmm(head.bias, h, head.weight)


@dataclass(frozen=True)
class _SamplingHead:
    """One column's slice of the network, contiguous in memory (see ``sampling_heads``)."""

    norm_bias: torch.Tensor  # the norm's bias plus the column's query (hidden,)
    weight: torch.Tensor  # (hidden, size)
    bias: torch.Tensor  # (size,)
    embedding: torch.Tensor  # the column's token embeddings (size, hidden)


@dataclass(frozen=True)
class ChunkSampler:
    """Samples the tokens of one chunk of rows, column by column (see ``_sample_tokens``).

    Every step is a whole-chunk torch operation on one thread: no per-row Python. Chunks are
    independent, so several run at once in Python threads (torch releases the GIL), which on a
    shared machine degrades gracefully where torch's own threads wait on each other.

    With ``candidates`` above 1 (conditional sampling), each row is drawn that many times and
    one draw is kept by importance resampling towards the table's order: the conditioned-first
    order lets free columns see the conditions, but the network learned it from a fifth of the
    training steps only, so a draw is weighed by how much likelier the table's order finds it
    than the draw itself did."""

    network: TokenNetwork
    heads: list[_SamplingHead]
    order: list[int]  # token columns in sampling order, conditioned ones first
    fixed: dict[int, torch.Tensor]  # token column -> the conditioned tokens of every row
    temperature: float
    candidates: int = 1

    @torch.inference_mode()
    def __call__(self, start: int, stop: int, rng: np.random.Generator) -> torch.Tensor:
        rows = stop - start
        tokens, drawn_log_likelihood = self._draw(start, stop, rng)
        if self.candidates == 1:
            return tokens
        log_weights = self.table_order_log_likelihood(tokens) - drawn_log_likelihood
        # Gumbel-max: each row keeps one candidate, with probability proportional to its weight
        gumbel = torch.from_numpy(rng.gumbel(size=(rows, self.candidates)).astype(np.float32))
        kept = (log_weights.view(rows, self.candidates) + gumbel).argmax(dim=1)
        return tokens.view(rows, self.candidates, -1)[torch.arange(rows), kept]

    def _logits(self, context: torch.Tensor, head: _SamplingHead) -> torch.Tensor:
        logits = self.network.sampling_logits(context, head)
        if self.temperature != 1.0:
            logits /= self.temperature
        return logits

    def _draw(
        self, start: int, stop: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``candidates`` draws of each row (rows x candidates, columns), a row's draws next
        to each other, and the log-likelihood of the drawn tokens (only with candidates)."""
        copies = self.candidates
        rows = (stop - start) * copies
        width = len(self.heads)
        tokens = torch.empty((width, rows), dtype=torch.int64)
        drawn_log_likelihood = torch.zeros(rows)
        # one uniform per row and column, drawn up front: no per-column numpy call
        draws = torch.from_numpy(rng.random((width, rows), dtype=np.float32))
        context = torch.zeros(rows, self.network.query.shape[1])
        for position, j in enumerate(self.order):
            head = self.heads[j]
            if j in self.fixed:
                given = self.fixed[j][start:stop]
                tokens[j] = given.repeat_interleave(copies) if copies > 1 else given
            else:
                # the first column drawn given nothing has one distribution for every row:
                # its logits are computed once (a 1-D cumulative serves every row's draw)
                same_for_all = position == 0
                logits = self._logits(context[:1] if same_for_all else context, head)
                if copies > 1:
                    log_probabilities = torch.log_softmax(logits, dim=1)
                # inverse CDF on unnormalised weights: the first token whose cumulative weight
                # exceeds the draw's share of the total, so a token of weight 0 is never drawn
                # (exp after a shift by the row's largest logit never overflows; measured
                # faster than softmax on narrow columns)
                logits -= logits.amax(dim=1, keepdim=True)
                cumulative = logits.exp_().cumsum_(dim=1)
                if same_for_all:
                    cumulative = cumulative.squeeze(0)
                    chosen = torch.searchsorted(cumulative, draws[j] * cumulative[-1], right=True)
                else:
                    targets = draws[j].unsqueeze(1) * cumulative[:, -1:]
                    chosen = torch.searchsorted(cumulative, targets, right=True).squeeze_(1)
                tokens[j] = chosen.clamp_(max=head.bias.shape[0] - 1)
                if copies > 1:
                    drawn_log_likelihood += _picked(log_probabilities, tokens[j], same_for_all)
            context += head.embedding.index_select(0, tokens[j])
        return tokens.T, drawn_log_likelihood

    @torch.inference_mode()
    def table_order_log_likelihood(self, tokens: torch.Tensor) -> torch.Tensor:
        """Each row's log-likelihood (rows,) in the table's order, at the sampling temperature:
        what ``forward`` gives in that order (the order training fits), column by column."""
        rows = tokens.shape[0]
        total = torch.zeros(rows)
        context = torch.zeros(rows, self.network.query.shape[1])
        for j, head in enumerate(self.heads):
            first = j == 0
            logits = self._logits(context[:1] if first else context, head)
            total += _picked(torch.log_softmax(logits, dim=1), tokens[:, j], first)
            context += head.embedding.index_select(0, tokens[:, j])
        return total


def _picked(log_probabilities: torch.Tensor, tokens: torch.Tensor, shared: bool) -> torch.Tensor:
    """The log-probability of each row's token; ``shared``: one distribution for every row."""
    if shared:
        return log_probabilities[0, tokens]
    return log_probabilities.gather(1, tokens.unsqueeze(1)).squeeze(1)


@torch.no_grad()
def _average_into(averaged: nn.Module, network: nn.Module, weight: float) -> None:
    """Move ``averaged``'s parameters ``weight`` of the way towards ``network``'s."""
    torch._foreach_lerp_(list(averaged.parameters()), list(network.parameters()), weight)


def order_mask(position: torch.Tensor) -> torch.Tensor:
    """before[k, j] = 1 when column j comes before column k in an order given by positions."""
    return (position[None, :] < position[:, None]).to(torch.float32)


def _default_threads(batch: int, columns: int, settings: ARGNSettings) -> int:
    """All cores for batches big enough to split; one for small ones, where threads mostly wait
    on each other. Measured on the idle 2-core machine, whole fits, 2 threads against 1: credit_data
    (250-row batches x 14 columns) 1.3x faster, adult, telco_churn, lending_club, ames_housing and
    california_housing 1.4-1.6x; titanic (124 x 8) the same; pima_diabetes (43 x 9) 1.1x slower.
    On cores busy with other work, a 128-row step took 7 ms on one thread and 100 ms on two."""
    work = batch * columns * settings.hidden_size
    return (os.cpu_count() or 1) if work >= 2**16 else 1


def _validation_rows(rows: int, settings: ARGNSettings) -> int:
    """The rows a fit holds out to stop on; none under DP (every look at the data must be
    accounted) or when no training row would be left."""
    held_out = min(int(rows * settings.validation_share), settings.max_validation_rows)
    return 0 if rows - held_out < 1 or settings.dp is not None else held_out


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """torch's thread count is process-wide: set it for a block and put it back after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def pick_device(choice: str) -> torch.device:
    """The one place that picks the training device."""
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but no CUDA GPU is available")
        return torch.device("cuda")
    return torch.device("cpu")


# ---------------------------------------------------------------------------------------------
# training


class _TrainingStep(Protocol):
    """One optimisation step on a batch; DP-SGD swaps in another implementation."""

    def __call__(self, batch: torch.Tensor, before: torch.Tensor) -> None: ...


@dataclass
class _PlainStep:
    network: TokenNetwork
    optimizer: torch.optim.Optimizer

    def __call__(self, batch: torch.Tensor, before: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.network.loss(batch, before).backward()
        self.optimizer.step()


def _private_step(
    network: TokenNetwork,
    optimizer: torch.optim.Optimizer,
    dp: DifferentialPrivacySettings,
    sample_rate: float,
    planned_steps: int,
    batch: int,
    seed: int,
    device: torch.device,
) -> tuple[_TrainingStep, dict[str, Any]]:
    """The DP-SGD step for the settings' engine, and what its accounting says."""
    noise = noise_for_budget(sample_rate, planned_steps, dp.epsilon, dp.delta, dp.engine)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed + 1)
    engine = OpacusStep if dp.engine == "opacus" else PrivateStep
    step = engine(network, optimizer, dp.max_grad_norm, noise, batch, generator)
    accounting = {
        "engine": dp.engine,
        "epsilon": dp.epsilon,
        "delta": dp.delta,
        "max_grad_norm": dp.max_grad_norm,
        "noise_multiplier": round(noise, 6),
        "sample_rate": sample_rate,
        "planned_steps": planned_steps,
        "covers": "the network's training; column encodings (bins, category lists) are "
        "computed from the data without noise",
    }
    return step, accounting


# settings that only say how long to train, or how to sample: a resumed fit may change them
_NOT_SHAPING = frozenset(
    {
        "max_epochs",
        "max_training_seconds",
        "patience",
        "threads",
        "temperature",
        "rebalance",
        "conditioning_candidates",
    }
)


def _model_shaping(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if k not in _NOT_SHAPING}


@dataclass
class _TrainingState:
    """Everything a checkpoint holds to continue training exactly where it stopped."""

    epoch: int
    best_loss: float
    best_weights: dict[str, torch.Tensor]
    stale_epochs: int
    seconds: float
    steps: int = 0


_MIN_STEPS_PER_EPOCH = 16
_MIN_IMPROVEMENT = 1e-3  # relative gain in validation loss that resets early stopping


def _improves(loss: float, best: float) -> bool:
    return math.isinf(best) or loss < best - _MIN_IMPROVEMENT * abs(best)


def _batch_size(settings: ARGNSettings, columns: int, widest: int, rows: int) -> int:
    """The batch of an epoch's steps: at most the settings' batch size and what the memory
    budget holds, small enough for a few steps per epoch on a small table (one step per epoch
    learns too slowly), and evened out over the epoch's steps.

    Why even: a last step on the few rows left over moves the weights as far as a full batch
    does on a sliver of the evidence (4,817 rows in 301-row batches left one row). Evened
    batches, measured in-process on 95% of the compare splits (what the CLI fits), 3 seeds:
    own fidelity telco_churn 0.982 -> 0.987, credit_data 0.979 -> 0.982, california_housing
    0.986 -> 0.988, lending_club 0.986 -> 0.988, adult the same (its batches were full)."""
    floats_per_row = columns * (settings.hidden_size * (4 + 3 * settings.layers) + 3 * widest)
    by_memory = settings.memory_budget_mb * 2**20 // (4 * max(floats_per_row, 1))
    by_rows = max(rows // _MIN_STEPS_PER_EPOCH, 32)
    largest = int(max(8, min(settings.batch_size, by_memory, by_rows)))
    steps = math.ceil(max(rows, 1) / largest)
    return math.ceil(max(rows, 1) / steps)


# ---------------------------------------------------------------------------------------------
# the model


@dataclass(frozen=True)
class _FittedARGN:
    table: Table
    columns: list[ColumnModel]
    tokens: list[_TokenColumn]
    network: TokenNetwork
    training: dict[str, Any]  # what the fit did: epochs, losses, seconds, device

    def token_columns_by_column(self) -> dict[int, list[int]]:
        """Each table column's token columns, its own first."""
        by_column: dict[int, list[int]] = {}
        for j, token_column in enumerate(self.tokens):
            by_column.setdefault(token_column.column, []).append(j)
        return by_column


class ARGNSynthesizer(Synthesizer):
    """Autoregressive network over discretised columns; see the module docstring.

    ``sample(n, seed, conditions=..., temperature=..., rebalance=...)``: conditions fix any
    subset of columns (one row per sampled row); ``rebalance`` draws a categorical column's
    values with the given shares and conditions on them.
    """

    name: ClassVar[str] = "argn"

    def __init__(self, **settings: Any) -> None:
        self._settings = ARGNSettings(**settings)
        self._fitted: _FittedARGN | None = None

    # -- the interface ------------------------------------------------------------------------

    def fit(
        self,
        data: pd.DataFrame,
        table: Table,
        seed: int = 0,
        *,
        checkpoint_path: Path | str | None = None,
        resume_from: Path | str | None = None,
    ) -> Self:
        """Learn the table. ``checkpoint_path``: write a checkpoint there after every epoch;
        ``resume_from``: continue a fit (same data, table, seed and settings) from one."""
        absent = [name for name in table.column_names if name not in data.columns]
        if absent:
            raise ValueError(f"table {table.name!r}: the data has no column(s) {absent}")
        target = self._settings.target
        if target is not None and target not in table.column_names:
            raise ValueError(
                f"table {table.name!r}: the target {target!r} is not a column; columns are "
                f"{table.column_names}"
            )
        if len(data) == 0:
            raise ValueError(f"table {table.name!r}: cannot fit on a table without rows")
        settings = self._settings
        rng = np.random.default_rng(seed)
        data = data.reset_index(drop=True)
        marginal_settings = _marginal_settings(settings)
        columns = [fit_column(data[c.name], c, marginal_settings) for c in table.columns]
        layout = _token_layout(columns, data, settings)
        encoded = np.zeros((len(data), len(layout)), dtype=np.int64)
        for j, token_column in enumerate(layout):
            column = columns[token_column.column]
            encoded[:, j] = _encode_column(
                token_column, column, data[column.name], rng, strict=False
            )
        weights = [
            settings.target_weight
            if target is not None and columns[t.column].name == target
            else 1.0
            for t in layout
        ]
        network, training = self._train(
            encoded, layout, weights, seed, checkpoint_path, resume_from
        )
        self._fitted = _FittedARGN(table, columns, layout, network, training)
        return self

    def sample(
        self,
        n: int,
        seed: int = 0,
        conditions: pd.DataFrame | None = None,
        *,
        temperature: float | None = None,
        rebalance: dict[str, dict[str, float]] | None = None,
        conditioning_candidates: int | None = None,
    ) -> pd.DataFrame:
        """``temperature``, ``rebalance`` and ``conditioning_candidates`` override the
        settings' for this call."""
        fitted = self._require_fitted()
        if n < 0:
            raise ValueError(f"cannot sample {n} rows")
        temperature = self._settings.temperature if temperature is None else temperature
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, not {temperature}")
        rebalance = self._settings.rebalance if rebalance is None else rebalance
        candidates = (
            self._settings.conditioning_candidates
            if conditioning_candidates is None
            else conditioning_candidates
        )
        if candidates < 1:
            raise ValueError(f"conditioning_candidates must be at least 1, not {candidates}")
        rng = np.random.default_rng(seed)
        given: dict[int, np.ndarray] = {}  # token column -> fixed tokens
        if conditions is not None and conditions.shape[1] > 0:
            conditions = self._checked_conditions(conditions, n)
        else:
            conditions = None
        if rebalance:
            conditions = self._with_rebalanced(conditions, rebalance, n, rng)
        by_column = fitted.token_columns_by_column()
        if conditions is not None:
            for name in conditions.columns:
                i = self._position(name)
                if i in by_column:
                    series = pd.Series(conditions[name].to_numpy(), name=name)
                    for j in by_column[i]:
                        given[j] = _encode_column(
                            fitted.tokens[j], fitted.columns[i], series, rng, strict=True
                        )
                elif conditions[name].isna().any() and fitted.columns[i].codec.kind != "empty":
                    raise ValueError(
                        f"column {name!r} was never null in training; cannot fix it to null"
                    )
        # torch itself on one thread, and chunks of rows in parallel instead: column-by-column
        # sampling is a chain of small steps, and on a shared 2-core machine torch's two threads
        # waiting on each other sampled 20-27k rows/s where one thread sampled 77-107k. Chunk
        # workers share Python's lock between torch calls, so on a busy machine they wait too:
        # on 2 shared cores (adult, 100k rows) one worker sampled 121-126k rows/s, two 92-100k
        workers = self._settings.threads or max(1, (os.cpu_count() or 1) // 2)
        with torch_threads(1):
            tokens = self._sample_tokens(n, given, temperature, candidates, rng, workers)
        out: dict[str, pd.Series] = {}
        for i, column in enumerate(fitted.columns):
            token_columns = [(fitted.tokens[j], tokens[:, j]) for j in by_column.get(i, [])]
            out[column.name] = _decode_column(token_columns, column, n, rng)
        if conditions is not None:
            for name in conditions.columns:
                values = pd.Series(conditions[name].to_numpy(), name=name)
                out[name] = restore_dtype(values, fitted.columns[self._position(name)].dtype)
        return pd.DataFrame(out, index=pd.RangeIndex(n))

    def settings(self) -> dict[str, Any]:
        return self._settings.model_dump(mode="json")

    def training_summary(self) -> dict[str, Any]:
        """What the last fit did (epochs, losses, seconds, device, why it stopped)."""
        return dict(self._require_fitted().training)

    def save(self, path: Path | str) -> None:
        fitted = self._require_fitted()
        columns_meta, arrays = encode_columns(fitted.columns)
        tokens_meta = []
        for j, token_column in enumerate(fitted.tokens):
            arrays[f"t{j}_edges"] = token_column.edges
            entry: dict[str, Any] = {
                "column": token_column.column,
                "has_null_token": token_column.has_null_token,
            }
            if token_column.part is not None and token_column.part_codec is not None:
                part_meta, part_arrays = token_column.part_codec.payload(f"t{j}_part_")
                arrays.update(part_arrays)
                entry |= {"part": token_column.part, "part_codec": part_meta}
            tokens_meta.append(entry)
        if fitted.network is not None:
            for key, tensor in fitted.network.state_dict().items():
                arrays[f"w_{key}"] = tensor.detach().cpu().numpy()
        meta = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "model": self.name,
            "settings": self.settings(),
            "table": fitted.table.model_dump(mode="json"),
            "columns": columns_meta,
            "tokens": tokens_meta,
            "training": fitted.training,
        }
        write_model_archive(path, meta, arrays)

    @classmethod
    def load(cls, path: Path | str) -> Self:
        meta, arrays = read_model_archive(
            path, cls.name, _FILE_FORMAT, _FILE_VERSION, also_reads=_OLDER_VERSIONS
        )
        columns = decode_columns(meta["columns"], arrays)
        layout = []
        for j, entry in enumerate(meta["tokens"]):
            part = entry.get("part")
            part_codec = (
                NumericCodec.from_payload(entry["part_codec"], arrays, f"t{j}_part_")
                if part is not None
                else None
            )
            ordered = part == "time_of_day" or (
                part is None and _is_ordered(columns[int(entry["column"])])
            )
            layout.append(
                _TokenColumn(
                    int(entry["column"]),
                    arrays[f"t{j}_edges"],
                    bool(entry["has_null_token"]),
                    ordered,
                    part,
                    part_codec,
                )
            )
        model = cls(**meta["settings"])
        network = model._new_network(layout)
        state = {
            key[2:]: torch.from_numpy(value) for key, value in arrays.items() if key[:2] == "w_"
        }
        if network is not None:
            network.load_state_dict(state)
            network.eval()
        model._fitted = _FittedARGN(
            Table.model_validate(meta["table"]), columns, layout, network, meta["training"]
        )
        return model

    # -- training -----------------------------------------------------------------------------

    def _new_network(self, layout: list[_TokenColumn]) -> TokenNetwork | None:
        if not layout:
            return None
        return TokenNetwork(
            [t.vocabulary for t in layout],
            self._settings.hidden_size,
            self._settings.layers,
            np.concatenate([t.scores() for t in layout]),
        )

    def _train(
        self,
        encoded: np.ndarray,
        layout: list[_TokenColumn],
        column_weights: list[float],
        seed: int,
        checkpoint_path: Path | str | None,
        resume_from: Path | str | None,
    ) -> tuple[TokenNetwork | None, dict[str, Any]]:
        settings = self._settings
        torch.manual_seed(seed)
        network = self._new_network(layout)
        if network is None:
            return None, {"epochs": 0, "stopped": "no column to learn"}
        network.column_weights = torch.tensor(column_weights, dtype=torch.float32)
        device = pick_device(settings.device)
        # sized here, before training, because the thread count depends on it
        widest = max(t.vocabulary for t in layout)
        rows = len(encoded) - _validation_rows(len(encoded), settings)
        batch = _batch_size(settings, len(layout), widest, rows)
        threads = settings.threads or _default_threads(batch, len(layout), settings)
        try:
            with torch_threads(threads):
                training = self._train_loop(
                    network, encoded, batch, seed, device, checkpoint_path, resume_from
                )
        finally:
            network.to("cpu").eval()
        # torch's CPU threads (on a GPU they only feed it)
        return network, {**training, "threads": threads}

    def _train_loop(
        self,
        network: TokenNetwork,
        encoded: np.ndarray,
        batch: int,
        seed: int,
        device: torch.device,
        checkpoint_path: Path | str | None,
        resume_from: Path | str | None,
    ) -> dict[str, Any]:
        settings = self._settings
        started = time.perf_counter()
        rows, width = encoded.shape
        private = settings.dp is not None
        split = np.random.default_rng([seed, 1]).permutation(rows)
        validation_rows = _validation_rows(rows, settings)
        train = torch.from_numpy(encoded[split[validation_rows:]]).to(device)
        validation = torch.from_numpy(encoded[split[:validation_rows]]).to(device)
        network.to(device)
        optimizer = torch.optim.AdamW(
            network.parameter_groups(settings.weight_decay), lr=settings.step_size()
        )
        steps_per_epoch = math.ceil(train.shape[0] / batch)
        generator = torch.Generator(device=device)
        generator.manual_seed(seed)
        step: _TrainingStep = _PlainStep(network, optimizer)
        privacy: dict[str, Any] = {}
        if settings.dp is not None:
            step, privacy = _private_step(
                network,
                optimizer,
                settings.dp,
                batch / train.shape[0],
                steps_per_epoch * settings.max_epochs,
                batch,
                seed,
                device,
            )
        fixed_order = order_mask(torch.arange(width, device=device))
        # what is validated, kept and sampled from: the weights averaged over about the last
        # epoch's steps (with few rows, the last step's weights carry that step's batch's noise)
        averaged = copy.deepcopy(network) if settings.average_weights else network
        state = _TrainingState(0, math.inf, {}, 0, 0.0)
        if resume_from is not None:
            state = self._resume(Path(resume_from), network, averaged, optimizer, generator, device)
        history: list[float] = []
        stopped = "max_epochs"
        while state.epoch < settings.max_epochs:
            network.train()
            order = torch.randperm(train.shape[0], device=device, generator=generator)
            random_steps = torch.rand(steps_per_epoch, generator=generator, device=device)
            random_steps = (random_steps < settings.random_order_share).tolist()
            out_of_time = False
            for index in range(steps_per_epoch):
                if random_steps[index]:
                    positions = torch.randperm(width, device=device, generator=generator)
                    before = order_mask(positions)
                else:
                    before = fixed_order
                if private:
                    # DP-SGD's accounting assumes Poisson sampling: each row joins with rate q
                    joins = torch.rand(train.shape[0], generator=generator, device=device)
                    rows_in = torch.nonzero(joins < batch / train.shape[0]).squeeze(1)
                    step(train[rows_in], before)
                else:
                    step(train[order[index * batch : (index + 1) * batch]], before)
                state.steps += 1
                if averaged is not network:
                    _average_into(averaged, network, 1.0 / min(state.steps, steps_per_epoch))
                limit = settings.max_training_seconds
                if limit is not None and state.seconds + time.perf_counter() - started > limit:
                    out_of_time = True
                    break
            state.epoch += 1
            if not private:
                loss = self._validation_loss(
                    averaged, validation if validation_rows else train, batch
                )
                history.append(loss)
                # an epoch counts as progress when it gains 0.1% of the loss: smaller steps are
                # the long tail after the learning rate has been cut (telco_churn: 35 epochs
                # that gained 0.08 nats in all)
                if _improves(loss, state.best_loss):
                    state.best_loss = loss
                    state.best_weights = copy.deepcopy(averaged.state_dict())
                    state.stale_epochs = 0
                else:
                    state.stale_epochs += 1
                    for group in optimizer.param_groups:
                        group["lr"] *= settings.plateau_lr_factor
            seconds = state.seconds + time.perf_counter() - started
            if checkpoint_path is not None:
                self._checkpoint(
                    Path(checkpoint_path), network, averaged, optimizer, generator, state, seconds
                )
            if out_of_time:
                stopped = "time budget"
                break
            if state.stale_epochs >= settings.patience:
                stopped = "early stopping"
                break
        if state.best_weights:
            network.load_state_dict(state.best_weights)
        elif averaged is not network:
            network.load_state_dict(averaged.state_dict())
        if settings.dp is not None:
            privacy["steps"] = state.steps
            spent = epsilon_spent(
                privacy["sample_rate"],
                privacy["noise_multiplier"],
                state.steps,
                settings.dp.delta,
                settings.dp.engine,
            )
            privacy["epsilon_spent"] = round(spent, 4)
        summary = {
            "epochs": state.epoch,
            "stopped": stopped,
            "best_validation_loss": None if math.isinf(state.best_loss) else state.best_loss,
            "validation_losses": [round(v, 5) for v in history],
            "seconds": round(state.seconds + time.perf_counter() - started, 3),
            "device": str(device),
            "batch_size": batch,
            "initial_learning_rate": settings.step_size(),
            "training_rows": int(train.shape[0]),
            "validation_rows": int(validation_rows),
        }
        return {**summary, "dp": privacy} if privacy else summary

    @staticmethod
    @torch.no_grad()
    def _validation_loss(network: TokenNetwork, tokens: torch.Tensor, batch: int) -> float:
        network.eval()
        width = tokens.shape[1]
        before = order_mask(torch.arange(width, device=tokens.device))
        total = 0.0
        for start in range(0, tokens.shape[0], batch):
            chunk = tokens[start : start + batch]
            total += float(network.loss(chunk, before)) * chunk.shape[0]
        return total / max(tokens.shape[0], 1)

    def _checkpoint(
        self,
        path: Path,
        network: TokenNetwork,
        averaged: TokenNetwork,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        state: _TrainingState,
        seconds: float,
    ) -> None:
        payload = {
            "format": _FILE_FORMAT + ".checkpoint",
            "version": _FILE_VERSION,
            "settings": self.settings(),
            "epoch": state.epoch,
            "best_loss": state.best_loss,
            "best_weights": state.best_weights,
            "stale_epochs": state.stale_epochs,
            "seconds": seconds,
            "steps": state.steps,
            "weights": network.state_dict(),
            "averaged": averaged.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
        }
        partial = path.with_name(path.name + ".partial")
        torch.save(payload, partial)
        partial.replace(path)  # a crash mid-write never leaves a broken checkpoint

    def _resume(
        self,
        path: Path,
        network: TokenNetwork,
        averaged: TokenNetwork,
        optimizer: torch.optim.Optimizer,
        generator: torch.Generator,
        device: torch.device,
    ) -> _TrainingState:
        try:
            payload = torch.load(path, map_location=device, weights_only=True)
        except (OSError, RuntimeError, EOFError) as error:
            raise ValueError(f"{path}: cannot read the checkpoint ({error})") from error
        if not isinstance(payload, dict) or payload.get("format") != _FILE_FORMAT + ".checkpoint":
            raise ValueError(f"{path}: not a {self.name} training checkpoint")
        # checkpoints before version 2 carried no version: their network had no ordered part
        version = payload.get("version", 1)
        if version != _FILE_VERSION:
            raise ValueError(
                f"{path}: the checkpoint is format version {version}, this synthtab resumes "
                f"version {_FILE_VERSION} only; start the fit again without resuming"
            )
        if _model_shaping(payload["settings"]) != _model_shaping(self.settings()):
            raise ValueError(f"{path}: the checkpoint was written with other settings")
        try:
            network.load_state_dict(payload["weights"])
            averaged.load_state_dict(payload["averaged"])
        except (RuntimeError, KeyError) as error:
            raise ValueError(f"{path}: the checkpoint is for another table ({error})") from error
        optimizer.load_state_dict(payload["optimizer"])
        generator.set_state(payload["generator"].cpu())
        return _TrainingState(
            int(payload["epoch"]),
            float(payload["best_loss"]),
            payload["best_weights"],
            int(payload["stale_epochs"]),
            float(payload["seconds"]),
            int(payload["steps"]),
        )

    # -- sampling -----------------------------------------------------------------------------

    def _sample_tokens(
        self,
        n: int,
        given: dict[int, np.ndarray],
        temperature: float,
        candidates: int,
        rng: np.random.Generator,
        workers: int,
    ) -> np.ndarray:
        """Tokens (n, token columns): chunks of rows sampled column by column, ``workers``
        chunks at a time. Each chunk draws from its own seed, taken from ``rng`` up front, so
        the rows do not depend on how many workers there were or which finished first."""
        fitted = self._require_fitted()
        width = len(fitted.tokens)
        network = fitted.network
        if network is None or n == 0:
            return np.zeros((n, width), dtype=np.int64)
        tokens = torch.zeros((n, width), dtype=torch.int64)
        # conditioned columns first, then the rest in the table's order (the trained one); when
        # the conditioned columns lead the table's order anyway, the draws need no reweighing
        order = sorted(given) + [j for j in range(width) if j not in given]
        candidates = 1 if order == list(range(width)) else candidates
        with torch.inference_mode():
            sampler = ChunkSampler(
                network,
                network.sampling_heads([t.vocabulary for t in fitted.tokens]),
                order,
                {j: torch.from_numpy(values) for j, values in given.items()},
                temperature,
                candidates,
            )
        # candidate rows per chunk stay at most _SAMPLING_CHUNK (memory, cache)
        chunk = max(1, _SAMPLING_CHUNK // candidates)
        starts = range(0, n, chunk)
        seeds = rng.integers(0, 2**63 - 1, size=len(starts))

        def run(start: int, seed: int) -> None:
            stop = min(start + chunk, n)
            tokens[start:stop] = sampler(start, stop, np.random.default_rng(seed))

        if workers <= 1 or len(starts) == 1:
            for start, seed in zip(starts, seeds, strict=True):
                run(start, int(seed))
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(run, starts, (int(seed) for seed in seeds)))
        return tokens.numpy()

    def _with_rebalanced(
        self,
        conditions: pd.DataFrame | None,
        rebalance: dict[str, dict[str, float]],
        n: int,
        rng: np.random.Generator,
    ) -> pd.DataFrame:
        """Conditions that draw each rebalanced column's categories with the target shares;
        categories not named share what is left in their training proportions."""
        fitted = self._require_fitted()
        frame = conditions.copy() if conditions is not None else pd.DataFrame(index=range(n))
        for name, shares in rebalance.items():
            if frame is not None and name in frame.columns:
                raise ValueError(f"column {name!r} is both conditioned on and rebalanced")
            column = fitted.columns[self._position(name)]
            codec = column.codec
            if not isinstance(codec, CategoricalCodec):
                raise ValueError(f"column {name!r} is not categorical; only those rebalance")
            categories = [str(c) for c in codec.categories]
            frequency = np.diff(codec.cdf, prepend=0.0) * (1.0 - column.missing_rate)
            probabilities = rebalanced_probabilities(
                name, categories, frequency, column.missing_rate, shares
            )
            picks = rng.choice(probabilities.size, size=n, p=probabilities)
            values = pd.Series(
                pd.Categorical.from_codes(
                    np.where(picks == len(categories), -1, picks), categories=codec.categories
                )
            )
            frame[name] = restore_dtype(values, column.dtype).to_numpy()
        known = [c.name for c in fitted.columns]
        return frame[[c for c in known if c in frame.columns]].reset_index(drop=True)

    # -- checks -------------------------------------------------------------------------------

    def _require_fitted(self) -> _FittedARGN:
        if self._fitted is None:
            raise RuntimeError(f"{self.name}: fit the model before sampling or saving it")
        return self._fitted

    def _position(self, name: str) -> int:
        names = [c.name for c in self._require_fitted().columns]
        if name not in names:
            raise ValueError(f"unknown column {name!r}; columns: {names}")
        return names.index(name)

    def _checked_conditions(self, conditions: pd.DataFrame, n: int) -> pd.DataFrame:
        return checked_conditions(conditions, [c.name for c in self._require_fitted().columns], n)
