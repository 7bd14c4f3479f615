"""solve(problem, config) -> Result: Lagrangian bound, candidates, CP-SAT, and an honest gap.

The bound reported is valid over every fen price, not just the candidates the model saw: it is
the Lagrangian dual value, or CP-SAT's own bound when the model holds every non-dominated lattice
price (small instances), whichever is lower.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from optimizer.load.types import SolverConfig
from optimizer.model.cpsat import build_column_model, build_model
from optimizer.progress import Progress
from optimizer.score.candidates import Candidates, build_candidates, lattice_size, subset
from optimizer.score.problem import Problem, restrict
from optimizer.solve.dualspace import (
    DualSpaceResult,
    dual_space_cg,
    pooled,
    round_flex_lp,
    split_by_doubt,
)
from optimizer.solve.lagrange import Dual, DualPoint, Multipliers, best_prices, penalised_value
from optimizer.solve.master import (
    ColumnGeneration,
    MasterResult,
    column_generation,
    dive,
    plan_of,
    round_lp,
)

log = logging.getLogger(__name__)
cpsat_log = logging.getLogger("optimizer.cpsat")

# CP-SAT deterministic time per second of the time limit. It accrues at ~0.4-0.5 per wall second
# on an idle 2-core machine here: 0.2 leaves the wall limit unreached even when the machine is
# twice as busy or the other phases take half the time, so searches stop on the deterministic
# budget and plans reproduce.
DTIME_PER_LIMIT_SECOND = 0.2
FOCUSED_LIMIT = 400_000  # candidates; beyond this the focused model is left out
FOCUSED_PER_PV = 12  # typical focused candidates per pair-variant, to plan the time
# From this many offers on, the master is solved in multiplier space (an LP with a row per
# offer is then too slow: GLOP took 1.8 s a round at 25k offers, and longer than a minute at 250k)
LARGE_OFFERS = 20_000
ROUND_SECONDS_PER_OFFER = 1e-4  # a master LP + pricing round, per offer (GLOP: 1.8 s at 25k)
SAMPLE_MIN, SAMPLE_MAX = 2_000, 6_000  # offers in the large path's warm-start sample
LARGE_FLEX = 2_000  # offers in doubt on the large path (doubled while the rest leaves no room)
LARGE_FLEX_MAX = 16_000  # beyond this the LP over them costs more than it can save
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
    # the best Lagrangian multipliers met: a warm start for a neighbouring scenario (sweeps)
    multipliers: Multipliers | None = None

    def summary_line(self) -> str:
        return (f"{self.status}: objective {self.objective:,.2f} yuan, bound {self.bound:,.2f}, "
                f"gap {self.gap:.4%} in {self.seconds:.1f} s")


def _gap(bound: float, objective: float) -> float:
    return max(bound - objective, 0.0) / max(abs(objective), 1.0)


class _Clock:
    """Two clocks. The wall deadline is the user's hard stop. CP-SAT's budgets are deterministic
    time, shared out of the time limit alone (never out of the wall time left, which depends on
    how busy the machine is), so where a search stops, and the plan, depend on the input and the
    seed only: the same input and seed give the same plan."""

    def __init__(self, config: SolverConfig, start: float):
        self.config = config
        self.deadline = start + config.time_limit_s
        self.dtime_left = config.time_limit_s * DTIME_PER_LIMIT_SECOND

    def params(self, solver: cp_model.CpSolver, share: float) -> None:
        """Parameters for a CP-SAT phase given `share` of the deterministic time left."""
        params = solver.parameters
        params.max_time_in_seconds = max(self.deadline - time.perf_counter(), 0.1)
        params.max_deterministic_time = max(share * self.dtime_left, 0.05)
        # One worker: CP-SAT's single-threaded search is deterministic for a seed. Its
        # deterministic parallel mode (interleave_search) aborts the process on some of these
        # models in OR-Tools 9.15 ("Check failed: heuristics.fixed_search != nullptr"), and plain
        # parallel search is not reproducible, so `workers` is not spent here.
        params.num_workers = 1
        params.random_seed = self.config.seed
        params.relative_gap_limit = self.config.relative_gap / 4
        if cpsat_log.isEnabledFor(logging.DEBUG):
            params.log_search_progress = True
            params.log_to_stdout = False
            solver.log_callback = cpsat_log.debug

    def spent(self, solver: cp_model.CpSolver) -> None:
        self.dtime_left = max(self.dtime_left - solver.deterministic_time, 0.0)


Stats = dict[str, float | int]


class _StopAt(cp_model.CpSolverSolutionCallback):
    """Stop at the first solution whose objective reaches `target` (model units): the bound is
    known from elsewhere, so a plan within the gap is all CP-SAT is asked for. Where it stops
    depends on the search only, not on the clock."""

    def __init__(self, target: float):
        super().__init__()
        self.target = target

    def on_solution_callback(self) -> None:
        if self.objective_value >= self.target:
            self.stop_search()


def _target(bound_fen: float, config: SolverConfig) -> float:
    """The objective (fen) that proves the gap against a valid bound, with room for rounding."""
    return bound_fen / (1 + config.relative_gap / 2) if bound_fen > 0 else float("inf")


def _run_candidates(pb: Problem, cand: Candidates, clock: _Clock, share: float,
                    hint: np.ndarray | None, timing: dict[str, Any]
                    ) -> tuple[Any, np.ndarray, float, Stats]:
    """CP-SAT over candidate prices; returns status, chosen mask, bound (fen), stats."""
    t0 = time.perf_counter()
    em = build_model(pb, cand)
    timing["model_seconds"] = timing.get("model_seconds", 0.0) + time.perf_counter() - t0
    if hint is not None:  # a complete hint: CP-SAT starts from the incumbent, not a repair
        for var, value in zip(em.x, hint.tolist(), strict=True):
            em.model.add_hint(var, value)
    solver = cp_model.CpSolver()
    clock.params(solver, share)
    status = solver.solve(em.model)
    clock.spent(solver)
    stats: dict[str, float | int] = {"variables": len(em.x), "cpsat_wall": solver.wall_time,
                                     **{f"rows_{k}": v for k, v in em.n_rows.items()}}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, np.zeros(0, bool), float("inf"), stats
    values = np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(em.x)]
    n_pairs = len(em.pair_sku)
    bound_fen = (solver.best_objective_bound + 0.5 * n_pairs) / em.obj_scale
    return status, values.astype(bool), bound_fen, stats


def _run_columns(pb: Problem, mr: MasterResult, clock: _Clock, share: float,
                 timing: dict[str, Any]
                 ) -> tuple[Any, np.ndarray, np.ndarray, Stats]:
    """CP-SAT over generated columns (one per offer at most), hinted by the LP solution."""
    pool = mr.pool
    usage = np.array(pool.usage) if len(pool) else np.zeros((0, len(pb.programs) + 2))
    t0 = time.perf_counter()
    cm = build_column_model(pb, np.array(pool.offer, np.int64), np.array(pool.value), usage)
    timing["model_seconds"] = timing.get("model_seconds", 0.0) + time.perf_counter() - t0
    for i in np.flatnonzero(mr.weights > 0.5):
        cm.model.add_hint(cm.x[i], True)
    solver = cp_model.CpSolver()
    clock.params(solver, share)
    status = solver.solve(cm.model)
    clock.spent(solver)
    stats: dict[str, float | int] = {"columns": len(pool), "cpsat_wall": solver.wall_time}
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status, np.zeros(0, np.int64), np.zeros(0, np.int64), stats
    take = np.flatnonzero(np.array(list(solver.response_proto.solution),
                                   dtype=np.int64)[: len(cm.x)])
    pv = np.concatenate([pool.pv[c] for c in take]) if take.size else np.zeros(0, np.int64)
    price = np.concatenate([pool.price[c] for c in take]) if take.size else np.zeros(0, np.int64)
    return status, pv.astype(np.int64), price.astype(np.int64), stats


def _prune_by_reduced_cost(pb: Problem, dual: Dual, mr: MasterResult, cand: Candidates,
                           best: tuple[float, np.ndarray, np.ndarray]) -> Candidates:
    """Drop candidates that cannot be in a plan better than the incumbent.

    With stock relaxed, L0 = L(lambda*) bounds every plan; forcing (pv, p) lowers its offer's
    value by at least g(best price of pv) - g(p), so L0 - that < incumbent rules p out exactly.
    The incumbent's own prices are kept so the model can return it.
    """
    mult = mr.best.mult
    l0 = dual.evaluate(mult, stock=False).value
    _, g_best, _ = best_prices(pb, mult, 0.0)
    g = penalised_value(pb, mult, cand.pv, cand.price)
    slack = 1e-7 * max(abs(l0), 1.0) + 1.0
    keep = l0 - (g_best[cand.pv] - g) >= best[0] - slack
    keep |= _hint_mask(cand, best[1], best[2])
    log.info("reduced-cost pruning keeps %d of %d candidates", int(keep.sum()), cand.size)
    return subset(cand, keep)


def _run_column_core(pb: Problem, cg: ColumnGeneration, clock: _Clock, share: float,
                     bound_fen: float, timing: dict[str, Any], max_offers: int = 3000
                     ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The restricted master on a core: offers integral in the last LP keep their column, except
    a flex set (fractional offers, then those with the most alternative columns, latest first)
    that may take any of its columns. Small, so CP-SAT settles it fast even at scale."""
    pool = cg.pool
    w = np.zeros(len(pool))
    w[: len(cg.weights)] = cg.weights[: len(pool)]
    offers = np.array(pool.offer, np.int64)
    rounds = np.array(pool.round, np.int64)
    n_cols = np.bincount(offers, minlength=pb.n_offers)
    latest = np.zeros(pb.n_offers, np.int64)
    np.maximum.at(latest, offers, rounds)
    frac = (w > 1e-6) & (w < 1 - 1e-6)
    score = n_cols * 1000 + latest
    score[offers[frac]] = 10**12
    order = np.lexsort((np.arange(pb.n_offers), -score))
    flex = np.zeros(pb.n_offers, bool)
    flex[order[:max_offers]] = True
    flex &= n_cols > 1
    flex[offers[frac]] = True
    fixed_cols = np.flatnonzero((w > 1 - 1e-6) & ~flex[offers])
    usage = np.array(pool.usage)
    offset = usage[fixed_cols].sum(axis=0) if fixed_cols.size else np.zeros(usage.shape[1])
    free_cols = np.flatnonzero(flex[offers])
    t0 = time.perf_counter()
    cm = build_column_model(pb, offers[free_cols], np.array(pool.value)[free_cols],
                            usage[free_cols], offset)
    timing["model_seconds"] = timing.get("model_seconds", 0.0) + time.perf_counter() - t0
    for i, c in enumerate(free_cols):
        if w[c] > 0.5:
            cm.model.add_hint(cm.x[i], True)
    solver = cp_model.CpSolver()
    clock.params(solver, share)
    fixed_value = float(np.array(pool.value)[fixed_cols].sum()) if fixed_cols.size else 0.0
    stop = _StopAt((_target(bound_fen, clock.config) - fixed_value) * cm.obj_scale)
    status = solver.solve(cm.model, stop)
    clock.spent(solver)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    take = np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(cm.x)] > 0
    columns = [*fixed_cols.tolist(), *free_cols[take].tolist()]
    pv, price = plan_of(pool, columns)
    return float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0, pv, price


