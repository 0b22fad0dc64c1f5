"""Raw workbook tables → a typed Instance, or every problem at once.

Each cell is judged by its schema column (kind, bounds, default); then the rules that
span rows and sheets are checked (uniqueness, references, min order ≤ capacity, the
probability budget). Problems are collected, never raised one at a time, so a
procurement team fixes a spreadsheet in one pass.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import gc
import hashlib
import math
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import compress, count, repeat
from operator import gt, is_
from pathlib import Path

from resilience.domain import (
    BASELINE,
    Country,
    DemandRow,
    Instance,
    Material,
    Offer,
    Period,
    Policy,
    Scenario,
    ScenarioHit,
    Settings,
    WhatIfEdit,
)
from resilience.errors import InputError, Problem
from resilience.schema import (
    COUNTRIES,
    DEMAND,
    HELPER_SHEETS,
    MATERIALS,
    PERIODS,
    POLICIES,
    SCENARIOS,
    SETTING_KEYS,
    SHEETS,
    SUPPLIERS,
    WHATIFS,
    Column,
    Sheet,
    normalise_name,
)
from resilience.workbook import RawSheet, RawWorkbook, cell_value, read_workbook

_SHEET_ORDER = {s.name: i for i, s in enumerate(SHEETS)}
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_PERCENT = re.compile(r"^([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*%$")
SHARE_RULES = ("max_country_share", "min_group_share", "max_group_share")


class _Collector:
    """Accumulates problems with their sort order (sheet, row, column)."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        # near misses looked for (`did_you_mean`): a workbook with thousands of unknown
        # references gets suggestions for the first ones, not a search per cell
        self.suggestions_left = _SUGGESTIONS

    def add(self, sheet: str, cell: str, message: str, found: object = None,
            warning: bool = False) -> None:
        row, col = _cell_order(cell)
        self.problems.append(Problem(
            sheet, cell, message, found, warning,
            order=(_SHEET_ORDER.get(sheet, len(_SHEET_ORDER)), row, col),
        ))

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return sorted((p for p in self.problems if p.warning), key=lambda p: p.order)


def _cell_order(cell: str) -> tuple[int, int]:
    match = re.match(r"^([A-Z]*)(\d*)", cell)
    letters, digits = match.groups() if match else ("", "")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return (int(digits) if digits else 0, col)


# ---- near misses ----------------------------------------------------------------------

_SUGGESTIONS = 200
_LOOSE = re.compile(r"[\s_.\-]+")
_DIGITS = re.compile(r"\D+")


def _loose(text: str) -> str:
    """An id with case, spaces, underscores, hyphens and dots ignored."""
    return _LOOSE.sub("", text.casefold())


def near_misses(text: str, known: Iterable[str], cutoff: float | None = None,
                loose: bool = True) -> list[str]:
    """The defined names `text` probably meant (several only when equally close, in the
    order defined; at most 3): one that differs only in case, spaces, underscores,
    hyphens or dots; else the closest by `difflib` — for ids a ratio of at least 0.6
    when they are short (CHI → CHL, two letters of three) and 0.75 otherwise (germanium
    is not a typo of gallium), or `cutoff` — among those with the same digits (2028 is
    not a typo of 2027, nor C17 of C71). `loose=False` compares the texts as given once
    the exact loose match is ruled out (header names, whose spaces separate words)."""
    known = list(known)
    by_loose: dict[str, str] = {}
    for name in known:
        by_loose.setdefault(_loose(name), name)
    key = _loose(text)
    if key in by_loose:
        return [by_loose[key]]
    if not loose:
        by_loose = {name: name for name in known}
        key = text
    digits = _DIGITS.sub("", key)
    candidates = [k for k in by_loose if _DIGITS.sub("", k) == digits]
    if cutoff is None:
        cutoff = 0.6 if len(key) <= 4 else 0.75
    close = difflib.get_close_matches(key, candidates, n=3, cutoff=cutoff)
    if not close:
        return []
    scores = [difflib.SequenceMatcher(None, key, k).ratio() for k in close]
    order = {k: i for i, k in enumerate(by_loose)}  # equally close: in definition order
    return [by_loose[k] for k in sorted(
        (k for k, score in zip(close, scores, strict=True) if score == scores[0]),
        key=order.__getitem__)]


