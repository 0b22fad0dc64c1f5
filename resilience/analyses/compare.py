"""compare: every chosen strategy × every chosen what-if, each a full solve.

Each case returns plain figures (cost, expected shortage, CVaR, largest HHI, share from
each group, the cost of each binding policy), so the batch can run anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from resilience.analyses.batch import (
    CaseOutcome,
    Counter,
    ProgressCallback,
    report_now,
    report_step,
    run_batch,
)
from resilience.api import SolverChoice
from resilience.domain import Instance

BASE = "base"  # label of "no strategy" / "no what-if"


@dataclass(frozen=True)
class CompareCase:
    instance: Instance
    strategy: str | None
    whatif: str | None
    overrides: dict = field(default_factory=dict)
    choice: SolverChoice = field(default_factory=SolverChoice)


@dataclass(frozen=True)
class CompareRow:
    strategy: str
    whatif: str
    status: str  # solver status, or "failed"
    reason: str = ""
    figures: dict[str, Any] = field(default_factory=dict)


def case_figures(result) -> dict[str, Any]:
    """The comparison figures of one solved case (plain data).

    `group_spend_share`: each country group's share of the landed spend of firm orders
    (Σ ĉ_o x_o over offers whose origin is in the group, over Σ ĉ_o x_o), over a horizon
    in its last period, named by `share_period` (SPEC §7: compare shows the last period's
    shares); None where nothing is bought. `group_share` is kept as it was: the mean over
    materials of the group's origin share of demand, unweighted."""
    from resilience.report.kpis import solve_summary

    summary = solve_summary(result)
    check = result.verification
    instance = result.instance
    groups = sorted({g for c in instance.countries for g in c.groups})
    members = {tag: set(instance.group_members(tag)) for tag in groups}
    group_share = {}
    for tag in groups:
        # over a horizon `shares` are the last period's (SPEC §7); a material without
        # demand there has none
        per_material = [
            sum(share for c, share in check.shares[m.id]["origin"].items()
                if c in members[tag])
            for m in instance.materials if m.id in check.shares
        ]
        group_share[tag] = sum(per_material) / len(per_material) if per_material else 0.0
    share_period = summary["periods"][-1] if summary.get("periods") else None
    lines = [p for p in summary["plan"]
             if share_period is None or p.get("period") == share_period]
    spend = sum(p["spend"] for p in lines)
    group_spend_share = {
        tag: (sum(p["spend"] for p in lines if p["country"] in members[tag]) / spend
              if spend > 0 else None)
        for tag in groups}
    largest = max(((h, m, stage) for m, stages in check.hhi.items()
                   for stage, h in stages.items()), default=(0.0, "", ""))
    # Σ_t δ_t Σ_m P_m E[u_{m,t}]: weighted like the objective over a horizon
    shortage_cost = sum(
        period.weight * sum(m.shortage_penalty * period.expected_shortage.get(m.id, 0.0)
                            for m in instance.materials)
        for period in check.periods) if instance.multi_period else sum(
        m.shortage_penalty * check.expected_shortage[m.id] for m in instance.materials)
    return {
        "status": summary["status"],
        "objective": summary["objective"],
        "first_stage_cost": summary["first_stage_cost"],
        "expected_recourse_cost": summary["expected_recourse_cost"],
        "cvar": summary["cvar"],
        "risk_aversion": summary["settings"]["risk_aversion"],
        "cvar_alpha": summary["settings"]["cvar_alpha"],
        "mip_gap": summary["mip_gap"],
        "expected_shortage": summary["expected_shortage"],
        "expected_shortage_cost": shortage_cost,
        "largest_hhi": largest[0],
        "largest_hhi_at": f"{largest[1]} ({largest[2]})" if largest[1] else "",
        "group_share": group_share,
        "group_spend_share": group_spend_share,
        "share_period": share_period,
        "binding_policies": [
            {"name": p["name"], "rule": p["rule"], "material": p["material"],
             "country": p["country"], "stage": p["stage"], "limit": p["limit"],
             "cost_per_point": p["cost_per_point"],
             **({"period": p["period"]} if p.get("period") else {})}
            for p in summary["policies"] if p["binding"]
        ],
        "summary": summary,
    }


def solve_compare_case(case: CompareCase) -> dict[str, Any]:
    """Worker task: prepare, solve, verify, summarise."""
    from resilience.api import solve_with
    from resilience.cases import prepare_case

    prepared = prepare_case(case.instance, strategy=case.strategy, whatif=case.whatif,
                            **case.overrides)
    return case_figures(solve_with(prepared, case.choice))


@dataclass(frozen=True)
class WhatIfGroup:
    """Every strategy under one what-if: one model, switched between strategies."""

    instance: Instance
    whatif: str | None
    strategies: tuple[str | None, ...]
    overrides: dict = field(default_factory=dict)
    choice: SolverChoice = field(default_factory=SolverChoice)


