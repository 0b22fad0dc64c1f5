"""The independent verifier against SPEC v2, on tiny instances whose figures are derived
by hand in each test's docstring. Each case is also run through the plain-loop oracle
(tests/verify_reference.py), which must agree with the hand figures too.

§3 (v2): whatever is bought or drawn in a scenario only replaces supply lost in it,
Σ_o e_{o,k} + w_{m,k} ≤ ℓ_{m,k} = Σ_o (1 − a_{o,k}) x_o.
"""

from __future__ import annotations

import dataclasses

import pytest
import verify_reference

from resilience.domain import (
    Country,
    DemandRow,
    Instance,
    Investment,
    Material,
    Offer,
    Period,
    PlanLine,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
)
from resilience.verify import ScenarioCheck, verify


def _both(instance, plan, stockpile, **kwargs):
    """The fast verifier and the oracle on the same input; they must agree exactly."""
    new = verify(instance, tuple(plan), dict(stockpile), **kwargs)
    old = verify_reference.verify(instance, tuple(plan), dict(stockpile), **kwargs)
    assert new.problems == old.problems
    assert new.objective == old.objective
    return new, old


def _line(offer: Offer, x: float, r: float = 0.0, contracted: bool = True,
          period: str = "") -> PlanLine:
    return PlanLine(offer.supplier, offer.material, offer.country, offer.processing_country,
                    x, r, contracted, period)


# ---- §3: recourse only replaces lost supply --------------------------------------------

def test_baseline_gap_left_by_orders_not_placed_stays_short():
    """D = 100, P = 50. One offer A (AAA): ĉ = 10, capacity 100, reserve price 1. The plan
    orders x = 60 and reserves r = 40. No disruption scenarios: `baseline` alone, π = 1.

    v1 would call the reserve in baseline: need 40, backup 40 at 10 → R = 400.
    v2: nothing was lost (a = 1, ℓ = 0), so nothing may be called: the 40 is short,
    R = 40 · 50 = 2000, and no backup is called.
    F = 60 · 10 + 40 · 1 = 640; objective = 640 + 2000 = 2640."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0, reserve_cost=1.0)
    instance = Instance(
        materials=(Material("m", "t", demand=100.0, shortage_penalty=50.0),),
        countries=(Country("AAA"),), offers=(a,), scenario_rows=())
    for v in _both(instance, [_line(a, 60.0, 40.0)], {}):
        assert v.ok, v.problems
        (base,) = v.scenarios
        assert base.scenario == "baseline" and base.probability == 1.0
        assert base.backup_called == {"m": 0.0}
        assert base.shortage == {"m": 40.0}
        assert base.recourse_cost == 2000.0
        assert v.first_stage_cost == 640.0
        assert v.objective == 2640.0
        assert v.expected_shortage == {"m": 40.0}


def _lost_instance():
    """D = 100, P = 50. Offer A (AAA): ĉ = 10, capacity 100. Offer B (BBB): ĉ = 10,
    capacity 100, reserve price 2. Stock: k = 1. Scenario `cut` (π = 0.2): AAA delivers
    75 % (capacity factor 0.75); baseline π = 0.8."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0)
    b = Offer("B", "m", "BBB", "BBB", unit_cost=10.0, capacity=100.0, reserve_cost=2.0)
    instance = Instance(
        materials=(Material("m", "t", demand=100.0, shortage_penalty=50.0,
                            stockpile_cost=1.0),),
        countries=(Country("AAA"), Country("BBB")), offers=(a, b),
        scenario_rows=(Scenario("cut", 0.2, (ScenarioHit("AAA", "*", 0.75),), row=2),))
    return instance, a, b


