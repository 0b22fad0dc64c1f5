"""Every constraint family of SPEC §3 on a tiny instance whose optimum is derived by hand.

Each test writes a workbook in tmp_path, then goes the whole way: `load` (the reader and
validator) → `prepare_case` → `solve_case` (model, HiGHS, independent verifier). The
docstring of each test holds the hand derivation; the asserts check the optimal value,
the plan quantities that decide it, and the verifier's cost breakdown.

Notation as in SPEC §3: D demand, P shortage penalty, ĉ landed unit cost, π scenario
probability, R_k recourse cost of scenario k, F first-stage cost.
"""

from __future__ import annotations

import pytest
from builders import country, material, offer, write_workbook
from solvers import current_solver, solver_path  # noqa: F401 - the fixture

from resilience.api import SolveResult, solve_case
from resilience.cases import prepare_case
from resilience.errors import InputError
from resilience.validate import load

REL = 1e-6


# Every hand-derived optimum must come out of every solver path.
pytestmark = pytest.mark.usefixtures("solver_path")


SOLVER = "highs"


def solve_book(tmp_path, sheets: dict, **case) -> SolveResult:
    """Workbook → load → prepare_case → solve_case, at a zero MIP gap so the optimum the
    docstrings derive is the one the solver must return."""
    path = write_workbook(tmp_path / "book.xlsx", sheets)
    case.setdefault("mip_gap", 0.0)
    return solve_case(prepare_case(load(path), **case), solver=current_solver())


def line(result: SolveResult, supplier: str, material: str | None = None):
    """(x, r, contracted) of an offer; zeros when it is not in the plan."""
    for pl in result.solution.plan:
        if pl.supplier == supplier and (material is None or pl.material == material):
            return pl.quantity, pl.reserve, pl.contracted
    return 0.0, 0.0, False


def qty(result: SolveResult, supplier: str, material: str | None = None) -> float:
    return line(result, supplier, material)[0]


def approx(value: float):
    return pytest.approx(value, rel=REL, abs=1e-6)


def check_consistent(result: SolveResult) -> None:
    """The solver's objective equals the verifier's recomputation."""
    v = result.verification
    assert v.ok, v.problems
    assert result.solution.objective == approx(v.objective)


# ---- contracts, fixed cost, min order -------------------------------------------------


@pytest.mark.parametrize(("demand", "winner", "objective"), [(100, "b", 1400),
                                                             (200, "a", 2500)])
