"""resilience: decide how much of each critical input to buy from which supplier in which
country, trading procurement cost against concentration and disruption risk.

The public API, one arrow of the data flow each:

    instance = load("book.xlsx")                 # workbook → validated instance
    case = prepare_case(instance, strategy=...)  # strategy, what-if, overrides
    result = solve_case(case)                    # model → HiGHS → solution → verification
"""

__version__ = "0.1.0"

__all__ = ["__version__", "load", "prepare_case", "solve_case"]


def __getattr__(name: str):
    # Lazy, so `resilience --help` and `validate` never import Pyomo or HiGHS.
    if name == "load":
        from resilience.validate import load

        return load
    if name == "prepare_case":
        from resilience.cases import prepare_case

        return prepare_case
    if name == "solve_case":
        from resilience.api import solve_case

        return solve_case
    raise AttributeError(name)
