"""Build the embedded data sets in the workbook format of SPEC §2 and §7.

    python data/tools/build_datasets.py

writes, next to this file,

* ``critical-inputs.xlsx``: the embedded critical-inputs data set, v2: an EU importer over
  the horizon 2026-2030 (Periods, Demand), thirteen critical inputs, buyer-scale offers
  with spot capacity and owner countries, partner-capacity projects, explicit scenarios
  (material-specific, partial, correlated, dated, with price surges), the sanctions in
  force and four strategies;
* ``example.xlsx``: a small hand-sized example (v1 shape) that uses every v1 workbook
  feature once.

Inputs are the CSV files in ``sources/``: verbatim copies of the reference data
(``supply_shares.csv``, ``countries.csv``, ``indicative_prices.csv`` and ``v2/*.csv``) and
the hand-written v2 tables ``materials_v2.csv``, ``supply_v2.csv``, ``projects_v2.csv`` and
``scenarios_v2.csv``, every row of which names its source or says it is an estimate. Every
modelling assumption is a named constant below and is explained in ``README.md``. Only
the standard library, pandas and openpyxl are used; there is no randomness and no network
access, and the workbooks are byte-for-byte reproducible (fixed document properties and
zip timestamps).

The script checks what it builds and stops with an error if a check fails: the stage
shares of each material sum to 1 (100 % ± 0.05) and each producer's rows to its whole
output in every period; no offer is above its producer's output (nor a project above its
nameplate); every project names a row of the reference project table that has a source;
every scenario has one probability and one surge, and the probabilities of each period
sum to less than 1; every material can be covered in every period; minimum orders fit
their capacities.
"""

from __future__ import annotations

import io
import math
import os
import re
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

# This script lives in data/tools/ (a folder, not a package, so the wheel does not carry
# it); it reads data/sources/ and writes the workbooks into data/.
HERE = Path(__file__).resolve().parents[1]
SOURCES = HERE / "sources"

# --------------------------------------------------------------------------------------
# Stated assumptions of critical-inputs.xlsx (see README.md)
# --------------------------------------------------------------------------------------

# Who buys: an EU member state's industry (a stand-in, not a named country), sized at 3 %
# of world supply of each input (range 2-5 %: Germany is ~4 % of world GDP and ~5 % of
# world manufacturing value added; France and Italy 2-3 %).
IMPORTER_SHARE = 0.03
PERIODS = ["2026", "2027", "2028", "2029", "2030"]
DISCOUNT_RATE = 0.03  # real, the European Commission's Better Regulation Toolbox rate
CAPACITY_BASIS_YEAR = 2028  # producers' output is taken at mid-horizon (world growth)
# Buyer-scale offers: the importer can contract up to FLEX times its pro-rata share
# (IMPORTER_SHARE) of a producer's output (range 1.5-3), times the producer's export
# factor where a standing export control cuts what leaves the country.
FLEX = 2.0
# Partner-capacity projects: the importer co-funds PARTNER_CAPEX_SHARE of the capex
# against an offtake of PARTNER_OFFTAKE_SHARE of the output (offtakes commonly exceed
# equity stakes: GM 38 % of Thacker Pass, LGES up to 80 % of Electra, JARE up to 65 % of
# Lynas' Dy/Tb), at RAMP_UP of nameplate (new plants run below nameplate for years).
PARTNER_CAPEX_SHARE = 0.20
PARTNER_OFFTAKE_SHARE = 0.40
RAMP_UP = 0.60
# A project's capex counts only for the part of its life inside the horizon: capex x
# min(1, years online by 2030 if started at the earliest / life). The rest buys output
# after 2030, which the horizon does not value.
HORIZON_END = 2030
TOLL = 0.03  # freight and toll margin when ore is processed outside its origin country
STOCKPILE_COST_SHARE = 0.10  # carrying cost per unit-year = 10 % of the outside-China price
STOCKPILE_CAP_SHARE = 0.50  # strategic stock at most half of the 2026 demand (~6 months)
FIXED_COST_SHARE = 0.02  # contract set-up on OECD-processed offers, as in v1
MIN_ORDER_SHARE = 0.10  # minimum offtake on OECD-processed offers = 10 % of 2026 demand ...
MIN_ORDER_CAP_SHARE = 0.50  # ... where that is at most half the offer's capacity
RESERVE_COST_SHARE = 0.10  # reserved backup capacity costs 10 % of the unit cost
RESERVE_OFFERS = {  # suppliers that sell reserved backup capacity
    "Lynas Malaysia (Mt Weld feed)", "Japan gallium producers", "Teck Trail (Canada)",
    "Umicore Kokkola (DRC feed, 2028-)", "Samsung Korea", "US LNG exporters",
}
EU_CRMA_CAP = 0.65  # Regulation (EU) 2024/1252 Art. 5(1)(d), 2030 benchmark
EU_CRMA_FROM = "2030"
CHINA_PLUS_ONE_CAP = 0.50
CHINA_PLUS_ONE_FROM = "2028"
FRIENDSHORING_TARGET = 0.80
FRIENDSHORING_FROM = "2030"
FRIENDSHORING_MARGIN = 0.75  # at most 75 % of what allied capacity can carry in 2030, so
#                             the scenario stays feasible under the +30 % demand surge
ALLY_FLAGS = ("NATO", "EU", "G7", "OECD", "Quad")  # ALLY = member of any of these

