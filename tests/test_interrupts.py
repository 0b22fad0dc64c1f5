"""Ctrl-C and other things a run must not get wrong behind its own back.

- Ctrl-C in a batch (compare, frontier, evaluate) is not a failed case: KeyboardInterrupt
  and SystemExit propagate out of `run_batch`, in-process and on a process pool; the cases
  not yet started never run, a pool's workers are stopped without finishing the cases they
  hold, and the command exits with 130 and writes nothing (SPEC §6).
- Writing a report never touches process-wide state: the temporary file is created so
  that the kernel applies the umask, instead of flipping `os.umask`, which every other
  thread of the process would see (resilience.report.files).
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import select
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from resilience.analyses.batch import executor_for, run_batch

DATA = Path(__file__).resolve().parents[1] / "data" / "critical-inputs.xlsx"
posix_only = pytest.mark.skipif(os.name != "posix", reason="signals and umask are POSIX")


def sigint_as_default() -> None:
    """In the child before it starts: SIGINT as a terminal would deliver it. A test run
    started in the background (a CI job, `cmd &`) inherits SIGINT ignored, and Python
    then never installs its KeyboardInterrupt handler: the Ctrl-C these tests send would
    be lost and every one of them would time out."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# ---- tasks (module level, so a pool worker can run them) -------------------------------

def interrupt_at_one(payload: tuple[int, str, float]) -> int:
    """Case 1 is "Ctrl-C"; every other case leaves a trace that it started, works for a
    while and leaves a trace that it finished."""
    x, folder, seconds = payload
    if x == 1:
        raise KeyboardInterrupt
    Path(folder, f"started-{x}").touch()
    time.sleep(seconds)
    Path(folder, f"done-{x}").touch()
    return x


def exit_at_one(payload: tuple[int, str, float]) -> int:
    x, folder, _ = payload
    if x == 1:
        raise SystemExit(5)
    Path(folder, f"started-{x}").touch()
    return x


def _traces(folder: Path, kind: str) -> set[int]:
    return {int(p.name.split("-")[1]) for p in folder.glob(f"{kind}-*")}


# ---- run_batch -------------------------------------------------------------------------

@pytest.mark.parametrize("task, raised", [(interrupt_at_one, KeyboardInterrupt),
                                          (exit_at_one, SystemExit)])
def test_an_interrupt_in_process_propagates_and_the_rest_never_runs(tmp_path, task, raised):
    """Before: the inline executor caught BaseException, case 1 was marked failed and
    cases 2 and 3 ran."""
    cases = [(f"case {x}", (x, str(tmp_path), 0.0)) for x in range(4)]
    with pytest.raises(raised), executor_for(1) as inline:
        run_batch(task, cases, inline)
    assert _traces(tmp_path, "started") == {0}
    with pytest.raises(raised):
        run_batch(task, cases)  # no executor given: in-process too
    assert _traces(tmp_path, "started") == {0}


@pytest.mark.parametrize("pool", ["executor_for", "ProcessPoolExecutor"])
def test_an_interrupt_on_a_process_pool_propagates_and_stops_the_workers(tmp_path, pool):
    """Two workers: case 0 runs beside case 1, which raises KeyboardInterrupt. It
    propagates at once (not after the 3 s the other cases take), and the pool is shut
    down without waiting: case 2, which the pool may have handed to a worker already, never
    finishes, and no later case ever starts. Before: case 1 was marked failed and all the
    rest ran."""
    cases = [(f"case {x}", (x, str(tmp_path), 3.0)) for x in range(6)]
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        if pool == "executor_for":
            with executor_for(2) as executor:
                run_batch(interrupt_at_one, cases, executor)
        else:
            with cf.ProcessPoolExecutor(max_workers=2) as executor:
                run_batch(interrupt_at_one, cases, executor)
    assert time.monotonic() - started < 2.5, "it waited for the running cases"
    time.sleep(max(0.0, started + 3.5 - time.monotonic()))  # any case still running
    # would have finished by now
    assert _traces(tmp_path, "done") == set()
    assert _traces(tmp_path, "started") <= {0, 2}


