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

import itertools
import logging
from dataclasses import dataclass

import numpy as np

from optimizer.score.candidates import peak_price
from optimizer.score.problem import Problem

log = logging.getLogger(__name__)

NEG = -1e30
BISECTION_STEPS = 30  # stock multiplier to ~1e-9 of its bracket; any value gives a valid bound


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


def build_structure(pb: Problem) -> Structure:
    """Enumerate offer states and hub patterns once; they do not depend on multipliers."""
    k_count = len(pb.programs)
    gates = tuple(sorted({k for k in range(k_count) if pb.offer_level[k]}
                         | {k for pair in pb.exclusive for k in pair}))
    states = []
    for bits in itertools.product((False, True), repeat=len(gates)):
        on = {g for g, b in zip(gates, bits, strict=True) if b}
        if any(a in on and b in on for a, b in pb.exclusive):
            continue
        allowed = np.array([(k not in gates) or (k in on) for k in range(k_count)], dtype=bool)
        states.append(allowed)
    combos = []
    hub = pb.hub
    for si, allowed in enumerate(states):
        for pattern in itertools.product((0, 1), repeat=len(hub)):
            compat = np.ones(pb.m, bool)
            for hi_, (h, bit) in enumerate(zip(hub, pattern, strict=True)):
                col = pb.pv_hub[:, hi_]
                compat &= (col == -1) | (col == bit)
                del h
            forced_prog = np.zeros((pb.n, k_count), bool)  # must be enrolled in this combo
            feasible = np.ones(pb.n, bool)
            for k in range(k_count):
                if pb.offer_level[k] and allowed[k]:
                    forced_prog[:, k] |= pb.eligible[:, k]
            for h, bit in zip(hub, pattern, strict=True):
                if bit:
                    feasible &= allowed[h] & pb.eligible[:, h]
                    forced_prog[:, h] |= True
                else:
                    feasible &= ~forced_prog[:, h]  # pattern says out, the offer says in
            forced_pv = forced_prog[pb.pv_sku, pb.pv_prog] & compat
            # every forced program needs a compatible pv
            have = np.zeros((pb.n, k_count), bool)
            have[pb.pv_sku[forced_pv], pb.pv_prog[forced_pv]] = True
            feasible &= ~(forced_prog & ~have).any(axis=1)
            optional = compat & ~forced_pv & allowed[pb.pv_prog] & ~pb.offer_level[pb.pv_prog]
            hub_mask = np.isin(pb.pv_prog, np.array(hub, np.int64))
            optional &= ~hub_mask  # hub programs are fixed by the pattern
            status = np.where(forced_pv, 2, np.where(optional, 1, 0)).astype(np.int8)
            combos.append(Combo(si, status, feasible))
    return Structure(gates, len(states), tuple(combos))


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
    usage: np.ndarray  # [per-program count (K), discount, revenue] of the relaxed solution


def penalised_value(pb: Problem, mult: Multipliers, pv: np.ndarray, price: np.ndarray
                    ) -> np.ndarray:
    """u(p) * (alpha p - beta) - lambda_k at given prices (stock multiplier 0)."""
    alpha = 1.0 - pb.pv_fee[pv] + mult.budget + mult.gmv
    beta = pb.pv_cost[pv] + mult.budget * pb.pv_market[pv]
    return pb.units(pv, price) * (alpha * price - beta) - mult.prog[pb.pv_prog[pv]]


