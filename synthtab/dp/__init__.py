"""Differential privacy: the accountant every private step spends through, and the mechanisms
(diffprivlib's, at the scales the accounting sets) that the DP models and the DP schema use."""

from synthtab.dp.accountant import (
    PrivacyAccountant,
    PrivacyBudgetExceeded,
    PrivacySpend,
    zcdp_delta,
    zcdp_epsilon,
    zcdp_rho,
)

__all__ = [
    "PrivacyAccountant",
    "PrivacyBudgetExceeded",
    "PrivacySpend",
    "zcdp_delta",
    "zcdp_epsilon",
    "zcdp_rho",
]
