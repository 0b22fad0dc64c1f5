"""Raw workbook tables → a typed Instance, or every problem at once.

Each cell is judged by its schema column (kind, bounds, default); then the rules that
span rows and sheets are checked (uniqueness, references, min order ≤ capacity, the
probability budget). Problems are collected, never raised one at a time, so a
procurement team fixes a spreadsheet in one pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import math
import re
from collections.abc import Iterable
from pathlib import Path

from resilience.domain import (
    BASELINE,
    Country,
    Instance,
    Material,
    Offer,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
    WhatIfEdit,
)
from resilience.errors import InputError, Problem
from resilience.schema import (
    COUNTRIES,
    HELPER_SHEETS,
    MATERIALS,
    POLICIES,
    SCENARIOS,
    SETTING_KEYS,
    SHEETS,
    SUPPLIERS,
    WHATIFS,
    Column,
    Sheet,
    normalise_name,
)
from resilience.workbook import RawSheet, RawWorkbook, read_workbook

_SHEET_ORDER = {s.name: i for i, s in enumerate(SHEETS)}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_PERCENT = re.compile(r"^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*%$")
SHARE_RULES = ("max_country_share", "min_group_share", "max_group_share")


class _Collector:
    """Accumulates problems with their sort order (sheet, row, column)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, sheet: str, cell: str, message: str, found: object = None,
            warning: bool = False) -> None:
        row, col = _cell_order(cell)
        self.problems.append(Problem(
            sheet, cell, message, found, warning,
            order=(_SHEET_ORDER.get(sheet, len(_SHEET_ORDER)), row, col),
        ))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return sorted((p for p in self.problems if p.warning), key=lambda p: p.order)


def _cell_order(cell: str) -> tuple[int, int]:
    match = re.match(r"^([A-Z]*)(\d*)", cell)
    letters, digits = match.groups() if match else ("", "")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return (int(digits) if digits else 0, col)


def load(path: str | Path) -> Instance:
    """Read and validate a workbook; raise InputError listing every problem."""
    path = Path(path)
    raw = read_workbook(path)
    return validate(raw)


def validate(raw: RawWorkbook) -> Instance:
    out = _Collector()
    out.problems.extend(raw.problems)
    helpers = {normalise_name(h) for h in HELPER_SHEETS}
    for name in raw.extra_sheets:
        if normalise_name(name) not in helpers:
            out.add(name, "", "sheet not used by resilience; ignored", warning=True)
    for sheet in SHEETS:
        if sheet.required and sheet.name not in raw.sheets:
            out.add(sheet.name, "", "required sheet is missing")
    for sheet in SHEETS:
        if sheet.name in raw.sheets:
            _check_headers(raw.sheets[sheet.name], sheet, out)

    ids = _Ids()
    materials = _materials(raw.sheets.get("Materials"), ids, out)
    countries = _countries(raw.sheets.get("Countries"), ids, out)
    offers = _offers(raw.sheets.get("Suppliers"), ids, countries, out)
    policies = _policies(raw.sheets.get("Policies"), ids, out)
    scenario_rows = _scenarios(raw.sheets.get("Scenarios"), ids, out)
    settings = _settings(raw.sheets.get("Settings"), out)
    edits = _whatifs(raw.sheets.get("WhatIfs"), ids, out)

    if "Suppliers" in raw.sheets and not raw.sheets["Suppliers"].rows:
        out.add("Suppliers", "", "the sheet has no offers")
    sold = {o.material for o in offers}
    for m in materials:
        if m.id not in sold and "Suppliers" in raw.sheets and offers:
            out.add("Materials", f"A{m.row}", f"no offer sells {m.id}: its demand will go "
                    "unmet", warning=True)
    if scenario_rows is not None and not any(s.whatif is None for s in scenario_rows) and any(
            c.disruption_prob > 0 for c in countries):
        out.add("Scenarios", "", "the sheet has no scenarios, so only the baseline is used "
                "and disruption_prob is ignored; delete the sheet to generate one scenario "
                "per country from disruption_prob", warning=True)
    if scenario_rows is None and "Countries" in raw.sheets:
        total = sum(c.disruption_prob for c in countries)
        if total >= 1 - 1e-12:
            out.add("Countries", _col(raw.sheets["Countries"], "disruption_prob", 1),
                    "disruption probabilities sum to at least 1, so no baseline is left "
                    "for generated scenarios; lower them or add a Scenarios sheet",
                    found=round(total, 6))

    instance = Instance(
        materials=tuple(materials),
        countries=tuple(countries),
        offers=tuple(offers),
        policies=tuple(policies),
        scenario_rows=scenario_rows,
        settings=settings,
        whatif_edits=tuple(edits),
        source_name=raw.path.name,
        source_sha256=_sha256(raw.path),
        warnings=tuple(str(p) for p in out.warnings),
        unused_cells=tuple(
            (sheet.name, cell, header, _echo(value))
            for sheet in SHEETS if sheet.name in raw.sheets
            for cell, header, value in raw.sheets[sheet.name].unknown_cells),
    )
    # What-if edits that match no row are input errors found by validate too, listed with
    # every other problem (on the rows that could be read).
    from resilience.whatif import check_edits

    for problem in check_edits(instance):
        row, col = _cell_order(problem.cell)
        out.problems.append(dataclasses.replace(
            problem, order=(_SHEET_ORDER.get(problem.sheet, len(_SHEET_ORDER)), row, col)))
    if out.errors:
        raise InputError(out.problems)
    return instance


