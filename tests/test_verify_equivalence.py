"""The vectorised verifier (`resilience.verify`) against the plain-loop oracle
(`tests/verify_reference.py`, the verifier as it was before numpy): the same `ok`, the
same problems (texts and order), the same costs (to 1e-9 relative; in fact bit for bit),
scenarios, shares, HHI, policy rows and expected shortages, on

(a) small random instances (the `instances` strategy of test_properties, with policies)
    and random plans, most of them broken: over capacity, under the minimum order,
    negative, uncontracted, reserves without a price, excluded offers used, share caps
    broken, stock over its cap or without a cost, lines matching no offer, repeated
    lines; with and without the planning rules and a solver objective and bound;
(b) the plans the solver returns on seeded benchmark instances (small), and a full
    synthetic plan (every offer ordered) on the small and medium ones;
(c) the embedded data set's plan under no strategy and each library strategy;
(d) SPEC §7 horizons: random instances of one to three periods (weights, discounting,
    demand rows with zeros, offer windows, projects with lead times, spot capacity with
    price surges, owner countries, policies from a period on and on the owner stage,
    scenarios present in some periods only, initial stock and a stock price) with random,
    mostly broken plans per period, projects built (once, twice, too early, too late, in
    no period) and stock levels per period; and a benchmark instance turned into a
    three-period horizon with a full plan.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import verify_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import instances

from benchmarks.instances import generate
from resilience.api import solve_case
from resilience.cases import prepare_case
from resilience.domain import (
    DemandRow,
    Instance,
    Investment,
    Period,
    PlanLine,
    Scenario,
    ScenarioHit,
)
from resilience.library import demo_workbook, library_strategies
from resilience.validate import load
from resilience.verify import verify

REL = 1e-9


def _same(new, old, path: str = "verification") -> None:
    """Equal structure and names; floats to REL; everything else exactly."""
    if isinstance(old, float) or isinstance(new, float):
        assert isinstance(new, int | float) and isinstance(old, int | float), path
        if math.isnan(old):
            assert math.isnan(new), path
        else:
            assert new == pytest.approx(old, rel=REL, abs=1e-12), (path, new, old)
        return
    if dataclasses.is_dataclass(old):
        assert type(new).__name__ == type(old).__name__, path
        names = [f.name for f in dataclasses.fields(old)]
        assert [f.name for f in dataclasses.fields(new)] == names, path
        for name in names:
            _same(getattr(new, name), getattr(old, name), f"{path}.{name}")
        return
    if isinstance(old, dict):
        assert isinstance(new, dict) and list(new) == list(old), path
        for key in old:
            _same(new[key], old[key], f"{path}[{key!r}]")
        return
    if isinstance(old, tuple | list):
        assert type(new) is type(old) and len(new) == len(old), path
        for i, (a, b) in enumerate(zip(new, old, strict=True)):
            _same(a, b, f"{path}[{i}]")
        return
    assert new == old, (path, new, old)


def _check(instance: Instance, plan, stockpile, *args, **kwargs):
    new = verify(instance, tuple(plan), dict(stockpile), *args, **kwargs)
    old = verify_reference.verify(instance, tuple(plan), dict(stockpile), *args, **kwargs)
    assert new.ok == old.ok
    assert new.problems == old.problems
    _same(new, old)
    return new


# ---- (a) random instances and plans, broken ones included ---------------------------

@st.composite
def cases(draw):
    instance = draw(instances(policies=True))
    ids = [c.id for c in instance.countries]
    mids = [m.id for m in instance.materials]
    penalty = {m.id: m.shortage_penalty for m in instance.materials}
    # backups priced exactly at the shortage penalty, and ties in price
    offers = tuple(
        dataclasses.replace(o, unit_cost=penalty[o.material], tariff=0.0,
                            tariff_override=0.0) if pick == "penalty"
        else dataclasses.replace(o, unit_cost=5.0, tariff=0.0, tariff_override=0.0)
        if pick == "tie" else o
        for o in instance.offers
        for pick in [draw(st.sampled_from(("as drawn", "as drawn", "penalty", "tie")))])
    if draw(st.booleans()):
        # denser scenarios: several hits on one country, for every material and for one
        # (in either order), factors above 1 now and then
        rows = []
        for k in range(draw(st.integers(1, 4))):
            hits = tuple(ScenarioHit(draw(st.sampled_from(ids[:2])),
                                     draw(st.sampled_from(("*", *mids))),
                                     draw(st.sampled_from((0.0, 0.3, 0.5, 0.8, 1.0, 1.2))))
                         for _ in range(draw(st.integers(1, 4))))
            rows.append(Scenario(f"d{k}", draw(st.sampled_from((0.05, 0.1, 0.2))), hits,
                                 row=k + 2))
        instance = dataclasses.replace(instance, scenario_rows=tuple(rows))
    instance = dataclasses.replace(instance, offers=offers)
    plan = []
    for o in instance.offers:
        for _ in range(draw(st.sampled_from((0, 1, 1, 1, 2)))):
            x = draw(st.sampled_from((0.0, o.capacity / 3, o.min_order / 2, o.min_order,
                                      o.capacity, o.capacity + 7.0, -2.0)))
            r = draw(st.sampled_from((0.0, 0.0, 1.5, o.capacity, -1.0)))
            plan.append(PlanLine(o.supplier, o.material, o.country, o.processing_country,
                                 x, r, draw(st.sampled_from((True, True, False)))))
    if draw(st.booleans()) and instance.offers:
        o = instance.offers[0]
        plan.append(PlanLine("nobody", o.material, o.country, o.processing_country,
                             1.0, 0.0, True))
    plan = draw(st.permutations(plan))
    stockpile = {}
    for m in instance.materials:
        cap = m.max_stockpile if m.max_stockpile is not None else m.demand / 5
        choice = draw(st.sampled_from((None, 0.0, cap, cap * 2, 3.0)))
        if choice is not None:
            stockpile[m.id] = choice
    return instance, plan, stockpile


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.booleans(), st.sampled_from((None, 0.9, 1.0, 1.1)),
       st.sampled_from((None, 0.95, 1.05)))
def test_random_plans_verify_the_same(case, planning_rules, objective_factor,
                                      bound_factor):
    instance, plan, stockpile = case
    base = verify_reference.verify(instance, tuple(plan), stockpile).objective
    objective = None if objective_factor is None else base * objective_factor
    bound = None if objective is None or bound_factor is None else base * bound_factor
    _check(instance, plan, stockpile, objective, bound, planning_rules=planning_rules)


def test_the_random_plans_do_break_every_limit():
    """Not vacuous: the problem kinds the random plans above are meant to produce."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(cases())
    def collect(case):
        instance, plan, stockpile = case
        for problem in verify(instance, tuple(plan), stockpile).problems:
            for kind in ("exceeds capacity", "below the minimum order", "negative",
                         "without a contract", "without a reserve price", "excluded but used",
                         "exceed demand", "exceeds max_stockpile", "without a stockpile cost",
                         "matches no offer", ", limit "):
                if kind in problem:
                    seen.add(kind)

    collect()
    assert {"exceeds capacity", "below the minimum order", "excluded but used",
            "exceeds max_stockpile", ", limit ", "matches no offer"} <= seen, seen


