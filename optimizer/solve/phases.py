"""The LP master's phases, each a small function over the state they share (`LpMaster`).

Column generation gives the bound; LP rounding, the dive and a CP-SAT core give plans; the
restricted master, a focused model and (on small catalogues) the complete model close the gap;
the pooled rounding is the fallback when no rounding of the LP keeps the global rows.
`flow.solve` lists them in order.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np

from optimizer.load.types import SolverConfig
from optimizer.model.cpsat import build_column_model, build_model
from optimizer.progress import Progress
from optimizer.score.candidates import Candidates, build_candidates, lattice_size, subset
from optimizer.score.problem import Problem
from optimizer.score.rows import GlobalRows
from optimizer.solve.branch import branch_and_price
from optimizer.solve.dualspace import pooled
from optimizer.solve.lagrange import Dual, Multipliers, best_prices, penalised_value
from optimizer.solve.large import pooled_rounding
from optimizer.solve.master import (
    ColumnGeneration,
    ColumnPool,
    MasterResult,
    column_generation,
    dive,
    plan_of,
    round_lp,
)
from optimizer.solve.result import Plan, SolveStats, gap
from optimizer.solve.runner import DTIME_PER_LIMIT_SECOND, Clock, Run, run_cpsat, target

log = logging.getLogger(__name__)

FOCUSED_LIMIT = 400_000  # candidates; beyond this the focused model is left out
FOCUSED_PER_PV = 12  # typical focused candidates per pair-variant, to plan the time
ROUND_SECONDS_PER_OFFER = 1e-4  # a master LP + pricing round, per offer (GLOP: 1.8 s at 25k)
BRANCH_OFFERS = 5000  # branch and price up to this many offers (its work budget bounds its time)
BRANCH_NODES_PER_S = 50  # its node budget per second of the time limit
BRANCH_SHARE = 0.7  # and its share of the time limit, a hard stop (the phases after it rarely
# close what it leaves open on a small catalogue)
# Its work budget per second of the time limit (branch.py: a pricing call is 1 + m / 1000
# units, ~4 ms a unit on the 2-core machine, ~10 ms at a load of 5): the search stops on it,
# at the same node for the same input, well before the wall stop above
BRANCH_WORK_PER_S = 60
BRANCH_IMPROVE_SHARE = 0.04  # of CP-SAT's deterministic time left, per restricted master in it


@dataclass
class LpMaster:
    """What the phases share: the column generation, the bound (fen) and the incumbent."""

    pb: Problem
    config: SolverConfig
    progress: Progress
    start: float
    clock: Clock
    dual: Dual
    cg: ColumnGeneration
    mr: MasterResult  # the column generation as it ended (before any dive)
    stats: SolveStats
    complete: bool  # small enough for the complete model (every non-dominated lattice price)
    bound: float  # fen, valid over every fen price
    best: Plan | None = None
    neighbour: Plan | None = None  # a sweep neighbour's plan, feasible here (the first `best`)

    def searched(self) -> bool:
        """A plan of this solve's own search is held (not only the neighbour's): the fallbacks
        (pooled rounding, restricted master) still run while only the neighbour's is."""
        return self.best is not None and self.best is not self.neighbour

    def short(self, gap_limit: float | None = None) -> bool:
        """No plan yet, or one further from the bound than the gap asked for."""
        limit = self.config.relative_gap if gap_limit is None else gap_limit
        return self.best is None or gap(self.bound, self.best.objective) > limit

    def take(self, phase: str, found: Plan | None, report_kept: bool = False) -> None:
        """Keep `found` if it beats the incumbent (a tie keeps the earlier), and say so; a CP-SAT
        phase (`report_kept`) reports the incumbent even when it kept it."""
        if found is None:
            return
        if not self.pb.keeps_commitments(found.pv):
            log.warning("%s: a plan that drops or changes a committed row of today's was "
                        "ignored", phase)
            return
        improved = self.best is None or found.objective > self.best.objective
        if improved:
            self.best = found
        if improved or report_kept:
            assert self.best is not None
            self.progress.solver(phase, self.best.objective, self.bound)

    def timed(self, name: str, began: float) -> None:
        setattr(self.stats, name, time.perf_counter() - began)


