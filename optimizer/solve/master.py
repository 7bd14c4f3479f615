"""Column generation (Dantzig-Wolfe) over offers: the multipliers of the Lagrangian bound.

A column is one offer's complete choice (which SKUs in which programs at which prices) with its
margin and its use of the global rows. The master LP mixes columns under the global rows; its
duals are the next multipliers; pricing an offer is the Lagrangian evaluation. Disaggregated per
offer this converges in a few dozen rounds, and every round's Lagrangian value is a valid bound.
A basic LP solution has at most as many fractional offers as there are global rows, so the
integer plan is close at hand.

Kept whole: the column pool, the master LP, the generation rounds and the
rounding/dive all act on one ColumnGeneration's state (fix and forbid change its LP in place).
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass, field

import numpy as np
from ortools.linear_solver import pywraplp

from optimizer.progress import Progress
from optimizer.score.problem import Problem
from optimizer.score.rows import GlobalRows
from optimizer.solve.lagrange import Dual, DualPoint, Multipliers

log = logging.getLogger(__name__)

# Every global row of the master LP has a penalised slack so the LP always solves (a dive may
# fix columns that overrun a row); a plan is only read from an LP whose slacks are all zero.
SHORTFALL_PENALTY = 1e4  # yuan of margin per yuan of GMV short or of discount over budget
SLOT_PENALTY = 1e6  # yuan per SKU over max_skus
# An offer that has no empty plan (a branch turned one of its all-or-none programs on) must take
# one of its columns; its convexity row is = 1 with this penalised slack, so the LP still solves
# while no column fits, and a branch's LP never reads "nothing" where nothing is not a plan.
EMPTY_PENALTY = 1e7  # yuan per offer left without a plan


@dataclass
class ColumnPool:
    """Columns in the order generated; members are pv and price arrays (fen)."""

    offer: list[int] = field(default_factory=list)
    value: list[float] = field(default_factory=list)  # fen
    usage: list[np.ndarray] = field(default_factory=list)  # GlobalRows usage vectors
    pv: list[np.ndarray] = field(default_factory=list)
    price: list[np.ndarray] = field(default_factory=list)
    round: list[int] = field(default_factory=list)  # the round that generated it
    state: list[int] = field(default_factory=list)  # the offer state it was priced in
    fingerprint: list[int] = field(default_factory=list)
    seen: set[tuple[int, int]] = field(default_factory=set)  # (offer, fingerprint)

    def __len__(self) -> int:
        return len(self.offer)


@dataclass(frozen=True)
class MasterResult:
    best: DualPoint  # lowest Lagrangian bound found
    points: list[DualPoint]
    pool: ColumnPool
    weights: np.ndarray  # LP weight per column
    lp_value: float  # fen
    rounds: int


def mix64(x: np.ndarray) -> np.ndarray:
    """A 64-bit mixer (splitmix64 finaliser), wrapping: for fingerprints of columns."""
    x = x.astype(np.uint64)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def fingerprints(pv: np.ndarray, price: np.ndarray, group: np.ndarray, ids: np.ndarray
                 ) -> np.ndarray:
    """An order-free 64-bit fingerprint of each group's (pv, price) pairs, salted by the group's
    id: how a column already in a pool is recognised without comparing arrays."""
    with np.errstate(over="ignore"):
        fp = mix64(pv.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
                  + mix64(price.astype(np.uint64)))
        out = np.zeros(ids.size, np.uint64)
        np.add.at(out, group, fp)
        return mix64(out + mix64(ids.astype(np.uint64)))


def column_sums(pb: Problem, pv: np.ndarray, price: np.ndarray, group: np.ndarray,
                n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group of (pv, price): its use of the global rows (see GlobalRows) and its margin
    (fen)."""
    ev = pb.evaluate(pv, price)
    usage = GlobalRows.of(pb).usage(pb, pv, group, n_groups, ev)
    return usage, np.bincount(group, ev["margin"], minlength=n_groups)


