"""What a solver returns, in the product's own vocabulary, whatever the solver."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resilience.domain import Status


@dataclass(frozen=True)
class SolverOutcome:
    status: Status
    objective: float | None  # incumbent (primal bound), in currency
    bound: float | None  # dual bound, in currency
    gap: float | None
    values: np.ndarray | None  # column values in the form's units and column order
    seconds: float
    message: str = ""
    solver: str = "highs"


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(1e-10, abs(objective))
