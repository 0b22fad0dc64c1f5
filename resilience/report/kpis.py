"""Figures for reports and JSON, from the solution and its verification: data only, no
openpyxl and no Pyomo, so the Excel layout and the JSON agree by construction.

`summarise` builds the typed `SolveSummary` that the report lays out; its `to_json()` is
the JSON of `solve` (SPEC §6), which names the unit of every figure so that a script
never has to guess whether 0.4 is a fraction or a percentage, or 2,500 a quantity.

Over a planning horizon (a workbook with a Periods sheet, even of one row; SPEC §7) the
JSON takes the multi-period shape: `periods`, `by_period`, `investments`, a `period` on
every plan line and scenario, and `stockpile`, `hhi` and `shares` keyed by period. A
workbook without a Periods sheet keeps the v1 shape, with `investments` added when it has
projects and the few v2 figures it uses (capex, stock purchases, spot) beside v1's.

Every command's JSON (solve, compare, frontier, evaluate, validate) leaves through one
step, `json_document`: `schema_version` first, and numerical noise rounded away
(`clean_number`). The fields are documented in docs/json.md."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from resilience import __version__
from resilience.api import SolveResult
from resilience.domain import STAGES, CrossCheck, Investment, PolicyCost, Settings, Status
from resilience.verify import PeriodCheck, ScenarioCheck

NOISE = 1e-9  # shares and quantities below this are solver noise, shown as zero

# The version of the JSON every command writes: "2" adds `schema_version` itself, the
# rounding of numerical noise and `validate --json` to the unversioned JSON of before.
# Raise it when a field changes meaning or goes away (adding one is not a new version).
SCHEMA_VERSION = "2"
JSON_NOISE = 1e-9  # relative: a figure this close to a whole number is that number
JSON_DIGITS = 15  # significant digits a double always keeps through a decimal round trip
JSON_SHORT = 12  # a figure whose 15 digits end in 3 zeros is that shorter decimal

SHARE_UNIT = "fraction of demand (0-1)"
HHI_UNIT = "HHI points (0-10,000)"


def policy_unit(rule: str) -> str:
    """What a policy row's `limit` and `achieved` are measured in: shares are fractions
    (0.65, not 65), HHI rows are in points, and an `exclude` row counts units bought."""
    if rule == "max_hhi":
        return "HHI points"
    if rule == "exclude":
        return "units used"
    return "fraction"


def cost_per_point_unit(rule: str, currency: str) -> str:
    """The dual is quoted per percentage point although the limit is a fraction: say so."""
    per = "HHI point" if rule == "max_hhi" else "percentage point of share"
    return f"{currency} per {per}"


@dataclass(frozen=True)
class Units:
    """The units the JSON's figures are in: money in the workbook's currency, shares and
    HHI on fixed scales, quantities in each material's own unit."""

    currency: str
    quantity: dict[str, str]  # material → its unit on the Materials sheet
    share: str = SHARE_UNIT
    hhi: str = HHI_UNIT

    def to_json(self) -> dict[str, Any]:
        return {"currency": self.currency, "share": self.share, "hhi": self.hhi,
                "quantity": dict(self.quantity)}


@dataclass(frozen=True)
class PlanItem:
    """One contracted offer; quantities in `unit`, money in the summary's currency."""

    supplier: str
    material: str
    country: str
    processing_country: str
    quantity: float  # x_o
    reserve: float  # r_o
    landed_unit_cost: float
    spend: float
    share_of_demand: float  # fraction of the material's demand (D_{m,t} over a horizon)
    unit: str
    period: str = ""  # "" in a workbook without a Periods sheet

    def to_json(self) -> dict[str, Any]:
        """v1's fields; `period` only over a horizon."""
        out = dataclasses.asdict(self)
        if not self.period:
            del out["period"]
        return out


@dataclass(frozen=True)
class InvestmentFigure:
    """A project the plan builds (SPEC §7): `period` is when the build starts (and capex
    is paid), `online_from` the first period it can deliver; capacity per period."""

    supplier: str
    material: str
    country: str
    processing_country: str
    period: str
    online_from: str
    capex: float
    capacity: float

    @classmethod
    def of(cls, investment: Investment) -> InvestmentFigure:
        return cls(**dataclasses.asdict(investment))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CostBreakdown:
    """The verifier's costs of the plan, in the summary's currency."""

    procurement: float
    of_which_tariffs: float
    fixed_contract: float
    reserve: float
    stock_carrying: float
    expected_recourse: float
    cvar: float
    capex: float = 0.0  # projects whose build starts (SPEC §7)
    stock_purchase: float = 0.0  # units added to the stock × stock_price (SPEC §7)

    def to_json(self, capex: bool = False, stock_purchase: bool = False) -> dict[str, Any]:
        """v1's fields, then `capex` and `stock_purchase` where asked for (a workbook that
        has projects, stock prices or a Periods sheet)."""
        out = dataclasses.asdict(self)
        if not capex:
            del out["capex"]
        if not stock_purchase:
            del out["stock_purchase"]
        return out


