"""The blank input workbook (`resilience template BOOK.xlsx`), generated from the schema.

Everything here is derived from ``schema.SHEETS`` so the template, the reader and the
validator cannot drift apart: a column added to the schema appears in the template with
its header note, its dropdown or number check, and its line on the Instructions sheet.

Choices made for people filling the workbook in Excel or LibreOffice:

- Row 1 of every data sheet holds exactly the schema's header names, so a filled template
  is read as is. Units, defaults and meanings go into cell comments on the headers, never
  into a note row the reader would take for data.
- Dropdowns come from data validation. Fixed vocabularies (``choice`` columns) are
  strict. References to Materials / Countries list the ids typed on those sheets but only
  *warn* on anything else: an id may be typed before it is defined, a policy target may be
  a group tag, and ``resilience validate`` is the real check.
- A list validation cannot combine a constant (``*``) with a range, so columns that admit
  ``*`` draw on a hidden ``Lists`` sheet: ``*`` followed by formulas mirroring the ids
  (``=IF(Materials!$A2="","",Materials!$A2)``). Plain ranges and ``IF`` work in Excel and
  LibreOffice alike; no dynamic (OFFSET / spill) ranges are used.
- Number checks follow the schema bounds. Plain ``number`` columns stop bad entries;
  ``integer`` columns (a project's lead_time) accept whole numbers only; ``fraction``
  columns only warn, because text such as ``65%`` (which the reader accepts) fails a
  decimal check.
- Period references (offer windows, from_period, a scenario's or a demand row's period)
  are dropdowns of the ids typed on Periods, like references to Materials and Countries.
- The only formulas are our own, on the Lists sheet; any other text starting with ``=`` is
  forced to be text.
- No Scenarios sheet (``LEFT_OUT``): an empty one means baseline only, so a team that
  filled disruption_prob on Countries got no risk at all. Without it, one scenario per
  country is generated from disruption_prob; the Instructions sheet says how to add one
  (its name, its headers, and what an empty one means).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from resilience.schema import SHEETS, Column, Sheet, describe_kind

INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"  # hidden: feeds the dropdowns of columns that admit *
LAST_ROW = 1000  # dropdowns and number checks cover rows 2..LAST_ROW
# Sheets the template leaves out, with their instructions saying how to add them. An
# empty Scenarios sheet means baseline only (SPEC section 2): shipped blank, it silently
# turned every disruption_prob typed on Countries into nothing.
LEFT_OUT = ("Scenarios",)

_AUTHOR = "resilience"
_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_TEXT_FORMAT = "@"  # ids stay exactly as typed: no dates from "1-2", no lost leading zeros
# Excel refuses (or "repairs") files whose validation texts exceed these lengths.
_MAX_TITLE, _MAX_PROMPT, _MAX_ERROR = 32, 255, 225
_MAX_INLINE_LIST = 255  # a literal list formula ("a,b,c") is limited to 255 characters
# Validation formulas are stored without a leading "=", as Excel itself writes them.

_SHEET_NOTES = {
    "Suppliers": "The combination supplier, material, country, processing_country must be "
                 "unique, and min_order must not exceed capacity. Over a horizon: "
                 "available_from / available_until bound the periods an offer delivers in; "
                 "a capex makes the offer a project, built once (capex paid in the period "
                 "the build starts) and online lead_time periods later; spot_capacity is "
                 "bought without a contract in a disruption, at the scenario's price_surge.",
    "Policies": "Rules: max_country_share and min/max_group_share take a share of demand "
                "(0.65 or 65%); max_hhi takes 0-10,000 with target * or blank; exclude "
                "takes no value and needs a country or group target.",
    "Scenarios": "This template has no Scenarios sheet, on purpose, so scenarios are "
                 "generated from disruption_prob (each country with disruption_prob > 0 "
                 "alone disrupted, with that probability). To write your own scenarios "
                 "instead, add a sheet named Scenarios with these headers in row 1: "
                 "{headers} ({required} are required; the others may be left out). "
                 "Careful: a Scenarios sheet with headers but no rows means no disruption "
                 "at all, and disruption_prob on Countries is then ignored. Probabilities of "
                 "the scenarios must sum to at most 1; the rest is the no-disruption "
                 "baseline (a reserved name). With Periods, a row with a period applies only "
                 "in that period (blank: in every period), and the sum is checked in each "
                 "period.",
    "Periods": "Optional: fill it to plan over several periods (e.g. 2026, 2027, ...), one "
               "row per period in time order. Left empty, the workbook plans one period. "
               "Period ids such as 2026 may be typed as numbers.",
    "Demand": "Optional, with Periods: demand of a material in a period; a pair not listed "
              "takes Materials.demand. A row with a what-if name replaces the base row of "
              "its material and period when that what-if is applied.",
    "WhatIfs": "where is a filter such as country=CHN; material=gallium. An edit that "
               "matches no row is an error.",
    "Settings": "A key | value sheet: one row per setting (the keys are the Settings rows "
                "of the table below), pre-filled with the defaults; clear a value to use "
                "the default.",
}


def write_template(path: Path) -> None:
    """Write a blank input workbook to ``path``, replacing whatever is there.

    The path is taken as given (any name, possibly an existing temporary file): the CLI
    calls this through ``report.files.write_atomically``, which hands over a ``.tmp`` file
    beside the target and owns the policies around it (never overwrite an existing
    workbook, rename into place only once the file is complete).
    """
    build_template().save(Path(path))


def build_template() -> Workbook:
    """The template as an openpyxl Workbook, for callers that save it themselves."""
    book = Workbook()
    book.remove(book.active)
    book.properties.creator = _AUTHOR
    book.properties.title = "resilience input workbook"
    instructions = book.create_sheet(INSTRUCTIONS_SHEET)
    lists = _Lists(book)
    for sheet in template_sheets():
        ws = book.create_sheet(sheet.name)
        if sheet.key_value:
            _key_value_sheet(ws, sheet, lists)
        else:
            _table_sheet(ws, sheet, lists)
    _instructions(instructions)
    lists.finish()
    book.active = 0
    return book


def template_sheets() -> list[Sheet]:
    """The schema's sheets the template carries, in order: all but `LEFT_OUT`."""
    return [sheet for sheet in SHEETS if sheet.name not in LEFT_OUT]


