"""First-stage decisions: contracts, firm orders, reserves, strategic stock, and over a
horizon (SPEC §7) stock added and project builds."""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.data import ModelData
from resilience.formulation.layout import Layout


def define_first_stage_columns(layout: Layout, data: ModelData) -> None:
    """y_o ∈ {0,1}, x_o, r_o (offers with a reserve price), h_m (materials with a
    stockpile cost), and X_m = Σ_o x_o, the firm total per material; each per period
    (offer items, material items).

    Bounds are as tight as the data allow without changing the optimum:
    x_o ≤ min(U_o, D_m) because firm orders never exceed demand. Stock only replaces lost
    firm supply, itself at most D_{m,t}, and is carried forward, so h_{m,t} ≤ min(S_m,
    max_{t' ≥ t} D_{m,t'}): stock above every later demand is never drawn and only adds
    holding cost (a smaller level never needs more stock added later, because the bound
    does not grow over time). Excluded offers get zero upper bounds.
    """
    demand_of_offer = data.demand[data.offer_material]
    scale_of_offer = data.quantity_scale[data.offer_material]
    allowed = ~data.excluded
    layout.add_columns(F.CONTRACT, data.n_offers, 0.0, np.where(allowed, 1.0, 0.0),
                       binary=True)
    layout.add_columns(
        F.FIRM_ORDER, data.n_offers, 0.0,
        np.where(allowed, np.minimum(data.capacity, demand_of_offer), 0.0),
        scale=scale_of_offer,
    )
    reservable = np.flatnonzero(~np.isnan(data.reserve_cost) & allowed)
    layout.add_columns(F.RESERVE, len(reservable), 0.0, data.capacity[reservable],
                       scale=scale_of_offer[reservable])
    stocked = np.flatnonzero(~np.isnan(data.stock_cost))
    later_demand = _max_from_here(data)
    layout.add_columns(F.STOCK_HELD, len(stocked), 0.0,
                       np.minimum(data.stock_cap[stocked], later_demand[stocked]),
                       scale=data.quantity_scale[stocked])
    layout.add_columns(F.FIRM_TOTAL, data.n_material_items, 0.0, data.demand,
                       scale=data.quantity_scale)
    layout.maps[F.RESERVE] = reservable
    layout.maps[F.STOCK_HELD] = stocked
    # g_{m,t}: only where adding to the stock has a price (otherwise it is free and h
    # moves at will)
    n_m = data.n_materials
    added = stocked[data.stock_price[stocked % n_m] > 0]
    layout.add_columns(F.STOCK_ADDED, len(added), 0.0, np.inf,
                       scale=data.quantity_scale[added])
    layout.maps[F.STOCK_ADDED] = added
    layout.add_columns(F.BUILD, len(data.build_offer), 0.0, 1.0, binary=True)


def _max_from_here(data: ModelData) -> np.ndarray:
    """max_{t' ≥ t} D_{m,t'} per material item."""
    table = data.demand.reshape(data.n_periods, data.n_materials)
    return np.maximum.accumulate(table[::-1], axis=0)[::-1].reshape(-1)


