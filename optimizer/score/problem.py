"""Immutable problem data: what the optimiser needs, as numpy arrays, and nothing of the solver.

The unit of decision is a *pair-variant* (pv): a SKU x program x fee variant whose price interval
[lo, hi] (fen, on the price lattice) is non-empty. All price arithmetic here is exact integers:
caps are `price < ratio*field` or `<=` with the ratio as a Fraction; the margin rule
`p*(1-fee) - c >= rate*p` is solved for its least lattice price exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

from optimizer.load.current import Current
from optimizer.load.types import Catalogue, Scenario
from optimizer.rules.eligibility import RuleOutcome
from optimizer.rules.rulebook import Rulebook
from optimizer.score.fees import FeeTable, fee_table

NO_CAP_MULTIPLE = 10  # a program without any price cap still stops at 10x the market price
KEEP_OF_FIXED, NEW_OF_FIXED = 1, 2  # pv_mode: a fixed_until_exit offer's kept row / a new one


def current_cells(current: Current | None, programs: tuple[str, ...], n: int) -> np.ndarray:
    """Today's price per (SKU, program), int64 (n, K) fen; 0 where not enrolled today."""
    cur = np.zeros((n, len(programs)), np.int64)
    if current is not None and current.size:
        names, inverse = np.unique(current.program.astype(str), return_inverse=True)
        k = np.array([programs.index(str(name)) for name in names], np.int64)[inverse]
        cur[current.sku, k] = current.price
    return cur


def _floor_div(num: np.ndarray, den: int) -> np.ndarray:
    return np.floor_divide(num, den)


def _ceil_div(num: np.ndarray, den: int) -> np.ndarray:
    return -np.floor_divide(-num, den)


