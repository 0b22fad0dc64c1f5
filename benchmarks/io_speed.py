"""Input/output and start-up speed: validate, the solve report, CLI start-up, the demo.

1. `resilience validate` on a generated workbook of 100,000 offers (a few materials and
   countries; written once with openpyxl write-only into a temp folder): wall time of
   the CLI in a subprocess, against a bare `pd.read_excel(engine="calamine")` of the
   same file (all sheets, in a subprocess, import not counted) measured in the same
   rounds, alternating, best of N each; python-calamine alone is shown beside it. Then,
   in a subprocess, where the time goes (imports, `read_workbook`, `validate`). Targets:
   the CLI ≤ 1.5 × the bare read, and ≤ 3 s.
2. `write_solve_report` with 100,000 plan lines: a synthetic but consistent
   `SolveResult` (instance of 100,000 offers, every offer contracted, quantities within
   capacity and summing to demand, a `Verification` from the product's own `verify`)
   built in a subprocess; then the report is written and timed, with the subprocess's
   RSS before and after (peak growth). Also at 25,000 and 50,000 lines to see how time
   and memory scale. Target ≤ 10 s, memory bounded.
3. Start-up: `resilience --help`, `resilience validate data/example.xlsx` and
   `resilience template t.xlsx`: time to the first byte on stdout and to exit (best and
   median of N), and, under `python -X importtime`, whether Pyomo, highspy (and numpy,
   pandas, scipy, openpyxl) were imported, with the slowest imports. Target ≤ 0.5 s to
   first output, no solver imports.
4. `resilience demo`: wall time of the CLI (best and median of N), and a breakdown of
   the command run in-process under cProfile (imports, load, each solve and its HiGHS
   time, the strategies' compare, the report). Target ≤ 3 s for the base case.

    python -m benchmarks.io_speed                     # everything (~2-4 min)
    python -m benchmarks.io_speed --only startup,demo --repeats 5
    python -m benchmarks.io_speed --only report --plan-lines 100000,50000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` and `resilience` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(os.path.dirname(sys.executable), "resilience")
HEAVY = ("pyomo", "highspy", "numpy", "scipy", "pandas", "openpyxl", "python_calamine",
         "dask", "distributed", "rich")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _load() -> float:
    return os.getloadavg()[0]


# ---- the big workbook ------------------------------------------------------------------
def make_workbook(path: str, offers: int = 100_000, materials: int = 5,
                  countries: int = 20, seed: int = 0) -> None:
    """A valid input workbook with `offers` rows on Suppliers (write-only openpyxl)."""
    import random

    from openpyxl import Workbook

    rng = random.Random(seed)
    book = Workbook(write_only=True)
    mats = [f"mat{m}" for m in range(materials)]
    codes = [f"C{c:02d}" for c in range(countries)]
    ws = book.create_sheet("Materials")
    ws.append(["material", "unit", "demand", "shortage_penalty", "stockpile_cost",
               "max_stockpile"])
    for m in mats:
        ws.append([m, "t", 10_000, 5_000, 20 if m == mats[0] else None, None])
    ws = book.create_sheet("Countries")
    ws.append(["country", "name", "disruption_prob", "groups", "tariff"])
    for i, c in enumerate(codes):
        ws.append([c, f"Country {i}", round(rng.uniform(0, 0.04), 4),
                   "ALLY" if i % 3 == 0 else ("FEOC" if i % 7 == 1 else None),
                   0 if i % 3 == 0 else round(rng.uniform(0, 0.2), 3)])
    ws = book.create_sheet("Suppliers")
    ws.append(["supplier", "material", "country", "processing_country", "unit_cost",
               "capacity", "min_order", "fixed_cost", "reserve_cost", "tariff"])
    for i in range(offers):
        origin = rng.choice(codes)
        ws.append([f"Supplier {i:06d}", mats[i % materials], origin,
                   rng.choice(codes) if rng.random() < 0.3 else None,
                   round(rng.uniform(50, 150), 2), round(rng.uniform(1, 50), 1),
                   round(rng.uniform(0, 1), 1) if rng.random() < 0.3 else None,
                   round(rng.uniform(0, 100), 2), round(rng.uniform(1, 10), 2)
                   if rng.random() < 0.1 else None,
                   round(rng.uniform(0, 0.3), 3) if rng.random() < 0.05 else None])
    ws = book.create_sheet("Policies")
    ws.append(["rule", "material", "target", "stage", "value", "strategy", "whatif", "name"])
    ws.append(["max_country_share", "*", "*", "both", 0.65, None, None, "cap 65 %"])
    ws.append(["exclude", mats[0], "FEOC", "both", None, None, None, "no FEOC"])
    ws = book.create_sheet("Settings")
    ws.append(["key", "value"])
    ws.append(["risk_aversion", 0.3])
    ws.append(["time_limit", 60])
    book.save(path)


# ---- running the CLI -------------------------------------------------------------------
def run_cli(args: list[str], cwd: str) -> dict:
    """Time to the first byte on stdout (or stderr) and to exit, and the CPU time (user +
    system) the command used, which a loaded machine disturbs less than wall time."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen([CLI, *args], cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    first = os.read(child.stdout.fileno(), 1)  # unbuffered: communicate() reads the rest
    first_at = time.perf_counter() - started
    rest, err = child.communicate()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    out = (first + rest).decode(errors="replace")
    return {"first_output": first_at if first else wall, "wall": wall, "cpu": cpu,
            "code": child.returncode, "stdout": out[:1500],
            "stderr": err.decode(errors="replace")[-400:]}


