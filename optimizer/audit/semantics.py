"""The SPEC's arithmetic, recomputed on the auditor's side: rules, price lattice, fees, demand.

Everything a rule decides (comparisons, price caps, fee rates, the margin rule) is exact, in
Fractions and integer fen, because a plan one fen over a strict cap is a rejected plan. The
continuous quantities (units, revenue, margin) are floats, as the SPEC's formulas are.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from optimizer.audit.inputs import (
    WHEN_GIVEN_COLUMNS,
    AuditInputError,
    Program,
    Sku,
    World,
    exact,
)

REL_TOL = 1e-9
ABS_TOL = 1e-9
ORDER_OPS: dict[str, Callable[[Fraction, Fraction], bool]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b, ">": lambda a, b: a > b,
}
ALL_OPS = (*ORDER_OPS, "==", "!=", "in", "not_in")


# ---------------------------------------------------------------------------------------------
# Small numeric helpers


def exceeds(value: float, limit: float) -> bool:
    """value > limit beyond float noise (1e-9 relative plus a tiny absolute slack)."""
    return value > limit + REL_TOL * max(abs(value), abs(limit)) + ABS_TOL


def close(printed: float, true: float, abs_tol: float) -> bool:
    """A printed (rounded) figure agrees with the recomputed one within its rounding."""
    return abs(printed - true) <= abs_tol + REL_TOL * max(1.0, abs(true))


def show(value: Any) -> str:
    """Numbers as their decimal text (Fraction 9/10 -> 0.9) for readable messages."""
    if isinstance(value, Fraction) and not isinstance(value, bool):
        d = Decimal(value.numerator) / Decimal(value.denominator)
        text = format(d.normalize(), "f")
        return text if Fraction(Decimal(text)) == value else f"{float(value):.6g}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)


def yuan(fen: Fraction | int) -> str:
    """Fen as yuan: 2 decimals when a whole fen (9.00), every decimal otherwise (8.991)."""
    fen = Fraction(fen)
    if fen.denominator == 1:
        sign = "-" if fen < 0 else ""
        return f"{sign}{abs(fen.numerator) // 100}.{abs(fen.numerator) % 100:02d}"
    return show(fen / 100)


# ---------------------------------------------------------------------------------------------
# Rules


def _norm(value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return exact(value, "rule value")


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps booleans and numbers apart (YAML true is not the number 1)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def compare(actual: Any, op: str, expected: Any) -> bool:
    a, e = _norm(actual), _norm(expected)
    if op in ORDER_OPS:
        numeric = all(isinstance(x, Fraction) for x in (a, e))
        return numeric and ORDER_OPS[op](a, e)
    if op in ("==", "!="):
        return _same(a, e) == (op == "==")
    if op in ("in", "not_in"):
        options = e if isinstance(e, list) else [e]
        return any(_same(a, x) for x in options) == (op == "in")
    raise AuditInputError(f"unknown rule op {op!r} (one of {', '.join(ALL_OPS)})")


def rule_failures(rule_id: str, rule: Any, lookup: Callable[[str], Any]) -> list[str]:
    """Why the rule fails (empty when it holds). A missing field fails the rule."""
    if not isinstance(rule, dict):
        raise AuditInputError(f"rule {rule_id}: expected a mapping, got {rule!r}")
    if "any_of" in rule:
        subs = [rule_failures(f"{rule_id}.{k}", r, lookup) for k, r in rule["any_of"].items()]
        if any(not s for s in subs):
            return []
        return [f"{rule_id}: none of (" + "; ".join(m for s in subs for m in s) + ")"]
    if "all_of" in rule:
        return [m for k, r in rule["all_of"].items()
                for m in rule_failures(f"{rule_id}.{k}", r, lookup)]
    field, op, expected = rule.get("field"), rule.get("op"), rule.get("value")
    if not isinstance(field, str) or not isinstance(op, str):
        raise AuditInputError(f"rule {rule_id}: needs field and op")
    actual = lookup(field)
    if actual is None:
        return [f"{rule_id}: {field} is missing (needs {op} {show(expected)})"]
    if compare(actual, op, expected):
        return []
    return [f"{rule_id}: {field} {show(_norm(actual))} is not {op} {show(_norm(expected))}"]


def merchant_value(world: World, field: str) -> Any:
    if field.startswith("count:"):
        return Fraction(world.count_true(field.removeprefix("count:")))
    return world.merchant.get(field)


def merchant_failures(world: World, pid: str) -> list[str]:
    key = ("merchant", pid)
    if key not in world.memo:
        world.memo[key] = [
            m for rid, rule in world.programs[pid].merchant_rules.items()
            for m in rule_failures(rid, rule, lambda f: merchant_value(world, f))]
    return list(world.memo[key])


def sku_failures(world: World, pid: str, sku: Sku) -> list[str]:
    key = ("sku", pid, sku.sku_id)
    if key not in world.memo:
        world.memo[key] = [m for rid, rule in world.programs[pid].sku_rules.items()
                           for m in rule_failures(rid, rule, sku.fields.get)]
    return list(world.memo[key])


# ---------------------------------------------------------------------------------------------
# Prices


def cap_bound_fen(prog: Program, cap_id: str, sku: Sku) -> Fraction | None:
    """ratio * field in fen, exactly; None when the SKU has no number in that field."""
    cap = prog.price_caps[cap_id]
    value = sku.fields.get(cap.field)
    if not isinstance(value, Fraction) or isinstance(value, bool):
        return None
    return cap.ratio * value * 100


def cap_skipped(prog: Program, cap_id: str, sku: Sku) -> bool:
    """SPEC 2.2/3: a cap on a column given only sometimes (全网比价 on web_min_price) applies
    when the catalogue gives it; without it the cap is no limit."""
    field = prog.price_caps[cap_id].field
    return field in WHEN_GIVEN_COLUMNS and sku.fields.get(field) is None


def cap_holds(prog: Program, cap_id: str, sku: Sku, price_fen: Fraction) -> bool:
    if cap_skipped(prog, cap_id, sku):
        return True
    bound = cap_bound_fen(prog, cap_id, sku)
    if bound is None:
        return False
    return price_fen < bound if prog.price_caps[cap_id].strict else price_fen <= bound


def price_ceiling_fen(world: World, pid: str, sku: Sku) -> int | None:
    """The highest multiple of price_step under every cap of the program (None: no caps)."""
    prog = world.programs[pid]
    top: int | None = None
    for cap_id, cap in prog.price_caps.items():
        if cap_skipped(prog, cap_id, sku):
            continue
        bound = cap_bound_fen(prog, cap_id, sku)
        if bound is None:
            return 0
        hi = math.ceil(bound) - 1 if cap.strict else math.floor(bound)
        top = hi if top is None else min(top, hi)
    if top is None:
        return None
    step = world.price_step_fen
    return (top // step) * step


def unit_cost_fen(prog: Program, sku: Sku) -> int:
    return sku.cost_fen + (sku.ship_fen if prog.free_shipping else 0)


def keeps_margin(world: World, pid: str, sku: Sku, price_fen: Fraction | int,
                 fee: Fraction) -> bool:
    """price*(1-fee) - cost >= min_unit_margin_rate * price, exactly, with the fee paid."""
    cost = unit_cost_fen(world.programs[pid], sku)
    rate = world.constraints.min_unit_margin_rate
    return price_fen * (1 - fee) - cost >= rate * price_fen


# ---------------------------------------------------------------------------------------------
# Fees


def fee_rate(world: World, enrolled: Iterable[str], pid: str) -> Fraction:
    """The rate one order of a SKU in `pid` pays, given every program the SKU is enrolled in.

    Non-stacking (SPEC 3): per fee group, the applicable rates are pid's `own` items plus, when
    pid is help-sell, the `all_help_sell` items of every program the SKU is in (pid included);
    the order pays min(cap, max(applicable)) per group, summed over groups.
    """
    prog = world.programs[pid]
    applicable: dict[str, list[Fraction]] = {}
    for item in prog.fees.values():
        if item.scope == "own":
            applicable.setdefault(item.group, []).append(item.rate)
    if prog.help_sell:
        for j in {*enrolled, pid}:
            for item in world.programs[j].fees.values():
                if item.scope == "all_help_sell":
                    applicable.setdefault(item.group, []).append(item.rate)
    total = Fraction(0)
    for group, rates in applicable.items():
        cap = world.fee_caps.get(group)
        total += max(rates) if cap is None else min(cap, max(rates))
    return total


# ---------------------------------------------------------------------------------------------
# Eligibility


def has_price_alone(world: World, pid: str, sku: Sku) -> bool:
    """Some lattice price under the caps keeps the margin rule with the SKU in pid alone.

    The margin slack price*(1-fee-rate) - cost is linear in the price, so over the lattice
    {step, ..., ceiling} it is largest at one of the two ends; with no cap, any high price
    works when the slope is positive.
    """
    step = world.price_step_fen
    fee = fee_rate(world, (pid,), pid)
    top = price_ceiling_fen(world, pid, sku)
    if top is None:
        slope = 1 - fee - world.constraints.min_unit_margin_rate
        return slope > 0 or keeps_margin(world, pid, sku, step, fee)
    if top < step:
        return False
    return keeps_margin(world, pid, sku, step, fee) or keeps_margin(world, pid, sku, top, fee)


def eligible(world: World, pid: str, sku: Sku) -> bool:
    """SPEC 4: merchant and SKU rules hold and some allowed price keeps the margin alone."""
    key = ("eligible", pid, sku.sku_id)
    if key not in world.memo:
        world.memo[key] = (not merchant_failures(world, pid)
                           and not sku_failures(world, pid, sku)
                           and has_price_alone(world, pid, sku))
    return bool(world.memo[key])


# ---------------------------------------------------------------------------------------------
# Demand and money


@dataclass(frozen=True)
class Economics:
    """One enrollment's figures in yuan (units in units)."""

    units: float
    revenue: float
    fees: float
    margin: float
    discount: float  # units * (market_price - price)


