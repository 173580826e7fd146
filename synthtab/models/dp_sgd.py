"""DP-SGD without opacus: per-example clipping, Gaussian noise and an RDP accountant.

The accountant is the Rényi-DP bound of the Poisson-subsampled Gaussian mechanism at integer
orders (Mironov, Talwar & Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
Mechanism", section 3.3), composed over steps and turned into (epsilon, delta) with Mironov's
conversion (2017, proposition 3). It is the bound opacus's RDP accountant computes, at integer
orders only, so it is at most slightly looser.
"""

from __future__ import annotations

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


def epsilon_spent(sample_rate: float, noise_multiplier: float, steps: int, delta: float) -> float:
    """The epsilon of ``steps`` DP-SGD steps at the given delta."""
    if steps == 0:
        return 0.0
    rdp = steps * rdp_sampled_gaussian(sample_rate, noise_multiplier)
    return float(np.min(rdp + np.log(1.0 / delta) / (ORDERS - 1)))


def noise_for_budget(sample_rate: float, steps: int, epsilon: float, delta: float) -> float:
    """The smallest noise multiplier (to 0.1%) whose ``steps`` steps stay within epsilon."""
    low, high = 0.05, 1.0
    while epsilon_spent(sample_rate, high, steps, delta) > epsilon:
        high *= 2.0
        if high > 1e6:
            raise ValueError(f"no noise level reaches epsilon {epsilon} in {steps} steps")
    while high - low > 1e-3 * high:
        middle = (low + high) / 2.0
        if epsilon_spent(sample_rate, middle, steps, delta) > epsilon:
            low = middle
        else:
            high = middle
    return high


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
        params = {n: p.detach() for n, p in self.network.named_parameters() if p.requires_grad}
        buffers = {n: b.detach() for n, b in self.network.named_buffers()}

        def row_loss(parameters: dict[str, torch.Tensor], row: torch.Tensor) -> torch.Tensor:
            logits = torch.func.functional_call(
                self.network, {**parameters, **buffers}, (row[None], before)
            )
            return torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), row, reduction="sum"
            )

        per_row = torch.func.vmap(torch.func.grad(row_loss), in_dims=(None, 0))
        summed = {name: torch.zeros_like(value) for name, value in params.items()}
        for start in range(0, batch.shape[0], self.micro_batch):
            grads = per_row(params, batch[start : start + self.micro_batch])
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
