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
    "origin": "country", "processing country": "processing_country",
}


@dataclass
class _Sheet:
    """A sheet's header row resolved: field -> (column index, letter); first column of a
    field wins."""

    name: str
    rank: int  # position in the workbook, for the order of problems
    body: list[list[object]]
    columns: dict[str, tuple[int, str]]

    def text(self, row: list[object], key: str) -> str:
        """A cell as text; blank as ''."""
        value = as_read(row[self.columns[key][0]]) if key in self.columns else None
        return "" if value is None else str(value).strip()

    def amount(self, row: list[object], i: int, key: str, problems: list[Problem]
               ) -> float:
        """A quantity, reserve or stock: blank is 0; a bad cell is reported and read as 0
        so that every problem is found in one pass."""
        j, letter = self.columns[key]
        value = as_read(row[j])
        if value is None or (isinstance(value, str) and not value.strip()):
            return 0.0
        cell = f"{letter}{i + 2}"
        found: list[Problem] = []
        number = read_number(value, key, self.name, cell, found)
        if number is not None and number < 0:
            found.append(Problem(self.name, cell, f"{key} must be ≥ 0", found=value))
        problems.extend(dataclasses.replace(p, order=(self.rank, i + 2, j + 1))
                        for p in found)
        return 0.0 if found else number


def _sheet(name: str, rank: int, grid: list[list[object]], aliases: dict[str, str]
           ) -> _Sheet:
    columns: dict[str, tuple[int, str]] = {}
    for j, header in enumerate(grid[0] if grid else []):
        value = as_read(header)
        key = aliases.get(normalise_name(value)) if value is not None else None
        if key is not None and key not in columns:
            columns[key] = (j, get_column_letter(j + 1))
    width = len(grid[0]) if grid else 0
    body = [row if len(row) == width else row + [""] * (width - len(row))
            for row in grid[1:]]
    return _Sheet(name, rank, body, columns)


def read_plan(path: Path, instance: Instance) -> FixedPlan:
    """A plan from the Plan sheet of an earlier report, or any sheet with supplier,
    material, quantity[, reserve][, country, processing country]; strategic stock from a
    Stockpile sheet (material, stock) when there is one."""
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
        o = candidates[0]
        lines.append((o.supplier, o.material, o.country, o.processing_country, quantity,
                      reserve))
    stock = _stockpile(grids, sheets, instance, problems)
    if problems:
        raise InputError(problems)
    return FixedPlan(tuple(lines), stock, path.name)


def _stockpile(grids: dict[str, list[list[object]]], sheets: list[_Sheet],
               instance: Instance, problems: list[Problem]) -> dict[str, float]:
    """Stock held, from the first sheet named Stockpile; none when there is none."""
    found = next((s for s in sheets if normalise_name(s.name) == "stockpile"), None)
    if found is None:
        return {}
    sheet = _sheet(found.name, found.rank, grids[found.name],
                   {"material": "material", "stock": "stock"})
    if "material" not in sheet.columns or "stock" not in sheet.columns:
        problems.append(Problem(sheet.name, "1:1", "needs material and stock columns",
                                order=(sheet.rank, 1, 0)))
        return {}
    ids = {m.id.casefold(): m.id for m in instance.materials}
    stock = {}
    for i, row in enumerate(sheet.body):
        material = ids.get(sheet.text(row, "material").casefold())
        if material is None:
            continue
        stock[material] = sheet.amount(row, i, "stock", problems)
    return stock
