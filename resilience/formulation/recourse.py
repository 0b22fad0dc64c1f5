"""Second stage: in each disruption scenario, lost supply, backup called, stock drawn
and unmet demand, and the risk measure over the scenarios' recourse costs.

Only (offer, scenario) pairs that a scenario actually hits carry lost-supply terms, so
the scenario block grows with the disruptions, not with offers × scenarios.
"""

from __future__ import annotations

import numpy as np

from resilience.formulation.data import ModelData
from resilience.formulation.layout import Layout


def define_recourse_columns(layout: Layout, data: ModelData) -> None:
    """ℓ_{m,k} (lost firm supply, only where some offer of m is hit in k),
    e_{o,k} (backup called, reserve offers with a_{o,k} > 0), w_{m,k} (stock drawn,
    only where m has a stockpile and supply can be lost), u_{m,k} (unmet demand)."""
    n_m, n_k = data.n_materials, data.n_scenarios
    hit_material = data.offer_material[data.hit_offer]
    lost_keys = np.unique(data.hit_scenario * n_m + hit_material)
    layout.maps["lost"] = lost_keys  # key = k * n_m + m
    layout.add_columns("lost", len(lost_keys), 0.0, data.demand[lost_keys % n_m],
                       scale=data.demand[lost_keys % n_m])

    reservable = layout.maps["reserve"]
    availability = np.ones((n_k, len(reservable)))
    if len(reservable):
        position = np.full(data.n_offers, -1)
        position[reservable] = np.arange(len(reservable))
        hit_pos = position[data.hit_offer]
        mask = hit_pos >= 0
        availability[data.hit_scenario[mask], hit_pos[mask]] = data.hit_availability[mask]
    backup_k, backup_j = np.nonzero(availability > 0)
    layout.maps["backup"] = np.stack([backup_k, backup_j])  # (scenario, reserve column)
    layout.maps["backup_availability"] = availability[backup_k, backup_j]
    layout.add_columns(
        "backup", len(backup_k), 0.0,
        availability[backup_k, backup_j] * data.capacity[reservable[backup_j]],
        scale=data.demand[data.offer_material[reservable[backup_j]]],
    )

    stocked = np.zeros(n_m, dtype=bool)
    stocked[layout.maps["stock_held"]] = True
    draw_keys = lost_keys[stocked[lost_keys % n_m]]
    layout.maps["stock_drawn"] = draw_keys
    layout.add_columns("stock_drawn", len(draw_keys), 0.0, data.demand[draw_keys % n_m],
                       scale=data.demand[draw_keys % n_m])
    layout.add_columns("shortage", n_k * n_m, 0.0, np.tile(data.demand, n_k),
                       scale=np.tile(data.demand, n_k))


def define_recourse_cost(layout: Layout, data: ModelData, weight: np.ndarray) -> None:
    """Adds Σ_k weight_k R_k with R_k = Σ_m P_m u_{m,k} + Σ_o ĉ_o e_{o,k}; the caller's
    weight is (1 − λ) π_k, the expectation's share of the objective."""
    n_m = data.n_materials
    layout.add_cost(layout.columns["shortage"],
                    np.repeat(weight, n_m) * np.tile(data.penalty, data.n_scenarios))
    k, j = layout.maps["backup"]
    layout.add_cost(layout.columns["backup"],
                    weight[k] * data.landed_cost[layout.maps["reserve"][j]])


def define_lost_supply(layout: Layout, data: ModelData) -> None:
    """ℓ_{m,k} = Σ_{o ∈ O_m} (1 − a_{o,k}) x_o: firm orders paid for but not delivered."""
    n_m = data.n_materials
    keys = layout.maps["lost"]
    lost = layout.columns["lost"].index
    row_of_key = np.searchsorted(keys, data.hit_scenario * n_m
                                 + data.offer_material[data.hit_offer])
    x = layout.columns["firm_order"].index
    layout.add_rows(
        "lost_supply", len(keys),
        np.concatenate([np.arange(len(keys)), row_of_key]),
        np.concatenate([lost, x[data.hit_offer]]),
        np.concatenate([np.ones(len(keys)), -(1.0 - data.hit_availability)]), 0.0, 0.0)


