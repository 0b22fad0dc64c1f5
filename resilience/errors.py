"""Errors that carry what the user must fix, mapped to exit codes by the CLI alone."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, located as precisely as the input allows."""

    sheet: str
    cell: str  # "B7", a row "7", or "" for the whole sheet / workbook
    message: str
    found: object = None
    warning: bool = False
    order: tuple[int, int, int] = (0, 0, 0)  # (sheet order, row, column) for sorting

    def __str__(self) -> str:
        where = f"{self.sheet}!{self.cell}" if self.cell else self.sheet
        text = f"{where}: {self.message}" if where else self.message
        if self.found is not None:
            text += f" (found: {_shorten(self.found)})"
        return text


def _shorten(value: object, limit: int = 60) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(Exception):
    """The input cannot be used; every problem found is listed (exit code 2)."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.order)
        super().__init__("\n".join(str(p) for p in self.problems))


class InfeasibleError(Exception):
    """No plan satisfies every rule (exit code 3); the message names the conflict."""


class NoPlanError(Exception):
    """The solver stopped (time limit, interrupt) before finding any plan (exit code 4)."""


class VerificationError(Exception):
    """The solver's plan failed the independent recomputation (exit code 1)."""


class SolverDisagreement(Exception):
    """Two solvers disagree on the optimum of the same model beyond the gap (exit 1)."""


class ExtraError(Exception):
    """A user's extra(model, instance) failed or did what the model cannot take (exit 2)."""