SETTINGS_V2 = [
    ("risk_aversion", 0.3),
    ("cvar_alpha", 0.95),
    ("time_limit", 60),
    ("mip_gap", 0.0001),
    ("currency", "USD"),
    ("discount_rate", DISCOUNT_RATE),
]

# --------------------------------------------------------------------------------------
# Assumptions of example.xlsx (v1 shape; unchanged)
# --------------------------------------------------------------------------------------

# Disruption probability per country from the WGI political-stability percentile rank
# r (0-100): p = 0.003 + 0.03 * (1 - r / 100), plus a geopolitical extra; rounded to 3
# decimals.
PROB_FLOOR = 0.003
PROB_SPAN = 0.03
GEO_EXTRA = {"CHN": 0.03, "TWN": 0.03}  # export-control risk; cross-strait blockade risk
ROW_RANK = 50.0  # the rest-of-world aggregate is treated as a middling (median-rank) producer
TARIFF_FEOC = 0.25  # Section 301-like on China; Russia treated alike
TARIFF_FTA = 0.0  # US FTA partners (and the US itself)
TARIFF_OTHER = 0.03  # MFN-like, including the rest-of-world aggregate
PRICE_FACTOR_CHN = 0.75
PRICE_FACTOR_FEOC = 0.85
PRICE_FACTOR_OECD = 1.20
PRICE_FACTOR_ROW = 1.10
PRICE_FACTOR_OTHER = 1.00

GROUP_FLAGS = [  # countries.csv column -> group tag, in the order written
    ("NATO", "NATO"),
    ("EU", "EU"),
    ("G7", "G7"),
    ("OECD", "OECD"),
    ("CPTPP", "CPTPP"),
    ("Quad", "Quad"),
    ("US_FTA", "US_FTA"),
    ("foreign_entity_of_concern", "FEOC"),
]

ROW = "ROW"
ROW_NAME = "Rest of world (aggregate)"

FIXED_TIME = datetime(2025, 1, 1)
ZIP_TIME = (2025, 1, 1, 0, 0, 0)

V1_COLUMNS = {
    "Materials": ["material", "unit", "demand", "shortage_penalty", "stockpile_cost",
                  "max_stockpile"],
    "Countries": ["country", "name", "disruption_prob", "groups", "tariff"],
    "Suppliers": ["supplier", "material", "country", "processing_country", "unit_cost",
                  "capacity", "min_order", "fixed_cost", "reserve_cost", "tariff"],
    "Policies": ["rule", "material", "target", "stage", "value", "strategy", "whatif", "name"],
    "Scenarios": ["scenario", "probability", "country", "material", "capacity_factor",
                  "whatif"],
    "Settings": ["key", "value"],
}
V2_COLUMNS = {
    "Materials": ["material", "unit", "demand", "shortage_penalty", "stockpile_cost",
                  "max_stockpile", "initial_stock", "stock_price"],
    "Countries": ["country", "name", "disruption_prob", "groups", "tariff"],
    "Suppliers": ["supplier", "material", "country", "processing_country", "owner_country",
                  "unit_cost", "capacity", "spot_capacity", "min_order", "fixed_cost",
                  "reserve_cost", "tariff", "available_from", "available_until", "capex",
                  "lead_time"],
    "Policies": ["rule", "material", "target", "stage", "value", "strategy", "whatif",
                 "from_period", "name"],
    "Scenarios": ["scenario", "probability", "period", "country", "material",
                  "capacity_factor", "price_surge", "whatif"],
    "Periods": ["period", "weight"],
    "Demand": ["material", "period", "demand", "whatif"],
    "Settings": ["key", "value"],
}


