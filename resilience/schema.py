"""The one table that says what each input sheet and column is.

The reader, the validator, the blank template and the workbook docs are all generated
from it, so they cannot disagree. Kinds:

- ``text``: free text; ``id``: an identifier (trimmed, compared case-insensitively);
- ``ref``: a reference to an id defined on ``ref_sheet`` (``allow_star`` admits ``*``);
  a number cell such as ``2026`` reads as the id ``2026``;
- ``number``: a plain number; percent text is an error;
- ``integer``: a whole number (``3``; ``2.5`` is an error); percent text is an error;
- ``fraction``: a number that may also be written as ``65%`` or an Excel percentage; one
  with no upper bound (a tariff, a price surge, a discount rate) may legally be 1 or more,
  but a plain number far above any real value is most likely a percentage typed without
  its sign (``25`` for 25 %, read as 2,500 %), so validation warns about it
  (``Column.implausible_from``, ``IMPLAUSIBLE_FROM``);
- ``choice``: one of ``choices``.
"""

from __future__ import annotations

from dataclasses import dataclass

from resilience.domain import OWNER, POLICY_RULES, STAGES

# Fractions with no upper bound, and where a plain number stops being believable. Real
# values above 100 % exist: US tariffs on Chinese goods reached 145 % in April 2025, and
# gallium, germanium and cobalt prices more than doubled after export controls, so a
# tariff or surge up to 300 % is left alone; 25 typed for 25 % (2,500 %) is not. A
# discount rate above 50 % a year is not one anybody plans with.
IMPLAUSIBLE_FROM = {"tariff": 3.0, "price_surge": 3.0, "discount_rate": 0.5}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    description: str
    unit: str = ""
    required: bool = False  # the column must be present
    default: object = None  # used when the cell is blank; None = blank stays blank
    mandatory_value: bool = False  # a blank cell is an error
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    choices: tuple[str, ...] = ()
    ref_sheet: str = ""
    allow_star: bool = False

    @property
    def implausible_from(self) -> float | None:
        """Where a legal value becomes implausible enough to warn about, for a fraction
        with no upper bound (`IMPLAUSIBLE_FROM`), None for every other column. Percent
        text (``150%``) is taken as meant and never warned about."""
        if self.kind != "fraction" or self.maximum is not None:
            return None
        return IMPLAUSIBLE_FROM.get(self.name, 1.0)

    def bounds_text(self) -> str:
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.min_exclusive else '≥'} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"{'<' if self.max_exclusive else '≤'} {self.maximum:g}")
        return " and ".join(parts)


@dataclass(frozen=True)
class Sheet:
    name: str
    description: str
    columns: tuple[Column, ...]
    required: bool = False
    key_value: bool = False  # Settings: one row per key

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


MATERIALS = Sheet(
    "Materials",
    "One row per material: what is needed and what running short costs.",
    (
        Column("material", "id", "Material id, unique", required=True, mandatory_value=True),
        Column("unit", "text", "Unit of measure (t, kg, wafers, MWh, ...)", default=""),
        Column(
            "demand", "number", "Units needed in the planning period (D_m)", unit="units",
            required=True, mandatory_value=True, minimum=0, min_exclusive=True,
        ),
        Column(
            "shortage_penalty", "number", "Cost per unit of unmet demand (P_m)",
            unit="currency/unit", required=True, mandatory_value=True, minimum=0,
        ),
        Column(
            "stockpile_cost", "number",
            "Carrying cost per unit of strategic stock held (k_m); blank = no stockpile",
            unit="currency/unit", minimum=0,
        ),
        Column(
            "max_stockpile", "number", "Cap on stock held (S_m); blank = no cap",
            unit="units", minimum=0,
        ),
        Column(
            "initial_stock", "number",
            "Stock on hand before the first period (H_m); what cannot be held is lost",
            unit="units", default=0.0, minimum=0,
        ),
        Column(
            "stock_price", "number", "Cost per unit added to the stock (s_m)",
            unit="currency/unit", default=0.0, minimum=0,
        ),
    ),
    required=True,
)

