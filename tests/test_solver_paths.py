"""The solver paths on one standard form: HiGHS direct, any solver through Pyomo, the
user's extra constraints, the cross-check, the LP/MPS export, and the scaling HiGHS sees.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from builders import country, material, offer, write_workbook
from solvers import cbc_available, require

from resilience.api import SolverChoice, build_for, solve_case
from resilience.cases import prepare_case
from resilience.errors import ExtraError, SolverDisagreement
from resilience.formulation.build import build_model
from resilience.formulation.pyomo_form import to_pyomo
from resilience.library import demo_workbook, library_strategies
from resilience.validate import load

sys.path.insert(0, str(Path(__file__).parent / "corpus"))
from make_corpus import seeded_instance  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def two_offer_book(tmp_path) -> Path:
    """One material, D = 100; a in AAA at 10 (U = 100), b in BBB at 12 (U = 100).
    Cost-optimal: all from a, 1,000."""
    return write_workbook(tmp_path / "book.xlsx", {
        "Materials": [material(demand=100)],
        "Countries": [country("AAA"), country("BBB", groups="ALLY")],
        "Suppliers": [offer("a", "AAA", 10, capacity=100), offer("b", "BBB", 12,
                                                                   capacity=100)],
    })


def at_least_30_from_allies(model, instance) -> None:
    """An extra rule in plain Pyomo: at least 30 units from ALLY countries."""
    allied = {c.id for c in instance.countries if "ALLY" in c.groups}
    offers = [i for i, o in enumerate(instance.offers) if o.country in allied]
    model.allied_floor = pyo.Constraint(expr=sum(model.firm_order[i] for i in offers) >= 30)


# ---- Pyomo path = direct path ---------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_pyomo_model_has_the_forms_rows_columns_and_nonzeros(seed):
    instance = seeded_instance("corpus", seed)
    form = build_model(instance).form
    model, columns = to_pyomo(form)
    variables = list(model.component_data_objects(pyo.Var))
    constraints = list(model.component_data_objects(pyo.Constraint, active=True))
    free_rows = int(np.sum(np.isinf(form.row_lower) & np.isinf(form.row_upper)))
    assert len(variables) == len(columns) == form.n_cols
    assert len(constraints) == form.n_rows - free_rows
    assert sum(len(c.body.linear_vars) for c in constraints) == form.nnz
    assert sum(v.is_binary() for v in variables) == int(form.integer.sum())


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("path", ["pyomo:highs", "pyomo:cbc"])
def test_pyomo_path_finds_the_direct_optimum(seed, path):
    require(path)
    instance = seeded_instance("corpus", seed)
    instance = dataclasses.replace(instance, settings=dataclasses.replace(
        instance.settings, mip_gap=1e-9))
    direct = solve_case(instance, with_duals=False).solution
    other = solve_case(instance, with_duals=False, solver=path).solution
    assert other.solver == path and direct.solver == "highs"
    assert other.objective == pytest.approx(direct.objective, rel=1e-6)


# ---- extra constraints ---------------------------------------------------------------

@pytest.mark.parametrize("path", ["highs", "pyomo:highs", "pyomo:cbc"])
def test_extra_constraint_changes_the_plan_as_derived(tmp_path, path):
    """Without the extra rule all 100 come from a (1,000). With "≥ 30 from ALLY", b
    carries exactly 30 and a 70: 70·10 + 30·12 = 1,060."""
    require(path)
    case = prepare_case(load(two_offer_book(tmp_path)), mip_gap=0.0)
    plain = solve_case(case, solver=path).solution
    assert plain.objective == pytest.approx(1000)
    ruled = solve_case(case, solver=path, extra=at_least_30_from_allies).solution
    assert ruled.objective == pytest.approx(1060)
    quantities = {line.supplier: line.quantity for line in ruled.plan}
    assert quantities == pytest.approx({"a": 70, "b": 30})


def test_extra_over_a_horizon_indexes_offers_by_offer_and_period(tmp_path):
    """Over a horizon `firm_order[j]` is offer item j, which `offer_items` names:
    (offer index, period). A rule on one offer in one period binds there: at most 10 t
    of gallium from AusGa in 2027, the year China's export ban hits (the plan without it
    buys 60 t there, AusGa's capacity), so the plan costs more."""
    from test_horizon_analyses import horizon_book

    from resilience.api import material_items, offer_items

    book = write_workbook(tmp_path / "horizon.xlsx", horizon_book())
    instance = prepare_case(load(book))
    items = offer_items(instance)
    offers = [o.supplier for o in instance.offers]
    assert len(items) == build_model(instance).form.column_families["firm_order"].size
    assert material_items(instance)[:2] == [("gallium", "2026"), ("graphite", "2026")]

    def aus_in_2027(model, case):
        chosen = [j for j, (i, period) in enumerate(offer_items(case))
                  if case.offers[i].supplier == "AusGa" and period == "2027"]
        assert len(chosen) == 1
        model.aus_2027 = pyo.Constraint(expr=model.firm_order[chosen[0]] <= 10)

    plain = solve_case(instance)
    ruled = solve_case(instance, extra=aus_in_2027)
    bought = {(line.supplier, line.period): line.quantity for line in ruled.solution.plan}
    before = {(line.supplier, line.period): line.quantity for line in plain.solution.plan}
    assert before[("AusGa", "2027")] == pytest.approx(60)
    assert bought.get(("AusGa", "2027"), 0.0) <= 10 + 1e-6
    assert ruled.solution.objective > plain.solution.objective
    assert {period for (i, period) in items if offers[i] == "AusGa"} == {
        "2026", "2027", "2028", "2029"}


