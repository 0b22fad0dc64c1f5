"""Small workbooks written from plain rows, shared by the tests."""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook


def write_workbook(path: Path, sheets: dict[str, list[dict] | list[list]]) -> Path:
    """Each sheet is a list of dicts (header row from the keys of all rows, in order) or a
    list of lists (written as is, first row the headers)."""
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        if rows and isinstance(rows[0], dict):
            headers: list[str] = []
            for row in rows:
                for key in row:
                    if key not in headers:
                        headers.append(key)
            sheet.append(headers)
            for row in rows:
                sheet.append([row.get(h) for h in headers])
        else:
            for row in rows:
                sheet.append(list(row))
    book.save(path)
    return path


def basic_sheets(**overrides) -> dict[str, list]:
    """One material, two countries, two offers: cheap risky A and dear safe B."""
    sheets = {
        "Materials": [{"material": "gallium", "unit": "t", "demand": 100,
                       "shortage_penalty": 1000}],
        "Countries": [
            {"country": "AAA", "disruption_prob": 0.1, "groups": "G1", "tariff": 0},
            {"country": "BBB", "disruption_prob": 0, "groups": "G2", "tariff": 0},
        ],
        "Suppliers": [
            {"supplier": "a", "material": "gallium", "country": "AAA", "unit_cost": 10,
             "capacity": 1000},
            {"supplier": "b", "material": "gallium", "country": "BBB", "unit_cost": 20,
             "capacity": 1000},
        ],
    }
    sheets.update(overrides)
    return sheets


def material(mid="gallium", demand=100, penalty=1000, **extra) -> dict:
    """A Materials row."""
    return {"material": mid, "unit": "t", "demand": demand, "shortage_penalty": penalty,
            **extra}


def country(cid, p=0, groups="", tariff=0) -> dict:
    """A Countries row."""
    return {"country": cid, "disruption_prob": p, "groups": groups, "tariff": tariff}


def offer(supplier, country_id, unit_cost, capacity=1000, mid="gallium", **extra) -> dict:
    """A Suppliers row."""
    return {"supplier": supplier, "material": mid, "country": country_id,
            "unit_cost": unit_cost, "capacity": capacity, **extra}
