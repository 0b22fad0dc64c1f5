"""The solvers' outcomes mapped to `Status`, each as one table.

A stop without a proven optimum (time, interrupt, iteration or memory limit) is
`TIME_LIMIT` when the solver holds a plan and `NO_SOLUTION` when it does not; that
choice is made by `with_plan`, not by the tables.
"""

from __future__ import annotations

from resilience.domain import Status

STOPPED = "stopped"  # a limit or an interrupt: TIME_LIMIT or NO_SOLUTION by incumbent

HIGHS_MODEL_STATUS = {
    "kOptimal": Status.OPTIMAL,
    "kInfeasible": Status.INFEASIBLE,
    "kUnboundedOrInfeasible": Status.INFEASIBLE,
    "kTimeLimit": STOPPED,
    "kInterrupt": STOPPED,
    "kIterationLimit": STOPPED,
    "kSolutionLimit": STOPPED,
    "kObjectiveBound": STOPPED,
    "kObjectiveTarget": STOPPED,
    "kMemoryLimit": STOPPED,
}

# pyomo.contrib.solver.common.results.TerminationCondition names
PYOMO_TERMINATION = {
    "convergenceCriteriaSatisfied": Status.OPTIMAL,
    "provenInfeasible": Status.INFEASIBLE,
    "locallyInfeasible": Status.INFEASIBLE,
    "infeasibleOrUnbounded": Status.INFEASIBLE,
    "maxTimeLimit": STOPPED,
    "iterationLimit": STOPPED,
    "objectiveLimit": STOPPED,
    "minStepLength": STOPPED,
    "interrupted": STOPPED,
}

# pyomo.opt TerminationCondition values of the legacy (shell) interfaces, e.g. CBC
PYOMO_LEGACY_TERMINATION = {
    "optimal": Status.OPTIMAL,
    "globallyOptimal": Status.OPTIMAL,
    "locallyOptimal": Status.OPTIMAL,
    "infeasible": Status.INFEASIBLE,
    "infeasibleOrUnbounded": Status.INFEASIBLE,
    "maxTimeLimit": STOPPED,
    "maxIterations": STOPPED,
    "maxEvaluations": STOPPED,
    "userInterrupt": STOPPED,
    "resourceInterrupt": STOPPED,
    "intermediateNonInteger": STOPPED,
}


def with_plan(mapped: Status | str | None, has_plan: bool) -> Status:
    if mapped is None:
        return Status.ERROR
    if mapped == STOPPED:
        return Status.TIME_LIMIT if has_plan else Status.NO_SOLUTION
    return mapped
