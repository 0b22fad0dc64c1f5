"""The sheets of a report over a planning horizon (SPEC §7): Costs by period, Projects,
the per-period Exposure and Scenarios, and one sheet per stage charting each material's
shares over the periods.

A workbook without a Periods sheet never reaches this module except for Projects (when
it has project offers): its report is v1's. As in `sheets`, every figure comes from
`kpis`, every text cell is written as text, and every chart refers to cells on its own
sheet.
"""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.pagebreak import Break

from resilience.api import SolveResult
from resilience.report.charts import PALETTE, stacked_columns
from resilience.report.kpis import (
    NOISE,
    SolveSummary,
    exposure_rows_by_period,
    project_rows,
    scenario_rows,
    shown_stages,
)
from resilience.report.layout import Sheet, Styles, currency_label, number_width, width_for


def _share_scale() -> ColorScaleRule:
    """White 0 % → red 100 %, as on the v1 Exposure sheet (a fresh rule per range:
    openpyxl numbers a rule's priority when it is added)."""
    return ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF",
                          mid_type="num", mid_value=0.5, mid_color="F8CBAD",
                          end_type="num", end_value=1, end_color="E06666")


def _project_scale() -> ColorScaleRule:
    """White 0 % → blue 100 %: a project's share is not a concentration to worry about."""
    return ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF",
                          end_type="num", end_value=1, end_color="5B9BD5")


def _hhi_scale() -> ColorScaleRule:
    return ColorScaleRule(start_type="num", start_value=1500, start_color="C6EFCE",
                          mid_type="num", mid_value=2500, mid_color="FFEB9C",
                          end_type="num", end_value=10000, end_color="FFC7CE")


STAGE_WORDS = {"origin": "where it is mined or produced",
               "processing": "where it is refined or processed",
               "owner": "the country that controls the supplier"}


def shares_sheet_name(stage: str) -> str:
    return f"Shares {stage}"


# ---- Costs by period ----------------------------------------------------------------------

COST_PARTS = [("procurement", "procurement"), ("of which tariffs", "of_which_tariffs"),
              ("fixed contracts", "fixed_contract"), ("reserve", "reserve"),
              ("project capex", "capex"), ("stock carrying", "stock_carrying"),
              ("stock purchases", "stock_purchase")]


def costs_sheet(book: Workbook, styles: Styles, result: SolveResult,
                summary: SolveSummary) -> Sheet:
    """One row per period: its weight, every part of its first-stage cost, expected
    recourse and CVaR, its objective before and after the weight; a total row of the
    weighted sums (the Summary's figures); a stacked chart of the first-stage parts and
    the expected recourse per period, unweighted."""
    lam = summary.settings.risk_aversion
    alpha = summary.settings.cvar_alpha
    periods = summary.by_period
    headers = (["period", "weight δ"] + [name for name, _ in COST_PARTS]
               + ["first-stage cost F", "expected recourse E[R]", f"CVaR {alpha:.0%}",
                  "objective", "weight × objective"])
    money = number_width([p.objective for p in periods] + [summary.objective], minimum=13)
    widths = [width_for([p.period for p in periods] + ["period", "total (weighted)"], 10, 24),
              9] + [money] * (len(headers) - 2)
    sheet = Sheet.open(book, styles, "Costs by period", widths, freeze="B5",
                       print_rows="4:4")
    sheet.write([f"Costs by period ({summary.currency})"], ["title"])
    sheet.write(["Each period's own costs, before its weight. objective = F + (1 − λ)·E[R] "
                 f"+ λ·CVaR with λ = {lam:g}; the total row weights each period by δ, as the "
                 "Summary does."], ["note"])
    sheet.write(["F = procurement (tariffs included) + fixed contracts + reserve + project "
                 "capex + stock carrying + stock purchases."], ["note"])
    header_row = sheet.write(headers, "header_wrap", height=44)
    looks = (["plain", "weight"] + ["money_dash"] * len(COST_PARTS)
             + ["money_bold", "money_dash", "money_dash", "money", "money_bold"])
    for p in periods:
        costs = p.cost_breakdown
        sheet.write([p.period, p.weight] + [getattr(costs, key) for _, key in COST_PARTS]
                    + [p.first_stage_cost, p.expected_recourse_cost, p.cvar, p.objective,
                       p.weighted_objective], looks)
    last = sheet.row
    sheet.table("CostsByPeriod", headers, header_row, last, stripes=False)
    total = summary.cost_breakdown
    sheet.write(["total (weighted)", None] + [getattr(total, key) for _, key in COST_PARTS]
                + [summary.first_stage_cost, summary.expected_recourse_cost, summary.cvar,
                   None, summary.objective],
                ["label_total", "total_rule"] + ["money_total"] * (len(COST_PARTS) + 3)
                + ["total_rule", "money_total"])
    if periods:
        first = header_row + 1
        parts = [i for i, (_, key) in enumerate(COST_PARTS)
                 if key != "of_which_tariffs"
                 and any(getattr(p.cost_breakdown, key) > NOISE for p in periods)]
        series = [(3 + i, first, last, header_row) for i in parts]
        if any(p.expected_recourse_cost > NOISE for p in periods):
            series.append((3 + len(COST_PARTS) + 1, first, last, header_row))
        if series:
            chart = stacked_columns(
                sheet.ws, "First-stage cost and expected recourse by period (before weights)",
                categories=(1, first, last),
                series=series, y_title=summary.currency, y_format="#,##0",
                width=max(14.0, min(26.0, 8 + 2.0 * len(periods))), height=8.0)
            sheet.ws.add_chart(chart, f"A{sheet.row + 3}")
    return sheet


