"""The large-catalogue path: the master in multiplier space, then the plan by pooled rounding.

From `flow.LARGE_OFFERS` offers on, an LP with a row per offer is too slow (GLOP took 1.8 s a
round at 25k offers, longer than a minute at 250k), so the master is `dualspace`'s. Its plan:
each offer's best pooled column at the best multipliers, the offers in doubt settled by an LP
rounded to keep the global rows (tightened until it does), then polished by CP-SAT under those
rows. The LP master's path falls back on the same pooled rounding when its own finds no plan.
"""

from __future__ import annotations

import itertools
import logging
import time

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.load.types import SolverConfig
from optimizer.model.cpsat import build_column_model
from optimizer.progress import Progress
from optimizer.score.problem import Problem, restrict
from optimizer.score.rows import GlobalRows
from optimizer.solve.dualspace import DualSpaceResult, Pool, dual_space_cg
from optimizer.solve.lagrange import Dual, DualPoint, Multipliers
from optimizer.solve.result import (
    INFEASIBLE,
    NO_SOLUTION,
    Plan,
    Result,
    SolveStats,
    better,
    conclude,
    gap,
    no_plan,
)
from optimizer.solve.runner import DTIME_PER_LIMIT_SECOND, Clock, run_cpsat, target
from optimizer.solve.warm import WarmStart

log = logging.getLogger(__name__)

SAMPLE_MIN, SAMPLE_MAX = 2_000, 6_000  # offers in the large path's warm-start sample
LARGE_FLEX = 2_000  # offers in doubt on the large path (doubled while the rest leaves no room)
LARGE_FLEX_MAX = 16_000  # beyond this the LP over them costs more than it can save
# columns per offer in doubt that enter the LP over them: the best few at the master's
# multipliers (a column far down its offer's list there only makes that LP slower)
FLEX_COLUMNS = 3
INFEASIBLE_REASON = "the Lagrangian relaxation proves that no plan meets every constraint"


