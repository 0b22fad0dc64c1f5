"""Batch speed: a 200-case compare under three executors, and frontier model re-use.

compare (default 200 cases on data/critical-inputs.xlsx): strategies base, eu_crma,
no_feoc, china_plus_one × what-ifs base and the six in models/whatifs = 28 cases, times
risk_aversion overrides 0.3 (the workbook's), 0, 0.1, 0.2, 0.4, 0.5, 0.7, 0.9 to make
distinct cases, cut at 200. Two ways to cut the work into tasks, both the product's:

- per-case (`compare --rebuild`): one task per case, `solve_compare_case` (prepare,
  build, solve, verify, summarise);
- grouped (`compare`'s default): one task per what-if and λ, `solve_whatif_group`
  (one model shared by the four strategies, switched by bounds), 50 groups of four
  (the first 196 cases are the same as per-case's; the last 4 differ);

each run through the product's `run_batch` on

- serial: the product's in-process executor (`batch._Inline`),
- pool: `concurrent.futures.ProcessPoolExecutor(2)` (what `--workers 2` uses),
- dask: `LocalCluster(n_workers=2, threads_per_worker=1, processes=True)` through
  `client.get_executor(pure=False)` (what `--scheduler` uses); cluster start-up is
  timed apart from the batch.

A wrapper in the worker times each task and keeps HiGHS's solve seconds per case.
Printed per executor: wall time, wall / case, mean task time and mean HiGHS time, and the
overhead per case = wall / case − mean task time / workers (what the batch costs on top
of running the tasks back to back, per worker), plus wall / case − mean HiGHS time (all
non-solver work, as the brief defines it).

frontier: the HHI sweep's points solved by the product's re-use path
(`frontier.hhi_chunk`: build once, change the uniform HHI row's right-hand side,
re-solve) against building and solving each point from scratch (`solve_case` on
`with_uniform_hhi(instance, limit)`), on critical-inputs and on the medium instance with
a modest time limit and gap. The limits span the cost-optimal plan's largest HHI down to
the floor (`frontier.hhi_floor`), as `resilience frontier` does.

    python -m benchmarks.batch_speed                          # everything (~10-20 min)
    python -m benchmarks.batch_speed --only compare --cases 200 --executors serial,pool,dask \
        --modes per-case,grouped
    python -m benchmarks.batch_speed --only frontier --frontier-points 11 \
        --medium-time-limit 20 --medium-gap 0.01
    python -m benchmarks.batch_speed --only compare --modes per-case --executors pool \
        --highs-option user_objective_scale=-8      # experiment: a HiGHS option on every solve
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` and `resilience` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = os.path.join(ROOT, "data", "critical-inputs.xlsx")
STRATEGIES = (None, "eu_crma", "no_feoc", "china_plus_one")
RISK_AVERSIONS = (None, 0.0, 0.1, 0.2, 0.4, 0.5, 0.7, 0.9)


# ---- compare ---------------------------------------------------------------------------
def timed_compare_case(case):
    """Worker task: the product's compare task, timed from inside the worker."""
    from resilience.analyses.compare import solve_compare_case

    started = time.perf_counter()
    figures = solve_compare_case(case)
    return {"task_seconds": time.perf_counter() - started,
            "solve_seconds": figures["summary"]["timings"]["solve_seconds"],
            "build_seconds": figures["summary"]["timings"]["build_seconds"],
            "status": figures["status"], "objective": figures["objective"],
            "pid": os.getpid()}


def timed_whatif_group(group):
    """Worker task: the product's default compare task (one model per what-if, switched
    between its strategies), timed from inside the worker."""
    from resilience.analyses.compare import solve_whatif_group

    started = time.perf_counter()
    items = solve_whatif_group(group)
    task = time.perf_counter() - started
    out = []
    for strategy, item in zip(group.strategies, items, strict=True):
        figures = item.get("figures") or {}
        timings = (figures.get("summary") or {}).get("timings", {})
        out.append({"strategy": strategy, "ok": item["ok"], "reason": item.get("reason", ""),
                    "solve_seconds": timings.get("solve_seconds"),
                    "build_seconds": timings.get("build_seconds"),
                    "status": figures.get("status"), "objective": figures.get("objective")})
    return {"task_seconds": task, "items": out, "pid": os.getpid()}


