"""The batch runner (resilience.analyses.batch, SPEC §4 "Batches"): the same batch gives the
same results in-process, on a local process pool and on a Dask cluster; a case that raises
or whose worker dies is reported failed with its reason and the batch completes; and
`resilience compare --scheduler ADDRESS` runs unchanged against a cluster.

Dask tests start one LocalCluster (2 single-threaded worker processes on 127.0.0.1, no
dashboard) per module and close it at the end; they are skipped when `distributed` is not
installed.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import write_workbook

from resilience.analyses.batch import CaseOutcome, executor_for, run_batch
from resilience.analyses.compare import compare
from resilience.analyses.frontier import frontier
from resilience.validate import load

CLI = Path(sys.executable).with_name("resilience")

try:
    import distributed  # noqa: F401
except ImportError:
    HAVE_DASK = False
else:
    HAVE_DASK = True
needs_dask = pytest.mark.skipif(not HAVE_DASK, reason="dask.distributed is not installed "
                                "(pip install 'resilience[cluster]')")


# ---- tasks (module level, so a worker can import them) ---------------------------------

def square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def square_or_raise(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return square(x)


def square_or_die(x: int) -> int:
    if x == 0:
        os._exit(7)  # the worker process vanishes without a word
    time.sleep(0.5)
    return x * x


def timed(x: int) -> tuple[float, float]:
    started = time.time()
    time.sleep(0.15)
    return started, time.time()


# ---- the batch --------------------------------------------------------------------------

# One material; AAA (p = 0.1, G1), BBB and CCC (safe, G2). a 10, b 22, c 25 (U = 60);
# D = 100, P = 30, λ = 0.3. Strategies: cap60 (no country above 60 %), toomuch (≥ 80 % from CCC:
# infeasible). What-if a_out: a's capacity × 0. qatar_lng_outage fits no row here.
BOOK = {
    "Materials": [{"material": "gallium", "unit": "t", "demand": 100,
                   "shortage_penalty": 30}],
    "Countries": [{"country": "AAA", "disruption_prob": 0.1, "groups": "G1"},
                  {"country": "BBB", "disruption_prob": 0, "groups": "G2"},
                  {"country": "CCC", "disruption_prob": 0, "groups": "G2"}],
    "Suppliers": [
        {"supplier": "a", "material": "gallium", "country": "AAA", "unit_cost": 10,
         "capacity": 1000},
        {"supplier": "b", "material": "gallium", "country": "BBB", "unit_cost": 22,
         "capacity": 1000},
        {"supplier": "c", "material": "gallium", "country": "CCC", "unit_cost": 25,
         "capacity": 60},
    ],
    "Policies": [
        {"rule": "max_country_share", "target": "*", "value": 0.6, "strategy": "cap60"},
        {"rule": "min_group_share", "target": "CCC", "value": 0.8, "stage": "origin",
         "strategy": "toomuch"},
    ],
    "Settings": [["key", "value"], ["risk_aversion", 0.3]],
    "WhatIfs": [{"whatif": "a_out", "sheet": "Suppliers", "where": "supplier=a",
                 "column": "capacity", "op": "scale", "value": 0}],
}
STRATEGIES = [None, "cap60", "toomuch"]
WHATIFS = [None, "a_out", "qatar_lng_outage"]


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    return write_workbook(tmp_path_factory.mktemp("batch") / "book.xlsx", BOOK)


@pytest.fixture(scope="module")
def instance(book):
    return load(book)


@pytest.fixture(scope="module")
def reference(instance):
    """The compare batch in this process (the serial reference)."""
    rows = compare(instance, STRATEGIES, WHATIFS)
    assert sum(r.status == "optimal" for r in rows) == 4
    assert sum(r.status == "failed" for r in rows) == 5
    return rows


@pytest.fixture(scope="module")
def dask_client():
    if not HAVE_DASK:
        pytest.skip("dask.distributed is not installed (pip install 'resilience[cluster]')")
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           host="127.0.0.1", dashboard_address=None, scheduler_port=0)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@pytest.fixture(params=["inline", "process_pool", pytest.param("dask", marks=needs_dask)])
def executor(request):
    if request.param == "inline":
        with executor_for(1) as inline:
            yield inline
    elif request.param == "process_pool":
        with cf.ProcessPoolExecutor(max_workers=2) as pool:
            yield pool
    else:
        client = request.getfixturevalue("dask_client")
        yield client.get_executor(pure=False)


def _same_rows(rows, reference) -> None:
    assert len(rows) == len(reference)
    for got, want in zip(rows, reference, strict=True):
        assert (got.strategy, got.whatif, got.status) == (want.strategy, want.whatif,
                                                          want.status)
        assert got.reason == want.reason
        if want.status == "failed":
            continue
        for key in ("objective", "first_stage_cost", "expected_recourse_cost", "cvar",
                    "largest_hhi"):
            assert got.figures[key] == pytest.approx(want.figures[key], rel=1e-9, abs=1e-9), \
                (got.strategy, got.whatif, key)


def test_compare_gives_the_same_results_on_every_executor(instance, reference, executor):
    _same_rows(compare(instance, STRATEGIES, WHATIFS, executor), reference)


def test_reference_batch_is_the_expected_one(reference):
    """λ = 0.3, α = 0.95; AAA lost with π 0.1 (its 5 % tail lies inside that scenario, so
    CVaR = the AAA scenario's recourse). Per unit from a: 10 + 0.7·0.1·30 + 0.3·30 = 21.1 <
    b 22 < c 25 < P 30.
    base × base:   a 100: 1,000 + 0.7·300 + 0.3·3,000 = 2,110 (CVaR 3,000).
    base × a_out:  b 100: 2,200.
    cap60 × base:  a 60 + b 40: 600 + 880 + 0.7·180 + 0.3·1,800 = 2,146 (CVaR 1,800).
    cap60 × a_out: b 60 + c 40: 1,320 + 1,000 = 2,320.
    toomuch asks 80 t of CCC's 60: infeasible; qatar_lng_outage fits no row: invalid."""
    table = {(r.strategy, r.whatif): r for r in reference}
    expected = {("base", "base"): (2110, 3000), ("base", "a_out"): (2200, 0),
                ("cap60", "base"): (2146, 1800), ("cap60", "a_out"): (2320, 0)}
    for key, (objective, cvar) in expected.items():
        assert table[key].figures["objective"] == pytest.approx(objective, rel=1e-6), key
        assert table[key].figures["cvar"] == pytest.approx(cvar, abs=1e-6), key
    assert table["toomuch", "base"].reason.startswith("infeasible")
    assert table["base", "qatar_lng_outage"].reason.startswith("invalid input")


def test_a_task_that_raises_is_reported_and_the_rest_complete(executor):
    cases = [(f"case {x}", x) for x in range(6)]
    outcomes = run_batch(square_or_raise, cases, executor)
    assert [o.label for o in outcomes] == [label for label, _ in cases]
    for (label, x), outcome in zip(cases, outcomes, strict=True):
        if x == 3:
            assert not outcome.ok
            assert outcome.reason.startswith("ValueError: three is not allowed")
            assert "square_or_raise" in outcome.reason
        else:
            assert outcome == CaseOutcome(label, True, x * x)


def test_frontier_on_a_process_pool_matches_in_process(instance):
    """The sweeps split into one chunk per worker; the points are the same."""
    here = frontier(instance, points=4)
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        there = frontier(instance, points=4, executor=pool, workers=2)
    assert there.hhi_range == pytest.approx(here.hhi_range, rel=1e-9)
    for mine, theirs in ((here.hhi_points, there.hhi_points),
                         (here.risk_points, there.risk_points)):
        assert [p.parameter for p in theirs] == pytest.approx([p.parameter for p in mine])
        assert [p.ok for p in theirs] == [p.ok for p in mine]
        assert [p.figures["objective"] for p in theirs] == pytest.approx(
            [p.figures["objective"] for p in mine], rel=1e-9)
        assert [p.knee for p in theirs] == [p.knee for p in mine]


# ---- a worker that dies ----------------------------------------------------------------

def test_a_dead_worker_is_reported_and_the_batch_completes():
    """os._exit in a pool task: the case is marked failed (worker failed) and run_batch
    still returns one outcome per case, in order, without raising."""
    cases = [(f"case {x}", x) for x in range(4)]
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = run_batch(square_or_die, cases, pool)
    assert [o.label for o in outcomes] == [label for label, _ in cases]
    dead = outcomes[0]
    assert not dead.ok and dead.reason.startswith("worker failed:")
    assert "BrokenProcessPool" in dead.reason or "terminated" in dead.reason
    for (_, x), outcome in zip(cases, outcomes, strict=True):
        if outcome.ok:
            assert outcome.value == x * x
        else:
            assert outcome.reason


def test_a_dead_worker_fails_only_its_own_case():
    cases = [(f"case {x}", x) for x in range(4)]
    with cf.ProcessPoolExecutor(max_workers=2) as pool:
        outcomes = run_batch(square_or_die, cases, pool)
    assert not outcomes[0].ok
    assert [o.ok for o in outcomes[1:]] == [True, True, True], [o.reason for o in outcomes]


# ---- the command line against a cluster -----------------------------------------------

@needs_dask
def test_compare_command_on_a_dask_scheduler(book, tmp_path, dask_client):
    """`resilience compare BOOK --scheduler tcp://127.0.0.1:PORT` against the test's
    LocalCluster gives the same JSON figures as the local run."""
    address = dask_client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    args = [str(CLI), "compare", str(book), "--strategies", "base,cap60,toomuch",
            "--whatifs", "base,a_out,qatar_lng_outage"]
    results = {}
    for name, extra in (("local", []), ("cluster", ["--scheduler", address])):
        done = subprocess.run([*args, *extra, "-o", f"{name}.xlsx", "--json", f"{name}.json"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "9 cases, 5 failed" in done.stdout
        assert (tmp_path / f"{name}.xlsx").is_file()
        results[name] = json.loads((tmp_path / f"{name}.json").read_text())
    local, cluster = results["local"]["cases"], results["cluster"]["cases"]
    assert [(c["strategy"], c["whatif"], c["status"], c["reason"]) for c in cluster] == [
        (c["strategy"], c["whatif"], c["status"], c["reason"]) for c in local]
    for mine, theirs in zip(local, cluster, strict=True):
        if mine["status"] != "failed":
            assert theirs["objective"] == pytest.approx(mine["objective"], rel=1e-9)
            assert theirs["cvar"] == pytest.approx(mine["cvar"], rel=1e-9, abs=1e-9)


# ---- one case at a time per process (HiGHS's scheduler is global to a process) --------

def _overlaps(outcomes: list[CaseOutcome]) -> list[tuple[str, str]]:
    spans = sorted((o.value, o.label) for o in outcomes)
    return [(a[1], b[1]) for a, b in zip(spans, spans[1:], strict=False)
            if b[0][0] < a[0][1]]


def test_cases_run_one_at_a_time_in_a_process_whatever_its_threads():
    """An executor with four threads in one process (as a Dask worker started with
    --nthreads 4 would be): the cases still run one after another."""
    cases = [(f"case {x}", x) for x in range(6)]
    with cf.ThreadPoolExecutor(max_workers=4) as threads:
        outcomes = run_batch(timed, cases, threads)
    assert all(o.ok for o in outcomes)
    assert _overlaps(outcomes) == []


def test_a_single_threaded_cluster_gets_no_warning(dask_client, capsys):
    with executor_for(scheduler=dask_client.scheduler.address) as executor:
        assert run_batch(square, [("one", 1)], executor)[0].value == 1
    assert "Warning" not in capsys.readouterr().err


@needs_dask
def test_a_cluster_with_threaded_workers_gets_a_warning_and_one_case_at_a_time(capsys):
    """Workers started with several threads (`dask worker ADDRESS --nthreads 2`): one
    warning on stderr naming the fix, and each worker still runs one case at a time."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, host="127.0.0.1",
                      dashboard_address=None, scheduler_port=0) as cluster:
        with executor_for(scheduler=cluster.scheduler_address) as executor:
            outcomes = run_batch(timed, [(f"case {x}", x) for x in range(4)], executor)
    err = capsys.readouterr().err
    assert err.count("Warning:") == 1
    assert "1 of the cluster's 1 Dask workers run several threads" in err
    assert "--nthreads 1" in err
    assert all(o.ok for o in outcomes)
    assert _overlaps(outcomes) == []
