"""The pipeline, one arrow per module: workbook → instance (validate) → standard form
(formulation) → solver (solver) → solution (extract) → verification (verify).

A solve is three steps, each its own function: `solve_verified` runs the solver and the
independent check (retrying a numerical failure with another seed, all inside one time
budget), `diagnose_infeasible` explains an infeasible case in the workbook's terms, and
`assemble_solution` turns the verified values into a `Solution`.

The Pyomo and HiGHS imports happen inside the functions, so commands that only read or
write workbooks start without them.

The same module is the Python API for scripts and notebooks (docs/api.md): `load` a
workbook, `prepare_case` (strategy, what-if, risk aversion), `solve_case`, and the
analyses `compare`, `frontier` and `evaluate`, besides `validate_workbook`. Every result
gives `to_dict()`, exactly the JSON its command writes with `--json` (docs/json.md), and
`to_frames()`, its tables as pandas DataFrames (resilience/frames.py).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resilience.cases import prepare_case
from resilience.domain import CrossCheck, Instance, PlanLine, Solution, Status
from resilience.errors import (
    ExtraError,
    InfeasibleError,
    InputError,
    NoPlanError,
    Problem,
    SolverDisagreement,
    VerificationError,
)
from resilience.verify import Verification, verify

if TYPE_CHECKING:
    from resilience.analyses.batch import ProgressCallback
    from resilience.analyses.compare import CompareRow
    from resilience.analyses.evaluate import EvaluateRow
    from resilience.analyses.frontier import Frontier
    from resilience.frames import CompareFrames, EvaluateFrames, FrontierFrames, SolveFrames
    from resilience.plan_reader import FixedPlan
    from resilience.report.kpis import SolveSummary
    from resilience.solver import SolveProgress

__all__ = [
    "CompareResult", "EvaluateResult", "FrontierResult", "SolveResult", "SolverChoice",
    "Validation", "compare", "evaluate", "frontier", "load", "material_items", "offer_items",
    "prepare_case", "solve_case", "validate_workbook",
]

NUMERICAL_RETRIES = 2
# One solve of a form this big runs in a child process that can be killed at its deadline
# (the medium benchmark, 192,006 nonzeros, overran a 10 s limit by 9-11 s in process; the
# shipped data set has 8,584 and stays in process).
ONE_SHOT_ISOLATE_FROM_NONZEROS = 100_000
Extra = Callable[[object, Instance], None]  # extra(model, instance), PyPSA-style


def offer_items(instance: Instance) -> list[tuple[int, str]]:
    """What each index of the Pyomo model's offer variables (`model.firm_order[j]`,
    `model.contract[j]`) stands for: (i, period), offer `instance.offers[i]` in that
    period. Over a horizon an offer has one index per period of its window where its
    material has demand; in a workbook without a Periods sheet index j is offer j and
    the period is "". For `extra(model, instance)` functions."""
    from resilience.formulation.data import model_data

    data = model_data(instance)
    return [(int(i), data.period_ids[int(t)])
            for i, t in zip(data.offer_source, data.offer_period, strict=True)]


def material_items(instance: Instance) -> list[tuple[str, str]]:
    """What each index of `model.firm_total[j]` stands for: (material id, period), period
    by period (j = t · M + m); in a workbook without a Periods sheet, (material, "")."""
    return [(m.id, t) for t in instance.period_ids() for m in instance.materials]


@dataclass(frozen=True)
class SolveResult:
    """One solved case: the case solved (`instance`), the solver's `solution` and the
    independent `verification` of its plan."""

    instance: Instance
    solution: Solution
    verification: Verification

    def summary(self) -> SolveSummary:
        """The typed summary the report and the JSON are made of."""
        from resilience.report.kpis import summarise

        return summarise(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON `solve --json` writes, as plain data (docs/json.md)."""
        return self.summary().to_json()

    def to_frames(self) -> SolveFrames:
        """The plan, shares, HHI, scenarios, policy costs, costs, stock and projects as
        pandas DataFrames, made from `to_dict()` so that the two agree."""
        from resilience.frames import solve_frames

        return solve_frames(self.to_dict())

    def as_plan(self) -> FixedPlan:
        """The plan (orders, reserves, stock, projects built) as `evaluate` holds it
        fixed: the same plan its report's Plan, Stockpile and Projects sheets give."""
        from resilience.plan_reader import FixedPlan

        multi = self.instance.multi_period
        return FixedPlan(
            lines=tuple((line.supplier, line.material, line.country,
                         line.processing_country, line.quantity, line.reserve,
                         *((line.period,) if multi else ()))
                        for line in self.solution.plan),
            stockpile=dict(self.solution.stockpile),
            source=f"the plan solved for {self.instance.source_name}",
            stock_levels={m: dict(levels) for m, levels in
                          self.solution.stock_levels.items()} if multi else None,
            builds=tuple((i.supplier, i.material, i.country, i.processing_country, i.period)
                         for i in self.solution.investments))


