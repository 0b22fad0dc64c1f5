"""Figures for reports and JSON, from the solution and its verification: data only, no
openpyxl and no Pyomo, so the Excel layout and the JSON agree by construction.

`summarise` builds the typed `SolveSummary` that the report lays out; its `to_json()` is
the JSON of `solve` (SPEC §6), which names the unit of every figure so that a script
never has to guess whether 0.4 is a fraction or a percentage, or 2,500 a quantity."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from resilience import __version__
from resilience.api import SolveResult
from resilience.domain import STAGES, CrossCheck, PolicyCost, Settings, Status
from resilience.verify import ScenarioCheck

NOISE = 1e-9  # shares and quantities below this are solver noise, shown as zero

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
    share_of_demand: float  # fraction of the material's demand
    unit: str

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

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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

    @property
    def currency(self) -> str:
        return self.units.currency

    def to_json(self) -> dict[str, Any]:
        """Plain data for `json.dumps(..., allow_nan=False)`: a fresh dict on each call
        (callers may add to it), keys in a fixed order so that two runs write the same
        bytes. A non-finite figure from a solver becomes null rather than invalid JSON."""
        return {
            "status": self.status.value,
            "units": self.units.to_json(),
            "objective": self.objective,
            "solver_objective": _finite(self.solver_objective),
            "bound": _finite(self.bound),
            "mip_gap": _finite(self.mip_gap),
            "first_stage_cost": self.first_stage_cost,
            "expected_recourse_cost": self.expected_recourse_cost,
            "cvar": self.cvar,
            "cost_breakdown": self.cost_breakdown.to_json(),
            "plan": [item.to_json() for item in self.plan],
            "stockpile": dict(self.stockpile),
            "hhi": {m: dict(by_stage) for m, by_stage in self.hhi.items()},
            "shares": {m: {stage: dict(by_country) for stage, by_country in by_stage.items()}
                       for m, by_stage in self.shares.items()},
            "expected_shortage": dict(self.expected_shortage),
            "scenarios": [dataclasses.asdict(s) for s in self.scenarios],
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
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def summarise(result: SolveResult) -> SolveSummary:
    """The typed summary of one solve (SPEC §5-§6), from the solution and its
    verification."""
    instance, solution, check = result.instance, result.solution, result.verification
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    materials = {m.id: m for m in instance.materials}
    currency = instance.settings.currency
    plan = []
    for line in solution.plan:
        offer = offers[(line.supplier, line.material, line.country, line.processing_country)]
        material = materials[line.material]
        plan.append(PlanItem(
            supplier=line.supplier, material=line.material, country=line.country,
            processing_country=line.processing_country, quantity=line.quantity,
            reserve=line.reserve, landed_unit_cost=offer.landed_cost,
            spend=offer.landed_cost * line.quantity,
            share_of_demand=line.quantity / material.demand, unit=material.unit))
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
            cvar=check.cvar),
        plan=tuple(plan),
        stockpile=dict(solution.stockpile),
        hhi=check.hhi,
        shares=check.shares,
        expected_shortage=check.expected_shortage,
        scenarios=tuple(check.scenarios),
        policies=tuple(PolicyFigure.of(c, currency) for c in solution.policy_costs),
        strategy=instance.strategy,
        whatif=instance.whatif,
        settings=instance.settings,
        input_file=instance.source_name,
        input_sha256=instance.source_sha256,
        warnings=tuple(instance.warnings),
        versions={"resilience": __version__, **solution.solver_versions},
        solver=solution.solver,
        cross_check=solution.cross_check,
        timings=Timings(build_seconds=solution.build_seconds,
                        solve_seconds=solution.solve_seconds),
    )


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


def scenario_rows(result: SolveResult) -> list[dict[str, Any]]:
    """Per scenario of the verification (least-cost recourse for the plan): probability,
    recourse cost split into shortage and backup, its probability-weighted cost, its
    weight in the CVaR (the worst outcomes whose probabilities fill the 1 − α tail), and
    per material the shortage, stock drawn and backup called (noise below 1e-9 of demand
    shown as zero)."""
    instance, check = result.instance, result.verification
    penalty = {m.id: m.shortage_penalty for m in instance.materials}
    demand = {m.id: m.demand for m in instance.materials}
    tail = 1.0 - instance.settings.cvar_alpha
    weights: dict[int, float] = {}
    left = tail
    ranked = sorted(range(len(check.scenarios)),
                    key=lambda i: -check.scenarios[i].recourse_cost)
    for i in ranked:
        take = min(check.scenarios[i].probability, max(left, 0.0))
        weights[i] = take / tail if tail > 0 else 0.0
        left -= take

    def units(values: dict[str, float]) -> dict[str, float]:
        return {m: _denoise(v, demand.get(m, 1.0)) for m, v in values.items()}

    rows = []
    for i, s in enumerate(check.scenarios):
        shortage = units(s.shortage)
        shortage_cost = sum(penalty[m] * u for m, u in shortage.items())
        backup_cost = _denoise(s.recourse_cost - shortage_cost, s.recourse_cost)
        rows.append({
            "scenario": s.scenario, "probability": s.probability,
            "recourse_cost": s.recourse_cost, "shortage_cost": shortage_cost,
            "backup_cost": max(0.0, backup_cost),
            "weighted_cost": s.probability * s.recourse_cost, "cvar_weight": weights[i],
            "shortage": shortage, "stock_drawn": units(s.stock_drawn),
            "backup_called": units(s.backup_called),
        })
    return rows


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
    by_policy: dict[int, list] = {}
    for cost in solution.policy_costs:
        by_policy.setdefault(cost.policy_index, []).append(cost)
    active = {id(p) for p in instance.active_policies()}
    plan_use = {}
    for line in solution.plan:
        plan_use[(line.material, line.country, line.processing_country)] = plan_use.get(
            (line.material, line.country, line.processing_country), 0.0
        ) + line.quantity + line.reserve
    rows = []
    for index, policy in enumerate(instance.policies):
        if id(policy) not in active:
            continue
        common = {"policy_index": index, "name": policy.name, "rule": policy.rule,
                  "source": policy_source(policy)}
        if policy.rule == "exclude":
            banned = instance.target_countries(policy)
            used = sum(units for (m, c, q), units in plan_use.items()
                       if policy.material in ("*", m)
                       and ((policy.stage in ("origin", "both") and c in banned)
                            or (policy.stage in ("processing", "both") and q in banned)))
            rows.append(dict(common, material=policy.material, target=policy.target,
                             stage=policy.stage, limit=None, achieved=used, exact_hhi=None,
                             binding=None, cost_per_point=None, per=policy_unit("exclude"),
                             note="offers excluded; units bought or reserved from them"))
            continue
        costs = by_policy.get(index, [])
        if not costs:
            rows.append(dict(common, material=policy.material, target=policy.target,
                             stage=policy.stage, limit=policy.value, achieved=None,
                             exact_hhi=None, binding=False, cost_per_point=None, per="",
                             note="no offer is affected: nothing to constrain"))
            continue
        for cost in costs:
            is_hhi = cost.rule == "max_hhi"
            exact = check.hhi.get(cost.material, {}).get(cost.stage) if is_hhi else None
            rows.append(dict(
                common, material=cost.material, target=cost.country or "*",
                stage=cost.stage, limit=cost.limit, achieved=cost.achieved, exact_hhi=exact,
                binding=cost.binding,
                cost_per_point=None if cost.cost_per_point is None
                else float(cost.cost_per_point),
                per="per HHI point" if is_hhi else "per percentage point",
                note="achieved: the model's chord value" if is_hhi else ""))
    return rows


def policy_source(policy) -> str:
    parts = []
    if policy.row:
        parts.append(f"Policies row {policy.row}")
    if policy.strategy:
        parts.append(f"strategy {policy.strategy}")
    if policy.whatif:
        parts.append(f"what-if {policy.whatif}")
    return ", ".join(parts) or "library"
