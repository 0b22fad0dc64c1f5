"""Every Policies rule (SPEC §2) on tiny instances whose optimum is derived by hand.

All instances are baseline only (no disruption), so the objective is the procurement
cost Σ ĉ x (plus shortage where a rule forces it) and the hand derivation is a greedy
fill: cheapest eligible offer first, up to its capacity and the rule's limits.
Each test carries `@pytest.mark.policy_rule(RULE)`; tests/test_policy_coverage.py fails
when a rule of resilience.domain.POLICY_RULES has no such test.
"""

from __future__ import annotations

import pytest
from builders import write_workbook
from solvers import current_solver, solver_path  # noqa: F401 - the fixture

from resilience.api import SolveResult, solve_case
from resilience.cases import prepare_case
from resilience.errors import InfeasibleError, InputError
from resilience.validate import load

# Every hand-derived optimum must come out of every solver path.
pytestmark = pytest.mark.usefixtures("solver_path")


SOLVER = "highs"


def solve_book(tmp_path, sheets: dict, **case) -> SolveResult:
    path = write_workbook(tmp_path / "book.xlsx", sheets)
    case.setdefault("mip_gap", 0.0)
    result = solve_case(prepare_case(load(path), **case), solver=current_solver())
    assert result.verification.ok, result.verification.problems
    assert result.solution.objective == approx(result.verification.objective)
    return result


def approx(value: float):
    return pytest.approx(value, rel=1e-6, abs=1e-6)


def quantities(result: SolveResult) -> dict[str, float]:
    """supplier → x, only the offers with a positive firm order."""
    return {pl.supplier: pl.quantity for pl in result.solution.plan if pl.quantity > 1e-9}


def assert_plan(result: SolveResult, expected: dict[str, float]) -> None:
    got = quantities(result)
    assert set(got) == set(expected), got
    for supplier, amount in expected.items():
        assert got[supplier] == approx(amount), (supplier, got)


def material(mid="gallium", demand=100, penalty=1000) -> dict:
    return {"material": mid, "unit": "t", "demand": demand, "shortage_penalty": penalty}


def country(cid, groups="") -> dict:
    return {"country": cid, "disruption_prob": 0, "groups": groups}


def offer(supplier, origin, unit_cost, capacity=1000, processing=None, mid="gallium"
          ) -> dict:
    row = {"supplier": supplier, "material": mid, "country": origin,
           "unit_cost": unit_cost, "capacity": capacity}
    if processing:
        row["processing_country"] = processing
    return row


def policy(rule, target="*", value=None, stage=None, **extra) -> dict:
    row = {"rule": rule, "material": "*", "target": target, "value": value}
    if stage:
        row["stage"] = stage
    row.update(extra)
    return row


# Three origin countries; G1 = {AAA, BBB}, G2 = {CCC}. a 10 < b 12 < c 15 per unit.
THREE = {
    "Materials": [material()],
    "Countries": [country("AAA", "G1"), country("BBB", "G1"), country("CCC", "G2")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12), offer("c", "CCC", 15)],
}


# ---- max_country_share ----------------------------------------------------------------


@pytest.mark.policy_rule("max_country_share")
@pytest.mark.parametrize(
    ("target", "value", "expected", "objective"),
    [
        # no rule: a 100 → 1000.
        (None, None, {"a": 100}, 1000),
        # AAA ≤ 60 %: a 60 (600) + b 40 (480) = 1080.
        ("AAA", 0.6, {"a": 60, "b": 40}, 1080),
        # group G1 → AAA ≤ 40 % and BBB ≤ 40 % separately: a 40 + b 40 + c 20
        #   = 400 + 480 + 300 = 1180 (as a group total it would be a 40 + c 60 = 1300).
        ("G1", 0.4, {"a": 40, "b": 40, "c": 20}, 1180),
        # * → every country ≤ 35 %: a 35 + b 35 + c 30 = 350 + 420 + 450 = 1220.
        ("*", 0.35, {"a": 35, "b": 35, "c": 30}, 1220),
        # written as percent text, target in another case with spaces: as AAA ≤ 0.6.
        (" aaa ", "60%", {"a": 60, "b": 40}, 1080),
    ],
)
def test_max_country_share_targets(tmp_path, target, value, expected, objective):
    """D = 100; a: AAA ĉ 10, b: BBB ĉ 12, c: CCC ĉ 15; G1 = {AAA, BBB}, G2 = {CCC}.
    The derivation of each case is next to its parameters."""
    sheets = dict(THREE)
    if target is not None:
        sheets["Policies"] = [policy("max_country_share", target, value, stage="origin")]
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)
    for check in result.verification.policies:
        assert check.satisfied and check.achieved <= check.limit + 1e-9