class BuildError(RuntimeError):
    pass


def num(text) -> float | None:
    text = str(text).strip()
    return float(text) if text and text.lower() != "nan" else None


def nice(x: float) -> float | int:
    """Plain Python number; integers where the value is integral."""
    x = float(x)
    return int(round(x)) if abs(x - round(x)) < 1e-9 else x


def sig(x: float, digits: int = 3) -> float:
    """Round to `digits` significant figures."""
    if x == 0:
        return 0.0
    return round(x, digits - 1 - math.floor(math.log10(abs(x))))


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(SOURCES / name, dtype=str, keep_default_na=False)


# --------------------------------------------------------------------------------------
# The critical-inputs data set (v2)
# --------------------------------------------------------------------------------------


class Countries:
    """countries.csv: names and group tags; THIRD_COUNTRY (not in the EU) and ALLY (a
    member of NATO, the EU, the G7, the OECD or the Quad) are derived from the flags."""

    def __init__(self, table: pd.DataFrame):
        self.rows = {r["iso3"]: r for _, r in table.iterrows()}

    def flag(self, code: str, column: str) -> bool:
        return code != ROW and self.rows[code][column].strip() in ("1", "1.0")

    def name(self, code: str) -> str:
        return ROW_NAME if code == ROW else self.rows[code]["name"]

    def tags(self, code: str) -> list[str]:
        if code == ROW:
            return []
        if code not in self.rows:
            raise BuildError(f"country {code} is not in countries.csv")
        tags = [tag for column, tag in GROUP_FLAGS if self.flag(code, column)]
        if not self.flag(code, "EU"):
            tags.append("THIRD_COUNTRY")
        if any(self.flag(code, column) for column in ALLY_FLAGS):
            tags.append("ALLY")
        return tags


def growth(mat, year: int) -> float:
    """World demand (and supply) in `year` relative to the material's base year: the
    published growth to 2030, spread evenly (geometrically) over the years."""
    base = int(mat["base_year"])
    return (1.0 + float(mat["growth_2030"])) ** ((year - base) / (HORIZON_END - base))


def unit_cost(mat, producer: str, origin: str, factor: float) -> float:
    price = float(mat["price_china"] if producer == "CHN" else mat["price_other"])
    toll = 1.0 + TOLL if origin != producer else 1.0
    return price * factor * toll


def active(row, period: str) -> bool:
    start = row["available_from"] or PERIODS[0]
    end = row["available_until"] or PERIODS[-1]
    return start <= period <= end