def _echo(value: object) -> object:
    """A cell as the report may echo it: numbers and text as read, anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return str(value)
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _col(raw: RawSheet, key: str, row: int) -> str:
    return raw.cell(key, row)


def _check_headers(raw: RawSheet, sheet: Sheet, out: _Collector) -> None:
    if not sheet.required and not raw.headers and not raw.unknown_headers and not raw.rows:
        return  # an optional sheet left entirely empty: no rows
    if sheet.key_value:
        for key in ("key", "value"):
            if key not in raw.headers:
                out.add(sheet.name, "1:1", f"required column {key} is missing (Settings "
                        "has a key | value header row)")
    else:
        for column in sheet.columns:
            if column.required and column.name not in raw.headers:
                out.add(sheet.name, "1:1", f"required column {column.name} is missing")
    for letter, text in raw.unknown_headers:
        out.add(sheet.name, f"{letter}1", "unknown column, kept in the echo but not used",
                found=text, warning=True)


class _Ids:
    """Identifier spellings by casefolded key: the defining row's spelling wins."""

    def __init__(self) -> None:
        self.materials: dict[str, str] = {}
        self.countries: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        # Names with no defining sheet: the first spelling met, in sheet order, wins.
        self.suppliers: dict[str, str] = {}
        self.strategies: dict[str, str] = {}
        self.whatifs: dict[str, str] = {}


def _key(text: str) -> str:
    return text.strip().casefold()


# ---- cell parsing ---------------------------------------------------------------------


def _parse(value: object, column: Column, sheet: str, cell: str, out: _Collector,
           as_fraction: bool | None = None) -> object:
    """One cell by its column's kind; returns None (and records why) when unusable."""
    kind = column.kind
    fraction = kind == "fraction" if as_fraction is None else as_fraction
    if kind in ("number", "fraction") or as_fraction is not None:
        number = _number(value, fraction, sheet, cell, column.name, out)
        if number is None:
            return None
        if not _within(number, column):
            out.add(sheet, cell, f"{column.name} must be {column.bounds_text()}", found=value)
            return None
        return number
    if isinstance(value, bool) or isinstance(value, dt.datetime | dt.date | dt.time):
        out.add(sheet, cell, f"{column.name} must be text", found=value)
        return None
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        text = str(value).strip()
    if len(text) > 1000:
        out.add(sheet, cell, f"{column.name} is too long ({len(text):,} characters; at most "
                "1,000)", found=text)
        return None
    if kind == "choice":
        for choice in column.choices:
            if normalise_name(choice) == normalise_name(text):
                return choice
        out.add(sheet, cell, f"{column.name} must be one of {', '.join(column.choices)}",
                found=text)
        return None
    return text


