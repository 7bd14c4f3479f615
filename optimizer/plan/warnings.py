"""What a locked row now breaks: the `warning` column of plan.csv (SPEC 6.1).

A `no_exit` enrollment of today stays in the plan at its price whatever the rules say now (the
merchant must keep complying until the activity ends, 001 备注4); the plan cannot do otherwise,
so instead of hiding it, each rule it breaks is named with its numbers: the merchant or SKU
rule that fails (the rules' own text), each price cap (exact integers, as the caps are decided),
the margin rule at the fee rate the row pays, and the SKU's stock over all its plan rows.
Only the few locked rows are looked at, one by one.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import numpy as np

from optimizer.load.types import Catalogue, Scenario
from optimizer.rules.eligibility import RuleOutcome
from optimizer.rules.rulebook import Rulebook
from optimizer.score.problem import Problem, lattice_cap

STOCK_TOL = 1e-9  # relative: units are floats; the solver's own stock rows allow as much


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}" if fen >= 0 else f"-{_yuan(-fen)}"


def _decimal(value: Fraction) -> str:
    """A Fraction with a finite decimal expansion, at least 2 decimals (0.95 x 12.00 = 11.40;
    0.9 x 19.99 = 17.991)."""
    text = format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def _rate(value: Fraction) -> str:
    """A rate as its shortest decimal: 0, 0.056."""
    text = format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")
    return text


def _caps(rulebook: Rulebook, program: str, cat: Catalogue, sku: int, price: int) -> list[str]:
    """Each cap of the program the price breaks: `price 19.20 >= min_price_30d 19.20 (strict)`.
    Decided by lattice_cap with step 1 (the highest whole fen under the cap), like the caps."""
    out = []
    for cap in rulebook.programs[program].price_caps.values():
        if cap.field in cat.absent:
            continue  # the column is not given: the rule applies when it is (SPEC 2.2)
        field = cat.column(cap.field)[sku: sku + 1].astype(np.int64)
        ratio = Fraction(cap.ratio)
        if price <= int(lattice_cap(field, ratio, cap.strict, 1)[0]):
            continue
        scaled = cap.field if ratio == 1 else f"{_decimal(ratio)} x {cap.field}"
        bound = _decimal(ratio * int(field[0]) / 100)
        op, kind = (">=", "strict") if cap.strict else (">", "not strict")
        out.append(f"price {_yuan(price)} {op} {scaled} {bound} ({kind})")
    return out


def _margin(pb: Problem, pv: int, price: int, min_rate: Fraction) -> list[str]:
    """The margin rule p * (1 - fee) - c >= min_unit_margin_rate * p at the row's fee rate."""
    fee = pb.fee_rates[int(pb.pv_var[pv])]
    cost = int(pb.pv_cost[pv])
    slack = price * (1 - fee) - cost
    if slack >= min_rate * price:
        return []
    return [f"margin: price {_yuan(price)} x (1 - fee {_rate(fee)}) - unit cost {_yuan(cost)} "
            f"= {float(slack) / 100:.4f} < {_rate(min_rate)} x price"]


def locked_warnings(scenario: Scenario, rulebook: Rulebook, cat: Catalogue, pb: Problem,
                    outcome: RuleOutcome, locked: np.ndarray, pv: np.ndarray,
                    price: np.ndarray, units: np.ndarray) -> list[str]:
    """One text per plan row ("" for most): the rules a locked row (`locked`, bool per row: it
    continues a no_exit enrollment of today) now breaks, joined with "; "."""
    out = [""] * int(pv.size)
    rows = np.flatnonzero(locked)
    if not rows.size:
        return out
    min_rate = Fraction(scenario.constraints.min_unit_margin_rate)
    sold = np.zeros(pb.n)
    np.add.at(sold, pb.pv_sku[pv], units)
    for r in rows:
        p = int(pv[r])
        s, k = int(pb.pv_sku[p]), int(pb.pv_prog[p])
        program = pb.programs[k]
        found: list[str] = []
        if not outcome.ok[s, k]:
            found.append(str(outcome.detail[s, k]))
        found += _caps(rulebook, program, cat, s, int(price[r]))
        found += _margin(pb, p, int(price[r]), min_rate)
        avail = float(pb.avail[s])
        if sold[s] > avail * (1 + STOCK_TOL) + STOCK_TOL:
            found.append(f"stock: {sold[s]:.3f} units over all the SKU's plan rows > "
                         f"{avail:.3f} available after the reserve")
        out[int(r)] = "; ".join(found)
    return out
