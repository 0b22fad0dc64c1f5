"""A case: the instance under a chosen strategy, what-if and setting overrides.

Strategies and what-ifs are looked up in the workbook first, then in the shipped
library (`models/strategies/NAME.toml`, `models/whatifs/NAME.toml`); an unknown name is
an input error that lists the known ones.
"""

from __future__ import annotations

import dataclasses

from resilience.domain import Instance
from resilience.errors import InputError, Problem
from resilience.library import library_strategies, load_library_strategy, load_library_whatif
from resilience.whatif import apply_whatif, known_whatifs


def prepare_case(instance: Instance, *, strategy: str | None = None, whatif: str | None = None,
                 risk_aversion: float | None = None, cvar_alpha: float | None = None,
                 time_limit: float | None = None, mip_gap: float | None = None) -> Instance:
    case = instance
    if whatif:
        if whatif.strip().casefold() not in {n.casefold() for n in known_whatifs(case)}:
            case = load_library_whatif(case, whatif)
        case = apply_whatif(case, whatif)
    if strategy:
        case = _choose_strategy(case, strategy)
    overrides = {
        key: value for key, value in (
            ("risk_aversion", risk_aversion), ("cvar_alpha", cvar_alpha),
            ("time_limit", time_limit), ("mip_gap", mip_gap),
        ) if value is not None
    }
    problems = _check_overrides(overrides)
    if problems:
        raise InputError(problems)
    if overrides:
        case = dataclasses.replace(
            case, settings=dataclasses.replace(case.settings, **overrides))
    return case


def known_strategies(instance: Instance) -> tuple[str, ...]:
    names = {s.casefold(): s for s in instance.strategies()}
    for name in library_strategies():
        names.setdefault(name.casefold(), name)
    return tuple(names.values())


def _choose_strategy(instance: Instance, name: str) -> Instance:
    wanted = name.strip().casefold()
    for defined in instance.strategies():
        if defined.casefold() == wanted:
            return dataclasses.replace(instance, strategy=defined)
    if wanted in {s.casefold() for s in library_strategies()}:
        return load_library_strategy(instance, name)
    listing = ", ".join(known_strategies(instance)) or "none defined"
    raise InputError([Problem("Policies", "", f"unknown strategy {name!r}; known: {listing}")])


def _check_overrides(overrides: dict[str, float]) -> list[Problem]:
    problems = []
    checks = {
        "risk_aversion": (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
        "cvar_alpha": (lambda v: 0 < v < 1, "must be in (0, 1)"),
        "time_limit": (lambda v: v > 0, "must be > 0 seconds"),
        "mip_gap": (lambda v: 0 <= v <= 1, "must be in [0, 1]"),
    }
    for key, value in overrides.items():
        ok, text = checks[key]
        if not ok(value):
            problems.append(Problem("command line", "", f"--{key.replace('_', '-')} {text}",
                                    found=value))
    return problems