# ---- the data sheets ------------------------------------------------------------------


def _table_sheet(ws: Worksheet, sheet: Sheet, lists: _Lists) -> None:
    """Headers with notes, then one validation per column over rows 2..LAST_ROW."""
    for j, column in enumerate(sheet.columns, start=1):
        letter = get_column_letter(j)
        cell = ws.cell(row=1, column=j)
        _put(cell, column.name)
        _style_header(cell)
        cell.comment = _comment(_column_note(column))
        dimension = ws.column_dimensions[letter]
        dimension.width = _width(column)
        if column.kind in ("id", "ref"):
            dimension.number_format = _TEXT_FORMAT
        validation = _validation(column, f"{letter}2", lists)
        if validation is not None:
            ws.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{LAST_ROW}")
    ws.freeze_panes = "A2"


def _key_value_sheet(ws: Worksheet, sheet: Sheet, lists: _Lists) -> None:
    """Settings: a key | value header, then one row per key holding its default."""
    for j, name in enumerate(("key", "value"), start=1):
        cell = ws.cell(row=1, column=j)
        _put(cell, name)
        _style_header(cell)
    ws["A1"].comment = _comment("The setting's name; one row per setting.")
    ws["B1"].comment = _comment("Its value; blank = the default. Command-line options "
                                "override these.")
    keys = DataValidation(type="list", formula1=lists.source([c.name for c in sheet.columns]),
                          allow_blank=True)
    _messages(keys, "key", "One of the setting names.", "Unknown setting",
              "Not a known setting name; resilience ignores it.", strict=True)
    ws.add_data_validation(keys)
    keys.add(f"A2:A{len(sheet.columns) + 20}")
    for i, column in enumerate(sheet.columns, start=2):
        key_cell = ws.cell(row=i, column=1)
        _put(key_cell, column.name)
        key_cell.comment = _comment(_column_note(column))
        if column.default not in (None, ""):
            _put(ws.cell(row=i, column=2), _plain(column.default))
        validation = _validation(column, f"B{i}", lists)
        if validation is not None:
            ws.add_data_validation(validation)
            validation.add(f"B{i}")
    ws.column_dimensions["A"].width = max(len(c.name) for c in sheet.columns) + 4
    ws.column_dimensions["B"].width = 14
    ws.freeze_panes = "A2"


