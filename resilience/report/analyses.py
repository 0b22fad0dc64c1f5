"""Report workbooks and JSON for the batch analyses: Compare, Frontier, Evaluate.

Plain figures in (from resilience.analyses), an openpyxl workbook out; input text is
written as text, never as a formula.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, ScatterChart, Series
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties

from resilience.analyses.compare import BASE, CompareRow
from resilience.report.cells import set_value
from resilience.report.charts import stacked_columns
from resilience.report.files import write_atomically
from resilience.report.kpis import json_document
from resilience.report.layout import Sheet, Styles, currency_label, width_for

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


def _per_point(value: float) -> str:
    """A cost per point as the binding-rules text shows it: whole currency units from
    100 up, three significant digits below."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _limit_text(rule: str | None, limit: float | None) -> str:
    if rule is None or limit is None:
        return ""
    if rule == "max_hhi":
        return f"HHI ≤ {limit:,.0f}"
    sign = "≥" if rule == "min_group_share" else "≤"
    return f"{sign} {limit * 100:g} %"


def short_policy_name(name: str, rule: str | None = None, limit: float | None = None,
                      longest: int = 40) -> str:
    """A policy's name as a cell of binding rules shows it: the name, or if it is longer
    than `longest` the part before a colon ("EU CRMA benchmark: at most 65 % …" → "EU
    CRMA benchmark"), cut to `longest` characters, with its limit ("≤ 65 %") unless the
    name already gives that figure."""
    short = " ".join((name or rule or "rule").split())
    if len(short) > longest:
        short = short.split(":")[0].strip()
    if len(short) > longest:
        short = short[:longest].rsplit(" ", 1)[0].rstrip(" ,;(-") + "…"
    limit_text = _limit_text(rule, limit)
    if limit_text:
        figure = limit_text.split(" ", 1)[1].replace(" %", "").replace(",", ",?")
        if not re.search(rf"(?<![\d.]){figure}\s?%?(?![\d.])", short):
            short = f"{short} {limit_text}"
    return short


def binding_text(figures: dict, most: int | None = None) -> str:
    """The binding rules of one solve that cost something, in short form, costliest
    first: each policy once, then each of its constraints with its cost per point (over
    a horizon, per period), e.g. "EU CRMA benchmark ≤ 65 %: lithium ARG origin 993,888/pt
    · graphite JPN origin 99,285/pt". A rule whose loosening by one point moves the
    objective by less than a billionth of it costs nothing and is left out. With `most`,
    only the `most` costliest constraints, and how many more there are."""
    threshold = 1e-9 * max(1.0, abs(figures.get("objective") or 0.0))
    constraints: dict[tuple[str, tuple], list[tuple[str, float | None]]] = {}
    for b in figures.get("binding_policies", []):
        cost = b.get("cost_per_point")
        if cost is not None and abs(cost) <= threshold:
            continue
        head = short_policy_name(b["name"], b.get("rule"), b.get("limit"))
        where = tuple(part for part in (b["material"], b["country"], b["stage"])
                      if part and part != "*")
        constraints.setdefault((head, where), []).append((b.get("period") or "", cost))

    def weight(item) -> float:
        return max((abs(c) if c is not None else 0.0) for _, c in item[1])

    ranked = sorted(constraints.items(), key=lambda item: -weight(item))
    shown = ranked if most is None else ranked[:most]
    groups: dict[str, list[str]] = {}
    for (head, where), costs in shown:
        each = ", ".join(f"{period + ' ' if period else ''}"
                         f"{'cost n/a' if cost is None else _per_point(cost) + '/pt'}"
                         for period, cost in costs)
        groups.setdefault(head, []).append(f"{' '.join(where)} {each}".strip())
    text = "; ".join(f"{head}: {' · '.join(items)}" for head, items in groups.items())
    if len(ranked) > len(shown):
        text += f" (+ {len(ranked) - len(shown)} more)"
    return text


