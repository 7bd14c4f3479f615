"""Which SKU x program pairs pass the merchant and SKU rules, and the first rule that fails.

Evaluated a rule at a time over whole catalogue columns (no loop per SKU), so that a million
SKUs cost a few numpy passes. Price caps are exact fen arithmetic and live in `optimizer.score`.
The reasons are built a column at a time too: each distinct value of a rule's field is formatted
once (numbers exactly as Python's f-strings format them, by `optimizer.text`) and the texts joined
with pyarrow string kernels, so the reasons of a million failing SKUs cost no Python loop per SKU.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from optimizer.load.types import MONEY_COLUMNS, Catalogue, Merchant
from optimizer.rules.rulebook import Rule, Rulebook
from optimizer.text import TEXT, fixed_text, join_text, plain_strings

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


# ---------------------------------------------------------------- reasons as text (pyarrow)

def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct values, where each value is among them) for a numeric column; floats are
    told apart by their bits (-0.0 and 0.0 print differently). Other dtypes: no merging."""
    kind, width = values.dtype.kind, values.dtype.itemsize
    if kind == "f" and width in (2, 4, 8):
        key = values.view(f"i{width}").astype(np.int64)
    elif kind in "bi" or (kind == "u" and width < 8):
        key = values.astype(np.int64)
    else:
        return values, np.arange(values.size)
    if key.size == 0:
        return values, np.zeros(0, np.int64)
    low, high = int(key.min()), int(key.max())
    if high - low <= 4 * key.size + 4096:  # a dense range: no sort
        present = np.zeros(high - low + 1, bool)
        present[key - low] = True
        keys = np.flatnonzero(present) + low
        index = (np.cumsum(present) - 1)[key - low]
    else:
        keys, index = np.unique(key, return_inverse=True)
    if kind == "f":
        return keys.astype(f"i{width}").view(values.dtype), index.reshape(-1)
    return keys.astype(values.dtype), index.reshape(-1)


Reasons = tuple[pa.Array, np.ndarray]  # distinct texts, and which one each SKU has


def _show_pool(values: np.ndarray) -> Reasons:
    """`_show(v)` of a catalogue column's values, each distinct value formatted once."""
    kind = values.dtype.kind
    if kind == "O":
        plain = plain_strings(values)
        if plain is not None:
            coded = plain.dictionary_encode()
            return coded.dictionary, coded.indices.to_numpy().astype(np.int64)
    elif kind in "biuf":
        distinct, index = _distinct(values)
        if kind == "b":
            return pa.array(["false", "true"], TEXT).take(distinct.astype(np.int8)), index
        if kind in "iu":
            return pa.array(distinct).cast(TEXT), index
        return pa.array([_show(v) for v in distinct], TEXT), index
    return pa.array([_show(v) for v in values], TEXT), np.arange(values.size)


# ---------------------------------------------------------------- SKU rules (vectorised)

Explain = Callable[[np.ndarray], Reasons]  # SKU indices (all failing the rule) -> why


def _sku_leaf(rule: Rule, cat: Catalogue) -> tuple[np.ndarray, Explain]:
    assert rule.field is not None and rule.op is not None
    column = cat.column(rule.field)
    threshold = rule.value
    head, tail = rule.field, f"{_NEGATED[rule.op]} {_show(threshold)}"
    if rule.field in MONEY_COLUMNS and not isinstance(threshold, list):
        # money rules are written in yuan; compare exactly in fen: fen*den op yuan_num*100
        frac = Fraction(str(threshold))
        ok = _compare(rule.op, column.astype(np.int64) * frac.denominator, frac.numerator * 100)

        def detail(idx: np.ndarray) -> Reasons:  # f"{fen / 100:.2f}"
            fen, index = _distinct(column[idx])
            return join_text(head, fixed_text(fen / 100, 2), tail, sep=" "), index
    else:
        thr = threshold if isinstance(threshold, list) else _threshold(threshold)
        ok = np.asarray(_compare(rule.op, column, thr), dtype=bool)

        def detail(idx: np.ndarray) -> Reasons:
            shown, index = _show_pool(column[idx])
            return join_text(head, shown, tail, sep=" "), index
    return np.asarray(ok, dtype=bool), detail