def bound_by_column_generation(pb: Problem, config: SolverConfig, progress: Progress,
                               start: float, complete_limit: int,
                               warm: Multipliers | None) -> LpMaster:
    """The Lagrangian bound by column generation over offers (the LP master)."""
    dual = Dual(pb, config.workers)
    cg = column_generation(pb, dual, deadline=start + 0.45 * config.time_limit_s,
                           progress=progress, warm=warm)
    mr = cg.result()
    lag_bound = mr.best.value  # fen, valid over every fen price
    stats = SolveStats(pair_variants=pb.m, lagrangian_bound=lag_bound / 100, cg_rounds=mr.rounds,
                       cg_seconds=time.perf_counter() - start)
    log.info("Lagrangian bound %.2f yuan, LP %.2f, %d columns (%.1f s)", lag_bound / 100,
             mr.lp_value / 100, len(mr.pool), time.perf_counter() - start)
    return LpMaster(pb, config, progress, start, Clock(config, start), dual, cg, mr, stats,
                    complete=lattice_size(pb) <= complete_limit, bound=lag_bound)


def lp_rounding(s: LpMaster) -> None:
    rounded = round_lp(s.cg)
    if rounded is not None:
        s.take("LP rounding", Plan(rounded[0], *plan_of(s.cg.pool, rounded[1])))


def branch(s: LpMaster) -> None:
    """Small catalogues: branch on the LP's mixtures until the bound meets the plan (see
    branch.py). Deterministic: a node budget from the time limit, the wall limit a hard stop."""
    if s.pb.n_offers > BRANCH_OFFERS or not s.short():
        return
    began = time.perf_counter()

    def improve(pool: ColumnPool) -> Plan | None:
        usage = np.array(pool.usage)
        t0 = time.perf_counter()
        cm = build_column_model(s.pb, np.array(pool.offer, np.int64), np.array(pool.value),
                                usage)
        s.stats.add_model_seconds(time.perf_counter() - t0)
        run = run_cpsat(cm.model, cm.x, s.clock, BRANCH_IMPROVE_SHARE)
        if not run.found:
            return None
        pv, price = plan_of(pool, np.flatnonzero(run.chosen).tolist())
        return Plan(float(s.pb.evaluate(pv, price)["margin"].sum()), pv, price)

    found = branch_and_price(s.pb, s.dual, s.cg, s.best, s.bound, s.config.relative_gap,
                             s.start + BRANCH_SHARE * s.config.time_limit_s,
                             max_nodes=int(BRANCH_NODES_PER_S * s.config.time_limit_s),
                             improve=improve,
                             max_work=BRANCH_WORK_PER_S * s.config.time_limit_s)
    s.stats.branch_nodes = found.nodes
    s.timed("branch_seconds", began)
    s.bound = min(s.bound, found.bound)  # >= found.best: that plan was the incumbent's rival
    s.take("branch and price", found.best, report_kept=True)


def dive_first(s: LpMaster) -> bool:
    """A dive step costs about two pricing rounds: cheap on small catalogues, where the dive is
    the better primal; on large ones the core comes first (the dive changes the LP it reads).
    Decided from the size, not a measured round time, so a busy machine takes the same path."""
    return 8 * ROUND_SECONDS_PER_OFFER * s.pb.n_offers <= 0.3 * s.config.time_limit_s


def core(s: LpMaster, max_offers: int = 3000) -> None:
    """Settle the offers in doubt on the clean LP: a small restricted master. Offers integral in
    the last LP keep their column, except a flex set (fractional offers, then those with the most
    alternative columns, latest first) that may take any of its columns. Small, so CP-SAT settles
    it fast even at scale."""
    if s.complete or not s.short():
        return
    t_core = time.perf_counter()
    pb, pool = s.pb, s.cg.pool
    w = np.zeros(len(pool))
    w[: len(s.cg.weights)] = s.cg.weights[: len(pool)]
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
    s.stats.add_model_seconds(time.perf_counter() - t0)
    fixed_value = float(np.array(pool.value)[fixed_cols].sum()) if fixed_cols.size else 0.0
    run = run_cpsat(cm.model, cm.x, s.clock, 0.5, hint=w[free_cols] > 0.5, partial_hint=True,
                    stop_at=(target(s.bound, s.config) - fixed_value) * cm.obj_scale)
    plan = None
    if run.found:
        pv, price = plan_of(pool, [*fixed_cols.tolist(), *free_cols[run.chosen].tolist()])
        plan = Plan(float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0, pv, price)
    s.timed("core_seconds", t_core)
    s.take("core", plan)


