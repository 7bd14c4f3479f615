"""A valid upper bound over the full fen lattice, by Lagrangian relaxation of what couples SKUs.

The global rows (max_skus per program, discount budget, GMV minimum) get multipliers; each SKU's
stock row gets its own. What remains separates per offer, and per pair-variant the penalised
margin u(p) * (alpha*p - beta) is unimodal in p (constant elasticity), so its best lattice price is
one of two neighbours of a closed-form peak, or an end of [lo, hi]. Per offer we enumerate the
offer-level states (which all-or-none programs are on, which exclusive programs are allowed) and
per SKU the hub patterns (the SKU's membership of the fee-sharing programs). For any multipliers
>= 0 the result bounds the optimum from above; the multipliers are improved by a cutting-plane
method on the (convex, piecewise linear) dual.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import logging
from dataclasses import dataclass

import numpy as np

from optimizer.score.candidates import SplitRows
from optimizer.score.problem import KEEP_OF_FIXED, Problem

log = logging.getLogger(__name__)

NEG = -1e30
BISECTION_STEPS = 22  # multiplier to ~2e-7 of its bracket: under a fen per SKU; any is valid


@dataclass(frozen=True)
class Combo:
    """One offer state x hub pattern: per pv 0 ignore / 1 optional / 2 forced; per SKU feasible."""

    state: int
    status: np.ndarray  # int8 (m,)
    feasible: np.ndarray  # bool (n,)


@dataclass(frozen=True)
class Structure:
    gates: tuple[int, ...]  # programs decided per offer (all-or-none or in an exclusive pair)
    n_states: int
    combos: tuple[Combo, ...]
    state_on: np.ndarray  # bool (n_states, len(gates)): which gates each offer state turns on


def build_structure(pb: Problem) -> Structure:
    """Enumerate offer states and hub patterns once; they do not depend on multipliers.

    Gates are programs decided per offer (all-or-none, or in an exclusive pair) and, for a
    fixed_until_exit program with rows today, its *keep* gate (index K + k): on, the offer keeps
    exactly today's rows of k (each forced, at its price) and registers nothing new in k; off,
    today's rows are gone and k is open to new enrollments. Today's no_exit rows are forced in
    every combo: a state that cannot hold one is not a plan of that SKU's offer."""
    k_count = len(pb.programs)
    keep_gates = [int(k) for k in pb.keep_gates]
    gates = tuple(sorted({k for k in range(k_count) if pb.offer_level[k]}
                         | {k for pair in pb.exclusive for k in pair})) \
        + tuple(k_count + k for k in keep_gates)
    states = []
    state_on = []
    keeping_of = []
    for bits in itertools.product((False, True), repeat=len(gates)):
        on = {g for g, b in zip(gates, bits, strict=True) if b}
        if any(a in on and b in on for a, b in pb.exclusive):
            continue
        # keeping today's rows of k is being in k (exclusivity, its gate)
        if any(k_count + k in on and k in gates and k not in on for k in keep_gates):
            continue
        allowed = np.array([(k not in gates) or (k in on) for k in range(k_count)], dtype=bool)
        keeping = np.array([k_count + k in on for k in range(k_count)], dtype=bool)
        states.append(allowed)
        state_on.append(bits)
        keeping_of.append(keeping)
    combos = []
    hub = pb.hub
    flat = pb.pv_sku * k_count + pb.pv_prog  # (SKU, program) cell of each pv
    # hub programs are fixed by the pattern, offer-level ones by the state: never optional
    free_prog = ~pb.offer_level & ~np.isin(np.arange(k_count), np.array(hub, np.int64))
    patterns = list(itertools.product((0, 1), repeat=len(hub)))
    compats = []
    for pattern in patterns:
        compat = np.ones(pb.m, bool)
        for hi_, bit in enumerate(pattern):
            col = pb.pv_hub[:, hi_]
            compat &= (col == -1) | (col == bit)
        compats.append(compat)
    for si, (allowed, keeping) in enumerate(zip(states, keeping_of, strict=True)):
        # a fixed_until_exit offer: the kept rows while keeping, new ones otherwise
        mode_ok = np.where(keeping[pb.pv_prog], pb.pv_mode == KEEP_OF_FIXED,
                           pb.pv_mode != KEEP_OF_FIXED)
        optional_prog = free_prog & allowed
        # an all-or-none program that is on takes every SKU of the offer that qualifies
        state_forced = pb.eligible & (pb.offer_level & allowed)[None, :]
        state_forced |= pb.force
        state_forced |= pb.keep_cell & keeping[None, :]
        for pattern, compat in zip(patterns, compats, strict=True):
            forced_prog = state_forced.copy()  # must be enrolled in this combo
            # a locked row's program must be open in the state (its gate on): a SKU locked in
            # 伙拼 keeps its offer out of off-site and brings the offer's 伙拼 all or none
            feasible = ~(pb.force & ~allowed[None, :]).any(axis=1)
            for h, bit in zip(hub, pattern, strict=True):
                if bit:
                    feasible &= allowed[h] & pb.eligible[:, h]
                    forced_prog[:, h] |= True
                else:
                    feasible &= ~forced_prog[:, h]  # pattern says out, the offer says in
            usable = compat & mode_ok
            forced_pv = forced_prog.ravel()[flat] & usable
            # every forced program needs a usable pv
            have = np.zeros(pb.n * k_count, bool)
            have[flat[forced_pv]] = True
            feasible &= ~(forced_prog & ~have.reshape(pb.n, k_count)).any(axis=1)
            status = (usable & optional_prog[pb.pv_prog]).view(np.int8).copy()
            status[forced_pv] = 2
            combos.append(Combo(si, status, feasible))
    return Structure(gates, len(states), tuple(combos),
                     np.array(state_on, bool).reshape(len(states), len(gates)))


