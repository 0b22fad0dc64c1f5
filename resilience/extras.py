"""A user's own constraints: a Python file that defines `extra(model, instance)`.

As PyPSA's `extra_functionality`, the function receives the Pyomo model of the case
(`model.firm_order[i]` is the firm order on `instance.offers[i]`, `model.contract[i]`
its contract; every variable family is a component named after it) and the validated
instance, and adds variables and constraints with plain Pyomo. They are compiled into
the standard form with the rest, so every solver sees them.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path


def load_extra(path: Path) -> Callable:
    """The file's `extra` function; ValueError (shown as an input error) when the file
    is missing, cannot be imported, or defines no such function."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    spec = importlib.util.spec_from_file_location(f"resilience_extra_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's code: say what it raised
        raise ValueError(f"{path} failed to load: {type(exc).__name__}: {exc}") from None
    function = getattr(module, "extra", None)
    if not callable(function):
        raise ValueError(f"{path} defines no function extra(model, instance)")
    return function