def repeat_cli(args: list[str], cwd: str, repeats: int, before=None) -> dict:
    runs = []
    for _ in range(repeats):
        if before:
            before()
        runs.append(run_cli(args, cwd))
    walls = [r["wall"] for r in runs]
    firsts = [r["first_output"] for r in runs]
    return {"args": args, "best": min(walls), "median": statistics.median(walls),
            "first_best": min(firsts), "first_median": statistics.median(firsts),
            "walls": walls, "code": runs[-1]["code"], "stdout": runs[-1]["stdout"],
            "stderr": runs[-1]["stderr"], "load": _load()}


def import_check(args: list[str], cwd: str) -> dict:
    """Run the CLI in-process under -X importtime; which heavy packages were imported,
    and the slowest top-level imports (cumulative µs)."""
    code = ("import sys; sys.argv = ['resilience'] + sys.argv[1:]\n"
            "from resilience.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n")
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], cwd=cwd,
                          capture_output=True, text=True, check=False)
    modules = {}
    top: list[tuple[int, str]] = []
    for text in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", text)
        if not match:
            continue
        cumulative, indent, name = int(match.group(2)), len(match.group(3)), match.group(4)
        modules[name] = cumulative
        if indent <= 1:
            top.append((cumulative, name))
    heavy = sorted({name.split(".")[0] for name in modules} & set(HEAVY))
    top.sort(reverse=True)
    return {"args": args, "heavy": heavy, "n_modules": len(modules),
            "total_import_ms": sum(c for c, _ in top) / 1000,
            "slowest": [(name, round(c / 1000, 1)) for c, name in top[:8]]}


# ---- workers (each in its own subprocess) ----------------------------------------------
def worker_validate(book: str) -> dict:
    import contextlib

    t0 = time.perf_counter()
    from resilience.validate import validate
    from resilience.workbook import read_workbook
    try:
        from resilience.validate import without_cyclic_gc
    except ImportError:  # a commit from before it, measured for comparison
        without_cyclic_gc = contextlib.nullcontext
    t1 = time.perf_counter()
    with without_cyclic_gc():  # as `load` does
        raw = read_workbook(__import__("pathlib").Path(book))
        t2 = time.perf_counter()
        instance = validate(raw)
        t3 = time.perf_counter()
    return {"imports": t1 - t0, "read_workbook": t2 - t1, "validate": t3 - t2,
            "offers": len(instance.offers), "peak_rss_mb": _rss_mb()}


def worker_bare_read(book: str) -> dict:
    """The reference for validate: every sheet read by pandas with calamine, defaults
    otherwise, and by python-calamine alone; imports not counted."""
    import pandas as pd
    from python_calamine import CalamineWorkbook

    started, cpu = time.perf_counter(), time.process_time()
    frames = pd.read_excel(book, sheet_name=None, engine="calamine")
    pandas_seconds = time.perf_counter() - started
    pandas_cpu = time.process_time() - cpu
    started = time.perf_counter()
    workbook = CalamineWorkbook.from_path(book)
    grids = {name: workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
             for name in workbook.sheet_names}
    calamine_seconds = time.perf_counter() - started
    return {"pandas": pandas_seconds, "pandas_cpu": pandas_cpu, "calamine": calamine_seconds,
            "rows": sum(len(f) for f in frames.values()),
            "cells": sum(len(g) * len(g[0]) for g in grids.values() if g)}


