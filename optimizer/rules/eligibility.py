"""Which SKU x program pairs pass the merchant and SKU rules, and the first rule that fails.

Evaluated a rule at a time over whole catalogue columns (no loop per SKU), so that a million
SKUs cost a few numpy passes. Price caps are exact fen arithmetic and live in `optimizer.score`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np

from optimizer.load.types import MONEY_COLUMNS, Catalogue, Merchant
from optimizer.rules.rulebook import Rule, Rulebook

MERCHANT_RULE = "MERCHANT_RULE"
SKU_RULE = "SKU_RULE"

_NEGATED = {">=": "<", "<=": ">", "<": ">=", ">": "<=", "==": "!=", "!=": "==",
            "in": "not in", "not_in": "in"}


def _show(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def _compare(op: str, left: Any, right: Any) -> Any:
    """`left op right` for scalars and numpy arrays alike."""
    if op == ">=":
        return left >= right
    if op == "<=":
        return left <= right
    if op == "<":
        return left < right
    if op == ">":
        return left > right
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op in ("in", "not_in"):
        inside = np.isin(left, np.asarray(right, dtype=object)) if isinstance(left, np.ndarray) \
            else left in right
        return inside if op == "in" else ~inside if isinstance(inside, np.ndarray) else not inside
    raise ValueError(f"unknown op {op}")


def _threshold(value: Any) -> Any:
    """Rule values compare as plain numbers; Decimals become floats unless money (see below)."""
    if isinstance(value, Decimal):
        return float(value)
    return value


# ---------------------------------------------------------------- merchant (one shop: scalars)

def merchant_context(merchant: Merchant, catalogue: Catalogue) -> Callable[[str], Any]:
    """Merchant-rule lookup: merchant fields, and `count:<bool column>` over the catalogue."""

    def get(name: str) -> Any:
        if name.startswith("count:"):
            column = catalogue.column(name.split(":", 1)[1])
            return int(np.count_nonzero(column))
        if name not in Merchant.model_fields:
            raise KeyError(f"merchant rule reads unknown field {name!r}")
        return getattr(merchant, name)

    return get


def eval_merchant_rule(rule: Rule, get: Callable[[str], Any]) -> str | None:
    """None when the rule holds, else why it fails. A missing merchant field fails every rule."""
    if rule.any_of is not None:
        reasons = [eval_merchant_rule(r, get) for r in rule.any_of.values()]
        if any(r is None for r in reasons):
            return None
        return "none of: " + "; ".join(r for r in reasons if r)
    if rule.all_of is not None:
        for sub in rule.all_of.values():
            why = eval_merchant_rule(sub, get)
            if why is not None:
                return why
        return None
    assert rule.field is not None and rule.op is not None
    value = get(rule.field)
    if value is None:
        return f"{rule.field} missing"
    threshold = rule.value
    left = float(value) if isinstance(value, Decimal) else value
    if bool(_compare(rule.op, left, _threshold(threshold) if not isinstance(threshold, list)
                     else threshold)):
        return None
    return f"{rule.field} {_show(value)} {_NEGATED[rule.op]} {_show(threshold)}"


# ---------------------------------------------------------------- SKU rules (vectorised)

def _sku_leaf(rule: Rule, cat: Catalogue) -> tuple[np.ndarray, Explain]:
    assert rule.field is not None and rule.op is not None
    column = cat.column(rule.field)
    threshold = rule.value
    if rule.field in MONEY_COLUMNS and not isinstance(threshold, list):
        # money rules are written in yuan; compare exactly in fen: fen*den op yuan_num*100
        frac = Fraction(str(threshold))
        ok = _compare(rule.op, column.astype(np.int64) * frac.denominator, frac.numerator * 100)

        def detail(idx: np.ndarray) -> list[str]:
            return [f"{rule.field} {v / 100:.2f} {_NEGATED[rule.op or '']} {_show(threshold)}"
                    for v in column[idx]]
    else:
        thr = threshold if isinstance(threshold, list) else _threshold(threshold)
        ok = np.asarray(_compare(rule.op, column, thr), dtype=bool)

        def detail(idx: np.ndarray) -> list[str]:
            return [f"{rule.field} {_show(v)} {_NEGATED[rule.op or '']} {_show(threshold)}"
                    for v in column[idx]]
    return np.asarray(ok, dtype=bool), detail


Explain = Callable[[np.ndarray], list[str]]


def eval_sku_rule(rule: Rule, cat: Catalogue) -> tuple[np.ndarray, Explain]:
    """(holds per SKU, a function giving the reason for the SKUs at given indices)."""
    if rule.field is not None:
        return _sku_leaf(rule, cat)
    subs = [eval_sku_rule(r, cat) for r in (rule.any_of or rule.all_of or {}).values()]
    if rule.any_of is not None:
        ok = np.logical_or.reduce([s[0] for s in subs]) if subs else np.ones(cat.n, bool)

        def any_detail(idx: np.ndarray) -> list[str]:
            parts = [s[1](idx) for s in subs]
            return ["none of: " + "; ".join(p[i] for p in parts) for i in range(len(idx))]
        return ok, any_detail
    ok = np.logical_and.reduce([s[0] for s in subs]) if subs else np.ones(cat.n, bool)

    def all_detail(idx: np.ndarray) -> list[str]:
        out = [""] * len(idx)
        pending = np.ones(len(idx), bool)
        for sub_ok, sub_detail in subs:
            fail = pending & ~sub_ok[idx]
            if fail.any():
                for j, text in zip(np.flatnonzero(fail), sub_detail(idx[fail]), strict=True):
                    out[j] = text
            pending &= ~fail
        return out
    return ok, all_detail


@dataclass(frozen=True)
class RuleOutcome:
    """Per SKU x program (columns in rulebook order): rules hold, else the first failing rule."""

    programs: tuple[str, ...]
    ok: np.ndarray  # bool (n, K)
    reason: np.ndarray  # object (n, K): "" | MERCHANT_RULE | SKU_RULE
    detail: np.ndarray  # object (n, K)


def evaluate_rules(rulebook: Rulebook, merchant: Merchant, cat: Catalogue) -> RuleOutcome:
    """Merchant rules first (they fail a whole program), then SKU rules in rulebook order."""
    programs = tuple(rulebook.programs)
    n, k = cat.n, len(programs)
    ok = np.ones((n, k), dtype=bool)
    reason = np.full((n, k), "", dtype=object)
    detail = np.full((n, k), "", dtype=object)
    get = merchant_context(merchant, cat)
    for j, pid in enumerate(programs):
        prog = rulebook.programs[pid]
        merchant_fail = next(((rid, why) for rid, rule in prog.merchant_rules.items()
                              if (why := eval_merchant_rule(rule, get)) is not None), None)
        if merchant_fail is not None:
            ok[:, j] = False
            reason[:, j] = MERCHANT_RULE
            detail[:, j] = merchant_fail[1]
            continue
        pending = np.ones(n, dtype=bool)
        for rule in prog.sku_rules.values():
            holds, explain = eval_sku_rule(rule, cat)
            fail = pending & ~holds
            if fail.any():
                idx = np.flatnonzero(fail)
                reason[idx, j] = SKU_RULE
                texts = np.empty(idx.size, dtype=object)
                texts[:] = explain(idx)
                detail[idx, j] = texts
                pending &= ~fail
        ok[:, j] = pending
    return RuleOutcome(programs, ok, reason, detail)
