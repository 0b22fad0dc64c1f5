"""Report workbooks and JSON for the batch analyses: Compare, Frontier, Evaluate.

Plain figures in (from resilience.analyses), an openpyxl workbook out; input text is
written as text, never as a formula.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from resilience.report.cells import set_value
from resilience.report.files import write_atomically

BOLD = Font(bold=True)
FAILED = PatternFill("solid", fgColor="F4CCCC")
KNEE = PatternFill("solid", fgColor="FFF2CC")
MONEY = "#,##0"
SHARE = "0.0%"


def _table(sheet, top: int, headers: list[str], rows: list[list], formats: dict[int, str],
           widths: list[int] | None = None) -> int:
    """Write a header row and rows from `top`; returns the last row written."""
    for c, header in enumerate(headers, start=1):
        cell = sheet.cell(row=top, column=c)
        set_value(cell, header)
        cell.font = BOLD
    for r, row in enumerate(rows, start=top + 1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            set_value(cell, value)
            if c in formats:
                cell.number_format = formats[c]
    for c, width in enumerate(widths or [], start=1):
        sheet.column_dimensions[get_column_letter(c)].width = width
    return top + len(rows)


def binding_text(figures: dict) -> str:
    """The binding rules of one solve and what each costs per point (sensitivity)."""
    return "; ".join(
        f"{b['name']} {b['material']} {b['country']} {b['stage']}"
        f"{' in ' + b['period'] if b.get('period') else ''}: "
        f"{(b['cost_per_point'] or 0):,.0f}/pt" for b in figures.get("binding_policies", []))


# ---- compare --------------------------------------------------------------------------


def compare_json(rows, instance) -> dict[str, Any]:
    return {
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "cases": [
            {"strategy": r.strategy, "whatif": r.whatif, "status": r.status,
             "reason": r.reason or None,
             **{k: v for k, v in r.figures.items() if k != "summary"}}
            for r in rows
        ],
        "failed": sum(1 for r in rows if r.status == "failed"),
    }


def write_compare_report(rows, instance, target: Path) -> None:
    groups = sorted({g for r in rows for g in r.figures.get("group_share", {})})
    currency = instance.settings.currency
    headers = ["strategy", "what-if", "status", f"objective ({currency})", "first stage",
               "expected recourse", "CVaR", "expected shortage cost", "largest HHI",
               "largest HHI at"] + [f"share {g}" for g in groups] + ["reason / binding rules"]
    table = []
    for r in rows:
        f = r.figures
        binding = binding_text(f)
        table.append([
            r.strategy, r.whatif, r.status, f.get("objective"), f.get("first_stage_cost"),
            f.get("expected_recourse_cost"), f.get("cvar"), f.get("expected_shortage_cost"),
            f.get("largest_hhi"), f.get("largest_hhi_at"),
            *[f.get("group_share", {}).get(g) for g in groups], r.reason or binding,
        ])

    def write(path: Path) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = "Compare"
        formats = {i: MONEY for i in range(4, 10)}
        formats.update({11 + i: SHARE for i in range(len(groups))})
        last = _table(sheet, 1, headers, table, formats,
                      [18, 22, 11, 16, 14, 16, 14, 18, 12, 22] + [11] * len(groups) + [60])
        sheet.freeze_panes = "C2"
        for r, row in enumerate(rows, start=2):
            if row.status == "failed":
                for c in range(1, len(headers) + 1):
                    sheet.cell(row=r, column=c).fill = FAILED
        if last >= 2:
            for col in (4, 8, 9):
                letter = get_column_letter(col)
                sheet.conditional_formatting.add(
                    f"{letter}2:{letter}{last}",
                    ColorScaleRule(start_type="min", start_color="63BE7B", mid_type="percentile",
                                   mid_value=50, mid_color="FFEB84", end_type="max",
                                   end_color="F8696B"))
            chart = BarChart()
            chart.type = "bar"
            chart.title = f"Objective by strategy × what-if ({currency})"
            chart.add_data(Reference(sheet, min_col=4, min_row=1, max_row=last),
                           titles_from_data=True)
            labels = sheet.cell(row=1, column=len(headers) + 2)
            set_value(labels, "case")
            labels.font = BOLD
            for r, row in enumerate(rows, start=2):
                set_value(sheet.cell(row=r, column=len(headers) + 2),
                          f"{row.strategy} × {row.whatif}")
            chart.set_categories(Reference(sheet, min_col=len(headers) + 2, min_row=2,
                                           max_row=last))
            chart.height, chart.width = 7 + 0.5 * len(rows), 18
            chart.legend = None
            sheet.add_chart(chart, f"A{last + 3}")
        book.save(path)

    write_atomically(target, write)


# ---- frontier -------------------------------------------------------------------------


def frontier_json(result, instance) -> dict[str, Any]:
    def points(items):
        return [{"parameter": p.parameter, "ok": p.ok, "reason": p.reason or None,
                 "knee": p.knee,
                 **{k: v for k, v in p.figures.items() if k != "summary"}} for p in items]

    return {
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "hhi_range": {"cost_optimal_largest_hhi": result.hhi_range[0],
                      "lowest_achievable": result.hhi_range[1]},
        "hhi_sweep": points(result.hhi_points),
        "risk_aversion_sweep": points(result.risk_points),
        "failed": sum(1 for p in result.hhi_points + result.risk_points if not p.ok),
    }


def write_frontier_report(result, instance, target: Path) -> None:
    currency = instance.settings.currency

    def write(path: Path) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = "Frontier"
        set_value(sheet["A1"], "Cost against concentration: a uniform HHI limit on every "
                  "material and stage")
        sheet["A1"].font = Font(bold=True, size=12)
        hhi_rows = [[p.parameter, p.figures.get("max_exact_hhi"), p.figures.get("objective"),
                     p.figures.get("cvar"), "knee" if p.knee else "",
                     binding_text(p.figures) if p.ok else f"failed: {p.reason}"]
                    for p in result.hhi_points]
        top = 3
        last = _table(sheet, top, ["HHI limit", "largest exact HHI", f"objective ({currency})",
                                   "CVaR", "knee", "binding rules, cost per point"],
                      hhi_rows, {1: MONEY, 2: MONEY, 3: MONEY, 4: MONEY},
                      [14, 18, 18, 16, 8, 60])
        _mark(sheet, top, result.hhi_points)
        _scatter(sheet, top, last, x_col=2, y_col=3, knee_points=result.hhi_points,
                 title="Cost against largest HHI", x_title="largest HHI (0-10,000)",
                 y_title=f"objective ({currency})", anchor="H3")
        set_value(sheet.cell(row=last + 3, column=1),
                  "Cost against tail risk: risk aversion λ from 0 to 1")
        sheet.cell(row=last + 3, column=1).font = Font(bold=True, size=12)
        risk_rows = [[p.parameter, p.figures.get("cvar"), p.figures.get("objective"),
                      p.figures.get("expected_recourse_cost"), "knee" if p.knee else "",
                      binding_text(p.figures) if p.ok else f"failed: {p.reason}"]
                     for p in result.risk_points]
        top2 = last + 5
        last2 = _table(sheet, top2, ["λ", "CVaR", f"objective ({currency})",
                                     "expected recourse", "knee",
                                     "binding rules, cost per point"], risk_rows,
                       {1: "0.00", 2: MONEY, 3: MONEY, 4: MONEY})
        _mark(sheet, top2, result.risk_points)
        _scatter(sheet, top2, last2, x_col=2, y_col=3, knee_points=result.risk_points,
                 title="Cost against CVaR", x_title=f"CVaR of recourse cost ({currency})",
                 y_title=f"objective ({currency})", anchor=f"H{top2}")
        book.save(path)

    write_atomically(target, write)


def _mark(sheet, top: int, points) -> None:
    for r, p in enumerate(points, start=top + 1):
        fill = KNEE if p.knee else FAILED if not p.ok else None
        if fill:
            for c in range(1, 7):
                sheet.cell(row=r, column=c).fill = fill


def _scatter(sheet, top, last, x_col, y_col, knee_points, title, x_title, y_title, anchor):
    if last <= top:
        return
    chart = ScatterChart()
    chart.title = title
    chart.style = 13
    chart.x_axis.title = x_title
    chart.y_axis.title = y_title
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    xs = Reference(sheet, min_col=x_col, min_row=top + 1, max_row=last)
    ys = Reference(sheet, min_col=y_col, min_row=top + 1, max_row=last)
    series = Series(ys, xs, title="plans")
    series.marker.symbol = "circle"
    chart.series.append(series)
    for r, p in enumerate(knee_points, start=top + 1):
        if p.knee:
            knee = Series(Reference(sheet, min_col=y_col, min_row=r, max_row=r),
                          Reference(sheet, min_col=x_col, min_row=r, max_row=r), title="knee")
            knee.marker.symbol = "diamond"
            knee.marker.size = 12
            knee.graphicalProperties.line.noFill = True
            chart.series.append(knee)
    chart.height, chart.width = 9, 16
    sheet.add_chart(chart, anchor)


# ---- evaluate -------------------------------------------------------------------------


def evaluate_json(rows, instance, plan) -> dict[str, Any]:
    def strip(figures):
        return {k: v for k, v in figures.items() if k != "summary"}

    return {
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "plan": plan.source,
        "cases": [{"whatif": r.whatif, "ok": r.ok, "reason": r.reason or None,
                   "fixed_plan": strip(r.fixed), "reoptimised": strip(r.reoptimised),
                   "regret": r.regret, "adjustments": list(r.clipped)} for r in rows],
        "failed": sum(1 for r in rows if not r.ok),
    }


def write_evaluate_report(rows, instance, plan, target: Path) -> None:
    currency = instance.settings.currency
    headers = ["what-if", f"plan's cost ({currency})", "plan's expected shortage cost",
               "plan's CVaR", "re-optimised cost", "re-optimised expected shortage cost",
               "regret", "notes", "re-optimised: binding rules, cost per point"]
    table = [[r.whatif, r.fixed.get("objective"), r.fixed.get("expected_shortage_cost"),
              r.fixed.get("cvar"), r.reoptimised.get("objective"),
              r.reoptimised.get("expected_shortage_cost"), r.regret,
              r.reason if not r.ok else "; ".join(r.clipped),
              binding_text(r.reoptimised)] for r in rows]

    def write(path: Path) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = "Evaluate"
        set_value(sheet["A1"], f"The plan in {plan.source}, held fixed; recourse "
                  "re-optimised under each shock, beside the plan re-optimised for it")
        sheet["A1"].font = Font(bold=True, size=12)
        last = _table(sheet, 3, headers, table, {i: MONEY for i in range(2, 8)},
                      [22, 18, 22, 16, 18, 24, 14, 50, 60])
        sheet.freeze_panes = "B4"
        for r, row in enumerate(rows, start=4):
            if not row.ok:
                for c in range(1, len(headers) + 1):
                    sheet.cell(row=r, column=c).fill = FAILED
        if last >= 4:
            sheet.conditional_formatting.add(
                f"G4:G{last}", ColorScaleRule(start_type="min", start_color="FFFFFF",
                                              end_type="max", end_color="F8696B"))
            chart = BarChart()
            chart.title = f"Cost of the plan vs re-optimised ({currency})"
            chart.add_data(Reference(sheet, min_col=2, min_row=3, max_row=last),
                           titles_from_data=True)
            chart.add_data(Reference(sheet, min_col=5, min_row=3, max_row=last),
                           titles_from_data=True)
            chart.set_categories(Reference(sheet, min_col=1, min_row=4, max_row=last))
            chart.height, chart.width = 8, 18
            sheet.add_chart(chart, f"A{last + 3}")
        book.save(path)

    write_atomically(target, write)


# ---- the demo's strategy comparison, inside the solve report ---------------------------


def strategies_sheet(rows, currency: str):
    """A Strategies sheet (write-only) for the solve report: one row per strategy solved
    on the same data, with a bar chart of cost and a colour scale on concentration."""
    from resilience.report.layout import Sheet

    def add(book, styles):
        groups = sorted({g for r in rows for g in r.figures.get("group_share", {})})
        headers = ["strategy", "status", f"objective ({currency})", "first stage",
                   "expected recourse", "CVaR", "largest HHI"] + \
            [f"share {g}" for g in groups] + ["note"]
        sheet = Sheet.open(book, styles, "Strategies",
                           [16, 10, 20, 18, 18, 18, 12] + [13] * len(groups) + [60],
                           freeze="A3")
        sheet.write(["The same data solved under each strategy (SPEC §4 compare, "
                     "what-if: base)"], "title")
        header_row = sheet.write(headers, "header")
        for r in rows:
            f = r.figures
            sheet.write(
                [r.strategy, r.status, f.get("objective"), f.get("first_stage_cost"),
                 f.get("expected_recourse_cost"), f.get("cvar"), f.get("largest_hhi"),
                 *[f.get("group_share", {}).get(g) for g in groups], r.reason or ""],
                ["plain", "plain", *["money_round"] * 4, "hhi",
                 *["percent"] * len(groups), "plain"])
        last = sheet.row
        if last > header_row:
            for col in (3, 7):
                letter = get_column_letter(col)
                sheet.ws.conditional_formatting.add(
                    f"{letter}{header_row + 1}:{letter}{last}",
                    ColorScaleRule(start_type="min", start_color="63BE7B",
                                   end_type="max", end_color="F8696B"))
            chart = BarChart()
            chart.title = f"Objective by strategy ({currency})"
            chart.add_data(Reference(sheet.ws, min_col=3, min_row=header_row, max_row=last),
                           titles_from_data=True)
            chart.set_categories(Reference(sheet.ws, min_col=1, min_row=header_row + 1,
                                           max_row=last))
            chart.legend = None
            chart.height, chart.width = 7, 16
            sheet.ws.add_chart(chart, f"A{last + 3}")
        return sheet

    return add