def synthetic_result(lines: int, materials: int = 10, countries: int = 30,
                     scenarios: int = 20, seed: int = 0):
    """A consistent SolveResult with `lines` plan lines, built from the domain dataclasses
    (no solve): every offer contracted, quantities within capacity, summing to demand."""
    import random

    from resilience.api import SolveResult
    from resilience.domain import (
        Country,
        Instance,
        Material,
        Offer,
        PlanLine,
        Policy,
        PolicyCost,
        Scenario,
        ScenarioHit,
        Settings,
        Solution,
        Status,
    )
    from resilience.verify import verify

    rng = random.Random(seed)
    per_material = lines // materials
    mats = tuple(Material(id=f"mat{m:02d}", unit="t", demand=float(per_material * 10),
                          shortage_penalty=5_000.0, stockpile_cost=20.0 if m < 3 else None,
                          row=m + 2) for m in range(materials))
    ctry = tuple(Country(id=f"C{c:02d}", name=f"Country {c}", disruption_prob=0.0,
                         groups=("ALLY",) if c % 3 == 0 else (), tariff=0.05, row=c + 2)
                 for c in range(countries))
    offers, plan = [], []
    for i in range(per_material * materials):
        m = mats[i % materials]
        origin = ctry[rng.randrange(countries)].id
        processing = ctry[rng.randrange(countries)].id if rng.random() < 0.3 else origin
        offer = Offer(supplier=f"Supplier {i:06d}", material=m.id, country=origin,
                      processing_country=processing, unit_cost=round(rng.uniform(50, 150), 2),
                      capacity=20.0, min_order=0.0, fixed_cost=round(rng.uniform(0, 100), 2),
                      reserve_cost=2.0 if i % 10 == 0 else None, tariff=0.05, row=i + 2)
        offers.append(offer)
        plan.append(PlanLine(offer.supplier, offer.material, offer.country,
                             offer.processing_country, quantity=10.0,
                             reserve=5.0 if offer.reserve_cost is not None else 0.0,
                             contracted=True))
    scen = tuple(Scenario(name=f"K{k:02d}", probability=0.5 / scenarios,
                          hits=(ScenarioHit(ctry[k % countries].id, "*", 0.2),), row=k + 2)
                 for k in range(scenarios))
    policies = (Policy("max_country_share", "*", "*", "*", "both", 0.65, name="cap 65 %",
                       row=2),
                Policy("max_hhi", mats[0].id, "*", "*", "both", 4000.0, name="hhi", row=3))
    instance = Instance(materials=mats, countries=ctry, offers=tuple(offers),
                        policies=policies, scenario_rows=scen,
                        settings=Settings(risk_aversion=0.3), source_name="synthetic.xlsx",
                        source_sha256="0" * 64)
    stockpile = {m.id: 100.0 for m in mats if m.stockpile_cost is not None}
    started = time.perf_counter()
    check = verify(instance, tuple(plan), stockpile)
    verify_seconds = time.perf_counter() - started
    costs = tuple(PolicyCost(0, "cap 65 %", "max_country_share", m.id, c.id, stage, 0.65,
                             0.1, False, None)
                  for m in mats for c in ctry[:5] for stage in ("origin", "processing"))
    solution = Solution(status=Status.OPTIMAL, objective=check.objective,
                        bound=check.objective * 0.9999, mip_gap=1e-4, solve_seconds=1.0,
                        build_seconds=1.0, plan=tuple(plan), stockpile=stockpile,
                        policy_costs=costs, message="Optimal",
                        solver_versions={"highs": "1.16.0", "pyomo": "6.10.1"})
    return SolveResult(instance, solution, check), verify_seconds


def worker_report(lines: int, folder: str) -> dict:
    import gc
    from pathlib import Path

    t0 = time.perf_counter()
    from resilience.report.excel import write_solve_report
    from resilience.report.kpis import solve_summary
    imports = time.perf_counter() - t0
    result, verify_seconds = synthetic_result(lines)
    gc.collect()
    rss_before, current_before = _rss_mb(), _current_rss_mb()
    target = Path(folder) / f"report-{lines}.xlsx"
    started = time.perf_counter()
    write_solve_report(result, target)
    seconds = time.perf_counter() - started
    rss_after = _rss_mb()
    started = time.perf_counter()
    solve_summary(result)
    summary_seconds = time.perf_counter() - started
    return {"lines": len(result.solution.plan), "offers": len(result.instance.offers),
            "imports": imports, "verify_setup": verify_seconds, "seconds": seconds,
            "summary_seconds": summary_seconds, "rss_before_mb": rss_before,
            "current_before_mb": current_before, "peak_rss_mb": rss_after,
            "growth_mb": rss_after - rss_before, "bytes": target.stat().st_size}


