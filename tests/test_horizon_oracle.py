"""An independent oracle for SPEC §7 (the planning horizon, projects, spot, ownership,
with §3 as changed in v2), and metamorphic tests of the horizon.

(e7) the product's optimum (its standard form, solved by HiGHS, and the same form
     through Pyomo by CBC) equals that of SPEC §7 transcribed literally into a dense
     Pyomo model — written from the SPEC text, sharing nothing with the package's
     formulation or solver code, and reading the instance through its plain fields
     (scenarios, weights, windows and from_period are re-derived here from the rows) —
     solved by CBC at a near-zero gap. Both infeasible also agrees.
Metamorphic, through the product only:
(a) a one-row Periods sheet gives the optimum of no Periods sheet;
(b) without projects, stock purchases or lead times, splitting every period into two
    identical periods of half the weight leaves the optimum unchanged (each period is
    then its own problem, and every cost is linear in δ_t);
(c) moving a policy's from_period earlier never lowers the optimum;
(d) adding a project never raises the optimum (b = 0 keeps every old plan).
"""

from __future__ import annotations

import dataclasses
import math

import pyomo.environ as pyo
import pytest
from horizon_instances import PERIOD_IDS, Knobs, horizon_instances, offer_rows, policy_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyomo.opt import TerminationCondition
from solvers import cbc_available

from resilience.domain import (
    Country,
    DemandRow,
    Instance,
    Material,
    Offer,
    Period,
    Policy,
    Scenario,
    ScenarioHit,
    Status,
)
from resilience.formulation.build import build_model
from resilience.solver import Budget, SolverOptions, open_session