# ---- (b) seeded benchmark instances ----------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_solved_benchmark_plans_verify_the_same(seed):
    instance = generate("small", seed)
    instance = dataclasses.replace(instance, settings=dataclasses.replace(
        instance.settings, time_limit=20.0, mip_gap=0.01))
    result = solve_case(instance, with_duals=False)
    solution = result.solution
    new = _check(instance, solution.plan, solution.stockpile, solution.objective,
                 solution.bound)
    assert new.ok


def _full_plan(instance: Instance):
    """Every offer ordered up to a share of demand (so demand caps and policies break),
    reserves where priced, stock at its cap."""
    count: dict[str, int] = {}
    for o in instance.offers:
        count[o.material] = count.get(o.material, 0) + 1
    plan = []
    for o in instance.offers:
        share = instance.material(o.material).demand / count[o.material] * 1.3
        x = min(o.capacity, share)
        r = min(o.capacity - x, share / 2) if o.reserve_cost is not None else 0.0
        plan.append(PlanLine(o.supplier, o.material, o.country, o.processing_country,
                             x, r, True))
    stockpile = {m.id: m.max_stockpile if m.max_stockpile is not None else m.demand / 10
                 for m in instance.materials if m.stockpile_cost is not None}
    return plan, stockpile


@pytest.mark.parametrize("size,seed", [("small", 0), ("small", 3), ("medium", 0)])
def test_full_benchmark_plans_verify_the_same(size, seed):
    instance = generate(size, seed)
    plan, stockpile = _full_plan(instance)
    new = _check(instance, plan, stockpile)
    assert not new.ok and new.scenarios