@pytest.mark.parametrize("held,drawn,called,short", [
    # stock alone could cover more than was lost: it covers the 20 lost, no more
    (35.0, 20.0, 0.0, 20.0),
    # stock 15 of the 20 lost, backup the other 5, the gap of orders not placed is short
    (15.0, 15.0, 5.0, 20.0),
])
def test_stock_and_backup_cover_only_what_was_lost(held, drawn, called, short):
    """Plan: x_A = 80 (20 below demand), r_B = 30 (B contracted, x_B = 0), stock h.

    In `cut`: delivered 0.75 · 80 = 60, lost ℓ = 20, need 40. Recourse may cover
    min(40, 20) = 20: stock first, w = min(h, 20); then backup B (10 < 50) up to 20 − w;
    the rest of the need is short: u = 40 − 20 = 20 either way.
    h = 35: w = 20, e = 0, u = 20, R = 20 · 50 = 1000 (v1: w = 20, e = 20, u = 0, R = 200).
    h = 15: w = 15, e = 5, u = 20, R = 5 · 10 + 1000 = 1050 (v1: e = 25, R = 250).
    Baseline: need 20, nothing lost, u = 20, R = 1000.
    F = 80 · 10 + 30 · 2 + h; objective = F + 0.2 R_cut + 0.8 · 1000."""
    instance, a, b = _lost_instance()
    plan = [_line(a, 80.0), _line(b, 0.0, 30.0)]
    for v in _both(instance, plan, {"m": held}):
        assert v.ok, v.problems
        cut, base = v.scenarios
        assert cut.scenario == "cut"
        assert cut.stock_drawn == {"m": drawn}
        assert cut.backup_called == {"m": called}
        assert cut.shortage == {"m": short}
        assert cut.recourse_cost == pytest.approx(called * 10.0 + short * 50.0)
        assert (base.shortage, base.stock_drawn, base.backup_called) == (
            {"m": 20.0}, {"m": 0.0}, {"m": 0.0})
        assert base.recourse_cost == 1000.0
        assert v.first_stage_cost == 860.0 + held
        assert v.objective == pytest.approx(
            860.0 + held + 0.2 * (called * 10.0 + short * 50.0) + 0.8 * 1000.0)


def test_a_full_order_is_still_backed_up_in_full():
    """Not everything changed: x_A = 100 (demand met), r_B = 30, no stock. In `cut`,
    delivered 75, lost 25 = need: backup B covers all 25 at 10 → R = 250, no shortage;
    baseline R = 0. Objective = 1000 + 60 + 0.2 · 250 = 1110."""
    instance, a, b = _lost_instance()
    for v in _both(instance, [_line(a, 100.0), _line(b, 0.0, 30.0)], {}):
        assert v.ok, v.problems
        cut, base = v.scenarios
        assert (cut.backup_called, cut.shortage, cut.recourse_cost) == (
            {"m": 25.0}, {"m": 0.0}, 250.0)
        assert base.recourse_cost == 0.0
        assert v.objective == pytest.approx(1110.0)


def test_settings_are_respected_in_the_hand_cases():
    """Guard for the hand cases above: with λ = 1 the objective is F + CVaR. In the case
    x_A = 80, r_B = 30, h = 0: R_cut = 20 · 10 (backup up to ℓ = 20) + 20 · 50 = 1200,
    R_base = 1000; at α = 0.9 the worst 10 % is all `cut`: CVaR = 1200.
    Objective = 860 + 1200 = 2060."""
    instance, a, b = _lost_instance()
    instance = Instance(instance.materials, instance.countries, instance.offers,
                        scenario_rows=instance.scenario_rows,
                        settings=Settings(risk_aversion=1.0, cvar_alpha=0.9))
    for v in _both(instance, [_line(a, 80.0), _line(b, 0.0, 30.0)], {}):
        cut, _ = v.scenarios
        assert cut.recourse_cost == 1200.0
        assert v.cvar == pytest.approx(1200.0)
        assert v.objective == pytest.approx(2060.0)


# ---- §7: a planning horizon ------------------------------------------------------------

def _horizon(materials, countries, offers, ids, *, policies=(), scenario_rows=(),
             demand_rows=(), weights=None, settings=None) -> Instance:
    return Instance(
        materials=tuple(materials), countries=tuple(Country(c) for c in countries),
        offers=tuple(offers), policies=tuple(policies), scenario_rows=tuple(scenario_rows),
        settings=settings or Settings(), demand_rows=tuple(demand_rows),
        periods=tuple(Period(t, None if weights is None else weights[i], row=i + 2)
                      for i, t in enumerate(ids)))