# ---- Projects -----------------------------------------------------------------------------


def projects_sheet(book: Workbook, styles: Styles, result: SolveResult,
                   summary: SolveSummary) -> Sheet:
    """Every project offer (capex on Suppliers), built or not: when the build starts and
    the project first delivers, capex, capacity, the share of its material's demand it
    carries in each period, and what it displaced and which binding limits it helps meet,
    as far as the plan and the policy rows show it."""
    currency = currency_label(summary.currency)
    rows = project_rows(result, summary)
    periods = list(summary.periods) or [""]
    share_headers = ([f"share {t}" for t in periods] if summary.multi_period
                     else ["share of demand"])
    headers = (["supplier", "material", "origin", "processing country", "built",
                "build starts", "online from", f"capex ({currency})", "capacity per period",
                "lead time", f"landed unit cost ({currency})"] + share_headers
               + ["what it displaced", "limits it helps meet"])
    widths = ([width_for([r["supplier"] for r in rows] + ["supplier"], 14, 34),
               width_for([r["material"] for r in rows] + ["material"], 10, 24), 9, 11, 7,
               width_for(periods + ["build"], 8, 16), width_for(periods + ["online"], 8, 16),
               number_width([r["capex"] for r in rows], minimum=12),
               number_width([r["capacity"] for r in rows], minimum=11), 8, 11]
              + [9.0] * len(share_headers) + [40, 36])
    sheet = Sheet.open(book, styles, "Projects", widths, freeze="C5", print_rows="4:4")
    built = sum(1 for r in rows if r["built"])
    sheet.write([f"Projects — {len(rows)} partner-capacity project"
                 f"{'s' if len(rows) != 1 else ''} offered, {built} built"], ["title"])
    sheet.write(["A project is capacity that exists once built: capex is paid once, in the "
                 "period the build starts; it delivers from 'online from' (build start + "
                 "lead time), within its window. Shares are of the material's demand in "
                 "each period."], ["note"])
    sheet.write(["What it displaced: the material's origin shares that fell from the period "
                 "before it first delivered to that period. Limits it helps meet: policy "
                 "rows on its material, binding in a period it delivers, that it does not "
                 "count against. Both are read off the plan, not a counterfactual."],
                ["note"])
    header_row = sheet.write(headers, "header_wrap", height=44)
    if not rows:
        sheet.write(["No offer has capex: there are no projects."], ["note"])
        return sheet
    for r in rows:
        shares = [r["shares"].get(t) for t in periods]
        displaced = r["displaced"] or ("not built" if not r["built"] else "")
        lines = max(_lines(displaced, widths[-2]), _lines(r["helps_meet"], widths[-1]))
        when = ("—", "—") if not r["built"] else (r["start"] or "this period",
                                                  r["online_from"] or "this period")
        sheet.write(
            [r["supplier"], r["material"], r["country"], r["processing_country"],
             "yes" if r["built"] else "no", *when,
             r["capex"], r["capacity"], r["lead_time"], r["landed_unit_cost"]]
            + shares + [displaced, r["helps_meet"]],
            ["plain"] * 4 + ["text_bold" if r["built"] else "plain", "plain", "plain",
                             "money", "quantity", "integer", "money"]
            + ["percent_dash"] * len(shares) + ["wrap", "wrap"],
            height=None if lines <= 1 else 13.0 * lines + 2)
    sheet.table("ProjectOffers", headers, header_row, sheet.row)
    first_share = 12
    sheet.ws.conditional_formatting.add(
        f"{get_column_letter(first_share)}{header_row + 1}:"
        f"{get_column_letter(first_share + len(share_headers) - 1)}{sheet.row}",
        _project_scale())
    return sheet


