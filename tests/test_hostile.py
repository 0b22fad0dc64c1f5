"""Hostile and awkward input files, formula injection, time limits, nothing lost, and
determinism — each through the real command line.

Every run is a subprocess of the `resilience` CLI with its working directory in a fresh
folder, under a 4 GiB address-space limit and a 60 s timeout. A refused run must give its
exit code, a plain one-screen message on stderr (no traceback), and leave every file in
its folder as it was (the input included: its bytes never change).

Tests marked found_bug document bugs found here, fixed since; they
start passing (and so turn red as XPASS) once the bug is fixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import hostile_corpus as corpus
import pytest
from openpyxl import load_workbook

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX limits and signals")

ADDRESS_SPACE = 4 * 1024**3
TIMEOUT = 60.0
_SCRIPT = Path(sys.executable).with_name("resilience")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "resilience.cli"]


# ---- running the CLI ----------------------------------------------------------------


def _child_limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # so Python installs its Ctrl-C handler


def _environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("RUST_BACKTRACE", None)  # what a user sees, not a developer's setting
    env.update(extra or {})
    return env


@dataclass
class Run:
    code: int
    out: str
    err: str
    seconds: float


def cli(cwd: Path, *args: object, env: dict[str, str] | None = None,
        timeout: float = TIMEOUT) -> Run:
    started = time.monotonic()
    done = subprocess.run(
        [*COMMAND, *map(str, args)], cwd=cwd, capture_output=True, timeout=timeout,
        preexec_fn=_child_limits, env=_environment(env))
    return Run(done.returncode, done.stdout.decode("utf-8", "replace"),
               done.stderr.decode("utf-8", "replace"), time.monotonic() - started)


def start(cwd: Path, *args: object) -> subprocess.Popen:
    return subprocess.Popen([*COMMAND, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_child_limits,
                            env=_environment())


def finish(process: subprocess.Popen, started: float) -> Run:
    out, err = process.communicate(timeout=TIMEOUT)
    return Run(process.returncode, out.decode("utf-8", "replace"),
               err.decode("utf-8", "replace"), time.monotonic() - started)


def snapshot(folder: Path) -> dict[str, str]:
    """Every path under `folder` with the SHA-256 of its bytes ('dir' for folders)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        key = path.relative_to(folder).as_posix()
        if path.is_symlink():
            state[key] = "link → " + os.readlink(path)
        elif path.is_dir():
            state[key] = "dir"
        else:
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_plain(text: str, max_lines: int = 25) -> None:
    """A message a person reads: no traceback, no panic, fits on one screen."""
    assert "Traceback" not in text, text
    assert "stack backtrace" not in text and "panicked" not in text, text[:2000]
    lines = text.strip().splitlines()
    assert 1 <= len(lines) <= max_lines, text[:3000]
    assert len(text) <= 4000, text[:3000]


PREVIOUS = b"the report of an earlier run, which a failed run must leave alone"


