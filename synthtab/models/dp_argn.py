"""A differentially private autoregressive network: the argn family trained with DP-SGD on codes
over DP domains, every look at the data inside one (epsilon, delta).

1. Domains: each column becomes a few codes (``synthtab.dp.domain``, as dp_mst and dp_copula
   have them): declared bounds and categories are free; missing ones are released with DP from a
   share of this model's budget. The network's vocabularies are the domains' code counts, so no
   category list, bin edge or vocabulary is read off the rows.
2. Every column's 1-way marginal is released with Gaussian noise (a small share): its noisy
   total is the row count the training plan is made from (sample rate, steps), its shares start
   each column's output bias (the network begins at the independent model and DP-SGD spends its
   signal on the dependencies), mark the codes never to draw (a share denoised to 0) and weigh
   the released categories for rows coded 'other' at decoding.
3. The network (argn's: masked-sum context over code embeddings, a residual MLP, a head per
   column; the table's column order) is trained with DP-SGD (``synthtab.models.dp_sgd``):
   Poisson sampling at a rate fixed from public quantities, per-row gradients clipped, Gaussian
   noise, a fixed number of steps. No validation split and no early stopping: both would read
   the rows outside the budget.
4. Calibration (post-processing, free): each column's output bias is shifted until the
   network's own samples have the released marginals; DP-SGD's clipped, noisy steps make them
   drift.
5. Sampling draws codes column by column and decodes them with the domains (values inside their
   bins at the source's precision, dtypes restored).

Accounting, in Rényi DP: the zCDP releases (domains, marginals; rho in all) are
(alpha, rho * alpha)-RDP at every order alpha, the DP-SGD steps are the subsampled Gaussian's RDP
times the steps; they add up order by order, and the sum becomes one (epsilon, delta) with the
conversion of Balle et al. 2020 (Theorem 21; the one opacus uses, for zCDP the
Canonne-Kamath-Steinke bound ``synthtab.dp.accountant`` uses). The noise multiplier is the
smallest that keeps that epsilon within the one asked; a category set's threshold takes a
quarter of delta (as in the other DP models), the conversion the rest. ``privacy_spent()`` lists
every part.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar, Literal, Self

import numpy as np
import pandas as pd
import torch
from pydantic import Field

from synthtab.dp.coded import (
    CodedTable,
    MarginalDPModel,
    MarginalDPSettings,
    MarginalRelease,
    code_table,
    decode_table,
    fitted_state,
    release_marginals,
)
from synthtab.dp.domain import ColumnDomain
from synthtab.models.argn import ChunkSampler, TokenNetwork, order_mask, pick_device, torch_threads
from synthtab.models.dp_sgd import OpacusStep, PrivateStep, epsilon_spent, noise_for_budget
from synthtab.schema import Table

# rows per sampling pass (argn's measured sweet spot for the CPU's cache)
_SAMPLING_CHUNK = 16_384
# the smallest share a column's output bias starts from: log(0) would be -inf
_PRIOR_FLOOR = 1e-4
# logit of a code the released marginal says is empty: never drawn (argn pads with the same)
_NEVER = -1e9
# rows the network samples to compare its marginals with the released ones (a share's sampling
# error is then at most ~0.004)
_CALIBRATION_ROWS = 16_384


class DPARGNSettings(MarginalDPSettings):
    """What a user may tune; recorded in the run manifest. The training plan (rate, steps) comes
    from these and the noisy row count only, never from the rows themselves."""

    max_bins: int = Field(default=64, ge=2, le=1024, description="bins per numeric column")
    marginal_share: float = Field(
        default=0.1,
        gt=0.0,
        lt=1.0,
        description="share of the zCDP budget left after domains for the 1-way marginals (row "
        "count, starting biases, codes never drawn); DP-SGD gets the rest of epsilon",
    )
    hidden_size: int = Field(default=64, ge=4, description="width of embeddings and the MLP")
    layers: int = Field(default=1, ge=0, le=8, description="residual MLP layers")
    batch_size: int = Field(
        default=512, ge=8, description="expected rows per DP-SGD step (Poisson sampling)"
    )
    epochs: float = Field(
        default=8.0, gt=0.0, description="passes over the (noisy) row count, unless max_steps"
    )
    max_steps: int = Field(default=400, ge=1, description="DP-SGD steps at most")
    learning_rate: float = Field(default=1e-2, gt=0.0)
    max_grad_norm: float = Field(default=1.0, gt=0.0, description="per-row clipping norm")
    engine: Literal["builtin", "opacus"] = Field(
        default="builtin",
        description="DP-SGD by synthtab's step and RDP analysis, or by opacus's DPOptimizer "
        "and RDP analysis (the same mechanism; the account is one either way)",
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(
        default=None, ge=1, description="CPU threads for training (default: one)"
    )
    calibration_rounds: int = Field(
        default=3,
        ge=0,
        description="rounds that shift each column's output bias until the network's own "
        "samples match the released marginals (post-processing: no look at the rows)",
    )


# ---------------------------------------------------------------------------------------------
# accounting


def training_plan(settings: DPARGNSettings, noisy_rows: float) -> tuple[float, int]:
    """(sample rate, steps) from the settings and the noisy row count: public quantities."""
    sample_rate = min(1.0, settings.batch_size / max(noisy_rows, 1.0))
    steps = min(settings.max_steps, max(1, math.ceil(settings.epochs / sample_rate)))
    return sample_rate, steps


# ---------------------------------------------------------------------------------------------
# the network


def _new_network(sizes: list[int], settings: DPARGNSettings) -> TokenNetwork:
    return TokenNetwork(sizes, settings.hidden_size, settings.layers)


def _start_from_marginals(network: TokenNetwork, shares: list[np.ndarray]) -> None:
    """Each column's output bias at the log of its released shares: the untrained network is
    the independent model of the noisy marginals (post-processing, free)."""
    with torch.no_grad():
        for k, share in enumerate(shares):
            prior = np.log(np.maximum(share, _PRIOR_FLOOR))
            network.head_bias[k, : share.size] = torch.from_numpy(prior - prior.max()).float()


def _mask_empty_codes(network: TokenNetwork, shares: list[np.ndarray]) -> None:
    """Codes whose released share is 0 are never drawn (as the marginal DP models do): their
    output bias, which both the training logits and the sampling heads read, is set far below
    any logit (the sampling heads are cut to a column's own codes and skip ``padding``)."""
    with torch.no_grad():
        for k, share in enumerate(shares):
            empty = torch.from_numpy(share <= 0.0)
            network.head_bias[k, : share.size][empty] = _NEVER


def calibrate_to_marginals(
    network: TokenNetwork, shares: list[np.ndarray], rounds: int, seed: int
) -> list[float]:
    """Shift each column's output bias by log(released share / share in the network's own
    samples), ``rounds`` times: DP-SGD's clipped, noisy steps let the marginals drift, and this
    pulls them back while the learned dependencies stay. Reads only the model and the released
    shares (post-processing, free). Returns each round's largest share gap, for the summary."""
    sizes = [share.size for share in shares]
    rng = np.random.default_rng([seed, 41])
    gaps: list[float] = []
    for _ in range(rounds):
        codes = sample_codes(network, sizes, _CALIBRATION_ROWS, rng)
        gap = 0.0
        with torch.no_grad():
            for k, share in enumerate(shares):
                drawn = np.bincount(codes[:, k], minlength=share.size) / _CALIBRATION_ROWS
                gap = max(gap, float(np.abs(drawn - share).max()))
                shift = np.where(
                    share > 0.0,
                    np.log(np.maximum(share, _PRIOR_FLOOR) / np.maximum(drawn, _PRIOR_FLOOR)),
                    0.0,
                )
                network.head_bias[k, : share.size] += torch.from_numpy(shift).float()
        gaps.append(round(gap, 5))
    return gaps


def train_private(
    coded: CodedTable,
    shares: list[np.ndarray],
    settings: DPARGNSettings,
    sample_rate: float,
    steps: int,
    noise_multiplier: float,
    expected_batch: float,
    seed: int,
) -> tuple[TokenNetwork, dict[str, Any]]:
    """The network trained with ``steps`` DP-SGD steps on the codes (Poisson sampling at
    ``sample_rate``); the plan is given, nothing here chooses from the rows."""
    started = time.perf_counter()
    torch.manual_seed(seed)
    network = _new_network(coded.sizes, settings)
    _start_from_marginals(network, shares)
    device = pick_device(settings.device)
    rows = torch.from_numpy(coded.codes).to(device)
    network.to(device)
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.learning_rate)
    sampling = torch.Generator(device=device)
    sampling.manual_seed(seed)
    noise = torch.Generator(device=device)
    noise.manual_seed(seed + 1)
    engine = OpacusStep if settings.engine == "opacus" else PrivateStep
    step = engine(
        network, optimizer, settings.max_grad_norm, noise_multiplier, expected_batch, noise
    )
    before = order_mask(torch.arange(coded.width, device=device))
    # one thread by default: per-row gradients are many small operations, and on 2 busy cores
    # a 512-row step took 0.48 s on one thread and 1.22 s on two (waiting on each other)
    threads = settings.threads or 1
    try:
        with torch_threads(threads):
            network.train()
            for _ in range(steps):
                # Poisson sampling, as the accountant assumes: each row joins with the rate
                joins = torch.rand(rows.shape[0], generator=sampling, device=device)
                step(rows[joins < sample_rate], before)
    finally:
        network.to("cpu").eval()
    summary = {
        "steps": step.steps,
        "seconds": round(time.perf_counter() - started, 3),
        "device": str(device),
        "expected_batch": round(expected_batch, 3),
        "vocabularies": list(coded.sizes),
    }
    return network, summary