ORACLE = settings(max_examples=60, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
METAMORPHIC = settings(max_examples=20, deadline=None,
                       suppress_health_check=[HealthCheck.too_slow])
NEEDS_CBC = pytest.mark.skipif(not cbc_available(), reason=(
    "CBC is not installed (no `cbc` on PATH: Debian package coinor-cbc); the §7 oracle "
    "needs a solver other than HiGHS"))
# Optimal to (near) zero gap: the comparison is at MIP tolerances, not at a gap.
CBC_OPTIONS = {"ratioGap": 1e-9, "allowableGap": 1e-9, "seconds": 60}
BREAKPOINTS = tuple(j / 20 for j in range(21))  # b_j = 0, 0.05, …, 1
BOTH = ("origin", "processing")


def agree(a: float | None, b: float | None) -> bool:
    """Two optima agree to 1e-6 relative (two MIP solvers, each within its own
    tolerances); None (infeasible) agrees only with None."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-5)


# ---- the product ----------------------------------------------------------------------


def product_optimum(instance: Instance, solver: str = "highs") -> float | None:
    """The product's optimum: its model, solved at a zero gap; None if infeasible."""
    built = build_model(instance)
    options = SolverOptions(time_limit=30, mip_gap=0.0)
    out = open_session(built.form, options, solver).solve(Budget(30))
    if out.status == Status.INFEASIBLE:
        return None
    assert out.status == Status.OPTIMAL, (solver, out.status, out.message)
    return out.objective


# ---- the instance as SPEC §7 reads it (re-derived from the rows) ----------------------


@dataclasses.dataclass(frozen=True)
class PeriodScenario:
    """Scenario k as present in period t: π_{k,t}, surge_k and its hits there."""

    name: str
    probability: float
    surge: float
    hits: tuple  # ScenarioHit rows that apply in t

    def availability(self, offer: Offer) -> float:
        """a_{o,k,t} = min(f_{c(o)}, f_{q(o)}); f the smallest factor listed for the
        country and material, 1 where none is."""
        def factor(country: str) -> float:
            listed = [h.capacity_factor for h in self.hits
                      if h.country == country and h.material in ("*", offer.material)]
            return min(listed, default=1.0)

        return min(factor(offer.country), factor(offer.processing_country))


def horizon(instance: Instance) -> list[str | None]:
    """The period ids in order; one unnamed period without a Periods sheet."""
    return [p.id for p in instance.periods] or [None]


def weights(instance: Instance) -> list[float]:
    """δ_t: the Periods sheet's weight, else (1 + discount_rate)^(−t); 1 without one."""
    rate = instance.settings.discount_rate
    return [p.weight if p.weight is not None else (1 + rate) ** (-t)
            for t, p in enumerate(instance.periods)] or [1.0]


def scenarios_in(instance: Instance, period: str | None) -> list[PeriodScenario]:
    """The scenarios present in a period: the rows that apply in it (blank period or
    this one), by name; generated ones (no Scenarios sheet: each country with p_c > 0
    alone, factor 0) in every period; `baseline` gets the remainder. What-if rows are
    left out: the instances here choose no what-if."""
    if instance.scenario_rows is None:
        listed = [PeriodScenario(c.id, c.disruption_prob, 0.0,
                                 (ScenarioHit(c.id, "*", 0.0),))
                  for c in instance.countries if c.disruption_prob > 0]
    else:
        by_name: dict[str, PeriodScenario] = {}
        for s in instance.scenario_rows:
            if s.whatif is not None or s.period not in (None, period):
                continue
            seen = by_name.get(s.name)
            by_name[s.name] = PeriodScenario(
                s.name, s.probability, s.price_surge,
                s.hits if seen is None else seen.hits + s.hits)
        listed = list(by_name.values())
    remainder = 1.0 - sum(s.probability for s in listed)
    if remainder > 1e-12:
        listed.append(PeriodScenario("baseline", remainder, 0.0, ()))
    return listed


def demand(instance: Instance, material: str, period: str | None) -> float:
    """D_{m,t}: the Demand row of (m, t), else Materials.demand."""
    for row in instance.demand_rows:
        if row.material == material and row.period == period:
            return row.demand
    return next(m.demand for m in instance.materials if m.id == material)


def position(ids: list[str | None], period: str | None, default: int) -> int:
    return default if period is None else ids.index(period)


# ---- SPEC §7 (+ §3 v2), literally ------------------------------------------------------


def reference_model(instance: Instance) -> pyo.ConcreteModel:
    """SPEC §7 formula by formula as a plain dense Pyomo model: every variable over
    every offer × period and offer × present (scenario, period), fixed at 0 where it
    cannot exist (outside a window, no reserve price, no stockpile, not a project)."""
    lam, alpha = instance.settings.risk_aversion, instance.settings.cvar_alpha
    offers, materials = instance.offers, {m.id: m for m in instance.materials}
    ids = horizon(instance)
    T = range(len(ids))
    delta = weights(instance)
    scen = {t: scenarios_in(instance, ids[t]) for t in T}
    KT = [(t, k) for t in T for k in range(len(scen[t]))]
    D = {(mid, t): demand(instance, mid, ids[t]) for mid in materials for t in T}
    a = {(o, t, k): scen[t][k].availability(offer)
         for o, offer in enumerate(offers) for t, k in KT}
    pi = {(t, k): scen[t][k].probability for t, k in KT}
    surge = {(t, k): scen[t][k].surge for t, k in KT}
    landed = {o: (1 + offer.tariff) * offer.unit_cost for o, offer in enumerate(offers)}
    first = {o: position(ids, offer.available_from, 0) for o, offer in enumerate(offers)}
    last = {o: position(ids, offer.available_until, len(ids) - 1)
            for o, offer in enumerate(offers)}
    project = {o: offer.capex is not None for o, offer in enumerate(offers)}
    lead = {o: offer.lead_time if project[o] else 0 for o, offer in enumerate(offers)}

    def in_window(o: int, t: int) -> bool:
        return first[o] <= t <= last[o]

    def policies_in(t: int):
        """Rows that apply under the case's strategy and what-if, from their
        from_period on."""
        return [p for p in instance.policies
                if (p.strategy is None or p.strategy == instance.strategy)
                and (p.whatif is None or p.whatif == instance.whatif)
                and position(ids, p.from_period, 0) <= t]

    def members(p) -> set[str]:
        if p.target_kind == "*":
            return {c.id for c in instance.countries}
        if p.target_kind == "group":
            return {c.id for c in instance.countries if p.target in c.groups}
        return {p.target}

    def stages(p) -> tuple[str, ...]:
        return BOTH if p.stage == "both" else (p.stage,)

    def country_at(offer: Offer, stage: str) -> str:
        if stage == "origin":
            return offer.country
        if stage == "processing":
            return offer.processing_country
        return offer.owner_country or offer.country  # owner(o), = country when blank

    def excluded(o: int, t: int) -> bool:
        offer = offers[o]
        return any(p.rule == "exclude" and p.material in ("*", offer.material)
                   and any(country_at(offer, s) in members(p) for s in stages(p))
                   for p in policies_in(t))

    def of(mid: str) -> list[int]:  # O_m
        return [o for o, offer in enumerate(offers) if offer.material == mid]

    def constraint(body, lo=None, hi=None):
        """A row; one without variables (e.g. no offer in a share) is checked as is."""
        if isinstance(body, (int, float)):
            ok = (lo is None or body >= lo - 1e-12) and (hi is None or body <= hi + 1e-12)
            return pyo.Constraint.Feasible if ok else pyo.Constraint.Infeasible
        return (lo, body, hi)

    model = pyo.ConcreteModel(name="SPEC section 7, literal")
    model.O = pyo.Set(initialize=range(len(offers)))
    model.M = pyo.Set(initialize=list(materials))
    model.T = pyo.Set(initialize=T)
    model.KT = pyo.Set(initialize=KT, dimen=2)
    model.C = pyo.Set(initialize=[c.id for c in instance.countries])

    # y_{o,t}, x_{o,t}, r_{o,t} for t in the offer's window (0 outside it)
    model.y = pyo.Var(model.O, model.T, domain=pyo.Binary)
    model.x = pyo.Var(model.O, model.T, domain=pyo.NonNegativeReals)
    model.r = pyo.Var(model.O, model.T, domain=pyo.NonNegativeReals)
    # b_{o,t}: start building project o in t ≥ available_from, only where it could
    # deliver within its window and the horizon (t + L_o ≤ available_until)
    model.b = pyo.Var(model.O, model.T, domain=pyo.Binary)
    model.h = pyo.Var(model.M, model.T, domain=pyo.NonNegativeReals)
    model.g = pyo.Var(model.M, model.T, domain=pyo.NonNegativeReals)
    model.e = pyo.Var(model.O, model.KT, domain=pyo.NonNegativeReals)
    model.v = pyo.Var(model.O, model.KT, domain=pyo.NonNegativeReals)
    model.w = pyo.Var(model.M, model.KT, domain=pyo.NonNegativeReals)
    model.u = pyo.Var(model.M, model.KT, domain=pyo.NonNegativeReals)
    model.eta = pyo.Var(model.T, domain=pyo.Reals)
    model.z = pyo.Var(model.KT, domain=pyo.NonNegativeReals)
    for o in model.O:
        for t in model.T:
            if not in_window(o, t):
                model.y[o, t].fix(0)
            if offers[o].reserve_cost is None:
                model.r[o, t].fix(0)  # r = 0 where ρ_o is blank
            if not (project[o] and first[o] <= t and t + lead[o] <= last[o]):
                model.b[o, t].fix(0)
    for mid, m in materials.items():
        for t in model.T:
            if m.stockpile_cost is None:
                model.h[mid, t].fix(0)  # h = 0 where k_m is blank
            elif m.max_stockpile is not None:
                model.h[mid, t].setub(m.max_stockpile)  # h ≤ S_m where given

    # on_{o,τ} = Σ_{t ≤ τ − L_o} b_{o,t}
    def on(md, o: int, tau: int):
        return sum(md.b[o, t] for t in md.T if t <= tau - lead[o])

    # F_t = Σ_o (ĉ_o x + f_o y + ρ_o r + capex_o b) + Σ_m (k_m h + s_m g)
    model.F = pyo.Expression(model.T, rule=lambda md, t: sum(
        landed[o] * md.x[o, t] + offer.fixed_cost * md.y[o, t]
        + (offer.reserve_cost or 0.0) * md.r[o, t] + (offer.capex or 0.0) * md.b[o, t]
        for o, offer in enumerate(offers))
        + sum((m.stockpile_cost or 0.0) * md.h[mid, t] + m.stock_price * md.g[mid, t]
              for mid, m in materials.items()))
    # R_{k,t} = Σ_m P_m u + Σ_o ĉ_o e + Σ_o ĉ_o (1 + surge_k) v
    model.R = pyo.Expression(model.KT, rule=lambda md, t, k: sum(
        m.shortage_penalty * md.u[mid, t, k] for mid, m in materials.items())
        + sum(landed[o] * md.e[o, t, k] + landed[o] * (1 + surge[t, k]) * md.v[o, t, k]
              for o in md.O))
    # minimise Σ_t δ_t [F_t + (1 − λ) Σ_k π R + λ (η_t + Σ_k π z / (1 − α))]
    model.objective = pyo.Objective(sense=pyo.minimize, expr=sum(
        delta[t] * (model.F[t]
                    + (1 - lam) * sum(pi[t, k] * model.R[t, k] for tt, k in KT if tt == t)
                    + lam * (model.eta[t] + sum(pi[t, k] * model.z[t, k]
                                                for tt, k in KT if tt == t) / (1 - alpha)))
        for t in T))

    # Σ_t b_{o,t} ≤ 1; y_{o,τ} ≤ on_{o,τ}
    model.build_once = pyo.Constraint(model.O, rule=lambda md, o: (
        sum(md.b[o, t] for t in md.T) <= 1 if project[o] else pyo.Constraint.Skip))
    model.online = pyo.Constraint(model.O, model.T, rule=lambda md, o, t: (
        md.y[o, t] <= on(md, o, t) if project[o] else pyo.Constraint.Skip))
    # L_o y ≤ x and x + r ≤ U_o y
    model.min_order = pyo.Constraint(model.O, model.T, rule=lambda md, o, t: (
        offers[o].min_order * md.y[o, t] <= md.x[o, t]))
    model.capacity = pyo.Constraint(model.O, model.T, rule=lambda md, o, t: (
        md.x[o, t] + md.r[o, t] <= offers[o].capacity * md.y[o, t]))
    # Σ_{o ∈ O_m} x_{o,t} ≤ D_{m,t} (with D = 0: no firm orders)
    model.firm_within_demand = pyo.Constraint(model.M, model.T, rule=lambda md, mid, t: (
        constraint(sum(md.x[o, t] for o in of(mid)), hi=D[mid, t])))
    # g_{m,t} ≥ h_{m,t} − h_{m,t−1}, h_{m,−1} = H_m (stock beyond what may be held is
    # lost: h keeps its limits)
    model.stock_added = pyo.Constraint(model.M, model.T, rule=lambda md, mid, t: (
        md.g[mid, t] >= md.h[mid, t] - (md.h[mid, t - 1] if t > 0
                                        else materials[mid].initial_stock)))
    # e ≤ a r
    model.backup_limit = pyo.Constraint(model.O, model.KT, rule=lambda md, o, t, k: (
        md.e[o, t, k] <= a[o, t, k] * md.r[o, t]))

    # v ≤ a V (on for a project, 1 for an ordinary offer, in its window; 0 outside it);
    # an excluded offer sells no spot
    def spot_limit(md, o, t, k):
        if not in_window(o, t) or excluded(o, t):
            return md.v[o, t, k] == 0
        cap = a[o, t, k] * offers[o].spot_capacity
        return md.v[o, t, k] <= (cap * on(md, o, t) if project[o] else cap)

    model.spot_limit = pyo.Constraint(model.O, model.KT, rule=spot_limit)
    # w ≤ h
    model.draw_within_stock = pyo.Constraint(model.M, model.KT, rule=lambda md, mid, t, k: (
        md.w[mid, t, k] <= md.h[mid, t]))
    # Σ_{o ∈ O_m} (e + v) + w ≤ ℓ_{m,k,t} = Σ_{o ∈ O_m} (1 − a) x
    model.replace_within_loss = pyo.Constraint(
        model.M, model.KT, rule=lambda md, mid, t, k: (
            sum(md.e[o, t, k] + md.v[o, t, k] for o in of(mid)) + md.w[mid, t, k]
            <= sum((1 - a[o, t, k]) * md.x[o, t] for o in of(mid))))
    # Σ_{o ∈ O_m} (a x + e + v) + w + u ≥ D_{m,t}
    model.demand_cover = pyo.Constraint(model.M, model.KT, rule=lambda md, mid, t, k: (
        sum(a[o, t, k] * md.x[o, t] + md.e[o, t, k] + md.v[o, t, k] for o in of(mid))
        + md.w[mid, t, k] + md.u[mid, t, k] >= D[mid, t]))
    # z_{k,t} ≥ R_{k,t} − η_t
    model.tail = pyo.Constraint(model.KT, rule=lambda md, t, k: (
        md.z[t, k] >= md.R[t, k] - md.eta[t]))

    # exclude, in each period from from_period on: x = r = 0 (no contract)
    model.exclude = pyo.Constraint(
        [(o, t) for o in model.O for t in model.T if excluded(o, t)],
        rule=lambda md, o, t: md.y[o, t] == 0)

    # σ at a stage, summed over a set of countries: Σ_{o ∈ O_m, s(o) ∈ set} x_{o,t} / D_{m,t}
    def share(md, mid: str, t: int, stage: str, countries: set[str]):
        return sum(md.x[o, t] for o in of(mid)
                   if country_at(offers[o], stage) in countries) / D[mid, t]

    # every other Policies row, per period from its from_period on, where D_{m,t} > 0
    rows = [(t, p, mid, s) for t in T for p in policies_in(t) if p.rule != "exclude"
            for mid in materials if p.material in ("*", mid) and D[mid, t] > 0
            for s in stages(p)]
    caps = [(t, p, mid, s, c) for t, p, mid, s in rows if p.rule == "max_country_share"
            for c in sorted(members(p))]
    model.max_country_share = pyo.ConstraintList()
    for t, p, mid, s, c in caps:  # σ_{m,c} ≤ value for each country the target names
        model.max_country_share.add(constraint(share(model, mid, t, s, {c}), hi=p.value))
    model.group_share = pyo.ConstraintList()
    for t, p, mid, s in rows:  # Σ_{c ∈ group} σ_{m,c} ≥ / ≤ value
        if p.rule in ("min_group_share", "max_group_share"):
            bound = "lo" if p.rule == "min_group_share" else "hi"
            model.group_share.add(constraint(share(model, mid, t, s, members(p)),
                                             **{bound: p.value}))
    # max_hhi: q_{m,c} ≥ (b_j + b_{j+1}) σ_{m,c} − b_j b_{j+1} for every j and c;
    # 10,000 · Σ_c q_{m,c} ≤ value
    hhi = [(n, row) for n, row in enumerate(rows) if row[1].rule == "max_hhi"]
    model.H = pyo.Set(initialize=[n for n, _ in hhi])
    model.q = pyo.Var(model.H, model.C, domain=pyo.Reals)
    model.hhi_chord = pyo.ConstraintList()
    model.max_hhi = pyo.ConstraintList()
    for n, (t, p, mid, s) in hhi:
        for c in model.C:
            for j in range(len(BREAKPOINTS) - 1):
                model.hhi_chord.add(
                    model.q[n, c] >= (BREAKPOINTS[j] + BREAKPOINTS[j + 1])
                    * share(model, mid, t, s, {c}) - BREAKPOINTS[j] * BREAKPOINTS[j + 1])
        model.max_hhi.add(10_000 * sum(model.q[n, c] for c in model.C) <= p.value)
    return model


def reference_optimum(instance: Instance) -> float | None:
    """The optimum of `reference_model` as CBC finds it, or None if CBC proves the
    model infeasible."""
    model = reference_model(instance)
    found = pyo.SolverFactory("cbc").solve(model, options=CBC_OPTIONS, load_solutions=False)
    condition = found.solver.termination_condition
    if condition == TerminationCondition.infeasible:
        return None
    assert condition == TerminationCondition.optimal, (condition, found.solver.message)
    # A variable with no nonzero coefficient anywhere is not written to CBC and gets no
    # value back; any value is optimal for it, so it counts as 0.
    for var in model.component_data_objects(pyo.Var):
        if not var.fixed:
            var.set_value(0, skip_validation=True)
    model.solutions.load_from(found)
    return float(pyo.value(model.objective))


# ---- (e7) the oracle --------------------------------------------------------------------


@NEEDS_CBC
@ORACLE
@given(horizon_instances())
def test_optimum_matches_a_literal_reading_of_section_7(instance):
    expected = reference_optimum(instance)
    got = product_optimum(instance)
    assert agree(got, expected), ("highs", got, "literal §7 by CBC", expected)
    through_cbc = product_optimum(instance, "pyomo:cbc")
    assert agree(through_cbc, expected), ("pyomo:cbc", through_cbc, "literal", expected)


# ---- hand-derived cases: the rarer corners, on every path -----------------------------


def _case(offers, policies=(), *, periods=(), scenario_rows=None, material=None,
          countries=None) -> Instance:
    return Instance(
        materials=(material or Material("m", "t", 100.0, 1000.0),),
        countries=countries or (Country("AAA", disruption_prob=0.2), Country("BBB"),
                                Country("CCC")),
        offers=tuple(offers), policies=tuple(policies), scenario_rows=scenario_rows,
        periods=tuple(Period(t, w, row=i + 2) for i, (t, w) in enumerate(periods)))


def excluded_spot() -> tuple[Instance, float]:
    """One period; m: D = 100, P = 1000. `a` (AAA, p = 0.2): ĉ = 10, U = 100. `b` (BBB):
    U = 0, spot 50 at 20, but BBB is excluded, so it sells no spot. Plan x_a = 100
    (F = 1000); in scenario AAA all 100 is lost and short: R = 100,000, π = 0.2.
    Objective = 1000 + 20,000 = 21,000 (with spot from b: 1000 + 0.2 · 51,000)."""
    a = Offer("a", "m", "AAA", "AAA", 10.0, 100.0, row=2)
    b = Offer("b", "m", "BBB", "BBB", 20.0, 0.0, row=3, spot_capacity=50.0)
    return _case((a, b), (Policy("exclude", "*", "BBB", "country", "origin", None,
                                 row=2),)), 21_000.0


def project_spot_once_online() -> tuple[Instance, float]:
    """Periods P0, P1 (δ = 1); m: D = 100, P = 1000; scenario `cut` (AAA at 0, π = 0.5)
    in every period. `a` (AAA): ĉ = 10, U = 100, x = 100 each period (F = 1000; without
    it all 100 is short in every scenario). Project `n` (BBB): U = 0, spot 100 at 20,
    capex 100, lead time 1: built in P0 it is online in P1 only. P0: 1000 + 100 (capex)
    + 0.5 · 100,000 = 51,100; P1: 1000 + 0.5 · (100 · 20) = 2000. Objective 53,100
    (without the project 102,000; with spot before online 4100)."""
    a = Offer("a", "m", "AAA", "AAA", 10.0, 100.0, row=2)
    n = Offer("n", "m", "BBB", "BBB", 20.0, 0.0, row=3, spot_capacity=100.0, capex=100.0,
              lead_time=1)
    cut = Scenario("cut", 0.5, (ScenarioHit("AAA", "*", 0.0),), row=2)
    return _case((a, n), periods=(("P0", None), ("P1", None)),
                 scenario_rows=(cut,)), 53_100.0


def owner_excluded_from_a_period() -> tuple[Instance, float]:
    """Periods Y1, Y2 (δ = 1), baseline only; m: D = 100. `a` (AAA, owned by CCC):
    ĉ = 10; `b` (BBB): ĉ = 15; both U = 100. `exclude CCC` at the owner stage from Y2:
    a in Y1 (1000), b in Y2 (1500). Objective 2500 (2000 without the rule)."""
    a = Offer("a", "m", "AAA", "AAA", 10.0, 100.0, row=2, owner_country="CCC")
    b = Offer("b", "m", "BBB", "BBB", 15.0, 100.0, row=3)
    rule = Policy("exclude", "*", "CCC", "country", "owner", None, row=2, from_period="Y2")
    return _case((a, b), (rule,), periods=(("Y1", None), ("Y2", None)),
                 scenario_rows=()), 2500.0


def initial_stock_above_the_cap() -> tuple[Instance, float]:
    """Periods Y1 (δ = 1), Y2 (δ = 0.5); m: D = 100, P = 1000, k = 1, S = 10, H = 40,
    s = 2; `a` (AAA): ĉ = 10, U = 100; scenario `cut` (AAA at 0, π = 0.1) in every
    period. x = 100 each period (1000). Holding 10 costs 10 and saves 0.1 · 10 · 1000:
    h = 10 in both; the 30 above the cap are lost, the 10 kept need no filling (g = 0).
    Per period 1000 + 10 + 0.1 · 90 · 1000 = 10,010: objective 10,010 · 1.5 = 15,015."""
    m = Material("m", "t", 100.0, 1000.0, stockpile_cost=1.0, max_stockpile=10.0,
                 initial_stock=40.0, stock_price=2.0)
    cut = Scenario("cut", 0.1, (ScenarioHit("AAA", "*", 0.0),), row=2)
    a = Offer("a", "m", "AAA", "AAA", 10.0, 100.0, row=2)
    return _case((a,), material=m, periods=(("Y1", 1.0), ("Y2", 0.5)),
                 scenario_rows=(cut,)), 15_015.0


def no_policy_without_demand() -> tuple[Instance, float]:
    """Periods Y1, Y2 (δ = 1), baseline only; m: D = 0 in Y1 (Demand row), 100 in Y2.
    `a` (AAA): ĉ = 10; `b` (BBB, group G1): ĉ = 15; both U = 100. `min_group_share
    G1 ≥ 0.5` applies only where D > 0: nothing in Y1, 50 a + 50 b in Y2. Objective
    500 + 750 = 1250 (infeasible if the rule held in Y1, where no order may be placed)."""
    a = Offer("a", "m", "AAA", "AAA", 10.0, 100.0, row=2)
    b = Offer("b", "m", "BBB", "BBB", 15.0, 100.0, row=3)
    rule = Policy("min_group_share", "*", "G1", "group", "both", 0.5, row=2)
    instance = _case((a, b), (rule,), periods=(("Y1", None), ("Y2", None)),
                     scenario_rows=(), countries=(Country("AAA"),
                                                  Country("BBB", groups=("G1",))))
    return dataclasses.replace(instance, demand_rows=(DemandRow("m", "Y1", 0.0),)), 1250.0


@pytest.mark.parametrize("case", [excluded_spot, project_spot_once_online,
                                  owner_excluded_from_a_period, initial_stock_above_the_cap,
                                  no_policy_without_demand])
def test_hand_derived_horizon_cases(case):
    instance, optimum = case()
    assert math.isclose(product_optimum(instance), optimum, rel_tol=1e-9)
    if cbc_available():
        assert math.isclose(product_optimum(instance, "pyomo:cbc"), optimum,
                            rel_tol=1e-9)
        assert math.isclose(reference_optimum(instance), optimum, rel_tol=1e-9)


# ---- metamorphic, through the product --------------------------------------------------


def without_periods(instance: Instance) -> Instance:
    """The same data with no reference to a period and no Periods sheet."""
    return dataclasses.replace(
        instance, periods=(), demand_rows=(),
        offers=tuple(dataclasses.replace(o, available_from=None, available_until=None)
                     for o in instance.offers),
        policies=tuple(dataclasses.replace(p, from_period=None) for p in instance.policies),
        scenario_rows=None if instance.scenario_rows is None else tuple(
            dataclasses.replace(s, period=None) for s in instance.scenario_rows
            if s.period is None))


@METAMORPHIC
@given(horizon_instances(Knobs(max_periods=1)), st.sampled_from((None, 1.0)))
def test_a_one_row_periods_sheet_changes_nothing(instance, weight):
    """(a) Periods = one row (weight blank or 1) against no Periods sheet."""
    flat = without_periods(instance)
    one = dataclasses.replace(flat, periods=(Period(PERIOD_IDS[0], weight, row=2),))
    with_sheet, without_sheet = product_optimum(one), product_optimum(flat)
    assert agree(with_sheet, without_sheet), (with_sheet, without_sheet)


def split_periods(instance: Instance) -> Instance:
    """Every period t becomes two identical periods ta, tb of weight δ_t / 2: demand
    rows, windows, from_period and period-specific scenario rows follow."""
    delta = weights(instance)
    ids = horizon(instance)

    def halves(t):
        return (f"{t}a", f"{t}b")

    periods = tuple(Period(half, delta[i] / 2, row=2 * i + j + 2)
                    for i, t in enumerate(ids) for j, half in enumerate(halves(t)))
    return dataclasses.replace(
        instance, periods=periods,
        demand_rows=tuple(DemandRow(d.material, half, d.demand)
                          for d in instance.demand_rows for half in halves(d.period)),
        offers=tuple(dataclasses.replace(
            o, available_from=o.available_from and halves(o.available_from)[0],
            available_until=o.available_until and halves(o.available_until)[1])
            for o in instance.offers),
        policies=tuple(dataclasses.replace(p, from_period=p.from_period
                                           and halves(p.from_period)[0])
                       for p in instance.policies),
        scenario_rows=None if instance.scenario_rows is None else tuple(
            dataclasses.replace(s, period=half) if s.period is not None else s
            for s in instance.scenario_rows
            for half in (halves(s.period) if s.period is not None else (None,))))


@METAMORPHIC
@given(horizon_instances(Knobs(sheetless=False, max_periods=2, projects=False,
                               stock_purchases=False)))
def test_splitting_every_period_in_two_halves_changes_nothing(instance):
    """(b) Without projects, stock purchases (s = 0, H = 0) or lead times, the periods
    are independent problems and every cost is linear in δ_t."""
    halves, whole = product_optimum(split_periods(instance)), product_optimum(instance)
    assert agree(halves, whole), (halves, whole)


@METAMORPHIC
@given(horizon_instances(Knobs(min_periods=2, sheetless=False)), st.data())
def test_an_earlier_from_period_never_lowers_the_cost(instance, data):
    """(c) One Policies row (drawn, added with a from_period after the first period)
    moved earlier: the feasible set only shrinks."""
    ids = horizon(instance)
    tags = sorted({g for c in instance.countries for g in c.groups})
    row = data.draw(policy_rows([c.id for c in instance.countries], tags,
                                [m.id for m in instance.materials], ()))
    late = data.draw(st.integers(1, len(ids) - 1))
    early = data.draw(st.integers(0, late - 1))
    rule = dataclasses.replace(row, from_period=ids[late], row=len(instance.policies) + 2)
    loose = dataclasses.replace(instance, policies=(*instance.policies, rule))
    tight = dataclasses.replace(instance, policies=(*instance.policies, dataclasses.replace(
        rule, from_period=data.draw(st.sampled_from((ids[early], None))) if early == 0
        else ids[early])))
    before, after = product_optimum(loose), product_optimum(tight)
    if before is None:
        assert after is None, (before, after)
        return
    assert after is None or after >= before - 1e-6 * max(1.0, abs(before)), (before, after)


@METAMORPHIC
@given(horizon_instances(), st.data())
def test_adding_a_project_never_raises_the_cost(instance, data):
    """(d) A new project (b = 0 keeps every old plan) can only help."""
    ids = tuple(p.id for p in instance.periods)
    project = data.draw(offer_rows(
        [c.id for c in instance.countries], {c.id: c.tariff for c in instance.countries},
        [m.id for m in instance.materials], ids, supplier="new",
        row=len(instance.offers) + 2, project=True))
    before = product_optimum(instance)
    after = product_optimum(dataclasses.replace(instance, offers=(*instance.offers, project)))
    if after is None:
        assert before is None, (before, after)
        return
    assert before is None or after <= before + 1e-6 * max(1.0, abs(before)), (before, after)