# a: AAA → processed BBB, ĉ 10; b: BBB → BBB, ĉ 14; c: CCC → processed AAA, ĉ 13;
# d: DDD → DDD, ĉ 20.
STAGED = {
    "Materials": [material()],
    "Countries": [country("AAA", "FEOC"), country("BBB"), country("CCC"), country("DDD")],
    "Suppliers": [offer("a", "AAA", 10, processing="BBB"), offer("b", "BBB", 14),
                  offer("c", "CCC", 13, processing="AAA"), offer("d", "DDD", 20)],
}


@pytest.mark.policy_rule("max_country_share")
@pytest.mark.policy_feature("stage:origin")
@pytest.mark.policy_feature("stage:processing")
@pytest.mark.policy_feature("stage:both")
@pytest.mark.parametrize(
    ("stage", "expected", "objective"),
    [
        # origin AAA ≤ 30 %: a 30 (300), then c (origin CCC) 70 (910) = 1210.
        ("origin", {"a": 30, "c": 70}, 1210),
        # processing AAA ≤ 30 %: only c is processed in AAA, and a is cheaper anyway:
        #   a 100 = 1000.
        ("processing", {"a": 100}, 1000),
        # both: a ≤ 30 (origin AAA) and c ≤ 30 (processed in AAA), then b 40:
        #   300 + 390 + 560 = 1250.
        ("both", {"a": 30, "c": 30, "b": 40}, 1250),
        # blank stage = both.
        (None, {"a": 30, "c": 30, "b": 40}, 1250),
    ],
)
def test_max_country_share_stage(tmp_path, stage, expected, objective):
    """D = 100; a: AAA→BBB ĉ 10, b: BBB ĉ 14, c: CCC→AAA ĉ 13, d: DDD ĉ 20;
    max_country_share AAA 0.3 at the given stage (derivations with the parameters)."""
    sheets = dict(STAGED, Policies=[policy("max_country_share", "AAA", 0.3, stage=stage)])
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)


@pytest.mark.policy_rule("max_country_share")
def test_max_country_share_material_column(tmp_path):
    """Two materials, both with a: AAA ĉ 10 and b: BBB ĉ 12, D = 100 each. The rule
    `max_country_share AAA 0.5` names material gallium only:
        gallium: a 50 + b 50 = 1100; germanium: a 100 = 1000; objective 2100."""
    sheets = {
        "Materials": [material(), material("germanium")],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12),
                      offer("a", "AAA", 10, mid="germanium"),
                      offer("b", "BBB", 12, mid="germanium")],
        "Policies": [{"rule": "max_country_share", "material": "gallium", "target": "AAA",
                      "value": 0.5}],
    }
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(2100)
    got = {(pl.supplier, pl.material): pl.quantity for pl in result.solution.plan
           if pl.quantity > 1e-9}
    assert got == {("a", "gallium"): approx(50), ("b", "gallium"): approx(50),
                   ("a", "germanium"): approx(100)}


# ---- min_group_share / max_group_share ------------------------------------------------

# a: AAA ĉ 10 (no group); b: BBB ĉ 14 (EU); c: CCC ĉ 12 (EU), U_c = 50.
GROUPED = {
    "Materials": [material()],
    "Countries": [country("AAA", "G1"), country("BBB", "EU"), country("CCC", "EU")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 14),
                  offer("c", "CCC", 12, capacity=50)],
}