def _project_case():
    """Periods P0, P1, P2 (δ = 1). Material m: D = 10 in each, P = 100. Offer `old`
    (BBB): ĉ = 20, capacity 10. Project `new` (AAA): ĉ = 5, capacity 10, capex 50,
    lead time 1. Baseline only."""
    old = Offer("old", "m", "BBB", "BBB", unit_cost=20.0, capacity=10.0, row=2)
    new = Offer("new", "m", "AAA", "AAA", unit_cost=5.0, capacity=10.0, row=3, capex=50.0,
                lead_time=1)
    instance = _horizon([Material("m", "t", demand=10.0, shortage_penalty=100.0)],
                        ["AAA", "BBB"], [old, new], ["P0", "P1", "P2"])
    return instance, old, new


def _built(offer, period, online_from, capex=50.0):
    return Investment(offer.supplier, offer.material, offer.country,
                      offer.processing_country, period, online_from, capex, offer.capacity)


def test_a_project_delivers_only_once_online():
    """Built in P0 with lead time 1, `new` is online from P1. Plan: `old` 10 in P0, `new`
    10 in P1 and P2. F_P0 = 10 · 20 + capex 50 = 250, F_P1 = F_P2 = 10 · 5 = 50; nothing
    is short: objective = 350, of which capex 50. The same plan with a line for `new` in P0
    (before it is online), or without the build, or built only in P1 (online from P2, so
    the P1 line is early), is a problem."""
    instance, old, new = _project_case()
    plan = [_line(old, 10.0, period="P0"), _line(new, 10.0, period="P1"),
            _line(new, 10.0, period="P2")]
    build = (_built(new, "P0", "P1"),)
    for v in _both(instance, plan, {}, investments=build):
        assert v.ok, v.problems
        assert [p.first_stage_cost for p in v.periods] == [250.0, 50.0, 50.0]
        assert [p.capex_cost for p in v.periods] == [50.0, 0.0, 0.0]
        assert v.capex_cost == 50.0
        assert v.first_stage_cost == 350.0 and v.objective == 350.0

    early = [*plan, _line(new, 0.0, period="P0")]  # a contract before it is online
    for v in _both(instance, early, {}, investments=build):
        assert v.problems == ("Suppliers row 3 (new, m) in P0: used before the project is "
                              "online",)
    for v in _both(instance, plan, {}):  # never built
        assert len(v.problems) == 2 and all("before the project is online" in p
                                            for p in v.problems)
    for v in _both(instance, plan, {}, investments=(_built(new, "P1", "P2"),)):
        assert v.problems == ("Suppliers row 3 (new, m) in P1: used before the project is "
                              "online",)
        assert v.capex_cost == 50.0 and v.periods[1].capex_cost == 50.0


def test_a_project_is_built_once_inside_its_window():
    """Built twice: a problem (and both capex paid). Built in P2: online only in P3,
    past the horizon. With available_from P1, a build in P0 is too early. A wrong
    online_from or capex on the investment is a problem too (the verifier recomputes
    them from the offer)."""
    instance, old, new = _project_case()
    plan = [_line(old, 10.0, period="P0"), _line(new, 10.0, period="P1"),
            _line(new, 10.0, period="P2")]
    for v in _both(instance, plan, {},
                   investments=(_built(new, "P0", "P1"), _built(new, "P0", "P1"))):
        assert v.problems == ("Suppliers row 3 (new, m): built more than once",)
        assert v.capex_cost == 100.0
    for v in _both(instance, [_line(old, 10.0, period=t) for t in ("P0", "P1", "P2")], {},
                   investments=(_built(new, "P2", "P3"),)):
        assert v.problems == ("Suppliers row 3 (new, m): built in P2, online only after "
                              "its last period P2",)
    late = dataclasses.replace(instance, offers=(old, dataclasses.replace(
        new, available_from="P1")))
    for v in _both(late, plan, {}, investments=(_built(new, "P0", "P1"),)):
        assert v.problems == ("Suppliers row 3 (new, m): built in P0, before its "
                              "available_from P1",)
    for v in _both(instance, plan, {}, investments=(_built(new, "P0", "P2", capex=40.0),)):
        assert v.problems == (
            "Suppliers row 3 (new, m): online_from P2, but built in P0 with lead time 1 "
            "it is P1",
            "Suppliers row 3 (new, m): capex 40, the offer's is 50")