def broken_text(figures: dict) -> str:
    """The rules a plan held fixed does not meet, in short form, e.g. "China plus one
    (≤ 50 % China): gallium CHN origin 60 % · rare_earths CHN origin 60 %; no FEOC:
    graphite CHN both 30 units" (over a horizon, each with its period)."""
    groups: dict[str, list[str]] = {}
    for b in figures.get("rules_broken", []):
        head = short_policy_name(b["name"], b.get("rule"), b.get("limit"))
        where = " ".join(part for part in (b.get("period") or "", b["material"],
                                            b["country"], b["stage"]) if part and part != "*")
        achieved = b["achieved"]
        if b["rule"] == "max_hhi":
            figure = f"HHI {achieved:,.0f}"
        elif b["rule"] == "exclude":
            figure = f"{achieved:,.4g} units"
        else:
            figure = f"{achieved * 100:.3g} %"
        groups.setdefault(head, []).append(f"{where} {figure}")
    return "; ".join(f"{head}: {' · '.join(items)}" for head, items in groups.items())


# ---- compare --------------------------------------------------------------------------

BINDING_SHOWN = 4  # constraints named in a Compare or Strategies cell, costliest first
PRINT_SCALE = 80  # % at which a long Compare or Strategies sheet prints
ONE_PAGE_TALL = 12  # cases up to which the sheet and its charts print one page tall
ROW_CM = 0.53  # a row of the default height (15 pt), for placing a chart under another

# The figures compared against the base case (strategy base under the same what-if).
DELTA_KEYS = ("first_stage_cost", "objective", "cvar", "expected_shortage_cost",
              "largest_hhi")


def against_base(rows: Sequence[CompareRow]) -> list[CompareRow]:
    """The rows with `vs_base` added to the figures of each solved case: the difference
    to the base case, strategy base under the same what-if (positive = more than base),
    as {"strategy": "base", "whatif": ..., "first_stage_cost", "objective", "cvar",
    "expected_shortage_cost", "largest_hhi" (HHI points), "expected_shortage" (material
    → units)}; None for the base case itself and where the base case was not solved.
    Pure: the rows given are not changed."""
    base = {r.whatif: r.figures for r in rows
            if r.strategy == BASE and r.status != "failed" and r.figures}
    out = []
    for r in rows:
        if not r.figures:
            out.append(r)
            continue
        ref = base.get(r.whatif) if r.strategy != BASE else None
        delta = None
        if ref is not None:
            delta = {"strategy": BASE, "whatif": r.whatif,
                     **{key: _difference(r.figures[key], ref[key]) for key in DELTA_KEYS}}
            shortage, ref_shortage = (r.figures.get("expected_shortage") or {},
                                      ref.get("expected_shortage") or {})
            delta["expected_shortage"] = {
                m: _difference(shortage.get(m, 0.0), ref_shortage.get(m, 0.0))
                for m in dict.fromkeys([*ref_shortage, *shortage])}
        out.append(dataclasses.replace(r, figures={**r.figures, "vs_base": delta}))
    return out


def _difference(value: float, base: float) -> float:
    """value − base, 0 where the two differ only by solver noise (a billionth)."""
    difference = value - base
    return 0.0 if abs(difference) <= 1e-9 * max(1.0, abs(value), abs(base)) else difference


def compare_json(rows, instance) -> dict[str, Any]:
    """The JSON of `compare` (docs/json.md): each case's figures (without the full solve
    summary) and `vs_base`, its difference to the base case (see `against_base`)."""
    return json_document({
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "cases": [
            {"strategy": r.strategy, "whatif": r.whatif, "status": r.status,
             "reason": r.reason or None,
             **{k: v for k, v in r.figures.items() if k != "summary"}}
            for r in against_base(rows)
        ],
        "failed": sum(1 for r in rows if r.status == "failed"),
    })


def money_axis_format(values: Sequence[float | None]) -> str:
    """A value-axis format that keeps large sums readable: billions as "13.6 bn",
    millions as "13.6 M" (Excel's thousands-scaling commas), else whole units."""
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    if largest >= 1e9:
        return '#,##0.0,,," bn"'
    if largest >= 1e6:
        return '#,##0.0,," M"'
    return "#,##0"


@dataclass(frozen=True)
class _Column:
    header: str
    value: Callable[[CompareRow], object]
    look: str
    width: float