@dataclass(frozen=True)
class SolverChoice:
    """How to solve: which solver, how many threads, the user's extra constraints (a
    function, or the path of a file defining one: a path travels to batch workers,
    where the file is loaded), and a second solver to cross-check the optimum with."""

    solver: str = "highs"
    threads: int = 1
    extra: Extra | Path | None = field(default=None, compare=False)
    check_with: str | None = None

    def extra_function(self) -> Extra | None:
        if self.extra is None or callable(self.extra):
            return self.extra
        from resilience.extras import load_extra

        try:
            return load_extra(Path(self.extra))
        except ValueError as exc:
            raise ExtraError(str(exc)) from None

    def without_extra(self) -> SolverChoice:
        return SolverChoice(self.solver, self.threads, None, self.check_with)


@dataclass(frozen=True)
class _Verified:
    outcome: object  # SolverOutcome
    plan: tuple[PlanLine, ...]
    stockpile: dict[str, float]
    check: Verification
    retries: int
    stock_levels: dict[str, dict[str, float]] = field(default_factory=dict)
    investments: tuple = ()


def solve_case(instance: Instance, *, threads: int = 1, with_duals: bool = True,
               solver: str = "highs", extra: Extra | None = None,
               check_with: str | None = None,
               on_progress: Callable[[SolveProgress], None] | None = None) -> SolveResult:
    """Solve one prepared case and verify it; raise on infeasible, no plan or mismatch.

    `solver`: "highs" (direct) or "pyomo:NAME"; `extra(model, instance)` adds Pyomo
    components before the solve; `check_with` re-solves with a second solver and raises
    `SolverDisagreement` when the optima differ by more than the gap. `on_progress` is
    called with the best plan's objective, the bound and the gap as HiGHS finds them
    (about once a second; from the solver's thread, so keep it quick)."""
    return solve_with(instance, SolverChoice(solver, threads, extra, check_with),
                      with_duals=with_duals, on_progress=on_progress)


def solve_with(instance: Instance, choice: SolverChoice | None = None, *,
               with_duals: bool = True,
               on_progress: Callable[[SolveProgress], None] | None = None) -> SolveResult:
    """`solve_case` with the solver options in one (picklable) object, as batches pass
    them to their workers."""
    choice = choice or SolverChoice()
    built = build_for(instance, choice)
    session = hand_to_solver(built, choice, one_shot=True)
    session.on_progress = on_progress
    result = solve_built(built, session, instance, with_duals=with_duals,
                         extras=choice.extra is not None)
    if choice.check_with:
        result = cross_check(built, result, choice.check_with, choice)
    return result


def build_for(instance: Instance, choice: SolverChoice | None = None):
    """The built model, grown by the user's extra constraints when there are any."""
    from resilience.formulation.build import build_model

    built = build_model(instance)
    extra = choice.extra_function() if choice is not None else None
    if extra is not None:
        from resilience.formulation.pyomo_form import to_pyomo, with_extras

        model, columns = to_pyomo(built.form)
        try:
            extra(model, instance)
        except Exception as exc:  # noqa: BLE001 - the user's code: say what it raised
            raise ExtraError(f"extra(model, instance) raised {type(exc).__name__}: {exc}"
                             ) from None
        built.form = with_extras(built.form, model, columns)
    return built


