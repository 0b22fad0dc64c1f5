"""Progress you can watch (resilience.analyses.batch): a batch counts its units — cases, or
the points of a frontier — as they end, live, with the name of what runs now, in-process,
on a local pool and on a Dask cluster; a single long solve shows a spinner with the
elapsed time. Both go to stderr and only when it is a terminal.

The counting is tested through a callback (no terminal needed), the drawing through a
rich Console writing into a StringIO as a terminal would, and the wiring through the
command line with stderr on a pseudo-terminal.
"""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import write_workbook
from test_interrupts import LAUNCHER, SMALL

from resilience.analyses.batch import Counter, executor_for, tracking, working
from resilience.analyses.compare import compare
from resilience.analyses.frontier import frontier
from resilience.validate import load

posix_only = pytest.mark.skipif(os.name != "posix", reason="pseudo-terminals are POSIX")


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return write_workbook(tmp_path_factory.mktemp("progress") / "book.xlsx", SMALL)


@pytest.fixture(scope="module")
def instance(book):
    return load(book)


class Seen(list):
    """The callback: every (done, total, now) it was given."""

    def __call__(self, done: int, total: int, now: str) -> None:
        self.append((done, total, now))

    @property
    def counts(self) -> list[int]:
        return [done for done, _, _ in self]

    def labels(self, text: str) -> list[str]:
        return [now for _, _, now in self if text in now]


def _check_counts(seen: Seen, total: int) -> None:
    assert {t for _, t, _ in seen} == {total}
    assert seen.counts == sorted(seen.counts), "the count went back"
    assert seen.counts[0] == 0 and seen.counts[-1] == total


# ---- the counting -------------------------------------------------------------------------

def test_a_case_counts_its_units_as_it_reports_them_and_the_rest_when_it_ends():
    """Two cases of 3 and 1 units: the first reports one step, then ends (its two other
    units count then); reports after a case ended are dropped (a pool's queue can be
    slower than its results); what runs is named, several at once on a pool."""
    seen = Seen()
    counter = Counter(4, seen)
    first, second = counter.expect(3), counter.expect(1)
    counter.note("the cost-optimal plan")
    assert seen[-1] == (0, 4, "the cost-optimal plan")
    counter.now(first, "HHI ≤ 9,000")
    counter.now(second, "λ = 0.50")
    assert seen[-1] == (0, 4, "HHI ≤ 9,000, λ = 0.50")
    counter.receive(("step", first))
    assert seen[-1] == (1, 4, "HHI ≤ 9,000, λ = 0.50")
    counter.end(first)
    assert seen[-1] == (3, 4, "λ = 0.50")
    counter.receive(["step", first])  # late: dropped
    counter.receive(["now", first, "HHI ≤ 8,000"])
    assert seen[-1] == (3, 4, "λ = 0.50") and counter.done == 3
    counter.step(second)
    counter.step(second)  # more steps than units: never past the case's own
    assert counter.done == 4
    counter.end(second)
    assert seen[-1] == (4, 4, "the cost-optimal plan")


def test_the_frontier_counts_points_not_chunks_in_process(instance):
    """11 points a sweep: 22 points, counted one by one from 0 to 22 while the batch runs
    in this process, each named as it is solved; before them, the two solves that set
    the HHI range are named. Before: 2 chunks, and nothing until every case had run."""
    seen = Seen()
    frontier(instance, 11, progress=seen)
    _check_counts(seen, 22)
    assert sorted(set(seen.counts)) == list(range(23))
    assert seen.labels("the cost-optimal plan") and seen.labels("the lowest achievable HHI")
    assert len(set(seen.labels("HHI ≤"))) == 11
    assert len(set(seen.labels("λ ="))) == 11
    # a point is named while it runs, before it is counted
    at = next(i for i, (_, _, now) in enumerate(seen) if now.startswith("λ = 0.00"))
    assert seen[at][0] == 11


@pytest.fixture(scope="module")
def dask_executor():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None, scheduler_port=0) as cluster, \
            distributed.Client(cluster) as client:
        yield client.get_executor(pure=False)


@pytest.fixture(params=["pool", "dask"])
def executor(request):
    if request.param == "pool":
        with executor_for(2) as pool:
            yield pool
    else:
        yield request.getfixturevalue("dask_executor")