COUNTRIES = Sheet(
    "Countries",
    "One row per country that supplies or processes anything.",
    (
        Column(
            "country", "id", "Country code (ISO 3166 alpha-3 recommended), unique",
            required=True, mandatory_value=True,
        ),
        Column("name", "text", "Display name", default=""),
        Column(
            "disruption_prob", "fraction",
            "Probability the country's supply is disrupted in the period (p_c)",
            unit="fraction", default=0.0, minimum=0, maximum=1, max_exclusive=True,
        ),
        Column(
            "groups", "text",
            "Comma-separated group tags, e.g. NATO, EU, US_FTA; FEOC marks a foreign "
            "entity of concern",
            default="",
        ),
        Column(
            "tariff", "fraction", "Ad-valorem tariff on goods processed in this country",
            unit="fraction", default=0.0, minimum=0,
        ),
    ),
    required=True,
)

SUPPLIERS = Sheet(
    "Suppliers",
    "One row per offer: a supplier selling a material from an origin country, processed "
    "in a processing country.",
    (
        Column("supplier", "text", "Supplier name", required=True, mandatory_value=True),
        Column(
            "material", "ref", "Material sold (a Materials id)", required=True,
            mandatory_value=True, ref_sheet="Materials",
        ),
        Column(
            "country", "ref", "Origin country (extraction / production)", required=True,
            mandatory_value=True, ref_sheet="Countries",
        ),
        Column(
            "processing_country", "ref",
            "Where it is refined / processed; blank = the origin country",
            ref_sheet="Countries",
        ),
        Column(
            "unit_cost", "number", "Price per unit before tariff (c_o)",
            unit="currency/unit", required=True, mandatory_value=True, minimum=0,
        ),
        Column(
            "capacity", "number", "Most units per period (U_o)", unit="units",
            required=True, mandatory_value=True, minimum=0,
        ),
        Column(
            "min_order", "number", "Fewest units if contracted (L_o), at most capacity",
            unit="units", default=0.0, minimum=0,
        ),
        Column(
            "fixed_cost", "number", "Cost of holding a contract (f_o)", unit="currency",
            default=0.0, minimum=0,
        ),
        Column(
            "reserve_cost", "number",
            "Cost per unit of reserved backup capacity (rho_o); blank = no reservation",
            unit="currency/unit", minimum=0,
        ),
        Column(
            "tariff", "fraction",
            "Overrides the tariff of the processing country; blank = the country's",
            unit="fraction", minimum=0,
        ),
        Column(
            "available_from", "ref",
            "First period the offer can deliver (a project: the first its build can "
            "start); blank = the first period",
            ref_sheet="Periods",
        ),
        Column(
            "available_until", "ref",
            "Last period the offer can deliver; blank = the last period",
            ref_sheet="Periods",
        ),
        Column(
            "capex", "number",
            "Blank = an ordinary offer; a number = a project: capacity that exists only "
            "once built, costing capex once, in the period the build starts",
            unit="currency", minimum=0,
        ),
        Column(
            "lead_time", "integer",
            "Projects only: periods from the start of the build to its first delivery",
            unit="periods", default=0, minimum=0,
        ),
        Column(
            "spot_capacity", "number",
            "Units per period sold without a contract in a disruption, at the landed "
            "cost raised by the scenario's price_surge (V_o)",
            unit="units", default=0.0, minimum=0,
        ),
        Column(
            "owner_country", "ref",
            "The country whose state or firms control the supplier; blank = the origin "
            "country",
            ref_sheet="Countries",
        ),
    ),
    required=True,
)

