"""Column and row bookkeeping for a model assembled family by family.

Each variable family is a contiguous block of columns; each constraint family a block
of rows given as coordinate triplets. Keeping explicit offsets means nothing ever
recovers structure by parsing component names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

try:  # scipy's private module of the COO/CSR kernels its own conversions call
    from scipy.sparse import _sparsetools
except ImportError:  # pragma: no cover - then every matrix takes the COO path
    _sparsetools = None

from resilience.formulation.standard_form import Family, StandardForm, power_of_two

# Below this many matrix entries `to_standard_form` leaves the conversion to scipy.
BY_BLOCKS_FROM_NONZEROS = 20_000


@dataclass
class ColumnBlock:
    name: str
    start: int
    size: int
    lower: np.ndarray
    upper: np.ndarray
    binary: bool = False
    # The column's unit for the solver: a material's quantities are handed over in units
    # of (a power of two near) its demand; money columns get the model's money scale.
    scale: np.ndarray | None = None
    money: bool = False

    @property
    def index(self) -> np.ndarray:
        return np.arange(self.start, self.start + self.size, dtype=np.int64)


@dataclass(frozen=True)
class PolicyRowOwner:
    """A row that a Policies row created: which policy, on which material (index into
    the model's materials), which country or group it measures ("" for an HHI limit)
    and at which stage."""

    policy_index: int
    material: int
    label: str
    stage: str


@dataclass(frozen=True)
class ChordRowOwner:
    """An HHI chord row: the square of one country's share in one material and stage."""

    material: int
    stage: str
    country: str


RowOwner = PolicyRowOwner | ChordRowOwner


@dataclass
class RowBlock:
    """Rows lower ≤ A x ≤ upper; ``owners`` says what each row belongs to (for duals and
    infeasibility explanations): a tuple per row, meaning fixed by the family."""

    name: str
    start: int
    size: int
    rows: np.ndarray  # local row of each coefficient
    cols: np.ndarray
    vals: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    owners: list[RowOwner] = field(default_factory=list)  # policy families only


@dataclass
class Layout:
    columns: dict[str, ColumnBlock] = field(default_factory=dict)
    row_blocks: dict[str, RowBlock] = field(default_factory=dict)
    n_cols: int = 0
    n_rows: int = 0
    objective: dict[str, np.ndarray] = field(default_factory=dict)  # family -> coefficients
    # Which object each column of a sparse family stands for, e.g. maps["reserve"] holds
    # the offer of each reserve column; maps["backup"] the (scenario, offer) pairs.
    maps: dict[str, np.ndarray] = field(default_factory=dict)

    def add_columns(self, name: str, size: int, lower, upper, binary: bool = False,
                    scale=1.0, money: bool = False) -> ColumnBlock:
        """`scale`: the quantity a unit of the column stands for in the solver (use the
        demand of the column's material); ignored for binaries and money columns."""
        lower = np.broadcast_to(np.asarray(lower, dtype=float), (size,)).copy()
        upper = np.broadcast_to(np.asarray(upper, dtype=float), (size,)).copy()
        scale = np.ones(size) if binary else power_of_two(
            np.broadcast_to(np.asarray(scale, dtype=float), (size,)).copy())
        block = ColumnBlock(name, self.n_cols, size, lower, upper, binary, scale, money)
        self.columns[name] = block
        self.n_cols += size
        return block

    def add_rows(self, name: str, size: int, rows, cols, vals, lower, upper,
                 owners: list[RowOwner] | None = None) -> RowBlock:
        if size == 0:
            return RowBlock(name, self.n_rows, 0, *(np.zeros(0),) * 5)
        block = RowBlock(
            name, self.n_rows, size,
            np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=float),
            _per_row(lower, size), _per_row(upper, size),
            owners or [],
        )
        if name in self.row_blocks:
            raise ValueError(f"row family {name} defined twice")
        self.row_blocks[name] = block
        self.n_rows += size
        return block

    def add_cost(self, block: ColumnBlock, coefficients) -> None:
        coefficients = np.broadcast_to(np.asarray(coefficients, dtype=float), (block.size,))
        if block.name in self.objective:
            self.objective[block.name] = self.objective[block.name] + coefficients
        else:
            self.objective[block.name] = coefficients.copy()

    def locate_row(self, row: int) -> tuple[RowBlock, int]:
        for block in self.row_blocks.values():
            if block.start <= row < block.start + block.size:
                return block, row - block.start
        raise IndexError(row)

    def _csr_by_blocks(self, blocks: list[RowBlock]) -> sp.csr_matrix | None:
        """The CSR matrix block by block, or None when a block repeats an entry
        (row, column) (then `_csr_from_triplets` sums them as scipy does) or the matrix
        is small (below `BY_BLOCKS_FROM_NONZEROS` entries the per-block numpy calls cost
        more than scipy's one conversion of all triplets; both give the same matrix).

        Each block goes through scipy's own COO → CSR kernel (`coo_tocsr`, a stable
        counting sort by row) straight into its slice of the matrix's arrays; a block
        whose rows then list their columns out of order (a family that emits all its x
        terms, then all its y terms, with y before x in the columns) has just its rows
        sorted (`csr_sort_indices`); a block of long rows (the CVaR rows) is put in
        (row, column) order first by a stable sort, which merges the family's runs. No
        whole-matrix COO copy, index check or sort. (`_sparsetools` is scipy's private
        module of these kernels; without it every matrix takes the COO path.)"""
        n_rows, n_cols = self.n_rows, self.n_cols
        nnz = sum(len(b.rows) for b in blocks)
        if nnz < BY_BLOCKS_FROM_NONZEROS or _sparsetools is None:
            return None
        dtype = _index_dtype(max(n_rows, n_cols), nnz)
        indptr = np.zeros(n_rows + 1, dtype=dtype)
        indices = np.empty(nnz, dtype=dtype)
        data = np.empty(nnz)
        p = 0
        for b in blocks:
            n = len(b.rows)
            q = p + n
            if n and (b.rows.min() < 0 or b.rows.max() >= b.size
                      or b.cols.min() < 0 or b.cols.max() >= n_cols):
                raise ValueError(f"row family {b.name}: an entry outside the matrix")
            rows, cols, vals = b.rows, b.cols, np.asarray(b.vals, dtype=float)
            if n > 64 * b.size:  # long rows: cheaper to merge the family's runs up front
                order = np.argsort(rows * n_cols + cols, kind="stable")
                rows, cols, vals = rows[order], cols[order], vals[order]
            pointer = indptr[b.start:b.start + b.size + 1]  # a view: filled in place
            index = indices[p:q]
            _sparsetools.coo_tocsr(b.size, n_cols, n, rows.astype(dtype), cols.astype(dtype),
                                   vals, pointer, index, data[p:q])
            pointer += p
            if n > 1:
                # entry i − 1 → i, for i = p + 1 … q − 1, unless a row starts at i
                starts = pointer[1:-1]
                starts = starts[(starts > p) & (starts < q)] - p - 1
                ascending = index[1:] > index[:-1]
                ascending[starts] = True
                if not ascending.all():
                    _sparsetools.csr_sort_indices(b.size, pointer, indices, data)
                    same = index[1:] == index[:-1]
                    same[starts] = False
                    if same.any():
                        return None
            p = q
        zero = data == 0
        if zero.any():  # explicit zeros are dropped, as `eliminate_zeros` would
            keep = ~zero
            rows = np.repeat(np.arange(n_rows), np.diff(indptr))[keep]
            indices, data = indices[keep], data[keep]
            indptr = np.zeros(n_rows + 1, dtype=dtype)
            np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
        matrix = sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols), copy=False)
        matrix.has_canonical_format = True  # sorted columns, no duplicates
        return matrix

    def _csr_from_triplets(self, blocks: list[RowBlock]) -> sp.csr_matrix:
        """The CSR matrix by scipy's COO conversion: duplicates summed, zeros dropped."""
        rows = np.concatenate([b.rows + b.start for b in blocks]) if blocks \
            else np.zeros(0, np.int64)
        cols = np.concatenate([b.cols for b in blocks]) if blocks else np.zeros(0, np.int64)
        vals = np.concatenate([b.vals for b in blocks]) if blocks else np.zeros(0)
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(self.n_rows, self.n_cols))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
        return matrix

    def to_standard_form(self, name: str = "resilience") -> StandardForm:
        """Assemble the blocks into one sparse matrix with bounds, costs and scales.

        The matrix is row-wise (CSR) with each row's columns ascending, no duplicate
        entries and no explicit zeros: the matrix scipy's COO conversion makes
        (`_csr_from_triplets`), built block by block where that is cheaper
        (`_csr_by_blocks`: blocks are stacked in row order, so each fills its own slice
        of the CSR arrays). Both give the same arrays, bit for bit.
        """
        n_rows, n_cols = self.n_rows, self.n_cols
        blocks = [b for b in self.row_blocks.values() if b.size]
        matrix = self._csr_by_blocks(blocks)
        if matrix is None:
            matrix = self._csr_from_triplets(blocks)
        row_lower = np.full(n_rows, -np.inf)
        row_upper = np.full(n_rows, np.inf)
        for b in blocks:
            row_lower[b.start:b.start + b.size] = b.lower
            row_upper[b.start:b.start + b.size] = b.upper
        columns = list(self.columns.values())
        costs = np.zeros(n_cols)
        for family, coefficients in self.objective.items():
            b = self.columns[family]
            costs[b.start:b.start + b.size] += coefficients

        def joined(get, dtype=float):
            parts = [np.asarray(get(b), dtype=dtype) for b in columns]
            return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

        def flag(get) -> np.ndarray:  # one flag per block, repeated over its columns
            return np.repeat(np.array([get(b) for b in columns], dtype=bool),
                             [b.size for b in columns])

        return StandardForm(
            matrix=matrix, row_lower=row_lower, row_upper=row_upper,
            col_lower=joined(lambda b: b.lower), col_upper=joined(lambda b: b.upper),
            costs=costs,
            integer=flag(lambda b: b.binary),
            col_scale=joined(lambda b: b.scale if b.scale is not None else np.ones(b.size)),
            money_columns=flag(lambda b: b.money),
            column_families={b.name: Family(b.name, b.start, b.size) for b in columns},
            row_families={b.name: Family(b.name, b.start, b.size)
                          for b in self.row_blocks.values()},
            name=name,
        )


def _per_row(values, size: int) -> np.ndarray:
    """A bound as a fresh float array of one value per row (a scalar is repeated)."""
    values = np.asarray(values, dtype=float)
    if values.ndim == 0:
        return np.full(size, values)
    return np.broadcast_to(values, (size,)).copy()


def _index_dtype(largest_dimension: int, nnz: int) -> type:
    """scipy's choice for a sparse matrix's index arrays: int32 while every index fits."""
    return np.int32 if max(largest_dimension, nnz) <= np.iinfo(np.int32).max else np.int64


def stack(*parts: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate (rows, cols, vals) triplets."""
    if not parts:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(3))