@dataclass(frozen=True)
class PeriodFigure:
    """One period's figures (SPEC §7), before its weight δ_t; `weighted_objective` is
    δ_t × objective, and these add up to the summary's objective."""

    period: str
    weight: float  # δ_t
    demand: dict[str, float]  # material → D_{m,t}
    first_stage_cost: float  # F_t
    expected_recourse_cost: float  # Σ_k π_{k,t} R_{k,t}
    cvar: float  # CVaR_α of R_{·,t}
    objective: float  # F_t + (1 − λ) E_t + λ CVaR_t
    weighted_objective: float  # δ_t × objective
    cost_breakdown: CostBreakdown
    stock_added: dict[str, float]  # material → g_{m,t}
    expected_shortage: dict[str, float]  # material → Σ_k π_{k,t} u_{m,k,t}

    @classmethod
    def of(cls, check: PeriodCheck) -> PeriodFigure:
        return cls(
            period=check.period, weight=check.weight, demand=dict(check.demand),
            first_stage_cost=check.first_stage_cost,
            expected_recourse_cost=check.expected_recourse_cost, cvar=check.cvar,
            objective=check.objective, weighted_objective=check.weight * check.objective,
            cost_breakdown=CostBreakdown(
                procurement=check.procurement_cost, of_which_tariffs=check.tariff_cost,
                fixed_contract=check.fixed_cost, reserve=check.reserve_cost,
                stock_carrying=check.stock_cost,
                expected_recourse=check.expected_recourse_cost, cvar=check.cvar,
                capex=float(check.capex_cost),
                stock_purchase=float(check.stock_purchase_cost)),
            stock_added=dict(check.stock_added),
            expected_shortage=dict(check.expected_shortage))

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period, "weight": self.weight, "demand": dict(self.demand),
            "first_stage_cost": self.first_stage_cost,
            "expected_recourse_cost": self.expected_recourse_cost, "cvar": self.cvar,
            "objective": self.objective, "weighted_objective": self.weighted_objective,
            "cost_breakdown": self.cost_breakdown.to_json(capex=True, stock_purchase=True),
            "stock_added": dict(self.stock_added),
            "expected_shortage": dict(self.expected_shortage),
        }


@dataclass(frozen=True)
class PolicyFigure:
    """A policy row as the model applied it, with the unit of its limit and achieved
    value (`policy_unit`) and of its cost per point."""

    policy_index: int
    name: str
    rule: str
    material: str
    country: str
    stage: str
    limit: float
    achieved: float
    binding: bool
    cost_per_point: float | None
    period: str  # "" in a workbook without a Periods sheet
    unit: str
    cost_per_point_unit: str

    @classmethod
    def of(cls, cost: PolicyCost, currency: str) -> PolicyFigure:
        return cls(**dataclasses.asdict(cost), unit=policy_unit(cost.rule),
                   cost_per_point_unit=cost_per_point_unit(cost.rule, currency))

    def to_json(self) -> dict[str, Any]:
        """v1's fields; `period` only over a horizon."""
        out = dataclasses.asdict(self)
        if not self.period:
            del out["period"]
        return out


@dataclass(frozen=True)
class Timings:
    build_seconds: float
    solve_seconds: float