# ---- the command line ------------------------------------------------------------------

def _read_available(fd: int, timeout: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: every writer has closed the terminal
        return b""


# In-process (--workers 1) the interrupt lands inside the solver's watchdog, which must
# wait for the HiGHS thread to return before re-raising (it once exited under a running
# HiGHS and aborted with SIGABRT instead of exiting 130).


@posix_only
@pytest.mark.parametrize("workers, whom", [(1, "group"), (2, "group"), (2, "main")])
def test_ctrl_c_in_compare_exits_130_and_writes_nothing(tmp_path, workers, whom):
    """`resilience compare` on the embedded data set (42 cases, ~40 s), interrupted once
    its progress bar shows it is solving: exit 130 within seconds, no report, no JSON, no
    temporary file, no traceback, and no worker left behind. "group" is a terminal's
    Ctrl-C (SIGINT to every process of the job); "main" signals the main process only.
    Before: the interrupted cases were marked failed, the batch went on, exit 0."""
    import pty

    master, slave = pty.openpty()  # stderr on a terminal: the progress bar is drawn
    env = {**os.environ, "PYTHONUTF8": "1", "COLUMNS": "100"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "resilience.cli", "compare", str(DATA), "--workers",
         str(workers), "-o", "out.xlsx", "--json", "out.json"],
        cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=slave, start_new_session=True, preexec_fn=sigint_as_default)
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"compare" not in seen and proc.poll() is None and time.monotonic() < deadline:
            seen += _read_available(master, 0.1)
        assert b"compare" in seen, f"no progress within 30 s: {seen[-500:]!r}"
        time.sleep(0.5)  # well inside the batch
        if whom == "group":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        interrupted = time.monotonic()
        code = proc.wait(timeout=15)
        waited = time.monotonic() - interrupted
        while chunk := _read_available(master, 0.2):
            seen += chunk
        stdout = proc.stdout.read().decode("utf-8", "replace")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
        os.close(master)
    stderr = seen.decode("utf-8", "replace")
    assert code == 130, (code, stdout, stderr[-2000:])
    assert waited < 8, waited
    assert "Interrupted; no output was written." in stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert "failed" not in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "something was written"
    # The workers are gone too (they share the main process's group).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("a worker process outlived the interrupted command")


# ---- every command, interrupted at a named moment of its work --------------------------

# The command line runs in a subprocess with one function wrapped, so that the command is
# at a known moment of its work when the test sends SIGINT, however loaded the machine:
# at the n-th call, "before" and "after" write a mark and wait there (the interrupt lands
# in Python code, as it does between any two steps of the work), 60 s or the seconds of
# an optional fifth field; "during" writes a mark and makes the call (the test interrupts
# the call itself: HiGHS running in this process); "briefly" makes the call, writes a
# mark and waits one second before going on.
LAUNCHER = textwrap.dedent("""
    import functools, importlib, os, sys, time

    def mark(text):
        with open(os.environ["RESILIENCE_TEST_MARK"], "a", encoding="utf-8") as f:
            f.write(f"{text} {time.time():.6f}\\n")

    def wait(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.02)

    module, name, nth, how, *seconds = sys.argv[1].split(":")
    seconds = float(seconds[0]) if seconds else 60.0
    owner = importlib.import_module(module)
    *classes, name = name.split(".")
    for cls in classes:
        owner = getattr(owner, cls)
    original = getattr(owner, name)
    calls = [0]

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] != int(nth):
            return original(*args, **kwargs)
        if how == "before":
            mark("paused")
            wait(seconds)
        if how == "during":
            mark("started")
            try:
                return original(*args, **kwargs)
            finally:
                mark("returned")
        result = original(*args, **kwargs)
        mark("paused")
        wait(1.0 if how == "briefly" else seconds)
        return result

    setattr(owner, name, wrapper)
    sys.argv = ["resilience", *sys.argv[2:]]
    from resilience.cli import main
    main()
""")

MESSAGE = "Interrupted; no output was written."
PREVIOUS = b"the previous report, which must survive"