def test_lines_only_inside_the_offers_window():
    """`old` sells only until P1: a line in P2 is a problem, an uncontracted empty one is
    not."""
    instance, old, new = _project_case()
    short = dataclasses.replace(old, available_until="P1")
    instance = dataclasses.replace(instance, offers=(short, new))
    for v in _both(instance, [_line(short, 10.0, period="P2")], {}):
        assert v.problems == ("Suppliers row 2 (old, m) in P2: used outside its window P0 "
                              "to P1",)
    for v in _both(instance, [_line(short, 0.0, contracted=False, period="P2")], {}):
        assert v.ok, v.problems


def test_stock_filled_over_periods():
    """Periods Y1, Y2, Y3 (δ = 1). Material m: D = 100, P = 50, carrying k = 2, cap 40,
    initial stock H = 10, stock price s = 3. Offer A (AAA): ĉ = 10, x = 100 each period.
    Stock levels h = 30, 25, 40: added g = max(0, h_t − h_{t−1}) with h_{−1} = H:
    20, 0, 15. Carrying k h: 60, 50, 80; filling s g: 60, 0, 45.
    F = 1000 + 60 + 60 = 1120, 1000 + 50 + 0 = 1050, 1000 + 80 + 45 = 1125; Σ = 3295.
    Scenario `cut` only in Y2 (π = 0.1): AAA at 50 %: lost 50 = need, stock draws
    min(25, 50) = 25, 25 short: R = 1250, E_Y2 = 125. Objective = 3295 + 125 = 3420."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0, row=2)
    m = Material("m", "t", demand=100.0, shortage_penalty=50.0, stockpile_cost=2.0,
                 max_stockpile=40.0, initial_stock=10.0, stock_price=3.0)
    instance = _horizon([m], ["AAA"], [a], ["Y1", "Y2", "Y3"], scenario_rows=[
        Scenario("cut", 0.1, (ScenarioHit("AAA", "*", 0.5),), row=2, period="Y2")])
    plan = [_line(a, 100.0, period=t) for t in ("Y1", "Y2", "Y3")]
    levels = {"m": {"Y1": 30.0, "Y2": 25.0, "Y3": 40.0}}
    for v in _both(instance, plan, {}, stock_levels=levels):
        assert v.ok, v.problems
        assert [p.stock_added for p in v.periods] == [{"m": 20.0}, {"m": 0.0}, {"m": 15.0}]
        assert [p.stock_cost for p in v.periods] == [60.0, 50.0, 80.0]
        assert [p.stock_purchase_cost for p in v.periods] == [60.0, 0.0, 45.0]
        assert [p.first_stage_cost for p in v.periods] == [1120.0, 1050.0, 1125.0]
        assert (v.stock_cost, v.stock_purchase_cost) == (190.0, 105.0)
        assert v.first_stage_cost == 3295.0
        assert [[(s.scenario, s.probability) for s in p.scenarios] for p in v.periods] == [
            [("baseline", 1.0)], [("cut", 0.1), ("baseline", 0.9)], [("baseline", 1.0)]]
        cut = v.periods[1].scenarios[0]
        assert (cut.period, cut.stock_drawn, cut.shortage, cut.recourse_cost) == (
            "Y2", {"m": 25.0}, {"m": 25.0}, 1250.0)
        assert v.periods[1].expected_recourse_cost == pytest.approx(125.0)
        assert v.objective == pytest.approx(3420.0)
        assert v.stock_levels == levels
        assert [s.period for s in v.scenarios] == ["Y1", "Y2", "Y2", "Y3"]


def test_stock_limits_per_period_and_initial_stock_beyond_the_cap():
    """Initial stock H = 60 above the cap 40 is lost at no cost: holding 40 in Y1 adds
    g = max(0, 40 − 60) = 0. Holding 45 in Y2 breaks the cap; stock of a material
    without a stockpile cost is a problem in the period it is held."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0, row=2)
    m = Material("m", "t", demand=100.0, shortage_penalty=50.0, stockpile_cost=2.0,
                 max_stockpile=40.0, initial_stock=60.0, stock_price=3.0)
    n = Material("n", "t", demand=10.0, shortage_penalty=50.0)
    instance = _horizon([m, n], ["AAA"], [a], ["Y1", "Y2"])
    plan = [_line(a, 100.0, period=t) for t in ("Y1", "Y2")]
    for v in _both(instance, plan, {},
                   stock_levels={"m": {"Y1": 40.0, "Y2": 45.0}, "n": {"Y2": 1.0}}):
        assert v.problems == ("m in Y2: stock 45 exceeds max_stockpile 40",
                              "n in Y2: stock held without a stockpile cost")
        assert [p.stock_added["m"] for p in v.periods] == [0.0, 5.0]
        assert [p.stock_purchase_cost for p in v.periods] == [0.0, 15.0]


