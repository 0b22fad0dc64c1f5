"""The blank template: generated from the schema, readable by our reader once filled."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from resilience.domain import Settings
from resilience.errors import InputError
from resilience.schema import SCENARIOS, SETTING_KEYS, SHEETS, Column
from resilience.template import (
    INSTRUCTIONS_SHEET,
    LAST_ROW,
    LEFT_OUT,
    LISTS_SHEET,
    template_sheets,
    write_template,
)
from resilience.validate import load

DATA_SHEETS = [s for s in template_sheets() if not s.key_value]


@pytest.fixture()
def template(tmp_path: Path) -> Path:
    path = tmp_path / "BOOK.xlsx"
    write_template(path)
    return path


def _validation(ws: Worksheet, cell: str) -> DataValidation | None:
    found = [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]
    assert len(found) <= 1, f"{ws.title}!{cell} has {len(found)} validations"
    return found[0] if found else None


def _letter(sheet_columns: tuple[Column, ...], name: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter([c.name for c in sheet_columns].index(name) + 1)


# ---- structure ------------------------------------------------------------------------


def test_sheets_in_order_with_lists_hidden_last(template: Path) -> None:
    book = load_workbook(template)
    assert book.sheetnames == [INSTRUCTIONS_SHEET, *[s.name for s in SHEETS
                                                     if s.name != "Scenarios"], LISTS_SHEET]
    assert book[LISTS_SHEET].sheet_state == "hidden"
    assert book.active.title == INSTRUCTIONS_SHEET


def test_header_row_is_the_schema_with_notes_and_frozen(template: Path) -> None:
    book = load_workbook(template)
    for sheet in DATA_SHEETS:
        ws = book[sheet.name]
        headers = [c.value for c in ws[1]]
        assert headers == [c.name for c in sheet.columns], sheet.name
        for cell, column in zip(ws[1], sheet.columns, strict=True):
            assert cell.font.b, f"{sheet.name}!{cell.coordinate} not bold"
            assert cell.comment is not None and column.description in cell.comment.text
            if column.unit:
                assert column.unit in cell.comment.text
        assert ws.freeze_panes == "A2"
        assert ws.max_row == 1, f"{sheet.name} has data rows in a blank template"


def test_settings_is_key_value_with_defaults(template: Path) -> None:
    ws = load_workbook(template)["Settings"]
    assert [c.value for c in ws[1]] == ["key", "value"]
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert list(rows) == [c.name for c in SETTING_KEYS.columns]
    for column in SETTING_KEYS.columns:
        if isinstance(column.default, float):
            assert rows[column.name] == pytest.approx(column.default)
        else:
            assert rows[column.name] == column.default


def test_dropdowns_for_choice_and_ref_columns(template: Path) -> None:
    book = load_workbook(template)
    lists = book[LISTS_SHEET]
    for sheet in DATA_SHEETS:
        ws = book[sheet.name]
        for column in sheet.columns:
            if column.kind not in ("choice", "ref"):
                continue
            letter = _letter(sheet.columns, column.name)
            dv = _validation(ws, f"{letter}2")
            assert dv is not None and dv.type == "list", f"{sheet.name}.{column.name}"
            assert f"{letter}{LAST_ROW}" in dv.sqref and f"{letter}1" not in dv.sqref
            assert not dv.formula1.startswith("=")
            if column.kind == "choice":
                assert dv.formula1 == '"' + ",".join(column.choices) + '"'
                assert dv.errorStyle == "stop"
            elif not column.allow_star:
                assert dv.formula1 == f"'{column.ref_sheet}'!$A$2:$A${LAST_ROW}"
            else:
                # * then a mirror of the referenced ids, on the hidden Lists sheet
                assert dv.formula1.startswith(f"'{LISTS_SHEET}'!$")
                source = dv.formula1.split("!")[1].replace("$", "")
                first = source.split(":")[0]
                col = first.rstrip("0123456789")
                assert lists[first].value == "*"
                assert lists[f"{col}3"].value == (
                    f"=IF('{column.ref_sheet}'!$A2=\"\",\"\",'{column.ref_sheet}'!$A2)")
                assert source.split(":")[1] == f"{col}{LAST_ROW + 1}"
            if column.kind == "ref":
                # a reference may be typed before its id exists, or be a group tag
                assert dv.errorStyle == "warning"


def test_number_validation_follows_bounds(template: Path) -> None:
    book = load_workbook(template)
    checked = 0
    for sheet in DATA_SHEETS:
        ws = book[sheet.name]
        for column in sheet.columns:
            letter = _letter(sheet.columns, column.name)
            dv = _validation(ws, f"{letter}2")
            bounded = column.minimum is not None or column.maximum is not None
            if column.kind not in ("number", "fraction"):
                continue
            if not bounded:
                assert dv is None
                continue
            checked += 1
            assert dv is not None and dv.type in ("decimal", "custom")
            assert dv.showErrorMessage and dv.error
            assert dv.errorStyle == ("warning" if column.kind == "fraction" else "stop")
            assert f"{letter}{LAST_ROW}" in dv.sqref
    assert checked >= 10
    materials = book["Materials"]
    demand = _validation(materials, "C2")
    assert (demand.type, demand.operator, demand.formula1) == ("decimal", "greaterThan", "0")
    prob = _validation(book["Countries"], "C2")  # [0, 1): between is inclusive, so custom
    assert prob.type == "custom" and prob.formula1 == "AND(ISNUMBER(C2),C2>=0,C2<1)"
    # a fraction with no upper bound (a tariff of 1.5 is legal): only a lower one
    tariff = _validation(book["Countries"], "E2")
    assert (tariff.operator, tariff.formula1, tariff.errorStyle) == (
        "greaterThanOrEqual", "0", "warning")
    settings = book["Settings"]
    alpha_row = 2 + [c.name for c in SETTING_KEYS.columns].index("cvar_alpha")
    alpha = _validation(settings, f"B{alpha_row}")
    assert alpha.formula1 == f"AND(ISNUMBER(B{alpha_row}),B{alpha_row}>0,B{alpha_row}<1)"


def test_validation_texts_fit_excel_limits(template: Path) -> None:
    book = load_workbook(template)
    for ws in book.worksheets:
        for dv in ws.data_validations.dataValidation:
            assert len(dv.promptTitle or "") <= 32 and len(dv.errorTitle or "") <= 32
            assert len(dv.prompt or "") <= 255 and len(dv.error or "") <= 225
            if dv.type == "list" and dv.formula1.startswith('"'):
                assert len(dv.formula1) <= 255


def test_instructions_mention_every_column(template: Path) -> None:
    ws = load_workbook(template)[INSTRUCTIONS_SHEET]
    rows = [r for r in ws.iter_rows(values_only=True)]
    text = "\n".join(str(v) for r in rows for v in r if v is not None)
    header = ("sheet", "column", "type", "unit", "default", "required",
              "allowed values / bounds", "description")
    top = next(i for i, r in enumerate(rows) if tuple(r[:8]) == header)
    table = {(r[0], r[1]): r for r in rows[top + 1:] if r[0]}
    for sheet in SHEETS:
        assert sheet.name in text and sheet.description[:40] in text
        for column in sheet.columns:
            row = table[(sheet.name, column.name)]
            assert row[7] == column.description
            if column.choices:
                assert all(c in row[6] for c in column.choices)
            if column.minimum is not None or column.maximum is not None:
                assert row[6] == column.bounds_text()
    assert table[("Materials", "demand")][5] == "yes"
    assert table[("Materials", "demand")][4] == "none (required)"
    assert table[("Policies", "stage")][4] == "both"
    assert table[("Countries", "name")][4] == "blank"
    # the sheet left out is described, with how to add it
    assert f"{SCENARIOS.name} (optional; not in this template: add it to use it)" in text


def test_no_scenarios_sheet_and_how_to_add_one(template: Path) -> None:
    """An empty Scenarios sheet means baseline only (SPEC section 2): a template shipping
    one turned every disruption_prob typed on Countries into no risk at all, silently. The
    Instructions say how to add the sheet: its name, its headers, what an empty one means."""
    book = load_workbook(template)
    assert LEFT_OUT == ("Scenarios",) and "Scenarios" not in book.sheetnames
    lines = [r[0] for r in book[INSTRUCTIONS_SHEET].iter_rows(max_col=1, values_only=True)
             if r[0]]
    text = " ".join(lines)
    assert "add a sheet named Scenarios with these headers in row 1: scenario, " \
        "probability, country, material, capacity_factor, whatif, period, price_surge " \
        "(scenario, probability and country are required" in text
    assert "a Scenarios sheet with headers but no rows means no disruption at all, and " \
        "disruption_prob on Countries is then ignored" in text
    assert "Disruption scenarios are generated from disruption_prob on Countries" in text
    # the column table still documents every Scenarios column
    rows = list(book[INSTRUCTIONS_SHEET].iter_rows(values_only=True))
    assert [r[1] for r in rows if r[0] == "Scenarios"] == [c.name for c in SCENARIOS.columns]


def test_no_formulas_outside_lists(template: Path) -> None:
    book = load_workbook(template)
    for ws in book.worksheets:
        if ws.title == LISTS_SHEET:
            continue
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{ws.title}!{cell.coordinate}"


def test_cli_writes_once_and_never_overwrites(tmp_path: Path) -> None:
    """Through the command: atomic write via a .tmp beside the target, no overwrite."""
    from typer.testing import CliRunner

    from resilience.cli import app

    path = tmp_path / "BOOK.xlsx"
    first = CliRunner().invoke(app, ["template", str(path)])
    assert first.exit_code == 0, first.output
    assert load_workbook(path).sheetnames[0] == INSTRUCTIONS_SHEET
    path.write_bytes(b"someone's work")
    second = CliRunner().invoke(app, ["template", str(path)])
    assert second.exit_code == 1
    assert path.read_bytes() == b"someone's work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["BOOK.xlsx"]


# ---- filled and validated -------------------------------------------------------------


def _append(ws: Worksheet, rows: list[dict]) -> None:
    """Write records under the header by column name, as a person filling it would."""
    headers = [c.value for c in ws[1]]
    for record in rows:
        r = ws.max_row + 1
        for name, value in record.items():
            ws.cell(row=r, column=headers.index(name) + 1, value=value)


def _fill(path: Path, scenarios: bool | None) -> None:
    """Fill the blank template; `scenarios`: None adds no Scenarios sheet, False an empty
    one (headers only), True one with a row."""
    book = load_workbook(path)
    _append(book["Materials"], [
        {"material": "gallium", "unit": "t", "demand": 100, "shortage_penalty": 5000,
         "stockpile_cost": 2},
        {"material": "germanium", "unit": "t", "demand": 40, "shortage_penalty": 8000},
    ])
    _append(book["Countries"], [
        {"country": "CHN", "name": "China", "disruption_prob": 0.1, "groups": "FEOC"},
        {"country": "DEU", "name": "Germany", "disruption_prob": "2%", "groups": "EU, NATO",
         "tariff": 0.05},
        {"country": "CAN", "name": "Canada", "groups": "NATO"},
    ])
    _append(book["Suppliers"], [
        {"supplier": "s1", "material": "gallium", "country": "CHN", "unit_cost": 10,
         "capacity": 200},
        {"supplier": "s2", "material": "gallium", "country": "CAN",
         "processing_country": "DEU", "unit_cost": 14, "capacity": 80, "min_order": 10},
        {"supplier": "s3", "material": "germanium", "country": "DEU", "unit_cost": 30,
         "capacity": 50, "reserve_cost": 3, "tariff": "0%"},
    ])
    _append(book["Policies"], [
        {"rule": "max_country_share", "material": "*", "target": "CHN", "value": "65%"},
        {"rule": "exclude", "material": "gallium", "target": "FEOC", "stage": "processing",
         "strategy": "friendshore"},
    ])
    if scenarios is not None:  # added by hand, as the Instructions say
        ws = book.create_sheet("Scenarios")
        ws.append([c.name for c in SCENARIOS.columns])
        if scenarios:
            _append(ws, [
                {"scenario": "china_ban", "probability": 0.05, "country": "CHN",
                 "material": "gallium"},
            ])
    book.save(path)


def test_filled_template_loads_clean(template: Path) -> None:
    _fill(template, scenarios=True)
    instance = load(template)
    assert [m.id for m in instance.materials] == ["gallium", "germanium"]
    assert [c.id for c in instance.countries] == ["CHN", "DEU", "CAN"]
    assert instance.countries[1].disruption_prob == pytest.approx(0.02)
    assert len(instance.offers) == 3
    assert instance.offers[1].processing_country == "DEU"
    assert instance.offers[1].tariff == pytest.approx(0.05)
    assert len(instance.policies) == 2
    assert instance.policies[0].value == pytest.approx(0.65)
    assert (instance.policies[1].target_kind, instance.policies[1].stage) == \
        ("group", "processing")
    assert [s.name for s in instance.scenarios()] == ["china_ban", "baseline"]
    assert instance.settings == Settings()  # pre-filled defaults read back as defaults
    assert instance.whatif_edits == ()
    # the template's helper sheets (Instructions, Lists) are read past silently
    assert instance.warnings == ()


def test_filled_template_generates_scenarios_from_disruption_prob(template: Path) -> None:
    """As shipped (no Scenarios sheet), the disruption probabilities typed on Countries
    are the risk: one scenario per country with p > 0, and no warning."""
    _fill(template, scenarios=None)
    instance = load(template)
    assert instance.scenario_rows is None
    assert [(s.name, s.probability) for s in instance.scenarios()] == [
        ("CHN", pytest.approx(0.1)), ("DEU", pytest.approx(0.02)),
        ("baseline", pytest.approx(0.88))]
    assert instance.warnings == ()


def test_an_added_empty_scenarios_sheet_means_baseline_only(template: Path) -> None:
    """The reader's rule (SPEC section 2) that the Instructions sheet warns about, and
    validate too."""
    _fill(template, scenarios=False)
    instance = load(template)
    assert instance.scenario_rows == ()
    assert [s.name for s in instance.scenarios()] == ["baseline"]
    assert tuple(map(str, instance.warnings)) == (
        "Scenarios: the sheet has no scenarios, so only the baseline is used and "
        "disruption_prob is ignored; delete the sheet to generate one scenario per "
        "country from disruption_prob",)


def test_unfilled_template_fails_cleanly(template: Path) -> None:
    with pytest.raises(InputError) as caught:
        load(template)
    errors = [p for p in caught.value.problems if not p.warning]
    assert [str(p) for p in errors] == ["Suppliers: the sheet has no offers"]