@dataclass(frozen=True)
class SolveSummary:
    """The result of one solve as the report and scripts see it. Costs are those of the
    plan recomputed by the verifier, with each scenario's least recourse, whatever λ is;
    `solver_objective` and `bound` are what the solver reported."""

    status: Status
    units: Units
    objective: float
    solver_objective: float | None
    bound: float | None
    mip_gap: float | None
    first_stage_cost: float
    expected_recourse_cost: float
    cvar: float
    cost_breakdown: CostBreakdown
    plan: tuple[PlanItem, ...]
    stockpile: dict[str, float]  # material → h_m, in the material's unit
    hhi: dict[str, dict[str, float]]  # material → stage → exact HHI, in HHI points
    shares: dict[str, dict[str, dict[str, float]]]  # material → stage → country → fraction
    expected_shortage: dict[str, float]  # material → units, in the material's unit
    scenarios: tuple[ScenarioCheck, ...]
    policies: tuple[PolicyFigure, ...]
    strategy: str | None
    whatif: str | None
    settings: Settings
    input_file: str
    input_sha256: str
    warnings: tuple[str, ...]
    versions: dict[str, str]
    solver: str
    cross_check: CrossCheck | None
    timings: Timings
    # SPEC §7. `periods` is () for a workbook without a Periods sheet: the JSON then has
    # the v1 shape. Over a horizon the v1 cost fields above are Σ_t δ_t (·), `stockpile`,
    # `hhi` and `shares` are the last period's, `expected_shortage` is summed over the
    # periods (units), and `scenarios` carry their period.
    periods: tuple[str, ...] = ()
    by_period: tuple[PeriodFigure, ...] = ()
    investments: tuple[InvestmentFigure, ...] = ()
    stock_levels: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)
    # material → stage → period → HHI / country → share; None in a period where the
    # material has no demand (its shares are not defined there)
    hhi_by_period: dict[str, dict[str, dict[str, float | None]]] = dataclasses.field(
        default_factory=dict)
    shares_by_period: dict[str, dict[str, dict[str, dict[str, float] | None]]] = \
        dataclasses.field(default_factory=dict)
    has_projects: bool = False  # some offer has capex
    has_stock_purchase: bool = False  # some material has a stock price
    has_spot: bool = False  # some offer sells spot

    @property
    def currency(self) -> str:
        return self.units.currency

    @property
    def multi_period(self) -> bool:
        return bool(self.periods)

    def to_json(self) -> dict[str, Any]:
        """The JSON of `solve`, as `json_document` writes it (`schema_version` first,
        noise rounded), plain data for `json.dumps(..., allow_nan=False)`: a fresh dict on
        each call (callers may add to it), keys in a fixed order so that two runs write
        the same bytes. A non-finite figure from a solver becomes null.

        A workbook without a Periods sheet gets v1's keys, plus `investments` when it has
        projects, `capex` / `stock_purchase` in the cost breakdown when it has projects /
        stock prices, and each scenario's `price_surge` and `spot_bought` when some offer
        sells spot. Over a horizon: `periods`, `by_period` and `investments` before the
        plan, `period` on plan lines, scenarios and policies, and `stockpile`, `hhi`,
        `shares` keyed by period."""
        multi = self.multi_period
        out: dict[str, Any] = {
            "status": self.status.value,
            "units": self.units.to_json(),
            "objective": self.objective,
            "solver_objective": _finite(self.solver_objective),
            "bound": _finite(self.bound),
            "mip_gap": _finite(self.mip_gap),
            "first_stage_cost": self.first_stage_cost,
            "expected_recourse_cost": self.expected_recourse_cost,
            "cvar": self.cvar,
            "cost_breakdown": self.cost_breakdown.to_json(
                capex=multi or self.has_projects,
                stock_purchase=multi or self.has_stock_purchase),
        }
        if multi:
            out["periods"] = list(self.periods)
            out["by_period"] = [p.to_json() for p in self.by_period]
        if multi or self.has_projects:
            out["investments"] = [i.to_json() for i in self.investments]
        out.update({
            "plan": [item.to_json() for item in self.plan],
            "stockpile": ({m: dict(levels) for m, levels in self.stock_levels.items()}
                          if multi else dict(self.stockpile)),
            "hhi": ({m: {stage: dict(by_period) for stage, by_period in by_stage.items()}
                     for m, by_stage in self.hhi_by_period.items()} if multi else
                    {m: dict(by_stage) for m, by_stage in self.hhi.items()}),
            "shares": ({m: {stage: {t: None if by_country is None else dict(by_country)
                                    for t, by_country in by_period.items()}
                            for stage, by_period in by_stage.items()}
                        for m, by_stage in self.shares_by_period.items()} if multi else
                       {m: {stage: dict(by_country) for stage, by_country in by_stage.items()}
                        for m, by_stage in self.shares.items()}),
            "expected_shortage": dict(self.expected_shortage),
            "scenarios": [_scenario_json(s, multi, self.has_spot) for s in self.scenarios],
            "policies": [p.to_json() for p in self.policies],
            "strategy": self.strategy,
            "whatif": self.whatif,
            "settings": dataclasses.asdict(self.settings),
            "input": {"file": self.input_file, "sha256": self.input_sha256},
            "warnings": list(self.warnings),
            "versions": dict(self.versions),
            "solver": self.solver,
            "cross_check": None if self.cross_check is None else {
                **dataclasses.asdict(self.cross_check),
                "bound": _finite(self.cross_check.bound)},
            "timings": dataclasses.asdict(self.timings),
        })
        return json_document(out)


