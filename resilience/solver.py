"""The HiGHS adapter: the only module that talks to highspy.

It hands a Pyomo model of matrix components to HiGHS as arrays (a standard-form hand-off:
no expression walking), runs it with a hard time limit and Ctrl-C support, and maps
HiGHS's outcome to the product's own `Status`. It also offers what analyses need from
the solver: changing row bounds between solves, duals of the LP with the binaries fixed,
and an irreducible infeasible subset of the LP relaxation.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.matrix_constraint import MatrixConstraint

from resilience.domain import Status

_HARD_STOP_GRACE = 2.0  # seconds past the time limit before the watchdog cancels HiGHS


@dataclass(frozen=True)
class SolverOutcome:
    status: Status
    objective: float | None  # incumbent (primal bound)
    bound: float | None  # dual bound
    gap: float | None
    values: np.ndarray | None  # column values, in the model's column order
    seconds: float
    message: str = ""


def _quiet_highs() -> highspy.Highs:
    """A Highs object, without the banner its constructor prints on stdout (which would
    corrupt `--json -` output and clutter the terminal)."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


def versions() -> dict[str, str]:
    import pyomo.version

    h = _quiet_highs()
    return {
        "highs": f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}",
        "pyomo": pyomo.version.version,
    }


class HighsSession:
    """One model handed to HiGHS once, solved as often as needed (frontier sweeps change
    row bounds and re-solve, warm-started by HiGHS)."""

    def __init__(self, model: pyo.ConcreteModel, threads: int = 1, seed: int = 0):
        started = time.perf_counter()
        self._highs = _quiet_highs()
        # cancelSolve() is ignored unless the user-interrupt handler is switched on.
        self._highs.HandleUserInterrupt = True
        self._highs.setOptionValue("threads", int(threads))
        self._highs.setOptionValue("random_seed", int(seed))
        self.row_offsets: dict[str, tuple[int, int]] = {}
        self._integer_columns = np.zeros(0, dtype=np.int64)
        self._pass(model)
        self.handoff_seconds = time.perf_counter() - started

    # ---- hand-off --------------------------------------------------------------------
    def _pass(self, model: pyo.ConcreteModel) -> None:
        columns = list(model.component_data_objects(pyo.Var, sort=False))
        position = {id(v): j for j, v in enumerate(columns)}
        n_cols = len(columns)
        # Bounds are read where VarData keeps them (`lb`/`ub` evaluate each through the
        # expression system: 10x slower at 10^6 columns); a Param or expression bound,
        # which this product never builds, falls back to the public property.
        try:
            lower = np.array([-math.inf if (b := v._lb) is None else b for v in columns],
                             dtype=float)
            upper = np.array([math.inf if (b := v._ub) is None else b for v in columns],
                             dtype=float)
        except TypeError:
            lower = np.array([-math.inf if v.lb is None else v.lb for v in columns], float)
            upper = np.array([math.inf if v.ub is None else v.ub for v in columns], float)
        integer = np.array([v.is_integer() for v in columns], dtype=bool)

        starts, indices, values, row_lower, row_upper = [], [], [], [], []
        n_rows = 0
        nnz = 0
        last_x, last_remap = None, None
        for component in model.component_objects(pyo.Constraint, active=True, sort=False):
            if not isinstance(component, MatrixConstraint):
                raise TypeError(f"{component.name}: only matrix constraints are handed off")
            # MatrixConstraint keeps its CSR arrays; reading them is the whole point of
            # the matrix hand-off, so we accept touching its attributes here only.
            data = np.asarray(component._A_data, dtype=float)
            index = np.asarray(component._A_indices, dtype=np.int64)
            pointer = np.asarray(component._A_indptr, dtype=np.int64)
            if component._x is not last_x:
                last_x = component._x
                last_remap = np.array([position[id(v)] for v in last_x], dtype=np.int64)
            index = last_remap[index]
            size = len(pointer) - 1
            self.row_offsets[component.local_name] = (n_rows, size)
            starts.append(pointer[:-1] + nnz)
            indices.append(index)
            values.append(data)
            row_lower.append(_finite_or(component._lower, -math.inf))
            row_upper.append(_finite_or(component._upper, math.inf))
            n_rows += size
            nnz += len(data)

        objectives = list(model.component_data_objects(pyo.Objective, active=True))
        if len(objectives) != 1:
            raise ValueError("the model must have exactly one active objective")
        expr = objectives[0].expr
        costs = np.zeros(n_cols)
        for coef, var in zip(expr.linear_coefs, expr.linear_vars, strict=True):
            costs[position[id(var)]] += coef
        sense = 1 if objectives[0].sense == pyo.minimize else -1
        # Costs in currency reach 1e8 and more (a shortage of LNG); HiGHS warns and, seen
        # on the demo data, can return an "optimal" plan worse than its own bound. Costs
        # are handed over divided by a power of ten so the largest is below 1e4, and
        # every objective value and dual read back is multiplied by it again.
        largest = float(np.abs(costs).max()) if n_cols else 0.0
        self.cost_scale = 10.0 ** max(0, math.floor(math.log10(largest)) - 3) \
            if largest > 0 else 1.0
        costs = costs / self.cost_scale

        a_start = np.concatenate(starts + [np.array([nnz])]).astype(np.int32) if starts \
            else np.zeros(1, np.int32)
        a_index = np.concatenate(indices).astype(np.int32) if indices else np.zeros(0, np.int32)
        a_value = np.concatenate(values) if values else np.zeros(0)
        self._integer_columns = np.flatnonzero(integer)
        status = self._highs.passModel(
            n_cols, n_rows, nnz, 2, sense, 0.0, costs, lower, upper,
            np.concatenate(row_lower) if row_lower else np.zeros(0),
            np.concatenate(row_upper) if row_upper else np.zeros(0),
            a_start[:-1] if n_rows else np.zeros(0, np.int32), a_index, a_value,
            integer.astype(np.int32),
        )
        if status == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS refused the model")
        self.n_cols, self.n_rows, self.nnz = n_cols, n_rows, nnz

    # ---- solving ---------------------------------------------------------------------
    def solve(self, time_limit: float = 60.0, mip_gap: float = 1e-4) -> SolverOutcome:
        h = self._highs
        h.setOptionValue("time_limit", float(time_limit))
        h.setOptionValue("mip_rel_gap", float(mip_gap))
        started = time.perf_counter()
        self._run_with_hard_stop(time_limit)
        seconds = time.perf_counter() - started
        return self._outcome(seconds)

    def _run_with_hard_stop(self, time_limit: float) -> None:
        """HiGHS's time limit is soft; a watchdog cancels it shortly after. The solve runs
        in a worker thread so Ctrl-C reaches Python: we cancel HiGHS and re-raise."""
        h = self._highs
        error: list[BaseException] = []

        def run() -> None:
            try:
                h.run()
            except BaseException as exc:  # surfaced in the caller's thread
                error.append(exc)

        worker = threading.Thread(target=run, name="highs", daemon=True)
        deadline = time.monotonic() + time_limit + _HARD_STOP_GRACE + 0.1 * time_limit
        worker.start()
        cancelled = False
        try:
            while worker.is_alive():
                worker.join(timeout=0.05)
                if not cancelled and time.monotonic() > deadline:
                    h.cancelSolve()
                    cancelled = True
        except KeyboardInterrupt:
            h.cancelSolve()
            worker.join()
            raise
        if error:
            raise error[0]

    def _outcome(self, seconds: float) -> SolverOutcome:
        h = self._highs
        model_status = h.getModelStatus()
        info = h.getInfo()
        has_primal = info.primal_solution_status == 2
        is_mip = len(self._integer_columns) > 0
        scale = self.cost_scale
        objective = info.objective_function_value * scale if has_primal else None
        bound = info.mip_dual_bound * scale if is_mip else objective
        if bound is not None and not math.isfinite(bound):
            bound = None
        gap = None
        if objective is not None and bound is not None:
            gap = abs(objective - bound) / max(1e-10, abs(objective))
        ms = highspy.HighsModelStatus
        message = h.modelStatusToString(model_status)
        if model_status == ms.kOptimal:
            status = Status.OPTIMAL
        elif model_status in (ms.kInfeasible, ms.kUnboundedOrInfeasible):
            status = Status.INFEASIBLE
        elif model_status in (ms.kTimeLimit, ms.kInterrupt, ms.kIterationLimit,
                              ms.kSolutionLimit, ms.kObjectiveBound, ms.kObjectiveTarget,
                              ms.kMemoryLimit):
            status = Status.TIME_LIMIT if has_primal else Status.NO_SOLUTION
        else:
            status = Status.ERROR
        values = None
        if status.has_plan:
            values = np.asarray(h.getSolution().col_value, dtype=float)
        return SolverOutcome(status, objective, bound, gap, values, seconds, message)

    # ---- analyses --------------------------------------------------------------------
    def set_row_bounds(self, family: str, local_rows: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray) -> None:
        start, _ = self.row_offsets[family]
        rows = np.asarray(local_rows, dtype=np.int32) + start
        self._highs.changeRowsBounds(len(rows), rows, np.asarray(lower, dtype=float),
                                     np.asarray(upper, dtype=float))

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        """New costs in currency (scaled like those of the hand-off)."""
        columns = np.asarray(columns, dtype=np.int32)
        self._highs.changeColsCost(len(columns), columns,
                                   np.asarray(costs, dtype=float) / self.cost_scale)

    def reseed(self, seed: int) -> None:
        """Solve again from scratch with another random seed: a different search path
        around a numerical failure."""
        self._highs.clearSolver()
        self._highs.setOptionValue("random_seed", int(seed))

    def set_column_bounds(self, columns: np.ndarray, lower: np.ndarray,
                          upper: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int32)
        self._highs.changeColsBounds(len(columns), columns, np.asarray(lower, dtype=float),
                                     np.asarray(upper, dtype=float))

    def fixed_lp_duals(self) -> np.ndarray | None:
        """Row duals of the LP with the binaries fixed at the incumbent: ∂objective/∂rhs,
        the price of each constraint (NOTES: a policy on binaries alone has dual 0)."""
        status, lp = self._highs.getFixedLp()
        if status == highspy.HighsStatus.kError:
            return None
        fixed = _quiet_highs()
        fixed.passModel(lp)
        fixed.run()
        if fixed.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return np.asarray(fixed.getSolution().row_dual, dtype=float) * self.cost_scale

    def irreducible_infeasible_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows and columns of an IIS of the LP relaxation (strategy 4, see NOTES), or
        None when the relaxation is feasible (the MIP's integrality is the conflict)."""
        h = self._highs
        h.setOptionValue("iis_strategy", 4)
        status, iis = h.getIis()
        if status == highspy.HighsStatus.kError:
            return None
        rows = np.asarray(iis.row_index_, dtype=np.int64)
        cols = np.asarray(iis.col_index_, dtype=np.int64)
        if len(rows) == 0 and len(cols) == 0:
            return None
        return rows, cols

    def relaxation_is_feasible(self) -> bool:
        relaxed = _quiet_highs()
        lp = self._highs.getLp()
        lp.integrality_ = []
        relaxed.passModel(lp)
        relaxed.run()
        return relaxed.getModelStatus() == highspy.HighsModelStatus.kOptimal


def _finite_or(values, fill: float) -> np.ndarray:
    array = np.array([fill if v is None else v for v in values], dtype=float) \
        if isinstance(values, list | tuple) else np.asarray(values, dtype=float)
    return array
