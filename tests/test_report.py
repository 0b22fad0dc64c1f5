"""The solve report workbook (SPEC §5): every sheet, its figures equal to the JSON
summary's, native charts and tables, and input text that never becomes a formula."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
from builders import write_workbook
from openpyxl import load_workbook

from resilience import __version__
from resilience.api import SolveResult, solve_case
from resilience.cases import prepare_case
from resilience.domain import (
    Country,
    CrossCheck,
    Instance,
    Material,
    Offer,
    PlanLine,
    Solution,
    Status,
)
from resilience.report.excel import write_solve_report
from resilience.report.kpis import (
    HHI_UNIT,
    SHARE_UNIT,
    SolveSummary,
    clean_json,
    objective_terms,
    scenario_rows,
    solve_summary,
    summarise,
)
from resilience.validate import load
from resilience.verify import ScenarioCheck, Verification

SHEETS = ["Summary", "Plan", "Stockpile", "Exposure", "Scenarios", "Policies", "Inputs"]
RISKY_SUPPLIER = '=HYPERLINK("http://x")'
RISKY_MATERIAL = "@SUM(A1)"


def same(value: float):
    """Equal to the JSON figure: openpyxl keeps 16 significant digits of a float."""
    return pytest.approx(value, rel=1e-14, abs=1e-12)


def tricky_sheets() -> dict[str, list]:
    """Three materials (one named like a formula), five countries, offers whose supplier
    names start with =, + and -, every policy rule, a stockpile, λ > 0 and a currency."""
    return {
        "Materials": [
            {"material": "gallium", "unit": "t", "demand": 100, "shortage_penalty": 1000,
             "stockpile_cost": 5, "max_stockpile": 30, "comment": "=1+1"},
            {"material": RISKY_MATERIAL, "unit": "kg", "demand": 50,
             "shortage_penalty": 400},
            {"material": "germanium", "unit": "t", "demand": 80, "shortage_penalty": 900},
        ],
        "Countries": [
            {"country": "CHN", "name": "China", "disruption_prob": 0.1, "groups": "FEOC",
             "tariff": 0.25},
            {"country": "USA", "name": "United States", "disruption_prob": 0,
             "groups": "ALLY", "tariff": 0},
            {"country": "DEU", "name": "Germany", "disruption_prob": 0.02,
             "groups": "ALLY, EU", "tariff": 0},
            {"country": "JPN", "name": "Japan", "disruption_prob": 0.03, "groups": "ALLY",
             "tariff": 0.02},
            {"country": "RUS", "name": "Russia", "disruption_prob": 0.2, "groups": "FEOC",
             "tariff": 0.1},
        ],
        "Suppliers": [
            {"supplier": RISKY_SUPPLIER, "material": "gallium", "country": "CHN",
             "unit_cost": 10, "capacity": 80, "fixed_cost": 50},
            {"supplier": "Ga USA", "material": "gallium", "country": "USA", "unit_cost": 18,
             "capacity": 60, "fixed_cost": 80, "reserve_cost": 2},
            {"supplier": "Ga DE", "material": "gallium", "country": "DEU",
             "processing_country": "CHN", "unit_cost": 14, "capacity": 50, "fixed_cost": 30},
            {"supplier": "+plus", "material": RISKY_MATERIAL, "country": "JPN",
             "unit_cost": 30, "capacity": 40, "reserve_cost": 3},
            {"supplier": "-minus", "material": RISKY_MATERIAL, "country": "CHN",
             "unit_cost": 20, "capacity": 100},
            {"supplier": "Ge RU", "material": "germanium", "country": "RUS", "unit_cost": 40,
             "capacity": 100, "min_order": 10},
            {"supplier": "Ge US", "material": "germanium", "country": "USA", "unit_cost": 55,
             "capacity": 60},
            {"supplier": "Ge JP", "material": "germanium", "country": "JPN",
             "processing_country": "DEU", "unit_cost": 50, "capacity": 60},
        ],
        "Policies": [
            {"rule": "max_country_share", "material": "*", "target": "*", "stage": "both",
             "value": 0.65, "name": "EU CRMA 65%"},
            {"rule": "min_group_share", "material": "gallium", "target": "ALLY",
             "stage": "origin", "value": 0.4},
            {"rule": "max_hhi", "material": "germanium", "target": "*", "stage": "origin",
             "value": 5000},
            {"rule": "exclude", "material": RISKY_MATERIAL, "target": "RUS",
             "stage": "both"},
        ],
        "Settings": [["key", "value"], ["risk_aversion", 0.3], ["currency", "EUR"]],
    }


def write_as_text(path: Path, sheets: dict[str, list]) -> Path:
    """The builders' workbook, with text that looks like a formula stored as text (as a
    user typing '=... with a leading apostrophe would store it)."""
    write_workbook(path, sheets)
    book = load_workbook(path)
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"
    book.save(path)
    return path


