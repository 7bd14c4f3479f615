"""The CP-SAT model over scored candidates: one Boolean per candidate, one small unit per rule.

Each `add_*` function adds one rule's constraints. Coefficients are integers we scale ourselves;
resource rows round *against* the plan (discount and units up, revenue down, limits the other way)
so that whatever the model accepts also holds in exact arithmetic.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from optimizer.score.candidates import Candidates
from optimizer.score.problem import KEEP_OF_FIXED, NEW_OF_FIXED, Problem
from optimizer.score.rows import GlobalRows

LinearExpr = cp_model.LinearExpr


def _scale(values: np.ndarray, limit: float = 2.0**52) -> float:
    """Largest power of ten (<= 1e4) keeping the sum of |values| * scale under `limit`."""
    total = float(np.abs(values).sum()) if values.size else 0.0
    if total <= 0:
        return 1.0
    return float(10 ** min(4, math.floor(math.log10(limit / total))))


@dataclass
class EnrollModel:
    """The CP-SAT model and the index structures that map candidates to variables."""

    pb: Problem
    cand: Candidates
    model: cp_model.CpModel = field(default_factory=cp_model.CpModel)
    x: list[cp_model.IntVar] = field(default_factory=list)
    pair_start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_sku: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    pair_prog: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    obj_scale: float = 1.0
    n_rows: dict[str, int] = field(default_factory=dict)

    def pair_expr(self, p: int) -> cp_model.LinearExprT:
        lo, hi = self.pair_start[p], self.pair_start[p + 1]
        return LinearExpr.sum(self.x[lo:hi])

    def pair_index(self) -> dict[tuple[int, int], int]:
        return {(int(s), int(k)): i for i, (s, k) in
                enumerate(zip(self.pair_sku, self.pair_prog, strict=True))}


def _sum(xs: Sequence[cp_model.IntVar], coefs: np.ndarray) -> cp_model.LinearExprT:
    return LinearExpr.weighted_sum(list(xs), coefs.astype(np.int64).tolist())


def add_one_price_per_pair(em: EnrollModel) -> None:
    """At most one price per (SKU, program), whichever fee variant it comes from."""
    count = 0
    for p in range(len(em.pair_sku)):
        lo, hi = em.pair_start[p], em.pair_start[p + 1]
        if hi - lo > 1:
            em.model.add_at_most_one(em.x[lo:hi])
            count += 1
    em.n_rows["one_price"] = count


def add_fee_variants(em: EnrollModel) -> None:
    """A pv's fee assumes the SKU is (or is not) in each hub program: make that so."""
    pb, cand = em.pb, em.cand
    if not pb.hub:
        return
    index = em.pair_index()
    pv_first = np.searchsorted(cand.pv, np.arange(pb.m))
    pv_last = np.searchsorted(cand.pv, np.arange(pb.m), side="right")
    count = 0
    for pv in np.flatnonzero((pb.pv_hub >= 0).any(axis=1)):
        lo, hi = pv_first[pv], pv_last[pv]
        if lo == hi:
            continue
        s = int(pb.pv_sku[pv])
        chosen = LinearExpr.sum(em.x[lo:hi])
        for h_i, h in enumerate(pb.hub):
            bit = int(pb.pv_hub[pv, h_i])
            if bit < 0 or h == pb.pv_prog[pv]:
                continue
            hub_pair = index.get((s, h))
            if bit == 1:
                if hub_pair is None:
                    em.model.add(chosen == 0)
                else:
                    em.model.add(chosen <= em.pair_expr(hub_pair))
            elif hub_pair is not None:
                em.model.add(LinearExpr.sum([chosen, em.pair_expr(hub_pair)]) <= 1)
            count += 1
    em.n_rows["fee_variants"] = count


def _offer_pairs(em: EnrollModel, k: int) -> dict[int, list[int]]:
    offers: dict[int, list[int]] = {}
    for p in np.flatnonzero(em.pair_prog == k):
        offers.setdefault(int(em.pb.sku_offer[em.pair_sku[p]]), []).append(int(p))
    return offers


def add_all_or_none(em: EnrollModel) -> None:
    """selection: offer: an offer's eligible SKUs enroll in the program together or not at all."""
    pb = em.pb
    count = 0
    for k in np.flatnonzero(pb.offer_level):
        eligible_offers = np.bincount(pb.sku_offer[pb.eligible[:, k]], minlength=pb.n_offers)
        for offer, pairs in _offer_pairs(em, int(k)).items():
            if len(pairs) < eligible_offers[offer]:
                for p in pairs:  # an eligible SKU without any candidate blocks the offer
                    em.model.add(em.pair_expr(p) == 0)
                    count += 1
                continue
            first = em.pair_expr(pairs[0])
            for p in pairs[1:]:
                em.model.add(em.pair_expr(p) == first)
                count += 1
    em.n_rows["all_or_none"] = count


