"""DP-SGD two ways: this module's own (per-example clipping, Gaussian noise, an RDP analysis)
and opacus's (its ``DPOptimizer`` clips, noises and scales; its ``compute_rdp`` analyses).

One accountant serves both: the steps' Rényi-DP at integer orders (the engine's analysis; the own
one is the bound of the Poisson-subsampled Gaussian mechanism, Mironov, Talwar & Zhang 2019,
"Rényi Differential Privacy of the Sampled Gaussian Mechanism", section 3.3), plus any zCDP
release before them, composed order by order and turned into (epsilon, delta) once with the
conversion of Balle et al. 2020 (Theorem 21). That is what opacus's RDP accountant computes; it
also tries fractional orders, so this one is at most slightly looser.

Both engines take their per-example gradients from ``torch.func`` (vmap of grad): opacus's
``GradSampleModule`` hooks only the layers it knows, and the token network computes with its own
parameters (the ordered parts of embeddings and heads) outside such layers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import gammaln, logsumexp
from torch import nn

ORDERS = np.arange(2, 257)


def rdp_sampled_gaussian(
    sample_rate: float, noise_multiplier: float, orders: np.ndarray = ORDERS
) -> np.ndarray:
    """RDP (one value per order) of one step: Poisson sampling at ``sample_rate``, then the
    Gaussian mechanism with noise ``noise_multiplier`` times the clipping norm."""
    if not 0.0 < sample_rate <= 1.0:
        raise ValueError(f"sample rate must be in (0, 1], not {sample_rate}")
    if noise_multiplier <= 0.0:
        return np.full(orders.shape, np.inf)
    if sample_rate == 1.0:
        return orders / (2.0 * noise_multiplier**2)
    alpha = orders.astype(float)[:, None]
    k = np.arange(int(orders.max()) + 1, dtype=float)[None, :]
    inside = k <= alpha  # the binomial sum runs over k = 0..alpha
    log_binomial = gammaln(alpha + 1) - gammaln(k + 1) - gammaln(np.maximum(alpha - k, 0) + 1)
    log_terms = (
        log_binomial
        + (alpha - k) * np.log1p(-sample_rate)
        + k * np.log(sample_rate)
        + (k * k - k) / (2.0 * noise_multiplier**2)
    )
    log_terms = np.where(inside, log_terms, -np.inf)
    return logsumexp(log_terms, axis=1) / (orders - 1)


def rdp_to_epsilon(rdp: np.ndarray, delta: float, orders: np.ndarray = ORDERS) -> float:
    """The smallest epsilon over ``orders`` such that (alpha, rdp[alpha])-RDP implies
    (epsilon, delta)-DP (Balle et al. 2020, Theorem 21)."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), not {delta}")
    alpha = orders.astype(float)
    epsilons = rdp + np.log1p(-1.0 / alpha) - (math.log(delta) + np.log(alpha)) / (alpha - 1.0)
    return max(float(np.min(epsilons)), 0.0)


def steps_rdp(
    sample_rate: float, noise_multiplier: float, steps: int, engine: str = "builtin"
) -> np.ndarray:
    """RDP at ``ORDERS`` of ``steps`` Poisson-sampled Gaussian steps, by this module's analysis
    or (engine 'opacus') by opacus's."""
    if engine == "opacus":
        from opacus.accountants.analysis.rdp import compute_rdp

        return np.asarray(
            compute_rdp(
                q=sample_rate, noise_multiplier=noise_multiplier, steps=steps, orders=ORDERS
            ),
            dtype=float,
        )
    return steps * rdp_sampled_gaussian(sample_rate, noise_multiplier)


def epsilon_spent(
    sample_rate: float,
    noise_multiplier: float,
    steps: int,
    delta: float,
    engine: str = "builtin",
    rho: float = 0.0,
) -> float:
    """The epsilon at ``delta`` of a rho-zCDP release (0: none) followed by ``steps`` DP-SGD
    steps: RDP adds up order by order (zCDP is rho * alpha at every order), converted once.
    ``engine`` says whose analysis gives the steps' RDP."""
    if steps == 0 and rho == 0.0:
        return 0.0
    rdp = rho * ORDERS.astype(float)
    if steps:
        rdp = rdp + steps_rdp(sample_rate, noise_multiplier, steps, engine)
    return rdp_to_epsilon(rdp, delta)


# a noise multiplier beyond this trains nothing: the budget is too small for the steps planned
_MAX_NOISE = 1e4


