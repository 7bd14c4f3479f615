"""Break-even rates: where a program stops paying, and where each SKU can no longer pay a fee.

Per program (`--breakeven`): the lowest value of the swept fee at which the program's enrolled
margin in the solved plan is zero. Bracketed by the grid (the first grid step, in increasing
parameter order, from a positive margin to zero), then bisected with a full solve per step until
the bracket is at most 0.0001 wide; the upper end is reported (margin zero there, positive at the
lower end). No such step in the grid -> null: the program pays at every point, or at none.

Per SKU (`--per-sku`): the highest value of the parameter at which the SKU x program, alone in
that program, still has a lattice price under its caps that keeps the margin rule
`p * (1 - fee) - c >= min_unit_margin_rate * p`. It is exact: the best price for the rule is the
highest capped lattice price `hi`, so the SKU stays iff fee <= 1 - m - c / hi, and the order's
fee is a piecewise-linear, non-decreasing function of the swept rate or cap (min of a cap and a
max of rates), linear between the rulebook's rates and caps.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

import numpy as np

from optimizer.load.types import Catalogue, Scenario
from optimizer.rules.eligibility import RuleOutcome
from optimizer.rules.rulebook import Rulebook
from optimizer.score.fees import fee_table
from optimizer.score.problem import cap_hi

TOLERANCE = Decimal("0.0001")
RATE_DECIMALS = 6  # per-SKU rates are written rounded down to this many decimals

# margin (fen) per program at a parameter value; None where the point has no plan
Margins = dict[str, int] | None
Evaluate = Callable[[list[tuple[Decimal, Decimal]]], dict[Decimal, Margins]]


def _bracket(values: Sequence[Decimal], margins: Sequence[Margins], pid: str
             ) -> tuple[Decimal, Decimal] | None:
    """The first grid step, ascending, from a positive margin to zero (points with a plan)."""
    known = sorted((v, m[pid]) for v, m in zip(values, margins, strict=True) if m is not None)
    for (a, ma), (b, mb) in itertools.pairwise(known):
        if ma > 0 and mb <= 0:
            return a, b
    return None


def program_breakeven(programs: Sequence[str], values: Sequence[Decimal],
                      margins: Sequence[Margins], evaluate: Evaluate,
                      tolerance: Decimal = TOLERANCE) -> dict[str, Decimal | None]:
    """Per program, the bisected break-even (see the module docstring).

    `evaluate([(x, warm_from), ...])` solves the points x (each warm-started from the solved
    point warm_from) and gives their margins; every round asks for all programs' midpoints at
    once, in program order, so they run in parallel and the answer does not depend on timing.
    """
    brackets = {pid: _bracket(values, margins, pid) for pid in programs}
    while True:
        asks: dict[Decimal, Decimal] = {}
        for pid in programs:
            br = brackets[pid]
            if br is not None and br[1] - br[0] > tolerance:
                asks.setdefault((br[0] + br[1]) / 2, br[0])
        if not asks:
            break
        got = evaluate(list(asks.items()))
        for pid in programs:
            br = brackets[pid]
            if br is None or br[1] - br[0] <= tolerance:
                continue
            mid = (br[0] + br[1]) / 2
            m = got[mid]
            if m is None:  # no plan at the midpoint: the bisection cannot go on
                brackets[pid] = None
            elif m[pid] > 0:
                brackets[pid] = (mid, br[1])
            else:
                brackets[pid] = (br[0], mid)
    return {pid: (br[1] if br is not None else None) for pid, br in brackets.items()}


# ---------------------------------------------------------------- per SKU, exact

@dataclass(frozen=True)
class FeeCurve:
    """A program's order fee (SKU alone in it) at the breakpoints of the swept parameter."""

    at: tuple[Fraction, ...]  # parameter values, increasing, 0 .. 1
    fee: tuple[Fraction, ...]  # the fee there; linear in between

    @property
    def varies(self) -> bool:
        return self.fee[0] != self.fee[-1]


def breakpoints(rulebook: Rulebook) -> list[Fraction]:
    """0, 1 and every rate and cap of the rulebook: the fee is linear between them."""
    points = {Fraction(0), Fraction(1)}
    for group in rulebook.fee_groups.values():
        if group.cap is not None:
            points.add(Fraction(group.cap))
    for prog in rulebook.programs.values():
        points.update(Fraction(item.rate) for item in prog.fees.values())
    return sorted(p for p in points if 0 <= p <= 1)