def test_batches_on_a_pool_or_dask_count_live_from_inside_the_workers(instance, executor):
    """Two workers: the frontier's 22 points are two chunks per sweep (four cases), yet the
    count goes up point by point, because the workers report each point (through a
    manager's queue from a local pool, as events from Dask); then compare counts its
    6 cases (3 strategies × 2 what-ifs, two cases per what-if group) by name."""
    seen = Seen()
    frontier(instance, 11, executor, workers=2, progress=seen)
    _check_counts(seen, 22)
    # case endings alone give at most 4 distinct counts above 0
    assert len(set(seen.counts) - {0}) > 4, seen.counts
    assert seen.labels("HHI ≤") and seen.labels("λ =")
    seen = Seen()
    compare(instance, [None, "cap60"], [None, "a_out", "qatar_lng_outage"], executor,
            progress=seen)
    _check_counts(seen, 6)
    assert seen.labels("cap60 × a_out")


# ---- the drawing ----------------------------------------------------------------------------

def _terminal() -> tuple[io.StringIO, object]:
    from rich.console import Console

    text = io.StringIO()
    return text, Console(file=text, force_terminal=True, width=120, color_system=None)


def test_the_bar_shows_the_count_and_the_point_being_solved(instance):
    text, console = _terminal()
    with tracking(True, "frontier points", 22, console=console) as counter:
        frontier(instance, 11, progress=counter)
    drawn = text.getvalue()
    assert "frontier points" in drawn
    assert "22/22" in drawn
    assert "HHI ≤" in drawn or "λ =" in drawn


def test_a_long_piece_of_work_shows_a_spinner_with_the_time_and_a_quick_one_nothing():
    text, console = _terminal()
    with working("solving", True, delay=0.0, console=console) as step:
        time.sleep(0.4)
        step("writing the report")
        time.sleep(0.4)
    drawn = text.getvalue()
    assert "solving  0:00" in drawn and "writing the report  0:00" in drawn
    text, console = _terminal()
    with working("solving", True, delay=5.0, console=console):
        time.sleep(0.3)
    assert "solving" not in text.getvalue()
    text, console = _terminal()
    with working("solving", False, delay=0.0, console=console):
        time.sleep(0.2)
    assert text.getvalue() == ""


# ---- the command line -------------------------------------------------------------------------

def _run_on_a_terminal(args: list[str], cwd: Path, env: dict[str, str] | None = None,
                       timeout: float = 60) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (stdout a pipe); (code, stdout, terminal)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, "COLUMNS": "120",
                                                **(env or {})},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    drawn = b""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the command has closed the terminal
                    break
                if not chunk:
                    break
                drawn += chunk
            elif proc.poll() is not None:
                break
        out = proc.communicate(timeout=30)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, out.decode("utf-8", "replace"), drawn.decode("utf-8", "replace")


@posix_only
def test_the_command_line_draws_progress_on_a_terminal_only(book, tmp_path):
    """frontier --json -: with stderr on a terminal the bar counts the 6 points and
    stdout is the JSON alone; with stderr not a terminal nothing is drawn at all."""
    command = [sys.executable, "-m", "resilience.cli", "frontier", str(book), "--points",
               "3", "-o", "f.xlsx", "--json", "-"]
    code, out, drawn = _run_on_a_terminal(command, tmp_path)
    assert code == 0, drawn
    assert json.loads(out)["schema_version"]
    assert "frontier points" in drawn and "6/6" in _plain(drawn), drawn
    from typer.testing import CliRunner

    from resilience.cli import app

    piped = CliRunner().invoke(app, [*command[3:-4], "-o", str(tmp_path / "g.xlsx"),
                                     "--json", "-"])
    assert piped.exit_code == 0, piped.stderr
    json.loads(piped.stdout)
    assert "frontier points" not in piped.stderr and "\x1b[" not in piped.stderr


@posix_only
def test_a_solve_of_a_few_seconds_shows_a_spinner_with_the_elapsed_time(book, tmp_path):
    """The solve is held for 1.5 s inside solve_case (the test launcher of
    test_interrupts); the spinner appears after 1 s: the terminal shows it, what is being
    done and the clock."""
    code, out, drawn = _run_on_a_terminal(
        [sys.executable, "-c", LAUNCHER, "resilience.api:solve_case:1:before:1.5", "solve",
         str(book), "-o", "plan.xlsx"], tmp_path,
        env={"RESILIENCE_TEST_MARK": str(tmp_path / "mark")})
    assert code == 0, drawn
    assert "Report: plan.xlsx" in out
    assert "solving  0:01" in _plain(drawn), drawn


def _plain(drawn: str) -> str:
    """The text a terminal shows, without its control sequences."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