def _comparison_columns(rows: Sequence[CompareRow], currency: str,
                        with_whatif: bool) -> list[_Column]:
    """The columns of the Compare and Strategies sheets: the case; what it costs (the
    objective, the spend beside it) and the differences to the base case; then the
    figures themselves, the group shares of spend and the binding rules."""
    solved = [r.figures for r in rows if r.figures]
    groups = sorted({g for f in solved for g in f.get("group_spend_share", {})})
    period = next((f.get("share_period") for f in solved if f.get("share_period")), None)
    alpha = next((f["cvar_alpha"] for f in solved if "cvar_alpha" in f), 0.95)
    where = f"origin, {period}" if period else "origin"

    def figure(key):
        return lambda r: r.figures.get(key)

    def delta(key):
        return lambda r: (r.figures.get("vs_base") or {}).get(key)

    def share(group):
        return lambda r: r.figures.get("group_spend_share", {}).get(group)

    columns = ([_Column("what-if", lambda r: r.whatif, "plain",
                        width_for([r.whatif for r in rows] + ["what-if"], 12, 40))]
               if with_whatif else [])
    columns += [
        _Column("strategy", lambda r: r.strategy, "plain",
                width_for([r.strategy for r in rows] + ["strategy"], 12, 30)),
        _Column("status", lambda r: r.status, "plain", 10),
        _Column(f"objective, λ-weighted ({currency})", figure("objective"), "money_round",
                17),
        _Column(f"spend: first-stage cost ({currency})", figure("first_stage_cost"),
                "money_round", 17),
        _Column("Δ spend vs base", delta("first_stage_cost"), "delta", 15),
        _Column("Δ objective vs base", delta("objective"), "delta", 15),
        _Column("Δ CVaR vs base", delta("cvar"), "delta", 15),
        _Column("Δ expected shortage cost vs base", delta("expected_shortage_cost"),
                "delta", 15),
        _Column("Δ largest HHI vs base", delta("largest_hhi"), "delta", 11),
        _Column("expected recourse E[R]", figure("expected_recourse_cost"), "money_round",
                16),
        _Column(f"CVaR {alpha:.0%}", figure("cvar"), "money_round", 16),
        _Column("expected shortage cost", figure("expected_shortage_cost"), "money_round",
                16),
        _Column("largest HHI", figure("largest_hhi"), "hhi", 10),
        _Column("largest HHI at", figure("largest_hhi_at"), "plain", 22),
        *[_Column(f"{g} share of spend ({where})", share(g), "percent", 12)
          for g in groups],
        _Column("binding rules, costliest first: cost per point (failed: why)",
                lambda r: (" ".join(r.reason.split()) if r.reason
                           else binding_text(r.figures, most=BINDING_SHOWN)), "wrap", 80),
    ]
    return columns


def objective_note(lam: float | None = None) -> str:
    """What every "objective" column of the analyses is: the blend, not an amount paid."""
    lam_text = f" with λ = {lam:g}" if lam is not None else ""
    return (f"Objective = spend + (1 − λ) × expected recourse E[R] + λ × CVaR{lam_text}: the "
            "blend of cost and tail risk each plan minimises, not an amount paid. Spend = "
            "first-stage cost: firm orders at landed cost, contracts, reserve and stock.")


def _comparison_notes(rows: Sequence[CompareRow], columns: list[_Column]) -> list[str]:
    solved = [r.figures for r in rows if r.figures]
    lam = next((f["risk_aversion"] for f in solved if "risk_aversion" in f), None)
    period = next((f.get("share_period") for f in solved if f.get("share_period")), None)
    notes = [
        objective_note(lam),
        "Δ … vs base: the case minus strategy base under the same what-if (negative = "
        "less than base: cheaper, or less risk). Expected shortage cost = Σ shortage "
        "penalty × expected units short.",
    ]
    if not any(r.strategy == BASE for r in rows):
        notes[1] = ("No Δ columns filled: strategy base was not among the cases (add "
                    "'base' to --strategies).")
    shares = "Shares: of the landed spend of firm orders, by origin country"
    if period:
        notes[0] += (" Over the horizon every cost is Σ over periods of weight × the "
                     "period's cost.")
        shares += f", in the last period ({period}), as the horizon's final mix"
    notes.append(shares + ". Binding rules: the costliest first, with what loosening each "
                 "by one point (of share, or of HHI) would save; a solve's Policies sheet "
                 "lists them all.")
    return notes


