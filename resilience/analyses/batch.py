"""One batch runner for compare, frontier and evaluate.

It sends plain data to workers (frozen dataclasses of the instance and the case's
parameters — never Pyomo models or HiGHS objects, which do not pickle) and takes any
`concurrent.futures.Executor`: a local process pool by default, or a Dask cluster through
`Client.get_executor()`. A case that fails — an input error, an infeasible case, a crash
in a worker — is reported as failed with its reason; the rest go on.

Ctrl-C is not a failed case: KeyboardInterrupt and SystemExit always propagate. The batch
then cancels what has not started, stops the local pool's workers without waiting for the
cases they hold, and re-raises (the command line turns it into exit code 130).

HiGHS's thread scheduler is global to a process, so a process runs one case at a time:
local pools have single-threaded workers, and a Dask worker started with several threads
still runs our cases one after another (a lock), with a warning that its other threads
only hold queued cases.

Progress counts units — cases, or the points of a sweep, which a case may hold several
of — as they end, and names what runs now. A task reports from inside its case with
`report_now` and `report_step`, wherever it runs: in this process directly, from a local
pool's workers through a manager's queue, from a Dask worker as events on a topic the
client subscribes to. A case that ends counts for the units it did not report. The count
goes to a callback (`ProgressCallback`) or to a progress bar on stderr.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import contextlib
import queue
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CaseOutcome:
    label: str
    ok: bool
    value: Any = None  # the task's plain-data result when ok
    reason: str = ""  # why it failed, in one line


class _Inline(cf.Executor):
    """Runs tasks in this process, in order: the serial reference for tests and for
    single-case runs, with no pickling."""

    def submit(self, fn, /, *args, **kwargs):
        future: cf.Future = cf.Future()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)  # KeyboardInterrupt, SystemExit: raised right here
        else:
            future.set_result(result)
        return future


# One case at a time in a process, whatever the number of threads the executor runs it
# in: HiGHS's scheduler (and its thread count) is global to the process.
_ONE_CASE_AT_A_TIME = threading.RLock()


def _guarded(task: Callable[..., Any], label: str, payload: Any,
             channel: _Channel | None = None, key: int = -1) -> CaseOutcome:
    """Runs in the worker: any exception becomes a failed outcome with its reason;
    KeyboardInterrupt and SystemExit are not exceptions of the case and pass through.
    With a progress `channel`, the case says it has started, and the task's own reports
    (`report_now`, `report_step`) go there as the case `key`'s."""
    from resilience.errors import InfeasibleError, InputError, NoPlanError

    try:
        with _ONE_CASE_AT_A_TIME, _reporting(channel, key, label):
            return CaseOutcome(label, True, task(payload))
    except InputError as exc:
        first = exc.problems[0] if exc.problems else "invalid input"
        more = f" (+{len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        return CaseOutcome(label, False, reason=f"invalid input: {first}{more}")
    except InfeasibleError as exc:
        return CaseOutcome(label, False, reason="infeasible: " + str(exc).replace("\n", "; "))
    except NoPlanError as exc:
        return CaseOutcome(label, False, reason=f"no plan: {exc}")
    except Exception as exc:  # noqa: BLE001 - a batch never stops at one case
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return CaseOutcome(label, False, reason=f"{type(exc).__name__}: {exc} "
                           f"(at {where.name}:{where.lineno})")


@contextlib.contextmanager
def executor_for(workers: int = 1, scheduler: str | None = None) -> Iterator[cf.Executor]:
    """The executor a command asked for: Dask when given a scheduler address, a process
    pool for several workers, else in-process."""
    if scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise RuntimeError("--scheduler needs Dask: pip install 'resilience[cluster]'"
                               ) from None
        client = Client(scheduler, timeout="20s")
        try:
            _warn_if_threaded(client)
            yield client.get_executor(pure=False)
        finally:
            client.close()
    elif workers > 1:
        pool = _local_pool(workers)
        try:
            yield pool
            pool.shutdown(wait=True)
        except BaseException:
            # Ctrl-C or an error (also while the idle workers are being shut down): do
            # not wait for the queued cases
            _stop_pool(pool)
            raise
    else:
        yield _Inline()


def _ignore_interrupts() -> None:
    """Pool workers leave Ctrl-C to the main process, which stops them: a terminal sends
    SIGINT to the whole process group, and a worker waiting for work would otherwise die
    with a traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_pool(workers: int) -> cf.ProcessPoolExecutor:
    # Worker processes are single-threaded: each runs one case at a time.
    return cf.ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)


def _stop_pool(pool: cf.ProcessPoolExecutor) -> None:
    """Shut a process pool down now: cancel what is queued and end the workers without
    waiting for the cases they are running (the batch is abandoned)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    call_queue = getattr(pool, "_call_queue", None)
    pool.shutdown(wait=False, cancel_futures=True)
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        with contextlib.suppress(Exception):
            terminate()
    for process in processes:
        with contextlib.suppress(Exception):
            process.terminate()
    if call_queue is not None:
        # A case still in the pipe to a dead worker must not hold up the exit.
        with contextlib.suppress(Exception):
            call_queue.cancel_join_thread()


