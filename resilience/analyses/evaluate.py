"""evaluate: how today's plan fares under each shock.

The plan (firm orders, reserves, stock) is held fixed; only the recourse — stock drawn,
backup called, shortage — is re-optimised, under the base case and every what-if. Beside
it, the plan re-optimised for that shock; the difference is the regret.

Holding a plan fixed under a shock needs three decisions, written down here:
- a firm order above the shocked capacity of its offer is cut to that capacity (the
  supplier cannot deliver more, and is not paid for more); reserve likewise;
- the planning rules (Policies, minimum orders, the demand cap) are not held against a
  plan made in advance: the plan is what it is; the rules of the case that it breaks are
  listed instead (`rules_broken`: a plan made before a strategy's rules came in);
- stock is taken from the plan file's Stockpile sheet (material, stock) when present,
  else none is held.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resilience.analyses.batch import Counter, ProgressCallback, run_batch
from resilience.api import SolverChoice
from resilience.domain import Instance
from resilience.plan_reader import FixedPlan, read_plan

# The plan reader lives next to the other workbook readers; the CLI and the tests import
# read_plan and FixedPlan from here as well.
__all__ = ["EvaluateRow", "FixedPlan", "evaluate", "evaluate_case", "read_plan"]


@dataclass(frozen=True)
class EvaluateRow:
    whatif: str
    ok: bool
    reason: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)  # the plan held fixed
    reoptimised: dict[str, Any] = field(default_factory=dict)
    regret: float | None = None
    clipped: tuple[str, ...] = ()


def evaluate_case(payload: tuple[Instance, FixedPlan, str | None, str | None,
                                  SolverChoice]) -> dict[str, Any]:
    """Worker task: the fixed plan under one what-if, and the re-optimised plan. A
    user's extra constraints are planning rules, like Policies: they shape the
    re-optimised plan, not the plan held fixed."""
    from resilience.analyses.compare import case_figures
    from resilience.api import hand_to_solver, solve_built, solve_with
    from resilience.cases import prepare_case
    from resilience.formulation.build import build_model
    from resilience.formulation.fixing import fix_first_stage

    instance, plan, strategy, whatif, choice = payload
    case = prepare_case(instance, strategy=strategy, whatif=whatif)
    embargoed = _embargoed_offers(case, whatif)
    held = dataclasses.replace(
        case, policies=(), strategy=None,
        offers=tuple(dataclasses.replace(o, min_order=0.0,
                                         capacity=0.0 if i in embargoed else o.capacity)
                     for i, o in enumerate(case.offers)))
    built = build_model(held)
    session = hand_to_solver(built, choice.without_extra())
    clipped = fix_first_stage(built, session, plan.lines, plan.stockpile,
                              plan.stock_levels, plan.builds)
    fixed = solve_built(built, session, held, with_duals=False, planning_rules=False)
    best = solve_with(case, choice)
    fixed_figures = case_figures(fixed)
    # the rules are not constraints on a plan held fixed, so none binds: say instead which
    # of the case's rules it breaks, recomputed from the plan alone
    del fixed_figures["binding_policies"]
    fixed_figures["rules_broken"] = rules_broken(case, fixed.solution)
    best_figures = case_figures(best)
    return {
        "fixed": fixed_figures, "reoptimised": best_figures,
        "regret": fixed_figures["objective"] - best_figures["objective"],
        "clipped": clipped,
    }


def rules_broken(case: Instance, solution) -> list[dict[str, Any]]:
    """The policy rows of `case` (its strategy's and what-if's included) that a plan held
    fixed does not meet, each once per material, stage, target and period, as the JSON
    writes them: `achieved` is a share (fraction), exact HHI points, or for an exclusion
    the quantity contracted (firm and reserve) from the excluded sources."""
    from resilience.verify import verify

    check = verify(case, solution.plan, solution.stockpile, planning_rules=False,
                   investments=solution.investments,
                   stock_levels=solution.stock_levels or None)
    return [{"name": c.name, "rule": c.rule, "material": c.material, "country": c.target,
             "stage": c.stage, "limit": c.limit, "achieved": c.achieved,
             **({"period": c.period} if case.multi_period else {})}
            for c in check.policies if not c.satisfied]


def _embargoed_offers(case: Instance, whatif: str | None) -> set[int]:
    """Offers an `exclude` row of the what-if itself forbids: an embargo that arrives after
    the plan was made cuts those orders to nothing (they are reported as cut). The
    model's own exclusion rule decides which offers a row covers."""
    from resilience.formulation.data import excluded_offers

    if whatif is None:
        return set()
    embargo = tuple(p for p in case.active_policies()
                    if p.rule == "exclude" and p.whatif is not None)
    if not embargo:
        return set()
    only = dataclasses.replace(case, policies=embargo)
    return {int(i) for i in np.flatnonzero(excluded_offers(only))}


def evaluate(instance: Instance, plan: FixedPlan, whatifs: Sequence[str | None],
             strategy: str | None = None, executor: Executor | None = None,
             progress: bool | ProgressCallback | Counter = False,
             choice: SolverChoice | None = None
             ) -> list[EvaluateRow]:
    """`progress` (True, a callback or a counter: see
    `resilience.analyses.batch.run_batch`) counts what-ifs."""
    choice = choice or SolverChoice()
    cases = [(w or "base", (instance, plan, strategy, w, choice)) for w in whatifs]
    outcomes = run_batch(evaluate_case, cases, executor, progress, "evaluate cases")
    rows = []
    for (label, _), outcome in zip(cases, outcomes, strict=True):
        if not outcome.ok:
            rows.append(EvaluateRow(label, False, outcome.reason))
            continue
        v = outcome.value
        rows.append(EvaluateRow(label, True, "", v["fixed"], v["reoptimised"], v["regret"],
                                tuple(v["clipped"])))
    return rows
