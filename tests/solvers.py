"""Which solvers the tests can use here: HiGHS always; CBC when Debian's coinor-cbc is
installed (CI installs it; `apt-get install coinor-cbc` locally)."""

from __future__ import annotations

import functools

import pytest


@functools.cache
def cbc_available() -> bool:
    import pyomo.environ as pyo

    return bool(pyo.SolverFactory("cbc").available(exception_flag=False))


def require(solver: str) -> None:
    """Skip, saying why, when a Pyomo solver a test names is not installed."""
    if solver == "pyomo:cbc" and not cbc_available():
        pytest.skip("CBC is not installed (apt-get install coinor-cbc)")


# The hand-derived tests run on every path: HiGHS direct (the default), HiGHS through
# Pyomo, and CBC through Pyomo.
SOLVER_PATHS = ("highs", "pyomo:highs", "pyomo:cbc")


_current = {"solver": "highs"}


def current_solver() -> str:
    """The solver path the running test is parametrised with (see `solver_path`)."""
    return _current["solver"]


@pytest.fixture(params=SOLVER_PATHS)
def solver_path(request):
    """Parametrise a test module over every solver path: import this fixture into the
    module with `pytestmark = pytest.mark.usefixtures("solver_path")` and read the path
    with `current_solver()` where the module solves."""
    require(request.param)
    _current["solver"] = request.param
    yield request.param
    _current["solver"] = "highs"
