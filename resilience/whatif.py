"""What-ifs: named edits applied to a copy of the instance; the instance never changes.

An edit that matches no row is an input error, never a silent no-op: a planner who
mistypes `country=CHM` must hear about it rather than get the base case back.

Over a horizon (SPEC §7) a what-if may also edit the new columns of Materials and
Suppliers, and set the demand of a (material, period): the Demand sheet's rows that carry
its name, or `[[demand]]` tables of a TOML what-if (`toml_demand_edits`). Both become
edits on the sheet "Demand" that add the row, or replace the base row of the same
material and period, after every other edit of the what-if.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

from resilience.domain import BASELINE, Country, DemandRow, Instance, Material, Offer, WhatIfEdit
from resilience.errors import InputError, Problem
from resilience.schema import COUNTRIES, MATERIALS, SUPPLIERS, normalise_name

DEMAND_SHEET = "Demand"  # the sheet of the edits that set D_{m,t}

# Columns a what-if may change, per sheet: (dataclass field, kind). Kinds: number,
# fraction, integer (a whole number after the edit), text, groups, and the references
# period (a Periods id) and country (a Countries id), which only `set` may change.
_EDITABLE: dict[str, dict[str, tuple[str, str]]] = {
    "Materials": {
        "demand": ("demand", "number"),
        "shortage_penalty": ("shortage_penalty", "number"),
        "stockpile_cost": ("stockpile_cost", "number"),
        "max_stockpile": ("max_stockpile", "number"),
        "unit": ("unit", "text"),
        "initial_stock": ("initial_stock", "number"),
        "stock_price": ("stock_price", "number"),
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
        "available_from": ("available_from", "period"),
        "available_until": ("available_until", "period"),
        "capex": ("capex", "number"),
        "lead_time": ("lead_time", "integer"),
        "spot_capacity": ("spot_capacity", "number"),
        "owner_country": ("owner_country", "country"),
    },
}
_REFERENCES = ("period", "country")
# Columns a `where` filter may name, per sheet: how to read them off a row.
_FILTERS: dict[str, dict[str, Callable[[object], object]]] = {
    "Materials": {"material": lambda m: m.id},
    "Countries": {"country": lambda c: c.id, "groups": lambda c: c.groups},
    "Suppliers": {
        "supplier": lambda o: o.supplier,
        "material": lambda o: o.material,
        "country": lambda o: o.country,
        "processing_country": lambda o: o.processing_country,
        "owner_country": lambda o: o.owner,  # blank owner_country: the origin country
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
    total = sum(s.probability for s in result.scenarios() if s.name != BASELINE)
    if result.scenario_rows is None and total >= 1 - 1e-12:
        raise InputError([Problem("Countries", "", f"under what-if {spelling} the "
                                  "disruption probabilities sum to at least 1, so no "
                                  "baseline is left for generated scenarios",
                                  found=round(total, 6))])
    periods = result.period_ids() if result.periods else (None,)
    for period in periods:
        total = sum(s.probability for s in result.scenarios(period) if s.name != BASELINE)
        if total > 1 + 1e-9:
            where = f" in period {period}" if period is not None else ""
            raise InputError([Problem("Scenarios", "", f"under what-if {spelling} the "
                                      f"scenario probabilities sum to more than 1{where}",
                                      found=round(total, 6))])
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
    demand = list(instance.demand_rows)
    for edit in edits:
        if edit.sheet == DEMAND_SHEET:
            continue  # after every other edit, below
        sheet, where = _location(edit)
        label = f"what-if {edit.whatif}"
        editable = _EDITABLE[edit.sheet]
        target = editable.get(_column_key(edit.column, edit.sheet))
        if target is None:
            problems.append(Problem(sheet, where, f"{label}: column {edit.column!r} of "
                                    f"{edit.sheet} cannot be edited (editable: "
                                    f"{', '.join(editable)})"))
            continue
        filters = []
        bad_filter = False
        for column, value in edit.where:
            reader = _FILTERS[edit.sheet].get(_column_key(column, edit.sheet))
            if reader is None:
                problems.append(Problem(sheet, where, f"{label}: cannot filter "
                                        f"{edit.sheet} on {column!r} (can: "
                                        f"{', '.join(_FILTERS[edit.sheet])})"))
                bad_filter = True
                break
            filters.append((reader, value.casefold()))
        if bad_filter:
            continue
        field_name, kind = target
        if edit.op != "set" and kind in ("text", "groups", *_REFERENCES):
            what = "text" if kind in ("text", "groups") else f"a {kind} id"
            problems.append(Problem(sheet, where, f"{label}: {edit.op} needs a number "
                                    f"column; {edit.column} is {what}"))
            continue
        if kind in ("number", "fraction", "integer") and not isinstance(edit.value, float):
            problems.append(Problem(sheet, where, f"{label}: value must be a number",
                                    found=edit.value))
            continue
        value: float | str = edit.value
        if kind in _REFERENCES:
            resolved, message = _resolve(instance, kind, edit.value)
            if resolved is None:
                problems.append(Problem(sheet, where, f"{label}: {message}",
                                        found=_as_text(edit.value)))
                continue
            value = resolved
        rows = tables[edit.sheet]
        matched: list[str] = []
        for i, item in enumerate(rows):
            if all(_matches(reader(item), wanted) for reader, wanted in filters):
                matched.append(getattr(item, "id", ""))
                rows[i] = _edit(item, field_name, kind, edit.op, value)
        if not matched:
            text = "; ".join(f"{c}={v}" for c, v in edit.where) or "(every row)"
            problems.append(Problem(sheet, where, f"{label}: the edit matches no row of "
                                    f"{edit.sheet}", found=text))
        elif edit.sheet == "Materials" and field_name == "demand":
            # A material's demand is D_{m,t} in every period: its Demand rows change too.
            edited = set(matched)
            demand = [_edit(d, "demand", kind, edit.op, value) if d.material in edited else d
                      for d in demand]
    for edit in edits:
        if edit.sheet == DEMAND_SHEET:
            demand = _set_demand(demand, edit)
    problems.extend(_check_values(tables, demand, edits, instance))
    countries = {c.id: c for c in tables["Countries"]}
    offers = [
        dataclasses.replace(o, tariff=o.tariff_override if o.tariff_override is not None
                            else countries[o.processing_country].tariff)
        for o in tables["Suppliers"]
    ]
    changed = dataclasses.replace(
        instance, materials=tuple(tables["Materials"]), countries=tuple(tables["Countries"]),
        offers=tuple(offers), demand_rows=tuple(demand),
    )
    return changed, problems


def _location(edit: WhatIfEdit) -> tuple[str, str]:
    """Where a problem with the edit points: its row on WhatIfs, or on Demand for a
    Demand row of the workbook; no cell for an edit from a TOML file."""
    sheet = DEMAND_SHEET if edit.sheet == DEMAND_SHEET and edit.origin == "workbook" \
        else "WhatIfs"
    return sheet, (f"A{edit.row}" if edit.row else "")


def _set_demand(demand: list[DemandRow], edit: WhatIfEdit) -> list[DemandRow]:
    """A what-if's D_{m,t}: replaces the row of its (material, period), or is added."""
    where = dict(edit.where)
    row = DemandRow(material=where["material"], period=where["period"],
                    demand=float(edit.value), row=edit.row)
    found = False
    result = []
    for d in demand:
        if (d.material, d.period) == (row.material, row.period):
            result.append(row)
            found = True
        else:
            result.append(d)
    return result if found else [*result, row]


