"""frontier: cost against concentration, and cost against tail risk.

HHI sweep (SPEC §4): a uniform `max_hhi` limit on every material and stage, from the
cost-optimal plan's largest HHI down to the lowest achievable while firm orders still
cover min(D_m, eligible capacity) — buying less is not diversifying — in N points.
λ sweep: risk aversion from 0 to 1 in N points (cost against CVaR).

The model is built once per worker and re-solved with changed right-hand sides (HHI) or
column costs (λ); the points are split into one contiguous chunk per worker.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from resilience.analyses.batch import (
    Counter,
    ProgressCallback,
    report_now,
    report_step,
    run_batch,
    tracking,
)
from resilience.api import SolverChoice
from resilience.domain import Instance


@dataclass(frozen=True)
class FrontierPoint:
    sweep: str  # "hhi" or "risk_aversion"
    parameter: float  # the HHI limit or λ
    ok: bool
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    knee: bool = False


@dataclass(frozen=True)
class Frontier:
    hhi_points: tuple[FrontierPoint, ...]
    risk_points: tuple[FrontierPoint, ...]
    hhi_range: tuple[float, float]  # (largest HHI of the cost-optimal plan, floor)
    build_seconds: float = 0.0


def _figures(result) -> dict[str, Any]:
    from resilience.analyses.compare import case_figures

    figures = case_figures(result)
    figures["max_exact_hhi"] = _largest_exact_hhi(result.verification)
    return figures


def _largest_exact_hhi(check) -> float:
    """The exact HHI the uniform limit is about: the largest over materials, the
    origin and processing stages (not the owner stage, which the limit leaves alone)
    and, over a horizon, every period (the limit applies in each)."""
    from resilience.domain import STAGES

    by_period = check.hhi_by_period or {
        m: {stage: {"": h} for stage, h in stages.items()} for m, stages in check.hhi.items()}
    return max((h for stages in by_period.values() for stage, periods in stages.items()
                if stage in STAGES for h in periods.values() if h is not None),
               default=0.0)


def hhi_chunk(payload: tuple) -> list[dict[str, Any]]:
    """Worker task on (instance, limits[, solver choice]): build the model with a
    uniform HHI row once, solve each limit."""
    from resilience.api import build_for, hand_to_solver, solve_built
    from resilience.formulation.sweeps import apply_uniform_hhi, with_uniform_hhi

    instance, limits, *rest = payload
    choice = rest[0] if rest else SolverChoice()
    case = with_uniform_hhi(instance)
    built = build_for(case, choice)
    session = hand_to_solver(built, choice)
    points = []
    for i, limit in enumerate(limits):
        report_now(f"HHI ≤ {limit:,.0f}")
        current = apply_uniform_hhi(built, session, instance, limit)
        points.append(_solve_point(partial(solve_built, built, session, current,
                                           reused=i > 0, extras=choice.extra is not None),
                                   limit))
        report_step()
    return points


def risk_chunk(payload: tuple) -> list[dict[str, Any]]:
    """Worker task on (instance, λs[, solver choice]): build once with CVaR columns,
    re-cost them for each λ."""
    from resilience.api import build_for, hand_to_solver, solve_built
    from resilience.formulation.sweeps import apply_risk_aversion

    instance, lambdas, *rest = payload
    choice = rest[0] if rest else SolverChoice()
    base = _with_risk(instance, 0.5)
    built = build_for(base, choice)
    session = hand_to_solver(built, choice)
    points = []
    for i, lam in enumerate(lambdas):
        report_now(f"λ = {lam:.2f}")
        current = apply_risk_aversion(built, session, instance, lam)
        points.append(_solve_point(partial(solve_built, built, session, current,
                                           reused=i > 0, extras=choice.extra is not None),
                                   lam))
        report_step()
    return points


def _with_risk(instance: Instance, lam: float) -> Instance:
    return dataclasses.replace(instance, settings=dataclasses.replace(
        instance.settings, risk_aversion=lam))


def _solve_point(solve, parameter: float) -> dict[str, Any]:
    from resilience.errors import InfeasibleError, NoPlanError, VerificationError

    try:
        result = solve()
    except (InfeasibleError, NoPlanError, VerificationError, RuntimeError) as exc:
        return {"parameter": parameter, "ok": False, "reason": str(exc).replace("\n", "; ")}
    figures = _figures(result)
    figures["build_seconds"] = result.solution.build_seconds
    figures["solve_seconds"] = result.solution.solve_seconds
    return {"parameter": parameter, "ok": True, "figures": figures}


def hhi_floor(instance: Instance, choice: SolverChoice | None = None) -> float:
    """The lowest uniform (chord) HHI limit at which firm orders still cover
    min(D_m, eligible capacity), under the workbook's rules (a user's extra constraints
    shape the points of the sweep, not where it ends)."""
    from resilience.api import hand_to_solver
    from resilience.formulation.sweeps import build_hhi_floor_model

    built = build_hhi_floor_model(instance)
    session = hand_to_solver(built, (choice or SolverChoice()).without_extra())
    outcome = session.solve()
    if not outcome.status.has_plan:
        from resilience.errors import InfeasibleError

        raise InfeasibleError("the lowest achievable HHI could not be found: "
                              f"{outcome.message}")
    # The dual bound is a value no plan can beat; the incumbent one some plan reaches.
    return float(outcome.objective)


def frontier(instance: Instance, points: int = 11, executor: Executor | None = None,
             workers: int = 1, progress: bool | ProgressCallback | Counter = False,
             choice: SolverChoice | None = None) -> Frontier:
    """`progress`: True for a progress bar on stderr, or a callback (see
    `resilience.analyses.batch.ProgressCallback`); it counts points, both sweeps."""
    sweep_points = points if points > 1 else 1
    with tracking(progress, "frontier points", 2 * sweep_points) as counter:
        return _frontier(instance, points, executor, workers, counter, choice)


def _frontier(instance: Instance, points: int, executor: Executor | None, workers: int,
              counter: Counter | None, choice: SolverChoice | None) -> Frontier:
    from resilience.api import solve_with

    choice = choice or SolverChoice()
    if counter is not None:
        counter.note("the cost-optimal plan")
    base = solve_with(instance, choice, with_duals=False)
    # Start where the cost-optimal plan stands in the model's own (chord) measure, so the
    # first point is that plan; its exact HHI is at most this.
    top = _largest_chord_hhi(base.verification)
    if counter is not None:
        counter.note("the lowest achievable HHI")
    floor = min(hhi_floor(instance, choice), top)
    if counter is not None:
        counter.note("")
    limits = list(np.linspace(top, floor, points)) if points > 1 else [top]
    lambdas = list(np.linspace(0.0, 1.0, points)) if points > 1 else [0.0]
    chunks = max(1, min(workers, points))
    cases = []
    for name, task, values in (("hhi", hhi_chunk, limits), ("risk_aversion", risk_chunk,
                                                             lambdas)):
        for c, part in enumerate(np.array_split(np.array(values), chunks)):
            if len(part):
                cases.append((f"{name} chunk {c + 1}", (name, task, instance,
                                                        [float(v) for v in part], choice)))
    outcomes = run_batch(_run_chunk, cases, executor, counter or False, "frontier points",
                         units=[len(payload[3]) for _, payload in cases])
    hhi_points: list[FrontierPoint] = []
    risk_points: list[FrontierPoint] = []
    for (_, (name, _, _, values, _)), outcome in zip(cases, outcomes, strict=True):
        target = hhi_points if name == "hhi" else risk_points
        if not outcome.ok:
            target.extend(FrontierPoint(name, v, False, outcome.reason) for v in values)
            continue
        for point in outcome.value:
            target.append(FrontierPoint(name, point["parameter"], point["ok"],
                                        point.get("reason", ""), point.get("figures", {})))
    return Frontier(tuple(_mark_knee(hhi_points, "max_exact_hhi")),
                    tuple(_mark_knee(risk_points, "cvar")), (top, floor))


def _largest_chord_hhi(check) -> float:
    """The largest chord HHI of a plan over the stages the uniform limit covers (origin
    and processing) and, over a horizon, every period (the limit applies in each)."""
    from resilience.domain import STAGES

    by_period = check.shares_by_period or {
        m: {stage: {"": by_country} for stage, by_country in stages.items()}
        for m, stages in check.shares.items()}
    return max((_chord_hhi(by_country.values())
                for stages in by_period.values()
                for stage, periods in stages.items() if stage in STAGES
                for by_country in periods.values()), default=0.0)


def _chord_hhi(shares) -> float:
    """10,000 Σ_c chord(σ_c): σ² interpolated linearly between multiples of 0.05."""
    from resilience.domain import HHI_BREAKPOINT_STEP

    total = 0.0
    for share in shares:
        lo = min(np.floor(share / HHI_BREAKPOINT_STEP + 1e-12) * HHI_BREAKPOINT_STEP,
                 1 - HHI_BREAKPOINT_STEP)
        hi = lo + HHI_BREAKPOINT_STEP
        total += (lo + hi) * share - lo * hi
    return min(10_000.0, 10_000.0 * total)


def _run_chunk(payload):
    name, task, instance, values, choice = payload
    return task((instance, values, choice))


def _mark_knee(points: list[FrontierPoint], risk_key: str) -> list[FrontierPoint]:
    """The knee: the solved point farthest from the straight line joining the two ends
    of the (risk, cost) curve, both axes scaled to [0, 1]."""
    solved = [p for p in points if p.ok]
    if len(solved) < 3:
        return points
    xs = np.array([p.figures[risk_key] for p in solved], dtype=float)
    ys = np.array([p.figures["objective"] for p in solved], dtype=float)

    def scale(v):
        span = v.max() - v.min()
        return (v - v.min()) / span if span > 0 else np.zeros_like(v)

    if (np.ptp(ys) <= 1e-9 * max(1.0, float(np.abs(ys).max()))
            or np.ptp(xs) <= 1e-9 * max(1.0, float(np.abs(xs).max()))):
        return points  # a flat curve has no knee
    x, y = scale(xs), scale(ys)
    dx, dy = x[-1] - x[0], y[-1] - y[0]
    norm = np.hypot(dx, dy)
    if norm == 0:
        return points
    distance = np.abs(dy * (x - x[0]) - dx * (y - y[0])) / norm
    if distance.max() <= 1e-6:
        return points  # the points lie on a line
    knee = solved[int(np.argmax(distance))]
    return [dataclasses.replace(p, knee=True) if p is knee else p for p in points]