def _scenario_json(scenario: ScenarioCheck, multi: bool, spot: bool) -> dict[str, Any]:
    """v1's fields of a scenario; over a horizon also its period, price surge and spot
    bought; without a Periods sheet the surge and spot bought only where spot is sold."""
    out = dataclasses.asdict(scenario)
    if not multi:
        out.pop("period", None)
        if not spot:
            out.pop("price_surge", None)
            out.pop("spot_bought", None)
    return out


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


# ---- the one step every command's JSON leaves through ---------------------------------


def clean_number(value: float) -> float | None:
    """A figure as the JSON writes it, without the solver's and the arithmetic's noise:

    - within `JSON_NOISE` of a whole number, relative to its size (absolute below 1), it
      is that number: a shortage of 2.91e-11 is 0.0, a quantity of 2499.9999999999995 is
      2500.0, a CVaR of 240179999.9999998 is 240180000.0 (so a sum of money above 500
      million is written in whole units: its cents are below the solver's precision);
    - else, when its first `JSON_DIGITS` significant digits are a decimal of at most
      `JSON_SHORT` digits, it is that decimal: the rest was the binary tail of a sum,
      0.30000000000000004 is 0.3 and 0.6499999999999999 is 0.65;
    - else it is exact: 16.720555555555556 and 1/3 are written to the last digit, as the
      report workbook holds them, and so are 0.35, 1234.56 and 1e-6.

    A value that is not finite (a solver's infinite bound) is None (null)."""
    if value.is_integer():
        return value + 0.0  # -0.0 becomes 0.0
    if not math.isfinite(value):
        return None
    size = abs(value)
    tolerance = JSON_NOISE * size if size > 1.0 else JSON_NOISE
    below = size % 1.0  # the distance down to the whole number below
    if below <= tolerance:
        return math.copysign(size - below, value) + 0.0
    if 1.0 - below <= tolerance:
        return math.copysign(size - below + 1.0, value)
    text = f"{value:.{JSON_DIGITS}g}"
    if len(text.partition("e")[0].lstrip("-0.").replace(".", "")) <= JSON_SHORT:
        return float(text)
    return value


_KEPT = frozenset({str, int, bool, type(None)})


def clean_json(data: Any) -> Any:
    """`data` with every float passed through `clean_number` (numpy scalars too), in
    fresh dicts and lists; keys, order and every other value as they are. Idempotent."""
    kind = type(data)
    if kind is dict:
        return {key: (value if type(value) in _KEPT else clean_number(value)
                      if type(value) is float else clean_json(value))
                for key, value in data.items()}
    if kind is list or kind is tuple:
        return [value if type(value) in _KEPT else clean_number(value)
                if type(value) is float else clean_json(value) for value in data]
    if kind in _KEPT:
        return data
    if isinstance(data, float):  # a float subclass: numpy.float64
        return clean_number(float(data))
    if isinstance(data, dict):
        return clean_json(dict(data))
    if isinstance(data, list | tuple):
        return clean_json(list(data))
    if hasattr(data, "item"):  # another numpy scalar
        return clean_json(data.item())
    return data


def json_document(data: dict[str, Any]) -> dict[str, Any]:
    """The JSON of a command as it is written: `schema_version` first, then `data` with
    its numerical noise rounded (`clean_json`). Every command's JSON goes through here,
    and `result.to_dict()` of the Python API returns exactly this."""
    return {"schema_version": SCHEMA_VERSION,
            **{key: value for key, value in clean_json(data).items()
               if key != "schema_version"}}


