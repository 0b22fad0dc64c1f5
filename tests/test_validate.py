"""The validator's contract (SPEC §2): every rule of the input workbook, each checked on a
small workbook written into tmp_path.

Problems are asserted by their printed form, ``Sheet!Cell: message (found: …)``, because
that line is what a procurement team reads and fixes.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
from pathlib import Path

import pytest
from builders import basic_sheets, write_workbook
from openpyxl import load_workbook

from resilience.domain import BASELINE, Instance, Settings
from resilience.errors import InputError, Problem
from resilience.validate import load
from resilience.whatif import apply_whatif

# ---- helpers --------------------------------------------------------------------------


def _book(tmp_path: Path, sheets: dict, name: str = "book.xlsx") -> Path:
    return write_workbook(tmp_path / name, sheets)


def _load(tmp_path: Path, sheets: dict) -> Instance:
    return load(_book(tmp_path, sheets))


def _fail(tmp_path: Path, sheets: dict) -> InputError:
    path = _book(tmp_path, sheets)
    with pytest.raises(InputError) as caught:
        load(path)
    return caught.value


def _errors(exc: InputError) -> list[str]:
    return [str(p) for p in exc.problems if not p.warning]


def _warnings(exc: InputError) -> list[str]:
    return [str(p) for p in exc.problems if p.warning]


def _error_at(exc: InputError, where: str) -> str:
    """The one error located at `where` (e.g. 'Materials!C2')."""
    found = [line for line in _errors(exc) if line.startswith(f"{where}:")]
    assert len(found) == 1, f"expected one error at {where}, got: {_errors(exc)}"
    return found[0]


def _percent_format(path: Path, cells: dict[str, list[str]]) -> None:
    """Give cells an Excel percentage number format, as a user clicking % would."""
    book = load_workbook(path)
    for sheet, refs in cells.items():
        for ref in refs:
            book[sheet][ref].number_format = "0%"
    book.save(path)


# ---- headers, sheet names, rows -------------------------------------------------------


@pytest.mark.parametrize("header", ["Unit cost", " UNIT_COST ", "unit  cost", "Unit_Cost"])
def test_headers_match_ignoring_case_spaces_and_underscores(tmp_path, header):
    sheets = basic_sheets()
    sheets["Suppliers"] = [
        [" Supplier", "MATERIAL", "Country ", header, "Capacity"],
        ["a", "gallium", "AAA", 10, 1000],
    ]
    instance = _load(tmp_path, sheets)
    assert [(o.supplier, o.unit_cost, o.capacity) for o in instance.offers] == [
        ("a", 10.0, 1000.0)]
    assert instance.warnings == ()


@pytest.mark.parametrize("sheet_name", ["materials ", "MATERIALS", " Materials"])
def test_sheet_names_match_ignoring_case_and_spaces(tmp_path, sheet_name):
    sheets = basic_sheets()
    sheets[sheet_name] = sheets.pop("Materials")
    instance = _load(tmp_path, sheets)
    assert [m.id for m in instance.materials] == ["gallium"]


def test_two_sheets_named_alike_are_an_error(tmp_path):
    sheets = basic_sheets()
    sheets[" materials"] = sheets["Materials"]
    exc = _fail(tmp_path, sheets)
    (line,) = _errors(exc)
    assert line.startswith(" materials: a second sheet named like Materials")


def test_a_column_given_twice_under_two_spellings_is_an_error(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "Unit cost", " UNIT_COST ", "capacity"],
        ["a", "gallium", "AAA", 10, 11, 1000],
    ]
    exc = _fail(tmp_path, sheets)
    assert "appears twice" in _error_at(exc, "Suppliers!E1")


def test_unknown_column_is_a_warning_naming_the_header_cell(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"] = [{"material": "gallium", "unit": "t", "demand": 100,
                            "shortage_penalty": 1000, "stockpile_cost": None,
                            "max_stockpile": None, "Notes": "ask Jo"}]
    instance = _load(tmp_path, sheets)
    assert len(instance.warnings) == 1
    warning = str(instance.warnings[0])
    assert warning.startswith("Materials!G1: unknown column")
    assert "(found: 'Notes')" in warning


def test_row_one_holds_the_headers(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"] = [
        ["Gallium demand, 2025"],  # a title row where the headers belong
        ["material", "demand", "shortage_penalty"],
        ["gallium", 100, 1000],
    ]
    exc = _fail(tmp_path, sheets)
    assert "Materials!1:1: required column material is missing" in _errors(exc)


def test_blank_rows_are_skipped_and_cells_keep_their_excel_rows(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"] = [
        ["supplier", "material", "country", "unit_cost", "capacity"],
        ["a", "gallium", "AAA", 10, 1000],
        [None, None, None, None, None],
        ["   ", "", None, " ", None],  # spaces only: blank too
        ["b", "gallium", "BBB", 20, 1000],
    ]
    instance = _load(tmp_path, sheets)
    assert [(o.supplier, o.row) for o in instance.offers] == [("a", 2), ("b", 5)]

    sheets["Suppliers"][4][3] = "twenty"
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Suppliers!D5: unit_cost must be a number (found: 'twenty')"]


def test_columns_may_come_in_any_order_and_cells_name_the_real_column(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"] = [
        [None, "shortage_penalty", "demand", "material"],  # column A left empty
        [None, 1000, -5, "gallium"],
    ]
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Materials!C2: demand must be > 0 (found: -5)"]


# ---- fractions and percentages --------------------------------------------------------

# (sheet, column, rows overriding the basic workbook with a percent-text cell, reader)
_FRACTION_CELLS = [
    ("Countries", "disruption_prob", lambda i: i.countries[0].disruption_prob),
    ("Countries", "tariff", lambda i: i.countries[0].tariff),
    ("Suppliers", "tariff", lambda i: i.offers[0].tariff),
    ("Policies", "value", lambda i: i.policies[0].value),
    ("Scenarios", "probability", lambda i: i.scenario_rows[0].probability),
    ("Scenarios", "capacity_factor",
     lambda i: i.scenario_rows[0].hits[0].capacity_factor),
    ("Settings", "risk_aversion", lambda i: i.settings.risk_aversion),
    ("Settings", "cvar_alpha", lambda i: i.settings.cvar_alpha),
    ("Settings", "mip_gap", lambda i: i.settings.mip_gap),
]


def _with_fraction(sheet: str, column: str, value: object) -> tuple[dict, str]:
    """The basic workbook with `value` in one fraction cell; returns it and the cell."""
    sheets = basic_sheets()
    sheets["Policies"] = [{"rule": "max_country_share", "target": "AAA", "value": 0.9}]
    sheets["Scenarios"] = [{"scenario": "s1", "probability": 0.1, "country": "AAA",
                            "capacity_factor": 0.5}]
    sheets["Settings"] = [["key", "value"], ["risk_aversion", 0.1], ["cvar_alpha", 0.9],
                          ["mip_gap", 0.001]]
    if sheet == "Settings":
        keys = [row[0] for row in sheets["Settings"]]
        row = keys.index(column)
        sheets["Settings"][row][1] = value
        return sheets, f"B{row + 1}"
    rows = sheets[sheet]
    rows[0][column] = value
    headers = list(dict.fromkeys(k for r in rows for k in r))
    return sheets, f"{chr(ord('A') + headers.index(column))}2"


@pytest.mark.parametrize(("sheet", "column", "read"), _FRACTION_CELLS,
                         ids=[f"{s}.{c}" for s, c, _ in _FRACTION_CELLS])
@pytest.mark.parametrize(("text", "expected"), [("65%", 0.65), (" 5 %", 0.05),
                                                ("12.5%", 0.125)])
def test_percent_text_is_accepted_in_every_fraction_cell(tmp_path, sheet, column, read, text,
                                                         expected):
    sheets, _ = _with_fraction(sheet, column, text)
    instance = _load(tmp_path, sheets)
    assert read(instance) == pytest.approx(expected)


@pytest.mark.parametrize(("sheet", "column", "read"), _FRACTION_CELLS,
                         ids=[f"{s}.{c}" for s, c, _ in _FRACTION_CELLS])
def test_excel_percentage_cell_is_accepted_in_every_fraction_cell(tmp_path, sheet, column,
                                                                  read):
    sheets, cell = _with_fraction(sheet, column, 0.35)
    path = _book(tmp_path, sheets)
    _percent_format(path, {sheet: [cell]})
    assert load_workbook(path)[sheet][cell].number_format == "0%"
    assert read(load(path)) == pytest.approx(0.35)


@pytest.mark.parametrize(("sheet", "column", "where"), [
    ("Materials", "demand", "Materials!C2"),
    ("Materials", "shortage_penalty", "Materials!D2"),
    ("Suppliers", "unit_cost", "Suppliers!D2"),
    ("Suppliers", "capacity", "Suppliers!E2"),
])
def test_percent_text_in_a_plain_number_cell_is_an_error_naming_the_cell(tmp_path, sheet,
                                                                        column, where):
    sheets = basic_sheets()
    sheets[sheet][0][column] = "65%"
    exc = _fail(tmp_path, sheets)
    line = _error_at(exc, where)
    assert column in line and "percentage" in line and line.endswith("(found: '65%')")


def test_percent_text_in_time_limit_and_in_a_max_hhi_value_is_an_error(tmp_path):
    sheets = basic_sheets(
        Policies=[{"rule": "max_hhi", "value": "50%"}],
        Settings=[["key", "value"], ["time_limit", "10%"]],
    )
    exc = _fail(tmp_path, sheets)
    assert "percentage" in _error_at(exc, "Policies!B2")
    assert "percentage" in _error_at(exc, "Settings!B2")


def test_a_percentage_above_100_in_a_share_rule_is_out_of_range(tmp_path):
    sheets = basic_sheets(Policies=[{"rule": "max_country_share", "target": "AAA",
                                     "value": "165%"}])
    exc = _fail(tmp_path, sheets)
    assert "between 0 and 1" in _error_at(exc, "Policies!C2")


# ---- identifiers ----------------------------------------------------------------------


def test_country_codes_differing_only_in_case_and_spaces_are_duplicates(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"] += [{"country": "CHN"}, {"country": " chn "}]
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == [
        "Countries!A5: duplicate country (codes are compared ignoring case) (found: 'chn')"]


def test_material_ids_are_compared_by_unicode_casefold(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"] += [{"material": "STRASSE", "demand": 1, "shortage_penalty": 1},
                            {"material": "straße", "demand": 1, "shortage_penalty": 1}]
    exc = _fail(tmp_path, sheets)
    assert "duplicate material" in _error_at(exc, "Materials!A4")


def test_references_resolve_ignoring_case_and_keep_the_defining_spelling(tmp_path):
    sheets = basic_sheets(
        Materials=[{"material": "Gallium", "demand": 100, "shortage_penalty": 1000}],
        Countries=[{"country": "Aaa", "groups": "Friends"},
                   {"country": "BBB", "groups": "friends, G2"}],
        Suppliers=[{"supplier": "a", "material": " GALLIUM ", "country": "aAA",
                    "processing_country": "bbb", "unit_cost": 10, "capacity": 1000}],
        Policies=[{"rule": "max_country_share", "material": "gallium", "target": "aaa",
                   "value": 0.9},
                  {"rule": "min_group_share", "target": "FRIENDS", "value": 0.1}],
        Scenarios=[{"scenario": "s1", "probability": 0.1, "country": "bbb",
                    "material": "GALLIUM"}],
    )
    instance = _load(tmp_path, sheets)
    offer = instance.offers[0]
    assert (offer.material, offer.country, offer.processing_country) == (
        "Gallium", "Aaa", "BBB")
    assert [c.groups for c in instance.countries] == [("Friends",), ("Friends", "G2")]
    assert [(p.material, p.target, p.target_kind) for p in instance.policies] == [
        ("Gallium", "Aaa", "country"), ("*", "Friends", "group")]
    hit = instance.scenario_rows[0].hits[0]
    assert (hit.country, hit.material) == ("BBB", "Gallium")


@pytest.mark.parametrize("countries", [
    [{"country": "AAA", "groups": "EU"}, {"country": "EU"}],  # tag first, code later
    [{"country": "eu"}, {"country": "AAA", "groups": "NATO, EU"}],  # differs in case
])
def test_a_name_used_as_country_code_and_group_tag_is_an_error(tmp_path, countries):
    sheets = basic_sheets()
    sheets["Countries"] = countries + [{"country": "BBB"}]
    exc = _fail(tmp_path, sheets)
    errors = _errors(exc)
    assert len(errors) == 1
    assert "used both as a country code and as a group tag" in errors[0]
    assert errors[0].startswith("Countries!B")


def test_star_is_reserved_and_cannot_be_an_identifier(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"].append({"material": "*", "demand": 1, "shortage_penalty": 1})
    sheets["Countries"].append({"country": "*"})
    sheets["Countries"][0]["groups"] = "G1, *"
    exc = _fail(tmp_path, sheets)
    assert [line.split(":")[0] for line in _errors(exc)] == [
        "Materials!A3", "Countries!C2", "Countries!A4"]


def test_na_is_namibia_not_a_missing_value(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"].append({"country": "NA", "name": "Namibia", "groups": "SADC"})
    sheets["Suppliers"].append({"supplier": "n", "material": "gallium", "country": "NA",
                                "processing_country": "na", "unit_cost": 5,
                                "capacity": 10})
    sheets["Policies"] = [{"rule": "max_country_share", "target": "NA", "value": 0.5}]
    sheets["WhatIfs"] = [{"whatif": "namibia", "sheet": "Countries", "where": "country=NA",
                          "column": "tariff", "op": "set", "value": 0.1}]
    instance = _load(tmp_path, sheets)
    namibia = instance.countries[-1]
    assert (namibia.id, namibia.name, namibia.groups) == ("NA", "Namibia", ("SADC",))
    assert (instance.offers[-1].country, instance.offers[-1].processing_country) == (
        "NA", "NA")
    assert instance.policies[0].target == "NA"
    assert apply_whatif(instance, "namibia").country("NA").tariff == pytest.approx(0.1)


def test_whatif_names_are_one_identifier_across_sheets(tmp_path):
    sheets = basic_sheets(
        WhatIfs=[{"whatif": "Hike", "sheet": "Countries", "where": "country=AAA",
                  "column": "tariff", "op": "set", "value": 0.25}],
        Policies=[{"rule": "exclude", "target": "BBB", "whatif": "HIKE"}],
        Scenarios=[{"scenario": "base", "probability": 0.1, "country": "AAA"},
                   {"scenario": "s1", "probability": 0.2, "country": "BBB",
                    "whatif": "hike"}],
    )
    case = apply_whatif(_load(tmp_path, sheets), "hike")
    assert [p.rule for p in case.active_policies()] == ["exclude"]
    assert sorted(s.name for s in case.scenarios()) == ["base", BASELINE, "s1"]


def test_supplier_names_take_the_first_rows_spelling(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"].append({"material": "germanium", "demand": 10,
                                "shortage_penalty": 100})
    sheets["Suppliers"] = [
        {"supplier": "Acme", "material": "gallium", "country": "AAA", "unit_cost": 10,
         "capacity": 1000},
        {"supplier": "ACME ", "material": "germanium", "country": "AAA", "unit_cost": 10,
         "capacity": 1000},
    ]
    assert {o.supplier for o in _load(tmp_path, sheets).offers} == {"Acme"}


# ---- every problem at once ------------------------------------------------------------


def test_every_problem_is_reported_at_once_in_sheet_then_row_order(tmp_path):
    sheets = {
        "Settings": [["key", "value"], ["cvar_alpha", 1.5], ["colour", "red"]],
        "WhatIfs": [{"whatif": "w", "sheet": "Suppliers", "where": "", "column": "unit_cost",
                     "op": "multiply", "value": 2}],
        "Scenarios": [{"scenario": "Baseline", "probability": 0.1, "country": "AAA"},
                      {"scenario": "s1", "probability": 0.1, "country": "AAA"}],
        "Policies": [{"rule": "max_hhi", "target": "AAA", "value": 5000}],
        "Suppliers": [
            {"supplier": "a", "material": "gallium", "country": "AAA", "unit_cost": 10,
             "capacity": 100, "min_order": 200},
            {"supplier": "b", "material": "germanium", "country": "ZZZ", "unit_cost": 10,
             "capacity": 100},
            {"supplier": "c", "material": "gallium", "country": "BBB", "unit_cost": "5%",
             "capacity": 100},
        ],
        "Countries": [
            {"country": "AAA", "disruption_prob": 0.1, "groups": "G1"},
            {"country": "BBB", "disruption_prob": 1.5, "groups": "G2"},
            {"country": "aaa"},
        ],
        "Materials": [
            {"material": "gallium", "demand": "lots", "shortage_penalty": 1000},
            {"material": "germanium", "demand": 50, "shortage_penalty": -5},
        ],
    }  # written in reverse order: the report is in the schema's sheet order regardless
    exc = _fail(tmp_path, sheets)
    assert [line.split(":")[0] for line in _errors(exc)] == [
        "Materials!B2", "Materials!C3",
        "Countries!B3", "Countries!A4",
        "Suppliers!F2", "Suppliers!C3", "Suppliers!D4",
        "Policies!B2",
        "Scenarios!A2",
        "WhatIfs!E2",
        "Settings!B2",
    ]
    for line in _errors(exc):
        assert re.fullmatch(r"[A-Za-z]+![A-Z]+\d+: \S.* \(found: .+\)", line), line
    assert _errors(exc)[0] == "Materials!B2: demand must be a number (found: 'lots')"
    assert _warnings(exc) == ["Settings!A3: unknown setting, ignored (known: risk_aversion, "
                              "cvar_alpha, time_limit, mip_gap, currency, discount_rate) "
                              "(found: 'colour')"]
    # The exception's text is every problem, one per line, in the same order.
    assert str(exc).splitlines() == [str(p) for p in exc.problems]


def test_an_unmatched_whatif_edit_is_reported_with_the_other_problems(tmp_path):
    sheets = basic_sheets(WhatIfs=[{"whatif": "w", "sheet": "Countries",
                                    "where": "country=CHM", "column": "tariff",
                                    "op": "set", "value": 0.25}])
    sheets["Materials"][0]["demand"] = -1
    exc = _fail(tmp_path, sheets)
    assert [line.split(":")[0] for line in _errors(exc)] == ["Materials!C2", "WhatIfs!A2"]


def test_whatif_problems_are_in_row_order(tmp_path):
    edit = {"sheet": "Countries", "column": "tariff", "op": "set", "value": 0.25}
    sheets = basic_sheets(WhatIfs=[
        {"whatif": "A", "where": "country=XXX", **edit},
        {"whatif": "B", "where": "country=YYY", **edit},
        {"whatif": "A", "where": "country=ZZZ", **edit},
    ])
    exc = _fail(tmp_path, sheets)
    assert [line.split(":")[0] for line in _errors(exc)] == [
        "WhatIfs!A2", "WhatIfs!A3", "WhatIfs!A4"]


def test_problem_text_format():
    assert str(Problem("Materials", "C7", "demand must be > 0", found=-1)) == (
        "Materials!C7: demand must be > 0 (found: -1)")
    assert str(Problem("Suppliers", "", "the sheet has no offers")) == (
        "Suppliers: the sheet has no offers")


def test_missing_required_sheets_are_all_reported(tmp_path):
    exc = _fail(tmp_path, {"Notes": [["hello"]]})
    assert _errors(exc) == ["Materials: required sheet is missing",
                            "Countries: required sheet is missing",
                            "Suppliers: required sheet is missing"]


# ---- Suppliers ------------------------------------------------------------------------


def test_min_order_above_capacity_is_an_error(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"][0].update(capacity=10, min_order=20)
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Suppliers!F2: min_order exceeds capacity (10) (found: 20.0)"]


def test_min_order_equal_to_capacity_is_fine(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"][0].update(capacity=10, min_order=10)
    assert _load(tmp_path, sheets).offers[0].min_order == 10


def test_duplicate_offer_is_an_error_even_with_the_processing_country_implied(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"] = [
        {"supplier": "a", "material": "gallium", "country": "AAA", "processing_country": None,
         "unit_cost": 10, "capacity": 10},
        {"supplier": "A ", "material": "GALLIUM", "country": "aaa",
         "processing_country": "AAA", "unit_cost": 12, "capacity": 10},
        {"supplier": "a", "material": "gallium", "country": "AAA", "processing_country": "BBB",
         "unit_cost": 11, "capacity": 10},  # another processing country: another offer
    ]
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Suppliers!A3: duplicate offer: the same supplier, material, "
                            "country and processing country as row 2 (found: 'A')"]


def test_unknown_material_and_country_references_are_errors(tmp_path):
    sheets = basic_sheets()
    sheets["Suppliers"].append({"supplier": "c", "material": "gold", "country": "XXX",
                                "processing_country": "YYY", "unit_cost": 1, "capacity": 1})
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == [
        "Suppliers!B4: unknown material (not on Materials) (found: 'gold')",
        "Suppliers!C4: unknown country (not on Countries) (found: 'XXX')",
        "Suppliers!F4: unknown processing country (not on Countries) (found: 'YYY')",
    ]


def test_a_suppliers_sheet_with_no_offers_is_an_error(tmp_path):
    sheets = basic_sheets(Suppliers=[["supplier", "material", "country", "unit_cost",
                                      "capacity"]])
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Suppliers: the sheet has no offers"]


def test_a_material_no_offer_sells_is_a_warning(tmp_path):
    sheets = basic_sheets()
    sheets["Materials"].append({"material": "germanium", "demand": 5,
                                "shortage_penalty": 10})
    instance = _load(tmp_path, sheets)
    assert [m.id for m in instance.materials] == ["gallium", "germanium"]
    assert tuple(map(str, instance.warnings)) == (
        "Materials!A3: no offer sells germanium: its demand will go unmet",)


def test_processing_country_defaults_to_origin_and_tariff_to_the_processing_country(
        tmp_path):
    sheets = basic_sheets()
    sheets["Countries"][1]["tariff"] = 0.2
    sheets["Suppliers"] = [
        {"supplier": "a", "material": "gallium", "country": "AAA", "processing_country": "BBB",
         "unit_cost": 10, "capacity": 10},
        {"supplier": "b", "material": "gallium", "country": "BBB", "unit_cost": 10,
         "capacity": 10, "tariff": "5%"},
    ]
    a, b = _load(tmp_path, sheets).offers
    assert (a.processing_country, a.tariff, a.landed_cost) == ("BBB", 0.2, pytest.approx(12))
    assert (b.processing_country, b.tariff) == ("BBB", 0.05)
    assert (b.min_order, b.fixed_cost, b.reserve_cost) == (0.0, 0.0, None)


# ---- Policies -------------------------------------------------------------------------


def _policy_errors(tmp_path, rows: list[dict]) -> list[str]:
    return _errors(_fail(tmp_path, basic_sheets(Policies=rows)))


@pytest.mark.parametrize("rule", ["min_group_share", "max_group_share"])
@pytest.mark.parametrize("target", ["*", None])
def test_group_share_rules_need_a_group_or_country_target(tmp_path, rule, target):
    errors = _policy_errors(tmp_path, [{"rule": rule, "target": target, "value": 0.2}])
    assert errors == [f"Policies!B2: {rule} needs a group tag or a country code as target, "
                      "not *"]


@pytest.mark.parametrize("target", ["AAA", "G1"])
def test_max_hhi_with_a_country_or_group_target_is_an_error(tmp_path, target):
    errors = _policy_errors(tmp_path, [{"rule": "max_hhi", "target": target,
                                        "value": 5000}])
    assert errors == ["Policies!B2: max_hhi applies to all countries: leave target blank or * "
                      f"(found: '{target}')"]


@pytest.mark.parametrize("rule", ["max_country_share", "min_group_share", "max_group_share"])
@pytest.mark.parametrize("value", [-0.1, 1.01, 65])
def test_share_rule_values_outside_0_1_are_errors(tmp_path, rule, value):
    errors = _policy_errors(tmp_path, [{"rule": rule, "target": "G1", "value": value}])
    assert len(errors) == 1
    assert errors[0].startswith(f"Policies!C2: {rule} value is a share between 0 and 1")


@pytest.mark.parametrize("value", [-1, 10_000.5, "1e5"])
def test_max_hhi_values_outside_0_10000_are_errors(tmp_path, value):
    errors = _policy_errors(tmp_path, [{"rule": "max_hhi", "value": value}])
    assert len(errors) == 1
    assert errors[0].startswith("Policies!B2: max_hhi value is on the 0-10,000 scale")


def test_boundary_values_are_accepted(tmp_path):
    rows = [{"rule": "max_hhi", "value": 0}, {"rule": "max_hhi", "value": 10_000},
            {"rule": "max_country_share", "target": "AAA", "value": 0},
            {"rule": "min_group_share", "target": "G2", "value": 1}]
    instance = _load(tmp_path, basic_sheets(Policies=rows))
    assert [p.value for p in instance.policies] == [0, 10_000, 0, 1]


def test_exclude_needs_no_value_and_stage_defaults_to_both(tmp_path):
    rows = [{"rule": "exclude", "target": "G1", "stage": None, "value": None},
            {"rule": "max_country_share", "target": "AAA", "stage": "Processing",
             "value": 0.5}]
    instance = _load(tmp_path, basic_sheets(Policies=rows))
    exclude, share = instance.policies
    assert (exclude.rule, exclude.target, exclude.target_kind, exclude.stage,
            exclude.value, exclude.material) == ("exclude", "G1", "group", "both", None, "*")
    assert exclude.stages == ("origin", "processing")
    assert share.stage == "processing"


def test_stage_defaults_to_both_when_the_column_is_absent(tmp_path):
    rows = [{"rule": "max_country_share", "target": "AAA", "value": 0.5}]
    assert _load(tmp_path, basic_sheets(Policies=rows)).policies[0].stage == "both"


def test_a_share_rule_without_value_is_an_error(tmp_path):
    errors = _policy_errors(tmp_path, [{"rule": "max_country_share", "target": "AAA",
                                        "value": None}])
    assert errors == ["Policies!C2: max_country_share needs a value"]


def test_unknown_policy_target_rule_and_stage_are_errors(tmp_path):
    errors = _policy_errors(tmp_path, [
        {"rule": "max_country_share", "target": "QQQ", "stage": "both", "value": 0.5},
        {"rule": "max_share", "target": "AAA", "stage": "both", "value": 0.5},
        {"rule": "max_country_share", "target": "AAA", "stage": "refining", "value": 0.5},
    ])
    assert errors == [
        "Policies!B2: target is neither a country code on Countries nor a group tag used "
        "there (found: 'QQQ')",
        "Policies!A3: rule must be one of max_country_share, min_group_share, "
        "max_group_share, max_hhi, exclude (found: 'max_share')",
        "Policies!C4: stage must be one of origin, processing, both, owner (found: "
        "'refining')",
    ]


def test_unknown_policy_material_is_an_error(tmp_path):
    errors = _policy_errors(tmp_path, [{"rule": "max_country_share", "material": "gold",
                                        "target": "AAA", "value": 0.5}])
    assert errors == ["Policies!B2: unknown material (not on Materials) (found: 'gold')"]


# ---- Scenarios ------------------------------------------------------------------------


def test_probability_must_be_equal_on_every_row_of_a_scenario(tmp_path):
    sheets = basic_sheets(Scenarios=[
        {"scenario": "s1", "probability": 0.3, "country": "AAA"},
        {"scenario": "S1 ", "probability": "30%", "country": "BBB"},  # same: fine
        {"scenario": "s1", "probability": 0.4, "country": "BBB"},
    ])
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Scenarios!B4: probability differs from the first row of "
                            "scenario s1 (row 2: 0.3) (found: 0.4)"]


def test_scenario_probabilities_summing_above_one_are_an_error(tmp_path):
    sheets = basic_sheets(Scenarios=[
        {"scenario": "s1", "probability": 0.6, "country": "AAA"},
        {"scenario": "s2", "probability": 0.5, "country": "BBB"},
    ])
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["Scenarios!B2: scenario probabilities sum to more than 1 "
                            "(found: 1.1)"]


def test_scenario_probabilities_summing_to_exactly_one_leave_no_baseline(tmp_path):
    sheets = basic_sheets(Scenarios=[
        {"scenario": "s1", "probability": 0.5, "country": "AAA"},
        {"scenario": "s2", "probability": "50%", "country": "BBB"},
    ])
    assert [s.name for s in _load(tmp_path, sheets).scenarios()] == ["s1", "s2"]


@pytest.mark.parametrize("name", ["baseline", "BASELINE", " Baseline "])
def test_baseline_is_a_reserved_scenario_name(tmp_path, name):
    sheets = basic_sheets(Scenarios=[{"scenario": name, "probability": 0.1,
                                      "country": "AAA"}])
    exc = _fail(tmp_path, sheets)
    line = _error_at(exc, "Scenarios!A2")
    assert "reserved" in line


def test_a_scenarios_sheet_with_a_header_and_no_rows_means_baseline_only(tmp_path):
    sheets = basic_sheets(Scenarios=[["scenario", "probability", "country", "material",
                                      "capacity_factor"]])
    instance = _load(tmp_path, sheets)
    assert instance.scenario_rows == ()
    assert [(s.name, s.probability) for s in instance.scenarios()] == [(BASELINE, 1.0)]


def test_scenario_rows_group_by_name_and_default_to_all_materials_factor_0(tmp_path):
    sheets = basic_sheets(Scenarios=[
        {"scenario": "s1", "probability": 0.2, "country": "AAA", "material": None,
         "capacity_factor": None},
        {"scenario": "S1", "probability": 0.2, "country": "BBB", "material": "gallium",
         "capacity_factor": "40%"},
    ])
    (scenario,) = _load(tmp_path, sheets).scenario_rows
    assert scenario.name == "s1"
    assert [(h.country, h.material, h.capacity_factor) for h in scenario.hits] == [
        ("AAA", "*", 0.0), ("BBB", "gallium", 0.4)]


def test_scenario_references_and_factor_bounds_are_checked(tmp_path):
    sheets = basic_sheets(Scenarios=[
        {"scenario": "s1", "probability": 1.2, "country": "XXX", "material": "gold",
         "capacity_factor": 1.5},
    ])
    exc = _fail(tmp_path, sheets)
    assert [line.split(":")[0] for line in _errors(exc)] == [
        "Scenarios!B2", "Scenarios!C2", "Scenarios!D2", "Scenarios!E2"]


def test_without_a_scenarios_sheet_one_scenario_per_risky_country_is_generated(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"][1]["disruption_prob"] = "5%"
    scenarios = _load(tmp_path, sheets).scenarios()
    assert [(s.name, s.probability) for s in scenarios] == [
        ("AAA", 0.1), ("BBB", 0.05), (BASELINE, pytest.approx(0.85))]


@pytest.mark.parametrize("probs", [(0.6, 0.4), (0.7, 0.5)])
def test_without_a_scenarios_sheet_disruption_probabilities_summing_to_1_are_rejected(
        tmp_path, probs):
    sheets = basic_sheets()
    for country, p in zip(sheets["Countries"], probs, strict=True):
        country["disruption_prob"] = p
    exc = _fail(tmp_path, sheets)
    (line,) = _errors(exc)
    assert line.startswith("Countries!B1: disruption probabilities sum to at least 1")
    assert "Scenarios sheet" in line


def test_with_a_scenarios_sheet_disruption_probabilities_may_sum_past_1(tmp_path):
    sheets = basic_sheets(Scenarios=[{"scenario": "s1", "probability": 0.1,
                                      "country": "AAA"}])
    for country in sheets["Countries"]:
        country["disruption_prob"] = 0.6
    assert [s.name for s in _load(tmp_path, sheets).scenarios()] == ["s1", BASELINE]


def test_disruption_prob_of_one_is_out_of_range(tmp_path):
    sheets = basic_sheets()
    sheets["Countries"][0]["disruption_prob"] = "100%"
    exc = _fail(tmp_path, sheets)
    assert "disruption_prob must be ≥ 0 and < 1" in _error_at(exc, "Countries!B2")


# ---- Settings -------------------------------------------------------------------------


def test_settings_defaults_apply_without_the_sheet(tmp_path):
    assert _load(tmp_path, basic_sheets()).settings == Settings(
        risk_aversion=0.0, cvar_alpha=0.95, time_limit=60.0, mip_gap=1e-4, currency="USD")


def test_settings_are_read_as_key_value_rows_and_blanks_keep_defaults(tmp_path):
    sheets = basic_sheets(Settings=[
        [" Key", "VALUE"],
        ["Risk aversion", 0.25],
        ["TIME_LIMIT", 5],
        ["mip gap", None],
        [None, None],
        ["currency", "EUR"],
    ])
    assert _load(tmp_path, sheets).settings == Settings(
        risk_aversion=0.25, cvar_alpha=0.95, time_limit=5.0, mip_gap=1e-4, currency="EUR")


def test_unknown_setting_is_a_warning(tmp_path):
    sheets = basic_sheets(Settings=[["key", "value"], ["threads", 8]])
    instance = _load(tmp_path, sheets)
    assert len(instance.warnings) == 1
    assert str(instance.warnings[0]).startswith("Settings!A2: unknown setting, ignored")
    assert instance.settings == Settings()


@pytest.mark.parametrize(("key", "value", "message"), [
    ("risk_aversion", 1.5, "risk_aversion must be ≥ 0 and ≤ 1"),
    ("cvar_alpha", 1, "cvar_alpha must be > 0 and < 1"),
    ("cvar_alpha", 0, "cvar_alpha must be > 0 and < 1"),
    ("time_limit", 0, "time_limit must be > 0"),
    ("time_limit", "soon", "time_limit must be a number"),
    ("mip_gap", "200%", "mip_gap must be ≥ 0 and ≤ 1"),
])
def test_bad_setting_value_is_an_error_naming_the_value_cell(tmp_path, key, value, message):
    sheets = basic_sheets(Settings=[["key", "value"], ["currency", "EUR"], [key, value]])
    exc = _fail(tmp_path, sheets)
    assert _error_at(exc, "Settings!B3").startswith(f"Settings!B3: {message}")


def test_a_setting_given_twice_is_an_error(tmp_path):
    sheets = basic_sheets(Settings=[["key", "value"], ["mip_gap", 0.01], ["MIP gap", 0.02]])
    exc = _fail(tmp_path, sheets)
    assert "set twice" in _error_at(exc, "Settings!A3")


def test_a_settings_sheet_without_key_value_header_is_an_error(tmp_path):
    sheets = basic_sheets(Settings=[["risk_aversion", "cvar_alpha"], [0.5, 0.9]])
    exc = _fail(tmp_path, sheets)
    assert any(line.startswith("Settings!1:1: required column key is missing")
               for line in _errors(exc))


# ---- WhatIfs --------------------------------------------------------------------------


def test_an_edit_whose_where_matches_no_row_is_an_error_found_by_validate(tmp_path):
    sheets = basic_sheets(WhatIfs=[
        {"whatif": "china gallium", "sheet": "Suppliers", "where": "country=AAA",
         "column": "capacity", "op": "scale", "value": 0.5},
        {"whatif": "china gallium", "sheet": "Suppliers",
         "where": "country=CHM; material=gallium", "column": "capacity", "op": "scale",
         "value": 0.5},
    ])
    exc = _fail(tmp_path, sheets)
    assert _errors(exc) == ["WhatIfs!A3: what-if china gallium: the edit matches no row of "
                            "Suppliers (found: 'country=CHM; material=gallium')"]


def test_a_matching_edit_loads_and_applies(tmp_path):
    sheets = basic_sheets(WhatIfs=[
        {"whatif": "Tariffs", "sheet": "Countries", "where": "country=aaa", "column": "Tariff",
         "op": "set", "value": "25%"},
        {"whatif": "tariffs", "sheet": "Suppliers", "where": "country=BBB; material=GALLIUM",
         "column": "unit cost", "op": "scale", "value": 1.5},
    ])
    instance = _load(tmp_path, sheets)
    case = apply_whatif(instance, "TARIFFS")
    assert case.whatif == "Tariffs"
    assert case.country("AAA").tariff == pytest.approx(0.25)
    assert case.offers[0].landed_cost == pytest.approx(12.5)
    assert case.offers[1].unit_cost == pytest.approx(30)
    assert instance.offers[1].unit_cost == 20  # the base instance is untouched


def test_bad_whatif_rows_are_errors(tmp_path):
    sheets = basic_sheets(WhatIfs=[
        {"whatif": "w", "sheet": "Plans", "where": None, "column": "demand", "op": "set",
         "value": 1},
        {"whatif": "w", "sheet": "Materials", "where": "material gallium", "column": "demand",
         "op": "set", "value": 1},
        {"whatif": "w", "sheet": "Materials", "where": None, "column": "demand", "op": "set",
         "value": None},
    ])
    exc = _fail(tmp_path, sheets)
    assert [line.split(":")[0] for line in _errors(exc)] == [
        "WhatIfs!B2", "WhatIfs!C3", "WhatIfs!F4"]


def test_a_where_cell_too_long_is_an_error_not_a_crash(tmp_path):
    sheets = basic_sheets(WhatIfs=[
        {"whatif": "w", "sheet": "Materials", "where": "material=" + "g" * 1000,
         "column": "demand", "op": "set", "value": 1}])
    assert _errors(_fail(tmp_path, sheets)) == [
        "WhatIfs!C2: where is too long (1,009 characters; at most 1,000) (found: "
        "'material=ggggggggggggggggggggggggggggggggggggggggggggggggg…)"]


# ---- not an xlsx ----------------------------------------------------------------------


def _good_bytes(tmp_path: Path) -> bytes:
    return write_workbook(tmp_path / "good.xlsx", basic_sheets()).read_bytes()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _patch_central_directory(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of the first central-directory entry."""
    at = data.index(b"PK\x01\x02") + offset
    return data[:at] + struct.pack(fmt, value) + data[at + struct.calcsize(fmt):]


