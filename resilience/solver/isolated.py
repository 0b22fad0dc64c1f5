"""HiGHS in a child process: the only kind of solve that can always be stopped.

HiGHS's time limit is soft, and some of its loops (a root rounding heuristic seen on
the large benchmark instance) poll neither the clock nor the interrupt callback, so
`cancelSolve()` cannot stop them: the call once ran 558 s on a 300 s limit. A child
process can always be killed. The child streams every improving incumbent (and, about
once a second, the bounds) to the parent as it finds them, so when the parent kills it
at its hard deadline, the best plan found so far is already on the parent's side.

The child gets plain arrays (the scaled form: CSR, bounds, costs, integrality), never
Pyomo or `Highs` objects. It is this file run as a script, importing only numpy and
highspy (about 0.3 s to start), so it works whatever the caller's `__main__` is.
Every call starts a fresh child from the form (the form is the truth, edits included):
nothing has to be kept in sync with a process that may be killed at any moment.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from resilience.formulation.standard_form import StandardForm

# Seconds a child gets to hand over its final answer once HiGHS has returned.
_DRAIN = 2.0
_BOUND_EVERY = 1.0  # seconds between bound reports from the MIP interrupt callback


@dataclasses.dataclass(frozen=True)
class Problem:
    """The scaled model as arrays: what a child needs to rebuild it in HiGHS."""

    n_cols: int
    n_rows: int
    costs: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    starts: np.ndarray  # CSR row starts (int32, length n_rows)
    indices: np.ndarray  # int32
    values: np.ndarray
    integrality: np.ndarray | None  # int32 per column; None: a pure LP


def problem_of(form: StandardForm, *, relax: bool = False,
               fixed_integers: np.ndarray | None = None) -> Problem:
    """The form as the child will see it: scaled, optionally with the integrality
    dropped (`relax`), or with every integer column fixed at `fixed_integers` (form
    units, all columns) and dropped — the LP whose duals price the constraints."""
    s = form.scaling()
    lower, upper = s.col_lower.copy(), s.col_upper.copy()
    integrality = None if relax else form.integer.astype(np.int32)
    if fixed_integers is not None:
        integer = form.integer
        fixed = np.round(np.asarray(fixed_integers, dtype=float)[integer]
                         / s.col_scale[integer])
        lower[integer] = fixed
        upper[integer] = fixed
        integrality = None
    matrix = s.matrix
    return Problem(form.n_cols, form.n_rows, s.costs, lower, upper, s.row_lower,
                   s.row_upper, matrix.indptr[:-1].astype(np.int32),
                   matrix.indices.astype(np.int32), matrix.data, integrality)


@dataclasses.dataclass(frozen=True)
class Task:
    """What the child does and under which limits. Times are `time.monotonic()` values
    (one clock for every process on the machine): `deadline` is HiGHS's own (soft)
    limit, `hard_deadline` when the child gives up on itself even if the parent is gone."""

    kind: str  # "mip" (also an LP: whatever the problem is), "duals", "relaxation", "iis"
    deadline: float
    hard_deadline: float
    mip_gap: float = 1e-4
    seed: int = 0
    threads: int = 1
    highs_options: tuple[tuple[str, object], ...] = ()
    parent_pid: int = 0
    # Test-only: the child sleeps this long, deaf to cancels and to its own time limit as
    # HiGHS is in the rounding heuristic that motivated this module, either inside the
    # callback that handed over its first incumbent ("first_incumbent") or before it
    # starts solving ("start"). 0 in every real solve.
    stall_for_tests: float = 0.0
    stall_when_for_tests: str = "first_incumbent"


@dataclasses.dataclass
class Report:
    """What the parent knows at the end, whether the child answered or was killed."""

    finished: bool = False  # the child returned a final answer
    killed: bool = False  # the parent killed the child at the hard deadline
    crashed: str = ""  # the child died without answering (exit code, signal)
    model_status: str = ""  # HiGHS's model status name, e.g. "kOptimal"
    message: str = ""
    objective: float | None = None  # scaled
    bound: float | None = None  # scaled
    values: np.ndarray | None = None  # scaled column values of the best plan
    row_duals: np.ndarray | None = None  # scaled ("duals")
    iis: tuple[np.ndarray, np.ndarray] | None = None
    feasible: bool | None = None  # "relaxation"
    incumbents: int = 0
    first_incumbent_at: float | None = None  # seconds after the child started
    nodes: int = -1
    seconds: float = 0.0
    # (seconds, primal, dual) as reported along the way
    events: list[tuple[float, float, float]] = dataclasses.field(default_factory=list)


# ---- parent side ----------------------------------------------------------------------
def can_isolate() -> bool:
    """Whether a child process can be started here (always, on the platforms we run)."""
    return True


def run(problem: Problem, task: Task, start: np.ndarray | None = None,
        on_event=None) -> Report:
    """Run `task` on `problem` in a child; return at the latest at `task.hard_deadline`
    (plus the time to kill and reap the child), with the best incumbent streamed so far.
    `start`: scaled values of a plan to offer HiGHS first. `on_event(report)` is called
    after each incumbent and each bound report (about once a second), for a progress
    display.

    The child is this file run as a script by the same interpreter, not a
    multiprocessing child: those re-import the caller's `__main__` (a CLI entry point, a
    test runner, a notebook), and this one needs only numpy and highspy."""
    task = _with_parent(task)
    started = time.monotonic()
    child = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--child"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=None, close_fds=True)
    report = Report()
    messages: queue.Queue = queue.Queue()
    reader = threading.Thread(target=_read_messages, args=(child.stdout, messages),
                              daemon=True, name="highs-reader")
    reader.start()
    try:
        writer = threading.Thread(target=_write_request,
                                  args=(child.stdin, (_plain(problem), _plain(task), start)),
                                  daemon=True,
                                  name="highs-writer")
        writer.start()
        while True:
            left = task.hard_deadline - time.monotonic()
            if left <= 0:
                report.killed = True
                break
            try:
                message = messages.get(timeout=min(left, 0.25))
            except queue.Empty:
                continue
            if message is None:  # the child closed its end
                if not report.finished:
                    report.crashed = _exit_text(child)
                break
            _absorb(report, message, started)
            if on_event is not None and message[0] in ("incumbent", "bound"):
                on_event(report)
            if report.finished:
                break
    except BaseException:
        _stop(child)
        raise
    finally:
        report.seconds = time.monotonic() - started
    if report.finished:
        try:
            child.wait(timeout=_DRAIN)
        except subprocess.TimeoutExpired:
            pass
    _stop(child)
    return report


def _write_request(pipe, request) -> None:
    try:
        pickle.dump(request, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pipe.close()
    except (BrokenPipeError, OSError):  # the child is gone; the reader reports it
        pass


def _read_messages(pipe, messages: queue.Queue) -> None:
    try:
        while True:
            head = pipe.read(8)
            if len(head) < 8:
                break
            (size,) = struct.unpack("<Q", head)
            body = pipe.read(size)
            if len(body) < size:
                break
            messages.put(pickle.loads(body))
    except (OSError, ValueError, pickle.UnpicklingError):
        pass
    finally:
        messages.put(None)


def _plain(record) -> dict:
    """A dataclass as a dict of its fields (arrays not copied): the child runs this file
    as `__main__`, where a pickled `resilience...Problem` would not resolve."""
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def _with_parent(task: Task) -> Task:
    return dataclasses.replace(task, parent_pid=os.getpid())


def _stop(child) -> None:
    if child.poll() is None:
        child.kill()
    try:
        child.wait(timeout=10.0)
    except subprocess.TimeoutExpired:
        pass
    for pipe in (child.stdin, child.stdout):
        try:
            if pipe is not None:
                pipe.close()
        except OSError:
            pass


def _exit_text(child) -> str:
    try:
        code = child.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        return "the solver process stopped answering"
    if code < 0:
        return f"the solver process died of signal {-code}"
    return f"the solver process exited with code {code}"


def _absorb(report: Report, message: tuple, started: float) -> bool:
    """Fold one message from the child into the report; True for a new incumbent."""
    kind = message[0]
    if kind == "incumbent":
        _, objective, bound, values = message
        if report.objective is None or objective <= report.objective:
            report.objective, report.values = objective, values
        if bound is not None:
            report.bound = bound
        report.incumbents += 1
        at = time.monotonic() - started
        if report.first_incumbent_at is None:
            report.first_incumbent_at = at
        report.events.append((at, objective, _finite(report.bound)))
        return True
    if kind == "bound":
        _, primal, dual = message
        report.bound = dual if dual is not None else report.bound
        report.events.append((time.monotonic() - started, _finite(primal), _finite(dual)))
        return False
    if kind == "done":
        (_, report.model_status, report.message, objective, bound, values, extra,
         report.nodes) = message
        if values is not None and (report.objective is None or objective is None
                                   or objective <= report.objective + 1e-9 * max(
                                       1.0, abs(report.objective))):
            report.objective, report.values = objective, values
        if bound is not None:
            report.bound = bound
        report.row_duals = extra.get("row_duals")
        report.iis = extra.get("iis")
        report.feasible = extra.get("feasible")
        report.finished = True
        return False
    if kind == "error":
        report.crashed = message[1]
        report.finished = True
    return False


def _finite(value) -> float:
    return math.nan if value is None else float(value)


# ---- child side ---------------------------------------------------------------------------
class _Channel:
    """Length-prefixed pickles on a private copy of the child's stdout; fd 1 itself is
    pointed at /dev/null, so nothing HiGHS prints can corrupt a message."""

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "wb", buffering=0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        self._lock = threading.Lock()

    def send(self, message) -> None:
        body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._out.write(struct.pack("<Q", len(body)) + body)

    def close(self) -> None:
        self._out.close()


def _child_entry() -> None:
    """Solve and report. Ctrl-C is the parent's business (it kills this process), so the
    child ignores SIGINT; a watcher thread ends the child should the parent die or the
    hard deadline pass while HiGHS sits in a loop that checks nothing."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send = _Channel()
    problem, task, start = pickle.load(sys.stdin.buffer)
    problem, task = Problem(**problem), Task(**task)
    threading.Thread(target=_watch, args=(task,), daemon=True, name="watch").start()
    try:
        _solve_in_child(send, problem, task, start)
    except Exception as exc:  # reported, not raised: the parent decides
        try:
            send.send(("error", f"{type(exc).__name__}: {exc}"))
        except OSError:
            pass
    finally:
        send.close()