def add_exclusivity(em: EnrollModel) -> None:
    """exclusive_with: no offer has SKUs in both programs of a pair."""
    pb, model = em.pb, em.model
    count = 0
    for a, b in pb.exclusive:
        pairs_a, pairs_b = _offer_pairs(em, a), _offer_pairs(em, b)
        for offer in sorted(set(pairs_a) & set(pairs_b)):
            flags = []
            for k, pairs in ((a, pairs_a[offer]), (b, pairs_b[offer])):
                if pb.offer_level[k] or len(pairs) == 1:
                    flags.append(em.pair_expr(pairs[0]))
                else:
                    w = model.new_bool_var(f"offer{offer}_in_{k}")
                    for p in pairs:
                        model.add(em.pair_expr(p) <= w)
                    flags.append(w)
            model.add(LinearExpr.sum(flags) <= 1)
            count += 1
    em.n_rows["exclusive"] = count


def add_stock(em: EnrollModel) -> None:
    """Units of all a SKU's enrollments fit its stock less the reserve (only where it can bind)."""
    pb, cand = em.pb, em.cand
    sku = pb.pv_sku[cand.pv]
    per_pair_max = np.zeros(len(em.pair_sku))
    pair_of = np.repeat(np.arange(len(em.pair_sku)), np.diff(em.pair_start))
    np.maximum.at(per_pair_max, pair_of, cand.units)
    need = np.bincount(em.pair_sku, per_pair_max, minlength=pb.n)
    scale = _scale(np.maximum(need, pb.avail), 2.0**40)
    count = 0
    starts = np.searchsorted(sku, np.arange(pb.n))
    ends = np.searchsorted(sku, np.arange(pb.n), side="right")
    for s in np.flatnonzero(need > pb.avail):
        lo, hi = starts[s], ends[s]
        coefs = np.ceil(cand.units[lo:hi] * scale)
        em.model.add(_sum(em.x[lo:hi], coefs) <= math.floor(pb.avail[s] * scale))
        count += 1
    em.n_rows["stock"] = count


# The global rows (GlobalRows) as CP-SAT rows over any Booleans: the candidate model's `add_*`
# rules and the column model both build them here. Money rows round against the plan.

def _count_row(model: cp_model.CpModel, x: Sequence[cp_model.IntVar], counts: np.ndarray,
               limit: int) -> bool:
    """sum counts.x <= limit (a program's SKUs per variable), added only where it can bind."""
    if counts.sum() <= limit:
        return False
    model.add(_sum(x, np.round(counts)) <= limit)
    return True


def _discount_row(model: cp_model.CpModel, x: Sequence[cp_model.IntVar], discount: np.ndarray,
                  budget: float) -> None:
    """sum discount.x <= budget, discount rounded up and the budget down."""
    scale = _scale(np.append(np.abs(discount), abs(budget)))
    model.add(_sum(x, np.ceil(discount * scale)) <= math.floor(budget * scale))


def _gmv_row(model: cp_model.CpModel, x: Sequence[cp_model.IntVar], revenue: np.ndarray,
             need: float) -> None:
    """sum revenue.x >= need, revenue rounded down and the need up."""
    scale = _scale(np.append(revenue, need))
    model.add(_sum(x, np.floor(revenue * scale)) >= math.ceil(need * scale))


def add_max_skus(em: EnrollModel) -> None:
    in_prog = em.pb.pv_prog[em.cand.pv]
    for k in GlobalRows.of(em.pb).capped:
        if _count_row(em.model, em.x, (in_prog == k).astype(np.float64), int(em.pb.max_skus[k])):
            em.n_rows[f"max_skus_{em.pb.programs[k]}"] = 1


def add_discount_budget(em: EnrollModel) -> None:
    budget = GlobalRows.of(em.pb).budget
    if budget is None or em.cand.discount.clip(min=0).sum() <= budget:
        return
    _discount_row(em.model, em.x, em.cand.discount, budget)
    em.n_rows["discount_budget"] = 1


def add_gmv_min(em: EnrollModel) -> None:
    rows = GlobalRows.of(em.pb)
    if rows.gmv_min is None or not rows.has_gmv:
        return
    _gmv_row(em.model, em.x, em.cand.revenue * em.pb.pv_counts[em.cand.pv], rows.gmv_min)
    em.n_rows["gmv_min"] = 1


def set_objective(em: EnrollModel) -> None:
    """Maximise margin; coefficients rounded to 1/scale fen (the bound accounts for it)."""
    em.obj_scale = _scale(em.cand.margin, 2.0**50)
    coefs = np.round(em.cand.margin * em.obj_scale)
    em.model.maximize(_sum(em.x, coefs))


def _groups(key: np.ndarray, idx: np.ndarray) -> dict[int, list[int]]:
    """The indices `idx` grouped by their `key`, one sort."""
    if idx.size == 0:
        return {}
    order = idx[np.argsort(key[idx], kind="stable")]
    keys = key[order]
    cuts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return {int(keys[a]): order[a:b].tolist()
            for a, b in zip(cuts.tolist(), [*cuts[1:].tolist(), order.size], strict=True)}