def _validation(column: Column, first_cell: str, lists: _Lists) -> DataValidation | None:
    """The dropdown or number check for one column; ``first_cell`` anchors relative refs."""
    name = column.name
    if column.kind == "choice":
        validation = DataValidation(type="list", formula1=lists.source(column.choices),
                                    allow_blank=True)
        _messages(validation, name, _prompt(column, f"Pick one: {', '.join(column.choices)}."),
                  "Not allowed", f"{name} must be one of: {', '.join(column.choices)}.",
                  strict=True)
        return validation
    if column.kind == "ref":
        source = lists.star_ids(column.ref_sheet) if column.allow_star else \
            _id_range(column.ref_sheet)
        offered = f"an id from {column.ref_sheet}" + (", or *" if column.allow_star else "")
        validation = DataValidation(type="list", formula1=source, allow_blank=True)
        _messages(validation, name, _prompt(column, f"Pick {offered}."), "Not in the list",
                  f"Not {offered}. Keep it only if that is intended (see the column's "
                  "note); resilience validate checks every reference.", strict=False)
        return validation
    if column.kind in ("number", "fraction", "integer") and (column.minimum is not None
                                                              or column.maximum is not None):
        whole = column.kind == "integer"
        validation = _number_validation(column, first_cell, "whole" if whole else "decimal")
        fraction = column.kind == "fraction"
        hint = " Write 0.65 or 65%." if fraction else ""
        number = "a whole number" if whole else "a number"
        _messages(validation, name,
                  _prompt(column, f"{number.capitalize()} {column.bounds_text()}.{hint}"),
                  "Out of bounds", f"{name} must be {number} {column.bounds_text()}.",
                  strict=not fraction)
        return validation
    return None


def _number_validation(column: Column, first_cell: str, kind: str = "decimal"
                       ) -> DataValidation:
    """Decimal (or whole-number) validation with the schema's bounds. Excel's ``between``
    is inclusive, so a two-sided range with an open end becomes a custom formula on the
    anchor cell."""
    lo, hi = column.minimum, column.maximum
    if lo is not None and hi is not None:
        if column.min_exclusive or column.max_exclusive:
            ref = first_cell.replace("$", "")
            tests = [f"ISNUMBER({ref})",
                     f"{ref}{'>' if column.min_exclusive else '>='}{_num(lo)}",
                     f"{ref}{'<' if column.max_exclusive else '<='}{_num(hi)}"]
            return DataValidation(type="custom", formula1=f"AND({','.join(tests)})",
                                  allow_blank=True)
        return DataValidation(type=kind, operator="between", formula1=_num(lo),
                              formula2=_num(hi), allow_blank=True)
    if lo is not None:
        operator = "greaterThan" if column.min_exclusive else "greaterThanOrEqual"
        return DataValidation(type=kind, operator=operator, formula1=_num(lo),
                              allow_blank=True)
    operator = "lessThan" if column.max_exclusive else "lessThanOrEqual"
    return DataValidation(type=kind, operator=operator, formula1=_num(hi),
                          allow_blank=True)


def _messages(validation: DataValidation, title: str, prompt: str, error_title: str,
              error: str, strict: bool) -> None:
    """Input message and error alert; ``strict`` stops bad entries, else only warns."""
    validation.showInputMessage = True
    validation.promptTitle = _clip(title, _MAX_TITLE)
    validation.prompt = _clip(prompt, _MAX_PROMPT)
    validation.showErrorMessage = True
    validation.errorStyle = "stop" if strict else "warning"
    validation.errorTitle = _clip(error_title, _MAX_TITLE)
    validation.error = _clip(error, _MAX_ERROR)


def _prompt(column: Column, rule: str) -> str:
    blank = "" if column.default in (None, "") else f" Blank = {_plain(column.default)}."
    return f"{column.description}. {rule}{blank}"


def _id_range(sheet_name: str) -> str:
    """The id column of a referenced sheet, rows 2..LAST_ROW."""
    letter = _id_letter(sheet_name)
    return f"{quote_sheetname(sheet_name)}!${letter}$2:${letter}${LAST_ROW}"


def _id_letter(sheet_name: str) -> str:
    for sheet in SHEETS:
        if sheet.name == sheet_name:
            for j, column in enumerate(sheet.columns, start=1):
                if column.kind == "id":
                    return get_column_letter(j)
    raise KeyError(f"no id column on {sheet_name}")


