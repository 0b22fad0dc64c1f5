"""The analysis sheets of the solve report: Exposure, Scenarios, Policies and Inputs.

Each function opens one write-only sheet, lays out figures from `kpis`, and returns the
`Sheet` (whose long tables the bulk writer streams after openpyxl has saved).
"""

from __future__ import annotations

from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.utils import get_column_letter

from resilience.api import SolveResult
from resilience.report.charts import stacked_columns
from resilience.report.kpis import SolveSummary, exposure_rows, policy_rows, scenario_rows
from resilience.report.layout import (
    Sheet,
    Styles,
    currency_label,
    number_width,
    width_for,
)

CM_PER_WIDTH_UNIT = 0.2  # one unit of Excel column width, in centimetres (about 7.5 px)


def column_after(widths: list[float], first: int, centimetres: float) -> int:
    """The column whose left edge lies at least `centimetres` right of column `first`."""
    covered, col = 0.0, first
    while covered < centimetres:
        width = widths[col - 1] if col - 1 < len(widths) else 8.43
        covered += width * CM_PER_WIDTH_UNIT
        col += 1
    return col


# ---- Exposure -----------------------------------------------------------------------------


def exposure_sheet(book: Workbook, styles: Styles, result: SolveResult,
                   summary: SolveSummary) -> Sheet:
    countries, rows = exposure_rows(result, summary)
    names = {c.id: c.name for c in result.instance.countries}
    n_materials = len(result.instance.materials)
    widths = [11.0, width_for([r["material"] for r in rows] + ["material"], 12, 30)]
    widths += [max(7.5, min(11.0, max(len(c) + 3.0, len(names.get(c) or "") / 2 + 1.0)))
               for c in countries] + [8.0, 9.0]
    sheet = Sheet.open(book, styles, "Exposure", widths, freeze="C5",
                       fit_height=len(rows) <= 60, print_rows="4:4")
    sheet.write(["Exposure — share of each material's demand bought from each country"],
                ["title"])
    sheet.write(["Firm orders by stage: origin = where it is mined or produced, processing "
                 "= where it is refined. HHI = 10,000 × Σ share², exact for this plan "
                 "(above 2,500: highly concentrated). Colours: white 0 % → red 100 %."],
                ["note"])
    longest = max((len(names.get(c) or "") for c in countries), default=0)
    sheet.write([None, "country name"] + [names.get(c) or None for c in countries],
                ["plain"] + ["header_note"] * (1 + len(countries)),
                height=None if longest <= 12 else 24 if longest <= 24 else 34)
    header_row = sheet.write(["stage", "material"] + countries + ["total", "HHI"], "header")
    first_country, last_country = 3, 2 + len(countries)
    hhi_col = last_country + 2
    share_looks = ["percent"] * len(countries)
    for row in rows:
        sheet.write([row["stage"], row["material"]]
                    + [row["shares"].get(c) for c in countries] + [row["total"], row["hhi"]],
                    ["plain", "plain"] + share_looks + ["percent_bold", "hhi"])
    first_row, last_row = header_row + 1, header_row + len(rows)
    if countries and rows:
        sheet.ws.conditional_formatting.add(
            f"{get_column_letter(first_country)}{first_row}:"
            f"{get_column_letter(last_country)}{last_row}",
            ColorScaleRule(start_type="num", start_value=0, start_color="FFFFFF",
                           mid_type="num", mid_value=0.5, mid_color="F8CBAD",
                           end_type="num", end_value=1, end_color="E06666"))
    if rows:
        column = get_column_letter(hhi_col)
        sheet.ws.conditional_formatting.add(
            f"{column}{first_row}:{column}{last_row}",
            ColorScaleRule(start_type="num", start_value=1500, start_color="C6EFCE",
                           mid_type="num", mid_value=2500, mid_color="FFEB9C",
                           end_type="num", end_value=10000, end_color="FFC7CE"))
    if countries and n_materials:
        anchor_row = last_row + 2
        table_cm = sum(widths) * CM_PER_WIDTH_UNIT
        width = max(14.0, min(30.0, table_cm / 2 - 0.5))
        height = max(8.5, min(14.0, 5.0 + 0.3 * len(countries)))
        for i, stage in enumerate(("origin", "processing")):
            stage_first = first_row + i * n_materials
            stage_last = stage_first + n_materials - 1
            chart = stacked_columns(
                sheet.ws, f"{stage.capitalize()}: share of demand by country",
                categories=(2, stage_first, stage_last),
                series=[(col, stage_first, stage_last, header_row)
                        for col in range(first_country, last_country + 1)],
                y_title="share of demand", y_format="0%", width=width, height=height,
                y_max=1.0)
            column = 1 if i == 0 else column_after(widths, 1, width + 0.5)
            sheet.ws.add_chart(chart, f"{get_column_letter(column)}{anchor_row}")
    return sheet


