"""Holding a given first-stage plan fixed in a built model (evaluate)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from resilience.domain import SINGLE_PERIOD
from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel


def fix_first_stage(built: BuiltModel, session, lines, stockpile: dict[str, float],
                    stock_levels: dict[str, dict[str, float]] | None = None,
                    builds: Iterable[tuple[str, str, str, str, str]] = ()) -> list[str]:
    """Fix y, x, r, h (and over a horizon b) to the plan by column bounds; returns what
    had to be cut.

    `lines`: (supplier, material, country, processing_country, quantity, reserve[,
    period]); `stockpile` material → level (one period), or `stock_levels` material →
    period → level; `builds` (supplier, material, country, processing_country, period
    the build starts) — every other build is held at 0. x_o is cut to the offer's
    capacity in this case and r_o to what capacity is left; y_o = 1 exactly where
    something is ordered or reserved; h is cut to its cap. The demand cap X_m ≤ D_m is
    lifted to the plan's own total, since a plan made in advance may exceed a demand
    that a shock has lowered.
    """
    data, layout = built.data, built.layout
    offers = data.instance.offers
    periods = data.period_ids
    index = {((o.supplier, o.material, o.country, o.processing_country),
              periods[t]): j
             for j, (o, t) in enumerate(zip((offers[i] for i in data.offer_source.tolist()),
                                            data.offer_period.tolist(), strict=True))}
    x = np.zeros(data.n_offers)
    r = np.zeros(data.n_offers)
    clipped: list[str] = []
    for supplier, material, country, processing, quantity, reserve, *rest in lines:
        period = rest[0] if rest else SINGLE_PERIOD
        j = index.get(((supplier, material, country, processing), period))
        where = f" in {period}" if period else ""
        if j is None:
            clipped.append(f"{supplier} / {material}: no such offer{where} in this case, "
                           "dropped")
            continue
        capacity = data.capacity[j]
        if quantity > capacity + 1e-9:
            clipped.append(f"{supplier} / {material}{where}: firm order {quantity:,.6g} cut "
                           f"to capacity {capacity:,.6g}")
        x[j] = min(quantity, capacity)
        left = capacity - x[j]
        if reserve > 0 and np.isnan(data.reserve_cost[j]):
            clipped.append(f"{supplier} / {material}{where}: reserve {reserve:,.6g} dropped "
                           "(no reserve price)")
            reserve = 0.0
        if reserve > left + 1e-9:
            clipped.append(f"{supplier} / {material}{where}: reserve {reserve:,.6g} cut to "
                           f"{left:,.6g}")
        r[j] = min(reserve, left)
    y = ((x > 0) | (r > 0)).astype(float)
    _fix(session, layout.columns[F.CONTRACT].index, y)
    _fix(session, layout.columns[F.FIRM_ORDER].index, x)
    reservable = layout.maps[F.RESERVE]
    _fix(session, layout.columns[F.RESERVE].index, r[reservable])
    n_m = data.n_materials
    held = np.zeros(len(layout.maps[F.STOCK_HELD]))
    for j, item in enumerate(layout.maps[F.STOCK_HELD].tolist()):
        material, period = data.material_ids[item % n_m], periods[item // n_m]
        if stock_levels is not None:
            wanted = stock_levels.get(material, {}).get(period, 0.0)
        else:
            wanted = stockpile.get(material, 0.0)
        cap = data.stock_cap[item]
        if wanted > cap + 1e-9:
            clipped.append(f"{material}: stock {wanted:,.6g} cut to its cap {cap:,.6g}")
        held[j] = min(wanted, cap)
    _fix(session, layout.columns[F.STOCK_HELD].index, held)
    _fix_builds(built, session, builds, clipped)
    totals = np.zeros(data.n_material_items)
    np.add.at(totals, data.offer_material, x)
    session.set_column_bounds(layout.columns[F.FIRM_TOTAL].index,
                              np.zeros(data.n_material_items),
                              np.maximum(data.demand, totals))
    return clipped


def _fix_builds(built: BuiltModel, session, builds, clipped: list[str]) -> None:
    data = built.data
    if not len(data.build_offer):
        return
    offers = data.instance.offers
    index = {((offers[o].supplier, offers[o].material, offers[o].country,
               offers[o].processing_country), data.period_ids[t]): i
             for i, (o, t) in enumerate(zip(data.build_offer.tolist(),
                                            data.build_period.tolist(), strict=True))}
    chosen = np.zeros(len(data.build_offer))
    for supplier, material, country, processing, period in builds:
        i = index.get(((supplier, material, country, processing), period))
        if i is None:
            clipped.append(f"{supplier} / {material}: no build of this project can start "
                           f"in {period} in this case, dropped")
            continue
        chosen[i] = 1.0
    _fix(session, built.layout.columns[F.BUILD].index, chosen)


def _fix(session, columns: np.ndarray, values: np.ndarray) -> None:
    if len(columns):
        session.set_column_bounds(columns, values, values)
