"""SPEC §7 families and rules on tiny horizons whose optimum is derived by hand.

Each test builds the instance from domain objects, solves it with `solve_case` (the
model, the solver, the independent verifier) on every solver path, and checks the
optimum the docstring derives plus the decisions that make it. Notation as in SPEC §7:
δ_t period weight, D demand, P shortage penalty, ĉ landed cost, H initial stock, s stock
price, k carrying cost, V spot capacity, L lead time.
"""

from __future__ import annotations

import dataclasses

import pytest
from solvers import current_solver, solver_path  # noqa: F401 - the fixture

from resilience.api import SolveResult, solve_case
from resilience.domain import (
    Country,
    Instance,
    Material,
    Offer,
    Period,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
)

pytestmark = pytest.mark.usefixtures("solver_path")


def approx(value: float):
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def solve(instance: Instance) -> SolveResult:
    settings = dataclasses.replace(instance.settings, mip_gap=0.0)
    result = solve_case(dataclasses.replace(instance, settings=settings),
                        solver=current_solver())
    assert result.verification.ok, result.verification.problems
    assert result.solution.objective == approx(result.verification.objective)
    return result


def quantity(result: SolveResult, supplier: str, period: str) -> float:
    return sum(line.quantity for line in result.solution.plan
               if line.supplier == supplier and line.period == period)


THREE = (Period("2026"), Period("2027"), Period("2028"))
TWO = (Period("t0"), Period("t1"))


def project_case(lead_time: int, capex: float) -> Instance:
    return Instance(
        materials=(Material("ga", "t", 100, 1000),),
        countries=(Country("AAA"), Country("BBB")),
        offers=(Offer("a", "ga", "AAA", "AAA", 10, 100),
                Offer("p", "ga", "BBB", "BBB", 4, 100, capex=capex, lead_time=lead_time)),
        scenario_rows=(), periods=THREE)


@pytest.mark.parametrize(("lead_time", "capex", "objective", "online_from"), [
    (1, 300, 2100, "2027"), (2, 300, 2700, "2028"), (2, 700, 3000, None)])
def test_a_project_pays_only_once_it_can_deliver(lead_time, capex, objective, online_from):
    """D = 100 in each of 3 periods (δ = 1), baseline only. a: ĉ = 10, U = 100. Project
    p: ĉ = 4, U = 100, capex paid once when the build starts.

    L = 1: built in 2026, online 2027 and 2028: saves 6 · 100 · 2 = 1,200 > 300:
           1,000 + 400 + 400 + 300 = 2,100.
    L = 2: online only in 2028: saves 600 > 300: 1,000 + 1,000 + 400 + 300 = 2,700.
    L = 2, capex 700: saves 600 < 700: never built, 3 · 1,000 = 3,000.
    """
    result = solve(project_case(lead_time, capex))
    assert result.solution.objective == approx(objective)
    built = result.solution.investments
    if online_from is None:
        assert built == ()
        assert quantity(result, "p", "2028") == 0
    else:
        assert [(i.supplier, i.period, i.online_from) for i in built] == [
            ("p", "2026", online_from)]
        assert quantity(result, "p", online_from) == approx(100)
        assert quantity(result, "a", online_from) == approx(0)
    assert result.verification.capex_cost == approx(capex if online_from else 0)


def test_a_project_built_late_when_its_window_opens_late():
    """As above with L = 1 and capex 300, but the project's build can only start in
    2027 (available_from): online 2028 only: 1,000 + 1,000 + 400 + 300 = 2,700, built in
    2027."""
    case = project_case(1, 300)
    late = dataclasses.replace(case.offers[1], available_from="2027")
    result = solve(dataclasses.replace(case, offers=(case.offers[0], late)))
    assert result.solution.objective == approx(2700)
    assert [(i.period, i.online_from) for i in result.solution.investments] == [
        ("2027", "2028")]


def stock_case(**material) -> Instance:
    return Instance(
        materials=(Material("ga", "t", 100, 1000, **material),),
        countries=(Country("AAA"),),
        offers=(Offer("a", "ga", "AAA", "AAA", 10, 100),),
        scenario_rows=(Scenario("stop", 0.5, (ScenarioHit("AAA", "*", 0.0),),
                                period="t1"),),
        periods=TWO)


