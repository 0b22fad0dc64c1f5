"""The one place that reads solver values out of the model into domain objects.

Values below a small fraction of demand are numerical noise and are zeroed, so a plan
never shows 3e-11 t of gallium from a supplier that was not chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resilience.domain import Investment, PlanLine, PolicyCost, ScenarioOutcome
from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel
from resilience.formulation.recourse import spot_price

NOISE = 1e-9


def _values(built: BuiltModel, values: np.ndarray, family: str) -> np.ndarray:
    block = built.layout.columns[family]
    return values[block.start:block.start + block.size]


def _clean(amounts: np.ndarray, scale: np.ndarray | float) -> np.ndarray:
    amounts = np.where(np.abs(amounts) <= NOISE * np.maximum(scale, 1.0), 0.0, amounts)
    return np.maximum(amounts, 0.0)


@dataclass(frozen=True)
class ExtractedPlan:
    """The first stage as a buyer reads it. `stockpile` is the v1 level per material
    (the last period's over a horizon); `stock_levels` material → period → h."""

    lines: tuple[PlanLine, ...]
    stockpile: dict[str, float]
    stock_levels: dict[str, dict[str, float]]
    investments: tuple[Investment, ...]


def extract_plan(built: BuiltModel, values: np.ndarray) -> ExtractedPlan:
    data = built.data
    offers = data.instance.offers
    scale_of_offer = data.quantity_scale[data.offer_material]
    x = _clean(_values(built, values, F.FIRM_ORDER), scale_of_offer)
    reserve = np.zeros(data.n_offers)
    reserve[built.layout.maps[F.RESERVE]] = _values(built, values, F.RESERVE)
    reserve = _clean(reserve, scale_of_offer)
    # An order or reserve without a contract can only be the solver's tolerance (x ≤ M y
    # with y = 0 allows x of the order of 1e-7 of the column's scale): it is no order.
    held = _values(built, values, F.CONTRACT) > 0.5
    x = np.where(held, x, 0.0)
    reserve = np.where(held, reserve, 0.0)
    # A contract with nothing ordered or reserved is a solver's free choice when its fixed
    # cost is zero; it means nothing to a buyer, so it is not reported as a contract.
    y = held & ((x > 0) | (reserve > 0))
    periods = data.period_ids
    lines = tuple(
        PlanLine(
            supplier=o.supplier, material=o.material, country=o.country,
            processing_country=o.processing_country, quantity=float(x[j]),
            reserve=float(reserve[j]), contracted=bool(y[j]),
            period=periods[data.offer_period[j]],
        )
        for j, o in ((j, offers[i]) for j, i in enumerate(data.offer_source.tolist()))
        if y[j] or x[j] > 0 or reserve[j] > 0
    )
    n_m = data.n_materials
    levels = {m: {t: 0.0 for t in periods} for i, m in enumerate(data.material_ids)
              if not np.isnan(data.stock_cost[i])}
    held = _clean(_values(built, values, F.STOCK_HELD),
                  data.quantity_scale[built.layout.maps[F.STOCK_HELD]])
    for j, item in enumerate(built.layout.maps[F.STOCK_HELD].tolist()):
        levels[data.material_ids[item % n_m]][periods[item // n_m]] = float(held[j])
    stock = {m: by_period[periods[-1]] for m, by_period in levels.items()}
    return ExtractedPlan(lines, stock, levels, _investments(built, values))


def _investments(built: BuiltModel, values: np.ndarray) -> tuple[Investment, ...]:
    data = built.data
    if not len(data.build_offer):
        return ()
    built_now = _values(built, values, F.BUILD) > 0.5
    periods = data.period_ids
    out = []
    for i in np.flatnonzero(built_now).tolist():
        o = data.instance.offers[int(data.build_offer[i])]
        start = int(data.build_period[i])
        out.append(Investment(
            supplier=o.supplier, material=o.material, country=o.country,
            processing_country=o.processing_country, period=periods[start],
            online_from=periods[start + o.lead_time], capex=float(o.capex),
            capacity=float(o.capacity)))
    return tuple(out)


def extract_scenarios(built: BuiltModel, values: np.ndarray) -> tuple[ScenarioOutcome, ...]:
    """What the solver chose per scenario (with λ > 0 not necessarily least-cost for
    scenarios outside the tail; the verifier recomputes the least-cost recourse). Over a
    horizon, one outcome per scenario and period."""
    data, layout = built.data, built.layout
    n_m = data.n_materials
    shortage = _values(built, values, F.SHORTAGE).reshape(data.n_scenarios, n_m)
    drawn = np.zeros((data.n_scenarios, n_m))
    keys = layout.maps[F.STOCK_DRAWN]
    drawn[keys // n_m, keys % n_m] = _values(built, values, F.STOCK_DRAWN)
    backup = np.zeros((data.n_scenarios, n_m))
    k, j = layout.maps[F.BACKUP]
    called = _values(built, values, F.BACKUP)
    offer = layout.maps[F.RESERVE][j]
    np.add.at(backup, (k, data.offer_material[offer] % n_m), called)
    cost = np.zeros(data.n_scenarios)
    np.add.at(cost, k, called * data.landed_cost[offer])
    spot = np.zeros((data.n_scenarios, n_m))
    spot_k, spot_offer = layout.maps[F.SPOT]
    bought = _values(built, values, F.SPOT)
    np.add.at(spot, (spot_k, data.offer_material[spot_offer] % n_m), bought)
    np.add.at(cost, spot_k, bought * spot_price(data, spot_k, spot_offer))
    outcomes = []
    for s, scenario in enumerate(data.scenarios):
        t = int(data.scenario_period[s])
        scale = data.quantity_scale[t * n_m:(t + 1) * n_m]
        penalty = data.penalty[t * n_m:(t + 1) * n_m]
        short = _clean(shortage[s], scale)
        outcomes.append(ScenarioOutcome(
            scenario=scenario.name, probability=scenario.probability,
            shortage=dict(zip(data.material_ids, short.tolist(), strict=True)),
            stock_drawn=dict(zip(data.material_ids, _clean(drawn[s], scale).tolist(),
                                 strict=True)),
            backup_called=dict(zip(data.material_ids,
                                   _clean(backup[s], scale).tolist(), strict=True)),
            recourse_cost=float(short @ penalty + cost[s]),
            period=data.period_ids[t],
            spot_bought=dict(zip(data.material_ids, _clean(spot[s], scale).tolist(),
                                 strict=True)),
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
        demand = data.demand[m]  # m: the material item (material, period)
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
            material=data.material_ids[m % data.n_materials], country=label, stage=stage,
            limit=limit, achieved=float(achieved), binding=bool(binding),
            cost_per_point=cost, period=data.period_ids[m // data.n_materials],
        ))
    return tuple(results)
