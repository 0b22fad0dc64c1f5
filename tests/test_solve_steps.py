"""The steps of a solve: numerical retries, the independent check's veto, the shared time
budget, and solver options applied to every HiGHS instance.

A fake session stands in front of a real one and spoils chosen attempts, so each path is
exercised on a model whose optimum is known by hand: one material (D = 100), offer a at
10 and offer b at 12, both U = 100: all from a, 1,000.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest
from builders import country, material, offer, write_workbook

from resilience.api import SolverChoice, build_for, hand_to_solver, solve_built
from resilience.cases import prepare_case
from resilience.domain import Status
from resilience.errors import VerificationError
from resilience.formulation import families as F
from resilience.solver import Budget, SolverOptions
from resilience.solver.outcome import SolverOutcome
from resilience.validate import load


@pytest.fixture
def case(tmp_path):
    path = write_workbook(tmp_path / "book.xlsx", {
        "Materials": [material(demand=100)],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10, capacity=100), offer("b", "BBB", 12,
                                                                   capacity=100)],
    })
    return prepare_case(load(path), mip_gap=0.0, time_limit=20.0)


class Spoiling:
    """A session that spoils the attempts listed in `spoil` ("plan": a plan over
    capacity, which the independent check must reject; "error": a solver error)."""

    def __init__(self, real, spoil: dict[int, str], delay: float = 0.0):
        self.real = real
        self.spoil = spoil
        self.delay = delay
        self.attempts: list[tuple[int, float]] = []  # (seed, time limit handed over)
        self.name = real.name
        self.options = real.options
        self.handoff_seconds = 0.0

    def solve(self, budget=None, options=None):
        attempt = len(self.attempts)
        self.attempts.append((options.seed, budget.remaining()))
        time.sleep(self.delay)
        outcome = self.real.solve(budget, options)
        kind = self.spoil.get(attempt)
        if kind == "plan":
            values = outcome.values.copy()
            values[self.real.form.column_families[F.FIRM_ORDER].start] = 250.0  # U = 100
            return dataclasses.replace(outcome, values=values)
        if kind == "error":
            return SolverOutcome(Status.ERROR, None, None, None, None, 0.0, "Solve error")
        return outcome

    def __getattr__(self, name):
        return getattr(self.real, name)


def spoiled(case, spoil, delay=0.0):
    built = build_for(case)
    return built, Spoiling(hand_to_solver(built), spoil, delay)


def test_a_plan_the_check_rejects_is_solved_again_with_another_seed(case):
    built, session = spoiled(case, {0: "plan"})
    result = solve_built(built, session, case)
    assert result.solution.objective == pytest.approx(1000)
    assert [seed for seed, _ in session.attempts] == [0, 1]
    assert "after 1 numerical retry" in result.solution.message


def test_a_plan_the_check_always_rejects_is_a_verification_error(case):
    built, session = spoiled(case, {0: "plan", 1: "plan", 2: "plan"})
    with pytest.raises(VerificationError, match="capacity"):
        solve_built(built, session, case)
    assert len(session.attempts) == 3


def test_a_solver_error_is_retried_then_reported(case):
    built, session = spoiled(case, {0: "error"})
    assert solve_built(built, session, case).solution.objective == pytest.approx(1000)
    built, session = spoiled(case, {0: "error", 1: "error", 2: "error"})
    with pytest.raises(RuntimeError, match="Solve error"):
        solve_built(built, session, case)


def test_retries_share_one_time_budget(case):
    """Each attempt is handed what is left of the one limit, never the whole limit
    again: with 0.4 s spent per spoiled attempt of a 1 s limit, the third attempt gets
    under 0.3 s and the whole solve ends near the limit."""
    limited = dataclasses.replace(case, settings=dataclasses.replace(case.settings,
                                                                     time_limit=1.0))
    built, session = spoiled(limited, {0: "error", 1: "error", 2: "error"}, delay=0.4)
    started = time.monotonic()
    with pytest.raises(RuntimeError):
        solve_built(built, session, limited)
    limits = [limit for _, limit in session.attempts]
    assert limits[0] <= 1.0 and all(b < a for a, b in zip(limits, limits[1:], strict=False))
    assert len(limits) < 3 or limits[2] < 0.3
    assert time.monotonic() - started < 1.0 + 0.5 + 1.0  # the limit, one delay, slack


def test_changing_the_thread_count_between_solves_is_not_an_error(case):
    """HiGHS's scheduler is global to the process; a session with another thread count
    must still solve (not end in kError and be retried as if numerical)."""
    for threads in (1, 2, 1):
        built = build_for(case)
        session = hand_to_solver(built, SolverChoice(threads=threads))
        outcome = session.solve(Budget(20), dataclasses.replace(
            session.options, mip_gap=0.0))
        assert outcome.status is Status.OPTIMAL and outcome.objective == pytest.approx(1000)


def test_auxiliary_solves_get_the_remaining_budget(case):
    """The LP with binaries fixed (duals) runs on what is left of the solve's budget."""
    built = build_for(case)
    session = hand_to_solver(built)
    session.solve(Budget(20), SolverOptions(time_limit=20, mip_gap=0.0))
    duals = session.fixed_lp_duals(Budget(5))
    assert duals is not None and np.all(np.isfinite(duals))
