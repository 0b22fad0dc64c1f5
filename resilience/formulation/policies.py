"""Policy rules from the Policies sheet: country and group share limits and the HHI cap.
(`exclude` is applied as zero bounds on the offers' columns, see first_stage.)

Shares are of demand, σ_{m,c} = Σ_{o ∈ O_m, s(o) = c} x_o / D_m; every row is written in
units (multiplied through by D_m) so coefficients stay near 1.

Each family is built in one pass over all its rows with numpy, not row by row: every
allowed offer gets the key of the row it belongs to, (material, stage, country or
group), and the keys become local row numbers with `np.unique` / `np.searchsorted`. The
triplets come out row by row, each row's offers in the order the rows have always listed
them (by country as the Countries sheet orders them, then by offer), so a row's activity
sums the same terms in the same order as before.
"""

from __future__ import annotations

import numpy as np

from resilience.domain import ALL_STAGES, HHI_BREAKPOINT_STEP
from resilience.formulation import families as F
from resilience.formulation.data import ModelData
from resilience.formulation.layout import ChordRowOwner, Layout, PolicyRowOwner


def _materials_in_scope(data: ModelData, policy) -> list[int]:
    """The material items a row constrains: its materials, in every period from its
    from_period on where the material has demand (SPEC §7: where D_{m,t} = 0 shares are
    not defined and policies do not apply). Period by period, materials in order."""
    if policy.material == "*":
        materials = range(data.n_materials)
    else:
        materials = [data.material_ids.index(policy.material)]
    first = data.instance.period_index(policy.from_period, 0)
    n_m = data.n_materials
    return [t * n_m + m for t in range(first, data.n_periods) for m in materials
            if data.demand[t * n_m + m] > 0]


def _ragged_arange(counts: np.ndarray) -> np.ndarray:
    """0, 1, …, counts[0] − 1, 0, 1, …, counts[1] − 1, …: the position of each entry
    within its group, for groups of the given sizes laid end to end."""
    counts = np.asarray(counts, dtype=np.int64)
    ends = np.cumsum(counts)
    return np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) \
        - np.repeat(ends - counts, counts)


