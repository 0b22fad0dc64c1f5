"""The instance as flat arrays: what exists, indexed by integers.

The model is indexed only over what exists — offers, not materials × countries ×
suppliers; disrupted (offer, scenario) pairs, not every pair — so every constraint
family is a handful of numpy operations rather than a loop over a cross product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resilience.domain import Instance, Scenario


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
    material_ids = tuple(m.id for m in instance.materials)
    m_index = {m: i for i, m in enumerate(material_ids)}
    offers = instance.offers
    scenarios = tuple(s for s in instance.scenarios() if s.probability > 0)

    excluded = excluded_offers(instance)
    hit_scenario, hit_offer, hit_availability = _disrupted_pairs(instance, scenarios)
    materials = instance.materials
    return ModelData(
        instance=instance,
        material_ids=material_ids,
        scenarios=scenarios,
        offer_material=np.array([m_index[o.material] for o in offers], dtype=np.int64),
        landed_cost=np.array([o.landed_cost for o in offers], dtype=float),
        capacity=np.array([o.capacity for o in offers], dtype=float),
        min_order=np.array([o.min_order for o in offers], dtype=float),
        fixed_cost=np.array([o.fixed_cost for o in offers], dtype=float),
        reserve_cost=np.array(
            [np.nan if o.reserve_cost is None else o.reserve_cost for o in offers], dtype=float
        ),
        excluded=excluded,
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


def excluded_offers(instance: Instance) -> np.ndarray:
    """Offers an active `exclude` row forbids: its stage country is the target or
    carries the target tag (stage `both`: either country)."""
    rules = [p for p in instance.active_policies() if p.rule == "exclude"]
    return np.array([any(instance.excludes(p, o) for p in rules) for o in instance.offers],
                    dtype=bool)


def _disrupted_pairs(instance: Instance, scenarios: tuple[Scenario, ...]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(scenario, offer, a) for every offer whose availability is below 1, sorted by
    scenario then offer.

    a_{o,k} = min(f_{c(o)}, f_{q(o)}) is the smallest factor over every hit of scenario k
    that names either country of the offer and its material (or `*`), so each hit
    contributes its factor to the offers of its country and the minimum is taken per
    (scenario, offer) pair.
    """
    offers = instance.offers
    n = len(offers)
    by_country: dict[str, np.ndarray] = {}
    staged: dict[str, list[int]] = {}
    for i, o in enumerate(offers):
        staged.setdefault(o.country, []).append(i)
        if o.processing_country != o.country:
            staged.setdefault(o.processing_country, []).append(i)
    for country, members in staged.items():
        by_country[country] = np.array(members, dtype=np.int64)
    material_of = np.array([o.material for o in offers], dtype=object)
    keys: list[np.ndarray] = []
    factors: list[np.ndarray] = []
    for k, scenario in enumerate(scenarios):
        for hit in scenario.hits:
            members = by_country.get(hit.country)
            if members is None or hit.capacity_factor >= 1.0:
                continue
            if hit.material != "*":
                members = members[material_of[members] == hit.material]
            keys.append(k * n + members)
            factors.append(np.full(len(members), hit.capacity_factor))
    if not keys:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    key = np.concatenate(keys)
    factor = np.concatenate(factors)
    order = np.lexsort((factor, key))
    key, factor = key[order], factor[order]
    first = np.ones(len(key), dtype=bool)
    first[1:] = key[1:] != key[:-1]
    key, factor = key[first], factor[first]  # the smallest factor of each pair
    return key // n, key % n, factor
