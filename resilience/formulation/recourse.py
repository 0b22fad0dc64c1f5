"""Second stage: in each disruption scenario, lost supply, backup called, stock drawn
and unmet demand, and the risk measure over the scenarios' recourse costs.

Only (offer, scenario) pairs that a scenario actually hits carry lost-supply terms, so
the scenario block grows with the disruptions, not with offers × scenarios.
"""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.data import ModelData
from resilience.formulation.layout import ColumnBlock, Layout


def define_recourse_columns(layout: Layout, data: ModelData) -> None:
    """ℓ_{m,k} (lost firm supply, only where some offer of m is hit in k),
    e_{o,k} (backup called, reserve offers with a_{o,k} > 0), w_{m,k} (stock drawn,
    only where m has a stockpile and supply can be lost), u_{m,k} (unmet demand)."""
    n_m, n_k = data.n_materials, data.n_scenarios
    hit_material = data.offer_material[data.hit_offer]
    lost_keys = np.unique(data.hit_scenario * n_m + hit_material)
    layout.maps[F.LOST] = lost_keys  # key = k * n_m + m
    layout.add_columns(F.LOST, len(lost_keys), 0.0, data.demand[lost_keys % n_m],
                       scale=data.demand[lost_keys % n_m])

    reservable = layout.maps[F.RESERVE]
    availability = np.ones((n_k, len(reservable)))
    if len(reservable):
        position = np.full(data.n_offers, -1)
        position[reservable] = np.arange(len(reservable))
        hit_pos = position[data.hit_offer]
        mask = hit_pos >= 0
        availability[data.hit_scenario[mask], hit_pos[mask]] = data.hit_availability[mask]
    backup_k, backup_j = np.nonzero(availability > 0)
    layout.maps[F.BACKUP] = np.stack([backup_k, backup_j])  # (scenario, reserve column)
    layout.maps["backup_availability"] = availability[backup_k, backup_j]
    layout.add_columns(
        F.BACKUP, len(backup_k), 0.0,
        availability[backup_k, backup_j] * data.capacity[reservable[backup_j]],
        scale=data.demand[data.offer_material[reservable[backup_j]]],
    )

    stocked = np.zeros(n_m, dtype=bool)
    stocked[layout.maps[F.STOCK_HELD]] = True
    draw_keys = lost_keys[stocked[lost_keys % n_m]]
    layout.maps[F.STOCK_DRAWN] = draw_keys
    layout.add_columns(F.STOCK_DRAWN, len(draw_keys), 0.0, data.demand[draw_keys % n_m],
                       scale=data.demand[draw_keys % n_m])
    layout.add_columns(F.SHORTAGE, n_k * n_m, 0.0, np.tile(data.demand, n_k),
                       scale=np.tile(data.demand, n_k))


def recourse_costs(layout: Layout, data: ModelData, weight: np.ndarray
                   ) -> list[tuple[ColumnBlock, np.ndarray]]:
    """Σ_k weight_k R_k as column costs, R_k = Σ_m P_m u_{m,k} + Σ_o ĉ_o e_{o,k}: the
    one place these coefficients are written, for the build and for λ sweeps alike."""
    n_m = data.n_materials
    k, j = layout.maps[F.BACKUP]
    return [
        (layout.columns[F.SHORTAGE],
         np.repeat(weight, n_m) * np.tile(data.penalty, data.n_scenarios)),
        (layout.columns[F.BACKUP], weight[k] * data.landed_cost[layout.maps[F.RESERVE][j]]),
    ]


def cvar_costs(layout: Layout, data: ModelData, risk_aversion: float, alpha: float
               ) -> list[tuple[ColumnBlock, np.ndarray]]:
    """λ (η + Σ_k π_k z_k / (1 − α)) as column costs."""
    return [
        (layout.columns[F.VAR_LEVEL], np.array([risk_aversion])),
        (layout.columns[F.TAIL_EXCESS], risk_aversion * data.probability / (1.0 - alpha)),
    ]


def define_recourse_cost(layout: Layout, data: ModelData, weight: np.ndarray) -> None:
    """Adds Σ_k weight_k R_k; the caller's weight is (1 − λ) π_k, the expectation's share
    of the objective."""
    for block, costs in recourse_costs(layout, data, weight):
        layout.add_cost(block, costs)


def define_lost_supply(layout: Layout, data: ModelData) -> None:
    """ℓ_{m,k} = Σ_{o ∈ O_m} (1 − a_{o,k}) x_o: firm orders paid for but not delivered."""
    n_m = data.n_materials
    keys = layout.maps[F.LOST]
    lost = layout.columns[F.LOST].index
    row_of_key = np.searchsorted(keys, data.hit_scenario * n_m
                                 + data.offer_material[data.hit_offer])
    x = layout.columns[F.FIRM_ORDER].index
    layout.add_rows(
        F.LOST_SUPPLY, len(keys),
        np.concatenate([np.arange(len(keys)), row_of_key]),
        np.concatenate([lost, x[data.hit_offer]]),
        np.concatenate([np.ones(len(keys)), -(1.0 - data.hit_availability)]), 0.0, 0.0)


