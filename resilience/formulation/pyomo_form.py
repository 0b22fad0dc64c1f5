"""The standard form as a Pyomo model, written on request: the open modelling interface.

HiGHS does not need Pyomo (it takes the standard form directly); a Pyomo model is built
only when a user asks for one: to solve with another solver (`--solver pyomo:NAME`) or
to add constraints of their own (`--extra FILE.py`). It is in the workbook's units, with
one Var per column family (`model.firm_order[i]` is x of `instance.offers[i]`,
`model.contract[i]` its y) and one indexed Constraint per row family.

User components are brought back into the standard form by Pyomo's public
`LinearStandardFormCompiler`, run on them alone, so the model's own rows are never
compiled twice and no private attribute is read.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import scipy.sparse as sp
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression

from resilience.errors import ExtraError
from resilience.formulation.standard_form import StandardForm

OBJECTIVE = "objective"


def to_pyomo(form: StandardForm) -> tuple[pyo.ConcreteModel, list]:
    """The model and its columns (VarData in the form's column order)."""
    with PauseGC():
        model = pyo.ConcreteModel(name=form.name)
        columns: list = []
        families = sorted(form.column_families.values(), key=lambda f: f.start)
        for family in families:
            lower = form.col_lower[family.slice].tolist()
            upper = form.col_upper[family.slice].tolist()
            integer = bool(form.integer[family.slice].all()) and family.size > 0

            def bounds(_, i, lower=lower, upper=upper):
                return (None if lower[i] == -np.inf else lower[i],
                        None if upper[i] == np.inf else upper[i])

            var = pyo.Var(range(family.size), dense=True, bounds=bounds,
                          domain=pyo.Binary if integer else pyo.Reals)
            model.add_component(family.name, var)
            if integer:  # binaries keep their bounds (exclusions fix some to 0)
                for i, v in enumerate(var.values()):
                    v.setub(upper[i])
            columns.extend(var.values())
        columns_tuple = tuple(columns)
        for family in sorted(form.row_families.values(), key=lambda f: f.start):
            if not family.size:
                continue
            model.add_component(family.name, pyo.Constraint(
                range(family.size), rule=_row_rule(form, family, columns_tuple)))
        nonzero = np.flatnonzero(form.costs)
        model.add_component(OBJECTIVE, pyo.Objective(
            expr=LinearExpression(linear_coefs=form.costs[nonzero].tolist(),
                                  linear_vars=[columns_tuple[j] for j in nonzero.tolist()]),
            sense=pyo.minimize))
    return model, columns


def _row_rule(form: StandardForm, family, columns: tuple):
    """Each row as a LinearExpression between its bounds: plain Constraints, which every
    Pyomo writer and solver interface takes (MatrixConstraint is not read by the LP
    writer that the classic solver interfaces use)."""
    block = form.matrix[family.slice]
    data, indices, indptr = block.data.tolist(), block.indices.tolist(), block.indptr.tolist()
    lower = form.row_lower[family.slice].tolist()
    upper = form.row_upper[family.slice].tolist()

    def rule(_, i):
        start, stop = indptr[i], indptr[i + 1]
        body = LinearExpression(linear_coefs=data[start:stop],
                                linear_vars=[columns[j] for j in indices[start:stop]])
        lo = None if lower[i] == -np.inf else lower[i]
        hi = None if upper[i] == np.inf else upper[i]
        if lo is not None and lo == hi:
            return body == lo
        if lo is None and hi is None:
            return pyo.Constraint.Skip
        return (lo, body, hi)

    return rule


def column_values(columns: list) -> np.ndarray:
    """Values the solver loaded into the model, in the form's column order."""
    return np.array([np.nan if v.value is None else v.value for v in columns], dtype=float)


def with_extras(form: StandardForm, model: pyo.ConcreteModel, columns: list,
                family: str = "extra") -> StandardForm:
    """The form grown by whatever a user's function added to `model`: new variables
    become columns, new constraints rows (family `extra`). The model's own rows and
    objective are left out of the compilation (they are in the form already)."""
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    own = {id(c) for f in form.row_families.values() if f.size
           for c in [model.component(f.name)] if c is not None}
    objective = model.component(OBJECTIVE)
    objectives = list(model.component_data_objects(pyo.Objective, active=True))
    if objective is None or len(objectives) != 1 or objectives[0] is not objective:
        raise ExtraError("extra() may add variables and constraints but not change the "
                         "objective; the model's objective is `model.objective`")
    switched_off = [c for c in model.component_objects(pyo.Constraint, active=True)
                    if id(c) in own]
    for c in switched_off:
        c.deactivate()
    objective.deactivate()
    try:
        compiled = LinearStandardFormCompiler().write(model, mixed_form=True,
                                                      set_sense=None)
    except Exception as exc:  # noqa: BLE001 - a user's model: say what Pyomo said
        raise ExtraError(f"the extra constraints cannot be compiled: {exc}") from None
    finally:
        for c in switched_off:
            c.activate()
        objective.activate()
    position = {id(v): j for j, v in enumerate(columns)}
    new_vars = [v for v in compiled.columns if id(v) not in position]
    for j, v in enumerate(new_vars):
        position[id(v)] = form.n_cols + j
    mapping = np.array([position[id(v)] for v in compiled.columns], dtype=np.int64)
    n_cols = form.n_cols + len(new_vars)
    matrix = sp.csr_matrix(compiled.A)
    matrix = sp.csr_matrix((matrix.data, mapping[matrix.indices], matrix.indptr),
                           shape=(matrix.shape[0], n_cols))
    rhs = np.asarray(compiled.rhs, dtype=float)
    # Mixed form keeps each row as written and says which side it bounds: 0 for an
    # equality, 1 for an upper bound, −1 for a lower bound (a ranged row gives two).
    senses = np.array([entry[1] for entry in compiled.rows], dtype=int)
    lower = np.where(senses <= 0, rhs, -np.inf)
    upper = np.where(senses >= 0, rhs, np.inf)
    col_lower = [-np.inf if v.lb is None else v.lb for v in new_vars]
    col_upper = [np.inf if v.ub is None else v.ub for v in new_vars]
    integer = [v.is_integer() for v in new_vars]
    return form.extended(family, len(new_vars), np.array(col_lower, float),
                         np.array(col_upper, float), np.array(integer, bool), matrix,
                         lower, upper)

