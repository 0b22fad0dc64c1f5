"""Seeded synthetic instances for the build- and solve-speed benchmarks.

`generate(size, seed)` returns a `resilience.domain.Instance` built directly (no
workbook, no validation pass), shaped like the data a procurement team would bring.

Sizes small (5 materials, 20 countries, 200 offers, 50 scenarios), medium (20, 60,
2,000, 200) and large (50, 100, 10,000, 500) are one period (SPEC §2-3, no Periods
sheet):

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
  max_hhi 4000 on a fifth of the materials, exclude FEOC for one material;
- settings: risk_aversion 0.3 (CVaR in the objective), mip_gap 1e-4.

Size horizon (SPEC §7) has medium's materials, countries and offers (20, 60, 2,000,
drawn the same way), over 5 periods `2026`-`2030`, with 200 scenarios:

- Periods without weights and `discount_rate` 0.05, so δ_t = 1.05^(−t);
- Demand rows: ~40 % of the materials grow 3-12 % a period from their Materials
  demand; one other material has no demand in 2026 (a new use from 2027: its shares
  and policies do not apply there);
- the stockpiled materials: about half hold an initial_stock (10-30 % of demand, at
  most their cap), about 60 % pay a stock_price (0.9-1.3x the material's price) to add
  to the stock;
- 200 offers in ALLY countries are projects (partner capacity): capex 0.3-1.5x a
  period's full-capacity spend, lead_time 0, 1 or 2, available_from 2026, 2027 or
  2028, unit cost 15 % below the offer's draw; ~30 % of them sell spot once online;
- of the ordinary offers, ~8 % end early (available_until 2027-2029), ~5 % start late
  (available_from 2027-2029), ~15 % sell spot (spot_capacity 10-30 % of capacity);
- owner_country: ~12 % of the offers processed in an ALLY country are owned from a
  FEOC country (e.g. a Chinese-owned refinery in an allied country), ~3 % of the
  others by some other country;
- scenarios: 140 apply in every period (probabilities summing to 0.35), 10 of them
  with one more hit in one period (a second Scenario row of the same name for that
  period); 60 apply in one period only, 12 per period (summing to 0.15 in each), so
  `baseline` takes half of every period; ~40 % carry a price_surge of 0.2-1.0;
- policies: those of the one-period sizes, plus max_group_share FEOC 0.25 on the
  `owner` stage from 2028, max_country_share * 0.5 on the processing stage from 2030,
  and exclude FEOC-owned offers (`owner` stage) of one material from 2029;
- settings as above, plus discount_rate 0.05.

Everything is drawn from `numpy.random.default_rng(seed)`, so a (size, seed) pair always
gives the same instance (the one-period sizes are the same instances as before the
horizon size was added).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from resilience.domain import (
    Country,
    DemandRow,
    Instance,
    Material,
    Offer,
    Period,
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
    "horizon": (20, 60, 2_000, 200),
}
# the horizon size: periods, projects among its offers
HORIZON_PERIODS = ("2026", "2027", "2028", "2029", "2030")
HORIZON_PROJECTS = 0.1  # the share of offers that are projects (200 of the 2,000)


@dataclasses.dataclass
class _Base:
    """What the one-period sizes and the horizon share: materials, countries, offers
    and the arrays they were drawn from."""

    demand: np.ndarray
    base_price: np.ndarray
    stocked: np.ndarray
    materials: tuple[Material, ...]
    ally: np.ndarray
    feoc: np.ndarray
    countries: tuple[Country, ...]
    offer_material: np.ndarray
    origin: np.ndarray
    processing: np.ndarray
    offers: tuple[Offer, ...]


def _base(n_m: int, n_c: int, n_o: int, rng: np.random.Generator) -> _Base:
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
    return _Base(demand, base_price, stocked, materials, ally, feoc, countries,
                 offer_material, origin, processing, tuple(offers))


def _hits(rng: np.random.Generator, base: _Base) -> tuple[ScenarioHit, ...]:
    """1-3 countries hit, capacity factor in [0, 0.5], ~30 % of hits on one material."""
    n_c, n_m = len(base.countries), len(base.materials)
    n_hits = int(rng.integers(1, 4))
    hit_countries = rng.choice(n_c, size=n_hits, replace=False)
    hits = []
    for c in hit_countries:
        specific = rng.random() < 0.3
        material = base.materials[int(rng.integers(n_m))].id if specific else "*"
        hits.append(ScenarioHit(base.countries[int(c)].id, material,
                                float(round(rng.uniform(0.0, 0.5), 3))))
    return tuple(hits)


def _policies(rng: np.random.Generator, materials: tuple[Material, ...]) -> list[Policy]:
    n_m = len(materials)
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
    return policies


def generate(size: str, seed: int = 0) -> Instance:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    n_m, n_c, n_o, n_k = SIZES[size]
    rng = np.random.default_rng(seed)
    base = _base(n_m, n_c, n_o, rng)
    if size.startswith("horizon"):  # `horizon`, or a smaller one a test registers
        return _horizon(base, n_k, rng, size, seed)

    # ---- scenarios -------------------------------------------------------------------
    probability = rng.dirichlet(np.ones(n_k)) * 0.5
    scenarios = []
    row = 2
    for k in range(n_k):
        hits = _hits(rng, base)
        scenarios.append(Scenario(name=f"K{k:04d}", probability=float(probability[k]),
                                  hits=hits, row=row))
        row += len(hits)

    return Instance(
        materials=base.materials,
        countries=base.countries,
        offers=base.offers,
        policies=tuple(_policies(rng, base.materials)),
        scenario_rows=tuple(scenarios),
        settings=Settings(risk_aversion=0.3, cvar_alpha=0.95, time_limit=120.0,
                          mip_gap=1e-4),
        source_name=f"synthetic-{size}-seed{seed}",
    )


def _horizon(base: _Base, n_k: int, rng: np.random.Generator, size: str, seed: int
             ) -> Instance:
    """The horizon size (SPEC §7): base materials, countries and offers, then periods,
    demand rows, stock, projects, windows, spot, owners, per-period scenarios with surges
    and period-dependent policies (see the module docstring)."""
    periods_ids = HORIZON_PERIODS
    n_t = len(periods_ids)
    n_m = len(base.materials)
    n_o = len(base.offers)
    periods = tuple(Period(p, None, row=t + 2) for t, p in enumerate(periods_ids))

    # ---- demand over the periods -----------------------------------------------------
    growing = rng.random(n_m) < 0.4
    growth = np.round(rng.uniform(0.03, 0.12, n_m), 3)
    late = int(rng.choice(np.flatnonzero(~growing)))  # no demand in the first period
    demand_rows = []
    for m, material in enumerate(base.materials):
        if growing[m]:
            for t in range(1, n_t):
                demand_rows.append(DemandRow(
                    material.id, periods_ids[t],
                    float(round(material.demand * (1.0 + growth[m]) ** t, 1)),
                    row=len(demand_rows) + 2))
        elif m == late:
            demand_rows.append(DemandRow(material.id, periods_ids[0], 0.0,
                                         row=len(demand_rows) + 2))

    # ---- stock on hand and its price ---------------------------------------------------
    holds = rng.random(n_m) < 0.5
    initial_share = rng.uniform(0.1, 0.3, n_m)
    priced = rng.random(n_m) < 0.6
    price_factor = rng.uniform(0.9, 1.3, n_m)
    materials = []
    for m, material in enumerate(base.materials):
        if not base.stocked[m]:
            materials.append(material)
            continue
        initial = round(material.demand * initial_share[m], 1) if holds[m] else 0.0
        if material.max_stockpile is not None:
            initial = min(initial, material.max_stockpile)
        price = round(base.base_price[m] * price_factor[m], 2) if priced[m] else 0.0
        materials.append(dataclasses.replace(material, initial_stock=float(initial),
                                             stock_price=float(price)))
    materials = tuple(materials)

    # ---- projects, windows, spot, owners ---------------------------------------------
    in_ally = np.flatnonzero(base.ally[base.origin])
    projects = np.zeros(n_o, dtype=bool)
    projects[rng.choice(in_ally, size=min(round(HORIZON_PROJECTS * n_o), len(in_ally)),
                        replace=False)] = True
    lead = rng.integers(0, 3, n_o)
    start = rng.integers(0, 3, n_o)
    capex_factor = rng.uniform(0.3, 1.5, n_o)
    ends_early = rng.random(n_o) < 0.08
    end = rng.integers(1, n_t - 1, n_o)
    starts_late = rng.random(n_o) < 0.05
    late_start = rng.integers(1, n_t - 1, n_o)
    sells_spot = rng.random(n_o) < np.where(projects, 0.3, 0.15)
    spot_share = rng.uniform(0.1, 0.3, n_o)
    feoc_ids = np.flatnonzero(base.feoc)
    feoc_owned = (rng.random(n_o) < 0.12) & base.ally[base.processing]
    feoc_owner = rng.choice(feoc_ids, size=n_o)
    other_owned = (rng.random(n_o) < 0.03) & ~feoc_owned
    other_owner = rng.integers(0, len(base.countries), n_o)
    country_ids = [c.id for c in base.countries]
    offers = []
    for i, offer in enumerate(base.offers):
        changes: dict = {}
        if projects[i]:
            unit_cost = round(offer.unit_cost * 0.85, 2)
            changes.update(
                unit_cost=unit_cost,
                capex=float(round(offer.capacity * unit_cost * (1.0 + offer.tariff)
                                  * capex_factor[i], 2)),
                lead_time=int(lead[i]), available_from=periods_ids[int(start[i])])
        else:
            if ends_early[i]:
                changes["available_until"] = periods_ids[int(end[i])]
            if starts_late[i] and not (ends_early[i] and late_start[i] > end[i]):
                changes["available_from"] = periods_ids[int(late_start[i])]
        if sells_spot[i]:
            changes["spot_capacity"] = float(round(offer.capacity * spot_share[i], 1))
        if feoc_owned[i]:
            owner = country_ids[int(feoc_owner[i])]
        elif other_owned[i]:
            owner = country_ids[int(other_owner[i])]
        else:
            owner = None
        if owner is not None and owner != offer.country:
            changes["owner_country"] = owner
        offers.append(dataclasses.replace(offer, **changes) if changes else offer)
    offers = tuple(offers)

    # ---- scenarios: every period, one more hit in one period, one period only ----------
    n_specific_per_period = max(1, round(0.06 * n_k))  # 12 of the horizon's 200
    n_every = n_k - n_specific_per_period * n_t
    every_probability = rng.dirichlet(np.ones(n_every)) * 0.35
    extra_hit = set(rng.choice(n_every, size=min(10, n_every), replace=False).tolist())
    surged = rng.random(n_k) < 0.4
    surge = np.where(surged, np.round(rng.uniform(0.2, 1.0, n_k), 2), 0.0)
    scenarios = []
    row = 2
    for k in range(n_every):
        name = f"K{k:04d}"
        hits = _hits(rng, base)
        scenarios.append(Scenario(name=name, probability=float(every_probability[k]),
                                  hits=hits, row=row, price_surge=float(surge[k])))
        row += len(hits)
        if k in extra_hit:
            more = _hits(rng, base)[:1]
            scenarios.append(Scenario(name=name, probability=float(every_probability[k]),
                                      hits=more, row=row,
                                      period=periods_ids[int(rng.integers(n_t))],
                                      price_surge=float(surge[k])))
            row += len(more)
    k = n_every
    for period in periods_ids:
        probability = rng.dirichlet(np.ones(n_specific_per_period)) * 0.15
        for j in range(n_specific_per_period):
            hits = _hits(rng, base)
            scenarios.append(Scenario(name=f"K{k:04d}", probability=float(probability[j]),
                                      hits=hits, row=row, period=period,
                                      price_surge=float(surge[k])))
            row += len(hits)
            k += 1

    # ---- policies --------------------------------------------------------------------
    policies = _policies(rng, materials)
    owner_excluded = materials[int(rng.integers(n_m))].id
    policies += [
        Policy(rule="max_group_share", material="*", target="FEOC", target_kind="group",
               stage="owner", value=0.25, name="FEOC-owned ≤ 25 % from 2028",
               from_period="2028"),
        Policy(rule="max_country_share", material="*", target="*", target_kind="*",
               stage="processing", value=0.5, name="processing ≤ 50 % from 2030",
               from_period="2030"),
        Policy(rule="exclude", material=owner_excluded, target="FEOC", target_kind="group",
               stage="owner", value=None, name=f"no FEOC-owned {owner_excluded} from 2029",
               from_period="2029"),
    ]
    policies = [dataclasses.replace(p, row=2 + i) for i, p in enumerate(policies)]

    return Instance(
        materials=materials,
        countries=base.countries,
        offers=offers,
        policies=tuple(policies),
        scenario_rows=tuple(scenarios),
        settings=Settings(risk_aversion=0.3, cvar_alpha=0.95, time_limit=120.0,
                          mip_gap=1e-4, discount_rate=0.05),
        source_name=f"synthetic-{size}-seed{seed}",
        periods=periods,
        demand_rows=tuple(demand_rows),
    )


def describe(instance: Instance) -> str:
    n_res = sum(o.reserve_cost is not None for o in instance.offers)
    n_hits = sum(len(s.hits) for s in instance.scenario_rows or ())
    text = (f"{len(instance.materials)} materials, {len(instance.countries)} countries, "
            f"{len(instance.offers)} offers ({n_res} reservable), "
            f"{len(instance.scenario_rows or ())} scenarios ({n_hits} hits), "
            f"{len(instance.policies)} policy rows")
    if instance.periods:
        names = {s.name for s in instance.scenario_rows or ()}
        text += (f"; {len(instance.periods)} periods, "
                 f"{sum(o.capex is not None for o in instance.offers)} projects, "
                 f"{sum(o.spot_capacity > 0 for o in instance.offers)} spot sellers, "
                 f"{sum(o.owner_country is not None for o in instance.offers)} owned "
                 f"elsewhere, {len(instance.demand_rows)} demand rows, {len(names)} "
                 f"scenario names")
    return text


if __name__ == "__main__":
    import sys
    import time

    for name in sys.argv[1:] or list(SIZES):
        started = time.perf_counter()
        inst = generate(name)
        print(f"{name}: {describe(inst)} in {time.perf_counter() - started:.2f} s")