def lp_dive(s: LpMaster) -> None:
    """Fix fractional columns one by one and re-price around them (see master.dive)."""
    if not s.short(s.config.relative_gap / 4):
        return
    t_dive = time.perf_counter()
    dived = dive(s.cg, s.bound, s.config.relative_gap / 4,
                 s.start + 0.7 * s.config.time_limit_s)
    s.timed("dive_seconds", t_dive)
    if dived is not None:
        s.take("dive", Plan(dived[0], *plan_of(s.cg.pool, dived[1])))


def pooled_fallback(s: LpMaster, polish: bool) -> bool:
    """No rounding of the LP master kept the rows (big all-or-none offers: rounding one up breaks
    a limit, down misses the GMV target). The multiplier-space rounding tightens the rows until
    one does, over the same pricings. Early (`polish` off) the CP-SAT phases that follow make
    better use of the budget; last, it gets what is left. Whether it found a plan."""
    if s.searched() or s.complete:
        return False
    return _pooled(s, polish)


def _pooled(s: LpMaster, polish: bool) -> bool:
    t_pool = time.perf_counter()
    assert s.cg.best is not None
    found = pooled_rounding(s.pb, pooled(s.pb, s.cg.points), s.clock,
                            min(s.bound, s.cg.best.value), s.stats, polish=polish)
    s.timed("pooled_seconds", t_pool)
    s.take("pooled rounding", found)
    return found is not None


def tighten_bound(s: LpMaster) -> None:
    """Multipliers met during the dive bound the original problem too (pricing ignores
    fixings)."""
    assert s.cg.best is not None
    s.bound = min(s.bound, s.cg.best.value)
    s.stats.lagrangian_bound = s.bound / 100


def restricted_master(s: LpMaster) -> None:
    """CP-SAT over the generated columns: each offer picks one of its columns or none, hinted by
    the LP solution."""
    mr = s.cg.result()
    pool = mr.pool
    usage = np.array(pool.usage) if len(pool) else np.zeros((0, GlobalRows.of(s.pb).width))
    t0 = time.perf_counter()
    cm = build_column_model(s.pb, np.array(pool.offer, np.int64), np.array(pool.value), usage)
    s.stats.add_model_seconds(time.perf_counter() - t0)
    focused_fits = s.pb.m * FOCUSED_PER_PV <= FOCUSED_LIMIT
    run = run_cpsat(cm.model, cm.x, s.clock, 0.3 if focused_fits else 1.0,
                    hint=mr.weights > 0.5, partial_hint=True)
    s.stats.columns, s.stats.cpsat_wall = len(pool), run.wall
    if run.found:
        pv, price = plan_of(pool, np.flatnonzero(run.chosen).tolist())
        s.take("restricted master", Plan(float(s.pb.evaluate(pv, price)["margin"].sum()), pv,
                                         price), report_kept=True)


def _hint_mask(cand: Candidates, plan: Plan | None) -> np.ndarray | None:
    if plan is None:
        return None
    key = set(zip(plan.pv.tolist(), plan.price.tolist(), strict=True))
    return np.array([(a, b) in key for a, b in zip(cand.pv.tolist(), cand.price.tolist(),
                                                    strict=True)], dtype=bool)


def _run_candidates(s: LpMaster, cand: Candidates, share: float
                    ) -> tuple[Run, float, dict[str, int], int]:
    """CP-SAT over candidate prices from the incumbent: the run, its bound (fen), the model's
    row counts and its size."""
    t0 = time.perf_counter()
    em = build_model(s.pb, cand)
    s.stats.add_model_seconds(time.perf_counter() - t0)
    run = run_cpsat(em.model, em.x, s.clock, share, hint=_hint_mask(cand, s.best))
    bound_fen = (run.bound + 0.5 * len(em.pair_sku)) / em.obj_scale
    return run, bound_fen, dict(em.n_rows), len(em.x)


def _candidate_plan(cand: Candidates, chosen: np.ndarray) -> Plan:
    return Plan(float(cand.margin[chosen].sum()), cand.pv[chosen], cand.price[chosen])


