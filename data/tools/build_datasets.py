"""Build the embedded data sets in SPEC §2 workbook format.

    python data/tools/build_datasets.py

writes, next to this file,

* ``critical-inputs.xlsx``: the embedded critical-inputs data set (nine materials, offers
  derived from world supply shares, no Scenarios sheet: one generated scenario per country);
* ``example.xlsx``: a small hand-sized example that uses every workbook feature once.

Inputs are the CSV files in ``sources/`` (verbatim copies of the reference data plus two
hand-written tables, ``materials.csv`` and ``routes.csv``). Every modelling assumption is a
named constant below and is explained in ``README.md``. Only the standard library, pandas
and openpyxl are used; there is no randomness and no network access, and the workbooks are
byte-for-byte reproducible (fixed document properties and zip timestamps).

The script checks what it builds and stops with an error if a check fails: every material's
demand can be covered in full by firm orders under every combination of the strategies (no
FEOC at either stage, at most 65 % per country per stage, at least 50 % from US FTA origins,
and the library's 80 % US-FTA rule for battery minerals), and the generated disruption
probabilities sum to less than 1.
"""

from __future__ import annotations

import io
import itertools
import math
import os
import re
import tempfile
import zipfile
from collections import deque
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
# Stated assumptions (see README.md)
# --------------------------------------------------------------------------------------

# Demand: a hypothetical importer taking 4 % of world supply of each material ...
IMPORTER_SHARE = 0.04
# ... but never more than 75 % of what can be covered in full under the most restrictive
# combination of the strategies below (no FEOC, 65 % cap per country per stage, half from
# US FTA partners, 80 % of battery minerals from US FTA partners as in
# models/strategies/friendshoring_80.toml), so every strategy stays feasible with a third
# of spare capacity: enough for the +30 % demand-surge what-if.
COVER_SLACK = 0.75

# Disruption probability per country and period, from the WGI political-stability
# percentile rank r (0-100): p = 0.003 + 0.03 * (1 - r / 100), plus a geopolitical extra;
# rounded to 3 decimals. Kept small so that the ~28 generated one-country scenarios sum to
# well below 1 and what-ifs can still raise them.
PROB_FLOOR = 0.003
PROB_SPAN = 0.03
GEO_EXTRA = {"CHN": 0.03, "TWN": 0.03}  # export-control risk; cross-strait blockade risk
ROW_RANK = 50.0  # the rest-of-world aggregate is treated as a middling (median-rank) producer

# Tariffs (illustrative, US-style schedule for a US-aligned importer).
TARIFF_FEOC = 0.25  # Section 301-like on China; Russia treated alike
TARIFF_FTA = 0.0  # US FTA partners (and the US itself)
TARIFF_OTHER = 0.03  # MFN-like, including the rest-of-world aggregate

# Unit cost = indicative price x factor of the processing country's class,
# x (1 + TOLL) when ore is processed in a different country from where it was mined.
PRICE_FACTOR_CHN = 0.75  # lowest-cost producer: -25 % (cf. polysilicon 4.5 vs 20.36 USD/kg)
PRICE_FACTOR_FEOC = 0.85  # other FEOC producers: -15 %
PRICE_FACTOR_OECD = 1.20  # OECD producers: +20 %
PRICE_FACTOR_ROW = 1.10  # rest-of-world aggregate: +10 % (small, scattered suppliers)
PRICE_FACTOR_OTHER = 1.00  # other producers
TOLL = 0.03  # freight and toll-processing margin for cross-border routes

SHORTAGE_MULT = 4.0  # shortage penalty = 4 x indicative price
STOCKPILE_COST_SHARE = 0.10  # carrying cost per unit and period = 10 % of price
STOCKPILE_CAP_SHARE = 0.50  # strategic stock capped at half a period's demand
FIXED_COST_SHARE = 0.02  # contract set-up on OECD-processed offers = 2 % of the most the
#                          contract can deliver (min(capacity, demand)) at the indicative price
MIN_ORDER_SHARE = 0.10  # minimum offtake on OECD-processed offers = 10 % of demand ...
MIN_ORDER_CAP_SHARE = 0.50  # ... where that is at most half the offer's capacity
RESERVE_COST_SHARE = 0.10  # reserved backup capacity costs 10 % of the unit cost
RESERVE_OFFERS = {  # (material, origin, processing) offers that sell reserve capacity
    ("rare_earths", "AUS", "MYS"),
    ("gallium", "JPN", "JPN"),
    ("germanium", "CAN", "CAN"),
    ("cobalt", "COD", "FIN"),
    ("wafers_lt10nm", "KOR", "KOR"),
    ("lng", "QAT", "QAT"),
}

