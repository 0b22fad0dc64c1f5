"""Reading a plan workbook for `evaluate` (resilience.plan_reader): the same number rules
and the same `Sheet!Cell: message (found: ...)` problems as the input workbook, every
problem at once, exit code 2 from the command line.

The instance is tests/builders.py's basic workbook: gallium, offers a (AAA) and b (BBB).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from builders import basic_sheets, write_workbook

from resilience.analyses import evaluate
from resilience.errors import InputError
from resilience.plan_reader import read_plan
from resilience.validate import load


@pytest.fixture
def instance(tmp_path):
    return load(write_workbook(tmp_path / "book.xlsx", basic_sheets()))


def _problems(path: Path, instance) -> list[str]:
    with pytest.raises(InputError) as caught:
        read_plan(path, instance)
    return [str(p) for p in caught.value.problems]


def test_evaluate_reads_plans_with_the_workbook_reader():
    assert evaluate.read_plan is read_plan


def test_a_bad_quantity_names_its_cell(tmp_path, instance):
    """Row 5, column C: the fourth plan line, the quantity column."""
    path = write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        ["supplier", "material", "quantity"],
        ["a", "gallium", 70],
        ["b", "gallium", 30],
        [None, None, None],
        ["a", "gallium", "lots"]]})
    assert _problems(path, instance) == ["Plan!C5: quantity must be a number (found: 'lots')"]


def test_every_problem_is_listed_in_sheet_and_row_order(tmp_path, instance):
    """Numbers follow the input workbook's rules: a percentage, TRUE and a negative
    reserve are refused where they stand; the line that matches no offer is named at its
    supplier cell (column B here); the Stockpile sheet comes after the Plan."""
    path = write_workbook(tmp_path / "plan.xlsx", {
        "Plan": [["note", "supplier", "material", "quantity", "reserve"],
                 [None, "a", "gallium", "65%", 0],
                 [None, "zz", "gallium", 5, 0],
                 [None, "b", "gallium", True, -1]],
        "Stockpile": [["material", "unit", "stock"], ["gallium", "t", "many"]],
    })
    assert _problems(path, instance) == [
        "Plan!D2: quantity is not a fraction: write a plain number, not a percentage "
        "(found: '65%')",
        "Plan!B3: zz / gallium matches no offer",
        "Plan!D4: quantity must be a number, not TRUE/FALSE (found: True)",
        "Plan!E4: reserve must be ≥ 0 (found: -1)",
        "Stockpile!C2: stock must be a number (found: 'many')",
    ]


def test_numbers_are_read_as_on_the_input_workbook(tmp_path, instance):
    """Thousands separators and surrounding spaces are fine; a blank amount is 0; a
    quantity typed as text is a number."""
    path = write_workbook(tmp_path / "plan.xlsx", {
        "Plan": [["Supplier", "Material", "Firm order", "Reserve"],
                 ["a", "gallium", "1,000", None],
                 ["B", "GALLIUM", " 30 ", "2.5"]],
        "Stockpile": [["material", "stock"], ["Gallium", 12]],
    })
    plan = read_plan(path, instance)
    assert plan.lines == (("a", "gallium", "AAA", "AAA", 1000.0, 0.0),
                          ("b", "gallium", "BBB", "BBB", 30.0, 2.5))
    assert plan.stockpile == {"gallium": 12.0}
    assert plan.source == "plan.xlsx"


def test_a_bad_plan_file_exits_2_naming_the_cell(tmp_path):
    write_workbook(tmp_path / "book.xlsx", basic_sheets())
    write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        ["supplier", "material", "quantity"],
        ["a", "gallium", 70], ["b", "gallium", 30], [None, None, None],
        ["a", "gallium", "lots"]]})
    done = subprocess.run(
        [sys.executable, "-m", "resilience.cli", "evaluate", "book.xlsx", "--plan",
         "plan.xlsx", "-o", "out.xlsx"], cwd=tmp_path, capture_output=True, text=True,
        encoding="utf-8", env={**os.environ, "PYTHONUTF8": "1"}, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Plan!C5: quantity must be a number (found: 'lots')" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out.xlsx").exists()


# ---- over a horizon (SPEC §7) -----------------------------------------------------------

def horizon_sheets() -> dict:
    """Three periods; gallium D = 100, 2028: 150; a: AAA ĉ 10 U 100; p: a project in BBB,
    ĉ 4, U 100, capex 300, lead time 1; stock at k = 1 with s = 2."""
    return {
        "Periods": [{"period": 2026}, {"period": 2027}, {"period": 2028}],
        "Materials": [{"material": "gallium", "unit": "t", "demand": 100,
                       "shortage_penalty": 1000, "stockpile_cost": 1, "stock_price": 2}],
        "Demand": [{"material": "gallium", "period": 2028, "demand": 150}],
        "Countries": [{"country": "AAA", "disruption_prob": 0.1}, {"country": "BBB"}],
        "Suppliers": [
            {"supplier": "a", "material": "gallium", "country": "AAA", "unit_cost": 10,
             "capacity": 200},
            {"supplier": "p", "material": "gallium", "country": "BBB", "unit_cost": 4,
             "capacity": 100, "capex": 300, "lead_time": 1}],
    }


def test_a_horizon_report_reads_back_as_the_plan_it_shows(tmp_path):
    """solve → report → read_plan gives the same lines per period, the same projects
    built and the same stock per period; held fixed, it costs what it cost and the
    regret against re-optimising is 0."""
    from resilience.api import solve_case
    from resilience.report.excel import write_solve_report

    instance = load(write_workbook(tmp_path / "book.xlsx", horizon_sheets()))
    result = solve_case(instance)
    assert result.solution.investments  # the project is worth building
    report = tmp_path / "plan.xlsx"
    write_solve_report(result, report)
    plan = read_plan(report, instance)
    got = {(line[0], line[6]): (line[4], line[5]) for line in plan.lines}
    assert got == {(pl.supplier, pl.period): (pytest.approx(pl.quantity),
                                              pytest.approx(pl.reserve))
                   for pl in result.solution.plan}
    assert plan.builds == tuple((i.supplier, i.material, i.country, i.processing_country,
                                 i.period) for i in result.solution.investments)
    assert plan.stock_levels == {m: {t: pytest.approx(v) for t, v in levels.items()}
                                 for m, levels in result.solution.stock_levels.items()}
    row = evaluate.evaluate(instance, plan, [None])[0]
    assert row.ok, row.reason
    assert row.regret == pytest.approx(0, abs=1e-6)
    assert row.fixed["objective"] == pytest.approx(result.solution.objective)


def test_a_plan_without_periods_holds_in_every_period_and_builds_just_in_time(tmp_path):
    """A hand-made plan over the horizon: 'a 100' with no period is a standing order in
    2026, 2027 and 2028; 'p 100 in 2028' needs p online then, so without a Projects
    sheet its build starts in 2027 (lead time 1)."""
    instance = load(write_workbook(tmp_path / "book.xlsx", horizon_sheets()))
    path = write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        ["supplier", "material", "quantity", "period"],
        ["a", "gallium", 100, None],
        ["p", "gallium", 50, 2028]]})
    plan = read_plan(path, instance)
    assert sorted((line[0], line[6], line[4]) for line in plan.lines) == [
        ("a", "2026", 100), ("a", "2027", 100), ("a", "2028", 100), ("p", "2028", 50)]
    assert plan.builds == (("p", "gallium", "BBB", "BBB", "2027"),)


def test_period_cells_name_their_cell(tmp_path):
    horizon = load(write_workbook(tmp_path / "book.xlsx", horizon_sheets()))
    path = write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        ["supplier", "material", "quantity", "period"],
        ["a", "gallium", 100, 2031]]})
    assert _problems(path, horizon) == [
        "Plan!D2: period '2031' is not a period of the workbook"]
    single = load(write_workbook(tmp_path / "single.xlsx", basic_sheets()))
    assert _problems(path, single) == [
        "Plan!D2: period '2031' given, but the workbook has no Periods sheet"]
