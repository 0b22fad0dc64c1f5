"""Independent verification: everything recomputed from the plan alone.

This module shares no code with the model. It reads the instance and the plan
(quantities, reserves, stock), checks every limit of SPEC §3 and every active policy
(with the exact HHI, not the model's chords), and recomputes each scenario's least
recourse cost in closed form: per material, of the shortfall only what was lost to the
disruption may be replaced (SPEC v2 §3): from stock first (it is free to draw), then from
the cheapest surviving backup that costs less than a shortage; the rest is shortage.
From those it rebuilds the first-stage cost, the expected recourse, the CVaR and the
objective.

If the solver's objective disagrees with this recomputation beyond tolerance, or the plan
breaks a limit, the solve fails loudly: a wrong number is worse than no number.

It runs after every solve, inside the user's time limit, so the scenario part (scenarios ×
plan lines; 10 s as plain loops on the large benchmark) is computed with numpy, a block of
scenarios at a time, arranged to give the very floats the plain loops give (sums term by
term in the same order, Python's `min`/`max` semantics, a stable sort for the backups).
tests/verify_reference.py keeps the plain-loop version as the oracle the tests hold this
one to. numpy is the only thing added: still nothing from the model or the solver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resilience.domain import Instance, PlanLine

REL_TOL = 1e-6


@dataclass(frozen=True)
class ScenarioCheck:
    scenario: str
    probability: float
    shortage: dict[str, float]
    stock_drawn: dict[str, float]
    backup_called: dict[str, float]
    recourse_cost: float


@dataclass(frozen=True)
class PolicyCheck:
    policy_row: int  # Excel row on Policies
    name: str
    rule: str
    material: str
    target: str  # the country or group measured ("" for HHI)
    stage: str
    limit: float
    achieved: float  # share (fraction) or exact HHI
    satisfied: bool


@dataclass(frozen=True)
class Verification:
    ok: bool
    problems: tuple[str, ...]
    procurement_cost: float  # Σ ĉ x
    tariff_cost: float  # of which tariffs: Σ τ c x
    fixed_cost: float
    reserve_cost: float
    stock_cost: float
    first_stage_cost: float
    expected_recourse_cost: float
    cvar: float
    objective: float
    scenarios: tuple[ScenarioCheck, ...]
    shares: dict[str, dict[str, dict[str, float]]]  # material → stage → country → σ
    hhi: dict[str, dict[str, float]]  # material → stage → exact HHI
    policies: tuple[PolicyCheck, ...] = field(default=())
    expected_shortage: dict[str, float] = field(default_factory=dict)


def verify(instance: Instance, plan: tuple[PlanLine, ...], stockpile: dict[str, float],
           solver_objective: float | None = None, solver_bound: float | None = None,
           planning_rules: bool = True) -> Verification:
    """`planning_rules=False` evaluates a plan fixed in advance (evaluate): physical limits
    (capacity, reserve, stock cap) still hold, the rules a planner chose (min orders, the
    demand cap) are not held against it."""
    problems: list[str] = []
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in instance.offers}
    materials = {m.id: m for m in instance.materials}
    countries = {c.id: c for c in instance.countries}

    def tol(scale: float) -> float:
        return REL_TOL * max(1.0, abs(scale))

    # the tolerance on each material's demand, computed once rather than per plan line
    demand_tol = {m.id: tol(m.demand) for m in instance.materials}
    bought: list[tuple] = []  # (offer, x, r)
    for line in plan:
        offer = offers.get((line.supplier, line.material, line.country,
                            line.processing_country))
        if offer is None:
            problems.append(f"plan line {line.supplier}/{line.material} matches no offer")
            continue
        x, r = line.quantity, line.reserve
        small = demand_tol[offer.material]
        if x < -small or r < -small:
            problems.append(f"{_name(offer)}: negative quantity or reserve")
        if (x > small or r > small) and not line.contracted:
            problems.append(f"{_name(offer)}: orders or reserve without a contract")
        if x + r > offer.capacity + tol(offer.capacity):
            problems.append(f"{_name(offer)}: firm {x:g} + reserve {r:g} exceeds capacity "
                            f"{offer.capacity:g}")
        if planning_rules and line.contracted and x < offer.min_order - tol(offer.min_order):
            problems.append(f"{_name(offer)}: contracted but {x:g} is below the minimum "
                            f"order {offer.min_order:g}")
        if r > small and offer.reserve_cost is None:
            problems.append(f"{_name(offer)}: reserve on an offer without a reserve price")
        bought.append((offer, x, r, line.contracted))
    # Each material's lines in plan order: every per-material sum below adds the same
    # terms in the same order as a filter over the whole plan would, without the
    # materials x lines scan.
    by_material: dict[str, list[tuple]] = {}
    for item in bought:
        by_material.setdefault(item[0].material, []).append(item)

    for m in instance.materials:
        total = sum(x for _, x, _, _ in by_material.get(m.id, ()))
        if planning_rules and total > m.demand + tol(m.demand):
            problems.append(f"{m.id}: firm orders {total:g} exceed demand {m.demand:g}")
    for mid, held in stockpile.items():
        m = materials[mid]
        if held > tol(m.demand) and m.stockpile_cost is None:
            problems.append(f"{mid}: stock held without a stockpile cost")
        if m.max_stockpile is not None and held > m.max_stockpile + tol(m.max_stockpile):
            problems.append(f"{mid}: stock {held:g} exceeds max_stockpile {m.max_stockpile:g}")

    # ---- costs ------------------------------------------------------------------------
    procurement = sum((1 + o.tariff) * o.unit_cost * x for o, x, _, _ in bought)
    tariffs = sum(o.tariff * o.unit_cost * x for o, x, _, _ in bought)
    fixed = sum(o.fixed_cost for o, _, _, contracted in bought if contracted)
    reserve = sum((o.reserve_cost or 0.0) * r for o, _, r, _ in bought)
    stock = sum((materials[mid].stockpile_cost or 0.0) * h for mid, h in stockpile.items())
    first_stage = procurement + fixed + reserve + stock

    # ---- shares and policies ------------------------------------------------------------
    shares: dict[str, dict[str, dict[str, float]]] = {}
    for m in instance.materials:
        shares[m.id] = {"origin": {}, "processing": {}}
        for o, x, _, _ in by_material.get(m.id, ()):
            if x <= 0:
                continue
            for stage, country in (("origin", o.country), ("processing", o.processing_country)):
                shares[m.id][stage][country] = shares[m.id][stage].get(country, 0.0) \
                    + x / m.demand
    hhi = {mid: {stage: 10_000.0 * sum(s * s for s in by_country.values())
                 for stage, by_country in stages.items()}
           for mid, stages in shares.items()}
    policy_checks = _check_policies(instance, bought, by_material, shares, hhi, countries,
                                    problems)

    # ---- scenarios ----------------------------------------------------------------------
    scenario_checks, shortages = _scenario_checks(instance, by_material, stockpile)
    expected = sum(s.probability * s.recourse_cost for s in scenario_checks)
    alpha = instance.settings.cvar_alpha
    cvar = _cvar([(s.probability, s.recourse_cost) for s in scenario_checks], alpha)
    lam = instance.settings.risk_aversion
    objective = first_stage + (1 - lam) * expected + lam * cvar
    expected_shortage = _expected_shortage(instance, scenario_checks, shortages)

    if solver_objective is not None:
        slack = 1e-6 * max(1.0, abs(solver_objective)) + 1e-6
        if objective > solver_objective + slack:
            problems.append(f"objective: the plan costs {objective:,.6f} when recomputed, "
                            f"more than the solver's {solver_objective:,.6f}")
        if solver_bound is not None and objective < solver_bound - slack:
            problems.append(f"objective: the plan costs {objective:,.6f} when recomputed, "
                            f"below the solver's proven bound {solver_bound:,.6f}")

    return Verification(
        ok=not problems, problems=tuple(problems), procurement_cost=procurement,
        tariff_cost=tariffs, fixed_cost=fixed, reserve_cost=reserve, stock_cost=stock,
        first_stage_cost=first_stage, expected_recourse_cost=expected, cvar=cvar,
        objective=objective, scenarios=tuple(scenario_checks), shares=shares, hhi=hhi,
        policies=tuple(policy_checks), expected_shortage=expected_shortage,
    )


def _name(offer) -> str:
    return f"Suppliers row {offer.row} ({offer.supplier}, {offer.material})"


def _cvar(outcomes: list[tuple[float, float]], alpha: float) -> float:
    """CVaR_α = min_η η + Σ π (R − η)⁺ / (1 − α); the minimum sits at one of the R_k.

    Every candidate η is tried, as the definition reads, but all of them at once: one pass
    over the outcomes adds π (R − η)⁺ to a vector of running sums, one per η, in outcome
    order, so each sum is the same left-to-right float sum as `sum()` over a generator
    (O(K) memory, K² work in numpy instead of K² Python steps: 0.25 M for 500 scenarios)."""
    if not outcomes:
        return 0.0
    etas = np.array([eta for _, eta in outcomes], dtype=float)
    totals = np.zeros(len(etas))
    with np.errstate(all="ignore"):
        for p, cost in outcomes:
            excess = cost - etas
            totals += p * np.where(excess > 0.0, excess, 0.0)  # max(0.0, excess)
        values = etas + totals / (1 - alpha)
    return min(values.tolist())


def _scenario_checks(instance, by_material, stockpile
                     ) -> tuple[list[ScenarioCheck], np.ndarray]:
    """Each scenario's least recourse cost, in closed form (SPEC §3): per material, what
    arrives is Σ a x and what was lost Σ (1 − a) x. Recourse may cover only the part of
    the shortfall that was lost, min(need, lost) (v2: bought or drawn supply only replaces
    lost supply, so a gap left by orders not placed stays short even in `baseline`): stock
    first (free, up to what is held), then backups in order of price (ties: the smaller
    amount first) while cheaper than a shortage; the rest of the need is shortage at the
    penalty.

    This is the hot loop of verification (scenarios × plan lines: 5 M availabilities on
    the large benchmark, ~10 s as Python loops), so it runs in numpy on a block of
    scenarios at once, arrays laid out (plan line, scenario). It reproduces the plain
    loops' floats exactly: every sum is accumulated term by term in plan order (never
    numpy's pairwise `sum`), each `min`/`max` is a comparison with the same ties and NaN
    behaviour as Python's, and the backups are ordered by a stable lexicographic sort on
    (price, amount) like `sorted` on tuples. tests/test_verify_equivalence.py holds it to
    the plain-loop oracle.

    Also returns the shortages as an array (scenario, material) for the expectation."""
    scenarios = [s for s in instance.scenarios() if s.probability > 0]
    if not scenarios:
        return [], np.zeros((0, len(instance.materials)))
    materials = instance.materials
    mids = [m.id for m in materials]
    lines_of = [by_material.get(m.id, ()) for m in materials]
    counts = [len(lines) for lines in lines_of]
    # Lines in "k-major" order: every material's first line (materials with the most lines
    # first), then every second line, and so on. The k-th lines of all materials are then
    # one slice, and each material's sum Σ_k t_k runs k = 0, 1, … for all materials at
    # once as `total[:width] += terms[slice]`: in plan order, no padding, no gather.
    ranked = sorted(range(len(materials)), key=lambda i: -counts[i])  # stable
    rank_of = [0] * len(materials)
    for r, i in enumerate(ranked):
        rank_of[i] = r
    depth = max(counts, default=0)
    widths = [sum(1 for c in counts if c > k) for k in range(depth)] if depth else []
    offsets = [0]
    for width in widths:
        offsets.append(offsets[-1] + width)
    items = [lines_of[i][k] for k in range(depth) for i in ranked[:widths[k]]]
    n = len(items)
    x = np.array([item[1] for item in items], dtype=float).reshape(n, 1)

    # Where each hit lands: the lines by origin (processing) country, and by country and
    # material.
    where_hit = tuple(_lines_at([country(item[0]) for item in items],
                                [item[0].material for item in items])
                      for country in (lambda o: o.country, lambda o: o.processing_country))

    # Backups: each material's lines with a reserve, in plan order, at their landed cost.
    backups = []
    for i in range(len(materials)):
        mine = [(offsets[k] + rank_of[i], line) for k, line in enumerate(lines_of[i])
                if line[2] > 0]
        backups.append((np.array([j for j, _ in mine], dtype=np.intp),
                        np.array([(1 + o.tariff) * o.unit_cost for _, (o, _, _, _) in mine],
                                 dtype=float).reshape(-1, 1),
                        np.array([r for _, (_, _, r, _) in mine], dtype=float).reshape(-1, 1)))

    checks = []
    shortages = []
    block = max(1, min(len(scenarios), _BLOCK_CELLS // max(1, n)))
    with np.errstate(all="ignore"):  # inf and NaN pass silently, as with Python floats
        for first in range(0, len(scenarios), block):
            part = scenarios[first:first + block]
            rows = len(part)
            a = _availability(part, n, where_hit)  # (line, scenario)
            arrives = a * x
            missing = (1 - a) * x
            delivered_by_rank = np.zeros((len(materials), rows))
            lost_by_rank = np.zeros((len(materials), rows))
            for width, start in zip(widths, offsets, strict=False):
                delivered_by_rank[:width] += arrives[start:start + width]
                lost_by_rank[:width] += missing[start:start + width]
            cost = np.zeros(rows)
            shortage = np.empty((len(materials), rows))
            drawn = np.empty((len(materials), rows))
            called = np.empty((len(materials), rows))
            for i, m in enumerate(materials):
                delivered, lost = delivered_by_rank[rank_of[i]], lost_by_rank[rank_of[i]]
                gap = m.demand - delivered
                need = np.where(gap > 0.0, gap, 0.0)  # max(0.0, gap)
                # SPEC v2 §3: stock and backup only replace supply lost in the scenario
                cover = np.where(lost < need, lost, need)  # min(need, lost)
                cover = np.where(cover > 0.0, cover, 0.0)  # max(0.0, ·)
                held = np.full(rows, stockpile.get(m.id, 0.0), dtype=float)
                w = np.where(cover < held, cover, held)  # min(held, cover)
                cover = cover - w
                need = need - w
                used = np.zeros(rows)
                js, price, reserve = backups[i]
                if len(js):
                    share = a[js]
                    available = share * reserve
                    prices = np.broadcast_to(price, available.shape)
                    # a backup whose lines deliver nothing is off the list: last in order
                    unlisted = ~(share > 0)
                    order = np.lexsort((available, prices, unlisted), axis=0)
                    prices = np.take_along_axis(prices, order, axis=0)
                    available = np.take_along_axis(available, order, axis=0)
                    unlisted = np.take_along_axis(unlisted, order, axis=0)
                    # `break` at an unlisted one, at the first as dear as a shortage, or
                    # once what may be covered is
                    open_ = ~(unlisted | (prices >= m.shortage_penalty))
                    going = np.ones(rows, dtype=bool)
                    for b in range(len(js)):
                        going &= open_[b]
                        going &= ~(cover <= 0)
                        if not going.any():
                            break
                        take = np.where(cover < available[b], cover, available[b])
                        np.add(used, take, out=used, where=going)
                        np.subtract(cover, take, out=cover, where=going)
                        np.subtract(need, take, out=need, where=going)
                        np.add(cost, prices[b] * take, out=cost, where=going)
                cost = cost + m.shortage_penalty * need
                shortage[i], drawn[i], called[i] = need, w, used
            shortages.append(shortage.T)
            for s, cost_s, short_s, drawn_s, called_s in zip(
                    part, cost.tolist(), shortage.T.tolist(), drawn.T.tolist(),
                    called.T.tolist(), strict=True):
                checks.append(ScenarioCheck(
                    s.name, s.probability, dict(zip(mids, short_s, strict=True)),
                    dict(zip(mids, drawn_s, strict=True)),
                    dict(zip(mids, called_s, strict=True)), cost_s))
    return checks, np.concatenate(shortages)


def _expected_shortage(instance, checks, shortages) -> dict[str, float]:
    """Σ_k π_k shortage_{m,k} per material: the scenarios added in order for all materials
    at once (the same left-to-right sums as per material, K steps rather than K × M)."""
    if not checks:
        return {m.id: sum(()) for m in instance.materials}
    total = np.zeros(shortages.shape[1])
    for check, row in zip(checks, shortages, strict=True):
        total += check.probability * row
    column = {m.id: i for i, m in enumerate(instance.materials)}  # a repeated id: the last
    values = total.tolist()
    return {m.id: values[column[m.id]] for m in instance.materials}


# Plan lines × scenarios per block of the availability matrix: about 16 MB of floats.
_BLOCK_CELLS = 2_000_000


def _lines_at(countries: list[str], materials: list[str]) -> tuple[dict, dict]:
    """The positions of the lines in each country, and in each (country, material)."""
    if not countries:
        return {}, {}
    code: dict[str, int] = {}
    country_code = np.array([code.setdefault(c, len(code)) for c in countries],
                            dtype=np.intp)
    names = list(code)
    kind: dict[str, int] = {}
    material_code = np.array([kind.setdefault(m, len(kind)) for m in materials],
                             dtype=np.intp)
    kinds = list(kind)
    by_country = {names[c]: lines for c, lines in _groups(country_code)}
    by_pair = {(names[c // len(kinds)], kinds[c % len(kinds)]): lines
               for c, lines in _groups(country_code * len(kinds) + material_code)}
    return by_country, by_pair


def _groups(codes: np.ndarray):
    """(code, the positions where it occurs, ascending) for each distinct code."""
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    cuts = (np.flatnonzero(np.diff(ordered)) + 1).tolist()
    starts, ends = [0, *cuts], [*cuts, len(codes)]
    return zip(ordered[starts].tolist(), (order[a:b] for a, b in zip(starts, ends, strict=True)),
               strict=True)


def _availability(scenarios, n, where_hit) -> np.ndarray:
    """a[j, k] = min(f_{c(o)}, f_{q(o)}) for plan line j in scenario k, each factor the
    smallest hit listed for the (country, material) pair, 1 where none is: exactly
    `Scenario.availability`, whose `min` over the listed factors (in hit order) is taken
    here too, once per country and material a scenario names, and written to the lines
    there. Only those lines are visited (a scenario hits a few countries); every other
    line keeps 1."""
    a = np.ones((n, len(scenarios)))
    factor = (np.ones(n), np.ones(n))  # origin, processing: back to 1 after each scenario
    for k, scenario in enumerate(scenarios):
        hits_at: dict[str, list] = {}
        for hit in scenario.hits:
            hits_at.setdefault(hit.country, []).append(hit)
        touched = []
        for f, (by_country, by_pair) in zip(factor, where_hit, strict=True):
            for country, hits in hits_at.items():
                if any(h.material == "*" for h in hits):
                    js = by_country.get(country)
                    if js is not None:  # every line there; named materials follow
                        f[js] = min(h.capacity_factor for h in hits if h.material == "*")
                        touched.append(js)
                for material in dict.fromkeys(h.material for h in hits if h.material != "*"):
                    js = by_pair.get((country, material))
                    if js is not None:
                        f[js] = min(h.capacity_factor for h in hits
                                    if h.material in ("*", material))
                        touched.append(js)
        if touched:
            js = np.concatenate(touched)
            origin, processing = factor[0][js], factor[1][js]
            a[js, k] = np.where(processing < origin, processing, origin)  # min(o, p)
            factor[0][js] = 1.0
            factor[1][js] = 1.0
    return a


def _check_policies(instance, bought, by_material, shares, hhi, countries,
                    problems) -> list[PolicyCheck]:
    checks = []
    members_of: dict[str, set[str]] = {}
    for c in countries.values():
        for tag in c.groups:
            members_of.setdefault(tag, set()).add(c.id)

    everyone = set(countries)

    def members(policy) -> set[str]:
        if policy.target == "*":
            return everyone
        if policy.target in countries:
            return {policy.target}
        return members_of.get(policy.target, set())

    for policy in instance.active_policies():
        scope = [m for m in instance.materials if policy.material in ("*", m.id)]
        stages = ("origin", "processing") if policy.stage == "both" else (policy.stage,)
        targets = members(policy)  # once per row, not per material and stage
        ordered = sorted(targets)
        if policy.rule == "exclude":
            banned = targets
            lines = bought if policy.material == "*" else by_material.get(policy.material, ())
            for o, x, r, _ in lines:
                hit = (policy.stage in ("origin", "both") and o.country in banned) or (
                    policy.stage in ("processing", "both") and o.processing_country in banned)
                if hit and (x > 1e-9 or r > 1e-9):
                    problems.append(f"Policies row {policy.row} ({policy.name}): "
                                    f"{_name(o)} is excluded but used")
            continue
        for m in scope:
            for stage in stages:
                by_country = shares[m.id][stage]
                if policy.rule == "max_hhi":
                    units = [("", hhi[m.id][stage])]
                elif policy.rule == "max_country_share":
                    units = [(c, by_country.get(c, 0.0)) for c in ordered]
                else:
                    units = [(policy.target, sum(by_country.get(c, 0.0)
                                                 for c in targets))]
                for label, achieved in units:
                    tolerance = 1e-6 * (10_000 if policy.rule == "max_hhi" else 1)
                    if policy.rule == "min_group_share":
                        ok = achieved >= policy.value - tolerance
                    else:
                        ok = achieved <= policy.value + tolerance
                    if not ok:
                        problems.append(
                            f"Policies row {policy.row} ({policy.name}): {m.id} {stage} "
                            f"{label or 'HHI'} is {achieved:.6g}, limit {policy.value:g}")
                    if policy.rule != "max_country_share" or achieved > 0 or not ok:
                        checks.append(PolicyCheck(policy.row, policy.name, policy.rule, m.id,
                                                  label, stage, policy.value, achieved, ok))
    return checks