def hand_to_solver(built, choice: SolverChoice | None = None, *, one_shot: bool = False):
    """Hand the built model's standard form to the chosen solver.

    `one_shot`: the session solves once (a solve, not a batch that re-solves it with
    new bounds). Then HiGHS runs in a child process, killed at the hard deadline, from
    `ONE_SHOT_ISOLATE_FROM_NONZEROS` on: at the root HiGHS's cut separation checks
    neither its time limit nor a cancel (on the medium benchmark a 10 s limit ended at
    19-21 s in process). A batch keeps its session in process below the size every
    session is isolated from: re-solves there start from the last basis."""
    from resilience.solver import SolverOptions, open_session

    choice = choice or SolverChoice()
    settings = built.data.instance.settings
    options = SolverOptions(time_limit=settings.time_limit, mip_gap=settings.mip_gap,
                            threads=choice.threads)
    isolate = True if one_shot and built.form.nnz >= ONE_SHOT_ISOLATE_FROM_NONZEROS \
        else None
    return open_session(built.form, options, choice.solver, isolate=isolate)


def solve_built(built, session, instance: Instance, *, with_duals: bool = True,
                reused: bool = False, planning_rules: bool = True,
                policies_in_force: set[int] | None = None,
                extras: bool = False) -> SolveResult:
    """Solve a model already handed to a solver (possibly with changed bounds or costs)
    and verify the plan against `instance`, the case the model now stands for."""
    from resilience.solver import Budget

    settings = instance.settings
    budget = Budget(settings.time_limit)
    verified = solve_verified(built, session, instance, budget,
                              planning_rules=planning_rules, extras=extras)
    duals = session.fixed_lp_duals(budget) if with_duals else None
    build_seconds = 0.0 if reused else built.build_seconds + session.handoff_seconds
    solution = assemble_solution(built, verified, duals, instance, policies_in_force,
                                 build_seconds)
    return SolveResult(instance, solution, verified.check)


def solve_verified(built, session, instance: Instance, budget, *,
                   planning_rules: bool = True, extras: bool = False) -> _Verified:
    """Solve, extract and check independently. A numerical failure (a solver error, or
    a plan the check rejects) is retried from scratch with another random seed while
    the budget lasts; retries share the one time limit."""
    from resilience.formulation.extract import extract_plan
    from resilience.formulation.warm_start import offer_start

    # Big models: a checked plan in seconds, offered to the solver and kept as the
    # answer of last resort, so a time limit shorter than the root LP still ends in a plan.
    offer_start(built, session, budget)
    settings = instance.settings
    base = session.options
    attempt = 0
    while True:
        options = base.with_seed(base.seed + attempt)
        outcome = session.solve(budget, _with_limits(options, settings))
        if outcome.status is Status.INFEASIBLE:
            raise diagnose_infeasible(built, session, budget)
        if outcome.status is Status.NO_SOLUTION:
            raise NoPlanError(
                f"the solver stopped ({outcome.message}) after {outcome.seconds:.1f} s "
                "without finding any plan. Raise the time limit (--time-limit) or loosen "
                "the gap (--gap)")
        last = attempt >= NUMERICAL_RETRIES or budget.exhausted
        if outcome.status is Status.ERROR:
            if last:
                raise RuntimeError(f"{session.name} failed: {outcome.message}")
            attempt += 1
            continue
        extracted = extract_plan(built, outcome.values)
        plan, stockpile = extracted.lines, extracted.stockpile
        # With a user's extra rows the model may restrict recourse beyond SPEC §3, so its
        # bound is not a bound on the unrestricted recomputation: only the incumbent is
        # held against it.
        check = verify(instance, plan, stockpile, outcome.objective,
                       None if extras else outcome.bound, planning_rules=planning_rules,
                       **_horizon_arguments(instance, extracted))
        if check.ok:
            return _Verified(outcome, plan, stockpile, check, attempt,
                             extracted.stock_levels, extracted.investments)
        if last:
            raise VerificationError(
                "the solver's plan failed the independent check:\n  "
                + "\n  ".join(check.problems))
        attempt += 1


def _horizon_arguments(instance: Instance, extracted) -> dict:
    """What the verifier needs beyond the v1 plan over a horizon: stock per period and
    the projects built."""
    if not instance.multi_period and not extracted.investments:
        return {}
    return {"stock_levels": extracted.stock_levels, "investments": extracted.investments}


def _with_limits(options, settings):
    import dataclasses

    return dataclasses.replace(options, time_limit=settings.time_limit,
                               mip_gap=settings.mip_gap)