@pytest.mark.policy_rule("min_group_share")
@pytest.mark.parametrize(
    ("target", "value", "expected", "objective"),
    [
        # EU ≥ 70 %, summed over members: c 50 (its capacity, 600) + b 20 (280), then
        #   a 30 (300) = 1180.
        ("EU", 0.7, {"c": 50, "b": 20, "a": 30}, 1180),
        # a single country is a one-country group: BBB ≥ 20 %: b 20 (280) + a 80 (800)
        #   = 1080.
        ("BBB", 0.2, {"b": 20, "a": 80}, 1080),
    ],
)
def test_min_group_share(tmp_path, target, value, expected, objective):
    """D = 100; a: AAA ĉ 10; b: BBB (EU) ĉ 14; c: CCC (EU) ĉ 12, U 50.
    Unconstrained: a 100 = 1000. Derivations with the parameters."""
    sheets = dict(GROUPED, Policies=[policy("min_group_share", target, value)])
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)
    (cost,) = [c for c in result.solution.policy_costs if c.stage == "origin"]
    assert cost.binding


@pytest.mark.policy_rule("min_group_share")
def test_min_group_share_beyond_group_capacity_is_infeasible(tmp_path):
    """min_group_share EU ≥ 0.5 needs 50 units from EU, but EU offers only c (U = 30):
    no plan exists. solve_case raises InfeasibleError naming the Policies row (A2)."""
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA"), country("CCC", "EU")],
        "Suppliers": [offer("a", "AAA", 10), offer("c", "CCC", 12, capacity=30)],
        "Policies": [policy("min_group_share", "EU", 0.5)],
    }
    path = write_workbook(tmp_path / "book.xlsx", sheets)
    with pytest.raises(InfeasibleError) as caught:
        solve_case(prepare_case(load(path)), solver=current_solver())
    assert "Policies!A2" in str(caught.value)
    assert "EU" in str(caught.value)


@pytest.mark.policy_rule("max_group_share")
@pytest.mark.parametrize(
    ("target", "expected", "objective"),
    [
        # EU ≤ 30 % summed: b 30 (300), then a 70 (1050) = 1350. (Each member separately
        #   would allow b 30 + c 30 + a 40 = 1230.)
        ("EU", {"b": 30, "a": 70}, 1350),
        # a country target: BBB ≤ 30 %: b 30 (300) + c 70 (770) = 1070.
        ("BBB", {"b": 30, "c": 70}, 1070),
    ],
)
def test_max_group_share(tmp_path, target, expected, objective):
    """D = 100; a: AAA ĉ 15; b: BBB (EU) ĉ 10; c: CCC (EU) ĉ 11; d: DDD ĉ 20.
    Unconstrained: b 100 = 1000. max_group_share value 0.3."""
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB", "EU"), country("CCC", "EU"),
                      country("DDD")],
        "Suppliers": [offer("a", "AAA", 15), offer("b", "BBB", 10), offer("c", "CCC", 11),
                      offer("d", "DDD", 20)],
        "Policies": [policy("max_group_share", target, 0.3)],
    }
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)


# ---- max_hhi --------------------------------------------------------------------------


@pytest.mark.policy_rule("max_hhi")
def test_max_hhi_chords_bind_between_breakpoints_two_countries(tmp_path):
    """D = 100; a: AAA ĉ 10, b: BBB ĉ 12; max_hhi 6000. With σ = σ_a, σ_b = 1 − σ, the
    cost is 100 (10 σ + 12 (1 − σ)) = 1200 − 200 σ: push σ up as far as the limit allows.

    Exact HHI: σ² + (1 − σ)² ≤ 0.6 ⇔ σ² − σ + 0.2 ≤ 0 ⇔ σ ≤ (1 + √0.2)/2 ≈ 0.72361.
    Chords (SPEC §3): σ ∈ [0.70, 0.75] → t = 1.45 σ − 0.525;
                      1 − σ ∈ [0.25, 0.30] → t = 0.55 (1 − σ) − 0.075;
        sum = 0.9 σ − 0.05 ≤ 0.6 ⇔ σ ≤ 13/18 ≈ 0.72222 (inside both intervals).
    The model must honour the chord value: σ = 13/18,
        objective = 1200 − 200·13/18 = 1055.5556 (exact HHI would allow 1055.2786);
        reported exact HHI = 10⁴ ((13/18)² + (5/18)²) = 10⁴·194/324 ≈ 5987.65 ≤ 6000.
    """
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12)],
        "Policies": [policy("max_hhi", None, 6000)],
    }
    result = solve_book(tmp_path, sheets)
    sigma = 13 / 18
    assert result.solution.objective == approx(1200 - 200 * sigma)
    assert_plan(result, {"a": 100 * sigma, "b": 100 * (1 - sigma)})
    hhi = result.verification.hhi["gallium"]
    assert hhi["origin"] == approx(10_000 * (sigma**2 + (1 - sigma) ** 2))
    assert hhi["origin"] <= 6000 and hhi["processing"] <= 6000


