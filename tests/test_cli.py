"""The command line as a user meets it (SPEC §6): a real subprocess in a scratch folder,
one test per exit code, the JSON for scripts, and the rules for where reports go.

Exit codes: 0 done · 1 anything else · 2 invalid input · 3 infeasible · 4 time limit with
no plan.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from builders import basic_sheets, hard_sheets, write_workbook
from openpyxl import load_workbook

from resilience.domain import PlanLine
from resilience.validate import load
from resilience.verify import verify

CELL_LINE = re.compile(r"^\s+[A-Za-z]+![A-Z]+\d+: \S")


def _cli(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "resilience.cli", *args], cwd=cwd, env=env,
        capture_output=True, text=True, encoding="utf-8", timeout=timeout,
    )


def _no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout


def _rich_sheets() -> dict:
    """Two materials, four countries (Namibia's code NA among them), offers with minimum
    orders, fixed costs and reserves, a stockpile, generated scenarios, an EU-CRMA-style
    65 % cap and some risk aversion: small, but every part of the JSON is non-trivial."""
    return {
        "Materials": [
            {"material": "gallium", "unit": "t", "demand": 100, "shortage_penalty": 1000,
             "stockpile_cost": 2, "max_stockpile": 30},
            {"material": "germanium", "unit": "t", "demand": 50, "shortage_penalty": 500},
        ],
        "Countries": [
            {"country": "CHN", "name": "China", "disruption_prob": 0.2, "groups": "FEOC",
             "tariff": "25%"},
            {"country": "USA", "name": "United States", "disruption_prob": 0.02,
             "groups": "NATO"},
            {"country": "DEU", "name": "Germany", "disruption_prob": 0.05,
             "groups": "EU, NATO"},
            {"country": "NA", "name": "Namibia", "disruption_prob": 0.1, "groups": "SADC"},
        ],
        "Suppliers": [
            {"supplier": "Sino", "material": "gallium", "country": "CHN", "unit_cost": 10,
             "capacity": 100, "fixed_cost": 50, "reserve_cost": 1},
            {"supplier": "Acme", "material": "gallium", "country": "USA", "unit_cost": 16,
             "capacity": 60, "min_order": 20, "fixed_cost": 200, "reserve_cost": 2},
            {"supplier": "Rhein", "material": "gallium", "country": "DEU",
             "processing_country": "CHN", "unit_cost": 14, "capacity": 50,
             "fixed_cost": 100},
            {"supplier": "Sino", "material": "germanium", "country": "CHN", "unit_cost": 30,
             "capacity": 50, "reserve_cost": 3},
            {"supplier": "Namib", "material": "germanium", "country": "NA",
             "processing_country": "DEU", "unit_cost": 35, "capacity": 40, "min_order": 10,
             "fixed_cost": 80, "reserve_cost": 4},
            {"supplier": "Acme", "material": "germanium", "country": "USA", "unit_cost": 45,
             "capacity": 50, "fixed_cost": 300},
        ],
        "Policies": [{"rule": "max_country_share", "target": "*", "value": "65%"}],
        "Settings": [["key", "value"], ["risk_aversion", 0.3]],
    }


@pytest.fixture()
def rich_book(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "book.xlsx", _rich_sheets())


@pytest.fixture()
def basic_book(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "book.xlsx", basic_sheets())


# ---- 0: done --------------------------------------------------------------------------


def test_validate_a_clean_workbook_exits_0(tmp_path, basic_book):
    result = _cli(tmp_path, "validate", "book.xlsx")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("book.xlsx: valid.")
    assert result.stderr == ""
    assert not (tmp_path / "reports").exists()  # validate writes nothing


def test_validate_lists_warnings_but_exits_0(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"][0]["Notes"] = "ask Jo"
    write_workbook(tmp_path / "book.xlsx", sheets)
    result = _cli(tmp_path, "validate", "book.xlsx")
    assert result.returncode == 0, result.stderr
    assert "Warnings (1):" in result.stdout
    assert "Materials!E1: unknown column" in result.stdout


def test_the_installed_console_script_runs(tmp_path, basic_book):
    script = Path(sys.executable).parent / "resilience"
    if not script.exists():
        pytest.skip("the console script is not installed next to this interpreter")
    result = subprocess.run([str(script), "validate", "book.xlsx"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout


def test_solve_writes_the_report_into_reports_and_the_json_for_scripts(tmp_path, rich_book):
    result = _cli(tmp_path, "solve", "book.xlsx", "--json", "result.json")
    assert result.returncode == 0, result.stderr
    _no_traceback(result)

    # The report goes to ./reports/ by default, written whole (no temporary left behind).
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["book-plan.xlsx"]
    report = tmp_path / "reports" / "book-plan.xlsx"
    assert zipfile.is_zipfile(report)
    assert {"Summary", "Plan"} <= set(load_workbook(report, read_only=True).sheetnames)
    assert "reports/book-plan.xlsx" in result.stdout.replace(os.sep, "/")

    data = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    for key in ("status", "objective", "first_stage_cost", "expected_recourse_cost", "cvar",
                "mip_gap", "plan", "stockpile", "hhi"):
        assert key in data, key
    assert data["status"] == "optimal"
    for key in ("objective", "first_stage_cost", "expected_recourse_cost", "cvar",
                "mip_gap"):
        assert isinstance(data[key], int | float), key
    assert 0 <= data["mip_gap"] <= 1e-4
    # λ = 0.3 (Settings): objective = F + (1 − λ) E[R] + λ CVaR, CVaR ≥ E[R].
    lam = 0.3
    assert data["objective"] == pytest.approx(
        data["first_stage_cost"] + (1 - lam) * data["expected_recourse_cost"]
        + lam * data["cvar"], rel=1e-6)
    assert data["cvar"] >= data["expected_recourse_cost"] - 1e-6

    assert data["plan"], "the plan buys something"
    offers = {(o.supplier, o.material, o.country, o.processing_country): o
              for o in load(rich_book).offers}
    for line in data["plan"]:
        assert {"supplier", "material", "country", "processing_country", "quantity",
                "reserve"} <= set(line)
        offer = offers[(line["supplier"], line["material"], line["country"],
                        line["processing_country"])]
        assert 0 <= line["quantity"] + line["reserve"] <= offer.capacity + 1e-6
    assert any(line["country"] == "NA" for line in data["plan"])  # Namibia, not a NaN

    assert set(data["stockpile"]) <= {"gallium", "germanium"}
    assert all(0 <= v <= 30 + 1e-6 for v in data["stockpile"].values())
    assert set(data["hhi"]) == {"gallium", "germanium"}
    for stages in data["hhi"].values():
        assert set(stages) == {"origin", "processing"}
        assert all(0 <= v <= 10_000 for v in stages.values())


def test_solve_json_is_deterministic_apart_from_timings(tmp_path, rich_book):
    texts = []
    for run in ("a", "b"):
        result = _cli(tmp_path, "solve", "book.xlsx", "-o", f"{run}.xlsx", "--json",
                      f"{run}.json")
        assert result.returncode == 0, result.stderr
        data = json.loads((tmp_path / f"{run}.json").read_text(encoding="utf-8"))
        assert "timings" in data
        texts.append((tmp_path / f"{run}.json").read_bytes())
    first, second = (re.sub(rb'"timings":\s*\{[^{}]*\},?', b"", t) for t in texts)
    assert b"build_seconds" not in first
    assert first == second


def test_solve_json_to_stdout_is_only_json(tmp_path, basic_book):
    result = _cli(tmp_path, "solve", "book.xlsx", "-o", "out.xlsx", "--json", "-")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "optimal"
    assert (tmp_path / "out.xlsx").exists()


# ---- 2: invalid input -----------------------------------------------------------------


def _invalid_book(tmp_path: Path) -> Path:
    sheets = basic_sheets(Policies=[{"rule": "max_hhi", "target": "AAA", "value": 5000}],
                          Settings=[["key", "value"], ["cvar_alpha", 1.5]])
    sheets["Materials"][0]["demand"] = "65%"
    sheets["Countries"][1]["disruption_prob"] = 1.2
    sheets["Suppliers"][0]["min_order"] = 5000
    sheets["Suppliers"][1]["country"] = "ZZZ"
    return write_workbook(tmp_path / "book.xlsx", sheets)


@pytest.mark.parametrize("command", ["validate", "solve"])
def test_an_invalid_workbook_exits_2_listing_every_problem_by_cell(tmp_path, command):
    _invalid_book(tmp_path)
    result = _cli(tmp_path, command, "book.xlsx")
    assert result.returncode == 2
    _no_traceback(result)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "Invalid input: 6 problems"
    cells = [line.split(":")[0].strip() for line in lines[1:] if CELL_LINE.match(line)]
    assert cells == ["Materials!C2", "Countries!B3", "Suppliers!F2", "Suppliers!C3",
                     "Policies!B2", "Settings!B2"]
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("content", [b"material,demand\ngallium,100\n", b""],
                         ids=["csv renamed", "zero bytes"])
def test_a_file_that_is_not_an_xlsx_exits_2_with_a_plain_message(tmp_path, content):
    (tmp_path / "book.xlsx").write_bytes(content)
    for command in ("validate", "solve"):
        result = _cli(tmp_path, command, "book.xlsx")
        assert result.returncode == 2, (command, result.stderr)
        _no_traceback(result)
        assert "book.xlsx: " in result.stderr and ".xlsx workbook" in result.stderr


def test_an_unknown_strategy_exits_2_and_lists_the_known_ones(tmp_path):
    sheets = basic_sheets(Policies=[{"rule": "max_country_share", "target": "AAA",
                                     "value": 0.5, "strategy": "Cap50"}])
    write_workbook(tmp_path / "book.xlsx", sheets)
    result = _cli(tmp_path, "solve", "book.xlsx", "--strategy", "nope")
    assert result.returncode == 2
    _no_traceback(result)
    assert "unknown strategy 'nope'" in result.stderr and "Cap50" in result.stderr


@pytest.mark.parametrize("spelling", ["book.xlsx", "./book.xlsx", "absolute"])
@pytest.mark.parametrize("option", ["-o", "--json"])
def test_an_output_that_is_the_input_is_refused_with_exit_2(tmp_path, basic_book, spelling,
                                                            option):
    before = basic_book.read_bytes()
    target = str(basic_book) if spelling == "absolute" else spelling
    args = ["solve", "book.xlsx", option, target]
    if option == "--json":
        args += ["-o", "out.xlsx"]
    result = _cli(tmp_path, *args)
    assert result.returncode == 2
    _no_traceback(result)
    assert "is the input workbook" in result.stderr
    assert basic_book.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]


def test_a_damaged_zip_directory_exits_2(tmp_path, basic_book):
    data = basic_book.read_bytes()
    at = data.index(b"PK\x01\x02") + 6  # 'version needed to extract' of the first entry
    basic_book.write_bytes(data[:at] + bytes([78]) + data[at + 1:])
    result = _cli(tmp_path, "validate", "book.xlsx")
    _no_traceback(result)
    assert result.returncode == 2, result.stderr


# ---- 3: infeasible --------------------------------------------------------------------


def test_a_min_group_share_that_cannot_be_met_exits_3_naming_the_policy(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"].append({"country": "CCC", "groups": "FRIEND"})
    sheets["Suppliers"].append({"supplier": "c", "material": "gallium", "country": "CCC",
                                "unit_cost": 30, "capacity": 10})
    # FRIEND can supply 10 t of the 50 t (50 % of demand) the rule asks for.
    sheets["Policies"] = [{"rule": "min_group_share", "target": "FRIEND", "value": 0.5}]
    write_workbook(tmp_path / "book.xlsx", sheets)
    result = _cli(tmp_path, "solve", "book.xlsx", "--json", "result.json")
    assert result.returncode == 3, result.stderr
    _no_traceback(result)
    assert "Infeasible" in result.stderr
    assert "Policies!A2" in result.stderr and "FRIEND" in result.stderr
    assert not (tmp_path / "reports").exists()
    assert not (tmp_path / "result.json").exists()


# ---- 4: time limit with no plan -------------------------------------------------------


def test_a_time_limit_with_no_plan_found_exits_4(tmp_path):
    book = write_workbook(tmp_path / "book.xlsx", hard_sheets())
    # The instance is feasible: the plan described in hard_sheets passes the verifier.
    instance = load(book)
    first = {}
    for offer in instance.offers:
        first.setdefault(offer.material, offer)
    plan = tuple(PlanLine(o.supplier, o.material, o.country, o.processing_country,
                          quantity=30.0, reserve=0.0, contracted=True)
                 for o in first.values())
    assert verify(instance, plan, {}).ok

    # 1 ms is far below what HiGHS needs to find any plan for it (on HiGHS 1.16 even
    # 0.1 s finds none); nothing is mocked: this is HiGHS's own time-limit stop.
    result = _cli(tmp_path, "solve", "book.xlsx", "--time-limit", "0.001", "--json",
                  "result.json")
    assert result.returncode == 4, result.stderr + result.stdout
    _no_traceback(result)
    assert "No plan found" in result.stderr and "time limit" in result.stderr.lower()
    assert not (tmp_path / "reports").exists()
    assert not (tmp_path / "result.json").exists()


# ---- 1: anything else -----------------------------------------------------------------


def test_an_output_that_is_a_folder_exits_1(tmp_path, basic_book):
    (tmp_path / "taken.xlsx").mkdir()
    result = _cli(tmp_path, "solve", "book.xlsx", "-o", "taken.xlsx")
    assert result.returncode == 1
    _no_traceback(result)
    assert result.stderr.startswith("Cannot write output:")
    assert "folder" in result.stderr


def test_an_output_under_a_plain_file_exits_1(tmp_path, basic_book):
    # (Permissions cannot make a folder unwritable when the tests run as root; a path
    # through a regular file is unwritable for everyone.)
    (tmp_path / "notes.txt").write_text("not a folder", encoding="utf-8")
    result = _cli(tmp_path, "solve", "book.xlsx", "-o", "notes.txt/out.xlsx")
    assert result.returncode == 1
    _no_traceback(result)
    assert result.stderr.startswith("Cannot write output:")
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "not a folder"


def test_json_and_report_at_the_same_path_is_refused(tmp_path, basic_book):
    result = _cli(tmp_path, "solve", "book.xlsx", "-o", "same.xlsx", "--json", "same.xlsx")
    _no_traceback(result)
    assert result.returncode in (1, 2)
    same = tmp_path / "same.xlsx"
    assert not same.exists() or zipfile.is_zipfile(same)
