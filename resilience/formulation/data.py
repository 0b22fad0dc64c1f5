"""The instance as flat arrays: what exists, indexed by integers.

The model is indexed only over what exists — offers, not materials × countries ×
suppliers; disrupted (offer, scenario) pairs, not every pair — so every constraint
family is a handful of numpy operations rather than a loop over a cross product.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from resilience.domain import ALL_STAGES, Instance, Policy, Scenario


@dataclass(frozen=True)
class ModelData:
    """The instance over its horizon as arrays.

    Over a horizon (SPEC §7) every v1 object gains a period, and the model is indexed
    over (object, period) pairs that exist, laid out period by period:
    - a *material item* i = t · M + m is material m in period t (M = `n_materials`);
      every per-material array (`demand`, `penalty`, …) is per material item;
    - an *offer item* is an offer in a period of its window (for a project, once it can
      be online) where its material has demand; `offer_source` and `offer_period` say
      which; every per-offer array is per offer item and `offer_material` is the
      material item;
    - a *scenario item* is a scenario present in a period, with π_{k,t} as
      `probability`.
    A workbook without a Periods sheet has one period and every item is its object, so
    the arrays are exactly v1's.
    """

    instance: Instance
    material_ids: tuple[str, ...]
    period_ids: tuple[str, ...]
    period_weight: np.ndarray  # δ_t
    scenarios: tuple[Scenario, ...]  # scenario items (positive probability), model order
    scenario_period: np.ndarray
    # per offer item
    offer_source: np.ndarray  # index into instance.offers
    offer_period: np.ndarray
    offer_material: np.ndarray  # material item
    landed_cost: np.ndarray
    capacity: np.ndarray
    min_order: np.ndarray
    fixed_cost: np.ndarray
    reserve_cost: np.ndarray  # nan where no reservation
    spot_capacity: np.ndarray  # V_o
    is_project: np.ndarray  # bool
    lead_time: np.ndarray  # L_o of a project (0 for an ordinary offer)
    excluded: np.ndarray  # bool: an exclude policy in force in the item's period forbids it
    # offer_stage_country[s, j]: index into country_ids of the item's country at stage
    # ALL_STAGES[s] (origin, processing, owner)
    offer_stage_country: np.ndarray
    # the Countries sheet's ids in order, then any country only an offer names
    country_ids: tuple[str, ...]
    # per material item
    demand: np.ndarray
    penalty: np.ndarray
    stock_cost: np.ndarray  # nan where no stockpile
    stock_cap: np.ndarray  # inf where uncapped
    # the unit a material's quantities are handed to the solver in: max_t D_{m,t}
    quantity_scale: np.ndarray
    # per material
    initial_stock: np.ndarray  # H_m
    stock_price: np.ndarray  # s_m
    # per scenario item
    probability: np.ndarray
    surge: np.ndarray
    # disrupted (scenario item, offer item) pairs (a < 1), same period, sorted by
    # scenario item then offer item
    hit_scenario: np.ndarray
    hit_offer: np.ndarray
    hit_availability: np.ndarray
    # project builds b_{o,t}: the offer (instance index), the period, capex
    build_offer: np.ndarray
    build_period: np.ndarray
    build_cost: np.ndarray

    @property
    def n_offers(self) -> int:
        """Offer items."""
        return len(self.offer_material)

    @property
    def n_materials(self) -> int:
        """Materials (not material items)."""
        return len(self.material_ids)

    @property
    def n_periods(self) -> int:
        return len(self.period_ids)

    @property
    def n_material_items(self) -> int:
        return len(self.demand)

    @property
    def n_scenarios(self) -> int:
        """Scenario items."""
        return len(self.scenarios)

    def pair_item(self, keys: np.ndarray) -> np.ndarray:
        """The material item of (scenario item, material) keys k · M + m."""
        n_m = self.n_materials
        return self.scenario_period[keys // n_m] * n_m + keys % n_m

    def item_weight(self) -> np.ndarray:
        """δ_t of each offer item's period."""
        return self.period_weight[self.offer_period]


