"""The pipeline, one arrow per module: workbook → instance (validate) → model
(formulation) → HiGHS (solver) → solution (extract) → verification (verify).

The Pyomo and HiGHS imports happen inside `solve_case`, so commands that only read or
write workbooks start without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from resilience.domain import Instance, Solution, Status
from resilience.errors import InfeasibleError, NoPlanError, VerificationError
from resilience.verify import Verification, verify

NUMERICAL_RETRIES = 2


@dataclass(frozen=True)
class SolveResult:
    instance: Instance
    solution: Solution
    verification: Verification


def solve_case(instance: Instance, *, threads: int = 1, with_duals: bool = True
               ) -> SolveResult:
    """Solve one prepared case and verify it; raise on infeasible, no plan or mismatch."""
    from resilience.formulation.build import build_model

    built = build_model(instance)
    session = hand_to_solver(built, threads=threads)
    return solve_built(built, session, instance, with_duals=with_duals)


def hand_to_solver(built, threads: int = 1):
    """Hand a built model to HiGHS and drop its Pyomo objects: HiGHS holds its own copy,
    and one Python object per column and row would only add to the solve's peak memory.
    Extraction, sweeps and fixing work from the layout and the session."""
    from resilience.solver import HighsSession

    session = HighsSession(built.pyomo, threads=threads)
    built.release_pyomo()
    return session


def solve_built(built, session, instance: Instance, *, with_duals: bool = True,
                reused: bool = False, planning_rules: bool = True,
                policies_in_force: set[int] | None = None) -> SolveResult:
    """Solve a model already handed to HiGHS (possibly with changed bounds or costs) and
    verify the plan against `instance`, the case the model now stands for."""
    from resilience.formulation.explain import describe_conflict
    from resilience.formulation.extract import (
        extract_plan,
        extract_policy_costs,
        extract_scenarios,
    )
    from resilience.solver import versions

    settings = instance.settings
    build_seconds = 0.0 if reused else built.build_seconds + session.handoff_seconds
    # A numerical failure (HiGHS "Solve error", or a plan the independent check rejects)
    # is retried from scratch with another random seed before it is reported.
    for attempt in range(1 + NUMERICAL_RETRIES):
        outcome = session.solve(time_limit=settings.time_limit, mip_gap=settings.mip_gap)
        if outcome.status is Status.INFEASIBLE:
            relaxation_feasible = session.relaxation_is_feasible()
            iis = None if relaxation_feasible else session.irreducible_infeasible_set()
            rows = iis[0] if iis is not None else None
            raise InfeasibleError("\n".join(
                describe_conflict(built, rows, relaxation_feasible=relaxation_feasible)))
        if outcome.status is Status.NO_SOLUTION:
            raise NoPlanError(
                f"HiGHS stopped ({outcome.message}) after {outcome.seconds:.1f} s without "
                "finding any plan. Raise the time limit (--time-limit) or loosen the gap "
                "(--gap)")
        last = attempt == NUMERICAL_RETRIES
        if outcome.status is Status.ERROR:
            if last:
                raise RuntimeError(f"HiGHS failed: {outcome.message}")
            session.reseed(attempt + 1)
            continue
        plan, stockpile = extract_plan(built, outcome.values)
        check = verify(instance, plan, stockpile, outcome.objective, outcome.bound,
                       planning_rules=planning_rules)
        if check.ok:
            break
        if last:
            raise VerificationError(
                "the solver's plan failed the independent check:\n  "
                + "\n  ".join(check.problems))
        session.reseed(attempt + 1)

    scenarios = extract_scenarios(built, outcome.values)
    duals = session.fixed_lp_duals() if with_duals else None
    if policies_in_force is None:
        policy_costs = extract_policy_costs(built, outcome.values, duals, session.row_offsets,
                                            instance)
    else:  # a model shared by several strategies: its own policy list, some switched off
        policy_costs = extract_policy_costs(built, outcome.values, duals, session.row_offsets,
                                            active=policies_in_force)
    message = outcome.message + (f" (after {attempt} numerical retr"
                                 f"{'y' if attempt == 1 else 'ies'})" if attempt else "")
    solution = Solution(
        status=outcome.status, objective=outcome.objective, bound=outcome.bound,
        mip_gap=outcome.gap, solve_seconds=outcome.seconds, build_seconds=build_seconds,
        plan=plan, stockpile=stockpile, scenarios=scenarios, policy_costs=policy_costs,
        message=message, solver_versions=versions(),
    )
    return SolveResult(instance, solution, check)
