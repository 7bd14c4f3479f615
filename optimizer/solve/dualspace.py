"""Column generation with the master solved in multiplier space, for catalogues too large for an
LP with a row per offer.

The restricted master's dual is min over y >= 0 of M(y) = sum over offers of the best of its
pooled columns' penalised values (or nothing) + b.y: a convex function of a handful of multipliers
(one per capped program, the budget, the GMV target). M is cheap to evaluate over every pooled
column at once, so it is minimised by cutting planes on M itself (a tiny LP in y); the full
Lagrangian L is priced only at M's minimiser, which adds each offer's new best choice to the pool.
Every L(y) is a valid bound over every fen price; M(y) <= L(y) says how far the bound can still
fall. The plan comes from the pool at the best multipliers: offers with a clear choice keep it,
the few in doubt go to CP-SAT with the global rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.progress import Progress
from optimizer.score.problem import Problem
from optimizer.score.rows import GlobalRows
from optimizer.solve.lagrange import Dual, DualPoint, Multipliers, concat_ranges
from optimizer.solve.master import column_sums, fingerprints
from optimizer.solve.warm import Columns, export_columns, import_columns

log = logging.getLogger(__name__)

# M is minimised to this share of the column generation's tolerance: closer is wasted work (the
# stopping test uses the model's lower bound, so a looser minimum only costs a round, never truth)
MODEL_TOL = 0.3
# ... but the last minimum, whose minimiser says which offers are in doubt, is taken closely: at
# a rough minimiser many more offers sit near a tie, and fixing them loses margin (1M SKUs, seed
# 1: 0.0146 % at 0.3x the tolerance, 0.0003 % at 1e-8, for 1 s more)
FINAL_TOL = 1e-8


@dataclass(frozen=True)
class Rows:
    """The binding global rows (`GlobalRows.as_leq`) as `a.x <= b`, scaled so each limit is
    about 1 (y = z / scale)."""

    prog: np.ndarray  # program index per count row
    budget: bool
    gmv: bool
    b: np.ndarray  # (R,) scaled limits
    scale: np.ndarray  # (R,)
    entry: np.ndarray  # (R,) usage entry of each row
    sign: np.ndarray  # (R,) -1 for the GMV target (a >= row)

    @staticmethod
    def of(pb: Problem) -> Rows:
        rows = GlobalRows.of(pb)
        entry, sign, raw = rows.as_leq()
        scale = np.maximum(np.abs(raw), 1.0)
        return Rows(rows.capped, rows.has_budget, rows.has_gmv, raw / scale, scale, entry, sign)

    def usage(self, pb: Problem, usage: np.ndarray) -> np.ndarray:
        """Usage vectors (C, GlobalRows width) -> scaled a (C, R)."""
        return usage[:, self.entry] * self.sign / self.scale

    def z_of(self, mult: Multipliers) -> np.ndarray:
        """The inverse of `multipliers`."""
        y = [mult.prog[k] for k in self.prog]
        if self.budget:
            y.append(mult.budget)
        if self.gmv:
            y.append(mult.gmv)
        return np.array(y, np.float64) * self.scale

    def multipliers(self, pb: Problem, z: np.ndarray) -> Multipliers:
        y = np.maximum(z, 0.0) / self.scale
        prog = np.zeros(len(pb.programs))
        prog[self.prog] = y[: self.prog.size]
        i = self.prog.size
        budget = gmv = 0.0
        if self.budget:
            budget, i = float(y[i]), i + 1
        if self.gmv:
            gmv = float(y[i])
        return Multipliers(prog, budget, gmv)


class Pool:
    """Columns as arrays: offer, margin (fen), usage, scaled row use, and their (pv, price)."""

    def __init__(self, pb: Problem, rows: Rows):
        self.pb, self.rows = pb, rows
        k = GlobalRows.of(pb).width
        self.offer = np.zeros(0, np.int64)
        self.value = np.zeros(0)
        self.usage = np.zeros((0, k))
        self.a = np.zeros((0, rows.b.size))
        self.start = np.zeros(0, np.int64)
        self.length = np.zeros(0, np.int64)
        self._pv: list[np.ndarray] = []
        self._price: list[np.ndarray] = []
        self._stored = 0
        self.finger = np.zeros(0, np.uint64)
        self._finger_sorted = np.zeros(0, np.uint64)  # the same, sorted: for `_known`
        empty = np.zeros(0, np.int64)
        self._order: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] = \
            (empty, empty, empty, empty)
        self._order_size = 0  # the pool size `_order` was computed for

    def __len__(self) -> int:
        return int(self.offer.size)

    def add(self, point: DualPoint) -> int:
        """Each offer's relaxed choice at `point` (that is new) joins the pool."""
        pb = self.pb
        chosen = np.flatnonzero(point.chosen)
        offer_of = pb.sku_offer[pb.pv_sku[chosen]]
        order = np.argsort(offer_of, kind="stable")
        chosen, offer_of = chosen[order], offer_of[order]
        price = point.price[chosen]
        counts = np.bincount(offer_of, minlength=pb.n_offers)
        finger = fingerprints(chosen, price, offer_of, np.arange(pb.n_offers))
        new = ~self._known(finger)
        offers = np.flatnonzero(new)
        keep = new[offer_of]
        # scored only once known to be new (per-column sums: the same bits as scoring all)
        usage, value = column_sums(pb, chosen[keep], price[keep],
                                   (np.cumsum(new) - 1)[offer_of[keep]], offers.size)
        self._pv.append(chosen[keep])
        self._price.append(price[keep])
        self.start = np.append(self.start, self._stored + np.cumsum(counts[offers])
                               - counts[offers])
        self.length = np.append(self.length, counts[offers])
        self._stored += int(keep.sum())
        self.offer = np.append(self.offer, offers)
        self.value = np.append(self.value, value)
        self.usage = np.vstack([self.usage, usage])
        self.a = np.vstack([self.a, self.rows.usage(pb, usage)])
        self._add_fingers(finger[offers])
        return int(offers.size)

    def _known(self, finger: np.ndarray) -> np.ndarray:
        """bool: which fingerprints are in the pool (a binary search in the sorted ones: np.isin
        sorted the pool's every time, 0.1 s a round at 1M SKUs)."""
        known = self._finger_sorted
        if known.size == 0:
            return np.zeros(finger.shape, bool)
        at = np.minimum(np.searchsorted(known, finger), known.size - 1)
        return known[at] == finger

    def _add_fingers(self, finger: np.ndarray) -> None:
        self.finger = np.append(self.finger, finger)
        self._finger_sorted = np.sort(np.concatenate([self._finger_sorted, finger]))

    def add_columns(self, pv: np.ndarray, price: np.ndarray, col: np.ndarray,
                    col_offer: np.ndarray) -> int:
        """Given columns (rows sorted by column; `col_offer` per column) that are not in the pool
        yet join it, scored under this problem's fees (a neighbouring scenario's, see warm)."""
        pb = self.pb
        n_cols = col_offer.size
        if n_cols == 0:
            return 0
        finger = fingerprints(pv, price, col, col_offer)
        new = ~self._known(finger)
        cols = np.flatnonzero(new)
        if cols.size == 0:
            return 0
        renumber = np.cumsum(new) - 1  # scored only once known to be new
        keep = new[col]
        pv, price, col = pv[keep], price[keep], renumber[col[keep]]
        usage, value = column_sums(pb, pv, price, col, cols.size)
        counts = np.bincount(col, minlength=cols.size)
        self._pv.append(pv)
        self._price.append(price)
        self.start = np.append(self.start, self._stored + np.cumsum(counts) - counts)
        self.length = np.append(self.length, counts)
        self._stored += int(pv.size)
        self.offer = np.append(self.offer, col_offer[cols])
        self.value = np.append(self.value, value)
        self.usage = np.vstack([self.usage, usage])
        self.a = np.vstack([self.a, self.rows.usage(pb, usage)])
        self._add_fingers(finger[cols])
        return int(cols.size)

    def export(self, z: np.ndarray) -> Columns:
        """The columns worth carrying to a neighbouring scenario, at multipliers z."""
        pv, price = np.concatenate(self._pv), np.concatenate(self._price)
        return export_columns(self.pb, self.offer, self.value - self.a @ z, self.start,
                              self.length, pv, price)

    def plan(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pv, price = np.concatenate(self._pv), np.concatenate(self._price)
        idx = concat_ranges(self.start[columns], self.length[columns])
        return pv[idx].astype(np.int64), price[idx].astype(np.int64)

    def _sorted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Columns ordered by offer (cached until the pool grows): segment maxima by reduceat.
        Returns (order, segment starts, each segment's offer, each sorted column's segment)."""
        if self._order_size != len(self):
            order = np.argsort(self.offer, kind="stable")
            offers = self.offer[order]
            starts = np.flatnonzero(np.r_[True, offers[1:] != offers[:-1]])
            segment = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, order.size]))
            self._order = (order, starts, offers[starts], segment)
            self._order_size = len(self)
        return self._order

    def model(self, z: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """M(z), a subgradient, each offer's best column (-1: none) and its reduced value."""
        r = self.value - self.a @ z
        order, starts, seg_offer, segment = self._sorted()
        best = np.zeros(self.pb.n_offers)
        col = np.full(self.pb.n_offers, -1, np.int64)
        if order.size:
            r_sorted = r[order]
            seg_best = np.maximum.reduceat(r_sorted, starts)
            # the first column (in pool order) reaching its offer's maximum, if positive
            at_max = r_sorted >= seg_best[segment]
            first = np.flatnonzero(at_max)
            seg_of = segment[first]
            keep = np.r_[True, seg_of[1:] != seg_of[:-1]]
            arg = order[first[keep]]
            pos = (seg_best > 0) | self.pb.must_offers[seg_offer]  # none is no plan of those
            best[seg_offer[pos]] = seg_best[pos]
            col[seg_offer[pos]] = arg[pos]
        taken = col[col >= 0]
        grad = self.rows.b - self.a[taken].sum(axis=0)
        return float(best.sum() + self.rows.b @ z), grad, col, best


class Kelley:
    """Cutting planes on M, kept across rounds: M only grows as columns join the pool, so every
    cut stays below it. Steps stay in a box around the best multipliers (a trust region that
    doubles after a good step and halves after a bad one), so an early model with one column per
    offer cannot send the multipliers far away."""

    def __init__(self, dim: int, upper: np.ndarray, radius: np.ndarray, unit: float):
        # the LP works in units of `unit` fen (about the objective), so its numbers are O(1)
        self.dim, self.unit = dim, unit
        self.upper, self.radius = upper.astype(float), radius.astype(float)
        self.cuts: list[tuple[float, np.ndarray]] = []  # (rhs, grad) in LP units
        self._build()

    def _build(self) -> None:
        # CLP: GLOP (OR-Tools 9.15) reports some of these small, plainly feasible cut systems
        # infeasible, warm or cold (seen on the 10k scenario); CLP solves them
        self.lp = pywraplp.Solver.CreateSolver("CLP") or pywraplp.Solver.CreateSolver("GLOP")
        self.z = [self.lp.NumVar(0.0, float(self.upper[r] / self.unit), "")
                  for r in range(self.dim)]
        self.t = self.lp.NumVar(-self.lp.infinity(), self.lp.infinity(), "")
        obj = self.lp.Objective()
        obj.SetCoefficient(self.t, 1.0)
        obj.SetMinimization()
        for rhs, grad in self.cuts:
            self._row(rhs, grad)

    def _row(self, rhs: float, grad: np.ndarray) -> None:
        row = self.lp.Constraint(rhs, self.lp.infinity())
        row.SetCoefficient(self.t, 1.0)
        for r in range(self.dim):
            row.SetCoefficient(self.z[r], -float(grad[r]))

    def cut(self, z: np.ndarray, value: float, grad: np.ndarray) -> None:
        rhs = value / self.unit - float(grad @ (z / self.unit))
        self.cuts.append((rhs, grad.copy()))
        self._row(rhs, grad)

    def step(self, center: np.ndarray) -> tuple[np.ndarray, float, bool] | None:
        """The model's minimiser in the box around `center`, the model value, on the box edge."""
        lo = np.maximum(center - self.radius, 0.0)
        hi = np.minimum(center + self.radius, self.upper)
        for fresh in (False, True):
            if fresh:  # a cold solve when the warm one fails
                self._build()
            for r in range(self.dim):
                self.z[r].SetBounds(float(lo[r] / self.unit), float(hi[r] / self.unit))
            status = self.lp.Solve()
            if status == pywraplp.Solver.OPTIMAL:
                break
            log.debug("cutting-plane LP status %d%s", status, " (cold)" if fresh else "")
        else:
            return None
        z = np.array([v.solution_value() for v in self.z]) * self.unit
        edge = bool(((z <= lo + 1e-7 * (1 + np.abs(lo))) & (lo > 0)).any()
                    or (z >= hi - 1e-7 * (1 + np.abs(hi))).any())
        return np.clip(z, lo, hi), self.t.solution_value() * self.unit, edge


def minimise_model(pool: Pool, kelley: Kelley, center: np.ndarray, tol: float = 1e-9,
                   max_iter: int = 200) -> tuple[np.ndarray, float, float, bool]:
    """Minimise M in the trust box around `center` by cutting planes: (best z, M there, the
    model's lower bound, whether the minimiser sits on the box's edge)."""
    value, grad, _, _ = pool.model(center)
    kelley.cut(center, value, grad)
    best_z, best_v = center.copy(), value
    lower, edge = -np.inf, False
    n_cuts = 1
    while n_cuts < max_iter:
        n_cuts += 1
        found = kelley.step(center)
        if found is None:
            break
        z, lower, edge = found
        value, grad, _, _ = pool.model(z)
        kelley.cut(z, value, grad)
        if value < best_v:
            best_z, best_v = z, value
        if best_v - lower <= tol * max(abs(best_v), 1.0):
            break
    log.debug("model minimised in %d cuts: %.2f >= %.2f", n_cuts, best_v / 100, lower / 100)
    return best_z, best_v, lower, edge


@dataclass
class DualSpaceResult:
    best: DualPoint
    z: np.ndarray  # minimiser of the final pooled model M (the restricted master's duals)
    pool: Pool
    rounds: int
    model_value: float  # M at the last model minimum (the restricted master's LP value)


def _kelley(pool: Pool, best: DualPoint) -> Kelley:
    """Cutting planes for the pool's model, scaled by the pool's columns and the bound."""
    rows = pool.rows
    # no multiplier beyond the most any single column is worth per unit of a row's use
    a_abs = np.abs(pool.a).max(axis=0) if len(pool) else np.ones(rows.b.size)
    upper = np.maximum(pool.value.max(initial=1.0) / np.maximum(a_abs, 1e-12), 1.0) * 1e3
    # a first step of a few percent of the objective per row (rows are scaled to limit ~1)
    unit = max(abs(best.value), 1.0)
    return Kelley(rows.b.size, upper, np.full(rows.b.size, 0.05 * unit), unit)


def pooled(pb: Problem, points: Sequence[DualPoint]) -> DualSpaceResult:
    """The pooled model over the relaxed choices at `points` (another master's pricings),
    minimised near the best of them: the rounding below can then settle a column generation
    it did not run. The LP master's own rounding knows no tightening, so on catalogues of big
    all-or-none offers it may find no plan where this one does."""
    rows = Rows.of(pb)
    pool = Pool(pb, rows)
    for point in points:
        pool.add(point)
    best = min(points, key=lambda p: p.value)
    z, _, model_value, _ = minimise_model(pool, _kelley(pool, best), rows.z_of(best.mult),
                                          tol=FINAL_TOL)
    return DualSpaceResult(best, z, pool, 0, model_value)


def dual_space_cg(pb: Problem, dual: Dual, *, deadline: float, tol: float,
                  progress: Progress | None = None, max_rounds: int = 40,
                  warm: Callable[[DualPoint], Multipliers | None] | None = None,
                  start: Multipliers | None = None, seed: Columns | None = None,
                  settle: Callable[[DualSpaceResult], bool] | None = None,
                  settle_gap: float = 0.0) -> DualSpaceResult:
    """Price L at the minimiser of the pooled model M until they meet (or time runs out).

    The first pricing is at zero, then at `warm(first point)` if given; or only at `start`, a
    neighbouring scenario's multipliers (a sweep), which saves the pricing at zero. `seed` are
    that scenario's columns: those still valid here join the pool, so the model is rich from the
    first round. With `settle`, once the model is within `settle_gap` of the bound (so a plan
    from the pool can prove that gap) it is asked, once, whether the pool already gives a plan
    that does; if so the column generation stops there.
    """
    rows = Rows.of(pb)
    pool = Pool(pb, rows)
    first_z = rows.z_of(start) if start is not None else np.zeros(rows.b.size)
    best = dual.evaluate(rows.multipliers(pb, first_z))
    best_z = first_z
    pool.add(best)
    if seed is not None:
        added = pool.add_columns(*import_columns(pb, seed))
        log.debug("%d of %d columns carried over from a neighbouring scenario", added,
                  seed.size)
    if progress is not None:
        progress.solver("pricing", None, best.value)
    kelley = _kelley(pool, best)
    guess = warm(best) if warm is not None and start is None else None
    start_z = rows.z_of(guess) if guess is not None else None
    z = first_z
    if start_z is not None:
        point = dual.evaluate(rows.multipliers(pb, start_z))
        pool.add(point)
        if point.value < best.value:
            best, best_z = point, start_z
            if progress is not None:
                progress.solver("pricing", None, best.value)
    model_value = -np.inf
    rounds = 0
    last = 0.0
    for rounds in range(1, max_rounds + 1):
        began = time.perf_counter()
        if began + last > deadline:
            break
        z, _, model_value, edge = minimise_model(pool, kelley, best_z, tol=MODEL_TOL * tol)
        if best.value - model_value <= tol * max(abs(best.value), 1.0) and not edge:
            break
        if settle is not None and not edge and \
                best.value - model_value <= settle_gap * max(abs(best.value), 1.0):
            z_model, _, settled_value, _ = minimise_model(pool, kelley, best_z, tol=FINAL_TOL)
            early = DualSpaceResult(best, z_model, pool, rounds, settled_value)
            if settle(early):
                log.info("dual-space column generation settled after %d rounds, %d columns, "
                         "bound %.2f", rounds, len(pool), best.value / 100)
                return early
            settle = None  # asked once: the rounds below are the usual way
        point = dual.evaluate(rows.multipliers(pb, z))
        if point.value < best.value:  # a good step: trust the model further if it was cut short
            best, best_z = point, z
            if edge:
                kelley.radius *= 4
            if progress is not None:
                progress.solver("pricing", None, best.value)
        else:
            kelley.radius /= 2
        added = pool.add(point)
        log.debug("round %d: L %.2f, model %.2f, %d new columns", rounds, point.value / 100,
                  model_value / 100, added)
        if added == 0:
            break
        last = time.perf_counter() - began
    log.info("dual-space column generation: %d rounds, %d columns, bound %.2f, model %.2f",
             rounds, len(pool), best.value / 100, model_value / 100)
    # the restricted master's duals: the multipliers that say which offers are in doubt
    z_model, _, model_value, _ = minimise_model(pool, kelley, best_z, tol=FINAL_TOL)
    return DualSpaceResult(best, z_model, pool, rounds, model_value)
