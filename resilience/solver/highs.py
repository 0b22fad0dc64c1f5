"""HiGHS, straight from the standard form: the only module that imports highspy.

The scaled form goes to HiGHS in one `passModel` (no Pyomo objects on this path); every
value read back — objective, bound, column values, duals — is unscaled here, so callers
only ever see the workbook's units. Every `Highs` object, the main one and the auxiliary
ones (duals with the binaries fixed, the LP relaxation), gets its options from one
`SolverOptions` and its time from one `Budget`.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from importlib import metadata

import highspy
import numpy as np

from resilience.formulation.standard_form import StandardForm
from resilience.solver.options import Budget, SolverOptions
from resilience.solver.outcome import SolverOutcome, relative_gap
from resilience.solver.status import HIGHS_MODEL_STATUS, with_plan

_LOCK = threading.Lock()
_BANNER_SILENCED = False
_SCHEDULER_THREADS: int | None = None


def _silence_banner_once() -> None:
    """HiGHS prints its banner on stdout from the constructor of the first `Highs` of a
    process, before any option can be set, and never again. That one construction is
    made with stdout pointed at /dev/null, once per process under a lock; every later
    `Highs` is quiet through its options (`output_flag`), with no descriptor touched."""
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    _BANNER_SILENCED = True


def new_highs(options: SolverOptions, time_limit: float | None = None) -> highspy.Highs:
    """A quiet `Highs` with the options applied. HiGHS's task scheduler is global to the
    process and fixed by the first run: when the thread count changes it is reset
    instead of failing every later solve with kError."""
    global _SCHEDULER_THREADS
    with _LOCK:
        _silence_banner_once()
        if _SCHEDULER_THREADS is not None and _SCHEDULER_THREADS != options.threads:
            highspy.Highs.resetGlobalScheduler(True)
        _SCHEDULER_THREADS = options.threads
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(options.threads))
    h.setOptionValue("random_seed", int(options.seed))
    h.setOptionValue("mip_rel_gap", float(options.mip_gap))
    h.setOptionValue("time_limit", float(time_limit if time_limit is not None
                                         else options.time_limit))
    # cancelSolve() (watchdog, Ctrl-C) is ignored unless this handler is switched on.
    h.HandleUserInterrupt = True
    return h


def versions() -> dict[str, str]:
    """Versions from the installed distributions: no solver object is created."""
    found = {}
    for name, dist in (("highs", "highspy"), ("pyomo", "pyomo")):
        try:
            found[name] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


class HighsSession:
    """One standard form held by HiGHS, solved as often as needed. Edits go to the form
    first and are mirrored here, so the form stays the truth (frontier sweeps change row
    bounds and re-solve, warm-started by HiGHS)."""

    name = "highs"

    def __init__(self, form: StandardForm, options: SolverOptions | None = None):
        started = time.perf_counter()
        self.form = form
        self.options = options or SolverOptions()
        self._highs = new_highs(self.options)
        self._pass()
        self.handoff_seconds = time.perf_counter() - started

    # ---- hand-off --------------------------------------------------------------------
    def _pass(self) -> None:
        form = self.form
        s = form.scaling()
        matrix = s.matrix
        status = self._highs.passModel(
            form.n_cols, form.n_rows, int(matrix.nnz), 2, 1, 0.0, s.costs,
            s.col_lower, s.col_upper, s.row_lower, s.row_upper,
            matrix.indptr[:-1].astype(np.int32), matrix.indices.astype(np.int32),
            matrix.data, form.integer.astype(np.int32),
        )
        if status == highspy.HighsStatus.kError:
            raise RuntimeError("HiGHS refused the model")

    # ---- solving ---------------------------------------------------------------------
    def solve(self, budget: Budget | None = None,
              options: SolverOptions | None = None) -> SolverOutcome:
        options = options or self.options
        budget = budget or Budget(options.time_limit)
        h = self._highs
        if options.seed != self.options.seed:
            h.clearSolver()  # another search path from scratch
            h.setOptionValue("random_seed", int(options.seed))
        self.options = options
        limit = budget.remaining()
        h.setOptionValue("time_limit", float(limit))
        h.setOptionValue("mip_rel_gap", float(options.mip_gap))
        started = time.perf_counter()
        _run_with_watchdog(h, limit + options.grace)
        return self._outcome(time.perf_counter() - started)

    def _outcome(self, seconds: float) -> SolverOutcome:
        h, form = self._highs, self.form
        model_status = h.getModelStatus()
        info = h.getInfo()
        has_primal = info.primal_solution_status == 2
        scale = form.scaling_structure().cost_scale
        objective = info.objective_function_value * scale if has_primal else None
        bound = info.mip_dual_bound * scale if form.is_mip else objective
        if bound is not None and not math.isfinite(bound):
            bound = None
        status = with_plan(HIGHS_MODEL_STATUS.get(model_status.name), has_primal)
        values = None
        if status.has_plan:
            values = form.unscale_values(np.asarray(h.getSolution().col_value, dtype=float))
        return SolverOutcome(status, objective, bound, relative_gap(objective, bound),
                             values, seconds, h.modelStatusToString(model_status))

    # ---- edits (form first, then HiGHS) ------------------------------------------------
    def set_row_bounds(self, family: str, local_rows: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray) -> None:
        rows = np.asarray(local_rows, dtype=np.int64) + self.form.row_families[family].start
        self.form.set_row_bounds(rows, lower, upper)
        scale = self.form.scaling_structure().row_scale[rows]
        self._highs.changeRowsBounds(len(rows), rows.astype(np.int32),
                                     self.form.row_lower[rows] / scale,
                                     self.form.row_upper[rows] / scale)

    def set_column_bounds(self, columns: np.ndarray, lower: np.ndarray,
                          upper: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int64)
        self.form.set_column_bounds(columns, lower, upper)
        scale = self.form.scaling_structure().col_scale[columns]
        self._highs.changeColsBounds(len(columns), columns.astype(np.int32),
                                     self.form.col_lower[columns] / scale,
                                     self.form.col_upper[columns] / scale)

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int64)
        self.form.set_costs(columns, costs)
        s = self.form.scaling_structure()
        self._highs.changeColsCost(len(columns), columns.astype(np.int32),
                                   self.form.costs[columns] * s.col_scale[columns]
                                   / s.cost_scale)

    # ---- what analyses need besides the plan -------------------------------------------
    def fixed_lp_duals(self, budget: Budget | None = None) -> np.ndarray | None:
        """Row duals of the LP with the binaries fixed at the incumbent: ∂objective/∂rhs
        in currency, the price of each constraint (a rule on binaries alone has dual 0)."""
        status, lp = self._highs.getFixedLp()
        if status == highspy.HighsStatus.kError:
            return None
        fixed, limit = self._auxiliary(budget)
        fixed.passModel(lp)
        _run_with_watchdog(fixed, limit + self.options.grace)
        if fixed.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            return None
        return self.form.unscale_duals(np.asarray(fixed.getSolution().row_dual, dtype=float))

    def relaxation_is_feasible(self, budget: Budget | None = None) -> bool:
        relaxed, limit = self._auxiliary(budget)
        lp = self._highs.getLp()
        lp.integrality_ = []
        relaxed.passModel(lp)
        _run_with_watchdog(relaxed, limit + self.options.grace)
        return relaxed.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def irreducible_infeasible_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows and columns of an IIS of the LP relaxation (strategy 4, see NOTES), or
        None when HiGHS finds none."""
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

    def _auxiliary(self, budget: Budget | None) -> tuple[highspy.Highs, float]:
        """A second `Highs` for an auxiliary LP, on what is left of the budget."""
        limit = budget.remaining(floor=1.0) if budget is not None else self.options.time_limit
        return new_highs(self.options, time_limit=limit), limit

    def set_start(self, values: np.ndarray) -> bool:
        """Offer HiGHS a plan (form units, every column) as its first incumbent."""
        scaled = np.asarray(values, dtype=float) / self.form.scaling_structure().col_scale
        index = np.arange(len(scaled), dtype=np.int32)
        status = self._highs.setSolution(len(scaled), index, scaled)
        return status != highspy.HighsStatus.kError


