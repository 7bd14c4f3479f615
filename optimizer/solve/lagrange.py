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

from optimizer.score.problem import Problem

log = logging.getLogger(__name__)

NEG = -1e30


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
        allowed = np.array([(k not in gates) or (k in on) for k in range(k_count)])
        states.append(allowed)
    has_pv = np.zeros((pb.n, k_count), bool)
    has_pv[pb.pv_sku, pb.pv_prog] = True
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
    del has_pv
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
    nu: np.ndarray  # (n,) stock multipliers used
    price: np.ndarray  # (m,) best lattice price per pv at these multipliers
    chosen: np.ndarray  # bool (m,) pvs enrolled in the relaxed solution
    usage: np.ndarray  # subgradient pieces: [per-program count (K), discount, revenue]


def best_prices(pb: Problem, mult: Multipliers, nu_pv: np.ndarray,
                pv: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Best lattice price per pv of u(p)*(alpha p - beta) - lambda_k, its value and units."""
    sel = slice(None) if pv is None else pv
    lo, hi, step = pb.pv_lo[sel], pb.pv_hi[sel], pb.step
    e = pb.pv_elast[sel]
    alpha = 1.0 - pb.pv_fee[sel] + mult.budget + mult.gmv
    beta = pb.pv_cost[sel] + mult.budget * pb.pv_market[sel] + nu_pv
    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.where((e > 1) & (beta > 0) & (alpha > 0), e * beta / ((e - 1) * alpha), -1.0)
    peak = np.where(np.isfinite(peak), peak, -1.0)
    p1 = np.clip(np.floor(np.minimum(peak, 4e18) / step) * step, lo, hi).astype(np.int64)
    p2 = np.minimum(p1 + step, hi)
    cands = np.stack([lo, hi, p1, p2])
    demand, market = pb.pv_demand[sel], pb.pv_market[sel]
    units = demand * (cands / market) ** (-e)
    value = units * (alpha * cands - beta)
    best = np.argmax(value, axis=0)
    cols = np.arange(lo.shape[0])
    return cands[best, cols], value[best, cols] - mult.prog[pb.pv_prog[sel]], units[best, cols]


class Dual:
    """Evaluates the Lagrangian bound at given multipliers (stock multipliers chosen inside)."""

    def __init__(self, pb: Problem):
        self.pb = pb
        self.st = build_structure(pb)
        self.nu_max = float(pb.pv_market.max(initial=1)) * 20.0

    def _sku_values(self, value: np.ndarray, units: np.ndarray, nu: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per combo and SKU: value (with nu*avail), units, and which pvs it enrolls."""
        pb = self.pb
        n = pb.n
        vals, uses, picks = [], [], []
        for combo in self.st.combos:
            forced = combo.status == 2
            take = forced | ((combo.status == 1) & (value > 0))
            v = np.bincount(pb.pv_sku, np.where(take, value, 0.0), minlength=n)
            u = np.bincount(pb.pv_sku, np.where(take, units, 0.0), minlength=n)
            v = np.where(combo.feasible, v + nu * pb.avail, NEG)
            vals.append(v)
            uses.append(u)
            picks.append(take)
        return np.array(vals), np.array(uses), np.array(picks)

    def _choose_nu(self, mult: Multipliers) -> np.ndarray:
        """Per SKU, a stock multiplier near the minimiser of its own best-combo dual function."""
        pb = self.pb
        nu = np.zeros(pb.n)
        _, value, units = best_prices(pb, mult, nu[pb.pv_sku])
        vals, uses, _ = self._sku_values(value, units, nu)
        best = np.argmax(vals, axis=0)
        over = uses[best, np.arange(pb.n)] > pb.avail * (1 + 1e-12) + 1e-9
        if not over.any():
            return nu
        idx = np.flatnonzero(over)
        pv_mask = np.isin(pb.pv_sku, idx)
        pvs = np.flatnonzero(pv_mask)
        lo_nu, hi_nu = np.zeros(pb.n), np.full(pb.n, self.nu_max)
        for _ in range(40):
            mid = np.where(over, 0.5 * (lo_nu + hi_nu), 0.0)
            _, v_sub, u_sub = best_prices(pb, mult, mid[pb.pv_sku[pvs]], pvs)
            value_full = np.zeros(pb.m)
            units_full = np.zeros(pb.m)
            value_full[pvs], units_full[pvs] = v_sub, u_sub
            vals, uses, _ = self._sku_values(value_full, units_full, mid)
            best = np.argmax(vals, axis=0)
            used = uses[best, np.arange(pb.n)]
            too_much = used > pb.avail
            lo_nu = np.where(over & too_much, mid, lo_nu)
            hi_nu = np.where(over & ~too_much, mid, hi_nu)
        return np.where(over, hi_nu, 0.0)

    def evaluate(self, mult: Multipliers) -> DualPoint:
        pb = self.pb
        nu = self._choose_nu(mult)
        price, value, units = best_prices(pb, mult, nu[pb.pv_sku])
        vals, _, picks = self._sku_values(value, units, nu)
        n_states = self.st.n_states
        # per SKU and state: best hub pattern; per offer: best state
        combo_state = np.array([c.state for c in self.st.combos])
        state_val = np.full((n_states, pb.n), NEG)
        state_arg = np.zeros((n_states, pb.n), np.int64)
        for ci, si in enumerate(combo_state):
            better = vals[ci] > state_val[si]
            state_val[si] = np.where(better, vals[ci], state_val[si])
            state_arg[si] = np.where(better, ci, state_arg[si])
        offer_val = np.array([np.bincount(pb.sku_offer, np.maximum(state_val[s], NEG),
                                          minlength=pb.n_offers) for s in range(n_states)])
        best_state = np.argmax(offer_val, axis=0)
        total = float(offer_val[best_state, np.arange(pb.n_offers)].sum())
        sku_state = best_state[pb.sku_offer]
        sku_combo = state_arg[sku_state, np.arange(pb.n)]
        chosen = picks[sku_combo[pb.pv_sku], np.arange(pb.m)]
        limits = 0.0
        k_count = len(pb.programs)
        capped = pb.max_skus >= 0
        limits += float((mult.prog[capped] * pb.max_skus[capped]).sum())
        if pb.budget is not None:
            limits += mult.budget * pb.budget
        if pb.gmv_min is not None:
            limits -= mult.gmv * pb.gmv_min
        ev = pb.evaluate(np.flatnonzero(chosen), price[chosen])
        usage = np.concatenate([
            np.bincount(pb.pv_prog[chosen], minlength=k_count).astype(float),
            [ev["discount"].sum(), ev["revenue"].sum()],
        ])
        return DualPoint(total + limits, mult, nu, price, chosen, usage)


def optimise_dual(pb: Problem, dual: Dual, iterations: int = 60, tol: float = 1e-7,
                  target: float | None = None) -> tuple[DualPoint, list[DualPoint]]:
    """Kelley's cutting planes with a shrinking box around the best point (few multipliers)."""
    from ortools.linear_solver import pywraplp

    k_count = len(pb.programs)
    dims: list[tuple[str, int]] = [("prog", k) for k in range(k_count) if pb.max_skus[k] >= 0]
    if pb.budget is not None:
        dims.append(("budget", -1))
    if pb.gmv_min is not None:
        dims.append(("gmv", -1))

    def make(x: np.ndarray) -> Multipliers:
        prog = np.zeros(k_count)
        budget = gmv = 0.0
        for (kind, k), v in zip(dims, x, strict=True):
            if kind == "prog":
                prog[k] = v
            elif kind == "budget":
                budget = v
            else:
                gmv = v
        return Multipliers(prog, budget, gmv)

    def subgrad(point: DualPoint) -> np.ndarray:
        g = []
        for kind, k in dims:
            if kind == "prog":
                g.append(pb.max_skus[k] - point.usage[k])
            elif kind == "budget":
                assert pb.budget is not None
                g.append(pb.budget - point.usage[k_count])
            else:
                assert pb.gmv_min is not None
                g.append(point.usage[k_count + 1] - pb.gmv_min)
        return np.array(g, float)

    x = np.zeros(len(dims))
    first = dual.evaluate(make(x))
    points = [first]
    best = first
    if not dims:
        return best, points
    scale = np.array([float(pb.pv_market.max(initial=1)) if kind == "prog" else 1.0
                      for kind, _ in dims])
    upper = scale * 50.0
    cuts: list[tuple[float, np.ndarray, np.ndarray]] = [(first.value, subgrad(first), x.copy())]
    radius = upper.copy()
    for it in range(iterations):
        solver = pywraplp.Solver.CreateSolver("GLOP")
        lam = [solver.NumVar(max(0.0, best_x - r), min(u, best_x + r), f"l{i}")
               for i, (best_x, r, u) in enumerate(zip(_best_x(best, dims, k_count), radius,
                                                       upper, strict=True))]
        t = solver.NumVar(-solver.infinity(), solver.infinity(), "t")
        for val, g, at in cuts:
            solver.Add(t >= val + sum(g[i] * (lam[i] - at[i]) for i in range(len(dims))))
        solver.Minimize(t)
        if solver.Solve() != pywraplp.Solver.OPTIMAL:
            break
        model_low = t.solution_value()
        x = np.array([v.solution_value() for v in lam])
        point = dual.evaluate(make(x))
        points.append(point)
        cuts.append((point.value, subgrad(point), x.copy()))
        if point.value < best.value:
            best = point
        else:
            radius = radius * 0.5
        gap = best.value - model_low
        log.debug("dual it %d: bound %.2f model %.2f", it, best.value / 100, model_low / 100)
        if gap <= tol * max(abs(best.value), 1.0):
            break
        if target is not None and best.value <= target:
            break
    return best, points


def _best_x(point: DualPoint, dims: list[tuple[str, int]], k_count: int) -> list[float]:
    out = []
    for kind, k in dims:
        out.append(point.mult.prog[k] if kind == "prog" else
                   point.mult.budget if kind == "budget" else point.mult.gmv)
    return out