def test_stock_is_filled_over_the_periods_from_what_is_on_hand():
    """D = 100, P = 1,000 in t0 and t1; a: ĉ = 10, the only supplier. Scenario `stop`
    (AAA lost, π = 0.5) only in t1. Stock: k = 1 per unit held per period, s = 5 per
    unit added, H = 30 on hand, S = 50.

    Stock is worth 0.5 · 1,000 = 500 a unit in t1 (it replaces a lost unit), so
    h_t1 = S = 50. Cheapest way there: keep the 30 on hand through t0 (holding 30) and
    add 20 in t1 (20 · 5 = 100), holding 50 in t1 (50): 180 in all. (Dropping the
    initial stock and buying 50 in t1 would cost 250 + 50 = 300.)
    Firm: 1,000 + 1,000. t1 `stop`: 100 lost, 50 drawn, 50 short: 50,000 · 0.5 = 25,000.
    Objective 2,000 + 180 + 25,000 = 27,180.
    """
    result = solve(stock_case(stockpile_cost=1.0, max_stockpile=50, initial_stock=30,
                              stock_price=5))
    assert result.solution.objective == approx(27_180)
    assert result.solution.stock_levels == {"ga": {"t0": approx(30), "t1": approx(50)}}
    check = result.verification
    assert check.stock_purchase_cost == approx(100)
    assert [p.stock_added["ga"] for p in check.periods] == [approx(0), approx(20)]


def test_initial_stock_beyond_the_cap_is_lost_and_costs_nothing():
    """As above with H = 80 > S = 50: h stays within its cap; the 30 above it are lost
    at no cost. Keep 50 through both periods (no stock bought): 50 + 50 holding, so
    2,000 + 100 + 25,000 = 27,100."""
    result = solve(stock_case(stockpile_cost=1.0, max_stockpile=50, initial_stock=80,
                              stock_price=5))
    assert result.solution.objective == approx(27_100)
    assert result.verification.stock_purchase_cost == approx(0)


def spot_case(surge: float) -> Instance:
    return Instance(
        materials=(Material("ga", "t", 100, 1000),),
        countries=(Country("AAA"), Country("BBB"), Country("CCC")),
        offers=(Offer("a", "ga", "AAA", "AAA", 10, 100),
                Offer("b", "ga", "BBB", "BBB", 20, 0, spot_capacity=60),
                Offer("c", "ga", "CCC", "CCC", 25, 100, reserve_cost=4)),
        scenario_rows=(Scenario("stop", 0.5, (ScenarioHit("AAA", "*", 0.0),),
                                price_surge=surge),),
        periods=(Period("2026"),))


@pytest.mark.parametrize(("surge", "objective", "from_a", "spot"), [
    (0.4, 2_440, 60, 60), (1.0, 2_500, 0, 0)])
def test_spot_at_a_surge_against_reserve_and_diversifying(surge, objective, from_a, spot):
    """D = 100, P = 1,000. a: AAA, ĉ = 10; c: CCC, ĉ = 25 with reserve at ρ = 4;
    b: BBB sells only spot, V = 60 at 20 (1 + surge). Scenario `stop` loses AAA, π = 0.5.

    Each unit ordered from a instead of c saves 15, and is lost in `stop`; there it can
    be replaced by spot (0.5 · 20 (1 + surge) expected), by reserve on c (4 + 0.5 · 25 =
    16.5), or go short (500).
    surge 0.4: spot costs 0.5 · 28 = 14 < 15 for the first 60 lost units; the rest is
    cheaper bought firm from c (15 < 16.5): x_a = 60, x_c = 40, spot 60 in `stop`:
    600 + 1,000 + 0.5 · 60 · 28 = 2,440; no reserve.
    surge 1.0: spot 0.5 · 40 = 20 > 15, reserve 16.5 > 15: all from c, 2,500.
    """
    result = solve(spot_case(surge))
    assert result.solution.objective == approx(objective)
    assert quantity(result, "a", "2026") == approx(from_a)
    assert all(line.reserve == approx(0) for line in result.solution.plan)
    stop = next(s for s in result.verification.scenarios if s.scenario == "stop")
    assert stop.spot_bought["ga"] == approx(spot)


