"""The solve report workbook (SPEC §5): Summary and Plan, laid out with openpyxl."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from resilience.api import SolveResult
from resilience.report.cells import set_value
from resilience.report.files import write_atomically
from resilience.report.kpis import solve_summary

HEADER = Font(bold=True)


def write_solve_report(result: SolveResult, target: Path) -> None:
    summary = solve_summary(result)

    def write(path: Path) -> None:
        book = Workbook()
        _summary_sheet(book.active, summary)
        _plan_sheet(book.create_sheet("Plan"), summary)
        book.save(path)

    write_atomically(target, write)


def _rows(sheet, rows: list[list], widths: list[int]) -> None:
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            set_value(sheet.cell(row=r, column=c), value)
    for c, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(c)].width = width


def _summary_sheet(sheet, summary: dict) -> None:
    sheet.title = "Summary"
    costs = summary["cost_breakdown"]
    currency = summary["settings"]["currency"]
    rows = [
        ["resilience solve report", ""],
        ["status", summary["status"]],
        ["optimality gap", summary["mip_gap"]],
        [f"objective ({currency})", summary["objective"]],
        ["first-stage cost", summary["first_stage_cost"]],
        ["  procurement", costs["procurement"]],
        ["    of which tariffs", costs["of_which_tariffs"]],
        ["  fixed contract costs", costs["fixed_contract"]],
        ["  reserve", costs["reserve"]],
        ["  stock carrying", costs["stock_carrying"]],
        ["expected recourse cost", costs["expected_recourse"]],
        ["CVaR of recourse cost", costs["cvar"]],
        ["solve seconds", summary["timings"]["solve_seconds"]],
        ["input file", summary["input"]["file"]],
        ["input SHA-256", summary["input"]["sha256"]],
        ["strategy", summary["strategy"] or "(none)"],
        ["what-if", summary["whatif"] or "(none)"],
    ]
    rows += [[f"setting {k}", v] for k, v in summary["settings"].items()]
    rows += [[f"version {k}", v] for k, v in summary["versions"].items()]
    _rows(sheet, rows, [28, 70])
    sheet["A1"].font = Font(bold=True, size=14)
    for r in range(4, 13):
        sheet.cell(row=r, column=2).number_format = "#,##0.00"


def _plan_sheet(sheet, summary: dict) -> None:
    headers = ["supplier", "material", "origin", "processing country", "quantity", "reserve",
               "landed unit cost", "spend", "share of demand"]
    rows = [headers] + [
        [p["supplier"], p["material"], p["country"], p["processing_country"], p["quantity"],
         p["reserve"], p["landed_unit_cost"], p["spend"], p["share_of_demand"]]
        for p in summary["plan"]
    ]
    _rows(sheet, rows, [22, 16, 10, 18, 14, 12, 16, 16, 16])
    for cell in sheet[1]:
        cell.font = HEADER
    sheet.freeze_panes = "A2"
    for r in range(2, len(rows) + 1):
        for c, fmt in ((5, "#,##0.00"), (6, "#,##0.00"), (7, "#,##0.00"), (8, "#,##0"),
                       (9, "0.0%")):
            sheet.cell(row=r, column=c).number_format = fmt