def _abandon(executor: cf.Executor, futures: Sequence[cf.Future]) -> None:
    """The batch is interrupted: cancel its cases that have not started and, on a local
    process pool, stop the workers. A Dask cluster is left to its client."""
    if isinstance(executor, cf.ProcessPoolExecutor):
        # The pool cancels its queued cases itself: a future cancelled from here while
        # the pool's own thread still holds it makes that thread fail (InvalidStateError)
        # when the stopped workers break the pool.
        _stop_pool(executor)
        return
    for future in futures:
        future.cancel()


def _warn_if_threaded(client: Any) -> None:
    """Say once when a cluster's workers run several threads: our cases run one at a time
    per worker process, so the other threads only hold queued cases."""
    try:
        threads = dict(client.nthreads())
    except Exception:  # noqa: BLE001 - a warning is not worth failing the batch for
        return
    threaded = sorted(address for address, n in threads.items() if n and n > 1)
    if threaded:
        sys.stderr.write(
            f"Warning: {len(threaded)} of the cluster's {len(threads)} Dask workers run "
            "several threads; each runs one case at a time (HiGHS's scheduler is per "
            "process). Start workers with `dask worker ADDRESS --nthreads 1 --nworkers N`."
            "\n")


def run_batch(task: Callable[[Any], Any], cases: Sequence[tuple[str, Any]],
              executor: cf.Executor | None = None,
              progress: bool | ProgressCallback | Counter = False,
              description: str = "cases", units: Sequence[int] | None = None
              ) -> list[CaseOutcome]:
    """Run `task(payload)` for each (label, payload); results in the cases' order.

    `progress`: True for a progress bar on stderr, a callback for the counts, or the
    `Counter` of a larger piece of work the batch belongs to. `units`: what each case
    counts for (one each by default; a chunk of a sweep counts its points)."""
    executor = executor or _Inline()
    counts = list(units) if units is not None else [1] * len(cases)
    with tracking(progress, description, sum(counts)) as counter, \
            _channel_for(executor, counter) as channel:
        return _run_counted(task, cases, executor, counter, channel, counts)


def _run_counted(task: Callable[[Any], Any], cases: Sequence[tuple[str, Any]],
                 executor: cf.Executor, counter: Counter | None, channel: _Channel | None,
                 units: Sequence[int]) -> list[CaseOutcome]:
    results: list[CaseOutcome | None] = [None] * len(cases)
    futures: dict[cf.Future, int] = {}
    broken: list[int] = []
    keys = [counter.expect(n) if counter is not None else -1 for n in units]

    def ended(key: int) -> None:
        if counter is not None:
            counter.end(key)

    try:
        for i, (label, payload) in enumerate(cases):
            try:
                future = executor.submit(_guarded, task, label, payload, channel, keys[i])
            except Exception as exc:  # noqa: BLE001 - e.g. a broken pool
                results[i] = CaseOutcome(label, False, reason=f"not started: {exc}")
                ended(keys[i])
                continue
            futures[future] = i
            # As each case ends, wherever it ran (in-process, it has ended already).
            future.add_done_callback(lambda _, key=keys[i]: ended(key))
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except BrokenProcessPool:
                broken.append(i)  # this case, or another one, killed a worker
            except Exception as exc:  # noqa: BLE001 - worker died (killed, OOM, ...)
                results[i] = CaseOutcome(cases[i][0], False, reason="worker failed: "
                                         f"{type(exc).__name__}: {exc}")
    except BaseException:
        # Ctrl-C (here or in a worker), SystemExit: never a failed case. Stop, re-raise.
        _abandon(executor, list(futures))
        raise
    # A dead worker breaks the whole local pool, failing innocent cases with it: run each
    # such case again alone in a fresh process, so only the one that crashes is failed.
    for i in sorted(broken):
        results[i] = _run_alone(task, *cases[i])
    return [r for r in results if r is not None]


def _run_alone(task: Callable[[Any], Any], label: str, payload: Any) -> CaseOutcome:
    alone = _local_pool(1)
    try:
        outcome = alone.submit(_guarded, task, label, payload).result()
    except Exception as exc:  # noqa: BLE001 - it crashed again
        outcome = CaseOutcome(label, False, reason="worker failed: the worker process "
                              f"died running this case ({type(exc).__name__})")
    except BaseException:  # KeyboardInterrupt, SystemExit
        _stop_pool(alone)
        raise
    alone.shutdown(wait=True)
    return outcome


