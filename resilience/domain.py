"""The typed, validated instance and the solution: frozen dataclasses free of pandas,
openpyxl and Pyomo, so every layer can depend on them and none can mutate them.

Identifiers are stored in the spelling of the row that defines them; validation has
already resolved every reference to that spelling, so downstream code compares
strings exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from resilience.errors import Problem

BASELINE = "baseline"
STAGES = ("origin", "processing")  # what a Policies row's `both` covers
OWNER = "owner"  # SPEC §7: the country that controls the supplier, o ↦ owner(o)
ALL_STAGES = (*STAGES, OWNER)
# The id of the one implicit period of a workbook without a Periods sheet.
SINGLE_PERIOD = ""
POLICY_RULES = ("max_country_share", "min_group_share", "max_group_share", "max_hhi", "exclude")
HHI_BREAKPOINT_STEP = 0.05


@dataclass(frozen=True)
class Material:
    id: str
    unit: str
    demand: float
    shortage_penalty: float
    stockpile_cost: float | None = None  # None: no strategic stock for this material
    max_stockpile: float | None = None  # None: no cap
    row: int = 0  # Excel row on the Materials sheet, for messages
    initial_stock: float = 0.0  # H_m, on hand before the first period (SPEC §7)
    stock_price: float = 0.0  # s_m, per unit added to the stock


@dataclass(frozen=True)
class Country:
    id: str
    name: str = ""
    disruption_prob: float = 0.0
    groups: tuple[str, ...] = ()
    tariff: float = 0.0
    row: int = 0


@dataclass(frozen=True)
class Offer:
    supplier: str
    material: str
    country: str  # origin c(o)
    processing_country: str  # q(o)
    unit_cost: float
    capacity: float
    min_order: float = 0.0
    fixed_cost: float = 0.0
    reserve_cost: float | None = None  # None: no reservation possible
    tariff: float = 0.0  # resolved: the offer's own, else the processing country's
    tariff_override: float | None = None  # the offer's own tariff cell, if any
    row: int = 0
    # SPEC §7. Window: period ids as the Periods sheet spells them, None = the horizon's
    # first / last period. For a project, available_from is the first period its build
    # can start.
    available_from: str | None = None
    available_until: str | None = None
    capex: float | None = None  # None: an ordinary offer; a number: a project
    lead_time: int = 0  # projects: periods from the build's start to first delivery
    spot_capacity: float = 0.0  # V_o, sold without a contract in a disruption
    owner_country: str | None = None  # None: owned where it is (= country)

    @property
    def landed_cost(self) -> float:
        return (1.0 + self.tariff) * self.unit_cost

    @property
    def is_project(self) -> bool:
        return self.capex is not None

    @property
    def owner(self) -> str:
        return self.country if self.owner_country is None else self.owner_country

    def stage_country(self, stage: str) -> str:
        if stage == "origin":
            return self.country
        if stage == OWNER:
            return self.owner
        return self.processing_country


@dataclass(frozen=True)
class Policy:
    rule: str
    material: str  # material id or "*"
    target: str  # country id, group tag or "*"
    target_kind: str  # "country", "group" or "*"
    stage: str  # "origin", "processing" or "both"
    value: float | None
    strategy: str | None = None
    whatif: str | None = None
    name: str = ""
    row: int = 0
    from_period: str | None = None  # SPEC §7: applies in this period and later (None: all)

    @property
    def stages(self) -> tuple[str, ...]:
        return STAGES if self.stage == "both" else (self.stage,)


@dataclass(frozen=True)
class ScenarioHit:
    country: str
    material: str  # material id or "*"
    capacity_factor: float


@dataclass(frozen=True)
class Scenario:
    name: str
    probability: float
    hits: tuple[ScenarioHit, ...] = ()
    whatif: str | None = None
    row: int = 0  # first row on the Scenarios sheet; 0 when generated
    # SPEC §7: the period its rows apply in (None: every period), and the surge on spot
    # prices while it lasts. One Scenario per (name, period) of the sheet.
    period: str | None = None
    price_surge: float = 0.0

    def capacity_factor(self, country: str, material: str) -> float:
        """f_{c,m,k}: the smallest factor listed for the pair, 1 where none is."""
        factors = [
            h.capacity_factor
            for h in self.hits
            if h.country == country and (h.material == "*" or h.material == material)
        ]
        return min(factors) if factors else 1.0

    def availability(self, offer: Offer) -> float:
        """a_{o,k} = min(f_{c(o)}, f_{q(o)})."""
        return min(
            self.capacity_factor(offer.country, offer.material),
            self.capacity_factor(offer.processing_country, offer.material),
        )


@dataclass(frozen=True)
class Settings:
    risk_aversion: float = 0.0
    cvar_alpha: float = 0.95
    time_limit: float = 60.0
    mip_gap: float = 1e-4
    currency: str = "USD"
    discount_rate: float = 0.0  # SPEC §7: default period weights (1 + r)^(−t)


@dataclass(frozen=True)
class Period:
    """One row of the Periods sheet, in time order (t = its position)."""

    id: str
    weight: float | None = None  # δ_t; None: (1 + discount_rate)^(−t)
    row: int = 0


@dataclass(frozen=True)
class DemandRow:
    """D_{m,t} for one (material, period) the Demand sheet lists."""

    material: str
    period: str
    demand: float
    row: int = 0


@dataclass(frozen=True)
class WhatIfEdit:
    whatif: str
    sheet: str
    where: tuple[tuple[str, str], ...]
    column: str
    op: str
    value: float | str
    row: int = 0
    origin: str = "workbook"


@dataclass(frozen=True)
class Instance:
    materials: tuple[Material, ...]
    countries: tuple[Country, ...]
    offers: tuple[Offer, ...]
    policies: tuple[Policy, ...] = ()
    # None: no Scenarios sheet, so scenarios are generated from disruption_prob.
    scenario_rows: tuple[Scenario, ...] | None = None
    settings: Settings = Settings()
    whatif_edits: tuple[WhatIfEdit, ...] = ()
    strategy: str | None = None
    whatif: str | None = None
    source_name: str = ""
    source_sha256: str = ""
    # what validate warned of, as it located it (a Problem with warning=True): the CLI
    # prints them, the report lists them, `validate --json` writes them field by field
    warnings: tuple[Problem, ...] = ()
    # Cells under columns resilience does not use: (sheet, cell, header, value as read).
    unused_cells: tuple[tuple[str, str, str, object], ...] = ()
    # SPEC §7: () when the workbook has no Periods sheet (one implicit period, v1 shape).
    periods: tuple[Period, ...] = ()
    demand_rows: tuple[DemandRow, ...] = ()

    # ---- the horizon (SPEC §7) ------------------------------------------------------------
    @property
    def multi_period(self) -> bool:
        """Whether the workbook has a Periods sheet (even of one row): reports and JSON
        then take the multi-period shape."""
        return bool(self.periods)

    def period_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.periods) if self.periods else (SINGLE_PERIOD,)

    def period_index(self, period: str | None, default: int = 0) -> int:
        """t of a period id; `default` for None (a blank window or from_period cell)."""
        if period is None:
            return default
        return self.period_ids().index(period)

    def period_weights(self) -> tuple[float, ...]:
        """δ_t: the Periods sheet's weight, else (1 + discount_rate)^(−t)."""
        if not self.periods:
            return (1.0,)
        rate = self.settings.discount_rate
        return tuple(p.weight if p.weight is not None else (1.0 + rate) ** (-t)
                     for t, p in enumerate(self.periods))

    def demand(self, material_id: str, period: str = SINGLE_PERIOD) -> float:
        """D_{m,t}: the Demand sheet's row, else Materials.demand."""
        for d in self.demand_rows:
            if d.material == material_id and d.period == period:
                return d.demand
        return self.material(material_id).demand

    def demand_table(self) -> dict[tuple[str, str], float]:
        """D_{m,t} for every material and period."""
        listed = {(d.material, d.period): d.demand for d in self.demand_rows}
        return {(m.id, t): listed.get((m.id, t), m.demand)
                for t in self.period_ids() for m in self.materials}

    def offer_window(self, offer: Offer) -> tuple[int, int]:
        """(first, last) t the offer can deliver in, before any lead time."""
        last = len(self.period_ids()) - 1
        return (self.period_index(offer.available_from, 0),
                self.period_index(offer.available_until, last))

    def applies_in(self, policy: Policy, period: str) -> bool:
        """A Policies row applies from its from_period on."""
        return self.period_index(policy.from_period, 0) <= self.period_index(period)

    def material(self, material_id: str) -> Material:
        return self._materials_by_id()[material_id]

    def country(self, country_id: str) -> Country:
        return self._countries_by_id()[country_id]

    def _materials_by_id(self) -> dict[str, Material]:
        return {m.id: m for m in self.materials}

    def _countries_by_id(self) -> dict[str, Country]:
        return {c.id: c for c in self.countries}

    def group_members(self, tag: str) -> tuple[str, ...]:
        return tuple(c.id for c in self.countries if tag in c.groups)

    def target_countries(self, policy: Policy) -> frozenset[str]:
        """The countries a policy row's target names: every country for `*`, the
        members of a group tag, or the one country."""
        if policy.target_kind == "*":
            return frozenset(c.id for c in self.countries)
        if policy.target_kind == "group":
            return frozenset(self.group_members(policy.target))
        return frozenset((policy.target,))

    def excludes(self, policy: Policy, offer: Offer) -> bool:
        """Whether an `exclude` row forbids the offer: its material is in scope and the
        country of one of the row's stages is a target country."""
        if policy.rule != "exclude" or policy.material not in ("*", offer.material):
            return False
        members = self.target_countries(policy)
        return any(offer.stage_country(stage) in members for stage in policy.stages)

    def strategies(self) -> tuple[str, ...]:
        """Strategy names defined in the workbook, in order of first appearance."""
        seen: dict[str, None] = {}
        for p in self.policies:
            if p.strategy:
                seen.setdefault(p.strategy, None)
        return tuple(seen)

    def active_policies(self, period: str | None = None) -> tuple[Policy, ...]:
        """Rows that apply under the chosen strategy and what-if (blank = always), and,
        given a period, in that period (from_period on)."""
        return tuple(
            p
            for p in self.policies
            if (p.strategy is None or p.strategy == self.strategy)
            and (p.whatif is None or p.whatif == self.whatif)
            and (period is None or self.applies_in(p, period))
        )

    def scenarios(self, period: str | None = None) -> tuple[Scenario, ...]:
        """The disruption scenarios of this case, `baseline` last when its probability is
        positive. Generated lazily so a what-if that edits disruption_prob takes effect.

        Over a horizon, `period` picks the scenarios present in that period: the sheet's
        rows for it or for every period (blank), merged by name; each comes back with
        `period` set to that period. Without `period`, only rows for every period count
        (all rows, in a workbook without a Periods sheet)."""
        if self.scenario_rows is not None and any(
                s.period is not None for s in self.scenario_rows):
            return self._scenarios_in(period)
        if self.scenario_rows is None:
            listed = [
                Scenario(
                    name=c.id,
                    probability=c.disruption_prob,
                    hits=(ScenarioHit(c.id, "*", 0.0),),
                )
                for c in self.countries
                if c.disruption_prob > 0
            ]
        else:
            # A what-if's rows join the base scenario of the same name (more hits) or,
            # if there is none, form a new scenario.
            listed = [s for s in self.scenario_rows if s.whatif is None]
            position = {s.name.casefold(): i for i, s in enumerate(listed)}
            for s in self.scenario_rows:
                if s.whatif is None or s.whatif != self.whatif:
                    continue
                i = position.get(s.name.casefold())
                if i is None:
                    position[s.name.casefold()] = len(listed)
                    listed.append(s)
                else:
                    base = listed[i]
                    listed[i] = Scenario(base.name, base.probability, base.hits + s.hits,
                                         None, base.row, base.period,
                                         base.price_surge or s.price_surge)
        remainder = 1.0 - sum(s.probability for s in listed)
        if remainder > 1e-12:
            listed.append(Scenario(name=BASELINE, probability=remainder))
        if period is not None and self.periods:
            listed = [_in_period(s, period) for s in listed]
        return tuple(listed)

    def _scenarios_in(self, period: str | None) -> tuple[Scenario, ...]:
        """`scenarios` for a sheet with period-specific rows: the rows of `period` (or of
        every period) merged by name, base rows before what-if rows; a period-specific
        row's probability wins over a blank-period one's (validation makes them agree)."""
        rows = [s for s in self.scenario_rows
                if s.period is None or (period is not None and s.period == period)]
        listed: list[Scenario] = []
        position: dict[str, int] = {}
        for base_pass in (True, False):
            for s in rows:
                if (s.whatif is None) != base_pass:
                    continue
                if not base_pass and s.whatif != self.whatif:
                    continue
                key = s.name.casefold()
                i = position.get(key)
                if i is None:
                    position[key] = len(listed)
                    listed.append(s)
                    continue
                base = listed[i]
                probability = s.probability if (s.period is not None and base.period is None
                                                 and s.whatif is None) else base.probability
                listed[i] = Scenario(base.name, probability, base.hits + s.hits, None,
                                     base.row, base.period or s.period,
                                     base.price_surge or s.price_surge)
        remainder = 1.0 - sum(s.probability for s in listed)
        if remainder > 1e-12:
            listed.append(Scenario(name=BASELINE, probability=remainder))
        return tuple(_in_period(s, period) for s in listed) if period is not None \
            else tuple(listed)