def owner_case(policy: Policy) -> Instance:
    return Instance(
        materials=(Material("ga", "t", 100, 1000),),
        countries=(Country("AAA"), Country("BBB"), Country("CHN")),
        offers=(Offer("a", "ga", "AAA", "AAA", 10, 100, owner_country="CHN",
                      spot_capacity=100),
                Offer("c", "ga", "BBB", "BBB", 12, 100)),
        policies=(policy,),
        scenario_rows=(Scenario("c_stop", 0.1, (ScenarioHit("BBB", "*", 0.0),)),),
        periods=TWO)


@pytest.mark.policy_rule("exclude")
def test_an_owner_stage_exclusion_removes_a_refinery_owned_abroad():
    """a sits in AAA but is owned from CHN; exclude CHN at the owner stage. D = 100 in
    t0 and t1. Without the rule a (ĉ 10) would carry everything; with it only c (ĉ 12)
    is left: 1,200 a period. In scenario c_stop (π = 0.1) c is lost and a, though it
    has spot capacity, is excluded and sells none: 100 short at 1,000 · 0.1 = 10,000 a
    period. Objective 2 · (1,200 + 10,000) = 22,400."""
    result = solve(owner_case(Policy("exclude", "ga", "CHN", "country", "owner", None)))
    assert result.solution.objective == approx(22_400)
    assert quantity(result, "a", "t0") == 0 and quantity(result, "a", "t1") == 0
    assert all(s.spot_bought["ga"] == 0 for s in result.verification.scenarios)


@pytest.mark.policy_rule("max_country_share")
def test_a_cap_from_a_later_period_binds_only_then():
    """CHN (owner stage) ≤ 50 % from t1 on. Baseline π = 0.9, c_stop π = 0.1 (c lost;
    a sells spot at ĉ 10 then, no surge).
    t0: all from a (10 · 100 = 1,000); nothing of c is at risk.
    t1: a ≤ 50: 500 + 600 = 1,100; in c_stop 50 lost, bought spot from a at 10:
        0.1 · 500 = 50. Objective 1,000 + 1,150 = 2,150."""
    cap = Policy("max_country_share", "ga", "CHN", "country", "owner", 0.5,
                 from_period="t1")
    result = solve(owner_case(cap))
    assert result.solution.objective == approx(2_150)
    assert quantity(result, "a", "t0") == approx(100)
    assert quantity(result, "a", "t1") == approx(50)
    costs = [c for c in result.solution.policy_costs if c.rule == "max_country_share"]
    assert [c.period for c in costs] == ["t1"]
    assert costs[0].binding


def weighted_case(**settings) -> Instance:
    return Instance(
        materials=(Material("ga", "t", 100, 1000),),
        countries=(Country("AAA"), Country("BBB")),
        offers=(Offer("a", "ga", "AAA", "AAA", 10, 100),
                Offer("p", "ga", "BBB", "BBB", 4, 100, capex=500, lead_time=1)),
        scenario_rows=(), settings=Settings(**settings), periods=THREE)


@pytest.mark.parametrize(("periods", "rate", "objective", "built"), [
    (THREE, 0.0, 2_300, True),
    (THREE, 1.0, 1_750, False),
    (THREE, 3.0, 1_312.5, False),
    ((Period("2026", 1.0), Period("2027", 1.0), Period("2028", 0.25)), 3.0, 2_000, True),
])
def test_weights_and_the_discount_rate(periods, rate, objective, built):
    """3 periods, D = 100; a: ĉ 10; project p: ĉ 4, capex 500 paid in 2026 (δ = 1),
    L = 1, so online 2027 and 2028, where it saves 600 a period, weighted.

    rate 0 (δ 1, 1, 1): saves 1,200 > 500: 1,000 + 500 + 400 + 400 = 2,300.
    rate 1 (δ 1, 1/2, 1/4): saves 600 · 0.75 = 450 < 500: no build,
        1,000 + 500 + 250 = 1,750.
    rate 3 (δ 1, 1/4, 1/16): saves 187.5: no build, 1,000 + 250 + 62.5 = 1,312.5.
    Weights 1, 1, 0.25 given on the Periods sheet override the rate 3: saves
        600 + 150 = 750 > 500: 1,000 + 500 + 400 + 100 = 2,000.
    """
    result = solve(dataclasses.replace(weighted_case(discount_rate=rate), periods=periods))
    assert result.solution.objective == approx(objective)
    assert bool(result.solution.investments) == built