def _spot_case(surge: float, exclude: bool = False):
    """One period (no Periods sheet). D = 100, P = 100. A (AAA): ĉ 10, x = 100.
    B (BBB): ĉ 40, reserve price 1, r = 20 (contracted, x = 0). C (CCC): ĉ 30, spot
    capacity 30, no contract. Scenario `cut` (π = 0.5, surge as given): AAA at 60 %.
    F = 1000 + 20 = 1020."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0, row=2)
    b = Offer("B", "m", "BBB", "BBB", unit_cost=40.0, capacity=50.0, reserve_cost=1.0,
              row=3)
    c = Offer("C", "m", "CCC", "CCC", unit_cost=30.0, capacity=50.0, spot_capacity=30.0,
              row=4)
    rules = (Policy("exclude", "*", "CCC", "country", "both", None, row=2),) if exclude \
        else ()
    instance = Instance(
        materials=(Material("m", "t", demand=100.0, shortage_penalty=100.0),),
        countries=(Country("AAA"), Country("BBB"), Country("CCC")), offers=(a, b, c),
        policies=rules,
        scenario_rows=(Scenario("cut", 0.5, (ScenarioHit("AAA", "*", 0.6),), row=2,
                                price_surge=surge),))
    return instance, [_line(a, 100.0), _line(b, 0.0, 20.0)]


@pytest.mark.parametrize("surge,exclude,spot,backup,short,cost", [
    # spot at 30 below backup at 40: 30 spot (900), then 10 backup (400)
    (0.0, False, 30.0, 10.0, 0.0, 1300.0),
    # spot at 45 above backup at 40: 20 backup (800), then 20 spot (900)
    (0.5, False, 20.0, 20.0, 0.0, 1700.0),
    # spot at 120 above the penalty 100: 20 backup (800), 20 short (2000)
    (3.0, False, 0.0, 20.0, 20.0, 2800.0),
    # C excluded: no spot either, as with the surge of 3
    (0.0, True, 0.0, 20.0, 20.0, 2800.0),
])
def test_spot_at_a_surge_against_backup_and_shortage(surge, exclude, spot, backup, short,
                                                      cost):
    """In `cut`: delivered 60, lost 40 = need. Stock none; then the cheapest of backup B
    (ĉ 40, up to a r = 20) and spot C (ĉ (1 + surge) = 30 (1 + surge), up to a V = 30)
    below the penalty 100, up to the 40 lost; the rest short. Baseline: R = 0.
    Objective = 1020 + 0.5 R_cut."""
    instance, plan = _spot_case(surge, exclude)
    for v in _both(instance, plan, {}):
        assert v.ok, v.problems
        cut = v.periods[0].scenarios[0]
        assert (cut.scenario, cut.price_surge) == ("cut", surge)
        assert cut.spot_bought == {"m": spot}
        assert cut.backup_called == {"m": backup}
        assert cut.shortage == {"m": short}
        assert cut.recourse_cost == cost
        assert v.scenarios[0].recourse_cost == cost  # the v1 field agrees
        assert v.objective == 1020.0 + 0.5 * cost


def test_spot_only_from_offers_in_their_window_and_online():
    """Over two periods Q1, Q2 (δ = 1) with `cut` in both: C sells spot only from Q2
    (available_from), so in Q1 the 40 lost are covered by backup 20 and 20 short (2800);
    in Q2 by spot 30 and backup 10 (1300), as in the one-period case."""
    instance, plan = _spot_case(0.0)
    a, b, c = instance.offers
    instance = dataclasses.replace(
        instance, periods=(Period("Q1"), Period("Q2")),
        offers=(a, b, dataclasses.replace(c, available_from="Q2")))
    plan = [dataclasses.replace(line, period=t) for t in ("Q1", "Q2") for line in plan]
    for v in _both(instance, plan, {}):
        assert v.ok, v.problems
        q1, q2 = (p.scenarios[0] for p in v.periods)
        assert (q1.spot_bought, q1.recourse_cost) == ({"m": 0.0}, 2800.0)
        assert (q2.spot_bought, q2.recourse_cost) == ({"m": 30.0}, 1300.0)


@pytest.mark.policy_rule("max_country_share")
@pytest.mark.parametrize("rule,stage,problem", [
    ("max_country_share", "owner",
     "Policies row 2 (cap): m owner CCC is 0.7, limit 0.5"),
    ("exclude", "owner", "Policies row 2 (cap): Suppliers row 2 (A, m) is excluded but used"),
    ("max_country_share", "origin", None),  # CCC owns but does not produce: no share
    ("max_country_share", "both", None),
])
def test_an_owner_stage_policy(rule, stage, problem):
    """D = 100. A (origin AAA, owned by CCC): x = 70. B (origin BBB, owner blank = BBB):
    x = 30. Owner shares: CCC 0.7, BBB 0.3; HHI 10,000 (0.49 + 0.09) = 5800. Origin
    shares: AAA 0.7, BBB 0.3, no CCC. A cap of 50 % on CCC at the owner stage is broken,
    at the origin (or `both`: origin and processing) it is not. `hhi` shows the owner
    stage because an offer has an owner_country."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0, row=2,
              owner_country="CCC")
    b = Offer("B", "m", "BBB", "BBB", unit_cost=10.0, capacity=100.0, row=3)
    policy = Policy(rule, "*", "CCC", "country", stage, None if rule == "exclude" else 0.5,
                    name="cap", row=2)
    instance = Instance(
        materials=(Material("m", "t", demand=100.0, shortage_penalty=50.0),),
        countries=(Country("AAA"), Country("BBB"), Country("CCC")), offers=(a, b),
        policies=(policy,), scenario_rows=())
    for v in _both(instance, [_line(a, 70.0), _line(b, 30.0)], {}):
        assert v.problems == (() if problem is None else (problem,))
        assert v.shares["m"]["owner"] == {"CCC": 0.7, "BBB": 0.3}
        assert v.hhi["m"]["owner"] == pytest.approx(5800.0)
        assert list(v.hhi["m"]) == ["origin", "processing", "owner"]