def split_by_doubt(pool: Pool, z: np.ndarray, n_flex: int, per_offer: int = FLEX_COLUMNS
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At multipliers z, each offer's best pooled column (or none); the `n_flex` offers whose
    best and second-best choices are closest are in doubt. Returns (fixed columns, flex offers,
    each flex offer's `per_offer` best real columns at z, sorted).
    """
    pb = pool.pb
    _, _, col, best = pool.model(z)
    r = pool.value - pool.a @ z
    # an empty column is the "none" option itself: never a second choice
    real = (pool.value != 0) | (pool.usage != 0).any(axis=1)
    others = np.where((np.arange(len(pool)) == col[pool.offer]) | ~real, -np.inf, r)
    second = np.full(pb.n_offers, -np.inf)
    np.maximum.at(second, pool.offer, others)
    # taking a column, the runner-up is the best other column or none (0); taking none, it is
    # the best column
    second = np.where(col >= 0, np.maximum(second, 0.0), second)
    chosen_r = np.where(col >= 0, best, 0.0)
    regret = chosen_r - second  # >= 0; inf where the offer has no real alternative
    # an offer holding a locked row of today's keeps its best column: none is not its plan
    has = np.isfinite(regret) & ~pb.must_offers
    order = np.lexsort((np.arange(pb.n_offers), regret))
    order = order[has[order]]
    flex = np.zeros(pb.n_offers, bool)
    flex[order[:n_flex]] = True
    fixed = col[(col >= 0) & ~flex]
    cand = np.flatnonzero(flex[pool.offer] & real)
    cand = cand[np.lexsort((cand, -r[cand], pool.offer[cand]))]  # by offer, best first
    offers = pool.offer[cand]
    first = np.flatnonzero(np.r_[True, offers[1:] != offers[:-1]]) if cand.size else cand
    rank = np.arange(cand.size) - np.repeat(first, np.diff(np.r_[first, cand.size]))
    return fixed, np.flatnonzero(flex), np.sort(cand[rank < per_offer])


def _lp_solver(n_vars: int) -> pywraplp.Solver:
    """CLP where the ortools wheel has it (faster than GLOP on the LP over the offers in doubt),
    else GLOP. Both are deterministic. Not CLP for a model without variables: through MPSolver,
    CLP crashes the process on one (ortools 9.x: a segmentation fault)."""
    lp = (pywraplp.Solver.CreateSolver("CLP") if n_vars else None) or \
        pywraplp.Solver.CreateSolver("GLOP")
    if lp is None:
        raise RuntimeError("ortools offers neither CLP nor GLOP")
    return lp


def round_flex_lp(pool: Pool, fixed: np.ndarray, free: np.ndarray, max_fractional: int = 10,
                  attempts: int = 6) -> np.ndarray | None:
    """The restricted master LP over the offers in doubt (their columns `free`, sorted; the rest
    fixed), rounded.

    A basic LP solution has at most one fractional offer per global row; each takes one of its
    columns or none, the best combination that keeps the rows. When none does, the LP is
    re-solved with the broken rows tightened by what rounding breaks them by, and after a few
    tries by the GMV that rounding every fractional offer down would lose (the <= rows only gain
    from rounding down), which always leaves a rounding that fits. Returns columns, or None.
    """
    pb = pool.pb
    offset = pool.usage[fixed].sum(axis=0) if fixed.size else np.zeros(pool.usage.shape[1])
    rows, layout = pool.rows, GlobalRows.of(pb)
    a = pool.a[free]
    limit = rows.b - rows.usage(pb, offset[None, :])[0]
    lp = _lp_solver(free.size)
    x = [lp.NumVar(0.0, 1.0, "") for _ in range(free.size)]
    obj = lp.Objective()
    for i, c in enumerate(free.tolist()):
        obj.SetCoefficient(x[i], float(pool.value[c]) / 100)
    obj.SetMaximization()
    order = np.argsort(pool.offer[free], kind="stable")
    offers = pool.offer[free][order]
    bounds = np.flatnonzero(np.r_[True, offers[1:] != offers[:-1], True])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
        row = lp.Constraint(-lp.infinity(), 1.0)
        for i in order[lo:hi].tolist():
            row.SetCoefficient(x[i], 1.0)
    global_rows = []
    for r in range(limit.size):
        row = lp.Constraint(-lp.infinity(), float(limit[r]))
        for i in np.flatnonzero(a[:, r]).tolist():
            row.SetCoefficient(x[i], float(a[i, r]))
        global_rows.append(row)
    tightened = np.zeros(limit.size)
    best: tuple[float, list[int]] | None = None
    for attempt in range(attempts):
        status = lp.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            log.debug("flex LP status %d", status)
            return None
        w = np.array([v.solution_value() for v in x])
        whole = free[w > 1 - 1e-6]
        frac = np.flatnonzero((w > 1e-6) & (w < 1 - 1e-6))
        frac_offers = sorted(set(pool.offer[free[frac]].tolist()))
        if len(frac_offers) > max_fractional:
            log.debug("flex LP: %d fractional offers", len(frac_offers))
            return None
        base = np.concatenate([fixed, whole])
        base_usage = pool.usage[base].sum(axis=0) if base.size else \
            np.zeros(pool.usage.shape[1])
        base_value = float(pool.value[base].sum())
        options = [[-1, *free[frac][pool.offer[free[frac]] == o].tolist()]
                   for o in frac_offers]
        for pick in itertools.product(*options):
            cols = [c for c in pick if c >= 0]
            usage = base_usage + (pool.usage[cols].sum(axis=0) if cols else 0.0)
            value = base_value + (float(pool.value[cols].sum()) if cols else 0.0)
            if layout.fits(usage) and (best is None or value > best[0]):
                best = (value, [*base.tolist(), *cols])
        log.debug("flex LP %.2f yuan: %d fractional offers, rounding %s", lp.Objective().Value(),
                  len(frac_offers), "fits" if best is not None else "breaks a row")
        if best is not None:
            break
        base_use = rows.usage(pb, base_usage[None, :])[0]
        if attempt < attempts // 2:
            # No rounding fits: tighten the rows that rounding the heavier half up breaks, by
            # what it breaks (against the limits as fits reads them: a hair inside)
            natural = [c for c in free[frac].tolist() if w[np.searchsorted(free, c)] >= 0.5]
            usage = base_usage + (pool.usage[natural].sum(axis=0) if natural else 0.0)
            strict = rows.b - np.abs(rows.b) * 2e-12
            over = np.maximum(rows.usage(pb, usage[None, :])[0] - strict, 0.0) * 1.5
        else:
            # Still none: rounding every fractional offer down keeps the <= rows and only loses
            # GMV, so ask the LP for that much more GMV; the next basis rounds down.
            over = np.zeros(limit.size)
            if rows.gmv and frac.size:
                k_rev = layout.revenue
                over[-1] = float((w[frac] * pool.usage[free[frac], k_rev]).sum()) / \
                    rows.scale[-1]
            over = np.maximum(over, np.maximum(base_use - rows.b, 0.0))
        over += np.abs(rows.b) * 4e-12 + 1e-12
        log.debug("tightening the rows by %s", over)
        tightened += over
        for r, row in enumerate(global_rows):
            row.SetUb(float(limit[r] - tightened[r]))
    if best is None:
        return None
    return np.array(best[1], np.int64)


def _plan(pb: Problem, pool: Pool, columns: np.ndarray) -> Plan:
    pv, price = pool.plan(columns)
    return Plan(float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0, pv, price)


def pooled_rounding(pb: Problem, ds: DualSpaceResult, clock: Clock, bound_fen: float,
                    stats: SolveStats, polish: bool = True, grow: bool = True,
                    incumbent: Plan | None = None) -> Plan | None:
    """The plan from the pool at the best multipliers: clear choices kept, the offers in doubt
    settled by CP-SAT under the global rows (more of them if the rows cannot be met, with
    `grow`). Without `polish`, the rounded plan as it is (the caller's own CP-SAT phases
    follow). `incumbent` (a sweep neighbour's plan, valid here) competes with the rounding: when
    it already proves the gap, there is nothing to polish."""
    pool = ds.pool
    n_flex = min(LARGE_FLEX, pb.n_offers)
    while True:
        began = time.perf_counter()
        fixed, flex, flex_cols = split_by_doubt(pool, ds.z, n_flex)
        rounded = round_flex_lp(pool, fixed, flex_cols)
        # twice the offers cost about three times as long: start it only if it ends in time
        took = time.perf_counter() - began
        if rounded is None and grow and n_flex < min(pb.n_offers, LARGE_FLEX_MAX) and \
                time.perf_counter() + 3 * took < clock.deadline:
            n_flex = min(2 * n_flex, pb.n_offers)  # the fixed rest leaves the rows no room
            continue
        break
    start_plan = None
    if rounded is not None:
        start_plan = _plan(pb, pool, rounded)
        log.info("LP over %d offers in doubt, rounded: %.2f yuan", flex.size,
                 start_plan.objective / 100)
    start_plan = better(start_plan, incumbent)
    if start_plan is not None and gap(bound_fen, start_plan.objective) <= clock.config.relative_gap:
        return start_plan  # the gap asked for is proven: polishing would only spend time
    if not polish or time.perf_counter() >= clock.deadline:
        return start_plan  # (the user's time limit is a hard stop)
    offset = pool.usage[fixed].sum(axis=0) if fixed.size else np.zeros(pool.usage.shape[1])
    in_flex = np.zeros(pb.n_offers, bool)
    in_flex[flex] = True
    free = np.flatnonzero(in_flex[pool.offer])
    t0 = time.perf_counter()
    cm = build_column_model(pb, pool.offer[free], pool.value[free], pool.usage[free], offset)
    stats.add_model_seconds(time.perf_counter() - t0)
    fixed_value = float(pool.value[fixed].sum())
    # half the deterministic budget: the whole of it can outlast the wall limit on a busy
    # machine (CP-SAT accrues it slower there), and a plan cut by the wall clock is not
    # reproducible. A complete hint: CP-SAT starts from the rounded LP.
    run = run_cpsat(cm.model, cm.x, clock, 0.5,
                    hint=np.isin(free, rounded) if rounded is not None else None,
                    stop_at=(target(bound_fen, clock.config) - fixed_value) * cm.obj_scale)
    if run.found:
        found = _plan(pb, pool, np.concatenate([fixed, free[run.chosen]]))
        if start_plan is None or found.objective >= start_plan.objective:
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
                   gmv_min=None if pb.gmv_min is None else pb.gmv_min * share(ev["gmv"]))
    ds = dual_space_cg(sub, Dual(sub), deadline=deadline, tol=1e-6)
    if ds.best.value <= 0:  # the scaled sample cannot meet its limits: no guidance
        return None
    log.info("warm start from a sample of %d offers (%d rounds)", size, ds.rounds)
    return ds.best.mult


def solve_large(pb: Problem, config: SolverConfig, progress: Progress, start: float,
                warm: WarmStart | None = None, incumbent: Plan | None = None) -> Result:
    """Many offers: the master in multiplier space, then the pooled rounding and its polish.

    Warm-started (a sweep's neighbour), the bound is near its final value from the first pricing
    and the neighbour's columns make the pool rich, so as soon as the model says a plan can prove
    half the gap asked for, the rounding is tried once; when it proves the gap, the solve ends
    there (the rounding is deterministic: so is where it ends).
    """
    clock = Clock(config, start)
    settled: list[Plan] = []
    t_settle = 0.0

    def settle(early: DualSpaceResult) -> bool:
        nonlocal t_settle
        began = time.perf_counter()
        # (unpolished: no CP-SAT model is built, so nothing for the stats)
        plan = pooled_rounding(pb, early, clock, early.best.value, SolveStats(), polish=False,
                               grow=False)
        t_settle += time.perf_counter() - began
        if plan is None or gap(early.best.value, plan.objective) > config.relative_gap:
            return False
        settled.append(plan)
        return True

    ds = dual_space_cg(
        pb, Dual(pb, config.workers), deadline=start + 0.75 * config.time_limit_s,
        tol=config.relative_gap / 20, progress=progress,
        # the sample's own deadline starts when it does: the first full pricing before it may
        # take a while on a busy machine, and a sample cut at its first round guides nothing
        warm=lambda first: _sample_multipliers(
            pb, first, config.seed, time.perf_counter() + 0.15 * config.time_limit_s),
        start=None if warm is None else warm.mult,
        seed=None if warm is None else warm.columns,
        settle=None if warm is None else settle, settle_gap=config.relative_gap / 2)
    bound = ds.best.value
    stats = SolveStats(pair_variants=pb.m, lagrangian_bound=bound / 100, cg_rounds=ds.rounds,
                       columns=len(ds.pool), cg_seconds=time.perf_counter() - start - t_settle,
                       complete=False)
    if pb.proves_no_plan(bound):
        return no_plan(INFEASIBLE, time.perf_counter() - start, float("-inf"), stats,
                       INFEASIBLE_REASON)
    t_core = time.perf_counter()
    best = settled[0] if settled else pooled_rounding(pb, ds, clock, bound, stats,
                                                      incumbent=incumbent)
    budget = max(2 * config.time_limit_s * DTIME_PER_LIMIT_SECOND, 0.1)
    while best is None and time.perf_counter() < clock.deadline:
        # NO_SOLUTION is for the time limit alone: CP-SAT's deterministic budget ran out, not
        # the wall clock, so search the offers in doubt again with twice the budget (each still
        # deterministic: a plan found before the wall deadline reproduces)
        clock.dtime_left = budget
        log.info("no plan yet, %.1f s left: the pooled rounding again with %.2f deterministic s",
                 clock.deadline - time.perf_counter(), budget)
        best = pooled_rounding(pb, ds, clock, bound, stats)
        if best is None and clock.dtime_left > 0.51 * budget:
            break  # CP-SAT ended before its budget: there is nothing more in its model
        budget *= 2
    stats.core_seconds = t_settle + time.perf_counter() - t_core
    seconds = time.perf_counter() - start
    if best is None:
        return no_plan(NO_SOLUTION, seconds, bound / 100, stats,
                       "no plan found within the time limit")
    progress.solver("core", best.objective, bound)
    return conclude(pb, config, best, bound, seconds, stats, ds.best.mult,
                    ds.pool.export(ds.z))
