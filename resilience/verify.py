"""Independent verification: everything recomputed from the plan alone.

This module shares no code with the model. It reads the instance and the plan (orders and
reserves per period, stock levels per period, the projects built), checks every limit of
SPEC §3 and §7 and every policy in every period it applies in (with the exact HHI, not the
model's chords), and recomputes each (period, scenario)'s least recourse cost in closed
form: per material, of the shortfall only what was lost to the disruption may be replaced
(SPEC v2 §3): from stock first (it is free to draw), then from the cheapest surviving
backup or spot purchase that costs less than a shortage; the rest is shortage. From those
it rebuilds the first-stage cost, the expected recourse, the CVaR and the objective, per
period and over the horizon (Σ_t δ_t of each).

If the solver's objective disagrees with this recomputation beyond tolerance, or the plan
breaks a limit, the solve fails loudly: a wrong number is worse than no number.

It runs after every solve, inside the user's time limit, so the scenario part (scenarios ×
plan lines; 10 s as plain loops on the large benchmark) is computed with numpy, a block of
scenarios at a time, arranged to give the very floats the plain loops give (sums term by
term in the same order, Python's `min`/`max` semantics, a stable sort for the backups).
tests/verify_reference.py keeps the plain-loop version as the oracle the tests hold this
one to. numpy is the only thing added: still nothing from the model or the solver.

A workbook without a Periods sheet is one period (id ""): then every v1 field of
`Verification` has its v1 value and type, and the per-period figures are in `periods`
(one entry). Over a horizon the v1 cost fields are the weighted totals Σ_t δ_t (·),
`scenarios` lists every period's scenarios (each a `PeriodScenarioCheck` carrying its
period), `shares`/`hhi` are the last period's and `expected_shortage` is summed over the
periods (units, not weighted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resilience.domain import SINGLE_PERIOD, Instance, Investment, PlanLine

REL_TOL = 1e-6


@dataclass(frozen=True)
class ScenarioCheck:
    scenario: str
    probability: float
    shortage: dict[str, float]
    stock_drawn: dict[str, float]
    backup_called: dict[str, float]
    recourse_cost: float


@dataclass(frozen=True)
class PeriodScenarioCheck(ScenarioCheck):
    """One scenario in one period (SPEC §7): π_{k,t}, its surge, and spot bought."""

    period: str = SINGLE_PERIOD
    price_surge: float = 0.0
    spot_bought: dict[str, float] = field(default_factory=dict)  # material → units


@dataclass(frozen=True)
class PolicyCheck:
    policy_row: int  # Excel row on Policies
    name: str
    rule: str
    material: str
    target: str  # the country or group measured ("" for HHI)
    stage: str
    limit: float
    achieved: float  # share (fraction) or exact HHI
    satisfied: bool
    period: str = SINGLE_PERIOD  # the period the row was checked in


@dataclass(frozen=True)
class PeriodCheck:
    """Everything of one period t, before its weight δ_t (SPEC §7)."""

    period: str
    weight: float  # δ_t
    demand: dict[str, float]  # material → D_{m,t}
    procurement_cost: float  # Σ ĉ x_t
    tariff_cost: float  # of which tariffs
    fixed_cost: float  # Σ f y_t
    reserve_cost: float  # Σ ρ r_t
    capex_cost: float  # Σ capex b_t: the projects whose build starts in t
    stock_cost: float  # Σ k h_t (carrying)
    stock_purchase_cost: float  # Σ s g_t (filling)
    first_stage_cost: float  # F_t
    expected_recourse_cost: float  # Σ_k π_{k,t} R_{k,t}
    cvar: float  # CVaR_t
    objective: float  # F_t + (1 − λ) E_t + λ CVaR_t, before δ_t
    stock_level: dict[str, float]  # material → h_{m,t} (the materials the plan lists)
    stock_added: dict[str, float]  # material → g_{m,t} = max(0, h_{m,t} − h_{m,t−1})
    scenarios: tuple[PeriodScenarioCheck, ...]
    shares: dict[str, dict[str, dict[str, float]]]  # m → stage → country → σ (D_{m,t} > 0)
    hhi: dict[str, dict[str, float]]  # m → stage → exact HHI (D_{m,t} > 0)
    expected_shortage: dict[str, float]  # material → Σ_k π_{k,t} u_{m,k,t}


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    procurement_cost: float  # Σ ĉ x
    tariff_cost: float  # of which tariffs: Σ τ c x
    fixed_cost: float
    reserve_cost: float
    stock_cost: float
    first_stage_cost: float
    expected_recourse_cost: float
    cvar: float
    objective: float
    scenarios: tuple[ScenarioCheck, ...]
    shares: dict[str, dict[str, dict[str, float]]]  # material → stage → country → σ
    hhi: dict[str, dict[str, float]]  # material → stage → exact HHI
    policies: tuple[PolicyCheck, ...] = field(default=())
    expected_shortage: dict[str, float] = field(default_factory=dict)
    # SPEC §7 (also filled for one period)
    periods: tuple[PeriodCheck, ...] = ()  # one per period, in order
    capex_cost: float = 0.0  # Σ_t δ_t Σ capex b_t
    stock_purchase_cost: float = 0.0  # Σ_t δ_t Σ s g_t
    stock_levels: dict[str, dict[str, float]] = field(default_factory=dict)  # m → t → h
    # material → stage → period → country → σ, and material → stage → period → HHI;
    # a period where D_{m,t} = 0 is left out (shares are not defined there)
    shares_by_period: dict[str, dict[str, dict[str, dict[str, float]]]] = field(
        default_factory=dict)
    hhi_by_period: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def verify(instance: Instance, plan: tuple[PlanLine, ...], stockpile: dict[str, float],
           solver_objective: float | None = None, solver_bound: float | None = None,
           planning_rules: bool = True, *, investments: tuple[Investment, ...] = (),
           stock_levels: dict[str, dict[str, float]] | None = None) -> Verification:
    """Check and cost a plan: `plan` holds each period's lines (`PlanLine.period`),
    `investments` the projects built, `stock_levels` material → period → h_{m,t}. Without
    `stock_levels`, `stockpile` (material → h) is the level held in every period: for one
    period, exactly the v1 call.

    `planning_rules=False` evaluates a plan fixed in advance (evaluate): physical limits
    (capacity, reserve, stock cap, windows, projects online) still hold, the rules a
    planner chose (min orders, the demand cap) are not held against it."""
    problems: list[str] = []
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    materials = {m.id: m for m in instance.materials}
    countries = {c.id: c for c in instance.countries}
    periods = instance.period_ids()
    index = {t: i for i, t in enumerate(periods)}
    weights = instance.period_weights()
    demand = instance.demand_table()  # (material, period) → D_{m,t}
    multi = instance.multi_period

    def tol(scale: float) -> float:
        return REL_TOL * max(1.0, abs(scale))

    def at(t: str) -> str:
        return f" in {t}" if multi else ""

    built, builds = _check_projects(instance, investments, offers, periods, index, tol,
                                    problems)

    def online_in(offer, t: int) -> bool:
        if not offer.is_project:
            return True
        b = built.get((offer.supplier, offer.material, offer.country,
                       offer.processing_country))
        return b is not None and b + offer.lead_time <= t

    # ---- plan lines -------------------------------------------------------------------
    # the tolerance on each demand, computed once rather than per plan line
    demand_tol = {key: tol(d) for key, d in demand.items()}
    windows: dict[tuple, tuple[int, int]] = {}
    bought: list[tuple] = []  # (offer, x, r, contracted, t)
    for line in plan:
        key = (line.supplier, line.material, line.country, line.processing_country)
        offer = offers.get(key)
        if offer is None:
            problems.append(f"plan line {line.supplier}/{line.material} matches no offer")
            continue
        t = index.get(line.period)
        if t is None:
            problems.append(f"plan line {line.supplier}/{line.material} is for "
                            f"{line.period!r}, not a period")
            continue
        x, r = line.quantity, line.reserve
        small = demand_tol[(offer.material, line.period)]
        here = f"{_name(offer)}{at(line.period)}"
        if x < -small or r < -small:
            problems.append(f"{here}: negative quantity or reserve")
        if (x > small or r > small) and not line.contracted:
            problems.append(f"{here}: orders or reserve without a contract")
        if x + r > offer.capacity + tol(offer.capacity):
            problems.append(f"{here}: firm {x:g} + reserve {r:g} exceeds capacity "
                            f"{offer.capacity:g}")
        if planning_rules and line.contracted and x < offer.min_order - tol(offer.min_order):
            problems.append(f"{here}: contracted but {x:g} is below the minimum "
                            f"order {offer.min_order:g}")
        if r > small and offer.reserve_cost is None:
            problems.append(f"{here}: reserve on an offer without a reserve price")
        if x > small or r > small or line.contracted:
            window = windows.get(key)
            if window is None:
                window = windows[key] = instance.offer_window(offer)
            first, last = window
            if not first <= t <= last:
                problems.append(f"{here}: used outside its window {periods[first]} to "
                                f"{periods[last]}")
            elif not online_in(offer, t):
                problems.append(f"{here}: used before the project is online")
        bought.append((offer, x, r, line.contracted, t))
    # Each period's lines, and each material's lines in it, in plan order: every sum below
    # adds the same terms in the same order as a filter over the whole plan would, without
    # the periods x materials x lines scan.
    lines_in: list[list[tuple]] = [[] for _ in periods]
    by_material: list[dict[str, list[tuple]]] = [{} for _ in periods]
    for item in bought:
        lines_in[item[4]].append(item)
        by_material[item[4]].setdefault(item[0].material, []).append(item)

    for t, tid in enumerate(periods):
        for m in instance.materials:
            total = sum(x for _, x, _, _, _ in by_material[t].get(m.id, ()))
            d = demand[(m.id, tid)]
            if planning_rules and total > d + tol(d):
                if d == 0:
                    problems.append(f"{m.id}{at(tid)}: firm orders {total:g} in a period "
                                    "without demand")
                else:
                    problems.append(f"{m.id}{at(tid)}: firm orders {total:g} exceed demand "
                                    f"{d:g}")

    levels = _check_stock(stockpile, stock_levels, materials, periods, index, demand, tol,
                          at, problems)

    # ---- shares, HHI and policies, per period -----------------------------------------
    owner_shown = any(o.owner_country is not None for o in instance.offers)
    shown = ("origin", "processing", "owner") if owner_shown else ("origin", "processing")
    all_shares = [_shares(instance, by_material[t], demand, tid)
                  for t, tid in enumerate(periods)]
    all_hhi = [{mid: {stage: 10_000.0 * sum(s * s for s in by_country.values())
                      for stage, by_country in stages.items()}
                for mid, stages in by_material_shares.items()}
               for by_material_shares in all_shares]
    members = _Members(countries)
    policy_checks = []
    for t, tid in enumerate(periods):
        policy_checks += _check_policies(instance, tid, lines_in[t], by_material[t],
                                         all_shares[t], all_hhi[t], members, problems,
                                         at(tid))

    # ---- costs and scenarios, per period ----------------------------------------------
    lam = instance.settings.risk_aversion
    alpha = instance.settings.cvar_alpha
    period_checks = []
    previous = {m.id: m.initial_stock for m in instance.materials}
    for t, tid in enumerate(periods):
        lines = lines_in[t]
        procurement = sum((1 + o.tariff) * o.unit_cost * x for o, x, _, _, _ in lines)
        tariffs = sum(o.tariff * o.unit_cost * x for o, x, _, _, _ in lines)
        fixed = sum(o.fixed_cost for o, _, _, contracted, _ in lines if contracted)
        reserve = sum((o.reserve_cost or 0.0) * r for o, _, r, _, _ in lines)
        capex = sum(o.capex for o, b in builds if b == t)
        level = {mid: by_period.get(tid, 0.0) for mid, by_period in levels.items()}
        added = {mid: max(0.0, h - previous[mid]) for mid, h in level.items()}
        carrying = sum((materials[mid].stockpile_cost or 0.0) * h for mid, h in level.items())
        purchase = sum(materials[mid].stock_price * g for mid, g in added.items())
        first_stage = procurement + fixed + reserve + capex + carrying + purchase
        previous = {m.id: level.get(m.id, 0.0) for m in instance.materials}

        spot = _spot_offers(instance, t, tid, windows, online_in, members)
        listed = instance.scenarios(tid) if multi else instance.scenarios()
        scenario_checks, shortages = _scenario_checks(
            instance, [s for s in listed if s.probability > 0], by_material[t], level,
            {m.id: demand[(m.id, tid)] for m in instance.materials}, spot, tid)
        expected = sum(s.probability * s.recourse_cost for s in scenario_checks)
        cvar = _cvar([(s.probability, s.recourse_cost) for s in scenario_checks], alpha)
        shares_t = {mid: {stage: by_stage[stage] for stage in shown}
                    for mid, by_stage in all_shares[t].items()}
        hhi_t = {mid: {stage: by_stage[stage] for stage in shown}
                 for mid, by_stage in all_hhi[t].items()}
        period_checks.append(PeriodCheck(
            tid, weights[t], {m.id: demand[(m.id, tid)] for m in instance.materials},
            procurement, tariffs, fixed, reserve, capex, carrying, purchase, first_stage,
            expected, cvar, first_stage + (1 - lam) * expected + lam * cvar, level, added,
            tuple(scenario_checks), shares_t, hhi_t,
            _expected_shortage(instance, scenario_checks, shortages)))

    def horizon(name: str) -> float:
        return sum(p.weight * getattr(p, name) for p in period_checks)

    first_stage = horizon("first_stage_cost")
    expected = horizon("expected_recourse_cost")
    cvar = horizon("cvar")
    objective = first_stage + (1 - lam) * expected + lam * cvar
    expected_shortage = {m.id: sum(p.expected_shortage[m.id] for p in period_checks)
                         for m in instance.materials}
    if multi:
        scenarios = tuple(s for p in period_checks for s in p.scenarios)
    else:  # the v1 shape
        scenarios = tuple(ScenarioCheck(s.scenario, s.probability, s.shortage, s.stock_drawn,
                                        s.backup_called, s.recourse_cost)
                          for s in period_checks[0].scenarios)
    last = period_checks[-1]
    shares = {m.id: last.shares.get(m.id, {stage: {} for stage in shown})
              for m in instance.materials}
    hhi = {m.id: last.hhi.get(m.id, {stage: 0.0 for stage in shown})
           for m in instance.materials}
    shares_by_period = {m.id: {stage: {p.period: p.shares[m.id][stage]
                                       for p in period_checks if m.id in p.shares}
                               for stage in shown}
                        for m in instance.materials}
    hhi_by_period = {m.id: {stage: {p.period: p.hhi[m.id][stage]
                                    for p in period_checks if m.id in p.hhi}
                            for stage in shown}
                     for m in instance.materials}

    if solver_objective is not None:
        slack = 1e-6 * max(1.0, abs(solver_objective)) + 1e-6
        if objective > solver_objective + slack:
            problems.append(f"objective: the plan costs {objective:,.6f} when recomputed, "
                            f"more than the solver's {solver_objective:,.6f}")
        if solver_bound is not None and objective < solver_bound - slack:
            problems.append(f"objective: the plan costs {objective:,.6f} when recomputed, "
                            f"below the solver's proven bound {solver_bound:,.6f}")

    return Verification(
        ok=not problems, problems=tuple(problems),
        procurement_cost=horizon("procurement_cost"), tariff_cost=horizon("tariff_cost"),
        fixed_cost=horizon("fixed_cost"), reserve_cost=horizon("reserve_cost"),
        stock_cost=horizon("stock_cost"), first_stage_cost=first_stage,
        expected_recourse_cost=expected, cvar=cvar, objective=objective,
        scenarios=scenarios, shares=shares, hhi=hhi, policies=tuple(policy_checks),
        expected_shortage=expected_shortage, periods=tuple(period_checks),
        capex_cost=horizon("capex_cost"), stock_purchase_cost=horizon("stock_purchase_cost"),
        stock_levels={mid: {tid: by_period.get(tid, 0.0) for tid in periods}
                      for mid, by_period in levels.items()},
        shares_by_period=shares_by_period, hhi_by_period=hhi_by_period,
    )


def _check_projects(instance, investments, offers, periods, index, tol, problems
                    ) -> tuple[dict[tuple, int], list[tuple]]:
    """The projects built (SPEC §7): each matches a project offer, starts in a period of
    the horizon no earlier than its available_from, comes online (start + lead time)
    within its window, with the offer's capex and capacity, and is built at most once.
    Returns offer key → t of its (first) build, and every build as (offer, t) for capex."""
    built: dict[tuple, int] = {}
    builds: list[tuple] = []
    for inv in investments:
        key = (inv.supplier, inv.material, inv.country, inv.processing_country)
        offer = offers.get(key)
        if offer is None or not offer.is_project:
            problems.append(f"investment {inv.supplier}/{inv.material} matches no project")
            continue
        b = index.get(inv.period)
        if b is None:
            problems.append(f"{_name(offer)}: built in {inv.period!r}, not a period")
            continue
        first, last = instance.offer_window(offer)
        if b < first:
            problems.append(f"{_name(offer)}: built in {inv.period}, before its "
                            f"available_from {periods[first]}")
        online = b + offer.lead_time
        if online > last:
            problems.append(f"{_name(offer)}: built in {inv.period}, online only after "
                            f"its last period {periods[last]}")
        elif inv.online_from != periods[online]:
            problems.append(f"{_name(offer)}: online_from {inv.online_from}, but built in "
                            f"{inv.period} with lead time {offer.lead_time} it is "
                            f"{periods[online]}")
        if abs(inv.capex - offer.capex) > tol(offer.capex):
            problems.append(f"{_name(offer)}: capex {inv.capex:g}, the offer's is "
                            f"{offer.capex:g}")
        if abs(inv.capacity - offer.capacity) > tol(offer.capacity):
            problems.append(f"{_name(offer)}: capacity {inv.capacity:g}, the offer's is "
                            f"{offer.capacity:g}")
        if key in built:
            problems.append(f"{_name(offer)}: built more than once")
            built[key] = min(built[key], b)
        else:
            built[key] = b
        builds.append((offer, b))
    return built, builds


def _check_stock(stockpile, stock_levels, materials, periods, index, demand, tol, at,
                 problems) -> dict[str, dict[str, float]]:
    """h_{m,t} ≤ S_m, and stock only with a stockpile cost. Returns the levels, material →
    period → h, in the order given (the v1 `stockpile` is the level in every period),
    without unknown materials or periods."""
    if stock_levels is None:
        levels = {mid: {tid: held for tid in periods} for mid, held in stockpile.items()}
    else:
        levels = {mid: dict(by_period) for mid, by_period in stock_levels.items()}
    for mid, by_period in list(levels.items()):
        m = materials.get(mid)
        if m is None:
            problems.append(f"{mid}: stock of a material that does not exist")
            del levels[mid]
            continue
        for tid, held in list(by_period.items()):
            if tid not in index:
                problems.append(f"{mid}: stock in {tid!r}, not a period")
                del by_period[tid]
                continue
            d = demand[(mid, tid)]
            if held > tol(d) and m.stockpile_cost is None:
                problems.append(f"{mid}{at(tid)}: stock held without a stockpile cost")
            if m.max_stockpile is not None and held > m.max_stockpile + tol(m.max_stockpile):
                problems.append(f"{mid}{at(tid)}: stock {held:g} exceeds max_stockpile "
                                f"{m.max_stockpile:g}")
    return levels


def _shares(instance, by_material, demand, period) -> dict[str, dict[str, dict[str, float]]]:
    """σ_{m,c,t} = Σ x_{o,t} / D_{m,t} per stage (origin, processing, owner), for the
    materials with demand in the period."""
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for m in instance.materials:
        d = demand[(m.id, period)]
        if d == 0:
            continue
        origin, processing, owner = {}, {}, {}
        shares[m.id] = {"origin": origin, "processing": processing, "owner": owner}
        for o, x, _, _, _ in by_material.get(m.id, ()):
            if x <= 0:
                continue
            origin[o.country] = origin.get(o.country, 0.0) + x / d
            processing[o.processing_country] = processing.get(o.processing_country,
                                                              0.0) + x / d
            owner[o.owner] = owner.get(o.owner, 0.0) + x / d
    return shares


class _Members:
    """The countries a policy row's target names: every country for `*`, the one
    country, or the members of a group tag; once per row."""

    def __init__(self, countries):
        self.everyone = set(countries)
        self.countries = countries
        self.of_group: dict[str, set[str]] = {}
        for c in countries.values():
            for tag in c.groups:
                self.of_group.setdefault(tag, set()).add(c.id)
        self.cache: dict[int, set[str]] = {}

    def __call__(self, policy) -> set[str]:
        found = self.cache.get(id(policy))
        if found is None:
            if policy.target == "*":
                found = self.everyone
            elif policy.target in self.countries:
                found = {policy.target}
            else:
                found = self.of_group.get(policy.target, set())
            self.cache[id(policy)] = found
        return found


def _stages(policy) -> tuple[str, ...]:
    return ("origin", "processing") if policy.stage == "both" else (policy.stage,)


def _excludes(policy, offer, members) -> bool:
    if policy.material not in ("*", offer.material):
        return False
    banned = members(policy)
    return any(offer.stage_country(stage) in banned for stage in _stages(policy))


def _spot_offers(instance, t, period, windows, online_in, members) -> dict[str, list]:
    """Per material, in offer order, the offers that sell spot in period t: spot capacity,
    in their window, online (a project), not excluded by a row that applies in t."""
    excluding = [p for p in instance.active_policies(period) if p.rule == "exclude"]
    spot: dict[str, list] = {}
    for o in instance.offers:
        if not o.spot_capacity > 0:
            continue
        key = (o.supplier, o.material, o.country, o.processing_country)
        window = windows.get(key)
        if window is None:
            window = windows[key] = instance.offer_window(o)
        if not (window[0] <= t <= window[1] and online_in(o, t)):
            continue
        if any(_excludes(p, o, members) for p in excluding):
            continue
        spot.setdefault(o.material, []).append(o)
    return spot


def _name(offer) -> str:
    return f"Suppliers row {offer.row} ({offer.supplier}, {offer.material})"


def _cvar(outcomes: list[tuple[float, float]], alpha: float) -> float:
    """CVaR_α = min_η η + Σ π (R − η)⁺ / (1 − α); the minimum sits at one of the R_k.

    Every candidate η is tried, as the definition reads, but all of them at once: one pass
    over the outcomes adds π (R − η)⁺ to a vector of running sums, one per η, in outcome
    order, so each sum is the same left-to-right float sum as `sum()` over a generator
    (O(K) memory, K² work in numpy instead of K² Python steps: 0.25 M for 500 scenarios)."""
    if not outcomes:
        return 0.0
    etas = np.array([eta for _, eta in outcomes], dtype=float)
    totals = np.zeros(len(etas))
    with np.errstate(all="ignore"):
        for p, cost in outcomes:
            excess = cost - etas
            totals += p * np.where(excess > 0.0, excess, 0.0)  # max(0.0, excess)
        values = etas + totals / (1 - alpha)
    return min(values.tolist())


def _scenario_checks(instance, scenarios, by_material, held, demand, spot, period
                     ) -> tuple[list[PeriodScenarioCheck], np.ndarray]:
    """Each scenario's least recourse cost in one period, in closed form (SPEC §3, §7):
    per material, what arrives is Σ a x and what was lost Σ (1 − a) x. Recourse may cover
    only the part of the shortfall that was lost, min(need, lost) (v2: bought or drawn
    supply only replaces lost supply, so a gap left by orders not placed stays short even
    in `baseline`): stock first (free, up to what is held), then backups (at ĉ, up to a r)
    and spot purchases (at ĉ (1 + surge), up to a V) together in order of price (ties: the
    smaller amount first, then backup before spot) while cheaper than a shortage; the rest
    of the need is shortage at the penalty.

    This is the hot loop of verification (scenarios × plan lines: 5 M availabilities on
    the large benchmark, ~10 s as Python loops), so it runs in numpy on a block of
    scenarios at once, arrays laid out (plan line, scenario). It reproduces the plain
    loops' floats exactly: every sum is accumulated term by term in plan order (never
    numpy's pairwise `sum`), each `min`/`max` is a comparison with the same ties and NaN
    behaviour as Python's, and the options are ordered by a stable lexicographic sort on
    (price, amount, kind) like `sorted` on tuples. tests/test_verify_equivalence.py holds
    it to the plain-loop oracle.

    Also returns the shortages as an array (scenario, material) for the expectation."""
    if not scenarios:
        return [], np.zeros((0, len(instance.materials)))
    materials = instance.materials
    mids = [m.id for m in materials]
    lines_of = [by_material.get(m.id, ()) for m in materials]
    counts = [len(lines) for lines in lines_of]
    # Lines in "k-major" order: every material's first line (materials with the most lines
    # first), then every second line, and so on. The k-th lines of all materials are then
    # one slice, and each material's sum Σ_k t_k runs k = 0, 1, … for all materials at
    # once as `total[:width] += terms[slice]`: in plan order, no padding, no gather.
    ranked = sorted(range(len(materials)), key=lambda i: -counts[i])  # stable
    rank_of = [0] * len(materials)
    for r, i in enumerate(ranked):
        rank_of[i] = r
    depth = max(counts, default=0)
    widths = [sum(1 for c in counts if c > k) for k in range(depth)] if depth else []
    offsets = [0]
    for width in widths:
        offsets.append(offsets[-1] + width)
    items = [lines_of[i][k] for k in range(depth) for i in ranked[:widths[k]]]
    n = len(items)
    x = np.array([item[1] for item in items], dtype=float).reshape(n, 1)

    # Where each hit lands: the lines by origin (processing) country, and by country and
    # material.
    where_hit = tuple(_lines_at([country(item[0]) for item in items],
                                [item[0].material for item in items])
                      for country in (lambda o: o.country, lambda o: o.processing_country))

    # Backups: each material's lines with a reserve, in plan order, at their landed cost.
    backups = []
    for i in range(len(materials)):
        mine = [(offsets[k] + rank_of[i], line) for k, line in enumerate(lines_of[i])
                if line[2] > 0]
        backups.append((np.array([j for j, _ in mine], dtype=np.intp),
                        np.array([(1 + o.tariff) * o.unit_cost for _, (o, _, _, _, _) in mine],
                                 dtype=float).reshape(-1, 1),
                        np.array([r for _, (_, _, r, _, _) in mine],
                                 dtype=float).reshape(-1, 1)))
    # Spot: each material's offers that sell it in this period, in offer order; their
    # availability is computed as the lines' is, over a list of their own.
    sellers = [o for m in materials for o in spot.get(m.id, ())]
    where_sold = tuple(_lines_at([country(o) for o in sellers], [o.material for o in sellers])
                       for country in (lambda o: o.country, lambda o: o.processing_country))
    spots = []
    start = 0
    for m in materials:
        mine = spot.get(m.id, ())
        spots.append((np.arange(start, start + len(mine), dtype=np.intp),
                      np.array([(1 + o.tariff) * o.unit_cost for o in mine],
                               dtype=float).reshape(-1, 1),
                      np.array([o.spot_capacity for o in mine], dtype=float).reshape(-1, 1)))
        start += len(mine)

    checks = []
    shortages = []
    block = max(1, min(len(scenarios), _BLOCK_CELLS // max(1, n + len(sellers))))
    with np.errstate(all="ignore"):  # inf and NaN pass silently, as with Python floats
        for first in range(0, len(scenarios), block):
            part = scenarios[first:first + block]
            rows = len(part)
            a = _availability(part, n, where_hit)  # (line, scenario)
            a_spot = _availability(part, len(sellers), where_sold)  # (seller, scenario)
            surge = np.array([1 + s.price_surge for s in part], dtype=float).reshape(1, -1)
            arrives = a * x
            missing = (1 - a) * x
            delivered_by_rank = np.zeros((len(materials), rows))
            lost_by_rank = np.zeros((len(materials), rows))
            for width, start in zip(widths, offsets, strict=False):
                delivered_by_rank[:width] += arrives[start:start + width]
                lost_by_rank[:width] += missing[start:start + width]
            cost = np.zeros(rows)
            shortage = np.empty((len(materials), rows))
            drawn = np.empty((len(materials), rows))
            called = np.empty((len(materials), rows))
            bought = np.empty((len(materials), rows))
            for i, m in enumerate(materials):
                delivered, lost = delivered_by_rank[rank_of[i]], lost_by_rank[rank_of[i]]
                gap = demand[m.id] - delivered
                need = np.where(gap > 0.0, gap, 0.0)  # max(0.0, gap)
                # SPEC v2 §3: stock, backup and spot only replace supply lost here
                cover = np.where(lost < need, lost, need)  # min(need, lost)
                cover = np.where(cover > 0.0, cover, 0.0)  # max(0.0, ·)
                stock = np.full(rows, held.get(m.id, 0.0), dtype=float)
                w = np.where(cover < stock, cover, stock)  # min(held, cover)
                cover = cover - w
                need = need - w
                used = np.zeros(rows)
                from_spot = np.zeros(rows)
                options = _options(a, a_spot, surge, backups[i], spots[i], rows)
                if options is not None:
                    prices, available, unlisted, is_spot = options
                    order = np.lexsort((is_spot, available, prices, unlisted), axis=0)
                    prices = np.take_along_axis(prices, order, axis=0)
                    available = np.take_along_axis(available, order, axis=0)
                    unlisted = np.take_along_axis(unlisted, order, axis=0)
                    is_spot = np.take_along_axis(is_spot, order, axis=0)
                    # `break` at an unlisted one, at the first as dear as a shortage, or
                    # once what may be covered is
                    open_ = ~(unlisted | (prices >= m.shortage_penalty))
                    going = np.ones(rows, dtype=bool)
                    for b in range(len(prices)):
                        going &= open_[b]
                        going &= ~(cover <= 0)
                        if not going.any():
                            break
                        take = np.where(cover < available[b], cover, available[b])
                        np.add(used, take, out=used, where=going & ~is_spot[b])
                        np.add(from_spot, take, out=from_spot, where=going & is_spot[b])
                        np.subtract(cover, take, out=cover, where=going)
                        np.subtract(need, take, out=need, where=going)
                        np.add(cost, prices[b] * take, out=cost, where=going)
                cost = cost + m.shortage_penalty * need
                shortage[i], drawn[i], called[i], bought[i] = need, w, used, from_spot
            shortages.append(shortage.T)
            for s, cost_s, short_s, drawn_s, called_s, bought_s in zip(
                    part, cost.tolist(), shortage.T.tolist(), drawn.T.tolist(),
                    called.T.tolist(), bought.T.tolist(), strict=True):
                checks.append(PeriodScenarioCheck(
                    s.name, s.probability, dict(zip(mids, short_s, strict=True)),
                    dict(zip(mids, drawn_s, strict=True)),
                    dict(zip(mids, called_s, strict=True)), cost_s, period, s.price_surge,
                    dict(zip(mids, bought_s, strict=True))))
    return checks, np.concatenate(shortages)


def _options(a, a_spot, surge, backups, spots, rows):
    """One material's recourse options in one block of scenarios, unsorted: its backups
    (plan order) then its spot sellers (offer order), as (price, amount, unlisted, is_spot)
    arrays laid out (option, scenario); None when it has none. An option whose supply is
    cut entirely (a ≤ 0) is unlisted: it sorts last and stops the walk."""
    js, price, reserve = backups
    ss, landed, capacity = spots
    parts = []
    if len(js):
        share = a[js]
        parts.append((np.broadcast_to(price, share.shape), share * reserve, ~(share > 0),
                      np.zeros(share.shape, dtype=bool)))
    if len(ss):
        share = a_spot[ss]
        parts.append((landed * surge, share * capacity, ~(share > 0),
                      np.ones(share.shape, dtype=bool)))
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(arrays) for arrays in zip(*parts, strict=True))


def _expected_shortage(instance, checks, shortages) -> dict[str, float]:
    """Σ_k π_k shortage_{m,k} per material: the scenarios added in order for all materials
    at once (the same left-to-right sums as per material, K steps rather than K × M)."""
    if not checks:
        return {m.id: sum(()) for m in instance.materials}
    total = np.zeros(shortages.shape[1])
    for check, row in zip(checks, shortages, strict=True):
        total += check.probability * row
    column = {m.id: i for i, m in enumerate(instance.materials)}  # a repeated id: the last
    values = total.tolist()
    return {m.id: values[column[m.id]] for m in instance.materials}


# Plan lines × scenarios per block of the availability matrix: about 16 MB of floats.
_BLOCK_CELLS = 2_000_000


def _lines_at(countries: list[str], materials: list[str]) -> tuple[dict, dict]:
    """The positions of the lines in each country, and in each (country, material)."""
    if not countries:
        return {}, {}
    code: dict[str, int] = {}
    country_code = np.array([code.setdefault(c, len(code)) for c in countries],
                            dtype=np.intp)
    names = list(code)
    kind: dict[str, int] = {}
    material_code = np.array([kind.setdefault(m, len(kind)) for m in materials],
                             dtype=np.intp)
    kinds = list(kind)
    by_country = {names[c]: lines for c, lines in _groups(country_code)}
    by_pair = {(names[c // len(kinds)], kinds[c % len(kinds)]): lines
               for c, lines in _groups(country_code * len(kinds) + material_code)}
    return by_country, by_pair


def _groups(codes: np.ndarray):
    """(code, the positions where it occurs, ascending) for each distinct code."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    cuts = (np.flatnonzero(np.diff(ordered)) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, len(codes)]
    return zip(ordered[starts].tolist(), (order[a:b] for a, b in zip(starts, ends, strict=True)),
               strict=True)


