"""The typed, validated instance and the solution: frozen dataclasses free of pandas,
openpyxl and Pyomo, so every layer can depend on them and none can mutate them.

Identifiers are stored in the spelling of the row that defines them; validation has
already resolved every reference to that spelling, so downstream code compares
strings exactly.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

BASELINE = "baseline"
STAGES = ("origin", "processing")
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

    @property
    def landed_cost(self) -> float:
        return (1.0 + self.tariff) * self.unit_cost

    def stage_country(self, stage: str) -> str:
        return self.country if stage == "origin" else self.processing_country


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
    warnings: tuple[str, ...] = ()
    # Cells under columns resilience does not use: (sheet, cell, header, value as read).
    unused_cells: tuple[tuple[str, str, str, object], ...] = ()

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

    def active_policies(self) -> tuple[Policy, ...]:
        """Rows that apply under the chosen strategy and what-if (blank = always)."""
        return tuple(
            p
            for p in self.policies
            if (p.strategy is None or p.strategy == self.strategy)
            and (p.whatif is None or p.whatif == self.whatif)
        )

    def scenarios(self) -> tuple[Scenario, ...]:
        """The disruption scenarios of this case, `baseline` last when its probability is
        positive. Generated lazily so a what-if that edits disruption_prob takes effect."""
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
                                         None, base.row)
        remainder = 1.0 - sum(s.probability for s in listed)
        if remainder > 1e-12:
            listed.append(Scenario(name=BASELINE, probability=remainder))
        return tuple(listed)


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


@dataclass(frozen=True)
class ScenarioOutcome:
    """What the solver chose in one scenario (not necessarily least-cost when λ > 0)."""

    scenario: str
    probability: float
    shortage: dict[str, float]
    stock_drawn: dict[str, float]
    backup_called: dict[str, float]
    recourse_cost: float


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
