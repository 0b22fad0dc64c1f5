"""What-ifs: named edits applied to a copy of the instance; the instance never changes.

An edit that matches no row is an input error, never a silent no-op: a planner who
mistypes `country=CHM` must hear about it rather than get the base case back.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from resilience.domain import Country, Instance, Material, Offer, WhatIfEdit
from resilience.errors import InputError, Problem
from resilience.schema import COUNTRIES, MATERIALS, SUPPLIERS, normalise_name

# Columns a what-if may change, per sheet: (dataclass field, kind).
_EDITABLE: dict[str, dict[str, tuple[str, str]]] = {
    "Materials": {
        "demand": ("demand", "number"),
        "shortage_penalty": ("shortage_penalty", "number"),
        "stockpile_cost": ("stockpile_cost", "number"),
        "max_stockpile": ("max_stockpile", "number"),
        "unit": ("unit", "text"),
    },
    "Countries": {
        "disruption_prob": ("disruption_prob", "fraction"),
        "tariff": ("tariff", "number"),
        "groups": ("groups", "groups"),
        "name": ("name", "text"),
    },
    "Suppliers": {
        "unit_cost": ("unit_cost", "number"),
        "capacity": ("capacity", "number"),
        "min_order": ("min_order", "number"),
        "fixed_cost": ("fixed_cost", "number"),
        "reserve_cost": ("reserve_cost", "number"),
        "tariff": ("tariff_override", "number"),
    },
}
# Columns a `where` filter may name, per sheet: how to read them off a row.
_FILTERS: dict[str, dict[str, Callable[[object], object]]] = {
    "Materials": {"material": lambda m: m.id},
    "Countries": {"country": lambda c: c.id, "groups": lambda c: c.groups},
    "Suppliers": {
        "supplier": lambda o: o.supplier,
        "material": lambda o: o.material,
        "country": lambda o: o.country,
        "processing_country": lambda o: o.processing_country,
    },
}
_SCHEMAS = {"Materials": MATERIALS, "Countries": COUNTRIES, "Suppliers": SUPPLIERS}


def known_whatifs(instance: Instance) -> tuple[str, ...]:
    names: dict[str, str] = {}
    for edit in instance.whatif_edits:
        names.setdefault(edit.whatif.casefold(), edit.whatif)
    for policy in instance.policies:
        if policy.whatif:
            names.setdefault(policy.whatif.casefold(), policy.whatif)
    for scenario in instance.scenario_rows or ():
        if scenario.whatif:
            names.setdefault(scenario.whatif.casefold(), scenario.whatif)
    return tuple(names.values())


def apply_whatif(instance: Instance, name: str) -> Instance:
    """A new instance with the what-if's edits applied and its rows switched on."""
    known = {n.casefold(): n for n in known_whatifs(instance)}
    spelling = known.get(name.strip().casefold())
    if spelling is None:
        listing = ", ".join(sorted(known.values())) or "none defined"
        raise InputError([Problem("WhatIfs", "", f"unknown what-if {name!r}; known: "
                                  f"{listing}")])
    edits = [e for e in instance.whatif_edits if e.whatif == spelling]
    changed, problems = _apply(instance, edits)
    if problems:
        raise InputError(problems)
    result = dataclasses.replace(changed, whatif=spelling)
    total = sum(s.probability for s in result.scenarios() if s.name != "baseline")
    if result.scenario_rows is None and total >= 1 - 1e-12:
        raise InputError([Problem("Countries", "", f"under what-if {spelling} the "
                                  "disruption probabilities sum to at least 1, so no "
                                  "baseline is left for generated scenarios",
                                  found=round(total, 6))])
    if total > 1 + 1e-9:
        raise InputError([Problem("Scenarios", "", f"under what-if {spelling} the scenario "
                                  "probabilities sum to more than 1", found=round(total, 6))])
    return result


def check_edits(instance: Instance) -> list[Problem]:
    """Every edit of every what-if, tried on the base data: what would fail."""
    problems: list[Problem] = []
    for name in known_whatifs(instance):
        _, found = _apply(instance, [e for e in instance.whatif_edits if e.whatif == name])
        problems.extend(found)
    return problems