def build_critical_inputs():
    materials = read("materials_v2.csv")
    supply = read("supply_v2.csv")
    projects = read("projects_v2.csv")
    scenarios = read("scenarios_v2.csv")
    reference_projects = read("v2/projects.csv")
    countries = Countries(read("countries.csv"))
    mats = {m["material"]: m for _, m in materials.iterrows()}
    for name, m in mats.items():
        for column in ("world_source", "growth_source", "price_source", "penalty_basis"):
            if not m[column].strip():
                raise BuildError(f"{name}: {column} is empty (every number needs a source)")

    offers, materials_out, demand_rows, audit = [], [], [], []
    for name, m in mats.items():
        rows = supply[supply["material"] == name]
        if rows.empty:
            raise BuildError(f"{name}: no supply rows")
        # Check: the producers' stage shares sum to 100 % (a published share table).
        producers = rows.drop_duplicates("producer")
        total = sum(float(s) for s in producers["stage_share"])
        if abs(total - 100.0) > 0.05:
            raise BuildError(f"{name}: stage shares sum to {total:.3f} %, not 100 %")
        # Check: in every period, the rows of a producer carry its whole output once.
        for producer, group in rows.groupby("producer"):
            for period in PERIODS:
                parts = sum(float(r["part"]) for _, r in group.iterrows() if active(r, period))
                if abs(parts - 1.0) > 1e-3:
                    raise BuildError(f"{name}/{producer}: parts sum to {parts} in {period}")
        # The purchased product's share by producer: stage share x product fraction.
        fractions = {p: float(g["product_fraction"].iloc[0])
                     for p, g in rows.groupby("producer")}
        weight = {r["producer"]: float(r["stage_share"]) / 100 * fractions[r["producer"]]
                  for _, r in producers.iterrows()}
        world = float(m["world_supply"]) * sum(weight.values())
        share = {p: w / sum(weight.values()) for p, w in weight.items()}
        basis = world * growth(m, CAPACITY_BASIS_YEAR)
        demand = {t: IMPORTER_SHARE * world * growth(m, int(t)) for t in PERIODS}
        demand = {t: sig(d) for t, d in demand.items()}
        d0 = demand[PERIODS[0]]
        price_other = float(m["price_other"])
        stock = m["stockpile"] == "yes"
        materials_out.append({
            "material": name, "unit": m["unit"], "demand": nice(d0),
            "shortage_penalty": nice(float(m["penalty_mult"]) * price_other),
            "stockpile_cost": nice(round(STOCKPILE_COST_SHARE * price_other, 2)) if stock else None,
            "max_stockpile": nice(sig(STOCKPILE_CAP_SHARE * d0, 2)) if stock else None,
            "initial_stock": None,
            "stock_price": nice(price_other) if stock else None,
        })
        demand_rows += [{"material": name, "period": t, "demand": nice(d)}
                        for t, d in demand.items()]
        for _, r in rows.iterrows():
            route = share[r["producer"]] * float(r["part"])
            output = route * basis  # the producer's output carried by this row
            if r["offer"] != "yes":
                continue
            factor = float(r["export_factor"])
            capacity = FLEX * IMPORTER_SHARE * output * factor
            if capacity > output + 1e-9:
                raise BuildError(f"{r['supplier']}: offer above its producer's output")
            offers.append({
                "supplier": r["supplier"], "material": name, "country": r["origin"],
                "processing_country": r["producer"], "owner_country": r["owner"],
                "unit_cost": round(unit_cost(m, r["producer"], r["origin"],
                                             float(r["price_factor"]))),
                "capacity": round(capacity),
                "spot_capacity": round(float(m["spot_share"]) * IMPORTER_SHARE * output * factor),
                "available_from": r["available_from"] or None,
                "available_until": r["available_until"] or None,
                "output": output, "kind": "producer",
            })
        audit.append({"material": name, "unit": m["unit"], "world": world,
                      "demand_2026": d0, "demand_2030": demand[PERIODS[-1]],
                      "price_china": float(m["price_china"]), "price_other": price_other})

    # Announced plants (offers with a window) and partner-capacity projects.
    known = {r["project"]: r for _, r in reference_projects.iterrows()}
    project_audit = []
    for _, p in projects.iterrows():
        ref = known.get(p["ref_project"])
        if ref is None or not ref["source_url"].startswith("http"):
            raise BuildError(f"{p['key']}: no sourced row {p['ref_project']!r} in v2/projects.csv")
        m = mats[p["material"]]
        nameplate = float(p["nameplate"]) * float(p["to_model_unit"])
        start = int(p["available_from"])
        row = {"supplier": p["supplier"], "material": p["material"], "country": p["origin"],
               "processing_country": p["country"], "owner_country": p["owner"],
               "unit_cost": round(unit_cost(m, p["country"], p["origin"],
                                            float(p["price_factor"]))),
               "available_from": p["available_from"], "available_until": None,
               "output": nameplate}
        if p["kind"] == "project":
            lead = int(p["lead_time"])
            online = start + lead
            years = max(0, HORIZON_END - online + 1)
            horizon_share = min(1.0, years / float(p["life_years"]))
            stake = PARTNER_CAPEX_SHARE * float(p["capex_usd"])
            capacity = PARTNER_OFFTAKE_SHARE * RAMP_UP * nameplate
            row.update(capacity=round(capacity), spot_capacity=0,
                       capex=round(stake * horizon_share, -3), lead_time=lead,
                       kind="project")
            project_audit.append({"project": p["supplier"], "material": p["material"],
                                  "online": online, "capacity": round(capacity),
                                  "capex_total": float(p["capex_usd"]), "stake": stake,
                                  "horizon_share": horizon_share,
                                  "capex_charged": row["capex"]})
        else:
            capacity = FLEX * IMPORTER_SHARE * RAMP_UP * nameplate
            row.update(capacity=round(capacity),
                       spot_capacity=round(float(m["spot_share"]) * IMPORTER_SHARE * nameplate),
                       kind="announced")
        if row["capacity"] > nameplate + 1e-9:
            raise BuildError(f"{p['key']}: capacity above the plant's nameplate")
        offers.append(row)

    # Contract terms, as in v1: OECD-processed offers carry a set-up cost and a minimum
    # offtake; a few sell reserved backup capacity.
    demand0 = {m["material"]: float(m["demand"]) for m in materials_out}
    price = {n: float(m["price_other"]) for n, m in mats.items()}
    for o in offers:
        o["min_order"] = o["fixed_cost"] = o["reserve_cost"] = None
        if o["kind"] != "project" and "OECD" in countries.tags(o["processing_country"]):
            d = demand0[o["material"]]
            o["fixed_cost"] = round(FIXED_COST_SHARE * min(o["capacity"], d)
                                    * price[o["material"]], -3) or None
            if MIN_ORDER_SHARE * d <= MIN_ORDER_CAP_SHARE * o["capacity"]:
                o["min_order"] = nice(sig(MIN_ORDER_SHARE * d, 2))
        if o["supplier"] in RESERVE_OFFERS:
            o["reserve_cost"] = round(RESERVE_COST_SHARE * o["unit_cost"])
        if o["min_order"] is not None and o["min_order"] > o["capacity"]:
            raise BuildError(f"{o['supplier']}: min_order above capacity")
        if o["owner_country"] == o["country"]:
            o["owner_country"] = None  # blank = the origin country (SPEC §7)
    missing = RESERVE_OFFERS - {o["supplier"] for o in offers}
    if missing:
        raise BuildError(f"reserve offers not found: {sorted(missing)}")
    keys = [(o["supplier"], o["material"], o["country"], o["processing_country"])
            for o in offers]
    if len(keys) != len(set(keys)):
        raise BuildError("two offers share (supplier, material, country, processing_country)")

    used = sorted({c for o in offers for c in (o["country"], o["processing_country"],
                                                 o["owner_country"]) if c},
                  key=lambda c: (c == ROW, c))
    countries_out = [{"country": c, "name": countries.name(c), "disruption_prob": None,
                      "groups": ", ".join(countries.tags(c)) or None, "tariff": 0}
                     for c in used]

    # Policies: the sanctions in force for an EU importer (always on), then strategies.
    policies = [{
        "rule": "exclude", "material": "lng", "target": "RUS", "stage": "both",
        "name": "EU 19th sanctions package (Council, 23 Oct 2025): no Russian LNG "
                "(no new contracts; short-term ones end Apr 2026, long-term 1 Jan 2027)"}]
    for name, m in mats.items():
        if m["crma_srm"] == "yes":
            policies.append({
                "rule": "max_country_share", "material": name, "target": "THIRD_COUNTRY",
                "stage": "both", "value": EU_CRMA_CAP, "strategy": "eu_crma",
                "from_period": EU_CRMA_FROM,
                "name": "CRMA Reg. (EU) 2024/1252 Art. 5(1)(d): <= 65 % from one third "
                        "country, each stage, by 2030"})
    policies += [
        {"rule": "exclude", "material": "*", "target": "FEOC", "stage": "both",
         "strategy": "no_feoc",
         "name": "PFE/FEOC screen (26 USC 7701(a)(51), 45X as amended 2025; DOE 89 FR "
                 "37079): nothing mined or processed in CHN/RUS/IRN/PRK"},
        {"rule": "exclude", "material": "*", "target": "FEOC", "stage": "owner",
         "strategy": "no_feoc",
         "name": "PFE/FEOC screen: nothing from entities owned or controlled from "
                 "CHN/RUS/IRN/PRK, wherever they are"},
        {"rule": "max_country_share", "material": "*", "target": "CHN", "stage": "both",
         "value": CHINA_PLUS_ONE_CAP, "strategy": "china_plus_one",
         "from_period": CHINA_PLUS_ONE_FROM,
         "name": "China plus one (industry practice): China <= 50 % at each stage from 2028"},
        {"rule": "max_country_share", "material": "*", "target": "CHN", "stage": "owner",
         "value": CHINA_PLUS_ONE_CAP, "strategy": "china_plus_one",
         "from_period": CHINA_PLUS_ONE_FROM,
         "name": "China plus one: Chinese-owned plants <= 50 % from 2028"},
    ]
    friend = []
    last = PERIODS[-1]
    for name, m in mats.items():
        if m["battery"] != "yes":
            continue
        allied = sum(o["capacity"] for o in offers if o["material"] == name
                     and "ALLY" in countries.tags(o["processing_country"])
                     and active({"available_from": o["available_from"] or "",
                                 "available_until": o["available_until"] or ""}, last))
        d_last = next(r["demand"] for r in demand_rows
                      if r["material"] == name and r["period"] == last)
        reachable = FRIENDSHORING_MARGIN * allied / d_last
        value = min(FRIENDSHORING_TARGET, math.floor(reachable * 20) / 20)
        if value < 0.05:
            raise BuildError(f"{name}: allied capacity cannot carry any friend-shoring share")
        friend.append((name, value, allied / d_last))
        policies.append({
            "rule": "min_group_share", "material": name, "target": "ALLY",
            "stage": "processing", "value": value, "strategy": "friendshoring_80",
            "from_period": FRIENDSHORING_FROM,
            "name": f"Friend-shoring scenario (not a law): >= {value:.0%} refined in allied "
                    f"countries by 2030 (80 % where allied capacity allows)"})

    # Scenarios: one probability and one surge per scenario; per-period budget < 1.
    scen_out = []
    for name, group in scenarios.groupby("scenario", sort=False):
        if group["probability"].nunique() != 1 or group["price_surge"].nunique() != 1:
            raise BuildError(f"scenario {name}: rows disagree on probability or surge")
        if not group["probability_basis"].iloc[0].strip():
            raise BuildError(f"scenario {name}: no probability basis")
        for _, r in group.iterrows():
            if r["material"] != "*" and r["material"] not in mats:
                raise BuildError(f"scenario {name}: unknown material {r['material']}")
            scen_out.append({"scenario": name, "probability": float(r["probability"]),
                             "period": r["period"] or None, "country": r["country"],
                             "material": r["material"],
                             "capacity_factor": float(r["capacity_factor"]),
                             # as percent text: a bare 1.3 draws the validator's
                             # "did you mean 1.3 %?" warning
                             "price_surge": f"{float(r['price_surge']) * 100:g}%"})
    budget = {}
    for t in PERIODS:
        present = {s["scenario"]: s["probability"] for s in scen_out
                   if s["period"] in (None, t)}
        budget[t] = sum(present.values())
        if not budget[t] < 1:
            raise BuildError(f"scenario probabilities sum to {budget[t]} in {t}")

    # Coverage: in every period, what can be bought (windows, sanctions) covers demand.
    for name in mats:
        for t in PERIODS:
            d = next(r["demand"] for r in demand_rows
                     if r["material"] == name and r["period"] == t)
            cap = sum(o["capacity"] for o in offers if o["material"] == name
                      and active({"available_from": o["available_from"] or "",
                                  "available_until": o["available_until"] or ""}, t)
                      and not (name == "lng" and o["country"] == "RUS"))
            if cap < d:
                raise BuildError(f"{name}: capacity {cap} below demand {d} in {t}")
            audit_row = next(a for a in audit if a["material"] == name)
            audit_row[f"cover_{t}"] = cap / d

    sheets = {
        "Materials": materials_out,
        "Countries": countries_out,
        "Suppliers": offers,
        "Policies": policies,
        "Scenarios": scen_out,
        "Periods": [{"period": t, "weight": None} for t in PERIODS],
        "Demand": demand_rows,
        "Settings": [{"key": k, "value": v} for k, v in SETTINGS_V2],
    }
    return sheets, audit, project_audit, friend, budget