def diagnose_infeasible(built, session, budget) -> InfeasibleError:
    """The rules in conflict, in the workbook's terms: when the LP relaxation is feasible
    the minimum orders are to blame, else the rows of an irreducible infeasible set."""
    from resilience.formulation.explain import describe_conflict

    relaxation_feasible = session.relaxation_is_feasible(budget)
    iis = None if relaxation_feasible else session.irreducible_infeasible_set()
    rows = iis[0] if iis is not None else None
    return InfeasibleError("\n".join(
        describe_conflict(built, rows, relaxation_feasible=relaxation_feasible)))


def assemble_solution(built, verified: _Verified, duals, instance: Instance,
                      policies_in_force: set[int] | None, build_seconds: float) -> Solution:
    from resilience.formulation.extract import extract_policy_costs, extract_scenarios
    from resilience.solver import versions

    outcome = verified.outcome
    scenarios = extract_scenarios(built, outcome.values)
    if policies_in_force is None:
        policy_costs = extract_policy_costs(built, outcome.values, duals, instance)
    else:  # a model shared by several strategies: its own policy list, some switched off
        policy_costs = extract_policy_costs(built, outcome.values, duals,
                                            active=policies_in_force)
    retries = verified.retries
    message = outcome.message + (f" (after {retries} numerical retr"
                                 f"{'y' if retries == 1 else 'ies'})" if retries else "")
    return Solution(
        status=outcome.status, objective=outcome.objective, bound=outcome.bound,
        mip_gap=outcome.gap, solve_seconds=outcome.seconds, build_seconds=build_seconds,
        plan=verified.plan, stockpile=verified.stockpile, scenarios=scenarios,
        policy_costs=policy_costs, message=message, solver_versions=versions(),
        solver=outcome.solver,
        periods=instance.period_ids() if instance.multi_period else (),
        investments=verified.investments,
        stock_levels=verified.stock_levels if instance.multi_period else {},
    )


def cross_check(built, result: SolveResult, other: str, choice: SolverChoice
                ) -> SolveResult:
    """Re-solve the same standard form with a second solver; raise when the two optima
    differ by more than the gap (each solver may stop anywhere within it)."""
    import dataclasses

    from resilience.solver import Budget, SolverOptions, open_session

    settings = result.instance.settings
    options = SolverOptions(time_limit=settings.time_limit, mip_gap=settings.mip_gap,
                            threads=choice.threads)
    session = open_session(built.form.copy(), options, other)
    outcome = session.solve(Budget(settings.time_limit))
    first = result.solution
    if not outcome.status.has_plan:
        raise SolverDisagreement(
            f"{first.solver} found a plan costing {first.objective:,.2f}; {other} ended "
            f"'{outcome.status.value}' ({outcome.message})")
    tolerance = (settings.mip_gap + 1e-6) * max(1.0, abs(first.objective),
                                                 abs(outcome.objective))
    agree = abs(first.objective - outcome.objective) <= tolerance
    check = CrossCheck(solver=session.name, objective=float(outcome.objective),
                       bound=outcome.bound, agree=agree)
    if not agree:
        raise SolverDisagreement(
            f"the optima differ by more than the gap ({settings.mip_gap:.4%}): "
            f"{first.solver} {first.objective:,.6f} (bound {_fmt(first.bound)}), "
            f"{session.name} {outcome.objective:,.6f} (bound {_fmt(outcome.bound)})")
    return dataclasses.replace(result, solution=dataclasses.replace(first,
                                                                    cross_check=check))


def _fmt(value: float | None) -> str:
    return "none" if value is None else f"{value:,.6f}"


# ---- validate: every problem, and what a valid workbook holds ---------------------


def load(path: str | Path) -> Instance:
    """Read and validate a workbook: the instance, or `InputError` listing every problem
    (`validate_workbook` returns them instead)."""
    from resilience.validate import load as load_workbook

    return load_workbook(path)


@dataclass(frozen=True)
class Validation:
    """What `validate` finds: every problem (errors and warnings, in sheet and row order)
    and, for a valid workbook, the instance read."""

    file: str
    sha256: str | None
    problems: tuple[Problem, ...]
    instance: Instance | None

    @property
    def ok(self) -> bool:
        return self.instance is not None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if not p.warning)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.warning)

    def to_dict(self) -> dict[str, Any]:
        """The JSON `validate --json` writes (docs/json.md)."""
        from resilience.report.kpis import json_document

        return json_document({
            "ok": self.ok,
            "input": {"file": self.file, "sha256": self.sha256},
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "problems": [_problem_json(p) for p in self.problems],
            "workbook": None if self.instance is None else _workbook_counts(self.instance),
            "settings": None if self.instance is None else dataclasses.asdict(
                self.instance.settings),
        })