def _columns_from_point(pb: Problem, point: DualPoint, offers: np.ndarray, pool: ColumnPool,
                        round_no: int) -> list[int]:
    """Add each listed offer's relaxed choice at `point` as a column (once); new column ids.

    Array-at-a-time: a column's usage and value are sums over its pvs, and a column already in
    the pool is recognised by a fingerprint of its (pv, price) pairs.
    """
    chosen = np.flatnonzero(point.chosen)
    offer_of = pb.sku_offer[pb.pv_sku[chosen]]
    listed = np.zeros(pb.n_offers, bool)
    listed[offers] = True
    keep = listed[offer_of]
    chosen, offer_of = chosen[keep], offer_of[keep]
    order = np.argsort(offer_of, kind="stable")
    chosen, offer_of = chosen[order], offer_of[order]
    starts = np.searchsorted(offer_of, offers)
    ends = np.searchsorted(offer_of, offers, side="right")
    price = point.price[chosen]
    seg = np.repeat(np.arange(offers.size), ends - starts)
    finger = fingerprints(chosen, price, seg, offers)
    usage, value = column_sums(pb, chosen, price, seg, offers.size)
    added = []
    for i, (o, f) in enumerate(zip(offers.tolist(), finger.tolist(), strict=True)):
        key = (o, f)
        if key in pool.seen:
            continue
        pool.seen.add(key)
        a, b = starts[i], ends[i]
        pool.offer.append(o)
        pool.value.append(float(value[i]))
        pool.usage.append(usage[i])
        pool.pv.append(chosen[a:b])
        pool.price.append(price[a:b])
        pool.round.append(round_no)
        pool.state.append(int(point.offer_state[o]))
        pool.fingerprint.append(f)
        added.append(len(pool) - 1)
    return added


class MasterNotSolved(RuntimeError):
    """GLOP stopped (time limit) before an optimal basis: column generation ends here."""