_NOT_XLSX = {
    "csv renamed": lambda good: b"material,demand\ngallium,100\n",
    "zero bytes": lambda good: b"",
    "truncated zip": lambda good: good[: len(good) // 2],
    "zip without xl/workbook.xml": lambda good: _zip({"hello.txt": b"hi"}),
    "damaged workbook part": lambda good: _zip({"xl/workbook.xml": b"<not xml"}),
    "old .xls renamed": lambda good: bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 504,
    # A central directory claiming a 768 MiB part: refused before anything is inflated.
    "inflates past 512 MiB": lambda good: _patch_central_directory(good, 24, "<I",
                                                                   768 * 2**20),
}


@pytest.mark.parametrize("make", _NOT_XLSX.values(), ids=_NOT_XLSX.keys())
def test_not_an_xlsx_is_an_input_error_with_a_plain_message(tmp_path, make):
    path = tmp_path / "book.xlsx"
    path.write_bytes(make(_good_bytes(tmp_path)))
    with pytest.raises(InputError) as caught:
        load(path)
    (problem,) = caught.value.problems
    text = str(problem)
    assert text.startswith("book.xlsx: ")
    assert "\n" not in text and "Traceback" not in text


def test_a_missing_file_and_a_folder_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="book.xlsx: no such file"):
        load(tmp_path / "book.xlsx")
    (tmp_path / "dir.xlsx").mkdir()
    with pytest.raises(InputError, match="folder"):
        load(tmp_path / "dir.xlsx")