def _lines(text: str, width: float) -> int:
    """About how many lines `text` wraps to in a column `width` characters wide (a
    write-only sheet cannot let the spreadsheet fit the row height itself)."""
    if not text:
        return 1
    per_line = max(1, int(width * 1.05) - 1)
    lines, length = 1, 0
    for word in text.split(" "):
        if length and length + 1 + len(word) > per_line:
            lines += 1
            length = len(word)
        else:
            length += (1 if length else 0) + len(word)
    return lines


# ---- Exposure over the periods ------------------------------------------------------------


def exposure_sheet(book: Workbook, styles: Styles, result: SolveResult,
                   summary: SolveSummary) -> Sheet:
    """Exposure with a period column: one row per stage, material and period; the charts
    of each material's shares over the periods are on the Shares sheets, one per stage."""
    countries, rows = exposure_rows_by_period(result, summary)
    names = {c.id: c.name for c in result.instance.countries}
    widths = [11.0, width_for([r["material"] for r in rows] + ["material"], 12, 30),
              width_for(list(summary.periods) + ["period"], 8, 16)]
    widths += [max(7.5, min(11.0, max(len(c) + 3.0, len(names.get(c) or "") / 2 + 1.0)))
               for c in countries] + [9.0, 9.0]
    sheet = Sheet.open(book, styles, "Exposure", widths, freeze="D6", print_rows="5:5")
    sheet.write(["Exposure — share of each material's demand bought from each country, "
                 "period by period"], ["title"])
    stages = shown_stages(summary)
    sheet.write(["Firm orders as shares of the period's demand, by stage: "
                 + "; ".join(f"{s} = {STAGE_WORDS.get(s, s)}" for s in stages) + "."],
                ["note"])
    sheet.write(["HHI = 10,000 × Σ share² (above 2,500: highly concentrated). Charts of each "
                 "material's shares over the periods: sheets "
                 + ", ".join(f"'{shares_sheet_name(s)}'" for s in stages) + "."], ["note"])
    longest = max((len(names.get(c) or "") for c in countries), default=0)
    sheet.write([None, None, "country name"] + [names.get(c) or None for c in countries],
                ["plain", "plain"] + ["header_note"] * (1 + len(countries)),
                height=None if longest <= 12 else 24 if longest <= 24 else 34)
    headers = ["stage", "material", "period"] + countries + ["total", "HHI"]
    header_row = sheet.write(headers, "header")
    share_looks = ["percent"] * len(countries)

    def body():
        for row in rows:
            if row["defined"]:
                yield ([row["stage"], row["material"], row["period"]]
                       + [row["shares"].get(c) for c in countries]
                       + [row["total"], row["hhi"]],
                       ["plain"] * 3 + share_looks + ["percent_bold", "hhi"])
            else:
                yield ([row["stage"], row["material"], row["period"]]
                       + [None] * len(countries) + ["no demand", None],
                       ["plain"] * 3 + ["plain"] * len(countries) + ["note", "plain"])

    first, last = sheet.stream_styled(body(), len(rows))
    if rows:
        sheet.table("ExposureByPeriod", headers, header_row, last, stripes=False)
        if countries:
            sheet.ws.conditional_formatting.add(
                f"D{first}:{get_column_letter(3 + len(countries))}{last}", _share_scale())
        column = get_column_letter(len(headers))
        sheet.ws.conditional_formatting.add(f"{column}{first}:{column}{last}", _hhi_scale())
    return sheet


