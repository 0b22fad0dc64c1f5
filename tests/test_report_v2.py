"""The report and the JSON of a solve over a planning horizon (SPEC §7), on tiny instances
whose figures are derived by hand in the docstrings: the multi-period JSON shape (keys,
per-period figures), the v1 shape kept without a Periods sheet, and the report workbook's
period columns, Projects sheet and charts of shares over the periods."""

from __future__ import annotations

import dataclasses
import json

import pytest
from builders import write_workbook
from openpyxl import load_workbook

from resilience.api import SolveResult, solve_case
from resilience.cases import prepare_case
from resilience.domain import (
    Country,
    DemandRow,
    Instance,
    Material,
    Offer,
    Period,
    PlanLine,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
    Solution,
    Status,
)
from resilience.report.excel import write_solve_report
from resilience.report.kpis import scenario_rows, solve_summary, summarise
from resilience.validate import load
from resilience.verify import verify

V1_KEYS = ["status", "units", "objective", "solver_objective", "bound", "mip_gap",
           "first_stage_cost", "expected_recourse_cost", "cvar", "cost_breakdown", "plan",
           "stockpile", "hhi", "shares", "expected_shortage", "scenarios", "policies",
           "strategy", "whatif", "settings", "input", "warnings", "versions", "solver",
           "cross_check", "timings"]
V1_BREAKDOWN = ["procurement", "of_which_tariffs", "fixed_contract", "reserve",
                "stock_carrying", "expected_recourse", "cvar"]
V1_PLAN_ITEM = ["supplier", "material", "country", "processing_country", "quantity",
                "reserve", "landed_unit_cost", "spend", "share_of_demand", "unit"]
V1_SCENARIO = ["scenario", "probability", "shortage", "stock_drawn", "backup_called",
               "recourse_cost"]

CN = Offer("Ga CN", "gallium", "CHN", "CHN", unit_cost=10.0, capacity=1000.0)
US = Offer("Ga US", "gallium", "USA", "USA", unit_cost=20.0, capacity=1000.0)
AU = Offer("Ga AU", "gallium", "AUS", "AUS", unit_cost=12.0, capacity=100.0, capex=500.0,
           lead_time=1)
AU_LATE = Offer("Ga AU late", "gallium", "AUS", "AUS", unit_cost=30.0, capacity=50.0,
                capex=900.0, available_from="2027")


def horizon_instance(weights=(1.0, 0.9, 0.8)) -> Instance:
    """Gallium over 2026-2028, demand 100, 120, 150 t, shortage penalty 100 per t; stock
    carries 1 per t per period and costs 2 per t added. Offers: China at 10 (no limit),
    the USA at 20, and two projects in Australia: `Ga AU` (capex 500, lead time 1,
    12 per t, 100 t per period) and `Ga AU late` (capex 900, from 2027, 30 per t).
    China is capped at 50 % of origin from 2027 on; in 2028 China may stop delivering
    altogether (`cn_cut`, π = 0.1)."""
    return Instance(
        materials=(Material("gallium", "t", demand=100.0, shortage_penalty=100.0,
                            stockpile_cost=1.0, stock_price=2.0),),
        countries=(Country("CHN", "China"), Country("USA", "United States"),
                   Country("AUS", "Australia")),
        offers=(CN, US, AU, AU_LATE),
        policies=(Policy("max_country_share", "gallium", "CHN", "country", "origin", 0.5,
                         name="CN cap", from_period="2027"),),
        scenario_rows=(Scenario("cn_cut", 0.1, (ScenarioHit("CHN", "*", 0.0),),
                                period="2028"),),
        periods=tuple(Period(t, w) for t, w in zip(("2026", "2027", "2028"), weights,
                                                   strict=True)),
        demand_rows=(DemandRow("gallium", "2027", 120.0), DemandRow("gallium", "2028", 150.0)))


@pytest.fixture(scope="module")
def horizon() -> SolveResult:
    return solve_case(horizon_instance())


# ---- the JSON of a multi-period solve -----------------------------------------------------