# One material; a (AAA, cheap, risky), b and c. Strategy cap60, what-if a_out: compare has
# two what-if groups of two strategies, evaluate two cases, frontier two sweeps.
SMALL = {
    "Materials": [{"material": "gallium", "unit": "t", "demand": 100,
                   "shortage_penalty": 30}],
    "Countries": [{"country": "AAA", "disruption_prob": 0.1, "groups": "G1"},
                  {"country": "BBB", "disruption_prob": 0, "groups": "G2"},
                  {"country": "CCC", "disruption_prob": 0, "groups": "G2"}],
    "Suppliers": [
        {"supplier": "a", "material": "gallium", "country": "AAA", "unit_cost": 10,
         "capacity": 1000},
        {"supplier": "b", "material": "gallium", "country": "BBB", "unit_cost": 22,
         "capacity": 1000},
        {"supplier": "c", "material": "gallium", "country": "CCC", "unit_cost": 25,
         "capacity": 60},
    ],
    "Policies": [{"rule": "max_country_share", "target": "*", "value": 0.6,
                  "strategy": "cap60"}],
    "WhatIfs": [{"whatif": "a_out", "sheet": "Suppliers", "where": "supplier=a",
                 "column": "capacity", "op": "scale", "value": 0}],
}
PLAN = {"Plan": [{"supplier": "a", "material": "gallium", "quantity": 60},
                 {"supplier": "b", "material": "gallium", "quantity": 40}]}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<folder>"
            for p in sorted(folder.rglob("*"))}


def _work(tmp_path: Path) -> Path:
    from builders import write_workbook

    work = tmp_path / "work"
    work.mkdir()
    write_workbook(work / "book.xlsx", SMALL)
    write_workbook(work / "plan-in.xlsx", PLAN)
    (work / "old.xlsx").write_bytes(PREVIOUS)
    return work


def _marks(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    return {word: float(at) for word, at in
            (line.split() for line in path.read_text().splitlines())}


def _interrupt_at(work: Path, point: str, *args: str, whom: str = "main",
                  after: str = "paused", delay: float = 0.0
                  ) -> tuple[int, str, str, dict[str, float], float]:
    """Run `resilience ARGS` wrapped at `point`; SIGINT `delay` seconds after the mark
    `after` appears. Returns the exit code, stdout, stderr, the marks and when the
    signal was sent."""
    mark = work.parent / "mark"
    mark.unlink(missing_ok=True)
    env = {**os.environ, "RESILIENCE_TEST_MARK": str(mark), "PYTHONUTF8": "1"}
    env.pop("RUST_BACKTRACE", None)
    proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, point, *args], cwd=work,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=sigint_as_default)
    try:
        deadline = time.monotonic() + 90
        while after not in _marks(mark):
            if proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"the command ended (exit {proc.returncode}) before reaching "
                            f"{point}: {err.decode()[-1500:]}")
            assert time.monotonic() < deadline, f"{point} was never reached"
            time.sleep(0.02)
        time.sleep(delay)
        sent = time.time()
        if whom == "group":  # a terminal's Ctrl-C: every process of the job
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        # every process of the job is gone (pool workers, a progress manager)
        deadline = time.monotonic() + 5
        while True:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                break
            assert time.monotonic() < deadline, "a process outlived the interrupted command"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return (proc.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            _marks(mark), sent)


def _assert_interrupted(code: int, out: str, err: str) -> None:
    assert code == 130, (code, out, err[-2000:])
    assert err.rstrip("\n").splitlines()[-1] == MESSAGE, err[-2000:]
    for sign in ("Traceback", "terminate called", "Exception ignored", "Aborted", "Error"):
        assert sign not in err, err[-2000:]
    assert out == "", out


GUARDED = "resilience.analyses.batch:_guarded:2:before"  # the batch's second case (on a
# pool: a worker's second), once the first has ended

