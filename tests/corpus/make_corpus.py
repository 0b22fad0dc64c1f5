"""Regenerate the solver regression corpus: optima from CBC, a solver that shares no code
with HiGHS, for the embedded data set at every risk aversion 0, 0.1, …, 1 under the base
case and every library strategy, and for seeded synthetic instances (single-period ones,
and SPEC §7 horizons: five periods with projects, spot, stock prices, owners and
period-specific scenarios).

    python tests/corpus/make_corpus.py            # writes tests/corpus/optima.json

CBC solves the same standard form through Pyomo (`pyomo:cbc`) at a relative gap of 1e-9.
Run it again when the model changes on purpose (and say why in the commit); the corpus
test (tests/test_solver_corpus.py) then holds HiGHS to these figures on every CI run.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

RISK_AVERSIONS = [round(0.1 * i, 1) for i in range(11)]
# Seeded synthetic instances, shaped as benchmarks/instances.py's (that generator, at a
# size CBC proves optimal in seconds): (materials, countries, offers, scenarios).
CORPUS_SIZES = {"corpus": (4, 12, 60, 20), "horizon-corpus": (3, 10, 40, 12)}
# horizon-corpus seed 0 is infeasible (an ALLY processing minimum beyond allied
# capacity in 2030), so the horizons are seeds 1-4.
SEEDED = [("corpus", seed) for seed in range(6)] + [("horizon-corpus", seed)
                                                    for seed in range(1, 5)]


def seeded_instance(size: str, seed: int):
    from benchmarks import instances

    instances.SIZES.setdefault(size, CORPUS_SIZES[size])
    return instances.generate(size, seed)


def embedded_cases():
    from resilience.cases import prepare_case
    from resilience.library import demo_workbook, library_strategies
    from resilience.validate import load

    instance = load(demo_workbook())
    for strategy in [None, *library_strategies()]:
        for lam in RISK_AVERSIONS:
            case = prepare_case(instance, strategy=strategy, risk_aversion=lam, mip_gap=1e-9,
                                time_limit=600)
            yield {"data": "embedded", "strategy": strategy, "risk_aversion": lam}, case


def seeded_cases():
    import dataclasses

    for size, seed in SEEDED:
        instance = seeded_instance(size, seed)
        settings = dataclasses.replace(instance.settings, mip_gap=1e-9, time_limit=600)
        yield ({"data": "seeded", "size": size, "seed": seed},
               dataclasses.replace(instance, settings=settings))


def main() -> int:
    from resilience.api import solve_case

    entries = []
    for key, case in [*embedded_cases(), *seeded_cases()]:
        started = time.perf_counter()
        result = solve_case(case, solver="pyomo:cbc", with_duals=False)
        solution = result.solution
        entries.append({**key, "cbc_objective": solution.objective,
                        "cbc_bound": solution.bound, "status": solution.status.value})
        print(f"{key}: {solution.objective:,.4f} ({solution.status.value}, "
              f"{time.perf_counter() - started:.1f} s)", flush=True)
    (HERE / "optima.json").write_text(json.dumps(
        {"solver": "cbc (Debian coinor-cbc, through Pyomo)", "mip_gap": 1e-9,
         "cases": entries}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
