"""The product's model (SPEC §3, as written in resilience/formulation) built straight from
numpy arrays into `highspy.Highs().passModel(...)`: no Layout, no StandardForm, no code
shared with the package except the domain dataclasses it reads.

It is the yardstick for the build-speed benchmark, so it is written the way a careful
engineer would write a one-off direct build: one pass over the domain objects to pull
out flat arrays, then every family of columns and rows as a handful of numpy operations,
then one CSR matrix handed to HiGHS.

Columns and rows come in the same families and the same order as the product's
(resilience/formulation/build.py), which is what lets `main` compare the two models
entry by entry, not only by their sizes:

    columns  contract y, firm_order x, reserve r, stock_held h, firm_total X, lost ℓ,
             backup e, stock_drawn w, shortage u, [var_level η, tail_excess z], hhi_square τ
    rows     order_needs_contract, capacity, min_order, firm_total_sum, lost_supply,
             backup_limit, draw_within_stock, draw_within_loss, demand_cover, [cvar_tail],
             policy_share, hhi_chord, policy_hhi

It hands HiGHS the model unscaled, in the workbook's units. The product hands HiGHS a
scaled copy of its standard form (column scales: powers of two near each material's
demand; one money scale; row scales), so the check compares the product's unscaled
`StandardForm` (`built.form`) with what HiGHS holds from the direct build, not the two
HiGHS models.

Run `python -m benchmarks.direct_highspy [--sizes small,medium,large] [--no-solve]`
from the repository root: for each size it builds both models and checks

1. the product's form against the direct model: rows, columns, nonzeros, then every
   coefficient, bound, cost and integrality flag (bit for bit, or else to 1e-12);
2. that the scaling loses nothing: `form.scaling()` multiplied back by its scales is the
   form, bit for bit;
3. that the product's session handed HiGHS exactly `form.scaling()` (`getLp()` of the
   session's private `_highs`);

and on `small` solves both to optimality and prints both objectives.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field

import highspy
import numpy as np

if __package__ in (None, ""):  # run as a file: make `benchmarks` and `resilience` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from resilience.domain import Instance  # noqa: E402

STAGE_NAMES = ("origin", "processing")
HHI_STEP = 0.05
SHARE_RULES = ("max_country_share", "min_group_share", "max_group_share")


# ---- 1. domain objects → flat arrays (the only Python loops over offers) -------------
@dataclass
class Arrays:
    n_m: int
    n_c: int
    n_o: int
    n_k: int
    country_ids: list[str]
    # offers
    om: np.ndarray  # material index
    oc: np.ndarray  # origin country index
    oq: np.ndarray  # processing country index
    landed: np.ndarray
    cap: np.ndarray
    min_order: np.ndarray
    fixed: np.ndarray
    reserve: np.ndarray  # nan: no reservation
    # materials
    demand: np.ndarray
    penalty: np.ndarray
    stock_cost: np.ndarray  # nan: no stockpile
    stock_cap: np.ndarray  # inf: uncapped
    # scenarios (probability > 0, baseline last) and their hits
    prob: np.ndarray
    hit_k: np.ndarray
    hit_c: np.ndarray
    hit_m: np.ndarray  # -1 = every material
    hit_f: np.ndarray
    # policies (active ones, in sheet order): (index, rule, material index or -1,
    # country mask, stages, value)
    policies: list[tuple]
    risk_aversion: float
    alpha: float


def extract(instance: Instance) -> Arrays:
    mats = instance.materials
    m_index = {m.id: i for i, m in enumerate(mats)}
    country_ids = [c.id for c in instance.countries]
    c_index = {c: i for i, c in enumerate(country_ids)}
    n_c = len(country_ids)
    offers = instance.offers
    om = np.fromiter((m_index[o.material] for o in offers), np.int64, len(offers))
    oc = np.fromiter((c_index[o.country] for o in offers), np.int64, len(offers))
    oq = np.fromiter((c_index[o.processing_country] for o in offers), np.int64, len(offers))
    unit = np.fromiter((o.unit_cost for o in offers), float, len(offers))
    tariff = np.fromiter((o.tariff for o in offers), float, len(offers))
    cap = np.fromiter((o.capacity for o in offers), float, len(offers))
    min_order = np.fromiter((o.min_order for o in offers), float, len(offers))
    fixed = np.fromiter((o.fixed_cost for o in offers), float, len(offers))
    reserve = np.fromiter((math.nan if o.reserve_cost is None else o.reserve_cost
                           for o in offers), float, len(offers))

    # scenarios: explicit rows (or one per country with p > 0), then the baseline remainder
    if instance.scenario_rows is None:
        listed = [(c.disruption_prob, ((c.id, "*", 0.0),))
                  for c in instance.countries if c.disruption_prob > 0]
    else:
        listed = [(s.probability, tuple((h.country, h.material, h.capacity_factor)
                                        for h in s.hits))
                  for s in instance.scenario_rows
                  if s.whatif is None or s.whatif == instance.whatif]
    remainder = 1.0 - sum(p for p, _ in listed)
    if remainder > 1e-12:
        listed.append((remainder, ()))
    listed = [s for s in listed if s[0] > 0]  # before numbering: k counts kept scenarios
    hits = [(k, c_index[c], -1 if m == "*" else m_index[m], f)
            for k, (_, hs) in enumerate(listed) for c, m, f in hs]
    hit = np.array(hits, dtype=float).reshape(-1, 4)

    def members(target: str, kind: str) -> np.ndarray:
        if kind == "*":
            return np.ones(n_c, dtype=bool)
        if kind == "group":
            return np.array([target in c.groups for c in instance.countries], dtype=bool)
        return np.arange(n_c) == c_index[target]

    policies = []
    for p_index, p in enumerate(instance.policies):
        if not ((p.strategy is None or p.strategy == instance.strategy)
                and (p.whatif is None or p.whatif == instance.whatif)):
            continue
        stages = STAGE_NAMES if p.stage == "both" else (p.stage,)
        policies.append((p_index, p.rule, -1 if p.material == "*" else m_index[p.material],
                         members(p.target, p.target_kind),
                         tuple(STAGE_NAMES.index(s) for s in stages), p.value))
    s = instance.settings
    return Arrays(
        n_m=len(mats), n_c=n_c, n_o=len(offers), n_k=len(listed), country_ids=country_ids,
        om=om, oc=oc, oq=oq, landed=(1.0 + tariff) * unit, cap=cap, min_order=min_order,
        fixed=fixed, reserve=reserve,
        demand=np.array([m.demand for m in mats], dtype=float),
        penalty=np.array([m.shortage_penalty for m in mats], dtype=float),
        stock_cost=np.array([math.nan if m.stockpile_cost is None else m.stockpile_cost
                             for m in mats], dtype=float),
        stock_cap=np.array([math.inf if m.max_stockpile is None else m.max_stockpile
                            for m in mats], dtype=float),
        prob=np.array([p for p, _ in listed], dtype=float),
        hit_k=hit[:, 0].astype(np.int64), hit_c=hit[:, 1].astype(np.int64),
        hit_m=hit[:, 2].astype(np.int64), hit_f=hit[:, 3].copy(),
        policies=policies, risk_aversion=s.risk_aversion, alpha=s.cvar_alpha,
    )


# ---- 2. arrays → standard form -------------------------------------------------------
@dataclass
class DirectForm:
    """The direct build's own standard form, piece by piece (no relation to the
    product's `StandardForm`)."""

    col_cost: list = field(default_factory=list)
    col_lower: list = field(default_factory=list)
    col_upper: list = field(default_factory=list)
    integrality: list = field(default_factory=list)
    row_lower: list = field(default_factory=list)
    row_upper: list = field(default_factory=list)
    # row-wise matrix pieces: (starts relative to the piece, indices, values)
    a_start: list = field(default_factory=list)
    a_index: list = field(default_factory=list)
    a_value: list = field(default_factory=list)
    n_cols: int = 0
    n_rows: int = 0
    nnz: int = 0
    col_family: dict = field(default_factory=dict)  # name -> (start, size)
    row_family: dict = field(default_factory=dict)

    def cols(self, name: str, size: int, lower, upper, cost=0.0, integer: bool = False
             ) -> np.ndarray:
        self.col_family[name] = (self.n_cols, size)
        self.col_lower.append(np.broadcast_to(np.asarray(lower, float), (size,)))
        self.col_upper.append(np.broadcast_to(np.asarray(upper, float), (size,)))
        self.col_cost.append(np.broadcast_to(np.asarray(cost, float), (size,)))
        self.integrality.append(np.full(size, 1 if integer else 0, np.int32))
        index = np.arange(self.n_cols, self.n_cols + size)
        self.n_cols += size
        return index

    def rows(self, name: str, size: int, row, col, val, lower, upper,
             grouped: bool = False) -> None:
        """Rows lower ≤ A x ≤ upper from coordinate triplets with local row numbers;
        `grouped` says the triplets already come row by row."""
        row = np.asarray(row, np.int64)
        col = np.asarray(col, np.int64)
        val = np.broadcast_to(np.asarray(val, float), row.shape)
        if not grouped:
            order = np.argsort(row, kind="stable")
            row, col, val = row[order], col[order], val[order]
        start = np.zeros(size, np.int64)
        np.cumsum(np.bincount(row, minlength=size)[:-1], out=start[1:])
        self.row_family[name] = (self.n_rows, size)
        self.a_start.append(start + self.nnz)
        self.a_index.append(col)
        self.a_value.append(val)
        self.row_lower.append(np.broadcast_to(np.asarray(lower, float), (size,)))
        self.row_upper.append(np.broadcast_to(np.asarray(upper, float), (size,)))
        self.n_rows += size
        self.nnz += len(col)

    def arrays(self) -> tuple:
        cat = np.concatenate
        return (
            cat(self.col_cost), cat(self.col_lower), cat(self.col_upper),
            cat(self.row_lower), cat(self.row_upper),
            cat(self.a_start).astype(np.int32), cat(self.a_index).astype(np.int32),
            cat(self.a_value), cat(self.integrality),
        )


