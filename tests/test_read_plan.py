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