# ---- Scenarios ----------------------------------------------------------------------------

SCENARIO_HEADERS = ["scenario", "probability", "recourse cost", "shortage cost",
                    "backup cost", "probability × cost", "weight in CVaR"]
SCENARIO_LOOKS = ["plain", "percent_fine", "money_dash", "money_dash", "money_dash", "money_dash",
                  "percent_dash"]
MATERIAL_HEADERS = ["scenario", "material", "unit", "shortage", "stock drawn",
                    "backup called"]
MATERIAL_LOOKS = ["plain", "plain", "plain", "quantity_dash", "quantity_dash",
                  "quantity_dash"]


def scenarios_sheet(book: Workbook, styles: Styles, result: SolveResult,
                    summary: SolveSummary) -> Sheet:
    """Two tables, one under the other: per scenario, its probability, recourse cost and
    weight in the CVaR (with the expectation and the CVaR under it, and a chart beside
    it); then per scenario and material, every material short, drawing stock or calling
    backup."""
    currency = currency_label(summary.currency)
    scenarios = scenario_rows(result)
    materials = result.instance.materials
    alpha = result.instance.settings.cvar_alpha
    names = [s["scenario"] for s in scenarios]
    money = number_width([s["recourse_cost"] for s in scenarios], minimum=13)
    detail = [
        ([s["scenario"], m.id, m.unit, s["shortage"].get(m.id, 0.0),
          s["stock_drawn"].get(m.id, 0.0), s["backup_called"].get(m.id, 0.0)],
         MATERIAL_LOOKS)
        for s in scenarios for m in materials
        if s["shortage"].get(m.id) or s["stock_drawn"].get(m.id)
        or s["backup_called"].get(m.id)
    ]
    quantity = number_width([v for row, _ in detail for v in row[3:]], minimum=11)
    widths = [width_for(names + ["expected (Σ probability × cost)"], 12, 34),
              max(11.0, width_for([m.id for m in materials] + ["material"], 10, 28)),
              max(money, width_for([m.unit for m in materials] + ["unit"], 6, 12)),
              max(money, quantity), max(money, quantity), max(money, quantity), 10]
    sheet = Sheet.open(book, styles, "Scenarios", widths)
    sheet.write(["Scenarios — shortage and recourse cost of this plan in each disruption "
                 "scenario"], ["title"])
    sheet.write(["Recomputed from the plan with the least-cost recourse: stock is drawn "
                 "first, then the cheapest reserved backup that costs less than a shortage, "
                 "then demand goes unmet. Below the costs: each material short, drawing "
                 "stock or calling backup in a scenario, in its own unit."], ["note"])
    sheet.write([f"CVaR {alpha:.0%}: the mean recourse cost over the worst scenarios whose "
                 f"probabilities fill the {1 - alpha:.0%} tail, each counted with its weight "
                 f"in CVaR. Costs in {summary.currency}."], ["note"])
    headers = [SCENARIO_HEADERS[0], SCENARIO_HEADERS[1],
               f"{SCENARIO_HEADERS[2]} ({currency})"] + SCENARIO_HEADERS[3:]
    header_row = sheet.write(headers, "header_wrap", height=30)
    rows: list[tuple[list, list[str]]] = [
        ([s["scenario"], s["probability"], s["recourse_cost"], s["shortage_cost"],
          s["backup_cost"], s["weighted_cost"], s["cvar_weight"]], SCENARIO_LOOKS)
        for s in scenarios
    ]
    n_scen = len(rows)
    expected = [sum(s["probability"] * s[key] for s in scenarios)
                for key in ("recourse_cost", "shortage_cost", "backup_cost")]
    rows.append((["expected (Σ probability × cost)", sum(s["probability"] for s in scenarios),
                  expected[0], expected[1], expected[2], expected[0], None],
                 ["label_total", "percent_fine_total", "money_total", "money_total",
                  "money_total", "money_total", "total_rule"]))
    rows.append(([f"CVaR {alpha:.0%}", None, summary.cvar, None, None, None,
                  sum(s["cvar_weight"] for s in scenarios)],
                 ["label_bold", "plain", "money_bold", "plain", "plain", "plain",
                  "percent_bold"]))
    # the chart stands beside the costs; the materials start below both
    chart_rows = 17 if n_scen else 0
    rows += [([], [])] * max(2, chart_rows - len(rows))
    rows.append((["Each material short, drawing stock or calling backup, by scenario (in "
                  "the material's unit)"], ["section"]))
    detail_header = header_row + len(rows) + 1
    if detail:
        rows.append((MATERIAL_HEADERS, ["header"] * len(MATERIAL_HEADERS)))
        rows += detail
    else:
        rows.append((["No material is short, draws stock or calls backup in any scenario."],
                     ["note"]))
    first, _ = sheet.stream_styled(iter(rows), len(rows))
    if n_scen:
        sheet.table("ScenarioCosts", headers, header_row, header_row + n_scen,
                    stripes=False)
    if detail:
        sheet.table("ScenarioMaterials", MATERIAL_HEADERS, detail_header,
                    detail_header + len(detail), stripes=False)
    if n_scen:
        chart = stacked_columns(
            sheet.ws, "Recourse cost by scenario", categories=(1, first, first + n_scen - 1),
            series=[(4, first, first + n_scen - 1, header_row),
                    (5, first, first + n_scen - 1, header_row)],
            y_title=currency, y_format="#,##0", width=max(14.0, min(28.0, 4 + 1.2 * n_scen)),
            height=8.0)
        sheet.ws.add_chart(chart, f"{get_column_letter(len(widths) + 2)}{header_row}")
    return sheet