def test_a_zip_with_a_damaged_version_field_is_an_input_error(tmp_path):
    path = tmp_path / "book.xlsx"
    damaged = _patch_central_directory(_good_bytes(tmp_path), 6, "<B", 78)
    path.write_bytes(damaged)
    with pytest.raises(InputError, match="book.xlsx"):
        load(path)


# ---- a large sheet, read column by column ---------------------------------------------


def _many_offers(n: int) -> list[dict]:
    return [{"supplier": f"s{i:05d}", "material": "gallium", "country": "AAA" if i % 2
             else "BBB", "unit_cost": 10 + i % 7, "capacity": 1000.5,
             "min_order": None if i % 3 else 1, "tariff": None if i % 5 else 0.1}
            for i in range(n)]


def test_odd_cells_among_thousands_of_plain_ones_are_each_named_in_row_order(tmp_path):
    """Plain numbers and short text are accepted a column at a time; every other cell is
    judged one by one, with the message it would get on a small sheet. Columns: A
    supplier, B material, C country, D unit_cost, E capacity, F min_order, G tariff,
    H processing_country (first used on the last row)."""
    offers = _many_offers(3000)
    odd = {  # Excel row (list index + 2) -> changes
        10: {"unit_cost": "5%"}, 11: {"capacity": None}, 700: {"unit_cost": -1},
        701: {"capacity": True}, 702: {"material": "germanium"},
        1500: {"unit_cost": "1,250.5"}, 1501: {"supplier": None},
        2999: {"tariff": "12%", "min_order": 2000}, 3000: {"country": "aaa"},
        3001: {"processing_country": "ZZZ"},
    }
    for row, changes in odd.items():
        offers[row - 2].update(changes)
    offers[1200 - 2] = dict(offers[1198 - 2], supplier="S01196")  # row 1198 again
    exc = _fail(tmp_path, basic_sheets(Suppliers=offers))
    assert _errors(exc) == [
        "Suppliers!D10: unit_cost is not a fraction: write a plain number, not a "
        "percentage (found: '5%')",
        "Suppliers!E11: capacity is required",
        "Suppliers!D700: unit_cost must be ≥ 0 (found: -1)",
        "Suppliers!E701: capacity must be a number, not TRUE/FALSE (found: True)",
        "Suppliers!B702: unknown material (not on Materials) (found: 'germanium')",
        "Suppliers!A1200: duplicate offer: the same supplier, material, country and "
        "processing country as row 1198 (found: 'S01196')",
        "Suppliers!A1501: supplier is required",
        "Suppliers!F2999: min_order exceeds capacity (1000.5) (found: 2000.0)",
        "Suppliers!H3001: unknown processing country (not on Countries) (found: 'ZZZ')",
    ]