def validate_workbook(path: str | Path) -> Validation:
    """Read and check a workbook; never raises for a problem in it."""
    path = Path(path)
    try:
        instance = load(path)
    except InputError as exc:
        return Validation(path.name, _sha256_or_none(path), tuple(exc.problems), None)
    return Validation(instance.source_name, instance.source_sha256,
                      tuple(instance.warnings), instance)


def _sha256_or_none(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _problem_json(problem: Problem) -> dict[str, Any]:
    found = problem.found
    if not (found is None or isinstance(found, bool | int | float | str)):
        found = str(found)
    return {"sheet": problem.sheet, "cell": problem.cell, "message": problem.message,
            "found": found, "warning": problem.warning}


def _workbook_counts(instance: Instance) -> dict[str, Any]:
    """What a valid workbook holds, as `validate` describes it."""
    from resilience.whatif import known_whatifs

    if instance.multi_period:  # every scenario present in some period, baseline once
        scenarios = {s.name.casefold(): s for t in instance.period_ids()
                     for s in instance.scenarios(t)}
    else:
        scenarios = {s.name.casefold(): s for s in instance.scenarios()}
    return {
        "periods": list(instance.period_ids()) if instance.multi_period else [],
        "materials": len(instance.materials),
        "countries": len(instance.countries),
        "offers": len(instance.offers),
        "suppliers": len({o.supplier for o in instance.offers}),
        "projects": sum(1 for o in instance.offers if o.is_project),
        "scenarios": len(scenarios),
        "scenarios_from": "generated" if instance.scenario_rows is None else "sheet",
        "policy_rows": len(instance.policies),
        "policy_rows_always_on": sum(1 for p in instance.policies
                                     if p.strategy is None and p.whatif is None),
        "strategies": list(instance.strategies()),
        "whatifs": list(known_whatifs(instance)),
        "whatif_edits": len(instance.whatif_edits),
    }





# ---- the analyses: results that give their JSON and DataFrames ----------------------


@dataclass(frozen=True)
class CompareResult:
    """Every strategy under every what-if (`compare`): one row per case, in the order
    strategies × what-ifs; a failed case has status "failed" and its reason."""

    instance: Instance
    rows: tuple[CompareRow, ...]
    skipped_whatifs: tuple[str, ...] = ()  # library what-ifs that do not apply, left out

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if r.status == "failed")

    def to_dict(self) -> dict[str, Any]:
        """The JSON `compare --json` writes (docs/json.md)."""
        from resilience.report.analyses import compare_json

        return compare_json(list(self.rows), self.instance)

    def to_frames(self) -> CompareFrames:
        from resilience.frames import compare_frames

        return compare_frames(self.to_dict())


@dataclass(frozen=True)
class FrontierResult:
    """Cost against concentration and against tail risk (`frontier`) for one case."""

    instance: Instance
    frontier: Frontier

    def to_dict(self) -> dict[str, Any]:
        """The JSON `frontier --json` writes (docs/json.md)."""
        from resilience.report.analyses import frontier_json

        return frontier_json(self.frontier, self.instance)

    def to_frames(self) -> FrontierFrames:
        from resilience.frames import frontier_frames

        return frontier_frames(self.to_dict())


@dataclass(frozen=True)
class EvaluateResult:
    """A plan held fixed under the base case and each what-if (`evaluate`), beside the
    plan re-optimised for each."""

    instance: Instance
    plan: FixedPlan
    rows: tuple[EvaluateRow, ...]
    skipped_whatifs: tuple[str, ...] = ()

    @property
    def failed(self) -> int:
        return sum(1 for r in self.rows if not r.ok)

    def to_dict(self) -> dict[str, Any]:
        """The JSON `evaluate --json` writes (docs/json.md)."""
        from resilience.report.analyses import evaluate_json

        return evaluate_json(list(self.rows), self.instance, self.plan)

    def to_frames(self) -> EvaluateFrames:
        from resilience.frames import evaluate_frames

        return evaluate_frames(self.to_dict())