# ---- Policies -----------------------------------------------------------------------------

POLICY_HEADERS = ["policy", "rule", "material", "target", "stage", "limit", "achieved",
                  "exact HHI", "binding", "cost per point", "per", "source", "note"]


def policies_sheet(book: Workbook, styles: Styles, result: SolveResult,
                   summary: SolveSummary) -> Sheet:
    """Every policy constraint applied; over a horizon one line per period it applies in,
    with a period column after the policy's name."""
    currency = currency_label(summary.currency)
    rows = policy_rows(result)
    multi = summary.multi_period
    headers = POLICY_HEADERS[:9] + [f"cost per point ({currency})"] + POLICY_HEADERS[10:]
    widths = [width_for([r["name"] for r in rows] + ["policy"], 12, 34), 19,
              width_for([r["material"] for r in rows] + ["material"], 10, 24),
              width_for([r["target"] for r in rows] + ["target"], 8, 20), 11, 10, 10, 10,
              9, 14, 19, width_for([r["source"] for r in rows] + ["source"], 10, 30), 44]
    if multi:
        headers.insert(1, "period")
        widths.insert(1, width_for([r["period"] for r in rows] + ["period"], 8, 16))
    sheet = Sheet.open(book, styles, "Policies", widths, freeze="C6" if multi else "B5",
                       print_rows="5:5" if multi else "4:4")
    binding = sum(1 for r in rows if r["binding"])
    sheet.write([f"Policies — {len(rows)} constraints applied, {binding} binding"],
                ["title"])
    sheet.write(["Cost per point: how much the objective would fall if the limit were "
                 "loosened by one percentage point of share (max_hhi: one HHI point); the "
                 "dual of the constraint in the LP with the contract decisions fixed at "
                 "the optimum."], ["note"])
    if multi:
        sheet.write(["Over a horizon a rule applies in each period from its from_period "
                     "on: one line per period it constrains."], ["note"])
    sheet.write(["max_hhi rows: 'achieved' is the model's linear (chord) HHI, which is "
                 "never below the exact HHI of the plan shown beside it."], ["note"])
    header_row = sheet.write(headers, "header_wrap", height=30)
    if not rows:
        strategies = ", ".join(result.instance.strategies())
        sheet.write(["No policy applies to this case."
                     + (f" Strategies in the workbook: {strategies} (choose one with "
                        "--strategy)." if strategies else "")], ["note"])
        return sheet

    def body():
        for r in rows:
            value_look = ("hhi" if r["rule"] == "max_hhi" else "quantity"
                          if r["rule"] == "exclude" else "percent")
            bound = r["binding"]
            values = [r["name"], r["rule"], r["material"], r["target"], r["stage"],
                      r["limit"], r["achieved"], r["exact_hhi"],
                      None if bound is None else ("yes" if bound else "no"),
                      r["cost_per_point"], r["per"], r["source"], r["note"]]
            looks = ["plain", "plain", "plain", "plain", "plain", value_look, value_look,
                     "hhi", "binding" if bound else "plain", "money", "plain", "plain",
                     "note"]
            if multi:
                values.insert(1, r["period"])
                looks.insert(1, "plain")
            yield values, looks

    _, last = sheet.stream_styled(body(), len(rows))
    sheet.table("PolicyRows", headers, header_row, last)
    return sheet