def interleave(*parts) -> np.ndarray:
    """[a0, b0, c0, a1, b1, c1, ...]: the entries of rows that have one entry per part."""
    return np.stack([np.asarray(p) for p in parts], axis=1).ravel()


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """concatenate(arange(c) for c in counts), without a Python loop."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    ends = np.cumsum(counts)
    return np.arange(total) - np.repeat(ends - counts, counts)


def assemble(a: Arrays) -> DirectForm:
    n_m, n_c, n_o, n_k = a.n_m, a.n_c, a.n_o, a.n_k
    lam = a.risk_aversion
    sf = DirectForm()
    demand_o = a.demand[a.om]
    stage_country = (a.oc, a.oq)

    # exclude: x = r = 0 for offers whose stage country is (in) the target
    excluded = np.zeros(n_o, dtype=bool)
    for _, rule, m, member, stages, _ in a.policies:
        if rule != "exclude":
            continue
        hit = np.zeros(n_o, dtype=bool)
        for s in stages:
            hit |= member[stage_country[s]]
        excluded |= hit & ((a.om == m) if m >= 0 else True)
    allowed = ~excluded

    # availability a_{k,o} = min(f_{k,c(o),m(o)}, f_{k,q(o),m(o)})
    f = np.ones((n_k, n_c, n_m))
    every = a.hit_m < 0
    np.minimum.at(f, (a.hit_k[every], a.hit_c[every]), a.hit_f[every][:, None])
    np.minimum.at(f, (a.hit_k[~every], a.hit_c[~every], a.hit_m[~every]), a.hit_f[~every])
    touched = np.zeros((n_k, n_c), dtype=bool)  # only offers of hit countries can lose
    touched[a.hit_k, a.hit_c] = True
    pk, po = np.nonzero(touched[:, a.oc] | touched[:, a.oq])  # by scenario, then offer
    av = np.minimum(f[pk, a.oc[po], a.om[po]], f[pk, a.oq[po], a.om[po]])
    lost_pair = av < 1.0
    hk, ho, ha = pk[lost_pair], po[lost_pair], av[lost_pair]

    # ---- columns -------------------------------------------------------------------
    y = sf.cols("contract", n_o, 0.0, allowed.astype(float), a.fixed, integer=True)
    x = sf.cols("firm_order", n_o, 0.0, np.where(allowed, np.minimum(a.cap, demand_o), 0.0),
                a.landed)
    res = np.flatnonzero(~np.isnan(a.reserve) & allowed)
    r = sf.cols("reserve", len(res), 0.0, a.cap[res], a.reserve[res])
    stocked = np.flatnonzero(~np.isnan(a.stock_cost))
    h = sf.cols("stock_held", len(stocked), 0.0,
                np.minimum(a.stock_cap[stocked], a.demand[stocked]), a.stock_cost[stocked])
    total = sf.cols("firm_total", n_m, 0.0, a.demand)

    lost_keys, lost_row_of_pair = np.unique(hk * n_m + a.om[ho], return_inverse=True)
    lost = sf.cols("lost", len(lost_keys), 0.0, a.demand[lost_keys % n_m])

    res_pos = np.full(n_o, -1)
    res_pos[res] = np.arange(len(res))
    avail_res = np.ones((n_k, len(res)))
    on_res = res_pos[ho] >= 0
    avail_res[hk[on_res], res_pos[ho[on_res]]] = ha[on_res]
    bk, bj = np.nonzero(avail_res > 0)
    b_avail = avail_res[bk, bj]
    b_offer = res[bj]
    weight = (1.0 - lam) * a.prob
    e = sf.cols("backup", len(bk), 0.0, b_avail * a.cap[b_offer],
                weight[bk] * a.landed[b_offer])

    is_stocked = np.zeros(n_m, dtype=bool)
    is_stocked[stocked] = True
    draw = is_stocked[lost_keys % n_m]
    draw_keys = lost_keys[draw]
    w = sf.cols("stock_drawn", len(draw_keys), 0.0, a.demand[draw_keys % n_m])
    u = sf.cols("shortage", n_k * n_m, 0.0, np.tile(a.demand, n_k),
                np.repeat(weight, n_m) * np.tile(a.penalty, n_k))
    if lam > 0:
        eta = sf.cols("var_level", 1, -np.inf, np.inf, lam)
        z = sf.cols("tail_excess", n_k, 0.0, np.inf, lam * a.prob / (1.0 - a.alpha))

    # HHI columns τ_{m,s,c}: one per country with an eligible offer, for every
    # (material, stage) some active max_hhi row covers; countries sorted by id
    hhi_pairs: dict[tuple[int, int], None] = {}
    for _, rule, m, _, stages, _ in a.policies:
        if rule == "max_hhi":
            for mm in (range(n_m) if m < 0 else (m,)):
                for s in stages:
                    hhi_pairs.setdefault((mm, s), None)
    key3 = [(a.om * 2 + s) * n_c + stage_country[s] for s in (0, 1)]  # (m, s, c) of offer
    eligible_cap = a.cap * allowed
    capsum = sum(np.bincount(key3[s][allowed], weights=eligible_cap[allowed],
                             minlength=n_m * 2 * n_c) for s in (0, 1))
    present = sum(np.bincount(key3[s][allowed], minlength=n_m * 2 * n_c) for s in (0, 1))
    by_name = np.argsort(np.array(a.country_ids, dtype=object))
    if hhi_pairs:
        pm, ps = np.array(list(hhi_pairs), dtype=np.int64).T
        grid = ((pm * 2 + ps)[:, None] * n_c + by_name[None, :])  # pair × country (by id)
        pair_of_key, _ = np.nonzero(present[grid] > 0)
        tau_key3 = grid[present[grid] > 0]
    else:
        pm = ps = pair_of_key = tau_key3 = np.zeros(0, np.int64)
    tau_m = tau_key3 // (2 * n_c)
    tau = sf.cols("hhi_square", len(tau_key3), 0.0, a.demand[tau_m])

    # ---- rows ----------------------------------------------------------------------
    offers = np.arange(n_o)
    big_m = np.minimum(a.cap, demand_o)
    sf.rows("order_needs_contract", n_o, np.repeat(offers, 2), interleave(x, y),
            interleave(np.ones(n_o), -big_m), -np.inf, 0.0, grouped=True)
    n_res = len(res)
    sf.rows("capacity", n_res, np.repeat(np.arange(n_res), 3), interleave(x[res], r, y[res]),
            interleave(np.ones(n_res), np.ones(n_res), -a.cap[res]), -np.inf, 0.0,
            grouped=True)
    mo = np.flatnonzero(a.min_order > 0)
    sf.rows("min_order", len(mo), np.repeat(np.arange(len(mo)), 2), interleave(x[mo], y[mo]),
            interleave(np.ones(len(mo)), -a.min_order[mo]), 0.0, np.inf, grouped=True)
    sf.rows("firm_total_sum", n_m, np.concatenate([np.arange(n_m), a.om]),
            np.concatenate([total, x]), np.concatenate([np.ones(n_m), -np.ones(n_o)]),
            0.0, 0.0)
    n_lost = len(lost_keys)
    sf.rows("lost_supply", n_lost, np.concatenate([np.arange(n_lost), lost_row_of_pair]),
            np.concatenate([lost, x[ho]]), np.concatenate([np.ones(n_lost), -(1.0 - ha)]),
            0.0, 0.0)
    n_b = len(bk)
    sf.rows("backup_limit", n_b, np.repeat(np.arange(n_b), 2), interleave(e, r[bj]),
            interleave(np.ones(n_b), -b_avail), -np.inf, 0.0, grouped=True)
    n_w = len(draw_keys)
    h_pos = np.full(n_m, -1)
    h_pos[stocked] = np.arange(len(stocked))
    sf.rows("draw_within_stock", n_w, np.repeat(np.arange(n_w), 2),
            interleave(w, h[h_pos[draw_keys % n_m]]), interleave(np.ones(n_w), -np.ones(n_w)),
            -np.inf, 0.0, grouped=True)
    sf.rows("draw_within_loss", n_w, np.repeat(np.arange(n_w), 2),
            interleave(w, lost[draw]), interleave(np.ones(n_w), -np.ones(n_w)),
            -np.inf, 0.0, grouped=True)
    n_u = n_k * n_m  # row (k, m) at k * n_m + m
    every_row = np.arange(n_u)
    sf.rows("demand_cover", n_u,
            np.concatenate([every_row, lost_keys, bk * n_m + a.om[b_offer], draw_keys,
                            every_row]),
            np.concatenate([total[every_row % n_m], lost, e, w, u]),
            np.concatenate([np.ones(n_u), -np.ones(n_lost), np.ones(n_b), np.ones(n_w),
                            np.ones(n_u)]),
            np.tile(a.demand, n_k), np.inf)
    if lam > 0:
        scen = np.arange(n_k)
        sf.rows("cvar_tail", n_k,
                np.concatenate([scen, scen, np.repeat(scen, n_m), bk]),
                np.concatenate([z, np.full(n_k, eta[0]), u, e]),
                np.concatenate([np.ones(n_k), np.ones(n_k), -np.tile(a.penalty, n_k),
                                -a.landed[b_offer]]),
                0.0, np.inf)

    # policy_share: one row per (policy, material, stage, country) for max_country_share,
    # per (policy, material, stage) for group shares; rows with no offer dropped, except
    # a positive minimum (kept so that an impossible minimum is infeasible)
    p_row, p_col, p_lower, p_upper = [], [], [], []
    n_share = 0
    for _, rule, m, member, stages, value in a.policies:
        if rule not in SHARE_RULES:
            continue
        scope = (np.ones(n_o, dtype=bool) if m < 0 else a.om == m) & allowed
        n_mat = n_m if m < 0 else 1
        mat_pos = a.om if m < 0 else np.zeros(n_o, np.int64)
        per_country = rule == "max_country_share"
        width = n_c if per_country else 1
        keys, cols = [], []
        for si, s in enumerate(stages):
            on = scope & member[stage_country[s]]
            c_part = stage_country[s][on] if per_country else 0
            keys.append((mat_pos[on] * len(stages) + si) * width + c_part)
            cols.append(x[on])
        keys = np.concatenate(keys)
        cols = np.concatenate(cols)
        is_min = rule == "min_group_share"
        if is_min and value > 0:
            row_keys = np.arange(n_mat * len(stages) * width)
        else:
            row_keys = np.unique(keys)
        local = np.searchsorted(row_keys, keys)
        key_m = row_keys // (len(stages) * width)
        limit = value * a.demand[key_m if m < 0 else np.full(len(row_keys), m)]
        p_row.append(local + n_share)
        p_col.append(cols)
        p_lower.append(limit if is_min else np.full(len(row_keys), -np.inf))
        p_upper.append(np.full(len(row_keys), np.inf) if is_min else limit)
        n_share += len(row_keys)
    if n_share:
        sf.rows("policy_share", n_share, np.concatenate(p_row), np.concatenate(p_col), 1.0,
                np.concatenate(p_lower), np.concatenate(p_upper))

    # hhi_chord: τ ≥ (b_j + b_{j+1}) Σ x − b_j b_{j+1} D_m for the chords whose interval
    # starts below the share the country can reach (the first chord always)
    n_tau = len(tau_key3)
    if n_tau:
        bp = np.round(np.arange(0, 1 + 1e-9, HHI_STEP), 10)
        reach = np.minimum(1.0, capsum[tau_key3] / a.demand[tau_m])
        n_chords = np.maximum(1, np.searchsorted(bp[:-1], reach, side="left"))
        chord_start = np.concatenate([[0], np.cumsum(n_chords)[:-1]])
        j = ragged_arange(n_chords)
        key_of_chord = np.repeat(np.arange(n_tau), n_chords)
        lo, hi = bp[j], bp[j + 1]
        # eligible offers of each τ key, one entry per chord of that key
        tau_of_key3 = np.full(n_m * 2 * n_c, -1)
        tau_of_key3[tau_key3] = np.arange(n_tau)
        o_key = np.concatenate([tau_of_key3[key3[s]] for s in (0, 1)])
        o_col = np.concatenate([x, x])
        on = (o_key >= 0) & np.concatenate([allowed, allowed])
        o_key, o_col = o_key[on], o_col[on]
        reps = n_chords[o_key]
        o_chord = np.repeat(chord_start[o_key], reps) + ragged_arange(reps)
        n_ch = len(j)
        sf.rows("hhi_chord", n_ch,
                np.concatenate([np.arange(n_ch), o_chord]),
                np.concatenate([tau[key_of_chord], np.repeat(o_col, reps)]),
                np.concatenate([np.ones(n_ch), -(lo + hi)[o_chord]]),
                -lo * hi * a.demand[tau_m[key_of_chord]], np.inf)
        # policy_hhi: Σ_c τ ≤ (v / 10,000) D_m per (policy, material, stage)
        pair_index = {pair: i for i, pair in enumerate(hhi_pairs)}
        first = np.searchsorted(pair_of_key, np.arange(len(pm)), side="left")
        last = np.searchsorted(pair_of_key, np.arange(len(pm)), side="right")
        rows, cols, upper = [], [], []
        for _, rule, m, _, stages, value in a.policies:
            if rule != "max_hhi":
                continue
            for mm in (range(n_m) if m < 0 else (m,)):
                for s in stages:
                    i = pair_index[(mm, s)]
                    rows.append(np.full(last[i] - first[i], len(upper)))
                    cols.append(tau[first[i]:last[i]])
                    upper.append(value / 10_000.0 * a.demand[mm])
        sf.rows("policy_hhi", len(upper), np.concatenate(rows), np.concatenate(cols),
                1.0, -np.inf, np.array(upper), grouped=True)
    return sf


# ---- 3. standard form → HiGHS ----------------------------------------------------------
def quiet_highs() -> highspy.Highs:
    """highspy prints a banner on stdout when constructed; keep the benchmark's output
    clean (the product's adapter does the same)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    return h


@dataclass
class DirectModel:
    highs: highspy.Highs
    form: DirectForm
    seconds: dict[str, float]


def build(instance: Instance, threads: int = 1) -> DirectModel:
    t0 = time.perf_counter()
    arrays = extract(instance)
    t1 = time.perf_counter()
    sf = assemble(arrays)
    cost, cl, cu, rl, ru, start, index, value, integrality = sf.arrays()
    t2 = time.perf_counter()
    h = quiet_highs()
    h.setOptionValue("threads", int(threads))
    status = h.passModel(sf.n_cols, sf.n_rows, sf.nnz, 2, 1, 0.0, cost, cl, cu, rl, ru,
                         start, index, value, integrality)
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS refused the direct model")
    t3 = time.perf_counter()
    return DirectModel(h, sf, {"extract": t1 - t0, "assemble": t2 - t1, "pass": t3 - t2,
                               "total": t3 - t0})


# ---- comparison with the product ---------------------------------------------------------
def lp_arrays(h: highspy.Highs):
    """The model HiGHS holds, as (column-wise scipy matrix, dict of vectors)."""
    import scipy.sparse as sp

    lp = h.getLp()
    a = lp.a_matrix_
    arrays = (np.asarray(a.value_, float), np.asarray(a.index_, np.int64),
              np.asarray(a.start_, np.int64))
    shape = (lp.num_row_, lp.num_col_)
    rowwise = a.format_ == highspy.MatrixFormat.kRowwise
    matrix = sp.csr_matrix(arrays, shape=shape) if rowwise else sp.csc_matrix(arrays,
                                                                              shape=shape)
    vectors = {
        "col_cost": np.asarray(lp.col_cost_, float),
        "col_lower": np.asarray(lp.col_lower_, float),
        "col_upper": np.asarray(lp.col_upper_, float),
        "row_lower": np.asarray(lp.row_lower_, float),
        "row_upper": np.asarray(lp.row_upper_, float),
        "integrality": np.array([int(v) for v in lp.integrality_] or [0] * lp.num_col_),
    }
    return matrix, vectors


def form_arrays(form):
    """The product's standard form (unscaled, the workbook's units), in `lp_arrays`' shape."""
    return form.matrix, {
        "col_cost": np.asarray(form.costs, float),
        "col_lower": np.asarray(form.col_lower, float),
        "col_upper": np.asarray(form.col_upper, float),
        "row_lower": np.asarray(form.row_lower, float),
        "row_upper": np.asarray(form.row_upper, float),
        "integrality": np.asarray(form.integer, dtype=int),
    }


def scaled_arrays(form):
    """What the product's session hands HiGHS: `form.scaling()`, in `lp_arrays`' shape."""
    s = form.scaling()
    return s.matrix, {
        "col_cost": s.costs, "col_lower": s.col_lower, "col_upper": s.col_upper,
        "row_lower": s.row_lower, "row_upper": s.row_upper,
        "integrality": np.asarray(form.integer, dtype=int),
    }


def unscaled_arrays(form):
    """`form.scaling()` multiplied back by its scales. The scales are powers of two, so
    this is the form again, bit for bit, if the scaling loses nothing."""
    import scipy.sparse as sp

    s = form.scaling()
    matrix = sp.csr_matrix(sp.diags(s.row_scale) @ s.matrix @ sp.diags(1.0 / s.col_scale))
    return matrix, {
        "col_cost": s.costs * s.cost_scale / s.col_scale,
        "col_lower": s.col_lower * s.col_scale, "col_upper": s.col_upper * s.col_scale,
        "row_lower": s.row_lower * s.row_scale, "row_upper": s.row_upper * s.row_scale,
        "integrality": np.asarray(form.integer, dtype=int),
    }


def compare(product, direct, rtol: float = 1e-12) -> list[str]:
    """Differences between two models given as (matrix, vectors), entry by entry (empty
    list: identical). With rtol 0 the comparison is exact."""
    pa, pv = product
    da, dv = direct
    problems = []
    if pa.shape != da.shape:
        return [f"shape: product {pa.shape} vs direct {da.shape}"]
    if pa.nnz != da.nnz:
        problems.append(f"nonzeros: product {pa.nnz} vs direct {da.nnz}")
    diff = (pa - da).tocoo()
    largest = max(1.0, float(abs(pa).max()) if pa.nnz else 1.0)
    bad = np.abs(diff.data) > rtol * largest
    if bad.any():
        r, c = diff.row[bad], diff.col[bad]
        problems.append(f"{len(r)} matrix entries differ, first at row {r[0]}, col {c[0]}")
    for name in pv:
        p, d = pv[name], dv[name]
        with np.errstate(invalid="ignore"):  # inf - inf where both are infinite
            same = (p == d) | (np.abs(p - d) <= rtol * np.maximum(1.0, np.abs(p)))
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            problems.append(f"{name}: {int((~same).sum())} differ, first at {i}: "
                            f"product {p[i]} vs direct {d[i]}")
    return problems


def solve_highs(h: highspy.Highs, time_limit: float, gap: float) -> tuple[str, float, float]:
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("mip_abs_gap", 0.0)
    started = time.perf_counter()
    h.run()
    info = h.getInfo()
    return (h.modelStatusToString(h.getModelStatus()), info.objective_function_value,
            time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import inspect

    from benchmarks.instances import SIZES, describe, generate
    from resilience.formulation.build import build_model
    from resilience.solver import SolverOptions
    from resilience.solver.highs import HighsSession

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-solve", action="store_true", help="skip the small solve")
    parser.add_argument("--time-limit", type=float, default=300.0)
    args = parser.parse_args(argv)
    failures = 0
    for size in args.sizes.split(","):
        if size not in SIZES:
            parser.error(f"unknown size {size}")
        instance = generate(size, args.seed)
        print(f"== {size}: {describe(instance)}")
        built = build_model(instance)
        form = built.form
        options = SolverOptions(time_limit=args.time_limit, mip_gap=0.0, threads=1)
        # In process, so that `session._highs` holds the model: by default a big form is
        # left to a child process at solve time (`isolate`, where the session has it).
        in_process = {"isolate": False} if "isolate" in inspect.signature(
            HighsSession.__init__).parameters else {}
        session = HighsSession(form, options, **in_process)
        direct = build(instance)
        product_highs = session._highs  # the model exactly as the product handed it over
        p_counts = (form.n_rows, form.n_cols, form.nnz)
        d_counts = (direct.highs.getNumRow(), direct.highs.getNumCol(), direct.highs.getNumNz())
        print(f"   rows/cols/nnz  product form {p_counts}  direct {d_counts}  "
              f"{'same' if p_counts == d_counts else 'DIFFERENT'}")
        # 1. the product's unscaled form against what HiGHS holds from the direct build
        exact = compare(form_arrays(form), lp_arrays(direct.highs), rtol=0.0)
        # not bit for bit (summation order, say): the same model if equal to rounding
        problems = compare(form_arrays(form), lp_arrays(direct.highs)) if exact else []
        print("   form vs direct, entry by entry: "
              + ("identical, bit for bit (matrix, bounds, costs, integrality)" if not exact
                 else "identical to 1e-12 relative, not bit for bit: " + "; ".join(exact)
                 if not problems else "; ".join(problems)))
        # 2. the scaling is exact: multiplied back by its power-of-two scales, the scaled
        #    arrays are the form bit for bit
        s = form.scaling_structure()
        unscaled = compare(unscaled_arrays(form), form_arrays(form), rtol=0.0)
        print(f"   scaled form x its scales vs form (exact): "
              f"{'identical' if not unscaled else '; '.join(unscaled)}  (cost scale "
              f"{s.cost_scale:g}; column scales 2^{int(np.log2(s.col_scale.min()))}.."
              f"2^{int(np.log2(s.col_scale.max()))}; row scales "
              f"2^{int(np.log2(s.row_scale.min()))}..2^{int(np.log2(s.row_scale.max()))})")
        # 3. the hand-off: HiGHS holds the scaled form, as the session passed it
        handed = compare(scaled_arrays(form), lp_arrays(product_highs), rtol=0.0)
        print(f"   product HiGHS model vs form.scaling() (exact): "
              f"{'identical' if not handed else '; '.join(handed)}")
        failures += bool(problems) or bool(unscaled) or bool(handed) or p_counts != d_counts
        if size == "small" and not args.no_solve:
            outcome = session.solve()
            d_status, d_obj, d_sec = solve_highs(direct.highs, args.time_limit, 0.0)
            print(f"   solved to optimality (mip_rel_gap 0; the product's model scaled, the "
                  f"direct one not):\n"
                  f"     product  {outcome.message:<10} objective {outcome.objective:.6f}"
                  f"  ({outcome.seconds:.1f} s, bound {outcome.bound:.6f})\n"
                  f"     direct   {d_status:<10} objective {d_obj:.6f}  ({d_sec:.1f} s)")
            agree = abs(outcome.objective - d_obj) <= 1e-6 * max(1.0, abs(d_obj))
            print(f"     {'same objective' if agree else 'OBJECTIVES DIFFER'} "
                  f"(difference {outcome.objective - d_obj:.3g})")
            failures += not agree
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
