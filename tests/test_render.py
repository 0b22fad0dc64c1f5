"""The demo report looked at as a person would: LibreOffice renders every sheet to PDF,
with its charts, and no number too wide for its column.

Needs LibreOffice Calc (`soffice`) and poppler-utils (`pdftotext`, `pdfinfo`); without
them the test is skipped, saying which is missing (.ci/run installs both).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from openpyxl import load_workbook

from resilience.api import solve_case
from resilience.cases import prepare_case
from resilience.library import demo_workbook
from resilience.report.excel import write_solve_report
from resilience.validate import load

# Text that opens each sheet (its title, or for Plan and Stockpile their header row).
SHEET_TEXT = {
    "Summary": "Supply-chain resilience report",
    "Plan": "landed unit",
    "Stockpile": "carrying cost",
    "Exposure": "Exposure — share of each material",
    "Scenarios": "Scenarios — shortage and recourse cost",
    "Policies": "Policies —",
    "Inputs": "Inputs — what was read",
    # the embedded data set plans a horizon (SPEC §7), so its report has these too
    "Costs by period": "Costs by period",
    "Projects": "Projects —",
    "Shares origin": "Origin shares over the periods",
    "Shares processing": "Processing shares over the periods",
    "Shares owner": "Owner shares over the periods",
}
CHART_TITLES = ("origin shares by country", "processing shares by country",
                "Recourse cost")


def _require(tool: str, reason: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, Path]:
    soffice = _require("soffice", "LibreOffice (soffice) not installed")
    _require("pdftotext", "poppler-utils (pdftotext) not installed")
    _require("pdfinfo", "poppler-utils (pdfinfo) not installed")
    folder = tmp_path_factory.mktemp("render")
    report = folder / "demo.xlsx"
    write_solve_report(solve_case(prepare_case(load(demo_workbook()))), report)
    profile = folder / "lo-profile"  # a private profile: no clash with a running office
    subprocess.run(
        [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless",
         "--convert-to", "pdf", "--outdir", str(folder), str(report)],
        check=True, timeout=120, capture_output=True)
    pdf = folder / "demo.pdf"
    assert pdf.exists(), "LibreOffice wrote no PDF"
    return report, pdf


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True,
                          timeout=60).stdout
    return int(next(line.split()[-1] for line in info.splitlines()
                    if line.startswith("Pages:")))


def test_every_sheet_is_rendered(rendered):
    report, pdf = rendered
    sheets = load_workbook(report, read_only=True).sheetnames
    assert set(sheets) == set(SHEET_TEXT)
    assert _pages(pdf) >= len(sheets)
    text = _text(pdf)
    for sheet in sheets:
        assert SHEET_TEXT[sheet] in text, f"{sheet} is not in the PDF"
    footers = [line.strip() for line in text.splitlines()
               if line.strip() and "page" in line and " of " in line]
    for sheet in sheets:  # names may have several words ("Costs by period")
        assert any(f.startswith(sheet + " ") for f in footers), \
            f"{sheet} does not print with its name in the footer"


def test_charts_are_drawn(rendered):
    text = _text(rendered[1])
    for title in CHART_TITLES:
        assert title in text, f"chart {title!r} is not in the PDF"
    assert "share of demand" in text  # an axis title


def test_no_number_is_too_wide_for_its_column(rendered):
    text = _text(rendered[1])
    assert "###" not in text
    assert "Err:" not in text and "#VALUE" not in text and "#NAME" not in text