def define_first_stage_cost(layout: Layout, data: ModelData) -> None:
    """Σ_t δ_t F_t, F_t = Σ_o (ĉ_o x_o + f_o y_o + ρ_o r_o + capex_o b_o) + Σ_m (k_m h_m
    + s_m g_m), each term in its period t."""
    delta = data.item_weight()
    layout.add_cost(layout.columns[F.CONTRACT], delta * data.fixed_cost)
    layout.add_cost(layout.columns[F.FIRM_ORDER], delta * data.landed_cost)
    reservable = layout.maps[F.RESERVE]
    layout.add_cost(layout.columns[F.RESERVE],
                    delta[reservable] * data.reserve_cost[reservable])
    n_m = data.n_materials
    stocked = layout.maps[F.STOCK_HELD]
    layout.add_cost(layout.columns[F.STOCK_HELD],
                    data.period_weight[stocked // n_m] * data.stock_cost[stocked])
    added = layout.maps[F.STOCK_ADDED]
    layout.add_cost(layout.columns[F.STOCK_ADDED],
                    data.period_weight[added // n_m] * data.stock_price[added % n_m])
    layout.add_cost(layout.columns[F.BUILD],
                    data.period_weight[data.build_period] * data.build_cost)


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
    n_items = data.n_material_items
    x = layout.columns[F.FIRM_ORDER].index
    total = layout.columns[F.FIRM_TOTAL].index
    layout.add_rows(
        F.FIRM_TOTAL_SUM, n_items,
        np.concatenate([np.arange(n_items), data.offer_material]),
        np.concatenate([total, x]),
        np.concatenate([np.ones(n_items), -np.ones(n)]), 0.0, 0.0)


def define_stock_added(layout: Layout, data: ModelData) -> None:
    """g_{m,t} ≥ h_{m,t} − h_{m,t−1}, h_{m,−1} = H_m (SPEC §7): what is added to the stock
    is paid at s_m. Written g_{m,t} − h_{m,t} + h_{m,t−1} ≥ 0, and g_{m,0} − h_{m,0} ≥
    −H_m in the first period."""
    added = layout.maps[F.STOCK_ADDED]
    if not len(added):
        return
    n_m = data.n_materials
    n = len(added)
    local = np.arange(n)
    held_of_item = np.full(data.n_material_items, -1)
    held_of_item[layout.maps[F.STOCK_HELD]] = layout.columns[F.STOCK_HELD].index
    earlier = added >= n_m  # t > 0: h_{m,t−1} is a column (every period of m is stocked)
    rows = np.concatenate([local, local, local[earlier]])
    cols = np.concatenate([layout.columns[F.STOCK_ADDED].index, held_of_item[added],
                           held_of_item[added[earlier] - n_m]])
    vals = np.concatenate([np.ones(n), -np.ones(n), np.ones(int(earlier.sum()))])
    lower = np.where(earlier, 0.0, -data.initial_stock[added % n_m])
    layout.add_rows(F.STOCK_CHANGE, n, rows, cols, vals, lower, np.inf)


def define_project_builds(layout: Layout, data: ModelData) -> None:
    """Projects (SPEC §7): Σ_t b_{o,t} ≤ 1 (built at most once), and a project delivers
    in τ only once online: y_{o,τ} ≤ on_{o,τ} = Σ_{t ≤ τ − L_o} b_{o,t}. (Spot from a
    project is tied to on_{o,τ} in the recourse; firm orders and reserve need y.)"""
    builds = data.build_offer
    if not len(builds):
        return
    b = layout.columns[F.BUILD].index
    projects, which = np.unique(builds, return_inverse=True)
    several = np.bincount(which) > 1  # a single build's bound b ≤ 1 says it already
    row_of = np.cumsum(several) - 1
    keep = several[which]
    layout.add_rows(F.BUILD_ONCE, int(several.sum()), row_of[which[keep]], b[keep],
                    np.ones(int(keep.sum())), -np.inf, 1.0)
    rows, cols, vals = online_terms(data, np.flatnonzero(data.is_project), b)
    items = np.flatnonzero(data.is_project)
    local = np.arange(len(items))
    y = layout.columns[F.CONTRACT].index[items]
    layout.add_rows(F.ONLINE, len(items), np.concatenate([local, rows]),
                    np.concatenate([y, cols]), np.concatenate([np.ones(len(items)), vals]),
                    -np.inf, 0.0)


def online_terms(data: ModelData, items: np.ndarray, build_columns: np.ndarray,
                 factor: np.ndarray | float = 1.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """−factor · on_{o,τ} for project offer items j = (o, τ), as (position of j in
    `items`, column, value) triplets: one −factor per build b_{o,t} with t ≤ τ − L_o.

    A project's builds are one run of consecutive periods, first_o, first_o + 1, …, in
    `data.build_offer` order (by offer, then period), so the builds of j are the first
    clip(τ − L_o − first_o + 1, 0, count_o) of its offer's run."""
    factor = np.broadcast_to(np.asarray(factor, dtype=float), (len(items),))
    n_offers = len(data.instance.offers)
    count = np.bincount(data.build_offer, minlength=n_offers)
    start = np.cumsum(count) - count
    first = np.zeros(n_offers, dtype=np.int64)
    built = count > 0
    first[built] = data.build_period[start[built]]
    offer = data.offer_source[items]
    latest = data.offer_period[items] - data.lead_time[items]
    k = np.clip(latest - first[offer] + 1, 0, count[offer])
    rows = np.repeat(np.arange(len(items), dtype=np.int64), k)
    ends = np.cumsum(k)
    place = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) \
        - np.repeat(ends - k, k)
    cols = np.asarray(build_columns, dtype=np.int64)[np.repeat(start[offer], k) + place]
    return rows, cols, -np.repeat(factor, k)
