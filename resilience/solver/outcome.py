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


@dataclass(frozen=True)
class SolveProgress:
    """Where a running MIP search stands, in currency: what a progress display shows while
    the user waits (the best plan so far, the bound, the gap between them)."""

    seconds: float  # since the solve started
    objective: float | None  # the best plan found so far; None before the first
    bound: float | None  # the dual bound; None before the root LP gives one

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound)

    def text(self) -> str:
        """"best 85,518,208,964, bound 85,510,000,000, gap 0.01% (12 s)"."""
        parts = []
        if self.objective is not None:
            parts.append(f"best {self.objective:,.0f}")
        if self.bound is not None:
            parts.append(f"bound {self.bound:,.0f}")
        if self.gap is not None:
            parts.append(f"gap {self.gap:.2%}")
        return ", ".join(parts or ["no plan yet"]) + f" ({self.seconds:.0f} s)"


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    if objective is None or bound is None:
        return None
    return abs(objective - bound) / max(1e-10, abs(objective))
