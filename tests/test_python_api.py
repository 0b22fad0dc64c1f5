"""The Python API (docs/api.md): the example in the docs runs as written; `to_dict()` is
the JSON the command writes with --json; `to_frames()` gives the same figures as pandas
DataFrames, with a period column over a horizon; compare, frontier and evaluate the
same."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from resilience.api import (
    CompareResult,
    EvaluateResult,
    FrontierResult,
    SolveResult,
    compare,
    evaluate,
    frontier,
    load,
    prepare_case,
    solve_case,
    validate_workbook,
)
from resilience.errors import InputError
from resilience.frames import CompareFrames, EvaluateFrames, FrontierFrames, SolveFrames
from resilience.library import demo_workbook, example_workbook

ROOT = Path(__file__).resolve().parent.parent
API_DOC = ROOT / "docs" / "api.md"


def code_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)


def test_the_example_in_the_docs_runs_as_written(tmp_path, monkeypatch, capsys):
    blocks = code_blocks(API_DOC)
    assert blocks, "docs/api.md has no python example"
    monkeypatch.chdir(tmp_path)  # the example needs no files of the repository
    namespace: dict = {"__name__": "__docs_api__"}
    for block in blocks:
        exec(compile(block, str(API_DOC), "exec"), namespace)  # noqa: S102
    shown = capsys.readouterr().out
    assert "optimal" in shown
    assert isinstance(namespace["frames"], SolveFrames)
    assert list(tmp_path.iterdir()) == [], "the example writes no file"


# ---- to_dict() is the JSON of the command ---------------------------------------------


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUTF8": "1"}
    return subprocess.run([sys.executable, "-m", "resilience.cli", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, encoding="utf-8",
                          timeout=600)


def without_timings(data):
    """The document without the figures that change between identical runs."""
    if isinstance(data, dict):
        return {k: without_timings(v) for k, v in data.items()
                if k not in ("timings", "build_seconds", "solve_seconds")}
    if isinstance(data, list):
        return [without_timings(v) for v in data]
    return data


@pytest.fixture(scope="module")
def book():
    return load(example_workbook())


@pytest.fixture(scope="module")
def solved(book) -> SolveResult:
    return solve_case(prepare_case(book, strategy="diversify", risk_aversion=0.3))


def test_to_dict_is_what_solve_json_writes(tmp_path, solved):
    run = run_cli(tmp_path, "solve", str(example_workbook()), "--strategy", "diversify",
                  "--risk-aversion", "0.3", "-o", "plan.xlsx", "--json", "plan.json")
    assert run.returncode == 0, run.stderr
    written = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert without_timings(solved.to_dict()) == without_timings(written)
    assert json.dumps(solved.to_dict(), allow_nan=False)
    assert list(solved.to_dict()) == list(written), "same keys, same order"


def test_to_dict_of_the_analyses_is_what_their_json_writes(tmp_path, book):
    path = str(example_workbook())
    runs = {
        "compare": (["compare", path, "--strategies", "base,diversify", "--whatifs",
                     "base,section301_tariffs"],
                    lambda: compare(book, ["base", "diversify"],
                                    ["base", "section301_tariffs"])),
        "frontier": (["frontier", path, "--points", "3", "--strategy", "diversify"],
                     lambda: frontier(prepare_case(book, strategy="diversify"), points=3)),
    }
    for name, (args, call) in runs.items():
        run = run_cli(tmp_path, *args, "-o", f"{name}.xlsx", "--json", f"{name}.json")
        assert run.returncode == 0, (name, run.stderr)
        written = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
        assert without_timings(call().to_dict()) == without_timings(written), name


def test_evaluate_of_a_result_is_evaluate_of_its_report(tmp_path, book, solved):
    """Holding the SolveResult's plan fixed is holding its report's Plan sheet fixed:
    the same figures, from the API and from the command line."""
    from resilience.report.excel import write_solve_report

    write_solve_report(solved, tmp_path / "plan.xlsx")
    direct = evaluate(book, solved, ["section301_tariffs"])
    from_report = evaluate(book, tmp_path / "plan.xlsx", ["section301_tariffs"])
    run = run_cli(tmp_path, "evaluate", str(example_workbook()), "--plan", "plan.xlsx",
                  "--whatifs", "section301_tariffs", "-o", "e.xlsx", "--json", "e.json")
    assert run.returncode == 0, run.stderr
    written = json.loads((tmp_path / "e.json").read_text(encoding="utf-8"))
    assert without_timings(from_report.to_dict()) == without_timings(written)
    assert isinstance(direct, EvaluateResult) and direct.failed == 0
    for a, b in zip(direct.rows, from_report.rows, strict=True):
        assert a.whatif == b.whatif
        for side in ("fixed", "reoptimised"):
            for key in ("objective", "first_stage_cost", "cvar", "expected_shortage_cost"):
                assert getattr(a, side)[key] == pytest.approx(getattr(b, side)[key],
                                                              rel=1e-9), (side, key)
        assert a.regret == pytest.approx(b.regret, rel=1e-6, abs=1e-6)


# ---- to_frames() ----------------------------------------------------------------------


def test_the_plan_frame_is_the_plan_with_landed_cost_and_spend(solved):
    data, frames = solved.to_dict(), solved.to_frames()
    plan = frames.plan
    assert isinstance(plan, pd.DataFrame) and "period" not in plan.columns
    assert len(plan) == len(data["plan"])
    for row, item in zip(plan.to_dict("records"), data["plan"], strict=True):
        assert row == {k: item[k] for k in row}
    assert plan["spend"].to_numpy() == pytest.approx(
        (plan["landed_unit_cost"] * plan["quantity"]).to_numpy())
    assert plan["spend"].sum() == pytest.approx(
        data["cost_breakdown"]["procurement"], rel=1e-9)


def test_the_other_solve_frames_hold_the_json_figures(solved):
    data, frames = solved.to_dict(), solved.to_frames()
    assert set(frames.as_dict()) == {
        "plan", "shares", "hhi", "scenarios", "scenario_materials", "policies", "costs",
        "stockpile", "investments", "expected_shortage"}
    shares = frames.shares
    for (material, stage), group in shares.groupby(["material", "stage"]):
        assert dict(zip(group["country"], group["share"], strict=True)) == \
            data["shares"][material][stage]
    assert {(r["material"], r["stage"]): r["hhi"] for r in frames.hhi.to_dict("records")} \
        == {(m, s): h for m, by in data["hhi"].items() for s, h in by.items()}
    assert frames.scenarios["probability"].sum() == pytest.approx(1.0)
    assert list(frames.scenarios["scenario"]) == [s["scenario"] for s in data["scenarios"]]
    short = frames.scenario_materials
    first = data["scenarios"][0]
    assert dict(zip(short.query("scenario == @first['scenario']")["material"],
                    short.query("scenario == @first['scenario']")["shortage"],
                    strict=True)) == first["shortage"]
    assert len(frames.policies) == len(data["policies"])
    assert frames.policies["binding"].dtype == bool
    (costs,) = frames.costs.to_dict("records")
    assert costs["objective"] == data["objective"]
    assert costs["procurement"] == data["cost_breakdown"]["procurement"]
    assert frames.investments.empty and list(frames.investments.columns)[:2] == [
        "supplier", "material"]
    assert dict(zip(frames.expected_shortage["material"],
                    frames.expected_shortage["expected_shortage"], strict=True)) == \
        data["expected_shortage"]


@pytest.fixture(scope="module")
def horizon() -> SolveResult:
    return solve_case(prepare_case(load(demo_workbook()), strategy="eu_crma"))


def test_over_a_horizon_every_per_period_frame_has_a_period(horizon):
    data, frames = horizon.to_dict(), horizon.to_frames()
    periods = data["periods"]
    for name in ("plan", "shares", "hhi", "scenarios", "scenario_materials", "policies",
                 "costs", "stockpile"):
        frame = getattr(frames, name)
        assert frame.columns[0] == "period", name
        assert set(frame["period"]) <= set(periods), name
    assert list(frames.costs["period"]) == periods
    assert (frames.costs["weighted_objective"].sum()
            == pytest.approx(data["objective"], rel=1e-9))
    by_period = frames.plan.groupby("period")["spend"].sum()
    for p in data["by_period"]:
        assert by_period.get(p["period"], 0.0) == pytest.approx(
            p["cost_breakdown"]["procurement"], rel=1e-9), p["period"]
    assert len(frames.investments) == len(data["investments"]) > 0
    # shares of a material with demand in a period add up to what firm orders cover
    assert frames.shares.groupby(["period", "material", "stage"])["share"].sum().max() \
        <= 1 + 1e-9


def test_compare_frontier_and_evaluate_frames(book, solved):
    runs = compare(book, ["base", "diversify"], ["base", "section301_tariffs"])
    assert isinstance(runs, CompareResult) and runs.failed == 0
    frames = runs.to_frames()
    assert isinstance(frames, CompareFrames)
    cases = frames.cases
    assert list(zip(cases["strategy"], cases["whatif"], strict=True)) == [
        ("base", "base"), ("base", "section301_tariffs"), ("diversify", "base"),
        ("diversify", "section301_tariffs")]
    base = cases.set_index(["strategy", "whatif"])
    for whatif in ("base", "section301_tariffs"):
        delta = (base.loc[("diversify", whatif), "first_stage_cost"]
                 - base.loc[("base", whatif), "first_stage_cost"])
        assert base.loc[("diversify", whatif), "vs_base_first_stage_cost"] == \
            pytest.approx(delta, rel=1e-9, abs=1e-6)
        assert pd.isna(base.loc[("base", whatif), "vs_base_objective"])
    assert set(frames.group_shares["group"]) >= {"FEOC"}
    assert set(frames.binding.columns) >= {"strategy", "whatif", "name", "cost_per_point"}

    curve = frontier(book, points=3)
    assert isinstance(curve, FrontierResult)
    sweep = curve.to_frames()
    assert isinstance(sweep, FrontierFrames)
    assert len(sweep.hhi_sweep) == len(sweep.risk_aversion_sweep) == 3
    assert list(sweep.risk_aversion_sweep["parameter"]) == [0.0, 0.5, 1.0]
    assert sweep.hhi_sweep["objective"].is_monotonic_increasing

    stress = evaluate(book, solved, ["section301_tariffs"])
    table = stress.to_frames()
    assert isinstance(table, EvaluateFrames)
    assert list(table.cases["whatif"]) == ["base", "section301_tariffs"]
    assert (table.cases["regret"] >= -1e-6).all()
    assert (table.cases["fixed_objective"] - table.cases["reoptimised_objective"]).to_numpy() \
        == pytest.approx(table.cases["regret"].to_numpy(), abs=1e-3)
    assert table.rules_broken.empty, "the plan was made under the same rules"

    # the cost-optimal plan buys 60 % of gallium and of rare earths from China: held fixed
    # under china_plus_one (China ≤ 50 % at each stage) it breaks that rule
    today = solve_case(prepare_case(book))
    strict = evaluate(book, today, [], strategy="china_plus_one").to_frames()
    broken = strict.rules_broken
    assert list(broken.columns) == ["whatif", "name", "rule", "material", "country", "stage",
                                    "limit", "achieved"]
    assert (broken["whatif"] == "base").all() and (broken["country"] == "CHN").all()
    assert (broken["limit"] == 0.5).all() and (broken["achieved"] > 0.5).all()
    assert {("gallium", "origin"), ("rare_earths", "origin")} <= set(
        zip(broken["material"], broken["stage"], strict=True))


def test_default_cases_are_those_of_the_command_line(book):
    runs = compare(book, strategies=["base"])
    whatifs = [r.whatif for r in runs.rows]
    assert whatifs[0] == "base" and "section301_tariffs" in whatifs
    assert "qatar_lng_outage" in runs.skipped_whatifs, "a library what-if that does not apply"
    assert not set(whatifs) & set(runs.skipped_whatifs)


def test_validate_workbook_returns_the_problems_load_raises(tmp_path):
    from builders import basic_sheets, write_workbook

    sheets = basic_sheets()
    sheets["Materials"][0]["demand"] = -5
    write_workbook(tmp_path / "bad.xlsx", sheets)
    checked = validate_workbook(tmp_path / "bad.xlsx")
    assert not checked.ok and checked.instance is None
    with pytest.raises(InputError) as caught:
        load(tmp_path / "bad.xlsx")
    assert checked.problems == tuple(caught.value.problems)
    assert checked.to_dict()["problems"][0]["cell"] == "C2"
    fine = validate_workbook(example_workbook())
    assert fine.ok and fine.instance is not None and fine.errors == ()


def test_a_batch_reports_its_progress_to_a_callback(book):
    seen: list[tuple[int, int, str]] = []
    curve = frontier(book, points=2, progress=lambda done, total, now: seen.append(
        (done, total, now)))
    assert curve.frontier.hhi_points and seen
    assert seen[-1][0] == seen[-1][1] == 4, "both sweeps' points counted"
