"""A start plan for big models: a feasible plan in seconds, handed to the solver first.

On the large benchmark instance HiGHS needs minutes for its root LP, so a time limit of
a minute used to end with no plan at all. The model's structure gives one cheaply:

1. The first stage from a reduced scenario set. Every policy, capacity, minimum order
   and exclusion is a first-stage row, the same whatever the scenarios, so a plan of the
   model with a handful of scenarios (the baseline and a systematic sample of the
   disruptions, their probability spread over the sample) satisfies all of them. That
   model is a few percent of the size and HiGHS solves it in seconds.
2. Everything else in closed form, as `resilience.verify` recomputes it: per material
   and scenario, lost supply, stock drawn first (free), then the cheapest surviving
   backup that beats the shortage penalty, then shortage; the CVaR level η at the
   α-quantile of the scenario costs and the tail excesses z from it; the HHI chord
   columns τ at the smallest value their rows allow.
3. The completed plan is checked against every row and bound of the form as the solver
   sees it (scaled, to HiGHS's own tolerance) before it is offered: a plan that breaks a
   row is silently dropped by HiGHS, and is no plan to report either.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from resilience.domain import BASELINE, Instance, Scenario

# Models with at least this many nonzeros get a start plan; smaller ones are solved
# outright in about the time a start would take.
START_FROM_NONZEROS = 400_000
REDUCED_SCENARIOS = 12  # disruption scenarios kept in the reduced model (plus baseline)
FEASIBILITY_TOLERANCE = 1e-7  # HiGHS's primal feasibility tolerance, on the scaled form
KNOWN_FAMILIES = frozenset({
    "contract", "firm_order", "reserve", "stock_held", "firm_total", "lost", "backup",
    "stock_drawn", "shortage", "var_level", "tail_excess", "hhi_square",
    "stock_added", "build", "spot"})
# SPEC §7 families the closed form below does not complete (yet): a model that has any
# of them, or more than one period, is solved without a start plan.
HORIZON_FAMILIES = ("stock_added", "build", "spot")


def completes(built) -> bool:
    """Whether `complete` can finish a plan of this model: its columns are the known
    families, in one period, without the §7 ones."""
    families = built.form.column_families
    return (KNOWN_FAMILIES.issuperset(families) and built.data.n_periods == 1
            and all(families[f].size == 0 for f in HORIZON_FAMILIES if f in families))


@dataclass(frozen=True)
class StartPlan:
    values: np.ndarray  # every column, form units
    objective: float
    violation: float  # largest row or bound violation on the scaled form
    seconds: float
    source: str  # how the first stage was found


def offer_start(built, session, budget, *, force: bool = False) -> StartPlan | None:
    """Find a start plan and hand it to `session` (when it takes one). Only for big
    models (or `force`); None when there is none to give: the solve then goes on
    exactly as without it."""
    if not hasattr(session, "set_start"):
        return None
    if not force and built.form.nnz < START_FROM_NONZEROS:
        return None
    if not completes(built):
        return None  # a user's extra columns, or a horizon: no closed form for them
    plan = start_plan(built, budget)
    if plan is None or not session.set_start(plan.values):
        return None
    return plan


def start_plan(built, budget, scenarios: int = REDUCED_SCENARIOS) -> StartPlan | None:
    """The first stage of the reduced model, completed and checked; None if the reduced
    model yields no plan in its share of the time or the completed plan breaks a row."""
    started = time.perf_counter()
    first = reduced_first_stage(built, budget, scenarios)
    if first is None:
        return None
    values = complete(built, *first)
    if values is None:
        return None
    violation = max_violation(built.form, values)
    if violation > FEASIBILITY_TOLERANCE:
        return None
    return StartPlan(values, built.form.objective_value(values), violation,
                     time.perf_counter() - started,
                     f"reduced model ({scenarios} disruption scenarios + baseline)")


# ---- the first stage from a reduced scenario set ----------------------------------------
def reduced_instance(instance: Instance, keep: int, severity=None) -> Instance:
    """The instance with the baseline and about `keep` disruption scenarios: the most
    severe half at their own probability (the CVaR tail is made of them, and a sample
    would miss it), the other half a systematic sample over cumulative probability of
    the rest, sharing the rest's probability equally. Scenarios only shape the recourse;
    every first-stage row is unchanged. `severity`: scenario name → a cost scale."""
    listed = [s for s in instance.scenarios() if s.probability > 0]
    disrupted = [s for s in listed if s.name != BASELINE and s.hits]
    quiet = [s for s in listed if not (s.name != BASELINE and s.hits)]
    if len(disrupted) <= keep:
        chosen = [(s, s.probability) for s in disrupted]
    else:
        severity = severity or {}
        by_severity = sorted(disrupted, key=lambda s: (-severity.get(s.name, 0.0), s.name))
        n_tail = keep // 2 if severity else 0
        chosen = [(s, s.probability) for s in by_severity[:n_tail]]
        rest = sorted(by_severity[n_tail:], key=lambda s: (-s.probability, s.name))
        cumulative = np.cumsum([s.probability for s in rest])
        total = float(cumulative[-1])
        n_sample = keep - n_tail
        marks = (np.arange(n_sample) + 0.5) * total / n_sample
        picks = sorted(set(np.minimum(np.searchsorted(cumulative, marks),
                                      len(rest) - 1).tolist()))
        chosen += [(rest[i], total / len(picks)) for i in picks]
    rows = tuple(Scenario(s.name, w, s.hits, None, s.row) for s, w in chosen)
    rows += tuple(Scenario(s.name, s.probability, s.hits, None, s.row) for s in quiet)
    return dataclasses.replace(instance, scenario_rows=rows, whatif_edits=(),
                               source_name=f"{instance.source_name} (reduced)")


def severity(data) -> dict[str, float]:
    """What each scenario would cost if every material were bought across its offers in
    proportion to capacity: the shortage penalty of the supply it takes away."""
    capacity_of = np.bincount(data.offer_material, weights=data.capacity,
                              minlength=data.n_materials)
    material = data.offer_material[data.hit_offer]
    lost_share = (1.0 - data.hit_availability) * data.capacity[data.hit_offer] \
        / capacity_of[material]
    cost = np.zeros(data.n_scenarios)
    np.add.at(cost, data.hit_scenario,
              lost_share * data.penalty[material] * data.demand[material])
    return {s.name: float(c) for s, c in zip(data.scenarios, cost, strict=True)}


def reduced_first_stage(built, budget, scenarios: int):
    """(y, x, r, h) of the reduced model's best plan within its share of the budget (a
    quarter of what is left, at most 20 s)."""
    from resilience.formulation.build import build_model
    from resilience.solver import Budget
    from resilience.solver.highs import HighsSession

    instance = reduced_instance(built.data.instance, scenarios, severity(built.data))
    reduced = build_model(instance)
    for family in ("contract", "firm_order", "reserve", "stock_held"):
        if reduced.form.column_families[family].size != \
                built.form.column_families[family].size:
            return None
    share = min(20.0, 0.25 * budget.remaining())
    # In a child process: HiGHS can sit in a root heuristic that ignores its limit.
    session = HighsSession(reduced.form, dataclasses.replace(
        _options(built), time_limit=share, mip_gap=max(1e-3, _options(built).mip_gap),
        grace=1.0), isolate=True)
    outcome = session.solve(Budget(share))
    if outcome.values is None:
        return None
    v = outcome.values

    def family(name: str) -> np.ndarray:
        f = reduced.form.column_families[name]
        return v[f.slice]

    return (np.round(family("contract")), family("firm_order"), family("reserve"),
            family("stock_held"))


def _options(built):
    from resilience.solver import SolverOptions

    settings = built.data.instance.settings
    return SolverOptions(time_limit=settings.time_limit, mip_gap=settings.mip_gap)


# ---- everything else in closed form ------------------------------------------------------
def complete(built, contract: np.ndarray, firm: np.ndarray, reserve: np.ndarray,
             stock: np.ndarray) -> np.ndarray | None:
    """Every column of the form from the first stage: the least-cost recourse per
    material and scenario (what verify.py computes), the CVaR columns at their best for
    those costs, and the HHI chord columns at their least."""
    form, data, layout = built.form, built.data, built.layout
    if not completes(built):
        return None
    n_m, n_k = data.n_materials, data.n_scenarios
    values = np.zeros(form.n_cols)

    def put(name: str, column_values: np.ndarray) -> None:
        f = form.column_families.get(name)
        if f is not None and f.size:
            values[f.slice] = column_values

    firm = np.clip(np.asarray(firm, dtype=float), 0.0, None)
    contract = np.asarray(contract, dtype=float)
    # a tiny order without a contract would break its link row: no order without one
    firm = np.where(contract > 0.5, firm, 0.0)
    reserve = np.clip(np.asarray(reserve, dtype=float), 0.0, None)
    reserve = np.where(contract[layout.maps["reserve"]] > 0.5, reserve, 0.0)
    stock = np.clip(np.asarray(stock, dtype=float), 0.0, None)
    put("contract", contract)
    put("firm_order", firm)
    put("reserve", reserve)
    put("stock_held", stock)
    total = np.bincount(data.offer_material, weights=firm, minlength=n_m)
    put("firm_total", total)

    # lost firm supply ℓ_{m,k}
    lost = np.zeros((n_k, n_m))
    keys = data.hit_scenario * n_m + data.offer_material[data.hit_offer]
    np.add.at(lost.reshape(-1), keys, (1.0 - data.hit_availability) * firm[data.hit_offer])
    put("lost", lost.reshape(-1)[layout.maps["lost"]])

    # need left after what is delivered, then stock drawn where a draw column exists
    need = np.maximum(0.0, data.demand[None, :] - (total[None, :] - lost))
    held = np.zeros(n_m)
    held[layout.maps["stock_held"]] = stock
    draw_keys = layout.maps["stock_drawn"]
    flat_need = need.reshape(-1)
    drawn = np.minimum.reduce([held[draw_keys % n_m], lost.reshape(-1)[draw_keys],
                               flat_need[draw_keys]])
    drawn = np.maximum(drawn, 0.0)
    flat_need[draw_keys] -= drawn
    put("stock_drawn", drawn)
    # what backup may still replace: lost supply not drawn from stock (SPEC v2 §3)
    replaceable = lost.reshape(-1).copy()
    replaceable[draw_keys] -= drawn
    cover = np.minimum(flat_need, np.maximum(replaceable, 0.0))

    # backup: cheapest surviving reserve first, while it beats the shortage penalty
    k, j = layout.maps["backup"]
    offer = layout.maps["reserve"][j]
    price = data.landed_cost[offer]
    group = k * n_m + data.offer_material[offer]
    available = layout.maps["backup_availability"] * reserve[j]
    available = np.where(price < data.penalty[data.offer_material[offer]], available, 0.0)
    taken = np.zeros(len(k))
    if len(k):
        order = np.lexsort((price, group))
        g, cap = group[order], available[order]
        cumulative = np.cumsum(cap)
        first = np.ones(len(g), dtype=bool)
        first[1:] = g[1:] != g[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
        before = cumulative - cap - (cumulative[group_start] - cap[group_start])
        taken[order] = np.clip(cover[g] - before, 0.0, cap)
        np.subtract.at(flat_need, group, taken)
    put("backup", taken)
    shortage = np.maximum(flat_need, 0.0)
    put("shortage", shortage)

    # recourse cost per scenario, then the CVaR columns
    cost = shortage.reshape(n_k, n_m) @ data.penalty
    np.add.at(cost, k, price * taken)
    if "var_level" in form.column_families:
        alpha = data.instance.settings.cvar_alpha
        eta = value_at_risk(cost, data.probability, alpha)
        put("var_level", np.array([eta]))
        put("tail_excess", np.maximum(0.0, cost - eta))

    if "hhi_square" in form.column_families:
        put("hhi_square", _least_chords(form, values))
    return values


def value_at_risk(cost: np.ndarray, probability: np.ndarray, alpha: float) -> float:
    """The η that minimises η + Σ π (R − η)⁺ / (1 − α): the smallest cost whose upper
    tail holds at most 1 − α of the probability."""
    order = np.argsort(-cost, kind="stable")
    tail = np.cumsum(probability[order])
    position = int(np.searchsorted(tail, (1.0 - alpha) - 1e-12))
    return float(cost[order[min(position, len(order) - 1)]])


def _least_chords(form, values: np.ndarray) -> np.ndarray:
    """τ at the largest chord below it: every chord row τ − (b_j + b_{j+1}) Σ x ≥ −b_j
    b_{j+1} D holds with the least τ, and a smaller τ leaves the HHI rows most room."""
    tau = form.column_families["hhi_square"]
    chords = form.row_families.get("hhi_chord")
    least = np.zeros(tau.size)
    if chords is None or not chords.size:
        return least
    rows = form.matrix[chords.start:chords.stop]
    own = rows[:, tau.start:tau.stop].tocoo()
    rest = rows @ values - own @ values[tau.slice]
    needed = form.row_lower[chords.start:chords.stop][own.row] - rest[own.row]
    np.maximum.at(least, own.col, needed / own.data)
    return np.minimum(least, form.col_upper[tau.slice])


def max_violation(form, values: np.ndarray) -> float:
    """The largest violation of a row or bound, measured as the solver sees the form
    (scaled), and of integrality: what decides whether HiGHS accepts the plan."""
    s = form.scaling()
    scaled = values / s.col_scale
    activity = s.matrix @ scaled
    rows = np.maximum(s.row_lower - activity, activity - s.row_upper)
    cols = np.maximum(s.col_lower - scaled, scaled - s.col_upper)
    integer = form.integer
    fractional = np.abs(scaled[integer] - np.round(scaled[integer]))
    parts = [np.zeros(1), rows, cols, fractional]
    return float(max(np.max(p) if p.size else 0.0 for p in parts))