def _comparison_sheet(book: Workbook, styles: Styles, name: str, title: str,
                      rows: Sequence[CompareRow], currency: str, with_whatif: bool,
                      chart_title: str) -> Sheet:
    """A Compare or Strategies sheet: title and notes, one row per case with its
    differences to the base case, colour scales, and a chart of objective and spend on
    an axis from zero."""
    rows = against_base(rows)
    columns = _comparison_columns(rows, currency_label(currency), with_whatif)
    sheet = Sheet.open(book, styles, name, [c.width for c in columns],
                       freeze=f"{get_column_letter(3 if with_whatif else 2)}6",
                       fit_width=False, print_rows="5:5")
    # too wide for one page at a legible size: printed pages across, the case columns on
    # every one, the figures and charts on the first, shares and rules on the next ones;
    # a short table with its charts fits one page tall, a long one prints at 80 %
    if len(rows) <= ONE_PAGE_TALL:
        sheet.ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        sheet.ws.page_setup.fitToWidth, sheet.ws.page_setup.fitToHeight = 0, 1
    else:
        sheet.ws.page_setup.scale = PRINT_SCALE
    sheet.ws.print_title_cols = "A:B" if with_whatif else "A:A"
    sheet.write([title], ["title"])
    for note in _comparison_notes(rows, columns):
        sheet.write([note], ["note"])
    header_row = sheet.write([c.header for c in columns], "header_wrap", height=58)
    for r in rows:
        failed = r.status == "failed"
        looks = ["failed" if failed else c.look for c in columns]
        values = [c.value(r) for c in columns]
        # a wrapped cell does not make its row taller by itself in every spreadsheet
        # program: the row gets the lines its longest wrapped text needs
        lines = max((math.ceil(len(str(v)) / (c.width * 1.1)) for v, c in
                     zip(values, columns, strict=True) if c.look == "wrap" and v), default=1)
        sheet.write(values, looks, height=15.0 * lines if lines > 1 else None)
    first, last = header_row + 1, sheet.row
    if last < first:
        return sheet
    objective_col = next(i for i, c in enumerate(columns, 1) if c.header.startswith("obj"))
    for i, c in enumerate(columns, start=1):
        letter = get_column_letter(i)
        cells = f"{letter}{first}:{letter}{last}"
        if c.look == "delta":
            sheet.ws.conditional_formatting.add(cells, ColorScaleRule(
                start_type="min", start_color="63BE7B", mid_type="num", mid_value=0,
                mid_color="FFFFFF", end_type="max", end_color="F8696B"))
        elif c.header in ("expected shortage cost", "largest HHI") or i == objective_col:
            sheet.ws.conditional_formatting.add(cells, ColorScaleRule(
                start_type="min", start_color="63BE7B", mid_type="percentile",
                mid_value=50, mid_color="FFEB84", end_type="max", end_color="F8696B"))
    categories = (1, first, last)
    chart = stacked_columns(
        sheet.ws, chart_title, categories=categories,
        series=[(objective_col, first, last, header_row),
                (objective_col + 1, first, last, header_row)],
        y_title=currency_label(currency), stacked=False, y_min=0.0,
        y_format=money_axis_format([r.figures.get(k) for r in rows
                                    for k in ("objective", "first_stage_cost")]),
        horizontal=with_whatif, category_columns=2 if with_whatif else 1,
        top_down=with_whatif,
        width=24.0 if with_whatif else max(14.0, min(24.0, 6 + 2.0 * len(rows))),
        height=max(8.0, 3 + 0.9 * len(rows)) if with_whatif else 8.0)
    chart.legend.position = "b"
    sheet.ws.add_chart(chart, f"A{last + 3}")
    deltas = stacked_columns(
        sheet.ws, "Δ against base: spend and objective", categories=categories,
        series=[(objective_col + 2, first, last, header_row),
                (objective_col + 3, first, last, header_row)],
        y_title=currency_label(currency), stacked=False,
        y_format=money_axis_format([(r.figures.get("vs_base") or {}).get(k) for r in rows
                                    for k in ("objective", "first_stage_cost")]),
        horizontal=with_whatif, category_columns=2 if with_whatif else 1,
        top_down=with_whatif, width=chart.width, height=chart.height,
        colours=["F28E2B", "4E79A7"])
    deltas.legend.position = "b"
    # under the first chart, not beside it: side by side they are 48 cm wide and a
    # printed page splits them; stacked, both print on the first page across
    rows_down = math.ceil(chart.height / ROW_CM) + 2
    sheet.ws.add_chart(deltas, f"A{last + 3 + rows_down}")
    return sheet


