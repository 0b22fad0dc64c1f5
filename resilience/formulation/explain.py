"""Infeasibility in a planner's words: rows of an irreducible infeasible set mapped back
to the Policies rows, materials and offers that created them."""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel


def describe_conflict(built: BuiltModel, rows: np.ndarray | None,
                      relaxation_feasible: bool = False) -> list[str]:
    """One line per policy in the conflict, with what it needs against what the eligible
    offers can supply; when the LP relaxation is feasible, the min orders that make the
    whole-contract problem infeasible."""
    data, layout = built.data, built.layout
    instance = data.instance
    unit = {m.id: m.unit for m in instance.materials}
    lines: list[str] = []
    if relaxation_feasible:
        return _min_order_lines(built)
    if rows is None:
        return ["HiGHS could not isolate the conflicting rules; check min_group_share rows "
                "against the capacity of their groups' offers"]
    seen = set()
    for row in sorted(int(r) for r in rows):
        block, local = layout.locate_row(row)
        if block.name not in (F.POLICY_SHARE, F.POLICY_HHI) or not block.owners:
            continue
        owner = block.owners[local]
        p_index, m, label, stage = owner.policy_index, owner.material, owner.label, owner.stage
        if (p_index, m, label, stage) in seen:
            continue
        seen.add((p_index, m, label, stage))
        policy = instance.policies[p_index]
        material = data.material_ids[m % data.n_materials]
        demand = data.demand[m]  # m: the material item (material, period)
        where = (f"Policies!A{policy.row}" if policy.row
                 else f"strategy {policy.strategy}" if policy.strategy
                 else f"rule {policy.name!r}")
        period = data.period_ids[m // data.n_materials]
        if period:
            where += f" in {period}"
        mask = block.rows == local
        offers = _offers_of_columns(built, block.cols[mask])
        supply = float(sum(min(data.capacity[i], demand) for i in offers))
        u = unit.get(material, "")
        u = f" {u}" if u else ""
        if policy.rule == "min_group_share":
            lines.append(
                f"{where} {policy.rule} {label} ≥ {policy.value:.0%} of {material} "
                f"({stage}) needs {policy.value * demand:,.6g}{u}; {label} offers can "
                f"supply {supply:,.6g}{u}")
        elif policy.rule == "max_hhi":
            lines.append(f"{where} max_hhi ≤ {policy.value:,.0f} on {material} ({stage}) "
                         "limits how much any one country can carry")
        else:
            lines.append(
                f"{where} {policy.rule} {label} ≤ {policy.value:.0%} of {material} "
                f"({stage}) caps {label} at {policy.value * demand:,.6g}{u}")
    if not lines:
        lines.append("no single rule can be named: the conflict is between capacities, "
                     "exclusions and demand")
    return lines


def _offers_of_columns(built: BuiltModel, cols: np.ndarray) -> list[int]:
    x = built.layout.columns[F.FIRM_ORDER]
    return [int(c - x.start) for c in cols if x.start <= c < x.start + x.size]


def _min_order_lines(built: BuiltModel) -> list[str]:
    data = built.data
    lines = ["the rules could be met if contracts could be split, but not with whole "
             "contracts: these minimum orders get in the way"]
    offers = data.instance.offers
    allowed = sorted({int(i) for i in data.offer_source[~data.excluded]})
    for offer in (offers[i] for i in allowed):
        if offer.min_order > 0:
            lines.append(f"Suppliers!A{offer.row} {offer.supplier} ({offer.material}) "
                         f"min_order {offer.min_order:,.6g} of capacity {offer.capacity:,.6g}")
    return lines
