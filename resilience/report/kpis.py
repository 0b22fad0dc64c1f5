"""Figures for reports and JSON, from the solution and its verification: plain data only,
no openpyxl and no Pyomo, so the Excel layout and the JSON agree by construction."""

from __future__ import annotations

import dataclasses
from typing import Any

from resilience import __version__
from resilience.api import SolveResult


def solve_summary(result: SolveResult) -> dict[str, Any]:
    """The machine-readable result of one solve (SPEC §6). Costs are those of the plan
    recomputed by the verifier, with each scenario's least recourse, whatever λ is."""
    instance, solution, check = result.instance, result.solution, result.verification
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    plan = []
    for line in solution.plan:
        offer = offers[(line.supplier, line.material, line.country, line.processing_country)]
        demand = instance.material(line.material).demand
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
        "timings": {"build_seconds": solution.build_seconds,
                    "solve_seconds": solution.solve_seconds},
    }
