"""Seeded synthetic instances for the build-speed benchmark.

`generate(size, seed)` returns a `resilience.domain.Instance` built directly (no
workbook, no validation pass), shaped like the data a procurement team would bring:

- materials with demand and a shortage penalty well above the purchase price; about
  40 % can be stockpiled (some of those with a cap on the stock);
- countries with a disruption probability, group tags (40 % `ALLY`, 15 % `FEOC`,
  about half the allies `EU`) and a tariff (none on allies);
- offers spread over materials and countries, ~30 % processed in another country,
  capacity summing to 3-5x demand per material, ~30 % with a minimum order, all with a
  fixed contract cost, ~7.5 % with a reserve price, ~5 % with their own tariff;
- explicit disruption scenarios (the stated number), each hitting 1-3 countries with a
  capacity factor in [0, 0.5], ~30 % of hits material-specific; probabilities sum to
  0.5, so `baseline` takes the other half;
- policies: max_country_share * 0.65 (stage both), min_group_share ALLY 0.3,
  max_hhi 4000 on a few materials, exclude FEOC for one material;
- settings: risk_aversion 0.3 (CVaR in the objective), mip_gap 1e-4.

Everything is drawn from `numpy.random.default_rng(seed)`, so a (size, seed) pair always
gives the same instance.
"""

from __future__ import annotations

import numpy as np

from resilience.domain import (
    Country,
    Instance,
    Material,
    Offer,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
)

# name: (materials, countries, offers, scenarios)
SIZES: dict[str, tuple[int, int, int, int]] = {
    "small": (5, 20, 200, 50),
    "medium": (20, 60, 2_000, 200),
    "large": (50, 100, 10_000, 500),
}


