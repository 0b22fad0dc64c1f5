"""Any solver Pyomo knows, on the same standard form: `--solver pyomo:NAME`.

The form is written as a Pyomo model (formulation.pyomo_form) and handed to Pyomo's
solver interface: the new one (`pyomo.contrib.solver`) where it has the solver (HiGHS,
Gurobi, SCIP, …), the classic `SolverFactory` otherwise (CBC, GLPK, CPLEX, …). Both
answers map to the same `SolverOutcome` as the direct HiGHS path, gap included (computed
from incumbent and bound, which Pyomo does not report as such).
"""

from __future__ import annotations

import math
import time

import numpy as np

from resilience.domain import Status
from resilience.formulation.standard_form import StandardForm
from resilience.solver.options import Budget, SolverOptions
from resilience.solver.outcome import SolverOutcome, relative_gap
from resilience.solver.status import PYOMO_LEGACY_TERMINATION, PYOMO_TERMINATION, with_plan

# Option names of the classic interfaces: (time limit, relative gap, threads, seed).
CLASSIC_OPTIONS = {
    "cbc": ("sec", "ratioGap", "threads", "randomSeed"),
    "glpk": ("tmlim", "mipgap", None, None),
    "gurobi": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "gurobi_direct": ("TimeLimit", "MIPGap", "Threads", "Seed"),
    "cplex": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "cplex_direct": ("timelimit", "mip_tolerances_mipgap", "threads", "randomseed"),
    "scip": ("limits/time", "limits/gap", None, "randomization/randomseedshift"),
    "xpress": ("maxtime", "miprelstop", "threads", None),
}


class SolverUnavailable(Exception):
    """The solver named by `--solver`/`--check-with` is not installed or not known."""


def _new_interface(name: str):
    import pyomo.environ  # noqa: F401 - registers the solvers with the new factory
    from pyomo.contrib.solver.common.factory import SolverFactory

    solver = SolverFactory(name)  # None for a name the new interface does not know
    return solver if solver is not None and solver.available() else None


def check_available(name: str) -> None:
    import pyomo.environ as pyo

    if _new_interface(name) is not None:
        return
    try:
        solver = pyo.SolverFactory(name)
        ok = solver is not None and solver.available(exception_flag=False)
    except Exception:  # noqa: BLE001 - an unknown plugin raises on construction
        ok = False
    if not ok:
        raise SolverUnavailable(f"the solver '{name}' is not available through Pyomo here "
                                "(not installed, or not a Pyomo solver name)")