def _number(value: object, fraction: bool, sheet: str, cell: str, name: str,
            out: _Collector) -> float | None:
    if isinstance(value, bool):
        out.add(sheet, cell, f"{name} must be a number, not TRUE/FALSE", found=value)
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        out.add(sheet, cell, f"{name} must be a number, not a date or time", found=value)
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "")
        percent = _PERCENT.match(text)
        if percent:
            if not fraction:
                out.add(sheet, cell, f"{name} is not a fraction: write a plain number, "
                        "not a percentage", found=value)
                return None
            number = float(percent.group(1)) / 100.0
        else:
            if _THOUSANDS.match(text):
                text = text.replace(",", "")
            try:
                number = float(text)
            except ValueError:
                out.add(sheet, cell, f"{name} must be a number", found=value)
                return None
            if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", text):
                out.add(sheet, cell, f"{name} must be a finite number", found=value)
                return None
    if not math.isfinite(number):
        out.add(sheet, cell, f"{name} must be a finite number", found=value)
        return None
    return number


def _within(number: float, column: Column) -> bool:
    if column.minimum is not None:
        if number < column.minimum or (column.min_exclusive and number == column.minimum):
            return False
    if column.maximum is not None:
        if number > column.maximum or (column.max_exclusive and number == column.maximum):
            return False
    return True


def _cells(raw: RawSheet | None, sheet: Sheet, out: _Collector
           ) -> Iterable[tuple[int, dict[str, object], dict[str, str]]]:
    """Rows parsed by the schema: (excel row, values with defaults, cell refs). A row with
    a blank mandatory cell or a bad value yields None for that column, already reported."""
    if raw is None:
        return
    for row, record in raw.rows:
        values: dict[str, object] = {}
        cells: dict[str, str] = {}
        for column in sheet.columns:
            if column.name not in raw.headers:
                values[column.name] = column.default
                continue
            cell = raw.cell(column.name, row)
            cells[column.name] = cell
            if column.name not in record:
                if column.mandatory_value:
                    out.add(sheet.name, cell, f"{column.name} is required")
                    values[column.name] = None
                else:
                    values[column.name] = column.default
                continue
            if column.name == "value" and sheet.name == "Policies":
                values[column.name] = record[column.name]  # judged with the rule
                continue
            values[column.name] = _parse(record[column.name], column, sheet.name, cell, out)
            if values[column.name] is None:
                values[column.name] = _INVALID
        yield row, values, cells


class _Invalid:
    """A cell that was present but unusable (already reported)."""

    def __repr__(self) -> str:
        return "<invalid>"


_INVALID = _Invalid()


def _ok(*values: object) -> bool:
    return all(v is not None and v is not _INVALID for v in values)


# ---- sheets ---------------------------------------------------------------------------


def _materials(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Material]:
    result = []
    for row, v, cells in _cells(raw, MATERIALS, out):
        name = v["material"]
        if not _ok(name):
            continue
        if _key(name) in ids.materials:
            out.add("Materials", cells["material"], "duplicate material (ids are compared "
                    "ignoring case)", found=name)
            continue
        ids.materials[_key(name)] = name
        if name == "*":
            out.add("Materials", cells["material"], "* is reserved for 'every material'")
            continue
        if not _ok(v["demand"], v["shortage_penalty"]) or v["stockpile_cost"] is _INVALID \
                or v["max_stockpile"] is _INVALID:
            continue
        result.append(Material(
            id=name, unit=v["unit"] or "", demand=v["demand"],
            shortage_penalty=v["shortage_penalty"], stockpile_cost=v["stockpile_cost"],
            max_stockpile=v["max_stockpile"], row=row,
        ))
    return result


