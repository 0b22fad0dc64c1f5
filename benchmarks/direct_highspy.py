"""The product's model (SPEC v2: §3 and the §7 horizon, as written in
resilience/formulation) built straight from numpy arrays into
`highspy.Highs().passModel(...)`: no Layout, no StandardForm, no code shared with the
package except the domain dataclasses it reads (their fields only: scenarios, demand,
windows, weights and exclusions are worked out here from the SPEC, not by the domain's
helper methods).

It is the yardstick for the build-speed benchmark, so it is written the way a careful
engineer would write a one-off direct build: one pass over the domain objects to pull
out flat arrays, then every family of columns and rows as a handful of numpy operations,
then one CSR matrix handed to HiGHS.

The model is indexed over what exists, period by period (t = 0 … T − 1; a workbook
without a Periods sheet is one period and the model is the v1 one with the §3 change):

- offer item (o, t): offer o in a period of its window where its material has demand
  (a project from available_from + lead_time on: before that it cannot be online);
  items in order of t, then o;
- material item t · M + m; scenario item (k, t): a scenario present in t with positive
  probability (its rows for t and for every period merged by name; `baseline` the
  period's remainder), in order of t, then the sheet's order;
- pairs keyed k · M + m (k the scenario item); lost supply ℓ only where some offer item
  of (m, t) is hit in k; backup e and spot v only there (they only replace lost supply).

Columns and rows come in the same families and the same order as the product's
(resilience/formulation/build.py), which is what lets `main` compare the two models
entry by entry, not only by their sizes:

    columns  contract y, firm_order x, reserve r, stock_held h, firm_total X,
             stock_added g, build b, lost ℓ, backup e, spot v, stock_drawn w,
             shortage u, [var_level η_t, tail_excess z], hhi_square τ
    rows     order_needs_contract, capacity, min_order, firm_total_sum, stock_change,
             build_once, online, lost_supply, backup_limit, spot_online,
             draw_within_stock, replace_within_loss, demand_cover, [cvar_tail],
             policy_share, hhi_chord, policy_hhi

Where the SPEC leaves a choice (a bound tightened without changing the optimum, a row
left out because a bound says it already), this build makes the product's documented
choice; each is noted where it is made.

It hands HiGHS the model unscaled, in the workbook's units. The product hands HiGHS a
scaled copy of its standard form (column scales: powers of two near each material's
demand; one money scale; row scales), so the check compares the product's unscaled
`StandardForm` (`built.form`) with what HiGHS holds from the direct build, not the two
HiGHS models.

Run `python -m benchmarks.direct_highspy [--sizes small,medium,large,horizon]
[--no-solve] [--fuzz N]` from the repository root: for each size it builds both models
and checks

1. the product's form against the direct model: family by family sizes, then every
   coefficient, bound, cost and integrality flag (bit for bit, or else to 1e-12);
2. that the scaling loses nothing: `form.scaling()` multiplied back by its scales is the
   form, bit for bit;
3. that the product's session handed HiGHS exactly `form.scaling()` (`getLp()` of the
   session's private `_highs`);

and on `small` solves both to optimality and prints both objectives. `--fuzz N` does
check 1 on N small random horizon instances (`random_instance`: windows, projects,
spot, owners, zero demand, period-specific scenarios, policies from a period) and
solves each pair to compare optima.
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

STAGE_NAMES = ("origin", "processing", "owner")  # `both` = origin and processing
HHI_STEP = 0.05
SHARE_RULES = ("max_country_share", "min_group_share", "max_group_share")


# ---- 1. domain objects → flat arrays (the only Python loops over offers) -------------
@dataclass
class Arrays:
    n_m: int
    n_c: int
    n_o: int
    n_t: int
    n_k: int  # scenario items
    country_ids: list[str]
    delta: np.ndarray  # δ_t
    # offers
    om: np.ndarray  # material index
    stage_c: np.ndarray  # (3, n_o): origin, processing, owner country index
    landed: np.ndarray
    cap: np.ndarray
    min_order: np.ndarray
    fixed: np.ndarray
    reserve: np.ndarray  # nan: no reservation
    spot: np.ndarray  # V_o
    capex: np.ndarray  # nan: not a project
    lead: np.ndarray  # 0 unless a project
    first: np.ndarray  # window, period indices
    last: np.ndarray
    # materials; demand per material item t · M + m
    demand: np.ndarray
    penalty: np.ndarray
    stock_cost: np.ndarray  # nan: no stockpile
    stock_cap: np.ndarray  # inf: uncapped
    initial: np.ndarray  # H_m
    stock_price: np.ndarray  # s_m
    # scenario items (probability > 0, by period, the period's baseline last) and hits
    prob: np.ndarray
    surge: np.ndarray
    scen_t: np.ndarray
    hit_k: np.ndarray
    hit_c: np.ndarray
    hit_m: np.ndarray  # -1 = every material
    hit_f: np.ndarray
    # policies (active ones, in sheet order): (index, rule, material index or -1,
    # country mask, stage indices, value, first period it applies in)
    policies: list[tuple]
    risk_aversion: float
    alpha: float


def extract(instance: Instance) -> Arrays:
    mats = instance.materials
    m_index = {m.id: i for i, m in enumerate(mats)}
    n_m = len(mats)
    country_ids = [c.id for c in instance.countries]
    c_index = {c: i for i, c in enumerate(country_ids)}
    offers = instance.offers
    n_o = len(offers)
    for o in offers:  # a country only an offer names (tests may build such instances)
        for c in (o.country, o.processing_country, o.owner_country or o.country):
            if c not in c_index:
                c_index[c] = len(country_ids)
                country_ids.append(c)
    n_c = len(country_ids)

    # the horizon: one period (id "") without a Periods sheet
    period_ids = [p.id for p in instance.periods] or [""]
    n_t = len(period_ids)
    t_index = {p: t for t, p in enumerate(period_ids)}
    rate = instance.settings.discount_rate
    delta = np.array([p.weight if p.weight is not None else (1.0 + rate) ** (-t)
                      for t, p in enumerate(instance.periods)] or [1.0], dtype=float)
    listed = {(d.material, d.period): d.demand for d in instance.demand_rows}
    demand = np.array([listed.get((m.id, p), m.demand) for p in period_ids for m in mats],
                      dtype=float)

    def field_of(name):
        return np.fromiter((getattr(o, name) for o in offers), float, n_o)

    om = np.fromiter((m_index[o.material] for o in offers), np.int64, n_o)
    stage_c = np.array([[c_index[o.country] for o in offers],
                        [c_index[o.processing_country] for o in offers],
                        [c_index[o.owner_country or o.country] for o in offers]],
                       dtype=np.int64).reshape(3, n_o)
    project = np.fromiter((o.capex is not None for o in offers), bool, n_o)
    capex = np.fromiter((math.nan if o.capex is None else o.capex for o in offers), float,
                        n_o)
    lead = np.where(project, np.fromiter((o.lead_time for o in offers), np.int64, n_o), 0)
    first = np.fromiter((0 if o.available_from is None else t_index[o.available_from]
                         for o in offers), np.int64, n_o)
    last = np.fromiter((n_t - 1 if o.available_until is None else t_index[o.available_until]
                        for o in offers), np.int64, n_o)
    reserve = np.fromiter((math.nan if o.reserve_cost is None else o.reserve_cost
                           for o in offers), float, n_o)

    # scenarios: the sheet's rows (or one per country with p > 0, every period); in each
    # period the rows for it or for every period, merged by name in the sheet's order
    # (base rows, then the chosen what-if's), the remainder as `baseline`
    if instance.scenario_rows is None:
        rows = [(c.id, None, c.disruption_prob, 0.0, ((c.id, "*", 0.0),))
                for c in instance.countries if c.disruption_prob > 0]
    else:
        chosen = [s for s in instance.scenario_rows if s.whatif is None] + [
            s for s in instance.scenario_rows
            if s.whatif is not None and s.whatif == instance.whatif]
        rows = [(s.name.casefold(), s.period, s.probability, s.price_surge,
                 tuple((h.country, h.material, h.capacity_factor) for h in s.hits))
                for s in chosen]
    prob, surge, scen_t, hits = [], [], [], []
    for t, p in enumerate(period_ids):
        merged: dict[str, list] = {}
        for name, period, probability, price_surge, row_hits in rows:
            if period is not None and period != p:
                continue
            if name in merged:
                merged[name][2] += row_hits
            else:
                merged[name] = [probability, price_surge, row_hits]
        here = list(merged.values())
        remainder = 1.0 - sum(s[0] for s in here)
        if remainder > 1e-12:
            here.append([remainder, 0.0, ()])
        for probability, price_surge, row_hits in here:
            if probability <= 0:
                continue
            k = len(prob)
            prob.append(probability)
            surge.append(price_surge)
            scen_t.append(t)
            hits.extend((k, c_index[c], -1 if m == "*" else m_index[m], f)
                        for c, m, f in row_hits if f < 1.0)
    hit = np.array(hits, dtype=float).reshape(-1, 4)

    def members(target: str, kind: str) -> np.ndarray:
        if kind == "*":
            return np.arange(n_c) < len(instance.countries)
        if kind == "group":
            return np.array([target in c.groups for c in instance.countries]
                            + [False] * (n_c - len(instance.countries)), dtype=bool)
        return np.arange(n_c) == c_index[target]

    policies = []
    for p_index, p in enumerate(instance.policies):
        if not ((p.strategy is None or p.strategy == instance.strategy)
                and (p.whatif is None or p.whatif == instance.whatif)):
            continue
        stages = STAGE_NAMES[:2] if p.stage == "both" else (p.stage,)
        policies.append((p_index, p.rule, -1 if p.material == "*" else m_index[p.material],
                         members(p.target, p.target_kind),
                         tuple(STAGE_NAMES.index(s) for s in stages), p.value,
                         0 if p.from_period is None else t_index[p.from_period]))
    s = instance.settings
    return Arrays(
        n_m=n_m, n_c=n_c, n_o=n_o, n_t=n_t, n_k=len(prob), country_ids=country_ids,
        delta=delta, om=om, stage_c=stage_c,
        landed=(1.0 + field_of("tariff")) * field_of("unit_cost"), cap=field_of("capacity"),
        min_order=field_of("min_order"), fixed=field_of("fixed_cost"), reserve=reserve,
        spot=field_of("spot_capacity"), capex=capex, lead=lead, first=first, last=last,
        demand=demand,
        penalty=np.array([m.shortage_penalty for m in mats], dtype=float),
        stock_cost=np.array([math.nan if m.stockpile_cost is None else m.stockpile_cost
                             for m in mats], dtype=float),
        stock_cap=np.array([math.inf if m.max_stockpile is None else m.max_stockpile
                            for m in mats], dtype=float),
        initial=np.array([m.initial_stock for m in mats], dtype=float),
        stock_price=np.array([m.stock_price for m in mats], dtype=float),
        prob=np.array(prob, dtype=float), surge=np.array(surge, dtype=float),
        scen_t=np.array(scen_t, dtype=np.int64),
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
        `grouped` says the triplets already come row by row. A family of no rows is
        left out, as the product leaves it out."""
        if size == 0:
            return
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

        def joined(parts, dtype):
            return cat(parts) if parts else np.zeros(0, dtype)

        return (
            cat(self.col_cost), cat(self.col_lower), cat(self.col_upper),
            joined(self.row_lower, float), joined(self.row_upper, float),
            joined(self.a_start, np.int64).astype(np.int32),
            joined(self.a_index, np.int64).astype(np.int32),
            joined(self.a_value, float), cat(self.integrality),
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
    n_m, n_c, n_t, n_k = a.n_m, a.n_c, a.n_t, a.n_k
    lam = a.risk_aversion
    sf = DirectForm()
    demand = a.demand  # per material item t · M + m
    project = ~np.isnan(a.capex)

    # offer items (o, t): in the window, online possible (project: from available_from +
    # lead_time), where the material has demand (D_{m,t} = 0: no orders, SPEC §7)
    periods = np.arange(n_t)
    alive = ((a.first + a.lead)[None, :] <= periods[:, None]) \
        & (periods[:, None] <= a.last[None, :]) \
        & (demand.reshape(n_t, n_m)[:, a.om] > 0)
    it, io = np.nonzero(alive)  # by period, then offer
    n_i = len(io)
    im = it * n_m + a.om[io]  # material item of each offer item
    item_start = np.searchsorted(it, periods)  # items of period t: a contiguous run
    item_stop = np.searchsorted(it, periods, side="right")
    sc = a.stage_c[:, io]  # stage countries per item
    d_i = demand[im]
    delta_i = a.delta[it]

    # exclude: x = r = 0 (and no spot) for items whose stage country is (in) the target,
    # in the periods the row applies in
    excluded = np.zeros(n_i, dtype=bool)
    for _, rule, m, member, stages, _, from_t in a.policies:
        if rule != "exclude":
            continue
        hit = np.zeros(n_i, dtype=bool)
        for s in stages:
            hit |= member[sc[s]]
        excluded |= hit & (it >= from_t) & ((a.om[io] == m) if m >= 0 else True)
    allowed = ~excluded

    # scenario items of each period (contiguous, periods in order)
    scen_start = np.searchsorted(a.scen_t, periods)
    scen_stop = np.searchsorted(a.scen_t, periods, side="right")

    # availability of offer items in the scenario items of their period, where < 1:
    # a = min(f_{c(o)}, f_{q(o)}), f the smallest factor listed for (country, material)
    f = np.ones((n_k, n_c, n_m))
    every = a.hit_m < 0
    np.minimum.at(f, (a.hit_k[every], a.hit_c[every]), a.hit_f[every][:, None])
    np.minimum.at(f, (a.hit_k[~every], a.hit_c[~every], a.hit_m[~every]), a.hit_f[~every])
    touched = np.zeros((n_k, n_c), dtype=bool)
    touched[a.hit_k, a.hit_c] = True
    hk, ho, ha = [], [], []
    for t in range(n_t):
        ks, ke, i0, i1 = scen_start[t], scen_stop[t], item_start[t], item_stop[t]
        oc, oq, mm = sc[0, i0:i1], sc[1, i0:i1], a.om[io[i0:i1]]
        pk, po = np.nonzero(touched[ks:ke][:, oc] | touched[ks:ke][:, oq])
        pk = pk + ks
        av = np.minimum(f[pk, oc[po], mm[po]], f[pk, oq[po], mm[po]])
        cut = av < 1.0
        hk.append(pk[cut])
        ho.append(po[cut] + i0)
        ha.append(av[cut])
    hk, ho, ha = np.concatenate(hk), np.concatenate(ho), np.concatenate(ha)

    # ---- first-stage columns -------------------------------------------------------
    # x ≤ min(U_o, D_{m,t}): firm orders never exceed demand (the product's bound)
    y = sf.cols("contract", n_i, 0.0, allowed.astype(float), delta_i * a.fixed[io],
                integer=True)
    x = sf.cols("firm_order", n_i, 0.0, np.where(allowed, np.minimum(a.cap[io], d_i), 0.0),
                delta_i * a.landed[io])
    res = np.flatnonzero(~np.isnan(a.reserve[io]) & allowed)
    r = sf.cols("reserve", len(res), 0.0, a.cap[io[res]],
                delta_i[res] * a.reserve[io[res]])
    # h_{m,t} ≤ min(S_m, max_{t' ≥ t} D_{m,t'}): a draw replaces lost firm supply, at
    # most D; stock above every later demand only costs (the product's bound)
    material_of_item = np.tile(np.arange(n_m), n_t)
    period_of_item = np.repeat(periods, n_m)
    stocked = np.flatnonzero(~np.isnan(a.stock_cost[material_of_item]))
    later = np.maximum.accumulate(demand.reshape(n_t, n_m)[::-1], axis=0)[::-1].ravel()
    h = sf.cols("stock_held", len(stocked), 0.0,
                np.minimum(a.stock_cap[material_of_item[stocked]], later[stocked]),
                a.delta[period_of_item[stocked]] * a.stock_cost[material_of_item[stocked]])
    total = sf.cols("firm_total", n_t * n_m, 0.0, demand)
    # g_{m,t} only where adding to the stock has a price (free, it constrains nothing)
    added = stocked[a.stock_price[material_of_item[stocked]] > 0]
    g = sf.cols("stock_added", len(added), 0.0, np.inf,
                a.delta[period_of_item[added]] * a.stock_price[material_of_item[added]])
    # b_{o,t}: t from available_from while a build then is online by the window's end
    projects = np.flatnonzero(project)
    latest_start = np.minimum(a.last, n_t - 1) - a.lead
    n_builds = np.maximum(0, latest_start[projects] - a.first[projects] + 1)
    build_o = np.repeat(projects, n_builds)
    build_t = np.repeat(a.first[projects], n_builds) + ragged_arange(n_builds)
    b = sf.cols("build", len(build_o), 0.0, 1.0, a.delta[build_t] * a.capex[build_o],
                integer=True)

    # ---- scenario columns ----------------------------------------------------------
    weight = (1.0 - lam) * a.prob * a.delta[a.scen_t]  # expectation's share, discounted
    pair_key = hk * n_m + a.om[io[ho]]
    lost_keys, lost_row_of_pair = np.unique(pair_key, return_inverse=True)
    lost_item = a.scen_t[lost_keys // n_m] * n_m + lost_keys % n_m
    lost = sf.cols("lost", len(lost_keys), 0.0, demand[lost_item])
    is_lost = np.zeros((n_k, n_m), dtype=bool)
    is_lost[lost_keys // n_m, lost_keys % n_m] = True

    def where_lost(sellers: np.ndarray):
        """(scenario item, offer item, a) for each offer item in `sellers` and scenario
        item of its period where supply of its material is lost and a > 0; by pair key
        k · M + m, then offer item."""
        out_k, out_i, out_a = [], [], []
        for t in range(n_t):
            ks, ke = scen_start[t], scen_stop[t]
            here = sellers[it[sellers] == t]
            avail = np.ones((ke - ks, len(here)))
            position = np.full(n_i, -1)
            position[here] = np.arange(len(here))
            on = (position[ho] >= 0) & (it[ho] == t)
            avail[hk[on] - ks, position[ho[on]]] = ha[on]
            kk, jj = np.nonzero(is_lost[ks:ke][:, a.om[io[here]]] & (avail > 0))
            key = (kk + ks) * n_m + a.om[io[here[jj]]]
            order = np.argsort(key, kind="stable")
            out_k.append(kk[order] + ks)
            out_i.append(here[jj[order]])
            out_a.append(avail[kk[order], jj[order]])
        return np.concatenate(out_k), np.concatenate(out_i), np.concatenate(out_a)

    bk, bi, b_avail = where_lost(res)  # backup: reserve items
    r_pos = np.full(n_i, -1)
    r_pos[res] = np.arange(len(res))
    e = sf.cols("backup", len(bk), 0.0, b_avail * a.cap[io[bi]],
                weight[bk] * a.landed[io[bi]])
    # spot: offer items with spot capacity, not excluded, at ĉ_o (1 + surge_k)
    vk, vi, v_avail = where_lost(np.flatnonzero((a.spot[io] > 0) & allowed))
    v_price = a.landed[io[vi]] * (1.0 + a.surge[vk])
    v = sf.cols("spot", len(vk), 0.0, v_avail * a.spot[io[vi]], weight[vk] * v_price)
    draw = ~np.isnan(a.stock_cost[lost_keys % n_m])
    draw_keys = lost_keys[draw]
    w = sf.cols("stock_drawn", len(draw_keys), 0.0, demand[lost_item[draw]])
    pair_item = np.repeat(a.scen_t, n_m) * n_m + np.tile(np.arange(n_m), n_k)
    u = sf.cols("shortage", n_k * n_m, 0.0, demand[pair_item],
                np.repeat(weight, n_m) * a.penalty[pair_item % n_m])
    if lam > 0:
        cvar_t = np.unique(a.scen_t)  # η_t for each period with scenarios
        eta = sf.cols("var_level", len(cvar_t), -np.inf, np.inf, lam * a.delta[cvar_t])
        z = sf.cols("tail_excess", n_k, 0.0, np.inf,
                    lam * a.delta[a.scen_t] * a.prob / (1.0 - a.alpha))

    # HHI columns τ_{m,t,s,c}: one per country with an allowed offer item, for every
    # (material item, stage) some active max_hhi row covers (in order of first need);
    # countries sorted by id
    def scope(m: int, from_t: int) -> list[int]:
        """Material items a policy row constrains: from its period on, where D > 0."""
        chosen = range(n_m) if m < 0 else (m,)
        return [t * n_m + mm for t in range(from_t, n_t) for mm in chosen
                if demand[t * n_m + mm] > 0]

    hhi_pairs: dict[tuple[int, int], None] = {}
    for _, rule, m, _, stages, _, from_t in a.policies:
        if rule == "max_hhi":
            for mi in scope(m, from_t):
                for s in stages:
                    hhi_pairs.setdefault((mi, s), None)
    n_key3 = n_t * n_m * 3 * n_c
    key3 = [(im * 3 + s) * n_c + sc[s] for s in range(3)]  # (material item, stage, c)
    capsum = sum(np.bincount(key3[s][allowed], weights=a.cap[io][allowed],
                             minlength=n_key3) for s in range(3))
    present = sum(np.bincount(key3[s][allowed], minlength=n_key3) for s in range(3))
    by_name = np.argsort(np.array(a.country_ids, dtype=object), kind="stable")
    if hhi_pairs:
        pm, ps = np.array(list(hhi_pairs), dtype=np.int64).reshape(-1, 2).T
        grid = ((pm * 3 + ps)[:, None] * n_c + by_name[None, :])  # pair × country (by id)
        pair_of_key, _ = np.nonzero(present[grid] > 0)
        tau_key3 = grid[present[grid] > 0]
    else:
        pm = pair_of_key = tau_key3 = np.zeros(0, np.int64)
    tau_m = tau_key3 // (3 * n_c)  # material item
    tau = sf.cols("hhi_square", len(tau_key3), 0.0, demand[tau_m])

    # ---- rows ----------------------------------------------------------------------
    items = np.arange(n_i)
    big_m = np.minimum(a.cap[io], d_i)
    sf.rows("order_needs_contract", n_i, np.repeat(items, 2), interleave(x, y),
            interleave(np.ones(n_i), -big_m), -np.inf, 0.0, grouped=True)
    n_res = len(res)
    sf.rows("capacity", n_res, np.repeat(np.arange(n_res), 3), interleave(x[res], r, y[res]),
            interleave(np.ones(n_res), np.ones(n_res), -a.cap[io[res]]), -np.inf, 0.0,
            grouped=True)
    mo = np.flatnonzero(a.min_order[io] > 0)
    sf.rows("min_order", len(mo), np.repeat(np.arange(len(mo)), 2), interleave(x[mo], y[mo]),
            interleave(np.ones(len(mo)), -a.min_order[io[mo]]), 0.0, np.inf, grouped=True)
    n_items = n_t * n_m
    sf.rows("firm_total_sum", n_items, np.concatenate([np.arange(n_items), im]),
            np.concatenate([total, x]), np.concatenate([np.ones(n_items), -np.ones(n_i)]),
            0.0, 0.0)
    # g_{m,t} − h_{m,t} + h_{m,t−1} ≥ 0; in the first period g − h ≥ −H_m
    h_of_item = np.full(n_items, -1)
    h_of_item[stocked] = h
    n_g = len(added)
    before = added >= n_m
    sf.rows("stock_change", n_g,
            np.concatenate([np.arange(n_g), np.arange(n_g), np.flatnonzero(before)]),
            np.concatenate([g, h_of_item[added], h_of_item[added[before] - n_m]]),
            np.concatenate([np.ones(n_g), -np.ones(n_g), np.ones(int(before.sum()))]),
            np.where(before, 0.0, -a.initial[material_of_item[added]]), np.inf)
    # Σ_t b_{o,t} ≤ 1, for projects with more than one possible start (with one, b ≤ 1
    # is its bound)
    several = n_builds > 1
    build_row = np.repeat(np.cumsum(several) - 1, n_builds)
    keep = np.repeat(several, n_builds)
    sf.rows("build_once", int(several.sum()), build_row[keep], b[keep], 1.0, -np.inf, 1.0)

    # on_{o,τ} = Σ_{t ≤ τ − L_o} b_{o,t}, for project offer items j = (o, τ): its builds
    # are b columns first_build[o] … first_build[o] + count − 1
    first_build = np.zeros(a.n_o, np.int64)
    first_build[projects] = b[0] + np.cumsum(n_builds) - n_builds if len(b) else 0

    def online(j: np.ndarray):
        """(position in j, build column) for every build counted in on_{o,τ}."""
        o = io[j]
        count = np.clip(it[j] - a.lead[o] - a.first[o] + 1, 0, None)
        count = np.minimum(count, n_builds_of[o])
        position = np.repeat(np.arange(len(j)), count)
        return position, np.repeat(first_build[o], count) + ragged_arange(count)

    n_builds_of = np.zeros(a.n_o, np.int64)
    n_builds_of[projects] = n_builds
    pj = np.flatnonzero(project[io])
    position, cols = online(pj)
    sf.rows("online", len(pj), np.concatenate([np.arange(len(pj)), position]),
            np.concatenate([y[pj], cols]),
            np.concatenate([np.ones(len(pj)), -np.ones(len(position))]), -np.inf, 0.0)

    n_lost = len(lost_keys)
    sf.rows("lost_supply", n_lost, np.concatenate([np.arange(n_lost), lost_row_of_pair]),
            np.concatenate([lost, x[ho]]), np.concatenate([np.ones(n_lost), -(1.0 - ha)]),
            0.0, 0.0)
    n_b = len(bk)
    sf.rows("backup_limit", n_b, np.repeat(np.arange(n_b), 2), interleave(e, r[r_pos[bi]]),
            interleave(np.ones(n_b), -b_avail), -np.inf, 0.0, grouped=True)
    # v ≤ a V on_{o,t} for spot from a project (an ordinary offer: its bound a V)
    pv = np.flatnonzero(project[io[vi]])
    position, cols = online(vi[pv])
    factor = v_avail[pv] * a.spot[io[vi[pv]]]
    sf.rows("spot_online", len(pv), np.concatenate([np.arange(len(pv)), position]),
            np.concatenate([v[pv], cols]),
            np.concatenate([np.ones(len(pv)), -factor[position]]), -np.inf, 0.0)
    n_w = len(draw_keys)
    sf.rows("draw_within_stock", n_w, np.repeat(np.arange(n_w), 2),
            interleave(w, h_of_item[lost_item[draw]]),
            interleave(np.ones(n_w), -np.ones(n_w)), -np.inf, 0.0, grouped=True)
    # Σ e + Σ v + w ≤ ℓ (SPEC v2 §3): one row per ℓ with something to limit
    e_lost = np.searchsorted(lost_keys, bk * n_m + a.om[io[bi]])
    v_lost = np.searchsorted(lost_keys, vk * n_m + a.om[io[vi]])
    w_lost = np.flatnonzero(draw)
    limited = np.zeros(n_lost, dtype=bool)
    limited[e_lost] = limited[v_lost] = limited[w_lost] = True
    replace_row = np.cumsum(limited) - 1
    n_rep = int(limited.sum())
    sf.rows("replace_within_loss", n_rep,
            np.concatenate([np.arange(n_rep), replace_row[e_lost], replace_row[v_lost],
                            replace_row[w_lost]]),
            np.concatenate([lost[limited], e, v, w]),
            np.concatenate([-np.ones(n_rep), np.ones(len(e) + len(v) + len(w))]),
            -np.inf, 0.0)
    # X_{m,t} − ℓ + Σ e + Σ v + w + u ≥ D_{m,t}, row (k, m) at k · M + m
    n_u = n_k * n_m
    every_row = np.arange(n_u)
    sf.rows("demand_cover", n_u,
            np.concatenate([every_row, lost_keys, bk * n_m + a.om[io[bi]],
                            vk * n_m + a.om[io[vi]], draw_keys, every_row]),
            np.concatenate([total[pair_item], lost, e, v, w, u]),
            np.concatenate([np.ones(n_u), -np.ones(n_lost), np.ones(len(e) + len(v) + n_w),
                            np.ones(n_u)]),
            demand[pair_item], np.inf)
    if lam > 0:
        scen = np.arange(n_k)
        sf.rows("cvar_tail", n_k,
                np.concatenate([scen, scen, np.repeat(scen, n_m), bk, vk]),
                np.concatenate([z, eta[np.searchsorted(cvar_t, a.scen_t)], u, e, v]),
                np.concatenate([np.ones(n_k), np.ones(n_k), -a.penalty[pair_item % n_m],
                                -a.landed[io[bi]], -v_price]),
                0.0, np.inf)

    # policy_share: per period from the row's from_period where D > 0, one row per
    # (policy, material item, stage, country) for max_country_share, per (policy,
    # material item, stage) for group shares; rows with no offer dropped, except a
    # positive minimum (kept so that an impossible minimum is infeasible)
    p_row, p_col, p_lower, p_upper = [], [], [], []
    n_share = 0
    for _, rule, m, member, stages, value, from_t in a.policies:
        if rule not in SHARE_RULES:
            continue
        mats = np.array(scope(m, from_t), dtype=np.int64)
        pos = np.full(n_items, -1)
        pos[mats] = np.arange(len(mats))
        in_scope = allowed & (pos[im] >= 0)
        per_country = rule == "max_country_share"
        width = n_c if per_country else 1
        keys, cols = [], []
        for si, s in enumerate(stages):
            on = in_scope & member[sc[s]]
            keys.append((pos[im[on]] * len(stages) + si) * width
                        + (sc[s][on] if per_country else 0))
            cols.append(x[on])
        keys = np.concatenate(keys)
        cols = np.concatenate(cols)
        is_min = rule == "min_group_share"
        if is_min and value > 0:
            row_keys = np.arange(len(mats) * len(stages) * width)
        else:
            row_keys = np.unique(keys)
        limit = value * demand[mats[row_keys // (len(stages) * width)]]
        p_row.append(np.searchsorted(row_keys, keys) + n_share)
        p_col.append(cols)
        p_lower.append(limit if is_min else np.full(len(row_keys), -np.inf))
        p_upper.append(np.full(len(row_keys), np.inf) if is_min else limit)
        n_share += len(row_keys)
    if n_share:
        sf.rows("policy_share", n_share, np.concatenate(p_row), np.concatenate(p_col), 1.0,
                np.concatenate(p_lower), np.concatenate(p_upper))

    # hhi_chord: τ ≥ (b_j + b_{j+1}) Σ x − b_j b_{j+1} D for the chords whose interval
    # starts below the share the country can reach (the first chord always)
    n_tau = len(tau_key3)
    if n_tau:
        bp = np.round(np.arange(0, 1 + 1e-9, HHI_STEP), 10)
        reach = np.minimum(1.0, capsum[tau_key3] / demand[tau_m])
        n_chords = np.maximum(1, np.searchsorted(bp[:-1], reach, side="left"))
        chord_start = np.concatenate([[0], np.cumsum(n_chords)[:-1]])
        j = ragged_arange(n_chords)
        key_of_chord = np.repeat(np.arange(n_tau), n_chords)
        lo, hi = bp[j], bp[j + 1]
        # allowed offer items of each τ key, one entry per chord of that key
        tau_of_key3 = np.full(n_key3, -1)
        tau_of_key3[tau_key3] = np.arange(n_tau)
        o_key = np.concatenate([tau_of_key3[key3[s]] for s in range(3)])
        o_col = np.concatenate([x, x, x])
        on = (o_key >= 0) & np.concatenate([allowed, allowed, allowed])
        o_key, o_col = o_key[on], o_col[on]
        reps = n_chords[o_key]
        o_chord = np.repeat(chord_start[o_key], reps) + ragged_arange(reps)
        n_ch = len(j)
        sf.rows("hhi_chord", n_ch,
                np.concatenate([np.arange(n_ch), o_chord]),
                np.concatenate([tau[key_of_chord], np.repeat(o_col, reps)]),
                np.concatenate([np.ones(n_ch), -(lo + hi)[o_chord]]),
                -lo * hi * demand[tau_m[key_of_chord]], np.inf)
    # policy_hhi: Σ_c τ ≤ (v / 10,000) D per (policy, material item, stage); a row with
    # no τ behind it (no allowed offer) is kept, empty, as the product keeps it
    pair_index = {pair: i for i, pair in enumerate(hhi_pairs)}
    first = np.searchsorted(pair_of_key, np.arange(len(pm)), side="left")
    last = np.searchsorted(pair_of_key, np.arange(len(pm)), side="right")
    rows, cols, upper = [], [], []
    for _, rule, m, _, stages, value, from_t in a.policies:
        if rule != "max_hhi":
            continue
        for mi in scope(m, from_t):
            for s in stages:
                i = pair_index[(mi, s)]
                rows.append(np.full(last[i] - first[i], len(upper)))
                cols.append(tau[first[i]:last[i]])
                upper.append(value / 10_000.0 * demand[mi])
    if upper:
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


def family_of(families: dict, index: int) -> str:
    """The family (name → (start, size)) holding row or column `index`."""
    for name, (start, size) in families.items():
        if start <= index < start + size:
            return f"{name}[{index - start}]"
    return f"#{index}"


def compare(product, direct, rtol: float = 1e-12, col_family: dict | None = None,
            row_family: dict | None = None) -> list[str]:
    """Differences between two models given as (matrix, vectors), entry by entry (empty
    list: identical). With rtol 0 the comparison is exact. Given the families (name →
    (start, size)), a difference is named by the family of its row or column."""
    pa, pv = product
    da, dv = direct
    problems = []
    if pa.shape != da.shape:
        return [f"shape: product {pa.shape} vs direct {da.shape}"]

    def col(i):
        return family_of(col_family, i) if col_family else str(i)

    def row(i):
        return family_of(row_family, i) if row_family else str(i)

    if pa.nnz != da.nnz:
        problems.append(f"nonzeros: product {pa.nnz} vs direct {da.nnz}")
    diff = (sp_csr(pa) - sp_csr(da)).tocoo()
    largest = max(1.0, float(abs(pa).max()) if pa.nnz else 1.0)
    bad = np.abs(diff.data) > rtol * largest
    if bad.any():
        r, c = diff.row[bad], diff.col[bad]
        first = np.lexsort((c, r))[0]
        problems.append(f"{len(r)} matrix entries differ, first at row {row(r[first])}, "
                        f"col {col(c[first])}: product {pa[r[first], c[first]]} vs direct "
                        f"{da[r[first], c[first]]}")
    for name in pv:
        p, d = pv[name], dv[name]
        with np.errstate(invalid="ignore"):  # inf - inf where both are infinite
            same = (p == d) | (np.abs(p - d) <= rtol * np.maximum(1.0, np.abs(p)))
        if not same.all():
            i = int(np.flatnonzero(~same)[0])
            where = row(i) if name.startswith("row") else col(i)
            problems.append(f"{name}: {int((~same).sum())} differ, first at {where}: "
                            f"product {p[i]} vs direct {d[i]}")
    return problems


def sp_csr(matrix):
    import scipy.sparse as sp

    return sp.csr_matrix(matrix)


def compare_families(form, direct: DirectForm) -> list[str]:
    """The families of columns and rows, in order, with their sizes: product vs direct."""
    problems = []
    for kind, product, mine in (
            ("columns", form.column_families, direct.col_family),
            ("rows", form.row_families, direct.row_family)):
        p = [(name, f.size) for name, f in product.items() if f.size]
        d = [(name, size) for name, size in ((n, s) for n, (_, s) in mine.items()) if size]
        if p != d:
            problems.append(f"{kind}: product {p} vs direct {d}")
    return problems


def check_form(instance: Instance, form=None) -> tuple[list[str], DirectModel]:
    """Check 1: the product's form of `instance` against the direct build, families and
    then entry by entry (exact, else to 1e-12). Returns (problems, direct model);
    problems is empty when the two are the same model."""
    from resilience.formulation.build import build_model

    if form is None:
        form = build_model(instance).form
    direct = build(instance)
    problems = compare_families(form, direct.form)
    if form.n_rows == direct.form.n_rows and form.n_cols == direct.form.n_cols:
        families = {"col_family": {n: (f.start, f.size)
                                   for n, f in form.column_families.items()},
                    "row_family": {n: (f.start, f.size)
                                   for n, f in form.row_families.items()}}
        problems += compare(form_arrays(form), lp_arrays(direct.highs), **families)
    else:
        problems.append(f"shape: product {(form.n_rows, form.n_cols)} vs direct "
                        f"{(direct.form.n_rows, direct.form.n_cols)}")
    return problems, direct


# ---- small random horizons, for --fuzz ---------------------------------------------------
def random_instance(seed: int) -> Instance:
    """A small random instance over 1-3 periods (or none: one period, v1 shape) with
    what §7 adds: demand rows (zero too), windows, projects with lead times, spot with
    surges, owners, initial stock and a stock price, period-specific scenarios (and a
    row for one period beside a scenario's rows for every period), policies of every
    rule and stage from a period. Valid as `validate` would leave it."""
    from resilience.domain import (
        Country,
        DemandRow,
        Material,
        Offer,
        Period,
        Policy,
        Scenario,
        ScenarioHit,
        Settings,
    )

    rng = np.random.default_rng(seed)
    n_t = int(rng.integers(0, 4))
    period_ids = [f"P{t}" for t in range(n_t)]
    ids = ["AAA", "BBB", "CCC", "DDD"][:int(rng.integers(2, 5))]
    tags = ("G1", "G2")
    countries = tuple(Country(
        id=c, disruption_prob=float(rng.choice([0.0, 0.1, 0.2])),
        groups=tuple(g for g in tags if rng.random() < 0.5),
        tariff=float(rng.choice([0.0, 0.1])), row=i + 2) for i, c in enumerate(ids))
    materials, demand_rows = [], []
    for m in range(int(rng.integers(1, 3))):
        held = rng.choice([None, 1.0, 4.0])
        materials.append(Material(
            id=f"m{m}", unit="t", demand=float(rng.integers(10, 100)),
            shortage_penalty=float(rng.choice([30.0, 200.0, 1000.0])),
            stockpile_cost=None if held is None else float(held),
            max_stockpile=float(rng.choice([20.0, 1e9])) if held is not None else None,
            initial_stock=float(rng.choice([0.0, 5.0, 40.0])) if held is not None else 0.0,
            stock_price=float(rng.choice([0.0, 2.0])) if held is not None else 0.0,
            row=m + 2))
        for p in period_ids:
            if rng.random() < 0.3:
                demand_rows.append(DemandRow(f"m{m}", p, float(rng.choice([0, 30, 120])),
                                             row=len(demand_rows) + 2))
    offers = []
    for i in range(int(rng.integers(2, 7))):
        origin = str(rng.choice(ids))
        processing = str(rng.choice(ids)) if rng.random() < 0.4 else origin
        capacity = float(rng.integers(0, 120))
        first = int(rng.integers(0, n_t)) if n_t and rng.random() < 0.4 else None
        last = int(rng.integers(first or 0, n_t)) if n_t and rng.random() < 0.3 else None
        capex = float(rng.choice([0.0, 100.0, 600.0])) if rng.random() < 0.35 else None
        tariff = float(rng.choice([0.0, 0.2])) if rng.random() < 0.2 else None
        offers.append(Offer(
            supplier=f"s{i}", material=f"m{int(rng.integers(len(materials)))}",
            country=origin, processing_country=processing,
            unit_cost=float(rng.integers(1, 40)), capacity=capacity,
            min_order=float(rng.choice([0.0, capacity / 2])),
            fixed_cost=float(rng.choice([0.0, 50.0, 300.0])),
            reserve_cost=None if rng.random() < 0.5 else float(rng.choice([0.5, 3.0])),
            tariff=tariff if tariff is not None else countries[ids.index(processing)].tariff,
            tariff_override=tariff, row=i + 2,
            available_from=None if first is None else period_ids[first],
            available_until=None if last is None else period_ids[last],
            capex=capex, lead_time=int(rng.integers(0, 3)) if capex is not None and n_t else 0,
            spot_capacity=float(rng.choice([0.0, 10.0, 50.0])),
            owner_country=str(rng.choice(ids)) if rng.random() < 0.3 else None))
    scenario_rows = None
    if rng.random() < 0.8:
        scenario_rows = []
        for k in range(int(rng.integers(0, 4))):
            probability = float(rng.choice([0.05, 0.2, 0.3]))
            surge = float(rng.choice([0.0, 0.5, 2.0]))
            choices = [(None,)] + [(p,) for p in period_ids] + [(None, p) for p in period_ids]
            for period in choices[int(rng.integers(len(choices)))]:
                hits = tuple(ScenarioHit(str(rng.choice(ids)),
                                         str(rng.choice(["*"] + [m.id for m in materials])),
                                         float(rng.choice([0.0, 0.3, 0.5, 1.0])))
                             for _ in range(int(rng.integers(1, 3))))
                scenario_rows.append(Scenario(f"k{k}", probability, hits,
                                              row=len(scenario_rows) + 2, period=period,
                                              price_surge=surge))
        scenario_rows = tuple(scenario_rows)
    used_tags = sorted({g for c in countries for g in c.groups})
    policies = []
    for j in range(int(rng.integers(0, 4))):
        rule = str(rng.choice(["max_country_share", "min_group_share", "max_group_share",
                               "max_hhi", "exclude"]))
        targets = [(c, "country") for c in ids] + [(g, "group") for g in used_tags]
        if rule == "max_hhi":
            target, kind, value = "*", "*", float(rng.integers(2500, 10_001))
        else:
            if rule == "max_country_share" and rng.random() < 0.4:
                target, kind = "*", "*"
            else:
                target, kind = targets[int(rng.integers(len(targets)))]
            value = None if rule == "exclude" else float(rng.choice([0.0, 0.1, 0.3, 0.65]))
        policies.append(Policy(
            rule=rule, material=str(rng.choice(["*"] + [m.id for m in materials])),
            target=target, target_kind=kind,
            stage=str(rng.choice(["origin", "processing", "both", "owner"])), value=value,
            name=f"{rule} {target}", row=j + 2,
            from_period=str(rng.choice(period_ids)) if n_t and rng.random() < 0.5 else None))
    periods = tuple(Period(p, float(rng.choice([0.5, 2.0])) if rng.random() < 0.3 else None,
                           row=t + 2) for t, p in enumerate(period_ids))
    return Instance(
        materials=tuple(materials), countries=countries, offers=tuple(offers),
        policies=tuple(policies), scenario_rows=scenario_rows,
        settings=Settings(risk_aversion=float(rng.choice([0.0, 0.5])),
                          cvar_alpha=float(rng.choice([0.5, 0.9])), mip_gap=0.0,
                          discount_rate=float(rng.choice([0.0, 0.1])) if n_t else 0.0),
        periods=periods, demand_rows=tuple(demand_rows), source_name=f"random-{seed}")


def solve_highs(h: highspy.Highs, time_limit: float, gap: float) -> tuple[str, float, float]:
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("mip_abs_gap", 0.0)
    started = time.perf_counter()
    h.run()
    info = h.getInfo()
    return (h.modelStatusToString(h.getModelStatus()), info.objective_function_value,
            time.perf_counter() - started)


def in_process(HighsSession) -> dict:
    """`isolate=False` where the session has that switch: by default a big form is left
    to a child process at solve time, and `session._highs` would hold nothing."""
    import inspect

    return {"isolate": False} if "isolate" in inspect.signature(
        HighsSession.__init__).parameters else {}


def fuzz(n: int, start: int = 0) -> int:
    """Check 1 on `n` random small horizons, and both models solved: returns failures."""
    from resilience.formulation.build import build_model
    from resilience.solver import SolverOptions
    from resilience.solver.highs import HighsSession

    failures = 0
    for seed in range(start, start + n):
        instance = random_instance(seed)
        form = build_model(instance).form
        problems, direct = check_form(instance, form)
        session = HighsSession(form, SolverOptions(time_limit=20.0, mip_gap=0.0, threads=1),
                               **in_process(HighsSession))
        outcome = session.solve()
        d_status, d_obj, _ = solve_highs(direct.highs, 20.0, 0.0)
        p_obj = outcome.objective
        agree = (p_obj is None and d_status != "Optimal") or (
            p_obj is not None and d_status == "Optimal"
            and abs(p_obj - d_obj) <= 1e-6 * max(1.0, abs(d_obj)))
        if problems or not agree:
            failures += 1
            print(f"   random {seed}: {'; '.join(problems) or 'same form'}; optimum product "
                  f"{p_obj} ({outcome.message}) vs direct {d_obj} ({d_status})")
    print(f"   {n} random horizons (seeds {start}-{start + n - 1}): "
          f"{n - failures} the same model with the same optimum, {failures} not")
    return failures


def main(argv: list[str] | None = None) -> int:
    import argparse

    from benchmarks.instances import SIZES, describe, generate
    from resilience.formulation.build import build_model
    from resilience.solver import SolverOptions
    from resilience.solver.highs import HighsSession

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-solve", action="store_true", help="skip the small solve")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--fuzz", type=int, default=0, metavar="N",
                        help="also check N small random horizon instances")
    parser.add_argument("--fuzz-start", type=int, default=0, help="first random seed")
    args = parser.parse_args(argv)
    failures = 0
    for size in [s for s in args.sizes.split(",") if s]:
        if size not in SIZES:
            parser.error(f"unknown size {size}")
        instance = generate(size, args.seed)
        print(f"== {size}: {describe(instance)}")
        built = build_model(instance)
        form = built.form
        options = SolverOptions(time_limit=args.time_limit, mip_gap=0.0, threads=1)
        # In process, so that `session._highs` holds the model.
        session = HighsSession(form, options, **in_process(HighsSession))
        product_highs = session._highs  # the model exactly as the product handed it over
        # 1. the product's unscaled form against what HiGHS holds from the direct build
        problems, direct = check_form(instance, form)
        p_counts = (form.n_rows, form.n_cols, form.nnz)
        d_counts = (direct.highs.getNumRow(), direct.highs.getNumCol(), direct.highs.getNumNz())
        print(f"   rows/cols/nnz  product form {p_counts}  direct {d_counts}  "
              f"{'same' if p_counts == d_counts else 'DIFFERENT'}")
        exact = compare(form_arrays(form), lp_arrays(direct.highs), rtol=0.0) \
            if not problems else problems
        print("   form vs direct, family by family and entry by entry: "
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
    if args.fuzz:
        print(f"== random horizons: {args.fuzz}")
        failures += fuzz(args.fuzz, args.fuzz_start)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