# ---- Inputs -------------------------------------------------------------------------------


UNUSED_ECHO_LIMIT = 5_000


def inputs_sheet(book: Workbook, styles: Styles, result: SolveResult) -> Sheet:
    """An echo of the case as solved (a what-if's edits applied): warnings, then each
    input table, Suppliers last (the one that can be long, streamed)."""
    instance = result.instance
    sections = _input_sections(instance)
    offer_headers = ["supplier", "material", "country", "processing_country", "unit_cost",
                     "tariff", "landed cost", "capacity", "min_order", "fixed_cost",
                     "reserve_cost", "row"]
    offer_looks = ["plain"] * 4 + ["money", "percent", "money", "quantity", "quantity",
                                   "money", "money", "integer"]
    v2_offers = _uses_v2_offer_columns(instance)
    if v2_offers:
        offer_headers[-1:-1] = V2_OFFER_HEADERS
        offer_looks[-1:-1] = V2_OFFER_LOOKS
    offer_row = _offer_row_v2 if v2_offers else _offer_row
    sample = [row for section in sections for row in [section[2], *section[3]]]
    sample += [offer_row(o) for o in instance.offers[:2000]]
    columns = max([12, len(offer_headers)] + [len(section[2]) for section in sections])
    widths = _widths(sample + [offer_headers], columns)
    widths[0] = max(widths[0], 24.0)

    sheet = Sheet.open(book, styles, "Inputs", widths)
    sheet.write(["Inputs — what was read"], ["title"])
    sheet.write([f"{instance.source_name or '(unnamed workbook)'} · SHA-256 "
                 f"{instance.source_sha256 or 'n/a'}"], ["subtitle"])
    applied = []
    if instance.strategy:
        applied.append(f"strategy {instance.strategy}")
    if instance.whatif:
        applied.append(f"what-if {instance.whatif} (its edits are applied in the tables "
                       "below)")
    sheet.write(["As solved: " + ("; ".join(applied) if applied else
                                  "no strategy, no what-if")], ["note"])
    sheet.blank()
    sheet.write([f"Warnings ({len(instance.warnings)})"], ["section"])
    for warning in instance.warnings or ("none",):
        sheet.write([str(warning)])
    sheet.blank()
    for title, table, headers, rows, looks in sections:
        sheet.write([title], ["section"])
        header_row = sheet.write(headers, "header")
        for row in rows:
            sheet.write(row, looks)
        sheet.table(table, headers, header_row, sheet.row)
        sheet.blank()

    if instance.unused_cells:
        shown = instance.unused_cells[:UNUSED_ECHO_LIMIT]
        more = len(instance.unused_cells) - len(shown)
        sheet.write([f"Columns resilience does not use, as read ({len(instance.unused_cells)}"
                     " cells" + (f"; the first {len(shown)} shown" if more else "") + ")"],
                    ["section"])
        header_row = sheet.write(["sheet", "cell", "column", "value"], "header")
        for sheet_name, cell, header, value in shown:
            sheet.write([sheet_name, cell, header, value])
        sheet.table("InputUnused", ["sheet", "cell", "column", "value"], header_row,
                    sheet.row)
        sheet.blank()

    sheet.write([f"Suppliers ({len(instance.offers)} offers)"], ["section"])
    header_row = sheet.write(offer_headers, "header")
    body = (offer_row(o) for o in instance.offers)
    _, last = sheet.stream(body, offer_looks, len(instance.offers))
    sheet.table("InputSuppliers", offer_headers, header_row, last)
    return sheet