def _countries(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Country]:
    parsed = []
    for row, v, cells in _cells(raw, COUNTRIES, out):
        name = v["country"]
        if not _ok(name):
            continue
        if _key(name) in ids.countries:
            out.add("Countries", cells["country"], "duplicate country (codes are compared "
                    "ignoring case)", found=name)
            continue
        if name == "*":
            out.add("Countries", cells["country"], "* is reserved for 'every country'")
            continue
        ids.countries[_key(name)] = name
        parsed.append((row, v, cells))
    result = []
    for row, v, cells in parsed:
        tags: list[str] = []
        groups_text = v["groups"] if _ok(v["groups"]) else ""
        for tag in re.split(r"[,;]", str(groups_text)):
            tag = tag.strip()
            if not tag:
                continue
            if _key(tag) in ids.countries:
                out.add("Countries", cells["groups"], f"{tag} is used both as a country code "
                        "and as a group tag", found=groups_text)
                continue
            if tag == "*":
                out.add("Countries", cells["groups"], "* cannot be a group tag")
                continue
            spelling = ids.groups.setdefault(_key(tag), tag)
            if spelling not in tags:
                tags.append(spelling)
        if not _ok(v["disruption_prob"], v["tariff"]):
            continue
        result.append(Country(
            id=v["country"], name=v["name"] or "", disruption_prob=v["disruption_prob"],
            groups=tuple(tags), tariff=v["tariff"], row=row,
        ))
    return result


def _ref(value: object, table: dict[str, str], what: str, sheet: str, cell: str,
         out: _Collector, allow_star: bool = False) -> str | None:
    if not _ok(value):
        return None
    text = str(value)
    if allow_star and text == "*":
        return "*"
    found = table.get(_key(text))
    if found is None:
        out.add(sheet, cell, f"unknown {what}", found=text)
    return found


def _offers(raw: RawSheet | None, ids: _Ids, countries: list[Country],
            out: _Collector) -> list[Offer]:
    tariffs = {c.id: c.tariff for c in countries}
    seen: dict[tuple[str, ...], int] = {}
    result = []
    for row, v, cells in _cells(raw, SUPPLIERS, out):
        material = _ref(v["material"], ids.materials, "material (not on Materials)",
                        "Suppliers", cells.get("material", ""), out)
        origin = _ref(v["country"], ids.countries, "country (not on Countries)",
                      "Suppliers", cells.get("country", ""), out)
        processing = origin
        if v["processing_country"] is not None:
            processing = _ref(v["processing_country"], ids.countries,
                              "processing country (not on Countries)", "Suppliers",
                              cells.get("processing_country", ""), out)
        supplier = v["supplier"]
        numbers = [v[k] for k in ("unit_cost", "capacity", "min_order", "fixed_cost")]
        if not _ok(supplier, material, origin, processing, *numbers):
            continue
        if v["reserve_cost"] is _INVALID or v["tariff"] is _INVALID:
            continue
        written, supplier = supplier, ids.suppliers.setdefault(_key(supplier), supplier)
        key = (_key(supplier), material, origin, processing)
        if key in seen:
            out.add("Suppliers", cells["supplier"], "duplicate offer: the same supplier, "
                    f"material, country and processing country as row {seen[key]}",
                    found=written)
            continue
        seen[key] = row
        if v["min_order"] > v["capacity"]:
            out.add("Suppliers", cells.get("min_order", ""), "min_order exceeds capacity "
                    f"({v['capacity']:g})", found=v["min_order"])
            continue
        tariff = v["tariff"] if v["tariff"] is not None else tariffs.get(processing, 0.0)
        result.append(Offer(
            supplier=supplier, material=material, country=origin,
            processing_country=processing, unit_cost=v["unit_cost"],
            capacity=v["capacity"], min_order=v["min_order"], fixed_cost=v["fixed_cost"],
            reserve_cost=v["reserve_cost"], tariff=tariff, tariff_override=v["tariff"],
            row=row,
        ))
    return result