@pytest.fixture(scope="module")
def solved(tmp_path_factory) -> tuple[SolveResult, dict, Path]:
    folder = tmp_path_factory.mktemp("report")
    book = write_as_text(folder / "tricky.xlsx", tricky_sheets())
    result = solve_case(prepare_case(load(book)))
    target = folder / "out" / "report.xlsx"
    write_solve_report(result, target)
    return result, solve_summary(result), target


@pytest.fixture(scope="module")
def workbook(solved):
    return load_workbook(solved[2])


def rows_of(sheet, first: int = 1) -> list[list]:
    return [list(r) for r in sheet.iter_rows(min_row=first, values_only=True)]


def find_row(sheet, column: int, value) -> int:
    for row in sheet.iter_rows(min_col=column, max_col=column):
        if row[0].value == value:
            return row[0].row
    raise AssertionError(f"{value!r} not in column {column} of {sheet.title}")


def test_sheets_in_order_with_charts_and_frozen_headers(workbook):
    assert workbook.sheetnames == SHEETS
    assert workbook["Plan"].freeze_panes == "A2"
    assert workbook["Exposure"].freeze_panes == "C5"
    assert workbook["Scenarios"].freeze_panes is None  # two tables, one under the other
    assert workbook["Policies"].freeze_panes == "B5"
    assert len(workbook["Exposure"]._charts) == 2
    assert len(workbook["Scenarios"]._charts) == 1
    assert set(workbook["Plan"].tables) == {"PlanLines"}
    assert set(workbook["Scenarios"].tables) == {"ScenarioCosts", "ScenarioMaterials"}
    assert set(workbook["Policies"].tables) == {"PolicyRows"}
    assert {"InputMaterials", "InputSuppliers"} <= set(workbook["Inputs"].tables)
    assert workbook["Plan"].column_dimensions["A"].width >= 14


def test_no_formula_anywhere_and_input_text_stays_text(workbook):
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
    risky = {RISKY_SUPPLIER, RISKY_MATERIAL, "+plus", "-minus"}
    seen: dict[str, int] = {}
    for sheet in workbook:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value in risky:
                    assert cell.data_type == "s", f"{sheet.title}!{cell.coordinate}"
                    seen[cell.value] = seen.get(cell.value, 0) + 1
    assert set(seen) == risky
    plan = workbook["Plan"]
    assert plan.cell(find_row(plan, 1, RISKY_SUPPLIER), 1).value == RISKY_SUPPLIER