def _or(names: list[str]) -> str:
    """'A', 'A or B', 'A, B or C'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def did_you_mean(text: str, known: Iterable[str], out: _Collector) -> str:
    """'; did you mean CHL?' for a reference that misses a defined id narrowly, else ''."""
    if out.suggestions_left <= 0:
        return ""
    out.suggestions_left -= 1
    found = near_misses(text, known)
    return f"; did you mean {_or(found)}?" if found else ""


def load(path: str | Path) -> Instance:
    """Read and validate a workbook; raise InputError listing every problem."""
    path = Path(path)
    with without_cyclic_gc():
        raw = read_workbook(path)
        return validate(raw)


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Reading 100,000 rows allocates a few hundred thousand lists, tuples and offers
    that all live until the end: the cyclic collector would walk them again and again
    (a fifth of the time `load` takes) and find nothing, since the reader makes no
    cycles. Reference counting still frees everything as usual."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate(raw: RawWorkbook) -> Instance:
    out = _Collector()
    out.problems.extend(raw.problems)
    helpers = {normalise_name(h) for h in HELPER_SHEETS}
    # an unknown sheet named like a missing one ("Supplier", "Scenario") is probably it
    absent = [sheet.name for sheet in SHEETS if sheet.name not in raw.sheets]
    meant: dict[str, str] = {}  # schema sheet -> the file's sheet that is probably it
    for name in raw.extra_sheets:
        if normalise_name(name) in helpers:
            continue
        found = near_misses(normalise_name(name), absent, cutoff=0.7)
        hint = f"; did you mean {found[0]}?" if found else ""
        if found:
            meant.setdefault(found[0], name)
        out.add(name, "", f"sheet not used by resilience; ignored{hint}", warning=True)
    for sheet in SHEETS:
        if sheet.required and sheet.name not in raw.sheets:
            hint = (f"; the sheet {meant[sheet.name]!r} looks like it: rename it "
                    f"{sheet.name}" if sheet.name in meant else "")
            out.add(sheet.name, "", f"required sheet is missing{hint}")
    for sheet in SHEETS:
        if sheet.name in raw.sheets:
            _check_headers(raw.sheets[sheet.name], sheet, out)

    ids = _Ids()
    # Periods first: every other sheet may name them.
    periods = _periods(raw.sheets.get("Periods"), ids, out)
    materials = _materials(raw.sheets.get("Materials"), ids, out)
    countries = _countries(raw.sheets.get("Countries"), ids, out)
    offers = _offers(raw.sheets.get("Suppliers"), ids, countries, out)
    policies = _policies(raw.sheets.get("Policies"), ids, out)
    scenario_rows = _scenarios(raw.sheets.get("Scenarios"), ids, out)
    demand_rows, demand_edits = _demand(raw.sheets.get("Demand"), ids, out)
    settings = _settings(raw.sheets.get("Settings"), out)
    edits = _whatifs(raw.sheets.get("WhatIfs"), ids, out) + demand_edits
    if settings.discount_rate > 0 and not periods:
        out.add("Settings", _setting_cell(raw.sheets["Settings"], "discount_rate"),
                "discount_rate is unused: the workbook plans one period (no Periods rows)",
                warning=True)

    if "Suppliers" in raw.sheets and not raw.sheets["Suppliers"].rows:
        out.add("Suppliers", "", "the sheet has no offers")
    sold = {o.material for o in offers}
    for m in materials:
        if m.id not in sold and "Suppliers" in raw.sheets and offers:
            out.add("Materials", f"A{m.row}", f"no offer sells {m.id}: its demand will go "
                    "unmet", warning=True)
    if scenario_rows is not None and not any(s.whatif is None for s in scenario_rows) and any(
            c.disruption_prob > 0 for c in countries):
        out.add("Scenarios", "", "the sheet has no scenarios, so only the baseline is used "
                "and disruption_prob is ignored; delete the sheet to generate one scenario "
                "per country from disruption_prob", warning=True)
    if scenario_rows is None and "Countries" in raw.sheets:
        total = sum(c.disruption_prob for c in countries)
        if total >= 1 - 1e-12:
            out.add("Countries", _col(raw.sheets["Countries"], "disruption_prob", 1),
                    "disruption probabilities sum to at least 1, so no baseline is left "
                    "for generated scenarios; lower them or add a Scenarios sheet",
                    found=round(total, 6))

    instance = Instance(
        materials=tuple(materials),
        countries=tuple(countries),
        offers=tuple(offers),
        policies=tuple(policies),
        scenario_rows=scenario_rows,
        settings=settings,
        whatif_edits=tuple(edits),
        periods=tuple(periods),
        demand_rows=tuple(demand_rows),
        source_name=raw.path.name,
        source_sha256=_sha256(raw.path),
        warnings=tuple(out.warnings),
        unused_cells=tuple(
            (sheet.name, cell, header, _echo(value))
            for sheet in SHEETS if sheet.name in raw.sheets
            for cell, header, value in raw.sheets[sheet.name].unknown_cells),
    )
    # What-if edits that match no row are input errors found by validate too, listed with
    # every other problem (on the rows that could be read).
    from resilience.whatif import check_edits

    for problem in check_edits(instance):
        row, col = _cell_order(problem.cell)
        out.problems.append(dataclasses.replace(
            problem, order=(_SHEET_ORDER.get(problem.sheet, len(_SHEET_ORDER)), row, col)))
    if out.errors:
        raise InputError(out.problems)
    return instance


def _shown(number: float) -> float | int:
    """A parsed number as a message quotes it: 20, not 20.0."""
    return int(number) if number.is_integer() else number


def _echo(value: object) -> object:
    """A cell as the report may echo it: numbers and text as read, anything else as text."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return str(value)
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _col(raw: RawSheet, key: str, row: int) -> str:
    return raw.cell(key, row)


def _check_headers(raw: RawSheet, sheet: Sheet, out: _Collector) -> None:
    """Missing required columns, and unknown ones, each unknown header connected to the
    missing column it probably is: `Suppliers!D1: 'unit price' — did you mean unit_cost?
    (unit_cost is required)` in place of the missing column's error."""
    if not sheet.required and not raw.headers and not raw.unknown_headers and not raw.rows:
        return  # an optional sheet left entirely empty: no rows
    columns = [("key", True), ("value", True)] if sheet.key_value else \
        [(c.name, c.required) for c in sheet.columns]
    missing = {name: required for name, required in columns if name not in raw.headers}
    guesses = {}  # header letter -> the missing column it probably is
    for letter, text in raw.unknown_headers:
        guess = _header_guess(text, missing)
        if guess is not None:
            guesses[letter] = guess
            del missing[guess]  # one header per column
    meant = set(guesses.values())
    for name, required in columns:
        if required and name not in raw.headers and name not in meant:
            out.add(sheet.name, "1:1", f"required column {name} is missing"
                    + (" (Settings has a key | value header row)" if sheet.key_value
                       else ""))
    required = dict(columns)
    for letter, text in raw.unknown_headers:
        guess = guesses.get(letter)
        if guess is not None and required[guess]:
            out.add(sheet.name, f"{letter}1", f"{text!r} — did you mean {guess}? ({guess} "
                    "is required)")
            continue
        hint = f"; did you mean {guess}?" if guess is not None else ""
        out.add(sheet.name, f"{letter}1", f"unknown column, kept in the echo but not "
                f"used{hint}", found=text, warning=True)


def _header_guess(text: str, missing: dict[str, bool]) -> str | None:
    """The missing column a header probably is: the same but for hyphens, dots or
    spaces; else the closest name by `difflib` (ratio ≥ 0.6: 'unit price' → unit_cost);
    else the one required column sharing a word of four letters or more with it
    ('price per unit' → unit_cost)."""
    if not missing:
        return None
    found = near_misses(normalise_name(text), {normalise_name(n): n for n in missing},
                        cutoff=0.6, loose=False)
    names = {normalise_name(n): n for n in missing}
    if found:
        return names[found[0]]
    words = set(re.findall(r"[^\W\d_]{4,}", normalise_name(text)))
    shared = [n for n, required in missing.items()
              if required and words & set(normalise_name(n).split())]
    return shared[0] if len(shared) == 1 else None


class _Ids:
    """Identifier spellings by casefolded key: the defining row's spelling wins."""

    def __init__(self) -> None:
        self.materials: dict[str, str] = {}
        self.countries: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        # Names with no defining sheet: the first spelling met, in sheet order, wins.
        self.suppliers: dict[str, str] = {}
        self.strategies: dict[str, str] = {}
        self.whatifs: dict[str, str] = {}
        # SPEC §7: period ids in time order (the Periods sheet's rows); whether it exists.
        self.periods: dict[str, str] = {}
        self.period_order: dict[str, int] = {}  # spelling -> t
        self.periods_sheet = False


def _key(text: str) -> str:
    return text.strip().casefold()


# ---- cell parsing ---------------------------------------------------------------------


