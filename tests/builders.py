"""Small workbooks written from plain rows, shared by the tests."""

from __future__ import annotations

import random
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


def hard_sheets(n_materials: int = 8, seed: int = 7, *, unit: str | None = None) -> dict:
    """A real sourcing MIP (`n_materials` × 12 offers with minimum orders and fixed costs,
    24 countries, a scenario each, three policies) that is feasible by construction: the
    first three offers of every material come from an EU country with capacity 40 and
    minimum order 10, so buying 30 from one of them meets `min_group_share EU ≥ 30 %`
    (origin) without breaking the 40 % country cap or the HHI limit. Buying nothing is
    not a plan (the EU share rule forbids it), so HiGHS has to search to find one; at 20
    materials it cannot close the gap in minutes. `unit` fills the Materials unit column."""
    rng = random.Random(seed)
    n_countries = 24
    tags = ["EU", "NATO", "FEOC", "OTHER"]
    countries = [{"country": f"C{j:02d}", "disruption_prob": round(rng.uniform(0.005, 0.03), 3),
                  "groups": tags[j % 4], "tariff": rng.choice([0, 0.1, 0.25])}
                 for j in range(n_countries)]
    materials, offers = [], []
    for i in range(n_materials):
        materials.append({"material": f"m{i}", **({"unit": unit} if unit else {}),
                          "demand": 100, "shortage_penalty": rng.randint(200, 900),
                          "stockpile_cost": rng.randint(1, 5)})
        for k in range(12):
            origin = 4 * rng.randrange(n_countries // 4) if k < 3 else rng.randrange(n_countries)
            capacity = 40 if k < 3 else rng.randint(20, 80)
            offers.append({
                "supplier": f"s{i}_{k}", "material": f"m{i}", "country": f"C{origin:02d}",
                "processing_country": f"C{rng.randrange(n_countries):02d}",
                "unit_cost": rng.randint(5, 50), "capacity": capacity,
                "min_order": 10 if k < 3 else rng.randint(0, capacity // 2),
                "fixed_cost": rng.randint(100, 3000), "reserve_cost": rng.randint(1, 10)})
    policies = [{"rule": "max_country_share", "target": "*", "stage": "both", "value": 0.4},
                {"rule": "min_group_share", "target": "EU", "stage": "origin", "value": 0.3},
                {"rule": "max_hhi", "target": "*", "stage": "both", "value": 3000}]
    return {"Materials": materials, "Countries": countries, "Suppliers": offers,
            "Policies": policies}
