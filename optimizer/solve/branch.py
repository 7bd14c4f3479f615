"""Branch and price: the bound of small catalogues made exact.

The Lagrangian (= column generation LP) bound mixes whole offers: half of 伙拼 for one offer,
half of nothing; one SKU half in off-site; one price half at 5.22 and half at 5.51. On a
catalogue of a few offers each such offer is a whole percent of the objective, so that bound
stays a percent above the optimum however long CP-SAT runs. Here the LP's mixtures are branched
on, best bound first: first an offer's state (which all-or-none programs are on, which of an
exclusive pair is allowed), then a (SKU, program) cell in or out, then a pair-variant's price
below or above a lattice point. Each branch re-runs the column generation under its
restrictions (`Dual.restricted`, `Dual.evaluate(allowed=)`), warm-started from its parent's
multipliers and the parent's columns that still fit. A branch's Lagrangian value bounds every
plan in it, so the largest open bound is a valid bound of the whole problem, over every fen
price like the root's.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from optimizer.score.problem import Problem
from optimizer.score.rows import GlobalRows
from optimizer.solve.lagrange import Dual, Multipliers
from optimizer.solve.master import ColumnGeneration, ColumnPool, plan_of, round_lp
from optimizer.solve.result import Plan

log = logging.getLogger(__name__)
SPLIT_EPS = 1e-6  # LP weight below which a mixture is read as none
NODE_TOL = 1e-7  # a branch's column generation stops when bound and LP are this close
WORK_PVS = 1000  # pair-variants whose pricing costs what a pricing call's fixed overhead does


@dataclass(frozen=True)
class Branch:
    """What a branch restricts: offer states, cells in or out, price intervals."""

    allowed: np.ndarray  # bool (n_states, n_offers)
    force: np.ndarray  # bool (n, K): enrolled
    forbid: np.ndarray  # bool (n, K): not enrolled
    lo: np.ndarray  # int64 (m,) fen
    hi: np.ndarray  # int64 (m,) fen

    def admits(self, pb: Problem, pool: ColumnPool, c: int) -> bool:
        """Whether column c of a pool is a plan of its offer within this branch."""
        o, pv, price = pool.offer[c], pool.pv[c], pool.price[c]
        if not self.allowed[pool.state[c], o]:
            return False
        if ((price < self.lo[pv]) | (price > self.hi[pv])).any():
            return False
        sku, prog = pb.pv_sku[pv], pb.pv_prog[pv]
        if self.forbid[sku, prog].any():
            return False
        skus = np.flatnonzero(pb.sku_offer == o)
        need = self.force[skus]
        if need.any():
            have = np.zeros_like(self.force)
            have[sku, prog] = True
            if (need & ~have[skus]).any():
                return False
        return True


@dataclass(order=True)
class _Node:
    key: float  # -bound (fen): heapq pops the best bound first
    seq: int
    branch: Branch = field(compare=False)
    mult: Multipliers = field(compare=False)
    pool: ColumnPool = field(compare=False)


@dataclass(frozen=True)
class BranchResult:
    best: Plan | None
    bound: float  # fen, valid over every fen price
    nodes: int
    complete: bool  # every branch closed


def _weights(cg: ColumnGeneration) -> np.ndarray:
    return cg.weights[: len(cg.pool)]


def _split_state(cg: ColumnGeneration, state_on: np.ndarray, b: Branch
                 ) -> tuple[int, int] | None:
    """The offer and gate whose LP weight is most evenly split between on and off, among those
    the branch still leaves open both ways (else a child would be its parent again)."""
    pool, w = cg.pool, _weights(cg)
    used = np.flatnonzero(w > 1e-9)
    if used.size == 0 or state_on.shape[1] == 0:
        return None
    offer = np.array(pool.offer, np.int64)[used]
    state = np.array(pool.state, np.int64)[used]
    on = np.zeros((cg.pb.n_offers, state_on.shape[1]))
    np.add.at(on, offer, w[used, None] * state_on[state])
    split = np.minimum(on, 1.0 - on)
    can_on = (b.allowed[:, :, None] & state_on[:, None, :]).any(axis=0)
    can_off = (b.allowed[:, :, None] & ~state_on[:, None, :]).any(axis=0)
    split = np.where(can_on & can_off, split, 0.0)
    o, g = np.unravel_index(int(np.argmax(split)), split.shape)
    return (int(o), int(g)) if split[o, g] > SPLIT_EPS else None


def _split_cell(cg: ColumnGeneration, b: Branch) -> tuple[int, int] | None:
    """The (SKU, program) cell whose LP weight is most evenly split between in and out, among
    the cells the branch has not decided."""
    pb, pool, w = cg.pb, cg.pool, _weights(cg)
    used = np.flatnonzero(w > 1e-9)
    if used.size == 0:
        return None
    pv = np.concatenate([pool.pv[c] for c in used])
    wt = np.repeat(w[used], [pool.pv[c].size for c in used])
    member = np.zeros((pb.n, len(pb.programs)))
    np.add.at(member, (pb.pv_sku[pv], pb.pv_prog[pv]), wt)
    split = np.where(b.force | b.forbid, 0.0, np.minimum(member, 1.0 - member))
    s, k = np.unravel_index(int(np.argmax(split)), split.shape)
    return (int(s), int(k)) if split[s, k] > SPLIT_EPS else None


def _split_price(cg: ColumnGeneration) -> tuple[int, int] | None:
    """A pair-variant the LP prices at two or more lattice points, and the highest price of
    its lower part: the branches are `price <= it` and `price > it`."""
    pool, w = cg.pool, _weights(cg)
    used = np.flatnonzero(w > 1e-9)
    if used.size == 0:
        return None
    pv = np.concatenate([pool.pv[c] for c in used])
    price = np.concatenate([pool.price[c] for c in used])
    wt = np.repeat(w[used], [pool.pv[c].size for c in used])
    best: tuple[float, int, int] | None = None
    for p in np.unique(pv).tolist():
        sel = pv == p
        prices, weights = price[sel], wt[sel]
        levels = np.unique(prices)
        if levels.size < 2:
            continue
        below = np.array([weights[prices <= lv].sum() for lv in levels[:-1]])
        total = weights.sum()
        split = np.minimum(below, total - below)
        i = int(np.argmax(split))
        if split[i] > SPLIT_EPS and (best is None or split[i] > best[0]):
            best = (float(split[i]), p, int(levels[i]))
    return None if best is None else (best[1], best[2])


def _split_interval(pb: Problem, cg: ColumnGeneration, b: Branch) -> tuple[int, int] | None:
    """Nothing mixed, yet the bound is above the LP: the relaxation of stock (priced per SKU
    with a multiplier) is loose on a coarse lattice. The offer whose priced value most exceeds
    what the LP takes of it, and in it the widest price interval of a pair-variant the
    relaxation chose: halving intervals ends at single prices, where pricing is exact."""
    point = cg.best
    assert point is not None
    pool, w = cg.pool, _weights(cg)
    charge = GlobalRows.of(pb).priced(point.mult.prog, point.mult.budget, point.mult.gmv)
    taken = np.zeros(pb.n_offers)
    for c in np.flatnonzero(w > 1e-9).tolist():
        taken[pool.offer[c]] += w[c] * (pool.value[c] - charge @ pool.usage[c])
    excess = point.offer_value - taken
    for o in np.argsort(-excess, kind="stable").tolist():
        pv = np.flatnonzero(point.chosen & (pb.sku_offer[pb.pv_sku] == o))
        width = b.hi[pv] - b.lo[pv]
        if pv.size and width.max() >= pb.step:
            p = int(pv[np.argmax(width)])
            steps = int((b.hi[p] - b.lo[p]) // pb.step)
            return p, int(b.lo[p] + (steps - 1) // 2 * pb.step)
    return None


def _children(pb: Problem, dual: Dual, cg: ColumnGeneration, b: Branch) -> list[Branch]:
    """Two branches that split the LP's mixture (none if the LP mixes nothing)."""
    state = _split_state(cg, dual.st.state_on, b)
    if state is not None:
        o, g = state
        out = []
        for on in (True, False):
            allowed = b.allowed.copy()
            allowed[dual.st.state_on[:, g] != on, o] = False
            out.append(dataclasses.replace(b, allowed=allowed))
        return out
    cell = _split_cell(cg, b)
    if cell is not None:
        s, k = cell
        force, forbid = b.force.copy(), b.forbid.copy()
        force[s, k] = True
        forbid[s, k] = True
        return [dataclasses.replace(b, force=force), dataclasses.replace(b, forbid=forbid)]
    price = _split_price(cg) or _split_interval(pb, cg, b)
    if price is not None:
        p, at = price
        hi, lo = b.hi.copy(), b.lo.copy()
        hi[p] = at
        lo[p] = at + pb.step
        return [dataclasses.replace(b, hi=hi), dataclasses.replace(b, lo=lo)]
    return []