def fee_curves(rulebook: Rulebook, rulebook_at: Callable[[Decimal], Rulebook]
               ) -> dict[str, FeeCurve]:
    """Each program's fee when a SKU is in it alone, as a function of the parameter."""
    at = breakpoints(rulebook)
    tables = [fee_table(rulebook_at(Decimal(p.numerator) / Decimal(p.denominator))) for p in at]
    return {pid: FeeCurve(tuple(at), tuple(t.alone[pid].rate for t in tables))
            for pid in rulebook.programs}


@dataclass(frozen=True)
class SkuBreakeven:
    sku: np.ndarray  # int64 SKU index
    program: np.ndarray  # int64 program index (into `programs`)
    status: np.ndarray  # object: "leaves" | "never" | "excluded"
    rate_micro: np.ndarray  # object (Python int): the rate * 10**6, rounded down; -1 if none
    programs: tuple[str, ...]


def _obj(values: np.ndarray) -> np.ndarray:
    """Python ints in an object array: exact arithmetic of any size, still array-at-a-time."""
    out = np.empty(values.shape, dtype=object)
    out[...] = [int(v) for v in values.ravel()]
    return out


def sku_breakeven(scenario: Scenario, rulebook: Rulebook, cat: Catalogue, outcome: RuleOutcome,
                  curves: dict[str, FeeCurve]) -> SkuBreakeven:
    """Per SKU x program passing the rules, in a program whose fee moves with the parameter:
    the highest parameter value keeping a price that pays (see the module docstring)."""
    step = int(scenario.price_step * 100)
    m = Fraction(scenario.constraints.min_unit_margin_rate)
    scale = 10**RATE_DECIMALS
    programs = tuple(rulebook.programs)
    parts: list[tuple[np.ndarray, ...]] = []
    for k, pid in enumerate(programs):
        curve = curves[pid]
        rows = np.flatnonzero(outcome.ok[:, k])
        if not curve.varies or rows.size == 0:
            continue
        hi, _ = cap_hi(rulebook, pid, cat, step)
        prog = rulebook.programs[pid]
        cost = cat.unit_cost + (cat.shipping_cost if prog.free_shipping else 0)
        hi_o, c_o = _obj(hi[rows]), _obj(cost[rows])
        positive = hi[rows] >= step
        # the SKU pays at fee g iff (g + m) * hi + c <= hi  (hi > 0), i.e. g <= f* = F / D
        f_num = hi_o * (m.denominator - m.numerator) - c_o * m.denominator
        f_den = hi_o * m.denominator
        ok_at = np.stack([(g.numerator * f_den <= f_num * g.denominator).astype(bool)
                          for g in curve.fee], axis=1) & positive[:, None]
        n_ok = ok_at.sum(axis=1)  # the fee is non-decreasing: the first n_ok breakpoints pay
        status = np.where(n_ok == len(curve.fee), "never",
                          np.where(n_ok == 0, "excluded", "leaves")).astype(object)
        rate = np.full(rows.size, -1, dtype=object)
        for j in range(len(curve.at) - 1):
            sel = np.flatnonzero(n_ok == j + 1)  # pays at breakpoint j, not at j + 1
            if sel.size == 0:
                continue
            b0, b1, g0, g1 = curve.at[j], curve.at[j + 1], curve.fee[j], curve.fee[j + 1]
            # x* = b0 + (f* - g0) * (b1 - b0) / (g1 - g0), floored to 10**-6
            slope = (b1 - b0) / (g1 - g0)
            num = (f_num[sel] * g0.denominator - g0.numerator * f_den[sel]) * slope.numerator
            den = f_den[sel] * g0.denominator * slope.denominator
            rate[sel] = (b0.numerator * scale * den + num * scale * b0.denominator) // \
                (den * b0.denominator)
        parts.append((rows, np.full(rows.size, k, np.int64), status, rate))
    if not parts:
        empty = np.zeros(0, np.int64)
        return SkuBreakeven(empty, empty, np.zeros(0, object), np.zeros(0, object), programs)
    sku, prog_idx, status, rate = (np.concatenate([p[i] for p in parts]) for i in range(4))
    order = np.lexsort((prog_idx, sku))
    return SkuBreakeven(sku[order], prog_idx[order], status[order], rate[order], programs)