def lattice_cap(field: np.ndarray, ratio: Fraction, strict: bool, step: int) -> np.ndarray:
    """Highest multiple of `step` with p < ratio*field (strict) or p <= ratio*field, exactly.

    p < num/den * F  <=>  p*den < num*F  <=>  p <= (num*F - 1) // den  (all integers).

    num*F itself can pass int64 (a ratio of 4 decimals on a price of 10^11 yuan), so with
    F = q*den + r it is taken apart: (num*F - s) // den = num*q + (num*r - s) // den, where
    num*q is at most ratio*F and num*r < num*den.
    """
    num, den = ratio.numerator, ratio.denominator
    if (num // den + 1) * max(int(field.max(initial=0)), 1) > 2**62 or num * den > 2**62:
        raise ValueError(f"price cap ratio {ratio} too large for exact arithmetic")
    q, r = np.divmod(field.astype(np.int64), den)
    bound = num * q + _floor_div(num * r - (1 if strict else 0), den)
    return _floor_div(bound, step) * step


def cap_hi(rulebook: Rulebook, program: str, cat: Catalogue,
           step: int) -> tuple[np.ndarray, np.ndarray]:
    """Highest lattice price under every cap of `program`, and which cap binds (index, -1 none).

    A cap on an optional column without a default that the catalogue lacks (web_min_price) is
    skipped: SPEC 2.2, the rule applies when the column is present (load_catalogue warns)."""
    caps = list(rulebook.programs[program].price_caps.values())
    hi = cat.market_price.astype(np.int64) * NO_CAP_MULTIPLE
    which = np.full(cat.n, -1, dtype=np.int64)
    for i, cap in enumerate(caps):
        if cap.field in cat.absent:
            continue
        bound = lattice_cap(cat.column(cap.field), Fraction(cap.ratio), cap.strict, 1)
        tighter = bound < hi
        which = np.where(tighter, i, which)
        hi = np.minimum(hi, bound)
    return _floor_div(hi, step) * step, which


def margin_lo(cost: np.ndarray, fee: Fraction, min_rate: Fraction, step: int) -> np.ndarray:
    """Least lattice price p >= step with p*(1 - fee - min_rate) >= cost; int64 max if none."""
    q = 1 - fee - min_rate
    none = np.iinfo(np.int64).max
    if q <= 0:
        return np.where(cost <= 0, step, none) if q == 0 else np.full(cost.shape, none)
    lo = _ceil_div(cost.astype(np.int64) * q.denominator, q.numerator)
    lo = _ceil_div(lo, step) * step
    return np.maximum(lo, step)


def selling_days(rulebook: Rulebook, program: str) -> float:
    """Days a new (or changed) enrollment sells: the horizon less the review, none below 0."""
    prog = rulebook.programs[program]
    return max(prog.horizon_days - prog.review_days, 0.0)


@dataclass(frozen=True, eq=False)
class Problem:
    """Everything the optimiser sees. Arrays index SKUs (n), programs (K), offers, pair-variants."""

    programs: tuple[str, ...]
    offer_level: np.ndarray  # bool (K,): all-or-none per offer
    exclusive: tuple[tuple[int, int], ...]  # program index pairs, offer level
    hub: tuple[int, ...]  # program indices whose fee reaches the SKU's other help-sell orders
    step: int  # price lattice, fen

    sku_id: np.ndarray
    offer_id: np.ndarray
    sku_offer: np.ndarray  # int64 (n,) offer index
    n_offers: int
    avail: np.ndarray  # float64 (n,): max(0, stock - reserve days * daily units)
    eligible: np.ndarray  # bool (n, K): rules hold and some price keeps the margin rule alone,
    # or a no_exit row of today's holds the SKU there (`force`)
    force: np.ndarray  # bool (n, K): today's no_exit enrollments, in every plan at their price
    keep_cell: np.ndarray  # bool (n, K): today's fixed_until_exit rows (their offer keeps them
    # all, at their prices, or leaves the program: pv_mode)
    hi: np.ndarray  # int64 (n, K): highest lattice price under the caps
    cap_which: np.ndarray  # int64 (n, K): binding cap index
    lo_alone: np.ndarray  # int64 (n, K): lowest lattice price keeping the margin rule alone

    pv_sku: np.ndarray  # int64 (m,)
    pv_prog: np.ndarray  # int64 (m,)
    pv_hub: np.ndarray  # int8 (m, H): 1 in hub program, 0 not in, -1 either
    pv_fee: np.ndarray  # float64 fee rate
    pv_var: np.ndarray  # int64 (m,): index into fee_rates
    fee_rates: tuple[Fraction, ...]  # exact fee rate of each fee variant
    pv_lo: np.ndarray  # int64 fen
    pv_hi: np.ndarray  # int64 fen
    pv_cost: np.ndarray  # int64 fen: unit cost (+ shipping when the program ships free)
    pv_market: np.ndarray  # int64 fen
    pv_demand: np.ndarray  # float64 units over the days it sells, at market price
    pv_elast: np.ndarray  # float64
    pv_counts: np.ndarray  # float64 (m,): 1 when the program counts toward the GMV target, else 0
    # today's price of the pv's (SKU, program) when enrolling at exactly it continues today's
    # enrollment (SPEC 6.1: sells the whole horizon, `change` keep); 0: every price is new
    pv_keep_price: np.ndarray  # int64 (m,) fen
    pv_full: np.ndarray  # float64 (m,): units over the whole horizon at market price (at keep)
    pv_mode: np.ndarray  # int8 (m,): 0; KEEP_OF_FIXED / NEW_OF_FIXED in an offer of `keep_cell`

    max_skus: np.ndarray  # int64 (K,), -1 none
    budget: float | None  # fen
    gmv_min: float | None  # fen: what the counting programs must bring, gmv_min - baseline_gmv

    @property
    def n(self) -> int:
        return int(self.sku_id.shape[0])

    @property
    def m(self) -> int:
        return int(self.pv_sku.shape[0])

    def units(self, pv: np.ndarray, price: np.ndarray) -> np.ndarray:
        """Expected units at `price` (fen), constant elasticity around the market price; at
        today's price an enrollment continues and sells the whole horizon."""
        ratio = price / self.pv_market[pv]
        demand = np.where(price == self.pv_keep_price[pv], self.pv_full[pv], self.pv_demand[pv])
        return demand * ratio ** (-self.pv_elast[pv])

    @cached_property
    def must_offers(self) -> np.ndarray:
        """bool (n_offers,): offers holding a no_exit row of today's: never without a plan."""
        return np.bincount(self.sku_offer, self.force.any(axis=1),
                           minlength=self.n_offers) > 0

    @cached_property
    def margin_floor(self) -> float:
        """No plan has less margin (fen): an enrollment of choice keeps a non-negative margin,
        today's no_exit rows are in every plan at today's price (each at its worst fee variant).
        A bound below this proves there is no plan."""
        k_count = len(self.programs)
        cell = self.pv_sku * k_count + self.pv_prog
        forced = np.flatnonzero(self.force.ravel()[cell])
        if forced.size == 0:
            return 0.0
        margin = self.evaluate(forced, self.pv_keep_price[forced])["margin"]
        worst = np.full(self.n * k_count, np.inf)
        np.minimum.at(worst, cell[forced], margin)
        return float(np.minimum(worst[np.isfinite(worst)], 0.0).sum())

    def proves_no_plan(self, bound: float) -> bool:
        """A valid upper bound below every plan's margin: there is no plan."""
        floor = self.margin_floor
        return bound < floor - 1e-6 * max(1.0, abs(bound), abs(floor))

    def keeps_commitments(self, pv: np.ndarray) -> bool:
        """Whether a plan (its pair-variants) holds today's commitments: every no_exit row in;
        per fixed_until_exit offer, every row of today's kept and nothing new, or none kept."""
        k_count = len(self.programs)
        have = np.zeros(self.n * k_count, bool)
        have[self.pv_sku[pv] * k_count + self.pv_prog[pv]] = True
        if (self.force.ravel() & ~have).any():
            return False
        kept_cell = np.zeros(self.n * k_count, bool)
        keep_pv = pv[self.pv_mode[pv] == KEEP_OF_FIXED]
        kept_cell[self.pv_sku[keep_pv] * k_count + self.pv_prog[keep_pv]] = True
        cells = np.nonzero(self.keep_cell)
        o_k = self.sku_offer[cells[0]] * k_count + cells[1]
        kept = np.bincount(o_k, kept_cell.reshape(self.n, k_count)[cells],
                           minlength=self.n_offers * k_count)
        total = np.bincount(o_k, minlength=self.n_offers * k_count)
        new_pv = pv[self.pv_mode[pv] == NEW_OF_FIXED]
        new = np.bincount(self.sku_offer[self.pv_sku[new_pv]] * k_count + self.pv_prog[new_pv],
                          minlength=self.n_offers * k_count)
        return bool(((kept == 0) | ((kept == total) & (new == 0))).all())

    @property
    def keep_gates(self) -> np.ndarray:
        """Programs some offer of which keeps-or-exits today's fixed_until_exit rows."""
        return np.flatnonzero(self.keep_cell.any(axis=0))

    def evaluate(self, pv: np.ndarray, price: np.ndarray) -> dict[str, np.ndarray]:
        """units, margin, discount, revenue and gmv (fen) of enrolling pv at price; gmv is the
        revenue that counts toward the GMV target (0 in a program without counts_toward_gmv)."""
        u = self.units(pv, price)
        price_f = price.astype(np.float64)
        return {
            "units": u,
            "margin": u * (price_f * (1.0 - self.pv_fee[pv]) - self.pv_cost[pv]),
            "discount": u * (self.pv_market[pv] - price_f),
            "revenue": u * price_f,
            "gmv": u * price_f * self.pv_counts[pv],
        }


def build_problem(scenario: Scenario, rulebook: Rulebook, cat: Catalogue,
                  outcome: RuleOutcome, current: Current | None = None) -> Problem:
    programs = tuple(rulebook.programs)
    k_count = len(programs)
    step = int(scenario.price_step * 100)
    fees: FeeTable = fee_table(rulebook)
    hub_idx = tuple(programs.index(h) for h in fees.hub)
    min_rate = Fraction(scenario.constraints.min_unit_margin_rate)

    offers, sku_offer = np.unique(cat.offer_id.astype(str), return_inverse=True)
    hi = np.zeros((cat.n, k_count), np.int64)
    which = np.zeros((cat.n, k_count), np.int64)
    lo_alone = np.zeros((cat.n, k_count), np.int64)
    cost = np.zeros((cat.n, k_count), np.int64)
    for j, pid in enumerate(programs):
        hi[:, j], which[:, j] = cap_hi(rulebook, pid, cat, step)
        prog = rulebook.programs[pid]
        cost[:, j] = cat.unit_cost + (cat.shipping_cost if prog.free_shipping else 0)
        lo_alone[:, j] = margin_lo(cost[:, j], fees.alone[pid].rate, min_rate, step)
    rules_ok = outcome.ok & (lo_alone <= hi)
    cur = current_cells(current, programs, cat.n)
    commit = np.array([rulebook.programs[p].commitment for p in programs])
    force = (cur > 0) & (commit == "no_exit")[None, :]  # in the plan at today's price
    keep_cell = (cur > 0) & (commit == "fixed_until_exit")[None, :]
    # an offer with current rows of a fixed_until_exit program keeps exactly them or leaves
    fixed_offer = np.zeros((int(offers.size), k_count), bool)
    fixed_offer[sku_offer[np.nonzero(keep_cell)[0]], np.nonzero(keep_cell)[1]] = True
    in_fixed = fixed_offer[sku_offer]  # (n, K): the SKU's offer is keep-or-exit in k
    free_cur = (cur > 0) & (commit == "none")[None, :]
    eligible = rules_ok | force  # a locked row is in whatever rule it now breaks

    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("sku", "prog", "lo", "hi", "hub", "var", "keep", "mode")}
    fee_rates: list[Fraction] = []

    def add(idx: np.ndarray, j: int, lo: np.ndarray, top: np.ndarray, keep: np.ndarray,
            mode: int, pattern: np.ndarray) -> None:
        parts["sku"].append(idx)
        parts["prog"].append(np.full(idx.size, j, np.int64))
        parts["lo"].append(lo)
        parts["hi"].append(top)
        parts["keep"].append(keep)
        parts["mode"].append(np.full(idx.size, mode, np.int64))
        parts["hub"].append(np.broadcast_to(pattern, (idx.size, len(hub_idx))))
        parts["var"].append(np.full(idx.size, len(fee_rates), np.int64))

    for j, pid in enumerate(programs):
        for var in fees.variants[pid]:
            inside_ok = np.ones(cat.n, bool)
            if var.pattern is not None:
                for h, inside in zip(hub_idx, var.pattern, strict=True):
                    if inside:
                        inside_ok &= eligible[:, h]  # only in a hub program it qualifies for
            pattern = (np.array([1 if b else 0 for b in var.pattern], np.int8)
                       if var.pattern is not None else np.full(len(hub_idx), -1, np.int8))
            lo = margin_lo(cost[:, j], var.rate, min_rate, step)
            fits = rules_ok[:, j] & inside_ok & (lo <= hi[:, j])
            c_j = cur[:, j]
            keepable = fits & (c_j >= lo) & (c_j <= hi[:, j])  # today's price keeps every rule
            # new enrollments (a free current row may also continue at its price)
            idx = np.flatnonzero(fits & ~force[:, j])
            keep = np.where(free_cur[idx, j] & keepable[idx], c_j[idx], 0)
            mode = np.where(in_fixed[idx, j], NEW_OF_FIXED, 0)
            for m in (0, NEW_OF_FIXED):
                sel = mode == m
                add(idx[sel], j, lo[idx[sel]], hi[idx[sel], j], keep[sel], m, pattern)
            # no_exit rows: today's price only, whatever rule it breaks
            idx = np.flatnonzero(force[:, j] & inside_ok)
            add(idx, j, c_j[idx], c_j[idx], c_j[idx], 0, pattern)
            # fixed_until_exit rows kept as they are (only while they keep every rule)
            idx = np.flatnonzero(keep_cell[:, j] & keepable)
            add(idx, j, c_j[idx], c_j[idx], c_j[idx], KEEP_OF_FIXED, pattern)
            fee_rates.append(var.rate)

    def joined(key: str) -> np.ndarray:
        return np.concatenate(parts[key]) if parts[key] else np.zeros(0, np.int64)

    pv_sku, pv_prog, pv_lo, pv_hi, pv_var, pv_keep, pv_mode = (
        joined(k).astype(np.int64) for k in ("sku", "prog", "lo", "hi", "var", "keep", "mode"))
    # a SKU's pvs together, programs in order, then fee variants, new before kept
    order = np.lexsort((pv_keep, pv_mode, pv_var, pv_prog, pv_sku))
    pv_sku, pv_prog, pv_lo, pv_hi, pv_var, pv_keep, pv_mode = (
        a[order] for a in (pv_sku, pv_prog, pv_lo, pv_hi, pv_var, pv_keep, pv_mode))
    pv_hub = joined("hub").astype(np.int8).reshape(order.size, len(hub_idx))[order]
    rates = np.array([float(f) for f in fee_rates], np.float64)

    # a new enrollment waits review_days before its first sale (SPEC 6.1): it sells the rest
    mult = np.array([rulebook.programs[p].demand_multiplier * selling_days(rulebook, p)
                     for p in programs])
    full = np.array([rulebook.programs[p].demand_multiplier * rulebook.programs[p].horizon_days
                     for p in programs])
    default_e = np.array([rulebook.programs[p].elasticity for p in programs])
    counts = np.array([float(rulebook.programs[p].counts_toward_gmv) for p in programs])
    sku_e = cat.elasticity[pv_sku]
    c = scenario.constraints
    max_skus = np.array([c.max_skus.get(p, -1) for p in programs], np.int64)
    avail = np.maximum(cat.stock - c.stock_reserve_days * cat.daily_units, 0.0)
    pv_elast = np.where(np.isnan(sku_e), default_e[pv_prog], sku_e)
    if force.any():
        # locked rows stay even over the stock (a warning says so); nothing else may add to them
        s_f, k_f = np.nonzero(force)
        u_f = (cat.daily_units[s_f] * full[k_f]
               * (cur[s_f, k_f] / cat.market_price[s_f])
               ** -np.where(np.isnan(cat.elasticity[s_f]), default_e[k_f], cat.elasticity[s_f]))
        locked = np.bincount(s_f, u_f, minlength=cat.n)
        avail = np.maximum(avail, locked * (1 + 1e-9))
    return Problem(
        programs=programs,
        offer_level=np.array([rulebook.programs[p].selection == "offer" for p in programs],
                             dtype=bool),
        exclusive=tuple((programs.index(a), programs.index(b))
                        for a, b in rulebook.exclusive_pairs()),
        hub=hub_idx,
        step=step,
        sku_id=cat.sku_id,
        offer_id=cat.offer_id,
        sku_offer=sku_offer.astype(np.int64),
        n_offers=int(offers.size),
        avail=avail,
        eligible=eligible,
        force=force,
        keep_cell=keep_cell,
        hi=hi,
        cap_which=which,
        lo_alone=lo_alone,
        pv_sku=pv_sku,
        pv_prog=pv_prog,
        pv_hub=pv_hub,
        pv_fee=rates[pv_var],
        pv_var=pv_var,
        fee_rates=tuple(fee_rates),
        pv_lo=pv_lo,
        pv_hi=pv_hi,
        pv_cost=cost[pv_sku, pv_prog],
        pv_market=cat.market_price[pv_sku].astype(np.int64),
        pv_demand=cat.daily_units[pv_sku] * mult[pv_prog],
        pv_full=cat.daily_units[pv_sku] * full[pv_prog],
        pv_elast=pv_elast,
        pv_counts=counts[pv_prog],
        pv_keep_price=pv_keep,
        pv_mode=pv_mode.astype(np.int8),
        max_skus=max_skus,
        budget=float(c.discount_budget * 100) if c.discount_budget is not None else None,
        # the baseline's 1688 trades count too: the programs close the rest (<= 0: no row)
        gmv_min=(float((c.gmv_min - scenario.merchant.baseline_gmv) * 100)
                 if c.gmv_min is not None else None),
    )