def test_summary_shows_the_objective_in_parts_that_add_up(solved, workbook):
    result, summary, _ = solved
    sheet = workbook["Summary"]
    values = {row[0]: row[1] for row in rows_of(sheet) if row[0] is not None}
    costs = summary["cost_breakdown"]
    assert values["status"] == "optimal"
    assert values["optimality gap"] == pytest.approx(summary["mip_gap"])
    assert values["procurement (landed cost of firm orders)"] == same(costs["procurement"])
    assert values["of which tariffs"] == same(costs["of_which_tariffs"])
    assert values["fixed contract costs"] == same(costs["fixed_contract"])
    assert values["reserve capacity"] == same(costs["reserve"])
    assert values["stock carrying"] == same(costs["stock_carrying"])
    assert values["first-stage cost F"] == same(summary["first_stage_cost"])
    assert values["expected recourse cost E[R]"] == same(summary["expected_recourse_cost"])
    assert values["CVaR 95% of recourse cost"] == same(summary["cvar"])
    assert values["risk aversion λ"] == 0.3
    assert values["= objective"] == same(summary["objective"])
    # the headline: the objective, said to be the λ-weighted blend, with the spend beside it
    notes = {row[0]: row[2] for row in rows_of(sheet) if row[0] is not None}
    labels = [row[0] for row in rows_of(sheet)]
    headline = labels.index("objective (EUR)")
    assert labels[headline + 1] == "spend: first-stage cost (EUR)"
    assert headline < labels.index("solver objective (EUR)")
    assert values["objective (EUR)"] == same(summary["objective"])
    assert values["spend: first-stage cost (EUR)"] == same(summary["first_stage_cost"])
    assert "λ-weighted" in notes["objective (EUR)"] and "λ = 0.3" in notes["objective (EUR)"]
    assert values["F"] + values["+ (1 − λ) × E[R]"] + values["+ λ × CVaR"] == pytest.approx(
        summary["objective"], rel=1e-12)
    assert values["first-stage cost F"] == pytest.approx(
        costs["procurement"] + costs["fixed_contract"] + costs["reserve"]
        + costs["stock_carrying"])
    terms = objective_terms(summarise(result))
    assert values["+ λ × CVaR"] == same(terms["weighted_cvar"])
    right = {row[4]: row[5] for row in rows_of(sheet) if len(row) > 5 and row[4]}
    assert right["file"] == "tricky.xlsx"
    assert right["SHA-256"] == result.instance.source_sha256
    assert right["currency"] == "EUR"
    assert {"resilience", "Pyomo", "HiGHS"} <= set(right)
    assert right["Pyomo"] == summary["versions"]["pyomo"]
    assert sheet.max_row <= 30, "the Summary fits on one screen"


def test_plan_lines_equal_the_json_sorted_with_totals(solved, workbook):
    result, summary, _ = solved
    sheet = workbook["Plan"]
    rows = rows_of(sheet)
    assert rows[0] == ["supplier", "material", "unit", "origin", "processing country",
                       "quantity", "reserve", "landed unit cost (EUR)", "spend (EUR)",
                       "share of demand"]
    body, total = rows[1:-1], rows[-1]
    assert len(body) == len(summary["plan"])
    by_key = {(p["supplier"], p["material"]): p for p in summary["plan"]}
    for row in body:
        line = by_key[(row[0], row[1])]
        assert row[2:5] == [line["unit"], line["country"], line["processing_country"]]
        assert row[5:] == [line["quantity"], line["reserve"], line["landed_unit_cost"],
                           line["spend"], line["share_of_demand"]]
    order = [m.id for m in result.instance.materials]
    keys = [(order.index(r[1]), -r[8]) for r in body]
    assert keys == sorted(keys), "sorted by material, then spend, largest first"
    assert total[:2] == ["Total", f"{len(body)} contracts"]
    assert total[8] == pytest.approx(sum(p["spend"] for p in summary["plan"]))
    assert sheet.tables["PlanLines"].ref == f"A1:J{len(body) + 1}"
    assert sheet["J2"].number_format == "0.0%"
    assert sheet["I2"].number_format == "#,##0.00"


def test_stockpile_sheet_holds_the_strategic_stock(solved, workbook):
    _, summary, _ = solved
    rows = rows_of(workbook["Stockpile"])
    assert rows[0][:3] == ["material", "unit", "stock"]
    assert rows[1][0] == "gallium" and rows[1][2] == summary["stockpile"]["gallium"]


def test_exposure_shares_and_exact_hhi(solved, workbook):
    _, summary, _ = solved
    sheet = workbook["Exposure"]
    header = [c.value for c in sheet[4]]
    assert header[:2] == ["stage", "material"] and header[-2:] == ["total", "HHI"]
    countries = header[2:-2]
    seen = 0
    for row in sheet.iter_rows(min_row=5, max_row=4 + 2 * 3, values_only=True):
        stage, material = row[0], row[1]
        expected = summary["shares"][material][stage]
        got = {c: v for c, v in zip(countries, row[2:-2], strict=True) if v is not None}
        assert got == pytest.approx(expected)
        assert row[-2] == pytest.approx(sum(expected.values()))
        assert row[-1] == pytest.approx(summary["hhi"][material][stage])
        seen += 1
    assert seen == 6
    assert len(sheet.conditional_formatting) >= 2
    titles = ["".join(r.t for p in ch.title.tx.rich.p for r in p.r)
              for ch in sheet._charts]
    assert titles == ["Origin: share of demand by country",
                      "Processing: share of demand by country"]
    assert all(ch.grouping == "stacked" for ch in sheet._charts)