def _as_text(value: float | str) -> str:
    """A reference as typed: the number 2027 (read as 2027.0) is the id 2027."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def _resolve(instance: Instance, kind: str, value: float | str) -> tuple[str | None, str]:
    """A period or country reference in the spelling of its defining row, or None and
    why, as the sheet's own cells are read."""
    key = _as_text(value).casefold()
    if kind == "period":
        if not instance.periods:
            return None, "no such period: the workbook has no Periods sheet"
        found = {p.id.casefold(): p.id for p in instance.periods}.get(key)
        return found, "unknown period (not on Periods)"
    found = {c.id.casefold(): c.id for c in instance.countries}.get(key)
    return found, "unknown country (not on Countries)"


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


def _edit(item: Material | Country | Offer | DemandRow, field_name: str, kind: str, op: str,
          value: float | str):
    current = getattr(item, field_name)
    if field_name == "tariff_override" and current is None:
        current = item.tariff  # scaling or adding to an inherited tariff starts from it
    if kind == "groups":
        tags = tuple(t.strip() for t in str(value).split(",") if t.strip())
        return dataclasses.replace(item, groups=tags)
    if kind in ("text", *_REFERENCES):
        return dataclasses.replace(item, **{field_name: str(value)})
    if op == "set":
        new = float(value)
    elif op == "scale":
        new = None if current is None else current * float(value)
    else:
        new = (current or 0.0) + float(value)
    if kind == "integer" and new is not None and new.is_integer():
        new = int(new)
    return dataclasses.replace(item, **{field_name: new})