def write_compare_report(rows, instance, target: Path) -> None:
    """The Compare workbook: every case, grouped by what-if (base first, then each
    strategy), beside its differences to strategy base under the same what-if."""
    order = {w: i for i, w in enumerate(dict.fromkeys(r.whatif for r in rows))}
    by_whatif = sorted(rows, key=lambda r: (order[r.whatif], r.strategy != BASE))

    def write(path: Path) -> None:
        book = Workbook(write_only=True)
        book.properties.creator = "resilience"
        book.properties.title = "Strategies compared under what-ifs"
        styles = Styles(book)
        _comparison_sheet(
            book, styles, "Compare",
            "Compare — every strategy under every what-if: what it costs and what it buys "
            "against strategy base", by_whatif, instance.settings.currency,
            with_whatif=True, chart_title="Objective and spend by case")
        book.save(path)

    write_atomically(target, write)


# ---- frontier -------------------------------------------------------------------------


def frontier_json(result, instance) -> dict[str, Any]:
    """The JSON of `frontier` (docs/json.md): both sweeps, each point with its figures."""

    def points(items):
        return [{"parameter": p.parameter, "ok": p.ok, "reason": p.reason or None,
                 "knee": p.knee,
                 **{k: v for k, v in p.figures.items() if k != "summary"}} for p in items]

    return json_document({
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "hhi_range": {"cost_optimal_largest_hhi": result.hhi_range[0],
                      "lowest_achievable": result.hhi_range[1]},
        "hhi_sweep": points(result.hhi_points),
        "risk_aversion_sweep": points(result.risk_points),
        "failed": sum(1 for p in result.hhi_points + result.risk_points if not p.ok),
    })


def write_frontier_report(result, instance, target: Path) -> None:
    currency = instance.settings.currency

    def write(path: Path) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = "Frontier"
        set_value(sheet["A1"], "Cost against concentration: a uniform HHI limit on every "
                  "material and stage")
        sheet["A1"].font = Font(bold=True, size=12)
        set_value(sheet["A2"], objective_note(instance.settings.risk_aversion)
                  + " The λ sweep below moves λ itself.")
        hhi_rows = [[p.parameter, p.figures.get("max_exact_hhi"), p.figures.get("objective"),
                     p.figures.get("first_stage_cost"), p.figures.get("cvar"),
                     "knee" if p.knee else "",
                     binding_text(p.figures) if p.ok else f"failed: {p.reason}"]
                    for p in result.hhi_points]
        top = 3
        last = _table(sheet, top, ["HHI limit", "largest exact HHI", f"objective ({currency})",
                                   "spend", "CVaR", "knee", "binding rules, cost per point"],
                      hhi_rows, {1: MONEY, 2: MONEY, 3: MONEY, 4: MONEY, 5: MONEY},
                      [14, 18, 18, 18, 16, 8, 60])
        _mark(sheet, top, result.hhi_points)
        _scatter(sheet, top, last, x_col=2, y_col=3, knee_points=result.hhi_points,
                 title="Cost against largest HHI", x_title="largest HHI (0-10,000)",
                 y_title=f"objective ({currency})", anchor="H3")
        set_value(sheet.cell(row=last + 3, column=1),
                  "Cost against tail risk: risk aversion λ from 0 to 1")
        sheet.cell(row=last + 3, column=1).font = Font(bold=True, size=12)
        risk_rows = [[p.parameter, p.figures.get("cvar"), p.figures.get("objective"),
                      p.figures.get("first_stage_cost"),
                      p.figures.get("expected_recourse_cost"), "knee" if p.knee else "",
                      binding_text(p.figures) if p.ok else f"failed: {p.reason}"]
                     for p in result.risk_points]
        top2 = last + 5
        last2 = _table(sheet, top2, ["λ", "CVaR", f"objective ({currency})", "spend",
                                     "expected recourse", "knee",
                                     "binding rules, cost per point"], risk_rows,
                       {1: "0.00", 2: MONEY, 3: MONEY, 4: MONEY, 5: MONEY})
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
            for c in range(1, 8):
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
    """The JSON of `evaluate` (docs/json.md): per what-if, the plan held fixed beside the
    plan re-optimised for it, and the regret."""

    def strip(figures):
        return {k: v for k, v in figures.items() if k != "summary"}

    return json_document({
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "plan": plan.source,
        "cases": [{"whatif": r.whatif, "ok": r.ok, "reason": r.reason or None,
                   "fixed_plan": strip(r.fixed), "reoptimised": strip(r.reoptimised),
                   "regret": r.regret, "adjustments": list(r.clipped)} for r in rows],
        "failed": sum(1 for r in rows if not r.ok),
    })


