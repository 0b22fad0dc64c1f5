"""pandas DataFrames of a result, for notebooks and scripts (docs/api.md).

Each frame is made from the result's JSON document (`to_dict()`, docs/json.md), so a
frame and the JSON never disagree: the same figures, the same rounding of numerical
noise, the same units (money in `units.currency`, shares as fractions 0-1, HHI in points
0-10,000, quantities in each material's unit). Tables are long ("tidy"): one row per
thing measured, a column per figure, ready for `pivot`, `groupby` and plotting.

Over a planning horizon every frame of a per-period figure has a `period` column;
without a Periods sheet it has none, as the JSON has no `period` there.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

# The figures every solved case of compare, frontier and evaluate carries (docs/json.md).
FIGURES = ("objective", "first_stage_cost", "expected_recourse_cost", "cvar",
           "expected_shortage_cost", "largest_hhi", "largest_hhi_at", "mip_gap",
           "risk_aversion", "cvar_alpha")
DELTAS = ("first_stage_cost", "objective", "cvar", "expected_shortage_cost", "largest_hhi")
BINDING = ("name", "rule", "material", "country", "stage", "limit", "cost_per_point")
BROKEN = ("name", "rule", "material", "country", "stage", "limit", "achieved")


class _Frames:
    """The frames of a result as attributes; `as_dict()` gives them by name."""

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class SolveFrames(_Frames):
    """The tables of one solve.

    plan: one row per contracted offer (per period over a horizon): quantity x_o, reserve
      r_o, landed unit cost, spend = landed cost × quantity, share of the (period's) demand.
    shares: material, stage, country → share of demand (the last period's when not per
      period; over a horizon one row per period where the material has demand).
    hhi: material, stage → HHI points (over a horizon per period; NaN where the material
      has no demand).
    scenarios: per scenario (and period): probability and the plan's least recourse cost.
    scenario_materials: per scenario (and period) and material: units short, stock drawn,
      backup called (and spot bought where some offer sells spot).
    policies: every policy constraint: limit, achieved, binding, cost per point.
    costs: the objective and its parts, one row (over a horizon one row per period, with
      its weight; the totals are the weighted sums, in `to_dict()`).
    stockpile: material (and period) → stock held.
    investments: the partner-capacity projects built: build start, online from, capex.
    expected_shortage: material → expected units short (over a horizon summed).
    """

    plan: pd.DataFrame
    shares: pd.DataFrame
    hhi: pd.DataFrame
    scenarios: pd.DataFrame
    scenario_materials: pd.DataFrame
    policies: pd.DataFrame
    costs: pd.DataFrame
    stockpile: pd.DataFrame
    investments: pd.DataFrame
    expected_shortage: pd.DataFrame


@dataclass(frozen=True, eq=False)
class CompareFrames(_Frames):
    """The tables of `compare`.

    cases: one row per strategy × what-if: status, the case figures (FIGURES) and
      `vs_base_*`, each figure minus that of strategy base under the same what-if (NaN
      for base itself and where base failed).
    group_shares: strategy, what-if, country group → its share of the landed spend of
      firm orders (`spend_share`) and the unweighted mean over materials of its origin
      share of demand (`mean_share`).
    binding: the binding policy constraints of each case, with their cost per point.
    expected_shortage: strategy, what-if, material → expected units short and the
      difference to base.
    """

    cases: pd.DataFrame
    group_shares: pd.DataFrame
    binding: pd.DataFrame
    expected_shortage: pd.DataFrame


@dataclass(frozen=True, eq=False)
class FrontierFrames(_Frames):
    """The tables of `frontier`.

    hhi_sweep, risk_aversion_sweep: one row per point: the parameter (the uniform HHI
      limit, or λ), ok, the knee flag and the point's figures (FIGURES, `max_exact_hhi`).
    binding: the binding policy constraints at each point (`sweep`, `parameter`).
    """

    hhi_sweep: pd.DataFrame
    risk_aversion_sweep: pd.DataFrame
    binding: pd.DataFrame


@dataclass(frozen=True, eq=False)
class EvaluateFrames(_Frames):
    """The tables of `evaluate`.

    cases: one row per what-if: the plan held fixed (`fixed_*` figures), the plan
      re-optimised for that what-if (`reoptimised_*`) and the regret (fixed minus
      re-optimised objective).
    adjustments: what-if → each firm order cut to a shocked capacity.
    rules_broken: what-if → each policy row of the case that the plan held fixed does not
      meet (limit against achieved; for an exclusion, the quantity from its sources).
    """

    cases: pd.DataFrame
    adjustments: pd.DataFrame
    rules_broken: pd.DataFrame


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """A frame with exactly `columns`, in that order, even when there are no rows."""
    return pd.DataFrame.from_records(rows, columns=columns)


def _period(multi: bool) -> list[str]:
    return ["period"] if multi else []


# ---- solve ---------------------------------------------------------------------------


def solve_frames(doc: dict[str, Any]) -> SolveFrames:
    """The frames of a solve's JSON document (`SolveResult.to_dict()`)."""
    multi = "periods" in doc
    per = _period(multi)
    plan_columns = [*per, "supplier", "material", "country", "processing_country",
                    "quantity", "reserve", "unit", "landed_unit_cost", "spend",
                    "share_of_demand"]
    return SolveFrames(
        plan=_frame(doc["plan"], plan_columns),
        shares=_shares(doc["shares"], multi),
        hhi=_hhi(doc["hhi"], multi),
        scenarios=_scenarios(doc["scenarios"], multi),
        scenario_materials=_scenario_materials(doc["scenarios"], multi),
        policies=_frame(doc["policies"], [
            *per, "policy_index", "name", "rule", "material", "country", "stage", "limit",
            "achieved", "unit", "binding", "cost_per_point", "cost_per_point_unit"]),
        costs=_costs(doc, multi),
        stockpile=_stockpile(doc["stockpile"], doc["units"]["quantity"], multi),
        investments=_frame(doc.get("investments", []), [
            "supplier", "material", "country", "processing_country", "period",
            "online_from", "capex", "capacity"]),
        expected_shortage=_frame(
            [{"material": m, "unit": doc["units"]["quantity"].get(m, ""),
              "expected_shortage": units}
             for m, units in doc["expected_shortage"].items()],
            ["material", "unit", "expected_shortage"]),
    )


def _shares(shares: dict, multi: bool) -> pd.DataFrame:
    rows = []
    for material, by_stage in shares.items():
        for stage, inner in by_stage.items():
            by_period = inner if multi else {None: inner}
            for period, by_country in by_period.items():
                for country, share in (by_country or {}).items():
                    row = {"period": period} if multi else {}
                    rows.append({**row, "material": material, "stage": stage,
                                 "country": country, "share": share})
    return _frame(rows, [*_period(multi), "material", "stage", "country", "share"])


def _hhi(hhi: dict, multi: bool) -> pd.DataFrame:
    rows = []
    for material, by_stage in hhi.items():
        for stage, inner in by_stage.items():
            if multi:
                rows.extend({"period": t, "material": material, "stage": stage, "hhi": h}
                            for t, h in inner.items())
            else:
                rows.append({"material": material, "stage": stage, "hhi": inner})
    frame = _frame(rows, [*_period(multi), "material", "stage", "hhi"])
    frame["hhi"] = frame["hhi"].astype(float)  # None (no demand that period) → NaN
    return frame


_SCENARIO_UNITS = ("shortage", "stock_drawn", "backup_called", "spot_bought")


def _scenarios(scenarios: list[dict], multi: bool) -> pd.DataFrame:
    spot = any("price_surge" in s for s in scenarios)
    columns = [*_period(multi), "scenario", "probability", "recourse_cost",
               *(["price_surge"] if spot else [])]
    return _frame([{k: s.get(k) for k in columns} for s in scenarios], columns)


def _scenario_materials(scenarios: list[dict], multi: bool) -> pd.DataFrame:
    measures = [k for k in _SCENARIO_UNITS if any(k in s for s in scenarios)] or list(
        _SCENARIO_UNITS[:3])
    rows = []
    for s in scenarios:
        materials = dict.fromkeys(m for k in measures for m in s.get(k, {}))
        for material in materials:
            row = {"period": s["period"]} if multi else {}
            rows.append({**row, "scenario": s["scenario"], "material": material,
                         **{k: s.get(k, {}).get(material, 0.0) for k in measures}})
    return _frame(rows, [*_period(multi), "scenario", "material", *measures])


def _costs(doc: dict, multi: bool) -> pd.DataFrame:
    if multi:
        rows = [{"period": p["period"], "weight": p["weight"],
                 "objective": p["objective"], "weighted_objective": p["weighted_objective"],
                 "first_stage_cost": p["first_stage_cost"],
                 "expected_recourse_cost": p["expected_recourse_cost"], "cvar": p["cvar"],
                 **{k: v for k, v in p["cost_breakdown"].items()
                    if k not in ("expected_recourse", "cvar")}}
                for p in doc["by_period"]]
        head = ["period", "weight", "objective", "weighted_objective"]
    else:
        rows = [{"objective": doc["objective"], "first_stage_cost": doc["first_stage_cost"],
                 "expected_recourse_cost": doc["expected_recourse_cost"], "cvar": doc["cvar"],
                 **{k: v for k, v in doc["cost_breakdown"].items()
                    if k not in ("expected_recourse", "cvar")}}]
        head = ["objective"]
    columns = list(dict.fromkeys([*head, *(k for row in rows for k in row)]))
    return _frame(rows, columns)


def _stockpile(stockpile: dict, units: dict[str, str], multi: bool) -> pd.DataFrame:
    rows = []
    for material, level in stockpile.items():
        if multi:
            rows.extend({"period": t, "material": material, "unit": units.get(material, ""),
                         "stock": v} for t, v in level.items())
        else:
            rows.append({"material": material, "unit": units.get(material, ""),
                         "stock": level})
    return _frame(rows, [*_period(multi), "material", "unit", "stock"])


# ---- compare, frontier, evaluate -----------------------------------------------------


def _binding(items: list[dict], keys: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**keys, **{k: b.get(k) for k in BINDING}, "period": b.get("period")}
            for b in items]


