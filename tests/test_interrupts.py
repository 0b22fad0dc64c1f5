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
        stderr=slave, start_new_session=True)
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
