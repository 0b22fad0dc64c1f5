"""A multi-period workbook with projects, spot and ownership through every command
(SPEC §7 "every command works on a multi-period workbook"): validate, solve, compare
(on a process pool), frontier and evaluate, from the command line, with what each
must say about the horizon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from builders import write_workbook
from openpyxl import load_workbook


def horizon_book() -> dict:
    """2026-2029 at 5 % a year; gallium demand grows, graphite has none in 2026; a
    Canadian gallium project (capex, lead time 2), Chinese-owned graphite in Indonesia,
    spot sellers, a CHN owner-stage cap from 2028, a gallium export ban in 2027 only
    and a China-wide stop in every period, both with price surges."""
    return {
        "Periods": [{"period": 2026}, {"period": 2027}, {"period": 2028}, {"period": 2029}],
        "Settings": [{"key": "discount_rate", "value": "5%"},
                     {"key": "risk_aversion", "value": 0.3}],
        "Materials": [
            {"material": "gallium", "unit": "t", "demand": 100, "shortage_penalty": 2000,
             "stockpile_cost": 20, "max_stockpile": 40, "initial_stock": 10,
             "stock_price": 50},
            {"material": "graphite", "unit": "kt", "demand": 50, "shortage_penalty": 5000}],
        "Demand": [{"material": "gallium", "period": 2028, "demand": 140},
                   {"material": "gallium", "period": 2029, "demand": 160},
                   {"material": "graphite", "period": 2026, "demand": 0}],
        "Countries": [{"country": "CHN", "disruption_prob": 0.1, "groups": "FEOC"},
                      {"country": "AUS", "groups": "ALLY"}, {"country": "IDN"},
                      {"country": "CAN", "groups": "ALLY"}],
        "Suppliers": [
            {"supplier": "ChinaGa", "material": "gallium", "country": "CHN",
             "unit_cost": 300, "capacity": 200, "spot_capacity": 30},
            {"supplier": "AusGa", "material": "gallium", "country": "AUS",
             "unit_cost": 420, "capacity": 60, "reserve_cost": 30},
            {"supplier": "CanGaProject", "material": "gallium", "country": "CAN",
             "unit_cost": 380, "capacity": 80, "capex": 5000, "lead_time": 2},
            {"supplier": "ChinaGr", "material": "graphite", "country": "CHN",
             "unit_cost": 1000, "capacity": 100},
            {"supplier": "IdnGr", "material": "graphite", "country": "IDN",
             "unit_cost": 1100, "capacity": 60, "owner_country": "CHN",
             "spot_capacity": 10},
            {"supplier": "AusGr", "material": "graphite", "country": "AUS",
             "unit_cost": 1400, "capacity": 40, "available_from": 2027}],
        "Policies": [
            {"rule": "max_country_share", "material": "*", "target": "CHN",
             "stage": "owner", "value": 0.65, "from_period": 2028, "name": "CHN owned ≤ 65 %"},
            {"rule": "max_country_share", "material": "*", "target": "CHN", "stage": "both",
             "value": 0.5, "strategy": "half", "name": "CHN ≤ 50 %"}],
        "Scenarios": [
            {"scenario": "ga_export_ban", "probability": 0.2, "country": "CHN",
             "material": "gallium", "capacity_factor": 0.0, "period": 2027,
             "price_surge": 0.5},
            {"scenario": "china_stop", "probability": 0.05, "country": "CHN",
             "material": "*", "capacity_factor": 0.2, "price_surge": 0.3}],
        "WhatIfs": [{"whatif": "ga_boom", "sheet": "Materials", "where": "material=gallium",
                     "column": "demand", "op": "scale", "value": 1.2}],
    }


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run([sys.executable, "-m", "resilience.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=600)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("horizon")
    write_workbook(folder / "horizon.xlsx", horizon_book())
    return folder


def test_validate_names_the_horizon(work):
    run = _cli(work, "validate", "horizon.xlsx")
    assert run.returncode == 0, run.stderr
    assert "4 periods (2026–2029), 1 project" in run.stdout
    assert "3 scenarios" in run.stdout  # ga_export_ban, china_stop, baseline


def test_solve_writes_the_multi_period_report_and_json(work):
    run = _cli(work, "solve", "horizon.xlsx", "-o", "plan.xlsx", "--json", "plan.json")
    assert run.returncode == 0, run.stderr
    assert "over 4 periods (2026–2029)" in run.stdout
    data = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    assert data["periods"] == ["2026", "2027", "2028", "2029"]
    assert {line["period"] for line in data["plan"]} <= set(data["periods"])
    assert len(data["by_period"]) == 4
    assert sum(p["weighted_objective"] for p in data["by_period"]) == pytest.approx(
        data["objective"], rel=1e-9)
    assert not any(line["material"] == "graphite" and line["period"] == "2026"
                   for line in data["plan"])  # no demand there
    sheets = load_workbook(work / "plan.xlsx", read_only=True).sheetnames
    assert {"Plan", "Projects", "Stockpile", "Shares origin", "Shares owner"} <= set(sheets)


def test_compare_on_a_pool_reports_every_case_over_the_horizon(work):
    run = _cli(work, "compare", "horizon.xlsx", "--strategies", "base,half",
               "--whatifs", "base,ga_boom", "--workers", "2", "-o", "compare.xlsx",
               "--json", "compare.json")
    assert run.returncode == 0, run.stderr
    data = json.loads((work / "compare.json").read_text(encoding="utf-8"))
    assert data["failed"] == 0
    objective = {(c["strategy"], c["whatif"]): c["objective"] for c in data["cases"]}
    assert objective[("half", "base")] >= objective[("base", "base")] * (1 - 1e-6)
    assert objective[("base", "ga_boom")] > objective[("base", "base")]


def test_frontier_sweeps_the_limit_in_every_period(work):
    run = _cli(work, "frontier", "horizon.xlsx", "--points", "3", "-o", "frontier.xlsx",
               "--json", "frontier.json")
    assert run.returncode == 0, run.stderr
    data = json.loads((work / "frontier.json").read_text(encoding="utf-8"))
    # the cost-optimal plan has a single supplier somewhere (graphite 2027): 10,000
    assert data["hhi_range"]["cost_optimal_largest_hhi"] == pytest.approx(10_000)
    points = [p for p in data["hhi_sweep"] if p["ok"]]
    assert len(points) == 3
    costs = [p["objective"] for p in points]
    assert costs == sorted(costs)  # a lower limit in every period never costs less
    # at the floor every period's origin and processing HHI is within it (the chords
    # are conservative); the owner stage is not the limit's business
    assert points[-1]["max_exact_hhi"] <= data["hhi_range"]["lowest_achievable"] * (1 + 1e-6)


def test_evaluate_holds_the_horizon_plan_fixed(work):
    if not (work / "plan.xlsx").exists():
        _cli(work, "solve", "horizon.xlsx", "-o", "plan.xlsx")
    run = _cli(work, "evaluate", "horizon.xlsx", "--plan", "plan.xlsx", "--whatifs",
               "base,ga_boom", "-o", "evaluate.xlsx", "--json", "evaluate.json")
    assert run.returncode == 0, run.stderr
    data = json.loads((work / "evaluate.json").read_text(encoding="utf-8"))
    rows = {r["whatif"]: r for r in data["cases"]}
    assert rows["base"]["regret"] == pytest.approx(0, abs=1e-6)
    assert rows["ga_boom"]["regret"] >= -1e-6


def test_compare_keeps_an_excluded_offer_out_of_spot_too():
    """Gallium D = 100, P = 1,000. a: CHN (FEOC), ĉ 10, sells spot up to 100; b: AAA,
    ĉ 20. Scenario `aaa_out` (AAA lost, π = 0.5). Strategy x excludes FEOC.
    Under x, a is out for orders and for spot: all from b, 2,000, and in `aaa_out` the
    100 lost are short: 0.5 · 100,000 = 50,000; total 52,000 — the same whether compare
    shares one model between strategies or builds one per case. (The shared model once
    let a sell spot under x: 2,500, which the independent check rejected.)"""
    from resilience.analyses.compare import compare
    from resilience.domain import (
        Country,
        Instance,
        Material,
        Offer,
        Period,
        Policy,
        Scenario,
        ScenarioHit,
    )

    instance = Instance(
        materials=(Material("ga", "t", 100, 1000),),
        countries=(Country("CHN", groups=("FEOC",)), Country("AAA")),
        offers=(Offer("a", "ga", "CHN", "CHN", 10, 100, spot_capacity=100),
                Offer("b", "ga", "AAA", "AAA", 20, 100)),
        policies=(Policy("exclude", "*", "FEOC", "group", "both", None, strategy="x"),),
        scenario_rows=(Scenario("aaa_out", 0.5, (ScenarioHit("AAA", "*", 0.0),)),),
        periods=(Period("2026"),))
    for reuse in (True, False):
        rows = {r.strategy: r for r in compare(instance, [None, "x"], [None], reuse=reuse)}
        assert rows["x"].status == "optimal", rows["x"].reason
        assert rows["x"].figures["objective"] == pytest.approx(52_000)