def _restrict(pb: Problem, dual: Dual, b: Branch) -> tuple[Problem, Dual]:
    empty = b.lo > b.hi
    node_pb = dataclasses.replace(pb, pv_lo=b.lo, pv_hi=np.maximum(b.hi, b.lo))
    forbid_pv = empty | b.forbid[pb.pv_sku, pb.pv_prog]
    return node_pb, dual.restricted(node_pb, forbid_pv, b.force)


Improve = Callable[[ColumnPool], Plan | None]
IMPROVE_FIRST = 16  # nodes before the first restricted master; then at twice as many each time


def _gather(into: ColumnPool, pool: ColumnPool) -> None:
    """The columns of a node's pool not yet in `into` (the search's every column)."""
    for c in range(len(pool)):
        key = (pool.offer[c], int(pool.fingerprint[c]))
        if key in into.seen:
            continue
        into.seen.add(key)
        for name in ("offer", "value", "usage", "pv", "price", "round", "state", "fingerprint"):
            getattr(into, name).append(getattr(pool, name)[c])


def branch_and_price(pb: Problem, dual: Dual, root: ColumnGeneration, incumbent: Plan | None,
                     root_bound: float, target_gap: float, deadline: float,
                     max_nodes: int = 5000, improve: Improve | None = None,
                     max_work: float = np.inf) -> BranchResult:
    """Best-first search until the gap is within `target_gap`, `max_nodes`, `max_work` or the
    deadline. Work counts pricing calls, each `1 + m / WORK_PVS` units (a call's fixed cost and
    its share per pair-variant): a budget in work, not seconds, ends the search at the same node
    however loaded the machine is; the deadline is only the user's hard stop.
    `root` is the finished root column generation, `root_bound` its (valid) bound.

    Best-first rarely reaches a branch whose LP is a plan, so the incumbent comes mostly from
    `improve`: a restricted master (an IP over every column the search has generated, each offer
    one of its columns), run after 16, 32, 64, ... nodes while the gap is open. A better
    incumbent closes more branches."""
    work_per_call = 1.0 + pb.m / WORK_PVS
    work = 0.0
    best = incumbent
    union = ColumnPool()
    _gather(union, root.pool)
    next_improve = IMPROVE_FIRST
    settled = -np.inf  # the largest bound of a branch closed within the gap
    seq = itertools.count()
    heap: list[_Node] = []
    leaves: list[float] = []  # branches whose LP mixes nothing more that can be split

    def closed(bound: float) -> bool:
        nonlocal settled
        if best is not None and bound - best.objective <= target_gap * max(abs(best.objective),
                                                                           100.0):
            settled = max(settled, bound)
            return True
        return False

    def expand(node_pb: Problem, cg: ColumnGeneration, b: Branch, bound: float) -> None:
        nonlocal best
        if pb.proves_no_plan(bound):
            return  # no plan in this branch
        rounded = round_lp(cg)
        if rounded is not None and (best is None or rounded[0] > best.objective) and \
                pb.keeps_commitments(plan_of(cg.pool, rounded[1])[0]):
            best = Plan(rounded[0], *plan_of(cg.pool, rounded[1]))
        if closed(bound):
            return
        kids = _children(node_pb, dual, cg, b)
        if not kids:
            leaves.append(bound)
            return
        assert cg.best is not None
        for kid in kids:
            pool = ColumnPool()
            for c in range(len(cg.pool)):
                if kid.admits(pb, cg.pool, c):
                    for name in ("offer", "value", "usage", "pv", "price", "round", "state",
                                 "fingerprint"):
                        getattr(pool, name).append(getattr(cg.pool, name)[c])
            heapq.heappush(heap, _Node(-bound, next(seq), kid, cg.best.mult, pool))

    full = Branch(np.ones((dual.st.n_states, pb.n_offers), bool),
                  np.zeros((pb.n, len(pb.programs)), bool),
                  np.zeros((pb.n, len(pb.programs)), bool), pb.pv_lo.copy(), pb.pv_hi.copy())
    expand(pb, root, full, root_bound)
    nodes = 1
    while heap and nodes < max_nodes and work < max_work and time.perf_counter() < deadline:
        node = heapq.heappop(heap)
        if closed(-node.key):
            continue
        nodes += 1
        node_pb, node_dual = _restrict(pb, dual, node.branch)
        cg = ColumnGeneration(node_pb, node_dual, warm=node.mult, allowed=node.branch.allowed,
                              seed=node.pool)
        work += work_per_call
        assert cg.best is not None
        first = min(cg.best.value, -node.key)  # the parent's multipliers, priced in this branch
        if pb.proves_no_plan(first) or closed(first):
            continue  # settled without its own column generation
        cg.run(40, NODE_TOL, deadline)
        work += cg.rounds * work_per_call
        if cg.best is None or cg.stopped:
            heapq.heappush(heap, node)
            break
        _gather(union, cg.pool)
        expand(node_pb, cg, node.branch, min(cg.best.value, -node.key))
        if improve is not None and nodes >= next_improve and heap:
            next_improve *= 2
            found = improve(union)
            if found is not None and (best is None or found.objective > best.objective) and \
                    pb.keeps_commitments(found.pv):
                best = found
    open_bounds = [-n.key for n in heap] + leaves
    bound = min(max([best.objective if best else -np.inf, settled, *open_bounds]), root_bound)
    log.info("branch and price: %d nodes, %d open, bound %.2f, work %.0f of %.0f", nodes,
             len(open_bounds), bound / 100, work, max_work)
    return BranchResult(best, bound, nodes, not open_bounds)
