"""The model, family by family: this function is the table of contents of SPEC §3
and §7.

    minimise  Σ_t δ_t [F_t + (1 − λ) Σ_k π_{k,t} R_{k,t}
                       + λ (η_t + Σ_k π_{k,t} z_{k,t} / (1 − α))]

A workbook without a Periods sheet has one period with δ = 1: the v1 model.

Each `define_*` call adds one family of columns or rows, named for its business
meaning, with its formula in its docstring. The assembled coefficient blocks become one
standard form (`StandardForm`: a sparse matrix, bounds, costs, integrality and the
families that name its rows and columns), which HiGHS takes in one `passModel`. A Pyomo
model is written from the same form only when a user asks for one (another solver,
extra constraints).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from resilience.domain import Instance
from resilience.formulation.data import ModelData, model_data
from resilience.formulation.first_stage import (
    define_contract_links,
    define_firm_total,
    define_first_stage_columns,
    define_first_stage_cost,
    define_project_builds,
    define_stock_added,
)
from resilience.formulation.layout import Layout
from resilience.formulation.policies import define_hhi_policies, define_share_policies
from resilience.formulation.recourse import (
    define_backup_limit,
    define_cvar,
    define_demand_cover,
    define_lost_supply,
    define_recourse_columns,
    define_recourse_cost,
    define_replacement_limit,
    define_spot_online,
    define_stock_draw,
)
from resilience.formulation.standard_form import StandardForm


@dataclass
class BuiltModel:
    """The standard form and what names its rows and columns: `data` (the instance as
    arrays) and `layout` (which offer, scenario or policy each row and column is)."""

    data: ModelData
    layout: Layout
    form: StandardForm
    build_seconds: float


def build_layout(instance: Instance) -> tuple[ModelData, Layout]:
    """The model's columns, rows and costs as coefficient blocks (no Pyomo yet)."""
    data = model_data(instance)
    settings = instance.settings
    risk_aversion = settings.risk_aversion
    layout = Layout()

    define_first_stage_columns(layout, data)
    define_recourse_columns(layout, data)

    define_first_stage_cost(layout, data)
    define_recourse_cost(layout, data, weight=(1.0 - risk_aversion) * data.probability)

    define_contract_links(layout, data)
    define_firm_total(layout, data)
    define_stock_added(layout, data)
    define_project_builds(layout, data)
    define_lost_supply(layout, data)
    define_backup_limit(layout, data)
    define_spot_online(layout, data)
    define_stock_draw(layout, data)
    define_replacement_limit(layout, data)
    define_demand_cover(layout, data)
    if risk_aversion > 0:
        define_cvar(layout, data, risk_aversion, settings.cvar_alpha)

    define_share_policies(layout, data)
    define_hhi_policies(layout, data)
    return data, layout


def build_model(instance: Instance) -> BuiltModel:
    started = time.perf_counter()
    data, layout = build_layout(instance)
    form = layout.to_standard_form(name=instance.source_name or "resilience")
    return BuiltModel(data, layout, form, time.perf_counter() - started)