@pytest.mark.policy_rule("max_hhi")
def test_max_hhi_5000_with_two_equal_cost_countries(tmp_path):
    """D = 100; a: AAA ĉ 10; b: BBB ĉ 12 and c: CCC ĉ 12 (equal cost); max_hhi 5000.
    Cost 1200 − 200 σ_a again (b and c cost the same), so maximise σ = σ_a.

    Exact: with σ_b = σ_c = (1 − σ)/2 (the best split for the convex HHI),
        σ² + (1 − σ)²/2 ≤ 0.5 ⇔ 3σ² − 2σ ≤ 0 ⇔ σ ≤ 2/3 → 1066.67.
    Chords: σ ∈ [0.65, 0.70] → t = 1.35 σ − 0.455; σ_b, σ_c ∈ [0.15, 0.20] →
        t = 0.35 s − 0.03 each, together 0.35 (1 − σ) − 0.06 (any split inside that
        interval); sum = σ − 0.165 ≤ 0.5 ⇔ σ ≤ 0.665 (inside [0.65, 0.70];
        (1 − 0.665)/2 = 0.1675 ∈ [0.15, 0.20]).
    → x_a = 66.5, x_b + x_c = 33.5, objective 665 + 402 = 1067 (> exact 1066.67);
      the exact HHI of the plan is ≤ 5000 (4983.4 for the even split).
    """
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB"), country("CCC")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12), offer("c", "CCC", 12)],
        "Policies": [policy("max_hhi", "*", 5000, stage="origin")],
    }
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(1067)
    got = quantities(result)
    assert got["a"] == approx(66.5)
    assert got.get("b", 0) + got.get("c", 0) == approx(33.5)
    assert result.verification.hhi["gallium"]["origin"] <= 5000 + 1e-6
    (check,) = result.verification.policies
    assert check.satisfied and check.achieved <= 5000 + 1e-6
    (cost,) = result.solution.policy_costs
    assert cost.binding


@pytest.mark.policy_rule("max_hhi")
def test_max_hhi_exact_at_breakpoints(tmp_path):
    """D = 100; a: AAA ĉ 10, b: BBB ĉ 12; max_hhi 6800: σ² + (1 − σ)² ≤ 0.68
    ⇔ σ² − σ + 0.16 ≤ 0 ⇔ σ ≤ 0.8, a breakpoint where chords are exact:
    a 80 + b 20 = 800 + 240 = 1040, exact HHI 6400 + 400 = 6800 (the limit)."""
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12)],
        "Policies": [policy("max_hhi", None, 6800)],
    }
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(1040)
    assert_plan(result, {"a": 80, "b": 20})
    assert result.verification.hhi["gallium"]["origin"] == approx(6800)


# ---- exclude --------------------------------------------------------------------------


@pytest.mark.policy_rule("exclude")
@pytest.mark.parametrize(
    ("target", "stage", "expected", "objective"),
    [
        # none excluded: a 50 + c 50 = 500 + 550 = 1050.
        (None, None, {"a": 50, "c": 50}, 1050),
        # origin AAA: a out → c 50 + b 50 = 550 + 600 = 1150.
        ("AAA", "origin", {"c": 50, "b": 50}, 1150),
        # processing AAA: c (processed in AAA) out → a 50 + b 50 = 500 + 600 = 1100.
        ("AAA", "processing", {"a": 50, "b": 50}, 1100),
        # both = either: a and c out → b 100 = 1200.
        ("AAA", "both", {"b": 100}, 1200),
        # a group target: FEOC = {AAA}, blank stage = both → b 100 = 1200.
        ("FEOC", None, {"b": 100}, 1200),
    ],
)
def test_exclude(tmp_path, target, stage, expected, objective):
    """D = 100; a: AAA→BBB ĉ 10 U 50; c: CCC→AAA ĉ 11 U 50; b: BBB ĉ 12; d: DDD ĉ 20.
    AAA carries the FEOC tag. Derivations with the parameters."""
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA", "FEOC"), country("BBB"), country("CCC"),
                      country("DDD")],
        "Suppliers": [offer("a", "AAA", 10, capacity=50, processing="BBB"),
                      offer("c", "CCC", 11, capacity=50, processing="AAA"),
                      offer("b", "BBB", 12), offer("d", "DDD", 20)],
    }
    if target:
        sheets["Policies"] = [policy("exclude", target, stage=stage)]
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)


