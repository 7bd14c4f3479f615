"""Warm starts between neighbouring scenarios (a sweep): the multipliers, the columns that
mattered and the plan, carried from one problem to the next.

A column is an offer's choice: its pair-variants and their prices. Pair-variant indices differ
between problems (a fee change moves SKUs in and out of eligibility, and merges or splits a
program's fee variants), so a column travels as (SKU, kind, price) rows, where a pair-variant's
kind is its program and hub pattern. The receiving problem takes a column only where it is a choice
its own pricing could have made: the offer's structure is unchanged (the same eligibility and the
same pair-variants for every SKU of the offer, so the same offer states and hub patterns), every
price lies in its pair-variant's interval on the lattice, and every SKU's units fit its stock.
Its margin and row use are then scored under the receiving problem's fees. The columns only
guide the master and offer the rounding alternatives; every bound still comes from pricing.

The plan travels whole: where it keeps every rule of the receiving problem it is a valid
incumbent there from the start (`import_plan`), so a point never ends with less than its
neighbour's plan.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from optimizer.score.problem import Problem
from optimizer.score.rows import GlobalRows
from optimizer.solve.lagrange import Multipliers, concat_ranges
from optimizer.solve.master import mix64

log = logging.getLogger(__name__)

KEEP_PER_OFFER = 3  # columns per offer carried on: the best at the final multipliers and runners-up


@dataclass(frozen=True)
class Columns:
    """Columns of one problem in problem-independent terms; rows sorted by column, then SKU."""

    shape: tuple[object, ...]  # what the offer structure also depends on (see `_shape`)
    signature: np.ndarray  # uint64 (n_offers,): each offer's structure, see `offer_signature`
    col: np.ndarray  # int64 (rows,) column of each row, 0..C-1, non-decreasing
    sku: np.ndarray  # int64 (rows,)
    kind: np.ndarray  # int64 (rows,) program and hub pattern of the row's pv (see `kinds`)
    price: np.ndarray  # int64 (rows,) fen

    @property
    def size(self) -> int:
        return int(self.col[-1]) + 1 if self.col.size else 0


@dataclass(frozen=True)
class WarmStart:
    """What a solve leaves for a neighbouring scenario's solve."""

    mult: Multipliers
    columns: Columns | None = None
    plan: NeighbourPlan | None = None  # its plan: an incumbent wherever it stays feasible


def _shape(pb: Problem) -> tuple[object, ...]:
    return (pb.programs, tuple(pb.offer_level.tolist()), pb.exclusive, pb.hub, pb.n,
            pb.n_offers)


def kinds(pb: Problem) -> tuple[np.ndarray, int]:
    """Each pv's program and hub pattern as one number (what identifies a pv of a SKU across
    problems: fee-variant indices do not), and how many there can be."""
    n_hub = pb.pv_hub.shape[1]
    code = np.zeros(pb.m, np.int64)
    for h in range(n_hub):  # each hub membership: -1 either, 0 out, 1 in
        code = code * 3 + (pb.pv_hub[:, h].astype(np.int64) + 1)
    return pb.pv_prog * 3**n_hub + code, len(pb.programs) * 3**n_hub


def _keys(pb: Problem) -> np.ndarray:
    """(SKU, kind) of every pv as one number: unique, as a SKU's fee variants of a program
    differ in their hub pattern."""
    kind, n_kinds = kinds(pb)
    return pb.pv_sku * n_kinds + kind


def offer_signature(pb: Problem) -> np.ndarray:
    """A 64-bit fingerprint per offer of what its offer states and hub patterns are built from:
    each SKU's eligibility per program and its pair-variants (SKU, kind)."""
    k_count = len(pb.programs)
    with np.errstate(over="ignore"):
        bits = (pb.eligible.astype(np.uint64)
                << np.arange(k_count, dtype=np.uint64)[None, :]).sum(axis=1, dtype=np.uint64)
        sku = np.arange(pb.n, dtype=np.uint64)
        per_sku = mix64(bits * np.uint64(0x9E3779B97F4A7C15) + mix64(sku))
        pv_key = _keys(pb).astype(np.uint64)
        # wrapping sums by segment (pvs are sorted by SKU; SKUs sorted by offer here)
        per_sku += _segment_sum(mix64(pv_key + np.uint64(0x632BE59BD9B4E019)), pb.pv_sku, pb.n)
        order = np.argsort(pb.sku_offer, kind="stable")
        out = _segment_sum(per_sku[order], pb.sku_offer[order], pb.n_offers)
    return mix64(out)