def _apply(instance: Instance, edits: list[WhatIfEdit]) -> tuple[Instance, list[Problem]]:
    problems: list[Problem] = []
    tables: dict[str, list] = {
        "Materials": list(instance.materials),
        "Countries": list(instance.countries),
        "Suppliers": list(instance.offers),
    }
    for edit in edits:
        where = f"A{edit.row}" if edit.row else ""
        label = f"what-if {edit.whatif}"
        editable = _EDITABLE[edit.sheet]
        target = editable.get(_column_key(edit.column, edit.sheet))
        if target is None:
            problems.append(Problem("WhatIfs", where, f"{label}: column {edit.column!r} of "
                                    f"{edit.sheet} cannot be edited (editable: "
                                    f"{', '.join(editable)})"))
            continue
        filters = []
        bad_filter = False
        for column, value in edit.where:
            reader = _FILTERS[edit.sheet].get(_column_key(column, edit.sheet))
            if reader is None:
                problems.append(Problem("WhatIfs", where, f"{label}: cannot filter "
                                        f"{edit.sheet} on {column!r} (can: "
                                        f"{', '.join(_FILTERS[edit.sheet])})"))
                bad_filter = True
                break
            filters.append((reader, value.casefold()))
        if bad_filter:
            continue
        field_name, kind = target
        if edit.op != "set" and kind in ("text", "groups"):
            problems.append(Problem("WhatIfs", where, f"{label}: {edit.op} needs a number "
                                    f"column; {edit.column} is text"))
            continue
        if kind in ("number", "fraction") and not isinstance(edit.value, float):
            problems.append(Problem("WhatIfs", where, f"{label}: value must be a number",
                                    found=edit.value))
            continue
        rows = tables[edit.sheet]
        matched = 0
        for i, item in enumerate(rows):
            if all(_matches(reader(item), value) for reader, value in filters):
                matched += 1
                rows[i] = _edit(item, field_name, kind, edit.op, edit.value)
        if matched == 0:
            text = "; ".join(f"{c}={v}" for c, v in edit.where) or "(every row)"
            problems.append(Problem("WhatIfs", where, f"{label}: the edit matches no row of "
                                    f"{edit.sheet}", found=text))
    problems.extend(_check_values(tables, edits))
    countries = {c.id: c for c in tables["Countries"]}
    offers = [
        dataclasses.replace(o, tariff=o.tariff_override if o.tariff_override is not None
                            else countries[o.processing_country].tariff)
        for o in tables["Suppliers"]
    ]
    changed = dataclasses.replace(
        instance, materials=tuple(tables["Materials"]), countries=tuple(tables["Countries"]),
        offers=tuple(offers),
    )
    return changed, problems


def _column_key(column: str, sheet: str) -> str:
    key = normalise_name(column)
    for c in _SCHEMAS[sheet].columns:
        if normalise_name(c.name) == key:
            return c.name
    return key


def _matches(actual: object, wanted: str) -> bool:
    if isinstance(actual, tuple):
        return any(a.casefold() == wanted for a in actual)
    return str(actual).casefold() == wanted


def _edit(item: Material | Country | Offer, field_name: str, kind: str, op: str,
          value: float | str):
    current = getattr(item, field_name)
    if field_name == "tariff_override" and current is None:
        current = item.tariff  # scaling or adding to an inherited tariff starts from it
    if kind == "groups":
        tags = tuple(t.strip() for t in str(value).split(",") if t.strip())
        return dataclasses.replace(item, groups=tags)
    if kind == "text":
        return dataclasses.replace(item, **{field_name: str(value)})
    if op == "set":
        new = float(value)
    elif op == "scale":
        new = None if current is None else current * float(value)
    else:
        new = (current or 0.0) + float(value)
    return dataclasses.replace(item, **{field_name: new})


def _check_values(tables: dict[str, list], edits: list[WhatIfEdit]) -> list[Problem]:
    """Edited values must still satisfy the schema bounds."""
    problems = []
    names = ", ".join(sorted({e.whatif for e in edits}))
    for m in tables["Materials"]:
        if not (m.demand > 0 and math.isfinite(m.demand)) or m.shortage_penalty < 0:
            problems.append(Problem("WhatIfs", "", f"what-if {names} leaves material {m.id} "
                                    "with a demand ≤ 0 or a negative penalty"))
    for c in tables["Countries"]:
        if not 0 <= c.disruption_prob < 1 or c.tariff < 0:
            problems.append(Problem("WhatIfs", "", f"what-if {names} leaves country {c.id} "
                                    "with a disruption_prob outside [0, 1) or a negative "
                                    "tariff"))
    for o in tables["Suppliers"]:
        if o.capacity < 0 or o.unit_cost < 0 or o.min_order < 0:
            problems.append(Problem("WhatIfs", "", f"what-if {names} leaves offer "
                                    f"{o.supplier}/{o.material} with a negative value"))
        # min_order above a shocked capacity is allowed: the offer cannot be contracted.
    return problems
