"""The command line's manners (issue 12): help and version, messages that name what the
user typed, warnings before results, reports never overwritten by surprise, and batches
that only run the library what-ifs that apply to the workbook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from builders import basic_sheets, write_workbook


def _cli(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run([sys.executable, "-m", "resilience.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=timeout)


def test_bare_resilience_prints_help_and_exits_0(tmp_path):
    result = _cli(tmp_path)
    assert result.returncode == 0
    assert "Usage" in result.stdout and "solve" in result.stdout


def test_version(tmp_path):
    from resilience import __version__

    result = _cli(tmp_path, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"resilience {__version__}"


def test_an_option_out_of_range_is_named_as_typed(tmp_path):
    write_workbook(tmp_path / "book.xlsx", basic_sheets())
    result = _cli(tmp_path, "solve", "book.xlsx", "--gap", "5")
    assert result.returncode == 2
    assert "command line: --gap must be in [0, 1] (found: 5.0)" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_an_unknown_strategy_comes_from_the_command_line_with_a_suggestion(tmp_path):
    write_workbook(tmp_path / "book.xlsx", basic_sheets())
    result = _cli(tmp_path, "solve", "book.xlsx", "--strategy", "eu_crm")
    assert result.returncode == 2
    assert "command line: --strategy: unknown strategy 'eu_crm'" in result.stderr
    assert "did you mean eu_crma?" in result.stderr


def test_solve_prints_the_warnings_validate_gives_before_its_result(tmp_path):
    """An empty Scenarios sheet with disruption probabilities on Countries: baseline only,
    which validate warns about; solve must say it too, ahead of the result line."""
    sheets = basic_sheets(Scenarios=[["scenario", "probability", "country"]])
    write_workbook(tmp_path / "book.xlsx", sheets)
    validate = _cli(tmp_path, "validate", "book.xlsx")
    assert validate.returncode == 0 and "Warnings (" in validate.stdout
    warned = validate.stdout.split("Warnings (", 1)[1].splitlines()[1].strip()
    result = _cli(tmp_path, "solve", "book.xlsx")
    assert result.returncode == 0
    assert "Warnings (" in result.stderr and warned in result.stderr


def test_reports_are_named_by_case_and_never_overwritten_without_force(tmp_path):
    sheets = basic_sheets(Policies=[{"rule": "max_country_share", "target": "AAA",
                                     "value": 0.5, "strategy": "cap50"}])
    write_workbook(tmp_path / "book.xlsx", sheets)
    first = _cli(tmp_path, "solve", "book.xlsx")
    capped = _cli(tmp_path, "solve", "book.xlsx", "--strategy", "cap50")
    assert first.returncode == 0 and capped.returncode == 0
    plain = tmp_path / "reports" / "book-plan.xlsx"
    assert plain.exists() and (tmp_path / "reports" / "book-plan-cap50.xlsx").exists()
    before = plain.stat().st_mtime_ns, plain.read_bytes()
    again = _cli(tmp_path, "solve", "book.xlsx")
    assert again.returncode == 2
    assert "book-plan.xlsx already exists" in again.stderr and "--force" in again.stderr
    assert (plain.stat().st_mtime_ns, plain.read_bytes()) == before
    forced = _cli(tmp_path, "solve", "book.xlsx", "--force")
    assert forced.returncode == 0
    assert plain.stat().st_mtime_ns != before[0]


def test_compare_runs_only_the_library_whatifs_that_apply(tmp_path):
    """basic_sheets has gallium from AAA and BBB only: the library's LNG, wafer and rare
    earth what-ifs match none of its rows and are skipped in one line, not 20 failed
    cases; demand_surge_30 (every material) applies and runs."""
    write_workbook(tmp_path / "book.xlsx", basic_sheets())
    result = _cli(tmp_path, "compare", "book.xlsx", "--strategies", "base")
    assert result.returncode == 0, result.stderr
    skipped = [line for line in result.stderr.splitlines() if line.startswith("Skipped")]
    assert len(skipped) == 1 and "qatar_lng_outage" in skipped[0]
    assert "0 failed" in result.stdout
    listing = _cli(tmp_path, "list", "book.xlsx")
    assert listing.returncode == 0
    assert "demand_surge_30  (library) Demand surge" in listing.stdout
    assert "qatar_lng_outage  (library) [does not apply to this workbook]" in listing.stdout


def test_a_writer_closed_after_ctrl_c_prints_no_traceback(tmp_path):
    """A report writer interrupted mid-file can raise again when the garbage collector
    closes it ("Exception ignored in ..." with a traceback, after our one-line message).
    Once an interrupt has been handled those are dropped; before, they still show."""
    script = (
        "import gc, sys\n"
        "from resilience import cli\n"
        "sys.unraisablehook = cli._quiet_after_interrupt\n"
        "class Writer:\n"
        "    def __del__(self):\n"
        "        raise RuntimeError('not in an element')\n"
        "if sys.argv[1] == 'after':\n"
        "    cli._INTERRUPTED.set()\n"
        "Writer(); gc.collect()\n")
    runs = {when: subprocess.run([sys.executable, "-c", script, when], capture_output=True,
                                 text=True, cwd=tmp_path, timeout=60)
            for when in ("before", "after")}
    assert "not in an element" in runs["before"].stderr
    assert runs["after"].stderr == "" and runs["after"].returncode == 0


def test_compare_says_what_each_strategy_costs_and_buys_against_base(tmp_path):
    """basic_sheets with P = 50: gallium D = 100, a: AAA ĉ 10 (p = 0.1), b: BBB ĉ 20.
    Base: all from a, since a lost unit costs 0.1 · 50 = 5 in expectation, less than the
    10 more b asks: 1,000 + 0.1 · 100 · 50 = 1,500. cap50 (AAA ≤ 50 %): 500 + 1,000
    spend + 0.1 · 50 · 50 = 1,750. Δ objective +250, Δ spend +500, Δ expected shortage
    cost −250; CVaR (α 0.95: the AAA scenario) 5,000 → 2,500, Δ −2.5 k; largest HHI
    10,000 → 5,000."""
    sheets = basic_sheets(Policies=[{"rule": "max_country_share", "target": "AAA",
                                     "value": 0.5, "strategy": "cap50"}])
    sheets["Materials"][0]["shortage_penalty"] = 50
    write_workbook(tmp_path / "book.xlsx", sheets)
    result = _cli(tmp_path, "compare", "book.xlsx", "--strategies", "base,cap50",
                  "--whatifs", "base")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("strategy × what-if"))
    assert "Δ objective" in header and "Δ spend" in header and "Δ CVaR" in header
    capped = next(line for line in lines if line.startswith("cap50 × base")).split()
    # objective, Δ objective, Δ spend, Δ CVaR, Δ shortage cost, Δ HHI, projects
    assert capped[3:] == ["1,750", "+250", "+500", "−2,500", "−250", "−5,000", "0"]
