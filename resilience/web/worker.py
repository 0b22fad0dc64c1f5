"""What runs in a worker process: reading a workbook and solving one case.

Each function takes plain data (paths chosen by the server, names checked against the
workbook's own lists) and sends plain data back over a pipe, so the server never parses
a workbook or builds a model itself. Messages: ("stage", text) and ("progress", {…})
while working, then one of ("done", payload), ("problems", [problem…]), ("infeasible",
text), ("noplan", text), ("error", text).
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path
from typing import Any


def problem_rows(problems) -> list[dict[str, Any]]:
    """Problems as the page's table shows them: Sheet!Cell, message, found."""
    from resilience.errors import _shorten

    return [{"sheet": p.sheet, "cell": p.cell, "message": p.message,
             "found": "" if p.found is None else _shorten(p.found),
             "warning": p.warning} for p in problems]


class _Reporter:
    """Sends progress over the worker's pipe from whichever thread reports it (HiGHS's
    own thread, or the thread reading an isolated solve's child): one lock, so that a
    message is never interleaved with another; a report that cannot be sent is dropped,
    never an error in the solve."""

    def __init__(self, conn):
        self._conn = conn
        self._lock = threading.Lock()

    def send(self, message) -> None:
        try:
            with self._lock:
                self._conn.send(message)
        except (OSError, ValueError):  # the server went away; the job ends anyway
            pass

    def solver(self, progress) -> None:
        """`on_progress` of `solve_case`: a SolveProgress as plain numbers."""
        self.send(("progress", {
            "seconds": _finite(progress.seconds), "objective": _finite(progress.objective),
            "bound": _finite(progress.bound), "gap": _finite(progress.gap)}))

    def points(self, done: int, total: int, now: str) -> None:
        """`progress` of `frontier`: points done of total, and what runs now."""
        self.send(("progress", {"done": done, "total": total, "now": now}))


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _guarded(conn, body, reporter: _Reporter | None = None) -> None:
    from resilience.errors import InfeasibleError, InputError, NoPlanError

    send = reporter.send if reporter is not None else conn.send
    try:
        send(body())
    except InputError as exc:
        send(("problems", problem_rows(exc.problems)))
    except InfeasibleError as exc:
        send(("infeasible", str(exc)))
    except NoPlanError as exc:
        send(("noplan", str(exc)))
    except Exception as exc:  # the page shows it; the server goes on
        send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


def inspect_workbook(conn, path: str) -> None:
    """Check the container, read and validate the workbook; send what the case form
    offers for it: strategies, the what-ifs that apply, the default settings."""

    def body():
        from resilience.cases import applicable_whatifs, known_strategies
        from resilience.validate import load
        from resilience.workbook import check_container

        conn.send(("stage", "reading the workbook"))
        check_container(Path(path))
        instance = load(path)
        whatifs, skipped = applicable_whatifs(instance)
        return ("done", {
            "strategies": list(known_strategies(instance)),
            "whatifs": whatifs,
            "skipped_whatifs": skipped,
            "risk_aversion": instance.settings.risk_aversion,
            "time_limit": instance.settings.time_limit,
            "currency": instance.settings.currency,
            "materials": len(instance.materials),
            "countries": len(instance.countries),
            "periods": [p.id for p in instance.periods],
            "warnings": [str(w) for w in instance.warnings],
        })

    _guarded(conn, body)


def solve_run(conn, path: str, folder: str, run_id: int, strategy: str | None,
              whatif: str | None, risk_aversion: float | None,
              time_limit: float | None) -> None:
    """Prepare, solve and verify one case with the library's API; write its Excel report
    and its JSON (`solve --json`) into the session's folder; send the comparison
    figures (`case_figures`, which carry the JSON as `summary`)."""

    reporter = _Reporter(conn)

    def body():
        from resilience.analyses.compare import case_figures
        from resilience.api import solve_case
        from resilience.cases import prepare_case
        from resilience.report.excel import write_solve_report
        from resilience.validate import load

        reporter.send(("stage", "reading the workbook"))
        case = prepare_case(load(path), strategy=strategy, whatif=whatif,
                            risk_aversion=risk_aversion, time_limit=time_limit)
        reporter.send(("stage", "solving"))
        result = solve_case(case, on_progress=reporter.solver)
        reporter.send(("stage", "writing the report"))
        target = Path(folder)
        write_solve_report(result, target / f"run-{run_id}.xlsx")
        figures = case_figures(result)
        (target / f"run-{run_id}.json").write_text(
            json.dumps(figures["summary"], indent=2, allow_nan=False, default=_plain) + "\n",
            encoding="utf-8")
        return ("done", json.loads(json.dumps(figures, allow_nan=False, default=_plain)))

    _guarded(conn, body, reporter)


def frontier_run(conn, path: str, folder: str, number: int, strategy: str | None,
                 whatif: str | None, risk_aversion: float | None,
                 time_limit: float | None, points: int) -> None:
    """The two sweeps of `resilience frontier` for one case with the library's API
    (`frontier`, one process: the worker is the job); write its Excel report
    (`write_frontier_report`) and its JSON (`frontier --json`) into the session's
    folder; send that JSON. Progress: the points done, as the command line counts them."""

    reporter = _Reporter(conn)

    def body():
        from resilience.api import frontier
        from resilience.cases import prepare_case
        from resilience.report.analyses import write_frontier_report
        from resilience.validate import load

        reporter.send(("stage", "reading the workbook"))
        case = prepare_case(load(path), strategy=strategy, whatif=whatif,
                            risk_aversion=risk_aversion, time_limit=time_limit)
        reporter.send(("stage", "solving the frontier's points"))
        result = frontier(case, points=points, progress=reporter.points)
        reporter.send(("stage", "writing the report"))
        target = Path(folder)
        write_frontier_report(result.frontier, result.instance,
                              target / f"frontier-{number}.xlsx")
        data = json.loads(json.dumps(result.to_dict(), allow_nan=False, default=_plain))
        (target / f"frontier-{number}.json").write_text(
            json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        return ("done", data)

    _guarded(conn, body, reporter)


def _plain(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def standby(tasks, results, warm: bool = True) -> None:
    """A worker: import the engine now when `warm` (a spare kept ahead, so that a solve
    does not wait for a new interpreter to import Pyomo), then run the one task the
    server hands over."""
    if warm:
        _import_engine()
    try:
        task = tasks.recv()
    except (EOFError, OSError):
        return
    finally:
        tasks.close()
    if task is not None:
        target, args = task
        target(results, *args)


def _import_engine() -> None:
    import resilience.analyses.compare  # noqa: F401
    import resilience.analyses.frontier  # noqa: F401
    import resilience.api  # noqa: F401
    import resilience.formulation.build  # noqa: F401
    import resilience.report.excel  # noqa: F401
    import resilience.solver  # noqa: F401
    import resilience.validate  # noqa: F401
    import resilience.verify  # noqa: F401