def _parse(value: object, column: Column, sheet: str, cell: str, out: _Collector,
           as_fraction: bool | None = None) -> object:
    """One cell by its column's kind; returns None (and records why) when unusable."""
    kind = column.kind
    fraction = kind == "fraction" if as_fraction is None else as_fraction
    if kind == "integer":
        number = _number(value, False, sheet, cell, column.name, out)
        if number is None:
            return None
        if not _within(number, column):
            out.add(sheet, cell, f"{column.name} must be {column.bounds_text()}", found=value)
            return None
        if not number.is_integer():
            out.add(sheet, cell, f"{column.name} must be a whole number", found=value)
            return None
        return int(number)
    if kind in ("number", "fraction") or as_fraction is not None:
        number = _number(value, fraction, sheet, cell, column.name, out)
        if number is None:
            return None
        if not _within(number, column):
            hint = fraction and not _percent_text(value) and number > 1 \
                and _within(number / 100, column)
            out.add(sheet, cell, f"{column.name} must be {column.bounds_text()}"
                    + (f": {_as_percent(number)}; write {_figure(number / 100)} or "
                       f"{_figure(number)} %" if hint else ""), found=value)
            return None
        if fraction:
            _check_plausible(number, value, column, sheet, cell, out)
        return number
    if isinstance(value, bool) or isinstance(value, dt.datetime | dt.date | dt.time):
        out.add(sheet, cell, f"{column.name} must be text", found=value)
        return None
    if isinstance(value, float):
        text = str(int(value)) if value.is_integer() else repr(value)
    else:
        text = str(value).strip()
    if len(text) > 1000:
        out.add(sheet, cell, f"{column.name} is too long ({len(text):,} characters; at most "
                "1,000)", found=text)
        return None
    if kind == "choice":
        for choice in column.choices:
            if normalise_name(choice) == normalise_name(text):
                return choice
        out.add(sheet, cell, f"{column.name} must be one of {', '.join(column.choices)}",
                found=text)
        return None
    return text


def _percent_text(value: object) -> bool:
    """Whether a cell was written as percent text (``25%``), which says what it means."""
    return isinstance(value, str) and "%" in value


def _figure(number: float) -> str:
    """A number as a message writes it: 2,500 and 0.25, no float noise (0.07, not
    0.07000000000000001)."""
    return f"{number:,.10g}"


def _as_percent(number: float) -> str:
    """'25 = 2,500 %': what a plain number in a fraction cell means."""
    return f"{_figure(number)} = {_figure(number * 100)} %"


def _check_plausible(number: float, value: object, column: Column, sheet: str, cell: str,
                     out: _Collector) -> None:
    """A warning for a legal but implausible fraction (schema `implausible_from`): a
    tariff typed 25 meaning 25 % is 2,500 %. Percent text is taken as meant."""
    limit = column.implausible_from
    if limit is not None and number >= limit and not _percent_text(value):
        out.add(sheet, cell, f"{column.name} {_as_percent(number)}; if {_figure(number)} % "
                f"was meant, write {_figure(number / 100)} or {_figure(number)} %",
                warning=True)


def _number(value: object, fraction: bool, sheet: str, cell: str, name: str,
            out: _Collector) -> float | None:
    if isinstance(value, bool):
        out.add(sheet, cell, f"{name} must be a number, not TRUE/FALSE", found=value)
        return None
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        out.add(sheet, cell, f"{name} must be a number, not a date or time", found=value)
        return None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "")
        percent = _PERCENT.match(text)
        if percent:
            if not fraction:
                out.add(sheet, cell, f"{name} is not a fraction: write a plain number, "
                        "not a percentage", found=value)
                return None
            number = float(percent.group(1)) / 100.0
        else:
            if _THOUSANDS.match(text):
                text = text.replace(",", "")
            try:
                number = float(text)
            except ValueError:
                out.add(sheet, cell, f"{name} must be a number", found=value)
                return None
            if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", text):
                out.add(sheet, cell, f"{name} must be a finite number", found=value)
                return None
    if not math.isfinite(number):
        out.add(sheet, cell, f"{name} must be a finite number", found=value)
        return None
    return number


def read_number(value: object, name: str, sheet: str, cell: str,
                problems: list[Problem]) -> float | None:
    """A plain number by the input workbook's rules (thousands separators allowed; no
    percent text, dates or TRUE/FALSE; finite), for cells outside the input schema such
    as a plan's quantities. When the cell is not one, None, and the reason is appended
    to `problems` as `Sheet!Cell: name must be ... (found: ...)`."""
    out = _Collector()
    number = _number(value, False, sheet, cell, name, out)
    problems.extend(out.problems)
    return number


def _within(number: float, column: Column) -> bool:
    if column.minimum is not None:
        if number < column.minimum or (column.min_exclusive and number == column.minimum):
            return False
    if column.maximum is not None:
        if number > column.maximum or (column.max_exclusive and number == column.maximum):
            return False
    return True


class _Table:
    """A sheet's rows with every cell judged by its schema column, held column by
    column: values[name][i] is the parsed cell of Excel row rows[i], the column's
    default where blank, None where a required cell is blank, _INVALID where the cell is
    unusable (both already reported). flagged[name] lists the rows whose cell was not a
    plain value (blank where required, or judged by `_parse`): None and _INVALID occur
    only there, or in every row when the column is missing."""

    def __init__(self, raw: RawSheet, sheet: Sheet, out: _Collector) -> None:
        self.raw = raw
        self.rows = raw.rows
        self.values: dict[str, list[object]] = {}
        self.flagged: dict[str, list[int]] = {}
        for column in sheet.columns:
            self.values[column.name], self.flagged[column.name] = _parse_column(
                raw, column, sheet, out)

    def cell(self, name: str, i: int) -> str:
        """The cell's reference, or "" when the sheet has no such column."""
        header = self.raw.headers.get(name)
        return f"{header[0]}{self.rows[i]}" if header else ""

    def records(self) -> Iterable[tuple[int, dict[str, object], _RowCells]]:
        """Row by row, for sheets whose checks read best one row at a time."""
        names = list(self.values)
        columns = [self.values[name] for name in names]
        for i, row in enumerate(self.rows):
            yield row, {name: column[i] for name, column in zip(names, columns,
                                                                strict=True)}, \
                _RowCells(self, i)


class _RowCells:
    """A row's cell references, built only when a message needs one."""

    def __init__(self, table: _Table, i: int) -> None:
        self.table, self.i = table, i

    def __getitem__(self, name: str) -> str:
        found = self.get(name)
        if not found:
            raise KeyError(name)
        return found

    def get(self, name: str, default: str = "") -> str:
        return self.table.cell(name, self.i) or default


def _table(raw: RawSheet | None, sheet: Sheet, out: _Collector) -> _Table | None:
    return None if raw is None else _Table(raw, sheet, out)


_SLOW = object()  # a cell the fast path of _parse_column leaves to _parse
_LARGEST = sys.float_info.max  # bounds of a finite float