class _MasterLP:
    def __init__(self, pb: Problem, must: np.ndarray | None = None):
        self.pb = pb
        self.must = must  # bool (n_offers,): offers without an empty plan, or None
        self.lp = pywraplp.Solver.CreateSolver("GLOP")
        # dual simplex without presolve re-solves after each batch of columns 5-10x faster than
        # GLOP's default here (measured at 100k SKUs: 22-32 s -> 1.5-4 s per round)
        self.lp.SetSolverSpecificParametersAsString(
            "use_dual_simplex: true use_preprocessing: false")
        self.k_count = len(pb.programs)
        self.global_rows = rows = GlobalRows.of(pb)
        inf = self.lp.infinity()
        self.convex: dict[int, pywraplp.Constraint] = {}
        self.rows: dict[int, pywraplp.Constraint] = {}
        self.objective = self.lp.Objective()
        self.objective.SetMaximization()
        self.slacks: list[pywraplp.Variable] = []

        def slack(row: pywraplp.Constraint, sign: float, penalty: float, on: bool = False) -> None:
            var = self.lp.NumVar(0, inf if on else 0.0, "")
            row.SetCoefficient(var, sign)
            self.objective.SetCoefficient(var, -penalty)
            self.slacks.append(var)

        # rows keyed by their usage entry; money rows in yuan
        for k in rows.capped:
            self.rows[int(k)] = self.lp.Constraint(-inf, float(pb.max_skus[k]))
            slack(self.rows[int(k)], -1.0, SLOT_PENALTY)
        if rows.budget is not None:
            self.rows[rows.discount] = self.lp.Constraint(-inf, rows.budget / 100)
            slack(self.rows[rows.discount], -1.0, SHORTFALL_PENALTY)
        if rows.gmv_min is not None and rows.has_gmv:
            self.rows[rows.revenue] = self.lp.Constraint(rows.gmv_min / 100, inf)
            slack(self.rows[rows.revenue], 1.0, SHORTFALL_PENALTY, on=True)
        self.vars: list[pywraplp.Variable] = []

    def add(self, pool: ColumnPool, ids: list[int]) -> None:
        for c in ids:
            var = self.lp.NumVar(0.0, 1.0, "")
            self.vars.append(var)
            o = pool.offer[c]
            if o not in self.convex:
                if self.must is not None and self.must[o]:
                    self.convex[o] = self.lp.Constraint(1.0, 1.0)
                    empty = self.lp.NumVar(0.0, 1.0, "")
                    self.convex[o].SetCoefficient(empty, 1.0)
                    self.objective.SetCoefficient(empty, -EMPTY_PENALTY)
                else:
                    self.convex[o] = self.lp.Constraint(-self.lp.infinity(), 1.0)
            self.convex[o].SetCoefficient(var, 1.0)
            usage = pool.usage[c]
            for r, ct in self.rows.items():
                coef = usage[r] if r < self.k_count else usage[r] / 100
                if coef:
                    ct.SetCoefficient(var, float(coef))
            self.objective.SetCoefficient(var, pool.value[c] / 100)

    def allow_overrun(self) -> None:
        """Once columns are fixed, rows may be overrun at a penalty rather than make the LP fail."""
        for var in self.slacks:
            var.SetUb(self.lp.infinity())

    def shortfall(self) -> float:
        return float(sum(v.solution_value() for v in self.slacks))

    def solve(self, deadline: float | None = None) -> tuple[float, Multipliers, np.ndarray,
                                                           np.ndarray]:
        if deadline is not None:
            self.lp.SetTimeLimit(max(int((deadline - time.perf_counter()) * 1000), 100))
        status = self.lp.Solve()
        if status != pywraplp.Solver.OPTIMAL:
            raise MasterNotSolved(f"master LP status {status}")
        prog = np.zeros(self.k_count)
        budget = gmv = 0.0
        for r, ct in self.rows.items():
            dual = abs(ct.dual_value())
            if r < self.k_count:
                prog[r] = dual * 100  # yuan per slot -> fen per slot
            elif r == self.global_rows.discount:
                budget = dual
            else:
                gmv = dual
        pi = np.zeros(self.pb.n_offers)
        for o, ct in self.convex.items():
            pi[o] = ct.dual_value() * 100  # signed: an offer that must take a plan may lose
        weights = np.array([v.solution_value() for v in self.vars])
        value = self.objective.Value() * 100
        return value, Multipliers(prog, budget, gmv), pi, weights