def _empty(status: str, seconds: float, bound: float, stats: dict[str, float | int | str],
           reason: str) -> Result:
    return Result(status, 0.0, bound, float("inf"), seconds, np.zeros(0, np.int64),
                  np.zeros(0, np.int64), stats, reason)


def _hint_mask(cand: Candidates, pv: np.ndarray, price: np.ndarray) -> np.ndarray:
    key = set(zip(pv.tolist(), price.tolist(), strict=True))
    return np.array([(a, b) in key for a, b in zip(cand.pv.tolist(), cand.price.tolist(),
                                                    strict=True)], dtype=bool)


def _large_core(pb: Problem, ds: DualSpaceResult, clock: _Clock,
                bound_fen: float, timing: dict[str, Any], polish: bool = True
                ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The plan from the pool at the best multipliers: clear choices kept, the offers in doubt
    settled by CP-SAT under the global rows (more of them if the rows cannot be met). Without
    `polish`, the rounded plan as it is (the caller's own CP-SAT phases follow)."""
    pool = ds.pool
    n_flex = min(LARGE_FLEX, pb.n_offers)
    while True:
        began = time.perf_counter()
        fixed, flex = split_by_doubt(pool, ds.z, n_flex)
        rounded = round_flex_lp(pool, fixed, flex)
        # twice the offers cost about three times as long: start it only if it ends in time
        took = time.perf_counter() - began
        if rounded is None and n_flex < min(pb.n_offers, LARGE_FLEX_MAX) and \
                time.perf_counter() + 3 * took < clock.deadline:
            n_flex = min(2 * n_flex, pb.n_offers)  # the fixed rest leaves the rows no room
            continue
        break
    start_plan = None
    if rounded is not None:
        pv, price = pool.plan(rounded)
        start_plan = (float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0, pv,
                      price)
        log.info("LP over %d offers in doubt, rounded: %.2f yuan", flex.size,
                 start_plan[0] / 100)
        if _gap(bound_fen, start_plan[0]) <= clock.config.relative_gap:
            return start_plan  # the gap asked for is proven: polishing would only spend time
    if not polish or time.perf_counter() >= clock.deadline:
        return start_plan  # (the user's time limit is a hard stop)
    offset = pool.usage[fixed].sum(axis=0) if fixed.size else np.zeros(pool.usage.shape[1])
    in_flex = np.zeros(pb.n_offers, bool)
    in_flex[flex] = True
    free = np.flatnonzero(in_flex[pool.offer])
    t0 = time.perf_counter()
    cm = build_column_model(pb, pool.offer[free], pool.value[free], pool.usage[free], offset)
    timing["model_seconds"] = timing.get("model_seconds", 0.0) + time.perf_counter() - t0
    if rounded is not None:  # a complete hint: CP-SAT starts from the rounded LP
        for var, on in zip(cm.x, np.isin(free, rounded).tolist(), strict=True):
            cm.model.add_hint(var, on)
    solver = cp_model.CpSolver()
    # half the deterministic budget: the whole of it can outlast the wall limit on a busy
    # machine (CP-SAT accrues it slower there), and a plan cut by the wall clock is not
    # reproducible
    clock.params(solver, 0.5)
    fixed_value = float(pool.value[fixed].sum())
    status = solver.solve(cm.model, _StopAt((_target(bound_fen, clock.config) - fixed_value)
                                            * cm.obj_scale))
    clock.spent(solver)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        take = np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(cm.x)]
        pv, price = pool.plan(np.concatenate([fixed, free[take > 0]]))
        found = (float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0, pv, price)
        if start_plan is None or found[0] >= start_plan[0]:
            return found
    return start_plan


def _sample_multipliers(pb: Problem, first: DualPoint, seed: int, deadline: float
                        ) -> Multipliers | None:
    """Multipliers from a random sample of offers, each global limit scaled by the sample's share
    of that row's use in the first (unconstrained) pricing. Only a warm start: every bound still
    comes from pricing the full problem."""
    size = min(SAMPLE_MAX, max(SAMPLE_MIN, pb.n_offers // 10))
    if pb.n_offers < 4 * size:
        return None
    sample = np.sort(np.random.default_rng(seed).choice(pb.n_offers, size=size, replace=False))
    chosen = np.flatnonzero(first.chosen)
    ev = pb.evaluate(chosen, first.price[chosen])
    in_sample = np.zeros(pb.n_offers, bool)
    in_sample[sample] = True
    mine = in_sample[pb.sku_offer[pb.pv_sku[chosen]]]

    def share(weights: np.ndarray) -> float:
        total = float(weights.sum())
        return float(weights[mine].sum()) / total if total > 0 else size / pb.n_offers

    prog = pb.pv_prog[chosen]
    max_skus = np.array([-1 if pb.max_skus[k] < 0 else
                         int(pb.max_skus[k] * share((prog == k).astype(float)))
                         for k in range(len(pb.programs))], np.int64)
    sub = restrict(pb, sample, max_skus=max_skus,
                   budget=None if pb.budget is None else pb.budget * share(ev["discount"]),
                   gmv_min=None if pb.gmv_min is None else pb.gmv_min * share(ev["revenue"]))
    ds = dual_space_cg(sub, Dual(sub), deadline=deadline, tol=1e-6)
    if ds.best.value <= 0:  # the scaled sample cannot meet its limits: no guidance
        return None
    log.info("warm start from a sample of %d offers (%d rounds)", size, ds.rounds)
    return ds.best.mult


def _solve_large(pb: Problem, config: SolverConfig, progress: Progress, start: float,
                 warm: Multipliers | None = None) -> Result:
    """Many offers: the master in multiplier space, then a CP-SAT core (see dualspace)."""
    clock = _Clock(config, start)
    ds = dual_space_cg(
        pb, Dual(pb, config.workers), deadline=start + 0.75 * config.time_limit_s,
        tol=config.relative_gap / 20, progress=progress,
        # the sample's own deadline starts when it does: the first full pricing before it may
        # take a while on a busy machine, and a sample cut at its first round guides nothing
        warm=lambda first: _sample_multipliers(
            pb, first, config.seed, time.perf_counter() + 0.15 * config.time_limit_s),
        start=warm)
    bound = ds.best.value
    stats: dict[str, Any] = {"pair_variants": pb.m, "lagrangian_bound": bound / 100,
                             "cg_rounds": ds.rounds, "columns": len(ds.pool),
                             "cg_seconds": time.perf_counter() - start, "complete": 0}
    if bound < -1e-6 * max(1.0, abs(bound)):
        return _empty(INFEASIBLE, time.perf_counter() - start, float("-inf"), stats,
                      "the Lagrangian relaxation proves that no plan meets every constraint")
    t_core = time.perf_counter()
    best = _large_core(pb, ds, clock, bound, stats)
    stats["core_seconds"] = time.perf_counter() - t_core
    seconds = time.perf_counter() - start
    if best is None:
        return _empty(NO_SOLUTION, seconds, bound / 100, stats,
                      "no plan found within the time limit")
    progress.solver("core", best[0], bound)
    objective_fen, pv, price = best
    bound_fen = max(bound, objective_fen)
    gap = _gap(bound_fen / 100, objective_fen / 100)
    return Result(OPTIMAL if gap <= config.relative_gap else FEASIBLE, objective_fen / 100,
                  bound_fen / 100, gap, seconds, pv, price, stats, multipliers=ds.best.mult)


def solve(pb: Problem, config: SolverConfig, *, complete_limit: int = 60_000,
          progress: Progress | None = None, large_offers: int | None = None,
          warm: Multipliers | None = None) -> Result:
    """Bound by column generation, incumbent by diving, then CP-SAT to close what remains.

    `warm` is a neighbouring scenario's `Result.multipliers` (a sweep's previous point): priced
    first, it starts the master near the optimum. Any multipliers give a valid bound, so a poor
    warm start costs time, never correctness.
    """
    if warm is not None and warm.prog.shape != (len(pb.programs),):
        warm = None  # another program set: nothing to start from
    progress = progress if progress is not None else Progress()
    progress.begin_solve()
    start = time.perf_counter()
    clock = _Clock(config, start)
    if pb.m == 0:  # nothing can be enrolled: the empty plan, unless a GMV target needs more
        if pb.gmv_min is not None and pb.gmv_min > 0:
            return _empty(INFEASIBLE, time.perf_counter() - start, float("-inf"), {},
                          "no SKU can be enrolled in any program, so no GMV can be reached")
        return Result(OPTIMAL, 0.0, 0.0, 0.0, time.perf_counter() - start,
                      np.zeros(0, np.int64), np.zeros(0, np.int64), {"pair_variants": 0})
    if pb.n_offers >= (LARGE_OFFERS if large_offers is None else large_offers):
        return _solve_large(pb, config, progress, start, warm)
    dual = Dual(pb, config.workers)
    cg = column_generation(pb, dual, deadline=start + 0.45 * config.time_limit_s,
                           progress=progress, warm=warm)
    mr = cg.result()
    lag_bound = mr.best.value  # fen, valid over every fen price
    stats: dict[str, float | int | str] = {
        "pair_variants": pb.m, "lagrangian_bound": lag_bound / 100, "cg_rounds": mr.rounds,
        "cg_seconds": time.perf_counter() - start}
    log.info("Lagrangian bound %.2f yuan, LP %.2f, %d columns (%.1f s)", lag_bound / 100,
             mr.lp_value / 100, len(mr.pool), time.perf_counter() - start)
    if lag_bound < -1e-6 * max(1.0, abs(lag_bound)):
        return _empty(INFEASIBLE, time.perf_counter() - start, float("-inf"), stats,
                      "the Lagrangian relaxation proves that no plan meets every constraint")
    complete = lattice_size(pb) <= complete_limit
    stats["complete"] = int(complete)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    rounded = round_lp(cg)
    if rounded is not None:
        best = (rounded[0], *plan_of(cg.pool, rounded[1]))
        progress.solver("LP rounding", best[0], lag_bound)

    def run_core() -> None:
        """Settle the offers in doubt on the clean LP: a small restricted master."""
        nonlocal best
        if complete or (best is not None and _gap(lag_bound, best[0]) <= config.relative_gap):
            return
        t_core = time.perf_counter()
        core = _run_column_core(pb, cg, clock, 0.5, lag_bound, stats)
        stats["core_seconds"] = time.perf_counter() - t_core
        if core is not None and (best is None or core[0] > best[0]):
            best = core
            progress.solver("core", best[0], lag_bound)

    # A dive step costs about two pricing rounds: cheap on small catalogues, where the dive is
    # the better primal; on large ones the core comes first (the dive changes the LP it reads).
    # Decided from the size, not a measured round time, so a busy machine takes the same path.
    dive_first = 8 * ROUND_SECONDS_PER_OFFER * pb.n_offers <= 0.3 * config.time_limit_s
    if not dive_first:
        run_core()
    if best is None or _gap(lag_bound, best[0]) > config.relative_gap / 4:
        t_dive = time.perf_counter()
        dived = dive(cg, lag_bound, config.relative_gap / 4, start + 0.7 * config.time_limit_s)
        stats["dive_seconds"] = time.perf_counter() - t_dive
        if dived is not None and (best is None or dived[0] > best[0]):
            best = (dived[0], *plan_of(cg.pool, dived[1]))
            progress.solver("dive", best[0], lag_bound)
    pooled_plan = False
    if best is None and not complete:
        # No rounding of the LP master kept the rows (big all-or-none offers: rounding one up
        # breaks a limit, down misses the GMV target). The multiplier-space rounding tightens
        # the rows until one does: run it over the same pricings, without its CP-SAT polish
        # (the phases below make better use of that budget, and may still find better).
        t_pool = time.perf_counter()
        assert cg.best is not None
        best = _large_core(pb, pooled(pb, cg.points), clock, min(lag_bound, cg.best.value),
                           stats, polish=False)
        stats["pooled_seconds"] = time.perf_counter() - t_pool
        if best is not None:
            pooled_plan = True
            progress.solver("pooled rounding", best[0], lag_bound)
    if dive_first and not cg.stopped:
        run_core()
    # multipliers met during the dive bound the original problem too (pricing ignores fixings)
    assert cg.best is not None
    lag_bound = min(lag_bound, cg.best.value)
    stats["lagrangian_bound"] = lag_bound / 100
    bound = lag_bound

    def short(best: tuple[float, np.ndarray, np.ndarray] | None) -> bool:
        return best is None or _gap(bound, best[0]) > config.relative_gap

    def keep(best: tuple[float, np.ndarray, np.ndarray] | None, value: float, pv: np.ndarray,
             price: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        return best if best is not None and best[0] >= value else (value, pv, price)

    if (best is None or (pooled_plan and short(best))) and not complete:
        # the restricted master: each offer picks one of its generated columns
        focused_fits = pb.m * FOCUSED_PER_PV <= FOCUSED_LIMIT
        status, pv, price, cstats = _run_columns(
            pb, cg.result(), clock, 0.3 if focused_fits else 1.0, stats)
        stats.update(cstats)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            best = keep(best, float(pb.evaluate(pv, price)["margin"].sum()), pv, price)
            progress.solver("restricted master", best[0], bound)
    if short(best):
        # a focused model: prices the duals and columns proposed, a few fen around them
        col_pv, col_price = plan_of(cg.pool, list(range(len(cg.pool))))
        near_pv = np.concatenate([col_pv] * 5)
        near_price = np.concatenate([col_price + d * pb.step for d in (0, -1, 1, -2, 2)])
        focused = build_candidates(pb, [p.price for p in mr.points], ladder_points=4,
                                   complete_limit=0, extra=(near_pv, near_price))
        if focused.size <= FOCUSED_LIMIT:
            hint = _hint_mask(focused, best[1], best[2]) if best is not None else None
            share = 0.15 if complete else 1.0
            status, chosen, _, cstats = _run_candidates(
                pb, focused, clock, share, hint, stats)
            stats.update({f"focused_{k}": v for k, v in cstats.items()})
            if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
                best = keep(best, float(focused.margin[chosen].sum()), focused.pv[chosen],
                            focused.price[chosen])
                progress.solver("focused model", best[0], bound)
    if short(best) and complete:
        # every non-dominated lattice price: CP-SAT's own bound is then valid for every price
        cand = build_candidates(pb, [p.price for p in mr.points], complete_limit=complete_limit,
                                extra=(best[1], best[2]) if best is not None else None)
        if best is not None:
            cand = _prune_by_reduced_cost(pb, dual, mr, cand, best)
        hint = _hint_mask(cand, best[1], best[2]) if best is not None else None
        status, chosen, cp_bound, cstats = _run_candidates(
            pb, cand, clock, 1.0, hint, stats)
        stats.update(cstats)
        stats["candidates"] = cand.size
        if status == cp_model.INFEASIBLE:
            return _empty(INFEASIBLE, time.perf_counter() - start, float("-inf"), stats,
                          "CP-SAT proves that no plan meets every constraint (over every price)")
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            bound = min(bound, cp_bound)
            best = keep(best, float(cand.margin[chosen].sum()), cand.pv[chosen],
                        cand.price[chosen])
            progress.solver("complete model", best[0], bound)
    if best is None and not complete:
        # No rounding of the LP master kept the rows and CP-SAT found no plan from its columns
        # (big all-or-none offers: rounding one up breaks a limit, down misses the GMV target).
        # The multiplier-space rounding tightens the rows until one does: run it over the same
        # pricings, with what is left of the budget.
        t_pool = time.perf_counter()
        best = _large_core(pb, pooled(pb, cg.points), clock, bound, stats)
        stats["pooled_seconds"] = time.perf_counter() - t_pool
        if best is not None:
            progress.solver("pooled rounding", best[0], bound)
    seconds = time.perf_counter() - start
    if best is None:
        return _empty(NO_SOLUTION, seconds, bound / 100, stats,
                      "no plan found within the time limit")
    _, pv, price = best
    objective_fen = float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0
    bound_fen = max(bound, objective_fen)
    objective = objective_fen / 100
    gap = _gap(bound_fen / 100, objective)
    return Result(OPTIMAL if gap <= config.relative_gap else FEASIBLE, objective, bound_fen / 100,
                  gap, seconds, pv.astype(np.int64), price.astype(np.int64), stats,
                  multipliers=cg.best.mult)