def test_multi_period_json_keys(horizon):
    data = solve_summary(horizon)
    assert list(data) == ["schema_version", *V1_KEYS[:10], "periods", "by_period",
                          "investments", *V1_KEYS[10:]]
    assert data["periods"] == ["2026", "2027", "2028"]
    assert list(data["cost_breakdown"]) == V1_BREAKDOWN + ["capex", "stock_purchase"]
    assert [list(p) for p in data["by_period"]] == [
        ["period", "weight", "demand", "first_stage_cost", "expected_recourse_cost", "cvar",
         "objective", "weighted_objective", "cost_breakdown", "stock_added",
         "expected_shortage"]] * 3
    for item in data["plan"]:
        assert list(item) == V1_PLAN_ITEM + ["period"]
    for scenario in data["scenarios"]:
        assert list(scenario) == V1_SCENARIO + ["period", "price_surge", "spot_bought"]
    for policy in data["policies"]:
        assert policy["period"] in ("2027", "2028")
    json.dumps(data, allow_nan=False)


def test_multi_period_json_figures_derived_by_hand(horizon):
    """Weights δ = 1, 0.9, 0.8.

    2026: no cap, no risk: 100 t from China at 10 = 1000. Ga AU, built now (capex 500), is
    online in 2027. F = 1500.
    2027: China ≤ 50 % of 120 = 60 t (600); the other 60 t from Ga AU at 12 (720).
    F = 1320.
    2028: demand 150. Ga AU at its 100 t (1200), China 50 t (500, a third: below the cap):
    each t moved from China to Ga AU costs 2 and saves the 3 of stocking it against
    `cn_cut` (1 carrying + 2 to add); the 50 t from China are covered by a stock of 50
    (carrying 50, added 50 × 2 = 100), cheaper than 0.1 × 50 × 100 = 500 of expected
    shortage. F = 1200 + 500 + 50 + 100 = 1850; no recourse cost in any scenario.
    Building Ga AU in 2027 instead would pay 0.9 × 500 = 450 and save only
    0.8 × 625 = 500 against buying from the USA; Ga AU late (30 per t) is never worth it.
    Objective = 1500 + 0.9 × 1320 + 0.8 × 1850 = 4168."""
    data = solve_summary(horizon)
    assert data["objective"] == pytest.approx(4168.0)
    assert data["first_stage_cost"] == pytest.approx(4168.0)
    assert data["expected_recourse_cost"] == 0.0 and data["cvar"] == 0.0
    breakdown = data["cost_breakdown"]
    assert breakdown["capex"] == pytest.approx(500.0)
    assert breakdown["procurement"] == pytest.approx(1000 + 0.9 * 1320 + 0.8 * 1700)
    assert breakdown["stock_carrying"] == pytest.approx(0.8 * 50)
    assert breakdown["stock_purchase"] == pytest.approx(0.8 * 100)

    by_period = {p["period"]: p for p in data["by_period"]}
    assert [(p["weight"], p["demand"]["gallium"], p["first_stage_cost"], p["objective"])
            for p in data["by_period"]] == [
        (1.0, 100.0, pytest.approx(1500.0), pytest.approx(1500.0)),
        (0.9, 120.0, pytest.approx(1320.0), pytest.approx(1320.0)),
        (0.8, 150.0, pytest.approx(1850.0), pytest.approx(1850.0))]
    assert sum(p["weighted_objective"] for p in data["by_period"]) == pytest.approx(
        data["objective"])
    assert by_period["2026"]["cost_breakdown"]["capex"] == 500.0
    assert by_period["2028"]["cost_breakdown"]["stock_purchase"] == pytest.approx(100.0)
    assert by_period["2028"]["stock_added"] == {"gallium": pytest.approx(50.0)}

    assert data["investments"] == [{
        "supplier": "Ga AU", "material": "gallium", "country": "AUS",
        "processing_country": "AUS", "period": "2026", "online_from": "2027",
        "capex": 500.0, "capacity": 100.0}]
    plan = {(p["period"], p["supplier"]): p for p in data["plan"]}
    assert set(plan) == {("2026", "Ga CN"), ("2027", "Ga CN"), ("2027", "Ga AU"),
                         ("2028", "Ga CN"), ("2028", "Ga AU")}
    # share_of_demand is of D_{m,t}: 60 of 120, 50 of 150
    assert plan[("2027", "Ga CN")]["quantity"] == pytest.approx(60.0)
    assert plan[("2027", "Ga CN")]["share_of_demand"] == pytest.approx(0.5)
    assert plan[("2028", "Ga CN")]["share_of_demand"] == pytest.approx(1 / 3)
    assert plan[("2028", "Ga AU")]["share_of_demand"] == pytest.approx(2 / 3)

    assert data["stockpile"] == {"gallium": {"2026": 0.0, "2027": 0.0,
                                             "2028": pytest.approx(50.0)}}
    assert data["hhi"]["gallium"]["origin"] == {
        "2026": pytest.approx(10_000.0), "2027": pytest.approx(5_000.0),
        "2028": pytest.approx(10_000 * (1 / 9 + 4 / 9))}
    assert data["shares"]["gallium"]["origin"]["2027"] == {
        "CHN": pytest.approx(0.5), "AUS": pytest.approx(0.5)}
    scenarios = [(s["period"], s["scenario"], s["probability"]) for s in data["scenarios"]]
    assert scenarios == [("2026", "baseline", 1.0), ("2027", "baseline", 1.0),
                         ("2028", "cn_cut", 0.1), ("2028", "baseline", pytest.approx(0.9))]
    cut = data["scenarios"][2]
    assert cut["stock_drawn"] == {"gallium": pytest.approx(50.0)}
    assert cut["spot_bought"] == {"gallium": 0.0} and cut["recourse_cost"] == 0.0


