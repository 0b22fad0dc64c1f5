"""Reading an input workbook into raw tables that keep every cell's coordinates.

Nothing here interprets values: that is validation's job. What this module owns is
getting the cells out of the file safely — refusing files that are not xlsx or would
inflate past a fixed budget before any XML is parsed — and knowing where each cell was.

XML parts may be UTF-8 or UTF-16 (the Open Packaging Conventions allow both; some
generators write UTF-16), but the cell reader reads UTF-8 only: a workbook with UTF-16
parts is read from a temporary copy whose parts are re-encoded (`utf8_package`), never
by changing the user's file, and the copy goes through the same checks.
"""

from __future__ import annotations

import codecs
import datetime as dt
import math
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from resilience.errors import InputError, Problem
from resilience.schema import SHEETS, normalise_name, sheet_by_name

MAX_INFLATED_BYTES = 512 * 1024 * 1024
MAX_CELL_CHARS = 10_000


@dataclass
class RawSheet:
    """One sheet's cells, held column by column: a 100,000-row sheet costs a few list
    passes per column, not a dict per row."""

    name: str  # as spelt in the file
    headers: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (letter, text)
    unknown_headers: list[tuple[str, str]] = field(default_factory=list)  # (letter, text)
    rows: list[int] = field(default_factory=list)  # Excel numbers of the non-blank rows
    # key -> one cell per entry of `rows` as python-calamine gives it ("" when empty, text
    # not stripped): validation reads them with `cell_value` only where a plain number
    # or plain text does not do, which spares a pass over every cell
    columns: dict[str, list[object]] = field(default_factory=dict)
    # cells under unknown headers: (cell, header, value), kept for the report's echo
    unknown_cells: list[tuple[str, str, object]] = field(default_factory=list)
    hidden: bool = False

    def cell(self, key: str, row: int) -> str:
        letter = self.headers[key][0] if key in self.headers else "A"
        return f"{letter}{row}"


@dataclass
class RawWorkbook:
    path: Path
    sheets: dict[str, RawSheet]  # schema sheet name -> sheet
    extra_sheets: list[str]
    problems: list[Problem]