def test_fixed_cost_is_paid_once_per_contract(tmp_path, demand, winner, objective):
    """a: ĉ = 10, f = 500; b: ĉ = 14, f = 0; no disruption (baseline only).

    D = 100: a alone 10·100 + 500 = 1500, b alone 14·100 = 1400 → b, 1400.
             (a split pays both: 500 + 10 x + 14 (100 − x) ≥ 1400 + 500 − 400 = 1500.)
    D = 200: a alone 10·200 + 500 = 2500, b alone 14·200 = 2800 → a, 2500;
             verification.fixed_cost = 500.
    """
    result = solve_book(tmp_path, {
        "Materials": [material(demand=demand)],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10, fixed_cost=500), offer("b", "BBB", 14)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(objective)
    assert qty(result, winner) == approx(demand)
    loser = "b" if winner == "a" else "a"
    assert qty(result, loser) == approx(0)
    assert result.verification.fixed_cost == approx(500 if winner == "a" else 0)
    assert result.verification.first_stage_cost == approx(objective)
    assert result.verification.expected_recourse_cost == approx(0)


def test_reserve_needs_a_contract_and_its_fixed_cost(tmp_path):
    """D = 100, P = 1000. a: AAA (p = 0.1), ĉ = 10. r: BBB (safe), ĉ = 50, ρ = 1,
    f = 100, U = 200. Scenarios generated: AAA 0.1, baseline 0.9.

    Per unit of demand: a firm with r reserve behind it costs 10 + 1 + 0.1·50 = 16;
    a without backup 10 + 0.1·1000 = 110; r firm 50. So x_a = 100, r_r = 100, x_r = 0,
    and the reserve alone makes r a contract that pays f = 100:
        F = 10·100 + 100 + 1·100 = 1200; R_AAA = 50·100 = 5000 → E[R] = 500;
        objective 1700 (1600 if reserve could be held without a contract).
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10),
                      offer("r", "BBB", 50, capacity=200, reserve_cost=1, fixed_cost=100)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(1700)
    assert qty(result, "a") == approx(100)
    x, r, contracted = line(result, "r")
    assert (x, r, contracted) == (approx(0), approx(100), True)
    v = result.verification
    assert v.fixed_cost == approx(100)
    assert v.reserve_cost == approx(100)
    assert v.first_stage_cost == approx(1200)
    assert v.expected_recourse_cost == approx(500)
    assert v.cvar == approx(5000)  # α = 0.95: the worst 5 % is all in AAA (π = 0.1)


def test_min_order_comes_with_the_contract_even_for_reserve(tmp_path):
    """As above but r has L = 30, no fixed cost: reserving on r needs a contract, and a
    contract needs x_r ≥ 30 firm at ĉ = 50.

    With x_r = s ≥ 30, x_a = 100 − s, r_r = 100 − s (each reserve unit saves
    0.1·(1000 − 50) = 95 for ρ = 1, so reserve all the loss):
        cost = 10 (100 − s) + 50 s + (100 − s) + 0.1·50 (100 − s) = 1600 + 34 s,
    increasing in s → s = 30: x_a = 70, x_r = 30, r_r = 70,
        F = 700 + 1500 + 70 = 2270, E[R] = 0.1·50·70 = 350, objective 2620.
    Not contracting r: 1000 + 0.1·100·1000 = 11000. (Without L: 1600.)
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10),
                      offer("r", "BBB", 50, capacity=200, reserve_cost=1, min_order=30)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(2620)
    assert qty(result, "a") == approx(70)
    assert line(result, "r") == (approx(30), approx(70), True)
    assert result.verification.first_stage_cost == approx(2270)
    assert result.verification.expected_recourse_cost == approx(350)


