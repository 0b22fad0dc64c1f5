"""The solve report workbook (SPEC §5): Summary, Plan, Stockpile, Exposure, Scenarios,
Policies and Inputs, with native charts, Excel tables, frozen header rows, number formats
and column widths.

Over a planning horizon (SPEC §7) the same sheets gain a period column, and the report
adds Costs by period (the objective split by period), Projects (when the workbook has
project offers; also without a Periods sheet) and one Shares sheet per stage charting each
material's shares over the periods (`horizon`). A workbook without a Periods sheet and
without projects gets the v1 report, cell for cell.

Every figure comes from `kpis` (the same `SolveSummary` the JSON is made of); this module
and `sheets` only lay it out. The workbook is written in openpyxl's write-only mode and the
long tables are streamed by `bulk`, so a plan of 100,000 lines takes a few seconds and no
cell objects are held in memory. Input text is always written as text, never as a formula;
the report contains no formulas at all.

Plan and Stockpile keep their header in row 1 so that `evaluate --plan` reads them back;
the Plan's totals row says "Total" in the supplier column, which that reader skips.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.formatting.rule import DataBarRule

from resilience.api import SolveResult
from resilience.report import horizon, sheets
from resilience.report.bulk import splice
from resilience.report.files import write_atomically
from resilience.report.kpis import SolveSummary, objective_terms, plan_rows, summarise
from resilience.report.layout import (
    HORIZON_LOOKS,
    Sheet,
    Styles,
    currency_label,
    number_width,
    width_for,
)

STATUS_NOTES = {
    "optimal": "optimal within the MIP gap setting",
    "time_limit": "stopped at the time limit: the best plan found, not proven optimal",
}


def write_solve_report(result: SolveResult, target: Path,
                       extra_sheets: Sequence[Callable[[Workbook, Styles], Sheet]] = ()
                       ) -> None:
    """Write the report of one solve to `target`, atomically; `extra_sheets` add sheets
    after the standard ones (the demo adds its strategy comparison)."""
    summary = summarise(result)

    def write(path: Path) -> None:
        book = Workbook(write_only=True)
        book.properties.creator = "resilience"
        book.properties.title = "Supply-chain resilience report"
        styles = Styles(book, HORIZON_LOOKS if summary.multi_period or summary.has_projects
                        else None)
        if summary.multi_period:
            parts = [
                _summary_sheet(book, styles, result, summary),
                horizon.costs_sheet(book, styles, result, summary),
                _plan_sheet(book, styles, result, summary),
                *_projects(book, styles, result, summary),
                _stockpile_sheet(book, styles, result, summary),
                horizon.exposure_sheet(book, styles, result, summary),
                *horizon.shares_sheets(book, styles, result, summary),
                horizon.scenarios_sheet(book, styles, result, summary),
                sheets.policies_sheet(book, styles, result, summary),
                sheets.inputs_sheet(book, styles, result),
                *(add(book, styles) for add in extra_sheets),
            ]
        else:
            parts = [
                _summary_sheet(book, styles, result, summary),
                _plan_sheet(book, styles, result, summary),
                *_projects(book, styles, result, summary),
                _stockpile_sheet(book, styles, result, summary),
                sheets.exposure_sheet(book, styles, result, summary),
                sheets.scenarios_sheet(book, styles, result, summary),
                sheets.policies_sheet(book, styles, result, summary),
                sheets.inputs_sheet(book, styles, result),
                *(add(book, styles) for add in extra_sheets),
            ]
        scaffold = io.BytesIO()
        book.save(scaffold)
        scaffold.seek(0)
        with zipfile.ZipFile(scaffold) as package:
            splice(package, path, [bulk for part in parts for bulk in part.bulks])

    write_atomically(target, write)


def _projects(book: Workbook, styles: Styles, result: SolveResult,
              summary: SolveSummary) -> list[Sheet]:
    """The Projects sheet, for a workbook with project offers (capex on Suppliers)."""
    if not summary.has_projects:
        return []
    return [horizon.projects_sheet(book, styles, result, summary)]


# ---- Summary ------------------------------------------------------------------------------


def _summary_sheet(book: Workbook, styles: Styles, result: SolveResult,
                   summary: SolveSummary) -> Sheet:
    sheet = Sheet.open(book, styles, "Summary", (38, 18, 52, 3, 18, 68), fit_height=True)
    currency = summary.currency
    costs = summary.cost_breakdown
    terms = objective_terms(summary)
    lam, alpha = terms["risk_aversion"], terms["cvar_alpha"]
    instance = result.instance
    status = summary.status.value
    gap = summary.mip_gap

    # left: (label, value, label look, value look, note)
    left: list[tuple] = [
        ("Result", None, "section", "section", None),
        ("status", status, "label", "text_bold", STATUS_NOTES.get(status, "")),
        ("optimality gap", gap, "label", "percent_fine",
         "relative gap between this plan's cost and the proven bound"),
        (f"objective ({currency})", terms["objective"], "label_bold", "money_bold",
         f"λ-weighted blend: spend + (1 − λ)·E[R] + λ·CVaR, λ = {lam:g}"),
        (f"spend: first-stage cost ({currency})", terms["first_stage_cost"], "label",
         "money", "committed up front: orders, contracts, reserve, stock"),
        (f"solver objective ({currency})", summary.solver_objective, "label", "money",
         "as reported by HiGHS"),
        (f"best bound ({currency})", summary.bound, "label", "money",
         "no plan can cost less than this"),
        ("solve time (s)", summary.timings.solve_seconds, "label", "seconds",
         f"plus {summary.timings.build_seconds:.2f} s to build the model"),
        ("contracts", len(summary.plan), "label", "integer",
         "one line each on the Plan sheet"),
        (None, None, "plain", "plain", None),
        (f"Objective ({currency})", None, "section", "section", None),
        ("procurement (landed cost of firm orders)", costs.procurement, "label_indent",
         "money", "Σ (1 + tariff) × unit cost × quantity"),
        ("of which tariffs", costs.of_which_tariffs, "label_indent2", "money", None),
        ("fixed contract costs", costs.fixed_contract, "label_indent", "money", None),
        ("reserve capacity", costs.reserve, "label_indent", "money", None),
        ("stock carrying", costs.stock_carrying, "label_indent", "money", None),
        *_v2_cost_lines(summary),
        ("first-stage cost F", terms["first_stage_cost"], "label_total", "money_total",
         _first_stage_note(summary)),
        ("expected recourse cost E[R]", costs.expected_recourse, "label", "money",
         "Σ probability × recourse cost, least-cost recourse per scenario"),
        (f"CVaR {alpha:.0%} of recourse cost", costs.cvar, "label", "money",
         f"mean recourse cost of the worst {1 - alpha:.0%} of outcomes (Scenarios sheet)"),
        ("risk aversion λ", lam, "label", "fraction", "Settings: risk_aversion"),
        (None, None, "plain", "plain", None),
        ("F", terms["first_stage_cost"], "label_indent", "money", None),
        ("+ (1 − λ) × E[R]", terms["weighted_expected_recourse"], "label_indent", "money",
         f"(1 − {lam:g}) × {costs.expected_recourse:,.2f}"),
        ("+ λ × CVaR", terms["weighted_cvar"], "label_indent", "money",
         f"{lam:g} × {costs.cvar:,.2f}"),
        ("= objective", terms["objective"], "label_total", "money_total",
         "F + (1 − λ)·E[R] + λ·CVaR, recomputed from the plan"),
    ]
    if summary.multi_period:
        left = _horizon_summary_lines(left, summary)
    settings = summary.settings
    versions = summary.versions
    right: list[tuple] = [
        ("Input", None, "section", "section"),
        ("file", summary.input_file, "label", "plain"),
        ("SHA-256", summary.input_sha256, "label", "plain"),
        ("strategy", summary.strategy or "(none)", "label", "plain"),
        ("what-if", summary.whatif or "(none)", "label", "plain"),
        ("warnings", f"{len(summary.warnings)} (listed on the Inputs sheet)", "label",
         "plain"),
        ("data", f"{len(instance.materials)} materials, {len(instance.countries)} "
                 f"countries, {len(instance.offers)} offers, {_scenario_count(summary)}",
         "label", "plain"),
        *_horizon_data_lines(summary, instance),
        (None, None, "plain", "plain"),
        ("Settings", None, "section", "section"),
        ("risk_aversion (λ)", settings.risk_aversion, "label", "value_left"),
        ("cvar_alpha (α)", settings.cvar_alpha, "label", "value_left"),
        ("time_limit (s)", settings.time_limit, "label", "value_left"),
        ("mip_gap", settings.mip_gap, "label", "value_left"),
        ("currency", settings.currency, "label", "plain"),
        *([("discount_rate", settings.discount_rate, "label", "value_left")]
          if summary.multi_period else []),
        (None, None, "plain", "plain"),
        ("Versions", None, "section", "section"),
        ("resilience", versions.get("resilience", ""), "label", "plain"),
        ("Pyomo", versions.get("pyomo", ""), "label", "plain"),
        ("HiGHS", versions.get("highs", ""), "label", "plain"),
        ("solver", summary.solver, "label", "plain"),
    ]
    check = summary.cross_check
    if check:
        right.append(("checked with", f"{check.solver}: objective "
                      f"{check.objective:,.2f}, agrees", "label", "plain"))
    subtitle = f"input {summary.input_file or '(unnamed)'}"
    if summary.strategy:
        subtitle += f" · strategy {summary.strategy}"
    if summary.whatif:
        subtitle += f" · what-if {summary.whatif}"
    sheet.write(["Supply-chain resilience report"], ["title"])
    sheet.write([subtitle], ["subtitle"])
    sheet.blank()
    for i in range(max(len(left), len(right))):
        label, value, l_look, v_look, note = left[i] if i < len(left) else (
            None, None, "plain", "plain", None)
        r_label, r_value, rl_look, rv_look = right[i] if i < len(right) else (
            None, None, "plain", "plain")
        section = l_look == "section"
        sheet.write([label, value, note, None, r_label, r_value],
                    [l_look, v_look, "section" if section else "note_indent", "plain", rl_look,
                     rv_look])
    return sheet


def _v2_cost_lines(summary: SolveSummary) -> list[tuple]:
    """The first-stage costs SPEC §7 adds, where the workbook has them: capex of the
    projects whose build starts, and stock purchases (units added × stock_price)."""
    costs = summary.cost_breakdown
    lines = []
    if summary.multi_period or summary.has_projects:
        lines.append(("project capex", costs.capex, "label_indent", "money",
                      "paid once, in the period the build starts (Projects sheet)"))
    if summary.multi_period or summary.has_stock_purchase:
        lines.append(("stock purchases", costs.stock_purchase, "label_indent", "money",
                      "units added to the stock × stock_price"))
    return lines


def _first_stage_note(summary: SolveSummary) -> str:
    if summary.multi_period or summary.has_projects or summary.has_stock_purchase:
        return "the lines above"
    return "procurement + fixed + reserve + stock"


def _scenario_count(summary: SolveSummary) -> str:
    if not summary.multi_period:
        return f"{len(summary.scenarios)} scenarios"
    names = {s.scenario for s in summary.scenarios}
    return (f"{len(names)} scenarios ({len(summary.scenarios)} scenario-periods, "
            "baseline included)")


def _horizon_data_lines(summary: SolveSummary, instance) -> list[tuple]:
    if not summary.multi_period:
        return []
    periods = summary.periods
    span = periods[0] if len(periods) == 1 else f"{periods[0]} to {periods[-1]}"
    projects = sum(1 for o in instance.offers if o.is_project)
    return [("horizon", f"{len(periods)} period{'s' if len(periods) != 1 else ''}, "
             f"{span}; {projects} project offer{'s' if projects != 1 else ''}, "
             f"{len(summary.investments)} built", "label", "plain")]


def _horizon_summary_lines(left: list[tuple], summary: SolveSummary) -> list[tuple]:
    """Over a horizon every cost on the Summary is Σ_t δ_t (period cost): say so in the
    section title, count plan lines rather than contracts, and split the objective by
    period (each period's own objective, its weight, and what it adds to the total)."""
    currency = summary.currency
    out = []
    for line in left:
        label = line[0]
        if label == f"Objective ({currency})":
            line = (f"Objective ({currency}, Σ over periods of weight × cost)", *line[1:])
        elif label == f"objective ({currency})":
            line = (*line[:4], "Σ weight × (spend + (1 − λ)·E[R] + λ·CVaR), λ = "
                    f"{summary.settings.risk_aversion:g}")
        elif label == f"spend: first-stage cost ({currency})":
            line = (*line[:4], "Σ weight × each period's first-stage cost")
        elif label == "contracts":
            line = ("plan lines", len(summary.plan), "label", "integer",
                    "one per contract and period, on the Plan sheet")
        elif label == "expected recourse cost E[R]":
            line = (*line[:4], "Σ weight × each period's Σ probability × recourse cost")
        elif label and label.startswith("CVaR "):
            line = (*line[:4], "Σ weight × each period's CVaR (Scenarios sheet)")
        out.append(line)
    out += [
        (None, None, "plain", "plain", None),
        (f"Objective by period ({currency})", None, "section", "section", None),
    ]
    lam = summary.settings.risk_aversion
    for p in summary.by_period:
        pieces = [f"F {p.first_stage_cost:,.2f}"]
        if lam < 1:
            pieces.append(f"{1 - lam:g} × E[R] {p.expected_recourse_cost:,.2f}")
        if lam > 0:
            pieces.append(f"{lam:g} × CVaR {p.cvar:,.2f}")
        out.append((f"{p.period}  (weight {p.weight:.4g})", p.weighted_objective,
                    "label_indent", "money",
                    f"{p.weight:.4g} × {p.objective:,.2f} = {p.weight:.4g} × ("
                    + " + ".join(pieces) + ")"))
    out.append(("= objective", sum(p.weighted_objective for p in summary.by_period),
                "label_total", "money_total",
                "Σ weight × period objective (sheet Costs by period)"))
    return out


# ---- Plan ---------------------------------------------------------------------------------

PLAN_LOOKS = ["plain", "plain", "plain", "plain", "plain", "quantity_dash", "quantity_dash",
              "money", "money", "percent"]


def plan_headers(currency: str) -> list[str]:
    return ["supplier", "material", "unit", "origin", "processing country", "quantity",
            "reserve", f"landed unit cost ({currency})", f"spend ({currency})",
            "share of demand"]


def _plan_sheet(book: Workbook, styles: Styles, result: SolveResult,
                summary: SolveSummary) -> Sheet:
    if summary.multi_period:
        return _plan_sheet_by_period(book, styles, result, summary)
    rows = plan_rows(result, summary)
    headers = plan_headers(currency_label(summary.currency))
    sample = rows[:2000]
    widths = [width_for([r.supplier for r in sample] + ["supplier"], 14, 40),
              width_for([r.material for r in sample] + ["material"], 12, 30),
              width_for([r.unit for r in sample] + ["unit"], 6, 12),
              width_for([r.country for r in sample] + ["origin"], 9, 24),
              12, number_width([r.quantity for r in rows], minimum=11),
              number_width([r.reserve for r in rows], minimum=10),
              number_width([r.landed_unit_cost for r in rows], minimum=13),
              number_width([sum(r.spend for r in rows)], minimum=14), 10]
    sheet = Sheet.open(book, styles, "Plan", widths, freeze="A2", print_rows="1:1")
    header_row = sheet.write(headers, "header_wrap", height=30)
    if not rows:
        sheet.write(["No contracts: the plan buys nothing (see Scenarios for the shortage)."],
                    ["note"])
        return sheet
    body = (
        (r.supplier, r.material, r.unit, r.country, r.processing_country, r.quantity,
         r.reserve, r.landed_unit_cost, r.spend, r.share_of_demand)
        for r in rows
    )
    first, last = sheet.stream(body, PLAN_LOOKS, len(rows))
    sheet.table("PlanLines", headers, header_row, last)
    sheet.ws.conditional_formatting.add(
        f"J{first}:J{last}",
        DataBarRule(start_type="num", start_value=0, end_type="num", end_value=1,
                    color="9BC2E6"))
    total_spend = sum(r.spend for r in rows)
    # "Total" alone in the supplier column: `evaluate --plan` skips this row.
    totals = [("Total", f"{len(rows)} contracts", None, None, None, None, None, None,
               total_spend, None)]
    sheet.stream(iter(totals), ["label_total", "label_total"] + ["total_rule"] * 6
                 + ["money_total", "total_rule"], 1)
    return sheet


def _plan_sheet_by_period(book: Workbook, styles: Styles, result: SolveResult,
                          summary: SolveSummary) -> Sheet:
    """The Plan over a horizon: a period column first, period by period in time order,
    shares of that period's demand D_{m,t}; header in row 1 so `evaluate --plan` reads it
    back. One totals row (undiscounted spend) and, under it, each period's spend."""
    rows = plan_rows(result, summary)
    headers = ["period"] + plan_headers(currency_label(summary.currency))
    sample = rows[:2000]
    widths = [width_for([r.period for r in sample] + ["period"], 8, 20),
              width_for([r.supplier for r in sample] + ["supplier"], 14, 40),
              width_for([r.material for r in sample] + ["material"], 12, 30),
              width_for([r.unit for r in sample] + ["unit"], 6, 12),
              width_for([r.country for r in sample] + ["origin"], 9, 24),
              12, number_width([r.quantity for r in rows], minimum=11),
              number_width([r.reserve for r in rows], minimum=10),
              number_width([r.landed_unit_cost for r in rows], minimum=13),
              number_width([sum(r.spend for r in rows)], minimum=14), 10]
    sheet = Sheet.open(book, styles, "Plan", widths, freeze="C2", print_rows="1:1")
    header_row = sheet.write(headers, "header_wrap", height=30)
    if not rows:
        sheet.write([None, "No contracts: the plan buys nothing in any period (see Scenarios "
                     "for the shortage)."], ["plain", "note"])
        return sheet
    body = (
        (r.period, r.supplier, r.material, r.unit, r.country, r.processing_country,
         r.quantity, r.reserve, r.landed_unit_cost, r.spend, r.share_of_demand)
        for r in rows
    )
    spend: dict[str, float] = {}
    for r in rows:
        spend[r.period] = spend.get(r.period, 0.0) + r.spend
    first, last = sheet.stream(body, ["plain"] + PLAN_LOOKS, len(rows))
    sheet.table("PlanLines", headers, header_row, last)
    sheet.ws.conditional_formatting.add(
        f"K{first}:K{last}",
        DataBarRule(start_type="num", start_value=0, end_type="num", end_value=1,
                    color="9BC2E6"))
    # "Total" alone in the supplier column: `evaluate --plan` skips these rows.
    totals = [(None, "Total", f"{len(rows)} lines, {len(spend)} periods", None, None, None,
               None, None, None, sum(spend.values()), "undiscounted")]
    totals += [(None, "Total", f"spend in {t}", None, None, None, None, None, None,
                spend[t], None) for t in summary.periods if t in spend]
    looks = (["total_rule", "label_total", "label_total"] + ["total_rule"] * 6
             + ["money_total", "note"])
    sheet.stream_styled(((row, looks if i == 0 else
                          ["plain", "note", "note"] + ["plain"] * 6 + ["money", "plain"])
                         for i, row in enumerate(totals)), len(totals))
    return sheet


# ---- Stockpile ----------------------------------------------------------------------------


def _stockpile_sheet(book: Workbook, styles: Styles, result: SolveResult,
                     summary: SolveSummary) -> Sheet:
    """Strategic stock held (h_m) per material that may hold stock; header in row 1 so
    `evaluate --plan` reads it back with the Plan."""
    if summary.multi_period:
        return _stock_sheet_by_period(book, styles, result, summary)
    currency = currency_label(summary.currency)
    stock = summary.stockpile
    scenarios = summary.scenarios
    materials = [m for m in result.instance.materials
                 if m.stockpile_cost is not None or stock.get(m.id, 0.0) > 0]
    headers = ["material", "unit", "stock", "max_stockpile",
               f"carrying cost per unit ({currency})", f"carrying cost ({currency})",
               "expected draw", "largest draw"]
    rows = []
    for m in materials:
        held = stock.get(m.id, 0.0)
        draws = [(s.probability, s.stock_drawn.get(m.id, 0.0)) for s in scenarios]
        rows.append([m.id, m.unit, held, m.max_stockpile, m.stockpile_cost,
                     (m.stockpile_cost or 0.0) * held, sum(p * d for p, d in draws),
                     max((d for _, d in draws), default=0.0)])
    widths = [width_for([m.id for m in materials] + ["material"], 12, 30), 8,
              number_width([r[2] for r in rows], minimum=11), 14, 16,
              number_width([r[5] for r in rows], minimum=14), 13, 13]
    sheet = Sheet.open(book, styles, "Stockpile", widths, freeze="A2")
    header_row = sheet.write(headers, "header_wrap", height=30)
    for row in rows:
        sheet.write(row, ["plain", "plain", "quantity_dash", "quantity", "money",
                          "money_dash", "quantity_dash", "quantity_dash"])
    if rows:
        sheet.table("StockHeld", headers, header_row, sheet.row)
    else:
        sheet.write(["No material may be stockpiled (no stockpile_cost on Materials)."],
                    ["note"])
    sheet.blank()
    sheet.write(["Strategic stock is bought before the period and drawn only to replace "
                 "supply lost to a disruption; draws in each material's unit."], ["note"])
    return sheet


def _stock_sheet_by_period(book: Workbook, styles: Styles, result: SolveResult,
                           summary: SolveSummary) -> Sheet:
    """Stock over a horizon: one row per material that may hold stock and period, in time
    order: the level h_{m,t} held, what was added g_{m,t} (filled) and what each costs,
    and the draws in that period's scenarios. Header in row 1 (material, period, stock)
    so `evaluate --plan` reads the levels back."""
    currency = currency_label(summary.currency)
    instance = result.instance
    levels = summary.stock_levels
    added = {p.period: p.stock_added for p in summary.by_period}
    materials = [m for m in instance.materials
                 if m.stockpile_cost is not None or any(levels.get(m.id, {}).values())]
    headers = ["material", "unit", "period", "stock", "added", "released", "max_stockpile",
               f"carrying cost ({currency})", f"purchase cost ({currency})",
               "expected draw", "largest draw"]
    rows = []
    for m in materials:
        previous = m.initial_stock
        for p in summary.by_period:
            t = p.period
            held = levels.get(m.id, {}).get(t, 0.0)
            g = added[t].get(m.id, 0.0)
            released = max(0.0, previous - held)
            previous = held
            draws = [(s.probability, s.stock_drawn.get(m.id, 0.0))
                     for s in summary.scenarios if getattr(s, "period", None) == t]
            rows.append([m.id, m.unit, t, held, g, released, m.max_stockpile,
                         (m.stockpile_cost or 0.0) * held, m.stock_price * g,
                         sum(q * d for q, d in draws), max((d for _, d in draws), default=0.0)])
    widths = [width_for([m.id for m in materials] + ["material"], 12, 30), 8,
              width_for(list(summary.periods) + ["period"], 8, 20),
              number_width([r[3] for r in rows], minimum=11),
              number_width([r[4] for r in rows], minimum=11),
              number_width([r[5] for r in rows], minimum=11), 14,
              number_width([r[7] for r in rows], minimum=14),
              number_width([r[8] for r in rows], minimum=14), 13, 13]
    sheet = Sheet.open(book, styles, "Stockpile", widths, freeze="D2", print_rows="1:1")
    header_row = sheet.write(headers, "header_wrap", height=30)
    looks = ["plain", "plain", "plain", "quantity_dash", "quantity_dash", "quantity_dash",
             "quantity", "money_dash", "money_dash", "quantity_dash", "quantity_dash"]
    for row in rows:
        sheet.write(row, looks)
    if rows:
        sheet.table("StockHeld", headers, header_row, sheet.row)
    else:
        sheet.write(["No material may be stockpiled (no stockpile_cost on Materials)."],
                    ["note"])
    sheet.blank()
    sheet.write(["Stock: the level held in the period. Added: bought to raise it from the "
                 "period before (paid at stock_price). Carrying cost: stockpile_cost × level."],
                ["note"])
    sheet.write(["Released: the level fell from the period before; the model neither sells "
                 "nor uses that stock, it just stops holding it (no refund)."], ["note"])
    sheet.write(["Stock is drawn only to replace supply lost to a disruption; a draw in one "
                 "period's scenario does not deplete the next period's stock."], ["note"])
    initial = [m for m in materials if m.initial_stock > 0]
    if initial:
        sheet.write(["Initial stock before " + summary.periods[0] + ": " + ", ".join(
            f"{m.id} {m.initial_stock:,.2f} {m.unit}".rstrip() for m in initial)
            + " (counts towards the first level; nothing is paid for it)."], ["note"])
    return sheet