# Strategies (Policies sheet), and the library strategy the demand rule also respects.
EU_CRMA_CAP = 0.65
FRIENDSHORING_SHARE = 0.50
FRIENDSHORING_80_SHARE = 0.80
FRIENDSHORING_80_MATERIALS = {"lithium", "nickel", "cobalt", "graphite"}

SETTINGS = [
    ("risk_aversion", 0.3),
    ("cvar_alpha", 0.95),
    ("time_limit", 60),
    ("mip_gap", 0.0001),
    ("currency", "USD"),
]

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
SHORT_NAMES = {ROW: "Rest-of-world", "COD": "DR Congo", "USA": "US"}  # supplier labels

FIXED_TIME = datetime(2025, 1, 1)
ZIP_TIME = (2025, 1, 1, 0, 0, 0)

SHEET_COLUMNS = {
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


class BuildError(RuntimeError):
    pass


# --------------------------------------------------------------------------------------
# Reading the sources
# --------------------------------------------------------------------------------------


def read_sources() -> dict[str, pd.DataFrame]:
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(SOURCES / name, dtype=str, keep_default_na=False)

    return {
        "shares": read("supply_shares.csv"),
        "countries": read("countries.csv"),
        "prices": read("indicative_prices.csv"),
        "materials": read("materials.csv"),
        "routes": read("routes.csv"),
    }


def num(text: str) -> float | None:
    text = str(text).strip()
    return float(text) if text else None


def share_block(shares: pd.DataFrame, material: str, stage: str) -> tuple[dict, float]:
    """Shares (fractions) by country code and the block's total quantity."""
    rows = shares[(shares["material"] == material) & (shares["stage"] == stage)]
    if rows.empty:
        raise BuildError(f"no supply_shares rows for {material!r} / {stage!r}")
    if rows["year"].nunique() != 1:
        raise BuildError(f"several years for {material!r} / {stage!r}")
    fractions = {r.country_iso3: float(r.share_pct) / 100.0 for r in rows.itertuples()}
    quantities = [num(q) for q in rows["quantity"]]
    total = sum(q for q in quantities if q is not None) if all(
        q is not None for q in quantities) else math.nan
    return fractions, total


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
# Coverage checks: a small max-flow (origin stage -> route -> processing stage)
# --------------------------------------------------------------------------------------


def max_flow(arcs: list[tuple[str, str, float]], source: str, sink: str) -> float:
    """Edmonds-Karp on a small graph given as (tail, head, capacity) arcs."""
    residual: dict[str, dict[str, float]] = {}
    for tail, head, cap in arcs:
        residual.setdefault(tail, {}).setdefault(head, 0.0)
        residual.setdefault(head, {}).setdefault(tail, 0.0)
        residual[tail][head] += cap
    total = 0.0
    while True:
        parent = {source: None}
        queue = deque([source])
        while queue and sink not in parent:
            node = queue.popleft()
            for nxt in sorted(residual[node]):
                if nxt not in parent and residual[node][nxt] > 1e-12:
                    parent[nxt] = node
                    queue.append(nxt)
        if sink not in parent:
            return total
        path, node = [], sink
        while parent[node] is not None:
            path.append((parent[node], node))
            node = parent[node]
        push = min(residual[t][h] for t, h in path)
        for t, h in path:
            residual[t][h] -= push
            residual[h][t] += push
        total += push


STRATEGIES = ("eu_crma", "no_feoc", "friendshoring", "friendshoring_80")
STRATEGY_SETS = [s for n in range(len(STRATEGIES) + 1)
                 for s in itertools.combinations(STRATEGIES, n)]


def friend_share(material: str, strategies: tuple[str, ...]) -> float:
    share = 0.0
    if "friendshoring" in strategies:
        share = FRIENDSHORING_SHARE
    if "friendshoring_80" in strategies and material in FRIENDSHORING_80_MATERIALS:
        share = max(share, FRIENDSHORING_80_SHARE)
    return share


def coverable(offers: list[dict], tags, demand: float, strategies: tuple[str, ...]) -> float:
    """Most of `demand` that firm orders can cover under the given strategies, in full
    (with friend-shoring: at least the required share of demand from US-FTA origins)."""
    inf = float("inf")
    cap = EU_CRMA_CAP * demand if "eu_crma" in strategies else inf
    friend = friend_share(offers[0]["material"], strategies) if offers else 0.0
    arcs = []
    origins, processors = set(), set()
    for o in offers:
        c, q = o["country"], o["processing_country"]
        if "no_feoc" in strategies and ("FEOC" in tags(c) or "FEOC" in tags(q)):
            continue
        arcs.append((f"o:{c}", f"p:{q}", o["capacity"]))
        origins.add(c)
        processors.add(q)
    for c in sorted(origins):
        if friend:
            hub = "hub:fta" if "US_FTA" in tags(c) else "hub:other"
            arcs.append((hub, f"o:{c}", cap))
        else:
            arcs.append(("S", f"o:{c}", cap))
    if friend:
        arcs.append(("S", "hub:fta", inf))
        arcs.append(("S", "hub:other", (1.0 - friend) * demand))
    for q in sorted(processors):
        arcs.append((f"p:{q}", "T", cap))
    return max_flow(arcs, "S", "T")


def max_coverable_demand(offers, tags, strategies) -> float:
    """Largest demand that can be covered in full (feasibility is monotone in demand)."""
    hi = sum(o["capacity"] for o in offers)
    if coverable(offers, tags, hi, strategies) >= hi * (1 - 1e-9):
        return hi
    lo = 0.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if coverable(offers, tags, mid, strategies) >= mid * (1 - 1e-9):
            lo = mid
        else:
            hi = mid
    return lo


def floor_sig(x: float, digits: int = 2) -> float:
    """Round down to `digits` significant figures."""
    if x <= 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(x)) - digits + 1)
    return math.floor(x / step + 1e-9) * step