def _availability(scenarios, n, where_hit) -> np.ndarray:
    """a[j, k] = min(f_{c(o)}, f_{q(o)}) for plan line j in scenario k, each factor the
    smallest hit listed for the (country, material) pair, 1 where none is: exactly
    `Scenario.availability`, whose `min` over the listed factors (in hit order) is taken
    here too, once per country and material a scenario names, and written to the lines
    there. Only those lines are visited (a scenario hits a few countries); every other
    line keeps 1."""
    a = np.ones((n, len(scenarios)))
    factor = (np.ones(n), np.ones(n))  # origin, processing: back to 1 after each scenario
    for k, scenario in enumerate(scenarios):
        hits_at: dict[str, list] = {}
        for hit in scenario.hits:
            hits_at.setdefault(hit.country, []).append(hit)
        touched = []
        for f, (by_country, by_pair) in zip(factor, where_hit, strict=True):
            for country, hits in hits_at.items():
                if any(h.material == "*" for h in hits):
                    js = by_country.get(country)
                    if js is not None:  # every line there; named materials follow
                        f[js] = min(h.capacity_factor for h in hits if h.material == "*")
                        touched.append(js)
                for material in dict.fromkeys(h.material for h in hits if h.material != "*"):
                    js = by_pair.get((country, material))
                    if js is not None:
                        f[js] = min(h.capacity_factor for h in hits
                                    if h.material in ("*", material))
                        touched.append(js)
        if touched:
            js = np.concatenate(touched)
            origin, processing = factor[0][js], factor[1][js]
            a[js, k] = np.where(processing < origin, processing, origin)  # min(o, p)
            factor[0][js] = 1.0
            factor[1][js] = 1.0
    return a