def restrict(pb: Problem, offers: np.ndarray, *, max_skus: np.ndarray, budget: float | None,
             gmv_min: float | None) -> Problem:
    """The sub-problem of some offers, with the global limits given (a sample's share)."""
    keep_offer = np.zeros(pb.n_offers, bool)
    keep_offer[offers] = True
    sku_keep = keep_offer[pb.sku_offer]
    sku_new = np.cumsum(sku_keep) - 1
    offer_new = np.cumsum(keep_offer) - 1
    pv_keep = sku_keep[pb.pv_sku]
    fields = {name: getattr(pb, name) for name in pb.__dataclass_fields__}
    for name in ("sku_id", "offer_id", "avail", "eligible", "force", "keep_cell", "hi",
                 "cap_which", "lo_alone"):
        fields[name] = fields[name][sku_keep]
    for name in ("pv_prog", "pv_hub", "pv_fee", "pv_var", "pv_lo", "pv_hi", "pv_cost",
                 "pv_market", "pv_demand", "pv_elast", "pv_counts", "pv_keep_price",
                 "pv_full", "pv_mode"):
        fields[name] = fields[name][pv_keep]
    fields.update(sku_offer=offer_new[pb.sku_offer[sku_keep]], n_offers=int(keep_offer.sum()),
                  pv_sku=sku_new[pb.pv_sku[pv_keep]], max_skus=max_skus, budget=budget,
                  gmv_min=gmv_min)
    return Problem(**fields)
