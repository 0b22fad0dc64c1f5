"""Hypothesis strategies for small random instances over a planning horizon (SPEC §7),
built straight from the domain dataclasses (no workbook), valid as `validate` would
leave them: min_order ≤ capacity, available_from ≤ available_until, lead_time only on
projects, one probability and one price_surge per scenario, Σ_k π_{k,t} ≤ 1 in every
period, group targets that some country carries.

Shared by tests/test_horizon_oracle.py (the literal §7 oracle and the metamorphic
tests)."""

from __future__ import annotations

import dataclasses

from hypothesis import strategies as st

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

COUNTRY_IDS = ("AAA", "BBB", "CCC", "DDD")
GROUP_TAGS = ("G1", "G2")
PERIOD_IDS = ("2026", "2027", "2028")
RULES = ("max_country_share", "min_group_share", "max_group_share", "max_hhi", "exclude")
STAGES = ("origin", "processing", "both", "owner")


@dataclasses.dataclass(frozen=True)
class Knobs:
    """What a strategy may draw. The defaults draw everything §7 has; a metamorphic test
    switches off what its relation does not hold for."""

    min_periods: int = 1
    max_periods: int = 3
    sheetless: bool = True  # may draw an instance without a Periods sheet (one period)
    projects: bool = True
    stock_purchases: bool = True  # initial_stock > 0 and stock_price > 0
    policies: bool = True
    max_offers: int = 5


@st.composite
def horizon_instances(draw, knobs: Knobs = Knobs()) -> Instance:  # noqa: B008 (frozen)
    n_periods = draw(st.integers(knobs.min_periods, knobs.max_periods))
    sheetless = knobs.sheetless and n_periods == 1 and draw(st.booleans())
    period_ids = () if sheetless else PERIOD_IDS[:n_periods]
    if period_ids and draw(st.booleans()):
        periods = tuple(Period(t, float(draw(st.sampled_from((0.5, 1.0, 2.0)))), row=i + 2)
                        for i, t in enumerate(period_ids))
    else:
        periods = tuple(Period(t, None, row=i + 2) for i, t in enumerate(period_ids))
    discount = draw(st.sampled_from((0.0, 0.1))) if period_ids else 0.0

    def some_period():
        """A period id, or None (blank: the first / last / every period)."""
        return draw(st.sampled_from((None, *period_ids)))

    n_countries = draw(st.integers(2, 4))
    countries = tuple(
        Country(id=cid,
                disruption_prob=draw(st.sampled_from((0.0, 0.0, 0.1, 0.2))),
                groups=tuple(g for g in GROUP_TAGS if draw(st.booleans())),
                tariff=draw(st.sampled_from((0.0, 0.0, 0.1))), row=i + 2)
        for i, cid in enumerate(COUNTRY_IDS[:n_countries]))
    ids = [c.id for c in countries]
    tariff_of = {c.id: c.tariff for c in countries}

    materials = []
    demand_rows = []
    for m in range(draw(st.integers(1, 2))):
        demand = float(draw(st.integers(10, 100)))
        stock_cost = draw(st.sampled_from((None, 1.0, 4.0)))
        buys = knobs.stock_purchases and (stock_cost is not None or draw(st.booleans()))
        materials.append(Material(
            id=f"m{m}", unit="t", demand=demand,
            shortage_penalty=float(draw(st.sampled_from((30, 200, 1000)))),
            stockpile_cost=stock_cost,
            max_stockpile=draw(st.sampled_from((None, demand / 4))) if stock_cost else None,
            row=m + 2,
            initial_stock=float(draw(st.sampled_from((0, 5, 40)))) if buys else 0.0,
            stock_price=float(draw(st.sampled_from((0, 2)))) if buys else 0.0,
        ))
        for t in period_ids:
            if draw(st.integers(0, 3)) == 0:
                demand_rows.append(DemandRow(
                    f"m{m}", t, float(draw(st.sampled_from((0, 0, 30, 120)))),
                    row=len(demand_rows) + 2))

    material_ids = [m.id for m in materials]
    offers = [draw(offer_rows(ids, tariff_of, material_ids, period_ids, knobs.projects,
                              supplier=f"s{i}", row=i + 2))
              for i in range(draw(st.integers(2, knobs.max_offers)))]

    scenario_rows = None
    if draw(st.booleans()):
        scenario_rows = []
        for k in range(draw(st.integers(0, 3))):
            probability = draw(st.sampled_from((0.05, 0.2, 0.3)))
            surge = draw(st.sampled_from((0.0, 0.0, 0.5, 2.0)))
            # One Scenario per (name, period) of the sheet: blank (every period), one
            # period, or both (the period's rows add hits there).
            in_periods = draw(st.sampled_from(((None,), *((t,) for t in period_ids),
                                               *((None, t) for t in period_ids))))
            for period in in_periods:
                hits = tuple(
                    ScenarioHit(draw(st.sampled_from(ids)),
                                draw(st.sampled_from(("*", *material_ids))),
                                draw(st.sampled_from((0.0, 0.3, 0.5, 1.0))))
                    for _ in range(draw(st.integers(1, 2))))
                scenario_rows.append(Scenario(f"k{k}", probability, hits,
                                              row=len(scenario_rows) + 2, period=period,
                                              price_surge=surge))
        scenario_rows = tuple(scenario_rows)

    rules = ()
    if knobs.policies:
        tags = sorted({g for c in countries for g in c.groups})
        rules = tuple(draw(st.lists(policy_rows(ids, tags, material_ids, period_ids),
                                    max_size=3)))
        rules = tuple(dataclasses.replace(p, row=i + 2) for i, p in enumerate(rules))
    return Instance(
        materials=tuple(materials), countries=countries, offers=tuple(offers),
        policies=rules, scenario_rows=scenario_rows,
        settings=Settings(risk_aversion=draw(st.sampled_from((0.0, 0.5))),
                          cvar_alpha=draw(st.sampled_from((0.5, 0.9))),
                          mip_gap=0.0, time_limit=20.0, discount_rate=discount),
        periods=periods, demand_rows=tuple(demand_rows),
    )