# ---- progress ---------------------------------------------------------------------------

ProgressCallback = Callable[[int, int, str], None]
"""`progress(done, total, now)`: `done` of `total` units (cases, or points of a sweep)
have ended; `now` names what runs at the moment ("" when nothing does)."""


class Counter:
    """The count of a batch: units ended out of the total, and what runs now.

    Each case is expected with the number of units it counts for; a task may report
    them one by one from inside its case, and a case that ends counts for whatever it
    did not report, so the count ends at the total whatever the tasks report. Reports
    that arrive after their case ended (a pool's queue can be slower than its results)
    are dropped. Thread-safe: a pool delivers results on its own thread, a Dask client
    its events on its event loop's."""

    def __init__(self, total: int, show: ProgressCallback):
        self.total = total
        self._show = show
        self._lock = threading.RLock()
        self._done = 0
        self._units: dict[int, int] = {}  # case → the units it counts for
        self._counted: dict[int, int] = {}  # case → the units counted so far
        self._running: dict[int, str] = {}  # case → what it works on now
        self._ended: set[int] = set()
        self._note = ""  # what this process does between cases (a sweep's first solves)
        self._show(0, total, "")

    @property
    def done(self) -> int:
        return self._done

    def expect(self, units: int = 1) -> int:
        """A case of `units` units; its key for the reports."""
        with self._lock:
            key = len(self._units)
            self._units[key] = units
            self._counted[key] = 0
            return key

    def note(self, text: str) -> None:
        """What this process works on now, outside any case."""
        with self._lock:
            self._note = text
            self._emit()

    def advance(self, units: int = 1) -> None:
        """Units done outside any case (a demo's base case)."""
        with self._lock:
            self._done = min(self.total, self._done + units)
            self._emit()

    def now(self, key: int, label: str) -> None:
        with self._lock:
            if key in self._units and key not in self._ended:
                self._running[key] = label
                self._emit()

    def step(self, key: int) -> None:
        with self._lock:
            if key in self._units and key not in self._ended:
                self._count(key, 1)
                self._emit()

    def end(self, key: int) -> None:
        with self._lock:
            if key in self._units and key not in self._ended:
                self._ended.add(key)
                self._running.pop(key, None)
                self._count(key, self._units[key])
                self._emit()

    def receive(self, message: Sequence[Any]) -> None:
        """A report from a worker: ("now", key, label) or ("step", key)."""
        kind, key, *rest = message
        if kind == "now":
            self.now(int(key), str(rest[0]))
        elif kind == "step":
            self.step(int(key))

    def _count(self, key: int, units: int) -> None:
        add = max(0, min(units, self._units[key] - self._counted[key]))
        self._counted[key] += add
        self._done += add

    def _emit(self) -> None:
        now = ", ".join(self._running.values()) if self._running else self._note
        self._show(self._done, self.total, now)


@contextlib.contextmanager
def tracking(progress: bool | ProgressCallback | Counter | None, description: str,
             total: int, console: Any = None) -> Iterator[Counter | None]:
    """The counter of a piece of work: drawn as a progress bar on stderr (or `console`)
    when `progress` is True, handed to `progress` when it is a callback, the same counter
    when it is one already (the work is part of a larger one), none when False."""
    if isinstance(progress, Counter):
        yield progress
    elif callable(progress):
        yield Counter(total, progress)
    elif not progress:
        yield None
    else:
        with _bar(description, total, console) as show:
            yield Counter(total, show)


@contextlib.contextmanager
def _bar(description: str, total: int, console: Any = None) -> Iterator[ProgressCallback]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Column

    # stdout is left alone (it may carry JSON); the bar is erased when the work ends.
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(),
                  TextColumn("{task.fields[now]}",
                             table_column=Column(no_wrap=True, overflow="ellipsis")),
                  transient=True, console=console or Console(stderr=True),
                  redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task(description, total=total, now="")
        yield lambda done, total, now: bar.update(task, completed=done, total=total,
                                                  now=now)


