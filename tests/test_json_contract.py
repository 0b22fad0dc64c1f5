"""The JSON of every command as a contract (docs/json.md): `schema_version` first,
numerical noise rounded in the one step every command's output goes through, and every
field documented (and every documented field real) on a one-period and a multi-period
workbook, from the command line."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from builders import basic_sheets, write_workbook
from openpyxl import load_workbook
from test_horizon_analyses import horizon_book

from resilience.report.kpis import SCHEMA_VERSION, clean_json, clean_number, json_document

# ---- the rounding step --------------------------------------------------------------


@pytest.mark.parametrize(("value", "clean"), [
    (2.91e-11, 0.0),  # a shortage the solver left: zero
    (-2.91e-11, 0.0),  # never -0.0
    (-0.0, 0.0),
    (1e-9, 0.0),
    (2499.9999999999995, 2500.0),  # a quantity within 1e-9 of a whole number
    (2500.0000000001, 2500.0),
    (-3.9999999999, -4.0),
    (240179999.9999998, 240180000.0),  # a CVaR summed in floating point
    (0.30000000000000004, 0.3),  # 0.1 + 0.2: the binary tail of a short decimal
    (0.6499999999999999, 0.65),
    (-0.30000000000000004, -0.3),
])
def test_noise_is_written_as_the_clean_value(value, clean):
    assert clean_number(value) == clean
    assert math.copysign(1.0, clean_number(value)) == math.copysign(1.0, clean)


@pytest.mark.parametrize("value", [
    0.35, 1234.56, 1e-6, 2e-9, 1 / 3, 16.720555555555556, 0.209006944444444445,
    5.5, -12.25, 1e300, 13761286843.0,
])
def test_real_values_are_kept_exactly(value):
    assert clean_number(value) == value


def test_non_finite_figures_are_null():
    assert clean_number(math.inf) is None
    assert clean_number(-math.inf) is None
    assert clean_number(math.nan) is None


def test_clean_json_walks_everything_and_changes_nothing_else():
    import numpy as np

    data = {"a": [1, True, None, "x", 2.91e-11, (0.1 + 0.2,)],
            "b": {"c": np.float64(2499.9999999999995), "d": np.int64(3), "e": False}}
    clean = clean_json(data)
    assert clean == {"a": [1, True, None, "x", 0.0, [0.3]],
                     "b": {"c": 2500.0, "d": 3, "e": False}}
    assert type(clean["b"]["c"]) is float and type(clean["b"]["d"]) is int
    assert clean["a"][1] is True
    assert clean_json(clean) == clean, "idempotent"
    assert data["a"][4] == 2.91e-11, "the input is left as it was"


def test_the_document_has_the_schema_version_first():
    doc = json_document({"status": "optimal", "objective": 0.1 + 0.2,
                         "schema_version": "old"})
    assert list(doc) == ["schema_version", "status", "objective"]
    assert doc["schema_version"] == SCHEMA_VERSION == "2"
    assert doc["objective"] == 0.3


# ---- every field documented, every documented field real ---------------------------

DOC = Path(__file__).resolve().parent.parent / "docs" / "json.md"
COMMANDS = ("validate", "solve", "compare", "frontier", "evaluate")
FIGURES_MARK = "+ case figures"
ABSENT = "absent"  # the type of a case figure that one object does not have
JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number",
              type(None): "null", dict: "object", list: "array"}


@dataclass(frozen=True)
class Row:
    path: str
    types: frozenset[str]
    shape: str  # "all", "one period" or "horizon"


def documented() -> dict[str, list[Row]]:
    """The tables of docs/json.md by section (## validate, ## solve, ...), with the case
    figures expanded under every field typed "object + case figures"."""
    sections: dict[str, list[Row]] = {}
    absent: set[str] = set()
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            current = line[3:].strip().casefold()
            continue
        match = re.match(r"^\| `([^`]+)` \| ([^|]+) \| ([^|]+) \|", line)
        if match and current is not None:
            path, types, shape = (g.strip() for g in match.groups())
            if types == ABSENT:  # a case figure this object leaves out
                absent.add(f"{current}:{path}")
                continue
            sections.setdefault(current, []).append(Row(path, frozenset(
                t.strip() for t in types.replace(FIGURES_MARK, "").split(" or ")), shape))
            if FIGURES_MARK in types:
                sections[current][-1] = Row(path, sections[current][-1].types, shape)
                sections.setdefault("_expand", []).append(Row(f"{current}:{path}",
                                                              frozenset(), shape))
    figures = sections.pop("case figures")
    for mark in sections.pop("_expand", []):
        command, _, prefix = mark.path.partition(":")
        # a command's own row below the prefix wins over the figures' row
        own = [r.path for r in sections[command]
               if r.path != prefix and _within(r.path, prefix)]
        left_out = [a.partition(":")[2] for a in absent if a.startswith(f"{command}:")]
        for r in figures:
            path = f"{prefix}.{r.path}"
            if not any(_within(path, q) for q in own + left_out):
                sections[command].append(Row(path, r.types, r.shape))
    return sections


def _within(path: str, ancestor: str) -> bool:
    return path == ancestor or path.startswith((f"{ancestor}.", f"{ancestor}["))


def test_the_tables_are_well_formed():
    tables = documented()
    assert set(tables) == set(COMMANDS)
    allowed = set(JSON_TYPES.values())
    for command, rows in tables.items():
        assert rows[0].path == "schema_version", command
        seen = set()
        for row in rows:
            assert row.types <= allowed, (command, row)
            assert row.shape in ("all", "one period", "horizon"), (command, row)
            assert (row.path, row.shape) not in seen, f"{command}: {row.path} twice"
            seen.add((row.path, row.shape))


def fields_of(doc: dict, rows: list[Row]) -> list[tuple[str, str]]:
    """(documented path, JSON type) of every value in `doc`: an object whose documented
    children are a placeholder (`{material}`) is a map, its keys replaced by it."""
    placeholders: dict[str, str] = {}
    for row in rows:
        parent, _, last = row.path.rpartition(".")
        if last.startswith("{"):
            placeholders[parent] = last
    found = []

    def walk(value, path: str) -> None:
        found.append((path, JSON_TYPES[type(value)]))
        if isinstance(value, dict):
            for key, item in value.items():
                name = placeholders.get(path, key)
                walk(item, f"{path}.{name}" if path else name)
        elif isinstance(value, list):
            for item in value:
                walk(item, f"{path}[]")

    for key, value in doc.items():
        walk(value, key)
    return found


def horizon_sheets() -> dict:
    """The multi-period workbook of the horizon tests (projects, spot, owners, a
    strategy, a what-if), with an unused column (a warning), a strategy no plan can
    meet (a failed case) and a what-if that cuts a supplier's capacity (a cut order)."""
    sheets = horizon_book()
    sheets["Materials"][0]["comment"] = "an unused column: a warning"
    sheets["Policies"].append({"rule": "min_group_share", "material": "gallium",
                               "target": "ALLY", "stage": "origin", "value": 0.99,
                               "strategy": "impossible", "name": "all allied"})
    sheets["WhatIfs"].append({"whatif": "ga_cut", "sheet": "Suppliers",
                              "where": "supplier=ChinaGa", "column": "capacity",
                              "op": "scale", "value": 0.1})
    return sheets


def one_period_sheets() -> dict:
    """The same without the horizon: one period, still with projects, spot and stock
    prices, so that the fields a one-period workbook has only with them turn up."""
    sheets = horizon_sheets()
    for name in ("Periods", "Demand"):
        del sheets[name]
    for row in sheets["Suppliers"]:
        row.pop("available_from", None)
        row["lead_time"] = 0 if "capex" in row else None
    for row in sheets["Policies"]:
        row.pop("from_period", None)
    for row in sheets["Scenarios"]:
        row.pop("period", None)
    return sheets


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run([sys.executable, "-m", "resilience.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=600)


def outputs_of(folder: Path, book: str) -> dict[str, dict]:
    """The JSON every command writes for `book`, from the command line."""
    stem = Path(book).stem
    runs = {
        "validate": ["validate", book],
        "solve": ["solve", book, "-o", f"{stem}-plan.xlsx", "--check-with", "pyomo:highs"],
        "compare": ["compare", book, "--strategies", "base,half,impossible",
                    "--whatifs", "base,ga_cut", "-o", f"{stem}-compare.xlsx"],
        "frontier": ["frontier", book, "--points", "3", "-o", f"{stem}-frontier.xlsx"],
        # under strategy `half` (CHN ≤ 50 %) the plan made without it breaks a rule
        "evaluate": ["evaluate", book, "--plan", f"{stem}-plan.xlsx", "--whatifs",
                     "base,ga_cut,ga_boom", "--strategy", "half",
                     "-o", f"{stem}-evaluate.xlsx"],
    }
    out = {}
    for command, args in runs.items():
        target = f"{stem}-{command}.json"
        run = run_cli(folder, *args, "--json", target)
        assert run.returncode == 0, (command, run.stderr)
        out[command] = json.loads((folder / target).read_text(encoding="utf-8"))
    return out


@pytest.fixture(scope="module")
def real(tmp_path_factory) -> dict[str, list[dict[str, dict]]]:
    """shape → the outputs of every command on the workbooks of that shape: the shipped
    example and the one-period workbook above; the horizon workbook."""
    folder = tmp_path_factory.mktemp("contract")
    write_workbook(folder / "one.xlsx", one_period_sheets())
    write_workbook(folder / "horizon.xlsx", horizon_sheets())
    shutil.copy(EXAMPLE, folder / "example.xlsx")
    example = outputs_of_example(folder)
    return {"one period": [outputs_of(folder, "one.xlsx"), example],
            "horizon": [outputs_of(folder, "horizon.xlsx")]}


EXAMPLE = Path(__file__).resolve().parent.parent / "data" / "example.xlsx"


def outputs_of_example(folder: Path) -> dict[str, dict]:
    """The shipped one-period example: no projects, no spot, v1's shape exactly."""
    out = {}
    for command, args in {
            "validate": ["validate", "example.xlsx"],
            "solve": ["solve", "example.xlsx", "-o", "example-plan.xlsx"],
            "compare": ["compare", "example.xlsx", "--strategies", "base,diversify",
                        "--whatifs", "base,section301_tariffs", "-o", "ex-compare.xlsx"],
            "frontier": ["frontier", "example.xlsx", "--points", "2", "-o", "ex-f.xlsx"],
            "evaluate": ["evaluate", "example.xlsx", "--plan", "example-plan.xlsx",
                         "--whatifs", "base", "-o", "ex-evaluate.xlsx"]}.items():
        run = run_cli(folder, *args, "--json", f"ex-{command}.json")
        assert run.returncode == 0, (command, run.stderr)
        out[command] = json.loads((folder / f"ex-{command}.json").read_text("utf-8"))
    return out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_field_of_the_real_output_is_documented_and_vice_versa(real, command):
    rows = documented()[command]
    seen: set[tuple[str, str]] = set()  # (path, shape)
    for shape, runs in real.items():
        spec = [r for r in rows if r.shape in ("all", shape)]
        types: dict[str, set[str]] = {}
        for r in spec:
            types.setdefault(r.path, set()).update(r.types)
        for outputs in runs:
            for path, kind in fields_of(outputs[command], spec):
                assert path in types, f"{command} ({shape}): {path} is not in docs/json.md"
                assert kind in types[path], (
                    f"{command} ({shape}): {path} is {kind}, documented as "
                    f"{' or '.join(sorted(types[path]))}")
                seen.add((path, shape))
    for r in rows:
        shapes = ("one period", "horizon") if r.shape == "all" else (r.shape,)
        assert any((r.path, s) in seen for s in shapes), (
            f"{command}: {r.path} ({r.shape}) is documented but no real output has it")


def test_the_outputs_of_every_command_are_versioned_and_clean(real):
    for runs in real.values():
        for outputs in runs:
            for command, doc in outputs.items():
                assert list(doc)[0] == "schema_version", command
                assert doc["schema_version"] == SCHEMA_VERSION
                assert clean_json(doc) == doc, f"{command}: noise left in its JSON"


def test_the_single_period_solve_keeps_v1_keys_and_order(real):
    """The example has no projects, spot or stock prices: v1's keys, in v1's order,
    after schema_version."""
    solve = real["one period"][1]["solve"]
    assert list(solve) == [
        "schema_version", "status", "units", "objective", "solver_objective", "bound",
        "mip_gap", "first_stage_cost", "expected_recourse_cost", "cvar", "cost_breakdown",
        "plan", "stockpile", "hhi", "shares", "expected_shortage", "scenarios", "policies",
        "strategy", "whatif", "settings", "input", "warnings", "versions", "solver",
        "cross_check", "timings"]


# ---- validate --json ------------------------------------------------------------------


def broken_sheets() -> dict:
    """Two errors and two warnings: a negative demand, a misspelt material; an unused
    column and a material nobody sells."""
    sheets = basic_sheets()
    sheets["Materials"] = [
        {"material": "gallium", "unit": "t", "demand": -5, "shortage_penalty": 1000,
         "comment": "unused"},
        {"material": "indium", "unit": "t", "demand": 1, "shortage_penalty": 1}]
    sheets["Suppliers"].append({"supplier": "c", "material": "galium", "country": "AAA",
                                "unit_cost": 1, "capacity": 1})
    return sheets


def test_validate_json_of_an_invalid_workbook_lists_every_problem(tmp_path):
    write_workbook(tmp_path / "broken.xlsx", broken_sheets())
    run = run_cli(tmp_path, "validate", "broken.xlsx", "--json", "v.json")
    assert run.returncode == 2
    assert "Materials!C2: demand must be > 0" in run.stderr, "still said on stderr"
    data = json.loads((tmp_path / "v.json").read_text(encoding="utf-8"))
    assert list(data)[:2] == ["schema_version", "ok"] and data["ok"] is False
    assert data["input"]["file"] == "broken.xlsx" and len(data["input"]["sha256"]) == 64
    assert (data["errors"], data["warnings"]) == (2, 2)
    assert data["workbook"] is None and data["settings"] is None
    problems = {(p["sheet"], p["cell"]): p for p in data["problems"]}
    assert problems[("Materials", "C2")] == {
        "sheet": "Materials", "cell": "C2", "message": "demand must be > 0", "found": -5,
        "warning": False}
    assert problems[("Suppliers", "B4")]["found"] == "galium"
    assert not problems[("Suppliers", "B4")]["warning"]
    assert problems[("Materials", "E1")]["warning"] is True
    assert problems[("Materials", "E1")]["found"] == "comment"
    assert problems[("Materials", "A3")]["warning"] is True
    assert problems[("Materials", "A3")]["found"] is None


def test_validate_json_of_a_valid_workbook_counts_what_it_holds(tmp_path):
    write_workbook(tmp_path / "horizon.xlsx", horizon_sheets())
    run = run_cli(tmp_path, "validate", "horizon.xlsx", "--json", "-")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)  # standard output holds the JSON alone
    assert "Materials!I1: unknown column" in run.stderr, "the warning, on stderr"
    assert data["ok"] is True and (data["errors"], data["warnings"]) == (0, 1)
    assert data["problems"] == [{
        "sheet": "Materials", "cell": "I1",
        "message": "unknown column, kept in the echo but not used", "found": "comment",
        "warning": True}]
    assert data["workbook"] == {
        "periods": ["2026", "2027", "2028", "2029"], "materials": 2, "countries": 4,
        "offers": 6, "suppliers": 6, "projects": 1, "scenarios": 3,
        "scenarios_from": "sheet", "policy_rows": 3, "policy_rows_always_on": 1,
        "strategies": ["half", "impossible"], "whatifs": ["ga_boom", "ga_cut"],
        "whatif_edits": 2}
    assert data["settings"]["discount_rate"] == 0.05
    assert data["settings"]["risk_aversion"] == 0.3


def test_validate_json_says_as_much_as_validate_and_never_overwrites(tmp_path):
    shutil.copy(EXAMPLE, tmp_path / "example.xlsx")
    plain = run_cli(tmp_path, "validate", "example.xlsx")
    with_json = run_cli(tmp_path, "validate", "example.xlsx", "--json", "v.json")
    assert with_json.returncode == plain.returncode == 0
    assert with_json.stdout == plain.stdout
    again = run_cli(tmp_path, "validate", "example.xlsx", "--json", "v.json")
    assert again.returncode == 2 and "already exists" in again.stderr
    forced = run_cli(tmp_path, "validate", "example.xlsx", "--json", "v.json", "--force")
    assert forced.returncode == 0, forced.stderr
    into_input = run_cli(tmp_path, "validate", "example.xlsx", "--json", "example.xlsx",
                         "--force")
    assert into_input.returncode != 0
    assert load_workbook(tmp_path / "example.xlsx"), "the input is left as it was"


def test_a_valid_workbooks_warnings_are_the_problems_validate_found(tmp_path):
    """A valid workbook keeps its warnings as the Problems the validator located (sheet,
    cell, message, the value found), so validate --json writes them field by field, as
    it does an invalid workbook's: a value typed 25 in a tariff column, an unused column
    and stray sheets, one of them a near-miss of a sheet name."""
    from resilience.api import validate_workbook
    from resilience.validate import load

    sheets = basic_sheets()
    sheets["Countries"].append({"country": "CCC", "disruption_prob": 0, "tariff": 25})
    sheets["Materials"][0]["comment"] = "unused"
    sheets["Sheet 3"] = [["x"], [1]]
    sheets["Supplier"] = [["x"], [1]]
    write_workbook(tmp_path / "b.xlsx", sheets)
    instance = load(tmp_path / "b.xlsx")
    assert len(instance.warnings) >= 4 and all(w.warning for w in instance.warnings)
    tariff = next(w for w in instance.warnings if w.sheet == "Countries")
    assert tariff.cell == "D4" and "tariff 25 = 2,500 %" in tariff.message, tariff
    data = validate_workbook(tmp_path / "b.xlsx").to_dict()
    assert data["ok"] is True
    assert data["problems"] == [
        {"sheet": w.sheet, "cell": w.cell, "message": w.message, "found": w.found,
         "warning": True} for w in instance.warnings]
    run = run_cli(tmp_path, "validate", "b.xlsx")
    for w in instance.warnings:
        assert str(w) in run.stdout
