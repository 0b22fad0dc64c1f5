"""The batch analyses of SPEC §4 — compare, frontier, evaluate, sensitivity — on tiny
instances (one material, two or three offers) whose every figure is derived by hand in the
docstrings, and the `compare`, `frontier` and `evaluate` commands end to end.

Notation as in SPEC §3: D demand, P shortage penalty, c unit cost, U capacity, σ share of
demand, HHI = 10,000 Σ σ². Instances are baseline only (no disruption) unless a test says
otherwise, so a plan's cost is Σ c x plus P per unit short.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from itertools import pairwise
from pathlib import Path

import pytest
from builders import write_workbook
from openpyxl import load_workbook

from resilience.analyses.compare import compare
from resilience.analyses.evaluate import evaluate, read_plan
from resilience.analyses.frontier import frontier, hhi_floor
from resilience.api import solve_case
from resilience.cases import prepare_case
from resilience.domain import Instance
from resilience.errors import InputError
from resilience.validate import load

REPO = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("resilience")


def approx(value: float, rel: float = 1e-6):
    return pytest.approx(value, rel=rel, abs=1e-6)


def material(demand=100, penalty=1000) -> dict:
    return {"material": "gallium", "unit": "t", "demand": demand, "shortage_penalty": penalty}


def country(cid, groups="", p=0) -> dict:
    return {"country": cid, "disruption_prob": p, "groups": groups, "tariff": 0}


def offer(supplier, country_id, unit_cost, capacity=1000) -> dict:
    return {"supplier": supplier, "material": "gallium", "country": country_id,
            "unit_cost": unit_cost, "capacity": capacity}


def load_book(tmp_path, sheets: dict, name="book.xlsx") -> Instance:
    return load(write_workbook(tmp_path / name, sheets))


# ---- compare --------------------------------------------------------------------------

# a (AAA, 10), b (BBB, 12), c (CCC, 15, U = 60); D = 100, P = 1000. G1 = {AAA},
# G2 = {BBB, CCC}. Strategies: cap60 = no country above 60 %; toomuch = ≥ 80 % from CCC
# (more than its 60 t). What-if a_out: a's capacity × 0.
COMPARE_BOOK = {
    "Materials": [material()],
    "Countries": [country("AAA", "G1"), country("BBB", "G2"), country("CCC", "G2")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12), offer("c", "CCC", 15, 60)],
    "Policies": [
        {"rule": "max_country_share", "target": "*", "value": 0.6, "strategy": "cap60"},
        {"rule": "min_group_share", "target": "CCC", "value": 0.8, "stage": "origin",
         "strategy": "toomuch"},
    ],
    "WhatIfs": [{"whatif": "a_out", "sheet": "Suppliers", "where": "supplier=a",
                 "column": "capacity", "op": "scale", "value": 0}],
}


def test_compare_matrix_hand_derived(tmp_path):
    """strategies [base, cap60, toomuch] × what-ifs [base, a_out, qatar_lng_outage]:

    | strategy \\ what-if | base               | a_out                | qatar_lng_outage |
    | base               | a 100: 1,000        | b 100: 1,200          | failed: no lng   |
    | cap60              | a 60 + b 40: 1,080  | b 60 + c 40: 1,320    | failed           |
    | toomuch            | infeasible (80>60)  | infeasible            | failed           |

    cap60 × a_out: b is capped at 60 and a is gone, so c (U = 60) carries 40:
    60·12 + 40·15 = 720 + 600 = 1,320. HHI: one supplier → 10,000; 60/40 → 3,600 + 1,600 =
    5,200. The library what-if qatar_lng_outage edits `material=lng`, which this workbook
    lacks: "the edit matches no row", reported as a failed case; the rest succeed."""
    instance = load_book(tmp_path, COMPARE_BOOK)
    rows = compare(instance, [None, "cap60", "toomuch"], [None, "a_out", "qatar_lng_outage"])
    table = {(r.strategy, r.whatif): r for r in rows}
    assert [(r.strategy, r.whatif) for r in rows] == [
        (s, w) for s in ("base", "cap60", "toomuch")
        for w in ("base", "a_out", "qatar_lng_outage")]
    expected = {("base", "base"): (1000, 10_000, 1.0), ("base", "a_out"): (1200, 10_000, 0.0),
                ("cap60", "base"): (1080, 5_200, 0.6), ("cap60", "a_out"): (1320, 5_200, 0.0)}
    for key, (objective, hhi, g1) in expected.items():
        row = table[key]
        assert row.status == "optimal" and row.reason == "", key
        assert row.figures["objective"] == approx(objective), key
        assert row.figures["first_stage_cost"] == approx(objective), key
        assert row.figures["expected_shortage_cost"] == approx(0), key
        assert row.figures["largest_hhi"] == approx(hhi), key
        assert row.figures["group_share"]["G1"] == approx(g1), key
        assert row.figures["group_share"]["G2"] == approx(1 - g1), key
    assert table["base", "base"].figures["binding_policies"] == []
    binding = table["cap60", "base"].figures["binding_policies"]
    assert {b["country"] for b in binding} == {"AAA"}
    assert sum(b["cost_per_point"] for b in binding) == approx(2.0)  # (12 − 10)·100/100

    failed = {key: r for key, r in table.items() if r.status == "failed"}
    assert set(failed) == {("base", "qatar_lng_outage"), ("cap60", "qatar_lng_outage"),
                           ("toomuch", "base"), ("toomuch", "a_out"),
                           ("toomuch", "qatar_lng_outage")}
    for key, row in failed.items():
        assert row.figures == {}
        if key[1] == "qatar_lng_outage":
            assert row.reason.startswith("invalid input")
            assert "qatar_lng_outage" in row.reason and "matches no row" in row.reason
        else:
            assert row.reason.startswith("infeasible")
            assert "CCC" in row.reason and "80" in row.reason


# ---- frontier -------------------------------------------------------------------------

# a (AAA, 10), b (BBB, 12), c (CCC, 15, U = 20); D = 100.
FRONTIER_BOOK = {
    "Materials": [material()],
    "Countries": [country("AAA"), country("BBB"), country("CCC")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12), offer("c", "CCC", 15, 20)],
}


def test_hhi_frontier_endpoints_and_shape(tmp_path):
    """Cost-optimal plan: a 100 → HHI 10,000 (origin = processing), cost 1,000.
    Floor: firm orders must cover min(D, eligible) = min(100, 100 + 100 + 20) = 100, c ≤ 20:
    min σ_a² + σ_b² + σ_c² with σ_c ≤ 0.2 → σ = (0.4, 0.4, 0.2): 0.16 + 0.16 + 0.04 →
    3,600 (multiples of 0.05, so the chords are exact). Cost there: 400 + 480 + 300 =
    1,180. In between the cost never falls as the limit falls; one knee."""
    instance = load_book(tmp_path, FRONTIER_BOOK)
    result = frontier(instance, points=6)
    top, floor = result.hhi_range
    assert top == approx(10_000) and floor == approx(3_600)
    points = result.hhi_points
    assert len(points) == 6 and all(p.ok for p in points), [p.reason for p in points]
    assert [p.parameter for p in points] == approx([10_000, 8_720, 7_440, 6_160, 4_880,
                                                    3_600])
    assert points[0].figures["objective"] == approx(1000)
    assert points[0].figures["max_exact_hhi"] == approx(10_000)
    assert points[-1].figures["objective"] == approx(1180)
    assert points[-1].figures["max_exact_hhi"] == approx(3_600)
    costs = [p.figures["objective"] for p in points]
    assert all(later >= earlier - 1e-6 for earlier, later in pairwise(costs))
    for p in points:  # the exact HHI never exceeds the (conservative, chord) limit
        assert p.figures["max_exact_hhi"] <= p.parameter * (1 + 1e-6)
    assert sum(p.knee for p in points) == 1
    assert not points[0].knee and not points[-1].knee


def test_hhi_frontier_point_between_breakpoints(tmp_path):
    """Two offers a (10) and b (12), D = 100: top 10,000, floor 5,000 (50/50); 6 points →
    limits 10,000, 9,000, …, 5,000. At 9,000 (between breakpoints), with σ_a = s in
    [0.9, 0.95] and 1 − s in [0.05, 0.1] the chords are t_a = 1.85 s − 0.855 and
    t_b = 0.15 (1 − s) − 0.005, so 1.7 s − 0.71 ≤ 0.9 → s = 1.61 / 1.7 ≈ 0.947;
    cost = 1,000 s + 1,200 (1 − s) = 1,200 − 200 s ≈ 1,010.59."""
    instance = load_book(tmp_path, {**FRONTIER_BOOK,
                                    "Suppliers": FRONTIER_BOOK["Suppliers"][:2]})
    result = frontier(instance, points=6)
    assert result.hhi_range == (approx(10_000), approx(5_000))
    second = result.hhi_points[1]
    assert second.parameter == approx(9_000)
    s = 1.61 / 1.7
    assert second.figures["objective"] == approx(1200 - 200 * s)
    assert result.hhi_points[-1].figures["objective"] == approx(1100)


def test_hhi_floor_counts_only_what_can_be_bought(tmp_path):
    """a (U = 50) and b (U = 30), D = 100: eligible capacity 80 < D, so firm orders must
    still total 80 — buying less is not diversifying: σ = (0.5, 0.3) → 2,500 + 900 = 3,400
    (not 0). With b excluded by an always-on rule, only a counts: 50 → 2,500."""
    sheets = {"Materials": [material()], "Countries": [country("AAA"), country("BBB")],
              "Suppliers": [offer("a", "AAA", 10, 50), offer("b", "BBB", 12, 30)]}
    assert hhi_floor(load_book(tmp_path, sheets)) == approx(3_400)
    sheets["Policies"] = [{"rule": "exclude", "target": "BBB"}]
    assert hhi_floor(load_book(tmp_path, sheets, "excluded.xlsx")) == approx(2_500)


# a (AAA, 10, disrupted with p = 0.1), b (BBB, 20, safe); D = 100, P = 50, α = 0.95.
RISK_BOOK = {
    "Materials": [material(penalty=50)],
    "Countries": [country("AAA", p=0.1), country("BBB")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 20)],
}


def test_risk_aversion_sweep(tmp_path):
    """Scenarios: AAA lost (π 0.1), baseline (0.9). Buying all from a: F = 1,000, recourse
    5,000 in the AAA scenario, so E[R] = 500 and CVaR_0.95 = 5,000 (the 5 % tail lies inside
    the 10 % scenario). Per unit, a costs 10 + (1 − λ)·5 + λ·50 = 15 + 45 λ against b's 20:
    a for λ < 1/9, b above.
    λ = 0: 1,000 + 500 = 1,500 (= the risk-neutral solve); λ = 0.1: 1,000 + 0.9·500 +
    0.1·5,000 = 1,950; λ ≥ 0.2: all b, 2,000, CVaR 0."""
    instance = load_book(tmp_path, RISK_BOOK)
    neutral = solve_case(prepare_case(instance, risk_aversion=0.0, mip_gap=0.0))
    assert neutral.solution.objective == approx(1500)

    points = frontier(instance, points=11).risk_points
    assert all(p.ok for p in points)
    assert [p.parameter for p in points] == approx([i / 10 for i in range(11)])
    assert points[0].figures["objective"] == approx(neutral.solution.objective)
    assert points[1].figures["objective"] == approx(1950)
    assert [p.figures["objective"] for p in points[2:]] == approx([2000] * 9)
    cvars = [p.figures["cvar"] for p in points]
    assert cvars[:2] == approx([5000, 5000]) and cvars[2:] == approx([0] * 9)
    assert all(later <= earlier + 1e-6 for earlier, later in pairwise(cvars))
    assert sum(p.knee for p in points) == 1


def test_every_frontier_point_equals_a_fresh_solve(tmp_path):
    """The sweeps re-solve one built model with changed right-hand sides (HHI) or column
    costs (λ); each point must equal a model built from scratch for that limit or λ.
    Three offers, two of them at risk, λ = 0.4 in Settings."""
    from resilience.formulation.sweeps import with_uniform_hhi

    sheets = {
        "Materials": [material(penalty=50)],
        "Countries": [country("AAA", p=0.1), country("BBB"), country("CCC", p=0.05)],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 20), offer("c", "CCC", 14, 50)],
        "Settings": [["key", "value"], ["risk_aversion", 0.4]],
    }
    instance = load_book(tmp_path, sheets)
    result = frontier(instance, points=5)
    assert all(p.ok for p in result.hhi_points + result.risk_points)
    for p in result.hhi_points:
        fresh = solve_case(with_uniform_hhi(instance, p.parameter), with_duals=False)
        assert p.figures["objective"] == approx(fresh.verification.objective, rel=1e-6)
    for p in result.risk_points:
        fresh = solve_case(prepare_case(instance, risk_aversion=p.parameter),
                           with_duals=False)
        assert p.figures["objective"] == approx(fresh.verification.objective, rel=1e-6)
        assert p.figures["cvar"] == approx(fresh.verification.cvar, rel=1e-6)


def test_a_flat_frontier_has_no_knee(tmp_path):
    """a and b both cost 10: every plan from 100/0 (HHI 10,000) to 50/50 (5,000) costs
    1,000, so the cost-against-HHI curve is flat and has no knee."""
    sheets = {"Materials": [material()], "Countries": [country("AAA"), country("BBB")],
              "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 10)]}
    points = frontier(load_book(tmp_path, sheets), points=5).hhi_points
    assert [p.figures["objective"] for p in points] == approx([1000] * 5)
    assert [p.parameter for p in points if p.knee] == []


# ---- evaluate -------------------------------------------------------------------------

# a (AAA, 10), b (BBB, 20); D = 100, P = 100. What-ifs: a_cut sets a's capacity to 50;
# b_tariff adds 50 tariff points on BBB.
EVALUATE_BOOK = {
    "Materials": [material(penalty=100)],
    "Countries": [country("AAA"), country("BBB")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 20)],
    "WhatIfs": [
        {"whatif": "a_cut", "sheet": "Suppliers", "where": "supplier=a", "column": "capacity",
         "op": "set", "value": 50},
        {"whatif": "b_tariff", "sheet": "Countries", "where": "country=BBB",
         "column": "tariff", "op": "add", "value": 0.5},
    ],
}
PLAN = {"Plan": [{"supplier": "a", "material": "gallium", "quantity": 70},
                 {"supplier": "b", "material": "gallium", "quantity": 30}]}


def test_evaluate_a_fixed_plan_hand_derived(tmp_path):
    """The plan: a 70, b 30.
    base:     700 + 600 = 1,300; re-optimised all a: 1,000; regret 300.
    a_cut:    a's 70 cut to 50 (reported): 500 + 600 + 20 short × 100 = 3,100;
              re-optimised a 50 + b 50: 500 + 1,000 = 1,500; regret 1,600.
    b_tariff: ĉ_b = 30: 700 + 900 = 1,600; re-optimised all a: 1,000; regret 600.
    qatar_lng_outage fits no row of this workbook: failed, the rest go on."""
    instance = load_book(tmp_path, EVALUATE_BOOK)
    plan = read_plan(write_workbook(tmp_path / "plan.xlsx", PLAN), instance)
    assert plan.lines == (("a", "gallium", "AAA", "AAA", 70.0, 0.0),
                          ("b", "gallium", "BBB", "BBB", 30.0, 0.0))
    rows = evaluate(instance, plan, [None, "a_cut", "b_tariff", "qatar_lng_outage"])
    by_name = {r.whatif: r for r in rows}
    assert list(by_name) == ["base", "a_cut", "b_tariff", "qatar_lng_outage"]
    expected = {"base": (1300, 1000, ()), "a_cut": (3100, 1500, ("a", "70", "50")),
                "b_tariff": (1600, 1000, ())}
    for name, (fixed, best, clipped_words) in expected.items():
        row = by_name[name]
        assert row.ok, row.reason
        assert row.fixed["objective"] == approx(fixed), name
        assert row.reoptimised["objective"] == approx(best), name
        assert row.regret == approx(fixed - best), name
        assert row.regret >= -1e-6
        if clipped_words:
            (note,) = row.clipped
            assert "cut to capacity" in note and all(w in note for w in clipped_words)
        else:
            assert row.clipped == ()
    assert by_name["a_cut"].fixed["expected_shortage_cost"] == approx(2000)
    assert by_name["b_tariff"].fixed["summary"]["cost_breakdown"]["of_which_tariffs"] == \
        approx(300)
    failed = by_name["qatar_lng_outage"]
    assert not failed.ok and "matches no row" in failed.reason


def test_an_embargo_whatif_hits_the_fixed_plan(tmp_path):
    """A what-if made of one Policies row, `exclude AAA` under `embargo` (models/README.md
    shows what-ifs carrying such rows): the shock is that AAA's goods no longer arrive.
    The plan a 70 + b 30 then gets only b's 30: 70 short × P 100 = 7,000 of shortage;
    re-optimised, all b: 2,000. Today the held plan is costed as if nothing happened
    (1,300) and the regret is −700."""
    sheets = {**EVALUATE_BOOK,
              "Policies": [{"rule": "exclude", "target": "AAA", "whatif": "embargo"}]}
    instance = load_book(tmp_path, sheets)
    plan = read_plan(write_workbook(tmp_path / "plan.xlsx", PLAN), instance)
    (row,) = evaluate(instance, plan, ["embargo"])
    assert row.ok, row.reason
    assert row.reoptimised["objective"] == approx(2000)
    assert row.fixed["expected_shortage_cost"] == approx(7000)
    assert row.regret >= -1e-6


def test_evaluate_lists_the_rules_of_a_strategy_the_held_plan_breaks(tmp_path):
    """Today's plan (a 70 from AAA, b 30 from BBB) was made before strategy `tight`: AAA at
    most 60 % of origin, and nothing from BBB. Held fixed under it, the plan breaks both:
    AAA's share is 70/100 = 0.7 > 0.6, and 30 units (firm + reserve) come from BBB. Without
    the strategy it breaks nothing. The re-optimised plan meets the rules (a 60 + backup),
    so they bind there, not in the plan held fixed."""
    sheets = {**EVALUATE_BOOK, "Policies": [
        {"name": "AAA cap", "rule": "max_country_share", "target": "AAA", "value": 0.6,
         "stage": "origin", "strategy": "tight"},
        {"name": "no BBB", "rule": "exclude", "target": "BBB", "strategy": "tight"}]}
    instance = load_book(tmp_path, sheets)
    plan = read_plan(write_workbook(tmp_path / "plan.xlsx", PLAN), instance)
    (row,) = evaluate(instance, plan, [None], strategy="tight")
    assert row.ok, row.reason
    broken = {(r["name"], r["rule"], r["country"], r["stage"]): (r["limit"], r["achieved"])
              for r in row.fixed["rules_broken"]}
    assert broken == {("AAA cap", "max_country_share", "AAA", "origin"): (0.6, approx(0.7)),
                      ("no BBB", "exclude", "BBB", "both"): (0.0, approx(30.0))}
    assert "binding_policies" not in row.fixed
    assert [p["name"] for p in row.reoptimised["binding_policies"]] == ["AAA cap"]
    (plain,) = evaluate(instance, plan, [None])
    assert plain.ok and plain.fixed["rules_broken"] == []


def test_evaluate_reads_the_plan_sheet_of_a_report(tmp_path):
    """A plan taken from the Plan sheet of a solve report is the solved plan (its total
    row is skipped); under the base case its regret is 0."""
    from resilience.report.excel import write_solve_report

    instance = load_book(tmp_path, EVALUATE_BOOK)
    solved = solve_case(prepare_case(instance, mip_gap=0.0))
    write_solve_report(solved, tmp_path / "report.xlsx")
    plan = read_plan(tmp_path / "report.xlsx", instance)
    assert plan.lines == (("a", "gallium", "AAA", "AAA", 100.0, 0.0),)
    (row,) = evaluate(instance, plan, [None])
    assert row.ok and row.fixed["objective"] == approx(1000) and row.regret == approx(0)


def test_a_plan_row_with_a_blank_material_is_skipped(tmp_path):
    """read_plan skips rows without a supplier or a material (a note, a subtotal): here
    'Checked by procurement' with the other cells blank."""
    instance = load_book(tmp_path, EVALUATE_BOOK)
    path = write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        {"supplier": "a", "material": "gallium", "quantity": 70},
        {"supplier": "Checked by procurement", "material": None, "quantity": None}]})
    assert read_plan(path, instance).lines == (("a", "gallium", "AAA", "AAA", 70.0, 0.0),)


def test_a_plan_line_matching_no_offer_names_its_cell(tmp_path):
    instance = load_book(tmp_path, EVALUATE_BOOK)
    path = write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        {"supplier": "a", "material": "gallium", "quantity": 70},
        {"supplier": "zz", "material": "gallium", "quantity": 30},
        {"supplier": "b", "material": "gallum", "quantity": 1}]})
    with pytest.raises(InputError) as caught:
        read_plan(path, instance)
    cells = [(p.sheet, p.cell) for p in caught.value.problems]
    assert cells == [("Plan", "A3"), ("Plan", "A4")]
    assert "zz / gallium matches no offer" in str(caught.value)


# ---- sensitivity ----------------------------------------------------------------------

def test_cost_of_a_binding_share_cap_is_price_difference_times_demand(tmp_path):
    """a (AAA, 10), b (BBB, 12), c (CCC, 15); D = 250. AAA ≤ 60 % (origin) binds: a 150,
    b 100 → 1,500 + 1,200 = 2,700. One more point of AAA moves 2.5 t from b to a and saves
    (12 − 10)·250/100 = 5. CCC ≤ 50 % does not bind: 0. Check: at 61 % the cost is 2,695."""
    def sheets(cap: float) -> dict:
        return {
            "Materials": [material(demand=250)],
            "Countries": [country("AAA"), country("BBB"), country("CCC")],
            "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12), offer("c", "CCC", 15)],
            "Policies": [
                {"rule": "max_country_share", "target": "AAA", "value": cap, "stage": "origin",
                 "name": "AAA cap"},
                {"rule": "max_country_share", "target": "CCC", "value": 0.5,
                 "stage": "origin", "name": "CCC cap"},
            ],
        }

    result = solve_case(prepare_case(load_book(tmp_path, sheets(0.6)), mip_gap=0.0))
    assert result.solution.objective == approx(2700)
    costs = {p.name: p for p in result.solution.policy_costs}
    assert costs["AAA cap"].binding and costs["AAA cap"].cost_per_point == approx(5.0)
    assert costs["AAA cap"].achieved == approx(0.6)
    assert not costs["CCC cap"].binding and costs["CCC cap"].cost_per_point == 0.0
    looser = solve_case(prepare_case(load_book(tmp_path, sheets(0.61), "looser.xlsx"),
                                     mip_gap=0.0))
    assert result.solution.objective - looser.solution.objective == approx(5.0)


# ---- packaging ------------------------------------------------------------------------

def test_every_subpackage_is_shipped_by_pip_install():
    config = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts)
             for p in (REPO / "resilience").rglob("__init__.py")}
    assert found - listed == set()


# ---- the commands end to end ----------------------------------------------------------

def _text_cell(path: Path, old: str, new: str) -> None:
    """Rename `old` to `new` in every cell, writing it as text (a name such as `=cap60`
    would otherwise be saved as a formula by openpyxl)."""
    book = load_workbook(path)
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value == old:
                    cell.value = new
                    cell.data_type = "s"
    book.save(path)


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(CLI), *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def _no_formulas(path: Path) -> None:
    book = load_workbook(path)
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)


@pytest.fixture
def cli_book(tmp_path) -> Path:
    """COMPARE_BOOK with the strategy and what-if renamed `=cap60` and `=a_out`: input text
    that a spreadsheet would run as a formula if it were written carelessly."""
    path = write_workbook(tmp_path / "book.xlsx", COMPARE_BOOK)
    _text_cell(path, "cap60", "=cap60")
    _text_cell(path, "a_out", "=a_out")
    return path


def test_compare_command(tmp_path, cli_book):
    done = _run(tmp_path, "compare", "book.xlsx", "--strategies", "base,=cap60",
                "--whatifs", "base,=a_out,qatar_lng_outage", "--json", "compare.json")
    assert "6 cases, 2 failed" in done.stdout
    report = tmp_path / "reports" / "book-compare.xlsx"
    assert "Compare" in load_workbook(report).sheetnames
    _no_formulas(report)
    data = json.loads((tmp_path / "compare.json").read_text())
    assert data["failed"] == 2
    objectives = {(c["strategy"], c["whatif"]): c["objective"] for c in data["cases"]
                  if c["status"] != "failed"}
    assert objectives == {("base", "base"): approx(1000), ("base", "=a_out"): approx(1200),
                          ("=cap60", "base"): approx(1080),
                          ("=cap60", "=a_out"): approx(1320)}
    sheet = load_workbook(report)["Compare"]
    header = next(r for r in range(1, 10) if sheet.cell(r, 1).value == "what-if")
    assert sheet.cell(header, 2).value == "strategy"
    # grouped by what-if, strategy base first: the case each Δ is taken against
    assert [(sheet.cell(r, 1).value, sheet.cell(r, 2).value)
            for r in range(header + 1, header + 7)] == [
        (w, s) for w in ("base", "=a_out", "qatar_lng_outage") for s in ("base", "=cap60")]
    assert {(c["strategy"], c["whatif"]): c["vs_base"] for c in data["cases"]
            if c["status"] != "failed"}[("=cap60", "=a_out")]["objective"] == approx(120)


def test_frontier_command(tmp_path):
    write_workbook(tmp_path / "book.xlsx", FRONTIER_BOOK)
    done = _run(tmp_path, "frontier", "book.xlsx", "--points", "4", "--json", "frontier.json")
    # the console: each point, and what it adds to the cost-optimal plan (1,000): at the
    # floor 3,600 the plan costs 1,180, Δ +180 = spend (no scenarios, so no risk)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["HHI", "limit", "largest", "HHI", "objective", "(USD)",
                                "Δ", "objective", "Δ", "spend", "CVaR"]
    assert lines[1].split()[:5] == ["10,000", "10,000", "1,000", "0", "0"]
    assert lines[4].split()[:5] == ["3,600", "3,600", "1,180", "+180", "+180"]
    assert any(line.startswith("λ") and "Δ spend" in line for line in lines)
    report = tmp_path / "reports" / "book-frontier.xlsx"
    book = load_workbook(report)
    assert "Frontier" in book.sheetnames
    charts = [type(c).__name__ for c in book["Frontier"]._charts]
    assert charts == ["ScatterChart", "ScatterChart"]
    _no_formulas(report)
    data = json.loads((tmp_path / "frontier.json").read_text())
    assert data["hhi_range"]["cost_optimal_largest_hhi"] == approx(10_000)
    assert data["hhi_range"]["lowest_achievable"] == approx(3_600)
    assert [p["objective"] for p in data["hhi_sweep"]][::3] == approx([1000, 1180])
    assert len(data["risk_aversion_sweep"]) == 4 and data["failed"] == 0


def test_evaluate_command(tmp_path):
    write_workbook(tmp_path / "book.xlsx", EVALUATE_BOOK)
    _text_cell(tmp_path / "book.xlsx", "a_cut", "=a_cut")
    write_workbook(tmp_path / "plan.xlsx", PLAN)
    done = _run(tmp_path, "evaluate", "book.xlsx", "--plan", "plan.xlsx", "--whatifs",
                "=a_cut,qatar_lng_outage", "--json", "evaluate.json")
    assert "3 cases, 1 failed" in done.stdout
    # the console: the plan's objective, the re-optimised one and the regret per case
    # (1,300 / 1,000 / +300 and 3,100 / 1,500 / +1,600 as derived above), one cut order,
    # and the failed case with its reason
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()}
    assert rows["base"][1:4] == ["1,300", "1,000", "+300"]
    assert rows["=a_cut"][:4] == ["=a_cut", "3,100", "1,500", "+1,600"]
    assert rows["=a_cut"][-2:] == ["0", "1"], "no rule broken, one order cut"
    assert rows["qatar_lng_outage:"][1] == "failed:"
    report = tmp_path / "reports" / "book-evaluate.xlsx"
    assert "Evaluate" in load_workbook(report).sheetnames
    _no_formulas(report)
    data = json.loads((tmp_path / "evaluate.json").read_text())
    cases = {c["whatif"]: c for c in data["cases"]}
    assert list(cases) == ["base", "=a_cut", "qatar_lng_outage"]
    assert cases["base"]["fixed_plan"]["objective"] == approx(1300)
    assert cases["=a_cut"]["fixed_plan"]["objective"] == approx(3100)
    assert cases["=a_cut"]["regret"] == approx(1600)
    assert cases["=a_cut"]["adjustments"] and not cases["qatar_lng_outage"]["ok"]