class _Lists:
    """The hidden sheet behind dropdowns that no plain range or literal list can give."""

    def __init__(self, book: Workbook) -> None:
        self.book = book
        self.ws: Worksheet | None = None
        self.columns: dict[object, str] = {}

    def _column(self, key: object, header: str) -> tuple[str, bool]:
        if key in self.columns:
            return self.columns[key], False
        if self.ws is None:
            self.ws = self.book.create_sheet(LISTS_SHEET)
            self.ws.sheet_state = "hidden"
        j = len(self.columns) + 1
        letter = get_column_letter(j)
        self.columns[key] = letter
        cell = self.ws.cell(row=1, column=j)
        _put(cell, header)
        _style_header(cell)
        self.ws.column_dimensions[letter].width = max(len(header) + 2, 14)
        return letter, True

    def star_ids(self, sheet_name: str) -> str:
        """``*`` then a mirror of the ids on ``sheet_name``: the source of a * dropdown."""
        letter, new = self._column(("star", sheet_name), f"{sheet_name} or *")
        if new:
            assert self.ws is not None
            self.ws[f"{letter}2"] = "*"
            source_letter = _id_letter(sheet_name)
            source = quote_sheetname(sheet_name)
            for r in range(2, LAST_ROW + 1):
                ref = f"{source}!${source_letter}{r}"
                self.ws[f"{letter}{r + 1}"] = f'=IF({ref}="","",{ref})'
        return f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${LAST_ROW + 1}"

    def source(self, choices: Sequence[str]) -> str:
        """A list formula for fixed choices: inline when Excel allows, else on Lists."""
        inline = '"' + ",".join(choices) + '"'
        if len(inline) <= _MAX_INLINE_LIST and not any(
                "," in c or '"' in c for c in choices):
            return inline
        letter, new = self._column(("choices", tuple(choices)), "choices")
        if new:
            assert self.ws is not None
            for r, choice in enumerate(choices, start=2):
                _put(self.ws[f"{letter}{r}"], choice)
        last = len(choices) + 1
        return f"{quote_sheetname(LISTS_SHEET)}!${letter}$2:${letter}${last}"

    def finish(self) -> None:
        """Keep Lists last, out of the way of the sheets people fill."""
        if self.ws is not None:
            self.book.move_sheet(self.ws, offset=len(self.book.sheetnames) - 1
                                 - self.book.index(self.ws))


# ---- the Instructions sheet -----------------------------------------------------------

_TABLE_HEADERS = ("sheet", "column", "type", "unit", "default", "required",
                  "allowed values / bounds", "description")
_TABLE_WIDTHS = (12, 20, 24, 14, 10, 10, 34, 80)
_LINE = 120  # characters per instruction line; lines overflow into the empty cells


def _instructions(ws: Worksheet) -> None:
    """What the workbook is, one paragraph per sheet, and every column from the schema."""
    row = 1
    title = ws.cell(row=row, column=1)
    _put(title, "resilience input workbook")
    title.font = Font(bold=True, size=14)
    row += 2
    intro = (
        "This workbook is the input of resilience, a supply-chain resilience optimizer: "
        "it decides how much of each material to buy from which supplier in which country, "
        "trading cost against concentration and disruption risk. Fill Materials, Countries "
        "and Suppliers (required) and, if needed, Policies, Periods and Demand (to plan "
        "over several periods), WhatIfs and Settings. Disruption scenarios are generated "
        "from disruption_prob on Countries; to write your own, add a Scenarios sheet (see "
        "Scenarios below). "
        "Keep row 1 of each sheet as it is: it names the columns (hover a header for its "
        "meaning, unit and default). Enter one record per row from row 2; blank rows are "
        "skipped. Dropdowns offer the allowed values and the ids typed on Materials, "
        "Countries and Periods; number cells check their bounds. Fractions (probabilities, "
        "tariffs, shares) may be written 0.65 or 65%; a plain 25 is 2,500 %, which validate "
        "warns about (or refuses where a fraction cannot exceed 1). Ids are compared ignoring "
        "case. Check the "
        f"workbook with: resilience validate BOOK.xlsx (it lists every problem as "
        f"Sheet!Cell). This {INSTRUCTIONS_SHEET} sheet and the hidden {LISTS_SHEET} sheet "
        "(which feeds the dropdowns) are not read by resilience."
    )
    row = _paragraph(ws, row, intro)
    row += 1
    for sheet in SHEETS:
        head = ws.cell(row=row, column=1)
        need = "required" if sheet.required else "optional"
        if sheet.name in LEFT_OUT:
            need += "; not in this template: add it to use it"
        _put(head, f"{sheet.name} ({need})")
        head.font = _HEADER_FONT
        row += 1
        text = sheet.description
        if sheet.name in _SHEET_NOTES:
            text += " " + _sheet_note(sheet)
        row = _paragraph(ws, row, text)
    row += 1
    top = row
    for j, header in enumerate(_TABLE_HEADERS, start=1):
        cell = ws.cell(row=row, column=j)
        _put(cell, header)
        _style_header(cell)
    for sheet in SHEETS:
        for column in sheet.columns:
            row += 1
            values = (sheet.name, column.name, _kind_text(column), column.unit,
                      _default_text(column), _required_text(column), _allowed_text(column),
                      column.description)
            for j, value in enumerate(values, start=1):
                cell = ws.cell(row=row, column=j)
                _put(cell, value)
                cell.alignment = Alignment(vertical="top", wrap_text=(j == len(values)))
    ws.auto_filter.ref = f"A{top}:{get_column_letter(len(_TABLE_HEADERS))}{row}"
    for j, width in enumerate(_TABLE_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(j)].width = width