class ColumnGeneration:
    """The master LP, its column pool and the Lagrangian pricing, kept between rounds so that a
    dive can fix offers and re-price the rest."""

    def __init__(self, pb: Problem, dual: Dual, progress: Progress | None = None,
                 warm: Multipliers | None = None, allowed: np.ndarray | None = None,
                 seed: ColumnPool | None = None):
        self.pb, self.dual = pb, dual
        self.allowed = allowed  # offer states per offer (a branch), see Dual.evaluate
        self.progress = progress
        self.pool = ColumnPool()
        must: np.ndarray | None = None
        if allowed is not None or pb.force.any():
            ok = dual.empty_ok()
            must = np.asarray(~(ok if allowed is None else allowed & ok).any(axis=0))
        self.master = _MasterLP(pb, must)
        self.points: list[DualPoint] = []
        self.best: DualPoint | None = None
        self.rounds = 0
        self.lp_value = 0.0
        self.weights = np.zeros(0)
        self.shortfall = 0.0
        self.stopped = False  # the LP hit the time limit: weights are from an earlier round
        if seed is not None:
            self._seed(seed)
        zero = Multipliers(np.zeros(len(pb.programs)), 0.0, 0.0)
        # a branch starts from its parent's columns and multipliers: no pricing at zero
        first = (zero,) if warm is None else (warm,) if seed is not None else (zero, warm)
        for mult in first:
            self._price(mult, np.arange(pb.n_offers), np.full(pb.n_offers, -np.inf))

    def _seed(self, other: ColumnPool) -> None:
        """Another pool's columns whose offer state this branch allows."""
        ids = []
        for c in range(len(other)):
            o, st = other.offer[c], other.state[c]
            if self.allowed is not None and not self.allowed[st, o]:
                continue
            key = (o, int(other.fingerprint[c]))
            if key in self.pool.seen:
                continue
            self.pool.seen.add(key)
            for name in ("offer", "value", "usage", "pv", "price", "round", "state",
                         "fingerprint"):
                getattr(self.pool, name).append(getattr(other, name)[c])
            ids.append(len(self.pool) - 1)
        self.master.add(self.pool, ids)

    def _price(self, mult: Multipliers, offers: np.ndarray, pi: np.ndarray) -> int:
        point = self.dual.evaluate(mult, allowed=self.allowed)
        self.points.append(point)
        if self.best is None or point.value < self.best.value:
            self.best = point
            if self.progress is not None:
                self.progress.solver("column generation", None, point.value)
        finite = np.isfinite(pi[offers])
        threshold = np.full(offers.size, -np.inf)
        threshold[finite] = pi[offers][finite] * (1 + 1e-6 * np.sign(pi[offers][finite])) + 1e-6
        improving = offers[point.offer_value[offers] > threshold]
        ids = _columns_from_point(self.pb, point, improving, self.pool, self.rounds)
        self.master.add(self.pool, ids)
        return len(ids)

    def run(self, max_rounds: int, tol: float, deadline: float | None,
            bound_stop: bool = True) -> None:
        """Rounds of LP + pricing until no column improves (or the bound meets the LP).

        A round is not started when the last one says it would end past the deadline; the LP
        always ends solved over every column added.
        """
        all_offers = np.arange(self.pb.n_offers)
        stale = True
        last_round = 0.0
        for _ in range(max_rounds):
            if deadline is not None and time.perf_counter() + last_round > deadline:
                break
            began = time.perf_counter()
            self.rounds += 1
            try:
                self.lp_value, mult, pi, self.weights = self.master.solve(deadline)
            except MasterNotSolved:
                log.info("master LP stopped at the time limit after %d rounds", self.rounds)
                self.stopped = True
                return
            self.shortfall = self.master.shortfall()
            stale = False
            assert self.best is not None
            log.debug("round %d: bound %.2f LP %.2f columns %d", self.rounds,
                      self.best.value / 100, self.lp_value / 100, len(self.pool))
            if bound_stop and self.best.value - self.lp_value <= tol * max(abs(self.best.value), 1):
                break
            if self._price(mult, all_offers, pi) == 0:
                break
            stale = True
            last_round = time.perf_counter() - began
        if stale:
            try:
                self.lp_value, _, _, self.weights = self.master.solve(deadline)
                self.shortfall = self.master.shortfall()
            except MasterNotSolved:
                self.stopped = True

    def fractional(self) -> np.ndarray:
        w = self.weights[: len(self.master.vars)]
        return np.flatnonzero((w > 1e-6) & (w < 1 - 1e-6))

    def fix(self, column: int) -> None:
        self.master.allow_overrun()
        self.master.vars[column].SetBounds(1.0, 1.0)

    def forbid(self, column: int) -> None:
        self.master.vars[column].SetBounds(0.0, 0.0)

    def result(self) -> MasterResult:
        assert self.best is not None
        w = self.weights
        if len(w) < len(self.pool):
            w = np.append(w, np.zeros(len(self.pool) - len(w)))
        return MasterResult(self.best, self.points, self.pool, w, self.lp_value, self.rounds)


