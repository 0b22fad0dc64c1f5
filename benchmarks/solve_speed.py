"""Solve speed: build + hand-off + HiGHS on the product path, gap over time, peak memory.

For each size (benchmarks/instances.py) and each HiGHS option variant, one subprocess:

- builds the model with the product path: `build_model` (layout + Pyomo) and the
  `HighsSession` hand-off, then drops the Pyomo model as `solve_case` does;
- sets the variant's HiGHS options on the session's private `_highs` (benchmark only; the
  product sets only threads, random_seed, time_limit and mip_rel_gap);
- subscribes two HiGHS callbacks to follow the search: `cbMipImprovingSolution`
  (each new incumbent, so the time to the first one) and `cbMipInterrupt` (called
  often during the MIP search: primal and dual bound over time);
- solves with `HighsSession.solve(time_limit, mip_gap)` (the product's call, with its
  watchdog), then times the product's post-solve steps (plan and scenario extraction,
  the fixed-LP duals, policy costs, the independent verification) as `solve_built`
  would run them.

It prints the build and hand-off seconds, the time to the first incumbent, the gap at
10 / 30 / 60 s and at the end, the first time the gap reached 5 / 2 / 1 %, the final
status, objective, bound and gap, and the peak RSS of the subprocess (from
`os.wait4`, i.e. the child's own `ru_maxrss`; the same as RUSAGE_CHILDREN with one child).

HiGHS's running time (the callbacks' clock) starts at `run()`; times are seconds from
the start of the solve, not counting the build.

    python -m benchmarks.solve_speed                               # medium 60 s, large 300 s
    python -m benchmarks.solve_speed --sizes medium --time-limit 60
    python -m benchmarks.solve_speed --sizes medium --variants default,ipm,heur0.2
    python -m benchmarks.solve_speed --sizes large --variants ipm --time-limit 300
    python -m benchmarks.solve_speed --sizes critical-inputs --variants default,no-rins-rens \
        --repeats 3                                    # the shipped data set
    python -m benchmarks.solve_speed --list-variants
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

if __package__ in (None, ""):  # run as a file: make `benchmarks` and `resilience` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_LIMITS = {"critical-inputs": 60.0, "small": 30.0, "medium": 60.0, "large": 300.0}
CHECKPOINTS = (10.0, 30.0, 60.0, 120.0, 300.0)
GAP_TARGETS = (0.05, 0.02, 0.01)

# name: HiGHS options set on top of the product's (threads 1, random_seed 0)
VARIANTS: dict[str, dict[str, object]] = {
    "default": {},
    "simplex": {"mip_lp_solver": "simplex"},
    "ipm": {"mip_lp_solver": "ipm"},
    "hipo": {"mip_lp_solver": "hipo"},
    "presolve-off": {"presolve": "off"},
    "presolve-light": {"presolve_mode": 2},
    "heur0": {"mip_heuristic_effort": 0.0},
    "heur0.2": {"mip_heuristic_effort": 0.2},
    "heur0.5": {"mip_heuristic_effort": 0.5},
    "no-symmetry": {"mip_detect_symmetry": False},
    "no-restart": {"mip_allow_restart": False},
    "no-rins-rens": {"mip_heuristic_run_rins": False, "mip_heuristic_run_rens": False},
    "presolve-light-no-rins-rens": {"presolve_mode": 2, "mip_heuristic_run_rins": False,
                                    "mip_heuristic_run_rens": False},
}
BOOK = os.path.join(ROOT, "data", "critical-inputs.xlsx")  # size name "critical-inputs"


def load_instance(size: str, seed: int):
    if size == "critical-inputs":
        from resilience.cases import prepare_case
        from resilience.validate import load

        return prepare_case(load(BOOK))
    from benchmarks.instances import generate

    return generate(size, seed)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _gap(primal: float, dual: float) -> float:
    if not (math.isfinite(primal) and math.isfinite(dual)):
        return math.inf
    return abs(primal - dual) / max(1e-10, abs(primal))


# ---- one (size, variant) in this process ----------------------------------------------
class Trace:
    """Primal and dual bound over HiGHS's running time, from the callbacks."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float, float]] = []  # (t, primal, dual), on change
        self.incumbents: list[tuple[float, float]] = []  # (t, objective)
        self.last = (math.inf, -math.inf)
        self.calls = 0
        self.last_time = 0.0

    def on_interrupt(self, e) -> None:
        self.calls += 1
        out = e.data_out
        t = out.running_time
        self.last_time = t
        state = (out.mip_primal_bound, out.mip_dual_bound)
        if state != self.last:
            self.last = state
            self.events.append((t, state[0], state[1]))

    def on_improving(self, e) -> None:
        out = e.data_out
        t = out.running_time
        self.incumbents.append((t, out.objective_function_value))
        state = (out.objective_function_value, out.mip_dual_bound)
        if state != self.last:
            self.last = state
            self.events.append((t, state[0], state[1]))

    def finish(self, t: float, primal: float | None, dual: float | None) -> None:
        """The final state, as the session reports it (the last callback may be earlier)."""
        state = (math.inf if primal is None else primal, -math.inf if dual is None else dual)
        if state != self.last:
            self.events.append((t, state[0], state[1]))
            self.last = state

    def state_at(self, t: float) -> tuple[float, float] | None:
        """(primal, dual) last known at time t, None when no callback had come by then."""
        found = None
        for when, primal, dual in self.events:
            if when > t:
                break
            found = (primal, dual)
        return found

    def first_time_gap(self, target: float) -> float | None:
        for when, primal, dual in self.events:
            if _gap(primal, dual) <= target:
                return when
        return None