def _sheet_note(sheet: Sheet) -> str:
    """The sheet's note, with the headers of a sheet the template leaves out."""
    required = [c.name for c in sheet.columns if c.required]
    return _SHEET_NOTES[sheet.name].format(
        headers=", ".join(c.name for c in sheet.columns),
        required=", ".join(required[:-1]) + " and " + required[-1] if len(required) > 1
        else "".join(required))


def _paragraph(ws: Worksheet, row: int, text: str) -> int:
    """Short lines in column A, one per row: wrapped merged cells do not grow in Excel."""
    for line in textwrap.wrap(text, _LINE):
        _put(ws.cell(row=row, column=1), line)
        row += 1
    return row


# ---- texts ----------------------------------------------------------------------------


def _kind_text(column: Column) -> str:
    if column.kind == "ref":
        return f"{column.ref_sheet} id" + (" or *" if column.allow_star else "")
    return {
        "id": "id (text)",
        "text": "text",
        "number": "number",
        "integer": "whole number",
        "fraction": "fraction (0.65, 65% or a % cell)",
        "choice": "choice",
    }.get(column.kind, column.kind)


def _default_text(column: Column) -> str:
    if column.mandatory_value:
        return "none (required)"
    if column.default is None or column.default == "":
        return "blank"
    return str(_plain(column.default))


def _required_text(column: Column) -> str:
    if column.mandatory_value:
        return "yes"
    return "column only" if column.required else "no"


def _allowed_text(column: Column) -> str:
    if column.choices:
        return ", ".join(column.choices)
    if column.kind == "ref":
        return describe_kind(column)  # the docs' wording, e.g. a target may be a group tag
    return column.bounds_text()


def _column_note(column: Column) -> str:
    lines = [column.description, "", f"Type: {describe_kind(column)}"]  # as in the docs
    if column.unit:
        lines.append(f"Unit: {column.unit}")
    lines.append(f"Default: {_default_text(column)}")
    lines.append(f"Required: {_required_text(column)}")
    return "\n".join(lines)


def _comment(text: str) -> Comment:
    comment = Comment(text, _AUTHOR)
    lines = sum(max(1, -(-len(part) // 45)) for part in text.split("\n"))
    comment.width = 300
    comment.height = max(80, 16 * lines + 10)
    return comment


# ---- cells ----------------------------------------------------------------------------


def _put(cell: Cell, value: object) -> None:
    """Write a value; text is always text, even when it starts with '='."""
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"


def _style_header(cell: Cell) -> None:
    cell.font = _HEADER_FONT
    cell.fill = _HEADER_FILL
    cell.alignment = Alignment(vertical="top")


def _width(column: Column) -> float:
    by_kind = {"id": 16, "ref": 16, "text": 20, "number": 13, "integer": 12, "fraction": 14,
               "choice": 12}
    width = max(len(column.name) + 4, by_kind.get(column.kind, 14))
    if column.choices:
        width = max(width, max(len(c) for c in column.choices) + 4)
    return min(width, 40)


def _plain(value: object) -> object:
    """Whole floats as ints (60 rather than 60.0) for display and pre-filled cells."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _num(value: float) -> str:
    return format(value, "g")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
