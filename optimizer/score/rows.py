"""The global rows, named once: max_skus per capped program, the discount budget, the GMV target.

They are what couples offers, so every master (the LP, the multiplier-space one), every CP-SAT
model and the writers meet them. A plan's *usage* of them is a vector laid out as
``[SKU count per program (K)..., discount (fen), revenue (fen)]``, the revenue that of the programs
whose orders count toward the GMV target (`Problem.pv_counts`); `GlobalRows` says which
entries bind (a program without a cap, no budget or no GMV target leaves its entry free), their
limits and names, computes usage and checks it. Solver-free: numpy and the problem only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.score.problem import Problem

DISCOUNT_BUDGET = "discount_budget"
GMV_MIN = "gmv_min"


def max_skus_name(program: str) -> str:
    return f"max_skus.{program}"


@dataclass(frozen=True, eq=False)
class GlobalRows:
    """The layout of a usage vector and the limits on it, from a problem's constraints."""

    programs: tuple[str, ...]
    max_skus: np.ndarray  # int64 (K,): -1 where the program has no cap
    budget: float | None  # fen
    gmv_min: float | None  # fen: what the counting programs must bring (net of baseline_gmv)

    @staticmethod
    def of(pb: Problem) -> GlobalRows:
        return GlobalRows(pb.programs, pb.max_skus, pb.budget, pb.gmv_min)

    @property
    def discount(self) -> int:
        """The usage entry of the discount (fen)."""
        return len(self.programs)

    @property
    def revenue(self) -> int:
        """The usage entry of the revenue that counts toward the GMV target (fen)."""
        return len(self.programs) + 1

    @property
    def width(self) -> int:
        return len(self.programs) + 2

    @property
    def capped(self) -> np.ndarray:
        """Programs with a max_skus limit, in program order."""
        return np.flatnonzero(self.max_skus >= 0)

    @property
    def has_budget(self) -> bool:
        return self.budget is not None

    @property
    def has_gmv(self) -> bool:
        """A GMV target binds only when positive (the baseline GMV may meet it alone)."""
        return self.gmv_min is not None and self.gmv_min > 0

    def names(self) -> list[str]:
        """The binding rows' names, in the order of `as_leq`."""
        out = [max_skus_name(self.programs[k]) for k in self.capped]
        return out + [DISCOUNT_BUDGET] * self.has_budget + [GMV_MIN] * self.has_gmv

    def as_leq(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The binding rows as ``sign * usage[entry] <= limit``: (entry, sign, limit) arrays, the
        GMV target (a >= row) negated."""
        entry = [int(k) for k in self.capped]
        sign = [1.0] * len(entry)
        limit = [float(self.max_skus[k]) for k in self.capped]
        if self.budget is not None:
            entry.append(self.discount)
            sign.append(1.0)
            limit.append(self.budget)
        if self.gmv_min is not None and self.gmv_min > 0:
            entry.append(self.revenue)
            sign.append(-1.0)
            limit.append(-self.gmv_min)
        return np.array(entry, np.int64), np.array(sign), np.array(limit, np.float64)

    def priced(self, per_count: np.ndarray, per_discount: float, per_revenue: float
               ) -> np.ndarray:
        """What each unit of each usage entry costs at these multipliers (the GMV target's
        revenue earns): a usage vector's Lagrangian charge is this dotted with it."""
        out = self.zeros()
        out[: len(self.programs)] = per_count
        out[self.discount] = per_discount
        out[self.revenue] = -per_revenue
        return out

    def zeros(self) -> np.ndarray:
        return np.zeros(self.width)

    def usage(self, pb: Problem, pv: np.ndarray, group: np.ndarray, n_groups: int,
              ev: dict[str, np.ndarray]) -> np.ndarray:
        """Per group of pair-variants (`ev` = pb.evaluate of them at their prices): its usage,
        shape (n_groups, width)."""
        usage = np.zeros((n_groups, self.width))
        np.add.at(usage, (group, pb.pv_prog[pv]), 1.0)
        usage[:, self.discount] = np.bincount(group, ev["discount"], minlength=n_groups)
        usage[:, self.revenue] = np.bincount(group, ev["gmv"], minlength=n_groups)
        return usage

    def fits(self, usage: np.ndarray) -> bool:
        """The rows hold for this usage (a hair inside the budget and the GMV target)."""
        capped = self.max_skus >= 0
        if (usage[: len(self.programs)][capped] > self.max_skus[capped] + 1e-9).any():
            return False
        if self.budget is not None and usage[self.discount] > self.budget * (1 - 1e-12):
            return False
        return not (self.gmv_min is not None and usage[self.revenue] < self.gmv_min * (1 + 1e-12))


def locked_usage(pb: Problem) -> np.ndarray:
    """What today's no_exit rows alone use of the global rows: every plan uses at least this
    (their units, hence discount and counted revenue, are fixed by today's price)."""
    rows = GlobalRows.of(pb)
    k_count = len(pb.programs)
    cell = pb.pv_sku * k_count + pb.pv_prog
    forced = np.flatnonzero(pb.force.ravel()[cell])
    # one pair-variant per locked cell (its fee variants sell the same units at the same price)
    _, first = np.unique(cell[forced], return_index=True)
    pv = forced[first]
    if pv.size == 0:
        return rows.zeros()
    ev = pb.evaluate(pv, pb.pv_keep_price[pv])
    return rows.usage(pb, pv, np.zeros(pv.size, np.int64), 1, ev)[0]