def generate(size: str, seed: int = 0) -> Instance:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    n_m, n_c, n_o, n_k = SIZES[size]
    rng = np.random.default_rng(seed)

    # ---- materials -------------------------------------------------------------------
    demand = np.round(rng.uniform(100.0, 5_000.0, n_m), 1)
    base_price = np.round(rng.uniform(10.0, 200.0, n_m), 2)
    penalty = np.round(base_price * rng.uniform(5.0, 15.0, n_m), 2)
    stocked = rng.random(n_m) < 0.4
    stocked[0] = True  # at least one material can be stockpiled
    capped = rng.random(n_m) < 0.5
    materials = tuple(
        Material(
            id=f"M{m:03d}", unit="t", demand=float(demand[m]),
            shortage_penalty=float(penalty[m]),
            stockpile_cost=float(round(base_price[m] * rng.uniform(0.05, 0.25), 2))
            if stocked[m] else None,
            max_stockpile=float(round(demand[m] * rng.uniform(0.1, 0.4), 1))
            if stocked[m] and capped[m] else None,
            row=m + 2,
        )
        for m in range(n_m)
    )

    # ---- countries -------------------------------------------------------------------
    rank = rng.permutation(n_c)  # exactly 40 % ALLY and 15 % FEOC, disjoint
    ally = rank < round(0.40 * n_c)
    feoc = rank >= n_c - max(1, round(0.15 * n_c))
    eu = ally & (rng.random(n_c) < 0.5)
    disruption = np.round(rng.uniform(0.0, 0.08, n_c), 4)
    tariff = np.where(ally, 0.0, np.round(rng.uniform(0.0, 0.25, n_c), 3))
    countries = []
    for c in range(n_c):
        tags = tuple(t for t, on in (("ALLY", ally[c]), ("EU", eu[c]), ("FEOC", feoc[c]))
                     if on)
        countries.append(Country(
            id=f"C{c:03d}", name=f"Country {c}", disruption_prob=float(disruption[c]),
            groups=tags, tariff=float(tariff[c]), row=c + 2,
        ))
    countries = tuple(countries)

    # ---- offers ----------------------------------------------------------------------
    # every material gets its share of the offers, in random order over materials
    offer_material = rng.permutation(np.arange(n_o) % n_m)
    origin = rng.integers(0, n_c, n_o)
    processing = np.where(rng.random(n_o) < 0.3, rng.integers(0, n_c, n_o), origin)
    per_material = np.bincount(offer_material, minlength=n_m)
    coverage = rng.uniform(3.0, 5.0, n_m)  # total capacity / demand
    raw_capacity = rng.uniform(0.3, 1.7, n_o)
    scale = coverage * demand / np.bincount(offer_material, weights=raw_capacity,
                                            minlength=n_m)
    capacity = np.round(raw_capacity * scale[offer_material], 1)
    unit_cost = np.round(base_price[offer_material] * rng.uniform(0.7, 1.4, n_o)
                         * np.where(feoc[origin], 0.8, 1.0), 2)  # FEOC sells cheap
    min_order = np.where(rng.random(n_o) < 0.3,
                         np.round(capacity * rng.uniform(0.1, 0.5, n_o), 1), 0.0)
    # a contract costs about 1-4 % of buying the offer's typical slice of demand
    typical = demand[offer_material] / per_material[offer_material] * unit_cost
    fixed_cost = np.round(typical * rng.uniform(0.01, 0.04, n_o) * 5, 2)
    reservable = rng.random(n_o) < 0.075
    reserve_cost = np.round(unit_cost * rng.uniform(0.05, 0.2, n_o), 2)
    own_tariff = rng.random(n_o) < 0.05
    own_tariff_value = np.round(rng.uniform(0.0, 0.3, n_o), 3)
    offers = []
    for i in range(n_o):
        override = float(own_tariff_value[i]) if own_tariff[i] else None
        offers.append(Offer(
            supplier=f"S{i:05d}", material=materials[offer_material[i]].id,
            country=countries[origin[i]].id,
            processing_country=countries[processing[i]].id,
            unit_cost=float(unit_cost[i]), capacity=float(capacity[i]),
            min_order=float(min_order[i]), fixed_cost=float(fixed_cost[i]),
            reserve_cost=float(reserve_cost[i]) if reservable[i] else None,
            tariff=override if override is not None else float(tariff[processing[i]]),
            tariff_override=override, row=i + 2,
        ))
    offers = tuple(offers)

    # ---- scenarios -------------------------------------------------------------------
    probability = rng.dirichlet(np.ones(n_k)) * 0.5
    scenarios = []
    row = 2
    for k in range(n_k):
        n_hits = int(rng.integers(1, 4))
        hit_countries = rng.choice(n_c, size=n_hits, replace=False)
        hits = []
        for c in hit_countries:
            specific = rng.random() < 0.3
            material = materials[int(rng.integers(n_m))].id if specific else "*"
            hits.append(ScenarioHit(countries[int(c)].id, material,
                                    float(round(rng.uniform(0.0, 0.5), 3))))
        scenarios.append(Scenario(name=f"K{k:04d}", probability=float(probability[k]),
                                  hits=tuple(hits), row=row))
        row += n_hits

    # ---- policies --------------------------------------------------------------------
    n_hhi = max(1, n_m // 5)
    hhi_materials = rng.choice(n_m, size=n_hhi, replace=False)
    excluded_material = int(rng.integers(n_m))
    policies = [
        Policy(rule="max_country_share", material="*", target="*", target_kind="*",
               stage="both", value=0.65, name="EU CRMA 65 % cap", row=2),
        Policy(rule="min_group_share", material="*", target="ALLY", target_kind="group",
               stage="both", value=0.3, name="friend-shoring 30 %", row=3),
    ]
    for j, m in enumerate(sorted(int(m) for m in hhi_materials)):
        policies.append(Policy(rule="max_hhi", material=materials[m].id, target="*",
                               target_kind="*", stage="both", value=4000.0,
                               name=f"max_hhi {materials[m].id}", row=4 + j))
    policies.append(Policy(rule="exclude", material=materials[excluded_material].id,
                           target="FEOC", target_kind="group", stage="both", value=None,
                           name="no FEOC", row=4 + n_hhi))

    return Instance(
        materials=materials,
        countries=countries,
        offers=offers,
        policies=tuple(policies),
        scenario_rows=tuple(scenarios),
        settings=Settings(risk_aversion=0.3, cvar_alpha=0.95, time_limit=120.0,
                          mip_gap=1e-4),
        source_name=f"synthetic-{size}-seed{seed}",
    )


def describe(instance: Instance) -> str:
    n_res = sum(o.reserve_cost is not None for o in instance.offers)
    n_hits = sum(len(s.hits) for s in instance.scenario_rows or ())
    return (f"{len(instance.materials)} materials, {len(instance.countries)} countries, "
            f"{len(instance.offers)} offers ({n_res} reservable), "
            f"{len(instance.scenario_rows or ())} scenarios ({n_hits} hits), "
            f"{len(instance.policies)} policy rows")


if __name__ == "__main__":
    import sys
    import time

    for name in sys.argv[1:] or list(SIZES):
        started = time.perf_counter()
        inst = generate(name)
        print(f"{name}: {describe(inst)} in {time.perf_counter() - started:.2f} s")