def get_column_letter(index: int) -> str:
    """1 → A, 27 → AA (kept here so reading a workbook does not import openpyxl)."""
    letters = ""
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def check_container(path: Path) -> None:
    """Refuse what is not a readable xlsx, or would inflate too far, before parsing."""
    def fail(message: str) -> InputError:
        return InputError([Problem("", "", f"{path.name}: {message}")])

    if not path.exists():
        raise fail("no such file")
    if path.is_dir():
        raise fail("is a folder, not an .xlsx workbook")
    if path.stat().st_size == 0:
        raise fail("the file is empty (0 bytes), not an .xlsx workbook")
    with path.open("rb") as handle:
        magic = handle.read(8)
    if magic == OLE_MAGIC:
        raise fail("an old-style .xls file or a password-protected workbook: save it from "
                   "Excel as an unprotected .xlsx")
    if not zipfile.is_zipfile(path):
        raise fail(
            "not an .xlsx workbook (an .xlsx file is a zip archive; this one is not, or is "
            "cut short — a CSV renamed, or an incomplete download?). Save it from Excel as "
            ".xlsx"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            names = {e.filename for e in entries}
            inflated = sum(e.file_size for e in entries)
            encrypted = any(e.flag_bits & 0x1 for e in entries)
    except Exception as exc:  # BadZipFile, OSError, an unsupported zip version…
        raise fail(f"the archive is damaged ({exc}); save it again from Excel") from None
    if encrypted:
        raise fail("its parts are encrypted (password-protected): save it without a password")
    if "xl/workbook.xml" not in names:
        raise fail("a zip archive but not an Excel workbook (no xl/workbook.xml)")
    if inflated > MAX_INFLATED_BYTES:
        raise fail(
            f"its parts would inflate to {inflated / 2**20:,.0f} MiB, over the "
            f"{MAX_INFLATED_BYTES / 2**20:,.0f} MiB limit; refusing to open it"
        )


OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_DTD_SCAN_BYTES = 64 * 1024
# The cell reader allocates rows × columns of the used range: a stray value in a far
# corner (XFD1048576) would ask for hundreds of GiB. Refuse ranges above this many cells.
MAX_GRID_CELLS = 50_000_000
_FAR_COLUMN = re.compile(rb'<c r="([A-Z]{3})(\d+)"(?:[^>]*[^/>])?>')
# a cell with content: not self-closing (a styled empty cell is <c r="..." s="1"/>)
_ANY_CELL = re.compile(rb'<c r="([A-Z]+)(\d+)"(?:[^>]*[^/>])?>')
_MERGE = re.compile(rb'<mergeCell ref="([A-Z]+\d+:[A-Z]+\d+)"')
_NON_FINITE = re.compile(rb"<v>\s*[+-]?(?:nan|inf|infinity)\s*</v>", re.IGNORECASE)
# Matches wherever one of the checks below could find something (a DTD, a cell beyond
# column ZZ, a merge, a formula, a non-finite number): one pass over a sheet instead of
# five, and a sheet of plain values (the common case) needs no other.
_WORTH_A_LOOK = re.compile(rb'<(?:!|c r="[A-Z]{3}|f|mergeCell |(?i:v>\s*[+-]?(?:nan|inf)))')


# ---- UTF-16 parts ----------------------------------------------------------------------

_XML_PARTS = (".xml", ".rels")
# A UTF-16 XML part starts with its byte-order mark, or with "<" as a 16-bit unit.
_UTF16_STARTS = ((b"\xff\xfe", "utf-16-le", 2), (b"\xfe\xff", "utf-16-be", 2),
                 (b"<\x00", "utf-16-le", 0), (b"\x00<", "utf-16-be", 0))
_DECLARED_ENCODING = re.compile(r"""^(<\?xml\s[^>]*?\bencoding\s*=\s*)(["'])[^"']*\2""")
_REENCODE_PIECE_BYTES = 1 << 20


def _utf16_codec(head: bytes) -> tuple[str, int] | None:
    """(codec, length of its byte-order mark) of a UTF-16 part from its first bytes, None
    for anything else (UTF-8, with or without its mark)."""
    for start, codec, mark in _UTF16_STARTS:
        if head.startswith(start):
            return codec, mark
    return None


def _utf16_parts(path: Path) -> dict[str, tuple[str, int]]:
    """The XML parts written in UTF-16: two bytes of each part are inflated."""
    found = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(_XML_PARTS):
                with archive.open(info) as part:
                    codec = _utf16_codec(part.read(2))
                if codec is not None:
                    found[info.filename] = codec
    return found


@contextmanager
def utf8_package(path: Path) -> Iterator[Path]:
    """`path` itself when every XML part is UTF-8 (the usual case: the parts' first bytes
    are read, nothing else); otherwise a temporary copy, of the same file name, in which
    the UTF-16 parts are re-encoded to UTF-8 (their XML declaration saying so) and every
    other part is copied as it is. The copy is deleted on exit; the user's file is only
    read. Call after `check_container`: the copy is written a piece at a time within the
    same inflation budget, and the XML is not parsed here (only decoded), so what
    `inspect_parts` refuses in a UTF-8 part (a DTD, a stray far cell) it refuses in the
    copy."""
    def damaged(exc: Exception) -> InputError:
        return InputError([Problem("", "", f"{path.name}: the archive is damaged "
                                   f"({type(exc).__name__}: {exc}); save it again from "
                                   "Excel")])

    try:
        utf16 = _utf16_parts(path)
    except Exception as exc:  # zlib.error, BadZipFile (CRC), …
        raise damaged(exc) from None
    if not utf16:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="resilience-utf8-") as folder:
        copy = Path(folder) / path.name
        try:
            _write_utf8_copy(path, copy, utf16)
        except InputError:
            raise
        except UnicodeDecodeError as exc:
            raise InputError([Problem("", "", f"{path.name}: an XML part starts as UTF-16 "
                                      f"but is not valid UTF-16 ({exc.reason}); save it "
                                      "again from Excel")]) from None
        except Exception as exc:
            raise damaged(exc) from None
        yield copy