def model_data(instance: Instance) -> ModelData:
    """The instance's offers, materials and scenarios as arrays over the horizon, one
    field at a time (`np.fromiter` over the offers per field, no per-offer rows of Python
    values), period by period."""
    material_ids = tuple(m.id for m in instance.materials)
    m_index = {m: i for i, m in enumerate(material_ids)}
    n_m = len(material_ids)
    offers = instance.offers
    n = len(offers)
    period_ids = instance.period_ids()
    n_t = len(period_ids)
    weight = np.array(instance.period_weights(), dtype=float)
    country_ids, stage_country = _offer_countries(instance)

    def per_offer(field: str) -> np.ndarray:
        return np.fromiter(map(attrgetter(field), offers), float, n)

    material_of = np.fromiter(map(m_index.__getitem__, map(attrgetter("material"), offers)),
                              np.int64, n)
    demand_table = instance.demand_table()
    demand = np.array([demand_table[(m, t)] for t in period_ids for m in material_ids],
                      dtype=float)
    scale = demand.reshape(n_t, n_m).max(axis=0, initial=0.0) if n_m else np.zeros(0)
    materials = instance.materials

    # offer items: the periods of each offer's window (a project's from its earliest
    # possible online period) where its material has demand
    first, last, lead, project = _windows(instance, n)
    item_source, item_period = [], []
    for t in range(n_t):
        alive = (first + np.where(project, lead, 0) <= t) & (t <= last) \
            & (demand[t * n_m + material_of] > 0)
        chosen = np.flatnonzero(alive)
        item_source.append(chosen)
        item_period.append(np.full(len(chosen), t, dtype=np.int64))
    source = np.concatenate(item_source) if item_source else np.zeros(0, np.int64)
    period = np.concatenate(item_period) if item_period else np.zeros(0, np.int64)
    offer_material = period * n_m + material_of[source]

    excluded_by_period = [
        _excluded(instance, country_ids, stage_country, material_of, m_index,
                  instance.active_policies(p) if instance.periods else None)
        for p in period_ids]
    excluded = np.concatenate([excluded_by_period[t][chosen]
                               for t, chosen in enumerate(item_source)]) \
        if item_source else np.zeros(0, bool)

    # scenario items, then the disrupted pairs period by period
    scenario_items: list[Scenario] = []
    scenario_period: list[int] = []
    hits = []
    for t, p in enumerate(period_ids):
        present = tuple(s for s in instance.scenarios(p if instance.periods else None)
                        if s.probability > 0)
        offset_k = len(scenario_items)
        scenario_items.extend(present)
        scenario_period.extend([t] * len(present))
        chosen = item_source[t] if item_source else np.zeros(0, np.int64)
        k, o, a = _disrupted_pairs(instance, present, country_ids, stage_country[:, chosen],
                                   material_of[chosen])
        offset_o = int(sum(len(c) for c in item_source[:t]))
        hits.append((k + offset_k, o + offset_o, a))
    hit_scenario = np.concatenate([h[0] for h in hits]) if hits else np.zeros(0, np.int64)
    hit_offer = np.concatenate([h[1] for h in hits]) if hits else np.zeros(0, np.int64)
    hit_availability = np.concatenate([h[2] for h in hits]) if hits else np.zeros(0)

    build_offer, build_period, build_cost = _builds(instance, first, last, lead, project,
                                                    n_t)
    reserve = np.fromiter((np.nan if o.reserve_cost is None else o.reserve_cost
                           for o in offers), float, n)
    stock_cost = np.array(
        [np.nan if m.stockpile_cost is None else m.stockpile_cost for m in materials],
        dtype=float)
    stock_cap = np.array(
        [np.inf if m.max_stockpile is None else m.max_stockpile for m in materials],
        dtype=float)
    return ModelData(
        instance=instance,
        material_ids=material_ids,
        period_ids=period_ids,
        period_weight=weight,
        scenarios=tuple(scenario_items),
        scenario_period=np.array(scenario_period, dtype=np.int64),
        offer_source=source,
        offer_period=period,
        offer_material=offer_material,
        landed_cost=per_offer("landed_cost")[source],
        capacity=per_offer("capacity")[source],
        min_order=per_offer("min_order")[source],
        fixed_cost=per_offer("fixed_cost")[source],
        reserve_cost=reserve[source],
        spot_capacity=per_offer("spot_capacity")[source],
        is_project=project[source],
        lead_time=lead[source],
        excluded=excluded,
        offer_stage_country=stage_country[:, source],
        country_ids=country_ids,
        demand=demand,
        penalty=np.tile(np.array([m.shortage_penalty for m in materials], dtype=float), n_t),
        stock_cost=np.tile(stock_cost, n_t),
        stock_cap=np.tile(stock_cap, n_t),
        quantity_scale=np.tile(scale, n_t),
        initial_stock=np.array([m.initial_stock for m in materials], dtype=float),
        stock_price=np.array([m.stock_price for m in materials], dtype=float),
        probability=np.array([s.probability for s in scenario_items], dtype=float),
        surge=np.array([s.price_surge for s in scenario_items], dtype=float),
        hit_scenario=hit_scenario,
        hit_offer=hit_offer,
        hit_availability=hit_availability,
        build_offer=build_offer,
        build_period=build_period,
        build_cost=build_cost,
    )