def _offer_row(o) -> list:
    return [o.supplier, o.material, o.country, o.processing_country, o.unit_cost, o.tariff,
            o.landed_cost, o.capacity, o.min_order, o.fixed_cost, o.reserve_cost,
            o.row or None]


V2_OFFER_HEADERS = ["available_from", "available_until", "capex", "lead_time",
                    "spot_capacity", "owner_country"]
V2_OFFER_LOOKS = ["plain", "plain", "money", "integer", "quantity", "plain"]


def _uses_v2_offer_columns(instance) -> bool:
    """Whether the Suppliers echo shows SPEC §7's columns: over a horizon, or where an
    offer sets one (a v1 workbook's echo stays as it was)."""
    return instance.multi_period or any(
        o.available_from or o.available_until or o.capex is not None or o.lead_time
        or o.spot_capacity or o.owner_country for o in instance.offers)


def _offer_row_v2(o) -> list:
    return _offer_row(o)[:-1] + [o.available_from, o.available_until, o.capex,
                                 o.lead_time or None, o.spot_capacity or None,
                                 o.owner_country, o.row or None]


def _horizon_sections(instance) -> list[tuple[str, str, list[str], list[list], list[str]]]:
    """Periods and the demand of each material in each period, over a horizon."""
    if not instance.multi_period:
        return []
    weights = instance.period_weights()
    periods = instance.period_ids()
    demand = instance.demand_table()
    return [
        (f"Periods ({len(periods)})", "InputPeriods", ["period", "weight", "weight used",
                                                       "row"],
         [[p.id, p.weight, w, p.row or None] for p, w in zip(instance.periods, weights,
                                                             strict=True)],
         ["plain", "general", "weight", "integer"]),
        (f"Demand by period ({len(instance.demand_rows)} rows on the Demand sheet; a "
         "material and period it does not list takes Materials.demand)",
         "InputDemand", ["material", *(f"demand {t}" for t in periods)],
         [[m.id, *(demand[(m.id, t)] for t in periods)] for m in instance.materials],
         ["plain"] + ["quantity"] * len(periods)),
    ]


