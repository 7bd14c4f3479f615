"""Candidate prices per pair-variant, scored in numpy, with dominated ones pruned.

A candidate is (pv, price) with its units, margin, discount and revenue in fen. Which prices to
offer the model: the suggestions the caller passes (margin-optimal and Lagrangian-optimal prices),
a geometric ladder over [lo, hi], and, when the whole lattice is small, every lattice price (the
model is then *complete*: its optimum is the optimum over every fen price).

Pruning is exact dominance against the margin-optimal price of the same pair-variant: a price is
dropped when that one has at least its margin and is no worse on every resource that can bind
(stock units, discount budget, GMV).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from optimizer.score.problem import Problem


@dataclass(frozen=True, eq=False)
class Candidates:
    pv: np.ndarray  # int64 (c,) sorted by pv, then price
    price: np.ndarray  # int64 fen
    units: np.ndarray  # float64
    margin: np.ndarray  # float64 fen
    discount: np.ndarray  # float64 fen
    revenue: np.ndarray  # float64 fen
    complete: bool  # every non-dominated lattice price of every pv is here

    @property
    def size(self) -> int:
        return int(self.pv.shape[0])


# Below this many rows a second thread costs more than it saves.
PARALLEL_MIN = 1 << 16
_POOLS: dict[int, ThreadPoolExecutor] = {}


def peak_price(pb: Problem, alpha: np.ndarray | float, beta: np.ndarray | float,
               pv: np.ndarray | None = None, threads: int = 1
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best lattice price in [lo, hi] of u(p) * (alpha p - beta), its value and its units.

    With constant elasticity e > 1, beta > 0 and alpha > 0 the function rises then falls, peaking
    at e beta / ((e-1) alpha), so the lattice optimum is one of the two lattice neighbours of that
    peak, clipped to [lo, hi]: two evaluations, exact. Any other row (inelastic demand, a
    non-positive cost) also compares both ends of the interval. This is the hot loop of the
    Lagrangian pricing: one power per candidate, nothing stacked.

    Rows are independent, so `threads` > 1 splits them into contiguous pieces priced at once
    (numpy releases the GIL in its loops); the result is the same to the bit.
    """
    return SplitRows.of(pb, pv, threads).peak(alpha, beta)


def _pool(threads: int) -> ThreadPoolExecutor:
    return _POOLS.setdefault(threads, ThreadPoolExecutor(threads, "peak_price"))