def test_extra_may_add_variables_of_its_own(tmp_path):
    """A user column: s ≥ x_b − 10 and s ≤ 0 forces x_b ≤ 10 through a new variable;
    the plan stays all-a (1,000), and with "b ≥ 5" forced too, 5·12 + 95·10 = 1,010."""
    def extra(model, instance):
        model.slack = pyo.Var(bounds=(None, 0))
        model.tie = pyo.Constraint(expr=model.slack >= model.firm_order[1] - 10)
        model.floor = pyo.Constraint(expr=model.firm_order[1] >= 5)

    case = prepare_case(load(two_offer_book(tmp_path)), mip_gap=0.0)
    built = build_for(case, SolverChoice(extra=extra))
    assert "extra_columns" in built.form.column_families
    assert built.form.row_families["extra"].size == 2
    result = solve_case(case, extra=extra).solution
    assert result.objective == pytest.approx(1010)


def test_extra_that_changes_the_objective_is_refused(tmp_path):
    def extra(model, instance):
        model.objective.deactivate()
        model.mine = pyo.Objective(expr=model.firm_order[0])

    case = prepare_case(load(two_offer_book(tmp_path)))
    with pytest.raises(ExtraError, match="objective"):
        solve_case(case, extra=extra)


def run_cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "resilience.cli", *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


def test_extra_file_errors_are_input_errors(tmp_path):
    book = two_offer_book(tmp_path)
    missing = run_cli("solve", book, "--extra", tmp_path / "nope.py", cwd=tmp_path)
    assert missing.returncode == 2 and "--extra" in missing.stderr
    (tmp_path / "noextra.py").write_text("x = 1\n")
    nofunc = run_cli("solve", book, "--extra", tmp_path / "noextra.py", cwd=tmp_path)
    assert nofunc.returncode == 2 and "defines no function extra" in nofunc.stderr
    (tmp_path / "raises.py").write_text("def extra(model, instance):\n    raise KeyError(7)\n")
    raising = run_cli("solve", book, "--extra", tmp_path / "raises.py", cwd=tmp_path)
    assert raising.returncode == 2 and "KeyError" in raising.stderr
    assert "Traceback" not in missing.stderr + nofunc.stderr + raising.stderr
    assert not (tmp_path / "reports").exists()


