"""Column and row bookkeeping for a model assembled family by family.

Each variable family is a contiguous block of columns; each constraint family a block
of rows given as coordinate triplets. Keeping explicit offsets means nothing ever
recovers structure by parsing component names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class ColumnBlock:
    name: str
    start: int
    size: int
    lower: np.ndarray
    upper: np.ndarray
    binary: bool = False

    @property
    def index(self) -> np.ndarray:
        return np.arange(self.start, self.start + self.size, dtype=np.int64)


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
    owners: list[tuple] = field(default_factory=list)  # policy families only


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

    def add_columns(self, name: str, size: int, lower, upper, binary: bool = False
                    ) -> ColumnBlock:
        lower = np.broadcast_to(np.asarray(lower, dtype=float), (size,)).copy()
        upper = np.broadcast_to(np.asarray(upper, dtype=float), (size,)).copy()
        block = ColumnBlock(name, self.n_cols, size, lower, upper, binary)
        self.columns[name] = block
        self.n_cols += size
        return block

    def add_rows(self, name: str, size: int, rows, cols, vals, lower, upper,
                 owners: list[tuple] | None = None) -> RowBlock:
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

    def locate_column(self, col: int) -> tuple[ColumnBlock, int]:
        for block in self.columns.values():
            if block.start <= col < block.start + block.size:
                return block, col - block.start
        raise IndexError(col)


def stack(*parts: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concatenate (rows, cols, vals) triplets."""
    if not parts:
        return (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return tuple(np.concatenate([np.asarray(p[i]) for p in parts]) for i in range(3))
