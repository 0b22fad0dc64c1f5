"""Figures for reports and JSON, from the solution and its verification: plain data only,
no openpyxl and no Pyomo, so the Excel layout and the JSON agree by construction."""

from __future__ import annotations

import dataclasses
from typing import Any

from resilience import __version__
from resilience.api import SolveResult
from resilience.domain import STAGES

NOISE = 1e-9  # shares and quantities below this are solver noise, shown as zero


def solve_summary(result: SolveResult) -> dict[str, Any]:
    """The machine-readable result of one solve (SPEC §6). Costs are those of the plan
    recomputed by the verifier, with each scenario's least recourse, whatever λ is."""
    instance, solution, check = result.instance, result.solution, result.verification
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    demands = {m.id: m.demand for m in instance.materials}
    plan = []
    for line in solution.plan:
        offer = offers[(line.supplier, line.material, line.country, line.processing_country)]
        demand = demands[line.material]
        plan.append({
            "supplier": line.supplier, "material": line.material, "country": line.country,
            "processing_country": line.processing_country, "quantity": line.quantity,
            "reserve": line.reserve, "landed_unit_cost": offer.landed_cost,
            "spend": offer.landed_cost * line.quantity, "share_of_demand": line.quantity / demand,
        })
    return {
        "status": solution.status.value,
        "objective": check.objective,
        "solver_objective": solution.objective,
        "bound": solution.bound,
        "mip_gap": solution.mip_gap,
        "first_stage_cost": check.first_stage_cost,
        "expected_recourse_cost": check.expected_recourse_cost,
        "cvar": check.cvar,
        "cost_breakdown": {
            "procurement": check.procurement_cost,
            "of_which_tariffs": check.tariff_cost,
            "fixed_contract": check.fixed_cost,
            "reserve": check.reserve_cost,
            "stock_carrying": check.stock_cost,
            "expected_recourse": check.expected_recourse_cost,
            "cvar": check.cvar,
        },
        "plan": plan,
        "stockpile": dict(solution.stockpile),
        "hhi": check.hhi,
        "shares": check.shares,
        "expected_shortage": check.expected_shortage,
        "scenarios": [dataclasses.asdict(s) for s in check.scenarios],
        "policies": [dataclasses.asdict(p) for p in solution.policy_costs],
        "strategy": instance.strategy,
        "whatif": instance.whatif,
        "settings": dataclasses.asdict(instance.settings),
        "input": {"file": instance.source_name, "sha256": instance.source_sha256},
        "warnings": list(instance.warnings),
        "versions": {"resilience": __version__, **solution.solver_versions},
        "solver": solution.solver,
        "cross_check": None if solution.cross_check is None
        else dataclasses.asdict(solution.cross_check),
        "timings": {"build_seconds": solution.build_seconds,
                    "solve_seconds": solution.solve_seconds},
    }


# ---- figures laid out by the report (plain data, derived from solve_summary) ----------


def objective_terms(summary: dict[str, Any]) -> dict[str, float]:
    """The objective as the sum the report shows:
    F + (1 − λ)·E[R] + λ·CVaR_α, each term from the verifier's recomputation."""
    lam = summary["settings"]["risk_aversion"]
    first_stage = summary["first_stage_cost"]
    expected = summary["expected_recourse_cost"]
    cvar = summary["cvar"]
    return {
        "risk_aversion": lam,
        "cvar_alpha": summary["settings"]["cvar_alpha"],
        "first_stage_cost": first_stage,
        "weighted_expected_recourse": (1.0 - lam) * expected,
        "weighted_cvar": lam * cvar,
        "objective": summary["objective"],
    }


def plan_rows(result: SolveResult, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The plan lines of the summary, each with its material's unit, sorted by material
    (in the order of the Materials sheet), then by spend, largest first."""
    order = {m.id: i for i, m in enumerate(result.instance.materials)}
    units = {m.id: m.unit for m in result.instance.materials}
    rows = [dict(line, unit=units[line["material"]]) for line in summary["plan"]]
    rows.sort(key=lambda r: (order[r["material"]], -r["spend"], r["supplier"]))
    return rows


def exposure_rows(result: SolveResult, summary: dict[str, Any]
                  ) -> tuple[list[str], list[dict[str, Any]]]:
    """Countries (the columns: every country with a share at either stage, largest total
    share first) and one row per stage and material (origin rows first): the share of
    demand from each country, their total and the exact HHI."""
    shares, hhi = summary["shares"], summary["hhi"]
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
            banned = (set(instance.group_members(policy.target)) | {policy.target}
                      if policy.target != "*" else {c.id for c in instance.countries})
            used = sum(units for (m, c, q), units in plan_use.items()
                       if policy.material in ("*", m)
                       and ((policy.stage in ("origin", "both") and c in banned)
                            or (policy.stage in ("processing", "both") and q in banned)))
            rows.append(dict(common, material=policy.material, target=policy.target,
                             stage=policy.stage, limit=None, achieved=used, exact_hhi=None,
                             binding=None, cost_per_point=None, unit="units used",
                             note="offers excluded; units bought or reserved from them"))
            continue
        costs = by_policy.get(index, [])
        if not costs:
            rows.append(dict(common, material=policy.material, target=policy.target,
                             stage=policy.stage, limit=policy.value, achieved=None,
                             exact_hhi=None, binding=False, cost_per_point=None, unit="",
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
                unit="per HHI point" if is_hhi else "per percentage point",
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