def prepare(tmp_path: Path) -> tuple[Path, Path]:
    """(work folder, scratch file): the CLI runs in `work`, which already holds a
    previous report; corpus builders use `scratch` outside it."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "report.xlsx").write_bytes(PREVIOUS)
    return work, tmp_path / "scratch.xlsx"


def refuse(work: Path, book: Path, code: int, *fragments: str, command: str = "solve",
           env: dict[str, str] | None = None) -> Run:
    """Run `command` on `book`, expect `code`, a plain message holding every fragment,
    and no file written or changed."""
    before = snapshot(work)
    args: list[object] = [command, book.name]
    if command == "solve":
        args += ["-o", "report.xlsx", "--force", "--json", "result.json"]
    run = cli(work, *args, env=env)
    assert run.code == code, f"exit {run.code}\nstdout: {run.out}\nstderr: {run.err[:3000]}"
    assert_plain(run.err)
    for fragment in fragments:
        assert fragment.casefold() in run.err.casefold(), run.err
    assert snapshot(work) == before
    return run


def solve_ok(work: Path, book: Path, *extra: object) -> tuple[Run, dict]:
    before = sha256(book)
    run = cli(work, "solve", book.name, "-o", "report.xlsx", "--force", "--json",
              "result.json", *extra)
    assert run.code == 0, f"exit {run.code}\nstdout: {run.out}\nstderr: {run.err[:3000]}"
    assert "Traceback" not in run.err
    assert sha256(book) == before
    assert not list(work.glob(".*.tmp")), "temporary files left behind"
    return run, json.loads((work / "result.json").read_text(encoding="utf-8"))


def report_strings(path: Path) -> tuple[set[str], list[str]]:
    """(every string cell value, every formula cell 'Sheet!A1') of a report."""
    book = load_workbook(path)
    strings: set[str] = set()
    formulas: list[str] = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    formulas.append(f"{sheet.title}!{cell.coordinate}: {cell.value!r}")
                elif isinstance(cell.value, str):
                    strings.add(cell.value)
    return strings, formulas


def summary_values(path: Path) -> dict[str, object]:
    """Label (column A) → value (column B) of the Summary sheet."""
    sheet = load_workbook(path, read_only=True)["Summary"]
    return {str(row[0]): row[1] for row in sheet.iter_rows(max_col=2, values_only=True)
            if row and row[0] is not None}


# ---- 1. hostile files, refused before parsing ---------------------------------------


def _bug(reason: str):
    """A regression test for a bug this file found (fixed since): the reason records it."""
    return pytest.mark.found_bug(reason)


NOT_READABLE = [
    pytest.param(lambda p, s: corpus.write_csv_renamed(p), ("not an .xlsx",), id="csv-renamed"),
    pytest.param(lambda p, s: corpus.write_zero_bytes(p), ("empty", "0 bytes"), id="zero-bytes"),
    pytest.param(corpus.write_truncated, (".xlsx",), id="truncated-zip"),
    pytest.param(corpus.write_truncated_keeping_directory, ("damaged",),
                 id="truncated-zip-directory-kept"),
    pytest.param(lambda p, s: corpus.write_ole(p), (".xlsx",), id="ole-encrypted-or-xls"),
    pytest.param(lambda p, s: corpus.write_zip_not_excel(p), ("not an Excel workbook",),
                 id="zip-not-excel"),
    pytest.param(corpus.write_declared_huge, ("512 MiB",), id="declared-4GiB-entry"),
    pytest.param(corpus.write_corrupt_deflate, ("damaged",), id="corrupt-deflate-data",
                 marks=_bug("zlib.error from inspect_parts escapes as exit 1 'Error: error: "
                            "Error -3 while decompressing data'")),
    pytest.param(corpus.write_bad_crc, ("damaged",), id="bad-crc",
                 marks=_bug("zipfile.BadZipFile 'Bad CRC-32' from inspect_parts escapes as "
                            "exit 1")),
    pytest.param(corpus.write_encrypted_entries, ("encrypted",), id="zip-encrypted-entries",
                 marks=_bug("RuntimeError 'password required' from inspect_parts escapes "
                            "as exit 1")),
    pytest.param(corpus.write_unsupported_method, ("damaged",), id="deflate64-entry",
                 marks=_bug("NotImplementedError 'compression method is not supported' "
                            "escapes as exit 1")),
    pytest.param(corpus.write_damaged_sheet_xml, ("damaged",), id="damaged-sheet-xml",
                 marks=_bug("ParseError from _formulas_without_values (sheet XML holding "
                            "'<f') escapes as exit 1")),
]


@pytest.mark.parametrize(("build", "fragments"), NOT_READABLE)
def test_unreadable_file_is_refused_with_exit_2(tmp_path, build, fragments):
    work, scratch = prepare(tmp_path)
    book = build(work / "book.xlsx", scratch)
    refuse(work, book, 2, *fragments, "book.xlsx")


@pytest.fixture(scope="session")
def bombs(tmp_path_factory) -> dict[str, Path]:
    """Generated once: 600 MiB of zeros in three media entries (~0.6 MB on disk), and a
    sheet inflating to 600 MiB behind a directory that declares a few kilobytes."""
    folder = tmp_path_factory.mktemp("bombs")
    return {
        "zeros": corpus.write_zip_bomb(folder / "zeros.xlsx", folder / "s1.xlsx"),
        "liar": corpus.write_lying_directory(folder / "liar.xlsx", folder / "s2.xlsx"),
    }


def test_zip_bomb_is_refused_from_the_directory(tmp_path, bombs):
    work, _ = prepare(tmp_path)
    book = shutil.copy(bombs["zeros"], work / "bomb.xlsx")
    assert Path(book).stat().st_size < 4 * corpus.MIB
    run = refuse(work, Path(book), 2, "512 MiB", "bomb.xlsx")
    assert "600 MiB" in run.err or "inflate" in run.err


def test_zip_bomb_check_reads_no_compressed_data(bombs, monkeypatch):
    """`check_container` decides from the zip directory alone: opening any entry fails."""
    from resilience.errors import InputError
    from resilience.workbook import check_container

    def no_inflating(*args, **kwargs):
        raise AssertionError("an entry was opened")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_inflating)
    with pytest.raises(InputError, match="512 MiB"):
        check_container(bombs["zeros"])


def test_zip_bomb_behind_a_lying_directory_is_refused(tmp_path, bombs):
    """The directory declares a few KB; the sheet really inflates to 600 MiB. The reader
    stops at the declared size (today: calamine's 'larger than its declared size')."""
    work, _ = prepare(tmp_path)
    book = Path(shutil.copy(bombs["liar"], work / "liar.xlsx"))
    run = refuse(work, book, 2, "liar.xlsx")
    assert run.seconds < 30


DTD_CASES = [
    pytest.param(lambda p, s: corpus.write_laughs_in_shared_strings(p, s), ("DTD",),
                 id="billion-laughs-shared-strings"),
    # Past the first 64 KiB of the part, the DTD scan does not see it; calamine refuses
    # the part all the same ("Cannot detect file format"), so the entities never expand.
    pytest.param(lambda p, s: corpus.write_laughs_in_shared_strings(p, s, padded=True), (),
                 id="billion-laughs-after-64KiB"),
    pytest.param(lambda p, s: corpus.write_laughs_in_shared_strings(p, s, encoding="utf-16"),
                 (), id="billion-laughs-utf16"),
    pytest.param(lambda p, s: corpus.write_entities_in_formula_sheet(p, s), ("DTD",),
                 id="billion-laughs-in-formula-sheet-after-64KiB",
                 marks=_bug("a DTD past the 64 KiB scan in a sheet with formulas reaches "
                            "defusedxml in _formulas_without_values, whose EntitiesForbidden "
                            "escapes as exit 1")),
    pytest.param(lambda p, s: corpus.write_entities_in_formula_sheet(p, s, corpus.EXTERNAL),
                 ("DTD",), id="external-entity-in-formula-sheet-after-64KiB",
                 marks=_bug("as above, EntitiesForbidden for an external entity: exit 1")),
]


@pytest.mark.parametrize(("build", "fragments"), DTD_CASES)
def test_xml_entities_are_refused(tmp_path, build, fragments):
    work, scratch = prepare(tmp_path)
    book = build(work / "laughs.xlsx", scratch)
    run = refuse(work, book, 2, *fragments)
    assert run.seconds < 30


PLAN_FILES = [
    pytest.param(corpus.write_declared_huge, ("512 MiB",), id="plan-declared-4GiB-entry"),
    pytest.param(lambda p, s: corpus.write_laughs_in_shared_strings(p, s), (),
                 id="plan-billion-laughs"),
    pytest.param(lambda p, s: corpus.write_csv_renamed(p), ("not an .xlsx",),
                 id="plan-csv-renamed"),
    pytest.param(corpus.write_far_cell, ("XFD1048576",), id="plan-far-away-cell",
                 marks=_bug("as for input workbooks: calamine aborts the process on a "
                            "stray value in the last cell of the plan file")),
]


@pytest.mark.parametrize(("build", "fragments"), PLAN_FILES)
def test_hostile_plan_file_is_refused(tmp_path, build, fragments):
    """`evaluate --plan` reads a second workbook: it gets the same protection."""
    work, scratch = prepare(tmp_path)
    corpus.write_basic(work / "book.xlsx")
    plan = build(work / "plan.xlsx", scratch)
    before = snapshot(work)
    run = cli(work, "evaluate", "book.xlsx", "--plan", plan.name, "-o", "report.xlsx", "--force")
    assert run.code == 2, f"exit {run.code}\nstderr: {run.err[:3000]}"
    assert_plain(run.err)
    for fragment in fragments:
        assert fragment.casefold() in run.err.casefold(), run.err
    assert snapshot(work) == before


# ---- 1. awkward cells, handled ------------------------------------------------------


def test_formula_without_cached_value_is_named(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_formula_without_value(work / "formula.xlsx")
    refuse(work, book, 2, "Materials!C2", "formula with no saved value", "=50+50")


def test_formulas_with_cached_values_are_read(tmp_path):
    """`=50+50` cached as 100 is the demand; `="gal"&"lium"` cached as gallium the name."""
    work, scratch = prepare(tmp_path)
    book = corpus.write_formula_with_value(work / "cached.xlsx", scratch)
    _, result = solve_ok(work, book)
    assert {line["material"] for line in result["plan"]} == {"gallium"}
    assert sum(line["quantity"] for line in result["plan"]) == pytest.approx(100)


@_bug("a formula whose saved value is the empty string (t=\"str\" with an empty <v></v>, "
      "as LibreOffice saves =IF(A4=\"\",\"\",0)) is reported as 'formula with no saved "
      "value': 2,000 such rows give exit 2 and 2,001 lines of errors")
def test_formulas_saved_as_empty_text_below_the_table_are_blank_rows(tmp_path):
    work, scratch = prepare(tmp_path)
    book = corpus.write_empty_string_formulas(work / "template.xlsx", scratch)
    run = cli(work, "validate", book.name)
    assert run.code == 0, run.err[:2000]
    assert "2 offers" in run.out


@_bug("a formula cached as an error (#DIV/0!) reads as a blank cell: the message is "
      "'Materials!C2: demand is required', pointing at a cell that shows #DIV/0!")
def test_formula_cached_as_an_error_is_named(tmp_path):
    work, scratch = prepare(tmp_path)
    book = corpus.write_formula_error_value(work / "div0.xlsx", scratch)
    refuse(work, book, 2, "Materials!C2", "#DIV/0!")


def test_nan_and_inf_text_are_refused_cell_by_cell(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_nonfinite_text(work / "nonfinite.xlsx")
    run = refuse(work, book, 2, *corpus.NONFINITE_CELLS)
    assert "6 problems" in run.err


@_bug("a number cell holding NaN (<v>NaN</v>) reads as blank, so disruption_prob "
      "silently becomes 0 and the plan ignores the risk")
def test_nan_number_cell_is_refused(tmp_path):
    work, scratch = prepare(tmp_path)
    book = corpus.write_nan_number_cell(work / "nan.xlsx", scratch)
    refuse(work, book, 2, "Countries!B2")


def test_oversized_cell_is_refused_on_one_screen(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_oversized_name(work / "long.xlsx")
    run = refuse(work, book, 2, "Suppliers!A2", "too long", "32,767")
    assert "A" * 100 not in run.err


def test_oversized_cell_in_an_unused_column_is_a_warning(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_oversized_unknown_column(work / "notes.xlsx")
    run = cli(work, "validate", book.name)
    assert run.code == 0, run.err
    assert "unknown column" in run.out and "notes" in run.out
    assert len(run.out) < 4000


@pytest.mark.parametrize("build", [corpus.write_blank_styled_rows,
                                   corpus.write_styled_whole_rows,
                                   corpus.write_styled_far_corner],
                         ids=["5k-styled-blank-rows", "200k-formatted-empty-rows",
                              "formatted-empty-far-corner"])
def test_thousands_of_blank_styled_rows_are_skipped(tmp_path, build):
    work, scratch = prepare(tmp_path)
    book = build(work / "styled.xlsx", scratch)
    run = cli(work, "validate", book.name)
    assert run.code == 0, run.err
    assert "2 offers" in run.out
    assert run.seconds < 30


@_bug("one stray value in the last cell (XFD1048576) makes calamine allocate a dense "
      "1,048,576 × 16,384 grid (512 GiB): the process aborts (SIGABRT, a Rust "
      "'memory allocation failed' message) instead of exit 2")
def test_far_away_cell_is_refused_not_a_crash(tmp_path):
    work, scratch = prepare(tmp_path)
    book = corpus.write_far_cell(work / "far.xlsx", scratch)
    refuse(work, book, 2, "XFD1048576")


@_bug("merged cells are not recognised: Suppliers!B2:B3 merged over 'gallium' reads B3 as "
      "blank, and the message 'Suppliers!B3: material is required' does not say why")
def test_merged_cells_are_filled_or_explained(tmp_path):
    work, scratch = prepare(tmp_path)
    book = corpus.write_merged_material(work / "merged.xlsx", scratch)
    run = cli(work, "validate", book.name)
    assert "Traceback" not in run.err
    if run.code == 0:  # the merged value applies to each row it covers
        assert "2 offers" in run.out
    else:
        assert run.code == 2
        assert_plain(run.err)
        assert "merged" in run.err.casefold() and "B2:B3" in run.err


def test_hidden_sheets_are_read_with_a_warning(tmp_path):
    work, scratch = prepare(tmp_path)
    book = corpus.write_hidden_sheets(work / "hidden.xlsx", scratch)
    run = cli(work, "validate", book.name)
    assert run.code == 0, run.err
    assert "1 material, 2 countries" in run.out
    hidden = [line for line in run.out.splitlines() if "hidden" in line]
    assert any(line.strip().startswith("Materials") for line in hidden), run.out
    assert any(line.strip().startswith("Countries") for line in hidden), run.out


def test_emoji_and_non_latin_names_survive_to_json_and_report(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_unicode_names(work / "unicode.xlsx")
    _, result = solve_ok(work, book)
    names = corpus.UNICODE_NAMES
    assert {line["material"] for line in result["plan"]} == {names["material"]}
    assert {line["country"] for line in result["plan"]} <= {names["country_a"],
                                                             names["country_b"]}
    strings, formulas = report_strings(work / "report.xlsx")
    assert not formulas
    text = "\n".join(strings)
    for key in ("material", "country_a", "country_a_name", "country_b", "supplier_a",
                "supplier_b", "unit"):
        assert names[key] in text, key


@_bug("on a stdout that is not UTF-8 (Windows redirects to a file in cp1252), a valid "
      "workbook whose warning quotes an emoji ends in exit 1 'Error: UnicodeEncodeError'")
def test_emoji_in_a_warning_on_a_cp1252_stdout(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_emoji_header(work / "emoji.xlsx")
    run = cli(work, "validate", book.name, env={"PYTHONIOENCODING": "cp1252"})
    assert run.code == 0, run.err
    assert "unknown column" in run.out


SCANNED_FOR = [b'<!DOCTYPE x>', b'<c r="XFD7">', b"<f>1+1</f>", b'<mergeCell ref="A1:B2"/>',
               b"<v>" + b" " * 70 + b"NaN</v>", b"<V>-inf</V>"]


@pytest.mark.parametrize("needle", SCANNED_FOR, ids=lambda n: " ".join(n.decode().split()))
def test_the_sheet_scan_finds_what_straddles_two_pieces(tmp_path, monkeypatch, needle):
    """A sheet's XML is scanned a piece at a time for what needs a closer look (DTDs,
    far cells, merges, formulas, non-finite numbers): whatever the piece size, a mark cut
    in two by a piece boundary is still found, and a sheet of plain cells is passed."""
    from resilience import workbook

    plain = b'<row r="2"><c r="A2" t="n"><v>12.5</v></c><c r="B2"><v>7</v></c></row>' * 3
    book = tmp_path / "pieces.zip"
    with zipfile.ZipFile(book, "w") as archive:
        archive.writestr("with.xml", plain + needle + plain)
        archive.writestr("without.xml", plain * 2)
    with zipfile.ZipFile(book) as archive:
        for size in range(1, 60):
            monkeypatch.setattr(workbook, "_SCAN_PIECE_BYTES", size)
            assert workbook._worth_a_look(archive, "with.xml"), size
            assert not workbook._worth_a_look(archive, "without.xml"), size


def test_a_formula_deep_in_a_large_sheet_is_named(tmp_path):
    """Past the first pieces of the sheet's XML (a few MB here) the scan still sees it."""
    work, _ = prepare(tmp_path)
    offers = [{"supplier": f"s{i:05d}", "material": "gallium", "country": "AAA",
               "unit_cost": 10, "capacity": 1000} for i in range(20_000)]
    offers[-1]["unit_cost"] = "=5+5"  # openpyxl writes it as a formula with no value
    book = corpus.write_workbook(work / "deep.xlsx", corpus.basic_sheets(Suppliers=offers))
    refuse(work, book, 2, "Suppliers!D20001", "formula with no saved value", "=5+5",
           command="validate")


# ---- 2. no formula from input text --------------------------------------------------


def _worksheet_formulas(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as package:
        return [name for name in package.namelist()
                if name.startswith("xl/worksheets/") and name.endswith(".xml")
                and re.search(rb"<(\w+:)?f[ >/]", package.read(name))]


def test_input_text_is_written_as_text_in_the_solve_report(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_risky_text(work / "risky.xlsx")
    _, result = solve_ok(work, book)
    report = work / "report.xlsx"
    strings, formulas = report_strings(report)
    assert formulas == []
    assert _worksheet_formulas(report) == []
    risky = corpus.RISKY
    for key in ("material", "unit", "country_a", "country_a_name", "country_b",
                "country_b_name", "group_a", "group_b", "supplier_a", "supplier_b",
                "policy", "scenario"):
        value = risky[key].strip()  # the reader trims, so '\t=cmd' arrives as '=cmd'
        assert value[0] in "=+-@", key
        assert any(value in s for s in strings), f"{key}: {value!r} not in the report"
    assert any(s == risky["supplier_a"] for s in strings)  # a whole cell, as text
    assert result["settings"]["currency"] == risky["currency"]


def test_input_text_is_written_as_text_in_the_compare_report(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_risky_text(work / "risky.xlsx")
    risky = corpus.RISKY
    before = sha256(book)
    run = cli(work, "compare", book.name, "--strategies", f"base,{risky['strategy']}",
              "--whatifs", f"base,{risky['whatif']}", "-o", "compare.xlsx")
    assert run.code == 0, run.err
    assert sha256(book) == before
    strings, formulas = report_strings(work / "compare.xlsx")
    assert formulas == []
    assert _worksheet_formulas(work / "compare.xlsx") == []
    for value in (risky["strategy"], risky["whatif"]):
        assert value in strings, value


# ---- 4. time limits -------------------------------------------------------------------


def test_time_limit_with_a_plan_reports_gap_and_bound(tmp_path):
    """15 materials × 40 countries × 600 offers with minimum orders and 20 scenarios: HiGHS
    finds plans within a second but is far from proving one optimal (gap ≈ 34 % at 2 s
    on a 2-core machine)."""
    work, _ = prepare(tmp_path)
    book = corpus.write_big(work / "big.xlsx", scenarios=20)
    before = sha256(book)
    for limit in ("2", "6"):  # a second chance on a slow or busy machine
        run = cli(work, "solve", book.name, "-o", "report.xlsx", "--force", "--json", "result.json",
                  "--time-limit", limit)
        if run.code != 4:
            break
    assert run.code == 0, f"exit {run.code}\nstderr: {run.err[:3000]}"
    result = json.loads((work / "result.json").read_text(encoding="utf-8"))
    assert result["status"] == "time_limit"
    assert result["plan"], "a time-limited run with a plan reports that plan"
    gap, bound, objective = result["mip_gap"], result["bound"], result["solver_objective"]
    assert gap is not None and gap > 1e-4
    assert bound is not None and bound < objective
    assert "time_limit" in run.out and "gap" in run.out
    assert sha256(book) == before
    summary = summary_values(work / "report.xlsx")
    assert summary["status"] == "time_limit"
    assert summary["optimality gap"] == pytest.approx(gap)
    bound_label = next(label for label in summary if label.startswith("best bound"))
    assert summary[bound_label] == pytest.approx(bound)


def test_time_limit_without_a_plan_is_exit_4_with_advice(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    before = snapshot(work)
    run = cli(work, "solve", book.name, "-o", "report.xlsx", "--force", "--json", "result.json",
              "--time-limit", "0.000001")
    assert run.code == 4, run.err
    assert_plain(run.err)
    assert "--time-limit" in run.err and "--gap" in run.err
    assert snapshot(work) == before


# ---- 5. nothing lost ------------------------------------------------------------------


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_a_write_that_fails_halfway_leaves_the_old_file_and_no_temporary(tmp_path, failure):
    """In process: the writer gets a temporary path beside the target, never the target."""
    from resilience.report.files import write_atomically

    target = tmp_path / "report.xlsx"
    target.write_bytes(PREVIOUS)
    seen: list[Path] = []

    def write(path: Path) -> None:
        seen.append(path)
        path.write_bytes(b"half a report")
        raise failure("stopped halfway")

    with pytest.raises(failure):
        write_atomically(target, write)
    assert seen and seen[0] != target and seen[0].parent == target.parent
    assert target.read_bytes() == PREVIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.xlsx"]


def _link(kind: str, work: Path) -> str:
    if kind == "symlink":
        (work / "alias.xlsx").symlink_to("book.xlsx")
        return "alias.xlsx"
    (work / "hard.xlsx").hardlink_to(work / "book.xlsx")
    return "hard.xlsx"


@pytest.mark.parametrize("spelling", ["same", "dot-slash", "absolute", "symlink", "hardlink",
                                      "json"])
def test_output_equal_to_input_is_refused(tmp_path, spelling):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    option, target = "-o", {"same": "book.xlsx", "dot-slash": "./book.xlsx",
                            "absolute": str(book), "json": "book.xlsx"}.get(spelling)
    if spelling in ("symlink", "hardlink"):
        target = _link(spelling, work)
    if spelling == "json":
        option = "--json"
    before = snapshot(work)
    run = cli(work, "solve", "book.xlsx", option, target)
    assert run.code == 2, run.err
    assert_plain(run.err)
    assert "input" in run.err and "never overwritten" in run.err
    assert snapshot(work) == before


BATCH_JSON_OVER_INPUT = [
    pytest.param(["compare", "book.xlsx", "--strategies", "base", "--whatifs", "base",
                  "-o", "report.xlsx", "--force", "--json", "book.xlsx"],
                 id="compare-json-is-input"),
    pytest.param(["frontier", "book.xlsx", "--points", "2", "-o", "report.xlsx", "--force",
                  "--json", "./book.xlsx"], id="frontier-json-is-input"),
    pytest.param(["evaluate", "book.xlsx", "--plan", "plan.xlsx", "--whatifs", "base",
                  "-o", "report.xlsx", "--force", "--json", "plan.xlsx"],
                 id="evaluate-json-is-plan"),
    pytest.param(["frontier", "book.xlsx", "--points", "2", "-o", "out.xlsx", "--json",
                  "out.xlsx"], id="frontier-json-is-report"),
]


@_bug("compare, frontier and evaluate never check --json against the inputs or the report "
      "(only solve does): the JSON is written over the input workbook, the plan, or the "
      "report just written, and the run exits 0")
@pytest.mark.parametrize("args", BATCH_JSON_OVER_INPUT)
def test_json_over_an_input_or_the_report_is_refused(tmp_path, args):
    work, _ = prepare(tmp_path)
    corpus.write_basic(work / "book.xlsx")
    from builders import write_workbook

    write_workbook(work / "plan.xlsx", {"Plan": [{"supplier": "b", "material": "gallium",
                                                  "quantity": 100}]})
    before = snapshot(work)
    run = cli(work, *args)
    assert run.code == 2, f"exit {run.code}\nstdout: {run.out[:1000]}\nstderr: {run.err}"
    assert_plain(run.err)
    assert snapshot(work) == before


def test_output_that_is_a_folder_is_a_clear_error(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    (work / "out.xlsx").mkdir()
    before = snapshot(work)
    run = cli(work, "solve", book.name, "-o", "out.xlsx")
    assert run.code == 1, run.err
    assert_plain(run.err)
    assert "Cannot write output" in run.err and "folder" in run.err
    assert snapshot(work) == before


def test_output_folder_that_is_a_file_is_a_clear_error(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    (work / "notes.txt").write_text("a file, not a folder")
    before = snapshot(work)
    run = cli(work, "solve", book.name, "-o", "notes.txt/report.xlsx")
    assert run.code == 1, run.err
    assert_plain(run.err)
    assert "Cannot write output" in run.err and "notes.txt" in run.err
    assert snapshot(work) == before


@_bug("check_output does not notice that the --json folder is a file; the solve runs, the "
      "report is written, and only then the JSON fails (exit 1 with a new report on disk)")
def test_unwritable_json_path_writes_nothing(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    (work / "notes.txt").write_text("a file, not a folder")
    before = snapshot(work)
    run = cli(work, "solve", book.name, "-o", "report.xlsx", "--force", "--json",
              "notes.txt/result.json")
    assert run.code == 1, run.err
    assert_plain(run.err)
    assert "Cannot write output" in run.err
    assert snapshot(work) == before


def _immutable(path: Path) -> bool:
    """chattr +i: even root cannot write into / replace it (stands in for a file locked
    by Excel on Windows). False where the file system or capabilities do not allow it."""
    if shutil.which("chattr") is None:
        return False
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    return done.returncode == 0


def _mutable(path: Path) -> None:
    subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_unwritable_output_folder_is_a_clear_error(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    locked = work / "locked"
    locked.mkdir()
    if os.geteuid() != 0:
        locked.chmod(0o500)
    elif not _immutable(locked):
        pytest.skip("running as root without chattr +i: no folder is unwritable")
    try:
        before = snapshot(work)
        run = cli(work, "solve", book.name, "-o", "locked/report.xlsx", "--force")
        assert run.code == 1, run.err
        assert_plain(run.err)
        assert "Cannot write output" in run.err and "locked" in run.err
        assert snapshot(work) == before
    finally:
        _mutable(locked)
        locked.chmod(0o700)


def test_locked_report_is_a_clear_error_and_stays_as_it_was(tmp_path):
    work, _ = prepare(tmp_path)
    book = corpus.write_basic(work / "book.xlsx")
    target = work / "report.xlsx"
    if os.geteuid() != 0:
        work.chmod(0o500)  # the file cannot be replaced: its folder is read-only
    elif not _immutable(target):
        pytest.skip("running as root without chattr +i: no file is locked")
    try:
        before = snapshot(work)
        run = cli(work, "solve", book.name, "-o", "report.xlsx", "--force")
        assert run.code == 1, run.err
        assert_plain(run.err)
        assert "Cannot write output" in run.err
        if os.geteuid() == 0:
            assert "report.xlsx" in run.err and "open in Excel" in run.err
        assert snapshot(work) == before  # no temporary file left beside it either
    finally:
        _mutable(target)
        work.chmod(0o700)


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and of its live children (the solve of a big model runs in a
    child process)."""
    total = 0.0
    for one in (pid, *_children(pid)):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _alive(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in
                Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_ctrl_c_during_a_solve_leaves_nothing_and_exits_130(tmp_path):
    """A model HiGHS needs more than the default 60 s for; SIGINT once the process has
    spent 4 s of CPU (imports, reading and building take about 2.4 s here), so inside
    the solve."""
    work, _ = prepare(tmp_path)
    book = corpus.write_big(work / "big.xlsx")
    out = work / "out"
    out.mkdir()
    (out / "plan.xlsx").write_bytes(PREVIOUS)
    before = snapshot(work)
    started = time.monotonic()
    process = start(work, "solve", book.name, "-o", "out/plan.xlsx", "--json",
                    "out/plan.json", "--force")
    try:
        while _cpu_seconds(process.pid) < 4.0:
            assert process.poll() is None, "the solve ended before it could be interrupted"
            assert time.monotonic() - started < 40, "the solve never got going"
            time.sleep(0.1)
        solver_children = _children(process.pid)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        run = finish(process, started)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert run.code == 130, run.err
    assert_plain(run.err)
    assert "Interrupted" in run.err
    assert time.monotonic() - interrupted < 15, "Ctrl-C did not stop the solve promptly"
    assert snapshot(work) == before
    # the HiGHS child (this model is solved in one) went with it
    assert not [c for c in solver_children if _alive(c)], "a solver process was left"


# ---- 6. determinism ------------------------------------------------------------------


def test_same_input_twice_gives_the_same_json_and_plan(tmp_path):
    from resilience.library import demo_workbook

    work, _ = prepare(tmp_path)
    book = Path(shutil.copy(demo_workbook(), work / "demo.xlsx"))
    before = sha256(book)
    started = time.monotonic()
    runs = [start(work, "solve", book.name, "-o", f"r{k}.xlsx", "--json", f"r{k}.json")
            for k in (1, 2)]
    for process in runs:
        run = finish(process, started)
        assert run.code == 0, run.err
    assert sha256(book) == before
    texts = [(work / f"r{k}.json").read_text(encoding="utf-8") for k in (1, 2)]
    without_timings = [re.sub(r'"timings": \{[^}]*\}', '"timings": {}', t) for t in texts]
    assert without_timings[0] != texts[0], "the timings block was not found"
    assert without_timings[0] == without_timings[1]
    first, second = (json.loads(t) for t in texts)
    assert first["status"] == "optimal"
    assert first["plan"] == second["plan"] and first["plan"]
    plans = [[row for row in load_workbook(work / f"r{k}.xlsx", read_only=True)["Plan"]
              .iter_rows(values_only=True)] for k in (1, 2)]
    assert plans[0] == plans[1]