@pytest.mark.policy_rule("exclude")
def test_exclude_forbids_reserve_too(tmp_path):
    """D = 100, P = 1000. a: AAA (p = 0.1) ĉ 10; r: RRR safe, ĉ 50, ρ 1; s: SSS safe,
    ĉ 60, ρ 1. Without the rule: a 100 + reserve r 100 = 1000 + 100 + 0.1·50·100 = 1600.
    exclude RRR (x_r = r_r = 0): reserve on s instead, 1000 + 100 + 0.1·60·100 = 1700."""
    sheets = {
        "Materials": [material()],
        "Countries": [{"country": "AAA", "disruption_prob": 0.1}, country("RRR"),
                      country("SSS")],
        "Suppliers": [offer("a", "AAA", 10),
                      {**offer("r", "RRR", 50), "reserve_cost": 1},
                      {**offer("s", "SSS", 60), "reserve_cost": 1}],
        "Policies": [policy("exclude", "RRR")],
    }
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(1700)
    lines = {pl.supplier: (pl.quantity, pl.reserve) for pl in result.solution.plan}
    assert "r" not in lines
    assert lines["a"] == (approx(100), approx(0))
    assert lines["s"] == (approx(0), approx(100))


# ---- strategy and whatif columns --------------------------------------------------------

# a: AAA ĉ 10, b: BBB ĉ 12. Rows for two strategies.
STRATEGIES = {
    "Materials": [material()],
    "Countries": [country("AAA"), country("BBB")],
    "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12)],
    "Policies": [
        policy("max_country_share", "*", 0.65, strategy="cap65"),
        policy("exclude", "AAA", strategy="Friend"),
    ],
}


@pytest.mark.policy_rule("max_country_share")
@pytest.mark.policy_rule("exclude")
@pytest.mark.parametrize(
    ("strategy", "expected", "objective"),
    [
        # no strategy: neither row applies → a 100 = 1000.
        (None, {"a": 100}, 1000),
        # cap65: every country ≤ 65 % → a 65 + b 35 = 650 + 420 = 1070.
        ("cap65", {"a": 65, "b": 35}, 1070),
        # names compare ignoring case.
        ("CAP65", {"a": 65, "b": 35}, 1070),
        # friend: AAA excluded, cap65's row does not apply → b 100 = 1200.
        ("friend", {"b": 100}, 1200),
    ],
)
def test_strategy_column(tmp_path, strategy, expected, objective):
    """A Policies row with a strategy applies only when that strategy is chosen."""
    result = solve_book(tmp_path, STRATEGIES, strategy=strategy)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)


@pytest.mark.policy_rule("max_country_share")
def test_unknown_strategy_lists_known_ones(tmp_path):
    path = write_workbook(tmp_path / "book.xlsx", STRATEGIES)
    with pytest.raises(InputError) as caught:
        prepare_case(load(path), strategy="nope")
    text = str(caught.value)
    assert "nope" in text and "cap65" in text and "Friend" in text


@pytest.mark.policy_rule("max_country_share")
@pytest.mark.parametrize(
    ("whatif", "expected", "objective"),
    [
        # base case: the shock row is off → a 100 = 1000.
        (None, {"a": 100}, 1000),
        # shock: AAA ≤ 50 % and a's unit cost × 1.1 = 11 → a 50 (550) + b 50 (600)
        #   = 1150.
        ("shock", {"a": 50, "b": 50}, 1150),
        # a what-if named only on a Policies row (no edits): AAA ≤ 30 % →
        #   a 30 + b 70 = 300 + 840 = 1140.
        ("policy_only", {"a": 30, "b": 70}, 1140),
    ],
)
def test_whatif_column_on_policies(tmp_path, whatif, expected, objective):
    """A Policies row with a whatif is added only when that what-if is applied."""
    sheets = {
        "Materials": [material()],
        "Countries": [country("AAA"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("b", "BBB", 12)],
        "Policies": [
            policy("max_country_share", "AAA", 0.5, whatif="shock"),
            policy("max_country_share", "AAA", 0.3, whatif="policy_only"),
        ],
        "WhatIfs": [{"whatif": "shock", "sheet": "Suppliers", "where": "country=AAA",
                     "column": "unit_cost", "op": "scale", "value": 1.1}],
    }
    result = solve_book(tmp_path, sheets, whatif=whatif)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)