@pytest.mark.policy_rule("max_country_share")
def test_a_cap_from_a_later_period():
    """Periods 2026, 2027, 2028; D = 100, except D_{m,2028} = 0. A (CHN): x = 80 and
    B (AUS): x = 20 in 2026 and 2027, nothing in 2028. A 65 % cap on CHN from 2027: in
    2026 it does not apply (no check, no problem), in 2027 it is broken (0.8), in 2028
    the material has no demand, so no shares and no check. A firm order in 2028 would
    break the rule of no orders without demand."""
    a = Offer("A", "m", "CHN", "CHN", unit_cost=10.0, capacity=100.0, row=2)
    b = Offer("B", "m", "AUS", "AUS", unit_cost=20.0, capacity=100.0, row=3)
    cap = Policy("max_country_share", "*", "CHN", "country", "both", 0.65, name="CRMA",
                 row=2, from_period="2027")
    instance = _horizon([Material("m", "t", demand=100.0, shortage_penalty=50.0)],
                        ["CHN", "AUS"], [a, b], ["2026", "2027", "2028"], policies=[cap],
                        demand_rows=[DemandRow("m", "2028", 0.0)])
    plan = [_line(o, x, period=t) for t in ("2026", "2027") for o, x in ((a, 80.0),
                                                                          (b, 20.0))]
    for v in _both(instance, plan, {}):
        assert v.problems == (
            "Policies row 2 (CRMA): m in 2027 origin CHN is 0.8, limit 0.65",
            "Policies row 2 (CRMA): m in 2027 processing CHN is 0.8, limit 0.65")
        assert [(c.period, c.stage, c.achieved, c.satisfied) for c in v.policies] == [
            ("2027", "origin", 0.8, False), ("2027", "processing", 0.8, False)]
        assert v.hhi_by_period["m"]["origin"] == {"2026": pytest.approx(6800.0),
                                                  "2027": pytest.approx(6800.0)}
        assert v.periods[2].shares == {} and v.periods[2].demand == {"m": 0.0}
        assert v.shares["m"] == {"origin": {}, "processing": {}}  # the last period's
        assert v.periods[2].expected_shortage == {"m": 0.0}
    for v in _both(instance, [*plan, _line(a, 5.0, period="2028")], {}):
        assert "m in 2028: firm orders 5 in a period without demand" in v.problems


