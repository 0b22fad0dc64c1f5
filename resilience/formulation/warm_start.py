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
# The first-stage families a reduced model hands over: the same columns in both models.
FIRST_STAGE = ("contract", "firm_order", "reserve", "stock_held", "build")


def completes(built) -> bool:
    """Whether `complete` can finish a plan of this model: its columns are the known
    families (not a user's extra ones)."""
    return KNOWN_FAMILIES.issuperset(built.form.column_families)


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
    if plan is None or not session.set_start(plan.values, offer=offers_to_solver(built)):
        return None
    return plan


def offers_to_solver(built) -> bool:
    """Whether HiGHS gets the start as its first incumbent, or the start is only kept as
    the answer of last resort. Measured on the benchmarks (2 cores, highspy 1.16.0):
    on large (one period) HiGHS with a start skips a feasibility jump that spent 30 s of
    a 60 s limit finding nothing; on the horizon instance (5 periods) HiGHS with the
    start found nothing better in 300 s (gap 2.94 %, with or without feasibility jump),
    while without it its own root heuristics found a plan 0.41 % from the bound at
    85-134 s. So a horizon keeps the start in reserve: at 60 s it is still the answer."""
    return built.data.n_periods == 1


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
    every first-stage row is unchanged. `severity`: scenario name → a cost scale.

    Over a horizon with period-specific rows, whole scenarios are kept or dropped by
    name (every row of a kept one, at its own probabilities): a start plan needs a
    feasible first stage, which no scenario can change, more than a faithful weighting.
    """
    if instance.scenario_rows is not None and any(
            s.period is not None for s in instance.scenario_rows):
        return _reduced_by_name(instance, keep, severity or {})
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
    rows = tuple(Scenario(s.name, w, s.hits, None, s.row, None, s.price_surge)
                 for s, w in chosen)
    rows += tuple(Scenario(s.name, s.probability, s.hits, None, s.row, None, s.price_surge)
                  for s in quiet)
    return dataclasses.replace(instance, scenario_rows=rows, whatif_edits=(),
                               source_name=f"{instance.source_name} (reduced)")


def _reduced_by_name(instance: Instance, keep: int, severity: dict[str, float]
                     ) -> Instance:
    """`reduced_instance` for a sheet whose rows name periods: the most severe half of
    the scenario names and a spread of the rest by name order, every row of each."""
    rows = [s for s in instance.scenario_rows
            if s.whatif is None or s.whatif == instance.whatif]
    names = list(dict.fromkeys(s.name.casefold() for s in rows))
    weight: dict[str, float] = {}
    for name, value in severity.items():
        weight[name.casefold()] = weight.get(name.casefold(), 0.0) + value
    if len(names) > keep:
        by_severity = sorted(names, key=lambda n: (-weight.get(n, 0.0), n))
        n_tail = keep // 2
        rest = by_severity[n_tail:]
        step = len(rest) / (keep - n_tail)
        chosen = set(by_severity[:n_tail]) | {rest[int(i * step)] for i in
                                              range(keep - n_tail)}
        rows = [s for s in rows if s.name.casefold() in chosen]
    return dataclasses.replace(instance, scenario_rows=tuple(rows), whatif_edits=(),
                               source_name=f"{instance.source_name} (reduced)")


def severity(data) -> dict[str, float]:
    """What each scenario would cost if every material were bought across its offers in
    proportion to capacity: the shortage penalty of the supply it takes away."""
    capacity_of = np.bincount(data.offer_material, weights=data.capacity,
                              minlength=data.n_material_items)
    material = data.offer_material[data.hit_offer]  # the material item
    lost_share = (1.0 - data.hit_availability) * data.capacity[data.hit_offer] \
        / capacity_of[material]
    cost = np.zeros(data.n_scenarios)
    np.add.at(cost, data.hit_scenario,
              lost_share * data.penalty[material] * data.demand[material])
    out: dict[str, float] = {}  # over a horizon: summed over the scenario's periods
    for s, c in zip(data.scenarios, cost.tolist(), strict=True):
        out[s.name] = out.get(s.name, 0.0) + c
    return out


def reduced_first_stage(built, budget, scenarios: int):
    """(y, x, r, h) of the reduced model's best plan within its share of the budget (a
    quarter of what is left, at most 20 s)."""
    from resilience.formulation.build import build_model
    from resilience.solver import Budget
    from resilience.solver.highs import HighsSession

    instance = reduced_instance(built.data.instance, scenarios, severity(built.data))
    reduced = build_model(instance)
    for family in FIRST_STAGE:
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
            family("stock_held"), np.round(family("build")))


def _options(built):
    from resilience.solver import SolverOptions

    settings = built.data.instance.settings
    return SolverOptions(time_limit=settings.time_limit, mip_gap=settings.mip_gap)


# ---- everything else in closed form ------------------------------------------------------
def complete(built, contract: np.ndarray, firm: np.ndarray, reserve: np.ndarray,
             stock: np.ndarray, build: np.ndarray | None = None) -> np.ndarray | None:
    """Every column of the form from the first stage: the least-cost recourse per
    material and scenario (what verify.py computes: lost supply replaced first from
    stock, then from the cheapest of backup and spot below the shortage penalty), stock
    added where it has a price, the CVaR columns at their best for those costs (per
    period), and the HHI chord columns at their least."""
    from resilience.formulation.first_stage import online_terms
    from resilience.formulation.recourse import spot_price

    form, data, layout = built.form, built.data, built.layout
    if not completes(built):
        return None
    n_m, n_k = data.n_materials, data.n_scenarios
    n_items = data.n_material_items
    values = np.zeros(form.n_cols)

    def put(name: str, column_values: np.ndarray) -> None:
        f = form.column_families.get(name)
        if f is not None and f.size:
            values[f.slice] = column_values

    n_builds = len(data.build_offer)
    build = np.zeros(n_builds) if build is None else np.round(np.asarray(build, float))
    # on_{o,τ} per offer item (1 for an ordinary offer)
    online = np.ones(data.n_offers)
    projects = np.flatnonzero(data.is_project)
    if len(projects):
        rows, cols, vals = online_terms(data, projects, np.arange(n_builds))
        on = np.zeros(len(projects))
        np.add.at(on, rows, -vals * build[cols])
        online[projects] = on
    contract = np.where(online > 0.5, np.asarray(contract, dtype=float), 0.0)
    firm = np.clip(np.asarray(firm, dtype=float), 0.0, None)
    # a tiny order without a contract would break its link row: no order without one
    firm = np.where(contract > 0.5, firm, 0.0)
    reserve = np.clip(np.asarray(reserve, dtype=float), 0.0, None)
    reserve = np.where(contract[layout.maps["reserve"]] > 0.5, reserve, 0.0)
    stock = np.clip(np.asarray(stock, dtype=float), 0.0, None)
    put("contract", contract)
    put("firm_order", firm)
    put("reserve", reserve)
    put("stock_held", stock)
    put("build", build)
    held = np.zeros(n_items)
    held[layout.maps["stock_held"]] = stock
    added = layout.maps.get("stock_added", np.zeros(0, np.int64))
    if len(added):  # g_{m,t} = (h_{m,t} − h_{m,t−1})⁺ with h_{m,−1} = H_m
        before = np.where(added >= n_m, held[np.maximum(added - n_m, 0)],
                          data.initial_stock[added % n_m])
        put("stock_added", np.maximum(held[added] - before, 0.0))
    total = np.bincount(data.offer_material, weights=firm, minlength=n_items)
    put("firm_total", total)

    # lost firm supply ℓ per (scenario item, material): key k · M + m
    lost = np.zeros(n_k * n_m)
    keys = data.hit_scenario * n_m + data.offer_material[data.hit_offer] % n_m
    np.add.at(lost, keys, (1.0 - data.hit_availability) * firm[data.hit_offer])
    put("lost", lost[layout.maps["lost"]])

    # need left after what is delivered, then stock drawn where a draw column exists
    item = data.pair_item(np.arange(n_k * n_m))
    need = np.maximum(0.0, data.demand[item] - (total[item] - lost))
    draw_keys = layout.maps["stock_drawn"]
    drawn = np.minimum.reduce([held[data.pair_item(draw_keys)], lost[draw_keys],
                               need[draw_keys]])
    drawn = np.maximum(drawn, 0.0)
    need[draw_keys] -= drawn
    put("stock_drawn", drawn)
    # what backup and spot may still replace: lost supply not drawn from stock (§3)
    replaceable = lost.copy()
    replaceable[draw_keys] -= drawn
    cover = np.minimum(need, np.maximum(replaceable, 0.0))

    # backup, then spot, as one list: cheapest first while it beats the shortage penalty
    k, j = layout.maps["backup"]
    reserve_offer = layout.maps["reserve"][j]
    spot_k, spot_offer = layout.maps["spot"]
    price = np.concatenate([data.landed_cost[reserve_offer],
                            spot_price(data, spot_k, spot_offer)])
    group = np.concatenate([k * n_m + data.offer_material[reserve_offer] % n_m,
                            spot_k * n_m + data.offer_material[spot_offer] % n_m])
    available = np.concatenate([
        layout.maps["backup_availability"] * reserve[j],
        layout.maps["spot_availability"] * data.spot_capacity[spot_offer]
        * online[spot_offer]])
    available = np.where(price < data.penalty[item[group]], available, 0.0)
    taken = np.zeros(len(group))
    if len(group):
        order = np.lexsort((price, group))  # stable: a backup before a spot at a tie
        g, cap = group[order], available[order]
        cumulative = np.cumsum(cap)
        first = np.ones(len(g), dtype=bool)
        first[1:] = g[1:] != g[:-1]
        group_start = np.maximum.accumulate(np.where(first, np.arange(len(g)), 0))
        before = cumulative - cap - (cumulative[group_start] - cap[group_start])
        taken[order] = np.clip(cover[g] - before, 0.0, cap)
        np.subtract.at(need, group, taken)
    put("backup", taken[:len(k)])
    put("spot", taken[len(k):])
    shortage = np.maximum(need, 0.0)
    put("shortage", shortage)

    # recourse cost per scenario item, then the CVaR columns, period by period
    cost = np.bincount(np.arange(n_k * n_m) // n_m, weights=shortage * data.penalty[item],
                       minlength=n_k)
    scenario_of = np.concatenate([k, spot_k])
    np.add.at(cost, scenario_of, price * taken)
    if "var_level" in form.column_families:
        alpha = data.instance.settings.cvar_alpha
        periods = layout.maps["var_level"]
        eta = np.array([value_at_risk(cost[data.scenario_period == t],
                                      data.probability[data.scenario_period == t], alpha)
                        for t in periods.tolist()])
        put("var_level", eta)
        put("tail_excess",
            np.maximum(0.0, cost - eta[np.searchsorted(periods, data.scenario_period)]))

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