_STRUCTURES: dict[bytes, Structure] = {}
_STRUCTURES_KEPT = 2


def cached_structure(pb: Problem) -> Structure:
    """`build_structure`, remembered by the content of all it reads: the points of a sweep that
    keep every SKU's eligibility share it (0.15 s a point at 100k SKUs, 1.5 s at 1M)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((pb.programs, pb.exclusive, pb.hub, pb.n, pb.m)).encode())
    for arr in (pb.offer_level, pb.eligible, pb.force, pb.keep_cell, pb.pv_sku, pb.pv_prog,
                pb.pv_hub, pb.pv_mode):
        h.update(repr((arr.dtype.str, arr.shape)).encode())
        h.update(np.ascontiguousarray(arr).tobytes())
    key = h.digest()
    if key not in _STRUCTURES:
        if len(_STRUCTURES) >= _STRUCTURES_KEPT:
            _STRUCTURES.pop(next(iter(_STRUCTURES)))
        _STRUCTURES[key] = build_structure(pb)
    return _STRUCTURES[key]


@dataclass(frozen=True)
class Multipliers:
    prog: np.ndarray  # (K,) per enrolled SKU in a program with max_skus
    budget: float
    gmv: float


@dataclass(frozen=True)
class DualPoint:
    value: float  # the bound, fen
    mult: Multipliers
    price: np.ndarray  # (m,) best lattice price per pv (in the combo the SKU took)
    chosen: np.ndarray  # bool (m,) pvs enrolled in the relaxed solution
    offer_value: np.ndarray  # (n_offers,) penalised value of each offer's best choice
    usage: np.ndarray  # [per-program count (K), discount, GMV revenue] of the relaxed solution
    offer_state: np.ndarray  # (n_offers,) the offer state of each offer's best choice


def penalised_value(pb: Problem, mult: Multipliers, pv: np.ndarray, price: np.ndarray
                    ) -> np.ndarray:
    """u(p) * (alpha p - beta) - lambda_k at given prices (stock multiplier 0)."""
    alpha = 1.0 - pb.pv_fee[pv] + mult.budget + mult.gmv * pb.pv_counts[pv]
    beta = pb.pv_cost[pv] + mult.budget * pb.pv_market[pv]
    return pb.units(pv, price) * (alpha * price - beta) - mult.prog[pb.pv_prog[pv]]


def best_prices(pb: Problem, mult: Multipliers, nu_pv: np.ndarray | float,
                pv: np.ndarray | None = None, threads: int = 1,
                rows: SplitRows | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best lattice price per pv of u(p)*(alpha p - beta) - lambda_k, its value and units.
    `rows`: `SplitRows.of(pb, pv, threads)` when the caller keeps it between calls."""
    sel = slice(None) if pv is None else pv
    alpha = 1.0 - pb.pv_fee[sel] + mult.budget + mult.gmv * pb.pv_counts[sel]
    beta = pb.pv_cost[sel] + mult.budget * pb.pv_market[sel] + nu_pv
    if rows is None:
        rows = SplitRows.of(pb, pv, threads)
    price, value, units = rows.peak(alpha, beta)
    return price, value - mult.prog[pb.pv_prog[sel]], units


def concat_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges [start, start + count) without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(total, dtype=np.int64)


