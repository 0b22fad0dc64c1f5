"""Policy rules from the Policies sheet: country and group share limits and the HHI cap.
(`exclude` is applied as zero bounds on the offers' columns, see first_stage.)

Shares are of demand, σ_{m,c} = Σ_{o ∈ O_m, s(o) = c} x_o / D_m; every row is written in
units (multiplied through by D_m) so coefficients stay near 1.
"""

from __future__ import annotations

import numpy as np

from resilience.domain import HHI_BREAKPOINT_STEP
from resilience.formulation import families as F
from resilience.formulation.data import ModelData
from resilience.formulation.layout import ChordRowOwner, Layout, PolicyRowOwner


def _offers_by_stage_country(data: ModelData) -> dict[tuple[int, str, str], list[int]]:
    """(material, stage, country) → offers, skipping excluded offers (their x is 0)."""
    table: dict[tuple[int, str, str], list[int]] = {}
    for i, offer in enumerate(data.instance.offers):
        if data.excluded[i]:
            continue
        m = int(data.offer_material[i])
        table.setdefault((m, "origin", offer.country), []).append(i)
        table.setdefault((m, "processing", offer.processing_country), []).append(i)
    return table


def _materials_in_scope(data: ModelData, material: str) -> list[int]:
    if material == "*":
        return list(range(data.n_materials))
    return [data.material_ids.index(material)]


def define_share_policies(layout: Layout, data: ModelData) -> None:
    """max_country_share: Σ_{s(o)=c} x_o ≤ v D_m for the target country, each member of a
    target group, or every country for `*`.
    min_group_share / max_group_share: Σ_{s(o) ∈ G} x_o ≥ / ≤ v D_m.
    One row per (policy, material, stage, country or group). A max row with no offer
    behind it cannot bind and is skipped; a min row with none is kept, so an impossible
    minimum is reported as infeasible rather than ignored.
    """
    instance = data.instance
    table = _offers_by_stage_country(data)
    x = layout.columns[F.FIRM_ORDER].index
    rows: list[int] = []
    cols: list[int] = []
    lower: list[float] = []
    upper: list[float] = []
    owners: list[PolicyRowOwner] = []
    all_countries = [c.id for c in instance.countries]
    active = _active(instance)
    for p_index, policy in enumerate(instance.policies):
        if id(policy) not in active or policy.rule not in (
                "max_country_share", "min_group_share", "max_group_share"):
            continue
        targets = instance.target_countries(policy)
        members = [c for c in all_countries if c in targets]
        if policy.rule == "max_country_share":
            units = [(c, [c]) for c in members]
        else:
            units = [(policy.target, members)]
        for m in _materials_in_scope(data, policy.material):
            limit = policy.value * data.demand[m]
            for stage in policy.stages:
                for label, countries in units:
                    offers = [i for c in countries for i in table.get((m, stage, c), ())]
                    is_min = policy.rule == "min_group_share"
                    if not offers and (not is_min or policy.value <= 0):
                        continue
                    row = len(owners)
                    rows.extend([row] * len(offers))
                    cols.extend(int(x[i]) for i in offers)
                    lower.append(limit if is_min else -np.inf)
                    upper.append(np.inf if is_min else limit)
                    owners.append(PolicyRowOwner(p_index, m, label, stage))
    layout.add_rows(F.POLICY_SHARE, len(owners), rows, cols, np.ones(len(rows)),
                    np.array(lower), np.array(upper), owners=owners)


def define_hhi_policies(layout: Layout, data: ModelData) -> None:
    """HHI_m = 10,000 Σ_c σ_{m,c}² ≤ v, kept linear and conservative with chords of σ²
    between breakpoints b_j = 0, 0.05, …, 1:

        τ_{m,c} ≥ (b_j + b_{j+1}) Σ_{s(o)=c} x_o − b_j b_{j+1} D_m      (τ = D_m t)
        Σ_c τ_{m,c} ≤ (v / 10,000) D_m

    Exact at multiples of 0.05, never lets the true HHI exceed v. A chord whose interval
    starts above the largest share a country could reach (its capacity over demand) lies
    below σ² there and is left out: it could never be the one that binds.
    τ is shared by every HHI row on the same material and stage.
    """
    instance = data.instance
    table = _offers_by_stage_country(data)
    x = layout.columns[F.FIRM_ORDER].index
    active = _active(instance)
    hhi_policies = [(i, p) for i, p in enumerate(instance.policies)
                    if p.rule == "max_hhi" and id(p) in active]
    countries_of: dict[tuple[int, str], set[str]] = {}
    for (m, stage, c) in table:
        countries_of.setdefault((m, stage), set()).add(c)
    needed: dict[tuple[int, str], list[str]] = {}
    for _, policy in hhi_policies:
        for m in _materials_in_scope(data, policy.material):
            for stage in policy.stages:
                needed.setdefault((m, stage), sorted(countries_of.get((m, stage), ())))
    keys = [(m, stage, c) for (m, stage), countries in needed.items() for c in countries]
    demand_of_key = np.array([data.demand[m] for m, _, _ in keys])
    tau = layout.add_columns(F.HHI_SQUARE, len(keys), 0.0, demand_of_key,
                             scale=demand_of_key)
    tau_of = {key: int(tau.start + i) for i, key in enumerate(keys)}
    breakpoints = np.round(np.arange(0, 1 + 1e-9, HHI_BREAKPOINT_STEP), 10)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    owners: list = []
    for m, stage, c in keys:
        offers = table[(m, stage, c)]
        reach = min(1.0, sum(data.capacity[i] for i in offers) / data.demand[m])
        for lo, hi in zip(breakpoints[:-1], breakpoints[1:], strict=True):
            if lo >= reach and lo > 0:
                break
            row = len(owners)
            rows.extend([row] * (len(offers) + 1))
            cols.append(tau_of[(m, stage, c)])
            vals.append(1.0)
            cols.extend(int(x[i]) for i in offers)
            vals.extend([-(lo + hi)] * len(offers))
            lower.append(-lo * hi * data.demand[m])
            owners.append(ChordRowOwner(m, stage, c))
    layout.add_rows(F.HHI_CHORD, len(owners), rows, cols, vals, np.array(lower), np.inf,
                    owners=owners)
    rows, cols, vals, upper, owners = [], [], [], [], []
    for p_index, policy in hhi_policies:
        for m in _materials_in_scope(data, policy.material):
            for stage in policy.stages:
                row = len(owners)
                members = needed[(m, stage)]
                rows.extend([row] * len(members))
                cols.extend(tau_of[(m, stage, c)] for c in members)
                vals.extend([1.0] * len(members))
                upper.append(policy.value / 10_000.0 * data.demand[m])
                owners.append(PolicyRowOwner(p_index, m, "", stage))
    layout.add_rows(F.POLICY_HHI, len(owners), rows, cols, vals, -np.inf, np.array(upper),
                    owners=owners)


def _active(instance) -> set[int]:
    return {id(p) for p in instance.active_policies()}