def selling_days(prog: Program, continuing: bool) -> float:
    """SPEC 6.1: a continuing enrollment sells the whole horizon; a new (or changed) one waits
    review_days before its first sale, and sells nothing when the review outlasts the horizon."""
    return prog.horizon_days if continuing else max(prog.horizon_days - prog.review_days, 0.0)


def units(world: World, pid: str, sku: Sku, price_fen: Fraction | int,
          continuing: bool = False) -> float:
    prog = world.programs[pid]
    e = prog.elasticity if sku.elasticity is None else sku.elasticity
    days = selling_days(prog, continuing)
    return (float(sku.daily_units) * prog.demand_multiplier * days
            * (float(price_fen) / sku.market_fen) ** (-e))


def economics(world: World, pid: str, sku: Sku, price_fen: Fraction | int,
              fee: Fraction, continuing: bool = False) -> Economics:
    u = units(world, pid, sku, price_fen, continuing)
    p = float(price_fen) / 100
    f = float(fee)
    c = unit_cost_fen(world.programs[pid], sku) / 100
    revenue = u * p
    return Economics(units=u, revenue=revenue, fees=revenue * f, margin=u * (p * (1 - f) - c),
                     discount=u * (sku.market_fen / 100 - p))


def stock_limit(world: World, sku: Sku) -> float:
    """Units all enrollments of the SKU may sell: stock minus the reserve kept for 大市场."""
    return float(sku.stock - world.constraints.stock_reserve_days * sku.daily_units)