def _parse_column(raw: RawSheet, column: Column, sheet: Sheet, out: _Collector
                  ) -> tuple[list[object], list[int]]:
    """One column of `_Table.values`. Plain numbers within bounds and plain short text are
    read and accepted in one pass over the column; every other cell (blank, percent
    text, a date, out of bounds…) is read by `cell_value` and judged by `_parse`,
    exactly as it would judge any cell."""
    if column.name not in raw.headers:
        return [column.default] * len(raw.rows), []
    cells = raw.columns[column.name]  # as python-calamine gives them
    if column.name == "value" and sheet.name == "Policies":
        # judged with the rule; blank is None, the default
        return [cell_value(v) for v in cells], []
    # An empty optional cell takes the default here; an empty mandatory one is left to
    # the loop below, which reports it.
    blank = _SLOW if column.mandatory_value else column.default
    if column.kind in ("number", "fraction"):
        low = -_LARGEST if column.minimum is None else column.minimum
        high = _LARGEST if column.maximum is None else column.maximum
        above = column.min_exclusive
        below = column.max_exclusive
        if column.implausible_from is not None:  # legal from there on, but warned about
            # (max is None there): values below it, the largest float below, stay fast
            high = math.nextafter(column.implausible_from, -math.inf)
        if above or below:
            values = [float(v) if (type(v) is float or type(v) is int)
                      and (low < v if above else low <= v)
                      and (v < high if below else v <= high)
                      else blank if v == "" else _SLOW for v in cells]
        else:  # most columns: one chained comparison, and no float() for a float
            values = [v if type(v) is float and low <= v <= high
                      else float(v) if type(v) is int and low <= v <= high
                      else blank if v == "" else _SLOW for v in cells]
    elif column.kind == "integer" and not (column.min_exclusive or column.max_exclusive):
        low = -_LARGEST if column.minimum is None else column.minimum
        high = _LARGEST if column.maximum is None else column.maximum
        values = [v if type(v) is int and low <= v <= high
                  else int(v) if type(v) is float and low <= v <= high and v.is_integer()
                  else blank if v == "" else _SLOW for v in cells]
    elif column.kind in ("text", "id", "ref"):
        # A whole number (a period such as 2026) reads as `_parse` reads it: "2026".
        values = [text if type(v) is str and (text := v.strip()) and len(text) <= 1000
                  else blank if v == ""
                  else str(int(v)) if type(v) is float and v.is_integer()
                  else str(v) if type(v) is int else _SLOW for v in cells]
    else:
        values = [_SLOW] * len(cells)
    letter = raw.headers[column.name][0]
    flagged = _where(values, _SLOW) if _SLOW in values else []
    for i in flagged:
        value = cell_value(cells[i])
        if value is None:
            if column.mandatory_value:
                out.add(sheet.name, f"{letter}{raw.rows[i]}", f"{column.name} is required")
            values[i] = None if column.mandatory_value else column.default
            continue
        parsed = _parse(value, column, sheet.name, f"{letter}{raw.rows[i]}", out)
        values[i] = _INVALID if parsed is None else parsed
    return values, flagged


def _cells(raw: RawSheet | None, sheet: Sheet, out: _Collector
           ) -> Iterable[tuple[int, dict[str, object], _RowCells]]:
    """Rows parsed by the schema: (excel row, values with defaults, cell refs). A row with
    a blank mandatory cell or a bad value yields None for that column, already reported."""
    table = _table(raw, sheet, out)
    return () if table is None else table.records()


class _Invalid:
    """A cell that was present but unusable (already reported)."""

    def __repr__(self) -> str:
        return "<invalid>"


_INVALID = _Invalid()


def _ok(*values: object) -> bool:
    return all(v is not None and v is not _INVALID for v in values)


# ---- sheets ---------------------------------------------------------------------------


def _materials(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Material]:
    result = []
    for row, v, cells in _cells(raw, MATERIALS, out):
        name = v["material"]
        if not _ok(name):
            continue
        if _key(name) in ids.materials:
            out.add("Materials", cells["material"], "duplicate material (ids are compared "
                    "ignoring case)", found=name)
            continue
        ids.materials[_key(name)] = name
        if name == "*":
            out.add("Materials", cells["material"], "* is reserved for 'every material'")
            continue
        if not _ok(v["demand"], v["shortage_penalty"], v["initial_stock"], v["stock_price"]) \
                or v["stockpile_cost"] is _INVALID or v["max_stockpile"] is _INVALID:
            continue
        initial, held, cap = v["initial_stock"], v["stockpile_cost"], v["max_stockpile"]
        if initial > 0 and held is None:
            out.add("Materials", cells["initial_stock"], "initial_stock is lost: the "
                    "material has no stockpile_cost, so no stock can be held",
                    found=_shown(initial), warning=True)
        elif initial > 0 and cap is not None and initial > cap:
            out.add("Materials", cells["initial_stock"], f"initial_stock above max_stockpile "
                    f"({cap:g}): the excess is lost", found=_shown(initial), warning=True)
        result.append(Material(
            id=name, unit=v["unit"] or "", demand=v["demand"],
            shortage_penalty=v["shortage_penalty"], stockpile_cost=held,
            max_stockpile=cap, row=row, initial_stock=initial,
            stock_price=v["stock_price"],
        ))
    return result


def _periods(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Period]:
    """The horizon in time order. Ids are registered even on a row whose weight is bad
    (already reported), so references to them are not reported a second time."""
    if raw is None:
        return []
    ids.periods_sheet = True
    result = []
    for row, v, cells in _cells(raw, PERIODS, out):
        name = v["period"]
        if not _ok(name):
            continue
        if _key(name) in ids.periods:
            out.add("Periods", cells["period"], "duplicate period (ids are compared "
                    "ignoring case)", found=name)
            continue
        ids.periods[_key(name)] = name
        ids.period_order[name] = len(ids.period_order)
        if v["weight"] is _INVALID:
            continue
        result.append(Period(id=name, weight=v["weight"], row=row))
    return result


def _period_problem(ids: _Ids, text: str, out: _Collector) -> str:
    """Why a period reference cannot be resolved."""
    if not ids.periods_sheet:
        return "no such period: the workbook has no Periods sheet"
    if not ids.periods:
        return "no such period: the Periods sheet lists none"
    return f"unknown period (not on Periods){did_you_mean(text, ids.periods.values(), out)}"


def _period_ref(value: object, ids: _Ids, sheet: str, cell: str, out: _Collector
                ) -> object:
    """A period reference: the Periods sheet's spelling, None when blank, _INVALID when
    unusable (reported)."""
    if value is None:
        return None
    if value is _INVALID:
        return _INVALID
    found = ids.periods.get(_key(str(value)))
    if found is None:
        out.add(sheet, cell, _period_problem(ids, str(value), out), found=str(value))
        return _INVALID
    return found