# ---- Shares over the periods, one sheet per stage -----------------------------------------

ROWS_PER_CHART = 15  # a chart 7 cm high spans about 13 rows of 15 points
BLOCKS_PER_PAGE = 2  # material blocks on one landscape page


def shares_sheets(book: Workbook, styles: Styles, result: SolveResult,
                  summary: SolveSummary) -> list[Sheet]:
    return [shares_sheet(book, styles, result, summary, stage)
            for stage in shown_stages(summary)]


def shares_sheet(book: Workbook, styles: Styles, result: SolveResult,
                 summary: SolveSummary, stage: str) -> Sheet:
    """One block per material: its shares by country (columns: the countries it buys from
    at this stage in some period) in each period (rows), total and HHI, and beside it a
    stacked column chart of those shares over the periods, a series per country."""
    everyone, rows = exposure_rows_by_period(result, summary)
    # one colour per country on every chart of every stage
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(everyone)}
    mine = [r for r in rows if r["stage"] == stage]
    blocks = []
    for material in result.instance.materials:
        block = [r for r in mine if r["material"] == material.id]
        weight: dict[str, float] = {}
        for r in block:
            for c, v in r["shares"].items():
                weight[c] = weight.get(c, 0.0) + v
        countries = sorted(weight, key=lambda c: -weight[c])
        blocks.append((material, block, countries))
    widest = max((len(countries) for _, _, countries in blocks), default=0)
    period_width = width_for(list(summary.periods) + ["period"], 9, 16)
    widths = [period_width] + [8.5] * widest + [8.5, 8.5, 2.0]
    sheet = Sheet.open(book, styles, shares_sheet_name(stage), widths, fit_height=False)
    sheet.write([f"{stage.capitalize()} shares over the periods — "
                 f"{STAGE_WORDS.get(stage, stage)}"], ["title"])
    sheet.write(["Share of each material's demand bought from each country, period by "
                 "period (firm orders). A column below 100 % leaves the rest unbought; a "
                 "period without demand has no shares."], ["note"])
    chart_col = get_column_letter(len(widths) + 1)
    for n, (material, block, countries) in enumerate(blocks):
        if n and n % BLOCKS_PER_PAGE == 0:
            sheet.ws.row_breaks.append(Break(id=sheet.row))
        sheet.blank()
        unit = f" ({material.unit})" if material.unit else ""
        sheet.write([f"{material.id}{unit}"], ["section"])
        headers = ["period"] + countries + ["total", "HHI"]
        header_row = sheet.write(headers, "header")
        for r in block:
            if r["defined"]:
                sheet.write([r["period"]] + [r["shares"].get(c) for c in countries]
                            + [r["total"], r["hhi"]],
                            ["plain"] + ["percent_dash"] * len(countries)
                            + ["percent_bold", "hhi"])
            else:
                sheet.write([r["period"]] + [None] * len(countries) + ["no demand", None],
                            ["plain"] * (1 + len(countries)) + ["note", "plain"])
        first, last = header_row + 1, sheet.row
        if countries and block:
            sheet.ws.conditional_formatting.add(
                f"B{first}:{get_column_letter(1 + len(countries))}{last}", _share_scale())
            chart = stacked_columns(
                sheet.ws, f"{material.id}: {stage} shares by country",
                categories=(1, first, last),
                series=[(col, first, last, header_row)
                        for col in range(2, 2 + len(countries))],
                y_title="share of demand", y_format="0%",
                width=max(14.0, min(20.0, 8.0 + 1.6 * len(block))), height=7.0,
                y_max=1.0, colours=[colour[c] for c in countries])
            sheet.ws.add_chart(chart, f"{chart_col}{header_row - 1}")
        elif not countries:
            sheet.write(["Nothing bought at this stage in any period."], ["note"])
        used = sheet.row - (header_row - 2)
        if countries and block and used < ROWS_PER_CHART:
            sheet.blank(ROWS_PER_CHART - used)
    return sheet