# --------------------------------------------------------------------------------------
# Country attributes for the hand-sized example (v1 rules)
# --------------------------------------------------------------------------------------


class CountryInfo:
    """Attributes of the countries in countries.csv, and the derived model columns."""

    def __init__(self, countries: pd.DataFrame):
        self.rows = {r["iso3"]: r for _, r in countries.iterrows()}
        # Taiwan has no WGI percentile rank: impute one from the mean of the six WGI
        # estimates by a least-squares line fitted over every country that has both.
        both = countries[(countries["wgi_pv_pctrank_2023"] != "")
                         & (countries["wgi_mean6_norm_2022"] != "")]
        x = both["wgi_mean6_norm_2022"].astype(float)
        y = both["wgi_pv_pctrank_2023"].astype(float)
        slope = ((x - x.mean()) * (y - y.mean())).sum() / ((x - x.mean()) ** 2).sum()
        self.fit = (y.mean() - slope * x.mean(), slope, len(both))

    def name(self, code: str) -> str:
        return ROW_NAME if code == ROW else self.rows[code]["name"]

    def tags(self, code: str) -> list[str]:
        if code == ROW:
            return []
        row = self.rows[code]
        return [tag for column, tag in GROUP_FLAGS if row[column].strip() in ("1", "1.0")]

    def pctrank(self, code: str) -> tuple[float, str]:
        row = self.rows[code]
        if row["wgi_pv_pctrank_2023"] != "":
            return float(row["wgi_pv_pctrank_2023"]), "WGI PV percentile rank 2023"
        if row["wgi_mean6_norm_2022"] != "":
            a, b, _ = self.fit
            value = round(a + b * float(row["wgi_mean6_norm_2022"]), 1)
            return value, "imputed from WGI mean-of-six 2022 (linear fit)"
        raise BuildError(f"{code}: no WGI value; add an explicit assumption")

    def disruption_prob(self, code: str) -> float:
        rank = ROW_RANK if code == ROW else self.pctrank(code)[0]
        p = PROB_FLOOR + PROB_SPAN * (1.0 - rank / 100.0) + GEO_EXTRA.get(code, 0.0)
        return round(p, 3)

    def tariff(self, code: str) -> float:
        tags = self.tags(code)
        if "FEOC" in tags:
            return TARIFF_FEOC
        if "US_FTA" in tags:
            return TARIFF_FTA
        return TARIFF_OTHER

    def price_factor(self, code: str) -> float:
        if code == ROW:
            return PRICE_FACTOR_ROW
        if code == "CHN":
            return PRICE_FACTOR_CHN
        tags = self.tags(code)
        if "FEOC" in tags:
            return PRICE_FACTOR_FEOC
        if "OECD" in tags:
            return PRICE_FACTOR_OECD
        return PRICE_FACTOR_OTHER