def noise_for_budget(
    sample_rate: float,
    steps: int,
    epsilon: float,
    delta: float,
    engine: str = "builtin",
    rho: float = 0.0,
) -> float:
    """The smallest noise multiplier (to 0.1%) whose ``steps`` steps, after a rho-zCDP release
    (0: none), keep ``epsilon_spent`` within ``epsilon``."""
    low, high = 0.05, 1.0
    while epsilon_spent(sample_rate, high, steps, delta, engine, rho) > epsilon:
        high *= 2.0
        if high > _MAX_NOISE:
            after = f" after rho {rho:.4g} of zCDP releases (lower their share)" if rho else ""
            raise ValueError(
                f"no noise level keeps {steps} DP-SGD steps within epsilon {epsilon}{after}"
            )
    while high - low > 1e-3 * high:
        middle = (low + high) / 2.0
        if epsilon_spent(sample_rate, middle, steps, delta, engine, rho) > epsilon:
            low = middle
        else:
            high = middle
    return high


def trainable(network: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach() for n, p in network.named_parameters() if p.requires_grad}


def per_row_gradients(
    network: nn.Module, batch: torch.Tensor, before: torch.Tensor, micro_batch: int
) -> Iterator[dict[str, torch.Tensor]]:
    """Each row's gradient of its own loss (the cross-entropy of the network's logits against
    the row's tokens, each column weighted by the network's ``column_weights`` buffer where it
    has one), ``micro_batch`` rows at a time: {parameter name: (rows, *shape)}."""
    params = trainable(network)
    buffers = {n: b.detach() for n, b in network.named_buffers()}

    weights = buffers.get("column_weights")  # a column's weight in the loss, where it has one

    def row_loss(parameters: dict[str, torch.Tensor], row: torch.Tensor) -> torch.Tensor:
        logits = torch.func.functional_call(network, {**parameters, **buffers}, (row[None], before))
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), row, reduction="none"
        )
        return (nll if weights is None else nll * weights).sum()

    per_row = torch.func.vmap(torch.func.grad(row_loss), in_dims=(None, 0))
    for start in range(0, batch.shape[0], micro_batch):
        yield per_row(params, batch[start : start + micro_batch])


@dataclass
class PrivateStep:
    """One DP-SGD step: per-example gradients (torch.func), each clipped to ``max_grad_norm``,
    summed, Gaussian noise added, divided by the expected batch size.

    The network's ``forward(tokens, before)`` returns logits over each column's tokens; a row's
    loss is their cross-entropy against the row's own tokens.
    """

    network: nn.Module
    optimizer: torch.optim.Optimizer
    max_grad_norm: float
    noise_multiplier: float
    expected_batch: float
    generator: torch.Generator
    micro_batch: int = 64
    steps: int = 0

    def __call__(self, batch: torch.Tensor, before: torch.Tensor) -> None:
        params = trainable(self.network)
        summed = {name: torch.zeros_like(value) for name, value in params.items()}
        for grads in per_row_gradients(self.network, batch, before, self.micro_batch):
            squared = torch.stack([g.flatten(1).pow(2).sum(dim=1) for g in grads.values()])
            scale = (self.max_grad_norm / (squared.sum(dim=0).sqrt() + 1e-6)).clamp(max=1.0)
            for name, grad in grads.items():
                summed[name] += torch.einsum("b,b...->...", scale, grad)
        std = self.noise_multiplier * self.max_grad_norm
        for name, parameter in self.network.named_parameters():
            if name not in summed:
                continue
            noise = torch.normal(
                0.0, std, size=parameter.shape, generator=self.generator, device=parameter.device
            )
            parameter.grad = (summed[name] + noise) / self.expected_batch
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1


class OpacusStep:
    """One DP-SGD step by opacus's ``DPOptimizer``: the rows' gradients are handed to it as
    ``grad_sample`` one micro-batch at a time (all but the last marked as skipped steps, so it
    clips and accumulates them), then it adds the noise, divides by the expected batch size and
    steps the wrapped optimizer."""

    def __init__(
        self,
        network: nn.Module,
        optimizer: torch.optim.Optimizer,
        max_grad_norm: float,
        noise_multiplier: float,
        expected_batch: float,
        generator: torch.Generator,
        micro_batch: int = 64,
    ) -> None:
        from opacus.optimizers import DPOptimizer

        self.network = network
        self.micro_batch = micro_batch
        self.parameters = {n: p for n, p in network.named_parameters() if p.requires_grad}
        self.optimizer = DPOptimizer(
            optimizer,
            noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm,
            expected_batch_size=int(round(expected_batch)),
            generator=generator,
        )
        self.steps = 0

    def __call__(self, batch: torch.Tensor, before: torch.Tensor) -> None:
        chunks = per_row_gradients(self.network, batch, before, self.micro_batch)
        # an empty Poisson sample still takes its noisy step
        empty = {n: p.new_zeros((0, *p.shape)) for n, p in self.parameters.items()}
        grads: dict[str, torch.Tensor] | None = next(chunks, empty)
        while grads is not None:
            following = next(chunks, None)  # one ahead: only the last micro-batch steps
            for name, parameter in self.parameters.items():
                parameter.grad_sample = grads[name]
            self.optimizer.signal_skip_step(do_skip=following is not None)
            self.optimizer.step()
            grads = following
        self.optimizer.zero_grad(set_to_none=True)
        self.steps += 1