def offer_rows(ids: list[str], tariff_of: dict[str, float], material_ids: list[str],
               period_ids: tuple[str, ...], projects: bool = True, *,
               supplier: str, row: int, project: bool | None = None):
    """One random Suppliers row: a window, maybe a project (capex, lead_time), spot,
    an owner. `project` True / False forces a project / an ordinary offer."""

    @st.composite
    def offer(draw) -> Offer:
        origin = draw(st.sampled_from(ids))
        processing = draw(st.sampled_from((origin, *ids)))
        capacity = float(draw(st.integers(0, 120)))
        override = draw(st.sampled_from((None, None, 0.2)))
        first = draw(st.sampled_from((None, *period_ids)))
        later = [t for t in period_ids if first is None or t >= first]
        last = draw(st.sampled_from((None, *later)))
        is_project = project if project is not None else (
            projects and draw(st.integers(0, 2)) == 0)
        capex = float(draw(st.sampled_from((0, 100, 600)))) if is_project else None
        return Offer(
            supplier=supplier, material=draw(st.sampled_from(material_ids)),
            country=origin, processing_country=processing,
            unit_cost=float(draw(st.integers(1, 40))), capacity=capacity,
            min_order=draw(st.sampled_from((0.0, 0.0, capacity / 2))),
            fixed_cost=float(draw(st.sampled_from((0, 0, 50, 300)))),
            reserve_cost=draw(st.sampled_from((None, 0.5, 3.0))),
            tariff=override if override is not None else tariff_of[processing],
            tariff_override=override, row=row,
            available_from=first, available_until=last, capex=capex,
            lead_time=draw(st.integers(0, 2)) if capex is not None and period_ids else 0,
            spot_capacity=float(draw(st.sampled_from((0, 10, 10, 50)))),
            owner_country=draw(st.sampled_from((None, None, *ids))),
        )

    return offer()


def policy_rows(ids: list[str], tags: list[str], material_ids: list[str],
                period_ids: tuple[str, ...]):
    """One random Policies row of any rule, stage (owner included) and from_period."""
    targets = [(c, "country") for c in ids] + [(g, "group") for g in tags]

    @st.composite
    def row(draw) -> Policy:
        rule = draw(st.sampled_from(RULES))
        material_id = draw(st.sampled_from(("*", *material_ids)))
        stage = draw(st.sampled_from(STAGES))
        if rule == "max_hhi":
            target, kind, value = "*", "*", float(draw(st.integers(2500, 10_000)))
        elif rule == "max_country_share":
            target, kind = draw(st.sampled_from([("*", "*"), *targets]))
            value = draw(st.sampled_from((0.3, 0.5, 0.65, 1.0)))
        elif rule == "exclude":
            target, kind = draw(st.sampled_from(targets))
            value = None
        else:
            target, kind = draw(st.sampled_from(targets))
            value = draw(st.sampled_from((0.0, 0.1, 0.3, 0.6)))
        return Policy(rule=rule, material=material_id, target=target, target_kind=kind,
                      stage=stage, value=value, name=f"{rule} {target}",
                      from_period=draw(st.sampled_from((None, *period_ids))))

    return row()