# --------------------------------------------------------------------------------------
# The hand-sized example (v1 shape)
# --------------------------------------------------------------------------------------


def build_example(info: CountryInfo):
    codes = ["AUS", "CHN", "JPN", "MMR", "MYS", "QAT", "RUS", "USA"]
    countries = [{
        "country": c, "name": info.name(c), "disruption_prob": info.disruption_prob(c),
        "groups": ", ".join(info.tags(c)) or None, "tariff": info.tariff(c),
    } for c in codes]
    materials = [
        {"material": "rare_earths", "unit": "t", "demand": 1000, "shortage_penalty": 200000},
        {"material": "gallium", "unit": "kg", "demand": 5000, "shortage_penalty": 900,
         "stockpile_cost": 22, "max_stockpile": 2000},
        {"material": "lng", "unit": "kt", "demand": 12000, "shortage_penalty": 2000000},
    ]

    def offer(supplier, material, country, cost, capacity, processing=None, **extra):
        return {"supplier": supplier, "material": material, "country": country,
                "processing_country": processing, "unit_cost": cost, "capacity": capacity,
                **extra}

    suppliers = [
        offer("Sino Separation", "rare_earths", "CHN", 34000, 2000),
        offer("Myanmar clay via China", "rare_earths", "MMR", 33000, 400, "CHN"),
        offer("US ore via China", "rare_earths", "USA", 35000, 500, "CHN"),
        offer("Australian ore via Malaysia", "rare_earths", "AUS", 52000, 600, "MYS"),
        offer("US domestic separation", "rare_earths", "USA", 58000, 400, "USA",
              min_order=100, fixed_cost=500000),
        offer("Australian domestic separation", "rare_earths", "AUS", 60000, 300, "AUS",
              reserve_cost=6000),
        offer("Sino Gallium", "gallium", "CHN", 160, 20000),
        offer("Ural Gallium", "gallium", "RUS", 170, 2000),
        offer("Japan Gallium", "gallium", "JPN", 240, 3000, reserve_cost=30),
        offer("Japan Gallium Recycling", "gallium", "JPN", 260, 1200),
        offer("US Gallium Recovery", "gallium", "USA", 280, 2500),
        offer("Qatar LNG", "lng", "QAT", 450000, 8000),
        offer("US Gulf LNG", "lng", "USA", 490000, 5000),
        offer("Australia LNG", "lng", "AUS", 480000, 4000),
        offer("Malaysia LNG", "lng", "MYS", 470000, 2500, tariff=0),
        offer("Arctic LNG", "lng", "RUS", 400000, 3000),
    ]
    policies = [
        {"rule": "max_country_share", "material": "*", "target": "*", "stage": "both",
         "value": "65%", "strategy": "diversify", "name": "EU CRMA 65 % cap"},
        {"rule": "max_hhi", "material": "gallium", "target": "*", "stage": "both",
         "value": 5000, "strategy": "diversify", "name": "Gallium HHI at most 5000"},
        {"rule": "min_group_share", "material": "rare_earths", "target": "US_FTA",
         "stage": "origin", "value": 0.5, "strategy": "friendshore",
         "name": "Rare earths: half mined in US FTA partners"},
        {"rule": "max_group_share", "material": "*", "target": "FEOC", "stage": "processing",
         "value": 0.5, "strategy": "friendshore", "name": "FEOC processing at most 50 %"},
        {"rule": "exclude", "material": "lng", "target": "RUS", "stage": "both",
         "name": "No Russian LNG (always on)"},
    ]
    scenarios = [
        {"scenario": "china_shock", "probability": 0.01, "country": "CHN", "material": "*",
         "capacity_factor": 0},
        {"scenario": "gallium_controls", "probability": 0.05, "country": "CHN",
         "material": "gallium", "capacity_factor": 0.5},
        {"scenario": "hormuz_closure", "probability": 0.01, "country": "QAT",
         "material": "lng", "capacity_factor": 0},
    ]
    settings = [("risk_aversion", 0.1), ("cvar_alpha", 0.95), ("time_limit", 30),
                ("mip_gap", 0.0001), ("currency", "USD")]
    return {
        "Materials": materials,
        "Countries": countries,
        "Suppliers": suppliers,
        "Policies": policies,
        "Scenarios": scenarios,
        "Settings": [{"key": k, "value": v} for k, v in settings],
    }