def _write_utf8_copy(source: Path, target: Path, utf16: dict[str, tuple[str, int]]
                     ) -> None:
    budget = MAX_INFLATED_BYTES
    with zipfile.ZipFile(source) as archive, zipfile.ZipFile(
            target, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for info in archive.infolist():
            with archive.open(info) as part, out.open(info.filename, "w") as copy:
                if info.filename in utf16:
                    budget -= _reencode(part, copy, *utf16[info.filename], budget, source)
                else:
                    shutil.copyfileobj(part, copy, _REENCODE_PIECE_BYTES)
                    budget -= info.file_size
            if budget < 0:
                raise _over_budget(source)


def _reencode(part, copy, codec: str, mark: int, budget: int, source: Path) -> int:
    """One UTF-16 part to UTF-8, a piece at a time, its XML declaration's encoding made
    UTF-8; returns the bytes written (stops once over `budget`)."""
    decoder = codecs.getincrementaldecoder(codec)("strict")
    part.read(mark)
    head = ""  # text held until the declaration (at the very start) can be seen whole
    written = 0
    done = False
    while not done:
        piece = part.read(_REENCODE_PIECE_BYTES)
        done = not piece
        text = decoder.decode(piece, final=done)
        if head is not None:
            head += text
            if len(head) < 512 and not done:
                continue
            text, head = _DECLARED_ENCODING.sub(r"\1\2UTF-8\2", head, count=1), None
        data = text.encode("utf-8")
        written += len(data)
        if written > budget:
            raise _over_budget(source)
        copy.write(data)
    return written


def _over_budget(path: Path) -> InputError:
    return InputError([Problem("", "", f"{path.name}: its parts would inflate to more than "
                               f"{MAX_INFLATED_BYTES / 2**20:,.0f} MiB once re-encoded from "
                               "UTF-16 to UTF-8, over the limit; refusing to open it")])


# ---- the checks on the parts -------------------------------------------------------------


def inspect_parts(path: Path) -> tuple[list[Problem], dict[str, str]]:
    """What the cell reader cannot tell us, read from the XML parts with defusedxml:
    XML with a DTD (entity expansion) is refused, and so is a used range too large to
    allocate; formulas whose value was never saved or is an error, non-finite numbers
    and merged cells are reported; hidden sheets are named. UTF-16 parts are read as
    re-encoded to UTF-8 (`utf8_package`).

    Returns (problems, {sheet name: state}).
    """
    with utf8_package(path) as readable:
        return _checked_parts(readable)


def _checked_parts(path: Path) -> tuple[list[Problem], dict[str, str]]:
    try:
        return _inspect_parts(path)
    except InputError:
        raise
    except Exception as exc:  # zlib.error, BadZipFile (CRC), ParseError, EOFError, …
        raise InputError([Problem("", "", f"{path.name}: the archive is damaged "
                                  f"({type(exc).__name__}: {exc}); save it again from "
                                  "Excel")]) from None


def _inspect_parts(path: Path) -> tuple[list[Problem], dict[str, str]]:
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    def refuse_dtd(part: str) -> InputError:
        return InputError([Problem("", "", f"{path.name}: part {part} declares a DTD or "
                                   "XML entities, which no Excel file needs; refusing to "
                                   "read it")])

    problems: list[Problem] = []
    states: dict[str, str] = {}
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith((".xml", ".rels")):
                continue
            with archive.open(info) as part:
                head = part.read(_DTD_SCAN_BYTES)
            if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                raise refuse_dtd(info.filename)
        try:
            book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
            rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
        except DefusedXmlException:
            raise refuse_dtd("xl/workbook.xml") from None
        except (KeyError, ElementTree.ParseError) as exc:
            raise InputError([Problem("", "", f"{path.name}: damaged workbook structure "
                                      f"({exc})")]) from None
        targets = {r.get("Id"): r.get("Target", "") for r in rels}
        names = set(archive.namelist())
        for sheet in book.iter():
            if not sheet.tag.endswith("}sheet"):
                continue
            name = sheet.get("name", "")
            states[name] = sheet.get("state", "visible")
            rel = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
            target = targets.get(rel, "")
            part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            if part not in names:
                continue
            if not _worth_a_look(archive, part):
                continue
            data = archive.read(part)
            if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
                raise refuse_dtd(part)
            _check_grid(path, name, data)
            if sheet_by_name(name) is None:
                continue
            for ref in _MERGE.findall(data):
                text = ref.decode()
                problems.append(Problem(
                    name, text, "merged cells: only the first cell holds a value, the "
                    "others read as blank; unmerge and fill each cell", warning=True,
                    order=(0, *_cell_position(text.split(":")[0]))))
            if b"<f" in data or _NON_FINITE.search(data):
                try:
                    problems.extend(_cells_needing_a_word(name, data))
                except DefusedXmlException:
                    raise refuse_dtd(part) from None
    return problems, states


def _worth_a_look(archive: zipfile.ZipFile, part: str) -> bool:
    """Whether `_WORTH_A_LOOK` matches anywhere in the part, inflated a piece at a time:
    a 100,000-row sheet is 30 MB of XML, which need not be held at once (nor scanned
    out of main memory) when there is nothing to find. A match across two pieces starts
    at the last "<" of the first (no pattern holds a second "<"), so the text from there
    on is carried into the next."""
    carry = b""
    with archive.open(part) as stream:
        while piece := stream.read(_SCAN_PIECE_BYTES):
            text = carry + piece
            if _WORTH_A_LOOK.search(text):
                return True
            start = text.rfind(b"<")
            carry = text[start:] if start >= 0 else b""
    return False


_SCAN_PIECE_BYTES = 256 * 1024


def _check_grid(path: Path, sheet: str, data: bytes) -> None:
    """Refuse a used range the cell reader could not allocate (scanned in full only when
    some cell sits beyond column ZZ, which ordinary tables never reach)."""
    if not _FAR_COLUMN.search(data):
        return
    rows = cols = 0
    far = ""
    for letters, digits in _ANY_CELL.findall(data):
        ref = (letters + digits).decode()
        row, col = _cell_position(ref)
        if max(row, rows) * max(col, cols) > rows * cols:
            far = ref
        rows, cols = max(rows, row), max(cols, col)
    if rows * cols > MAX_GRID_CELLS:
        raise InputError([Problem(sheet, far, f"a value far from the table makes the sheet "
                                  f"span {rows:,} rows × {cols:,} columns, too many to "
                                  "read; clear the stray cell (Ctrl+End finds it)")])


def _cells_needing_a_word(sheet: str, data: bytes) -> list[Problem]:
    """Formulas with no saved value or an error result, and non-finite numbers: cells
    the reader would otherwise take silently as blank."""
    from defusedxml import ElementTree

    found = []
    for cell in ElementTree.fromstring(data).iter():
        if not cell.tag.endswith("}c"):
            continue
        children = {child.tag.rsplit("}", 1)[-1]: child for child in cell}
        ref = cell.get("r", "")
        order = (0, *_cell_position(ref))
        value = children.get("v")
        if "f" in children:
            formula = "=" + (children["f"].text or "(shared formula)")
            # An empty <v/> is "no value" unless the cell is typed as a string: that is
            # how LibreOffice saves a formula whose result is "".
            saved = value is not None and (bool(value.text) or cell.get("t") == "str")
            if not saved:
                found.append(Problem(
                    sheet, ref, "formula with no saved value (the file was written by a "
                    "program that does not calculate): open and save it in Excel or "
                    "LibreOffice, or type the value", found=formula, order=order))
            elif cell.get("t") == "e":
                found.append(Problem(sheet, ref, f"formula result is an error "
                                     f"({value.text}): fix the formula or type the value",
                                     found=formula, order=order))
        elif (value is not None and cell.get("t") in (None, "n") and value.text
              and value.text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")):
            found.append(Problem(sheet, ref, "not a finite number", found=value.text,
                                 order=order))
    return found


def _cell_position(ref: str) -> tuple[int, int]:
    letters = "".join(ch for ch in ref if ch.isalpha())
    digits = "".join(ch for ch in ref if ch.isdigit())
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return (int(digits) if digits else 0, col)


def read_grids(path: Path) -> dict[str, list[list[object]]]:
    """Every worksheet's used range from A1 as python-calamine returns it (empty cells as
    ""), read straight from calamine: going through pandas cost as much again in
    per-cell conversion. Call only after `check_container` and `inspect_parts`, which
    refuse what calamine must never be given. UTF-16 parts are read as re-encoded to
    UTF-8 (`utf8_package`)."""
    with utf8_package(path) as readable:
        return _grids(readable)


def _grids(path: Path) -> dict[str, list[list[object]]]:
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    try:
        book = CalamineWorkbook.from_path(str(path))
        return {meta.name: book.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
                for meta in book.sheets_metadata if meta.typ == SheetTypeEnum.WorkSheet}
    except Exception as exc:  # calamine raises its own types for damaged parts
        raise InputError(
            [Problem("", "", f"{path.name}: cannot be read as an .xlsx workbook ({exc})")]
        ) from None


def as_read(value: object) -> object:
    """A cell as a person reads it — 100 not 100.0, a date as a datetime, "" as blank
    (None) — which is how messages quote cells and the report echoes them (and how
    pandas handed them over when it read the workbook)."""
    if isinstance(value, float):
        if value != value:
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        return value if value else None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def cell_values(values: Iterable[object]) -> list[object]:
    """`as_read` over a column, text stripped and blank or all-space text as None. The
    common types are tested inline: a function call per cell is what a 100,000-row
    sheet cannot afford."""
    return [(v.strip() or None) if type(v) is str
            else (None if v != v else int(v) if v.is_integer() else v) if type(v) is float
            else _stripped(as_read(v)) for v in values]


def cell_value(value: object) -> object:
    """One cell as `cell_values` reads it."""
    return _stripped(as_read(value))


def _stripped(value: object) -> object:
    if isinstance(value, str):
        return value.strip() or None
    return value


def _has_no_blank(column: list[object]) -> bool:
    """Whether no cell of a column is blank ("", spaces, NaN), found in a few passes that
    run in C; False too when that cannot be told so cheaply."""
    if "" in column or None in column:
        return False
    kinds = set(map(type, column))
    if kinds == {str}:
        return not any(map(str.isspace, column))
    if kinds <= {float, int}:
        return not any(map(math.isnan, column))
    return False


def read_workbook(path: Path) -> RawWorkbook:
    """All known sheets as raw tables; unknown sheets are only named."""
    check_container(path)
    with utf8_package(path) as readable:  # the file itself unless it has UTF-16 parts
        part_problems, states = _checked_parts(readable)
        grids = _grids(readable)

    order = {s.name: i for i, s in enumerate(SHEETS)}
    problems: list[Problem] = []
    sheets: dict[str, RawSheet] = {}
    extra: list[str] = []
    for file_name, grid in grids.items():
        schema_sheet = sheet_by_name(file_name)
        if schema_sheet is None:
            extra.append(str(file_name))
            continue
        if states.get(str(file_name), "visible") != "visible":
            problems.append(Problem(str(file_name), "", "the sheet is hidden in Excel; it is "
                                    "read all the same", warning=True,
                                    order=(order[schema_sheet.name], 0, 0)))
        if schema_sheet.name in sheets:
            problems.append(Problem(
                str(file_name), "", f"a second sheet named like {schema_sheet.name}; "
                "sheet names match ignoring case, spaces and underscores",
                order=(order[schema_sheet.name], 0, 0),
            ))
            continue
        sheets[schema_sheet.name] = _raw_sheet(
            str(file_name), grid, schema_sheet, order[schema_sheet.name], problems
        )
    by_file_name = {raw.name: raw for raw in sheets.values()}
    for p in part_problems:
        schema_sheet = sheet_by_name(p.sheet)
        rank = order[schema_sheet.name] if schema_sheet else len(order)
        raw = by_file_name.get(p.sheet)
        letter = "".join(ch for ch in p.cell if ch.isalpha())
        unused = raw is not None and (
            letter in {lt for lt, _ in raw.unknown_headers} or p.order[1] == 1)
        message = p.message + (" (in a column or header resilience does not use)"
                               if unused else "")
        problems.append(Problem(p.sheet, p.cell, message, p.found, unused,
                                (rank, *p.order[1:])))
    return RawWorkbook(path=path, sheets=sheets, extra_sheets=extra, problems=problems)


def _raw_sheet(name, grid, schema_sheet, sheet_order, problems) -> RawSheet:
    raw = RawSheet(name=name)
    if not grid:
        return raw
    width = max(len(row) for row in grid)
    if any(len(row) != width for row in grid):  # calamine's ranges are rectangular
        grid = [row + [""] * (width - len(row)) for row in grid]
    header_row = [as_read(v) for v in grid[0]]
    known = {normalise_name(c.name): c.name for c in schema_sheet.columns}
    if schema_sheet.key_value:
        known = {"key": "key", "value": "value"}
    for j, header in enumerate(header_row):
        if _is_blank(header):
            continue
        letter = get_column_letter(j + 1)
        key = known.get(normalise_name(header))
        if key is None:
            raw.unknown_headers.append((letter, str(header)))
        elif key in raw.headers:
            problems.append(Problem(
                name, f"{letter}1", f"column {key} appears twice", found=header,
                order=(sheet_order, 1, j),
            ))
        else:
            raw.headers[key] = (letter, str(header))
    # (column index, key to store under or None for an unknown column, letter); a column
    # with a blank header, or a second column of the same name, is not read at all.
    columns = []
    for j, h in enumerate(header_row):
        if _is_blank(h):
            continue
        letter = get_column_letter(j + 1)
        key = known.get(normalise_name(h))
        if key is not None and raw.headers.get(key, ("",))[0] != letter:
            continue  # a second column of the same name: reported above
        columns.append((j, key, letter))
    body = grid[1:]
    flat = list(chain.from_iterable(body))  # row by row; column j is flat[j::width]
    cells = [flat[j::width] for j, _, _ in columns]
    del flat
    # A row is blank when every column read is blank (unknown columns count); there is
    # none when some column has no blank cell, which settles most sheets cheaply.
    if any(_has_no_blank(column) for column in cells):
        raw.rows = list(range(2, len(body) + 2))
    else:
        read = [cell_values(column) for column in cells]
        keep = [i for i, row in enumerate(zip(*read, strict=True))
                if row.count(None) < len(row)]
        cells = [[column[i] for i in keep] for column in cells]
        raw.rows = [i + 2 for i in keep]
    unknown = []
    for (j, key, letter), column in zip(columns, cells, strict=True):
        if key is not None:
            raw.columns[key] = column
        else:
            unknown.append((letter, str(header_row[j]), cell_values(column)))
    if unknown:  # row by row, as a person reads them
        raw.unknown_cells = [(f"{letter}{row}", header, column[i])
                             for i, row in enumerate(raw.rows)
                             for letter, header, column in unknown if column[i] is not None]
    return raw


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""