def _segment_sum(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Wrapping uint64 sums of `values` by `group` (sorted); 0 for an empty group."""
    out = np.zeros(n_groups, np.uint64)
    if values.size:
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        out[group[starts]] = np.add.reduceat(values, starts)
    return out


def export_columns(pb: Problem, col_offer: np.ndarray, reduced: np.ndarray,
                   start: np.ndarray, length: np.ndarray, pv: np.ndarray, price: np.ndarray,
                   keep: int = KEEP_PER_OFFER) -> Columns:
    """The `keep` columns of highest reduced value per offer (non-empty ones), as portable rows.

    `col_offer`, `reduced`, `start`, `length`: per pool column; `pv`, `price`: the pool's rows.
    """
    real = np.flatnonzero(length > 0)
    order = real[np.lexsort((real, -reduced[real], col_offer[real]))]
    offers = col_offer[order]
    first = np.flatnonzero(np.r_[True, offers[1:] != offers[:-1]])
    rank = np.arange(order.size) - np.repeat(first, np.diff(np.r_[first, order.size]))
    cols = np.sort(order[rank < keep])
    rows = concat_ranges(start[cols], length[cols])
    col = np.repeat(np.arange(cols.size, dtype=np.int64), length[cols])
    kind, _ = kinds(pb)
    return Columns(_shape(pb), offer_signature(pb), col, pb.pv_sku[pv[rows]].astype(np.int64),
                   kind[pv[rows]], price[rows].astype(np.int64))


def import_columns(pb: Problem, cols: Columns) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                        np.ndarray]:
    """The columns that are valid choices in `pb`: (pv, price, column of each row, offer of each
    column), columns renumbered 0..C'-1. Empty when the problems' structures differ."""
    empty = np.zeros(0, np.int64)
    if cols.size == 0 or cols.shape != _shape(pb):
        return empty, empty, empty, empty
    keys = _keys(pb)
    order = np.argsort(keys, kind="stable")
    want = cols.sku * kinds(pb)[1] + cols.kind
    pos = np.minimum(np.searchsorted(keys[order], want), max(pb.m - 1, 0))
    found = (keys[order][pos] == want) if pb.m else np.zeros(want.size, bool)
    pv = np.where(found, order[pos] if pb.m else 0, 0)
    ok = found & (cols.price >= pb.pv_lo[pv]) & (cols.price <= pb.pv_hi[pv]) \
        & (cols.price % pb.step == 0)
    offer = pb.sku_offer[cols.sku]
    # every row of a column belongs to one offer, whose structure is unchanged
    ok &= cols.signature[offer] == offer_signature(pb)[offer]
    bad = np.zeros(cols.size, bool)
    bad[cols.col[~ok]] = True
    # stock: the units of each (column, SKU) fit the SKU's stock, as the pricing keeps it
    units = np.where(ok, pb.units(pv, np.maximum(cols.price, 1)), 0.0)
    group = np.flatnonzero(np.r_[True, (cols.col[1:] != cols.col[:-1])
                                 | (cols.sku[1:] != cols.sku[:-1])])
    used = np.add.reduceat(units, group)
    sku = cols.sku[group]
    over = used > pb.avail[sku] * (1 + 1e-9) + 1e-9
    bad[cols.col[group[over]]] = True
    first = np.flatnonzero(np.r_[True, cols.col[1:] != cols.col[:-1]])
    one_offer = np.minimum.reduceat(offer, first) == np.maximum.reduceat(offer, first)
    bad[cols.col[first[~one_offer]]] = True
    take = ~bad[cols.col]
    if not take.any():
        return empty, empty, empty, empty
    kept = np.flatnonzero(~bad)
    renumber = np.full(cols.size, -1, np.int64)
    renumber[kept] = np.arange(kept.size)
    return (pv[take].astype(np.int64), cols.price[take].astype(np.int64),
            renumber[cols.col[take]], offer[first[kept]].astype(np.int64))


@dataclass(frozen=True)
class NeighbourPlan:
    """A neighbouring scenario's plan as (SKU, program, price) rows: a sweep's points share the
    catalogue, so a SKU is its row there; a program travels by name. Pair-variant indices do
    not travel (fee variants merge and split between points): `import_plan` maps each row to
    this problem's pair-variant of the plan's own hub memberships."""

    programs: tuple[str, ...]
    n: int  # SKUs in the catalogue the plan is over
    sku: np.ndarray  # int64 (rows,)
    prog: np.ndarray  # int64 (rows,) index into `programs`
    price: np.ndarray  # int64 (rows,) fen


def export_plan(pb: Problem, pv: np.ndarray, price: np.ndarray) -> NeighbourPlan:
    return NeighbourPlan(pb.programs, pb.n, pb.pv_sku[pv].astype(np.int64),
                         pb.pv_prog[pv].astype(np.int64), price.astype(np.int64))


def _hub_pvs(pb: Problem, sku: np.ndarray, prog: np.ndarray) -> np.ndarray | None:
    """Each row's pair-variant: its SKU and program, with a fee variant whose hub pattern the
    plan's own hub memberships meet (as the model's fee-variant rows demand); None when a row
    has none."""
    k_count = len(pb.programs)
    member = np.zeros((pb.n, len(pb.hub)), np.int8)
    for h_i, h in enumerate(pb.hub):
        member[sku[prog == h], h_i] = 1
    key = pb.pv_sku * k_count + pb.pv_prog
    order = np.argsort(key, kind="stable")
    want = sku * k_count + prog
    first = np.searchsorted(key[order], want)
    last = np.searchsorted(key[order], want, side="right")
    pv = np.full(sku.size, -1, np.int64)
    own = np.array(pb.hub, np.int64)[None, :] == prog[:, None]  # a pv's own hub bit is moot
    for j in range(int((last - first).max(initial=0))):
        open_ = (pv < 0) & (first + j < last)
        cand = order[np.minimum(first + j, max(pb.m - 1, 0))] if pb.m else pv
        pattern = pb.pv_hub[cand] if pb.m else np.zeros((sku.size, len(pb.hub)), np.int8)
        meets = ((pattern < 0) | (pattern == member[sku]) | own).all(axis=1)
        pv = np.where(open_ & meets, cand, pv)
    return None if (pv < 0).any() else pv


def import_plan(pb: Problem, plan: NeighbourPlan
                ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """The neighbour's plan under this problem, if it keeps every rule here: each row a
    pair-variant (eligible, its fee variant's hub pattern met) at a lattice price within its
    [lo, hi] (price caps, margin rule), one price per (SKU, program), stock, all-or-none,
    exclusivity and the global rows. (margin in fen under this problem's fees, pv, price), the
    fields of a `Plan` (result.py imports this module); None (and why, logged) when any rule
    fails: the plan is then no incumbent here."""
    def refused(why: str) -> None:
        log.info("neighbour's plan not feasible here: %s", why)

    if plan.n != pb.n or not set(plan.programs) <= set(pb.programs):
        refused("another catalogue or program set")
        return None
    prog = np.array([pb.programs.index(p) for p in plan.programs], np.int64)[plan.prog] \
        if plan.sku.size else np.zeros(0, np.int64)
    sku, price = plan.sku, plan.price
    k_count = len(pb.programs)
    if np.unique(sku * k_count + prog).size != sku.size:
        refused("two prices for one (SKU, program)")
        return None
    pv = _hub_pvs(pb, sku, prog)
    if pv is None:
        refused("a SKU is not eligible for its program, or no fee variant fits its hub programs")
        return None
    if ((price < pb.pv_lo[pv]) | (price > pb.pv_hi[pv]) | (price % pb.step != 0)).any():
        refused("a price is off the lattice or outside its caps and margin rule")
        return None
    ev = pb.evaluate(pv, price)
    if (np.bincount(sku, ev["units"], minlength=pb.n) > pb.avail * (1 + 1e-9) + 1e-9).any():
        refused("a SKU's units exceed its stock")
        return None
    offer = pb.sku_offer[sku]
    in_prog = np.zeros((pb.n_offers, k_count), np.int64)
    np.add.at(in_prog, (offer, prog), 1)
    for k in np.flatnonzero(pb.offer_level):
        eligible = np.bincount(pb.sku_offer[pb.eligible[:, k]], minlength=pb.n_offers)
        if ((in_prog[:, k] > 0) & (in_prog[:, k] != eligible)).any():
            refused(f"{pb.programs[k]} takes part of an offer (all or none)")
            return None
    for a, b in pb.exclusive:
        if ((in_prog[:, a] > 0) & (in_prog[:, b] > 0)).any():
            refused(f"an offer in both {pb.programs[a]} and {pb.programs[b]}")
            return None
    rows = GlobalRows.of(pb)
    if not rows.fits(rows.usage(pb, pv, np.zeros(pv.size, np.int64), 1, ev)[0]):
        refused("a global row (max_skus, discount budget, GMV target) fails")
        return None
    order = np.argsort(pv, kind="stable")
    return float(ev["margin"].sum()), pv[order], price[order]