def test_a_one_row_periods_instance_gets_the_multi_period_shape():
    """One period 2026 (weight 1): the plan of 2026 above, 100 t from China, nothing
    built (a project online only after the horizon cannot be built)."""
    instance = dataclasses.replace(horizon_instance(), periods=(Period("2026"),),
                                   demand_rows=(), policies=(),
                                   offers=(CN, US, AU), scenario_rows=())
    data = solve_summary(solve_case(instance))
    assert list(data) == ["schema_version", *V1_KEYS[:10], "periods", "by_period",
                          "investments", *V1_KEYS[10:]]
    assert data["periods"] == ["2026"]
    assert data["investments"] == []
    assert [p["period"] for p in data["plan"]] == ["2026"]
    assert data["stockpile"] == {"gallium": {"2026": 0.0}}
    assert data["hhi"] == {"gallium": {"origin": {"2026": 10_000.0},
                                       "processing": {"2026": 10_000.0}}}
    assert data["by_period"][0]["objective"] == pytest.approx(1000.0) == data["objective"]


def test_a_workbook_with_a_one_row_periods_sheet_gets_the_multi_period_shape(tmp_path):
    from builders import basic_sheets

    book = write_workbook(tmp_path / "one.xlsx", basic_sheets(Periods=[["period"], [2026]]))
    data = solve_summary(solve_case(prepare_case(load(book))))
    assert data["periods"] == ["2026"]
    assert all(item["period"] == "2026" for item in data["plan"])
    assert set(data["stockpile"]) <= {"gallium"}
    assert list(data["hhi"]["gallium"]["origin"]) == ["2026"]


def test_no_periods_sheet_keeps_the_v1_shape(tmp_path):
    from builders import basic_sheets

    book = write_workbook(tmp_path / "v1.xlsx", basic_sheets())
    data = solve_summary(solve_case(prepare_case(load(book))))
    assert list(data) == ["schema_version", *V1_KEYS]
    assert list(data["cost_breakdown"]) == V1_BREAKDOWN
    assert all(list(item) == V1_PLAN_ITEM for item in data["plan"])
    assert all(list(s) == V1_SCENARIO for s in data["scenarios"])
    assert isinstance(data["stockpile"], dict)
    assert all(isinstance(h, float) for by_stage in data["hhi"].values()
               for h in by_stage.values())