def _policies(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Policy]:
    result = []
    strategies, whatifs = ids.strategies, ids.whatifs
    for row, v, cells in _cells(raw, POLICIES, out):
        rule, stage = v["rule"], v["stage"]
        material = _ref(v["material"], ids.materials, "material (not on Materials)",
                        "Policies", cells.get("material", ""), out, allow_star=True)
        target, kind = _policy_target(v["target"], ids, cells.get("target", ""), out)
        if not _ok(rule, stage, material) or target is None:
            continue
        value_cell = cells.get("value", "")
        raw_value = v["value"]
        value: float | None = None
        if rule == "exclude":
            if target == "*":
                out.add("Policies", cells.get("target", f"A{row}"), "exclude needs a country "
                        "or group target, not * (that would exclude every offer)")
                continue
        elif raw_value is None or raw_value is _INVALID:
            out.add("Policies", value_cell or f"A{row}", f"{rule} needs a value")
            continue
        else:
            share = rule in SHARE_RULES
            number = _number(raw_value, share, "Policies", value_cell, "value", out)
            if number is None:
                continue
            if share and not 0 <= number <= 1:
                out.add("Policies", value_cell, f"{rule} value is a share between 0 and 1 "
                        "(write 0.65 or 65%)", found=raw_value)
                continue
            if rule == "max_hhi" and not 0 <= number <= 10_000:
                out.add("Policies", value_cell, "max_hhi value is on the 0-10,000 scale",
                        found=raw_value)
                continue
            value = number
        if rule in ("min_group_share", "max_group_share") and target == "*":
            out.add("Policies", cells.get("target", f"A{row}"), f"{rule} needs a group tag "
                    "or a country code as target, not *")
            continue
        if rule == "max_hhi" and target != "*":
            out.add("Policies", cells.get("target", f"A{row}"), "max_hhi applies to all "
                    "countries: leave target blank or *", found=target)
            continue
        strategy = _spelling(v["strategy"], strategies)
        whatif = _spelling(v["whatif"], whatifs)
        name = v["name"] or f"{rule} {target}"
        result.append(Policy(
            rule=rule, material=material, target=target, target_kind=kind, stage=stage,
            value=value, strategy=strategy, whatif=whatif, name=name, row=row,
        ))
    return result


def _spelling(value: object, table: dict[str, str]) -> str | None:
    if not _ok(value) or value == "":
        return None
    return table.setdefault(_key(str(value)), str(value))


def _policy_target(value: object, ids: _Ids, cell: str, out: _Collector
                   ) -> tuple[str | None, str]:
    if value is _INVALID:
        return None, ""
    text = "*" if value is None else str(value)
    if text == "*":
        return "*", "*"
    if _key(text) in ids.countries:
        return ids.countries[_key(text)], "country"
    if _key(text) in ids.groups:
        return ids.groups[_key(text)], "group"
    out.add("Policies", cell, "target is neither a country code on Countries nor a group "
            "tag used there", found=text)
    return None, ""


