"""Traps a team filling a workbook falls into without a word from us: a tariff typed 25
meaning 25 %, a workbook some generator wrote in UTF-16, a country code or sheet name
one letter off, a header renamed. Each is caught and said plainly, as
`Sheet!Cell: what is wrong`, with the fix where one can be guessed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from builders import basic_sheets, write_workbook

from resilience.errors import InputError
from resilience.schema import SHEETS
from resilience.validate import load

_SCRIPT = Path(sys.executable).with_name("resilience")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "resilience.cli"]


def _problems(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) as printed; warnings of a valid workbook too."""
    try:
        instance = load(path)
    except InputError as exc:
        return ([str(p) for p in exc.problems if not p.warning],
                [str(p) for p in exc.problems if p.warning])
    return [], list(instance.warnings)


def _cli(cwd: Path, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


# ---- implausible values ---------------------------------------------------------------


def test_fraction_columns_that_may_exceed_one_are_exactly_those_warned_about():
    """The rule, from the schema: a fraction with no upper bound warns from 1 (100 %)."""
    warned = {(s.name, c.name) for s in SHEETS for c in s.columns
              if c.implausible_from is not None}
    assert warned == {("Countries", "tariff"), ("Suppliers", "tariff"),
                      ("Scenarios", "price_surge"), ("Settings", "discount_rate")}
    assert all(c.implausible_from == 1.0 for s in SHEETS for c in s.columns
               if c.implausible_from is not None)


def test_a_tariff_typed_as_a_percentage_is_warned_about_with_the_fix(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"] = [
        {"country": "AAA", "name": "A-land", "disruption_prob": 0.1, "groups": "G1",
         "tariff": 0.05},
        {"country": "BBB", "name": "B-land", "disruption_prob": 0, "groups": "G2",
         "tariff": 25},
    ]
    sheets["Suppliers"][0]["tariff"] = 7
    sheets["Suppliers"][1]["tariff"] = 0.99  # 99 %: legal and plausible
    path = write_workbook(tmp_path / "book.xlsx", sheets)
    errors, warnings = _problems(path)
    assert errors == []
    assert warnings == [
        "Countries!E3: tariff 25 = 2,500 %; if 25 % was meant, write 0.25 or 25 %",
        "Suppliers!F2: tariff 7 = 700 %; if 7 % was meant, write 0.07 or 7 %",
    ]
    # a warning, not a change: the value is read as written
    instance = load(path)
    assert instance.countries[1].tariff == 25.0
    assert instance.offers[0].tariff == 7.0


def test_price_surge_and_discount_rate_warn_from_one(tmp_path):
    sheets = basic_sheets(
        Periods=[["period"], [2026], [2027]],
        Scenarios=[{"scenario": "stop", "probability": 0.1, "country": "AAA",
                    "price_surge": 30},
                   {"scenario": "stop", "probability": 0.1, "country": "BBB",
                    "capacity_factor": 0.5, "price_surge": 30}],
        Settings=[["key", "value"], ["discount_rate", 1], ["currency", "EUR"]],
    )
    errors, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == []
    assert warnings == [
        "Scenarios!D2: price_surge 30 = 3,000 %; if 30 % was meant, write 0.3 or 30 %",
        "Scenarios!D3: price_surge 30 = 3,000 %; if 30 % was meant, write 0.3 or 30 %",
        "Settings!B2: discount_rate 1 = 100 %; if 1 % was meant, write 0.01 or 1 %",
    ]


def test_percent_text_says_what_it_means_and_is_not_warned_about(tmp_path):
    """`150%` leaves no doubt; nor does a value below 1."""
    sheets = basic_sheets()
    sheets["Countries"][0]["tariff"] = "150%"
    sheets["Countries"][1]["tariff"] = 0.999
    sheets["Suppliers"][0]["tariff"] = "2500 %"
    path = write_workbook(tmp_path / "book.xlsx", sheets)
    assert _problems(path) == ([], [])
    instance = load(path)
    assert instance.countries[0].tariff == pytest.approx(1.5)
    assert instance.offers[0].tariff == pytest.approx(25.0)


@pytest.mark.parametrize(("sheet", "column", "value", "line"), [
    ("Countries", "disruption_prob", 4,
     "Countries!B2: disruption_prob must be ≥ 0 and < 1: 4 = 400 %; write 0.04 or 4 % "
     "(found: 4)"),
    ("Countries", "disruption_prob", 12.5,
     "Countries!B2: disruption_prob must be ≥ 0 and < 1: 12.5 = 1,250 %; write 0.125 or "
     "12.5 % (found: 12.5)"),
    # no sensible percentage: the bound alone
    ("Countries", "disruption_prob", 400, "Countries!B2: disruption_prob must be ≥ 0 and "
     "< 1 (found: 400)"),
    ("Countries", "disruption_prob", 1, "Countries!B2: disruption_prob must be ≥ 0 and < 1 "
     "(found: 1)"),
    ("Countries", "disruption_prob", "400%", "Countries!B2: disruption_prob must be ≥ 0 and "
     "< 1 (found: '400%')"),
])
def test_out_of_range_fractions_say_how_to_write_the_percentage(tmp_path, sheet, column,
                                                                value, line):
    sheets = basic_sheets()
    sheets[sheet][0][column] = value
    errors, _ = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == [line]


def test_scenario_probabilities_and_policy_shares_get_the_same_hint(tmp_path):
    sheets = basic_sheets(
        Scenarios=[{"scenario": "stop", "probability": 5, "country": "AAA",
                    "capacity_factor": 50}],
        Policies=[{"rule": "max_country_share", "target": "AAA", "value": 65},
                  {"rule": "max_group_share", "target": "G1", "value": 650}],
        Settings=[["key", "value"], ["cvar_alpha", 95]],
    )
    errors, _ = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == [
        "Policies!C2: max_country_share value is a share between 0 and 1: 65 = 6,500 %; "
        "write 0.65 or 65 % (found: 65)",
        "Policies!C3: max_group_share value is a share between 0 and 1 (write 0.65 or 65%) "
        "(found: 650)",
        "Scenarios!B2: probability must be ≥ 0 and ≤ 1: 5 = 500 %; write 0.05 or 5 % "
        "(found: 5)",
        "Scenarios!D2: capacity_factor must be ≥ 0 and ≤ 1: 50 = 5,000 %; write 0.5 or 50 % "
        "(found: 50)",
        "Settings!B2: cvar_alpha must be > 0 and < 1: 95 = 9,500 %; write 0.95 or 95 % "
        "(found: 95)",
    ]


def test_the_cli_prints_the_warning_of_an_implausible_tariff(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"][1]["tariff"] = 25
    write_workbook(tmp_path / "book.xlsx", sheets)
    done = _cli(tmp_path, "validate", "book.xlsx")
    assert done.returncode == 0, done.stderr
    assert "  Countries!D3: tariff 25 = 2,500 %; if 25 % was meant, write 0.25 or 25 %" \
        in done.stdout.splitlines()
    assert "Traceback" not in done.stdout + done.stderr