def define_share_policies(layout: Layout, data: ModelData) -> None:
    """max_country_share: Σ_{s(o)=c} x_o ≤ v D_m for the target country, each member of a
    target group, or every country for `*`.
    min_group_share / max_group_share: Σ_{s(o) ∈ G} x_o ≥ / ≤ v D_m.
    One row per (policy, material, stage, country or group). A max row with no offer
    behind it cannot bind and is skipped; a min row with none is kept, so an impossible
    minimum is reported as infeasible rather than ignored.

    Per policy: the allowed offers o of the materials in scope whose stage country s(o)
    is a target member, taken by (s(o), o) — Countries-sheet order, then offer order —
    each with the key of its row,
        key = (position of m in scope · |stages| + stage) · width + (s(o) if per country),
    width = |countries| for max_country_share (a row per country), 1 for a group row.
    The rows are the distinct keys in ascending order (every key for a kept min row),
    i.e. by material, stage, country; a stable sort by key lays the triplets out row by
    row with each row's offers in (country, offer) order.
    """
    instance = data.instance
    n_known = len(instance.countries)  # countries that can own a row
    stage_country = data.offer_stage_country
    ids = data.country_ids
    n_c = len(ids)
    x0 = layout.columns[F.FIRM_ORDER].start
    allowed = ~data.excluded
    # each stage's offers ordered by (country at that stage, offer): the order in which a
    # group row has always listed its offers (country by country)
    by_country = [np.argsort(stage_country[s], kind="stable")
                  for s in range(len(ALL_STAGES))]
    active = _active(instance)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    lower: list[np.ndarray] = []
    upper: list[np.ndarray] = []
    owners: list[PolicyRowOwner] = []
    n_rows = 0
    for p_index, policy in enumerate(instance.policies):
        if id(policy) not in active or policy.rule not in (
                "max_country_share", "min_group_share", "max_group_share"):
            continue
        targets = instance.target_countries(policy)
        member = np.array([c in targets for c in ids[:n_known]] + [False] * (n_c - n_known),
                          dtype=bool)
        per_country = policy.rule == "max_country_share"
        is_min = policy.rule == "min_group_share"
        mats = _materials_in_scope(data, policy)
        mat_pos = np.full(data.n_material_items, -1, dtype=np.int64)
        mat_pos[mats] = np.arange(len(mats))
        stages = policy.stages
        n_s = len(stages)
        width = n_c if per_country else 1
        in_scope = allowed & (mat_pos[data.offer_material] >= 0)
        keys, offers = [], []
        for si, stage in enumerate(stages):
            country = stage_country[ALL_STAGES.index(stage)]
            order = by_country[ALL_STAGES.index(stage)]
            on = order[in_scope[order] & member[country[order]]]
            keys.append((mat_pos[data.offer_material[on]] * n_s + si) * width
                        + (country[on] if per_country else 0))
            offers.append(on)
        key = np.concatenate(keys)
        offer = np.concatenate(offers)
        if is_min and policy.value > 0:  # kept with or without offers behind it
            row_keys = np.arange(len(mats) * n_s, dtype=np.int64)
        else:
            row_keys = np.unique(key)
        order = np.argsort(key, kind="stable")
        rows.append(np.searchsorted(row_keys, key[order]) + n_rows)
        cols.append(offer[order] + x0)
        m_of = np.asarray(mats, dtype=np.int64)[row_keys // (n_s * width)]
        limit = policy.value * data.demand[m_of]  # v D_m
        lower.append(limit if is_min else np.full(len(row_keys), -np.inf))
        upper.append(np.full(len(row_keys), np.inf) if is_min else limit)
        n_new = len(row_keys)
        stage_of = [stages[s] for s in ((row_keys // width) % n_s).tolist()]
        label_of = [ids[c] for c in (row_keys % width).tolist()] if per_country \
            else [policy.target] * n_new
        owners.extend(map(PolicyRowOwner, [p_index] * n_new, m_of.tolist(), label_of, stage_of))
        n_rows += len(row_keys)
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    layout.add_rows(F.POLICY_SHARE, n_rows, row,
                    np.concatenate(cols) if cols else row, np.ones(len(row)),
                    np.concatenate(lower) if lower else np.zeros(0),
                    np.concatenate(upper) if upper else np.zeros(0), owners=owners)


def define_hhi_policies(layout: Layout, data: ModelData) -> None:
    """HHI_m = 10,000 Σ_c σ_{m,c}² ≤ v, kept linear and conservative with chords of σ²
    between breakpoints b_j = 0, 0.05, …, 1:

        τ_{m,c} ≥ (b_j + b_{j+1}) Σ_{s(o)=c} x_o − b_j b_{j+1} D_m      (τ = D_m t)
        Σ_c τ_{m,c} ≤ (v / 10,000) D_m

    Exact at multiples of 0.05, never lets the true HHI exceed v. A chord whose interval
    starts above the largest share a country could reach (its capacity over demand) lies
    below σ² there and is left out: it could never be the one that binds. So the chords
    of (m, stage, c) are j = 0 … J − 1 with J = max(1, #{j : b_j < reach}),
    reach = min(1, Σ_{s(o)=c} U_o / D_m).
    τ is shared by every HHI row on the same material and stage: one τ per (material,
    stage) an HHI row needs and per country with an allowed offer there, by material and
    stage in order of first need, countries by name.
    """
    instance = data.instance
    stage_country = data.offer_stage_country
    ids = data.country_ids
    n_c, n_m, n_s = len(ids), data.n_material_items, len(ALL_STAGES)
    x0 = layout.columns[F.FIRM_ORDER].start
    allowed = ~data.excluded
    active = _active(instance)
    hhi_policies = [(i, p) for i, p in enumerate(instance.policies)
                    if p.rule == "max_hhi" and id(p) in active]
    needed: dict[tuple[int, str], int] = {}  # (material, stage) → its place
    for _, policy in hhi_policies:
        for m in _materials_in_scope(data, policy):
            for stage in policy.stages:
                needed.setdefault((m, stage), len(needed))
    # key3 = (material · |stages| + stage) · |countries| + country, per allowed offer/stage
    key3 = [(data.offer_material * n_s + s) * n_c + stage_country[s] for s in range(n_s)]
    n_key3 = n_m * n_s * n_c
    present = np.zeros(n_key3, dtype=np.int64)
    capacity = np.zeros(n_key3)  # Σ_{s(o)=c} U_o, summed offer by offer
    for s in range(n_s):
        present += np.bincount(key3[s][allowed], minlength=n_key3)
        capacity += np.bincount(key3[s][allowed], weights=data.capacity[allowed],
                                minlength=n_key3)
    by_name = np.argsort(np.array(ids, dtype=object), kind="stable")
    if needed:
        pair_m, pair_s = np.array([(m, ALL_STAGES.index(s)) for m, s in needed],
                                  dtype=np.int64).reshape(-1, 2).T
        grid = (pair_m * n_s + pair_s)[:, None] * n_c + by_name[None, :]
        has_offer = present[grid] > 0
        pair_of_tau = np.nonzero(has_offer)[0]
        tau_key3 = grid[has_offer]
    else:
        pair_of_tau = tau_key3 = np.zeros(0, np.int64)
    n_tau = len(tau_key3)
    tau_m = tau_key3 // (n_s * n_c)
    demand_of_tau = data.demand[tau_m]
    tau = layout.add_columns(F.HHI_SQUARE, n_tau, 0.0, demand_of_tau,
                             scale=data.quantity_scale[tau_m])

    # chords: J chords per τ, row by row; each row τ then the key's offers in offer order
    breakpoints = np.round(np.arange(0, 1 + 1e-9, HHI_BREAKPOINT_STEP), 10)
    reach = np.minimum(1.0, capacity[tau_key3] / demand_of_tau)
    n_chords = np.maximum(1, np.searchsorted(breakpoints[:-1], reach, side="left"))
    tau_of_chord = np.repeat(np.arange(n_tau), n_chords)
    j = _ragged_arange(n_chords)
    lo, hi = breakpoints[j], breakpoints[j + 1]
    tau_of_key3 = np.full(n_key3, -1, dtype=np.int64)
    tau_of_key3[tau_key3] = np.arange(n_tau)
    entry_tau = np.concatenate([tau_of_key3[key3[s]] for s in range(n_s)])
    entry_offer = np.tile(np.arange(data.n_offers, dtype=np.int64), n_s)
    keep = (entry_tau >= 0) & np.tile(allowed, n_s)
    entry_tau, entry_offer = entry_tau[keep], entry_offer[keep]
    order = np.argsort(entry_tau, kind="stable")  # by τ, then offer
    offers_of_tau = entry_offer[order]
    n_offers = np.bincount(entry_tau, minlength=n_tau)
    first_offer = np.cumsum(n_offers) - n_offers
    width = 1 + n_offers[tau_of_chord]  # entries per chord row
    n_chord = len(tau_of_chord)
    chord = np.repeat(np.arange(n_chord, dtype=np.int64), width)
    place = _ragged_arange(width)  # 0: τ, 1…: the offers
    is_tau = place == 0
    entry_key = tau_of_chord[chord]
    cols = np.empty(len(chord), dtype=np.int64)
    cols[is_tau] = tau.start + tau_of_chord
    on_x = ~is_tau
    cols[on_x] = x0 + offers_of_tau[first_offer[entry_key[on_x]] + place[on_x] - 1]
    vals = np.where(is_tau, 1.0, -(lo + hi)[chord])
    owners = list(map(ChordRowOwner, tau_m[tau_of_chord].tolist(),
                      [ALL_STAGES[s]
                       for s in ((tau_key3[tau_of_chord] // n_c) % n_s).tolist()],
                      [ids[c] for c in (tau_key3[tau_of_chord] % n_c).tolist()]))
    layout.add_rows(F.HHI_CHORD, n_chord, chord, cols, vals,
                    -lo * hi * data.demand[tau_m[tau_of_chord]], np.inf, owners=owners)

    # limits: Σ_c τ_{m,c} over the τ of the row's (material, stage), in τ order
    first = np.searchsorted(pair_of_tau, np.arange(len(needed)), side="left")
    last = np.searchsorted(pair_of_tau, np.arange(len(needed)), side="right")
    rows, cols_, upper, policy_owners = [], [], [], []
    for p_index, policy in hhi_policies:
        for m in _materials_in_scope(data, policy):
            for stage in policy.stages:
                i = needed[(m, stage)]
                rows.append(np.full(last[i] - first[i], len(policy_owners), dtype=np.int64))
                cols_.append(tau.start + np.arange(first[i], last[i], dtype=np.int64))
                upper.append(policy.value / 10_000.0 * data.demand[m])
                policy_owners.append(PolicyRowOwner(p_index, m, "", stage))
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    layout.add_rows(F.POLICY_HHI, len(policy_owners), row,
                    np.concatenate(cols_) if cols_ else row, np.ones(len(row)), -np.inf,
                    np.array(upper), owners=policy_owners)


def _active(instance) -> set[int]:
    return {id(p) for p in instance.active_policies()}
