"""The privacy accountant: every look at the real data spends budget through it, step by step.

Accounting, and why:
- Between steps: basic sequential composition of (epsilon, delta): the totals are the sums. It
  needs no assumption about what a step does, so a step may be a Laplace count, a DP-SGD run
  (accounted inside with RDP) or a block of Gaussian measurements.
- Inside a block of Gaussian measurements (the DP models, the DP schema): zero-concentrated DP.
  A Gaussian measurement with L2 sensitivity D and noise sigma is rho = D^2 / (2 sigma^2)-zCDP,
  an epsilon-DP exponential mechanism is epsilon^2 / 8-zCDP (bounded range; Cesar & Rogers
  2021), rhos add up, and the block's total rho becomes one (epsilon, delta) with the conversion
  of Canonne, Kamath & Steinke 2020 (Proposition 12 / Corollary 13), as MST does. The block is
  then one step of the sequential composition above.

Neighbouring datasets differ by adding or removing one row (unbounded DP).
"""

from __future__ import annotations

import math
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

# sums of floats: a spend that equals the budget up to rounding is within it
_TOLERANCE = 1e-9


class PrivacySpend(BaseModel):
    """One step that looked at the real data: what it did, to what, and what it cost."""

    model_config = ConfigDict(extra="forbid")

    step: int = Field(ge=1, description="position in the run's sequence of spends")
    mechanism: str
    touched: str = Field(description="what it looked at: columns, rows, statistics")
    epsilon: float = Field(ge=0.0)
    delta: float = Field(default=0.0, ge=0.0, le=1.0)
    rho: float | None = Field(default=None, ge=0.0, description="zCDP of a Gaussian block")
    note: str | None = None
    parts: list[dict[str, Any]] = Field(
        default_factory=list, description="the measurements inside a zCDP block, each with rho"
    )


class PrivacyBudgetExceeded(ValueError):
    """A spend that would take the totals beyond the budget; nothing was spent."""

    def __init__(
        self, what: str, asked: tuple[float, float], spent: tuple[float, float], budget: Any
    ) -> None:
        self.asked_epsilon, self.asked_delta = asked
        self.spent_epsilon, self.spent_delta = spent
        self.budget_epsilon, self.budget_delta = budget
        super().__init__(
            f"privacy budget exceeded by {what}: it asks epsilon {asked[0]:.6g} (delta "
            f"{asked[1]:.3g}); {spent[0]:.6g} (delta {spent[1]:.3g}) of epsilon "
            f"{budget[0]:.6g} (delta {budget[1]:.3g}) is already spent"
        )