def _windows(instance: Instance, n: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each offer's window (first, last period index), lead time and whether it is a
    project: one dictionary lookup per cell that names a period, nothing per offer
    when none does (a workbook without a horizon)."""
    offers = instance.offers
    position = {p: t for t, p in enumerate(instance.period_ids())}
    last_period = len(position) - 1

    def column(field: str, blank: int) -> np.ndarray:
        cells = list(map(attrgetter(field), offers))
        if all(c is None for c in cells):
            return np.full(n, blank, dtype=np.int64)
        return np.fromiter((blank if c is None else position[c] for c in cells), np.int64, n)

    capex = list(map(attrgetter("capex"), offers))
    project = np.fromiter((c is not None for c in capex), bool, n)
    if project.any():
        lead = np.fromiter((o.lead_time if o.capex is not None else 0 for o in offers),
                           np.int64, n)
    else:
        lead = np.zeros(n, dtype=np.int64)
    return column("available_from", 0), column("available_until", last_period), lead, project


def _builds(instance: Instance, first: np.ndarray, last: np.ndarray, lead: np.ndarray,
            project: np.ndarray, n_t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """b_{o,t} exists for a project o from available_from while a build started then
    could still deliver inside its window and the horizon: t + L_o ≤ min(last, T − 1)."""
    offers, periods = [], []
    for o in np.flatnonzero(project):
        for t in range(int(first[o]), int(min(last[o], n_t - 1) - lead[o]) + 1):
            offers.append(o)
            periods.append(t)
    build_offer = np.array(offers, dtype=np.int64)
    capex = np.array([instance.offers[o].capex for o in offers], dtype=float)
    return build_offer, np.array(periods, dtype=np.int64), capex


def _offer_countries(instance: Instance) -> tuple[tuple[str, ...], np.ndarray]:
    """The country ids (Countries sheet order, then any country only an offer names) and
    each offer's country index at each stage: row 0 origin c(o), row 1 processing q(o),
    row 2 owner(o)."""
    ids = [c.id for c in instance.countries]
    index = {c: i for i, c in enumerate(ids)}
    offers = instance.offers
    stage_country = np.empty((len(ALL_STAGES), len(offers)), dtype=np.int64)

    def fill() -> None:
        for s, field in enumerate(("country", "processing_country", "owner")):
            stage_country[s] = np.fromiter(
                map(index.__getitem__, map(attrgetter(field), offers)), np.int64, len(offers))

    try:
        fill()
    except KeyError:  # validated workbooks name no other country; tests may
        for o in offers:
            for c in (o.country, o.processing_country, o.owner):
                if c not in index:
                    index[c] = len(ids)
                    ids.append(c)
        fill()
    return tuple(ids), stage_country


def excluded_offers(instance: Instance, period: str | None = None) -> np.ndarray:
    """Offers an active `exclude` row forbids: its stage country is the target or
    carries the target tag (stage `both`: either country). Over a horizon, `period`
    counts only the rows in force in that period."""
    m_index = {m.id: i for i, m in enumerate(instance.materials)}
    offer_material = np.fromiter(  # a material no Materials row names gets an index too
        (m_index.setdefault(o.material, len(m_index)) for o in instance.offers), np.int64,
        len(instance.offers))
    in_force = instance.active_policies(period) if period and instance.periods else None
    return _excluded(instance, *_offer_countries(instance), offer_material, m_index,
                     in_force)


def excluded_items(data: ModelData, case: Instance) -> np.ndarray:
    """Per offer item of `data`, whether an exclude row of `case` (the same offers under
    another strategy) in force in the item's period forbids it."""
    per_period = [excluded_offers(case, p) for p in data.period_ids]
    out = np.zeros(data.n_offers, dtype=bool)
    for t, excluded in enumerate(per_period):
        mine = data.offer_period == t
        out[mine] = excluded[data.offer_source[mine]]
    return out


def _excluded(instance: Instance, country_ids: tuple[str, ...], stage_country: np.ndarray,
              offer_material: np.ndarray, m_index: dict[str, int],
              in_force: tuple[Policy, ...] | None = None) -> np.ndarray:
    """`Instance.excludes` for every offer and active exclude row at once: an offer is
    out when the row's material is `*` or the offer's, and the offer's country at one of
    the row's stages is among the row's target countries. `in_force`: the rows in force
    in one period (default: every active row)."""
    excluded = np.zeros(len(instance.offers), dtype=bool)
    if in_force is None:
        in_force = instance.active_policies()
    rules = [p for p in in_force if p.rule == "exclude"]
    if not rules:
        return excluded
    for p in rules:
        targets = instance.target_countries(p)
        member = np.fromiter((c in targets for c in country_ids), bool, len(country_ids))
        hit = np.zeros(len(excluded), dtype=bool)
        for stage in p.stages:
            hit |= member[stage_country[ALL_STAGES.index(stage)]]
        if p.material != "*":
            hit &= offer_material == m_index.get(p.material, -1)
        excluded |= hit
    return excluded


def _disrupted_pairs(instance: Instance, scenarios: tuple[Scenario, ...],
                     country_ids: tuple[str, ...], stage_country: np.ndarray,
                     offer_material: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scenario, offer, a) for every offer whose availability is below 1, sorted by
    scenario then offer.

    a_{o,k} = min(f_{c(o)}, f_{q(o)}) is the smallest factor over every hit of scenario k
    that names either country of the offer and its material (or `*`), so each hit
    contributes its factor to the offers of its country and the minimum is taken per
    (scenario, offer) pair. All hits at once: the offers grouped by country (either
    stage, an offer once per country), each hit takes its country's group, keeps the
    offers of its material, and the pairs are keyed k · |offers| + o.
    """
    n = len(offer_material)
    c_index = {c: i for i, c in enumerate(country_ids)}
    m_index = {m.id: i for i, m in enumerate(instance.materials)}
    hits = [(k, c_index[hit.country], -1 if hit.material == "*"
             else m_index.get(hit.material, -2), hit.capacity_factor)
            for k, scenario in enumerate(scenarios) for hit in scenario.hits
            if hit.capacity_factor < 1.0 and hit.country in c_index]
    if not hits:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    hit_k = np.fromiter((h[0] for h in hits), np.int64, len(hits))
    hit_c = np.fromiter((h[1] for h in hits), np.int64, len(hits))
    hit_m = np.fromiter((h[2] for h in hits), np.int64, len(hits))
    hit_f = np.fromiter((h[3] for h in hits), float, len(hits))
    # offers by country: origin, and processing where it differs
    origin, processing = stage_country[0], stage_country[1]
    also = np.flatnonzero(processing != origin)
    country = np.concatenate([origin, processing[also]])
    offer = np.concatenate([np.arange(n, dtype=np.int64), also])
    order = np.argsort(country, kind="stable")
    grouped = offer[order]
    count = np.bincount(country, minlength=len(country_ids))
    first = np.cumsum(count) - count
    per_hit = count[hit_c]
    hit = np.repeat(np.arange(len(hits)), per_hit)
    shift = first[hit_c] - (np.cumsum(per_hit) - per_hit)  # a pair's place → its offer's
    members = grouped[np.arange(len(hit)) + np.repeat(shift, per_hit)]
    if (hit_m != -1).any():  # hits on one material keep that material's offers
        wanted = hit_m[hit]
        keep = (wanted == -1) | (offer_material[members] == wanted)
        hit, members = hit[keep], members[keep]
    key = (hit_k * n)[hit] + members
    factor = hit_f[hit]
    if not len(key):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    order = np.argsort(key, kind="stable")  # merges the hits' runs of ascending offers
    key, factor = key[order], factor[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    factor = np.minimum.reduceat(factor, starts)  # the smallest factor of each pair
    key = key[starts]
    return key // n, key % n, factor