def best_prices(pb: Problem, mult: Multipliers, nu_pv: np.ndarray | float,
                pv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best lattice price per pv of u(p)*(alpha p - beta) - lambda_k, its value and units."""
    sel = slice(None) if pv is None else pv
    alpha = 1.0 - pb.pv_fee[sel] + mult.budget + mult.gmv
    beta = pb.pv_cost[sel] + mult.budget * pb.pv_market[sel] + nu_pv
    price, value, units = peak_price(pb, alpha, beta, pv)
    return price, value - mult.prog[pb.pv_prog[sel]], units


class Dual:
    """Evaluates the Lagrangian bound at given multipliers.

    Stock is relaxed per SKU *and per combo* (weak duality holds for each SKU's subproblem under
    each offer state separately), with the multiplier found by bisection so that the combo's
    units fit the stock: the relaxed choices are then stock-feasible, hence usable as columns.
    """

    def __init__(self, pb: Problem):
        self.pb = pb
        self.st = build_structure(pb)
        self.nu_scale = float(pb.pv_market.max(initial=1)) * 20.0 + float(pb.pv_cost.max(initial=0))
        self.combo_state = np.array([c.state for c in self.st.combos], np.int64)

    def _combo(self, combo: Combo, mult: Multipliers,
               base: tuple[np.ndarray, np.ndarray, np.ndarray], stock: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SKU values (with nu*avail), pv prices and pv picks for one combo."""
        pb = self.pb
        price, value, units = (a.copy() for a in base)
        take = (combo.status == 2) | ((combo.status == 1) & (value > 0))
        used = np.bincount(pb.pv_sku, np.where(take, units, 0.0), minlength=pb.n)
        v = np.bincount(pb.pv_sku, np.where(take, value, 0.0), minlength=pb.n)
        over = combo.feasible & (used > pb.avail * (1 + 1e-12) + 1e-9) & stock
        if over.any():
            pvs = np.flatnonzero(over[pb.pv_sku] & (combo.status > 0))
            sub_v, sub_price, sub_take = self._stock_bound(combo, mult, over, pvs)
            v = np.where(over, sub_v, v)
            price[pvs], take[pvs] = sub_price, sub_take
        return np.where(combo.feasible, v, NEG), price, take

    def _stock_bound(self, combo: Combo, mult: Multipliers, over: np.ndarray, pvs: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """SKUs whose choice overflows their stock: per subset of optional programs taken, the
        penalised margin is concave in units, so a stock multiplier found by bisection bounds the
        subset exactly (up to the fen lattice), and its prices fit the stock."""
        pb = self.pb
        skus, progs, status = pb.pv_sku[pvs], pb.pv_prog[pvs], combo.status[pvs]
        optional = status == 1
        opt_progs = sorted(set(progs[optional].tolist()))
        n = pb.n
        best_v = np.full(n, NEG)
        best_price = pb.pv_hi[pvs].copy()
        best_take = np.zeros(pvs.size, bool)
        # beyond this stock multiplier every enrollment of the SKU loses money: all sit at hi
        alpha = 1.0 - pb.pv_fee[pvs] + mult.budget + mult.gmv
        slope = alpha * pb.pv_hi[pvs] - pb.pv_cost[pvs] - mult.budget * pb.pv_market[pvs]
        nu_max = np.zeros(n)
        np.maximum.at(nu_max, skus, slope)
        nu_max = np.maximum(nu_max, 0.0) * 1.001 + 1.0
        opt_count = {k: np.bincount(skus, optional & (progs == k), minlength=n) for k in opt_progs}
        for bits in itertools.product((False, True), repeat=len(opt_progs)):
            members = {k for k, b in zip(opt_progs, bits, strict=True) if b}
            valid = over.copy()
            for k in members:
                valid &= opt_count[k] > 0
            inset = (status == 2) | (optional & np.isin(progs, list(members)))
            if not valid.any():
                continue
            lo_nu, hi_nu = np.zeros(n), np.zeros(n)
            _, _, u0 = best_prices(pb, mult, 0.0, pvs)
            need = np.bincount(skus, np.where(inset, u0, 0.0), minlength=n) > pb.avail
            hi_nu = np.where(need, nu_max, 0.0)
            if need.any():
                for _ in range(BISECTION_STEPS):
                    mid = 0.5 * (lo_nu + hi_nu)
                    _, _, u_sub = best_prices(pb, mult, mid[skus], pvs)
                    u_sku = np.bincount(skus, np.where(inset, u_sub, 0.0), minlength=n)
                    too_much = u_sku > pb.avail
                    lo_nu = np.where(need & too_much, mid, lo_nu)
                    hi_nu = np.where(need & ~too_much, mid, hi_nu)
            nu = hi_nu
            p_sub, v_sub, u_sub = best_prices(pb, mult, nu[skus], pvs)
            used = np.bincount(skus, np.where(inset, u_sub, 0.0), minlength=n)
            val = np.bincount(skus, np.where(inset, v_sub, 0.0), minlength=n) + nu * pb.avail
            # not fitting even at nu_max (highest prices): this subset is infeasible
            val = np.where(valid & (used <= pb.avail * (1 + 1e-9) + 1e-9), val, NEG)
            better = val > best_v
            best_v = np.where(better, val, best_v)
            upd = better[skus]
            best_price = np.where(upd, p_sub, best_price)
            best_take = np.where(upd, inset, best_take)
        return best_v, best_price, best_take

    def evaluate(self, mult: Multipliers, stock: bool = True) -> DualPoint:
        """L(mult): valid for any multipliers; `stock=False` relaxes stock entirely (weaker)."""
        pb = self.pb
        n_states = self.st.n_states
        state_val = np.full((n_states, pb.n), NEG)
        state_combo = np.zeros((n_states, pb.n), np.int64)
        prices, picks = [], []
        base = best_prices(pb, mult, 0.0)
        for ci, combo in enumerate(self.st.combos):
            v, price, take = self._combo(combo, mult, base, stock)
            prices.append(price)
            picks.append(take)
            si = combo.state
            better = v > state_val[si]
            state_val[si] = np.where(better, v, state_val[si])
            state_combo[si] = np.where(better, ci, state_combo[si])
        offer_val = np.array([np.bincount(pb.sku_offer, state_val[s], minlength=pb.n_offers)
                              for s in range(n_states)])
        offer_val = np.maximum(offer_val, NEG)
        best_state = np.argmax(offer_val, axis=0)
        per_offer = offer_val[best_state, np.arange(pb.n_offers)]
        sku_combo = state_combo[best_state[pb.sku_offer], np.arange(pb.n)]
        pv_combo = sku_combo[pb.pv_sku]
        rows = np.arange(pb.m)
        chosen = np.array(picks)[pv_combo, rows]
        price = np.array(prices)[pv_combo, rows]
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
            [ev["discount"].sum(), ev["revenue"].sum()],
        ])
        return DualPoint(float(per_offer.sum()) + limits, mult, price, chosen, per_offer, usage)