def nice(x: float) -> float | int:
    """Plain Python number; integers where the value is integral."""
    x = float(x)
    return int(round(x)) if abs(x - round(x)) < 1e-9 else x


# --------------------------------------------------------------------------------------
# The critical-inputs data set
# --------------------------------------------------------------------------------------


def build_critical_inputs(src: dict[str, pd.DataFrame], info: CountryInfo):
    shares, prices = src["shares"], src["prices"]
    routes = src["routes"]
    materials_out, offers_out, audit = [], [], []

    for mat in src["materials"].itertuples():
        name = mat.material
        r_share, r_total = share_block(shares, mat.processing_material, mat.processing_stage)
        if mat.world_supply:
            world = float(mat.world_supply)
        else:
            world = r_total * float(mat.quantity_to_unit)
        if not world > 0:
            raise BuildError(f"{name}: no world supply")
        m_share = None
        if mat.origin_material:
            m_share, _ = share_block(shares, mat.origin_material, mat.origin_stage)
        if mat.unit_price:
            price = float(mat.unit_price)
        else:
            row = prices[prices["material"] == mat.price_material]
            if len(row) != 1:
                raise BuildError(f"{name}: price row {mat.price_material!r} not found once")
            price = float(row["price_usd"].iloc[0]) * float(mat.price_to_unit)

        rts = routes[routes["material"] == name]
        if rts.empty:
            raise BuildError(f"{name}: no routes")
        # Step 1: each processing country's output is split among the origins listed as
        # feeding it, in proportion to their mine shares (single-stage: its whole output).
        # A route with `processing_share_of` = ROW draws on the rest-of-world residual
        # (a refiner the source does not name) together with the other ROW routes.
        rts = rts.assign(pool=[r.processing_share_of or r.processing for r in rts.itertuples()])
        share_of = {}
        for pool, feeds in rts.groupby("pool", sort=True):
            if pool not in r_share:
                raise BuildError(f"{name}: {pool} has no processing share")
            if m_share is None:
                for r in feeds.itertuples():
                    share_of[(r.origin, r.processing)] = r_share[pool]
                continue
            weights = {(r.origin, r.processing): m_share.get(r.origin, 0.0)
                       for r in feeds.itertuples()}
            if len(weights) == 1:
                weights = {k: 1.0 for k in weights}
            if any(w <= 0 for w in weights.values()):
                raise BuildError(f"{name}: a feed of {pool} has no mine share")
            total = sum(weights.values())
            for key, w in weights.items():
                share_of[key] = r_share[pool] * w / total
        # Step 2: an origin's routes together never carry more than its mine share.
        if m_share is not None:
            for c, group in rts[rts["origin_basis"] == "mine"].groupby("origin", sort=True):
                if c not in m_share:
                    raise BuildError(f"{name}: {c} has no mine share")
                keys = [(c, q) for q in group["processing"]]
                carried = sum(share_of[k] for k in keys)
                if carried > m_share[c]:
                    for k in keys:
                        share_of[k] *= m_share[c] / carried

        offers = []
        for r in rts.itertuples():
            c, q = r.origin, r.processing
            factor = info.price_factor(q) * (1.0 + TOLL if c != q else 1.0)
            def short(code: str) -> str:
                return SHORT_NAMES.get(code, info.name(code))

            if r.origin_basis == "single-stage":
                supplier = f"{short(q)} producers"
            elif c == q:
                supplier = (f"{short(q)} refiners" if c == ROW
                            else f"{short(q)} refiners (domestic feed)")
            else:
                supplier = f"{short(q)} refiners ({short(c)} feed)"
            offers.append({
                "supplier": supplier, "material": name, "country": c,
                "processing_country": q,
                "unit_cost": round(price * factor),
                "capacity": round(share_of[(c, q)] * world),
                "share": share_of[(c, q)],
            })

        # Demand: the importer's share of world supply, within the strategies' reach.
        bounds = {s: max_coverable_demand(offers, info.tags, s) for s in STRATEGY_SETS}
        tightest = min(bounds.values())
        target = IMPORTER_SHARE * world
        demand = floor_sig(min(target, COVER_SLACK * tightest), 2)
        binding = min(bounds, key=bounds.get)
        basis = ("4 % of world" if demand >= floor_sig(target, 2)
                 else f"{COVER_SLACK:.0%} of full cover under " + "+".join(binding))

        for o in offers:
            oecd_processed = "OECD" in info.tags(o["processing_country"])
            o["min_order"] = None
            o["fixed_cost"] = None
            if oecd_processed:
                volume = min(o["capacity"], demand)
                o["fixed_cost"] = round(FIXED_COST_SHARE * volume * price, -3) or None
                if MIN_ORDER_SHARE * demand <= MIN_ORDER_CAP_SHARE * o["capacity"]:
                    o["min_order"] = floor_sig(MIN_ORDER_SHARE * demand, 2)
            key = (name, o["country"], o["processing_country"])
            o["reserve_cost"] = (round(RESERVE_COST_SHARE * o["unit_cost"])
                                 if key in RESERVE_OFFERS else None)
        stock = mat.stockpile == "yes"
        materials_out.append({
            "material": name, "unit": mat.unit, "demand": nice(demand),
            "shortage_penalty": nice(round(SHORTAGE_MULT * price)),
            "stockpile_cost": nice(round(STOCKPILE_COST_SHARE * price, 2)) if stock else None,
            "max_stockpile": nice(floor_sig(STOCKPILE_CAP_SHARE * demand, 2)) if stock else None,
        })
        offers_out.extend(offers)
        audit.append({
            "material": name, "unit": mat.unit, "world_supply": world, "price": price,
            "target_demand": target, "demand": demand,
            "demand_pct_world": 100 * demand / world,
            "demand_basis": basis,
            **{("cover:" + ("+".join(s) or "none")): bounds[s] / demand
               for s in STRATEGY_SETS if len(s) <= 1},
            "cover:tightest": tightest / demand,
        })

    missing = {(m, c, q) for m, c, q in RESERVE_OFFERS} - {
        (o["material"], o["country"], o["processing_country"]) for o in offers_out}
    if missing:
        raise BuildError(f"reserve offers not among the routes: {sorted(missing)}")

    used = sorted({o["country"] for o in offers_out}
                  | {o["processing_country"] for o in offers_out},
                  key=lambda c: (c == ROW, c))
    countries_out = [{
        "country": c, "name": info.name(c), "disruption_prob": info.disruption_prob(c),
        "groups": ", ".join(info.tags(c)) or None, "tariff": info.tariff(c),
    } for c in used]

    policies = [
        {"rule": "max_country_share", "material": "*", "target": "*", "stage": "both",
         "value": EU_CRMA_CAP, "strategy": "eu_crma",
         "name": "EU CRMA benchmark: at most 65 % from one country per stage"},
        {"rule": "min_group_share", "material": "*", "target": "US_FTA", "stage": "origin",
         "value": FRIENDSHORING_SHARE, "strategy": "friendshoring",
         "name": "Friend-shoring: at least 50 % mined/produced in US FTA partners"},
        {"rule": "exclude", "material": "*", "target": "FEOC", "stage": "both",
         "value": None, "strategy": "no_feoc",
         "name": "No FEOC origin or processing"},
    ]
    sheets = {
        "Materials": materials_out,
        "Countries": countries_out,
        "Suppliers": [{k: o.get(k) for k in SHEET_COLUMNS["Suppliers"]} for o in offers_out],
        "Policies": policies,
        "Settings": [{"key": k, "value": v} for k, v in SETTINGS],
    }
    return sheets, offers_out, audit