# ---- Scenarios over the periods -----------------------------------------------------------

SCENARIO_HEADERS = ["period", "scenario", "probability", "price surge", "recourse cost",
                    "shortage cost", "backup + spot cost", "probability × cost",
                    "weight in CVaR"]
SCENARIO_LOOKS = ["plain", "plain", "percent_fine", "percent_dash", "money_dash", "money_dash",
                  "money_dash", "money_dash", "percent_dash"]
MATERIAL_HEADERS = ["period", "scenario", "material", "unit", "shortage", "stock drawn",
                    "backup called", "spot bought"]
MATERIAL_LOOKS = ["plain", "plain", "plain", "plain", "quantity_dash", "quantity_dash",
                  "quantity_dash", "quantity_dash"]


def scenarios_sheet(book: Workbook, styles: Styles, result: SolveResult,
                    summary: SolveSummary) -> Sheet:
    """Scenarios period by period, in tables one under the other: each period's
    scenarios (their probabilities add up to 1 within the period), the recourse cost of
    this plan in each and the CVaR weights within the period; under them each period's
    expected recourse and CVaR; then every material short, drawing stock, calling backup
    or buying spot; last the recourse cost of each scenario by period (the table the
    chart draws)."""
    currency = currency_label(summary.currency)
    scenarios = scenario_rows(result)
    materials = result.instance.materials
    alpha = result.instance.settings.cvar_alpha
    names = [s["scenario"] for s in scenarios]
    periods = list(summary.periods)
    period_width = width_for(periods + ["period"], 8, 16)
    money = number_width([s["recourse_cost"] for s in scenarios], minimum=13)
    detail = [
        ([s["period"], s["scenario"], m.id, m.unit, s["shortage"].get(m.id, 0.0),
          s["stock_drawn"].get(m.id, 0.0), s["backup_called"].get(m.id, 0.0),
          s["spot_bought"].get(m.id, 0.0)], MATERIAL_LOOKS)
        for s in scenarios for m in materials
        if s["shortage"].get(m.id) or s["stock_drawn"].get(m.id)
        or s["backup_called"].get(m.id) or s["spot_bought"].get(m.id)
    ]
    quantity = number_width([v for row, _ in detail for v in row[4:]], minimum=11)
    widths = [max(period_width, width_for(names, 12, 28), 16.0),
              width_for(names + ["scenario"], 12, 28),
              max(11.0, width_for([m.id for m in materials] + ["material"], 10, 28)),
              max(9.0, width_for([m.unit for m in materials] + ["unit"], 6, 12)),
              max(money, quantity), max(money, quantity), max(money, quantity),
              max(money, quantity),
              # the weight in CVaR, and under it each period's CVaR
              number_width([p.cvar for p in summary.by_period] + [summary.cvar],
                           minimum=10)]
    # the recourse by period, last: a period per column from B on, money in each
    widths += [8.43] * max(0, 1 + len(periods) - len(widths))
    for i in range(1, 1 + len(periods)):
        widths[i] = max(widths[i], money)
    sheet = Sheet.open(book, styles, "Scenarios", widths)
    sheet.write(["Scenarios — shortage and recourse cost of this plan in each disruption "
                 "scenario, period by period"], ["title"])
    sheet.write(["Each period faces its own scenarios: their probabilities add up to 100 % "
                 "within the period (baseline = nothing disrupted)."], ["note"])
    sheet.write(["Recourse is recomputed from the plan at least cost, replacing only supply "
                 "lost in the scenario: stock first, then the cheapest backup or spot "
                 "purchase (spot at the scenario's price surge) below the shortage penalty; "
                 "the rest is short."], ["note"])
    sheet.write([f"CVaR {alpha:.0%} of a period: the mean recourse cost over that period's "
                 f"worst scenarios whose probabilities fill its {1 - alpha:.0%} tail. Costs in "
                 f"{summary.currency}, before the period's weight. Below: each material short, "
                 "drawing stock, calling backup or buying spot, in its own unit."], ["note"])
    sheet.blank()
    headers = (SCENARIO_HEADERS[:4] + [f"{SCENARIO_HEADERS[4]} ({currency})"]
               + SCENARIO_HEADERS[5:])
    n_cols = len(headers)
    header_row = sheet.write(headers, "header_wrap", height=30)
    rows: list[tuple[list, list[str]]] = [
        ([s["period"], s["scenario"], s["probability"], s["price_surge"], s["recourse_cost"],
          s["shortage_cost"], s["backup_cost"], s["weighted_cost"], s["cvar_weight"]],
         SCENARIO_LOOKS)
        for s in scenarios
    ]
    n_scen = len(rows)
    # under the table: each period's expectation and CVaR
    rows.append(([None] * n_cols, ["plain"] * n_cols))
    rows.append((["period", None, "weight δ", None, "expected recourse", None, None, None,
                  f"CVaR {alpha:.0%}"], ["header"] * n_cols))
    for p in summary.by_period:
        rows.append(([p.period, None, p.weight, None, p.expected_recourse_cost, None, None,
                      None, p.cvar],
                     ["plain", "plain", "weight", "plain", "money", "plain", "plain",
                      "plain", "money"]))
    rows.append((["total (weighted)", None, None, None, summary.expected_recourse_cost,
                  None, None, None, summary.cvar],
                 ["label_total"] + ["total_rule"] * 3 + ["money_total"] + ["total_rule"] * 3
                 + ["money_total"]))
    rows += [([], []), ([], [])]
    rows.append((["Each material short, drawing stock, calling backup or buying spot, by "
                  "period and scenario (in the material's unit)"], ["section"]))
    detail_header = header_row + len(rows) + 1
    if detail:
        rows.append((MATERIAL_HEADERS, ["header"] * len(MATERIAL_HEADERS)))
        rows += detail
    else:
        rows.append((["No material is short, draws stock, calls backup or buys spot in any "
                      "scenario."], ["note"]))
    sheet.stream_styled(iter(rows), len(rows))
    if n_scen:
        sheet.table("ScenarioCosts", headers, header_row, header_row + n_scen,
                    stripes=False)
    if detail:
        sheet.table("ScenarioMaterials", MATERIAL_HEADERS, detail_header,
                    detail_header + len(detail), stripes=False)
    _recourse_by_period(sheet, summary, scenarios, currency)
    return sheet


