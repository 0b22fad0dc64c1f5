"""The look of the report and a small writer for openpyxl's write-only sheets.

Write-only sheets stream their rows, so everything above the rows (column widths,
frozen panes, page setup) is set when the sheet is opened, and each row is written once,
top to bottom. `Sheet` keeps count of the rows, so tables, charts and conditional
formats can be placed by row number, and hands long tables to `bulk` to stream.
"""

from __future__ import annotations

import copy
import re
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from resilience.report.bulk import BulkRows, clean_text
from resilience.report.cells import set_value

# Number formats. Zero shows as a dash where most values are zero (scenario tables).
MONEY = "#,##0.00"
MONEY_ROUND = "#,##0"
QUANTITY = "#,##0.00"
PERCENT = "0.0%"
PERCENT_FINE = "0.00%"
HHI = "#,##0"
SECONDS = "0.00"
FRACTION = "0.00"
QUANTITY_DASH = '#,##0.00;-#,##0.00;"–"'
MONEY_DASH = '#,##0.00;-#,##0.00;"–"'
PERCENT_DASH = '0.0%;-0.0%;"–"'

ACCENT = "1F4E79"
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
SECTION_FILL = PatternFill("solid", fgColor="F2F2F2")
BINDING_FILL = PatternFill("solid", fgColor="FCE4D6")
THIN = Side(style="thin", color="8EA9C1")


@dataclass(frozen=True)
class Look:
    font: Font | None = None
    fill: PatternFill | None = None
    number_format: str | None = None
    alignment: Alignment | None = None
    border: Border | None = None


LOOKS: dict[str, Look] = {
    "plain": Look(),
    "title": Look(font=Font(bold=True, size=14, color=ACCENT)),
    "subtitle": Look(font=Font(italic=True, color="595959")),
    "note": Look(font=Font(italic=True, size=9, color="595959")),
    "note_indent": Look(font=Font(italic=True, size=9, color="595959"),
                        alignment=Alignment(indent=1)),
    "value_left": Look(alignment=Alignment(horizontal="left")),
    "section": Look(font=Font(bold=True, color=ACCENT), fill=SECTION_FILL),
    "header": Look(font=Font(bold=True), fill=HEADER_FILL,
                   alignment=Alignment(vertical="bottom"), border=Border(bottom=THIN)),
    "header_wrap": Look(font=Font(bold=True), fill=HEADER_FILL,
                        alignment=Alignment(wrap_text=True, vertical="bottom"),
                        border=Border(bottom=THIN)),
    "header_note": Look(font=Font(italic=True, size=8, color="595959"),
                        alignment=Alignment(vertical="bottom", wrap_text=True)),
    "label": Look(),
    "label_indent": Look(alignment=Alignment(indent=1)),
    "label_indent2": Look(alignment=Alignment(indent=2)),
    "label_bold": Look(font=Font(bold=True)),
    "text_bold": Look(font=Font(bold=True)),
    "wrap": Look(alignment=Alignment(wrap_text=True, vertical="top")),
    "binding": Look(font=Font(bold=True), fill=BINDING_FILL),
}
NUMBER_FORMATS = {
    "money": MONEY, "money_round": MONEY_ROUND, "quantity": QUANTITY, "percent": PERCENT,
    "percent_fine": PERCENT_FINE, "hhi": HHI, "seconds": SECONDS, "fraction": FRACTION,
    "quantity_dash": QUANTITY_DASH, "money_dash": MONEY_DASH, "percent_dash": PERCENT_DASH,
    "integer": "#,##0", "general": "General",
}
for _name, _fmt in NUMBER_FORMATS.items():
    LOOKS[_name] = Look(number_format=_fmt)
    LOOKS[f"{_name}_bold"] = Look(number_format=_fmt, font=Font(bold=True))
    LOOKS[f"{_name}_total"] = Look(number_format=_fmt, font=Font(bold=True),
                                   border=Border(top=THIN))
LOOKS["label_total"] = Look(font=Font(bold=True), border=Border(top=THIN))
# A difference to a base case: signed, a dash for none (Compare and Strategies sheets).
LOOKS["delta"] = Look(number_format='+#,##0;-#,##0;"–"')
LOOKS["failed"] = Look(fill=PatternFill("solid", fgColor="F4CCCC"))
LOOKS["total_rule"] = Look(border=Border(top=THIN))

# Looks only a report over a planning horizon uses (SPEC §7). They are registered in its
# workbook alone, so that a v1 report's styles stay exactly as they were.
WEIGHT = "0.0000"
HORIZON_LOOKS: dict[str, Look] = {
    "weight": Look(number_format=WEIGHT),
    "header_right": Look(font=Font(bold=True), fill=HEADER_FILL,
                         alignment=Alignment(horizontal="right", vertical="bottom"),
                         border=Border(bottom=THIN)),
}


class Styles:
    """The looks above, registered once in a workbook: a style array to copy onto
    openpyxl cells and a style index for bulk rows."""

    def __init__(self, book: Workbook, extra: dict[str, Look] | None = None) -> None:
        self._arrays = {}
        self._ids = {}
        probe = _Probe(book)
        for name, look in {**LOOKS, **(extra or {})}.items():
            cell = WriteOnlyCell(probe)
            if look.font is not None:
                cell.font = look.font
            if look.fill is not None:
                cell.fill = look.fill
            if look.number_format is not None:
                cell.number_format = look.number_format
            if look.alignment is not None:
                cell.alignment = look.alignment
            if look.border is not None:
                cell.border = look.border
            self._arrays[name] = cell._style
            self._ids[name] = cell.style_id

    def apply(self, cell, name: str) -> None:
        cell._style = copy.copy(self._arrays[name])

    def id(self, name: str) -> int:
        return self._ids[name]