def _in_period(scenario: Scenario, period: str) -> Scenario:
    if scenario.period == period:
        return scenario
    return Scenario(scenario.name, scenario.probability, scenario.hits, scenario.whatif,
                    scenario.row, period, scenario.price_surge)


class Status(enum.Enum):
    """What became of a solve, independent of the solver's own vocabulary."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"  # stopped by the time limit with a plan (incumbent)
    INFEASIBLE = "infeasible"
    NO_SOLUTION = "no_solution"  # stopped (time limit, interrupt) without any plan
    ERROR = "error"

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.TIME_LIMIT)


@dataclass(frozen=True)
class PlanLine:
    supplier: str
    material: str
    country: str
    processing_country: str
    quantity: float  # x_o
    reserve: float  # r_o
    contracted: bool  # y_o
    period: str = SINGLE_PERIOD  # SPEC §7: the period the line is for


@dataclass(frozen=True)
class Investment:
    """A project (an offer with capex) the plan builds (SPEC §7)."""

    supplier: str
    material: str
    country: str
    processing_country: str
    period: str  # the build starts
    online_from: str  # first period it can deliver
    capex: float
    capacity: float


@dataclass(frozen=True)
class ScenarioOutcome:
    """What the solver chose in one scenario (not necessarily least-cost when λ > 0)."""

    scenario: str
    probability: float
    shortage: dict[str, float]
    stock_drawn: dict[str, float]
    backup_called: dict[str, float]
    recourse_cost: float
    period: str = SINGLE_PERIOD
    spot_bought: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PolicyCost:
    """One applied policy constraint: its limit, the achieved value and its shadow price."""

    policy_index: int  # position in Instance.policies
    name: str
    rule: str
    material: str
    country: str  # the country or group the row constrains, "" for max_hhi
    stage: str
    limit: float
    achieved: float
    binding: bool
    cost_per_point: float | None  # currency per percentage point (HHI: per point)
    period: str = SINGLE_PERIOD


@dataclass(frozen=True)
class CrossCheck:
    """The same model solved by a second solver (`--check-with`)."""

    solver: str
    objective: float
    bound: float | None
    agree: bool


@dataclass(frozen=True)
class Solution:
    status: Status
    objective: float | None
    bound: float | None
    mip_gap: float | None
    solve_seconds: float
    build_seconds: float
    plan: tuple[PlanLine, ...] = ()
    stockpile: dict[str, float] = field(default_factory=dict)
    scenarios: tuple[ScenarioOutcome, ...] = ()
    policy_costs: tuple[PolicyCost, ...] = ()
    message: str = ""
    solver_versions: dict[str, str] = field(default_factory=dict)
    solver: str = "highs"  # "highs" (direct) or "pyomo:NAME"
    cross_check: CrossCheck | None = None
    # SPEC §7: () for a workbook without a Periods sheet (then `stockpile` is the level)
    periods: tuple[str, ...] = ()
    investments: tuple[Investment, ...] = ()
    stock_levels: dict[str, dict[str, float]] = field(default_factory=dict)  # m → t → h