POLICIES = Sheet(
    "Policies",
    "Concentration and sourcing rules. Blank strategy = always applies; a name = only "
    "when that strategy is chosen.",
    (
        Column(
            "rule", "choice", "The kind of rule", required=True, mandatory_value=True,
            choices=POLICY_RULES,
        ),
        Column(
            "material", "ref", "Which material, or * for every material", default="*",
            ref_sheet="Materials", allow_star=True,
        ),
        Column(
            "target", "ref", "A country code, a group tag, or * for every country",
            default="*", ref_sheet="Countries", allow_star=True,
        ),
        Column(
            "stage", "choice",
            "Which country of an offer counts: origin, processing, both in turn (origin "
            "and processing), or owner (its owner_country)",
            default="both", choices=(*STAGES, "both", OWNER),
        ),
        Column(
            "value", "number",
            "The limit: a fraction for share rules, 0-10,000 for max_hhi; unused by exclude",
        ),
        Column("strategy", "id", "Strategy name; blank = always applies"),
        Column("whatif", "id", "What-if name; the row applies only under that what-if"),
        Column("name", "text", "Label in the report; blank = rule and target"),
        Column(
            "from_period", "ref",
            "The rule applies in this period and every later one; blank = from the first",
            ref_sheet="Periods",
        ),
    ),
)

SCENARIOS = Sheet(
    "Scenarios",
    "Disruption scenarios; rows with the same id form one scenario. Without this sheet, "
    "one scenario per country with disruption_prob > 0 is generated; a sheet with no rows "
    "means no disruption at all (baseline only).",
    (
        Column("scenario", "id", "Scenario id", required=True, mandatory_value=True),
        Column(
            "probability", "fraction", "Probability, equal on every row of a scenario",
            unit="fraction", required=True, mandatory_value=True, minimum=0, maximum=1,
        ),
        Column(
            "country", "ref", "A country hit in this scenario", required=True,
            mandatory_value=True, ref_sheet="Countries",
        ),
        Column(
            "material", "ref", "Which of its materials are hit, or * for all",
            default="*", ref_sheet="Materials", allow_star=True,
        ),
        Column(
            "capacity_factor", "fraction", "Fraction of that supply still delivered",
            unit="fraction", default=0.0, minimum=0, maximum=1,
        ),
        Column("whatif", "id", "What-if name; the row applies only under that what-if"),
        Column(
            "period", "ref",
            "The period the row applies in; blank = every period",
            ref_sheet="Periods",
        ),
        Column(
            "price_surge", "fraction",
            "Rise of spot prices while the scenario lasts (surge_k), equal on every row of "
            "a scenario",
            unit="fraction", default=0.0, minimum=0,
        ),
    ),
)

PERIODS = Sheet(
    "Periods",
    "The planning horizon, one row per period in time order. Without this sheet (or with "
    "no rows on it) the workbook plans one period.",
    (
        Column("period", "id", "Period id, unique, e.g. 2026", required=True,
               mandatory_value=True),
        Column(
            "weight", "number",
            "Weight of the period's costs in the objective (delta_t); blank = "
            "(1 + discount_rate)^(-t), t = 0 for the first row",
            minimum=0, min_exclusive=True,
        ),
    ),
)

DEMAND = Sheet(
    "Demand",
    "Demand per material and period; a pair not listed takes Materials.demand. A row with "
    "a what-if name applies only under that what-if, replacing the base row of its "
    "material and period.",
    (
        Column(
            "material", "ref", "Material (a Materials id)", required=True,
            mandatory_value=True, ref_sheet="Materials",
        ),
        Column(
            "period", "ref", "Period (a Periods id)", required=True, mandatory_value=True,
            ref_sheet="Periods",
        ),
        Column(
            "demand", "number", "Units needed in that period (D_m,t); 0 = nothing to buy",
            unit="units", required=True, mandatory_value=True, minimum=0,
        ),
        Column("whatif", "id", "What-if name; the row applies only under that what-if"),
    ),
)