def eval_sku_rule(rule: Rule, cat: Catalogue) -> tuple[np.ndarray, Explain]:
    """(holds per SKU, a function giving the reasons for the failing SKUs at given indices)."""
    if rule.field is not None:
        return _sku_leaf(rule, cat)
    subs = [eval_sku_rule(r, cat) for r in (rule.any_of or rule.all_of or {}).values()]
    if rule.any_of is not None:
        ok = np.logical_or.reduce([s[0] for s in subs]) if subs else np.ones(cat.n, bool)

        def any_detail(idx: np.ndarray) -> Reasons:  # every sub-rule fails here: all of them
            parts = [s[1](idx) for s in subs]
            sizes = [len(texts) for texts, _ in parts]
            if math.prod(sizes) < 2**62:  # each distinct combination once
                key = np.zeros(idx.size, np.int64)
                for (_, which), size in zip(parts, sizes, strict=True):
                    key = key * size + which
                keys, index = _distinct(key)
                picks = []
                for size in reversed(sizes):
                    keys, pick = np.divmod(keys, size)
                    picks.append(pick)
                picks.reverse()
            else:
                index, picks = np.arange(idx.size), [which for _, which in parts]
            texts = join_text(*(t.take(pick) for (t, _), pick in zip(parts, picks, strict=True)),
                              sep="; ")
            return join_text("none of: ", texts), index
        return ok, any_detail
    ok = np.logical_and.reduce([s[0] for s in subs]) if subs else np.ones(cat.n, bool)

    def all_detail(idx: np.ndarray) -> Reasons:  # the first failing sub-rule of each SKU
        pieces: list[pa.Array] = []
        index = np.zeros(idx.size, np.int64)
        size = 0
        pending = np.ones(idx.size, bool)
        for sub_ok, sub_detail in subs:
            fail = pending & ~sub_ok[idx]
            if fail.any():
                at = np.flatnonzero(fail)
                texts, which = sub_detail(idx[at])
                pieces.append(texts)
                index[at] = size + which
                size += len(texts)
            pending &= ~fail
        if pending.any():  # not reached: every SKU explained here fails some sub-rule
            pieces.append(pa.array([""], TEXT))
            index[pending] = size
        return (pa.concat_arrays(pieces) if pieces else pa.array([], TEXT)), index
    return ok, all_detail


REASONS = ("", MERCHANT_RULE, SKU_RULE)  # reason codes of RuleOutcome.reason_code


@dataclass(frozen=True)
class RuleOutcome:
    """Per SKU x program (columns in rulebook order): rules hold, else the first failing rule.

    Reasons are kept as codes: `reason_code` indexes REASONS, and `detail_index` indexes the texts
    in `detail_texts` (-1 where the rules hold), each distinct text of a rule made once (a failing
    merchant rule is one text for the whole program, a rule on ship_hours one per distinct value).
    `reason` and `detail` give them as (n, K) object arrays of str, built on first use.
    """

    programs: tuple[str, ...]
    ok: np.ndarray  # bool (n, K)
    reason_code: np.ndarray  # int8 (n, K): index into REASONS
    detail_index: np.ndarray  # int64 (n, K): index into detail_texts, -1 where ok
    detail_texts: pa.Array  # large_string

    @cached_property
    def reason(self) -> np.ndarray:
        """object (n, K): "" | MERCHANT_RULE | SKU_RULE."""
        return np.asarray(REASONS, dtype=object)[self.reason_code]

    @cached_property
    def detail(self) -> np.ndarray:
        """object (n, K): why the first failing rule fails, "" where the rules hold."""
        out = np.full(self.ok.shape, "", dtype=object)
        failing = self.detail_index >= 0
        out[failing] = self.detail_texts.take(self.detail_index[failing]).to_numpy(
            zero_copy_only=False)
        return out


def evaluate_rules(rulebook: Rulebook, merchant: Merchant, cat: Catalogue) -> RuleOutcome:
    """Merchant rules first (they fail a whole program), then SKU rules in rulebook order."""
    programs = tuple(rulebook.programs)
    n, k = cat.n, len(programs)
    ok = np.ones((n, k), dtype=bool)
    reason = np.zeros((n, k), dtype=np.int8)
    index = np.full((n, k), -1, dtype=np.int64)
    texts: list[pa.Array] = []
    size = 0
    get = merchant_context(merchant, cat)
    for j, pid in enumerate(programs):
        prog = rulebook.programs[pid]
        merchant_fail = next(((rid, why) for rid, rule in prog.merchant_rules.items()
                              if (why := eval_merchant_rule(rule, get)) is not None), None)
        if merchant_fail is not None:
            ok[:, j] = False
            reason[:, j] = REASONS.index(MERCHANT_RULE)
            index[:, j] = size
            texts.append(pa.array([merchant_fail[1]], TEXT))
            size += 1
            continue
        pending = np.ones(n, dtype=bool)
        for rule in prog.sku_rules.values():
            holds, explain = eval_sku_rule(rule, cat)
            fail = pending & ~holds
            if fail.any():
                idx = np.flatnonzero(fail)
                reason[idx, j] = REASONS.index(SKU_RULE)
                pool, which = explain(idx)
                texts.append(pool)
                index[idx, j] = size + which
                size += len(pool)
                pending &= ~fail
        ok[:, j] = pending
    pool = pa.concat_arrays(texts) if texts else pa.array([], TEXT)
    return RuleOutcome(programs, ok, reason, index, pool)