def test_min_order_above_demand_makes_an_offer_unusable(tmp_path):
    """D = 50. a: ĉ = 10, L = 80; b: ĉ = 12. A contract on a needs x_a ≥ 80 but firm
    orders never exceed demand (Σ x ≤ 50), so a cannot be contracted: b 50 → 600
    (500 if the minimum order were ignored)."""
    result = solve_book(tmp_path, {
        "Materials": [material(demand=50)],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10, min_order=80), offer("b", "BBB", 12)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(600)
    assert line(result, "a") == (0.0, 0.0, False)
    assert qty(result, "b") == approx(50)


# ---- capacity and demand --------------------------------------------------------------


def test_firm_plus_reserve_within_capacity(tmp_path):
    """D = 100, P = 1000. a: AAA (p = 0.1), ĉ = 10. s: BBB (safe), ĉ = 20, ρ = 1, U = 60.

    With x_s = s, r_s = r (s + r ≤ 60), x_a = 100 − s, the AAA scenario loses 100 − s,
    backup covers r of it at 20, the rest is short at 1000:
        cost = 10 (100 − s) + 20 s + r + 0.1 (20 r + 1000 (100 − s − r))
             = 11000 − 90 s − 97 r,
    so all of U goes to reserve: s = 0, r = 60 → 11000 − 5820 = 5180.
        F = 1000 + 60 = 1060; R_AAA = 20·60 + 1000·40 = 41200, E[R] = 4120.
    If x and r were each only ≤ U: s = 60, r = 40 → 1720.
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("s", "BBB", 20, capacity=60,
                                                   reserve_cost=1)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(5180)
    assert qty(result, "a") == approx(100)
    assert line(result, "s") == (approx(0), approx(60), True)
    v = result.verification
    assert v.first_stage_cost == approx(1060)
    assert v.expected_recourse_cost == approx(4120)
    hit = next(s for s in v.scenarios if s.scenario == "AAA")
    assert hit.shortage["gallium"] == approx(40)
    assert hit.backup_called["gallium"] == approx(60)
    assert hit.recourse_cost == approx(41200)


def test_firm_orders_never_exceed_demand(tmp_path):
    """D = 100, P = 1000. a: AAA (p = 0.2), b: BBB (p = 0.2), both ĉ = 10; c: CCC (safe)
    ĉ = 300. Scenarios: AAA 0.2, BBB 0.2, baseline 0.6.

    Over-ordering 100 from each would cost 2000 with no shortage, but Σ x ≤ D. With
    x_a + x_b = 100 the expected loss is 0.2·1000·x_a + 0.2·1000·x_b = 20000 whatever the
    split, so the risky pair costs 10 + 200 = 210 per unit < 300 for c:
        objective 1000 + 20000 = 21000, Σ x = 100.
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA", p=0.2), country("BBB", p=0.2), country("CCC")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 10), offer("c", "CCC", 300)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(21000)
    assert sum(pl.quantity for pl in result.solution.plan) == approx(100)
    assert qty(result, "c") == approx(0)
    assert result.verification.expected_recourse_cost == approx(20000)


# ---- stockpile ------------------------------------------------------------------------


def test_stockpile_cap_and_cost(tmp_path):
    """D = 100, P = 1000, k = 5, S = 60. a: AAA (p = 0.1), ĉ = 10; b: BBB safe, ĉ = 30.

    Per unit: a backed by stock 10 + 5 = 15, a alone 10 + 100 = 110, b 30. With
    x_a = a, x_b = 100 − a, h = min(a, 60):
      a ≤ 60: 10 a + 30 (100 − a) + 5 a = 3000 − 15 a;
      a > 60: 3000 − 20 a + 300 + 100 (a − 60) = 80 a − 2700, increasing.
    → a = 60, h = 60, x_b = 40: F = 600 + 1200 + 300 = 2100, R_AAA = 0 (60 lost, 60
    drawn), objective 2100. (Uncapped it would be a = h = 100 → 1500.)
    """
    result = solve_book(tmp_path, {
        "Materials": [material(stockpile_cost=5, max_stockpile=60)],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 30)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(2100)
    assert qty(result, "a") == approx(60)
    assert qty(result, "b") == approx(40)
    assert result.solution.stockpile["gallium"] == approx(60)
    v = result.verification
    assert v.stock_cost == approx(300)
    assert v.first_stage_cost == approx(2100)
    assert v.expected_recourse_cost == approx(0)
    hit = next(s for s in v.scenarios if s.scenario == "AAA")
    assert hit.stock_drawn["gallium"] == approx(60)
    assert hit.shortage["gallium"] == approx(0)


def test_stock_never_stands_in_for_purchases_not_made(tmp_path):
    """D = 100, P = 1000, k = 1, no cap. a: AAA (p = 0.1), ĉ = 10, U = 50; b: BBB safe,
    ĉ = 30.

    Stock may only replace firm supply lost in a disruption (w ≤ Σ (1 − a) x), so the
    baseline's 100 units must all be bought: x_a = 50 backed by h = 50 (10 + 1 = 11 per
    unit), x_b = 50: 500 + 50 + 1500 = 2050.
    If stock could stand in for purchases, h = 100 and nothing bought would cost 100.
    """
    result = solve_book(tmp_path, {
        "Materials": [material(stockpile_cost=1)],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10, capacity=50), offer("b", "BBB", 30)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(2050)
    assert qty(result, "a") == approx(50)
    assert qty(result, "b") == approx(50)
    assert result.solution.stockpile["gallium"] == approx(50)
    assert result.verification.expected_recourse_cost == approx(0)
    base = next(s for s in result.verification.scenarios if s.scenario == "baseline")
    assert base.stock_drawn["gallium"] == approx(0)


# ---- reserve and backup ---------------------------------------------------------------


@pytest.mark.policy_rule("max_country_share")
def test_reserve_cannot_bypass_a_share_cap(tmp_path):
    """SPEC v2 §3: backup only replaces supply lost in the scenario (Σ e + w ≤ ℓ).

    D = 100, P = 1000, baseline only. a: AAA, ĉ = 10, reserve at ρ = 0.5; b: BBB,
    ĉ = 12. Policy: AAA ≤ 50 % (origin).
    v1 let the plan order 50 firm from a, reserve 50 more on a and call it in the
    baseline: 500 + 25 + 500 = 1,025, with 100 % of deliveries from AAA.
    v2: nothing is lost in the baseline, so nothing may be called; the other 50 must be
    firm orders from b: 10·50 + 12·50 = 1,100, and the delivered mix is the firm one.
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10, reserve_cost=0.5), offer("b", "BBB", 12)],
        "Policies": [{"rule": "max_country_share", "material": "gallium",
                      "target": "AAA", "stage": "origin", "value": 0.5}],
    })
    check_consistent(result)
    assert result.solution.objective == approx(1100)
    assert qty(result, "a") == approx(50)
    assert qty(result, "b") == approx(50)
    assert line(result, "a")[1] == approx(0)  # no reserve: it could never be called
    base = next(s for s in result.verification.scenarios if s.scenario == "baseline")
    assert base.backup_called["gallium"] == approx(0)


def test_firm_orders_below_demand_leave_the_gap_short_whatever_is_reserved(tmp_path):
    """SPEC v2 §3. D = 100, P = 1000. a: AAA, ĉ = 10, U = 60, reserve ρ = 1 possible
    on the same offer (so at most 40 reserve); b: BBB, ĉ = 5000 (dearer than a
    shortage). Baseline only.
    v1 could cover the gap with 40 reserve called in the baseline: 600 + 40 + 400 =
    1,040. v2: nothing is lost, nothing may be called: 60 from a and 40 short at the
    penalty, 600 + 40,000 = 40,600 (b at 5,000 a unit is dearer still).
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10, capacity=60, reserve_cost=1),
                      offer("b", "BBB", 5000)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(40_600)
    assert qty(result, "a") == approx(60)
    assert line(result, "a")[1] == approx(0)
    assert result.verification.expected_recourse_cost == approx(40_000)


def test_backup_limited_by_availability_and_paid_at_landed_cost(tmp_path):
    """D = 100, P = 1000. a: AAA, ĉ = 10. r: BBB (tariff 0.5), c = 20 → ĉ = 30, ρ = 2.
    Scenarios sheet: `quake` π = 0.2 hits AAA (factor 0) and BBB (factor 0.5); baseline 0.8.

    e ≤ a·r with a = 0.5: covering the 100 units lost from a needs r = 200.
    Per unit of reserve: 2 + 0.2·0.5·(30 − 1000) = −95 < 0 → r = 200.
    With x_r = s instead (each firm unit costs 30, half of it lost in quake, r = 200 − s):
        10 (100 − s) + 30 s + 2 (200 − s) + 0.2·30·(100 − s/2) = 2000 + 15 s → s = 0.
    → x_a = 100, r_r = 200: F = 1000 + 400 = 1400, R_quake = 30·100 = 3000,
      E[R] = 600, objective 2000.
    (With e ≤ r: r = 100 → 1800; backup at the pre-tariff 20: 1400 + 400 = 1800.)
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB", tariff=0.5)],
        "Suppliers": [offer("a", "AAA", 10), offer("r", "BBB", 20, reserve_cost=2)],
        "Scenarios": [
            {"scenario": "quake", "probability": 0.2, "country": "AAA", "capacity_factor": 0},
            {"scenario": "quake", "probability": 0.2, "country": "BBB",
             "capacity_factor": 0.5},
        ],
    })
    check_consistent(result)
    assert result.solution.objective == approx(2000)
    assert qty(result, "a") == approx(100)
    assert line(result, "r") == (approx(0), approx(200), True)
    v = result.verification
    assert v.first_stage_cost == approx(1400)
    assert v.expected_recourse_cost == approx(600)
    quake = next(s for s in v.scenarios if s.scenario == "quake")
    assert quake.backup_called["gallium"] == approx(100)
    assert quake.recourse_cost == approx(3000)
    assert v.cvar == approx(3000)


def test_backup_dearer_than_shortage_is_not_reserved(tmp_path):
    """D = 100, P = 40. a: AAA (p = 0.1), ĉ = 10; r: BBB safe, ĉ = 50, ρ = 0.

    Backup at 50 costs more than a shortage at 40, so reserve buys nothing; r firm (50)
    loses to a (10 + 0.1·40 = 14 per unit) → x_a = 100, objective 1000 + 0.1·100·40 =
    1400, and the AAA scenario is all shortage.
    """
    result = solve_book(tmp_path, {
        "Materials": [material(penalty=40)],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("r", "BBB", 50, reserve_cost=0)],
    })
    check_consistent(result)
    assert result.solution.objective == approx(1400)
    assert qty(result, "a") == approx(100)
    hit = next(s for s in result.verification.scenarios if s.scenario == "AAA")
    assert hit.shortage["gallium"] == approx(100)
    assert hit.backup_called["gallium"] == approx(0)


# ---- shortage -------------------------------------------------------------------------


def test_shortage_penalty(tmp_path):
    """Two materials, baseline only.
    cheap: D = 100, P = 5, one offer at ĉ = 10: leaving a unit unmet (5) beats buying it
           (10) → buy nothing, shortage 100, cost 500.
    scarce: D = 100, P = 1000, one offer at ĉ = 10 with U = 60: buy 60 (600), 40 short
           (40000).
    objective 41100 = F 600 + E[R] 40500.
    """
    result = solve_book(tmp_path, {
        "Materials": [material("cheap", penalty=5), material("scarce")],
        "Countries": [country("AAA")],
        "Suppliers": [offer("c", "AAA", 10, mid="cheap"),
                      offer("s", "AAA", 10, capacity=60, mid="scarce")],
    })
    check_consistent(result)
    assert result.solution.objective == approx(41100)
    assert qty(result, "c") == approx(0)
    assert qty(result, "s") == approx(60)
    v = result.verification
    assert v.first_stage_cost == approx(600)
    assert v.expected_recourse_cost == approx(40500)
    assert v.expected_shortage == {"cheap": approx(100), "scarce": approx(40)}


# ---- tariffs --------------------------------------------------------------------------


def test_landed_cost_uses_processing_country_tariff_and_offer_override(tmp_path):
    """D = 100, baseline only. Tariffs: AAA 0, PPP 0.5, BBB 0.2, CCC 1.0.
    a: origin AAA, processed PPP, c = 10 → ĉ = 1.5·10 = 15 (the processing country's);
    b: BBB, c = 13 → ĉ = 1.2·13 = 15.6;
    c: CCC, c = 8, own tariff 0.25 → ĉ = 1.25·8 = 10 (the override, not CCC's 1.0);
    d: CCC, c = 14, own tariff 0 → ĉ = 14 (an override of 0 is still an override).
    U: c 40, d 5, a 50, b 1000. Cheapest first: c 40 (400) + d 5 (70) + a 50 (750)
    + b 5 (78) = 1298.
    Tariff paid: 0.25·8·40 + 0 + 0.5·10·50 + 0.2·13·5 = 80 + 250 + 13 = 343.
    (Origin tariff for a: a at 10 → 1048; CCC's tariff for c and d: c at 16 and d at 28
    drop behind a and b → a 50 + b 50 = 1530; d's 0 read as blank → 1306.)
    """
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA"), country("PPP", tariff=0.5),
                      country("BBB", tariff=0.2), country("CCC", tariff=1.0)],
        "Suppliers": [
            offer("a", "AAA", 10, capacity=50, processing_country="PPP"),
            offer("b", "BBB", 13),
            offer("c", "CCC", 8, capacity=40, tariff=0.25),
            offer("d", "CCC", 14, capacity=5, tariff=0),
        ],
    })
    check_consistent(result)
    assert result.solution.objective == approx(1298)
    assert [qty(result, s) for s in "abcd"] == [approx(50), approx(5), approx(40), approx(5)]
    assert result.verification.procurement_cost == approx(1298)
    assert result.verification.tariff_cost == approx(343)


# ---- availability and scenarios -------------------------------------------------------


def test_availability_is_smallest_factor_over_origin_and_processing(tmp_path):
    """Scenario s1 (π = 0.05), rows:
        AAA *          0.8 |  AAA gallium    0.9   → f_AAA,gallium = min = 0.8
        PPP gallium    0.6 |  PPP *          0.7   → f_PPP,gallium = 0.6
        PPP germanium  0.1                          → f_PPP,germanium = min(0.1, 0.7) = 0.1
    ga: gallium, origin AAA processed PPP, ĉ = 10 → a = min(0.8, 0.6) = 0.6.
    ge: germanium, origin BBB processed PPP, ĉ = 1 → a = min(1, 0.1) = 0.1.
    gallium D = 100, P = 1000: ga costs 10 + 0.05·1000·0.4 = 30 per unit < safe gb (100)
        → x_ga = 100: 1000 + 0.05·1000·40 = 3000.
    germanium D = 10, P = 1000, only ge: 1 + 0.05·1000·0.9 = 46 per unit, far below the
        certain baseline shortage (1000) → x_ge = 10: 10 + 0.05·1000·9 = 460.
    objective 3460; s1 shortages: gallium 40, germanium 9.
    (Origin factor only: a = 0.8 → gallium 2000; largest matching row: 0.7 → 2500.)
    """
    result = solve_book(tmp_path, {
        "Materials": [material(), material("germanium", demand=10)],
        "Countries": [country("AAA"), country("BBB"), country("PPP")],
        "Suppliers": [
            offer("ga", "AAA", 10, processing_country="PPP"),
            offer("gb", "BBB", 100),
            offer("ge", "BBB", 1, mid="germanium", processing_country="PPP"),
        ],
        "Scenarios": [
            {"scenario": "s1", "probability": 0.05, "country": "AAA", "material": "*",
             "capacity_factor": 0.8},
            {"scenario": "s1", "probability": 0.05, "country": "PPP", "material": "gallium",
             "capacity_factor": 0.6},
            {"scenario": "s1", "probability": 0.05, "country": "PPP", "material": "*",
             "capacity_factor": 0.7},
            {"scenario": "s1", "probability": 0.05, "country": "AAA", "material": "gallium",
             "capacity_factor": 0.9},
            {"scenario": "s1", "probability": 0.05, "country": "PPP",
             "material": "germanium", "capacity_factor": 0.1},
        ],
    })
    check_consistent(result)
    assert result.solution.objective == approx(3460)
    assert qty(result, "ga") == approx(100)
    assert qty(result, "gb") == approx(0)
    assert qty(result, "ge") == approx(10)
    s1 = next(s for s in result.verification.scenarios if s.scenario == "s1")
    assert s1.shortage == {"gallium": approx(40), "germanium": approx(9)}
    assert result.verification.expected_recourse_cost == approx(2000 + 450)


def test_generated_scenarios_one_per_risky_country_and_baseline(tmp_path):
    """No Scenarios sheet. p: AAA 0.1, BBB 0.2, CCC 0 → scenarios AAA (0.1), BBB (0.2),
    each that country alone at factor 0, and baseline 1 − 0.3 = 0.7.
    D = 100, P = 500. a: AAA ĉ = 10, U = 60 → 10 + 0.1·500 = 60 per unit;
    b: BBB ĉ = 10, U = 30 → 10 + 0.2·500 = 110; c: CCC ĉ = 120 (safe).
    Fill cheapest first: a 60, b 30, c 10.
        F = 600 + 300 + 1200 = 2100; R_AAA = 500·60 = 30000, R_BBB = 500·30 = 15000,
        R_baseline = 0 → E[R] = 3000 + 3000 = 6000; objective 8100.
        CVaR_0.95: the worst 5 % lies in AAA (π = 0.1) → 30000.
    """
    result = solve_book(tmp_path, {
        "Materials": [material(penalty=500)],
        "Countries": [country("AAA", p=0.1), country("BBB", p=0.2), country("CCC")],
        "Suppliers": [offer("a", "AAA", 10, capacity=60), offer("b", "BBB", 10, capacity=30),
                      offer("c", "CCC", 120)],
    })
    check_consistent(result)
    scenarios = [(s.name, s.probability) for s in result.instance.scenarios()]
    assert scenarios == [("AAA", approx(0.1)), ("BBB", approx(0.2)),
                         ("baseline", approx(0.7))]
    assert result.solution.objective == approx(8100)
    assert (qty(result, "a"), qty(result, "b"), qty(result, "c")) == (
        approx(60), approx(30), approx(10))
    v = result.verification
    assert v.first_stage_cost == approx(2100)
    assert v.expected_recourse_cost == approx(6000)
    assert v.cvar == approx(30000)
    costs = {s.scenario: s.recourse_cost for s in v.scenarios}
    assert costs == {"AAA": approx(30000), "BBB": approx(15000), "baseline": approx(0)}


def test_whatif_cannot_leave_generated_scenarios_without_baseline(tmp_path):
    """SPEC §2: without a Scenarios sheet, if Σ p_c ≥ 1 the case is rejected with an error
    that says so. A what-if setting p = 0.5 on both countries gives Σ p_c = 1.0 exactly
    (scenarios AAA 0.5 and BBB 0.5, no baseline): rejected like the workbook would be,
    not only when the sum exceeds 1."""
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA", p=0.1), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 20)],
        "WhatIfs": [{"whatif": "w", "sheet": "Countries", "where": "", "column":
                     "disruption_prob", "op": "set", "value": 0.5}],
    }
    instance = load(write_workbook(tmp_path / "book.xlsx", sheets))
    with pytest.raises(InputError, match="sum"):
        prepare_case(instance, whatif="w")


def test_explicit_scenarios_replace_disruption_prob(tmp_path):
    """Countries say p_AAA = 0.5, but a Scenarios sheet is present, so only its rows
    count: `quake` π = 0.1 hits AAA (capacity_factor blank → 0, material blank → *);
    baseline 0.9.
    D = 100, P = 200. a: AAA ĉ = 10 → 10 + 0.1·200 = 30 per unit < c: CCC ĉ = 50.
    (With p = 0.5: 10 + 100 = 110 > 50, c would win.)
    → x_a = 100: F = 1000, E[R] = 0.1·200·100 = 2000, objective 3000.
    """
    result = solve_book(tmp_path, {
        "Materials": [material(penalty=200)],
        "Countries": [country("AAA", p=0.5), country("CCC")],
        "Suppliers": [offer("a", "AAA", 10), offer("c", "CCC", 50)],
        "Scenarios": [{"scenario": "quake", "probability": 0.1, "country": "AAA",
                       "material": None, "capacity_factor": None}],
    })
    check_consistent(result)
    assert [(s.name, s.probability) for s in result.instance.scenarios()] == [
        ("quake", approx(0.1)), ("baseline", approx(0.9))]
    assert result.solution.objective == approx(3000)
    assert qty(result, "a") == approx(100)
    assert result.verification.expected_recourse_cost == approx(2000)


def test_empty_scenarios_sheet_means_baseline_only(tmp_path):
    """A Scenarios sheet with headers but no rows: baseline only, although p_AAA = 0.5.
    a: AAA ĉ = 10 → x_a = 100, objective 1000, no recourse."""
    result = solve_book(tmp_path, {
        "Materials": [material()],
        "Countries": [country("AAA", p=0.5), country("CCC")],
        "Suppliers": [offer("a", "AAA", 10), offer("c", "CCC", 50)],
        "Scenarios": [["scenario", "probability", "country", "material", "capacity_factor"]],
    })
    check_consistent(result)
    assert [(s.name, s.probability) for s in result.instance.scenarios()] == [
        ("baseline", approx(1.0))]
    assert result.solution.objective == approx(1000)
    assert qty(result, "a") == approx(100)


# ---- CVaR -----------------------------------------------------------------------------


CVAR_SHEETS = {
    "Materials": [material(penalty=200)],
    "Countries": [country("AAA", p=0.1), country("BBB")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 40)],
}


@pytest.mark.parametrize(
    ("settings", "overrides", "winner", "objective", "cvar"),
    [
        # λ = 0: a costs 10 + 0.1·200 = 30 < 40 → a; 1000 + 2000 = 3000.
        ([], {}, "a", 3000, 20000),
        # λ = 1, α = 0.5 (written as text "50%"): CVaR = 0.1·200 x_a / 0.5 = 40 x_a
        # → a costs 10 + 40 = 50 > 40 → b; 4000.
        ([["risk_aversion", 1], ["cvar_alpha", "50%"]], {}, "b", 4000, 0),
        # λ = 1 from prepare_case, α = 0.2 from Settings: CVaR = 20 x_a / 0.8 = 25 x_a
        # → a costs 35 < 40 → a; 1000 + 2500 = 3500.
        ([["cvar_alpha", 0.2]], {"risk_aversion": 1}, "a", 3500, 2500),
        # λ = 0.5, α = 0.2: a costs 10 + 0.5·20 + 0.5·25 = 32.5 → a; 3250.
        ([["cvar_alpha", 0.2]], {"risk_aversion": 0.5}, "a", 3250, 2500),
        # default α = 0.95: CVaR = R_AAA = 200 x_a → a costs 210 → b; 4000.
        ([], {"risk_aversion": 1}, "b", 4000, 0),
    ],
)
def test_cvar_risk_aversion_and_alpha(tmp_path, settings, overrides, winner, objective,
                                      cvar):
    """D = 100, P = 200. a: AAA (p = 0.1), ĉ = 10; b: BBB safe, ĉ = 40.
    Scenarios AAA (π = 0.1, R = 200 x_a) and baseline (0.9, R = 0).
    objective = F + (1 − λ) E[R] + λ CVaR_α(R), with E[R] = 20 x_a and, for α < 0.9,
    CVaR_α = 0.1·200 x_a / (1 − α) = 20 x_a / (1 − α); for α ≥ 0.9, CVaR = 200 x_a.
    The answer flips from a (λ = 0) to b (λ = 1, α = 0.5) and back to a when α = 0.2.
    verification.cvar is CVaR_α of the plan (α of the case) whatever λ is.
    """
    sheets = dict(CVAR_SHEETS)
    if settings:
        sheets["Settings"] = [["key", "value"], *settings]
    result = solve_book(tmp_path, sheets, **overrides)
    check_consistent(result)
    assert result.solution.objective == approx(objective)
    assert qty(result, winner) == approx(100)
    v = result.verification
    assert v.cvar == approx(cvar)
    assert v.expected_recourse_cost == approx(2000 if winner == "a" else 0)
    assert v.first_stage_cost == approx(1000 if winner == "a" else 4000)
