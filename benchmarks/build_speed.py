"""Model build + hand-off time: the product against a direct highspy build.

For each size (benchmarks/instances.py: small, medium, large, and horizon, the SPEC §7
instance over 5 periods) it times, from the same in-memory `Instance`:

- the product, as `solve_case` calls it: `build_model(instance)` (the layout's
  coefficient blocks, then `Layout.to_standard_form()`) and `HighsSession(built.form,
  SolverOptions(threads=1))` (the hand-off: scale the form, `Highs.passModel`), in
  process (`isolate=False` where the session has that switch: by default it leaves big
  forms to a child process at solve time, see `in_process_session`);
- the same product steps split at their seams, for the breakdown: `build_layout`,
  `to_standard_form`, `form.scaling_structure()` (the scaling the session would
  otherwise compute on its first call) and `HighsSession` (new `Highs`, options, scaled
  bounds and costs, `passModel`);
- the direct build (benchmarks/direct_highspy.py): the same model, entry for entry,
  from numpy arrays straight into `Highs.passModel` (unscaled: it is the yardstick);

and prints rows/cols/nnz, seconds, the ratio product / direct against the target
(build + hand-off ≤ 1.5x direct), and the peak RSS of each. Instance generation is
timed but not part of the comparison; imports are excluded, and each worker builds the
small instance once, untimed, before its timed runs (first-call costs: lazy imports
inside numpy/scipy, HiGHS's banner suppression). Each (size, build) pair runs in its
own subprocess, so the memory figures are clean and one build's garbage does not slow
the other; each takes the best of N runs.

    python -m benchmarks.build_speed [--sizes small,medium,large,horizon] [--repeats N]
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
DEFAULT_REPEATS = {"small": 10, "medium": 5, "large": 3, "horizon": 5}
DEFAULT_ROUNDS = 2
TARGET = 1.5  # build + hand-off ≤ 1.5x the direct highspy build


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# ---- one (size, build) in this process ---------------------------------------------------
def in_process_session(form, options):
    """`HighsSession(form, options)` with the model passed to HiGHS in this process.
    Where the session can defer big forms to a child process at solve time (`isolate`,
    from `ISOLATE_FROM_NONZEROS` nonzeros on), its constructor passes nothing to HiGHS,
    so the benchmark asks for the in-process hand-off: the scaling and `passModel` it
    measures are what the child would otherwise do at each solve."""
    import inspect

    from resilience.solver.highs import HighsSession

    if "isolate" in inspect.signature(HighsSession.__init__).parameters:
        return HighsSession(form, options, isolate=False)
    return HighsSession(form, options)


def default_session_note(form, options) -> dict:
    """What the product's default constructor does with this form: in process, or
    deferred to a child at solve time, and how long the constructor takes."""
    from resilience.solver.highs import HighsSession

    started = time.perf_counter()
    session = HighsSession(form, options)
    seconds = time.perf_counter() - started
    return {"isolated": bool(getattr(session, "isolated", False)), "seconds": seconds}


def run_product(instance, repeats: int) -> dict:
    from resilience.formulation.build import build_layout, build_model
    from resilience.solver import SolverOptions

    options = SolverOptions(threads=1)
    name = instance.source_name or "resilience"
    runs, split = [], []
    counts = None
    for _ in range(repeats):
        # as the product calls it
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        built = build_model(instance)
        t1 = time.perf_counter()
        session = in_process_session(built.form, options)
        t2, c2 = time.perf_counter(), time.process_time()
        runs.append({"build_model": t1 - t0, "handoff": t2 - t1, "total": t2 - t0,
                     "cpu": c2 - c0})
        counts = (built.form.n_rows, built.form.n_cols, built.form.nnz)
        del built, session
        # the same steps, split at their seams
        gc.collect()
        t0 = time.perf_counter()
        _, layout = build_layout(instance)
        t1 = time.perf_counter()
        form = layout.to_standard_form(name=name)
        t2 = time.perf_counter()
        form.scaling_structure()
        t3 = time.perf_counter()
        session = in_process_session(form, options)
        t4 = time.perf_counter()
        split.append({"layout": t1 - t0, "form": t2 - t1, "scaling": t3 - t2,
                      "pass": t4 - t3, "total": t4 - t0})
        del layout, form, session
    best = min(runs, key=lambda r: r["total"])
    best_split = min(split, key=lambda r: r["total"])
    gc.collect()
    default = default_session_note(build_model(instance).form, options)
    return {"runs": runs, "best": best, "split_runs": split, "split": best_split,
            "counts": counts, "default_session": default}


def warm_product() -> None:
    from benchmarks.instances import generate
    from resilience.formulation.build import build_model
    from resilience.solver import SolverOptions

    in_process_session(build_model(generate("small", 0)).form, SolverOptions(threads=1))


def warm_direct() -> None:
    from benchmarks.direct_highspy import build
    from benchmarks.instances import generate

    build(generate("small", 0), threads=1)


def run_direct(instance, repeats: int) -> dict:
    from benchmarks.direct_highspy import build

    runs = []
    counts = None
    for _ in range(repeats):
        gc.collect()
        c0 = time.process_time()
        direct = build(instance, threads=1)
        runs.append(dict(direct.seconds, cpu=time.process_time() - c0))
        h = direct.highs
        counts = (h.getNumRow(), h.getNumCol(), h.getNumNz())
        del direct, h
    best = min(runs, key=lambda r: r["total"])
    return {"runs": runs, "best": best, "counts": counts}


def worker(size: str, which: str, seed: int, repeats: int) -> dict:
    import highspy  # noqa: F401  (imports are not part of the build time)

    from benchmarks.instances import generate

    if which == "product":
        import resilience.formulation.build  # noqa: F401
        import resilience.solver.highs  # noqa: F401
        warm_product()
    else:
        warm_direct()
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


def spawn(size: str, which: str, seed: int, repeats: int, timeout: float,
          root: str = ROOT) -> dict:
    """One worker in a subprocess; `root` is the source tree it imports `resilience` and
    `benchmarks` from (another tree: an earlier commit's product, see --earlier)."""
    command = [sys.executable, "-m", "benchmarks.build_speed", "--worker", which,
               "--sizes", size, "--seed", str(seed), "--repeats", str(repeats)]
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{which} {size} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def merge(results: list[dict]) -> dict:
    """The rounds of one (size, build) as one result: all runs, the best, the largest
    peak RSS."""
    merged = dict(results[0])
    for key in ("runs", "split_runs"):
        if key in merged:
            merged[key] = [r for result in results for r in result[key]]
    merged["best"] = min(merged["runs"], key=lambda r: r["total"])
    if "split_runs" in merged:
        merged["split"] = min(merged["split_runs"], key=lambda r: r["total"])
    merged["best_cpu"] = min(r["cpu"] for r in merged["runs"])
    largest = max(results, key=lambda result: result["rss_peak_mb"])
    for key in ("rss_imports_mb", "rss_instance_mb", "rss_peak_mb"):
        merged[key] = largest[key]
    merged["rounds"] = len(results)
    return merged


# ---- profile ---------------------------------------------------------------------------
def profile(size: str, seed: int, top: int, path: str) -> None:
    import cProfile
    import pstats

    from benchmarks.instances import generate
    from resilience.formulation.build import build_model
    from resilience.solver import SolverOptions

    instance = generate(size, seed)
    warm_product()
    gc.collect()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    built = build_model(instance)
    in_process_session(built.form, SolverOptions(threads=1))
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


def _runs(result: dict, key: str = "runs") -> str:
    return ", ".join(f"{r['total']:.3f}" for r in result[key])


def table(results: list[tuple[dict, dict]]) -> str:
    head = ("| size | rows | cols | nnz | product: layout | standard form | scaling | "
            "session + passModel | **build + hand-off** | direct: extract | assemble | "
            "passModel | **direct total** | **ratio** (target ≤ 1.5x) | CPU-time ratio | "
            "peak RSS MB (growth) product / direct |")
    lines = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for p, d in results:
        pb, ps, db = p["best"], p["split"], d["best"]
        rows, cols, nnz = p["counts"]
        ratio = pb["total"] / db["total"]
        lines.append(
            f"| {p['size']} | {rows:,} | {cols:,} | {nnz:,} | "
            f"{ps['layout']:.3f} | {ps['form']:.3f} | {ps['scaling']:.3f} | {ps['pass']:.3f} | "
            f"**{pb['total']:.3f}** | {db['extract']:.3f} | {db['assemble']:.3f} | "
            f"{db['pass']:.3f} | **{db['total']:.3f}** | "
            f"**{ratio:.2f}x** {'met' if ratio <= TARGET else 'MISSED'} | "
            f"{p['best_cpu'] / d['best_cpu']:.2f}x | {_rss(p)} / {_rss(d)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.instances import SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=None,
                        help="runs per build and worker (default small 10, medium 5, "
                             "large 3, horizon 5)")
    parser.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS,
                        help="product and direct workers spawned alternately this many "
                             "times per size; the best run over all rounds is taken")
    parser.add_argument("--timeout", type=float, default=600.0, help="per subprocess")
    parser.add_argument("--json", help="write the raw figures here")
    parser.add_argument("--profile", metavar="SIZE", help="cProfile the product build")
    parser.add_argument("--profile-out", default="/tmp/resilience-build.pstats")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--earlier", metavar="DIR",
                        help="also time the product of another source tree (an earlier "
                             "commit: `git archive COMMIT resilience | tar -x -C DIR`, "
                             "then copy benchmarks/ into DIR) in the same rounds, against "
                             "today's product")
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
    missed = []
    print(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs; "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}; target: build + hand-off ≤ "
          f"{TARGET}x the direct build", flush=True)
    for size in sizes:
        repeats = args.repeats or DEFAULT_REPEATS[size]
        load_before = os.getloadavg()[0]
        products, directs, earlier = [], [], []
        for _ in range(args.rounds):  # alternate, so load changes hit both alike
            products.append(spawn(size, "product", args.seed, repeats, args.timeout))
            directs.append(spawn(size, "direct", args.seed, repeats, args.timeout))
            if args.earlier and earlier is not None:
                try:
                    earlier.append(spawn(size, "product", args.seed, repeats, args.timeout,
                                         root=os.path.abspath(args.earlier)))
                except RuntimeError as exc:  # e.g. a model the earlier code cannot build
                    last = str(exc).strip().splitlines()[-1]
                    print(f"        earlier product ({args.earlier}) cannot build {size}: "
                          f"{last}", flush=True)
                    earlier = None
        p, d = merge(products), merge(directs)
        load_after = os.getloadavg()[0]
        p["load"] = d["load"] = (load_before, load_after)
        same = tuple(p["counts"]) == tuple(d["counts"])
        mismatch |= not same
        pb, ps, db = p["best"], p["split"], d["best"]
        ratio = pb["total"] / db["total"]
        if ratio > TARGET:
            missed.append(size)
        print(f"{size:>6}: rows/cols/nnz {tuple(p['counts'])}"
              f"{'' if same else ' vs direct ' + str(tuple(d['counts'])) + ' MISMATCH'}; "
              f"product {pb['total']:.3f} s (build_model {pb['build_model']:.3f} + hand-off "
              f"{pb['handoff']:.3f}; runs {_runs(p)}; split runs "
              f"{_runs(p, 'split_runs')}), "
              f"direct {db['total']:.3f} s (runs {_runs(d)}), "
              f"ratio {ratio:.2f}x (CPU seconds: {p['best_cpu']:.3f} / {d['best_cpu']:.3f} "
              f"= {p['best_cpu'] / d['best_cpu']:.2f}x), target ≤ {TARGET}x "
              f"{'met' if ratio <= TARGET else 'MISSED'}; "
              f"load {load_before:.1f}→{load_after:.1f}", flush=True)
        if earlier:
            e = merge(earlier)
            print(f"        earlier product ({args.earlier}): rows/cols/nnz "
                  f"{tuple(e['counts'])}; {e['best']['total']:.3f} s (runs {_runs(e)}), "
                  f"CPU {e['best_cpu']:.3f} s; today's / earlier: wall "
                  f"{pb['total'] / e['best']['total']:.2f}x, CPU "
                  f"{p['best_cpu'] / e['best_cpu']:.2f}x", flush=True)
            p["earlier"] = e
        print(f"        product split: layout {ps['layout']:.3f}, standard form "
              f"{ps['form']:.3f}, scaling {ps['scaling']:.3f}, session + passModel "
              f"{ps['pass']:.3f} (sum {ps['total']:.3f})", flush=True)
        note = p["default_session"]
        if note["isolated"]:
            print(f"        note: the default `HighsSession(form, options)` defers this form "
                  f"to a child process at solve time (constructor {note['seconds']:.3f} s, "
                  f"nothing passed); timed above: the in-process hand-off", flush=True)
        results.append((p, d))
    print()
    print(table(results))
    print("\nseconds, best of the runs; build + hand-off = `build_model` + `HighsSession` "
          "as the product calls them (the split columns come from separate runs of the "
          "same steps); ratio = product total / direct total; peak RSS is the whole worker "
          "process (Python, imports, instance and builds), in brackets what the builds "
          "added after imports and instance generation")
    if missed:
        print(f"target missed at: {', '.join(missed)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"product": p, "direct": d} for p, d in results], f, indent=1)
    if mismatch:
        print("rows/cols/nnz differ between the product and the direct build", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