def test_no_periods_sheet_with_projects_adds_only_investments():
    """One period, no Periods sheet: demand 100, China at 10 or Ga AU now (lead time 0,
    capex 500, 12 per t): China alone costs 1000, so nothing is built. The JSON is v1's
    with `investments` (empty) and the capex in the cost breakdown."""
    au_now = dataclasses.replace(AU, lead_time=0)
    instance = dataclasses.replace(horizon_instance(), periods=(), demand_rows=(),
                                   policies=(), offers=(CN, US, au_now), scenario_rows=())
    data = solve_summary(solve_case(instance))
    assert list(data) == ["schema_version", *V1_KEYS[:10], "investments", *V1_KEYS[10:]]
    assert data["investments"] == []
    assert list(data["cost_breakdown"]) == V1_BREAKDOWN + ["capex", "stock_purchase"]
    assert all(list(item) == V1_PLAN_ITEM for item in data["plan"])
    assert data["objective"] == pytest.approx(1000.0)


# ---- CVaR weights per period --------------------------------------------------------------


def test_cvar_weights_are_computed_within_each_period():
    """One offer A (AAA, 10 per t) ordered at 100 t = D in both periods, penalty 10 per t,
    no backup, no stock; α = 0.95, so each period's tail is 5 %.
    2026: `a` (π = 0.1) cuts AAA entirely: 100 t short, R = 1000; baseline R = 0. The tail
    is all `a`: weight 0.05 / 0.05 = 1, CVaR_2026 = 1000.
    2027: `b` (π = 0.02) leaves AAA half: R = 500; `c` (π = 0.03) 80 %: R = 200. The tail
    takes b (0.02 → weight 0.4) then c (0.03 → 0.6): CVaR_2027 = 0.4·500 + 0.6·200 = 320.
    Over the flattened list of both periods `a` alone would fill the tail and b, c would
    weigh nothing."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=1000.0)
    instance = Instance(
        materials=(Material("m", "t", demand=100.0, shortage_penalty=10.0),),
        countries=(Country("AAA"),), offers=(a,),
        scenario_rows=(Scenario("a", 0.1, (ScenarioHit("AAA", "*", 0.0),), period="2026"),
                       Scenario("b", 0.02, (ScenarioHit("AAA", "*", 0.5),), period="2027"),
                       Scenario("c", 0.03, (ScenarioHit("AAA", "*", 0.8),), period="2027")),
        periods=(Period("2026"), Period("2027")), settings=Settings(cvar_alpha=0.95))
    plan = tuple(PlanLine("A", "m", "AAA", "AAA", 100.0, 0.0, True, t)
                 for t in ("2026", "2027"))
    check = verify(instance, plan, {})
    assert check.ok, check.problems
    result = SolveResult(instance, Solution(Status.OPTIMAL, None, None, None, 0.0, 0.0,
                                            plan=plan), check)
    rows = {(r["period"], r["scenario"]): r for r in scenario_rows(result)}
    assert rows[("2026", "a")]["cvar_weight"] == pytest.approx(1.0)
    assert rows[("2026", "baseline")]["cvar_weight"] == 0.0
    assert rows[("2027", "b")]["cvar_weight"] == pytest.approx(0.4)
    assert rows[("2027", "c")]["cvar_weight"] == pytest.approx(0.6)
    assert rows[("2027", "baseline")]["cvar_weight"] == pytest.approx(0.0, abs=1e-12)
    for period in check.periods:
        mine = [r for r in rows.values() if r["period"] == period.period]
        assert sum(r["cvar_weight"] * r["recourse_cost"] for r in mine) == pytest.approx(
            period.cvar)
    assert [p.cvar for p in check.periods] == [pytest.approx(1000.0), pytest.approx(320.0)]
    assert summarise(result).by_period[1].cvar == pytest.approx(320.0)


# ---- the report workbook over a horizon ---------------------------------------------------

HORIZON_SHEETS = ["Summary", "Costs by period", "Plan", "Projects", "Stockpile", "Exposure",
                  "Shares origin", "Shares processing", "Scenarios", "Policies", "Inputs"]


@pytest.fixture(scope="module")
def report(horizon, tmp_path_factory):
    target = tmp_path_factory.mktemp("report_v2") / "horizon.xlsx"
    write_solve_report(horizon, target)
    return load_workbook(target)


def header(sheet, row: int) -> list:
    return [c for c in next(sheet.iter_rows(min_row=row, max_row=row, values_only=True))
            if c is not None]


def body(sheet, first: int, last: int | None = None) -> list[tuple]:
    return list(sheet.iter_rows(min_row=first, max_row=last, values_only=True))


def test_the_report_over_a_horizon_has_its_sheets(report):
    assert report.sheetnames == HORIZON_SHEETS


def test_the_plan_has_a_period_column_and_shares_of_each_periods_demand(report):
    """Header in row 1 (evaluate --plan reads it back), period first, time order; the
    shares are of D_{m,t} (60 of 120 in 2027, 100 of 150 in 2028)."""
    plan = report["Plan"]
    assert header(plan, 1)[:3] == ["period", "supplier", "material"]
    lines = [r for r in body(plan, 2) if r[1] not in (None, "Total")]
    assert [(r[0], r[1]) for r in lines] == [
        ("2026", "Ga CN"), ("2027", "Ga AU"), ("2027", "Ga CN"), ("2028", "Ga AU"),
        ("2028", "Ga CN")]
    share = {(r[0], r[1]): r[10] for r in lines}
    assert share[("2027", "Ga CN")] == pytest.approx(0.5)
    assert share[("2028", "Ga AU")] == pytest.approx(2 / 3)
    totals = [r for r in body(plan, 2) if r[1] == "Total"]
    assert totals[0][9] == pytest.approx(1000 + 1320 + 1700), "undiscounted spend"


def test_the_projects_sheet(report):
    """Ga AU: built, starts 2026, online 2027, capex 500, capacity 100; it carries 0 %,
    50 % (60 of 120) and 66.7 % (100 of 150); China fell from 100 % in 2026 to 50 % in
    2027 when it came online, and the 50 % cap on China, binding in 2027, is one it does
    not count against. Ga AU late is not built."""
    projects = report["Projects"]
    row = next(r for r in range(1, projects.max_row + 1)
               if projects.cell(r, 1).value == "supplier")
    headers = header(projects, row)
    assert headers[:11] == ["supplier", "material", "origin", "processing country", "built",
                            "build starts", "online from", "capex (USD)",
                            "capacity per period", "lead time", "landed unit cost (USD)"]
    assert headers[11:14] == ["share 2026", "share 2027", "share 2028"]
    assert headers[14:] == ["what it displaced", "limits it helps meet"]
    rows = {r[0]: r for r in body(projects, row + 1) if r[0]}
    au = rows["Ga AU"]
    assert au[4:10] == ("yes", "2026", "2027", 500, 100, 1)
    assert au[11:14] == (0, pytest.approx(0.5), pytest.approx(2 / 3))
    assert au[14] == "CHN 100% in 2026 → 50% in 2027"
    assert au[15] == "CN cap (binding in 2027)"
    late = rows["Ga AU late"]
    assert late[4:7] == ("no", "—", "—")
    assert late[14] == "not built"


def test_stock_levels_over_time(report):
    """Stock per period: none until 2028, then 50 t, all of it added in 2028 (carrying
    50, purchase 100)."""
    stock = report["Stockpile"]
    assert header(stock, 1)[:6] == ["material", "unit", "period", "stock", "added",
                                    "released"]
    rows = [r for r in body(stock, 2, 4)]
    assert [(r[2], r[3], r[4], r[5]) for r in rows] == [("2026", 0, 0, 0), ("2027", 0, 0, 0),
                                                        ("2028", 50, 50, 0)]
    assert rows[2][7:9] == (50, 100)


def test_the_share_charts_refer_to_each_materials_periods(report):
    """One stacked column chart per material on each stage's sheet: the periods are the
    categories, one series per country named by its header cell, values its shares."""
    for stage in ("origin", "processing"):
        sheet = report[f"Shares {stage}"]
        (chart,) = sheet._charts
        assert chart.grouping == "stacked" and chart.type == "col"
        header_row = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "period")
        assert header(sheet, header_row) == ["period", "CHN", "AUS", "total", "HHI"]
        q = f"'Shares {stage}'!"
        first, last = header_row + 1, header_row + 3
        assert [s.cat.numRef.f for s in chart.series] == [f"{q}$A${first}:$A${last}"] * 2
        assert [s.tx.strRef.f for s in chart.series] == [f"{q}$B${header_row}",
                                                         f"{q}$C${header_row}"]
        assert [s.val.numRef.f for s in chart.series] == [f"{q}$B${first}:$B${last}",
                                                          f"{q}$C${first}:$C${last}"]
        assert [sheet.cell(r, 1).value for r in range(first, last + 1)] == [
            "2026", "2027", "2028"]
        assert [sheet.cell(r, 2).value for r in range(first, last + 1)] == [
            1, pytest.approx(0.5), pytest.approx(1 / 3)]


def test_period_columns_on_exposure_scenarios_and_policies(report):
    exposure = report["Exposure"]
    row = next(r for r in range(1, 10) if exposure.cell(r, 1).value == "stage")
    assert header(exposure, row)[:3] == ["stage", "material", "period"]
    assert [r[:3] for r in body(exposure, row + 1, row + 3)] == [
        ("origin", "gallium", "2026"), ("origin", "gallium", "2027"),
        ("origin", "gallium", "2028")]

    scenarios = report["Scenarios"]
    row = next(r for r in range(1, 10) if scenarios.cell(r, 1).value == "period")
    assert header(scenarios, row)[:2] == ["period", "scenario"]
    listed = [(r[0], r[1]) for r in body(scenarios, row + 1, row + 4)]
    assert listed == [("2026", "baseline"), ("2027", "baseline"), ("2028", "cn_cut"),
                      ("2028", "baseline")]

    policies = report["Policies"]
    row = next(r for r in range(1, 10) if policies.cell(r, 1).value == "policy")
    assert header(policies, row)[:2] == ["policy", "period"]
    assert [(r[0], r[1], r[9]) for r in body(policies, row + 1, row + 2)] == [
        ("CN cap", "2027", "yes"), ("CN cap", "2028", "no")]


def test_the_scenarios_tables_stand_one_under_the_other_over_a_horizon(report):
    """As in one period: the scenarios (period, scenario, ...) with each period's
    expectation and CVaR under them, then the materials (period, scenario, material,
    ...) in the same columns further down, then the recourse by period; nothing stands
    right of the nine columns of the first table, so no row mixes two tables."""
    sheet = report["Scenarios"]
    costs = sheet.tables["ScenarioCosts"].ref
    materials = sheet.tables["ScenarioMaterials"].ref
    assert costs.startswith("A") and costs.split(":")[1].startswith("I")
    assert materials.startswith("A") and materials.split(":")[1].startswith("H")
    costs_last = int(costs.split(":")[1][1:])
    materials_first = int(materials.split(":")[0][1:])
    total = next(r for r in range(1, sheet.max_row + 1)
                 if sheet.cell(r, 1).value == "total (weighted)")
    assert costs_last < total < materials_first
    assert header(sheet, materials_first) == ["period", "scenario", "material", "unit",
                                              "shortage", "stock drawn", "backup called",
                                              "spot bought"]
    assert body(sheet, materials_first + 1)[0][:3] == ("2028", "cn_cut", "gallium")
    for row in sheet.iter_rows(values_only=True):
        assert all(v is None for v in row[9:]), row


def test_billions_of_recourse_fit_their_columns_on_the_scenarios_sheet(tmp_path):
    """A held plan (A, 100 t from AAA in both periods) with a shortage penalty of 10^8 per
    t: `a` cuts AAA in 2026 (R = 10^10) and `b` halves it in 2027 (R = 5 × 10^9), the
    CVaR of each period (tail 5 % inside π = 10 %), 1.5 × 10^10 over both. Every number
    on the Scenarios sheet, the per-period CVaR under the costs and the recourse by period
    at the bottom included, fits its column with its thousands separators."""
    a = Offer("A", "m", "AAA", "AAA", unit_cost=10.0, capacity=1000.0)
    instance = Instance(
        materials=(Material("m", "t", demand=100.0, shortage_penalty=1e8),),
        countries=(Country("AAA"),), offers=(a,),
        scenario_rows=(Scenario("a", 0.1, (ScenarioHit("AAA", "*", 0.0),), period="2026"),
                       Scenario("b", 0.1, (ScenarioHit("AAA", "*", 0.5),), period="2027")),
        periods=(Period("2026"), Period("2027")))
    plan = tuple(PlanLine("A", "m", "AAA", "AAA", 100.0, 0.0, True, t)
                 for t in ("2026", "2027"))
    check = verify(instance, plan, {})
    assert check.ok, check.problems
    result = SolveResult(instance, Solution(Status.OPTIMAL, None, None, None, 0.0, 0.0,
                                            plan=plan), check)
    target = tmp_path / "big.xlsx"
    write_solve_report(result, target)
    sheet = load_workbook(target)["Scenarios"]
    numbers = [(c.column_letter, c.value) for row in sheet.iter_rows() for c in row
               if isinstance(c.value, int | float) and not isinstance(c.value, bool)]
    assert max(v for _, v in numbers) == pytest.approx(1.5e10)
    for letter, value in numbers:
        width = sheet.column_dimensions[letter].width
        assert len(f"{abs(value):,.2f}") + 1 <= width, (letter, value, width)


def test_the_summary_splits_the_objective_by_period(report):
    """1 × 1500, 0.9 × 1320 = 1188, 0.8 × 1850 = 1480; they add up to 4168."""
    summary = report["Summary"]
    column = [summary.cell(r, 1).value for r in range(1, summary.max_row + 1)]
    start = column.index("Objective by period (USD)") + 1
    split = [(summary.cell(r + 1, 1).value, summary.cell(r + 1, 2).value)
             for r in range(start, start + 4)]
    assert split == [("2026  (weight 1)", pytest.approx(1500.0)),
                     ("2027  (weight 0.9)", pytest.approx(1188.0)),
                     ("2028  (weight 0.8)", pytest.approx(1480.0)),
                     ("= objective", pytest.approx(4168.0))]
    costs = report["Costs by period"]
    row = next(r for r in range(1, 10) if costs.cell(r, 1).value == "period")
    assert header(costs, row)[-2:] == ["objective", "weight × objective"]
    assert [r[-1] for r in body(costs, row + 1, row + 4)] == [
        pytest.approx(1500.0), pytest.approx(1188.0), pytest.approx(1480.0),
        pytest.approx(4168.0)]
    (chart,) = costs._charts
    assert chart.grouping == "stacked"


def test_input_text_never_becomes_a_formula_over_a_horizon(tmp_path):
    """Names that spreadsheets take for formulas, in a supplier, a material, a project and
    a period id, stay text on every sheet."""
    risky = {"Ga CN": "=HYPERLINK(\"x\")", "Ga AU": "+AU project", "Ga AU late": "@late"}
    base = horizon_instance()
    offers = tuple(dataclasses.replace(o, supplier=risky.get(o.supplier, o.supplier),
                                       material="-gallium") for o in base.offers)
    instance = dataclasses.replace(
        base, offers=offers,
        materials=(dataclasses.replace(base.materials[0], id="-gallium"),),
        policies=tuple(dataclasses.replace(p, material="-gallium") for p in base.policies),
        demand_rows=tuple(dataclasses.replace(d, material="-gallium")
                          for d in base.demand_rows))
    target = tmp_path / "risky.xlsx"
    write_solve_report(solve_case(instance), target)
    book = load_workbook(target)
    seen = set()
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    seen.add(cell.value)
    assert {"=HYPERLINK(\"x\")", "+AU project", "@late", "-gallium"} <= seen


@pytest.mark.parametrize("unit_cost,built,share", [
    (9.0, "no", 0),  # 100 t at 9 + capex 500 = 1400 > 1000 from China: not built
    (4.0, "yes", 1),  # 100 t at 4 + 500 = 900 < 1000: built, carries all 100 t
])
def test_one_period_without_a_periods_sheet_but_with_projects(tmp_path, unit_cost, built,
                                                              share):
    """No Periods sheet, demand 100, China at 10 or a project that can deliver at once
    (lead time 0, capex 500): the v1 sheets (a Plan without a period column) and a
    Projects sheet with one share column."""
    au_now = dataclasses.replace(AU, lead_time=0, unit_cost=unit_cost)
    instance = dataclasses.replace(horizon_instance(), periods=(), demand_rows=(),
                                   policies=(), offers=(CN, au_now), scenario_rows=())
    result = solve_case(instance)
    target = tmp_path / "one.xlsx"
    write_solve_report(result, target)
    book = load_workbook(target)
    assert book.sheetnames == ["Summary", "Plan", "Projects", "Stockpile", "Exposure",
                               "Scenarios", "Policies", "Inputs"]
    assert header(book["Plan"], 1)[0] == "supplier"
    projects = book["Projects"]
    row = next(r for r in range(1, 10) if projects.cell(r, 1).value == "supplier")
    assert header(projects, row)[11] == "share of demand"
    (au,) = [r for r in body(projects, row + 1) if r[0]]
    assert au[4] == built and au[11] == share
    if built == "yes":
        assert au[5:7] == ("this period", "this period")
        assert au[12] is None, "one period: nothing before it to say it displaced"
        assert solve_summary(result)["investments"][0]["period"] == ""


def test_a_period_without_demand_has_no_shares(tmp_path):
    """Gallium demand 0 in 2026: nothing is bought then, its shares and HHI there are not
    defined (null in the JSON, 'no demand' in the report), the other periods are as
    before."""
    instance = dataclasses.replace(
        horizon_instance(),
        demand_rows=horizon_instance().demand_rows + (DemandRow("gallium", "2026", 0.0),))
    result = solve_case(instance)
    data = solve_summary(result)
    assert data["hhi"]["gallium"]["origin"]["2026"] is None
    assert data["shares"]["gallium"]["origin"]["2026"] is None
    assert data["hhi"]["gallium"]["origin"]["2027"] == pytest.approx(5_000.0)
    assert [p for p in data["plan"] if p["period"] == "2026"] == []
    json.dumps(data, allow_nan=False)
    target = tmp_path / "zero.xlsx"
    write_solve_report(result, target)
    book = load_workbook(target)
    exposure = [r for r in book["Exposure"].iter_rows(values_only=True)
                if r[:3] == ("origin", "gallium", "2026")]
    assert exposure and "no demand" in exposure[0]
    shares = book["Shares origin"]
    assert any(r[0] == "2026" and "no demand" in r for r in shares.iter_rows(values_only=True))


def test_the_report_over_a_horizon_renders(horizon, tmp_path):
    """LibreOffice prints every sheet with its charts, and no number is too wide for its
    column (skipped without LibreOffice and poppler-utils)."""
    import shutil
    import subprocess

    soffice, pdftotext = shutil.which("soffice"), shutil.which("pdftotext")
    if soffice is None or pdftotext is None:
        pytest.skip("LibreOffice (soffice) or poppler-utils (pdftotext) not installed")
    report = tmp_path / "horizon.xlsx"
    write_solve_report(horizon, report)
    profile = tmp_path / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(report)],
                   check=True, timeout=120, capture_output=True)
    text = subprocess.run([pdftotext, "-layout", str(tmp_path / "horizon.pdf"), "-"],
                          check=True, capture_output=True, text=True, timeout=60).stdout
    footers = {line.split("  ")[0].strip() for line in text.splitlines()
               if "page" in line and " of " in line}
    assert set(HORIZON_SHEETS) <= footers
    for title in ("gallium: origin shares by country",
                  "gallium: processing shares by country",
                  "First-stage cost and expected recourse by period",
                  "Recourse cost if the scenario happens, by period"):
        assert title in text, title
    assert "###" not in text and "Err:" not in text