# --------------------------------------------------------------------------------------
# The hand-sized example
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
# Checks on what was built
# --------------------------------------------------------------------------------------


def check_critical_inputs(sheets, offers, info: CountryInfo) -> list[str]:
    lines = []
    total_p = sum(c["disruption_prob"] for c in sheets["Countries"])
    if not total_p < 1:
        raise BuildError(f"disruption probabilities sum to {total_p:.3f} >= 1")
    lines.append(f"sum of disruption_prob = {total_p:.3f} (baseline {1 - total_p:.3f})")
    for m in sheets["Materials"]:
        mo = [o for o in offers if o["material"] == m["material"]]
        d = float(m["demand"])
        for s in STRATEGY_SETS:
            got = coverable(mo, info.tags, d, s)
            if got < d * (1 - 1e-9):
                raise BuildError(f"{m['material']}: demand {d} not coverable under {s}")
        for o in mo:
            if o["min_order"] is not None and o["min_order"] > o["capacity"]:
                raise BuildError(f"{o['supplier']}: min_order > capacity")
    if len(offers) > 80:
        raise BuildError(f"{len(offers)} offers (keep at most 80)")
    return lines


# --------------------------------------------------------------------------------------
# Writing reproducible workbooks
# --------------------------------------------------------------------------------------