def parse_log(path: str) -> dict:
    """A few figures from HiGHS's log: presolve and sub-MIP (heuristic) time, when the
    root LP was first solved, LP iterations spent in heuristics, restarts."""
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return {}
    out: dict = {"log": path}
    number = r"([0-9.]+)"
    for key, pattern in (("presolve", number + r" \(Presolve\)"),
                         ("submip_in_solve", r"\(Solve\)\s*\n\s*MIP\s+time \[calls\] = "
                          r"[0-9.]+ \[\d+\]\s*\n\s*subMIP time \[calls\] = " + number),
                         ("lp_iterations_heuristics", r"(\d+) \(heuristics\)"),
                         ("lp_iterations_separation", r"(\d+) \(separation\)"),
                         ("lp_iterations_strong_branching", r"(\d+) \(strong br\.\)")):
        match = re.search(pattern, text)
        if match:
            out[key] = float(match.group(1))
    out["restarts"] = text.count("restarting")
    # The table's first row comes right after presolve; the root LP's bound appears in
    # the first row whose dual bound differs from it (LpIters does not count IPM's).
    events = log_trace(path)
    if events:
        first_dual = events[0][2]
        out["root_lp_solved"] = next((t for t, _, d in events if d != first_dual), None)
    return out


_ROW = re.compile(r"^\s*([A-Za-z]?)\s+\d+\s+\d+\s+\d+\s+[0-9.]+%\s+(\S+)\s+(\S+)\s+"
                  r"(?:\S+)\s+.*?\s([0-9.]+)s\s*$", re.M)


def log_trace(path: str) -> list[tuple[float, float, float]]:
    """(time, primal, dual) from the rows of HiGHS's MIP table (every ~5 s or on news)."""
    try:
        text = open(path, encoding="utf-8", errors="replace").read()
    except OSError:
        return []
    events = []
    for row in _ROW.finditer(text):
        def num(token: str) -> float:
            try:
                return float(token)
            except ValueError:
                return math.inf if token == "inf" else -math.inf if token == "-inf" \
                    else math.nan
        dual, primal = num(row.group(2)), num(row.group(3))
        events.append((float(row.group(4)), primal, -math.inf if math.isnan(dual) else dual))
    return events