EVERY_COMMAND = [
    pytest.param("typer.main:get_command:1:before", ("validate", "book.xlsx"), "main",
                 id="typer-parsing-the-command-line"),
    pytest.param("resilience.validate:validate:1:before", ("validate", "book.xlsx"), "main",
                 id="validate-reading"),
    pytest.param("resilience.validate:validate:1:before", ("list", "book.xlsx"), "main",
                 id="list-reading"),
    pytest.param("resilience.template:write_template:1:after", ("template", "new.xlsx"),
                 "main", id="template-written-not-renamed"),
    pytest.param("resilience.solver:write_model:2:after",
                 ("export", "book.xlsx", "--lp", "m.lp", "--mps", "m.mps"), "main",
                 id="export-second-file"),
    pytest.param("openpyxl.writer.excel:ExcelWriter.write_worksheet:2:before",
                 ("solve", "book.xlsx", "-o", "old.xlsx", "--force"), "main",
                 id="solve-mid-report-over-an-old-one"),
    pytest.param("resilience.report.files:write_text_atomically:1:after",
                 ("solve", "book.xlsx", "-o", "plan.xlsx", "--json", "plan.json"), "main",
                 id="solve-report-and-json-written"),
    pytest.param(GUARDED, ("demo", "-o", "demo.xlsx"), "main", id="demo-strategies"),
    pytest.param(GUARDED, ("compare", "book.xlsx", "-o", "c.xlsx", "--json", "c.json"),
                 "main", id="compare-1-worker"),
    pytest.param(GUARDED, ("compare", "book.xlsx", "-o", "c.xlsx", "--workers", "2"),
                 "group", id="compare-pool"),
    pytest.param(GUARDED, ("frontier", "book.xlsx", "--points", "3", "-o", "f.xlsx"),
                 "main", id="frontier-1-worker"),
    pytest.param(GUARDED, ("evaluate", "book.xlsx", "--plan", "plan-in.xlsx", "-o",
                           "e.xlsx", "--json", "e.json"), "main", id="evaluate-1-worker"),
]


@posix_only
@pytest.mark.parametrize("point, args, whom", EVERY_COMMAND)
def test_ctrl_c_inside_each_command_exits_130_and_leaves_every_file_as_it_was(
        tmp_path, point, args, whom):
    """SIGINT while the command is at `point`: exit 130, the one-line message and nothing
    else (no traceback, no abort), no output, no temporary file, no folder created, an
    existing report untouched, no process left. Before: solve interrupted between its
    report and its JSON (or while computing the summary) left the report behind while
    saying "no output was written"; export interrupted at its second file left the
    first; an interrupt while typer parsed the command line printed a traceback."""
    work = _work(tmp_path)
    before = _snapshot(work)
    code, out, err, _, _ = _interrupt_at(work, point, *args, whom=whom)
    _assert_interrupted(code, out, err)
    assert _snapshot(work) == before


@posix_only
def test_ctrl_c_while_highs_runs_in_process_exits_130(tmp_path):
    """A model below the isolation threshold (HiGHS runs in this process, in the
    watchdog's thread) that HiGHS needs seconds for; SIGINT 0.3 s after HiGHS started,
    and HiGHS had not returned by then. Before: "Interrupted", then `terminate called
    without an active exception` and SIGABRT."""
    import hostile_corpus

    work = _work(tmp_path)
    hostile_corpus.write_big(work / "mid.xlsx", materials=8, countries=24, offers=240,
                             scenarios=60)
    before = _snapshot(work)
    code, out, err, marks, sent = _interrupt_at(
        work, "highspy:Highs.run:1:during", "solve", "mid.xlsx", "-o", "old.xlsx",
        "--force", "--time-limit", "30", after="started", delay=0.3)
    _assert_interrupted(code, out, err)
    assert marks["started"] < sent < marks["returned"], "HiGHS was not running"
    assert _snapshot(work) == before


@posix_only
def test_ctrl_c_once_the_outputs_are_in_place_lets_the_command_finish(tmp_path):
    """SIGINT just after the report was renamed into place: the command has done its work,
    so it ends as it would have (exit 0, its line, the report) instead of exiting 130
    with "no output was written" beside a report it wrote."""
    work = _work(tmp_path)
    code, out, err, _, _ = _interrupt_at(work, "resilience.cli:_put_in_place:1:briefly",
                                         "solve", "book.xlsx", "-o", "plan.xlsx")
    assert code == 0, err
    assert "Report: plan.xlsx" in out
    assert "Interrupted" not in err and "Traceback" not in err
    assert (work / "plan.xlsx").stat().st_size > 1000
    assert sorted(p.name for p in work.iterdir()) == ["book.xlsx", "old.xlsx",
                                                      "plan-in.xlsx", "plan.xlsx"]


