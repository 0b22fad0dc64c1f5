"""Solve speed on the product's command path, next to the targets.

Each run is one subprocess doing what `resilience solve BOOK -o OUT` does after reading
the workbook: `build_for` → `hand_to_solver` → `solve_built` (start plan, solve,
verification, fixed-LP duals, the solution) → `write_solve_report`, with the instance's
time limit and gap set from the command line. It prints, per run: the command's wall
time (imports included), status, objective, bound and gap, whether the plan passed the
independent check, the start plan (its objective and seconds), the gap over time as
the isolated solver streamed it (big models) and the peak RSS of the run's own process
and of its largest child (the HiGHS process of a big model), each from `getrusage`.

    python -m benchmarks.solve_speed                            # the targets' runs
    python -m benchmarks.solve_speed --runs large:60 --repeats 3
    python -m benchmarks.solve_speed --runs medium:10,medium:60,critical-inputs:60
    python -m benchmarks.solve_speed --runs large:300 --json figures.jsonl
    python -m benchmarks.solve_speed --horizon                  # horizon:60, horizon:300

Targets (benchmarks/README.md): large with `--time-limit 60`: a verified plan, wall
≤ 70 s including build and report; large: gap ≤ 1 % within 300 s; large: peak RSS
≤ 1.5 GiB; every run returns within time limit + 10 s; medium: gap ≤ 0.1 % within 10 s.
Horizon (the SPEC §7 instance, 5 periods): a verified plan within the default time limit
(60 s); the gap at 60 s and at 300 s (figures, no target). `--horizon` runs those two.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` and `resilience` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOK = os.path.join(ROOT, "data", "critical-inputs.xlsx")  # size name "critical-inputs"
DEFAULT_RUNS = "large:60,large:300,medium:10"
HORIZON_RUNS = "horizon:60,horizon:300"
GIB = 1024.0  # MB per GiB
CHECKPOINTS = (10.0, 30.0, 60.0, 120.0, 300.0)


def load_instance(size: str, seed: int):
    if size == "critical-inputs":
        from resilience.cases import prepare_case
        from resilience.validate import load

        return prepare_case(load(BOOK))
    from benchmarks.instances import generate

    return generate(size, seed)


def _mb(usage) -> float:
    return usage.ru_maxrss / 1024.0  # KiB on Linux


# ---- one run, in this process ------------------------------------------------------------
def worker(size: str, seed: int, time_limit: float, mip_gap: float | None,
           highs_options: dict[str, object] | None = None) -> dict:
    started = time.perf_counter()
    from resilience.api import build_for, hand_to_solver, solve_built
    from resilience.report.excel import write_solve_report

    instance = load_instance(size, seed)
    settings = dataclasses.replace(instance.settings, time_limit=time_limit,
                                   mip_gap=instance.settings.mip_gap if mip_gap is None
                                   else mip_gap)
    instance = dataclasses.replace(instance, settings=settings)
    loaded = time.perf_counter()
    built = build_for(instance)
    session = hand_to_solver(built, one_shot=True)  # as solve_case: one solve
    if highs_options:  # an experiment: options for the HiGHS child (isolated forms only)
        session.worker_options.update(highs_options)
    handed = time.perf_counter()

    import resilience.formulation.warm_start as warm_start

    starts = []
    offer = warm_start.offer_start

    def recording(*args, **kwargs):  # the product's call, its answer noted
        plan = offer(*args, **kwargs)
        starts.append(None if plan is None else {
            "objective": plan.objective, "seconds": plan.seconds, "source": plan.source,
            "violation": plan.violation})
        return plan

    warm_start.offer_start = recording
    error = None
    try:
        result = solve_built(built, session, instance)
    except Exception as exc:  # NoPlanError (exit 4) and the like: a figure too
        result, error = None, f"{type(exc).__name__}: {exc}"
    finally:
        warm_start.offer_start = offer
    solved = time.perf_counter()
    report_seconds = None
    if result is not None:
        with tempfile.TemporaryDirectory() as folder:
            write_solve_report(result, __import__("pathlib").Path(folder) / "report.xlsx")
        report_seconds = time.perf_counter() - solved
    finished = time.perf_counter()

    out = {"size": size, "seed": seed, "time_limit": time_limit,
           "highs_options": highs_options or {},
           "mip_gap": settings.mip_gap, "rows": built.form.n_rows,
           "cols": built.form.n_cols, "nnz": built.form.nnz,
           "isolated": bool(getattr(session, "isolated", False)),
           "load": loaded - started, "build_handoff": handed - loaded,
           "solve_built": solved - handed, "report": report_seconds,
           "wall_in_process": finished - started, "error": error,
           "start": starts[0] if starts else None}
    if result is not None:
        solution = result.solution
        out.update(status=solution.status.value, objective=solution.objective,
                   bound=solution.bound, gap=solution.mip_gap, message=solution.message,
                   verified=result.verification.ok, solve_seconds=solution.solve_seconds)
    report = getattr(session, "last_report", None)
    if report is not None:
        scale = built.form.scaling_structure().cost_scale
        out["child"] = {"killed": report.killed, "incumbents": report.incumbents,
                        "first_incumbent_at": report.first_incumbent_at,
                        "seconds": report.seconds, "nodes": report.nodes}
        out["events"] = [(round(t, 2), p * scale if math.isfinite(p) else None,
                          d * scale if math.isfinite(d) else None)
                         for t, p, d in report.events]
    out["rss_self_mb"] = _mb(resource.getrusage(resource.RUSAGE_SELF))
    out["rss_children_mb"] = _mb(resource.getrusage(resource.RUSAGE_CHILDREN))
    return out


# ---- the parent: one subprocess per run -----------------------------------------------
def spawn(size: str, seed: int, time_limit: float, mip_gap: float | None,
          highs_options: list[str] = ()) -> dict:
    command = [sys.executable, "-m", "benchmarks.solve_speed", "--worker",
               "--runs", f"{size}:{time_limit:g}", "--seed", str(seed)]
    if mip_gap is not None:
        command += ["--mip-gap", str(mip_gap)]
    for option in highs_options:
        command += ["--highs-option", option]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                         check=False)
    wall = time.perf_counter() - started
    if run.returncode != 0:
        raise RuntimeError(f"{size}:{time_limit:g} failed ({run.returncode}):\n"
                           f"{run.stderr[-3000:]}")
    result = json.loads(run.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    result["load_before"] = load_before
    result["load_after"] = os.getloadavg()[0]
    return result


def gap_of(primal, dual) -> float | None:
    if primal is None or dual is None:
        return None
    return abs(primal - dual) / max(1e-10, abs(primal))


def time_to_gap(r: dict, target: float) -> float | None:
    """Seconds from the start of the solve (the child's clock) to the first streamed
    state within `target`; the start plan's seconds come before that clock starts."""
    for t, primal, dual in r.get("events", ()):
        g = gap_of(primal, dual)
        if g is not None and g <= target:
            return t
    return None


def _pct(value) -> str:
    return "—" if value is None else f"{100 * value:.3f} %"


def _f(value, fmt="{:.1f}") -> str:
    return "—" if value is None else fmt.format(value)


def line(r: dict) -> str:
    start = r.get("start")
    start_text = (f"start {start['objective']:,.0f} in {start['seconds']:.1f} s"
                  if start else "no start")
    rss = max(r["rss_self_mb"], r["rss_children_mb"])
    child = r.get("child") or {}
    gaps = ", ".join(f"{c:g} s {_pct(gap_at(r, c))}" for c in CHECKPOINTS
                     if c <= r["time_limit"]) if r.get("events") else "—"
    return (f"{r['size']}:{r['time_limit']:g}: {r.get('status', r.get('error'))}, wall "
            f"{r['wall']:.1f} s (load {r['load']:.1f} + build {r['build_handoff']:.1f} + "
            f"solve/verify {r['solve_built']:.1f} + report {_f(r.get('report'))}), "
            f"objective {_f(r.get('objective'), '{:,.0f}')}, bound "
            f"{_f(r.get('bound'), '{:,.0f}')}, gap {_pct(r.get('gap'))}, verified "
            f"{r.get('verified')}; {start_text}; child: killed {child.get('killed')}, "
            f"{child.get('incumbents')} incumbents; gap over the solve: {gaps}; peak RSS "
            f"{rss:.0f} MB (self {r['rss_self_mb']:.0f}, child {r['rss_children_mb']:.0f}); "
            f"load {r['load_before']:.1f}→{r['load_after']:.1f}")


def gap_at(r: dict, seconds: float) -> float | None:
    found = None
    for t, primal, dual in r.get("events", ()):
        if t > seconds:
            break
        found = gap_of(primal, dual)
    return found


def verdicts(results: list[dict]) -> list[str]:
    """Each target, its figures, met or not."""
    out = []
    by = {}
    for r in results:
        by.setdefault((r["size"], r["time_limit"]), []).append(r)
    for r in results:
        limit = r["time_limit"]
        out.append(f"returns within limit + 10 s: {r['size']}:{limit:g} wall "
                   f"{r['wall']:.1f} s → {'met' if r['wall'] <= limit + 10 else 'NOT met'}")
    for r in by.get(("large", 60.0), []):
        ok = r.get("verified") and r.get("status") in ("time_limit", "optimal") \
            and r["wall"] <= 70
        out.append(f"large:60 verified plan, wall ≤ 70 s: {r.get('status')}, verified "
                   f"{r.get('verified')}, wall {r['wall']:.1f} s → {'met' if ok else 'NOT met'}")
    for r in by.get(("large", 300.0), []):
        reached = time_to_gap(r, 0.01)
        ok = (r.get("gap") is not None and r["gap"] <= 0.01) or reached is not None
        out.append(f"large: gap ≤ 1 % within 300 s: end gap {_pct(r.get('gap'))}, first "
                   f"≤ 1 % at {_f(reached)} s of the solve → {'met' if ok else 'NOT met'}")
    for r in results:
        if r["size"] != "large":
            continue
        rss = max(r["rss_self_mb"], r["rss_children_mb"])
        out.append(f"large:{r['time_limit']:g} peak RSS ≤ 1.5 GiB: {rss:.0f} MB → "
                   f"{'met' if rss <= 1.5 * GIB else 'NOT met'}")
    for r in by.get(("horizon", 60.0), []):
        ok = r.get("verified") and r.get("status") in ("time_limit", "optimal")
        out.append(f"horizon:60 a verified plan within the default limit: "
                   f"{r.get('status') or r.get('error')}, verified {r.get('verified')}, wall "
                   f"{r['wall']:.1f} s → {'met' if ok else 'NOT met'}")
    for r in results:
        if r["size"] == "horizon":
            at_60 = r.get("gap") if r["time_limit"] <= 60 else gap_at(r, 60.0)
            out.append(f"horizon:{r['time_limit']:g} gap (figure): at 60 s {_pct(at_60)}, at "
                       f"the end ({r['time_limit']:g} s) {_pct(r.get('gap'))}")
    for r in results:
        if r["size"] == "medium" and r["time_limit"] <= 10:
            ok = r.get("gap") is not None and r["gap"] <= 0.001
            out.append(f"medium: gap ≤ 0.1 % within 10 s: {_pct(r.get('gap'))} → "
                       f"{'met' if ok else 'NOT met'}")
    return out


def _highs_options(items: list[str]) -> dict[str, object]:
    """NAME=VALUE pairs, the value as a bool, int or float where it reads as one."""
    options: dict[str, object] = {}
    for item in items:
        name, _, text = item.partition("=")
        value: object = text
        if text.lower() in ("true", "false"):
            value = text.lower() == "true"
        else:
            for kind in (int, float):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    continue
        options[name.strip()] = value
    return options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS,
                        help="comma-separated SIZE:TIME_LIMIT (sizes: small, medium, "
                             "large, horizon, critical-inputs)")
    parser.add_argument("--horizon", action="store_true",
                        help=f"run {HORIZON_RUNS} (the SPEC §7 instance) instead")
    parser.add_argument("--mip-gap", type=float, default=None,
                        help="relative gap (default: the instance's own, 1e-4)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--json", help="append the raw figures (JSON lines) to this file")
    parser.add_argument("--highs-option", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="an experiment: a HiGHS option for the solver's child process "
                             "(forms solved in a child only), e.g. mip_pool_soft_limit=2000")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    runs = []
    for item in (HORIZON_RUNS if args.horizon and not args.worker else args.runs).split(","):
        size, _, limit = item.partition(":")
        runs.append((size.strip(), float(limit or 60)))
    if args.worker:
        size, limit = runs[0]
        print(json.dumps(worker(size, args.seed, limit, args.mip_gap,
                                _highs_options(args.highs_option))))
        return 0

    print(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs; "
          f"load {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    results = []
    for size, limit in runs:
        for _ in range(args.repeats):
            try:
                r = spawn(size, args.seed, limit, args.mip_gap, args.highs_option)
            except RuntimeError as exc:
                print(exc, flush=True)
                continue
            print(line(r), flush=True)
            results.append(r)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
    print("\ntargets:")
    for text in verdicts(results):
        print("  " + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
