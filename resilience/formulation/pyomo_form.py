"""Coefficient blocks → a Pyomo model of matrix components.

Rows go into `MatrixConstraint`s (CSR arrays, no expression objects) and the objective
into one `LinearExpression`, so Pyomo never walks millions of expression nodes.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.matrix_constraint import MatrixConstraint
from pyomo.core.expr.numeric_expr import LinearExpression

from resilience.formulation.layout import Layout


def to_pyomo(layout: Layout, name: str = "resilience") -> pyo.ConcreteModel:
    with PauseGC():
        model = pyo.ConcreteModel(name=name)
        columns: list = []
        for block in layout.columns.values():
            var = pyo.Var(range(block.size), domain=pyo.Binary if block.binary else pyo.Reals,
                          dense=True)
            model.add_component(block.name, var)
            datas = list(var.values())
            lower = [None if v == -np.inf else v for v in block.lower.tolist()]
            upper = [None if v == np.inf else v for v in block.upper.tolist()]
            # VarData.setlb/setub re-validate every value, which costs more than the rest
            # of the build at 10^5-10^6 columns; these are plain floats (or None for
            # infinite) already checked by the formulation, stored where setlb puts them.
            for v, lo, hi in zip(datas, lower, upper, strict=True):
                v._lb = lo
                v._ub = hi
            columns.extend(datas)
        columns_tuple = tuple(columns)
        for block in layout.row_blocks.values():
            matrix = sp.csr_matrix((block.vals, (block.rows, block.cols)),
                                   shape=(block.size, layout.n_cols))
            matrix.sum_duplicates()
            model.add_component(block.name, MatrixConstraint(
                matrix.data, matrix.indices, matrix.indptr, block.lower, block.upper,
                columns_tuple,
            ))
        costs = np.zeros(layout.n_cols)
        for family, coefficients in layout.objective.items():
            b = layout.columns[family]
            costs[b.start:b.start + b.size] += coefficients
        nonzero = np.flatnonzero(costs)
        model.objective = pyo.Objective(
            expr=LinearExpression(
                linear_coefs=costs[nonzero].tolist(),
                linear_vars=[columns_tuple[j] for j in nonzero.tolist()],
            ),
            sense=pyo.minimize,
        )
    return model