def solve_whatif_group(group: WhatIfGroup) -> list[dict[str, Any]]:
    """Worker task: build the union of the strategies' rules once and re-solve it per
    strategy; each strategy's outcome is {"ok": ..., "figures" | "reason": ...}."""
    import dataclasses as dc

    from resilience.analyses.batch import _guarded
    from resilience.api import SolveResult, build_for, hand_to_solver, solve_built
    from resilience.cases import prepare_case
    from resilience.formulation.data import excluded_items
    from resilience.formulation.toggles import StrategySwitch

    base = prepare_case(group.instance, whatif=group.whatif, **group.overrides)
    cases: list[tuple[str | None, Instance | str]] = []
    for strategy in group.strategies:
        outcome = _guarded(lambda s: prepare_case(group.instance, strategy=s,
                                                  whatif=group.whatif, **group.overrides),
                           str(strategy), strategy)
        cases.append((strategy, outcome.value if outcome.ok else outcome.reason))
    tagged: set[str] = set()
    union = [p for p in base.policies if p.strategy is None]
    tags: list[str | None] = [None] * len(union)
    origin: list = list(union)
    for strategy, case in cases:
        if strategy is None or isinstance(case, str) or case.strategy in tagged:
            continue
        tagged.add(case.strategy)
        for p in case.policies:
            if p.strategy == case.strategy and p.rule != "exclude":
                union.append(dc.replace(p, strategy=None))
                tags.append(case.strategy)
                origin.append(p)
    built = build_for(dc.replace(base, policies=tuple(union)), group.choice)
    session = hand_to_solver(built, group.choice)
    switch = StrategySwitch(built, tags)
    results = []
    for i, (strategy, case) in enumerate(cases):
        report_now(f"{strategy or BASE} × {group.whatif or BASE}")
        if isinstance(case, str):
            results.append({"ok": False, "reason": case})
            report_step()
            continue
        active = switch.select(session, case.strategy, excluded_items(built.data, case))

        def solve(case=case, active=active, i=i):
            result = solve_built(built, session, case, reused=i > 0,
                                 policies_in_force=active,
                                 extras=group.choice.extra is not None)
            # policy indices of the shared model → indices of this case's own policies
            index = {id(p): k for k, p in enumerate(case.policies)}
            costs = tuple(dc.replace(c, policy_index=index.get(id(origin[c.policy_index]), -1))
                          for c in result.solution.policy_costs)
            solution = dc.replace(result.solution, policy_costs=costs)
            return case_figures(SolveResult(case, solution, result.verification))

        outcome = _guarded(lambda _: solve(), str(strategy), None)
        results.append({"ok": True, "figures": outcome.value} if outcome.ok
                       else {"ok": False, "reason": outcome.reason})
        report_step()
    return results


def compare(instance: Instance, strategies: Sequence[str | None],
            whatifs: Sequence[str | None], executor: Executor | None = None,
            progress: bool | ProgressCallback | Counter = False,
            overrides: dict | None = None,
            reuse: bool = True, choice: SolverChoice | None = None) -> list[CompareRow]:
    """Every strategy × every what-if. With `reuse`, the strategies under one what-if
    share one model (built once, switched by bounds); without, each case is built alone.
    `progress` (True, a callback or a counter: see `resilience.analyses.batch.run_batch`)
    counts cases, strategy × what-if, either way."""
    if not reuse:
        cases = [
            (f"{s or BASE} × {w or BASE}",
             CompareCase(instance, s, w, overrides or {}, choice or SolverChoice()))
            for s in strategies for w in whatifs
        ]
        outcomes = run_batch(solve_compare_case, cases, executor, progress,
                             "compare cases")
        return [_row(case, outcome)
                for (_, case), outcome in zip(cases, outcomes, strict=True)]
    groups = [(f"what-if {w or BASE}",
               WhatIfGroup(instance, w, tuple(strategies), overrides or {},
                           choice or SolverChoice()))
              for w in whatifs]
    outcomes = run_batch(solve_whatif_group, groups, executor, progress, "compare cases",
                         units=[len(strategies)] * len(groups))
    by_case: dict[tuple[str | None, str | None], CompareRow] = {}
    for (_, group), outcome in zip(groups, outcomes, strict=True):
        for k, strategy in enumerate(group.strategies):
            case = CompareCase(instance, strategy, group.whatif)
            if not outcome.ok:
                result = CaseOutcome("", False, reason=outcome.reason)
            else:
                item = outcome.value[k]
                result = CaseOutcome("", item["ok"], item.get("figures"),
                                     item.get("reason", ""))
            by_case[(strategy, group.whatif)] = _row(case, result)
    return [by_case[(s, w)] for s in strategies for w in whatifs]


def _row(case: CompareCase, outcome: CaseOutcome) -> CompareRow:
    strategy, whatif = case.strategy or BASE, case.whatif or BASE
    if not outcome.ok:
        return CompareRow(strategy, whatif, "failed", outcome.reason)
    return CompareRow(strategy, whatif, outcome.value["status"], "", outcome.value)
