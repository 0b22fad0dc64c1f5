"""compare: every chosen strategy × every chosen what-if, each a full solve.

Each case returns plain figures (cost, expected shortage, CVaR, largest HHI, share from
each group, the cost of each binding policy), so the batch can run anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from resilience.analyses.batch import CaseOutcome, run_batch
from resilience.domain import Instance

BASE = "base"  # label of "no strategy" / "no what-if"


@dataclass(frozen=True)
class CompareCase:
    instance: Instance
    strategy: str | None
    whatif: str | None
    overrides: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CompareRow:
    strategy: str
    whatif: str
    status: str  # solver status, or "failed"
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


def case_figures(result) -> dict[str, Any]:
    """The comparison figures of one solved case (plain data)."""
    from resilience.report.kpis import solve_summary

    summary = solve_summary(result)
    check = result.verification
    instance = result.instance
    groups = sorted({g for c in instance.countries for g in c.groups})
    group_share = {}
    for tag in groups:
        members = set(instance.group_members(tag))
        per_material = [
            sum(share for c, share in check.shares[m.id]["origin"].items() if c in members)
            for m in instance.materials
        ]
        group_share[tag] = sum(per_material) / len(per_material) if per_material else 0.0
    largest = max(((h, m, stage) for m, stages in check.hhi.items()
                   for stage, h in stages.items()), default=(0.0, "", ""))
    shortage_cost = sum(
        m.shortage_penalty * check.expected_shortage[m.id] for m in instance.materials)
    return {
        "status": summary["status"],
        "objective": summary["objective"],
        "first_stage_cost": summary["first_stage_cost"],
        "expected_recourse_cost": summary["expected_recourse_cost"],
        "cvar": summary["cvar"],
        "mip_gap": summary["mip_gap"],
        "expected_shortage": summary["expected_shortage"],
        "expected_shortage_cost": shortage_cost,
        "largest_hhi": largest[0],
        "largest_hhi_at": f"{largest[1]} ({largest[2]})" if largest[1] else "",
        "group_share": group_share,
        "binding_policies": [
            {"name": p["name"], "material": p["material"], "country": p["country"],
             "stage": p["stage"], "cost_per_point": p["cost_per_point"]}
            for p in summary["policies"] if p["binding"]
        ],
        "summary": summary,
    }


def solve_compare_case(case: CompareCase) -> dict[str, Any]:
    """Worker task: prepare, solve, verify, summarise."""
    from resilience.api import solve_case
    from resilience.cases import prepare_case

    prepared = prepare_case(case.instance, strategy=case.strategy, whatif=case.whatif,
                            **case.overrides)
    return case_figures(solve_case(prepared))


def compare(instance: Instance, strategies: Sequence[str | None],
            whatifs: Sequence[str | None], executor: Executor | None = None,
            progress: bool = False, overrides: dict | None = None) -> list[CompareRow]:
    cases = [
        (f"{s or BASE} × {w or BASE}", CompareCase(instance, s, w, overrides or {}))
        for s in strategies for w in whatifs
    ]
    outcomes = run_batch(solve_compare_case, cases, executor, progress, "compare")
    rows = []
    for (_, case), outcome in zip(cases, outcomes, strict=True):
        rows.append(_row(case, outcome))
    return rows


def _row(case: CompareCase, outcome: CaseOutcome) -> CompareRow:
    strategy, whatif = case.strategy or BASE, case.whatif or BASE
    if not outcome.ok:
        return CompareRow(strategy, whatif, "failed", outcome.reason)
    return CompareRow(strategy, whatif, outcome.value["status"], "", outcome.value)