@posix_only
def test_ctrl_c_in_a_batch_on_a_dask_cluster_exits_130(tmp_path):
    """`compare --scheduler`, interrupted once its cases are on the cluster and it waits for
    them: exit 130 within seconds, the one-line message, nothing written; the cluster (not
    the command's to stop) still serves. The cluster's workers are threads of this test's
    process (it starts in a fraction of the time of worker processes); the command is a
    process of its own, as with a real cluster."""
    distributed = pytest.importorskip("distributed")
    work = _work(tmp_path)
    before = _snapshot(work)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None, scheduler_port=0) as cluster, \
            distributed.Client(cluster) as client:
        code, out, err, _, _ = _interrupt_at(
            work, "concurrent.futures:as_completed:1:before", "compare", "book.xlsx",
            "--scheduler", cluster.scheduler_address, "-o", "c.xlsx", "--json", "c.json")
        assert client.submit(sum, [1, 2], pure=False).result(timeout=30) == 3
    _assert_interrupted(code, out, err)
    assert _snapshot(work) == before


# ---- the report file's mode ------------------------------------------------------------

UMASK_SCRIPT = textwrap.dedent("""
    import os, stat, sys
    from pathlib import Path

    os.umask(0o027)

    def no_umask(*args):
        raise AssertionError("os.umask was called: every thread would see the change")

    os.umask = no_umask
    from openpyxl import Workbook

    from resilience.report.files import write_atomically, write_text_atomically

    folder = Path(sys.argv[1])
    write_text_atomically(folder / "new.json", "{}")
    write_atomically(folder / "new.xlsx", lambda path: Workbook().save(path))
    old = folder / "old.xlsx"
    old.write_bytes(b"the previous report")
    os.chmod(old, 0o600)
    write_atomically(old, lambda path: Workbook().save(path))
    for name in ("new.json", "new.xlsx", "old.xlsx"):
        print(name, oct(stat.S_IMODE((folder / name).stat().st_mode)))
""")


@posix_only
def test_a_report_gets_the_umask_mode_without_os_umask_being_called(tmp_path):
    """umask 027: a new report is 0640 (0666 less the umask) and a replaced one keeps its
    0600; os.umask raises if called. Before: the mode came from flipping os.umask(0) and
    back, which another thread could observe (and create a world-writable file in the
    meantime)."""
    folder = tmp_path / "out"
    folder.mkdir()
    done = subprocess.run([sys.executable, "-c", UMASK_SCRIPT, str(folder)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:3] == ["new.json 0o640", "new.xlsx 0o640",
                                           "old.xlsx 0o600"]
    assert sorted(p.name for p in folder.iterdir()) == ["new.json", "new.xlsx", "old.xlsx"]


def test_ctrl_c_while_the_command_starts_up_prints_no_traceback(tmp_path):
    """Ctrl-C while the `resilience` command is still importing its command-line module
    (typer, rich: a few hundred milliseconds) ends as any other Ctrl-C does: exit 130,
    one line, no traceback. The Ctrl-C is made to land there for certain: the import of
    typer raises KeyboardInterrupt, as the signal would. (Before, the console script
    imported resilience.cli itself, and a Ctrl-C 0.05 s after start printed a
    traceback and died by the signal.)"""
    import tomllib

    scripts = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml")
                            .read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["resilience"] == "resilience.entry:main"
    code = textwrap.dedent("""
        import sys, importlib.abc

        class CtrlC(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "typer":
                    raise KeyboardInterrupt
                return None

        sys.meta_path.insert(0, CtrlC())
        sys.argv = ["resilience", "validate", "book.xlsx"]
        from resilience.entry import main
        main()
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 130, run.stderr
    assert "Traceback" not in run.stderr and "KeyboardInterrupt" not in run.stderr
    assert run.stderr.strip() == "Interrupted; no output was written."