def summarise(result: SolveResult) -> SolveSummary:
    """The typed summary of one solve (SPEC §5-§7), from the solution and its
    verification."""
    instance, solution, check = result.instance, result.solution, result.verification
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    materials = {m.id: m for m in instance.materials}
    demand = instance.demand_table()  # (material, period) → D_{m,t}
    currency = instance.settings.currency
    multi = instance.multi_period
    plan = []
    for line in solution.plan:
        offer = offers[(line.supplier, line.material, line.country, line.processing_country)]
        material = materials[line.material]
        d = demand[(line.material, line.period)] if multi else material.demand
        plan.append(PlanItem(
            supplier=line.supplier, material=line.material, country=line.country,
            processing_country=line.processing_country, quantity=line.quantity,
            reserve=line.reserve, landed_unit_cost=offer.landed_cost,
            spend=offer.landed_cost * line.quantity,
            share_of_demand=line.quantity / d if d else 0.0, unit=material.unit,
            period=line.period if multi else ""))
    periods = instance.period_ids() if multi else ()
    has_spot = any(o.spot_capacity > 0 for o in instance.offers)
    if multi or not has_spot or not check.periods:
        scenarios = tuple(check.scenarios)
    else:  # one period with spot sellers: the checks that carry spot bought
        scenarios = tuple(check.periods[0].scenarios)
    return SolveSummary(
        status=solution.status,
        units=Units(currency, {m.id: m.unit for m in instance.materials}),
        objective=check.objective,
        solver_objective=solution.objective,
        bound=solution.bound,
        mip_gap=solution.mip_gap,
        first_stage_cost=check.first_stage_cost,
        expected_recourse_cost=check.expected_recourse_cost,
        cvar=check.cvar,
        cost_breakdown=CostBreakdown(
            procurement=check.procurement_cost, of_which_tariffs=check.tariff_cost,
            fixed_contract=check.fixed_cost, reserve=check.reserve_cost,
            stock_carrying=check.stock_cost, expected_recourse=check.expected_recourse_cost,
            cvar=check.cvar, capex=check.capex_cost,
            stock_purchase=check.stock_purchase_cost),
        plan=tuple(plan),
        stockpile=dict(solution.stockpile),
        hhi=check.hhi,
        shares=check.shares,
        expected_shortage=check.expected_shortage,
        scenarios=scenarios,
        policies=tuple(PolicyFigure.of(c, currency) for c in solution.policy_costs),
        strategy=instance.strategy,
        whatif=instance.whatif,
        settings=instance.settings,
        input_file=instance.source_name,
        input_sha256=instance.source_sha256,
        warnings=tuple(str(w) for w in instance.warnings),
        versions={"resilience": __version__, **solution.solver_versions},
        solver=solution.solver,
        cross_check=solution.cross_check,
        timings=Timings(build_seconds=solution.build_seconds,
                        solve_seconds=solution.solve_seconds),
        periods=periods,
        by_period=tuple(PeriodFigure.of(p) for p in check.periods) if multi else (),
        investments=tuple(InvestmentFigure.of(i) for i in solution.investments),
        stock_levels=_stock_levels(result) if multi else {},
        hhi_by_period={m: {stage: {t: by_period.get(t) for t in periods}
                           for stage, by_period in by_stage.items()}
                       for m, by_stage in check.hhi_by_period.items()} if multi else {},
        shares_by_period={m: {stage: {t: by_period.get(t) for t in periods}
                              for stage, by_period in by_stage.items()}
                          for m, by_stage in check.shares_by_period.items()} if multi else {},
        has_projects=any(o.is_project for o in instance.offers),
        has_stock_purchase=any(m.stock_price > 0 for m in instance.materials),
        has_spot=has_spot,
    )


def _stock_levels(result: SolveResult) -> dict[str, dict[str, float]]:
    """material → period → h_{m,t} for every material that may hold stock (or holds some),
    in the order of the Materials sheet and the periods."""
    levels = result.verification.stock_levels or result.solution.stock_levels
    periods = result.instance.period_ids()
    return {m.id: {t: levels[m.id].get(t, 0.0) for t in periods}
            for m in result.instance.materials if m.id in levels}


def solve_summary(result: SolveResult) -> dict[str, Any]:
    """The JSON of `solve` (SPEC §6). Kept as plain data for the readers that pass it on
    as it is: `--json`, and compare's figures, which travel to and from batch workers."""
    return summarise(result).to_json()


# ---- figures laid out by the report (plain data, derived from the summary) ------------


def objective_terms(summary: SolveSummary) -> dict[str, float]:
    """The objective as the sum the report shows:
    F + (1 − λ)·E[R] + λ·CVaR_α, each term from the verifier's recomputation."""
    lam = summary.settings.risk_aversion
    return {
        "risk_aversion": lam,
        "cvar_alpha": summary.settings.cvar_alpha,
        "first_stage_cost": summary.first_stage_cost,
        "weighted_expected_recourse": (1.0 - lam) * summary.expected_recourse_cost,
        "weighted_cvar": lam * summary.cvar,
        "objective": summary.objective,
    }


def plan_rows(result: SolveResult, summary: SolveSummary) -> list[PlanItem]:
    """The plan lines of the summary sorted by material (in the order of the Materials
    sheet), then by spend, largest first, so that a reader finds the big contracts."""
    order = {m.id: i for i, m in enumerate(result.instance.materials)}
    if summary.multi_period:  # period by period, in time order
        when = {t: i for i, t in enumerate(summary.periods)}
        return sorted(summary.plan, key=lambda r: (when[r.period], order[r.material],
                                                   -r.spend, r.supplier))
    return sorted(summary.plan, key=lambda r: (order[r.material], -r.spend, r.supplier))