# --------------------------------------------------------------------------------------
# Writing reproducible workbooks
# --------------------------------------------------------------------------------------


def write_workbook(path: Path, sheets: dict[str, list[dict]],
                   sheet_columns: dict[str, list[str]]) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        columns = sheet_columns[title]
        ws.append(columns)
        for row in rows:
            values = []
            for col in columns:
                v = row.get(col)
                if isinstance(v, float) and not math.isfinite(v):
                    raise BuildError(f"{title}.{col}: non-finite value")
                values.append(nice(v) if isinstance(v, float) else v)
            ws.append(values)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        ws.freeze_panes = "A2"
        for i in range(1, len(columns) + 1):
            letter = get_column_letter(i)
            width = max(len(str(c.value)) for c in ws[letter] if c.value is not None)
            ws.column_dimensions[letter].width = min(max(width + 2, 8), 60)
    wb.properties.creator = "data/build_datasets.py"
    wb.properties.lastModifiedBy = "data/build_datasets.py"
    wb.properties.created = FIXED_TIME
    buffer = io.BytesIO()
    wb.save(buffer)

    # openpyxl stamps the save time into docProps/core.xml and the zip entries; replace
    # both with fixed values so that the file is reproducible byte for byte.
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp.encode() + rb"\g<2>", data)
            info = zipfile.ZipInfo(item.filename, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, data)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".xlsx")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(out.getvalue())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the data set is meant to be read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------


