"""Model variants for sweeps that re-use one built model between points.

- A uniform HHI limit on every material and stage whose right-hand side is changed
  between solves (the frontier), and the model that finds the lowest such limit that
  still lets firm orders cover min(D_m, eligible capacity).
- The objective for another risk aversion λ, as new column costs.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from resilience.domain import Instance, Policy
from resilience.formulation import families as F
from resilience.formulation.build import BuiltModel, build_layout
from resilience.formulation.layout import Layout
from resilience.formulation.recourse import cvar_costs, recourse_costs

FRONTIER_POLICY_NAME = "frontier: uniform HHI limit"


def with_uniform_hhi(instance: Instance, limit: float = 10_000.0) -> Instance:
    """The instance plus one always-on `max_hhi` row on every material and both stages."""
    policy = Policy(rule="max_hhi", material="*", target="*", target_kind="*", stage="both",
                    value=limit, name=FRONTIER_POLICY_NAME)
    return dataclasses.replace(instance, policies=instance.policies + (policy,))


def uniform_hhi_rows(built: BuiltModel) -> tuple[np.ndarray, np.ndarray]:
    """Local rows of `policy_hhi` created by the uniform limit, and each row's right-hand
    side per HHI point, D_m / 10,000 (the right-hand side is limit × D_m / 10,000)."""
    index = len(built.data.instance.policies) - 1
    block = built.layout.row_blocks[F.POLICY_HHI]
    rows = [i for i, owner in enumerate(block.owners) if owner.policy_index == index]
    demand = np.array([built.data.demand[block.owners[i].material] for i in rows]) / 10_000.0
    return np.array(rows, dtype=np.int64), demand


def apply_uniform_hhi(built: BuiltModel, session, instance: Instance, limit: float
                      ) -> Instance:
    """Set the uniform HHI limit of a model built on `with_uniform_hhi(instance)` (form
    and solver alike) and return the case the model now stands for."""
    rows, per_point = uniform_hhi_rows(built)
    session.set_row_bounds(F.POLICY_HHI, rows, np.full(len(rows), -np.inf),
                           limit * per_point)
    return with_uniform_hhi(instance, limit)


def apply_risk_aversion(built: BuiltModel, session, instance: Instance,
                        risk_aversion: float) -> Instance:
    """Re-cost a model built with λ > 0 for another λ and return that case."""
    columns, costs = risk_costs(built, risk_aversion)
    session.set_costs(columns, costs)
    return dataclasses.replace(instance, settings=dataclasses.replace(
        instance.settings, risk_aversion=risk_aversion))


def build_hhi_floor_model(instance: Instance) -> BuiltModel:
    """min H subject to every rule of the instance, HHI_m ≤ H on every material and stage
    (chords), and firm orders Σ_o x_o ≥ min(D_m, eligible capacity): the most diversified
    plan that still buys what it can."""
    import time

    started = time.perf_counter()
    case = with_uniform_hhi(instance)
    data, layout = build_layout(case)
    h = layout.add_columns(F.UNIFORM_HHI, 1, 0.0, 10_000.0, scale=10_000.0)
    layout.objective = {F.UNIFORM_HHI: np.ones(1)}
    _link_uniform_rows_to(layout, data, h.start)
    eligible = np.zeros(data.n_material_items)
    np.add.at(eligible, data.offer_material,
              np.where(data.excluded, 0.0, np.minimum(data.capacity,
                                                      data.demand[data.offer_material])))
    total = layout.columns[F.FIRM_TOTAL]
    total.lower = np.minimum(data.demand, eligible) * (1 - 1e-9)
    form = layout.to_standard_form(name="hhi floor")
    return BuiltModel(data, layout, form, time.perf_counter() - started)


def _link_uniform_rows_to(layout: Layout, data, column: int) -> None:
    """Σ_c τ_{m,c} ≤ (v / 10,000) D_m becomes Σ_c τ_{m,c} − (D_m / 10,000) H ≤ 0."""
    block = layout.row_blocks[F.POLICY_HHI]
    index = len(data.instance.policies) - 1
    rows = np.array([i for i, owner in enumerate(block.owners) if owner.policy_index == index])
    demand = np.array([data.demand[block.owners[i].material] for i in rows])
    block.rows = np.concatenate([block.rows, rows])
    block.cols = np.concatenate([block.cols, np.full(len(rows), column)])
    block.vals = np.concatenate([block.vals, -demand / 10_000.0])
    block.upper[rows] = 0.0


def risk_costs(built: BuiltModel, risk_aversion: float) -> tuple[np.ndarray, np.ndarray]:
    """(columns, costs) of the recourse and CVaR columns for another λ; the model must
    have been built with λ > 0 so the CVaR columns exist."""
    data, layout = built.data, built.layout
    alpha = data.instance.settings.cvar_alpha
    weight = (1.0 - risk_aversion) * data.probability
    parts = recourse_costs(layout, data, weight) + cvar_costs(layout, data, risk_aversion,
                                                               alpha)
    return (np.concatenate([block.index for block, _ in parts]),
            np.concatenate([costs for _, costs in parts]))