def sample_codes(
    network: TokenNetwork, sizes: list[int], n: int, rng: np.random.Generator
) -> np.ndarray:
    """Codes (n, columns) drawn column by column in the table's order, in chunks of rows."""
    width = len(sizes)
    codes = np.zeros((n, width), dtype=np.int64)
    if n == 0 or width == 0:
        return codes
    with torch.inference_mode(), torch_threads(1):
        sampler = ChunkSampler(network, network.sampling_heads(sizes), list(range(width)), {}, 1.0)
        for start in range(0, n, _SAMPLING_CHUNK):
            stop = min(start + _SAMPLING_CHUNK, n)
            chunk_rng = np.random.default_rng(rng.integers(0, 2**63 - 1))
            codes[start:stop] = sampler(start, stop, chunk_rng).numpy()
    return codes


# ---------------------------------------------------------------------------------------------
# the model


class DPARGNSynthesizer(MarginalDPModel):
    """An autoregressive network on DP domain codes trained with DP-SGD; see the module
    docstring."""

    name: ClassVar[str] = "dp_argn"
    settings_class: ClassVar[type[MarginalDPSettings]] = DPARGNSettings
    file_format: ClassVar[str] = "synthtab.dp_argn"
    _settings: DPARGNSettings

    def fit(self, data: pd.DataFrame, table: Table, seed: int = 0) -> Self:
        settings = self._settings
        coded, split = code_table(data, table, settings, seed)
        parts = list(split.budget.parts)
        # the zCDP block's rho is what the whole budget would be as zCDP; domains took their
        # share of it, the marginals take theirs of the rest, DP-SGD gets what RDP leaves
        rho_zcdp = split.rho_domains
        shares: list[np.ndarray] = []
        marginals: MarginalRelease | None = None
        network: TokenNetwork | None = None
        training: dict[str, Any] = {"steps": 0}
        delta = split.delta_conversion
        sample_rate, steps, noise = 1.0, 0, math.inf  # no column to learn: no training
        if coded.width:
            rho_marginals = settings.marginal_share * (split.rho - split.rho_domains)
            marginals = release_marginals(coded, rho_marginals, seed)
            shares = marginals.shares
            parts.append(marginals.part)
            rho_zcdp += rho_marginals
            sample_rate, steps = training_plan(settings, marginals.total)
            noise = noise_for_budget(
                sample_rate, steps, settings.epsilon, delta, settings.engine, rho=rho_zcdp
            )
            network, training = train_private(
                coded,
                shares,
                settings,
                sample_rate,
                steps,
                noise,
                sample_rate * marginals.total,
                seed + 503,
            )
            _mask_empty_codes(network, shares)
            training["calibration_gaps"] = calibrate_to_marginals(
                network, shares, settings.calibration_rounds, seed
            )
            parts.append(
                {
                    "mechanism": "DP-SGD: Poisson-sampled rows, per-row gradients clipped to "
                    f"L2 norm {settings.max_grad_norm:g}, Gaussian noise (subsampled Gaussian "
                    "RDP)",
                    "touched": f"{coded.width} columns' codes, row by row: "
                    + ", ".join(coded.name(j) for j in range(coded.width)),
                    "sample_rate": sample_rate,
                    "steps": steps,
                    "noise_multiplier": noise,
                    "max_grad_norm": settings.max_grad_norm,
                    "engine": settings.engine,
                    "epsilon_alone": epsilon_spent(
                        sample_rate, noise, steps, delta, settings.engine
                    ),
                }
            )
        epsilon = epsilon_spent(sample_rate, noise, steps, delta, settings.engine, rho=rho_zcdp)
        privacy = {
            "mechanism": "dp_argn: DP domains and marginals (zCDP) then DP-SGD (RDP), composed "
            "in RDP",
            "epsilon": epsilon,
            "delta": delta + split.budget.delta_categories,
            "rho": None,  # not a pure zCDP block: DP-SGD's RDP is not rho * alpha
            "rho_zcdp_parts": rho_zcdp,
            "composition": "RDP per order: rho * alpha for the zCDP parts plus the DP-SGD steps'"
            " subsampled-Gaussian RDP, converted once (Balle et al. 2020, Theorem 21) at delta "
            f"{delta:.3g}",
            "parts": parts,
        }
        self._fitted = fitted_state(
            table, coded, privacy, marginals, shares=shares, network=network, training=training
        )
        return self

    def sample(self, n: int, seed: int = 0, conditions: pd.DataFrame | None = None) -> pd.DataFrame:
        fitted, domains, learned = self._sampling_start(n, conditions)
        rng = np.random.default_rng(seed)
        sizes = [domains[k].size for k in learned]
        network: TokenNetwork | None = fitted["network"]
        codes = (
            sample_codes(network, sizes, n, rng)
            if network is not None
            else np.zeros((n, 0), dtype=np.int64)
        )
        return decode_table(domains, learned, codes, fitted["shares"], rng)

    def training_summary(self) -> dict[str, Any]:
        """What the last fit's training did (steps, seconds, device)."""
        return dict(self._require_fitted()["training"])

    def _payload(self, fitted: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        arrays = {f"shares_{j}": s for j, s in enumerate(fitted["shares"])}
        network: TokenNetwork | None = fitted["network"]
        if network is not None:
            for key, tensor in network.state_dict().items():
                arrays[f"w_{key}"] = tensor.detach().cpu().numpy()
        return {"training": fitted["training"]}, arrays

    @classmethod
    def _from_payload(cls, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> dict[str, Any]:
        learned = list(meta["learned"])
        network: TokenNetwork | None = None
        if learned:
            domains = [ColumnDomain.from_json(domain) for domain in meta["domains"]]
            settings = DPARGNSettings(**meta["settings"])
            network = _new_network([domains[k].size for k in learned], settings)
            network.load_state_dict(
                {k[2:]: torch.from_numpy(v) for k, v in arrays.items() if k[:2] == "w_"}
            )
            network.eval()
        return {
            "shares": [arrays[f"shares_{j}"] for j in range(len(learned))],
            "network": network,
            "training": meta["training"],
        }