def _check_policies(instance, period, lines, by_material, shares, hhi, members, problems,
                    at) -> list[PolicyCheck]:
    """The rows that apply in `period` (from_period on), against that period's lines and
    shares of D_{m,t}; a material without demand there has no shares and is skipped."""
    checks = []
    for policy in instance.active_policies(period):
        stages = _stages(policy)
        targets = members(policy)  # once per row, not per material and stage
        if policy.rule == "exclude":
            scope = lines if policy.material == "*" else by_material.get(policy.material, ())
            used: dict[str, float] = {}  # material → x + r contracted from excluded sources
            for o, x, r, _, _ in scope:
                if (x > 1e-9 or r > 1e-9) and any(o.stage_country(stage) in targets
                                                  for stage in stages):
                    problems.append(f"Policies row {policy.row} ({policy.name}): "
                                    f"{_name(o)}{at} is excluded but used")
                    used[o.material] = used.get(o.material, 0.0) + x + r
            # only a broken exclusion is listed, once per material at the row's stage: its
            # "achieved" is the quantity (firm and reserve) contracted from the excluded
            # sources, against a limit of 0
            checks.extend(PolicyCheck(policy.row, policy.name, policy.rule, material,
                                      policy.target, policy.stage, 0.0, amount, False, period)
                          for material, amount in used.items())
            continue
        ordered = sorted(targets)
        for m in instance.materials:
            if policy.material not in ("*", m.id) or m.id not in shares:
                continue
            for stage in stages:
                by_country = shares[m.id][stage]
                if policy.rule == "max_hhi":
                    units = [("", hhi[m.id][stage])]
                elif policy.rule == "max_country_share":
                    units = [(c, by_country.get(c, 0.0)) for c in ordered]
                else:
                    units = [(policy.target, sum(by_country.get(c, 0.0)
                                                 for c in targets))]
                for label, achieved in units:
                    tolerance = 1e-6 * (10_000 if policy.rule == "max_hhi" else 1)
                    if policy.rule == "min_group_share":
                        ok = achieved >= policy.value - tolerance
                    else:
                        ok = achieved <= policy.value + tolerance
                    if not ok:
                        problems.append(
                            f"Policies row {policy.row} ({policy.name}): {m.id}{at} {stage} "
                            f"{label or 'HHI'} is {achieved:.6g}, limit {policy.value:g}")
                    if policy.rule != "max_country_share" or achieved > 0 or not ok:
                        checks.append(PolicyCheck(policy.row, policy.name, policy.rule, m.id,
                                                  label, stage, policy.value, achieved, ok,
                                                  period))
    return checks
