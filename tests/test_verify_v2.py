"""The independent verifier against SPEC v2, on tiny instances whose figures are derived
by hand in each test's docstring. Each case is also run through the plain-loop oracle
(tests/verify_reference.py), which must agree with the hand figures too.

§3 (v2): whatever is bought or drawn in a scenario only replaces supply lost in it,
Σ_o e_{o,k} + w_{m,k} ≤ ℓ_{m,k} = Σ_o (1 − a_{o,k}) x_o.
"""

from __future__ import annotations

import pytest
import verify_reference

from resilience.domain import (
    Country,
    Instance,
    Material,
    Offer,
    PlanLine,
    Scenario,
    ScenarioHit,
    Settings,
)
from resilience.verify import verify


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