def worker_demo(folder: str) -> dict:
    """`resilience demo` run in-process under cProfile, so the breakdown follows whatever
    the command does today: imports, load, each solve (HiGHS inside), the compare of the
    strategies, the report. cProfile inflates Python-heavy parts; HiGHS runs natively."""
    import cProfile
    import pstats

    out = os.path.join(folder, "demo-profiled.xlsx")
    if os.path.exists(out):
        os.remove(out)
    sys.argv = ["resilience", "demo", "-o", out]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    try:
        from resilience.cli import main

        main()
    except SystemExit:
        pass
    profiler.disable()
    total = time.perf_counter() - started
    stats = pstats.Stats(profiler).stats  # (file, line, name) -> (cc, nc, tt, ct, callers)

    def cumulative(file_end: str, name: str) -> tuple[int, float]:
        calls, seconds = 0, 0.0
        for (file, _, function), (cc, _, _, ct, _) in stats.items():
            if function == name and file.endswith(file_end):
                calls, seconds = calls + cc, max(seconds, ct)
        return calls, seconds

    parts = {}
    for key, (file_end, name) in {
        "imports": ("<frozen importlib._bootstrap>", "_find_and_load"),
        "load": ("resilience/validate.py", "load"),
        "solve_case": ("resilience/api.py", "solve_case"),
        "solve_built": ("resilience/api.py", "solve_built"),
        "highs": ("resilience/solver.py", "solve"),
        "fixed_lp_duals": ("resilience/solver.py", "fixed_lp_duals"),
        "build_model": ("resilience/formulation/build.py", "build_model"),
        "compare": ("resilience/analyses/compare.py", "compare"),
        "report": ("resilience/report/excel.py", "write_solve_report"),
    }.items():
        calls, seconds = cumulative(file_end, name)
        parts[key] = {"calls": calls, "seconds": seconds}
    return {"total_profiled": total, "parts": parts, "peak_rss_mb": _rss_mb()}