def test_scenarios_costs_equal_the_json_and_the_cvar_weights_rebuild_cvar(solved, workbook):
    result, summary, _ = solved
    sheet = workbook["Scenarios"]
    for scenario in summary["scenarios"]:
        r = find_row(sheet, 1, scenario["scenario"])
        assert sheet.cell(r, 2).value == pytest.approx(scenario["probability"])
        assert sheet.cell(r, 3).value == pytest.approx(scenario["recourse_cost"])
    expected_row = find_row(sheet, 1, "expected (Σ probability × cost)")
    assert sheet.cell(expected_row, 3).value == pytest.approx(
        summary["expected_recourse_cost"])
    cvar_row = find_row(sheet, 1, "CVaR 95%")
    assert sheet.cell(cvar_row, 3).value == pytest.approx(summary["cvar"])
    rows = scenario_rows(result)
    assert sum(r["cvar_weight"] for r in rows) == pytest.approx(1.0)
    assert sum(r["cvar_weight"] * r["recourse_cost"] for r in rows) == pytest.approx(
        summary["cvar"])
    for r in rows:
        assert r["shortage_cost"] + r["backup_cost"] == pytest.approx(r["recourse_cost"])
    # The per-material table, under the costs, lists every shortage of the JSON.
    table = sheet.tables["ScenarioMaterials"]
    first, last = (int(part[1:]) for part in table.ref.split(":"))
    assert first > cvar_row and table.ref.startswith("A")
    assert [c.value for c in sheet[first]][:6] == ["scenario", "material", "unit",
                                                   "shortage", "stock drawn",
                                                   "backup called"]
    listed = {(row[0], row[1]): row[3] for row in rows_of(sheet, first + 1)[:last - first]}
    for scenario in summary["scenarios"]:
        for material, short in scenario["shortage"].items():
            if short > 1e-6:
                assert listed[(scenario["scenario"], material)] == pytest.approx(short)


def test_the_scenarios_tables_stand_one_under_the_other(solved, workbook):
    """Row by row, the costs of a scenario never sit beside another scenario's material:
    nothing is written right of the cost table, and the material table starts below the
    CVaR line with its own header and section title."""
    result, summary, _ = solved
    sheet = workbook["Scenarios"]
    costs = sheet.tables["ScenarioCosts"].ref
    assert costs.startswith("A") and costs.split(":")[1].startswith("G")
    for row in sheet.iter_rows(min_row=1, values_only=True):
        assert all(v is None for v in row[7:]), row
    cvar_row = find_row(sheet, 1, "CVaR 95%")
    section = next(r for r in range(cvar_row + 1, sheet.max_row + 1)
                   if str(sheet.cell(r, 1).value or "").startswith("Each material short"))
    assert sheet.cell(section + 1, 1).value == "scenario"
    assert sheet.tables["ScenarioMaterials"].ref.startswith(f"A{section + 1}:F")
    (chart,) = sheet._charts
    assert chart.anchor._from.col >= 7, "the chart stands right of the cost table"
    # 8 cm of chart from the cost table's header row down: the materials start below it
    assert section - (chart.anchor._from.row + 1) >= 16


