"""One batch runner for compare, frontier and evaluate.

It sends plain data to workers (frozen dataclasses of the instance and the case's
parameters — never Pyomo models or HiGHS objects, which do not pickle) and takes any
`concurrent.futures.Executor`: a local process pool by default, or a Dask cluster through
`Client.get_executor()`. A case that fails — an input error, an infeasible case, a crash
in a worker — is reported as failed with its reason; the rest go on.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
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
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            future.set_exception(exc)
        return future


def _guarded(task: Callable[..., Any], label: str, payload: Any) -> CaseOutcome:
    """Runs in the worker: any exception becomes a failed outcome with its reason."""
    from resilience.errors import InfeasibleError, InputError, NoPlanError

    try:
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
            yield client.get_executor(pure=False)
        finally:
            client.close()
    elif workers > 1:
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            yield pool
    else:
        yield _Inline()


def run_batch(task: Callable[[Any], Any], cases: Sequence[tuple[str, Any]],
              executor: cf.Executor | None = None, progress: bool = False,
              description: str = "cases") -> list[CaseOutcome]:
    """Run `task(payload)` for each (label, payload); results in the cases' order."""
    executor = executor or _Inline()
    results: list[CaseOutcome | None] = [None] * len(cases)
    futures: dict[cf.Future, int] = {}
    for i, (label, payload) in enumerate(cases):
        try:
            futures[executor.submit(_guarded, task, label, payload)] = i
        except Exception as exc:  # noqa: BLE001 - e.g. a broken pool
            results[i] = CaseOutcome(label, False, reason=f"not started: {exc}")
    broken: list[int] = []
    bar = _progress(progress, description, len(cases))
    with bar as advance:
        for future in cf.as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except BrokenProcessPool:
                broken.append(i)  # this case, or another one, killed a worker
            except BaseException as exc:  # noqa: BLE001 - worker died (killed, OOM, ...)
                results[i] = CaseOutcome(cases[i][0], False,
                                         reason=f"worker failed: {type(exc).__name__}: {exc}")
            advance()
    # A dead worker breaks the whole local pool, failing innocent cases with it: run each
    # such case again alone in a fresh process, so only the one that crashes is failed.
    for i in sorted(broken):
        label, payload = cases[i]
        with cf.ProcessPoolExecutor(max_workers=1) as alone:
            try:
                results[i] = alone.submit(_guarded, task, label, payload).result()
            except BaseException as exc:  # noqa: BLE001 - it crashed again
                results[i] = CaseOutcome(label, False, reason="worker failed: the worker "
                                         f"process died running this case "
                                         f"({type(exc).__name__})")
    return [r for r in results if r is not None]


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