def summarise_events(events, seconds: float) -> dict:
    """First incumbent, gap at the checkpoints and first time at each gap target."""
    def state_at(t):
        found = None
        for when, primal, dual in events:
            if when > t:
                break
            found = (primal, dual)
        return found

    first = next((when for when, primal, _ in events if math.isfinite(primal)), None)
    gap_at = {}
    for c in CHECKPOINTS:
        if c <= seconds + 1e-9:
            state = state_at(c)
            gap_at[f"{c:g}"] = None if state is None or not math.isfinite(state[0]) \
                else _gap(*state)
    reach = {f"{g:g}": next((when for when, p, d in events if _gap(p, d) <= g), None)
             for g in GAP_TARGETS}
    return {"first_incumbent": first, "gap_at": gap_at, "time_to_gap": reach}


def worker(size: str, variant: str, seed: int, time_limit: float, mip_gap: float,
           post: bool, log_dir: str | None = None, callbacks: bool = True) -> dict:
    import highspy  # noqa: F401  (imports are timed on their own)

    started = time.perf_counter()
    import pyomo.environ  # noqa: F401

    from resilience.formulation.build import build_model
    from resilience.solver import HighsSession
    imports = time.perf_counter() - started

    instance = load_instance(size, seed)
    gc.collect()
    rss = {"imports+instance": _rss_mb()}
    t0 = time.perf_counter()
    built = build_model(instance)
    t1 = time.perf_counter()
    session = HighsSession(built.pyomo, threads=1)
    t2 = time.perf_counter()
    rss["built"] = _rss_mb()
    if hasattr(built, "release_pyomo"):  # as solve_case does: HiGHS has its own copy now
        built.release_pyomo()
        gc.collect()

    h = session._highs  # private: benchmark only
    for name, value in VARIANTS[variant].items():
        status = h.setOptionValue(name, value)
        if status != highspy.HighsStatus.kOk:
            return {"size": size, "variant": variant, "options": VARIANTS[variant],
                    "error": f"option {name}={value!r} refused by HiGHS "
                             f"{h.versionMajor()}.{h.versionMinor()}.{h.versionPatch()}"}
    log_path = os.path.join(log_dir, f"{size}-{variant}-seed{seed}.log") if log_dir else None
    if log_path:  # HiGHS's own log, to a file only (nothing on stdout)
        if os.path.exists(log_path):
            os.remove(log_path)
        h.setOptionValue("log_file", log_path)
        h.setOptionValue("log_to_console", False)
        h.setOptionValue("output_flag", True)
    trace = Trace()
    if callbacks:
        h.cbMipInterrupt.subscribe(trace.on_interrupt)
        h.cbMipImprovingSolution.subscribe(trace.on_improving)
    # for the parent, should it have to kill this process: what is known so far
    print("PROGRESS " + json.dumps({
        "build": t1 - t0, "handoff": t2 - t1, "rows": session.n_rows, "cols": session.n_cols,
        "nnz": session.nnz, "imports": imports, "rss_built_mb": rss["built"],
        "solve_started_at": time.time(), "log": log_path}), file=sys.stderr, flush=True)

    t3 = time.perf_counter()
    outcome = session.solve(time_limit=time_limit, mip_gap=mip_gap)
    t4 = time.perf_counter()
    rss["solved"] = _rss_mb()
    info = h.getInfo()

    trace.finish(h.getRunTime(), outcome.objective, outcome.bound)
    checkpoints = {}
    for c in CHECKPOINTS:
        if c > outcome.seconds + 1e-9:
            continue  # the run had ended: the end column has it
        state = trace.state_at(c)
        checkpoints[f"{c:g}"] = None if state is None else _gap(*state)
    result = {
        "size": size, "variant": variant, "options": VARIANTS[variant], "seed": seed,
        "time_limit": time_limit, "mip_gap": mip_gap,
        "rows": session.n_rows, "cols": session.n_cols, "nnz": session.nnz,
        "integers": int(len(session._integer_columns)),
        "imports": imports, "build": t1 - t0, "handoff": t2 - t1,
        "solve_wall": t4 - t3, "solve_seconds": outcome.seconds,
        "highs_run_time": h.getRunTime(),
        "status": outcome.status.value, "message": outcome.message,
        "objective": outcome.objective, "bound": outcome.bound, "gap": outcome.gap,
        "nodes": int(info.mip_node_count), "lp_iterations": int(info.simplex_iteration_count),
        "first_incumbent": trace.incumbents[0][0] if trace.incumbents else None,
        "first_incumbent_objective": trace.incumbents[0][1] if trace.incumbents else None,
        "incumbents": len(trace.incumbents),
        "first_callback": trace.events[0][0] if trace.events else None,
        "callback_calls": trace.calls,
        "gap_at": checkpoints,
        "time_to_gap": {f"{g:g}": trace.first_time_gap(g) for g in GAP_TARGETS},
        "trace": [(round(t, 2), p, d) for t, p, d in trace.events[:: max(
            1, len(trace.events) // 200)]],
    }
    if log_path:
        h.setOptionValue("output_flag", False)
        result["highs_log"] = parse_log(log_path)
        if not callbacks:  # the trace from the log's table instead
            result.update(summarise_events(log_trace(log_path), outcome.seconds))
            result["trace"] = log_trace(log_path)
    result["callbacks"] = callbacks
    if callbacks:
        h.cbMipInterrupt.unsubscribe(trace.on_interrupt)
        h.cbMipImprovingSolution.unsubscribe(trace.on_improving)

    if post and outcome.status.has_plan:
        from resilience.formulation.extract import (
            extract_plan,
            extract_policy_costs,
            extract_scenarios,
        )
        from resilience.verify import verify

        p0 = time.perf_counter()
        plan, stockpile = extract_plan(built, outcome.values)
        scenarios = extract_scenarios(built, outcome.values)
        p1 = time.perf_counter()
        duals = session.fixed_lp_duals()
        p2 = time.perf_counter()
        extract_policy_costs(built, outcome.values, duals, session.row_offsets, instance)
        p3 = time.perf_counter()
        check = verify(instance, plan, stockpile, outcome.objective, outcome.bound)
        p4 = time.perf_counter()
        result["post"] = {"extract": p1 - p0, "fixed_lp_duals": p2 - p1,
                          "policy_costs": p3 - p2, "verify": p4 - p3, "total": p4 - p0,
                          "plan_lines": len(plan), "scenarios": len(scenarios),
                          "verified": check.ok, "problems": list(check.problems[:3])}
        rss["post"] = _rss_mb()
    result["rss_mb"] = rss
    return result


# ---- parent: one subprocess per (size, variant) ----------------------------------------
def spawn(size: str, variant: str, seed: int, time_limit: float, mip_gap: float,
          post: bool, log_dir: str | None, kill_after: float, callbacks: bool = True) -> dict:
    """Run one worker; kill it after `kill_after` seconds (HiGHS can overrun its time
    limit, and the product's watchdog cannot stop it) and salvage what its log says."""
    command = [sys.executable, "-m", "benchmarks.solve_speed", "--worker", "--sizes", size,
               "--variants", variant, "--seed", str(seed), "--time-limit", str(time_limit),
               "--mip-gap", str(mip_gap), "--log-dir", log_dir or ""] + (
                   [] if post else ["--no-post"]) + ([] if callbacks else ["--no-callbacks"])
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    load_before = os.getloadavg()
    started = time.perf_counter()
    killed = False
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err,
                                 text=True)
        try:
            while True:
                pid, status, usage = os.wait4(child.pid, os.WNOHANG)  # the child's rusage
                if pid:
                    break
                if time.perf_counter() - started > kill_after and not killed:
                    child.kill()
                    killed = True
                time.sleep(0.2)
        except KeyboardInterrupt:
            child.kill()
            raise
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        killed_at = time.time()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if killed:
        progress = {}
        for text in stderr.splitlines():
            if text.startswith("PROGRESS "):
                progress = json.loads(text[len("PROGRESS "):])
        log = progress.get("log")
        ran = killed_at - progress["solve_started_at"] if progress else float("nan")
        events = log_trace(log) if log else []
        last = events[-1] if events else (0.0, math.inf, -math.inf)
        result = {"size": size, "variant": variant, "options": VARIANTS[variant],
                  "seed": seed, "time_limit": time_limit, "mip_gap": mip_gap,
                  "build": progress.get("build", math.nan),
                  "handoff": progress.get("handoff", math.nan),
                  "status": f"KILLED after {ran:.0f} s of solve (limit {time_limit:g} s)",
                  "message": "HiGHS did not return", "solve_seconds": ran,
                  "objective": last[1] if math.isfinite(last[1]) else None,
                  "bound": last[2] if math.isfinite(last[2]) else None,
                  "gap": _gap(last[1], last[2]) if events else None, "nodes": -1,
                  "last_log_row_at": last[0], "trace": events,
                  "highs_log": parse_log(log) if log else {}, "callbacks": callbacks}
        result.update(summarise_events(events, ran))
    elif child.returncode != 0:
        raise RuntimeError(f"{size}/{variant} failed ({child.returncode}):\n{stderr[-3000:]}")
    else:
        result = json.loads(stdout.strip().splitlines()[-1])
    result["process_wall"] = wall
    result["peak_rss_mb"] = usage.ru_maxrss / 1024.0
    result["rusage_children_mb"] = resource.getrusage(
        resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    result["load_before"] = load_before
    result["load_after"] = os.getloadavg()
    return result


def _f(value, fmt: str = "{:.1f}", none: str = "—") -> str:
    if value is None:
        return none
    if isinstance(value, float) and not math.isfinite(value):
        return "∞"
    return fmt.format(value)


def _pct(value) -> str:
    if value is None:
        return "no incumbent"
    if not math.isfinite(value):
        return "∞"
    return f"{100 * value:.2f} %"


def line(r: dict) -> str:
    gaps = ", ".join(f"{k} s {_pct(v)}" for k, v in r["gap_at"].items())
    reach = ", ".join(f"≤{float(k) * 100:g} % at {_f(v)} s"
                      for k, v in r["time_to_gap"].items())
    post = r.get("post")
    post_text = (f"; post-solve {post['total']:.2f} s (duals {post['fixed_lp_duals']:.2f}, "
                 f"verify {post['verify']:.2f}, verified {post['verified']})") if post else ""
    log = r.get("highs_log") or {}
    log_text = (f"; HiGHS log: presolve {_f(log.get('presolve'), '{:.1f}')} s, root LP solved "
                f"at {_f(log.get('root_lp_solved'), '{:.1f}')} s, sub-MIP "
                f"{_f(log.get('submip_in_solve'), '{:.1f}')} s, restarts "
                f"{log.get('restarts', '—')}") if log else ""
    return (f"{r['size']}/{r['variant']}: build {r['build']:.2f} s + hand-off "
            f"{r['handoff']:.2f} s; first incumbent {_f(r['first_incumbent'])} s; gap {gaps}, "
            f"end {_pct(r['gap'])} ({r['status']}, {r['solve_seconds']:.1f} s, "
            f"{r['nodes']} nodes); {reach}; objective {_f(r['objective'], '{:,.0f}')}, "
            f"bound {_f(r['bound'], '{:,.0f}')}; peak RSS {r['peak_rss_mb']:.0f} MB"
            f"{post_text}{log_text}; load {r['load_before'][0]:.1f}→{r['load_after'][0]:.1f}")


def table(results: list[dict]) -> str:
    head = ("| size | variant | build + hand-off s | root LP solved s | first incumbent s | "
            "gap 10 s | 30 s | "
            "60 s | 300 s | end | ≤2 % at s | ≤1 % at s | status | solve s | nodes | objective | "
            "bound | peak RSS MB | load 1 min (before→after) |")
    out = [head, "| " + " | ".join(["---"] * (head.count("|") - 1)) + " |"]
    for r in results:
        g = r["gap_at"]
        out.append(
            f"| {r['size']} | {r['variant']} | {r['build']:.2f} + {r['handoff']:.2f} | "
            f"{_f((r.get('highs_log') or {}).get('root_lp_solved'))} | "
            f"{_f(r['first_incumbent'])} | {_pct(g.get('10')) if '10' in g else '—'} | "
            f"{_pct(g.get('30')) if '30' in g else '—'} | "
            f"{_pct(g.get('60')) if '60' in g else '—'} | "
            f"{_pct(g.get('300')) if '300' in g else '—'} | {_pct(r['gap'])} | "
            f"{_f(r['time_to_gap']['0.02'])} | {_f(r['time_to_gap']['0.01'])} | "
            f"{r['status']} | {r['solve_seconds']:.1f} | {r['nodes']:,} | "
            f"{_f(r['objective'], '{:,.0f}')} | {_f(r['bound'], '{:,.0f}')} | "
            f"{r['peak_rss_mb']:.0f} | {r['load_before'][0]:.1f}→{r['load_after'][0]:.1f} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.instances import SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="medium,large")
    parser.add_argument("--variants", default="default",
                        help="comma-separated, see --list-variants")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="seconds per solve (default: medium 60, large 300)")
    parser.add_argument("--mip-gap", type=float, default=1e-4,
                        help="relative gap to stop at (default 1e-4, the instances' own)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-post", action="store_true", help="skip the post-solve timing")
    parser.add_argument("--json", help="append the raw figures (JSON lines) to this file")
    parser.add_argument("--log-dir", default=os.path.join(tempfile.gettempdir(),
                                                          "resilience-solve-logs"),
                        help="HiGHS logs go here ('' for none)")
    parser.add_argument("--kill-after", type=float, default=None,
                        help="kill a worker after this many seconds (default 2 × limit + "
                             "120); the figures then come from the HiGHS log")
    parser.add_argument("--no-callbacks", action="store_true",
                        help="no HiGHS callbacks: follow the gap in the HiGHS log instead")
    parser.add_argument("--list-variants", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list_variants:
        for name, options in VARIANTS.items():
            print(f"{name:>15}: {options or '(product defaults)'}")
        return 0
    sizes = args.sizes.split(",")
    variants = args.variants.split(",")
    for size in sizes:
        if size not in SIZES and size != "critical-inputs":
            parser.error(f"unknown size {size}; known: {', '.join(SIZES)}, critical-inputs")
    for variant in variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant}; known: {', '.join(VARIANTS)}")

    if args.worker:
        limit = args.time_limit or DEFAULT_LIMITS[sizes[0]]
        print(json.dumps(worker(sizes[0], variants[0], args.seed, limit, args.mip_gap,
                                not args.no_post, args.log_dir or None,
                                not args.no_callbacks)))
        return 0

    if args.log_dir:
        os.makedirs(args.log_dir, exist_ok=True)
    print(f"machine: {os.uname().sysname} {os.uname().release}, {os.cpu_count()} CPUs; "
          f"load {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M')}", flush=True)
    results = []
    for size in sizes:
        limit = args.time_limit or DEFAULT_LIMITS[size]
        for variant in variants:
            for _ in range(args.repeats):
                try:
                    r = spawn(size, variant, args.seed, limit, args.mip_gap,
                              not args.no_post, args.log_dir,
                              args.kill_after or 2 * limit + 120, not args.no_callbacks)
                except RuntimeError as exc:
                    print(exc, flush=True)
                    continue
                if "error" in r:
                    print(f"{size}/{variant}: {r['error']}", flush=True)
                    continue
                print(line(r), flush=True)
                results.append(r)
                if args.json:
                    with open(args.json, "a") as f:
                        f.write(json.dumps(r) + "\n")
    print()
    print(table(results))
    print("\ngap = |incumbent − bound| / |incumbent| from the HiGHS callbacks at that "
          "running time (— : the run ended first); solve s = HighsSession.solve wall time; "
          "peak RSS = the subprocess's ru_maxrss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
