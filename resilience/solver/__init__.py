"""The solver adapters: the only code that talks to a solver.

`open_session(form, options, solver)` hands a standard form to the solver a user chose:
`highs` (the default: HiGHS straight from the form's arrays) or `pyomo:NAME` (the same
form as a Pyomo model, solved by any solver Pyomo knows). Both sessions answer the same
calls with the same `SolverOutcome`.
"""

from __future__ import annotations

from resilience.formulation.standard_form import StandardForm
from resilience.solver.options import Budget, SolverOptions
from resilience.solver.outcome import SolveProgress, SolverOutcome

__all__ = ["Budget", "SolveProgress", "SolverOptions", "SolverOutcome", "open_session",
           "parse_solver", "versions", "write_model"]

DEFAULT_SOLVER = "highs"


def parse_solver(name: str) -> tuple[str, str]:
    """`highs` → ("highs", "highs"); `pyomo:cbc` → ("pyomo", "cbc")."""
    text = (name or DEFAULT_SOLVER).strip()
    if text.casefold() == "highs":
        return "highs", "highs"
    kind, _, solver = text.partition(":")
    if kind.casefold() == "pyomo" and solver.strip():
        return "pyomo", solver.strip()
    raise ValueError(f"unknown solver '{name}': use 'highs' or 'pyomo:NAME' (e.g. pyomo:cbc, "
                     "pyomo:highs, pyomo:glpk, pyomo:gurobi)")


def open_session(form: StandardForm, options: SolverOptions | None = None,
                 solver: str = DEFAULT_SOLVER, isolate: bool | None = None):
    """`isolate` (HiGHS direct only): solve in a child process that is killed at the
    hard deadline; None leaves it to the size of the form."""
    kind, name = parse_solver(solver)
    if kind == "highs":
        from resilience.solver.highs import HighsSession

        return HighsSession(form, options, isolate=isolate)
    from resilience.solver.pyomo_backend import PyomoSession

    return PyomoSession(form, name, options)


def versions() -> dict[str, str]:
    from resilience.solver.highs import versions as installed

    return installed()


def write_model(form: StandardForm, path) -> None:
    """The form as an LP or MPS file (by the suffix), with the family names of its rows
    and columns, in the workbook's units: for bug reports and other tools."""
    from resilience.solver.highs import write_form

    write_form(form, path)