# ---- (c) the embedded data set ------------------------------------------------------------

@pytest.mark.parametrize("strategy", [None, *library_strategies()])
def test_embedded_data_plans_verify_the_same(strategy):
    instance = prepare_case(load(demo_workbook()), strategy=strategy)
    solution = solve_case(instance, with_duals=False).solution
    # the embedded data set plans a horizon (SPEC §7): projects built and stock levels
    # per period are part of the plan
    horizon = {"investments": solution.investments, "stock_levels": solution.stock_levels}
    new = _check(instance, solution.plan, solution.stockpile, solution.objective,
                 solution.bound, **horizon)
    assert new.ok
    # and evaluated as a fixed plan, without the planning rules
    _check(instance, solution.plan, solution.stockpile, planning_rules=False, **horizon)


# ---- (d) SPEC §7 horizons --------------------------------------------------------------

PERIOD_IDS = ("p0", "p1", "p2")


@st.composite
def horizon_cases(draw):
    """A random instance over one to three periods, a random plan for it (lines per
    period, projects built, stock levels), most of it broken somewhere."""
    instance = draw(instances(policies=True))
    ids = PERIOD_IDS[:draw(st.integers(1, 3))]
    countries = [c.id for c in instance.countries]
    penalty = {m.id: m.shortage_penalty for m in instance.materials}

    def window():
        first, last = sorted(draw(st.sampled_from(range(len(ids)))) for _ in range(2))
        return (draw(st.sampled_from((None, ids[first]))),
                draw(st.sampled_from((None, ids[last]))))

    offers = []
    for o in instance.offers:
        start, end = window()
        capex = draw(st.sampled_from((None, None, 100.0)))
        price = draw(st.sampled_from(("as drawn", "as drawn", "penalty", "tie")))
        if price != "as drawn":
            o = dataclasses.replace(o, unit_cost=penalty[o.material] if price == "penalty"
                                    else 5.0, tariff=0.0, tariff_override=0.0)
        offers.append(dataclasses.replace(
            o, available_from=start, available_until=end, capex=capex,
            lead_time=draw(st.sampled_from((0, 1, 2))) if capex is not None else 0,
            spot_capacity=draw(st.sampled_from((0.0, 0.0, 10.0, o.capacity))),
            owner_country=draw(st.sampled_from((None, None, *countries)))))
    materials = tuple(dataclasses.replace(
        m, initial_stock=draw(st.sampled_from((0.0, 0.0, 5.0, m.demand))),
        stock_price=draw(st.sampled_from((0.0, 2.0)))) for m in instance.materials)
    demand_rows = tuple(
        DemandRow(m.id, t, draw(st.sampled_from((0.0, m.demand / 2, m.demand * 1.5))))
        for m in materials for t in ids if draw(st.booleans()))
    policies = tuple(dataclasses.replace(
        p, from_period=draw(st.sampled_from((None, *ids))),
        stage=draw(st.sampled_from((p.stage, p.stage, "owner")))) for p in instance.policies)
    scenario_rows = instance.scenario_rows
    if draw(st.booleans()):
        rows = []
        for k in range(draw(st.integers(0, 4))):
            probability = draw(st.sampled_from((0.05, 0.1, 0.2)))
            surge = draw(st.sampled_from((0.0, 0.5, 3.0)))
            for _ in range(draw(st.integers(1, 3))):
                hits = tuple(ScenarioHit(draw(st.sampled_from(countries)),
                                         draw(st.sampled_from(("*", *(m.id for m in
                                                                      materials)))),
                                         draw(st.sampled_from((0.0, 0.3, 0.5, 1.0))))
                             for _ in range(draw(st.integers(1, 2))))
                rows.append(Scenario(f"h{k}", probability, hits, row=len(rows) + 2,
                                     period=draw(st.sampled_from((None, *ids))),
                                     price_surge=surge))
        scenario_rows = tuple(rows)
    weights = [draw(st.sampled_from((None, None, 0.5, 2.0))) for _ in ids]
    instance = dataclasses.replace(
        instance, materials=materials, offers=tuple(offers), policies=policies,
        scenario_rows=scenario_rows, demand_rows=demand_rows,
        periods=tuple(Period(t, w, row=i + 2)
                      for i, (t, w) in enumerate(zip(ids, weights, strict=True))),
        settings=dataclasses.replace(instance.settings,
                                     discount_rate=draw(st.sampled_from((0.0, 0.1)))))

    plan = []
    for o in instance.offers:
        for t in ids:
            for _ in range(draw(st.sampled_from((0, 1, 1, 2)))):
                x = draw(st.sampled_from((0.0, o.capacity / 3, o.min_order, o.capacity,
                                          o.capacity + 7.0, -2.0)))
                r = draw(st.sampled_from((0.0, 0.0, 1.5, o.capacity)))
                plan.append(PlanLine(o.supplier, o.material, o.country,
                                     o.processing_country, x, r,
                                     draw(st.sampled_from((True, True, False))), t))
    if draw(st.booleans()) and instance.offers:
        o = instance.offers[0]
        plan.append(PlanLine(o.supplier, o.material, o.country, o.processing_country,
                             1.0, 0.0, True, "nowhen"))
    plan = draw(st.permutations(plan))
    investments = []
    for o in instance.offers:
        if o.capex is None:
            continue
        for _ in range(draw(st.sampled_from((0, 1, 1, 1, 2)))):
            b = draw(st.sampled_from(range(len(ids))))
            online = ids[b + o.lead_time] if b + o.lead_time < len(ids) else "later"
            investments.append(Investment(
                o.supplier, o.material, o.country, o.processing_country,
                draw(st.sampled_from((ids[b], ids[b], "nowhen"))),
                draw(st.sampled_from((online, online, ids[0]))),
                draw(st.sampled_from((o.capex, o.capex, 1.0))), o.capacity))
    stockpile, stock_levels = {}, None
    if draw(st.booleans()):
        stock_levels = {}
        for m in instance.materials:
            cap = m.max_stockpile if m.max_stockpile is not None else m.demand / 5
            if draw(st.booleans()):
                stock_levels[m.id] = {t: draw(st.sampled_from((0.0, cap, cap / 2, cap * 2,
                                                               3.0)))
                                      for t in ids if draw(st.sampled_from((True, True,
                                                                            False)))}
        if draw(st.booleans()):
            stock_levels["unknown"] = {ids[0]: 1.0}
    else:
        for m in instance.materials:
            choice = draw(st.sampled_from((None, 0.0, m.demand / 5, 3.0)))
            if choice is not None:
                stockpile[m.id] = choice
    return instance, plan, stockpile, tuple(investments), stock_levels


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(horizon_cases(), st.booleans(), st.sampled_from((None, 0.9, 1.1)))
def test_random_horizon_plans_verify_the_same(case, planning_rules, objective_factor):
    instance, plan, stockpile, investments, stock_levels = case
    base = verify_reference.verify(instance, tuple(plan), stockpile,
                                   investments=investments,
                                   stock_levels=stock_levels).objective
    objective = None if objective_factor is None else base * objective_factor
    _check(instance, plan, stockpile, objective, None, planning_rules=planning_rules,
           investments=investments, stock_levels=stock_levels)


