"""Reading a plan workbook for `evaluate`: the Plan sheet of an earlier report, or any
sheet with supplier, material and quantity columns.

A plan file is a second workbook from the user, so it goes through the same doors as the
input workbook (`workbook.check_container`, `inspect_parts`, `read_grids`), its numbers
follow the input's rules (`validate.read_number`: `1,000` is a number, `65%` and TRUE are
not), and every problem names its cell as `Sheet!Cell` and is listed with the others.
It is kept out of `workbook`, which only gets cells out of files, because matching plan
lines to the instance's offers is interpretation.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from resilience.domain import Instance
from resilience.errors import InputError, Problem
from resilience.schema import normalise_name
from resilience.validate import read_number
from resilience.workbook import (
    as_read,
    check_container,
    get_column_letter,
    inspect_parts,
    read_grids,
)


@dataclass(frozen=True)
class FixedPlan:
    # offer key, x, r, and over a horizon the period: (supplier, material, country,
    # processing_country, quantity, reserve[, period])
    lines: tuple[tuple, ...]
    stockpile: dict[str, float] = field(default_factory=dict)
    source: str = ""
    # SPEC §7: material → period → level (None: `stockpile` in every period), and the
    # projects built: (supplier, material, country, processing_country, start period)
    stock_levels: dict[str, dict[str, float]] | None = None
    builds: tuple[tuple[str, str, str, str, str], ...] = ()


# Header spellings accepted for each field (compared after normalise_name).
_ALIASES = {
    "supplier": "supplier", "material": "material", "quantity": "quantity",
    "firm order": "quantity", "reserve": "reserve", "country": "country",
    "origin": "country", "processing country": "processing_country", "period": "period",
}
# The Projects sheet of a multi-period report (SPEC §7): which projects the plan builds.
_PROJECT_ALIASES = {
    "supplier": "supplier", "material": "material", "country": "country",
    "origin": "country", "processing country": "processing_country", "built": "built",
    "build starts": "start", "build start": "start", "start": "start",
}


@dataclass
class _Sheet:
    """A sheet's header row resolved: field -> (column index, letter); first column of a
    field wins."""

    name: str
    rank: int  # position in the workbook, for the order of problems
    body: list[list[object]]
    columns: dict[str, tuple[int, str]]
    header_row: int = 1  # the Excel row of the headers; body row i is header_row + 1 + i

    def row_of(self, i: int) -> int:
        return self.header_row + 1 + i

    def text(self, row: list[object], key: str) -> str:
        """A cell as text; blank as ''."""
        value = as_read(row[self.columns[key][0]]) if key in self.columns else None
        return "" if value is None else str(value).strip()

    def period(self, row: list[object], i: int, instance: Instance,
               problems: list[Problem]) -> str | None:
        """The row's period id as the workbook spells it: "" without a Periods sheet;
        None for a blank cell over a horizon (the row holds in every period) or a period
        the workbook does not have (reported)."""
        if "period" not in self.columns:
            return None if instance.multi_period else ""
        value = as_read(row[self.columns["period"][0]])
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # a number cell 2026 is the id 2026
        text = "" if value is None else str(value).strip()
        if not text:
            return None if instance.multi_period else ""
        ids = {p.casefold(): p for p in instance.period_ids() if p}
        found = ids.get(text.casefold())
        if found is None:
            j, letter = self.columns["period"]
            why = ("is not a period of the workbook" if instance.multi_period
                   else "given, but the workbook has no Periods sheet")
            problems.append(Problem(self.name, f"{letter}{self.row_of(i)}",
                                    f"period {text!r} {why}",
                                    order=(self.rank, self.row_of(i), j + 1)))
        return found

    def amount(self, row: list[object], i: int, key: str, problems: list[Problem]
               ) -> float:
        """A quantity, reserve or stock: blank is 0; a bad cell is reported and read as 0
        so that every problem is found in one pass."""
        j, letter = self.columns[key]
        value = as_read(row[j])
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0.0
        cell = f"{letter}{self.row_of(i)}"
        found: list[Problem] = []
        number = read_number(value, key, self.name, cell, found)
        if number is not None and number < 0:
            found.append(Problem(self.name, cell, f"{key} must be ≥ 0", found=value))
        problems.extend(dataclasses.replace(p, order=(self.rank, self.row_of(i), j + 1))
                        for p in found)
        return 0.0 if found else number


def _sheet(name: str, rank: int, grid: list[list[object]], aliases: dict[str, str],
           header_row: int = 1) -> _Sheet:
    columns: dict[str, tuple[int, str]] = {}
    for j, header in enumerate(grid[0] if grid else []):
        value = as_read(header)
        key = aliases.get(normalise_name(value)) if value is not None else None
        if key is not None and key not in columns:
            columns[key] = (j, get_column_letter(j + 1))
    width = len(grid[0]) if grid else 0
    body = [row if len(row) == width else row + [""] * (width - len(row))
            for row in grid[1:]]
    return _Sheet(name, rank, body, columns, header_row)


def read_plan(path: Path, instance: Instance) -> FixedPlan:
    """A plan from the Plan sheet of an earlier report, or any sheet with supplier,
    material, quantity[, reserve][, country, processing country][, period]; strategic
    stock from a Stockpile sheet (material, stock[, period]) when there is one; over a
    horizon, the projects built from a Projects sheet (supplier, material, origin,
    processing country, built, build starts).

    Over a horizon a line or stock row without a period holds in every period (a
    standing order); without a Periods sheet a period cell is an error."""
    check_container(path)
    inspect_parts(path)  # refuses DTDs and ranges too large to read
    grids = read_grids(path)
    sheets = [_sheet(name, rank, grid, _ALIASES) for rank, (name, grid)
              in enumerate(grids.items())]
    plan = next((s for s in sorted(sheets, key=lambda s: normalise_name(s.name) != "plan")
                 if {"supplier", "material", "quantity"} <= s.columns.keys()), None)
    if plan is None:
        raise InputError([Problem(path.name, "", "no sheet with supplier, material and "
                                  "quantity columns (the Plan sheet of a report will do)")])
    offers: dict[tuple[str, str], list] = {}
    for o in instance.offers:
        offers.setdefault((o.supplier.casefold(), o.material.casefold()), []).append(o)
    problems: list[Problem] = []
    lines = []
    for i, row in enumerate(plan.body):
        supplier = plan.text(row, "supplier")
        material = plan.text(row, "material")
        if not supplier or not material or supplier.casefold() in ("total", "totals"):
            continue
        candidates = offers.get((supplier.casefold(), material.casefold()), [])
        for key in ("country", "processing_country"):
            wanted = plan.text(row, key).casefold()
            if wanted:
                candidates = [o for o in candidates if getattr(o, key).casefold() == wanted]
        if len(candidates) != 1:
            why = "matches no offer" if not candidates else \
                "matches several offers: add country and processing country columns"
            j, letter = plan.columns["supplier"]
            problems.append(Problem(plan.name, f"{letter}{i + 2}", f"{supplier} / "
                                    f"{material} {why}", order=(plan.rank, i + 2, j + 1)))
            continue
        quantity = plan.amount(row, i, "quantity", problems)
        reserve = plan.amount(row, i, "reserve", problems) if "reserve" in plan.columns \
            else 0.0
        period = plan.period(row, i, instance, problems)
        o = candidates[0]
        key = (o.supplier, o.material, o.country, o.processing_country, quantity, reserve)
        if not instance.multi_period:
            lines.append(key)
        elif period is not None or "period" not in plan.columns or not plan.text(
                row, "period"):
            for t in ([period] if period is not None else instance.period_ids()):
                lines.append((*key, t))
    stock, levels = _stockpile(grids, sheets, instance, problems)
    builds = _builds(grids, sheets, instance, problems)
    if builds is None:
        builds = _builds_for(lines, instance)
    if problems:
        raise InputError(problems)
    return FixedPlan(tuple(lines), stock, path.name,
                     levels if instance.multi_period else None, builds)


def _stockpile(grids: dict[str, list[list[object]]], sheets: list[_Sheet],
               instance: Instance, problems: list[Problem]
               ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Stock held, from the first sheet named Stockpile; none when there is none: the
    level per material, and over a horizon material → period → level."""
    found = next((s for s in sheets if normalise_name(s.name) == "stockpile"), None)
    if found is None:
        return {}, {}
    sheet = _sheet(found.name, found.rank, grids[found.name],
                   {"material": "material", "stock": "stock", "period": "period"})
    if "material" not in sheet.columns or "stock" not in sheet.columns:
        problems.append(Problem(sheet.name, "1:1", "needs material and stock columns",
                                order=(sheet.rank, 1, 0)))
        return {}, {}
    ids = {m.id.casefold(): m.id for m in instance.materials}
    stock: dict[str, float] = {}
    levels: dict[str, dict[str, float]] = {}
    for i, row in enumerate(sheet.body):
        material = ids.get(sheet.text(row, "material").casefold())
        if material is None:
            continue
        amount = sheet.amount(row, i, "stock", problems)
        stock[material] = amount
        if instance.multi_period:
            period = sheet.period(row, i, instance, problems)
            if period is None and "period" in sheet.columns and sheet.text(row, "period"):
                continue  # an unknown period, reported
            for t in ([period] if period is not None else instance.period_ids()):
                levels.setdefault(material, {})[t] = amount
    return stock, levels