WHATIFS = Sheet(
    "WhatIfs",
    "Named sets of edits applied to the base data before solving. A what-if's own Demand "
    "rows go on the Demand sheet, with its name in their whatif column.",
    (
        Column("whatif", "id", "What-if name", required=True, mandatory_value=True),
        Column(
            "sheet", "choice", "Which table to edit", required=True, mandatory_value=True,
            choices=("Materials", "Countries", "Suppliers"),
        ),
        Column("where", "text", "Filter: column=value pairs joined by ;  blank = every row"),
        Column("column", "text", "The column to change", required=True, mandatory_value=True),
        Column(
            "op", "choice", "How: set, scale or add", required=True, mandatory_value=True,
            choices=("set", "scale", "add"),
        ),
        Column("value", "text", "By what (a number, or text for set)", mandatory_value=True),
    ),
)

SETTING_KEYS = Sheet(
    "Settings",
    "Solver and model settings, one key per row; command-line options override them.",
    (
        Column(
            "risk_aversion", "fraction",
            "lambda in [0, 1]: weight on CVaR of recourse cost vs its expectation",
            unit="fraction", default=0.0, minimum=0, maximum=1,
        ),
        Column(
            "cvar_alpha", "fraction", "alpha in (0, 1): the CVaR confidence level",
            unit="fraction", default=0.95, minimum=0, maximum=1, min_exclusive=True,
            max_exclusive=True,
        ),
        Column(
            "time_limit", "number", "Seconds for HiGHS", unit="s", default=60.0, minimum=0,
            min_exclusive=True,
        ),
        Column(
            "mip_gap", "fraction", "Relative MIP gap at which HiGHS stops", unit="fraction",
            default=1e-4, minimum=0, maximum=1,
        ),
        Column("currency", "text", "Currency label in reports", default="USD"),
        Column(
            "discount_rate", "fraction",
            "r: a period without its own weight weighs (1 + r)^(-t)", unit="fraction",
            default=0.0, minimum=0,
        ),
    ),
    key_value=True,
)

# Sheets the template adds for people (instructions, dropdown sources): read past silently.
HELPER_SHEETS = ("Instructions", "Lists")

SHEETS: tuple[Sheet, ...] = (MATERIALS, COUNTRIES, SUPPLIERS, POLICIES, SCENARIOS, PERIODS,
                             DEMAND, WHATIFS, SETTING_KEYS)


def normalise_name(text: object) -> str:
    """Sheet and header names match ignoring case, surrounding spaces, and treating
    spaces and underscores alike (``Unit cost`` = ``unit_cost``)."""
    return " ".join(str(text).replace("_", " ").split()).casefold()


def sheet_by_name(name: str) -> Sheet | None:
    key = normalise_name(name)
    for sheet in SHEETS:
        if normalise_name(sheet.name) == key:
            return sheet
    return None


def describe_kind(column: Column) -> str:
    """The column's type in words, for the template and the docs."""
    if column.kind == "choice":
        return "one of " + ", ".join(column.choices)
    if column.kind == "ref":
        star = " or *" if column.allow_star else ""
        if column.ref_sheet == "Countries" and column.allow_star:
            return "country code, group tag or *"
        return f"ref {column.ref_sheet}{star}"
    text = {"id": "identifier", "text": "text", "number": "number",
            "integer": "whole number",
            "fraction": "fraction (0.65, 65% or a % cell)"}[column.kind]
    bounds = column.bounds_text()
    return f"{text} {bounds}" if bounds else text


def markdown_tables() -> str:
    """The column tables of docs/workbook.md, generated so the docs match the reader."""
    parts = []
    for sheet in SHEETS:
        need = "required sheet" if sheet.required else "optional sheet"
        parts.append(f"### {sheet.name} ({need})\n\n{sheet.description}\n")
        first = "key" if sheet.key_value else "column"
        parts.append(f"| {first} | type | unit | default | required | meaning |")
        parts.append("| --- | --- | --- | --- | --- | --- |")
        for c in sheet.columns:
            default = "" if c.default in (None, "") else f"{c.default:g}" if isinstance(
                c.default, float) else str(c.default)
            required = "yes" if (c.required or c.mandatory_value) else ""
            parts.append(f"| {c.name} | {describe_kind(c)} | {c.unit} | {default} | "
                         f"{required} | {c.description} |")
        parts.append("")
    return "\n".join(parts)