def _period_refs(table: _Table, name: str, ids: _Ids, sheet: str, out: _Collector
                 ) -> tuple[list[object], list[int]]:
    """`_period_ref` over a column: the spellings (None blank, _INVALID unusable), and the
    rows holding an unusable one."""
    values = table.values[name]
    if name not in table.raw.headers:
        return values, []
    found = {v: ids.periods.get(_key(str(v))) for v in set(values) if _ok(v)}
    result = [None if v is None else _INVALID if v is _INVALID
              else found[v] if found[v] is not None else _INVALID for v in values]
    bad = [i for i, v in enumerate(result) if v is _INVALID]
    problems = {v: _period_problem(ids, str(v), out) for v in
                dict.fromkeys(values[i] for i in bad if values[i] is not _INVALID)}
    for i in bad:
        if values[i] is not _INVALID:
            out.add(sheet, table.cell(name, i), problems[values[i]], found=str(values[i]))
    return result, bad


def _countries(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Country]:
    parsed = []
    for row, v, cells in _cells(raw, COUNTRIES, out):
        name = v["country"]
        if not _ok(name):
            continue
        if _key(name) in ids.countries:
            out.add("Countries", cells["country"], "duplicate country (codes are compared "
                    "ignoring case)", found=name)
            continue
        if name == "*":
            out.add("Countries", cells["country"], "* is reserved for 'every country'")
            continue
        ids.countries[_key(name)] = name
        parsed.append((row, v, cells))
    result = []
    for row, v, cells in parsed:
        tags: list[str] = []
        groups_text = v["groups"] if _ok(v["groups"]) else ""
        for tag in re.split(r"[,;]", str(groups_text)):
            tag = tag.strip()
            if not tag:
                continue
            if _key(tag) in ids.countries:
                out.add("Countries", cells["groups"], f"{tag} is used both as a country code "
                        "and as a group tag", found=groups_text)
                continue
            if tag == "*":
                out.add("Countries", cells["groups"], "* cannot be a group tag")
                continue
            spelling = ids.groups.setdefault(_key(tag), tag)
            if spelling not in tags:
                tags.append(spelling)
        if not _ok(v["disruption_prob"], v["tariff"]):
            continue
        result.append(Country(
            id=v["country"], name=v["name"] or "", disruption_prob=v["disruption_prob"],
            groups=tuple(tags), tariff=v["tariff"], row=row,
        ))
    return result


def _ref(value: object, table: dict[str, str], what: str, sheet: str, cell: str,
         out: _Collector, allow_star: bool = False) -> str | None:
    if not _ok(value):
        return None
    text = str(value)
    if allow_star and text == "*":
        return "*"
    found = table.get(_key(text))
    if found is None:
        out.add(sheet, cell, f"unknown {what}{did_you_mean(text, table.values(), out)}",
                found=text)
    return found


def _refs(table: _Table, name: str, ids: dict[str, str], what: str, sheet: str,
          out: _Collector) -> tuple[list[str | None], list[int]]:
    """`_ref` over a whole column, each distinct spelling looked up once; with the rows
    whose reference is unknown."""
    values = table.values[name]
    found = {v: ids.get(_key(str(v))) for v in set(values) if _ok(v)}
    unknown = {v for v, spelling in found.items() if spelling is None}
    rows = [i for i, v in enumerate(values) if v in unknown] if unknown else []
    # in row order, so that which ones get a search (see _SUGGESTIONS) is reproducible
    hints = {v: did_you_mean(str(v), ids.values(), out)
             for v in dict.fromkeys(values[i] for i in rows)}
    for i in rows:
        out.add(sheet, table.cell(name, i), f"unknown {what}{hints[values[i]]}",
                found=str(values[i]))
    return list(map(found.get, values)), rows  # None, _INVALID are not keys: None


def _where(values: list[object], marker: object) -> list[int]:
    """Positions of `marker` (by identity) in `values`, without a Python loop."""
    return list(compress(count(), map(is_, values, repeat(marker))))


def _offers(raw: RawSheet | None, ids: _Ids, countries: list[Country],
            out: _Collector) -> list[Offer]:
    """Column by column, then one pass that only builds offers: a Suppliers sheet may
    hold 100,000 of them, and `validate` must stay close to the time the file takes to
    read."""
    table = _table(raw, SUPPLIERS, out)
    if table is None:
        return []
    v = table.values
    materials, unknown_materials = _refs(table, "material", ids.materials,
                                         "material (not on Materials)", "Suppliers", out)
    origins, unknown_origins = _refs(table, "country", ids.countries,
                                     "country (not on Countries)", "Suppliers", out)
    processing_refs, unknown_processing = _refs(
        table, "processing_country", ids.countries, "processing country (not on Countries)",
        "Suppliers", out)
    processings = [origin if written is None else found for origin, written, found
                   in zip(origins, v["processing_country"], processing_refs, strict=True)]
    # SPEC §7 columns: a window, a project's capex and lead time, spot, the owner.
    owners, unknown_owners = _refs(table, "owner_country", ids.countries,
                                   "owner country (not on Countries)", "Suppliers", out)
    starts, bad_starts = _period_refs(table, "available_from", ids, "Suppliers", out)
    ends, bad_ends = _period_refs(table, "available_until", ids, "Suppliers", out)
    suppliers = v["supplier"]
    unit_cost, capacity, min_order, fixed_cost = (
        v["unit_cost"], v["capacity"], v["min_order"], v["fixed_cost"])
    reserve_cost, own_tariff = v["reserve_cost"], v["tariff"]
    capex, lead_time, spot = v["capex"], v["lead_time"], v["spot_capacity"]
    # Rows with a cell that is missing or unusable (already reported) make no offer.
    # Only flagged rows can be such, unless a column with no default is missing.
    bad_refs = {*unknown_owners, *bad_starts, *bad_ends}
    if all(c.name in raw.headers for c in SUPPLIERS.columns
           if c.mandatory_value and c.default is None):
        suspects = {*unknown_materials, *unknown_origins, *unknown_processing,
                    *bad_refs}.union(*table.flagged.values())
    else:
        suspects = set(range(len(table.rows)))
    written_owners = v["owner_country"]
    broken = {i for i in suspects if not _ok(
        suppliers[i], materials[i], origins[i], processings[i], unit_cost[i], capacity[i],
        min_order[i], fixed_cost[i], lead_time[i], spot[i]) or reserve_cost[i] is _INVALID
        or own_tariff[i] is _INVALID or capex[i] is _INVALID or i in bad_refs
        or written_owners[i] is _INVALID}
    # From here on, only the usable rows, one list per column.
    usable = [i for i in range(len(table.rows)) if i not in broken] if broken else None

    def usable_only(column: list) -> list:
        return column if usable is None else [column[i] for i in usable]

    rows, written, materials, origins, processings, unit_cost, capacity, min_order, \
        fixed_cost, reserve_cost, own_tariff, starts, ends, capex, lead_time, spot, \
        owners = map(usable_only, (
            table.rows, suppliers, materials, origins, processings, unit_cost, capacity,
            min_order, fixed_cost, reserve_cost, own_tariff, starts, ends, capex,
            lead_time, spot, owners))
    folded = [name.casefold() for name in written]  # _key(name): cells are stripped already
    # The first spelling met wins: read backwards, earlier rows overwrite later ones.
    spellings = dict(zip(reversed(folded), reversed(written), strict=True))
    if ids.suppliers:
        spellings.update(ids.suppliers)
    ids.suppliers = spellings
    names = list(map(spellings.__getitem__, folded))
    dropped: set[int] = set()
    keys = list(zip(folded, materials, origins, processings, strict=True))
    if len(set(keys)) < len(keys):
        seen: dict[tuple[str, ...], int] = {}
        for k, key in enumerate(keys):
            if key in seen:
                out.add("Suppliers", table.cell("supplier", _at(usable, k)), "duplicate "
                        "offer: the same supplier, material, country and processing "
                        f"country as row {seen[key]}", found=written[k])
                dropped.add(k)
            else:
                seen[key] = rows[k]
    if any(map(gt, min_order, capacity)):
        for k, (least, most) in enumerate(zip(min_order, capacity, strict=True)):
            if least > most and k not in dropped:
                out.add("Suppliers", table.cell("min_order", _at(usable, k)), "min_order "
                        f"exceeds capacity ({most:g})", found=least)
                dropped.add(k)
    if "available_from" in raw.headers and "available_until" in raw.headers:
        order = ids.period_order
        for k, (first, last) in enumerate(zip(starts, ends, strict=True)):
            if first is not None and last is not None and order[first] > order[last] \
                    and k not in dropped:
                out.add("Suppliers", table.cell("available_from", _at(usable, k)),
                        f"available_from is after available_until ({last})", found=first)
                dropped.add(k)
    if "lead_time" in raw.headers:
        lead_time = _lead_times(table, usable, dropped, starts, ends, capex, lead_time, ids,
                                out)
    tariffs = {c.id: c.tariff for c in countries}
    columns = (rows, names, materials, origins, processings, unit_cost, capacity,
               min_order, fixed_cost, reserve_cost, own_tariff, starts, ends, capex,
               lead_time, spot, owners)
    if dropped:
        columns = tuple([x for k, x in enumerate(column) if k not in dropped]
                        for column in columns)
    return _offers_from([
        {"supplier": name, "material": material, "country": origin,
         "processing_country": processing, "unit_cost": cost, "capacity": most,
         "min_order": least, "fixed_cost": fixed, "reserve_cost": reserve,
         "tariff": tariffs.get(processing, 0.0) if tariff is None else tariff,
         "tariff_override": tariff, "row": row, "available_from": first,
         "available_until": last, "capex": build, "lead_time": lead,
         "spot_capacity": sold, "owner_country": owner}
        for row, name, material, origin, processing, cost, most, least, fixed, reserve,
        tariff, first, last, build, lead, sold, owner in zip(*columns, strict=True)])


