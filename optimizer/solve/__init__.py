"""solve(problem, config) -> Result: Lagrangian bound, candidates, CP-SAT, and an honest gap.

The bound reported is valid over every fen price, not just the candidates the model saw: it is
the Lagrangian dual value, or CP-SAT's own bound when the model holds every non-dominated lattice
price (small instances), whichever is lower.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from optimizer.load.types import SolverConfig
from optimizer.model.cpsat import build_model
from optimizer.score.candidates import Candidates, build_candidates
from optimizer.score.problem import Problem
from optimizer.solve.lagrange import Dual, optimise_dual

log = logging.getLogger(__name__)
cpsat_log = logging.getLogger("optimizer.cpsat")

OPTIMAL, FEASIBLE, INFEASIBLE, NO_SOLUTION = "OPTIMAL", "FEASIBLE", "INFEASIBLE", "NO_SOLUTION"


@dataclass(frozen=True)
class Result:
    status: str
    objective: float  # yuan, exact sum over the plan's candidates
    bound: float  # yuan, valid upper bound over every fen price
    gap: float
    seconds: float
    pv: np.ndarray  # chosen pair-variants
    price: np.ndarray  # fen
    stats: dict[str, float | int | str] = field(default_factory=dict)
    infeasible_reason: str = ""

    def summary_line(self) -> str:
        return (f"{self.status}: objective {self.objective:,.2f} yuan, bound {self.bound:,.2f}, "
                f"gap {self.gap:.4%} in {self.seconds:.1f} s")


def _gap(bound: float, objective: float) -> float:
    return max(bound - objective, 0.0) / max(abs(objective), 1.0)


def _run_cpsat(pb: Problem, cand: Candidates, config: SolverConfig, time_left: float,
               hint: np.ndarray | None) -> tuple[int, np.ndarray, float, dict[str, float | int]]:
    em = build_model(pb, cand)
    if hint is not None:
        for i in np.flatnonzero(hint):
            em.model.add_hint(em.x[i], True)
    solver = cp_model.CpSolver()
    params = solver.parameters
    params.max_time_in_seconds = max(time_left, 0.1)
    params.num_workers = config.workers
    params.random_seed = config.seed
    params.relative_gap_limit = config.relative_gap / 4
    if config.workers > 1:
        params.interleave_search = True  # same input and seed -> same plan
    if cpsat_log.isEnabledFor(logging.DEBUG):
        params.log_search_progress = True
        params.log_to_stdout = False
        solver.log_callback = lambda line: cpsat_log.debug(line)
    status = solver.solve(em.model)
    stats: dict[str, float | int] = {"variables": len(em.x), "cpsat_wall": solver.wall_time,
                                     **{f"rows_{k}": v for k, v in em.n_rows.items()}}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, np.zeros(0, bool), float("inf"), stats
    values = np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(em.x)].astype(bool)
    n_pairs = len(em.pair_sku)
    bound_fen = (solver.best_objective_bound + 0.5 * n_pairs) / em.obj_scale
    return status, values, bound_fen, stats


def solve(pb: Problem, config: SolverConfig, *, complete_limit: int = 200_000) -> Result:
    start = time.perf_counter()
    dual = Dual(pb)
    best, points = optimise_dual(pb, dual)
    lag_bound = best.value  # fen
    log.info("Lagrangian bound %.2f yuan after %d evaluations (%.1f s)", lag_bound / 100,
             len(points), time.perf_counter() - start)
    if lag_bound < -1e-6 * max(1.0, abs(lag_bound)):
        return Result(INFEASIBLE, 0.0, float("-inf"), float("inf"),
                      time.perf_counter() - start, np.zeros(0, np.int64), np.zeros(0, np.int64),
                      {"lagrangian_bound": lag_bound / 100},
                      "the Lagrangian relaxation proves that no plan meets every constraint")
    suggestions = [p.price for p in points[-12:]]
    cand = build_candidates(pb, suggestions, complete_limit=complete_limit)
    hint_key = set(zip(np.flatnonzero(best.chosen).tolist(),
                       best.price[best.chosen].tolist(), strict=True))
    hint = np.array([(int(a), int(b)) in hint_key for a, b in zip(cand.pv, cand.price,
                                                                   strict=True)])
    log.info("%d candidates for %d pair-variants (%s)", cand.size, pb.m,
             "complete lattice" if cand.complete else "ladder + dual prices")
    time_left = config.time_limit_s - (time.perf_counter() - start)
    status, chosen, cp_bound, stats = _run_cpsat(pb, cand, config, time_left, hint)
    seconds = time.perf_counter() - start
    stats.update({"candidates": cand.size, "pair_variants": pb.m, "complete": int(cand.complete),
                  "lagrangian_bound": lag_bound / 100, "dual_evaluations": len(points)})
    if status == cp_model.INFEASIBLE:
        if cand.complete:
            return Result(INFEASIBLE, 0.0, float("-inf"), float("inf"), seconds,
                          np.zeros(0, np.int64), np.zeros(0, np.int64), stats,
                          "CP-SAT proves that no plan meets every constraint")
        return Result(NO_SOLUTION, 0.0, lag_bound / 100, float("inf"), seconds,
                      np.zeros(0, np.int64), np.zeros(0, np.int64), stats,
                      "no plan found among the candidate prices")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Result(NO_SOLUTION, 0.0, lag_bound / 100, float("inf"), seconds,
                      np.zeros(0, np.int64), np.zeros(0, np.int64), stats,
                      "no plan found within the time limit")
    objective_fen = float(cand.margin[chosen].sum())
    bound_fen = lag_bound
    if cand.complete:
        bound_fen = min(bound_fen, cp_bound)
    bound_fen = max(bound_fen, objective_fen)
    objective, bound = objective_fen / 100, bound_fen / 100
    gap = _gap(bound, objective)
    result_status = OPTIMAL if gap <= config.relative_gap else FEASIBLE
    stats["cpsat_bound"] = cp_bound / 100 if cand.complete else float("nan")
    return Result(result_status, objective, bound, gap, seconds, cand.pv[chosen],
                  cand.price[chosen], stats)