def _scenarios(raw: RawSheet | None, ids: _Ids, out: _Collector
               ) -> tuple[Scenario, ...] | None:
    if raw is None:
        return None
    groups: dict[tuple[str | None, str], dict] = {}
    whatifs = ids.whatifs
    for row, v, cells in _cells(raw, SCENARIOS, out):
        name = v["scenario"]
        country = _ref(v["country"], ids.countries, "country (not on Countries)",
                       "Scenarios", cells.get("country", ""), out)
        material = _ref(v["material"], ids.materials, "material (not on Materials)",
                        "Scenarios", cells.get("material", ""), out, allow_star=True)
        if not _ok(name):
            continue
        if _key(name) == BASELINE:
            out.add("Scenarios", cells["scenario"], "baseline is reserved for the implicit "
                    "no-disruption scenario", found=name)
            continue
        whatif = _spelling(v["whatif"], whatifs)
        key = (whatif and _key(whatif), _key(name))
        group = groups.setdefault(key, {"name": name, "prob": v["probability"],
                                        "row": row, "hits": [], "whatif": whatif,
                                        "cell": cells.get("probability", "")})
        prob = v["probability"]
        if _ok(prob, group["prob"]) and abs(prob - group["prob"]) > 1e-12:
            out.add("Scenarios", cells["probability"], f"probability differs from the first "
                    f"row of scenario {group['name']} (row {group['row']}: "
                    f"{group['prob']:g})", found=prob)
        if not _ok(country, material, v["capacity_factor"], prob):
            group["broken"] = True
            continue
        group["hits"].append(ScenarioHit(country, material, v["capacity_factor"]))
    scenarios = []
    for group in groups.values():
        if group.get("broken") or not _ok(group["prob"]):
            continue
        scenarios.append(Scenario(
            name=group["name"], probability=group["prob"], hits=tuple(group["hits"]),
            whatif=group["whatif"], row=group["row"],
        ))
    base_total = sum(s.probability for s in scenarios if s.whatif is None)
    if base_total > 1 + 1e-9:
        first = min((s.row for s in scenarios if s.whatif is None), default=2)
        out.add("Scenarios", _col(raw, "probability", first), "scenario probabilities sum "
                "to more than 1", found=round(base_total, 6))
    return tuple(scenarios)


def _settings(raw: RawSheet | None, out: _Collector) -> Settings:
    if raw is None:
        return Settings()
    known = {normalise_name(c.name): c for c in SETTING_KEYS.columns}
    values: dict[str, object] = {}
    seen: dict[str, int] = {}
    for row, record in raw.rows:
        key_text = record.get("key")
        key_cell = raw.cell("key", row)
        value_cell = raw.cell("value", row)
        if key_text is None:
            out.add("Settings", key_cell, "key is required")
            continue
        column = known.get(normalise_name(key_text))
        if column is None:
            out.add("Settings", key_cell, "unknown setting, ignored (known: "
                    f"{', '.join(c.name for c in SETTING_KEYS.columns)})", found=key_text,
                    warning=True)
            continue
        if column.name in seen:
            out.add("Settings", key_cell, f"{column.name} is set twice (first on row "
                    f"{seen[column.name]})")
            continue
        seen[column.name] = row
        if "value" not in record:
            continue  # blank: the default
        parsed = _parse(record["value"], column, "Settings", value_cell, out)
        if parsed is not None:
            values[column.name] = parsed
    return Settings(**values)


def _whatifs(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[WhatIfEdit]:
    edits = []
    names = ids.whatifs
    for row, v, cells in _cells(raw, WHATIFS, out):
        if not _ok(v["whatif"], v["sheet"], v["column"], v["op"], v["value"]):
            continue
        where = parse_where(v["where"] or "", "WhatIfs", cells.get("where", ""), out)
        if where is None:
            continue
        edits.append(WhatIfEdit(
            whatif=_spelling(v["whatif"], names), sheet=v["sheet"], where=where,
            column=str(v["column"]), op=v["op"], value=_edit_value(v["value"]), row=row,
        ))
    return edits


def _edit_value(text: str) -> float | str:
    try:
        number = float(text)
    except ValueError:
        percent = _PERCENT.match(text)
        return float(percent.group(1)) / 100 if percent else text
    return number if math.isfinite(number) else text


def parse_where(text: str, sheet: str, cell: str, out: _Collector
                ) -> tuple[tuple[str, str], ...] | None:
    pairs = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            out.add(sheet, cell, "where must be column=value pairs joined by ;", found=text)
            return None
        column, value = part.split("=", 1)
        pairs.append((column.strip(), value.strip()))
    return tuple(pairs)