class PrivacyAccountant:
    """A budget (epsilon, delta) and the spends against it, under sequential composition.

    ``spend`` refuses (``PrivacyBudgetExceeded``) any step that would take either total beyond
    the budget, before the step runs: callers spend first, then touch the data.
    """

    def __init__(self, epsilon: float, delta: float, spends: list[PrivacySpend] | None = None):
        if not epsilon > 0.0:
            raise ValueError(f"epsilon must be positive, not {epsilon}")
        if not 0.0 <= delta < 1.0:
            raise ValueError(f"delta must be in [0, 1), not {delta}")
        self.epsilon = float(epsilon)
        self.delta = float(delta)
        self._spends: list[PrivacySpend] = list(spends or [])

    @property
    def spends(self) -> list[PrivacySpend]:
        return list(self._spends)

    @property
    def spent_epsilon(self) -> float:
        return math.fsum(s.epsilon for s in self._spends)

    @property
    def spent_delta(self) -> float:
        return math.fsum(s.delta for s in self._spends)

    @property
    def remaining_epsilon(self) -> float:
        return max(self.epsilon - self.spent_epsilon, 0.0)

    @property
    def remaining_delta(self) -> float:
        return max(self.delta - self.spent_delta, 0.0)

    def can_spend(self, epsilon: float, delta: float = 0.0) -> bool:
        return (
            self.spent_epsilon + epsilon <= self.epsilon * (1.0 + _TOLERANCE)
            and self.spent_delta + delta <= self.delta * (1.0 + _TOLERANCE) + 1e-300
        )

    def spend(
        self,
        mechanism: str,
        touched: str,
        epsilon: float,
        delta: float = 0.0,
        *,
        rho: float | None = None,
        note: str | None = None,
        parts: list[dict[str, Any]] | None = None,
    ) -> PrivacySpend:
        if epsilon < 0.0 or delta < 0.0:
            raise ValueError(f"{mechanism}: a spend is never negative ({epsilon}, {delta})")
        if not self.can_spend(epsilon, delta):
            raise PrivacyBudgetExceeded(
                f"{mechanism} on {touched}",
                (epsilon, delta),
                (self.spent_epsilon, self.spent_delta),
                (self.epsilon, self.delta),
            )
        spend = PrivacySpend(
            step=len(self._spends) + 1,
            mechanism=mechanism,
            touched=touched,
            epsilon=epsilon,
            delta=delta,
            rho=rho,
            note=note,
            parts=parts or [],
        )
        self._spends.append(spend)
        return spend

    def summary(self) -> dict[str, Any]:
        """JSON for the graph state, the manifest and the report."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "spent_epsilon": self.spent_epsilon,
            "spent_delta": self.spent_delta,
            "composition": "basic sequential composition of (epsilon, delta) between steps; "
            "zCDP inside Gaussian blocks, converted with Canonne-Kamath-Steinke 2020",
            "spends": [s.model_dump(mode="json") for s in self._spends],
        }

    @classmethod
    def from_summary(cls, summary: dict[str, Any]) -> Self:
        spends = [PrivacySpend.model_validate(s) for s in summary.get("spends", [])]
        return cls(summary["epsilon"], summary["delta"], spends)


# ---------------------------------------------------------------------------------------------
# zCDP -> (epsilon, delta): Canonne, Kamath & Steinke 2020, "The Discrete Gaussian for
# Differential Privacy", Corollary 13, the conversion MST and AIM use.

# bisection steps: 60 halvings reach double precision on these intervals
_BISECTIONS = 60


def zcdp_delta(rho: float, epsilon: float) -> float:
    """The smallest delta such that rho-zCDP implies (epsilon, delta)-DP."""
    if rho < 0.0 or epsilon < 0.0:
        raise ValueError(f"rho and epsilon must be non-negative ({rho}, {epsilon})")
    if rho == 0.0:
        return 0.0
    low, high = 1.01, (epsilon + 1.0) / (2.0 * rho) + 2.0
    for _ in range(_BISECTIONS):
        alpha = (low + high) / 2.0
        derivative = (2.0 * alpha - 1.0) * rho - epsilon + math.log1p(-1.0 / alpha)
        if derivative < 0.0:
            low = alpha
        else:
            high = alpha
    alpha = (low + high) / 2.0
    log_delta = (alpha - 1.0) * (alpha * rho - epsilon) + alpha * math.log1p(-1.0 / alpha)
    delta = math.exp(min(log_delta, 0.0)) / (alpha - 1.0)
    return min(delta, 1.0)


def zcdp_epsilon(rho: float, delta: float) -> float:
    """The smallest epsilon such that rho-zCDP implies (epsilon, delta)-DP."""
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta must be in (0, 1), not {delta}")
    if rho == 0.0:
        return 0.0
    low, high = 0.0, rho + 2.0 * math.sqrt(rho * math.log(1.0 / delta))
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2.0
        if zcdp_delta(rho, middle) <= delta:
            high = middle
        else:
            low = middle
    return high


def zcdp_rho(epsilon: float, delta: float) -> float:
    """The largest rho whose (epsilon, delta) conversion stays within epsilon."""
    if not epsilon > 0.0:
        raise ValueError(f"epsilon must be positive, not {epsilon}")
    low, high = 0.0, epsilon + 1.0
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2.0
        if zcdp_epsilon(middle, delta) <= epsilon:
            low = middle
        else:
            high = middle
    return low