class _Probe:
    """Stands in for a sheet while styles are registered in the workbook."""

    def __init__(self, book: Workbook) -> None:
        self.parent = book


@dataclass
class Sheet:
    """One write-only sheet being written top to bottom."""

    ws: object
    styles: Styles
    row: int = 0  # the last row written
    bulks: list[BulkRows] = field(default_factory=list)

    @classmethod
    def open(cls, book: Workbook, styles: Styles, title: str, widths: Sequence[float],
             freeze: str | None = None, landscape: bool = True, fit_width: bool = True,
             fit_height: bool = False, print_rows: str | None = None) -> Sheet:
        ws = book.create_sheet(title)
        for index, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(index)].width = width
        if freeze:
            ws.freeze_panes = freeze
        ws.page_setup.orientation = "landscape" if landscape else "portrait"
        if fit_width or fit_height:
            ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
            ws.page_setup.fitToWidth = 1 if fit_width else 0
            ws.page_setup.fitToHeight = 1 if fit_height else 0
        ws.page_margins.left = ws.page_margins.right = 0.5
        ws.page_margins.top = ws.page_margins.bottom = 0.6
        ws.page_margins.header = ws.page_margins.footer = 0.3
        if print_rows:
            ws.print_title_rows = print_rows
        ws.oddFooter.left.text = "&A"
        ws.oddFooter.right.text = "page &P of &N"
        ws.oddFooter.left.size = ws.oddFooter.right.size = 8
        return cls(ws, styles)

    def cell(self, value: object, look: str = "plain") -> WriteOnlyCell:
        if isinstance(value, str):
            value = clean_text(value)
        cell = WriteOnlyCell(self.ws)
        set_value(cell, value)  # text stays text: never a formula
        if look != "plain":
            self.styles.apply(cell, look)
        return cell

    def write(self, values: Iterable[object], looks: Sequence[str] | str = "plain",
              height: float | None = None) -> int:
        """Append one row; `looks` is one name for every cell or one per cell; `height`
        in points (for wrapped headers). Returns the row number written."""
        if self.bulks:
            raise RuntimeError("rows handed to the bulk writer must be the sheet's last")
        if height is not None:
            self.ws.row_dimensions[self.row + 1].height = height
        values = list(values)
        if isinstance(looks, str):
            looks = [looks] * len(values)
        self.ws.append([self.cell(v, lk) for v, lk in zip(values, looks, strict=True)])
        self.row += 1
        return self.row

    def blank(self, count: int = 1) -> None:
        if self.bulks:
            raise RuntimeError("rows handed to the bulk writer must be the sheet's last")
        for _ in range(count):
            self.ws.append([])
            self.row += 1

    def stream(self, rows: Iterable[Sequence[object]], looks: Sequence[str],
               count: int) -> tuple[int, int]:
        """Hand `count` rows to the bulk writer (they must be the sheet's last rows);
        returns their first and last row numbers."""
        ids = [self.styles.id(name) for name in looks]
        first = self.row + 1
        self.bulks.append(BulkRows(self.ws.title, first, ((r, ids) for r in rows)))
        self.row += count
        return first, self.row

    def stream_styled(self, rows: Iterable[tuple[Sequence[object], Sequence[str]]],
                      count: int) -> tuple[int, int]:
        """Like `stream`, with a look per cell given beside each row."""
        ids = self.styles.id
        first = self.row + 1
        self.bulks.append(BulkRows(self.ws.title, first,
                                   ((r, [ids(n) for n in looks]) for r, looks in rows)))
        self.row += count
        return first, self.row

    def table(self, name: str, headers: Sequence[str], header_row: int, last_row: int,
              first_col: int = 1, stripes: bool = True) -> None:
        """An Excel table over a header row already written and its data rows; none is
        made without data rows (Excel rejects a table with no body)."""
        if last_row <= header_row:
            return
        ref = (f"{get_column_letter(first_col)}{header_row}:"
               f"{get_column_letter(first_col + len(headers) - 1)}{last_row}")
        table = Table(displayName=name, ref=ref, autoFilter=AutoFilter(ref=ref))
        table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(headers, 1)]
        table.tableStyleInfo = TableStyleInfo(name="TableStyleLight9",
                                              showRowStripes=stripes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # columns are given above
            self.ws.add_table(table)


def currency_label(currency: str) -> str:
    """The currency from Settings, made safe for a table's column header."""
    text = re.sub(r"[^\w $€£¥.\-]", "", str(currency)).strip()
    return text[:12] or "currency"


def number_width(values: Iterable[float | None], decimals: int = 2, minimum: float = 10,
                 maximum: float = 24) -> float:
    """A column width that shows the largest of `values` with thousands separators."""
    largest = max((abs(v) for v in values if v is not None), default=0.0)
    return float(min(maximum, max(minimum, len(f"{largest:,.{decimals}f}") + 3)))


def width_for(values: Iterable[object], minimum: float = 8, maximum: float = 48) -> float:
    longest = max((len(str(v)) for v in values if v is not None), default=0)
    return float(min(maximum, max(minimum, longest + 2)))
