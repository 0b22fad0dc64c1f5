"""Model build + hand-off time: the product against a direct highspy build.

For each size (benchmarks/instances.py) it times, from the same in-memory `Instance`:

- the product: `build_layout` (instance → coefficient blocks), `to_pyomo` (blocks →
  Pyomo model of matrix components; these two are exactly `build_model`) and
  `HighsSession(model)` (the hand-off: Pyomo model → arrays → `Highs.passModel`);
- the direct build (benchmarks/direct_highspy.py): the same model, entry for entry,
  from numpy arrays straight into `Highs.passModel`;

and prints rows/cols/nnz, seconds, the ratio product / direct, and the peak RSS of each.
Instance generation is timed but not part of the comparison; imports are excluded.
Each (size, build) pair runs in its own subprocess, so the memory figures are clean
and one build's garbage does not slow the other; each takes the best of N runs.

    python -m benchmarks.build_speed [--sizes small,medium,large] [--repeats N]
    python -m benchmarks.build_speed --profile large     # cProfile of the product build
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` and `resilience` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_REPEATS = {"small": 3, "medium": 3, "large": 2}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ---- one (size, build) in this process ---------------------------------------------------
def run_product(instance, repeats: int) -> dict:
    from resilience.formulation.build import build_layout
    from resilience.formulation.pyomo_form import to_pyomo
    from resilience.solver import HighsSession

    runs = []
    counts = None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        data, layout = build_layout(instance)
        t1 = time.perf_counter()
        model = to_pyomo(layout, name=instance.source_name or "resilience")
        t2 = time.perf_counter()
        session = HighsSession(model, threads=1)
        t3 = time.perf_counter()
        runs.append({"layout": t1 - t0, "pyomo": t2 - t1, "handoff": t3 - t2, "total": t3 - t0})
        counts = (session.n_rows, session.n_cols, session.nnz)
        del data, layout, model, session
    best = min(runs, key=lambda r: r["total"])
    return {"runs": runs, "best": best, "counts": counts}


def run_direct(instance, repeats: int) -> dict:
    from benchmarks.direct_highspy import build

    runs = []
    counts = None
    for _ in range(repeats):
        gc.collect()
        direct = build(instance, threads=1)
        runs.append(direct.seconds)
        h = direct.highs
        counts = (h.getNumRow(), h.getNumCol(), h.getNumNz())
        del direct, h
    best = min(runs, key=lambda r: r["total"])
    return {"runs": runs, "best": best, "counts": counts}


def worker(size: str, which: str, seed: int, repeats: int) -> dict:
    import highspy  # noqa: F401  (imports are not part of the build time)

    from benchmarks.instances import generate

    if which == "product":
        import pyomo.environ  # noqa: F401

        import resilience.formulation.build  # noqa: F401
        import resilience.solver  # noqa: F401
    gc.collect()
    rss_imports = _peak_rss_mb()
    started = time.perf_counter()
    instance = generate(size, seed)
    generate_seconds = time.perf_counter() - started
    rss_instance = _peak_rss_mb()
    result = (run_product if which == "product" else run_direct)(instance, repeats)
    result.update(size=size, which=which, seed=seed, generate=generate_seconds,
                  rss_imports_mb=rss_imports, rss_instance_mb=rss_instance,
                  rss_peak_mb=_peak_rss_mb())
    return result


def spawn(size: str, which: str, seed: int, repeats: int, timeout: float) -> dict:
    command = [sys.executable, "-m", "benchmarks.build_speed", "--worker", which,
               "--sizes", size, "--seed", str(seed), "--repeats", str(repeats)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{which} {size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---- profile ---------------------------------------------------------------------------
def profile(size: str, seed: int, top: int, path: str) -> None:
    import cProfile
    import pstats

    from benchmarks.instances import generate
    from resilience.formulation.build import build_layout
    from resilience.formulation.pyomo_form import to_pyomo
    from resilience.solver import HighsSession

    instance = generate(size, seed)
    HighsSession(to_pyomo(build_layout(generate("small", seed))[1]))  # warm imports
    gc.collect()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    _, layout = build_layout(instance)
    model = to_pyomo(layout)
    HighsSession(model)
    profiler.disable()
    print(f"product build + hand-off of {size} under cProfile: "
          f"{time.perf_counter() - started:.2f} s (profiling inflates Python-heavy parts)")
    profiler.dump_stats(path)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    print(f"stats written to {path}")


# ---- report ----------------------------------------------------------------------------
def _rss(result: dict) -> str:
    """Peak RSS of the worker, and in brackets how much the builds added to it."""
    return (f"{result['rss_peak_mb']:.0f} "
            f"(+{result['rss_peak_mb'] - result['rss_instance_mb']:.0f})")


def _runs(result: dict) -> str:
    return ", ".join(f"{r['total']:.3f}" for r in result["runs"])


def table(results: list[tuple[dict, dict]]) -> str:
    head = ("| size | rows | cols | nnz | generate s | product: layout | Pyomo | hand-off | "
            "**total** | direct: extract | assemble | passModel | **total** | "
            "**ratio** | peak RSS MB (growth) product / direct |")
    lines = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for p, d in results:
        pb, db = p["best"], d["best"]
        rows, cols, nnz = p["counts"]
        lines.append(
            f"| {p['size']} | {rows:,} | {cols:,} | {nnz:,} | {p['generate']:.2f} | "
            f"{pb['layout']:.3f} | {pb['pyomo']:.3f} | {pb['handoff']:.3f} | "
            f"**{pb['total']:.3f}** | {db['extract']:.3f} | {db['assemble']:.3f} | "
            f"{db['pass']:.3f} | **{db['total']:.3f}** | **{pb['total'] / db['total']:.1f}x** | "
            f"{_rss(p)} / {_rss(d)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.instances import SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per build, best taken (default 3, large 2)")
    parser.add_argument("--timeout", type=float, default=600.0, help="per subprocess")
    parser.add_argument("--json", help="write the raw figures here")
    parser.add_argument("--profile", metavar="SIZE", help="cProfile the product build")
    parser.add_argument("--profile-out", default="/tmp/resilience-build.pstats")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--worker", choices=("product", "direct"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = args.sizes.split(",")
    for size in sizes:
        if size not in SIZES:
            parser.error(f"unknown size {size}; known: {', '.join(SIZES)}")

    if args.worker:
        size = sizes[0]
        print(json.dumps(worker(size, args.worker, args.seed,
                                args.repeats or DEFAULT_REPEATS[size])))
        return 0
    if args.profile:
        profile(args.profile, args.seed, args.top, args.profile_out)
        return 0

    results = []
    mismatch = False
    for size in sizes:
        repeats = args.repeats or DEFAULT_REPEATS[size]
        p = spawn(size, "product", args.seed, repeats, args.timeout)
        d = spawn(size, "direct", args.seed, repeats, args.timeout)
        same = tuple(p["counts"]) == tuple(d["counts"])
        mismatch |= not same
        pb, db = p["best"], d["best"]
        print(f"{size:>6}: rows/cols/nnz {tuple(p['counts'])}"
              f"{'' if same else ' vs direct ' + str(tuple(d['counts'])) + ' MISMATCH'}; "
              f"product {pb['total']:.3f} s (runs "
              f"{_runs(p)}), "
              f"direct {db['total']:.3f} s (runs "
              f"{_runs(d)}), "
              f"ratio {pb['total'] / db['total']:.1f}x", flush=True)
        results.append((p, d))
    print()
    print(table(results))
    print("\nseconds, best of the runs; ratio = product total / direct total; peak RSS is "
          "the whole worker process (Python, imports, instance and builds), in brackets "
          "what the builds added after imports and instance generation")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"product": p, "direct": d} for p, d in results], f, indent=1)
    if mismatch:
        print("rows/cols/nnz differ between the product and the direct build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
