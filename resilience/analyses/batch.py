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
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import signal
import sys
import threading
import traceback
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


def _guarded(task: Callable[..., Any], label: str, payload: Any) -> CaseOutcome:
    """Runs in the worker: any exception becomes a failed outcome with its reason;
    KeyboardInterrupt and SystemExit are not exceptions of the case and pass through."""
    from resilience.errors import InfeasibleError, InputError, NoPlanError

    try:
        with _ONE_CASE_AT_A_TIME:
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
        except BaseException:
            _stop_pool(pool)  # Ctrl-C or an error: do not wait for the queued cases
            raise
        pool.shutdown(wait=True)
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
              executor: cf.Executor | None = None, progress: bool = False,
              description: str = "cases") -> list[CaseOutcome]:
    """Run `task(payload)` for each (label, payload); results in the cases' order."""
    executor = executor or _Inline()
    results: list[CaseOutcome | None] = [None] * len(cases)
    futures: dict[cf.Future, int] = {}
    broken: list[int] = []
    try:
        with _progress(progress, description, len(cases)) as advance:
            for i, (label, payload) in enumerate(cases):
                try:
                    future = executor.submit(_guarded, task, label, payload)
                except Exception as exc:  # noqa: BLE001 - e.g. a broken pool
                    results[i] = CaseOutcome(label, False, reason=f"not started: {exc}")
                    advance()
                    continue
                futures[future] = i
                # As each case ends, wherever it ran (in-process, it has ended already).
                future.add_done_callback(lambda _: advance())
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


@contextlib.contextmanager
def _progress(enabled: bool, description: str, total: int):
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