def whatif_groups(instance, n: int) -> list[tuple[str, object]]:
    """(label, WhatIfGroup): the same 200 cases as `compare_cases`, grouped per what-if
    and λ, four strategies a group (the last group cut to reach n)."""
    from resilience.analyses.compare import BASE, WhatIfGroup
    from resilience.library import library_whatifs

    groups, total = [], 0
    while total < n:
        for lam in RISK_AVERSIONS:
            overrides = {} if lam is None else {"risk_aversion": lam}
            for w in (None, *library_whatifs()):
                if total >= n:
                    break
                strategies = STRATEGIES[:min(len(STRATEGIES), n - total)]
                label = f"what-if {w or BASE}" + ("" if lam is None else f" λ={lam}")
                groups.append((label, WhatIfGroup(instance, w, strategies, overrides)))
                total += len(strategies)
    return groups


def compare_cases(instance, n: int) -> list[tuple[str, object]]:
    from resilience.analyses.compare import BASE, CompareCase
    from resilience.library import library_whatifs

    whatifs = (None, *library_whatifs())
    cases = []
    for lam in RISK_AVERSIONS:
        overrides = {} if lam is None else {"risk_aversion": lam}
        for s in STRATEGIES:
            for w in whatifs:
                label = f"{s or BASE} × {w or BASE}" + ("" if lam is None else f" λ={lam}")
                cases.append((label, CompareCase(instance, s, w, overrides)))
    if len(cases) < n:  # repeat the list if more cases are asked for than exist
        cases = (cases * (n // len(cases) + 1))
    return cases[:n]


def run_compare(executor_name: str, cases, workers: int = 2, mode: str = "per-case") -> dict:
    import concurrent.futures as cf

    from resilience.analyses.batch import _Inline, run_batch

    startup = 0.0
    client = cluster = None
    started = time.perf_counter()
    if executor_name == "serial":
        executor, n_workers = _Inline(), 1
    elif executor_name == "pool":
        executor, n_workers = cf.ProcessPoolExecutor(max_workers=workers), workers
    elif executor_name == "dask":
        import warnings

        from dask.distributed import Client, LocalCluster

        # With the dashboard off the scheduler still serves HTTP on 8787 and warns when
        # another cluster holds that port; harmless here.
        warnings.filterwarnings("ignore", message="Port 8787 is already in use")
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        client = Client(cluster)
        executor, n_workers = client.get_executor(pure=False), workers
    else:
        raise ValueError(executor_name)
    startup = time.perf_counter() - started
    load_before = os.getloadavg()
    started = time.perf_counter()
    task_fn = timed_compare_case if mode == "per-case" else timed_whatif_group
    try:
        outcomes = run_batch(task_fn, cases, executor)
    finally:
        wall = time.perf_counter() - started
        if executor_name == "pool":
            executor.shutdown()
        if client is not None:
            client.close()
            cluster.close()
    shutdown = time.perf_counter() - started - wall
    if mode == "per-case":
        ok = [o.value for o in outcomes if o.ok]
        failed = [(o.label, o.reason) for o in outcomes if not o.ok]
        task = statistics.fmean(v["task_seconds"] for v in ok) if ok else float("nan")
        n = len(cases)
        objectives = {label: (o.value["objective"] if o.ok else None)
                      for (label, _), o in zip(cases, outcomes, strict=True)}
    else:  # one task per group: spread the task time over its cases
        ok, failed, task_total, objectives = [], [], 0.0, {}
        for (label, group), o in zip(cases, outcomes, strict=True):
            if not o.ok:
                failed += [(f"{s} {label}", o.reason) for s in group.strategies]
                continue
            task_total += o.value["task_seconds"]
            for item in o.value["items"]:
                case_label = _case_label(item["strategy"], group)
                objectives[case_label] = item["objective"]
                if item["ok"]:
                    ok.append(dict(item, pid=o.value["pid"]))
                else:
                    failed.append((case_label, item["reason"]))
        n = sum(len(g.strategies) for _, g in cases)
        task = task_total / max(1, len(ok))
    solve = statistics.fmean(v["solve_seconds"] for v in ok) if ok else float("nan")
    build = statistics.fmean(v["build_seconds"] for v in ok) if ok else float("nan")
    return {
        "mode": mode, "tasks": len(cases), "objectives": objectives,
        "executor": executor_name, "workers": n_workers, "cases": n, "ok": len(ok),
        "failed": failed[:10], "n_failed": len(failed), "startup": startup, "wall": wall,
        "shutdown": shutdown, "per_case": wall / n, "mean_task": task, "mean_solve": solve,
        "mean_build": build, "overhead_vs_task": wall / n - task / n_workers,
        "overhead_vs_solve": wall / n - solve,
        "pids": len({v["pid"] for v in ok}),
        "statuses": {s: sum(1 for v in ok if v["status"] == s)
                     for s in {v["status"] for v in ok}},
        "load_before": load_before, "load_after": os.getloadavg(),
    }


def _case_label(strategy, group) -> str:
    from resilience.analyses.compare import BASE

    lam = group.overrides.get("risk_aversion")
    return (f"{strategy or BASE} × {group.whatif or BASE}"
            + ("" if lam is None else f" λ={lam}"))


# ---- frontier --------------------------------------------------------------------------
def frontier_limits(instance, points: int) -> tuple[list[float], float, float]:
    """The HHI limits `resilience frontier` would sweep: the cost-optimal plan's largest
    HHI down to the floor."""
    import numpy as np

    from resilience.analyses.frontier import hhi_floor
    from resilience.api import solve_case

    base = solve_case(instance, with_duals=False)
    top = max((h for stages in base.verification.hhi.values() for h in stages.values()),
              default=0.0)
    floor = min(hhi_floor(instance), top)
    return [float(v) for v in np.linspace(top, floor, points)], top, floor


def run_frontier(name: str, instance, points: int) -> dict:
    from resilience.analyses.frontier import hhi_chunk
    from resilience.api import solve_case
    from resilience.errors import InfeasibleError, NoPlanError
    from resilience.formulation.sweeps import with_uniform_hhi

    started = time.perf_counter()
    limits, top, floor = frontier_limits(instance, points)
    range_seconds = time.perf_counter() - started
    load_before = os.getloadavg()

    started = time.perf_counter()
    try:
        reused = hhi_chunk((instance, limits))
    except Exception as exc:  # noqa: BLE001 - the product's chunk fails as a whole
        reason = f"chunk failed: {type(exc).__name__}: {str(exc)[:160]}"
        reused = [{"parameter": limit, "ok": False, "reason": reason} for limit in limits]
    reuse_seconds = time.perf_counter() - started

    rebuilt = []
    started = time.perf_counter()
    for limit in limits:
        t0 = time.perf_counter()
        try:
            result = solve_case(with_uniform_hhi(instance, limit))
            s = result.solution
            rebuilt.append({"ok": True, "objective": s.objective, "gap": s.mip_gap,
                            "build": s.build_seconds, "solve": s.solve_seconds,
                            "seconds": time.perf_counter() - t0})
        except (InfeasibleError, NoPlanError) as exc:
            rebuilt.append({"ok": False, "reason": str(exc)[:200],
                            "seconds": time.perf_counter() - t0})
        except Exception as exc:  # noqa: BLE001 - e.g. HiGHS "Solve error", verification
            rebuilt.append({"ok": False, "reason": f"{type(exc).__name__}: {str(exc)[:160]}",
                            "seconds": time.perf_counter() - t0})
    rebuild_seconds = time.perf_counter() - started

    def solve_sum(points_):
        return sum(p.get("solve", 0.0) for p in points_)

    reuse_solve = sum(p["figures"]["solve_seconds"] for p in reused if p["ok"])
    reuse_build = sum(p["figures"]["build_seconds"] for p in reused if p["ok"])
    rebuild_build = sum(p.get("build", 0.0) for p in rebuilt)
    pairs = []
    for a, b in zip(reused, rebuilt, strict=True):
        pairs.append({
            "limit": a["parameter"], "reuse_ok": a["ok"], "rebuild_ok": b["ok"],
            "reuse_objective": a["figures"]["objective"] if a["ok"] else None,
            "reuse_solver_objective": a["figures"]["summary"]["solver_objective"]
            if a["ok"] else None,
            "reuse_gap": a["figures"]["mip_gap"] if a["ok"] else None,
            "reuse_solve": a["figures"]["solve_seconds"] if a["ok"] else None,
            "rebuild_objective": b.get("objective"), "rebuild_gap": b.get("gap"),
            "rebuild_solve": b.get("solve"), "rebuild_seconds": b["seconds"],
            "reason": a.get("reason", "") or b.get("reason", ""),
        })
    return {
        "instance": name, "points": points, "top": top, "floor": floor,
        "time_limit": instance.settings.time_limit, "mip_gap": instance.settings.mip_gap,
        "range_seconds": range_seconds,
        "reuse_seconds": reuse_seconds, "rebuild_seconds": rebuild_seconds,
        "saving_seconds": rebuild_seconds - reuse_seconds,
        "saving_fraction": 1 - reuse_seconds / rebuild_seconds if rebuild_seconds else None,
        "reuse_solve": reuse_solve, "reuse_build": reuse_build,
        "rebuild_solve": solve_sum(rebuilt), "rebuild_build": rebuild_build,
        "pairs": pairs, "load_before": load_before, "load_after": os.getloadavg(),
    }


# ---- report ----------------------------------------------------------------------------
def compare_table(results: list[dict]) -> str:
    head = ("| compare mode (tasks) | executor | workers | cases (ok) | start-up s | wall s | "
            "wall / case s | mean task s | mean HiGHS s | overhead / case vs task s | "
            "wall / case − HiGHS s | load 1 min |")
    out = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for r in results:
        out.append(
            f"| {r['mode']} ({r['tasks']}) | {r['executor']} | {r['workers']} | "
            f"{r['cases']} ({r['ok']}) | "
            f"{r['startup']:.2f} | {r['wall']:.1f} | {r['per_case']:.3f} | "
            f"{r['mean_task']:.3f} | {r['mean_solve']:.3f} | {r['overhead_vs_task']:+.3f} | "
            f"{r['overhead_vs_solve']:+.3f} | {r['load_before'][0]:.1f}→"
            f"{r['load_after'][0]:.1f} |")
    return "\n".join(out)


def frontier_table(results: list[dict]) -> str:
    head = ("| instance | points | time limit / gap | re-use s (build, HiGHS) | "
            "rebuild s (build, HiGHS) | saving s | saving % | load 1 min |")
    out = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for r in results:
        out.append(
            f"| {r['instance']} | {r['points']} | {r['time_limit']:g} s / {r['mip_gap']:g} | "
            f"{r['reuse_seconds']:.1f} ({r['reuse_build']:.2f}, {r['reuse_solve']:.1f}) | "
            f"{r['rebuild_seconds']:.1f} ({r['rebuild_build']:.2f}, {r['rebuild_solve']:.1f}) "
            f"| {r['saving_seconds']:+.1f} | {100 * (r['saving_fraction'] or 0):+.0f} % | "
            f"{r['load_before'][0]:.1f}→{r['load_after'][0]:.1f} |")
    return "\n".join(out)


def _print_compare(name: str, r: dict) -> None:
    print(f"  {name}: wall {r['wall']:.1f} s (start-up {r['startup']:.2f} s), "
          f"{r['per_case'] * 1000:.0f} ms/case, mean task/case "
          f"{r['mean_task'] * 1000:.0f} ms, mean HiGHS {r['mean_solve'] * 1000:.0f} ms, "
          f"overhead/case vs task {r['overhead_vs_task'] * 1000:+.0f} ms; "
          f"{r['ok']} ok, {r['n_failed']} failed; worker pids "
          f"{r['pids']}; load {r['load_before'][0]:.1f}→{r['load_after'][0]:.1f}",
          flush=True)
    for label, reason in r["failed"]:
        print(f"      failed: {label}: {reason.replace(chr(10), ' ')[:150]}")


def _check_same(results: list[dict]) -> None:
    """Every run should find the same objectives (to the MIP gap) for the same cases."""
    if len(results) < 2:
        return
    ref = results[0]["objectives"]
    for r in results[1:]:
        worst = 0.0
        for label, value in r["objectives"].items():
            other = ref.get(label)
            if value is not None and other is not None:
                worst = max(worst, abs(value - other) / max(1.0, abs(other)))
        print(f"  objectives {r['mode']}/{r['executor']} vs {results[0]['mode']}/"
              f"{results[0]['executor']}: largest relative difference {worst:.2e} over "
              f"{len(r['objectives'])} cases")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("compare", "frontier"), default=None)
    parser.add_argument("--book", default=BOOK)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--executors", default="serial,pool,dask")
    parser.add_argument("--modes", default="per-case,grouped",
                        help="per-case: one task per case (compare --rebuild); grouped: one "
                             "task per what-if (compare's default, model shared)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--frontier-points", type=int, default=11)
    parser.add_argument("--frontier-instances", default="critical-inputs,medium")
    parser.add_argument("--medium-points", type=int, default=5)
    parser.add_argument("--medium-time-limit", type=float, default=20.0)
    parser.add_argument("--medium-gap", type=float, default=0.01)
    parser.add_argument("--highs-option", action="append", default=[], metavar="NAME=VALUE",
                        help="experiment: set this HiGHS option on every HighsSession (patched "
                             "in this process; reaches serial and forked pool workers, not "
                             "Dask's spawned ones)")
    parser.add_argument("--json", help="write the raw figures here")
    args = parser.parse_args(argv)
    if args.highs_option:
        if "dask" in args.executors.split(",") and args.only != "frontier":
            parser.error("--highs-option does not reach Dask's workers; leave dask out")
        patch_highs_options(dict(_option(text) for text in args.highs_option))
    # Dask's spawned workers unpickle `timed_compare_case` by importing this module.
    os.environ["PYTHONPATH"] = ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")

    from resilience.validate import load

    print(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs; "
          f"load {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    instance = load(args.book)
    raw: dict = {"compare": [], "frontier": []}
    # Import the solver stack up front: the serial run would otherwise pay it inside its
    # wall time, and forked pool workers inherit it either way (Dask's spawned workers
    # import it themselves, inside their first task).
    import resilience.analyses.compare  # noqa: F401
    import resilience.formulation.build  # noqa: F401
    import resilience.solver.highs  # noqa: F401

    if args.only in (None, "compare"):
        for mode in args.modes.split(","):
            cases = compare_cases(instance, args.cases) if mode == "per-case" \
                else whatif_groups(instance, args.cases)
            print(f"compare ({mode}): {args.cases} cases in {len(cases)} tasks on "
                  f"{os.path.basename(args.book)}", flush=True)
            for name in args.executors.split(","):
                r = run_compare(name, cases, args.workers, mode)
                raw["compare"].append(r)
                _print_compare(name, r)
        _check_same(raw["compare"])
        print()
        print(compare_table(raw["compare"]))
    if args.only in (None, "frontier"):
        from benchmarks.instances import generate

        for name in args.frontier_instances.split(","):
            if name == "critical-inputs":
                case, points = instance, args.frontier_points
            else:
                case = generate(name)
                case = dataclasses.replace(case, settings=dataclasses.replace(
                    case.settings, time_limit=args.medium_time_limit,
                    mip_gap=args.medium_gap))
                points = args.medium_points
            r = run_frontier(name, case, points)
            raw["frontier"].append(r)
            print(f"frontier {name}: {points} points, HHI {r['top']:,.0f} → "
                  f"{r['floor']:,.0f} (range found in {r['range_seconds']:.1f} s); re-use "
                  f"{r['reuse_seconds']:.1f} s, rebuild per point {r['rebuild_seconds']:.1f} s, "
                  f"saving {r['saving_seconds']:+.1f} s; load "
                  f"{r['load_before'][0]:.1f}→{r['load_after'][0]:.1f}", flush=True)
            for p in r["pairs"]:
                print(f"    limit {p['limit']:8.1f}: re-use "
                      f"{_num(p['reuse_objective'])} (gap {_num(p['reuse_gap'], '{:.2%}')}, "
                      f"{_num(p['reuse_solve'], '{:.2f}')} s) | rebuild "
                      f"{_num(p['rebuild_objective'])} (gap {_num(p['rebuild_gap'], '{:.2%}')}"
                      f", {_num(p['rebuild_solve'], '{:.2f}')} s) {p['reason'][:80]}")
        print()
        print(frontier_table(raw["frontier"]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    return 0


def _option(text: str) -> tuple[str, object]:
    name, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, {"true": True, "false": False}.get(value.lower(), value)


def patch_highs_options(options: dict[str, object]) -> None:
    """Experiment only: every HighsSession created in this process (and in processes
    forked from it) gets these HiGHS options after the product's own. Auxiliary `Highs`
    objects (fixed-LP duals, relaxation) keep the product's options."""
    from resilience.solver.highs import HighsSession

    original = HighsSession.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if self._highs is None:  # a big form, solved in a child process: its options
            self.worker_options.update(options)
            return
        for name, value in options.items():
            if str(self._highs.setOptionValue(name, value)) != "HighsStatus.kOk":
                raise ValueError(f"HiGHS refused option {name}={value!r}")

    HighsSession.__init__ = __init__
    print(f"HiGHS options patched in: {options}", flush=True)


def _num(value, fmt: str = "{:,.2f}") -> str:
    return "—" if value is None else fmt.format(value)


if __name__ == "__main__":
    sys.exit(main())
