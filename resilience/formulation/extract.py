"""The one place that reads solver values out of the model into domain objects.

Values below a small fraction of demand are numerical noise and are zeroed, so a plan
never shows 3e-11 t of gallium from a supplier that was not chosen.
"""

from __future__ import annotations

import numpy as np

from resilience.domain import PlanLine, PolicyCost, ScenarioOutcome
from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel

NOISE = 1e-9


def _values(built: BuiltModel, values: np.ndarray, family: str) -> np.ndarray:
    block = built.layout.columns[family]
    return values[block.start:block.start + block.size]


def _clean(amounts: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    amounts = np.where(np.abs(amounts) <= NOISE * np.maximum(scale, 1.0), 0.0, amounts)
    return np.maximum(amounts, 0.0)


def extract_plan(built: BuiltModel, values: np.ndarray) -> tuple[tuple[PlanLine, ...],
                                                                 dict[str, float]]:
    data = built.data
    offers = data.instance.offers
    demand_of_offer = data.demand[data.offer_material]
    x = _clean(_values(built, values, F.FIRM_ORDER), demand_of_offer)
    reserve = np.zeros(data.n_offers)
    reserve[built.layout.maps[F.RESERVE]] = _values(built, values, F.RESERVE)
    reserve = _clean(reserve, demand_of_offer)
    # A contract with nothing ordered or reserved is a solver's free choice when its fixed
    # cost is zero; it means nothing to a buyer, so it is not reported as a contract.
    y = (_values(built, values, F.CONTRACT) > 0.5) & ((x > 0) | (reserve > 0))
    lines = tuple(
        PlanLine(
            supplier=o.supplier, material=o.material, country=o.country,
            processing_country=o.processing_country, quantity=float(x[i]),
            reserve=float(reserve[i]), contracted=bool(y[i]),
        )
        for i, o in enumerate(offers)
        if y[i] or x[i] > 0 or reserve[i] > 0
    )
    stock = {m: 0.0 for m in data.material_ids if not np.isnan(
        data.stock_cost[data.material_ids.index(m)])}
    held = _values(built, values, F.STOCK_HELD)
    for j, m in enumerate(built.layout.maps[F.STOCK_HELD]):
        stock[data.material_ids[m]] = float(_clean(held[j:j + 1], data.demand[m])[0])
    return lines, stock


def extract_scenarios(built: BuiltModel, values: np.ndarray) -> tuple[ScenarioOutcome, ...]:
    """What the solver chose per scenario (with λ > 0 not necessarily least-cost for
    scenarios outside the tail; the verifier recomputes the least-cost recourse)."""
    data, layout = built.data, built.layout
    n_m = data.n_materials
    shortage = _values(built, values, F.SHORTAGE).reshape(data.n_scenarios, n_m)
    drawn = np.zeros((data.n_scenarios, n_m))
    keys = layout.maps[F.STOCK_DRAWN]
    drawn[keys // n_m, keys % n_m] = _values(built, values, F.STOCK_DRAWN)
    backup = np.zeros((data.n_scenarios, n_m))
    k, j = layout.maps[F.BACKUP]
    called = _values(built, values, F.BACKUP)
    np.add.at(backup, (k, data.offer_material[layout.maps[F.RESERVE][j]]), called)
    backup_cost = np.zeros(data.n_scenarios)
    np.add.at(backup_cost, k, called * data.landed_cost[layout.maps[F.RESERVE][j]])
    outcomes = []
    for s, scenario in enumerate(data.scenarios):
        short = _clean(shortage[s], data.demand)
        outcomes.append(ScenarioOutcome(
            scenario=scenario.name, probability=scenario.probability,
            shortage=dict(zip(data.material_ids, short.tolist(), strict=True)),
            stock_drawn=dict(zip(data.material_ids, _clean(drawn[s], data.demand).tolist(),
                                 strict=True)),
            backup_called=dict(zip(data.material_ids,
                                   _clean(backup[s], data.demand).tolist(), strict=True)),
            recourse_cost=float(short @ data.penalty + backup_cost[s]),
        ))
    return tuple(outcomes)


def policy_rows(built: BuiltModel) -> list[tuple[str, int, tuple]]:
    """(family, local row, owner) for every row that a Policies row created."""
    rows = []
    for family in (F.POLICY_SHARE, F.POLICY_HHI):
        block = built.layout.row_blocks.get(family)
        if block is None:
            continue
        rows.extend((family, i, owner) for i, owner in enumerate(block.owners))
    return rows


def extract_policy_costs(built: BuiltModel, values: np.ndarray,
                         duals: np.ndarray | None, instance=None,
                         active: set[int] | None = None
                         ) -> tuple[PolicyCost, ...]:
    """Limit, achieved value (as the model sees it), binding flag, and the shadow price
    converted to currency per percentage point of share (per point of HHI).
    `instance` gives the current limits when a sweep changed them since the build."""
    data, layout = built.data, built.layout
    instance = instance or data.instance
    results = []
    activity = {
        family: np.bincount(block.rows, weights=values[block.cols] * block.vals,
                            minlength=block.size)
        for family, block in layout.row_blocks.items()
        if family in (F.POLICY_SHARE, F.POLICY_HHI)
    }
    for family, local, owner in policy_rows(built):
        p_index, m, label, stage = owner.policy_index, owner.material, owner.label, owner.stage
        if active is not None and p_index not in active:
            continue
        policy = instance.policies[p_index]
        lhs = float(activity[family][local])
        demand = data.demand[m]
        if family == F.POLICY_HHI:
            achieved = 10_000.0 * lhs / demand  # 10,000 Σ τ / D: the chord HHI
            limit = float(policy.value)
            per_unit = demand / 10_000.0  # rhs is v D_m / 10,000: per HHI point
        else:
            achieved = lhs / demand
            limit = float(policy.value)
            per_unit = demand / 100.0  # one percentage point of share
        is_max = policy.rule != "min_group_share"
        slack = (limit - achieved) if is_max else (achieved - limit)
        scale = 10_000.0 if family == F.POLICY_HHI else 1.0
        binding = slack <= 1e-6 * scale
        cost = None
        if duals is not None and family in built.form.row_families:
            start = built.form.row_families[family].start
            cost = abs(float(duals[start + local])) * float(per_unit)
            if cost < 1e-9:
                cost = 0.0
        results.append(PolicyCost(
            policy_index=p_index, name=policy.name, rule=policy.rule,
            material=data.material_ids[m], country=label, stage=stage, limit=limit,
            achieved=float(achieved), binding=bool(binding), cost_per_point=cost,
        ))
    return tuple(results)
