"""Second stage: in each disruption scenario, lost supply, backup called, spot bought,
stock drawn and unmet demand, and the risk measure over the scenarios' recourse costs.

Only (material, scenario) pairs where a scenario actually hits some firm supply carry
lost-supply terms, and backup and spot exist only there (they only replace lost supply,
SPEC v2 §3), so the scenario block grows with the disruptions, not with offers ×
scenarios. Over a horizon a scenario is a scenario item (scenario, period) and meets
only the offers and materials of its own period; pairs are keyed k · M + m with k the
scenario item and m the material.
"""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.data import ModelData
from resilience.formulation.first_stage import online_terms
from resilience.formulation.layout import ColumnBlock, Layout


def define_recourse_columns(layout: Layout, data: ModelData) -> None:
    """ℓ_{m,k} (lost firm supply, only where some offer of m is hit in k),
    e_{o,k} (backup called: reserve offers with a_{o,k} > 0 where supply of m is lost),
    v_{o,k} (spot bought: offers with spot capacity, a_{o,k} > 0, same condition),
    w_{m,k} (stock drawn, only where m has a stockpile and supply can be lost),
    u_{m,k} (unmet demand)."""
    n_m, n_k = data.n_materials, data.n_scenarios
    hit_material = data.offer_material[data.hit_offer] % n_m
    lost_keys = np.unique(data.hit_scenario * n_m + hit_material)
    layout.maps[F.LOST] = lost_keys  # key = k * n_m + m
    lost_item = data.pair_item(lost_keys)
    layout.add_columns(F.LOST, len(lost_keys), 0.0, data.demand[lost_item],
                       scale=data.quantity_scale[lost_item])

    reservable = layout.maps[F.RESERVE]
    position, offer, available = _offers_where_lost(data, lost_keys, reservable)
    backup_k = lost_keys[position] // n_m
    layout.maps[F.BACKUP] = np.stack([backup_k, np.searchsorted(reservable, offer)])
    layout.maps["backup_availability"] = available
    layout.maps["backup_lost"] = position
    layout.add_columns(F.BACKUP, len(offer), 0.0, available * data.capacity[offer],
                       scale=data.quantity_scale[data.offer_material[offer]])

    sellers = np.flatnonzero((data.spot_capacity > 0) & ~data.excluded)
    position, offer, available = _offers_where_lost(data, lost_keys, sellers)
    layout.maps[F.SPOT] = np.stack([lost_keys[position] // n_m, offer])  # (k, offer item)
    layout.maps["spot_availability"] = available
    layout.maps["spot_lost"] = position
    layout.add_columns(F.SPOT, len(offer), 0.0, available * data.spot_capacity[offer],
                       scale=data.quantity_scale[data.offer_material[offer]])

    stocked = ~np.isnan(data.stock_cost[:n_m])
    draw_at = np.flatnonzero(stocked[lost_keys % n_m])
    draw_keys = lost_keys[draw_at]
    layout.maps[F.STOCK_DRAWN] = draw_keys
    layout.maps["draw_lost"] = draw_at
    draw_item = data.pair_item(draw_keys)
    layout.add_columns(F.STOCK_DRAWN, len(draw_keys), 0.0, data.demand[draw_item],
                       scale=data.quantity_scale[draw_item])
    every = data.pair_item(np.arange(n_k * n_m))
    layout.add_columns(F.SHORTAGE, n_k * n_m, 0.0, data.demand[every],
                       scale=data.quantity_scale[every])


# Above this many (scenario, offer) cells `_offers_where_lost` looks pairs up instead.
_DENSE_CELLS = 4_000_000


def _offers_where_lost(data: ModelData, lost_keys: np.ndarray, offers: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(position in lost_keys, offer item, a_{o,k}) for each of `offers` (ascending offer
    items) whose material item is a lost key's and that is not cut off in its scenario
    (a > 0); by lost key, then offer. a is 1 unless the pair is a disrupted pair."""
    n_m = data.n_materials
    key_item = data.pair_item(lost_keys)
    material = data.offer_material[offers]
    order = np.argsort(material, kind="stable")
    grouped = offers[order]
    count = np.bincount(material, minlength=data.n_material_items)
    first = np.cumsum(count) - count
    per_key = count[key_item]
    position = np.repeat(np.arange(len(lost_keys)), per_key)
    place = np.arange(len(position)) - np.repeat(np.cumsum(per_key) - per_key, per_key)
    offer = grouped[first[key_item][position] + place]
    scenario = lost_keys[position] // n_m
    available = np.ones(len(offer))
    if len(data.hit_offer) and len(offer):
        if data.n_scenarios * len(offers) <= _DENSE_CELLS:  # a table (scenario, offer)
            column = np.full(data.n_offers, -1, dtype=np.int64)
            column[offers] = np.arange(len(offers))
            table = np.ones((data.n_scenarios, len(offers)))
            hit = column[data.hit_offer]
            mine = hit >= 0
            table[data.hit_scenario[mine], hit[mine]] = data.hit_availability[mine]
            available = table[scenario, column[offer]]
        else:  # too many cells: look each pair up among the sorted disrupted pairs
            hit_key = data.hit_scenario * data.n_offers + data.hit_offer  # ascending
            pair_key = scenario * data.n_offers + offer
            at = np.minimum(np.searchsorted(hit_key, pair_key), len(hit_key) - 1)
            found = hit_key[at] == pair_key
            available[found] = data.hit_availability[at[found]]
    keep = available > 0
    return position[keep], offer[keep], available[keep]


def recourse_costs(layout: Layout, data: ModelData, weight: np.ndarray
                   ) -> list[tuple[ColumnBlock, np.ndarray]]:
    """Σ_k δ_{t(k)} weight_k R_k as column costs, R_k = Σ_m P_m u_{m,k} + Σ_o ĉ_o e_{o,k}
    + Σ_o ĉ_o (1 + surge_k) v_{o,k}: the one place these coefficients are written, for
    the build and for λ sweeps alike. `weight` is per scenario item, without δ."""
    n_m = data.n_materials
    weight = weight * data.period_weight[data.scenario_period]
    k, j = layout.maps[F.BACKUP]
    spot_k, spot_offer = layout.maps[F.SPOT]
    every = data.pair_item(np.arange(data.n_scenarios * n_m))
    return [
        (layout.columns[F.SHORTAGE], np.repeat(weight, n_m) * data.penalty[every]),
        (layout.columns[F.BACKUP], weight[k] * data.landed_cost[layout.maps[F.RESERVE][j]]),
        (layout.columns[F.SPOT], weight[spot_k] * spot_price(data, spot_k, spot_offer)),
    ]


def spot_price(data: ModelData, scenario: np.ndarray, offer: np.ndarray) -> np.ndarray:
    """ĉ_o (1 + surge_k)."""
    return data.landed_cost[offer] * (1.0 + data.surge[scenario])


def cvar_periods(data: ModelData) -> np.ndarray:
    """The periods with scenarios: each gets its η_t."""
    return np.unique(data.scenario_period)


def cvar_costs(layout: Layout, data: ModelData, risk_aversion: float, alpha: float
               ) -> list[tuple[ColumnBlock, np.ndarray]]:
    """Σ_t δ_t λ (η_t + Σ_k π_{k,t} z_{k,t} / (1 − α)) as column costs."""
    delta = data.period_weight
    return [
        (layout.columns[F.VAR_LEVEL], risk_aversion * delta[cvar_periods(data)]),
        (layout.columns[F.TAIL_EXCESS], risk_aversion * delta[data.scenario_period]
         * data.probability / (1.0 - alpha)),
    ]


def define_recourse_cost(layout: Layout, data: ModelData, weight: np.ndarray) -> None:
    """Adds Σ_k δ weight_k R_k; the caller's weight is (1 − λ) π_k, the expectation's
    share of the objective."""
    for block, costs in recourse_costs(layout, data, weight):
        layout.add_cost(block, costs)


def define_lost_supply(layout: Layout, data: ModelData) -> None:
    """ℓ_{m,k} = Σ_{o ∈ O_m} (1 − a_{o,k}) x_o: firm orders paid for but not delivered."""
    n_m = data.n_materials
    keys = layout.maps[F.LOST]
    lost = layout.columns[F.LOST].index
    row_of_key = np.searchsorted(keys, data.hit_scenario * n_m
                                 + data.offer_material[data.hit_offer] % n_m)
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


def define_spot_online(layout: Layout, data: ModelData) -> None:
    """v_{o,k,t} ≤ a_{o,k,t} V_o on_{o,t} for a project (SPEC §7): a project sells spot
    only once online; an ordinary offer's bound a V is its column bound."""
    _, offer = layout.maps[F.SPOT]
    project = np.flatnonzero(data.is_project[offer])
    if not len(project):
        return
    factor = layout.maps["spot_availability"][project] * data.spot_capacity[offer[project]]
    rows, cols, vals = online_terms(data, offer[project], layout.columns[F.BUILD].index,
                                    factor)
    local = np.arange(len(project))
    layout.add_rows(F.SPOT_ONLINE, len(project), np.concatenate([local, rows]),
                    np.concatenate([layout.columns[F.SPOT].index[project], cols]),
                    np.concatenate([np.ones(len(project)), vals]), -np.inf, 0.0)


def define_stock_draw(layout: Layout, data: ModelData) -> None:
    """w_{m,k} ≤ h_m: a draw comes out of the stock held in its period."""
    keys = layout.maps[F.STOCK_DRAWN]
    n = len(keys)
    local = np.arange(n)
    w = layout.columns[F.STOCK_DRAWN].index
    held_of_item = np.full(data.n_material_items, -1)
    held_of_item[layout.maps[F.STOCK_HELD]] = layout.columns[F.STOCK_HELD].index
    h = held_of_item[data.pair_item(keys)]
    layout.add_rows(F.DRAW_WITHIN_STOCK, n, np.concatenate([local, local]),
                    np.concatenate([w, h]), np.concatenate([np.ones(n), -np.ones(n)]),
                    -np.inf, 0.0)


def define_replacement_limit(layout: Layout, data: ModelData) -> None:
    """Σ_{o ∈ O_m} (e_{o,k} + v_{o,k}) + w_{m,k} ≤ ℓ_{m,k} (SPEC v2 §3, §7): backup, spot
    and stock only replace supply lost in the scenario, never purchases that were not
    made; so in `baseline` the delivered mix is exactly the firm orders. One row per ℓ
    that has a backup, a spot purchase or a draw to limit."""
    backup_at = layout.maps["backup_lost"]
    spot_at = layout.maps["spot_lost"]
    draw_at = layout.maps["draw_lost"]
    has = np.zeros(len(layout.maps[F.LOST]), dtype=bool)
    for at in (backup_at, spot_at, draw_at):
        has[at] = True
    limited = np.flatnonzero(has)
    n = len(limited)
    row_of = np.cumsum(has) - 1  # the row of each limited ℓ
    rows = np.concatenate([np.arange(n), row_of[backup_at], row_of[spot_at],
                           row_of[draw_at]])
    cols = np.concatenate([layout.columns[F.LOST].index[limited],
                           layout.columns[F.BACKUP].index, layout.columns[F.SPOT].index,
                           layout.columns[F.STOCK_DRAWN].index])
    vals = np.concatenate([-np.ones(n), np.ones(len(backup_at) + len(spot_at)
                                                 + len(draw_at))])
    layout.add_rows(F.REPLACE_WITHIN_LOSS, n, rows, cols, vals, -np.inf, 0.0)


def define_demand_cover(layout: Layout, data: ModelData) -> None:
    """Σ_o (a_{o,k} x_o + e_{o,k} + v_{o,k}) + w_{m,k} + u_{m,k} ≥ D_m for every m, k,
    written as X_m − ℓ_{m,k} + Σ_o (e_{o,k} + v_{o,k}) + w_{m,k} + u_{m,k} ≥ D_m."""
    n_m, n_k = data.n_materials, data.n_scenarios
    n = n_m * n_k
    keys = np.arange(n)  # row key = k * n_m + m, as for ℓ and w
    item = data.pair_item(keys)
    total = layout.columns[F.FIRM_TOTAL].index
    lost_keys = layout.maps[F.LOST]
    draw_keys = layout.maps[F.STOCK_DRAWN]
    backup_keys = lost_keys[layout.maps["backup_lost"]]
    spot_keys = lost_keys[layout.maps["spot_lost"]]
    rows = np.concatenate([keys, lost_keys, backup_keys, spot_keys, draw_keys, keys])
    cols = np.concatenate([
        total[item], layout.columns[F.LOST].index, layout.columns[F.BACKUP].index,
        layout.columns[F.SPOT].index, layout.columns[F.STOCK_DRAWN].index,
        layout.columns[F.SHORTAGE].index,
    ])
    vals = np.concatenate([np.ones(n), -np.ones(len(lost_keys)),
                           np.ones(len(backup_keys) + len(spot_keys) + len(draw_keys)),
                           np.ones(n)])
    layout.add_rows(F.DEMAND_COVER, n, rows, cols, vals, data.demand[item], np.inf)


def define_cvar(layout: Layout, data: ModelData, risk_aversion: float, alpha: float) -> None:
    """Rockafellar–Uryasev per period: δ_t λ (η_t + Σ_k π_{k,t} z_{k,t} / (1 − α)) with
    z_{k,t} ≥ R_{k,t} − η_t, z ≥ 0. Only built when λ > 0."""
    n_m, n_k = data.n_materials, data.n_scenarios
    periods = cvar_periods(data)
    eta = layout.add_columns(F.VAR_LEVEL, len(periods), -np.inf, np.inf, money=True)
    layout.maps[F.VAR_LEVEL] = periods
    z = layout.add_columns(F.TAIL_EXCESS, n_k, 0.0, np.inf, money=True)
    for block, costs in cvar_costs(layout, data, risk_aversion, alpha):
        layout.add_cost(block, costs)
    k, j = layout.maps[F.BACKUP]
    spot_k, spot_offer = layout.maps[F.SPOT]
    scen = np.arange(n_k)
    eta_of = eta.start + np.searchsorted(periods, data.scenario_period)
    every = data.pair_item(np.arange(n_k * n_m))
    rows = np.concatenate([scen, scen, np.repeat(scen, n_m), k, spot_k])
    cols = np.concatenate([z.index, eta_of, layout.columns[F.SHORTAGE].index,
                           layout.columns[F.BACKUP].index, layout.columns[F.SPOT].index])
    vals = np.concatenate([np.ones(n_k), np.ones(n_k), -data.penalty[every],
                           -data.landed_cost[layout.maps[F.RESERVE][j]],
                           -spot_price(data, spot_k, spot_offer)])
    layout.add_rows(F.CVAR_TAIL, n_k, rows, cols, vals, 0.0, np.inf)
