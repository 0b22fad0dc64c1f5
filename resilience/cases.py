"""A case: the instance under a chosen strategy, what-if and setting overrides.

Strategies and what-ifs are looked up in the workbook first, then in the shipped
library (`models/strategies/NAME.toml`, `models/whatifs/NAME.toml`); an unknown name is
an input error that lists the known ones.
"""

from __future__ import annotations

import dataclasses
import difflib

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
    known = known_strategies(instance)
    listing = ", ".join(known) or "none defined"
    near = difflib.get_close_matches(name.strip(), known, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]}? " if near else ""
    raise InputError([Problem("command line", "", f"--strategy: unknown strategy {name!r} "
                              "(in neither the workbook's Policies sheet nor the library); "
                              f"{hint}known: {listing}")])


# The command-line option that sets each override, for messages: `--gap 5` is about --gap.
OPTION_OF = {"risk_aversion": "--risk-aversion", "cvar_alpha": "--cvar-alpha",
             "time_limit": "--time-limit", "mip_gap": "--gap"}


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
            problems.append(Problem("command line", "", f"{OPTION_OF[key]} {text}",
                                    found=value))
    return problems


def applicable_whatifs(instance: Instance) -> tuple[list[str], list[str]]:
    """(what-ifs to run by default, library what-ifs skipped): the workbook's own
    what-ifs always (an error in one is the user's to see), and the library's only where
    they apply to this workbook. The library's were written for the embedded data set;
    on another workbook their edits usually match no row, and running them would only
    fill a batch with failed cases."""
    from resilience.library import library_whatifs

    own = list(known_whatifs(instance))
    mine = {n.casefold() for n in own}
    chosen, skipped = list(own), []
    for name in library_whatifs():
        if name.casefold() in mine:
            continue
        try:
            prepare_case(instance, whatif=name)
        except InputError:
            skipped.append(name)
        else:
            chosen.append(name)
    return chosen, skipped