def _check_values(tables: dict[str, list], demand: list[DemandRow],
                  edits: list[WhatIfEdit], instance: Instance) -> list[Problem]:
    """Edited values must still satisfy the schema's rules."""
    problems = []
    names = ", ".join(sorted({e.whatif for e in edits}))

    def fail(message: str) -> None:
        problems.append(Problem("WhatIfs", "", f"what-if {names} leaves {message}"))

    for m in tables["Materials"]:
        if not (m.demand > 0 and math.isfinite(m.demand)) or m.shortage_penalty < 0:
            fail(f"material {m.id} with a demand ≤ 0 or a negative penalty")
        if m.initial_stock < 0 or m.stock_price < 0:
            fail(f"material {m.id} with a negative initial_stock or stock_price")
    for d in demand:
        if not (d.demand >= 0 and math.isfinite(d.demand)):
            fail(f"material {d.material} with a negative demand in period {d.period}")
    for c in tables["Countries"]:
        if not 0 <= c.disruption_prob < 1 or c.tariff < 0:
            fail(f"country {c.id} with a disruption_prob outside [0, 1) or a negative "
                 "tariff")
    order = {p.id: t for t, p in enumerate(instance.periods)}
    for o in tables["Suppliers"]:
        label = f"offer {o.supplier}/{o.material}"
        if o.capacity < 0 or o.unit_cost < 0 or o.min_order < 0 or o.spot_capacity < 0 \
                or (o.capex is not None and o.capex < 0):
            fail(f"{label} with a negative value")
        # min_order above a shocked capacity is allowed: the offer cannot be contracted.
        if not isinstance(o.lead_time, int) or o.lead_time < 0:
            fail(f"{label} with a lead_time that is not a whole number ≥ 0 "
                 f"({o.lead_time:g})")
        elif o.lead_time and o.capex is None:
            fail(f"{label} with a lead_time but no capex: lead_time applies to projects "
                 "only")
        if o.available_from is not None and o.available_until is not None \
                and order[o.available_from] > order[o.available_until]:
            fail(f"{label} with available_from ({o.available_from}) after "
                 f"available_until ({o.available_until})")
    return problems


def toml_demand_edits(instance: Instance, spec: dict, path: Path) -> tuple[WhatIfEdit, ...]:
    """The `[[demand]]` tables of a TOML what-if (keys material, period, demand) as its
    edits, checked against the workbook like Demand rows: the material and the period
    must exist (ids compared ignoring case), the demand is a number ≥ 0, and a
    (material, period) appears once."""
    edits = []
    seen: set[tuple[str, str]] = set()
    materials = {m.id.casefold(): m.id for m in instance.materials}
    for i, row in enumerate(spec.get("demand", []), start=1):
        def fail(message: str, found: object = None, index: int = i) -> InputError:
            return InputError([Problem(path.name, f"demand {index}", message, found=found)])

        if not isinstance(row, dict) or not {"material", "period", "demand"} <= set(row):
            raise fail("a [[demand]] table needs material, period and demand")
        material = materials.get(str(row["material"]).strip().casefold())
        if material is None:
            raise fail("unknown material (not on Materials)", found=str(row["material"]))
        period, message = _resolve(instance, "period", _toml_text(row["period"]))
        if period is None:
            raise fail(message, found=_as_text(_toml_text(row["period"])))
        value = row["demand"]
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or value < 0:
            raise fail("demand must be a number ≥ 0", found=value)
        if (material, period) in seen:
            raise fail(f"duplicate demand for {material} in period {period}")
        seen.add((material, period))
        edits.append(WhatIfEdit(
            whatif=path.stem, sheet=DEMAND_SHEET, where=(("material", material),
                                                         ("period", period)),
            column="demand", op="set", value=float(value), row=0, origin=path.name))
    return tuple(edits)


def _toml_text(value: object) -> float | str:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else str(value)