def _watch(task: Task) -> None:
    while True:
        time.sleep(0.5)
        if time.monotonic() > task.hard_deadline + 5.0:
            os._exit(3)
        if task.parent_pid and os.getppid() != task.parent_pid:  # orphaned
            os._exit(3)


def _solve_in_child(send, problem: Problem, task: Task, start: np.ndarray | None) -> None:
    import highspy

    limit = max(1e-3, task.deadline - time.monotonic())
    h = highspy.Highs()  # its banner goes to /dev/null with the rest of fd 1
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(task.threads))
    h.setOptionValue("random_seed", int(task.seed))
    h.setOptionValue("mip_rel_gap", float(task.mip_gap))
    h.setOptionValue("time_limit", float(limit))
    for name, value in task.highs_options:
        h.setOptionValue(name, value)
    integrality = problem.integrality if task.kind not in ("relaxation",) else None
    status = h.passModel(
        problem.n_cols, problem.n_rows, int(len(problem.values)), 2, 1, 0.0,
        problem.costs, problem.col_lower, problem.col_upper, problem.row_lower,
        problem.row_upper, problem.starts, problem.indices, problem.values,
        integrality if integrality is not None else np.zeros(problem.n_cols, dtype=np.int32))
    if status == highspy.HighsStatus.kError:
        send.send(("error", "HiGHS refused the model"))
        return
    if task.kind == "iis":
        h.setOptionValue("iis_strategy", 4)
        st, iis = h.getIis()
        found = None
        if st != highspy.HighsStatus.kError:
            rows = np.asarray(iis.row_index_, dtype=np.int64)
            cols = np.asarray(iis.col_index_, dtype=np.int64)
            found = (rows, cols) if len(rows) or len(cols) else None
        send.send(("done", "", "IIS", None, None, None, {"iis": found}, -1))
        return

    is_mip = integrality is not None and bool(np.any(integrality))
    state = {"last_bound": 0.0, "stalled": False}
    if is_mip:
        def improving(event) -> None:
            out = event.data_out
            values = np.array(out.mip_solution, dtype=float)
            send.send(("incumbent", float(out.objective_function_value),
                       _bound_or_none(out.mip_dual_bound), values))
            stall = task.stall_for_tests
            if stall > 0 and task.stall_when_for_tests == "first_incumbent" \
                    and not state["stalled"]:
                state["stalled"] = True
                time.sleep(stall)  # deaf to everything, as the real hang is

        def progress(event) -> None:
            now = time.monotonic()
            if now - state["last_bound"] < _BOUND_EVERY:
                return
            state["last_bound"] = now
            out = event.data_out
            send.send(("bound", _bound_or_none(out.mip_primal_bound),
                       _bound_or_none(out.mip_dual_bound)))

        h.cbMipImprovingSolution.subscribe(improving)
        h.cbMipInterrupt.subscribe(progress)
        if start is not None and len(start) == problem.n_cols:
            h.setSolution(problem.n_cols, np.arange(problem.n_cols, dtype=np.int32),
                          np.asarray(start, dtype=float))
    if task.stall_for_tests > 0 and task.stall_when_for_tests == "start":
        time.sleep(task.stall_for_tests)
    h.run()
    model_status = h.getModelStatus()
    info = h.getInfo()
    has_primal = info.primal_solution_status == 2
    objective = float(info.objective_function_value) if has_primal else None
    bound = _bound_or_none(info.mip_dual_bound) if is_mip else objective
    solution = h.getSolution()
    values = np.asarray(solution.col_value, dtype=float) if has_primal else None
    extra: dict = {}
    if task.kind == "duals":
        extra["row_duals"] = (np.asarray(solution.row_dual, dtype=float)
                              if model_status == highspy.HighsModelStatus.kOptimal
                              else None)
        values = None
    if task.kind == "relaxation":
        extra["feasible"] = model_status == highspy.HighsModelStatus.kOptimal
        values = None
    send.send(("done", model_status.name, h.modelStatusToString(model_status), objective,
               bound, values, extra, int(info.mip_node_count) if is_mip else 0))


def _bound_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) and abs(value) < 1e50 else None


if __name__ == "__main__" and sys.argv[1:] == ["--child"]:
    _child_entry()