def exposure_rows(result: SolveResult, summary: SolveSummary
                  ) -> tuple[list[str], list[dict[str, Any]]]:
    """Countries (the columns: every country with a share at either stage, largest total
    share first) and one row per stage and material (origin rows first): the share of
    demand from each country, their total and the exact HHI."""
    shares, hhi = summary.shares, summary.hhi
    weight: dict[str, float] = {}
    for by_stage in shares.values():
        for by_country in by_stage.values():
            for country, share in by_country.items():
                if share > NOISE:
                    weight[country] = weight.get(country, 0.0) + share
    position = {c.id: i for i, c in enumerate(result.instance.countries)}
    countries = sorted(weight, key=lambda c: (-weight[c], position.get(c, 0)))
    rows = []
    for stage in STAGES:
        for material in result.instance.materials:
            by_country = shares.get(material.id, {}).get(stage, {})
            clean = {c: s for c, s in by_country.items() if s > NOISE}
            rows.append({"stage": stage, "material": material.id, "unit": material.unit,
                         "shares": clean, "total": sum(clean.values()),
                         "hhi": hhi.get(material.id, {}).get(stage, 0.0)})
    return countries, rows


def shown_stages(summary: SolveSummary) -> tuple[str, ...]:
    """The stages the verification measured: origin and processing, and owner where the
    workbook gives any owner_country (SPEC §7)."""
    for by_stage in (summary.shares_by_period or summary.shares).values():
        return tuple(by_stage)
    return STAGES


def exposure_rows_by_period(result: SolveResult, summary: SolveSummary
                            ) -> tuple[list[str], list[dict[str, Any]]]:
    """`exposure_rows` over a horizon: countries (every country with a share at some
    stage in some period, largest total first) and one row per stage, material and
    period, in that order, so that each material's periods are consecutive rows (the
    rows a chart of its shares over time refers to). A period without demand for the
    material has no shares: its row says so with `defined` False."""
    weight: dict[str, float] = {}
    for by_stage in summary.shares_by_period.values():
        for by_period in by_stage.values():
            for by_country in by_period.values():
                for country, share in (by_country or {}).items():
                    if share > NOISE:
                        weight[country] = weight.get(country, 0.0) + share
    position = {c.id: i for i, c in enumerate(result.instance.countries)}
    countries = sorted(weight, key=lambda c: (-weight[c], position.get(c, 0)))
    rows = []
    for stage in shown_stages(summary):
        for material in result.instance.materials:
            by_period = summary.shares_by_period.get(material.id, {}).get(stage, {})
            hhi = summary.hhi_by_period.get(material.id, {}).get(stage, {})
            for period in summary.periods:
                by_country = by_period.get(period)
                clean = {c: v for c, v in (by_country or {}).items() if v > NOISE}
                rows.append({"stage": stage, "material": material.id, "unit": material.unit,
                             "period": period, "defined": by_country is not None,
                             "shares": clean, "total": sum(clean.values()),
                             "hhi": hhi.get(period)})
    return countries, rows


def project_rows(result: SolveResult, summary: SolveSummary) -> list[dict[str, Any]]:
    """One row per project offer (an offer with capex, SPEC §7), built or not: its build
    start and first period online, capex, capacity, and per period the units it delivers
    and their share of the material's demand. Beside them, what can honestly be read off
    the plan: the origin mix of the material in the last period before the project
    delivered and in its first period delivering (what it displaced), and the policy rows
    on its material, binding in a period it delivers, that it does not count against
    (the limits it helps meet)."""
    instance = result.instance
    periods = summary.periods or instance.period_ids()
    built = {(i.supplier, i.material, i.country, i.processing_country): i
             for i in summary.investments}
    delivered: dict[tuple, dict[str, float]] = {}
    for item in summary.plan:
        key = (item.supplier, item.material, item.country, item.processing_country)
        by_period = delivered.setdefault(key, {})
        by_period[item.period] = by_period.get(item.period, 0.0) + item.quantity
    demand = instance.demand_table()
    rows = []
    for offer in instance.offers:
        if not offer.is_project:
            continue
        key = (offer.supplier, offer.material, offer.country, offer.processing_country)
        investment = built.get(key)
        units = {t: delivered.get(key, {}).get(t, 0.0) for t in periods}
        shares = {t: (units[t] / demand[(offer.material, t)]
                      if demand[(offer.material, t)] else None) for t in periods}
        rows.append({
            "supplier": offer.supplier, "material": offer.material,
            "unit": instance.material(offer.material).unit, "country": offer.country,
            "processing_country": offer.processing_country,
            "built": investment is not None,
            "start": investment.period if investment else None,
            "online_from": investment.online_from if investment else None,
            "capex": offer.capex, "capacity": offer.capacity, "lead_time": offer.lead_time,
            "landed_unit_cost": offer.landed_cost, "units": units, "shares": shares,
            "displaced": _displaced(summary, offer, units) if investment else "",
            "helps_meet": _helps_meet(result, offer, units) if investment else "",
        })
    return rows