def _recourse_by_period(sheet: Sheet, summary: SolveSummary, scenarios: list[dict],
                        currency: str) -> None:
    """A table of each disruption scenario's recourse cost (rows) in each period (columns;
    blank where the scenario is not present) and a chart of it: per scenario, a bar per
    period."""
    names = list(dict.fromkeys(s["scenario"] for s in scenarios
                               if s["scenario"] != "baseline" or s["recourse_cost"] > NOISE))
    if not names:
        return
    periods = list(summary.periods)
    cost = {(s["period"], s["scenario"]): s["recourse_cost"] for s in scenarios}
    rows: list[tuple[list, list[str]]] = [
        ([None], ["plain"]), ([None], ["plain"]),
        ([f"Recourse cost if the scenario happens ({currency}), by period; blank: the "
          "scenario is not present in that period"], ["section"]),
        (["scenario"] + periods, ["header"] + ["header_right"] * len(periods)),
    ]
    rows += [([n] + [cost.get((t, n)) for t in periods],
              ["plain"] + ["money_dash"] * len(periods)) for n in names]
    first, _ = sheet.stream_styled(iter(rows), len(rows))
    header_row = first + 3
    top, bottom = header_row + 1, header_row + len(names)
    chart = stacked_columns(
        sheet.ws, "Recourse cost if the scenario happens, by period",
        categories=(1, top, bottom),
        series=[(2 + i, top, bottom, header_row) for i in range(len(periods))],
        y_title=currency, y_format="#,##0", stacked=False,
        width=max(14.0, min(24.0, 6 + 0.6 * len(names) * len(periods))), height=8.5)
    sheet.ws.add_chart(chart, f"A{bottom + 2}")