def _lead_times(table: _Table, usable: list[int] | None, dropped: set[int],
                starts: list, ends: list, capex: list, lead_time: list, ids: _Ids,
                out: _Collector) -> list[int]:
    """Lead times as stored: 0 where the offer is no project (the cell is ignored, with a
    warning). A project whose earliest build could not be online inside its window and
    the horizon is kept, with a warning naming its lead_time cell: it will never be
    built."""
    order = ids.period_order
    names = list(order)
    last_t = max(len(names) - 1, 0)
    result = list(lead_time)
    for k, lead in enumerate(lead_time):
        if lead == 0 or k in dropped:
            continue
        cell = table.cell("lead_time", _at(usable, k))
        if capex[k] is None:
            out.add("Suppliers", cell, "lead_time is ignored: the offer has no capex, so it "
                    "is not a project", found=lead, warning=True)
            result[k] = 0
            continue
        first = 0 if starts[k] is None else order[starts[k]]
        last = last_t if ends[k] is None else order[ends[k]]
        if first + lead <= last:
            continue
        if not names:
            out.add("Suppliers", cell, "the project can never deliver: the workbook plans "
                    "one period (no Periods sheet) and its lead_time puts the first "
                    "delivery after it", found=lead, warning=True)
            continue
        bound = f"available_until ({ends[k]})" if ends[k] is not None and last < last_t \
            else f"the last period ({names[last_t]})"
        out.add("Suppliers", cell, f"the project can never deliver: a build started in "
                f"{names[first]}, its first possible period, is online only {lead} "
                f"period{'s' if lead != 1 else ''} later, after {bound}", found=lead,
                warning=True)
    return result


def _at(usable: list[int] | None, k: int) -> int:
    """The table row of the k-th usable row."""
    return k if usable is None else usable[k]


_OFFER_FIELDS = ("supplier", "material", "country", "processing_country", "unit_cost",
                 "capacity", "min_order", "fixed_cost", "reserve_cost", "tariff",
                 "tariff_override", "row", "available_from", "available_until", "capex",
                 "lead_time", "spot_capacity", "owner_country")


def _offers_from(fields: list[dict[str, object]]) -> list[Offer]:
    """[Offer(**f) for f in fields], in a third of the time. A frozen dataclass's
    __init__ sets each field through object.__setattr__, one call per field (with the 12
    fields of v1, 3 µs an offer, a fifth of validating 100,000 offers). Handing each
    instance its finished __dict__ makes the same object — equal, hashing, pickling and
    printing alike — as long as Offer is a plain dataclass of exactly these fields; if it
    ever is not (a new field, __post_init__, slots), the real constructor is used. The
    price is memory: such a dict does not share its keys with the other offers' (about
    300 bytes more an offer)."""
    plain = (tuple(f.name for f in dataclasses.fields(Offer)) == _OFFER_FIELDS
             and not hasattr(Offer, "__post_init__") and not hasattr(Offer, "__slots__"))
    if not plain:
        return [Offer(**f) for f in fields]
    offers = list(map(object.__new__, repeat(Offer, len(fields))))
    set_attribute = object.__setattr__
    for offer, values in zip(offers, fields, strict=True):
        set_attribute(offer, "__dict__", values)
    return offers


