"""Column and row bookkeeping for a model assembled family by family.

Each variable family is a contiguous block of columns; each constraint family a block
of rows given as coordinate triplets. Keeping explicit offsets means nothing ever
recovers structure by parsing component names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from resilience.formulation.standard_form import Family, StandardForm, power_of_two


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
            np.broadcast_to(np.asarray(lower, dtype=float), (size,)).copy(),
            np.broadcast_to(np.asarray(upper, dtype=float), (size,)).copy(),
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

    def to_standard_form(self, name: str = "resilience") -> StandardForm:
        """Assemble the blocks into one sparse matrix with bounds, costs and scales."""
        n_rows, n_cols = self.n_rows, self.n_cols
        blocks = [b for b in self.row_blocks.values() if b.size]
        rows = np.concatenate([b.rows + b.start for b in blocks]) if blocks \
            else np.zeros(0, np.int64)
        cols = np.concatenate([b.cols for b in blocks]) if blocks else np.zeros(0, np.int64)
        vals = np.concatenate([b.vals for b in blocks]) if blocks else np.zeros(0)
        matrix = sp.csr_matrix((vals, (rows, cols)), shape=(n_rows, n_cols))
        matrix.sum_duplicates()
        matrix.eliminate_zeros()
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

        return StandardForm(
            matrix=matrix, row_lower=row_lower, row_upper=row_upper,
            col_lower=joined(lambda b: b.lower), col_upper=joined(lambda b: b.upper),
            costs=costs,
            integer=joined(lambda b: np.full(b.size, b.binary), bool),
            col_scale=joined(lambda b: b.scale if b.scale is not None else np.ones(b.size)),
            money_columns=joined(lambda b: np.full(b.size, b.money), bool),
            column_families={b.name: Family(b.name, b.start, b.size) for b in columns},
            row_families={b.name: Family(b.name, b.start, b.size)
                          for b in self.row_blocks.values()},
            name=name,
        )


def stack(*parts: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate (rows, cols, vals) triplets."""
    if not parts:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(3))