def _input_sections(instance) -> list[tuple[str, str, list[str], list[list], list[str]]]:
    """(title, table name, headers, rows, looks) of each small input table."""
    settings = instance.settings
    sections = [
        ("Settings", "InputSettings", ["key", "value"],
         [["risk_aversion", settings.risk_aversion], ["cvar_alpha", settings.cvar_alpha],
          ["time_limit", settings.time_limit], ["mip_gap", settings.mip_gap],
          ["currency", settings.currency],
          *([["discount_rate", settings.discount_rate]] if instance.multi_period else [])],
         ["plain", "value_left"]),
        _materials_section(instance),
        (f"Countries ({len(instance.countries)})", "InputCountries",
         ["country", "name", "disruption_prob", "groups", "tariff", "row"],
         [[c.id, c.name, c.disruption_prob, ", ".join(c.groups), c.tariff, c.row or None]
          for c in instance.countries],
         ["plain", "plain", "percent_fine", "plain", "percent", "integer"]),
    ]
    sections += _horizon_sections(instance)
    active = {id(p) for p in instance.active_policies()}
    multi = instance.multi_period
    sections.append((
        f"Policies ({len(instance.policies)})", "InputPolicies",
        ["name", "rule", "material", "target", "stage", "value", "strategy", "whatif",
         "applied", *(["from_period"] if multi else []), "row"],
        [[p.name, p.rule, p.material, p.target, p.stage, p.value, p.strategy, p.whatif,
          "yes" if id(p) in active else "no", *([p.from_period] if multi else []),
          p.row or None] for p in instance.policies],
        ["plain"] * 5 + ["general"] + ["plain"] * (4 if multi else 3) + ["integer"]))
    lines = []
    if multi:
        scenarios = tuple(s for t in instance.period_ids() for s in instance.scenarios(t))
    else:
        scenarios = instance.scenarios()
    for s in scenarios:
        for hit in s.hits or (None,):
            lines.append([s.name, s.probability, hit.country if hit else "(none)",
                          hit.material if hit else None,
                          hit.capacity_factor if hit else None, s.whatif,
                          *([s.period, s.price_surge] if multi else []), s.row or None])
    generated = ", generated from disruption_prob" if instance.scenario_rows is None else ""
    count = (f"{len(scenarios)} scenario-periods" if multi else str(len(scenarios)))
    sections.append((
        f"Scenarios ({count}{generated})", "InputScenarios",
        ["scenario", "probability", "country", "material", "capacity_factor", "whatif",
         *(["period", "price_surge"] if multi else []), "row"], lines,
        ["plain", "percent_fine", "plain", "plain", "percent", "plain",
         *(["plain", "percent"] if multi else []), "integer"]))
    if instance.whatif_edits:
        sections.append((
            f"What-if edits ({len(instance.whatif_edits)})", "InputWhatIfs",
            ["whatif", "sheet", "where", "column", "op", "value", "origin", "row"],
            [[e.whatif, e.sheet, "; ".join(f"{k}={v}" for k, v in e.where), e.column, e.op,
              e.value, e.origin, e.row or None] for e in instance.whatif_edits],
            ["plain"] * 5 + ["general", "plain", "integer"]))
    return sections


def _materials_section(instance) -> tuple[str, str, list[str], list[list], list[str]]:
    """The Materials echo; initial_stock and stock_price (SPEC §7) over a horizon or where
    a material sets one."""
    v2 = instance.multi_period or any(m.initial_stock or m.stock_price
                                      for m in instance.materials)
    return (
        f"Materials ({len(instance.materials)})", "InputMaterials",
        ["material", "unit", "demand", "shortage_penalty", "stockpile_cost",
         "max_stockpile", *(["initial_stock", "stock_price"] if v2 else []), "row"],
        [[m.id, m.unit, m.demand, m.shortage_penalty, m.stockpile_cost, m.max_stockpile,
          *([m.initial_stock, m.stock_price] if v2 else []), m.row or None]
         for m in instance.materials],
        ["plain", "plain", "quantity", "money", "money", "quantity",
         *(["quantity", "money"] if v2 else []), "integer"])


def _widths(rows: list[list], columns: int) -> list[float]:
    """Column widths that fit text (up to 40) and numbers with separators."""
    widths = [8.0] * columns
    for row in rows:
        for i, value in enumerate(row[:columns]):
            if value is None:
                continue
            if isinstance(value, str):
                need = min(40.0, len(value) + 2.0)
            elif isinstance(value, int | float):
                need = min(24.0, len(f"{abs(float(value)):,.2f}") + 3.0)
            else:
                need = min(40.0, len(str(value)) + 2.0)
            widths[i] = max(widths[i], need)
    return widths
