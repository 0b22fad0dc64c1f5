"""Traps a team filling a workbook falls into without a word from us: a tariff typed 25
meaning 25 %, a workbook some generator wrote in UTF-16, a country code or sheet name
one letter off, a header renamed. Each is caught and said plainly, as
`Sheet!Cell: what is wrong`, with the fix where one can be guessed.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
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
    return [], [str(w) for w in instance.warnings]


def _cli(cwd: Path, *args: object) -> subprocess.CompletedProcess:
    return subprocess.run([*COMMAND, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


# ---- implausible values ---------------------------------------------------------------


def test_fraction_columns_that_may_exceed_one_are_exactly_those_warned_about():
    """The rule, from the schema: a fraction with no upper bound warns where its values
    stop being believable: tariffs and price surges from 300 % (145 % tariffs and price
    doublings are real), a discount rate from 50 % a year."""
    warned = {(s.name, c.name): c.implausible_from for s in SHEETS for c in s.columns
              if c.implausible_from is not None}
    assert warned == {("Countries", "tariff"): 3.0, ("Suppliers", "tariff"): 3.0,
                      ("Scenarios", "price_surge"): 3.0, ("Settings", "discount_rate"): 0.5}


def test_real_tariffs_and_surges_above_100_percent_are_not_warned_about(tmp_path):
    """145 % (US on Chinese goods, April 2025) and a surge of 150 % (gallium after the
    export ban) are facts, not typos."""
    sheets = basic_sheets(
        Scenarios=[{"scenario": "stop", "probability": 0.1, "country": "AAA",
                    "price_surge": 1.5}])
    sheets["Countries"][0]["tariff"] = 1.45
    errors, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == [] and warnings == []


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


def test_price_surge_and_discount_rate_warn_when_implausible(tmp_path):
    sheets = basic_sheets(
        Periods=[["period"], [2026], [2027]],
        Scenarios=[{"scenario": "stop", "probability": 0.1, "country": "AAA",
                    "price_surge": 30},
                   {"scenario": "stop", "probability": 0.1, "country": "BBB",
                    "capacity_factor": 0.5, "price_surge": 30}],
        Settings=[["key", "value"], ["discount_rate", 5], ["currency", "EUR"]],
    )
    errors, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == []
    assert warnings == [
        "Scenarios!D2: price_surge 30 = 3,000 %; if 30 % was meant, write 0.3 or 30 %",
        "Scenarios!D3: price_surge 30 = 3,000 %; if 30 % was meant, write 0.3 or 30 %",
        "Settings!B2: discount_rate 5 = 500 %; if 5 % was meant, write 0.05 or 5 %",
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


# ---- UTF-16 workbooks ----------------------------------------------------------------


def _same_instance(a, b) -> None:
    """Equal in everything read from the cells (the file's name and hash aside)."""
    import dataclasses

    assert dataclasses.replace(a, source_name="", source_sha256="") == \
        dataclasses.replace(b, source_name="", source_sha256="")


@pytest.mark.parametrize(("byte_order", "bom"), [("le", True), ("be", True), ("le", False)],
                         ids=["utf16le-bom", "utf16be-bom", "utf16le-no-bom"])
def test_a_utf16_workbook_reads_as_its_utf8_original(tmp_path, byte_order, bom):
    """Every XML part in UTF-16 (allowed by the Open Packaging Conventions): the names,
    emoji and non-Latin scripts included, reach the Instance as from the UTF-8 file."""
    import hostile_corpus as corpus

    original = corpus.write_unicode_names(tmp_path / "utf8.xlsx")
    book = corpus.write_utf16(tmp_path / "utf16.xlsx", original, byte_order, bom)
    with zipfile.ZipFile(book) as archive:
        head = archive.read("xl/workbook.xml")[:4]
    assert head[:2] in (b"\xff\xfe", b"\xfe\xff", b"<\x00")
    expected = load(original)
    instance = load(book)
    _same_instance(instance, expected)
    names = corpus.UNICODE_NAMES
    assert instance.materials[0].id == names["material"]
    assert [c.name for c in instance.countries][0] == names["country_a_name"]
    assert {o.supplier for o in instance.offers} == {names["supplier_a"],
                                                      names["supplier_b"]}


def test_utf16_only_in_some_parts_and_with_shared_strings(tmp_path):
    """A mixed package: only the sheets and the shared-string table (which holds the
    material's id) in UTF-16, the other parts in UTF-8."""
    import hostile_corpus as corpus

    shared = corpus.write_shared_strings(tmp_path / "shared.xlsx", tmp_path / "s.xlsx")
    with zipfile.ZipFile(shared) as archive:
        assert b"gallium" in archive.read("xl/sharedStrings.xml")
    mixed = corpus.write_utf16(tmp_path / "mixed.xlsx", shared, parts=lambda name: (
        name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"))
    instance = load(mixed)
    _same_instance(instance, load(shared))
    assert [m.id for m in instance.materials] == ["gallium"]


def test_a_utf16_workbook_is_read_from_a_copy_and_the_file_is_left_alone(tmp_path,
                                                                         monkeypatch):
    import tempfile

    import hostile_corpus as corpus

    book = corpus.write_utf16(tmp_path / "utf16.xlsx",
                              corpus.write_basic(tmp_path / "utf8.xlsx"))
    before = book.read_bytes()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    instance = load(book)
    assert book.read_bytes() == before
    assert list(scratch.iterdir()) == []  # the re-encoded copy is gone
    assert instance.source_name == "utf16.xlsx"
    import hashlib

    assert instance.source_sha256 == hashlib.sha256(before).hexdigest()


def test_utf16_parts_get_the_same_checks_as_utf8_ones(tmp_path):
    """What the part checks find in UTF-8 (merged cells, a DTD) they find in UTF-16."""
    import hostile_corpus as corpus

    merged = corpus.write_merged_material(tmp_path / "merged.xlsx", tmp_path / "s.xlsx")
    errors, warnings = _problems(corpus.write_utf16(tmp_path / "merged16.xlsx", merged))
    expected = _problems(merged)
    assert (errors, warnings) == expected
    assert any("Suppliers!B2:B3: merged cells" in line for line in errors)

    laughs = corpus.write_laughs_in_shared_strings(tmp_path / "laughs.xlsx",
                                                   tmp_path / "s2.xlsx", encoding="utf-16")
    with pytest.raises(InputError, match="declares a DTD or XML entities"):
        load(laughs)


def test_utf16_copy_stays_within_the_inflation_budget(tmp_path, monkeypatch):
    import hostile_corpus as corpus

    from resilience import workbook

    book = corpus.write_utf16(tmp_path / "utf16.xlsx",
                              corpus.write_basic(tmp_path / "utf8.xlsx"))
    with zipfile.ZipFile(book) as archive:
        declared = sum(info.file_size for info in archive.infolist())
    # the UTF-16 file passes the check of its directory; its UTF-8 copy must fit too
    monkeypatch.setattr(workbook, "MAX_INFLATED_BYTES", declared)
    load(book)
    monkeypatch.setattr(workbook, "MAX_INFLATED_BYTES", declared // 3)
    with pytest.raises(InputError, match="inflate"):
        load(book)


def test_a_part_that_is_not_valid_utf16_is_refused_plainly(tmp_path):
    import hostile_corpus as corpus

    source = corpus.write_basic(tmp_path / "utf8.xlsx")
    broken = corpus.rewrite_parts(source, tmp_path / "broken.xlsx", {
        "xl/worksheets/sheet1.xml": lambda data: corpus.to_utf16(data) + b"\x00\xd8"})
    with pytest.raises(InputError) as caught:
        load(broken)
    (line,) = map(str, caught.value.problems)
    assert line.startswith("broken.xlsx: an XML part starts as UTF-16 but is not valid "
                           "UTF-16"), line


def test_a_utf16_workbook_through_the_command_line(tmp_path):
    """validate and solve: exit 0, the non-Latin names in the JSON, the input untouched."""
    import json

    import hostile_corpus as corpus

    original = corpus.write_unicode_names(tmp_path / "utf8.xlsx")
    work = tmp_path / "work"
    work.mkdir()
    book = corpus.write_utf16(work / "utf16.xlsx", original)
    before = book.read_bytes()
    done = _cli(work, "validate", book.name)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("utf16.xlsx: valid."), done.stdout
    done = _cli(work, "solve", book.name, "-o", "plan.xlsx", "--json", "plan.json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = json.loads((work / "plan.json").read_text(encoding="utf-8"))
    names = corpus.UNICODE_NAMES
    assert {line["material"] for line in result["plan"]} == {names["material"]}
    assert {line["supplier"] for line in result["plan"]} <= {names["supplier_a"],
                                                             names["supplier_b"]}
    assert book.read_bytes() == before
    assert sorted(p.name for p in work.iterdir()) == ["plan.json", "plan.xlsx",
                                                      "utf16.xlsx"]


def test_a_utf16_plan_file_reads_as_its_utf8_original(tmp_path):
    """`evaluate --plan` reads a second workbook through the same doors."""
    import hostile_corpus as corpus

    from resilience.plan_reader import read_plan

    instance = load(corpus.write_basic(tmp_path / "book.xlsx"))
    plan = write_workbook(tmp_path / "plan.xlsx", {"Plan": [
        {"supplier": "a", "material": "gallium", "quantity": 60},
        {"supplier": "b", "material": "gallium", "quantity": 40}]})
    utf16 = corpus.write_utf16(tmp_path / "plan16.xlsx", plan, "be")
    expected = read_plan(plan, instance)
    assert read_plan(utf16, instance).lines == expected.lines
    assert [line[4] for line in expected.lines] == [60.0, 40.0]


# ---- did you mean ---------------------------------------------------------------------


def _countries(*codes: str) -> list[dict]:
    return [{"country": code, "disruption_prob": 0, "groups": "", "tariff": 0}
            for code in codes]


def test_a_near_miss_reference_names_the_id_it_probably_meant(tmp_path):
    sheets = basic_sheets(
        Materials=[{"material": "rare_earths", "demand": 10, "shortage_penalty": 100},
                   {"material": "gallium", "demand": 10, "shortage_penalty": 100},
                   {"material": "lithium", "demand": 10, "shortage_penalty": 100}],
        Countries=[*_countries("CHL", "AUS", "AUT"),
                   {"country": "CHN", "groups": "FEOC, US_FTA"}],
        Suppliers=[
            {"supplier": "a", "material": "rare earths", "country": "CHL", "unit_cost": 1,
             "capacity": 9},
            {"supplier": "b", "material": "lithum", "country": "CHI", "unit_cost": 1,
             "capacity": 9},
            {"supplier": "c", "material": "Gallium", "country": "AUX", "unit_cost": 1,
             "capacity": 9, "processing_country": "Ch-L"},
            {"supplier": "d", "material": "germanium", "country": "ZZZ", "unit_cost": 1,
             "capacity": 9},
        ],
        Policies=[{"rule": "exclude", "target": "US FTA"},
                  {"rule": "exclude", "target": "FEOCS"},
                  {"rule": "exclude", "target": "EU"}],
    )
    errors, _ = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == [
        "Suppliers!B2: unknown material (not on Materials); did you mean rare_earths? "
        "(found: 'rare earths')",
        "Suppliers!B3: unknown material (not on Materials); did you mean lithium? "
        "(found: 'lithum')",
        "Suppliers!C3: unknown country (not on Countries); did you mean CHL or CHN? "
        "(found: 'CHI')",
        "Suppliers!C4: unknown country (not on Countries); did you mean AUS or AUT? "
        "(found: 'AUX')",
        "Suppliers!F4: unknown processing country (not on Countries); did you mean CHL? "
        "(found: 'Ch-L')",
        # germanium is not a typo of gallium, nor ZZZ of anything
        "Suppliers!B5: unknown material (not on Materials) (found: 'germanium')",
        "Suppliers!C5: unknown country (not on Countries) (found: 'ZZZ')",
        "Policies!B2: target is neither a country code on Countries nor a group tag used "
        "there; did you mean US_FTA? (found: 'US FTA')",
        "Policies!B3: target is neither a country code on Countries nor a group tag used "
        "there; did you mean FEOC? (found: 'FEOCS')",
        "Policies!B4: target is neither a country code on Countries nor a group tag used "
        "there (found: 'EU')",
    ]


def test_periods_that_differ_in_their_digits_are_not_near_misses(tmp_path):
    """2028 is not a typo of 2027: a year missing from Periods is said as before."""
    sheets = basic_sheets(
        Periods=[["period"], ["FY2026"], ["FY2027"]],
        Demand=[["material", "period", "demand"], ["gallium", "FY2028", 5],
                ["gallium", "fy 2027", 5], ["gallium", "FY-2026", 5]],
    )
    errors, _ = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == [
        "Demand!B2: unknown period (not on Periods) (found: 'FY2028')",
        "Demand!B3: unknown period (not on Periods); did you mean FY2027? "
        "(found: 'fy 2027')",
        "Demand!B4: unknown period (not on Periods); did you mean FY2026? "
        "(found: 'FY-2026')",
    ]


def test_near_misses_are_looked_for_once_per_spelling(tmp_path, monkeypatch):
    """A column of 100,000 references to one unknown id costs one search, not one per
    row; and past a budget no search at all."""
    from resilience import validate

    calls = []
    real = validate.near_misses
    monkeypatch.setattr(validate, "near_misses",
                        lambda *args, **kwargs: calls.append(args[0]) or real(*args, **kwargs))
    rows = [{"supplier": f"s{i}", "material": "galium", "country": f"C{i % 300:03d}",
             "unit_cost": 1, "capacity": 9} for i in range(2_000)]
    sheets = basic_sheets(Suppliers=rows)
    errors, _ = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert len(errors) == 4_000
    assert errors[0] == ("Suppliers!B2: unknown material (not on Materials); did you mean "
                         "gallium? (found: 'galium')")
    assert calls.count("galium") == 1
    assert len(calls) == validate._SUGGESTIONS  # 300 unknown countries: 199 searched


def test_a_sheet_named_like_a_known_one_is_pointed_at(tmp_path):
    sheets = basic_sheets()
    sheets["Supplier"] = sheets.pop("Suppliers")
    sheets["Scenario"] = [{"scenario": "stop", "probability": 0.1, "country": "AAA"}]
    sheets["Notes"] = [["anything"]]
    errors, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == ["Suppliers: required sheet is missing; the sheet 'Supplier' looks "
                      "like it: rename it Suppliers"]
    assert warnings == [
        "Supplier: sheet not used by resilience; ignored; did you mean Suppliers?",
        "Scenario: sheet not used by resilience; ignored; did you mean Scenarios?",
        "Notes: sheet not used by resilience; ignored",
    ]


def test_a_renamed_header_is_connected_to_the_missing_column_it_probably_is(tmp_path):
    sheets = basic_sheets(Suppliers=[
        ["supplier", "material", "cntry", "unit price", "capacity", "processing-country",
         "comment"],
        ["a", "gallium", "AAA", 10, 1000, "BBB", "ok"],
    ])
    errors, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == [
        "Suppliers!C1: 'cntry' — did you mean country? (country is required)",
        "Suppliers!D1: 'unit price' — did you mean unit_cost? (unit_cost is required)",
    ]
    assert warnings == [
        "Suppliers!F1: unknown column, kept in the echo but not used; did you mean "
        "processing_country? (found: 'processing-country')",
        "Suppliers!G1: unknown column, kept in the echo but not used (found: 'comment')",
    ]


def test_a_header_sharing_a_word_with_one_missing_required_column(tmp_path):
    sheets = basic_sheets(Materials=[
        {"material": "gallium", "demand": 100, "penalty for shortage": 1000}])
    errors, _ = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == ["Materials!C1: 'penalty for shortage' — did you mean shortage_penalty? "
                      "(shortage_penalty is required)"]


def test_a_missing_column_with_no_look_alike_is_reported_as_before(tmp_path):
    sheets = basic_sheets(Suppliers=[["supplier", "material", "country", "capacity",
                                      "notes"], ["a", "gallium", "AAA", 1000, "x"]])
    errors, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert errors == ["Suppliers!1:1: required column unit_cost is missing"]
    assert warnings == ["Suppliers!E1: unknown column, kept in the echo but not used "
                        "(found: 'notes')"]


def test_a_near_miss_setting_name(tmp_path):
    sheets = basic_sheets(Settings=[["key", "value"], ["riskaversion", 0.2],
                                    ["colour", "red"]])
    _, warnings = _problems(write_workbook(tmp_path / "book.xlsx", sheets))
    assert warnings == [
        "Settings!A2: unknown setting, ignored (did you mean risk_aversion?) "
        "(found: 'riskaversion')",
        "Settings!A3: unknown setting, ignored (known: risk_aversion, cvar_alpha, "
        "time_limit, mip_gap, currency, discount_rate) (found: 'colour')",
    ]


def test_every_message_at_once_from_the_command_line(tmp_path):
    """Exit 2, every problem as Sheet!Cell: what is wrong, no traceback."""
    sheets = basic_sheets()
    sheets["Supplier"] = [
        ["supplier", "material", "country", "unit price", "capacity"],
        ["a", "galium", "AAB", 10, 1000]]
    sheets.pop("Suppliers")
    sheets["Countries"][0]["disruption_prob"] = 4
    sheets["Countries"][1]["tariff"] = 25
    write_workbook(tmp_path / "book.xlsx", sheets)
    done = _cli(tmp_path, "validate", "book.xlsx")
    assert done.returncode == 2, done
    lines = [line.strip() for line in done.stderr.splitlines()]
    assert lines == [
        "Invalid input: 2 problems",
        "Countries!B2: disruption_prob must be ≥ 0 and < 1: 4 = 400 %; write 0.04 or 4 % "
        "(found: 4)",
        "Suppliers: required sheet is missing; the sheet 'Supplier' looks like it: rename "
        "it Suppliers",
        "Warnings (2):",
        "Countries!D3: tariff 25 = 2,500 %; if 25 % was meant, write 0.25 or 25 %",
        "Supplier: sheet not used by resilience; ignored; did you mean Suppliers?",
    ]
    assert "Traceback" not in done.stdout + done.stderr
    # renamed, the sheet's own problems come out, near misses included
    sheets["Suppliers"] = sheets.pop("Supplier")
    sheets["Countries"][0]["disruption_prob"] = 0.04
    write_workbook(tmp_path / "book.xlsx", sheets)
    done = _cli(tmp_path, "validate", "book.xlsx")
    assert done.returncode == 2, done
    lines = [line.strip() for line in done.stderr.splitlines()]
    assert lines[:4] == [
        "Invalid input: 3 problems",
        "Suppliers!D1: 'unit price' — did you mean unit_cost? (unit_cost is required)",
        "Suppliers!B2: unknown material (not on Materials); did you mean gallium? "
        "(found: 'galium')",
        "Suppliers!C2: unknown country (not on Countries); did you mean AAA? (found: "
        "'AAB')",
    ]
    assert "Traceback" not in done.stdout + done.stderr