# ---- SPEC §7: the owner stage and from_period ----------------------------------------

# a sits in AAA but is owned from CHN (a refinery owned abroad); c in BBB, owned there.
OWNED = {
    "Materials": [material()],
    "Countries": [country("AAA"), country("BBB"), country("CHN", "FEOC")],
    "Suppliers": [dict(offer("a", "AAA", 10), owner_country="CHN"),
                  offer("c", "BBB", 12)],
}


@pytest.mark.policy_rule("max_country_share")
@pytest.mark.policy_feature("stage:owner")
@pytest.mark.parametrize(("stage", "expected", "objective"), [
    # owner CHN ≤ 40 %: a (owned from CHN) 40, c 60: 400 + 720 = 1,120.
    ("owner", {"a": 40, "c": 60}, 1120),
    # origin CHN ≤ 40 %: no offer originates in CHN; a carries all: 1,000.
    ("origin", {"a": 100}, 1000),
    # both (origin and processing, as in v1) does not look at owners: 1,000.
    ("both", {"a": 100}, 1000),
])
def test_the_owner_stage_counts_who_controls_the_supplier(tmp_path, stage, expected,
                                                         objective):
    """D = 100; a: AAA, owned from CHN, ĉ 10; c: BBB, ĉ 12; max_country_share CHN 0.4 at
    the given stage (derivations with the parameters)."""
    sheets = dict(OWNED, Policies=[policy("max_country_share", "CHN", 0.4, stage=stage)])
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(objective)
    assert_plan(result, expected)


@pytest.mark.policy_rule("exclude")
@pytest.mark.policy_feature("stage:owner")
def test_exclude_at_the_owner_stage_takes_a_group_tag(tmp_path):
    """exclude FEOC at the owner stage: CHN carries FEOC and owns a, so a is out and c
    (ĉ 12) carries the 100: 1,200."""
    sheets = dict(OWNED, Policies=[policy("exclude", "FEOC", stage="owner")])
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(1200)
    assert_plan(result, {"c": 100})


@pytest.mark.policy_rule("max_group_share")
@pytest.mark.policy_feature("from_period")
def test_from_period_applies_the_rule_in_that_period_and_later(tmp_path):
    """Three periods 2026-2028 (weights 1), D = 100 each; a: AAA (G1) ĉ 10, c: BBB ĉ 12.
    max_group_share G1 ≤ 50 % from 2027: 2026 all from a (1,000); 2027 and 2028 a 50 +
    c 50 (1,100 each): 3,200. The rule's cost is reported for 2027 and 2028 only."""
    sheets = {
        "Periods": [{"period": 2026}, {"period": 2027}, {"period": 2028}],
        "Materials": [material()],
        "Countries": [country("AAA", "G1"), country("BBB")],
        "Suppliers": [offer("a", "AAA", 10), offer("c", "BBB", 12)],
        "Policies": [policy("max_group_share", "G1", 0.5, from_period=2027)],
    }
    result = solve_book(tmp_path, sheets)
    assert result.solution.objective == approx(3200)
    by_period = {(pl.supplier, pl.period): pl.quantity for pl in result.solution.plan}
    assert by_period == {("a", "2026"): approx(100), ("a", "2027"): approx(50),
                         ("c", "2027"): approx(50), ("a", "2028"): approx(50),
                         ("c", "2028"): approx(50)}
    # a blank stage is both: one row per stage and period
    assert sorted((c.period, c.stage) for c in result.solution.policy_costs) == [
        ("2027", "origin"), ("2027", "processing"), ("2028", "origin"),
        ("2028", "processing")]