def _builds_for(lines: list[tuple], instance: Instance
                ) -> tuple[tuple[str, str, str, str, str], ...]:
    """Without a Projects sheet, a project the plan orders from is built just in time:
    its build starts lead_time periods before its first period with an order (never
    before available_from; a plan that needs it earlier is cut when it is held fixed)."""
    if not any(o.is_project for o in instance.offers):
        return ()
    ids = instance.period_ids()
    first: dict[tuple[str, str, str, str], int] = {}
    for line in lines:
        key = line[:4]
        t = ids.index(line[6]) if len(line) > 6 else 0
        first[key] = min(first.get(key, t), t)
    out = []
    for o in instance.offers:
        key = (o.supplier, o.material, o.country, o.processing_country)
        if o.is_project and key in first:
            start = max(first[key] - o.lead_time, instance.offer_window(o)[0])
            out.append((*key, ids[start]))
    return tuple(out)


def _builds(grids: dict[str, list[list[object]]], sheets: list[_Sheet], instance: Instance,
            problems: list[Problem]) -> tuple[tuple[str, str, str, str, str], ...] | None:
    """The projects a plan builds, from the first sheet named Projects (a report's): each
    row marked built (yes) with its build start. None when there is no such sheet."""
    found = next((s for s in sheets if normalise_name(s.name) == "projects"), None)
    if found is None:
        return None
    needed = {"supplier", "material", "built", "start"}
    grid = grids[found.name]
    # a report's Projects sheet has a title and notes above its header row
    top = next((r for r, row in enumerate(grid[:20]) if needed <= {
        _PROJECT_ALIASES.get(normalise_name(as_read(v))) for v in row if as_read(v) is not None}),
        0)
    sheet = _sheet(found.name, found.rank, grid[top:], _PROJECT_ALIASES, top + 1)
    if not needed <= sheet.columns.keys():
        problems.append(Problem(sheet.name, "1:1", "needs supplier, material, built and "
                                "build starts columns", order=(sheet.rank, 1, 0)))
        return ()
    projects: dict[tuple[str, str], list] = {}
    for o in instance.offers:
        if o.is_project:
            projects.setdefault((o.supplier.casefold(), o.material.casefold()), []).append(o)
    builds = []
    for i, row in enumerate(sheet.body):
        supplier, material = sheet.text(row, "supplier"), sheet.text(row, "material")
        if not supplier or sheet.text(row, "built").casefold() not in ("yes", "true", "1"):
            continue
        candidates = projects.get((supplier.casefold(), material.casefold()), [])
        for key in ("country", "processing_country"):
            wanted = sheet.text(row, key).casefold()
            if wanted:
                candidates = [o for o in candidates if getattr(o, key).casefold() == wanted]
        j, letter = sheet.columns["supplier"]
        if len(candidates) != 1:
            why = "matches no project (an offer with capex)" if not candidates else \
                "matches several projects: add origin and processing country columns"
            problems.append(Problem(sheet.name, f"{letter}{sheet.row_of(i)}", f"{supplier} / "
                                    f"{material} {why}",
                                    order=(sheet.rank, sheet.row_of(i), j + 1)))
            continue
        start = _start_period(sheet, row, i, instance, problems)
        if start is None:
            continue
        o = candidates[0]
        builds.append((o.supplier, o.material, o.country, o.processing_country, start))
    return tuple(builds)


def _start_period(sheet: _Sheet, row: list[object], i: int, instance: Instance,
                  problems: list[Problem]) -> str | None:
    """A build's start period; a single-period report writes "this period" there."""
    j, letter = sheet.columns["start"]
    value = as_read(row[j])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = "" if value is None else str(value).strip()
    if not instance.multi_period and text.casefold() in ("", "this period", "—", "-"):
        return ""
    ids = {p.casefold(): p for p in instance.period_ids() if p}
    if text.casefold() in ids:
        return ids[text.casefold()]
    problems.append(Problem(sheet.name, f"{letter}{sheet.row_of(i)}", f"build start {text!r} "
                            "is not a period of the workbook",
                            order=(sheet.rank, sheet.row_of(i), j + 1)))
    return None