def write_workbook(path: Path, sheets: dict[str, list[dict]]) -> None:
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        columns = SHEET_COLUMNS[title]
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


def main() -> None:
    src = read_sources()
    info = CountryInfo(src["countries"])
    sheets, offers, audit = build_critical_inputs(src, info)
    notes = check_critical_inputs(sheets, offers, info)
    write_workbook(HERE / "critical-inputs.xlsx", sheets)
    example = build_example(info)
    write_workbook(HERE / "example.xlsx", example)

    a, b, n = info.fit
    print(f"critical-inputs.xlsx: {len(sheets['Materials'])} materials, "
          f"{len(sheets['Countries'])} countries, {len(offers)} offers")
    for line in notes:
        print("  " + line)
    print(f"  Taiwan WGI rank imputed as {a:.2f} + {b:.2f} x mean6 (n={n}): "
          f"{info.pctrank('TWN')[0]}")
    table = pd.DataFrame(audit).set_index("material")
    with pd.option_context("display.width", 200, "display.max_columns", 30,
                           "display.float_format", "{:,.3f}".format):
        print(table[["unit", "world_supply", "price", "demand", "demand_pct_world",
                     "demand_basis"]].to_string())
        print("coverage ratio (max coverable demand / demand) by strategy set:")
        print(table[[c for c in table.columns if c.startswith("cover:")]].to_string())
    print(f"example.xlsx: {len(example['Materials'])} materials, "
          f"{len(example['Countries'])} countries, {len(example['Suppliers'])} offers, "
          f"{len({s['scenario'] for s in example['Scenarios']})} scenarios")


if __name__ == "__main__":
    main()