def define_backup_limit(layout: Layout, data: ModelData) -> None:
    """e_{o,k} ≤ a_{o,k} r_o: backup is called on reserved capacity that survives."""
    k, j = layout.maps["backup"]
    n = len(k)
    local = np.arange(n)
    layout.add_rows(
        "backup_limit", n, np.concatenate([local, local]),
        np.concatenate([layout.columns["backup"].index, layout.columns["reserve"].index[j]]),
        np.concatenate([np.ones(n), -layout.maps["backup_availability"]]), -np.inf, 0.0,
    )


def define_stock_draw(layout: Layout, data: ModelData) -> None:
    """w_{m,k} ≤ h_m and w_{m,k} ≤ ℓ_{m,k}: stock replaces lost supply only, never
    purchases that were not made."""
    n_m = data.n_materials
    keys = layout.maps["stock_drawn"]
    n = len(keys)
    local = np.arange(n)
    w = layout.columns["stock_drawn"].index
    held_position = np.full(n_m, -1)
    held_position[layout.maps["stock_held"]] = np.arange(len(layout.maps["stock_held"]))
    h = layout.columns["stock_held"].index[held_position[keys % n_m]]
    lost = layout.columns["lost"].index[np.searchsorted(layout.maps["lost"], keys)]
    layout.add_rows("draw_within_stock", n, np.concatenate([local, local]),
                    np.concatenate([w, h]), np.concatenate([np.ones(n), -np.ones(n)]),
                    -np.inf, 0.0)
    layout.add_rows("draw_within_loss", n, np.concatenate([local, local]),
                    np.concatenate([w, lost]), np.concatenate([np.ones(n), -np.ones(n)]),
                    -np.inf, 0.0)


def define_demand_cover(layout: Layout, data: ModelData) -> None:
    """Σ_o (a_{o,k} x_o + e_{o,k}) + w_{m,k} + u_{m,k} ≥ D_m for every m, k,
    written as X_m − ℓ_{m,k} + Σ_o e_{o,k} + w_{m,k} + u_{m,k} ≥ D_m."""
    n_m, n_k = data.n_materials, data.n_scenarios
    n = n_m * n_k
    keys = np.arange(n)  # row key = k * n_m + m, as for ℓ and w
    total = layout.columns["firm_total"].index
    lost_keys = layout.maps["lost"]
    draw_keys = layout.maps["stock_drawn"]
    k, j = layout.maps["backup"]
    backup_material = data.offer_material[layout.maps["reserve"][j]]
    rows = np.concatenate([keys, lost_keys, k * n_m + backup_material, draw_keys, keys])
    cols = np.concatenate([
        total[keys % n_m], layout.columns["lost"].index, layout.columns["backup"].index,
        layout.columns["stock_drawn"].index, layout.columns["shortage"].index,
    ])
    vals = np.concatenate([np.ones(n), -np.ones(len(lost_keys)), np.ones(len(k)),
                           np.ones(len(draw_keys)), np.ones(n)])
    layout.add_rows(
        "demand_cover", n, rows, cols, vals, np.tile(data.demand, n_k), np.inf)


def define_cvar(layout: Layout, data: ModelData, risk_aversion: float, alpha: float) -> None:
    """Rockafellar–Uryasev: λ (η + Σ_k π_k z_k / (1 − α)) with z_k ≥ R_k − η, z_k ≥ 0.
    Only built when λ > 0."""
    n_m, n_k = data.n_materials, data.n_scenarios
    eta = layout.add_columns("var_level", 1, -np.inf, np.inf, money=True)
    z = layout.add_columns("tail_excess", n_k, 0.0, np.inf, money=True)
    layout.add_cost(eta, risk_aversion)
    layout.add_cost(z, risk_aversion * data.probability / (1.0 - alpha))
    k, j = layout.maps["backup"]
    scen = np.arange(n_k)
    shortage_scenario = np.repeat(scen, n_m)
    rows = np.concatenate([scen, scen, shortage_scenario, k])
    cols = np.concatenate([z.index, np.full(n_k, eta.start), layout.columns["shortage"].index,
                           layout.columns["backup"].index])
    vals = np.concatenate([np.ones(n_k), np.ones(n_k), -np.tile(data.penalty, n_k),
                           -data.landed_cost[layout.maps["reserve"][j]]])
    layout.add_rows("cvar_tail", n_k, rows, cols, vals, 0.0, np.inf)