def test_a_large_clean_sheet_reads_as_a_small_one_would(tmp_path):
    offers = _many_offers(3000)
    offers[1499]["unit_cost"] = "1,250.5"
    offers[2997]["tariff"] = "12%"
    offers[2998]["country"] = "aaa"
    instance = _load(tmp_path, basic_sheets(Suppliers=offers))
    assert len(instance.offers) == 3000
    first, thousands, percent, lower = (instance.offers[i] for i in (0, 1499, 2997, 2998))
    assert (first.supplier, first.country, first.unit_cost, first.min_order,
            first.tariff, first.tariff_override, first.row) == (
        "s00000", "BBB", 10.0, 1.0, 0.1, 0.1, 2)
    assert thousands.unit_cost == 1250.5 and thousands.row == 1501
    assert percent.tariff == pytest.approx(0.12) and percent.tariff_override == \
        pytest.approx(0.12)
    assert lower.country == "AAA" and lower.processing_country == "AAA"
    assert instance.offers[1].tariff == 0.0 and instance.offers[1].tariff_override is None


def test_offers_are_ordinary_frozen_dataclass_instances(tmp_path):
    """validate builds offers without calling Offer's __init__ (it is a third of the
    time on 100,000 rows): they must be the same objects the constructor makes."""
    import dataclasses
    import pickle

    from resilience.domain import Offer

    instance = _load(tmp_path, basic_sheets())
    for offer in instance.offers:
        made = Offer(**{f.name: getattr(offer, f.name) for f in dataclasses.fields(Offer)})
        assert offer == made and hash(offer) == hash(made) and repr(offer) == repr(made)
        assert pickle.loads(pickle.dumps(offer)) == offer
        assert dataclasses.replace(offer, capacity=1.0).capacity == 1.0
        with pytest.raises(dataclasses.FrozenInstanceError):
            offer.capacity = 1.0  # type: ignore[misc]


def test_load_leaves_the_garbage_collector_as_it_found_it(tmp_path):
    import gc

    path = _book(tmp_path, basic_sheets())
    assert gc.isenabled()
    load(path)
    assert gc.isenabled()
    gc.disable()
    try:
        with pytest.raises(InputError):
            load(_book(tmp_path, basic_sheets(Materials=[]), "empty.xlsx"))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_rows_of_spaces_are_blank_rows_and_a_lone_space_is_a_blank_cell(tmp_path):
    """Cells holding only spaces are blank: a row of them is skipped like an empty row,
    and one in a required column is a missing value."""
    offers = _many_offers(50)
    offers[10] = {key: "   " for key in offers[10]}
    offers[20]["supplier"] = "  "
    exc = _fail(tmp_path, basic_sheets(Suppliers=offers))
    assert _errors(exc) == ["Suppliers!A22: supplier is required"]
    offers[20]["supplier"] = "s00020"
    instance = _load(tmp_path, basic_sheets(Suppliers=offers))
    assert len(instance.offers) == 49 and 12 not in {o.row for o in instance.offers}
