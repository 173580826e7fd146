"""The DP-SGD accountant: RDP of the sampled Gaussian mechanism."""

from __future__ import annotations

import numpy as np
import pytest

from synthtab.models.dp_sgd import epsilon_spent, noise_for_budget, rdp_sampled_gaussian


def test_the_accountant_matches_the_published_mnist_figure() -> None:
    # Abadi et al. / TF Privacy's MNIST tutorial: 60,000 rows, batch 256, noise 1.1, 60 epochs,
    # delta 1e-5 -> epsilon about 3.0 with the RDP accountant
    sample_rate = 256 / 60_000
    steps = int(60 / sample_rate)
    assert epsilon_spent(sample_rate, 1.1, steps, 1e-5) == pytest.approx(3.0, abs=0.15)


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
