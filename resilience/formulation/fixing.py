"""Holding a given first-stage plan fixed in a built model (evaluate)."""

from __future__ import annotations

import numpy as np

from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel


def fix_first_stage(built: BuiltModel, session, lines, stockpile: dict[str, float]
                    ) -> list[str]:
    """Fix y, x, r and h to the plan by column bounds; returns what had to be cut.

    x_o is cut to the offer's capacity in this case and r_o to what capacity is left;
    y_o = 1 exactly where something is ordered or reserved; h_m is cut to its cap. The
    demand cap X_m ≤ D_m is lifted to the plan's own total, since a plan made in advance
    may exceed a demand that a shock has lowered.
    """
    data, layout = built.data, built.layout
    index = {(o.supplier, o.material, o.country, o.processing_country): i
             for i, o in enumerate(data.instance.offers)}
    x = np.zeros(data.n_offers)
    r = np.zeros(data.n_offers)
    clipped: list[str] = []
    for supplier, material, country, processing, quantity, reserve in lines:
        i = index.get((supplier, material, country, processing))
        if i is None:
            clipped.append(f"{supplier} / {material}: no such offer in this case, dropped")
            continue
        capacity = data.capacity[i]
        if quantity > capacity + 1e-9:
            clipped.append(f"{supplier} / {material}: firm order {quantity:,.6g} cut to "
                           f"capacity {capacity:,.6g}")
        x[i] = min(quantity, capacity)
        left = capacity - x[i]
        if reserve > 0 and np.isnan(data.reserve_cost[i]):
            clipped.append(f"{supplier} / {material}: reserve {reserve:,.6g} dropped (no "
                           "reserve price)")
            reserve = 0.0
        if reserve > left + 1e-9:
            clipped.append(f"{supplier} / {material}: reserve {reserve:,.6g} cut to "
                           f"{left:,.6g}")
        r[i] = min(reserve, left)
    y = ((x > 0) | (r > 0)).astype(float)
    _fix(session, layout.columns[F.CONTRACT].index, y)
    _fix(session, layout.columns[F.FIRM_ORDER].index, x)
    reservable = layout.maps[F.RESERVE]
    _fix(session, layout.columns[F.RESERVE].index, r[reservable])
    held = np.zeros(len(layout.maps[F.STOCK_HELD]))
    for j, m in enumerate(layout.maps[F.STOCK_HELD]):
        wanted = stockpile.get(data.material_ids[m], 0.0)
        cap = data.stock_cap[m]
        if wanted > cap + 1e-9:
            clipped.append(f"{data.material_ids[m]}: stock {wanted:,.6g} cut to its cap "
                           f"{cap:,.6g}")
        held[j] = min(wanted, cap)
    _fix(session, layout.columns[F.STOCK_HELD].index, held)
    totals = np.zeros(data.n_materials)
    np.add.at(totals, data.offer_material, x)
    session.set_column_bounds(layout.columns[F.FIRM_TOTAL].index, np.zeros(data.n_materials),
                              np.maximum(data.demand, totals))
    return clipped


def _fix(session, columns: np.ndarray, values: np.ndarray) -> None:
    if len(columns):
        session.set_column_bounds(columns, values, values)