def test_policies_every_row_with_limit_binding_and_cost(solved, workbook):
    result, summary, _ = solved
    sheet = workbook["Policies"]
    rows = [r for r in rows_of(sheet, 5) if r[0] is not None]
    costs = sorted(result.solution.policy_costs, key=lambda c: c.policy_index)
    assert len(rows) == len(costs) + 1  # + the exclude row
    for row, cost in zip(rows, costs, strict=False):
        assert row[1] == cost.rule and row[2] == cost.material and row[4] == cost.stage
        assert row[5] == pytest.approx(cost.limit)
        assert row[6] == pytest.approx(cost.achieved)
        assert row[8] == ("yes" if cost.binding else "no")
        assert row[9] == pytest.approx(cost.cost_per_point)
    hhi = next(r for r in rows if r[1] == "max_hhi")
    assert hhi[7] == pytest.approx(summary["hhi"]["germanium"]["origin"])
    assert hhi[6] >= hhi[7] - 1e-6, "the chord value is never below the exact HHI"
    exclude = next(r for r in rows if r[1] == "exclude")
    assert exclude[3] == "RUS" and exclude[6] == 0
    assert any(r[8] == "yes" and r[9] > 0 for r in rows), "a binding rule with a price"


def test_inputs_echo_with_warnings(solved, workbook):
    result, _, _ = solved
    rows = rows_of(workbook["Inputs"])
    text = [r[0] for r in rows if r and r[0] is not None]
    assert text[0] == "Inputs — what was read"
    assert any(t.startswith("Warnings (1)") for t in text)
    assert any("unknown column" in t for t in text)
    start = text.index("Suppliers (8 offers)")
    suppliers = [t for t in text[start + 2:]]
    assert suppliers == [o.supplier for o in result.instance.offers]


