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
from collections.abc import Callable
from importlib import metadata

import highspy
import numpy as np

from resilience.domain import Status
from resilience.formulation.standard_form import StandardForm
from resilience.solver.options import Budget, SolverOptions
from resilience.solver.outcome import SolveProgress, SolverOutcome, relative_gap
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


# Forms at least this big are solved in a child process (`isolated`), which can always be
# stopped. Smaller ones stay in this process, where a solve costs no process start-up
# (tens of milliseconds per solve, which batches of small cases would pay thousands of
# times) and a watchdog's cancel is enough: the loops that ignore it were only ever seen
# on the large benchmark instance.
ISOLATE_FROM_NONZEROS = 400_000
PROGRESS_EVERY = 1.0  # seconds between progress reports while HiGHS searches
# The fixed-contract LP of a moderate form (medium: 0.7 s) after the budget is spent
MODERATE_DUALS_SECONDS = 3.0


class HighsSession:
    """One standard form held by HiGHS, solved as often as needed. Edits go to the form
    first and are mirrored here, so the form stays the truth (frontier sweeps change row
    bounds and re-solve, warm-started by HiGHS).

    A big form (`isolate`, by default from `ISOLATE_FROM_NONZEROS` nonzeros on) is solved
    in a child process per call, killed at the hard deadline with the best plan it had
    streamed back; a plan offered with `set_start` is kept here too, so a solve that
    ends with nothing better still reports it."""

    name = "highs"

    def __init__(self, form: StandardForm, options: SolverOptions | None = None,
                 isolate: bool | None = None):
        from resilience.solver import isolated

        started = time.perf_counter()
        self.form = form
        self.options = options or SolverOptions()
        if isolate is None:
            isolate = form.nnz >= ISOLATE_FROM_NONZEROS
        self.isolated = bool(isolate) and isolated.can_isolate()
        self._highs: highspy.Highs | None = None
        if not self.isolated:
            self._highs = new_highs(self.options)
            self._pass()
        self._start: np.ndarray | None = None  # form units, every column
        self._start_offered = True  # handed to HiGHS, not only kept as the last resort
        self._incumbent: np.ndarray | None = None  # the last plan returned, form units
        self.last_report = None  # the isolated child's report of the last solve
        # Extra HiGHS options for the isolated child (tests, benchmarks).
        self.worker_options: dict[str, object] = {}
        # Test-only (see isolated.Task): make the child stall like HiGHS's deaf loops.
        self.stall_for_tests: tuple[float, str] = (0.0, "first_incumbent")
        # Called with a SolveProgress on each new plan and about once a second while a
        # MIP search runs (from HiGHS's thread in process: keep it quick and thread-safe).
        self.on_progress: Callable[[SolveProgress], None] | None = None
        self._listening = False
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
        if self.isolated:
            self.options = options
            outcome = self._solve_isolated(budget, options)
        else:
            outcome = self._solve_in_process(budget, options)
        outcome = self._at_least_the_start(outcome)
        self._incumbent = outcome.values
        return outcome

    def _solve_in_process(self, budget: Budget, options: SolverOptions) -> SolverOutcome:
        h = self._highs
        if options.seed != self.options.seed:
            h.clearSolver()  # another search path from scratch
            h.setOptionValue("random_seed", int(options.seed))
            if self._start is not None and self._start_offered:
                self._offer_start(self._start)
        self.options = options
        limit = budget.remaining()
        h.setOptionValue("time_limit", float(limit))
        h.setOptionValue("mip_rel_gap", float(options.mip_gap))
        started = time.perf_counter()
        self._listen(started)
        _run_with_watchdog(h, limit + options.grace)
        return self._outcome(time.perf_counter() - started)

    def _listen(self, started: float) -> None:
        """Subscribe (once) to HiGHS's MIP callbacks when someone wants progress; every
        solve (a retry too) counts its seconds from its own start."""
        self._clock = [started, 0.0]  # [this solve's start, the last report]
        if self.on_progress is None or self._listening or not self.form.is_mip:
            return
        self._listening = True
        scale = self.form.scaling_structure().cost_scale

        def report(out, every: float) -> None:
            now = time.perf_counter()
            if now - self._clock[1] < every or self.on_progress is None:
                return
            self._clock[1] = now
            self.on_progress(SolveProgress(now - self._clock[0],
                                           _money(out.mip_primal_bound, scale),
                                           _money(out.mip_dual_bound, scale)))

        self._highs.cbMipImprovingSolution.subscribe(lambda e: report(e.data_out, 0.0))
        self._highs.cbMipInterrupt.subscribe(lambda e: report(e.data_out, PROGRESS_EVERY))

    def _solve_isolated(self, budget: Budget, options: SolverOptions) -> SolverOutcome:
        from resilience.solver import isolated

        form = self.form
        limit = budget.remaining()
        now = time.monotonic()
        # HiGHS is asked to stop a little before the budget ends and is killed shortly
        # after it: what it found is already here, streamed, and on a big model the work
        # after the solve (verifying against every scenario, the report) takes seconds
        # of its own that the user's time limit must cover (the large instance's
        # verification takes 5-10 s on 2 cores, its report 2-5 s).
        wrap_up = min(0.15 * limit, 10.0)
        task = isolated.Task(
            "mip", deadline=now + limit - wrap_up,
            hard_deadline=now + limit + min(options.grace, 1.0),
            mip_gap=options.mip_gap, seed=options.seed, threads=options.threads,
            highs_options=self._worker_options(),
            stall_for_tests=self.stall_for_tests[0],
            stall_when_for_tests=self.stall_for_tests[1])
        start = None if self._start is None or not self._start_offered \
            else self._start / form.scaling_structure().col_scale
        report = isolated.run(isolated.problem_of(form), task, start,
                              on_event=self._relay(form) if self.on_progress else None)
        self.last_report = report
        return self._outcome_of_report(report)

    def _relay(self, form: StandardForm):
        """The child's reports as SolveProgress, in currency."""
        scale = form.scaling_structure().cost_scale
        listener = self.on_progress

        def relay(report) -> None:
            at = report.events[-1][0] if report.events else 0.0
            listener(SolveProgress(at, _money(report.objective, scale),
                                   _money(report.bound, scale)))

        return relay

    def _worker_options(self) -> tuple[tuple[str, object], ...]:
        chosen: dict[str, object] = {}
        if self._start is not None and self._start_offered:
            # Feasibility jump looks for a first plan, which a start already is; on the
            # large instance it spent 30 s of a 60 s limit finding nothing.
            chosen["mip_heuristic_run_feasibility_jump"] = False
        chosen.update(self.worker_options)
        return tuple(chosen.items())

    def _outcome_of_report(self, report) -> SolverOutcome:
        form = self.form
        scale = form.scaling_structure().cost_scale
        has_primal = report.values is not None
        objective = report.objective * scale if has_primal and report.objective is not None \
            else None
        if has_primal and objective is None:
            objective = form.objective_value(form.unscale_values(report.values))
        bound = report.bound * scale if report.bound is not None else None
        if not form.is_mip:
            bound = objective if report.finished else bound
        if report.killed:
            mapped = "stopped"
            message = (f"HiGHS did not stop at its time limit and was stopped by force "
                       f"after {report.seconds:.1f} s")
        elif report.finished and not report.crashed:
            mapped = HIGHS_MODEL_STATUS.get(report.model_status)
            message = report.message
        else:
            mapped = "stopped" if has_primal else None
            message = report.crashed or "the solver process ended without an answer"
        status = with_plan(mapped, has_primal)
        values = form.unscale_values(report.values) if status.has_plan else None
        return SolverOutcome(status, objective if values is not None else None, bound,
                             relative_gap(objective, bound) if values is not None else None,
                             values, report.seconds, message)

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

    def _at_least_the_start(self, outcome: SolverOutcome) -> SolverOutcome:
        """A start plan is a plan: when the solve stopped on a limit without a better
        one (HiGHS may drop a start it cannot use in time), the start is the answer."""
        if self._start is None or outcome.status not in (Status.NO_SOLUTION,
                                                         Status.TIME_LIMIT):
            return outcome
        start_objective = self.form.objective_value(self._start)
        if outcome.status is Status.TIME_LIMIT and outcome.objective is not None \
                and outcome.objective <= start_objective + 1e-9 * max(1.0, abs(
                    start_objective)):
            return outcome  # the solver's own plan (perhaps the start, as it took it)
        bound = outcome.bound
        if bound is not None and bound > start_objective:
            bound = None  # a bound above a feasible plan is no bound of this model
        return SolverOutcome(Status.TIME_LIMIT, start_objective, bound,
                             relative_gap(start_objective, bound), self._start.copy(),
                             outcome.seconds,
                             f"{outcome.message}; the plan is the start plan (the solver "
                             "found nothing better in time)", outcome.solver)

    # ---- edits (form first, then HiGHS) ------------------------------------------------
    def set_row_bounds(self, family: str, local_rows: np.ndarray, lower: np.ndarray,
                       upper: np.ndarray) -> None:
        rows = np.asarray(local_rows, dtype=np.int64) + self.form.row_families[family].start
        self.form.set_row_bounds(rows, lower, upper)
        self._start = None  # no longer known to be feasible
        if self._highs is None:
            return
        scale = self.form.scaling_structure().row_scale[rows]
        self._highs.changeRowsBounds(len(rows), rows.astype(np.int32),
                                     self.form.row_lower[rows] / scale,
                                     self.form.row_upper[rows] / scale)

    def set_column_bounds(self, columns: np.ndarray, lower: np.ndarray,
                          upper: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int64)
        self.form.set_column_bounds(columns, lower, upper)
        self._start = None
        if self._highs is None:
            return
        scale = self.form.scaling_structure().col_scale[columns]
        self._highs.changeColsBounds(len(columns), columns.astype(np.int32),
                                     self.form.col_lower[columns] / scale,
                                     self.form.col_upper[columns] / scale)

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int64)
        self.form.set_costs(columns, costs)
        if self._highs is None:
            return
        s = self.form.scaling_structure()
        self._highs.changeColsCost(len(columns), columns.astype(np.int32),
                                   self.form.costs[columns] * s.col_scale[columns]
                                   / s.cost_scale)
        if self._start is not None:  # still feasible; only its worth changed
            self._offer_start(self._start)

    # ---- what analyses need besides the plan -------------------------------------------
    def fixed_lp_duals(self, budget: Budget | None = None) -> np.ndarray | None:
        """Row duals of the LP with the binaries fixed at the incumbent: ∂objective/∂rhs
        in currency, the price of each constraint (a rule on binaries alone has dual 0)."""
        if self.isolated:
            # A big LP cannot be solved in the one second an exhausted budget would give
            # it: the report goes without prices rather than late. A moderate one (below
            # the size every session is isolated from) gets its few seconds regardless.
            moderate = self.form.nnz < ISOLATE_FROM_NONZEROS
            if self._incumbent is None or (budget is not None and budget.exhausted
                                           and not moderate):
                return None
            report = self._auxiliary_isolated("duals", budget, fixed=self._incumbent,
                                              floor=MODERATE_DUALS_SECONDS if moderate
                                              else 1.0)
            if report.row_duals is None:
                return None
            return self.form.unscale_duals(report.row_duals)
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
        if self.isolated:
            report = self._auxiliary_isolated("relaxation", budget)
            return bool(report.feasible)
        relaxed, limit = self._auxiliary(budget)
        lp = self._highs.getLp()
        lp.integrality_ = []
        relaxed.passModel(lp)
        _run_with_watchdog(relaxed, limit + self.options.grace)
        return relaxed.getModelStatus() == highspy.HighsModelStatus.kOptimal

    def irreducible_infeasible_set(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Rows and columns of an IIS of the LP relaxation (strategy 4, see NOTES), or
        None when HiGHS finds none."""
        if self.isolated:
            return self._auxiliary_isolated("iis", None).iis
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

    def _auxiliary_isolated(self, kind: str, budget: Budget | None,
                            fixed: np.ndarray | None = None, floor: float = 1.0):
        """An auxiliary LP in a child, on what is left of the budget (at least `floor`
        seconds), killed shortly after: a report must not wait minutes for a price list."""
        from resilience.solver import isolated

        limit = budget.remaining(floor=floor) if budget is not None \
            else self.options.time_limit
        now = time.monotonic()
        task = isolated.Task(kind, deadline=now + limit,
                             hard_deadline=now + limit + min(self.options.grace, 2.0),
                             seed=self.options.seed, threads=self.options.threads)
        problem = isolated.problem_of(self.form, relax=kind == "relaxation",
                                      fixed_integers=fixed)
        return isolated.run(problem, task)

    def set_start(self, values: np.ndarray, offer: bool = True) -> bool:
        """Offer HiGHS a plan (form units, every column) as its first incumbent. The
        caller vouches that it is feasible (see formulation.warm_start); it is also kept
        as the answer of last resort of the solves that follow, until an edit.
        `offer=False` keeps it as that answer only, without handing it to HiGHS."""
        values = np.asarray(values, dtype=float)
        if values.shape != (self.form.n_cols,):
            return False
        self._start = values.copy()
        self._start_offered = offer
        if self._highs is None or not offer:
            return True
        return self._offer_start(values)

    def _offer_start(self, values: np.ndarray) -> bool:
        scaled = values / self.form.scaling_structure().col_scale
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
    solve runs in a worker thread so Ctrl-C reaches Python: HiGHS is cancelled, waited
    for, and the KeyboardInterrupt re-raised. The wait is on an Event the thread sets
    when HiGHS has returned, not on `join()`: a Ctrl-C that lands inside `join()` can
    leave the thread marked finished while HiGHS still runs (Python 3.11), and the
    process would then exit under it and abort."""
    error: list[Exception] = []
    finished = threading.Event()

    def run() -> None:
        try:
            h.run()
        except Exception as exc:  # surfaced in the caller's thread
            error.append(exc)
        finally:
            finished.set()

    worker = threading.Thread(target=run, name="highs", daemon=True)
    deadline = time.monotonic() + hard_limit
    worker.start()
    cancelled = False
    try:
        while not finished.wait(0.05):
            if not cancelled and time.monotonic() > deadline:
                h.cancelSolve()
                cancelled = True
    except KeyboardInterrupt:
        h.cancelSolve()
        while not finished.wait(0.05):
            pass
        raise
    if error:
        raise error[0]


def _money(scaled: float | None, scale: float) -> float | None:
    """A bound HiGHS reports in its cost scale, in currency; None when it has none yet
    (HiGHS reports ±inf or ±kHighsInf before the first plan or the root LP)."""
    if scaled is None or not math.isfinite(scaled) or abs(scaled) >= 1e30:
        return None
    return float(scaled) * scale