def compare(instance: Instance, strategies: Sequence[str] | None = None,
            whatifs: Sequence[str] | None = None, *, workers: int = 1,
            scheduler: str | None = None, reuse: bool = True,
            progress: bool | ProgressCallback = False, solver: str = "highs",
            threads: int = 1, extra: Extra | Path | None = None,
            check_with: str | None = None) -> CompareResult:
    """Solve every strategy × every what-if of a loaded workbook, as `resilience compare`
    does. Names as on the command line, "base" for none; by default base and every
    strategy known to the workbook and the library, and base and every what-if of the
    workbook and those of the library that apply to it (the others are listed in
    `skipped_whatifs`). `workers` local processes, or a Dask `scheduler` address;
    `progress` True for a progress bar on stderr, or `progress(done, total, now)`
    called as cases end."""
    from resilience.analyses.batch import executor_for
    from resilience.analyses.compare import BASE
    from resilience.analyses.compare import compare as run_compare
    from resilience.cases import applicable_whatifs, known_strategies

    chosen_s = list(strategies) if strategies is not None else [
        BASE, *known_strategies(instance)]
    skipped: Sequence[str] = ()
    if whatifs is None:
        applicable, skipped = applicable_whatifs(instance)
        chosen_w = [BASE, *applicable]
    else:
        chosen_w = list(whatifs)
    with executor_for(workers, scheduler) as executor:
        rows = run_compare(instance, _cases(chosen_s), _cases(chosen_w), executor,
                           progress=progress, reuse=reuse,
                           choice=SolverChoice(solver, threads, extra, check_with))
    return CompareResult(instance, tuple(rows), tuple(skipped))


def frontier(case: Instance, points: int = 11, *, workers: int = 1,
             scheduler: str | None = None, progress: bool | ProgressCallback = False,
             solver: str = "highs", threads: int = 1, extra: Extra | Path | None = None,
             check_with: str | None = None) -> FrontierResult:
    """The two sweeps of `resilience frontier` for a case (a loaded workbook, or one
    from `prepare_case` with a strategy and what-if): a uniform HHI limit from the
    cost-optimal plan's largest HHI down to the lowest achievable, and risk aversion λ
    from 0 to 1, `points` points each."""
    from resilience.analyses.batch import executor_for
    from resilience.analyses.frontier import frontier as sweep

    if points < 1:
        raise InputError([Problem("", "", "points must be at least 1", found=points)])
    with executor_for(workers, scheduler) as executor:
        result = sweep(case, points, executor, workers=max(workers, 1), progress=progress,
                       choice=SolverChoice(solver, threads, extra, check_with))
    return FrontierResult(case, result)


def evaluate(instance: Instance, plan: SolveResult | FixedPlan | str | Path,
             whatifs: Sequence[str] | None = None, *, strategy: str | None = None,
             workers: int = 1, scheduler: str | None = None,
             progress: bool | ProgressCallback = False, solver: str = "highs",
             threads: int = 1, extra: Extra | Path | None = None,
             check_with: str | None = None) -> EvaluateResult:
    """Hold a plan fixed under the base case and each what-if, as `resilience evaluate`
    does: the plan of a `SolveResult`, a report or plan workbook (its path), or a
    `FixedPlan`. By default every what-if of the workbook and those of the library that
    apply to it; `strategy` shapes the re-optimised plans, and the rules of it that the
    plan held fixed does not meet are listed (`rules_broken`)."""
    from resilience.analyses.batch import executor_for
    from resilience.analyses.evaluate import evaluate as run_evaluate
    from resilience.cases import applicable_whatifs
    from resilience.plan_reader import read_plan

    if isinstance(plan, SolveResult):
        fixed = plan.as_plan()
    elif isinstance(plan, str | Path):
        fixed = read_plan(Path(plan), instance)
    else:
        fixed = plan
    skipped: Sequence[str] = ()
    if whatifs is None:
        chosen, skipped = applicable_whatifs(instance)
    else:
        chosen = list(whatifs)
    cases = [None, *(w for w in _cases(chosen) if w is not None)]
    with executor_for(workers, scheduler) as executor:
        rows = run_evaluate(instance, fixed, cases, strategy, executor, progress=progress,
                            choice=SolverChoice(solver, threads, extra, check_with))
    return EvaluateResult(instance, fixed, tuple(rows), tuple(skipped))


def _cases(names: Sequence[str | None]) -> list[str | None]:
    """Strategy or what-if names with "base" (any case) or None for none."""
    return [None if name is None or name.strip().casefold() == "base" else name
            for name in names]