def column_generation(pb: Problem, dual: Dual, *, max_rounds: int = 60, tol: float = 2e-6,
                      deadline: float | None = None, progress: Progress | None = None,
                      warm: Multipliers | None = None) -> ColumnGeneration:
    """Alternate master LP and pricing until the Lagrangian bound meets the LP value."""
    cg = ColumnGeneration(pb, dual, progress, warm)
    cg.run(max_rounds, tol, deadline)
    assert cg.best is not None
    log.info("column generation: %d rounds, %d columns, bound %.2f, LP %.2f", cg.rounds,
             len(cg.pool), cg.best.value / 100, cg.lp_value / 100)
    return cg


def round_lp(cg: ColumnGeneration, max_fractional: int = 8) -> tuple[float, list[int]] | None:
    """Integral columns as they are; each fractional offer takes one of its columns or none,
    the best combination that keeps the global rows. Returns (margin fen, columns) or None."""
    pool, w = cg.pool, cg.weights
    offers = np.array(pool.offer, np.int64)
    integral = np.flatnonzero(w > 1 - 1e-6)
    frac = cg.fractional()
    frac_offers = sorted(set(offers[frac].tolist()))
    if len(frac_offers) > max_fractional:
        return None
    rows = GlobalRows.of(cg.pb)
    base_usage = np.sum([pool.usage[c] for c in integral], axis=0) if integral.size else \
        rows.zeros()
    base_value = float(sum(pool.value[c] for c in integral))
    must = cg.pb.must_offers
    options = [[-1] * (not must[o]) + frac[offers[frac] == o].tolist() for o in frac_offers]
    covered = np.zeros(cg.pb.n_offers, bool)
    covered[offers[integral]] = True
    covered[frac_offers] = True
    if (must & ~covered).any():  # an offer holding a locked row has no column to take
        return None
    best: tuple[float, list[int]] | None = None
    for pick in itertools.product(*options):
        cols = [c for c in pick if c >= 0]
        usage = base_usage + (np.sum([pool.usage[c] for c in cols], axis=0) if cols else 0.0)
        value = base_value + sum(pool.value[c] for c in cols)
        if rows.fits(usage) and (best is None or value > best[0]):
            best = (value, [*integral.tolist(), *cols])
    return best


def plan_of(pool: ColumnPool, columns: list[int]) -> tuple[np.ndarray, np.ndarray]:
    if not columns:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return (np.concatenate([pool.pv[c] for c in columns]).astype(np.int64),
            np.concatenate([pool.price[c] for c in columns]).astype(np.int64))


def dive(cg: ColumnGeneration, bound: float, target_gap: float, deadline: float,
         max_fixes: int = 12, rounds_per_fix: int = 2) -> tuple[float, list[int]] | None:
    """Round the LP; while short of the target gap, fix the heaviest fractional column and
    re-price the other offers around it (their columns shift to make room), then round again."""
    best = round_lp(cg)  # the last solved LP, even if a later one was stopped
    for _ in range(max_fixes):
        if cg.stopped:
            break
        if best is not None and bound - best[0] <= target_gap * max(abs(best[0]), 100.0):
            break
        frac = cg.fractional()
        if frac.size == 0 or time.perf_counter() > deadline:
            break
        heaviest = frac[np.argmax(cg.weights[frac])]
        log.debug("dive: %d fractional columns, fixing %d (weight %.3f)", frac.size, heaviest,
                  cg.weights[heaviest])
        cg.fix(int(heaviest))
        cg.run(rounds_per_fix, 0.0, deadline, bound_stop=False)
        if cg.shortfall > 1e-6:
            cg.run(3 * rounds_per_fix, 0.0, deadline, bound_stop=False)
        if cg.shortfall > 1e-6:  # this column cannot stay: forbid it instead and go on
            cg.forbid(int(heaviest))
            cg.run(rounds_per_fix, 0.0, deadline, bound_stop=False)
            if cg.shortfall > 1e-6:
                break
        if cg.stopped:
            break
        found = round_lp(cg)
        if found is not None and (best is None or found[0] > best[0]):
            best = found
    return best