def write_evaluate_report(rows, instance, plan, target: Path) -> None:
    currency = instance.settings.currency
    headers = ["what-if", f"plan's objective ({currency})", "plan's expected shortage cost",
               "plan's CVaR", "re-optimised objective", "re-optimised expected shortage cost",
               "regret", "notes", "rules of the case the plan breaks",
               "re-optimised: binding rules, cost per point"]
    table = [[r.whatif, r.fixed.get("objective"), r.fixed.get("expected_shortage_cost"),
              r.fixed.get("cvar"), r.reoptimised.get("objective"),
              r.reoptimised.get("expected_shortage_cost"), r.regret,
              r.reason if not r.ok else "; ".join(r.clipped),
              broken_text(r.fixed), binding_text(r.reoptimised)] for r in rows]

    def write(path: Path) -> None:
        book = Workbook()
        sheet = book.active
        sheet.title = "Evaluate"
        set_value(sheet["A1"], f"The plan in {plan.source}, held fixed; recourse "
                  "re-optimised under each shock, beside the plan re-optimised for it")
        sheet["A1"].font = Font(bold=True, size=12)
        set_value(sheet["A2"], objective_note(instance.settings.risk_aversion)
                  + " Regret = the plan's objective − the re-optimised objective.")
        last = _table(sheet, 3, headers, table, {i: MONEY for i in range(2, 8)},
                      [22, 18, 22, 16, 18, 24, 14, 40, 50, 60])
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
    on the same data (what-if base), laid out as the Compare sheet is."""

    def add(book, styles):
        return _comparison_sheet(
            book, styles, "Strategies",
            "Strategies — the same data solved under each strategy (what-if: base): what "
            "each costs and buys against base", rows, currency, with_whatif=False,
            chart_title="Objective and spend by strategy")

    return add


def console_against_base(rows: Sequence[CompareRow], currency: str) -> list[str]:
    """What each strategy (and what-if) costs and buys against the base case, as lines
    for the console: the answer a planner wants without opening the report.

        strategy × what-if      objective   Δ objective   Δ spend   Δ CVaR   Δ shortage
        eu_crma  × base         13.9 bn     +134 M        +150 M    −42 M    −5.1 M ...
    """
    solved = [r for r in against_base(rows) if r.status != "failed" and r.figures]
    if not solved:
        return []
    header = ["strategy × what-if", f"objective ({currency})", "Δ objective", "Δ spend",
              "Δ CVaR", "Δ exp. shortage cost", "Δ largest HHI", "projects built"]
    table = [header]
    for r in solved:
        f = r.figures
        delta = f.get("vs_base")
        projects = len((f.get("summary") or {}).get("investments") or ())
        if delta is None:
            changes = ["(base)" if r.strategy == BASE else "—"] * 5
        else:
            changes = [_signed_money(delta[key]) for key in
                       ("objective", "first_stage_cost", "cvar", "expected_shortage_cost")]
            hhi = round(delta["largest_hhi"])
            changes.append("0" if hhi == 0 else f"{'+' if hhi > 0 else '−'}{abs(hhi):,}")
        table.append([f"{r.strategy} × {r.whatif}", _short_money(f["objective"]),
                      *changes, str(projects)])
    return [*console_table(table),
            "objective = spend + (1 − λ)·expected recourse + λ·CVaR; Δ = the case minus "
            "the base strategy under the same what-if (negative: cheaper or less risk)"]


def console_table(table: Sequence[Sequence[str]]) -> list[str]:
    """Rows of text cells as aligned console lines: the first column to the left, the
    figures to the right."""
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    return ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths, strict=True))).rstrip()
            for row in table]


def console_evaluate(rows: Sequence, currency: str) -> list[str]:
    """What the plan held fixed costs under each shock against the plan re-optimised for
    it, as console lines; the failed cases after the table, with their reasons."""
    solved = [r for r in rows if r.ok]
    lines: list[str] = []
    if solved:
        table = [["what-if", f"plan's objective ({currency})", "re-optimised", "regret",
                  "plan's exp. shortage cost", "plan's CVaR", "rules broken", "orders cut"]]
        for r in solved:
            table.append([r.whatif, _short_money(r.fixed["objective"]),
                          _short_money(r.reoptimised["objective"]),
                          _signed_money(r.regret) if abs(r.regret) >= 0.5 else "0",
                          _short_money(r.fixed["expected_shortage_cost"]),
                          _short_money(r.fixed["cvar"]),
                          str(len(r.fixed.get("rules_broken") or ())), str(len(r.clipped))])
        lines += console_table(table)
        lines.append("objective = spend + (1 − λ)·expected recourse + λ·CVaR; regret = the "
                     "plan's objective minus that of the plan re-optimised for the shock "
                     "(negative only where the plan breaks rules of the case)")
    lines += [f"{r.whatif}: failed: {r.reason}" for r in rows if not r.ok]
    return lines


def console_frontier(result, currency: str) -> list[str]:
    """Both sweeps of a frontier as console tables, the knee marked."""

    def figure(p, key, hhi=False):
        value = p.figures.get(key)
        if value is None:
            return "—"
        return f"{value:,.0f}" if hhi else _short_money(value)

    def mark(p):
        return "knee" if p.knee else "" if p.ok else f"failed: {p.reason}"

    def change(p, first, key):
        if p.figures.get(key) is None or first is None or first.figures.get(key) is None:
            return "—"
        return _signed_money(p.figures[key] - first.figures[key])

    def first_ok(points):
        return next((p for p in points if p.ok), None)

    # the HHI sweep starts from the cost-optimal plan: what each limit adds to it
    top = first_ok(result.hhi_points)
    hhi = [["HHI limit", "largest HHI", f"objective ({currency})", "Δ objective", "Δ spend",
            "CVaR", ""]]
    hhi += [[f"{p.parameter:,.0f}", figure(p, "max_exact_hhi", hhi=True),
             figure(p, "objective"), change(p, top, "objective"),
             change(p, top, "first_stage_cost"), figure(p, "cvar"), mark(p)]
            for p in result.hhi_points]
    # λ changes what the objective weighs, so only spend and risk are compared with λ = 0
    neutral = first_ok(result.risk_points)
    risk = [["λ", "CVaR", "Δ CVaR", "spend", "Δ spend", "expected recourse",
             f"objective ({currency})", ""]]
    risk += [[f"{p.parameter:.2f}", figure(p, "cvar"), change(p, neutral, "cvar"),
              figure(p, "first_stage_cost"), change(p, neutral, "first_stage_cost"),
              figure(p, "expected_recourse_cost"), figure(p, "objective"), mark(p)]
             for p in result.risk_points]
    return [*console_table(hhi), "", *console_table(risk),
            "objective = spend + (1 − λ)·expected recourse + λ·CVaR; Δ = against the first "
            "row (the cost-optimal plan; λ = 0)"]


def _short_money(value: float) -> str:
    size = abs(value)
    # below a million every unit is shown: a "k" would round 1,180 to 1.2 k
    for limit, suffix in ((1e9, " bn"), (1e6, " M")):
        if size >= limit:
            return f"{value / limit:,.1f}{suffix}"
    return f"{value:,.0f}"


def _signed_money(value: float) -> str:
    if value == 0:
        return "0"
    text = _short_money(abs(value))
    return ("+" if value > 0 else "−") + text