def main() -> None:
    sheets, audit, project_audit, friend, budget = build_critical_inputs()
    write_workbook(HERE / "critical-inputs.xlsx", sheets, V2_COLUMNS)
    info = CountryInfo(read("countries.csv"))
    example = build_example(info)
    write_workbook(HERE / "example.xlsx", example, V1_COLUMNS)

    offers = sheets["Suppliers"]
    built = [o for o in offers if o.get("capex") is not None]
    print(f"critical-inputs.xlsx: {len(sheets['Materials'])} materials, "
          f"{len(sheets['Countries'])} countries, {len(offers)} offers "
          f"({len(built)} partner projects), "
          f"{len({s['scenario'] for s in sheets['Scenarios']})} scenarios, "
          f"{len(PERIODS)} periods")
    print("  scenario probability by period: "
          + ", ".join(f"{t} {p:.2f}" for t, p in budget.items()))
    with pd.option_context("display.width", 220, "display.max_columns", 30,
                           "display.float_format", "{:,.2f}".format):
        print(pd.DataFrame(audit).set_index("material").to_string())
        print(pd.DataFrame(project_audit).set_index("project").to_string())
    print("friend-shoring shares (material, value used, allied capacity / 2030 demand): "
          + "; ".join(f"{m} {v:.2f} ({r:.2f})" for m, v, r in friend))
    print(f"example.xlsx: {len(example['Materials'])} materials, "
          f"{len(example['Countries'])} countries, {len(example['Suppliers'])} offers, "
          f"{len({s['scenario'] for s in example['Scenarios']})} scenarios")


if __name__ == "__main__":
    main()
