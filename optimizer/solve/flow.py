"""solve(problem, config) -> Result: Lagrangian bound, candidates, CP-SAT, and an honest gap.

The bound reported is valid over every fen price, not just the candidates the model saw: it is
the Lagrangian dual value, or CP-SAT's own bound when the model holds every non-dominated lattice
price (small instances), whichever is lower.
"""

from __future__ import annotations

import time

import numpy as np

from optimizer.load.types import SolverConfig
from optimizer.progress import Progress
from optimizer.score.problem import Problem
from optimizer.solve import phases
from optimizer.solve.lagrange import Multipliers
from optimizer.solve.large import INFEASIBLE_REASON, solve_large
from optimizer.solve.result import (
    INFEASIBLE,
    NO_SOLUTION,
    OPTIMAL,
    Plan,
    Result,
    SolveStats,
    conclude,
    no_plan,
)
from optimizer.solve.warm import WarmStart, import_plan

# From this many offers on, the master is solved in multiplier space (an LP with a row per
# offer is then too slow: GLOP took 1.8 s a round at 25k offers, and longer than a minute at 250k)
LARGE_OFFERS = 20_000


def solve(pb: Problem, config: SolverConfig, *, complete_limit: int = 60_000,
          progress: Progress | None = None, large_offers: int | None = None,
          warm: Multipliers | WarmStart | None = None) -> Result:
    """Bound by column generation, incumbent by diving, then CP-SAT to close what remains.

    `warm` is a neighbouring scenario's `Result.warm_start` (a sweep's previous point), or just
    its multipliers: priced first, they start the master near the optimum. Any multipliers give
    a valid bound, and a carried column is used only where it is a valid choice here (see warm),
    so a poor warm start costs time, never correctness. The neighbour's plan, where it keeps
    every rule here, is the incumbent from the start: no plan ends worse than it.
    """
    if isinstance(warm, Multipliers):
        warm = WarmStart(warm)
    if warm is not None and warm.mult.prog.shape != (len(pb.programs),):
        warm = None  # another program set: nothing to start from
    progress = progress if progress is not None else Progress()
    progress.begin_solve()
    start = time.perf_counter()
    if pb.m == 0:
        return _nothing_to_enroll(pb, start)
    kept = None if warm is None or warm.plan is None else import_plan(pb, warm.plan)
    neighbour = None if kept is None else Plan(*kept)
    if neighbour is not None and not pb.keeps_commitments(neighbour.pv):
        neighbour = None  # it drops or changes a committed row of today's
    if pb.n_offers >= (LARGE_OFFERS if large_offers is None else large_offers):
        return _at_least(pb, config, solve_large(pb, config, progress, start, warm,
                                                  incumbent=neighbour), neighbour)
    s = phases.bound_by_column_generation(pb, config, progress, start, complete_limit,
                                          None if warm is None else warm.mult)
    if pb.proves_no_plan(s.bound):
        return no_plan(INFEASIBLE, time.perf_counter() - start, float("-inf"), s.stats,
                       INFEASIBLE_REASON)
    s.stats.complete = s.complete
    s.neighbour = neighbour
    s.take("neighbour", neighbour)
    phases.lp_rounding(s)
    phases.branch(s)
    if s.best is None and s.bound == float("-inf"):  # every branch closed without a plan
        return no_plan(INFEASIBLE, time.perf_counter() - start, float("-inf"), s.stats,
                       "branch and price proves that no plan meets every constraint (over "
                       "every price)")
    dive_first = phases.dive_first(s)
    if not dive_first:
        phases.core(s)
    phases.lp_dive(s)
    pooled_plan = phases.pooled_fallback(s, polish=False)
    if dive_first and not s.cg.stopped:
        phases.core(s)
    phases.tighten_bound(s)
    if (not s.searched() or (pooled_plan and s.short())) and not s.complete:
        phases.restricted_master(s)
    if s.short():
        phases.focused_model(s)
    if s.short() and s.complete and phases.complete_model(s, complete_limit):
        return no_plan(INFEASIBLE, time.perf_counter() - start, float("-inf"), s.stats,
                       "CP-SAT proves that no plan meets every constraint (over every price)")
    phases.pooled_fallback(s, polish=True)
    if s.best is None and phases.until_the_limit(s, complete_limit):
        return no_plan(INFEASIBLE, time.perf_counter() - start, float("-inf"), s.stats,
                       "CP-SAT proves that no plan meets every constraint (over every price)")
    seconds = time.perf_counter() - start
    if s.best is None:
        return no_plan(NO_SOLUTION, seconds, s.bound / 100, s.stats,
                       "no plan found within the time limit")
    assert s.cg.best is not None
    return conclude(pb, config, s.best, s.bound, seconds, s.stats, s.cg.best.mult)


def _at_least(pb: Problem, config: SolverConfig, result: Result, neighbour: Plan | None
              ) -> Result:
    """The large path's result, or the neighbour's plan where that is better (or the only one);
    a proof of infeasibility stands."""
    if neighbour is None or result.status == INFEASIBLE or (
            result.status != NO_SOLUTION and result.objective * 100 >= neighbour.objective):
        return result
    return conclude(pb, config, neighbour, result.bound * 100, result.seconds, result.stats,
                    result.multipliers, result.columns)


def _nothing_to_enroll(pb: Problem, start: float) -> Result:
    """The empty plan, unless a GMV target needs more."""
    if pb.gmv_min is not None and pb.gmv_min > 0:
        return no_plan(INFEASIBLE, time.perf_counter() - start, float("-inf"), SolveStats(),
                       "no SKU can be enrolled in any program, so no GMV can be reached")
    return Result(OPTIMAL, 0.0, 0.0, 0.0, time.perf_counter() - start, np.zeros(0, np.int64),
                  np.zeros(0, np.int64), SolveStats(pair_variants=0))
