"""The model as one standard form: the single object every consumer reads.

    minimise  c·x   subject to   row_lower ≤ A x ≤ row_upper,
                                 col_lower ≤ x ≤ col_upper,   x_j integer where flagged.

The formulation assembles it once (`Layout.to_standard_form`); HiGHS receives it through
one `passModel`, Pyomo models and LP/MPS files are written from it on request, and the
edits analyses make (a right-hand side, a bound, a cost) are made here and mirrored into
whichever solver holds it, so the form and the solver never disagree.

Everything in the form is in the units of the workbook (tonnes, currency). What the
solver sees is scaled (`ScaledArrays`): quantities in units of their material's demand,
money in one scale for the objective and for the money rows, and each row divided by
the geometric middle of its coefficients. HiGHS then sees coefficients near 1 instead of
a matrix spanning [1, 2e6] and costs down to 1e-6, ranges that let HiGHS 1.16 return a
wrong "optimal" on the embedded data. Every scale is a power of two, so scaling and
unscaling are exact in floating point: the scaled model is the same model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp


def power_of_two(values: np.ndarray | float) -> np.ndarray:
    """The power of two nearest (in log scale) to each positive value; 1 for others."""
    values = np.asarray(values, dtype=float)
    out = np.ones_like(values)
    positive = np.isfinite(values) & (values > 0)
    out[positive] = np.exp2(np.round(np.log2(values[positive])))
    return out


@dataclass(frozen=True)
class Family:
    """A contiguous block of columns or rows that one `define_*` function created."""

    name: str
    start: int
    size: int

    @property
    def stop(self) -> int:
        return self.start + self.size

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class ScaledArrays:
    """What the solver is handed: x_solver = x / col_scale, rows divided by row_scale,
    the objective divided by cost_scale."""

    matrix: sp.csr_matrix
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    costs: np.ndarray
    col_scale: np.ndarray
    row_scale: np.ndarray
    cost_scale: float


@dataclass(frozen=True)
class CoefficientRanges:
    """Smallest and largest nonzero magnitudes, as HiGHS prints them before a solve."""

    matrix: tuple[float, float]
    cost: tuple[float, float]
    bound: tuple[float, float]
    rhs: tuple[float, float]


@dataclass
class StandardForm:
    matrix: sp.csr_matrix
    row_lower: np.ndarray
    row_upper: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    costs: np.ndarray
    integer: np.ndarray  # bool per column
    col_scale: np.ndarray  # each column's unit for the solver (1 for integer columns)
    money_columns: np.ndarray  # bool: columns measured in currency (η, z)
    column_families: dict[str, Family]
    row_families: dict[str, Family]
    name: str = "resilience"
    _scaled: ScaledArrays | None = field(default=None, repr=False)

    # ---- sizes --------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_cols(self) -> int:
        return self.matrix.shape[1]

    @property
    def nnz(self) -> int:
        return int(self.matrix.nnz)

    @property
    def is_mip(self) -> bool:
        return bool(self.integer.any())

    def columns_of(self, family: str) -> np.ndarray:
        f = self.column_families[family]
        return np.arange(f.start, f.stop, dtype=np.int64)

    def rows_of(self, family: str) -> np.ndarray:
        f = self.row_families[family]
        return np.arange(f.start, f.stop, dtype=np.int64)

    def objective_value(self, values: np.ndarray) -> float:
        return float(self.costs @ values)

    # ---- edits (the solver mirrors each one) -------------------------------------------
    def set_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        self.row_lower[rows] = lower
        self.row_upper[rows] = upper

    def set_column_bounds(self, columns: np.ndarray, lower: np.ndarray,
                          upper: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int64)
        self.col_lower[columns] = lower
        self.col_upper[columns] = upper

    def set_costs(self, columns: np.ndarray, costs: np.ndarray) -> None:
        columns = np.asarray(columns, dtype=np.int64)
        self.costs[columns] = costs

    def copy(self) -> StandardForm:
        return StandardForm(
            self.matrix.copy(), self.row_lower.copy(), self.row_upper.copy(),
            self.col_lower.copy(), self.col_upper.copy(), self.costs.copy(),
            self.integer.copy(), self.col_scale.copy(), self.money_columns.copy(),
            dict(self.column_families), dict(self.row_families), self.name)

    # ---- scaling --------------------------------------------------------------------------
    def scaling(self) -> ScaledArrays:
        """The scaled arrays. The matrix, row scales and cost scale are fixed the first
        time (they depend on the structure, not on the edits); bounds and costs are
        re-scaled on every call, so an edited form is handed over as edited."""
        if self._scaled is None:
            self._scaled = self._scale_structure()
        s = self._scaled
        col_scale, row_scale = s.col_scale, s.row_scale
        return ScaledArrays(
            s.matrix, self.col_lower / col_scale, self.col_upper / col_scale,
            self.row_lower / row_scale, self.row_upper / row_scale,
            self.costs * col_scale / s.cost_scale, col_scale, row_scale, s.cost_scale)

    def _scale_structure(self) -> ScaledArrays:
        """Column, row and money scales, applied entry by entry on the CSR arrays (the
        same result as diag(1/r) A diag(s), without building three sparse matrices)."""
        col_scale = self.col_scale.copy()
        weighted = np.abs(self.costs) * col_scale
        # Money: one scale for the objective and for the columns in currency (η, z), the
        # power of two nearest the geometric middle of the non-money cost magnitudes.
        plain = weighted[~self.money_columns & (weighted > 0)]
        money = float(power_of_two(math.sqrt(plain.max() * plain.min()))) if plain.size \
            else 1.0
        col_scale[self.money_columns] = money
        matrix = self.matrix
        if not matrix.has_canonical_format:
            matrix = matrix.copy()
            matrix.sum_duplicates()
        indptr, indices = matrix.indptr, matrix.indices
        data = matrix.data * col_scale[indices]
        magnitude = np.abs(data)
        counts = np.diff(indptr)
        filled = counts > 0
        largest = np.zeros(self.n_rows)
        smallest = np.zeros(self.n_rows)
        if data.size:
            starts = indptr[:-1][filled]
            largest[filled] = np.maximum.reduceat(magnitude, starts)
            minima = np.minimum.reduceat(np.where(magnitude > 0, magnitude, np.inf), starts)
            smallest[filled] = np.where(np.isfinite(minima), minima, 0.0)
        row_scale = power_of_two(np.sqrt(np.where(largest > 0, largest * smallest, 1.0)))
        data *= np.repeat(1.0 / row_scale, counts)
        scaled = sp.csr_matrix((data, indices.copy(), indptr.copy()), shape=matrix.shape)
        return ScaledArrays(scaled, self.col_lower, self.col_upper, self.row_lower,
                            self.row_upper, self.costs, col_scale, row_scale, money)

    def scaled(self) -> StandardForm:
        """The form as the solver sees it (the arrays of `scaling()`), as a form of its
        own: what a solver reached through Pyomo is handed, so that it gets the same
        well-scaled numbers as HiGHS (values come back through `unscale_values`, the
        bound through the cost scale)."""
        s = self.scaling()
        return StandardForm(
            s.matrix.copy(), s.row_lower.copy(), s.row_upper.copy(), s.col_lower.copy(),
            s.col_upper.copy(), s.costs.copy(), self.integer.copy(),
            np.ones(self.n_cols), self.money_columns.copy(), dict(self.column_families),
            dict(self.row_families), self.name)

    def unscale_values(self, solver_values: np.ndarray) -> np.ndarray:
        return np.asarray(solver_values, dtype=float) * self.scaling_structure().col_scale

    def unscale_duals(self, solver_duals: np.ndarray) -> np.ndarray:
        """∂objective/∂rhs in currency per unit of the row as written in the form."""
        s = self.scaling_structure()
        return np.asarray(solver_duals, dtype=float) * s.cost_scale / s.row_scale

    def scaling_structure(self) -> ScaledArrays:
        if self._scaled is None:
            self._scaled = self._scale_structure()
        return self._scaled

    def ranges(self, scaled: bool = True) -> CoefficientRanges:
        """Coefficient ranges of the model the solver sees (or of the form itself)."""
        if scaled:
            s = self.scaling()
            matrix, costs = s.matrix, s.costs
            bounds = np.concatenate([s.col_lower, s.col_upper])
            rhs = np.concatenate([s.row_lower, s.row_upper])
        else:
            matrix, costs = self.matrix, self.costs
            bounds = np.concatenate([self.col_lower, self.col_upper])
            rhs = np.concatenate([self.row_lower, self.row_upper])
        return CoefficientRanges(_span(matrix.data), _span(costs), _span(bounds),
                                 _span(rhs))

    # ---- names ----------------------------------------------------------------------------
    def column_names(self) -> list[str]:
        return _names(self.column_families, self.n_cols, "c")

    def row_names(self) -> list[str]:
        return _names(self.row_families, self.n_rows, "r")

    # ---- growing (user extras) -----------------------------------------------------------
    def extended(self, family: str, new_columns: int, col_lower: np.ndarray,
                 col_upper: np.ndarray, integer: np.ndarray, rows: sp.csr_matrix,
                 row_lower: np.ndarray, row_upper: np.ndarray) -> StandardForm:
        """A new form with `new_columns` columns appended (family `<family>_columns`,
        cost 0) and the rows `rows` (over all columns, old then new) appended as family
        `family`."""
        n_old = self.n_cols
        n_cols = n_old + new_columns
        wide = sp.hstack([self.matrix, sp.csr_matrix((self.n_rows, new_columns))],
                         format="csr") if new_columns else self.matrix
        rows = sp.csr_matrix(rows, shape=(rows.shape[0], n_cols))
        matrix = sp.vstack([wide, rows], format="csr")
        column_families = dict(self.column_families)
        if new_columns:
            column_families[f"{family}_columns"] = Family(f"{family}_columns", n_old,
                                                          new_columns)
        row_families = dict(self.row_families)
        if rows.shape[0]:
            row_families[family] = Family(family, self.n_rows, rows.shape[0])
        integer = np.asarray(integer, dtype=bool)
        return StandardForm(
            matrix,
            np.concatenate([self.row_lower, np.asarray(row_lower, float)]),
            np.concatenate([self.row_upper, np.asarray(row_upper, float)]),
            np.concatenate([self.col_lower, np.asarray(col_lower, float)]),
            np.concatenate([self.col_upper, np.asarray(col_upper, float)]),
            np.concatenate([self.costs, np.zeros(new_columns)]),
            np.concatenate([self.integer, integer]),
            np.concatenate([self.col_scale, np.ones(new_columns)]),
            np.concatenate([self.money_columns, np.zeros(new_columns, dtype=bool)]),
            column_families, row_families, self.name)


def _span(values: np.ndarray) -> tuple[float, float]:
    magnitude = np.abs(np.asarray(values, dtype=float))
    magnitude = magnitude[np.isfinite(magnitude) & (magnitude > 0)]
    if not magnitude.size:
        return (0.0, 0.0)
    return (float(magnitude.min()), float(magnitude.max()))


def _names(families: dict[str, Family], size: int, fallback: str) -> list[str]:
    names = [f"{fallback}{i}" for i in range(size)]
    for family in families.values():
        for i in range(family.size):
            names[family.start + i] = f"{family.name}({i})"
    return names