def _policies(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[Policy]:
    result = []
    strategies, whatifs = ids.strategies, ids.whatifs
    for row, v, cells in _cells(raw, POLICIES, out):
        rule, stage = v["rule"], v["stage"]
        material = _ref(v["material"], ids.materials, "material (not on Materials)",
                        "Policies", cells.get("material", ""), out, allow_star=True)
        target, kind = _policy_target(v["target"], ids, cells.get("target", ""), out)
        from_period = _period_ref(v["from_period"], ids, "Policies",
                                  cells.get("from_period", ""), out)
        if not _ok(rule, stage, material) or target is None or from_period is _INVALID:
            continue
        value_cell = cells.get("value", "")
        raw_value = v["value"]
        value: float | None = None
        if rule == "exclude":
            if target == "*":
                out.add("Policies", cells.get("target", f"A{row}"), "exclude needs a country "
                        "or group target, not * (that would exclude every offer)")
                continue
        elif raw_value is None or raw_value is _INVALID:
            out.add("Policies", value_cell or f"A{row}", f"{rule} needs a value")
            continue
        else:
            share = rule in SHARE_RULES
            number = _number(raw_value, share, "Policies", value_cell, "value", out)
            if number is None:
                continue
            if share and not 0 <= number <= 1:
                hint = (f": {_as_percent(number)}; write {_figure(number / 100)} or "
                        f"{_figure(number)} %" if 1 < number <= 100
                        and not _percent_text(raw_value) else " (write 0.65 or 65%)")
                out.add("Policies", value_cell, f"{rule} value is a share between 0 and 1"
                        f"{hint}", found=raw_value)
                continue
            if rule == "max_hhi" and not 0 <= number <= 10_000:
                out.add("Policies", value_cell, "max_hhi value is on the 0-10,000 scale",
                        found=raw_value)
                continue
            value = number
        if rule in ("min_group_share", "max_group_share") and target == "*":
            out.add("Policies", cells.get("target", f"A{row}"), f"{rule} needs a group tag "
                    "or a country code as target, not *")
            continue
        if rule == "max_hhi" and target != "*":
            out.add("Policies", cells.get("target", f"A{row}"), "max_hhi applies to all "
                    "countries: leave target blank or *", found=target)
            continue
        strategy = _spelling(v["strategy"], strategies)
        whatif = _spelling(v["whatif"], whatifs)
        name = v["name"] or f"{rule} {target}"
        result.append(Policy(
            rule=rule, material=material, target=target, target_kind=kind, stage=stage,
            value=value, strategy=strategy, whatif=whatif, name=name, row=row,
            from_period=from_period,
        ))
    return result


def _spelling(value: object, table: dict[str, str]) -> str | None:
    if not _ok(value) or value == "":
        return None
    return table.setdefault(_key(str(value)), str(value))


def _policy_target(value: object, ids: _Ids, cell: str, out: _Collector
                   ) -> tuple[str | None, str]:
    if value is _INVALID:
        return None, ""
    text = "*" if value is None else str(value)
    if text == "*":
        return "*", "*"
    if _key(text) in ids.countries:
        return ids.countries[_key(text)], "country"
    if _key(text) in ids.groups:
        return ids.groups[_key(text)], "group"
    hint = did_you_mean(text, [*ids.countries.values(), *ids.groups.values()], out)
    out.add("Policies", cell, "target is neither a country code on Countries nor a group "
            f"tag used there{hint}", found=text)
    return None, ""


def _scenarios(raw: RawSheet | None, ids: _Ids, out: _Collector
               ) -> tuple[Scenario, ...] | None:
    """One Scenario per (what-if, scenario, period) group of rows. Rows that apply in the
    same period must agree on the probability (a blank-period row applies in every
    period); every row of a scenario carries the same price_surge (blank = 0)."""
    if raw is None:
        return None
    groups: dict[tuple[str | None, str, str | None], dict] = {}
    families: dict[tuple[str | None, str], list[dict]] = {}  # rows of one scenario
    broken_families: set[tuple[str | None, str]] = set()
    whatifs = ids.whatifs
    for row, v, cells in _cells(raw, SCENARIOS, out):
        name = v["scenario"]
        country = _ref(v["country"], ids.countries, "country (not on Countries)",
                       "Scenarios", cells.get("country", ""), out)
        material = _ref(v["material"], ids.materials, "material (not on Materials)",
                        "Scenarios", cells.get("material", ""), out, allow_star=True)
        period = _period_ref(v["period"], ids, "Scenarios", cells.get("period", ""), out)
        if not _ok(name):
            continue
        if _key(name) == BASELINE:
            out.add("Scenarios", cells["scenario"], "baseline is reserved for the implicit "
                    "no-disruption scenario", found=name)
            continue
        whatif = _spelling(v["whatif"], whatifs)
        family_key = (whatif and _key(whatif), _key(name))
        if period is _INVALID:
            broken_families.add(family_key)
            continue
        family = families.setdefault(family_key, [])
        group = groups.setdefault((*family_key, period), {
            "name": family[0]["name"] if family else name, "prob": v["probability"],
            "row": row, "hits": [], "whatif": whatif, "period": period,
            "cell": cells.get("probability", "")})
        record = {"name": name, "row": row, "prob": v["probability"], "group": group,
                  "period": period, "surge": v["price_surge"], "cells": cells}
        family.append(record)
        if not _ok(country, material, v["capacity_factor"], v["probability"],
                   v["price_surge"]):
            group["broken"] = True
            continue
        group["hits"].append(ScenarioHit(country, material, v["capacity_factor"]))
    for family_key, family in families.items():
        _check_scenario_rows(family, groups, family_key, out)
    scenarios = []
    for key, group in groups.items():
        if group.get("broken") or not _ok(group["prob"]) or key[:2] in broken_families:
            continue
        first = families[key[:2]][0]
        scenarios.append(Scenario(
            name=group["name"], probability=group["prob"], hits=tuple(group["hits"]),
            whatif=group["whatif"], row=group["row"], period=group["period"],
            price_surge=first["surge"] if _ok(first["surge"]) else 0.0,
        ))
    _check_probability_budget(raw, scenarios, ids, out)
    return tuple(scenarios)


def _check_scenario_rows(family: list[dict], groups: dict, family_key: tuple,
                         out: _Collector) -> None:
    """Within one period a scenario has one probability: each row agrees with the first
    row of its own period's group, or, for a period-specific row, with the first row of
    the scenario's rows for every period. Every row has the scenario's first surge."""
    blank = groups.get((*family_key, None))
    first = family[0]
    for record in family:
        group = record["group"]
        reference = blank if blank is not None and record["period"] is not None else group
        prob, expected = record["prob"], reference["prob"]
        if record["row"] != reference["row"] and _ok(prob, expected) \
                and abs(prob - expected) > 1e-12:
            if reference is group:
                where = "" if group["period"] is None else f" in period {group['period']}"
                message = (f"probability differs from the first row of scenario "
                           f"{group['name']}{where} (row {group['row']}: {expected:g})")
            else:
                message = (f"probability differs from the rows of scenario "
                           f"{group['name']} for every period (row {reference['row']}: "
                           f"{expected:g}); within one period a scenario has one "
                           "probability")
            out.add("Scenarios", record["cells"]["probability"], message, found=prob)
        surge, wanted = record["surge"], first["surge"]
        if record is not first and _ok(surge, wanted) and abs(surge - wanted) > 1e-12:
            out.add("Scenarios", record["cells"]["price_surge"], "price_surge differs from "
                    f"the first row of scenario {first['name']} (row {first['row']}: "
                    f"{wanted:g}); it is equal on every row of a scenario, a blank counting "
                    "as 0", found=_shown(surge))


def _check_probability_budget(raw: RawSheet, scenarios: list[Scenario], ids: _Ids,
                              out: _Collector) -> None:
    """Σ_k π_{k,t} ≤ 1 in every period, over the base rows: each scenario present in t
    counts once, with its rows for t or else its rows for every period."""
    base = [s for s in scenarios if s.whatif is None]
    if not any(s.period is not None for s in base):
        total = sum(s.probability for s in base)
        if total > 1 + 1e-9:
            first = min(s.row for s in base)
            out.add("Scenarios", _col(raw, "probability", first), "scenario probabilities "
                    "sum to more than 1", found=round(total, 6))
        return
    # Linear in periods + scenarios: a period's total is that of the every-period rows,
    # with each scenario that has rows for the period counted at its probability there.
    every = {_key(s.name): s for s in base if s.period is None}
    every_total = sum(s.probability for s in every.values())
    every_first = min((s.row for s in every.values()), default=0)
    by_period: dict[str, list[Scenario]] = {}
    for s in base:
        if s.period is not None:
            by_period.setdefault(s.period, []).append(s)
    over: dict[tuple[str, float], list[str]] = {}  # (cell, total) -> periods
    for period in ids.period_order:
        specific = by_period.get(period, [])
        total = every_total + sum(
            s.probability - (every[_key(s.name)].probability if _key(s.name) in every else 0)
            for s in specific)
        if total > 1 + 1e-9:
            first = min(s.row for s in specific) if specific else every_first
            over.setdefault((_col(raw, "probability", first), round(total, 6)),
                            []).append(period)
    for (cell, total), periods in over.items():
        out.add("Scenarios", cell, "scenario probabilities sum to more than 1 in period"
                f"{'s' if len(periods) > 1 else ''} {', '.join(periods)}", found=total)


def _demand(raw: RawSheet | None, ids: _Ids, out: _Collector
            ) -> tuple[list[DemandRow], list[WhatIfEdit]]:
    """D_{m,t} rows; a row carrying a what-if name becomes that what-if's edit, which sets
    (adds or replaces) the demand of its material and period when the what-if is
    applied."""
    rows: list[DemandRow] = []
    edits: list[WhatIfEdit] = []
    seen: dict[tuple[str | None, str, str], int] = {}
    for row, v, cells in _cells(raw, DEMAND, out):
        material = _ref(v["material"], ids.materials, "material (not on Materials)",
                        "Demand", cells.get("material", ""), out)
        period = _period_ref(v["period"], ids, "Demand", cells.get("period", ""), out)
        whatif = _spelling(v["whatif"], ids.whatifs)
        if not _ok(material, period, v["demand"]) or v["whatif"] is _INVALID:
            continue
        key = (whatif and _key(whatif), material, period)
        if key in seen:
            under = f" under what-if {whatif}" if whatif else ""
            out.add("Demand", cells["material"], f"duplicate demand for {material} in period "
                    f"{period}{under} (first on row {seen[key]})", found=v["material"])
            continue
        seen[key] = row
        if whatif is None:
            rows.append(DemandRow(material=material, period=period, demand=v["demand"],
                                  row=row))
        else:
            edits.append(WhatIfEdit(
                whatif=whatif, sheet="Demand", where=(("material", material),
                                                      ("period", period)),
                column="demand", op="set", value=v["demand"], row=row))
    return rows, edits


def _settings(raw: RawSheet | None, out: _Collector) -> Settings:
    if raw is None:
        return Settings()
    known = {normalise_name(c.name): c for c in SETTING_KEYS.columns}
    values: dict[str, object] = {}
    seen: dict[str, int] = {}
    blank = [None] * len(raw.rows)
    keys, settings = ([cell_value(v) for v in raw.columns.get(name, blank)]
                      for name in ("key", "value"))
    for row, key_text, value in zip(raw.rows, keys, settings, strict=True):
        key_cell = raw.cell("key", row)
        value_cell = raw.cell("value", row)
        if key_text is None:
            out.add("Settings", key_cell, "key is required")
            continue
        column = known.get(normalise_name(key_text))
        if column is None:
            names = [c.name for c in SETTING_KEYS.columns]
            found = near_misses(str(key_text), names)
            known_text = f"did you mean {_or(found)}?" if found else \
                f"known: {', '.join(names)}"
            out.add("Settings", key_cell, f"unknown setting, ignored ({known_text})",
                    found=key_text, warning=True)
            continue
        if column.name in seen:
            out.add("Settings", key_cell, f"{column.name} is set twice (first on row "
                    f"{seen[column.name]})")
            continue
        seen[column.name] = row
        if value is None:
            continue  # blank: the default
        parsed = _parse(value, column, "Settings", value_cell, out)
        if parsed is not None:
            values[column.name] = parsed
    return Settings(**values)


def _setting_cell(raw: RawSheet, name: str) -> str:
    """The value cell of a Settings key (the first row naming it)."""
    keys = [cell_value(v) for v in raw.columns.get("key", [])]
    for row, key in zip(raw.rows, keys, strict=False):
        if key is not None and normalise_name(key) == normalise_name(name):
            return raw.cell("value", row)
    return ""


def _whatifs(raw: RawSheet | None, ids: _Ids, out: _Collector) -> list[WhatIfEdit]:
    edits = []
    names = ids.whatifs
    for row, v, cells in _cells(raw, WHATIFS, out):
        if not _ok(v["whatif"], v["sheet"], v["column"], v["op"], v["value"]) \
                or v["where"] is _INVALID:  # a where cell too long: reported already
            continue
        where = parse_where(v["where"] or "", "WhatIfs", cells.get("where", ""), out)
        if where is None:
            continue
        edits.append(WhatIfEdit(
            whatif=_spelling(v["whatif"], names), sheet=v["sheet"], where=where,
            column=str(v["column"]), op=v["op"], value=_edit_value(v["value"]), row=row,
        ))
    return edits


def _edit_value(text: str) -> float | str:
    try:
        number = float(text)
    except ValueError:
        percent = _PERCENT.match(text)
        return float(percent.group(1)) / 100 if percent else text
    return number if math.isfinite(number) else text


def parse_where(text: str, sheet: str, cell: str, out: _Collector
                ) -> tuple[tuple[str, str], ...] | None:
    pairs = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            out.add(sheet, cell, "where must be column=value pairs joined by ;", found=text)
            return None
        column, value = part.split("=", 1)
        pairs.append((column.strip(), value.strip()))
    return tuple(pairs)