def spawn(kind: str, *args: str) -> dict:
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-m", "benchmarks.io_speed", "--worker", kind,
                           *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"worker {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- main ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="validate,report,startup,demo")
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--plan-lines", default="25000,50000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="keep the generated files in this folder")
    parser.add_argument("--json", help="write the raw figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "validate":
        print(json.dumps(worker_validate(args.rest[0])))
        return 0
    if args.worker == "bare":
        print(json.dumps(worker_bare_read(args.rest[0])))
        return 0
    if args.worker == "report":
        print(json.dumps(worker_report(int(args.rest[0]), args.rest[1])))
        return 0
    if args.worker == "demo":
        print(json.dumps(worker_demo(args.rest[0])))
        return 0

    only = set(args.only.split(","))
    folder = args.keep or tempfile.mkdtemp(prefix="resilience-io-")
    os.makedirs(folder, exist_ok=True)
    raw: dict = {}
    print(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs; "
          f"load {_load():.2f}; {time.strftime('%Y-%m-%d %H:%M')}; files in {folder}",
          flush=True)
    try:
        if "validate" in only:
            book = os.path.join(folder, f"offers-{args.offers}.xlsx")
            if not os.path.exists(book):
                started = time.perf_counter()
                make_workbook(book, args.offers)
                print(f"wrote {book} ({os.path.getsize(book) / 2**20:.1f} MiB) in "
                      f"{time.perf_counter() - started:.1f} s", flush=True)
            # Alternate the two so that both see the same load on a shared machine.
            runs, bare = [], []
            for _ in range(args.repeats):
                runs.append(run_cli(["validate", book], folder))
                bare.append(spawn("bare", book))
            walls = [r["wall"] for r in runs]
            cli = {"best": min(walls), "median": statistics.median(walls), "walls": walls,
                   "cpu": min(r["cpu"] for r in runs), "code": runs[-1]["code"],
                   "stderr": runs[-1]["stderr"], "load": _load()}
            reference = min(b["pandas"] for b in bare)
            reference_cpu = min(b["pandas_cpu"] for b in bare)
            ratio = cli["best"] / reference
            parts = spawn("validate", book)
            # Each round's own ratio: load that changes slowly hits both runs of a round.
            paired = statistics.median(r["wall"] / b["pandas"]
                                       for r, b in zip(runs, bare, strict=True))
            raw["validate"] = {"cli": cli, "bare": bare, "ratio": ratio, "parts": parts,
                               "cpu_ratio": cli["cpu"] / reference_cpu,
                               "paired_ratio": paired}
            print(f"validate {args.offers // 1000}k: {cli['best']:.2f} s, bare read "
                  f"{reference:.2f} s, ratio {ratio:.2f} (target ≤ 1.5); median of the "
                  f"rounds' ratios {paired:.2f}; CPU time {cli['cpu']:.2f} s vs "
                  f"{reference_cpu:.2f} s, ratio {cli['cpu'] / reference_cpu:.2f}",
                  flush=True)
            print(f"  CLI best {cli['best']:.2f} s, median {cli['median']:.2f} s (exit "
                  f"{cli['code']}; target ≤ 3 s); bare pd.read_excel(engine='calamine') "
                  f"best {reference:.2f} s, median "
                  f"{statistics.median(b['pandas'] for b in bare):.2f} s; python-calamine "
                  f"alone best {min(b['calamine'] for b in bare):.2f} s; in-process: "
                  f"imports {parts['imports']:.2f} s, read_workbook "
                  f"{parts['read_workbook']:.2f} s, validate {parts['validate']:.2f} s, peak "
                  f"RSS {parts['peak_rss_mb']:.0f} MB; load {cli['load']:.1f}", flush=True)
            if cli["code"] != 0:
                print("  stderr:", cli["stderr"])
        if "report" in only:
            raw["report"] = []
            for lines in [int(x) for x in args.plan_lines.split(",")]:
                load_before = _load()
                r = spawn("report", str(lines), folder)
                r["load"] = (load_before, _load())
                raw["report"].append(r)
                print(f"report {r['lines']:,} plan lines ({r['offers']:,} offers echoed): "
                      f"write_solve_report {r['seconds']:.1f} s (target ≤ 10 s), peak RSS "
                      f"{r['peak_rss_mb']:.0f} MB (+{r['growth_mb']:.0f} MB over the "
                      f"{r['rss_before_mb']:.0f} MB holding the result), "
                      f"{r['bytes'] / 2**20:.1f} MiB file; solve_summary alone "
                      f"{r['summary_seconds']:.2f} s; synthetic verify "
                      f"{r['verify_setup']:.1f} s; load {load_before:.1f}→{_load():.1f}",
                      flush=True)
        if "startup" in only:
            raw["startup"] = []
            small = os.path.join(ROOT, "data", "example.xlsx")
            template = os.path.join(folder, "t.xlsx")

            def clear():
                if os.path.exists(template):
                    os.remove(template)

            for cmd, before in ((["--help"], None), (["validate", small], None),
                                (["template", template], clear)):
                r = repeat_cli(cmd, folder, max(args.repeats, 5), before)
                clear()
                r["imports"] = import_check(cmd, folder)
                clear()
                raw["startup"].append(r)
                print(f"resilience {' '.join(os.path.basename(c) for c in cmd)}: first "
                      f"output best {r['first_best']:.3f} s / median {r['first_median']:.3f} s,"
                      f" exit best {r['best']:.3f} s / median {r['median']:.3f} s (target "
                      f"≤ 0.5 s); heavy imports: {', '.join(r['imports']['heavy']) or 'none'};"
                      f" slowest imports (ms): {r['imports']['slowest'][:5]}; load "
                      f"{r['load']:.1f}", flush=True)
        if "demo" in only:
            out = os.path.join(folder, "demo.xlsx")

            def clear_demo():
                if os.path.exists(out):
                    os.remove(out)

            cli = repeat_cli(["demo", "-o", out], folder, args.repeats, clear_demo)
            parts = spawn("demo", folder)
            raw["demo"] = {"cli": cli, "parts": parts}
            p = parts["parts"]
            print(f"demo: CLI best {cli['best']:.2f} s, median {cli['median']:.2f} s (target "
                  f"≤ 3 s for the base case; exit {cli['code']}); output:\n    "
                  + "\n    ".join(cli["stdout"].strip().splitlines()[:6]), flush=True)
            print("  in-process under cProfile ({:.2f} s): ".format(parts["total_profiled"])
                  + ", ".join(f"{k} {v['seconds']:.2f} s ({v['calls']}×)"
                              for k, v in p.items())
                  + f"; load {cli['load']:.1f}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