def test_rewriting_replaces_the_report_and_leaves_no_temporary_file(solved):
    result, _, target = solved
    write_solve_report(result, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.xlsx"]


def test_evaluate_reads_the_plan_and_stock_back(solved):
    from resilience.analyses.evaluate import read_plan

    result, summary, target = solved
    plan = read_plan(target, result.instance)
    got = {(s, m): (x, r) for s, m, _, _, x, r in plan.lines}
    assert got == {(p["supplier"], p["material"]): (pytest.approx(p["quantity"]),
                                                     pytest.approx(p["reserve"]))
                   for p in summary["plan"]}
    assert plan.stockpile == pytest.approx(summary["stockpile"])


def synthetic_result(lines: int, materials: int = 50, countries: int = 100) -> SolveResult:
    """A solved-looking result with `lines` plan lines (no solver, no verifier: the
    verification's figures are filled in directly)."""
    country_list = tuple(Country(f"C{i:03d}", f"Country {i}") for i in range(countries))
    material_list = tuple(Material(f"m{i}", "t", demand=lines / materials * 10.0,
                                   shortage_penalty=1000.0) for i in range(materials))
    offers, plan = [], []
    shares: dict[str, dict[str, dict[str, float]]] = {
        m.id: {"origin": {}, "processing": {}} for m in material_list}
    for k in range(lines):
        material = material_list[k % materials]
        o = Offer(f"supplier {k}", material.id, country_list[k % countries].id,
                  country_list[(k * 7) % countries].id, unit_cost=10.0 + k % 90,
                  capacity=100.0, tariff=0.05)
        x = 1.0 + k % 9
        offers.append(o)
        plan.append(PlanLine(o.supplier, o.material, o.country, o.processing_country, x,
                             0.0, True))
        for stage, country in (("origin", o.country), ("processing", o.processing_country)):
            by_country = shares[material.id][stage]
            by_country[country] = by_country.get(country, 0.0) + x / material.demand
    procurement = sum(o.landed_cost * line.quantity for o, line in zip(offers, plan,
                                                                         strict=True))
    hhi = {m: {stage: 10_000 * sum(v * v for v in by.values()) for stage, by in st.items()}
           for m, st in shares.items()}
    check = Verification(
        ok=True, problems=(), procurement_cost=procurement, tariff_cost=0.0, fixed_cost=0.0,
        reserve_cost=0.0, stock_cost=0.0, first_stage_cost=procurement,
        expected_recourse_cost=0.0, cvar=0.0, objective=procurement,
        scenarios=(ScenarioCheck("baseline", 1.0, {}, {}, {}, 0.0),), shares=shares,
        hhi=hhi)
    instance = Instance(material_list, country_list, tuple(offers), source_name="big.xlsx")
    solution = Solution(Status.OPTIMAL, procurement, procurement, 0.0, 1.0, 1.0,
                        plan=tuple(plan), solver_versions={"highs": "-", "pyomo": "-"})
    return SolveResult(instance, solution, check)


def test_a_large_plan_is_streamed_complete_and_in_order(tmp_path):
    """The streamed Plan body holds every line, sorted, with the totals row (speed is
    measured in benchmarks/io_speed.py, never asserted here)."""
    from python_calamine import CalamineWorkbook

    result = synthetic_result(100_000)
    target = tmp_path / "big.xlsx"
    write_solve_report(result, target)
    rows = CalamineWorkbook.from_path(str(target)).get_sheet_by_name("Plan").to_python()
    assert len(rows) == 100_002
    assert rows[-1][:2] == ["Total", "100000 contracts"]
    assert rows[-1][8] == pytest.approx(result.verification.procurement_cost)
    assert rows[1][1] == "m0" and rows[-2][1] == "m49"


# ---- the JSON of solve: a typed summary whose figures name their units ---------------------


def legacy_summary(result: SolveResult) -> dict:
    """The JSON of `solve` as it was built before the summary was typed (a verbatim copy
    of the old `solve_summary`): the typed summary must keep every figure under the same
    key, in the same order, and only add units."""
    instance, solution, check = result.instance, result.solution, result.verification
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    demands = {m.id: m.demand for m in instance.materials}
    plan = []
    for line in solution.plan:
        offer = offers[(line.supplier, line.material, line.country, line.processing_country)]
        demand = demands[line.material]
        plan.append({
            "supplier": line.supplier, "material": line.material, "country": line.country,
            "processing_country": line.processing_country, "quantity": line.quantity,
            "reserve": line.reserve, "landed_unit_cost": offer.landed_cost,
            "spend": offer.landed_cost * line.quantity, "share_of_demand": line.quantity / demand,
        })
    return {
        "status": solution.status.value,
        "objective": check.objective,
        "solver_objective": solution.objective,
        "bound": solution.bound,
        "mip_gap": solution.mip_gap,
        "first_stage_cost": check.first_stage_cost,
        "expected_recourse_cost": check.expected_recourse_cost,
        "cvar": check.cvar,
        "cost_breakdown": {
            "procurement": check.procurement_cost,
            "of_which_tariffs": check.tariff_cost,
            "fixed_contract": check.fixed_cost,
            "reserve": check.reserve_cost,
            "stock_carrying": check.stock_cost,
            "expected_recourse": check.expected_recourse_cost,
            "cvar": check.cvar,
        },
        "plan": plan,
        "stockpile": dict(solution.stockpile),
        "hhi": check.hhi,
        "shares": check.shares,
        "expected_shortage": check.expected_shortage,
        "scenarios": [dataclasses.asdict(s) for s in check.scenarios],
        # v2 adds a policy's `period`, only over a horizon
        "policies": [{k: v for k, v in dataclasses.asdict(p).items() if k != "period" or v}
                     for p in solution.policy_costs],
        "strategy": instance.strategy,
        "whatif": instance.whatif,
        "settings": dataclasses.asdict(instance.settings),
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "warnings": [str(w) for w in instance.warnings],
        "versions": {"resilience": __version__, **solution.solver_versions},
        "solver": solution.solver,
        "cross_check": None if solution.cross_check is None
        else dataclasses.asdict(solution.cross_check),
        "timings": {"build_seconds": solution.build_seconds,
                    "solve_seconds": solution.solve_seconds},
    }


def without_units(data: dict) -> dict:
    """The JSON with exactly the keys the units added taken out again, and the schema
    version JSON v2 put first."""
    plain = {key: value for key, value in data.items()
             if key not in ("units", "schema_version")}
    plain["plan"] = [{k: v for k, v in line.items() if k != "unit"} for line in data["plan"]]
    plain["policies"] = [{k: v for k, v in row.items()
                          if k not in ("unit", "cost_per_point_unit")}
                         for row in data["policies"]]
    return plain


def test_the_json_names_the_currency_and_each_materials_unit(solved):
    _, summary, _ = solved
    on_materials_sheet = {row["material"]: row["unit"]
                          for row in tricky_sheets()["Materials"]}
    assert summary["units"] == {"currency": "EUR", "share": "fraction of demand (0-1)",
                                "hhi": "HHI points (0-10,000)",
                                "quantity": on_materials_sheet}
    assert summary["units"]["currency"] == summary["settings"]["currency"]
    assert summary["plan"]
    for line in summary["plan"]:
        assert line["unit"] == on_materials_sheet[line["material"]], line
    assert {line["unit"] for line in summary["plan"]} == {"t", "kg"}


def test_policy_rows_say_what_their_limit_and_achieved_are_measured_in(solved):
    _, summary, _ = solved
    rows = summary["policies"]
    # exclude rows remove offers before the solve: no constraint, so no row in the JSON
    assert {r["rule"] for r in rows} == {"max_country_share", "min_group_share", "max_hhi"}
    for row in rows:
        if row["rule"] == "max_hhi":
            assert row["unit"] == "HHI points"
            assert row["limit"] == 5000
            assert row["cost_per_point_unit"] == "EUR per HHI point"
        else:
            assert row["unit"] == "fraction"
            assert 0 <= row["limit"] <= 1 and -1e-9 <= row["achieved"] <= 1 + 1e-9
            assert row["cost_per_point_unit"] == "EUR per percentage point of share"
    assert {r["limit"] for r in rows if r["rule"] == "max_country_share"} == {0.65}


def test_the_typed_summary_gives_the_json_of_before_plus_units(solved):
    """The same figures as before, under the same keys in the same order, with units,
    `schema_version` first and (JSON v2) numerical noise rounded by `clean_json`."""
    result, summary, _ = solved
    assert list(summary)[0] == "schema_version" and summary["schema_version"] == "2"
    assert without_units(summary) == clean_json(legacy_summary(result))
    assert list(without_units(summary)) == list(legacy_summary(result)), "same key order"
    assert [list(line) for line in without_units(summary)["plan"]] == [
        list(line) for line in legacy_summary(result)["plan"]]


def test_the_json_of_before_plus_units_with_a_cross_check_and_no_policies():
    result = synthetic_result(200, materials=5, countries=7)
    checked = dataclasses.replace(result, solution=dataclasses.replace(
        result.solution, cross_check=CrossCheck("pyomo:cbc", 123.0, 120.0, True)))
    for case in (result, checked):
        data = solve_summary(case)
        assert without_units(data) == clean_json(legacy_summary(case))
        assert data["units"]["currency"] == "USD", "the Settings default"
        assert data["units"]["quantity"] == {f"m{i}": "t" for i in range(5)}
    assert solve_summary(checked)["cross_check"]["solver"] == "pyomo:cbc"


def test_the_summary_is_a_frozen_typed_object(solved):
    result, summary, _ = solved
    typed = summarise(result)
    assert isinstance(typed, SolveSummary)
    assert typed.status is Status.OPTIMAL
    assert typed.currency == typed.units.currency == "EUR"
    assert typed.units.share == SHARE_UNIT and typed.units.hhi == HHI_UNIT
    assert [item.to_json() for item in typed.plan] == summary["plan"]
    assert typed.cost_breakdown.procurement == summary["cost_breakdown"]["procurement"]
    assert [p.unit for p in typed.policies] == [p["unit"] for p in summary["policies"]]
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.objective = 0.0  # type: ignore[misc]
    # to_json hands out a copy: a caller that edits it leaves the summary as it was
    edited = typed.to_json()
    edited["stockpile"].clear()
    edited["hhi"]["gallium"].clear()
    edited["shares"]["gallium"]["origin"].clear()
    edited["units"]["quantity"].clear()
    assert typed.to_json() == summary


def test_the_json_is_strict_and_the_same_on_every_call(solved):
    result, _, _ = solved
    assert len({json.dumps(solve_summary(result), allow_nan=False) for _ in range(3)}) == 1
    unbounded = dataclasses.replace(result, solution=dataclasses.replace(
        result.solution, bound=math.inf, mip_gap=math.nan))
    data = solve_summary(unbounded)
    assert data["bound"] is None and data["mip_gap"] is None
    json.dumps(data, allow_nan=False)
