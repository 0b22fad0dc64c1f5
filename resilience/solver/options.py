"""One set of options for every solver instance a solve creates, and one time budget.

The main solve, its numerical retries and the auxiliary solves (duals with the binaries
fixed, the LP relaxation, the IIS) all take their limits from the same `SolverOptions`
and draw time from the same `Budget`, so a retry never gets the whole limit again and an
auxiliary LP never runs unbounded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class SolverOptions:
    time_limit: float = 60.0  # seconds for the whole solve, retries included
    mip_gap: float = 1e-4
    threads: int = 1  # 1: reproducible (HiGHS runs its MIP search on one thread anyway)
    seed: int = 0
    # Seconds past the time limit before a solver that ignores its limit is stopped by
    # force (cancelled in process, or its worker process killed).
    grace: float = 5.0

    def with_seed(self, seed: int) -> SolverOptions:
        return replace(self, seed=seed)


class Budget:
    """A deadline shared by everything one solve does."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.started = time.monotonic()

    def remaining(self, floor: float = 1e-6) -> float:
        """Seconds left, never below `floor` (a solver refuses a zero limit)."""
        return max(floor, self.seconds - (time.monotonic() - self.started))

    @property
    def spent(self) -> float:
        return time.monotonic() - self.started

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.seconds