@pytest.mark.parametrize("weights,discount,expected", [
    (None, 0.0, (1.0, 1.0, 1.0)),
    (None, 0.1, (1.0, 1 / 1.1, 1 / 1.21)),
    ((1.0, 0.5, 0.25), 0.1, (1.0, 0.5, 0.25)),  # the sheet's weights win
    ((None, 2.0, None), 0.1, (1.0, 2.0, 1 / 1.21)),  # a blank weight is discounted
])
def test_period_weights_and_discount_rate(weights, discount, expected):
    """T0, T1, T2; D = 10, P = 50. A (AAA): ĉ 10, x = 8 each period: F_t = 80, and in
    baseline (π = 1) 2 short, R_t = 100; with λ = 0.5 the CVaR of one outcome is R_t too.
    δ_t: the weight given, else (1 + r)^(−t). first = 80 Σδ, expected = 100 Σδ,
    cvar = 100 Σδ, objective = 80 Σδ + 0.5 · 100 Σδ + 0.5 · 100 Σδ = 180 Σδ."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=100.0, row=2)
    instance = _horizon([Material("m", "t", demand=10.0, shortage_penalty=50.0)], ["AAA"],
                        [a], ["T0", "T1", "T2"], weights=weights,
                        settings=Settings(discount_rate=discount, risk_aversion=0.5))
    plan = [_line(a, 8.0, period=t) for t in ("T0", "T1", "T2")]
    total = sum(expected)
    for v in _both(instance, plan, {}):
        assert v.ok, v.problems
        assert [p.weight for p in v.periods] == pytest.approx(list(expected))
        assert [p.objective for p in v.periods] == [180.0] * 3
        assert v.first_stage_cost == pytest.approx(80.0 * total)
        assert v.expected_recourse_cost == pytest.approx(100.0 * total)
        assert v.cvar == pytest.approx(100.0 * total)
        assert v.objective == pytest.approx(180.0 * total)
        assert v.expected_shortage == {"m": 6.0}  # units over the horizon, not weighted


def test_one_period_keeps_the_v1_shape():
    """Without a Periods sheet: `scenarios` holds plain ScenarioCheck (the v1 JSON), one
    PeriodCheck with id "", `stock_levels` read from `stockpile` or given explicitly, the
    same figures either way; `hhi` has no owner stage when no offer has an owner."""
    instance, a, b = _lost_instance()
    plan = [_line(a, 80.0), _line(b, 0.0, 30.0)]
    v = verify(instance, tuple(plan), {"m": 15.0})
    assert all(type(s) is ScenarioCheck for s in v.scenarios)
    assert [p.period for p in v.periods] == [""]
    assert v.periods[0].scenarios[0].backup_called == v.scenarios[0].backup_called
    assert v.stock_levels == {"m": {"": 15.0}}
    assert list(v.hhi["m"]) == ["origin", "processing"]
    w = verify(instance, tuple(plan), {}, stock_levels={"m": {"": 15.0}})
    assert (w.objective, w.problems) == (v.objective, v.problems)
    assert [p.policy_row for p in v.policies] == []
