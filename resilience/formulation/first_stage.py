"""First-stage decisions: contracts, firm orders, reserves and strategic stock."""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.data import ModelData
from resilience.formulation.layout import Layout


def define_first_stage_columns(layout: Layout, data: ModelData) -> None:
    """y_o ∈ {0,1}, x_o, r_o (offers with a reserve price), h_m (materials with a
    stockpile cost), and X_m = Σ_o x_o, the firm total per material.

    Bounds are as tight as the data allow without changing the optimum:
    x_o ≤ min(U_o, D_m) because firm orders never exceed demand; h_m ≤ min(S_m, D_m)
    because stock only replaces lost firm supply, itself at most D_m. Excluded offers
    get zero upper bounds.
    """
    demand_of_offer = data.demand[data.offer_material]
    allowed = ~data.excluded
    layout.add_columns(F.CONTRACT, data.n_offers, 0.0, np.where(allowed, 1.0, 0.0),
                       binary=True)
    layout.add_columns(
        F.FIRM_ORDER, data.n_offers, 0.0,
        np.where(allowed, np.minimum(data.capacity, demand_of_offer), 0.0),
        scale=demand_of_offer,
    )
    reservable = np.flatnonzero(~np.isnan(data.reserve_cost) & allowed)
    layout.add_columns(F.RESERVE, len(reservable), 0.0, data.capacity[reservable],
                       scale=demand_of_offer[reservable])
    stocked = np.flatnonzero(~np.isnan(data.stock_cost))
    layout.add_columns(F.STOCK_HELD, len(stocked), 0.0,
                       np.minimum(data.stock_cap[stocked], data.demand[stocked]),
                       scale=data.demand[stocked])
    layout.add_columns(F.FIRM_TOTAL, data.n_materials, 0.0, data.demand, scale=data.demand)
    layout.maps[F.RESERVE] = reservable
    layout.maps[F.STOCK_HELD] = stocked


def define_first_stage_cost(layout: Layout, data: ModelData) -> None:
    """F = Σ_o (ĉ_o x_o + f_o y_o + ρ_o r_o) + Σ_m k_m h_m."""
    layout.add_cost(layout.columns[F.CONTRACT], data.fixed_cost)
    layout.add_cost(layout.columns[F.FIRM_ORDER], data.landed_cost)
    layout.add_cost(layout.columns[F.RESERVE], data.reserve_cost[layout.maps[F.RESERVE]])
    layout.add_cost(layout.columns[F.STOCK_HELD], data.stock_cost[layout.maps[F.STOCK_HELD]])


def define_contract_links(layout: Layout, data: ModelData) -> None:
    """A contract is needed for firm orders and reserve alike:

    x_o ≤ min(U_o, D_m) y_o      (all offers; the big-M is the smallest valid one)
    x_o + r_o ≤ U_o y_o          (offers with a reserve price)
    x_o ≥ L_o y_o                (offers with a minimum order)
    """
    n = data.n_offers
    offers = np.arange(n)
    y = layout.columns[F.CONTRACT].index
    x = layout.columns[F.FIRM_ORDER].index
    big_m = np.minimum(data.capacity, data.demand[data.offer_material])
    layout.add_rows(
        F.ORDER_NEEDS_CONTRACT, n,
        np.concatenate([offers, offers]), np.concatenate([x, y]),
        np.concatenate([np.ones(n), -big_m]), -np.inf, 0.0)
    res = layout.maps[F.RESERVE]
    local = np.arange(len(res))
    r = layout.columns[F.RESERVE].index
    layout.add_rows(
        F.CAPACITY, len(res),
        np.concatenate([local, local, local]), np.concatenate([x[res], r, y[res]]),
        np.concatenate([np.ones(len(res)), np.ones(len(res)), -data.capacity[res]]),
        -np.inf, 0.0)
    minimum = np.flatnonzero(data.min_order > 0)
    local = np.arange(len(minimum))
    layout.add_rows(
        F.MIN_ORDER, len(minimum),
        np.concatenate([local, local]), np.concatenate([x[minimum], y[minimum]]),
        np.concatenate([np.ones(len(minimum)), -data.min_order[minimum]]), 0.0, np.inf)


def define_firm_total(layout: Layout, data: ModelData) -> None:
    """X_m = Σ_{o ∈ O_m} x_o, with X_m ≤ D_m as its bound: firm orders never exceed
    demand. X_m lets every scenario's demand row say "what was ordered" in one term."""
    n = data.n_offers
    x = layout.columns[F.FIRM_ORDER].index
    total = layout.columns[F.FIRM_TOTAL].index
    layout.add_rows(
        F.FIRM_TOTAL_SUM, data.n_materials,
        np.concatenate([np.arange(data.n_materials), data.offer_material]),
        np.concatenate([total, x]),
        np.concatenate([np.ones(data.n_materials), -np.ones(n)]), 0.0, 0.0)