class Dual:
    """Evaluates the Lagrangian bound at given multipliers.

    Stock is relaxed per SKU *and per combo* (weak duality holds for each SKU's subproblem under
    each offer state separately), with the multiplier found by bisection so that the combo's
    units fit the stock: the relaxed choices are then stock-feasible, hence usable as columns.
    Many combos ask the same stock question of a SKU (the same programs in, the same fixed ones),
    so the questions are deduplicated and answered in one batch.
    """

    def __init__(self, pb: Problem, threads: int = 1):
        self.pb = pb
        self.threads = threads  # for the pricing's hot loop (`peak_price`); same result for any
        self._all_rows: tuple[Problem, SplitRows] | None = None  # every pv's, sliced: no copy
        self.st = cached_structure(pb)
        self.combo_state = np.array([c.state for c in self.st.combos], np.int64)
        self.status = (np.stack([c.status for c in self.st.combos]) if self.st.combos
                       else np.zeros((0, pb.m), np.int8))
        counts = np.bincount(pb.pv_sku, minlength=pb.n)
        self.sku_count = counts
        self.sku_start = np.cumsum(counts) - counts
        self.local = np.arange(pb.m) - self.sku_start[pb.pv_sku]
        if pb.m and int(self.local.max()) >= 62:
            raise ValueError("more than 62 program fee variants for one SKU")
        self.bit = np.left_shift(np.int64(1), self.local.astype(np.int64))
        self.feasible = (np.stack([c.feasible for c in self.st.combos]) if self.st.combos
                         else np.zeros((0, pb.n), bool))

    def restricted(self, pb: Problem, forbid: np.ndarray, force: np.ndarray) -> Dual:
        """The same pricing over a branch: `pb` with narrowed price intervals, the pvs in
        `forbid` (bool, m) never taken, the (SKU, program) cells in `force` (bool, n x K) always
        enrolled. A combo that would need a forbidden pv, or has no pv for a forced cell, cannot
        take that SKU."""
        other = copy.copy(self)
        other.pb = pb
        n, k_count = pb.n, len(pb.programs)
        forbid = forbid | (pb.pv_lo > pb.pv_hi)
        status = self.status.copy()
        bad = np.zeros(self.feasible.shape, bool)
        for c in range(status.shape[0]):
            bad[c] = np.bincount(pb.pv_sku, (status[c] == 2) & forbid, minlength=n) > 0
        status[:, forbid] = 0
        cell = force[pb.pv_sku, pb.pv_prog]
        status = np.where(cell[None, :] & (status == 1), np.int8(2), status).astype(np.int8)
        if force.any():
            for c in range(status.shape[0]):
                have = np.zeros((n, k_count), bool)
                on = status[c] == 2
                have[pb.pv_sku[on], pb.pv_prog[on]] = True
                bad[c] |= (force & ~have).any(axis=1)
        other.status = status
        other.feasible = self.feasible & ~bad
        return other

    def empty_ok(self) -> np.ndarray:
        """bool (n_states, n_offers): leaving the whole offer out is a plan of that state (no
        all-or-none program it turns on takes a SKU of the offer, no cell is forced)."""
        pb = self.pb
        sku_ok = np.zeros((self.st.n_states, pb.n), bool)
        for c in range(self.status.shape[0]):
            forced = np.bincount(pb.pv_sku, self.status[c] == 2, minlength=pb.n) > 0
            sku_ok[self.combo_state[c]] |= self.feasible[c] & ~forced
        bad = np.zeros((self.st.n_states, pb.n_offers), np.int64)
        for si in range(self.st.n_states):
            bad[si] = np.bincount(pb.sku_offer, ~sku_ok[si], minlength=pb.n_offers)
        return bad == 0

    def _questions(self, over: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray]:
        """Every (SKU, set of pvs taken) a combo's overflowing SKUs can choose: the combo's forced
        pvs plus any subset of its optional programs. Returns (combo, sku, cell, mask) rows: the
        cell numbers the (combo, SKU) pairs of `over` densely, in its order."""
        pb = self.pb
        rows_c, rows_s, rows_cell, rows_m = [], [], [], []
        base = 0
        for c, skus in enumerate(over):
            if skus.size == 0:
                continue
            cells = base + np.arange(skus.size)
            base += skus.size
            cnt = self.sku_count[skus]  # >= 1: the SKU overflows
            pvs = concat_ranges(self.sku_start[skus], cnt)
            seg = np.cumsum(cnt) - cnt
            bit = self.bit[pvs]
            status = self.status[c][pvs]
            prog = pb.pv_prog[pvs]

            def bits(on: np.ndarray, bit: np.ndarray = bit, seg: np.ndarray = seg) -> np.ndarray:
                return np.add.reduceat(np.where(on, bit, 0), seg)

            forced = bits(status == 2)
            optional = status == 1
            progs = sorted(set(prog[optional].tolist()))
            per_prog = [bits(optional & (prog == k)) for k in progs]
            for pick in itertools.product((False, True), repeat=len(progs)):
                mask = forced.copy()
                valid = np.ones(skus.size, bool)
                for b, pm in zip(pick, per_prog, strict=True):
                    if b:
                        valid &= pm != 0
                        mask |= pm
                rows_c.append(np.full(int(valid.sum()), c, np.int64))
                rows_s.append(skus[valid])
                rows_cell.append(cells[valid])
                rows_m.append(mask[valid])
        if not rows_c:
            empty = np.zeros(0, np.int64)
            return empty, empty, empty, empty
        return (np.concatenate(rows_c), np.concatenate(rows_s), np.concatenate(rows_cell),
                np.concatenate(rows_m))

    def _stock_answers(self, mult: Multipliers, sku: np.ndarray, mask: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each (SKU, pv set): the penalised margin of the set under the SKU's stock, exact
        per set up to the fen lattice (concave in units, so a multiplier found by bisection
        bounds it), NEG where the set cannot fit even at its highest prices.

        Returns (value per question, row question, row pv, row price), rows sorted by question.
        """
        pb = self.pb
        q = sku.size
        cnt = self.sku_count[sku]
        rep = np.repeat(np.arange(q), cnt)
        local = np.arange(rep.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        keep = ((mask[rep] >> local) & 1) == 1
        rq = rep[keep]
        rpv = self.sku_start[sku][rq] + local[keep]
        avail = pb.avail[sku]
        alpha = 1.0 - pb.pv_fee[rpv] + mult.budget + mult.gmv * pb.pv_counts[rpv]
        beta = pb.pv_cost[rpv] + mult.budget * pb.pv_market[rpv]
        # gathered once: priced 24 times (a node of a branch prices a few SKUs, a full pricing
        # millions of rows, split over the pricing threads)
        all_rows = SplitRows.of(pb, rpv, self.threads)
        _, _, u0 = all_rows.peak(alpha, beta)
        need = np.bincount(rq, u0, minlength=q) > avail
        nu = np.zeros(q)
        needy = np.flatnonzero(need)
        if needy.size:
            # beyond this multiplier every pv of the set sits at its highest price
            slope = alpha * pb.pv_hi[rpv] - beta
            nu_max = np.zeros(q)
            np.maximum.at(nu_max, rq, slope)
            nu_max = np.maximum(nu_max, 0.0) * 1.001 + 1.0
            remap = np.full(q, -1, np.int64)
            remap[needy] = np.arange(needy.size)
            r_sel = np.flatnonzero(need[rq])
            r_q = remap[rq[r_sel]]
            r_pv, r_a, r_b = rpv[r_sel], alpha[r_sel], beta[r_sel]
            lo, hi = np.zeros(needy.size), nu_max[needy]
            cap = avail[needy]
            rows = SplitRows.of(pb, r_pv, self.threads)
            for _ in range(BISECTION_STEPS):
                mid = 0.5 * (lo + hi)
                _, _, u = rows.peak(r_a, r_b + mid[r_q])
                too_much = np.bincount(r_q, u, minlength=needy.size) > cap
                lo = np.where(too_much, mid, lo)
                hi = np.where(too_much, hi, mid)
            nu[needy] = hi
        price, value, units = all_rows.peak(alpha, beta + nu[rq])
        value = value - mult.prog[pb.pv_prog[rpv]]
        used = np.bincount(rq, units, minlength=q)
        val = np.bincount(rq, value, minlength=q) + nu * avail
        # not fitting even at the highest prices: this set is infeasible
        val = np.where(used <= avail * (1 + 1e-9) + 1e-9, val, NEG)
        return val, rq, rpv, price

    def evaluate(self, mult: Multipliers, stock: bool = True,
                 allowed: np.ndarray | None = None) -> DualPoint:
        """L(mult): valid for any multipliers; `stock=False` relaxes stock entirely (weaker).

        `allowed` (bool, n_states x n_offers) restricts each offer to some of its states (a
        branch of the search over offer states): the value bounds the plans of that branch."""
        pb = self.pb
        combos = self.st.combos
        n_states = self.st.n_states
        if self._all_rows is None or self._all_rows[0] is not pb:  # (a branch's own pb)
            self._all_rows = (pb, SplitRows.of(pb, None, self.threads))
        base_price, base_value, base_units = best_prices(pb, mult, 0.0, threads=self.threads,
                                                         rows=self._all_rows[1])
        positive = base_value > 0
        sku_val = np.empty((len(combos), pb.n))
        over: list[np.ndarray] = []
        tol = pb.avail * (1 + 1e-12) + 1e-9
        for ci in range(len(combos)):
            status = self.status[ci]
            take = (status == 2) | ((status == 1) & positive)
            v = np.bincount(pb.pv_sku, np.where(take, base_value, 0.0), minlength=pb.n)
            sku_val[ci] = np.where(self.feasible[ci], v, NEG)
            if stock:
                used = np.bincount(pb.pv_sku, np.where(take, base_units, 0.0), minlength=pb.n)
                over.append(np.flatnonzero(self.feasible[ci] & (used > tol)))
        # stock: deduplicated (SKU, pv set) questions, answered in one batch
        q_combo, q_sku, cell, q_mask = self._questions(over) if stock else \
            (np.zeros(0, np.int64),) * 4
        # (combo, SKU, question) of the best questions, in question order: not a (combos x SKUs)
        # table (two of them cost 0.2 s an evaluation at 1M SKUs, mostly in page faults)
        top_c, top_s, top_q = cell, cell, cell
        if q_combo.size:
            # one integer key per (SKU, pv set): the set is a bitmask over the SKU's pvs
            width = int(self.local.max()) + 1
            uniq, inverse = np.unique(q_sku << width | q_mask, return_inverse=True)
            inverse = inverse.reshape(-1)
            ans_val, row_q, row_pv, row_price = self._stock_answers(
                mult, uniq >> width, uniq & ((1 << width) - 1))
            val = ans_val[inverse]
            # per (combo, SKU), the best of its questions
            top_val = np.full(int(cell.max()) + 1, NEG)
            np.maximum.at(top_val, cell, val)
            top = np.flatnonzero(val >= top_val[cell])
            top_c, top_s, top_q = q_combo[top], q_sku[top], inverse[top]
            sku_val[top_c, top_s] = np.where(self.feasible[top_c, top_s], val[top], NEG)
            q_start = np.searchsorted(row_q, np.arange(uniq.size))
            q_end = np.searchsorted(row_q, np.arange(uniq.size), side="right")
        state_val = np.full((n_states, pb.n), NEG)
        state_combo = np.zeros((n_states, pb.n), np.int64)
        for ci, combo in enumerate(combos):
            si = combo.state
            better = sku_val[ci] > state_val[si]
            state_val[si] = np.where(better, sku_val[ci], state_val[si])
            state_combo[si] = np.where(better, ci, state_combo[si])
        offer_val = np.array([np.bincount(pb.sku_offer, state_val[s], minlength=pb.n_offers)
                              for s in range(n_states)])
        offer_val = np.maximum(offer_val, NEG)
        if allowed is not None:
            offer_val = np.where(allowed, offer_val, NEG)
        best_state = np.argmax(offer_val, axis=0)
        per_offer = offer_val[best_state, np.arange(pb.n_offers)]
        sku_combo = state_combo[best_state[pb.sku_offer], np.arange(pb.n)]
        pv_combo = sku_combo[pb.pv_sku]
        status = self.status[pv_combo, np.arange(pb.m)]
        chosen = (status == 2) | ((status == 1) & positive)
        price = base_price.copy()
        # the answer each SKU's combo took (of several tied, the last, as a table would keep)
        answered = np.full(pb.n, -1, np.int64)
        mine = top_c == sku_combo[top_s]
        answered[top_s[mine]] = top_q[mine]
        hit = np.flatnonzero(answered >= 0)
        if hit.size:
            # SKUs whose combo needed its stock question: that answer's pvs and prices
            chosen[concat_ranges(self.sku_start[hit], self.sku_count[hit])] = False
            a = answered[hit]
            rows = concat_ranges(q_start[a], q_end[a] - q_start[a])
            chosen[row_pv[rows]] = True
            price[row_pv[rows]] = row_price[rows]
        k_count = len(pb.programs)
        capped = pb.max_skus >= 0
        limits = float((mult.prog[capped] * pb.max_skus[capped]).sum())
        if pb.budget is not None:
            limits += mult.budget * pb.budget
        if pb.gmv_min is not None:
            limits -= mult.gmv * pb.gmv_min
        ev = pb.evaluate(np.flatnonzero(chosen), price[chosen])
        usage = np.concatenate([
            np.bincount(pb.pv_prog[chosen], minlength=k_count).astype(float),
            [ev["discount"].sum(), ev["gmv"].sum()],
        ])
        return DualPoint(float(per_offer.sum()) + limits, mult, price, chosen, per_offer, usage,
                         best_state)

