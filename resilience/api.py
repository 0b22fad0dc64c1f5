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


@dataclass(frozen=True)
class SolveResult:
    instance: Instance
    solution: Solution
    verification: Verification


def solve_case(instance: Instance, *, threads: int = 1, with_duals: bool = True
               ) -> SolveResult:
    """Solve one prepared case and verify it; raise on infeasible, no plan or mismatch."""
    from resilience.formulation.build import build_model
    from resilience.solver import HighsSession

    built = build_model(instance)
    session = HighsSession(built.pyomo, threads=threads)
    # HiGHS holds its own copy now; the Pyomo objects (one per column and row) would only
    # add to the solve's peak memory. Extraction works from the layout and the values.
    built.release_pyomo()
    return solve_built(built, session, instance, with_duals=with_duals)


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
    outcome = session.solve(time_limit=settings.time_limit, mip_gap=settings.mip_gap)
    build_seconds = 0.0 if reused else built.build_seconds + session.handoff_seconds

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
    if outcome.status is Status.ERROR:
        raise RuntimeError(f"HiGHS failed: {outcome.message}")

    plan, stockpile = extract_plan(built, outcome.values)
    scenarios = extract_scenarios(built, outcome.values)
    duals = session.fixed_lp_duals() if with_duals else None
    if policies_in_force is None:
        policy_costs = extract_policy_costs(built, outcome.values, duals, session.row_offsets,
                                            instance)
    else:  # a model shared by several strategies: its own policy list, some switched off
        policy_costs = extract_policy_costs(built, outcome.values, duals, session.row_offsets,
                                            active=policies_in_force)
    solution = Solution(
        status=outcome.status, objective=outcome.objective, bound=outcome.bound,
        mip_gap=outcome.gap, solve_seconds=outcome.seconds, build_seconds=build_seconds,
        plan=plan, stockpile=stockpile, scenarios=scenarios, policy_costs=policy_costs,
        message=outcome.message, solver_versions=versions(),
    )
    check = verify(instance, plan, stockpile, outcome.objective, outcome.bound,
                   planning_rules=planning_rules)
    if not check.ok:
        raise VerificationError(
            "the solver's plan failed the independent check:\n  "
            + "\n  ".join(check.problems))
    return SolveResult(instance, solution, check)