def _displaced(summary: SolveSummary, offer, units: dict[str, float]) -> str:
    """The material's origin shares in the period before the project first delivers and
    in that first period: the countries whose share fell are what it displaced."""
    periods = list(units)  # in time order
    first = next((t for t in periods if units[t] > NOISE), None)
    if first is None:
        return "delivers nothing in the plan"
    if not summary.multi_period:
        return ""  # one period: nothing before it to compare with
    i = periods.index(first)
    if i == 0:
        return f"delivers from {first}, the first period: nothing before to compare"
    before_t = periods[i - 1]
    by_period = summary.shares_by_period.get(offer.material, {}).get("origin", {})
    before, after = by_period.get(before_t) or {}, by_period.get(first) or {}
    fell = [(c, before[c], after.get(c, 0.0)) for c in before
            if c != offer.country and before[c] - after.get(c, 0.0) > 1e-6]
    if not fell:
        return (f"no origin's share fell from {before_t} to {first} (it met the change "
                "in demand)")
    fell.sort(key=lambda f: f[2] - f[1])
    return "; ".join(f"{c} {b:.0%} in {before_t} → {a:.0%} in {first}" for c, b, a in fell)


def _helps_meet(result: SolveResult, offer, units: dict[str, float]) -> str:
    """Policy rows on the project's material, binding in a period it delivers, that it
    does not count against: a cap on countries it is not in, or a minimum share of a
    group it is in."""
    instance = result.instance
    found: dict[str, dict[str, None]] = {}  # policy name → periods, in order
    for cost in result.solution.policy_costs:
        if cost.material != offer.material or not cost.binding:
            continue
        if units.get(cost.period, 0.0) <= NOISE and instance.multi_period:
            continue
        if not instance.multi_period and sum(units.values()) <= NOISE:
            continue
        policy = instance.policies[cost.policy_index]
        here = offer.stage_country(cost.stage)
        if cost.rule == "max_country_share":
            helps = cost.country != here
        elif cost.rule == "max_group_share":
            helps = here not in instance.target_countries(policy)
        elif cost.rule == "min_group_share":
            helps = here in instance.target_countries(policy)
        else:  # max_hhi: a new country spreads the shares, but saying so needs more care
            helps = False
        if helps:
            found.setdefault(cost.name, {})[cost.period] = None
    parts = []
    for name, in_periods in found.items():
        when = ", ".join(t for t in in_periods if t)
        parts.append(f"{name} (binding{' in ' + when if when else ''})")
    return "; ".join(parts)


def scenario_rows(result: SolveResult) -> list[dict[str, Any]]:
    """Per scenario of the verification (least-cost recourse for the plan): probability,
    recourse cost split into shortage and backup (with spot, SPEC §7), its
    probability-weighted cost, its weight in the CVaR (the worst outcomes whose
    probabilities fill the 1 − α tail), and per material the shortage, stock drawn,
    backup called and spot bought (noise below 1e-9 of demand shown as zero).

    Over a horizon each period is its own distribution (Σ_k π_{k,t} = 1): the rows carry
    their period and its weight δ_t, and the CVaR weights are computed within each
    period's scenarios, never over the list of all periods."""
    instance, check = result.instance, result.verification
    penalty = {m.id: m.shortage_penalty for m in instance.materials}
    if instance.multi_period:
        groups = [(p.period, p.weight, p.demand, list(p.scenarios), p.first_stage_cost)
                  for p in check.periods]
    else:
        groups = [("", 1.0, {m.id: m.demand for m in instance.materials},
                   list(check.scenarios), check.first_stage_cost)]
    tail = 1.0 - instance.settings.cvar_alpha
    rows = []
    for period, weight, demand, scenarios, first_stage in groups:
        weights = _cvar_weights(scenarios, tail)
        # money below a billionth of the plan's costs is solver noise (backup called in
        # units of 1e-9), shown as nothing rather than as 0.00
        scale = max([abs(first_stage)] + [abs(s.recourse_cost) for s in scenarios])

        def units(values: dict[str, float], demand=demand) -> dict[str, float]:
            return {m: _denoise(v, demand.get(m, 1.0)) for m, v in values.items()}

        for i, s in enumerate(scenarios):
            shortage = units(s.shortage)
            shortage_cost = sum(penalty[m] * u for m, u in shortage.items())
            recourse = _denoise(s.recourse_cost, scale)
            backup_cost = _denoise(recourse - shortage_cost, scale)
            rows.append({
                "scenario": s.scenario, "probability": s.probability,
                "recourse_cost": recourse, "shortage_cost": shortage_cost,
                "backup_cost": max(0.0, backup_cost),
                "weighted_cost": s.probability * recourse, "cvar_weight": weights[i],
                "shortage": shortage, "stock_drawn": units(s.stock_drawn),
                "backup_called": units(s.backup_called),
                "period": period, "period_weight": weight,
                "price_surge": getattr(s, "price_surge", 0.0),
                "spot_bought": units(getattr(s, "spot_bought", {})),
            })
    return rows