@contextlib.contextmanager
def working(text: str, enabled: bool, delay: float = 1.0, console: Any = None
            ) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on stderr (or `console`) for one long piece of work
    such as a solve, drawn from `delay` seconds on so that quick work shows nothing;
    yields a function that renames what is being done."""
    if not enabled:
        yield lambda _text: None
        return
    from rich.console import Console
    from rich.live import Live

    spinner = _Spinner(text, delay)
    with Live(spinner, console=console or Console(stderr=True), transient=True,
              refresh_per_second=8, redirect_stdout=False, redirect_stderr=False):
        yield spinner.rename


class _Spinner:
    def __init__(self, text: str, delay: float):
        from rich.spinner import Spinner

        self._text = text
        self._delay = delay
        self._started = time.monotonic()
        self._spinner = Spinner("dots")

    def rename(self, text: str) -> None:
        self._text = text

    def __rich__(self):
        from rich.text import Text

        now = time.monotonic()
        elapsed = now - self._started
        if elapsed < self._delay:
            return Text()
        minutes, seconds = divmod(int(elapsed), 60)
        return Text.assemble(self._spinner.render(now), " ", self._text,
                             (f"  {minutes}:{seconds:02d}", "progress.elapsed"))


# ---- reports from inside a case ----------------------------------------------------------

class _Channel(abc.ABC):
    """Where a case's reports go; sent to the worker with the case. Each way a batch
    runs (in process, a local pool, Dask) has its own."""

    @abc.abstractmethod
    def send(self, message: tuple) -> None:
        """Deliver one report to the counter of the batch."""


@dataclass(frozen=True)
class _Direct(_Channel):
    """In this process (in-process runs, thread pools): straight to the counter."""

    counter: Counter

    def send(self, message: tuple) -> None:
        self.counter.receive(message)


@dataclass(frozen=True)
class _ToQueue(_Channel):
    """From a local pool's workers: a manager's queue, read by a thread here."""

    queue: Any

    def send(self, message: tuple) -> None:
        self.queue.put(message)


@dataclass(frozen=True)
class _ToDask(_Channel):
    """From a Dask worker: an event on a topic the client subscribes to."""

    topic: str

    def send(self, message: tuple) -> None:
        from distributed import get_worker

        get_worker().log_event(self.topic, list(message))


_REPORTING = threading.local()  # (channel, key) of the case this thread runs


@contextlib.contextmanager
def _reporting(channel: _Channel | None, key: int, label: str) -> Iterator[None]:
    if channel is None:  # no progress shown, or a case nested in a case
        yield
        return
    previous = getattr(_REPORTING, "where", None)
    _REPORTING.where = (channel, key)
    _send("now", label)
    try:
        yield
    finally:
        _REPORTING.where = previous


def report_now(label: str) -> None:
    """From inside a case: it now works on `label` (a point of a sweep, a strategy).
    Does nothing when no progress is shown."""
    _send("now", label)


def report_step() -> None:
    """From inside a case: one more of its units (a point, a strategy) has ended."""
    _send("step")


def _send(kind: str, *args: Any) -> None:
    where = getattr(_REPORTING, "where", None)
    if where is None:
        return
    channel, key = where
    try:
        channel.send((kind, key, *args))
    except Exception:  # noqa: BLE001 - progress never fails a case
        pass


@contextlib.contextmanager
def _channel_for(executor: cf.Executor, counter: Counter | None
                 ) -> Iterator[_Channel | None]:
    """How the executor's workers reach the counter; none for an executor we do not
    know (its cases then count when they end)."""
    if counter is None:
        yield None
    elif isinstance(executor, _Inline | cf.ThreadPoolExecutor):
        yield _Direct(counter)
    elif isinstance(executor, cf.ProcessPoolExecutor):
        with _queue_channel(counter) as channel:
            yield channel
    elif hasattr(getattr(executor, "_client", None), "subscribe_topic"):
        with _dask_channel(executor._client, counter) as channel:  # type: ignore[attr-defined]
            yield channel
    else:
        yield None


@contextlib.contextmanager
def _queue_channel(counter: Counter) -> Iterator[_Channel]:
    from multiprocessing.managers import SyncManager

    manager = SyncManager()
    manager.start(_ignore_interrupts)  # Ctrl-C is the main process's to handle
    try:
        reports = manager.Queue()
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                try:
                    message = reports.get(timeout=0.1)
                except queue.Empty:
                    continue
                except Exception:  # noqa: BLE001 - the manager is gone
                    return
                counter.receive(message)

        reader = threading.Thread(target=read, name="batch-progress", daemon=True)
        reader.start()
        try:
            yield _ToQueue(reports)
        finally:
            stop.set()
            reader.join(timeout=1.0)
    finally:
        with contextlib.suppress(Exception):
            manager.shutdown()


@contextlib.contextmanager
def _dask_channel(client: Any, counter: Counter) -> Iterator[_Channel]:
    topic = f"resilience-progress-{uuid.uuid4().hex}"
    client.subscribe_topic(topic, lambda event: counter.receive(event[1]))
    try:
        yield _ToDask(topic)
    finally:
        with contextlib.suppress(Exception):
            client.unsubscribe_topic(topic)
