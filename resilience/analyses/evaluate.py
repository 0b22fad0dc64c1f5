"""evaluate: how today's plan fares under each shock.

The plan (firm orders, reserves, stock) is held fixed; only the recourse — stock drawn,
backup called, shortage — is re-optimised, under the base case and every what-if. Beside
it, the plan re-optimised for that shock; the difference is the regret.

Holding a plan fixed under a shock needs three decisions, written down here:
- a firm order above the shocked capacity of its offer is cut to that capacity (the
  supplier cannot deliver more, and is not paid for more); reserve likewise;
- the planning rules (Policies, minimum orders, the demand cap) are not held against a
  plan made in advance: the plan is what it is;
- stock is taken from the plan file's Stockpile sheet (material, stock) when present,
  else none is held.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resilience.analyses.batch import run_batch
from resilience.api import SolverChoice
from resilience.domain import Instance
from resilience.errors import InputError, Problem
from resilience.schema import normalise_name


@dataclass(frozen=True)
class FixedPlan:
    lines: tuple[tuple[str, str, str, str, float, float], ...]  # offer key, x, r
    stockpile: dict[str, float] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class EvaluateRow:
    whatif: str
    ok: bool
    reason: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)  # the plan held fixed
    reoptimised: dict[str, Any] = field(default_factory=dict)
    regret: float | None = None
    clipped: tuple[str, ...] = ()


_ALIASES = {
    "supplier": "supplier", "material": "material", "quantity": "quantity",
    "firm order": "quantity", "reserve": "reserve", "country": "country",
    "origin": "country", "processing country": "processing_country",
}


def read_plan(path: Path, instance: Instance) -> FixedPlan:
    """A plan from the Plan sheet of an earlier report, or any sheet with supplier,
    material, quantity[, reserve][, country, processing country]."""
    import pandas as pd

    from resilience.workbook import check_container, inspect_parts

    check_container(path)
    inspect_parts(path)  # refuses DTDs and ranges too large to read
    try:
        frames = pd.read_excel(path, sheet_name=None, engine="calamine",
                               keep_default_na=False, na_values=[""], dtype=object)
    except Exception as exc:  # noqa: BLE001 - calamine's own error types
        raise InputError([Problem(path.name, "", f"cannot be read: {exc}")]) from None
    sheet_name, frame = _plan_frame(frames, path)
    columns = {_ALIASES[normalise_name(c)]: c for c in frame.columns
               if normalise_name(c) in _ALIASES}
    offers: dict[tuple[str, str], list] = {}
    for o in instance.offers:
        offers.setdefault((o.supplier.casefold(), o.material.casefold()), []).append(o)
    problems: list[Problem] = []
    lines = []
    for i, row in enumerate(frame.to_dict("records")):
        excel_row = i + 2
        supplier = _text(row.get(columns["supplier"]))
        material = _text(row.get(columns["material"]))
        if not supplier or not material or supplier.casefold() in ("total", "totals"):
            continue
        candidates = offers.get((supplier.casefold(), material.casefold()), [])
        for key in ("country", "processing_country"):
            if key in columns and _text(row.get(columns[key])):
                wanted = _text(row[columns[key]]).casefold()
                candidates = [o for o in candidates
                              if getattr(o, key).casefold() == wanted]
        if len(candidates) != 1:
            why = "matches no offer" if not candidates else \
                "matches several offers: add country and processing country columns"
            problems.append(Problem(sheet_name, f"A{excel_row}", f"{supplier} / {material} "
                                    f"{why}"))
            continue
        quantity = _amount(row.get(columns["quantity"]), sheet_name, excel_row, problems)
        reserve = _amount(row.get(columns.get("reserve", ""), 0), sheet_name, excel_row,
                          problems) if "reserve" in columns else 0.0
        o = candidates[0]
        lines.append((o.supplier, o.material, o.country, o.processing_country, quantity,
                      reserve))
    stock = _stockpile(frames, instance, problems)
    if problems:
        raise InputError(problems)
    return FixedPlan(tuple(lines), stock, path.name)


def _text(value) -> str:
    """A cell as text; blank (None, NaN, empty) as ''."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).strip()


def _plan_frame(frames, path: Path):
    ordered = sorted(frames.items(), key=lambda kv: normalise_name(kv[0]) != "plan")
    for name, frame in ordered:
        keys = {_ALIASES.get(normalise_name(c)) for c in frame.columns}
        if {"supplier", "material", "quantity"} <= keys:
            return str(name), frame
    raise InputError([Problem(path.name, "", "no sheet with supplier, material and "
                              "quantity columns (the Plan sheet of a report will do)")])


def _amount(value, sheet: str, row: int, problems: list[Problem]) -> float:
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(Problem(sheet, f"A{row}", "quantity and reserve must be numbers",
                                found=value))
        return 0.0
    if not np.isfinite(number) or number < 0:
        problems.append(Problem(sheet, f"A{row}", "quantity and reserve must be finite and "
                                "≥ 0", found=value))
        return 0.0
    return number


def _stockpile(frames, instance: Instance, problems: list[Problem]) -> dict[str, float]:
    for name, frame in frames.items():
        if normalise_name(name) != "stockpile":
            continue
        columns = {normalise_name(c): c for c in frame.columns}
        if "material" not in columns or "stock" not in columns:
            problems.append(Problem(str(name), "1:1", "needs material and stock columns"))
            return {}
        ids = {m.id.casefold(): m.id for m in instance.materials}
        stock = {}
        for i, row in enumerate(frame.to_dict("records")):
            material = ids.get(str(row[columns["material"]]).strip().casefold())
            if material is None:
                continue
            stock[material] = _amount(row[columns["stock"]], str(name), i + 2, problems)
        return stock
    return {}


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
    clipped = fix_first_stage(built, session, plan.lines, plan.stockpile)
    fixed = solve_built(built, session, held, with_duals=False, planning_rules=False)
    best = solve_with(case, choice)
    fixed_figures = case_figures(fixed)
    best_figures = case_figures(best)
    return {
        "fixed": fixed_figures, "reoptimised": best_figures,
        "regret": fixed_figures["objective"] - best_figures["objective"],
        "clipped": clipped,
    }


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
             progress: bool = False, choice: SolverChoice | None = None
             ) -> list[EvaluateRow]:
    choice = choice or SolverChoice()
    cases = [(w or "base", (instance, plan, strategy, w, choice)) for w in whatifs]
    outcomes = run_batch(evaluate_case, cases, executor, progress, "evaluate")
    rows = []
    for (label, _), outcome in zip(cases, outcomes, strict=True):
        if not outcome.ok:
            rows.append(EvaluateRow(label, False, outcome.reason))
            continue
        v = outcome.value
        rows.append(EvaluateRow(label, True, "", v["fixed"], v["reoptimised"], v["regret"],
                                tuple(v["clipped"])))
    return rows