def _binding_columns(rows: list[dict], head: list[str]) -> list[str]:
    per = ["period"] if any(r.get("period") for r in rows) else []
    return [*head, *per, *BINDING]


def compare_frames(doc: dict[str, Any]) -> CompareFrames:
    """The frames of compare's JSON document (`CompareResult.to_dict()`)."""
    cases, groups, binding, shortage = [], [], [], []
    for case in doc["cases"]:
        keys = {"strategy": case["strategy"], "whatif": case["whatif"]}
        delta = case.get("vs_base") or {}
        cases.append({**keys, "status": case["status"], "reason": case["reason"],
                      **{k: case.get(k) for k in FIGURES},
                      **{f"vs_base_{k}": delta.get(k) for k in DELTAS},
                      "share_period": case.get("share_period")})
        spend, mean = case.get("group_spend_share") or {}, case.get("group_share") or {}
        groups.extend({**keys, "group": g, "spend_share": spend.get(g),
                       "mean_share": mean.get(g)} for g in dict.fromkeys([*spend, *mean]))
        binding.extend(_binding(case.get("binding_policies") or [], keys))
        base_delta = delta.get("expected_shortage") or {}
        shortage.extend({**keys, "material": m, "expected_shortage": units,
                         "vs_base": base_delta.get(m)}
                        for m, units in (case.get("expected_shortage") or {}).items())
    case_columns = ["strategy", "whatif", "status", "reason", *FIGURES,
                    *(f"vs_base_{k}" for k in DELTAS), "share_period"]
    frames = CompareFrames(
        cases=_frame(cases, case_columns),
        group_shares=_frame(groups, ["strategy", "whatif", "group", "spend_share",
                                     "mean_share"]),
        binding=_frame(binding, _binding_columns(binding, ["strategy", "whatif"])),
        expected_shortage=_frame(shortage, ["strategy", "whatif", "material",
                                            "expected_shortage", "vs_base"]),
    )
    for column in (*FIGURES, *(f"vs_base_{k}" for k in DELTAS)):
        if column != "largest_hhi_at":
            frames.cases[column] = frames.cases[column].astype(float)
    return frames