def test_the_random_horizons_do_reach_every_new_check():
    """Not vacuous: the §7 problem kinds the random horizons are meant to produce, and
    spot purchases, stock added at a price and shares on the owner stage."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(horizon_cases())
    def collect(case):
        instance, plan, stockpile, investments, stock_levels = case
        v = verify(instance, tuple(plan), stockpile, investments=investments,
                   stock_levels=stock_levels)
        for problem in v.problems:
            for kind in ("outside its window", "before the project is online",
                         "built more than once", "online only after", "not a period",
                         "without demand", "excluded but used", ", limit ",
                         "online_from", "capex", "does not exist",
                         "exceeds max_stockpile"):
                if kind in problem:
                    seen.add(kind)
        if any(sum(s.spot_bought.values()) > 0 for p in v.periods for s in p.scenarios):
            seen.add("spot bought")
        if any(p.stock_purchase_cost > 0 for p in v.periods):
            seen.add("stock bought")
        if any(c.stage == "owner" for c in v.policies):
            seen.add("owner policy")
        if len(v.periods) == 3 and any(p.weight != 1.0 for p in v.periods):
            seen.add("weights")

    collect()
    assert {"outside its window", "before the project is online", "built more than once",
            "online only after", "not a period", "without demand", ", limit ",
            "online_from", "capex", "does not exist", "spot bought", "stock bought",
            "owner policy", "weights"} <= seen, seen


def _as_horizon(instance: Instance) -> Instance:
    """A benchmark instance over three periods: demand 80 % / 100 % / 130 % (some rows
    listed, the rest from Materials), a third of the offers selling spot, a fifth owned
    elsewhere, every seventh a project (lead time 1), every eleventh available only from
    the second period, the scenarios present in every period with a surge, every other
    one only in the second period; the policies from the second period on; initial
    stock and a stock price; a 5 % discount rate."""
    ids = ("y1", "y2", "y3")
    countries = [c.id for c in instance.countries]
    offers = tuple(dataclasses.replace(
        o, spot_capacity=o.capacity / 2 if i % 3 == 0 else 0.0,
        owner_country=countries[i % len(countries)] if i % 5 == 0 else None,
        capex=1_000.0 if i % 7 == 0 else None, lead_time=1 if i % 7 == 0 else 0,
        available_from="y2" if i % 11 == 0 and i % 7 != 0 else None)
        for i, o in enumerate(instance.offers))
    scenarios = tuple(dataclasses.replace(s, period="y2" if k % 2 else None,
                                          price_surge=0.25 * (k % 4))
                      for k, s in enumerate(instance.scenario_rows or ()))
    demand_rows = tuple(DemandRow(m.id, t, m.demand * f)
                        for m in instance.materials for t, f in (("y1", 0.8), ("y3", 1.3)))
    materials = tuple(dataclasses.replace(m, initial_stock=m.demand / 20, stock_price=1.5)
                      for m in instance.materials)
    return dataclasses.replace(
        instance, offers=offers, scenario_rows=scenarios, demand_rows=demand_rows,
        materials=materials,
        policies=tuple(dataclasses.replace(p, from_period="y2") for p in instance.policies),
        periods=tuple(Period(t) for t in ids),
        settings=dataclasses.replace(instance.settings, discount_rate=0.05))


@pytest.mark.parametrize("size,seed", [("small", 0), ("medium", 1)])
def test_full_horizon_plans_verify_the_same(size, seed):
    instance = _as_horizon(generate(size, seed))
    plan, stockpile = _full_plan(instance)
    lines = [dataclasses.replace(line, period=t) for t in instance.period_ids()
             for line in plan]
    investments = tuple(Investment(o.supplier, o.material, o.country, o.processing_country,
                                   "y1", "y2", o.capex, o.capacity)
                        for o in instance.offers if o.is_project)
    levels = {mid: {"y1": h / 2, "y2": h, "y3": h / 3} for mid, h in stockpile.items()}
    new = _check(instance, lines, {}, investments=investments, stock_levels=levels)
    assert not new.ok and len(new.periods) == 3
    assert any(sum(s.spot_bought.values()) > 0 for p in new.periods for s in p.scenarios)