def write_form(form: StandardForm, path) -> None:
    """The unscaled form with its row and column names, as .lp or .mps by the suffix."""
    h = new_highs(SolverOptions())
    lp = highspy.HighsLp()
    lp.num_col_ = form.n_cols
    lp.num_row_ = form.n_rows
    lp.col_cost_ = form.costs
    lp.col_lower_ = form.col_lower
    lp.col_upper_ = form.col_upper
    lp.row_lower_ = form.row_lower
    lp.row_upper_ = form.row_upper
    matrix = form.matrix.tocsc()
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.a_matrix_.num_col_ = form.n_cols
    lp.a_matrix_.num_row_ = form.n_rows
    lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                       for i in form.integer]
    lp.col_names_ = form.column_names()
    lp.row_names_ = form.row_names()
    if h.passModel(lp) == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS refused the model")
    if h.writeModel(str(path)) == highspy.HighsStatus.kError:
        raise RuntimeError(f"HiGHS could not write {path}")


def _run_with_watchdog(h: highspy.Highs, hard_limit: float) -> None:
    """HiGHS's time limit is soft; a watchdog cancels the solve shortly after it. The
    solve runs in a worker thread so Ctrl-C reaches Python: HiGHS is cancelled, the
    thread joined, and the KeyboardInterrupt re-raised."""
    error: list[Exception] = []

    def run() -> None:
        try:
            h.run()
        except Exception as exc:  # surfaced in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=run, name="highs", daemon=True)
    deadline = time.monotonic() + hard_limit
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