def add_commitments(em: EnrollModel) -> None:
    """Today's enrollments (SPEC 6.1): a no_exit row is in the plan (its only candidate is
    today's price); a fixed_until_exit offer keeps every one of today's rows of the program, at
    its price, and nothing new in it, or none of them."""
    pb, cand, model = em.pb, em.cand, em.model
    count = 0
    index = em.pair_index()
    for s, k in zip(*np.nonzero(pb.force), strict=True):
        p = index.get((int(s), int(k)))
        if p is None:  # no candidate can hold it: no plan
            model.add_bool_or([])
        else:
            model.add(em.pair_expr(p) == 1)
        count += 1
    k_count = len(pb.programs)
    mode = pb.pv_mode[cand.pv]
    cand_cell = pb.pv_sku[cand.pv] * k_count + pb.pv_prog[cand.pv]
    cand_group = pb.sku_offer[pb.pv_sku[cand.pv]] * k_count + pb.pv_prog[cand.pv]
    kept_of = _groups(cand_cell, np.flatnonzero(mode == KEEP_OF_FIXED))
    new_of = _groups(cand_group, np.flatnonzero(mode == NEW_OF_FIXED))
    cells = np.flatnonzero(pb.keep_cell.ravel())  # today's rows of fixed_until_exit programs
    groups = pb.sku_offer[cells // k_count] * k_count + cells % k_count
    for g, members in _groups(groups, np.arange(cells.size)).items():
        keeps = model.new_bool_var(f"offer{g // k_count}_keeps_{g % k_count}")
        for c in cells[members].tolist():  # each row of today's: kept, at its price, or not
            model.add(LinearExpr.sum([em.x[i] for i in kept_of.get(c, [])]) == keeps)
        new = new_of.get(g, [])
        if new:
            model.add(LinearExpr.sum([em.x[i] for i in new]) <= len(new) * (1 - keeps))
        count += 1
    if count:
        em.n_rows["commitments"] = count


RULES = (add_one_price_per_pair, add_fee_variants, add_all_or_none, add_exclusivity, add_stock,
         add_max_skus, add_discount_budget, add_gmv_min, add_commitments)


def build_model(pb: Problem, cand: Candidates) -> EnrollModel:
    em = EnrollModel(pb, cand)
    em.x = [em.model.new_bool_var(f"x{i}") for i in range(cand.size)]
    pair_key = pb.pv_sku[cand.pv] * len(pb.programs) + pb.pv_prog[cand.pv]
    starts = np.flatnonzero(np.r_[True, pair_key[1:] != pair_key[:-1]]) if cand.size else \
        np.zeros(0, np.int64)
    em.pair_start = np.append(starts, cand.size).astype(np.int64)
    em.pair_sku = pb.pv_sku[cand.pv[starts]]
    em.pair_prog = pb.pv_prog[cand.pv[starts]]
    for rule in RULES:
        rule(em)
    set_objective(em)
    return em


@dataclass
class ColumnModel:
    """Restricted master IP: each offer takes at most one of its generated columns."""

    model: cp_model.CpModel
    x: list[cp_model.IntVar]
    obj_scale: float


def build_column_model(pb: Problem, offer: np.ndarray, value: np.ndarray,
                       usage: np.ndarray, offset: np.ndarray | None = None) -> ColumnModel:
    """Columns as arrays: offer id, margin (fen), usage (GlobalRows vectors); `offset` is the
    usage of the fixed rest of the plan. The global rows are the candidate model's, over columns
    (a column may count several SKUs in a program)."""
    rows = GlobalRows.of(pb)
    used = rows.zeros() if offset is None else offset
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"c{i}") for i in range(offer.size)]
    order = np.argsort(offer, kind="stable")
    bounds = np.flatnonzero(np.r_[True, offer[order][1:] != offer[order][:-1], True])
    must = pb.must_offers
    for a, b in itertools.pairwise(bounds):
        if must[offer[order[a]]]:  # today's no_exit rows: never nothing
            model.add_exactly_one([x[i] for i in order[a:b]])
        elif b - a > 1:
            model.add_at_most_one([x[i] for i in order[a:b]])
    for k in rows.capped:
        _count_row(model, x, usage[:, k], int(pb.max_skus[k] - round(used[k])))
    if rows.budget is not None:
        _discount_row(model, x, usage[:, rows.discount], rows.budget - used[rows.discount])
    if rows.gmv_min is not None and rows.has_gmv:
        need = rows.gmv_min - used[rows.revenue]
        if need > 0:
            _gmv_row(model, x, usage[:, rows.revenue], need)
    obj_scale = _scale(value, 2.0**50)
    model.maximize(_sum(x, np.round(value * obj_scale)))
    return ColumnModel(model, x, obj_scale)