def define_backup_limit(layout: Layout, data: ModelData) -> None:
    """e_{o,k} ≤ a_{o,k} r_o: backup is called on reserved capacity that survives."""
    k, j = layout.maps[F.BACKUP]
    n = len(k)
    local = np.arange(n)
    layout.add_rows(
        F.BACKUP_LIMIT, n, np.concatenate([local, local]),
        np.concatenate([layout.columns[F.BACKUP].index, layout.columns[F.RESERVE].index[j]]),
        np.concatenate([np.ones(n), -layout.maps["backup_availability"]]), -np.inf, 0.0,
    )


def define_stock_draw(layout: Layout, data: ModelData) -> None:
    """w_{m,k} ≤ h_m and w_{m,k} ≤ ℓ_{m,k}: stock replaces lost supply only, never
    purchases that were not made."""
    n_m = data.n_materials
    keys = layout.maps[F.STOCK_DRAWN]
    n = len(keys)
    local = np.arange(n)
    w = layout.columns[F.STOCK_DRAWN].index
    held_position = np.full(n_m, -1)
    held_position[layout.maps[F.STOCK_HELD]] = np.arange(len(layout.maps[F.STOCK_HELD]))
    h = layout.columns[F.STOCK_HELD].index[held_position[keys % n_m]]
    lost = layout.columns[F.LOST].index[np.searchsorted(layout.maps[F.LOST], keys)]
    layout.add_rows(F.DRAW_WITHIN_STOCK, n, np.concatenate([local, local]),
                    np.concatenate([w, h]), np.concatenate([np.ones(n), -np.ones(n)]),
                    -np.inf, 0.0)
    layout.add_rows(F.DRAW_WITHIN_LOSS, n, np.concatenate([local, local]),
                    np.concatenate([w, lost]), np.concatenate([np.ones(n), -np.ones(n)]),
                    -np.inf, 0.0)


def define_demand_cover(layout: Layout, data: ModelData) -> None:
    """Σ_o (a_{o,k} x_o + e_{o,k}) + w_{m,k} + u_{m,k} ≥ D_m for every m, k,
    written as X_m − ℓ_{m,k} + Σ_o e_{o,k} + w_{m,k} + u_{m,k} ≥ D_m."""
    n_m, n_k = data.n_materials, data.n_scenarios
    n = n_m * n_k
    keys = np.arange(n)  # row key = k * n_m + m, as for ℓ and w
    total = layout.columns[F.FIRM_TOTAL].index
    lost_keys = layout.maps[F.LOST]
    draw_keys = layout.maps[F.STOCK_DRAWN]
    k, j = layout.maps[F.BACKUP]
    backup_material = data.offer_material[layout.maps[F.RESERVE][j]]
    rows = np.concatenate([keys, lost_keys, k * n_m + backup_material, draw_keys, keys])
    cols = np.concatenate([
        total[keys % n_m], layout.columns[F.LOST].index, layout.columns[F.BACKUP].index,
        layout.columns[F.STOCK_DRAWN].index, layout.columns[F.SHORTAGE].index,
    ])
    vals = np.concatenate([np.ones(n), -np.ones(len(lost_keys)), np.ones(len(k)),
                           np.ones(len(draw_keys)), np.ones(n)])
    layout.add_rows(
        F.DEMAND_COVER, n, rows, cols, vals, np.tile(data.demand, n_k), np.inf)


def define_cvar(layout: Layout, data: ModelData, risk_aversion: float, alpha: float) -> None:
    """Rockafellar–Uryasev: λ (η + Σ_k π_k z_k / (1 − α)) with z_k ≥ R_k − η, z_k ≥ 0.
    Only built when λ > 0."""
    n_m, n_k = data.n_materials, data.n_scenarios
    eta = layout.add_columns(F.VAR_LEVEL, 1, -np.inf, np.inf, money=True)
    z = layout.add_columns(F.TAIL_EXCESS, n_k, 0.0, np.inf, money=True)
    for block, costs in cvar_costs(layout, data, risk_aversion, alpha):
        layout.add_cost(block, costs)
    k, j = layout.maps[F.BACKUP]
    scen = np.arange(n_k)
    shortage_scenario = np.repeat(scen, n_m)
    rows = np.concatenate([scen, scen, shortage_scenario, k])
    cols = np.concatenate([z.index, np.full(n_k, eta.start), layout.columns[F.SHORTAGE].index,
                           layout.columns[F.BACKUP].index])
    vals = np.concatenate([np.ones(n_k), np.ones(n_k), -np.tile(data.penalty, n_k),
                           -data.landed_cost[layout.maps[F.RESERVE][j]]])
    layout.add_rows(F.CVAR_TAIL, n_k, rows, cols, vals, 0.0, np.inf)
