"""Test oracle: resilience/verify.py's logic as plain Python loops, one period, one
scenario and one offer at a time, exactly as SPEC §3 and §7 read. It started as a verbatim
copy of verify.py as of commit 367df42, before verification was vectorised with numpy;
changes of meaning since went into both files the same way:
- SPEC v2 §3: stock and backup only replace supply lost in the scenario (they cover at
  most min(need, lost); the rest of the need is short, also in `baseline`);
- SPEC v2 §7: periods, projects, stock over time, spot purchases, the owner stage,
  policies from a period on, exclusions per period.
tests/test_verify_equivalence.py holds the fast `resilience.verify.verify` to this. Do not
"improve" this file: its value is that it is the slow, obvious version.

Independent verification: everything recomputed from the plan alone.

This module shares no code with the model. It reads the instance and the plan
(quantities, reserves, stock levels, projects built), checks every limit of SPEC §3 and
§7 and every active policy (with the exact HHI, not the model's chords), and recomputes
each (period, scenario)'s least recourse cost in closed form: per material, of the
shortfall only what was lost may be replaced, from stock first (it is free to draw), then
from the cheapest surviving backup or spot purchase that costs less than a shortage; the
rest is shortage. From those it rebuilds the first-stage cost, the expected recourse, the
CVaR and the objective, per period and over the horizon.

If the solver's objective disagrees with this recomputation beyond tolerance, or the plan
breaks a limit, the solve fails loudly: a wrong number is worse than no number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    period: str = SINGLE_PERIOD
    price_surge: float = 0.0
    spot_bought: dict[str, float] = field(default_factory=dict)


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
    period: str = SINGLE_PERIOD


@dataclass(frozen=True)
class PeriodCheck:
    period: str
    weight: float
    demand: dict[str, float]
    procurement_cost: float
    tariff_cost: float
    fixed_cost: float
    reserve_cost: float
    capex_cost: float
    stock_cost: float
    stock_purchase_cost: float
    first_stage_cost: float
    expected_recourse_cost: float
    cvar: float
    objective: float
    stock_level: dict[str, float]
    stock_added: dict[str, float]
    scenarios: tuple[PeriodScenarioCheck, ...]
    shares: dict[str, dict[str, dict[str, float]]]
    hhi: dict[str, dict[str, float]]
    expected_shortage: dict[str, float]


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
    periods: tuple[PeriodCheck, ...] = ()
    capex_cost: float = 0.0
    stock_purchase_cost: float = 0.0
    stock_levels: dict[str, dict[str, float]] = field(default_factory=dict)
    shares_by_period: dict[str, dict[str, dict[str, dict[str, float]]]] = field(
        default_factory=dict)
    hhi_by_period: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def verify(instance: Instance, plan: tuple[PlanLine, ...], stockpile: dict[str, float],
           solver_objective: float | None = None, solver_bound: float | None = None,
           planning_rules: bool = True, *, investments: tuple[Investment, ...] = (),
           stock_levels: dict[str, dict[str, float]] | None = None) -> Verification:
    """`planning_rules=False` evaluates a plan fixed in advance (evaluate): physical limits
    (capacity, reserve, stock cap) still hold, the rules a planner chose (min orders, the
    demand cap) are not held against it."""
    problems: list[str] = []
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    materials = {m.id: m for m in instance.materials}
    countries = {c.id: c for c in instance.countries}
    periods = instance.period_ids()
    index = {t: i for i, t in enumerate(periods)}
    weights = instance.period_weights()
    demand = instance.demand_table()
    multi = instance.multi_period

    def tol(scale: float) -> float:
        return REL_TOL * max(1.0, abs(scale))

    def at(t: str) -> str:
        return f" in {t}" if multi else ""

    # ---- projects built ---------------------------------------------------------------
    built: dict[tuple, int] = {}  # offer key → the first build's t
    builds: list[tuple] = []  # (offer, t)
    for inv in investments:
        key = (inv.supplier, inv.material, inv.country, inv.processing_country)
        offer = offers.get(key)
        if offer is None or not offer.is_project:
            problems.append(f"investment {inv.supplier}/{inv.material} matches no project")
            continue
        if inv.period not in index:
            problems.append(f"{_name(offer)}: built in {inv.period!r}, not a period")
            continue
        b = index[inv.period]
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

    def online_in(offer, t: int) -> bool:
        if not offer.is_project:
            return True
        key = (offer.supplier, offer.material, offer.country, offer.processing_country)
        return key in built and built[key] + offer.lead_time <= t

    # ---- plan lines -------------------------------------------------------------------
    bought: list[tuple] = []  # (offer, x, r, contracted, t)
    for line in plan:
        offer = offers.get((line.supplier, line.material, line.country,
                            line.processing_country))
        if offer is None:
            problems.append(f"plan line {line.supplier}/{line.material} matches no offer")
            continue
        if line.period not in index:
            problems.append(f"plan line {line.supplier}/{line.material} is for "
                            f"{line.period!r}, not a period")
            continue
        t = index[line.period]
        x, r = line.quantity, line.reserve
        d = demand[(offer.material, line.period)]
        here = f"{_name(offer)}{at(line.period)}"
        if x < -tol(d) or r < -tol(d):
            problems.append(f"{here}: negative quantity or reserve")
        if (x > tol(d) or r > tol(d)) and not line.contracted:
            problems.append(f"{here}: orders or reserve without a contract")
        if x + r > offer.capacity + tol(offer.capacity):
            problems.append(f"{here}: firm {x:g} + reserve {r:g} exceeds capacity "
                            f"{offer.capacity:g}")
        if planning_rules and line.contracted and x < offer.min_order - tol(offer.min_order):
            problems.append(f"{here}: contracted but {x:g} is below the minimum "
                            f"order {offer.min_order:g}")
        if r > tol(d) and offer.reserve_cost is None:
            problems.append(f"{here}: reserve on an offer without a reserve price")
        if x > tol(d) or r > tol(d) or line.contracted:
            first, last = instance.offer_window(offer)
            if not first <= t <= last:
                problems.append(f"{here}: used outside its window {periods[first]} to "
                                f"{periods[last]}")
            elif not online_in(offer, t):
                problems.append(f"{here}: used before the project is online")
        bought.append((offer, x, r, line.contracted, t))

    for t, tid in enumerate(periods):
        for m in instance.materials:
            total = sum(x for o, x, _, _, s in bought if o.material == m.id and s == t)
            d = demand[(m.id, tid)]
            if planning_rules and total > d + tol(d):
                if d == 0:
                    problems.append(f"{m.id}{at(tid)}: firm orders {total:g} in a period "
                                    "without demand")
                else:
                    problems.append(f"{m.id}{at(tid)}: firm orders {total:g} exceed demand "
                                    f"{d:g}")

    # ---- stock ------------------------------------------------------------------------
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

    # ---- shares, HHI and policies, per period -----------------------------------------
    owner_shown = any(o.owner_country is not None for o in instance.offers)
    shown = ("origin", "processing", "owner") if owner_shown else ("origin", "processing")
    all_shares: list[dict] = []  # t → material → stage (all three) → country → σ
    for t, tid in enumerate(periods):
        by_material: dict[str, dict[str, dict[str, float]]] = {}
        for m in instance.materials:
            d = demand[(m.id, tid)]
            if d == 0:
                continue
            by_material[m.id] = {"origin": {}, "processing": {}, "owner": {}}
            for o, x, _, _, s in bought:
                if o.material != m.id or s != t or x <= 0:
                    continue
                for stage, country in (("origin", o.country),
                                       ("processing", o.processing_country),
                                       ("owner", o.owner)):
                    by_material[m.id][stage][country] = \
                        by_material[m.id][stage].get(country, 0.0) + x / d
        all_shares.append(by_material)
    all_hhi = [{mid: {stage: 10_000.0 * sum(s * s for s in by_country.values())
                      for stage, by_country in stages.items()}
                for mid, stages in by_material.items()}
               for by_material in all_shares]
    policy_checks = []
    for t, tid in enumerate(periods):
        policy_checks += _check_policies(instance, tid, [b for b in bought if b[4] == t],
                                         all_shares[t], all_hhi[t], countries, problems,
                                         at(tid))

    # ---- costs and scenarios, per period ----------------------------------------------
    lam = instance.settings.risk_aversion
    alpha = instance.settings.cvar_alpha
    period_checks = []
    previous = {m.id: m.initial_stock for m in instance.materials}
    for t, tid in enumerate(periods):
        lines = [b for b in bought if b[4] == t]
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

        excluding = [p for p in instance.active_policies(tid) if p.rule == "exclude"]
        spot_offers = [o for o in instance.offers
                       if o.spot_capacity > 0
                       and instance.offer_window(o)[0] <= t <= instance.offer_window(o)[1]
                       and online_in(o, t)
                       and not any(_excludes(p, o, countries) for p in excluding)]
        listed = instance.scenarios(tid) if multi else instance.scenarios()
        scenario_checks = []
        for scenario in listed:
            if scenario.probability <= 0:
                continue
            shortage, drawn, called, spot, cost = {}, {}, {}, {}, 0.0
            for m in instance.materials:
                delivered = lost = 0.0
                options = []
                for o, x, r, _, _ in lines:
                    if o.material != m.id:
                        continue
                    a = scenario.availability(o)
                    delivered += a * x
                    lost += (1 - a) * x
                    if r > 0 and a > 0:
                        options.append(((1 + o.tariff) * o.unit_cost, a * r, 0))
                for o in spot_offers:
                    if o.material != m.id:
                        continue
                    a = scenario.availability(o)
                    if a > 0:
                        options.append(((1 + o.tariff) * o.unit_cost
                                        * (1 + scenario.price_surge),
                                        a * o.spot_capacity, 1))
                need = max(0.0, demand[(m.id, tid)] - delivered)
                # SPEC v2 §3: stock, backup and spot only replace supply lost here
                cover = max(0.0, min(need, lost))
                w = min(level.get(m.id, 0.0), cover)
                cover -= w
                need -= w
                used = bought_spot = 0.0
                for price, available, kind in sorted(options):
                    if price >= m.shortage_penalty or cover <= 0:
                        break
                    take = min(available, cover)
                    if kind == 0:
                        used += take
                    else:
                        bought_spot += take
                    cover -= take
                    need -= take
                    cost += price * take
                cost += m.shortage_penalty * need
                shortage[m.id], drawn[m.id], called[m.id] = need, w, used
                spot[m.id] = bought_spot
            scenario_checks.append(PeriodScenarioCheck(
                scenario.name, scenario.probability, shortage, drawn, called, cost, tid,
                scenario.price_surge, spot))
        expected = sum(s.probability * s.recourse_cost for s in scenario_checks)
        cvar = _cvar([(s.probability, s.recourse_cost) for s in scenario_checks], alpha)
        expected_shortage = {m.id: sum(s.probability * s.shortage[m.id]
                                       for s in scenario_checks)
                             for m in instance.materials}
        shares_t = {mid: {stage: by_stage[stage] for stage in shown}
                    for mid, by_stage in all_shares[t].items()}
        hhi_t = {mid: {stage: by_stage[stage] for stage in shown}
                 for mid, by_stage in all_hhi[t].items()}
        period_checks.append(PeriodCheck(
            tid, weights[t], {m.id: demand[(m.id, tid)] for m in instance.materials},
            procurement, tariffs, fixed, reserve, capex, carrying, purchase, first_stage,
            expected, cvar, first_stage + (1 - lam) * expected + lam * cvar, level, added,
            tuple(scenario_checks), shares_t, hhi_t, expected_shortage))

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
    else:
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


def _name(offer) -> str:
    return f"Suppliers row {offer.row} ({offer.supplier}, {offer.material})"


def _cvar(outcomes: list[tuple[float, float]], alpha: float) -> float:
    """CVaR_α = min_η η + Σ π (R − η)⁺ / (1 − α); the minimum sits at one of the R_k."""
    if not outcomes:
        return 0.0
    return min(eta + sum(p * max(0.0, cost - eta) for p, cost in outcomes) / (1 - alpha)
               for _, eta in outcomes)


def _members(policy, countries) -> set[str]:
    if policy.target == "*":
        return set(countries)
    if policy.target in countries:
        return {policy.target}
    return {c.id for c in countries.values() if policy.target in c.groups}


def _excludes(policy, offer, countries) -> bool:
    if policy.material not in ("*", offer.material):
        return False
    stages = ("origin", "processing") if policy.stage == "both" else (policy.stage,)
    banned = _members(policy, countries)
    return any(offer.stage_country(stage) in banned for stage in stages)


def _check_policies(instance, period, bought, shares, hhi, countries, problems,
                    at) -> list[PolicyCheck]:
    """The rows that apply in `period`, against that period's lines and shares; a
    material without demand there (no shares) is skipped."""
    checks = []
    for policy in instance.active_policies(period):
        scope = [m for m in instance.materials
                 if policy.material in ("*", m.id) and m.id in shares]
        stages = ("origin", "processing") if policy.stage == "both" else (policy.stage,)
        if policy.rule == "exclude":
            used = {}  # material → firm + reserve from excluded sources, first seen first
            for o, x, r, _, _ in bought:
                if _excludes(policy, o, countries) and (x > 1e-9 or r > 1e-9):
                    problems.append(f"Policies row {policy.row} ({policy.name}): "
                                    f"{_name(o)}{at} is excluded but used")
                    used[o.material] = used.get(o.material, 0.0) + x + r
            for material, amount in used.items():
                checks.append(PolicyCheck(policy.row, policy.name, policy.rule, material,
                                          policy.target, policy.stage, 0.0, amount, False,
                                          period))
            continue
        for m in scope:
            for stage in stages:
                by_country = shares[m.id][stage]
                if policy.rule == "max_hhi":
                    units = [("", hhi[m.id][stage])]
                elif policy.rule == "max_country_share":
                    units = [(c, by_country.get(c, 0.0))
                             for c in sorted(_members(policy, countries))]
                else:
                    units = [(policy.target, sum(by_country.get(c, 0.0)
                                                 for c in _members(policy, countries)))]
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