def frontier_frames(doc: dict[str, Any]) -> FrontierFrames:
    """The frames of frontier's JSON document (`FrontierResult.to_dict()`)."""
    columns = ["parameter", "ok", "reason", "knee", *FIGURES, "max_exact_hhi"]
    binding: list[dict[str, Any]] = []
    sweeps = {}
    for sweep in ("hhi_sweep", "risk_aversion_sweep"):
        points = doc[sweep]
        sweeps[sweep] = _frame([{k: p.get(k) for k in columns} for p in points], columns)
        for p in points:
            binding.extend(_binding(p.get("binding_policies") or [],
                                    {"sweep": sweep.removesuffix("_sweep"),
                                     "parameter": p["parameter"]}))
    return FrontierFrames(
        hhi_sweep=sweeps["hhi_sweep"], risk_aversion_sweep=sweeps["risk_aversion_sweep"],
        binding=_frame(binding, _binding_columns(binding, ["sweep", "parameter"])))


def evaluate_frames(doc: dict[str, Any]) -> EvaluateFrames:
    """The frames of evaluate's JSON document (`EvaluateResult.to_dict()`)."""
    figures = [k for k in FIGURES if k not in ("risk_aversion", "cvar_alpha")]
    columns = ["whatif", "ok", "reason", "regret",
               *(f"fixed_{k}" for k in figures), *(f"reoptimised_{k}" for k in figures)]
    rows, adjustments, broken = [], [], []
    for case in doc["cases"]:
        fixed, best = case.get("fixed_plan") or {}, case.get("reoptimised") or {}
        broken.extend({"whatif": case["whatif"], **{k: b.get(k) for k in BROKEN},
                       "period": b.get("period")} for b in fixed.get("rules_broken") or [])
        rows.append({"whatif": case["whatif"], "ok": case["ok"], "reason": case["reason"],
                     "regret": case["regret"],
                     **{f"fixed_{k}": fixed.get(k) for k in figures},
                     **{f"reoptimised_{k}": best.get(k) for k in figures}})
        adjustments.extend({"whatif": case["whatif"], "adjustment": text}
                           for text in case.get("adjustments") or [])
    per = ["period"] if any(b["period"] for b in broken) else []
    return EvaluateFrames(cases=_frame(rows, columns),
                          adjustments=_frame(adjustments, ["whatif", "adjustment"]),
                          rules_broken=_frame(broken, ["whatif", *per, *BROKEN]))
