"""The instance as flat arrays: what exists, indexed by integers.

The model is indexed only over what exists — offers, not materials × countries ×
suppliers; disrupted (offer, scenario) pairs, not every pair — so every constraint
family is a handful of numpy operations rather than a loop over a cross product.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import numpy as np

from resilience.domain import STAGES, Instance, Scenario


@dataclass(frozen=True)
class ModelData:
    instance: Instance
    material_ids: tuple[str, ...]
    scenarios: tuple[Scenario, ...]  # with positive probability, in model order
    # per offer
    offer_material: np.ndarray  # int index into material_ids
    landed_cost: np.ndarray
    capacity: np.ndarray
    min_order: np.ndarray
    fixed_cost: np.ndarray
    reserve_cost: np.ndarray  # nan where no reservation
    excluded: np.ndarray  # bool: an active exclude policy forbids the offer
    # offer_stage_country[s, o]: index into country_ids of the offer's country at stage
    # STAGES[s] (origin, processing)
    offer_stage_country: np.ndarray
    # the Countries sheet's ids in order, then any country only an offer names
    country_ids: tuple[str, ...]
    # per material
    demand: np.ndarray
    penalty: np.ndarray
    stock_cost: np.ndarray  # nan where no stockpile
    stock_cap: np.ndarray  # inf where uncapped
    # per scenario
    probability: np.ndarray
    # disrupted pairs (a < 1), sorted by scenario then offer
    hit_scenario: np.ndarray
    hit_offer: np.ndarray
    hit_availability: np.ndarray

    @property
    def n_offers(self) -> int:
        return len(self.offer_material)

    @property
    def n_materials(self) -> int:
        return len(self.material_ids)

    @property
    def n_scenarios(self) -> int:
        return len(self.scenarios)


def model_data(instance: Instance) -> ModelData:
    """The instance's offers, materials and scenarios as arrays, one field at a time
    (`np.fromiter` over the offers per field, no per-offer rows of Python values)."""
    material_ids = tuple(m.id for m in instance.materials)
    m_index = {m: i for i, m in enumerate(material_ids)}
    offers = instance.offers
    n = len(offers)
    scenarios = tuple(s for s in instance.scenarios() if s.probability > 0)
    country_ids, stage_country = _offer_countries(instance)

    def per_offer(field: str) -> np.ndarray:
        return np.fromiter(map(attrgetter(field), offers), float, n)

    offer_material = np.fromiter(map(m_index.__getitem__, map(attrgetter("material"), offers)),
                                 np.int64, n)
    excluded = _excluded(instance, country_ids, stage_country, offer_material, m_index)
    hit_scenario, hit_offer, hit_availability = _disrupted_pairs(
        instance, scenarios, country_ids, stage_country, offer_material)
    materials = instance.materials

    return ModelData(
        instance=instance,
        material_ids=material_ids,
        scenarios=scenarios,
        offer_material=offer_material,
        landed_cost=per_offer("landed_cost"),
        capacity=per_offer("capacity"),
        min_order=per_offer("min_order"),
        fixed_cost=per_offer("fixed_cost"),
        reserve_cost=np.fromiter(
            (np.nan if o.reserve_cost is None else o.reserve_cost for o in offers), float, n),
        excluded=excluded,
        offer_stage_country=stage_country,
        country_ids=country_ids,
        demand=np.array([m.demand for m in materials], dtype=float),
        penalty=np.array([m.shortage_penalty for m in materials], dtype=float),
        stock_cost=np.array(
            [np.nan if m.stockpile_cost is None else m.stockpile_cost for m in materials],
            dtype=float,
        ),
        stock_cap=np.array(
            [np.inf if m.max_stockpile is None else m.max_stockpile for m in materials],
            dtype=float,
        ),
        probability=np.array([s.probability for s in scenarios], dtype=float),
        hit_scenario=hit_scenario,
        hit_offer=hit_offer,
        hit_availability=hit_availability,
    )


def _offer_countries(instance: Instance) -> tuple[tuple[str, ...], np.ndarray]:
    """The country ids (Countries sheet order, then any country only an offer names) and
    each offer's country index at each stage: row 0 origin c(o), row 1 processing q(o)."""
    ids = [c.id for c in instance.countries]
    index = {c: i for i, c in enumerate(ids)}
    offers = instance.offers
    stage_country = np.empty((2, len(offers)), dtype=np.int64)

    def fill() -> None:
        for s, field in enumerate(("country", "processing_country")):
            stage_country[s] = np.fromiter(
                map(index.__getitem__, map(attrgetter(field), offers)), np.int64, len(offers))

    try:
        fill()
    except KeyError:  # validated workbooks name no other country; tests may
        for o in offers:
            for c in (o.country, o.processing_country):
                if c not in index:
                    index[c] = len(ids)
                    ids.append(c)
        fill()
    return tuple(ids), stage_country


def excluded_offers(instance: Instance) -> np.ndarray:
    """Offers an active `exclude` row forbids: its stage country is the target or
    carries the target tag (stage `both`: either country)."""
    m_index = {m.id: i for i, m in enumerate(instance.materials)}
    offer_material = np.fromiter(  # a material no Materials row names gets an index too
        (m_index.setdefault(o.material, len(m_index)) for o in instance.offers), np.int64,
        len(instance.offers))
    return _excluded(instance, *_offer_countries(instance), offer_material, m_index)


def _excluded(instance: Instance, country_ids: tuple[str, ...], stage_country: np.ndarray,
              offer_material: np.ndarray, m_index: dict[str, int]) -> np.ndarray:
    """`Instance.excludes` for every offer and active exclude row at once: an offer is
    out when the row's material is `*` or the offer's, and the offer's country at one of
    the row's stages is among the row's target countries."""
    excluded = np.zeros(len(instance.offers), dtype=bool)
    rules = [p for p in instance.active_policies() if p.rule == "exclude"]
    if not rules:
        return excluded
    for p in rules:
        targets = instance.target_countries(p)
        member = np.fromiter((c in targets for c in country_ids), bool, len(country_ids))
        hit = np.zeros(len(excluded), dtype=bool)
        for stage in p.stages:
            hit |= member[stage_country[STAGES.index(stage)]]
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
    origin, processing = stage_country
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