@dataclass(frozen=True, eq=False)
class SplitRows:
    """Some pair-variants' `PvRows`, gathered once in `threads` contiguous pieces: a search that
    prices the same rows many times (the stock multiplier's bisection) gathers them once and
    still prices the pieces at once. All of the problem's rows are sliced, not gathered."""

    cuts: tuple[int, ...]
    parts: tuple[PvRows, ...]

    @staticmethod
    def of(pb: Problem, pv: np.ndarray | None = None, threads: int = 1) -> SplitRows:
        size = pb.m if pv is None else int(np.asarray(pv).shape[0])
        pieces = 1 if threads <= 1 or size < PARALLEL_MIN else threads
        cuts = tuple(np.linspace(0, size, pieces + 1).astype(np.int64).tolist())
        rows = None if pv is None else np.asarray(pv)
        parts = tuple(PvRows.of(pb, slice(a, b) if rows is None else rows[a:b])
                      for a, b in itertools.pairwise(cuts))
        return SplitRows(cuts, parts)

    def peak(self, alpha: np.ndarray | float, beta: np.ndarray | float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """See `peak_price`: the same result to the bit however the rows are split."""
        shape = (self.cuts[-1],)
        alpha = np.broadcast_to(np.asarray(alpha, np.float64), shape)
        beta = np.broadcast_to(np.asarray(beta, np.float64), shape)
        if len(self.parts) == 1:
            return self.parts[0].peak(alpha, beta)
        cuts = self.cuts
        parts = list(_pool(len(self.parts)).map(
            lambda i: self.parts[i].peak(alpha[cuts[i]:cuts[i + 1]], beta[cuts[i]:cuts[i + 1]]),
            range(len(self.parts))))
        price, value, units = (np.concatenate(col) for col in zip(*parts, strict=True))
        return price, value, units


@dataclass(frozen=True, eq=False)
class PvRows:
    """What pricing reads of some pair-variants, gathered once: a search that prices the same
    rows many times (the stock multiplier's bisection) does not index the problem each time."""

    step: int
    lo: np.ndarray
    hi: np.ndarray
    e: np.ndarray
    market: np.ndarray
    demand: np.ndarray  # a new enrollment's
    full: np.ndarray  # at today's price: the whole horizon
    kp: np.ndarray  # today's price, 0 none
    keep: np.ndarray  # rows where today's price is within [lo, hi]

    @staticmethod
    def of(pb: Problem, rows: np.ndarray | slice) -> PvRows:
        lo, hi, kp = pb.pv_lo[rows], pb.pv_hi[rows], pb.pv_keep_price[rows]
        return PvRows(pb.step, lo, hi, pb.pv_elast[rows], pb.pv_market[rows],
                      pb.pv_demand[rows], pb.pv_full[rows], kp,
                      np.flatnonzero((kp > 0) & (kp >= lo) & (kp <= hi)))

    def peak(self, alpha: np.ndarray, beta: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """See `peak_price`."""
        lo, hi, step, e = self.lo, self.hi, self.step, self.e
        market, demand = self.market, self.demand
        regular = (e > 1) & (beta > 0) & (alpha > 0)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            peak = e * beta / ((e - 1) * alpha)
        peak = np.where(regular & np.isfinite(peak), peak, -1.0)
        p1 = np.clip(np.floor(np.minimum(peak, 4e18) / step) * step, lo, hi).astype(np.int64)
        p2 = np.minimum(p1 + step, hi)
        u1 = demand * (p1 / market) ** (-e)
        u2 = demand * (p2 / market) ** (-e)
        v1 = u1 * (alpha * p1 - beta)
        v2 = u2 * (alpha * p2 - beta)
        second = v2 > v1
        price = np.where(second, p2, p1)
        value = np.where(second, v2, v1)
        units = np.where(second, u2, u1)
        odd = np.flatnonzero(~regular)
        if odd.size:
            for end in (lo[odd], hi[odd]):
                u_end = demand[odd] * (end / market[odd]) ** (-e[odd])
                v_end = u_end * (alpha[odd] * end - beta[odd])
                better = v_end > value[odd]
                idx = odd[better]
                price[idx], value[idx], units[idx] = end[better], v_end[better], u_end[better]
        if self.keep.size:
            self._with_keep_price(alpha, beta, price, value, units)
        return price, value, units

    def _with_keep_price(self, alpha: np.ndarray, beta: np.ndarray, price: np.ndarray,
                         value: np.ndarray, units: np.ndarray) -> None:
        """Today's price is not a new price (at it the enrollment continues, over the whole
        horizon): where the best new price is it, the best new one is a lattice neighbour (the
        function has one peak); then today's price competes with its own units. In place."""
        keep, step = self.keep, self.step
        kp, lo, hi = self.kp[keep], self.lo[keep], self.hi[keep]
        market, e, a, b = self.market[keep], self.e[keep], alpha[keep], beta[keep]
        clash = np.flatnonzero(price[keep] == kp)
        if clash.size:
            best_p = kp[clash].copy()
            best_v = np.full(clash.size, -np.inf)
            best_u = np.zeros(clash.size)
            for nb in (kp[clash] - step, kp[clash] + step):
                ok = (nb >= lo[clash]) & (nb <= hi[clash])
                nb = np.where(ok, nb, kp[clash])  # outside [lo, hi] (0 fen too): never taken
                u_nb = self.demand[keep[clash]] * (nb / market[clash]) ** (-e[clash])
                v_nb = np.where(ok, u_nb * (a[clash] * nb - b[clash]), -np.inf)
                better = v_nb > best_v
                best_p = np.where(better, nb, best_p)
                best_v = np.where(better, v_nb, best_v)
                best_u = np.where(better, u_nb, best_u)
            at = keep[clash]
            price[at], value[at], units[at] = best_p, best_v, best_u
        u_k = self.full[keep] * (kp / market) ** (-e)
        v_k = u_k * (a * kp - b)
        better = v_k >= value[keep]  # a tie keeps today's enrollment
        at = keep[better]
        price[at], value[at], units[at] = kp[better], v_k[better], u_k[better]


def margin_optimal_price(pb: Problem) -> np.ndarray:
    """Best lattice price per pv for margin alone."""
    return peak_price(pb, 1.0 - pb.pv_fee, pb.pv_cost.astype(np.float64))[0]


def ladder(pb: Problem, points: int) -> tuple[np.ndarray, np.ndarray]:
    """`points` lattice prices per pv spread geometrically over [lo, hi]."""
    if points <= 0 or pb.m == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    t = np.linspace(0.0, 1.0, points)
    lo, hi = pb.pv_lo.astype(float), pb.pv_hi.astype(float)
    raw = lo[:, None] * (hi / lo)[:, None] ** t[None, :]
    prices = (np.round(raw / pb.step) * pb.step).astype(np.int64)
    prices = np.clip(prices, pb.pv_lo[:, None], pb.pv_hi[:, None])
    pv = np.repeat(np.arange(pb.m), points)
    return pv, prices.ravel()


def full_lattice(pb: Problem) -> tuple[np.ndarray, np.ndarray]:
    counts = (pb.pv_hi - pb.pv_lo) // pb.step + 1
    pv = np.repeat(np.arange(pb.m), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    offset = np.arange(pv.size) - start
    return pv, pb.pv_lo[pv] + offset * pb.step


def lattice_size(pb: Problem) -> int:
    return int(((pb.pv_hi - pb.pv_lo) // pb.step + 1).sum())


def active_dims(pb: Problem) -> tuple[np.ndarray, bool, bool]:
    """Which resources can bind: stock per SKU (units at lowest prices exceed it), budget, GMV."""
    u_max = pb.units(np.arange(pb.m), pb.pv_lo)
    per_sku_prog = np.zeros((pb.n, len(pb.programs)))
    np.maximum.at(per_sku_prog, (pb.pv_sku, pb.pv_prog), u_max)
    stock_binds = per_sku_prog.sum(axis=1) > pb.avail
    budget_binds = False
    if pb.budget is not None:
        d_max = u_max * np.maximum(pb.pv_market - pb.pv_lo, 0)
        per = np.zeros((pb.n, len(pb.programs)))
        np.maximum.at(per, (pb.pv_sku, pb.pv_prog), d_max)
        budget_binds = bool(per.sum() > pb.budget)
    return stock_binds, budget_binds, pb.gmv_min is not None and pb.gmv_min > 0


def build_candidates(pb: Problem, suggestions: list[np.ndarray], *, ladder_points: int = 6,
                     complete_limit: int = 200_000,
                     extra: tuple[np.ndarray, np.ndarray] | None = None) -> Candidates:
    """Score suggested + ladder prices (or the full lattice when small) and drop dominated ones.

    `extra` adds (pv, price) pairs, e.g. the incumbent's, so that a hint is always a candidate.
    """
    best = margin_optimal_price(pb)
    complete = lattice_size(pb) <= complete_limit
    pv_parts = [np.arange(pb.m)] + [np.arange(pb.m) for _ in suggestions]
    price_parts = [best, *[np.clip(s, pb.pv_lo, pb.pv_hi) for s in suggestions]]
    if complete:
        fpv, fprice = full_lattice(pb)
    else:
        fpv, fprice = ladder(pb, ladder_points)
    kp = pb.pv_keep_price
    kept = np.flatnonzero((kp > 0) & (kp >= pb.pv_lo) & (kp <= pb.pv_hi))  # always a candidate
    pv_parts.append(kept)
    price_parts.append(pb.pv_keep_price[kept])
    if extra is not None:
        pv_parts.append(extra[0])
        price_parts.append(np.clip(extra[1], pb.pv_lo[extra[0]], pb.pv_hi[extra[0]]))
    pv = np.concatenate([*pv_parts, fpv]).astype(np.int64)
    price = np.concatenate([*price_parts, fprice]).astype(np.int64)
    key = np.unique(pv * (1 << 40) + price)
    pv, price = key >> 40, key & ((1 << 40) - 1)
    ev = pb.evaluate(pv, price)
    stock_binds, budget_binds, gmv_binds = active_dims(pb)
    ref = pb.evaluate(np.arange(pb.m), best)
    keep = (price == best[pv])
    keep |= ev["margin"] > ref["margin"][pv]  # never: best is the margin optimum, kept for safety
    unit_dim = stock_binds[pb.pv_sku[pv]]
    keep |= unit_dim & (ev["units"] < ref["units"][pv])
    if budget_binds:
        keep |= ev["discount"] < ref["discount"][pv]
    if gmv_binds:
        keep |= ev["gmv"] > ref["gmv"][pv]  # 0 > 0 outside the counting programs
    return Candidates(pv[keep], price[keep], ev["units"][keep], ev["margin"][keep],
                      ev["discount"][keep], ev["revenue"][keep], complete)


def subset(cand: Candidates, keep: np.ndarray) -> Candidates:
    return Candidates(cand.pv[keep], cand.price[keep], cand.units[keep], cand.margin[keep],
                      cand.discount[keep], cand.revenue[keep], cand.complete)
