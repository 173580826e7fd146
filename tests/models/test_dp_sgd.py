"""DP-SGD: the one RDP accountant (the own analysis of the sampled Gaussian mechanism, or
opacus's), checked against opacus's own RDPAccountant, and the opacus engine's DPOptimizer step
against the own step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthtab.models.argn import TokenNetwork
from synthtab.models.dp_sgd import (
    ORDERS,
    OpacusStep,
    PrivateStep,
    epsilon_spent,
    noise_for_budget,
    rdp_sampled_gaussian,
)


def opacus_accountant_epsilon(
    sample_rate: float, noise_multiplier: float, steps: int, delta: float
) -> float:
    """What opacus's own RDPAccountant (fractional orders too) says the steps spent."""
    from opacus.accountants import RDPAccountant

    accountant = RDPAccountant()
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta=delta))


def test_the_accountant_matches_the_published_mnist_figure() -> None:
    # Abadi et al. / TF Privacy's MNIST tutorial: 60,000 rows, batch 256, noise 1.1, 60 epochs,
    # delta 1e-5 -> epsilon about 3.0 with the RDP accountant
    # (Mironov's conversion); the conversion used here (Balle et al. 2020) is tighter, and
    # opacus's accountant, with fractional orders too, agrees with it
    sample_rate = 256 / 60_000
    steps = int(60 / sample_rate)
    rdp = steps * rdp_sampled_gaussian(sample_rate, 1.1)
    mironov = float(np.min(rdp + np.log(1.0 / 1e-5) / (ORDERS - 1)))
    assert mironov == pytest.approx(3.0, abs=0.15)
    spent = epsilon_spent(sample_rate, 1.1, steps, 1e-5)
    assert spent < mironov
    assert opacus_accountant_epsilon(sample_rate, 1.1, steps, 1e-5) == pytest.approx(
        spent, rel=0.03
    )
    # opacus's analysis of the steps, through the one accountant, gives the same figure
    assert epsilon_spent(sample_rate, 1.1, steps, 1e-5, "opacus") == pytest.approx(spent, rel=1e-3)


def test_without_sampling_it_is_the_gaussian_mechanism() -> None:
    orders = np.array([2, 8, 32])
    np.testing.assert_allclose(rdp_sampled_gaussian(1.0, 2.0, orders), orders / 8.0)
    # subsampling amplifies privacy
    assert (rdp_sampled_gaussian(0.01, 2.0, orders) < orders / 8.0).all()


def test_epsilon_grows_with_steps_and_shrinks_with_noise() -> None:
    assert epsilon_spent(0.01, 1.0, 100, 1e-5) < epsilon_spent(0.01, 1.0, 1_000, 1e-5)
    assert epsilon_spent(0.01, 2.0, 1_000, 1e-5) < epsilon_spent(0.01, 1.0, 1_000, 1e-5)
    assert epsilon_spent(0.01, 1.0, 0, 1e-5) == 0.0


def test_the_noise_for_a_budget_spends_at_most_the_budget() -> None:
    for epsilon in (0.5, 1.0, 8.0):
        noise = noise_for_budget(0.02, 500, epsilon, 1e-5)
        assert epsilon_spent(0.02, noise, 500, 1e-5) <= epsilon
        assert epsilon_spent(0.02, noise * 0.99, 500, 1e-5) > epsilon * 0.97


@pytest.mark.parametrize("epsilon", [0.5, 3.0])
def test_opacus_accounts_like_the_own_accountant(epsilon: float) -> None:
    noise = noise_for_budget(0.02, 500, epsilon, 1e-5, "opacus")
    assert epsilon_spent(0.02, noise, 500, 1e-5, "opacus") <= epsilon
    # the same RDP bound and conversion; opacus's accountant also tries fractional orders
    # (slightly tighter)
    own = epsilon_spent(0.02, noise, 500, 1e-5)
    assert own * 0.97 <= opacus_accountant_epsilon(0.02, noise, 500, 1e-5) <= own * 1.001
    assert noise == pytest.approx(noise_for_budget(0.02, 500, epsilon, 1e-5), rel=0.03)
    assert epsilon_spent(0.02, noise, 0, 1e-5, "opacus") == 0.0


def _network_and_batch() -> tuple[TokenNetwork, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    network = TokenNetwork([3, 5, 4], hidden=8, layers=1)
    generator = torch.Generator().manual_seed(1)
    batch = torch.stack(
        [torch.randint(0, v, (150,), generator=generator) for v in (3, 5, 4)], dim=1
    )
    before = (torch.arange(3)[None, :] < torch.arange(3)[:, None]).float()
    return network, batch, before


@pytest.mark.parametrize("rows", [150, 0])
def test_the_opacus_step_clips_sums_and_scales_as_the_own_step(rows: int) -> None:
    """Without noise, both engines must make the same update: per-row gradients clipped to the
    norm, summed over micro-batches (150 rows = 3 of 64), divided by the expected batch."""
    updates = []
    for engine in (PrivateStep, OpacusStep):
        network, batch, before = _network_and_batch()
        start = [p.detach().clone() for p in network.parameters()]
        optimizer = torch.optim.SGD(network.parameters(), lr=1.0)
        step = engine(network, optimizer, 0.5, 0.0, 100.0, torch.Generator().manual_seed(2))
        step(batch[:rows], before)
        assert step.steps == 1
        updates.append([p.detach() - s for p, s in zip(network.parameters(), start, strict=True)])
    for own, opacus in zip(*updates, strict=True):
        torch.testing.assert_close(opacus, own, rtol=1e-4, atol=1e-6)
    moved = sum(float(u.abs().sum()) for u in updates[0])
    assert (moved > 0) == (rows > 0)
    # the summed clipped gradient of 150 rows has norm at most 150 x 0.5, over 100
    norm = torch.sqrt(sum(u.pow(2).sum() for u in updates[1]))
    assert float(norm) <= 150 * 0.5 / 100 + 1e-6


def test_the_opacus_step_adds_its_noise() -> None:
    network, batch, before = _network_and_batch()
    start = [p.detach().clone() for p in network.parameters()]
    optimizer = torch.optim.SGD(network.parameters(), lr=1.0)
    step = OpacusStep(network, optimizer, 1.0, 2.0, 100.0, torch.Generator().manual_seed(3))
    step(batch[:0], before)  # an empty Poisson sample: noise only, std 2 x 1 / 100 per weight
    pairs = zip(network.parameters(), start, strict=True)
    moved = torch.cat([(p.detach() - s).flatten() for p, s in pairs])
    assert float(moved.std()) == pytest.approx(0.02, rel=0.1)