def test_extra_file_from_the_command_line(tmp_path):
    book = two_offer_book(tmp_path)
    (tmp_path / "rule.py").write_text(
        "import pyomo.environ as pyo\n\n\n"
        "def extra(model, instance):\n"
        "    model.rule = pyo.Constraint(expr=model.firm_order[1] >= 30)\n")
    run = run_cli("solve", book, "--extra", tmp_path / "rule.py", "--gap", "0", "--json",
                  tmp_path / "r.json", "-o", tmp_path / "r.xlsx", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads((tmp_path / "r.json").read_text())["objective"] == pytest.approx(1060)


# ---- solver choice and cross-check ---------------------------------------------------

def test_unknown_solver_is_an_input_error(tmp_path):
    book = two_offer_book(tmp_path)
    for option in ("--solver", "--check-with"):
        run = run_cli("solve", book, option, "pyomo:no_such_solver", cwd=tmp_path)
        assert run.returncode == 2, run.stderr
        assert "no_such_solver" in run.stderr and "Traceback" not in run.stderr
    bad = run_cli("solve", book, "--solver", "gurobi", cwd=tmp_path)
    assert bad.returncode == 2 and "pyomo:NAME" in bad.stderr


def test_check_with_agreeing_solver_is_recorded(tmp_path):
    require("pyomo:cbc")
    run = run_cli("solve", two_offer_book(tmp_path), "--check-with", "pyomo:cbc", "--json",
                  tmp_path / "r.json", "-o", tmp_path / "r.xlsx", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    summary = json.loads((tmp_path / "r.json").read_text())
    assert summary["solver"] == "highs"
    assert summary["cross_check"]["solver"] == "pyomo:cbc"
    assert summary["cross_check"]["objective"] == pytest.approx(1000)


def test_check_with_disagreement_fails_loudly(tmp_path, monkeypatch):
    """A second solver that returns a dearer optimum (here: one that solves a model with
    b forced to 50, as a solver with a wrong bound might) must stop the run with both
    figures, not be averaged away."""
    import resilience.solver as solver_package

    real = solver_package.open_session

    def skewed(form, options=None, solver="highs", isolate=None):
        if solver != "highs":
            form.set_column_bounds(np.array([form.column_families["firm_order"].start + 1]),
                                   np.array([50.0]), np.array([100.0]))
            solver = "highs"
        return real(form, options, solver, isolate=isolate)

    monkeypatch.setattr(solver_package, "open_session", skewed)
    case = prepare_case(load(two_offer_book(tmp_path)), mip_gap=0.0)
    with pytest.raises(SolverDisagreement) as caught:
        solve_case(case, check_with="pyomo:cbc")
    text = str(caught.value)
    assert "1,000.000000" in text and "1,100.000000" in text


# ---- export --------------------------------------------------------------------------

def test_export_writes_lp_and_mps_that_cbc_solves_to_the_same_optimum(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    book = demo_workbook()
    run = run_cli("export", book, "--lp", work / "m.lp", "--mps", work / "m.mps", cwd=work)
    assert run.returncode == 0, run.stderr
    lp_text = (work / "m.lp").read_text()
    assert "firm_order(0)" in lp_text and "demand_cover(0)" in lp_text
    assert sorted(p.name for p in work.iterdir()) == ["m.lp", "m.mps"]  # no temporaries
    if not cbc_available() or shutil.which("cbc") is None:
        pytest.skip("CBC is not installed (apt-get install coinor-cbc)")
    solved = subprocess.run(["cbc", str(work / "m.mps"), "ratioGap", "1e-9", "solve"],
                            capture_output=True, text=True, timeout=300)
    value = float(re.search(r"Objective value:\s+(\S+)", solved.stdout).group(1))
    expected = solve_case(prepare_case(load(book), mip_gap=1e-9), with_duals=False)
    assert value == pytest.approx(expected.solution.objective, rel=1e-7)


def test_export_refuses_to_write_over_the_input_and_needs_a_target(tmp_path):
    book = two_offer_book(tmp_path)
    none = run_cli("export", book, cwd=tmp_path)
    assert none.returncode == 2 and "--lp" in none.stderr
    over = run_cli("export", book, "--mps", book, cwd=tmp_path)
    assert over.returncode == 2


# ---- what HiGHS sees -----------------------------------------------------------------

def _ranges(instance):
    return build_model(instance).form.ranges()


@pytest.mark.parametrize("strategy", [None, *library_strategies()])
def test_embedded_data_is_well_scaled_for_the_solver(strategy):
    """The scaled model's matrix stays within [1e-3, 1e3]. Costs span the economics —
    scenario probabilities (~1e-3) times the spread of spend between materials (~1e4) —
    so they are held to [1e-4, 1e4]: before scaling they spanned [1e-6, 2e3] with the
    matrix at [1, 2e6], which let HiGHS 1.16 prove a wrong optimum."""
    instance = load(demo_workbook())
    for lam in (0.0, 0.5, 0.9, 1.0):
        ranges = _ranges(prepare_case(instance, strategy=strategy, risk_aversion=lam))
        assert 1e-3 <= ranges.matrix[0] and ranges.matrix[1] <= 1e3, (lam, ranges)
        assert 1e-4 <= ranges.cost[0] and ranges.cost[1] <= 1e4, (lam, ranges)
        assert ranges.rhs[1] <= 1e3 and ranges.bound[1] <= 1e3, (lam, ranges)


@pytest.mark.parametrize("size", ["small", "medium"])
def test_seeded_benchmark_instances_are_well_scaled(size):
    from benchmarks.instances import generate

    ranges = _ranges(generate(size, 0))
    assert 1e-3 <= ranges.matrix[0] and ranges.matrix[1] <= 1e3, ranges
    assert 1e-4 <= ranges.cost[0] and ranges.cost[1] <= 1e4, ranges


def test_scaling_is_exact_and_undone():
    """Scales are powers of two: the solver's model times the scales gives back the
    form bit for bit, and values and duals come back in the workbook's units."""
    form = build_model(seeded_instance("corpus", 0)).form
    s = form.scaling()
    for scale in (s.col_scale, s.row_scale, np.array([s.cost_scale])):
        assert np.all(np.log2(scale) == np.round(np.log2(scale)))
    import scipy.sparse as sp

    back = sp.diags(s.row_scale) @ s.matrix @ sp.diags(1.0 / s.col_scale)
    assert abs(back - form.matrix).max() == 0.0
    assert np.array_equal(s.costs * s.cost_scale / s.col_scale, form.costs)


@pytest.mark.parametrize("solver", ["pyomo:highs", "pyomo:cbc"])
def test_a_pyomo_solver_gets_the_scaled_model_and_answers_in_workbook_units(solver,
                                                                            monkeypatch):
    """Through Pyomo a solver is handed the same well-scaled numbers as HiGHS direct
    (the form's `scaled()`), and its plan, objective and bound come back in the workbook's
    units: the same optimum as the direct path."""
    import resilience.formulation.pyomo_form as pyomo_form
    from resilience.solver import Budget, SolverOptions, open_session

    require(solver)
    form = build_model(seeded_instance("corpus", 1)).form
    handed = []
    original = pyomo_form.to_pyomo

    def spy(given):
        handed.append(given)
        return original(given)

    monkeypatch.setattr(pyomo_form, "to_pyomo", spy)
    options = SolverOptions(time_limit=60, mip_gap=0.0)
    outcome = open_session(form, options, solver).solve(Budget(60))
    (model_form,) = handed
    assert model_form.ranges(scaled=False) == form.ranges(scaled=True)
    assert np.array_equal(model_form.matrix.data, form.scaling().matrix.data)
    direct = open_session(build_model(seeded_instance("corpus", 1)).form, options).solve(
        Budget(60))
    assert outcome.objective == pytest.approx(direct.objective, rel=1e-6)
    assert outcome.objective == pytest.approx(form.objective_value(outcome.values),
                                              rel=1e-12)
    assert outcome.bound == pytest.approx(outcome.objective, rel=1e-6)
    integer = form.integer
    assert np.all(np.abs(outcome.values[integer] - np.round(outcome.values[integer]))
                  < 1e-6)


def test_batches_take_the_solver_and_extra_to_their_workers(tmp_path):
    """compare in two worker processes: each worker loads the extra file itself and
    solves with CBC; the case's optimum is the hand-derived 1,060."""
    require("pyomo:cbc")
    book = two_offer_book(tmp_path)
    (tmp_path / "rule.py").write_text(
        "import pyomo.environ as pyo\n\n\n"
        "def extra(model, instance):\n"
        "    model.rule = pyo.Constraint(expr=model.firm_order[1] >= 30)\n")
    run = run_cli("compare", book, "--strategies", "base", "--whatifs", "base",
                  "--workers", "2", "--solver", "pyomo:cbc", "--extra", tmp_path / "rule.py",
                  "--json", tmp_path / "c.json", "-o", tmp_path / "c.xlsx", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (case,) = json.loads((tmp_path / "c.json").read_text())["cases"]
    assert case["status"] == "optimal"
    assert case["objective"] == pytest.approx(1060)
    assert case["group_share"]["ALLY"] == pytest.approx(0.3)