def focused_model(s: LpMaster) -> None:
    """The duals' prices and the columns' prices, a few fen around them."""
    col_pv, col_price = plan_of(s.cg.pool, list(range(len(s.cg.pool))))
    near_pv = np.concatenate([col_pv] * 5)
    near_price = np.concatenate([col_price + d * s.pb.step for d in (0, -1, 1, -2, 2)])
    focused = build_candidates(s.pb, [p.price for p in s.mr.points], ladder_points=4,
                               complete_limit=0, extra=(near_pv, near_price))
    if focused.size > FOCUSED_LIMIT:
        return
    run, _, rows, size = _run_candidates(s, focused, 0.15 if s.complete else 1.0)
    s.stats.focused_variables, s.stats.focused_cpsat_wall = size, run.wall
    s.stats.focused_rows = rows
    if run.found:
        s.take("focused model", _candidate_plan(focused, run.chosen), report_kept=True)


def _prune_by_reduced_cost(s: LpMaster, cand: Candidates, best: Plan) -> Candidates:
    """Drop candidates that cannot be in a plan better than the incumbent.

    With stock relaxed, L0 = L(lambda*) bounds every plan; forcing (pv, p) lowers its offer's
    value by at least g(best price of pv) - g(p), so L0 - that < incumbent rules p out exactly.
    The incumbent's own prices are kept so the model can return it.
    """
    mult = s.mr.best.mult
    l0 = s.dual.evaluate(mult, stock=False).value
    _, g_best, _ = best_prices(s.pb, mult, 0.0)
    g = penalised_value(s.pb, mult, cand.pv, cand.price)
    slack = 1e-7 * max(abs(l0), 1.0) + 1.0
    keep = l0 - (g_best[cand.pv] - g) >= best.objective - slack
    hint = _hint_mask(cand, best)
    assert hint is not None
    keep |= hint
    log.info("reduced-cost pruning keeps %d of %d candidates", int(keep.sum()), cand.size)
    return subset(cand, keep)


def complete_model(s: LpMaster, complete_limit: int) -> bool:
    """Every non-dominated lattice price: CP-SAT's own bound is then valid for every price.
    Whether CP-SAT proves that no plan meets every constraint."""
    best = s.best
    cand = build_candidates(s.pb, [p.price for p in s.mr.points], complete_limit=complete_limit,
                            extra=(best.pv, best.price) if best is not None else None)
    if best is not None:
        cand = _prune_by_reduced_cost(s, cand, best)
    run, cp_bound, rows, size = _run_candidates(s, cand, 1.0)
    s.stats.variables, s.stats.cpsat_wall, s.stats.rows = size, run.wall, rows
    s.stats.candidates = cand.size
    if run.infeasible:
        return True
    if run.found:
        s.bound = min(s.bound, cp_bound)
        s.take("complete model", _candidate_plan(cand, run.chosen), report_kept=True)
    return False


def until_the_limit(s: LpMaster, complete_limit: int) -> bool:
    """No plan, yet wall time is left: the phases' deterministic budgets ran out, not the time
    limit, and NO_SOLUTION is for the time limit alone. The pooled rounding (which the complete
    path skips) and the last model are searched again with twice the deterministic budget each
    time (the whole solve's, then double that, ...; each still deterministic, so a plan found
    before the wall deadline reproduces) until a plan, a proof, searches that end short of their
    budgets (more would find nothing more), or the time limit. Whether CP-SAT proves that no
    plan meets every constraint."""
    budget = max(2 * s.config.time_limit_s * DTIME_PER_LIMIT_SECOND, 0.1)
    while s.best is None and time.perf_counter() < s.clock.deadline:
        s.clock.dtime_left = budget
        log.info("no plan yet, %.1f s left: searching again with %.2f deterministic s",
                 s.clock.deadline - time.perf_counter(), budget)
        _pooled(s, polish=True)  # the rounding made for rows no rounding of the LP keeps
        if s.best is not None:
            break
        left = s.clock.dtime_left  # the pooled rounding's CP-SAT has half the budget
        if s.complete:
            if complete_model(s, complete_limit):
                return True
        elif s.pb.m * FOCUSED_PER_PV <= FOCUSED_LIMIT:
            focused_model(s)
        else:
            restricted_master(s)
        if left > 0.51 * budget and s.clock.dtime_left > 0.01 * left:
            break  # both ended before their budgets (or did not run): no plan in their models
        budget *= 2
    return False