class PyomoSession:
    """The form solved through Pyomo. Edits go to the form; the Pyomo model is written
    again from the form before the next solve (Pyomo is the open path, not the fast
    one)."""

    on_progress = None  # Pyomo's solver plugins report nothing while they run

    def __init__(self, form: StandardForm, solver: str,
                 options: SolverOptions | None = None):
        started = time.perf_counter()
        check_available(solver)
        self.form = form
        self.solver = solver
        self.name = f"pyomo:{solver}"
        self.options = options or SolverOptions()
        self._incumbent: np.ndarray | None = None
        self.handoff_seconds = time.perf_counter() - started

    # ---- edits ---------------------------------------------------------------------------
    def set_row_bounds(self, family: str, local_rows, lower, upper) -> None:
        rows = np.asarray(local_rows, dtype=np.int64) + self.form.row_families[family].start
        self.form.set_row_bounds(rows, lower, upper)

    def set_column_bounds(self, columns, lower, upper) -> None:
        self.form.set_column_bounds(columns, lower, upper)

    def set_costs(self, columns, costs) -> None:
        self.form.set_costs(columns, costs)

    # ---- solving -------------------------------------------------------------------------
    def solve(self, budget: Budget | None = None,
              options: SolverOptions | None = None) -> SolverOutcome:
        from resilience.formulation.pyomo_form import column_values, to_pyomo

        self.options = options = options or self.options
        budget = budget or Budget(options.time_limit)
        # the solver gets the scaled form, as HiGHS does: CBC given the workbook's units
        # (money rows of 1e9 beside shares of 1e-2) reported a bound above the optimum
        model, columns = to_pyomo(self.form.scaled())
        started = time.perf_counter()
        status, objective, bound, message = _solve(model, self.solver, options,
                                                   budget.remaining())
        cost_scale = self.form.scaling_structure().cost_scale
        values = None
        if status.has_plan:
            values = self.form.unscale_values(column_values(columns))
            # a column in no row and not in the objective is never sent to the solver and
            # comes back without a value: any value in its bounds will do, the nearest to 0
            missing = np.isnan(values)
            values[missing] = np.clip(0.0, self.form.col_lower[missing],
                                      self.form.col_upper[missing])
            objective = self.form.objective_value(values)
            self._incumbent = values
        if bound is not None and not math.isfinite(bound):
            bound = None
        if bound is not None:
            bound *= cost_scale
        if status is Status.OPTIMAL and bound is None:
            bound = objective
        return SolverOutcome(status, objective, bound, relative_gap(objective, bound),
                             values, time.perf_counter() - started, message, self.name)

    def fixed_lp_duals(self, budget: Budget | None = None) -> np.ndarray | None:
        """Duals of the LP with the integer columns fixed at the incumbent, from the same
        solver (None when it gives none)."""
        import pyomo.environ as pyo

        from resilience.formulation.pyomo_form import to_pyomo

        if self._incumbent is None:
            return None
        fixed = self.form.copy()
        integer = np.flatnonzero(fixed.integer)
        rounded = np.round(self._incumbent[integer])
        fixed.set_column_bounds(integer, rounded, rounded)
        fixed.integer = np.zeros(fixed.n_cols, dtype=bool)
        model, _ = to_pyomo(fixed.scaled())
        model.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        budget = budget or Budget(self.options.time_limit)
        status, _, _, _ = _solve(model, self.solver, self.options, budget.remaining())
        if status is not Status.OPTIMAL:
            return None
        duals = np.full(fixed.n_rows, np.nan)
        for family in fixed.row_families.values():
            if not family.size:
                continue
            component = model.component(family.name)
            for i in component:
                value = model.dual.get(component[i])
                if value is not None:
                    duals[family.start + i] = value
        if np.isnan(duals).all():
            return None
        return fixed.unscale_duals(np.nan_to_num(duals))

    def relaxation_is_feasible(self, budget: Budget | None = None) -> bool:
        return self._highs_view().relaxation_is_feasible(budget)

    def irreducible_infeasible_set(self):
        """The conflict is explained from HiGHS's IIS of the same form, whatever solver
        found the model infeasible (Pyomo has no common IIS interface)."""
        return self._highs_view().irreducible_infeasible_set()

    def _highs_view(self):
        from resilience.solver.highs import HighsSession

        return HighsSession(self.form, self.options)


def _solve(model, name: str, options: SolverOptions, limit: float
           ) -> tuple[Status, float | None, float | None, str]:
    solver = _new_interface(name)
    if solver is not None:
        result = solver.solve(
            model, time_limit=limit, rel_gap=options.mip_gap,
            solver_options={"threads": options.threads}, load_solutions=False,
            raise_exception_on_nonoptimal_result=False)
        condition = result.termination_condition.name
        has_plan = result.incumbent_objective is not None
        if has_plan:
            result.solution_loader.load_vars()
        return (with_plan(PYOMO_TERMINATION.get(condition), has_plan),
                result.incumbent_objective, result.objective_bound, condition)
    import pyomo.environ as pyo
    from pyomo.opt import SolutionStatus

    solver = pyo.SolverFactory(name)
    names = CLASSIC_OPTIONS.get(name, (None, None, None, None))
    for option, value in zip(names, (math.ceil(limit), options.mip_gap, options.threads,
                                     options.seed), strict=True):
        if option is not None:
            solver.options[option] = value
    result = solver.solve(model, load_solutions=False, tee=False)
    condition = str(result.solver.termination_condition.value)
    has_plan = len(result.solution) > 0 and result.solution(0).status in (
        SolutionStatus.optimal, SolutionStatus.feasible, SolutionStatus.bestSoFar,
        SolutionStatus.locallyOptimal, SolutionStatus.globallyOptimal)
    objective = bound = None
    if has_plan:
        model.solutions.load_from(result)
        objective = float(pyo.value(model.component("objective")))
        lower = result.problem.lower_bound
        bound = float(lower) if lower is not None and math.isfinite(float(lower)) else None
    mapped = PYOMO_LEGACY_TERMINATION.get(condition)
    return with_plan(mapped, has_plan), objective, bound, condition