def _cvar_weights(scenarios: list[ScenarioCheck], tail: float) -> list[float]:
    """Each scenario's weight in CVaR_α: the worst recourse costs first, each taking as
    much of its probability as is left of the 1 − α tail, divided by the tail."""
    weights = [0.0] * len(scenarios)
    left = tail
    ranked = sorted(range(len(scenarios)), key=lambda i: -scenarios[i].recourse_cost)
    for i in ranked:
        take = min(scenarios[i].probability, max(left, 0.0))
        weights[i] = take / tail if tail > 0 else 0.0
        left -= take
    return weights


def _denoise(value: float, scale: float) -> float:
    return 0.0 if abs(value) <= NOISE * max(1.0, abs(scale)) else value


def policy_rows(result: SolveResult) -> list[dict[str, Any]]:
    """Every policy row applied, in the order of the policies: one line per constraint
    (per material, stage and country where the rule is per country) with the limit,
    the achieved value as the model sees it, the exact HHI beside the model's chord
    value, whether it binds, and its cost per point (the dual of the constraint in the
    LP with the binaries fixed at the optimum). `exclude` rows and rows that constrain
    nothing are listed too, with a note."""
    instance, solution, check = result.instance, result.solution, result.verification
    multi = instance.multi_period
    by_policy: dict[int, list] = {}
    for cost in solution.policy_costs:
        by_policy.setdefault(cost.policy_index, []).append(cost)
    active = {id(p) for p in instance.active_policies()}
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    plan_use: list[tuple[str, object, float]] = [
        (line.period, offers[(line.supplier, line.material, line.country,
                              line.processing_country)], line.quantity + line.reserve)
        for line in solution.plan]
    rows = []
    for index, policy in enumerate(instance.policies):
        if id(policy) not in active:
            continue
        common = {"policy_index": index, "name": policy.name, "rule": policy.rule,
                  "source": policy_source(policy)}
        if policy.rule == "exclude":
            used = sum(units for t, offer, units in plan_use
                       if (not multi or instance.applies_in(policy, t))
                       and instance.excludes(policy, offer))
            rows.append(dict(common, material=policy.material, target=policy.target,
                             stage=policy.stage, limit=None, achieved=used, exact_hhi=None,
                             binding=None, cost_per_point=None, per=policy_unit("exclude"),
                             note="offers excluded; units bought or reserved from them",
                             period=_from_period(policy) if multi else ""))
            continue
        costs = by_policy.get(index, [])
        if not costs:
            rows.append(dict(common, material=policy.material, target=policy.target,
                             stage=policy.stage, limit=policy.value, achieved=None,
                             exact_hhi=None, binding=False, cost_per_point=None, per="",
                             note="no offer is affected: nothing to constrain",
                             period=_from_period(policy) if multi else ""))
            continue
        for cost in costs:
            is_hhi = cost.rule == "max_hhi"
            if not is_hhi:
                exact = None
            elif multi:
                exact = check.hhi_by_period.get(cost.material, {}).get(cost.stage, {}).get(
                    cost.period)
            else:
                exact = check.hhi.get(cost.material, {}).get(cost.stage)
            rows.append(dict(
                common, material=cost.material, target=cost.country or "*",
                stage=cost.stage, limit=cost.limit, achieved=cost.achieved, exact_hhi=exact,
                binding=cost.binding,
                cost_per_point=None if cost.cost_per_point is None
                else float(cost.cost_per_point),
                per="per HHI point" if is_hhi else "per percentage point",
                note="achieved: the model's chord value" if is_hhi else "",
                period=cost.period))
    return rows


def _from_period(policy) -> str:
    """The periods a row applies in, for a row that is not one constraint per period."""
    return f"from {policy.from_period}" if policy.from_period else "every period"


def policy_source(policy) -> str:
    parts = []
    if policy.row:
        parts.append(f"Policies row {policy.row}")
    if policy.strategy:
        parts.append(f"strategy {policy.strategy}")
    if policy.whatif:
        parts.append(f"what-if {policy.whatif}")
    return ", ".join(parts) or "library"
