"""Test oracle: a verbatim copy of resilience/verify.py's logic as of commit 367df42,
before verification was vectorised with numpy. Plain Python loops, one scenario and one
offer at a time, exactly as SPEC §3 reads. tests/test_verify_equivalence.py holds the fast
`resilience.verify.verify` to this. Do not "improve" this file: its value is that it is
the slow, obvious version. Changes of meaning go into both files the same way: SPEC v2 §3
(stock and backup only replace supply lost in the scenario: they cover at most
min(need, lost)).

The original module docstring follows.

Independent verification: everything recomputed from the plan alone.

This module shares no code with the model. It reads the instance and the plan
(quantities, reserves, stock), checks every limit of SPEC §3 and every active policy
(with the exact HHI, not the model's chords), and recomputes each scenario's least
recourse cost in closed form: per material, draw stock first (it is free to draw), then
the cheapest surviving backup that costs less than a shortage, then shortage. From those
it rebuilds the first-stage cost, the expected recourse, the CVaR and the objective.

If the solver's objective disagrees with this recomputation beyond tolerance, or the plan
breaks a limit, the solve fails loudly: a wrong number is worse than no number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resilience.domain import Instance, PlanLine

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


def verify(instance: Instance, plan: tuple[PlanLine, ...], stockpile: dict[str, float],
           solver_objective: float | None = None, solver_bound: float | None = None,
           planning_rules: bool = True) -> Verification:
    """`planning_rules=False` evaluates a plan fixed in advance (evaluate): physical limits
    (capacity, reserve, stock cap) still hold, the rules a planner chose (min orders, the
    demand cap) are not held against it."""
    problems: list[str] = []
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    materials = {m.id: m for m in instance.materials}
    countries = {c.id: c for c in instance.countries}

    def tol(scale: float) -> float:
        return REL_TOL * max(1.0, abs(scale))

    bought: list[tuple] = []  # (offer, x, r)
    for line in plan:
        offer = offers.get((line.supplier, line.material, line.country,
                            line.processing_country))
        if offer is None:
            problems.append(f"plan line {line.supplier}/{line.material} matches no offer")
            continue
        x, r = line.quantity, line.reserve
        demand = materials[offer.material].demand
        if x < -tol(demand) or r < -tol(demand):
            problems.append(f"{_name(offer)}: negative quantity or reserve")
        if (x > tol(demand) or r > tol(demand)) and not line.contracted:
            problems.append(f"{_name(offer)}: orders or reserve without a contract")
        if x + r > offer.capacity + tol(offer.capacity):
            problems.append(f"{_name(offer)}: firm {x:g} + reserve {r:g} exceeds capacity "
                            f"{offer.capacity:g}")
        if planning_rules and line.contracted and x < offer.min_order - tol(offer.min_order):
            problems.append(f"{_name(offer)}: contracted but {x:g} is below the minimum "
                            f"order {offer.min_order:g}")
        if r > tol(demand) and offer.reserve_cost is None:
            problems.append(f"{_name(offer)}: reserve on an offer without a reserve price")
        bought.append((offer, x, r, line.contracted))

    for m in instance.materials:
        total = sum(x for o, x, _, _ in bought if o.material == m.id)
        if planning_rules and total > m.demand + tol(m.demand):
            problems.append(f"{m.id}: firm orders {total:g} exceed demand {m.demand:g}")
    for mid, held in stockpile.items():
        m = materials[mid]
        if held > tol(m.demand) and m.stockpile_cost is None:
            problems.append(f"{mid}: stock held without a stockpile cost")
        if m.max_stockpile is not None and held > m.max_stockpile + tol(m.max_stockpile):
            problems.append(f"{mid}: stock {held:g} exceeds max_stockpile {m.max_stockpile:g}")

    # ---- costs ------------------------------------------------------------------------
    procurement = sum((1 + o.tariff) * o.unit_cost * x for o, x, _, _ in bought)
    tariffs = sum(o.tariff * o.unit_cost * x for o, x, _, _ in bought)
    fixed = sum(o.fixed_cost for o, _, _, contracted in bought if contracted)
    reserve = sum((o.reserve_cost or 0.0) * r for o, _, r, _ in bought)
    stock = sum((materials[mid].stockpile_cost or 0.0) * h for mid, h in stockpile.items())
    first_stage = procurement + fixed + reserve + stock

    # ---- shares and policies ------------------------------------------------------------
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for m in instance.materials:
        shares[m.id] = {"origin": {}, "processing": {}}
        for o, x, _, _ in bought:
            if o.material != m.id or x <= 0:
                continue
            for stage, country in (("origin", o.country), ("processing", o.processing_country)):
                shares[m.id][stage][country] = shares[m.id][stage].get(country, 0.0) \
                    + x / m.demand
    hhi = {mid: {stage: 10_000.0 * sum(s * s for s in by_country.values())
                 for stage, by_country in stages.items()}
           for mid, stages in shares.items()}
    policy_checks = _check_policies(instance, bought, shares, hhi, countries, problems)

    # ---- scenarios ----------------------------------------------------------------------
    by_material: dict[str, list[tuple]] = {}
    for item in bought:
        by_material.setdefault(item[0].material, []).append(item)
    scenario_checks = []
    for scenario in instance.scenarios():
        if scenario.probability <= 0:
            continue
        shortage, drawn, called, cost = {}, {}, {}, 0.0
        for m in instance.materials:
            delivered = lost = 0.0
            backups = []
            for o, x, r, _ in by_material.get(m.id, ()):
                a = scenario.availability(o)
                delivered += a * x
                lost += (1 - a) * x
                if r > 0 and a > 0:
                    backups.append(((1 + o.tariff) * o.unit_cost, a * r))
            need = max(0.0, m.demand - delivered)
            # SPEC v2 §3: stock and backup only replace supply lost in the scenario
            cover = max(0.0, min(need, lost))
            w = min(stockpile.get(m.id, 0.0), cover)
            cover -= w
            need -= w
            used = 0.0
            for price, available in sorted(backups):
                if price >= m.shortage_penalty or cover <= 0:
                    break
                take = min(available, cover)
                used += take
                cover -= take
                need -= take
                cost += price * take
            cost += m.shortage_penalty * need
            shortage[m.id], drawn[m.id], called[m.id] = need, w, used
        scenario_checks.append(ScenarioCheck(scenario.name, scenario.probability, shortage,
                                             drawn, called, cost))
    expected = sum(s.probability * s.recourse_cost for s in scenario_checks)
    alpha = instance.settings.cvar_alpha
    cvar = _cvar([(s.probability, s.recourse_cost) for s in scenario_checks], alpha)
    lam = instance.settings.risk_aversion
    objective = first_stage + (1 - lam) * expected + lam * cvar
    expected_shortage = {m.id: sum(s.probability * s.shortage[m.id] for s in scenario_checks)
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
        ok=not problems, problems=tuple(problems), procurement_cost=procurement,
        tariff_cost=tariffs, fixed_cost=fixed, reserve_cost=reserve, stock_cost=stock,
        first_stage_cost=first_stage, expected_recourse_cost=expected, cvar=cvar,
        objective=objective, scenarios=tuple(scenario_checks), shares=shares, hhi=hhi,
        policies=tuple(policy_checks), expected_shortage=expected_shortage,
    )


def _name(offer) -> str:
    return f"Suppliers row {offer.row} ({offer.supplier}, {offer.material})"


def _cvar(outcomes: list[tuple[float, float]], alpha: float) -> float:
    """CVaR_α = min_η η + Σ π (R − η)⁺ / (1 − α); the minimum sits at one of the R_k."""
    if not outcomes:
        return 0.0
    return min(eta + sum(p * max(0.0, cost - eta) for p, cost in outcomes) / (1 - alpha)
               for _, eta in outcomes)


def _check_policies(instance, bought, shares, hhi, countries, problems) -> list[PolicyCheck]:
    checks = []
    members_of: dict[str, set[str]] = {}
    for c in countries.values():
        for tag in c.groups:
            members_of.setdefault(tag, set()).add(c.id)

    def members(policy) -> set[str]:
        if policy.target == "*":
            return set(countries)
        if policy.target in countries:
            return {policy.target}
        return members_of.get(policy.target, set())

    for policy in instance.active_policies():
        scope = [m for m in instance.materials if policy.material in ("*", m.id)]
        stages = ("origin", "processing") if policy.stage == "both" else (policy.stage,)
        if policy.rule == "exclude":
            banned = members(policy)
            for o, x, r, _ in bought:
                if policy.material not in ("*", o.material):
                    continue
                hit = (policy.stage in ("origin", "both") and o.country in banned) or (
                    policy.stage in ("processing", "both") and o.processing_country in banned)
                if hit and (x > 1e-9 or r > 1e-9):
                    problems.append(f"Policies row {policy.row} ({policy.name}): "
                                    f"{_name(o)} is excluded but used")
            continue
        for m in scope:
            for stage in stages:
                by_country = shares[m.id][stage]
                if policy.rule == "max_hhi":
                    units = [("", hhi[m.id][stage])]
                elif policy.rule == "max_country_share":
                    units = [(c, by_country.get(c, 0.0)) for c in sorted(members(policy))]
                else:
                    units = [(policy.target, sum(by_country.get(c, 0.0)
                                                 for c in members(policy)))]
                for label, achieved in units:
                    tolerance = 1e-6 * (10_000 if policy.rule == "max_hhi" else 1)
                    if policy.rule == "min_group_share":
                        ok = achieved >= policy.value - tolerance
                    else:
                        ok = achieved <= policy.value + tolerance
                    if not ok:
                        problems.append(
                            f"Policies row {policy.row} ({policy.name}): {m.id} {stage} "
                            f"{label or 'HHI'} is {achieved:.6g}, limit {policy.value:g}")
                    if policy.rule != "max_country_share" or achieved > 0 or not ok:
                        checks.append(PolicyCheck(policy.row, policy.name, policy.rule, m.id,
                                                  label, stage, policy.value, achieved, ok))
    return checks
