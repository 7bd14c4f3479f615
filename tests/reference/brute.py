"""The exact optimum of a TINY scenario by exhaustive enumeration: a reference for the solvers.

A second opinion, not a copy: only the *reading* of the files (YAML, rulebook overrides, the
catalogue's exact values) is shared with the auditor (optimizer.audit.inputs.load_world). All the
arithmetic of the contract is written here again from SPEC 3-4, by other means where there are
other means: the rules (comparisons, any_of / all_of, `count:` merchant fields), the price
lattice (every multiple of price_step tried against every cap, strict `<` or non-strict `<=`,
in exact Fractions, instead of a ceiling formula), fees (non-stacking: per group the cap of the
highest applicable rate, once), eligibility (some lattice price keeps the margin rule with the
SKU in the program alone, by trying them all), demand, margin, stock and exclusivity. Nothing
comes from optimizer.audit.semantics, optimizer.load, rules, score or model.

Every SKU x program pair is either out or enrolled at one allowed lattice price. The search is
exhaustive; the only pruning is exact:
  * per SKU, every combination of programs and prices is enumerated, and combinations that break
    a SKU-local rule (margin rule with the fee actually paid, stock, the same SKU in two exclusive
    programs) are dropped;
  * among the combinations with the same set of programs, one that another beats or ties on
    margin, discount (only if discount_budget is set) and GMV (only if gmv_min is set) is
    dropped - swapping it for the other keeps every constraint and does not lower the margin;
  * the depth-first search over SKUs (grouped by offer) checks all-or-none, exclusivity and
    max_skus as offers complete, and cuts branches whose optimistic margin cannot beat the
    incumbent or whose optimistic discount / GMV already breaks the budget / target.
The GMV is as 1688 counts it (SPEC 2.1): merchant.baseline_gmv + units x price over the programs
with counts_toward_gmv (AliExpress orders are not 1688 trades).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import combinations, product
from pathlib import Path
from typing import Any

from optimizer.audit.inputs import Sku, World, load_world

MAX_SKUS = 6
MAX_LATTICE = 64  # prices per SKU x program: this is for tiny instances only


@dataclass(frozen=True)
class Config:
    """One SKU's choice: the programs it is in, at which prices, and what that earns."""

    programs: tuple[str, ...]
    prices: tuple[int, ...]  # fen
    fees: tuple[Fraction, ...]
    ecos: tuple[Eco, ...]
    margin: float
    discount: float
    revenue: float  # of the programs whose orders are 1688 trades (counts_toward_gmv): the GMV


# ---------------------------------------------------------------------------------------------
# SPEC 3-4 arithmetic, written for this reference


@dataclass(frozen=True)
class Eco:
    """One enrollment in yuan (units in units): SPEC 4's formulas."""

    units: float
    revenue: float
    fees: float
    margin: float
    discount: float


def _over(value: float, limit: float) -> bool:
    """value > limit beyond float noise."""
    return value - limit > 1e-9 * max(abs(value), abs(limit), 1.0)


def _num(value: Any) -> Any:
    """Rule operands: numbers exact (YAML 0.9 is 9/10), booleans and text as they are."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, list | tuple):
        return [_num(v) for v in value]
    return Fraction(str(value)) if isinstance(value, float) else Fraction(value)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    return bool(a == b)


def _holds(rule: dict[str, Any], read: Any) -> bool:
    """SPEC 3's rule vocabulary; a missing field fails the rule."""
    if "any_of" in rule:
        return any(_holds(r, read) for r in rule["any_of"].values())
    if "all_of" in rule:
        return all(_holds(r, read) for r in rule["all_of"].values())
    actual, op, want = _num(read(rule["field"])), rule["op"], _num(rule.get("value"))
    if actual is None:
        return False
    if op in ("in", "not_in"):
        found = any(_equal(actual, w) for w in (want if isinstance(want, list) else [want]))
        return found == (op == "in")
    if op == "==":
        return _equal(actual, want)
    if op == "!=":
        return not _equal(actual, want)
    if not all(isinstance(x, Fraction) for x in (actual, want)):
        return False  # an order between a number and text or a boolean never holds
    return {">=": actual >= want, "<=": actual <= want, ">": actual > want,
            "<": actual < want}[op]


def _merchant_field(world: World, field: str) -> Any:
    if field.startswith("count:"):
        column = field[len("count:"):]
        return sum(s.fields.get(column) is True for s in world.skus.values())
    return world.merchant.get(field)


def _rules_hold(world: World, pid: str, sku: Sku) -> bool:
    prog = world.programs[pid]
    return (all(_holds(r, lambda f: _merchant_field(world, f))
                for r in prog.merchant_rules.values())
            and all(_holds(r, sku.fields.get) for r in prog.sku_rules.values()))


def _under_caps(world: World, pid: str, sku: Sku, price_fen: int) -> bool:
    """price < ratio * field (strict) or <= (non-strict) for every cap, exactly in fen."""
    for cap in world.programs[pid].price_caps.values():
        base = sku.fields.get(cap.field)
        if base is None and cap.field == "web_min_price":
            continue  # SPEC 2.2: 全网比价 applies only when the catalogue gives web_min_price
        if isinstance(base, bool) or not isinstance(base, Fraction):
            return False  # no number to cap against
        limit = cap.ratio * base * 100
        if not (price_fen < limit if cap.strict else price_fen <= limit):
            return False
    return True


def _prices(world: World, pid: str, sku: Sku) -> list[int]:
    """Every lattice price (multiples of price_step, from one step up) under every cap: the caps
    are upper limits, so they hold on a prefix of the lattice; walk it until one breaks."""
    if not world.programs[pid].price_caps:
        raise ValueError(f"{pid} has no price cap: the price lattice is infinite")
    step, out = world.price_step_fen, []
    price = step
    while _under_caps(world, pid, sku, price):
        out.append(price)
        if len(out) > MAX_LATTICE:
            raise ValueError(f"{sku.sku_id} in {pid}: more than {MAX_LATTICE} prices, too many "
                             "for brute force")
        price += step
    return out


def _fee(world: World, enrolled: Iterable[str], pid: str) -> Fraction:
    """SPEC 3 non-stacking: per fee group the highest applicable rate (pid's own items, and
    when pid is help-sell the all_help_sell items of every program the SKU is in), capped by
    the group's cap, charged once; the groups add up."""
    prog = world.programs[pid]
    highest: dict[str, Fraction] = {}

    def offer(group: str, rate: Fraction) -> None:
        highest[group] = max(highest.get(group, rate), rate)

    for item in prog.fees.values():
        if item.scope == "own":
            offer(item.group, item.rate)
    if prog.help_sell:
        for other in set(enrolled) | {pid}:
            for item in world.programs[other].fees.values():
                if item.scope == "all_help_sell":
                    offer(item.group, item.rate)
    total = Fraction(0)
    for group, rate in highest.items():
        cap = world.fee_caps.get(group)
        total += rate if cap is None or rate <= cap else cap
    return total


def _cost_fen(world: World, pid: str, sku: Sku) -> int:
    return sku.cost_fen + sku.ship_fen * world.programs[pid].free_shipping


def _keeps_margin(world: World, pid: str, sku: Sku, price_fen: int, fee: Fraction) -> bool:
    """price * (1 - fee) - cost >= min_unit_margin_rate * price, exactly."""
    rate = world.constraints.min_unit_margin_rate
    return price_fen * (1 - fee - rate) >= _cost_fen(world, pid, sku)


def _eligible(world: World, pid: str, sku: Sku) -> bool:
    """SPEC 4: rules hold and some allowed price keeps the margin rule with s in pid alone."""
    if not _rules_hold(world, pid, sku):
        return False
    fee = _fee(world, [pid], pid)
    return any(_keeps_margin(world, pid, sku, p, fee) for p in _prices(world, pid, sku))


def _eco(world: World, pid: str, sku: Sku, price_fen: int, fee: Fraction) -> Eco:
    prog = world.programs[pid]
    e = sku.elasticity if sku.elasticity is not None else prog.elasticity
    units = (float(sku.daily_units) * prog.demand_multiplier
             * max(prog.horizon_days - prog.review_days, 0.0)
             / (price_fen / sku.market_fen) ** e)
    revenue = units * price_fen / 100
    fees = revenue * float(fee)
    return Eco(units, revenue, fees,
               revenue - fees - units * _cost_fen(world, pid, sku) / 100,
               units * (sku.market_fen - price_fen) / 100)


def _stock(world: World, sku: Sku) -> float:
    return float(sku.stock) - float(world.constraints.stock_reserve_days * sku.daily_units)


def _exclusive(world: World, a: str, b: str) -> bool:
    return (b in world.programs[a].exclusive_with) or (a in world.programs[b].exclusive_with)


def _rate_text(rate: Fraction) -> str:
    text = format((Decimal(rate.numerator) / Decimal(rate.denominator)).normalize(), "f")
    return text


EMPTY = Config((), (), (), (), 0.0, 0.0, 0.0)


def brute_force_optimum(scenario_path: Path) -> tuple[float, list[dict[str, str]]] | None:
    """(best total margin in yuan, its plan rows as plan.csv would print them), or None if no
    plan meets the constraints (only possible with gmv_min > 0 or forced all-or-none)."""
    return brute_force_world(load_world(Path(scenario_path)))


def brute_force_world(world: World) -> tuple[float, list[dict[str, str]]] | None:
    skus = _offer_order(world)
    if len(skus) > MAX_SKUS:
        raise ValueError(f"{len(skus)} SKUs: brute force is for at most {MAX_SKUS}")
    eligible = {s.sku_id: [k for k in world.programs if _eligible(world, k, s)] for s in skus}
    options = [sorted(_sku_configs(world, s, eligible[s.sku_id]), key=lambda c: -c.margin)
               for s in skus]
    search = _Search(world, skus, eligible, options)
    search.dfs(0, 0.0, 0.0, 0.0, {}, frozenset(), {})
    if search.best is None:
        return None
    return search.best_value, _rows(skus, search.best)


def _offer_order(world: World) -> list[Sku]:
    """SKUs grouped by offer (catalogue order otherwise), so offers complete one at a time."""
    offers: dict[str, list[Sku]] = {}
    for s in world.skus.values():
        offers.setdefault(s.offer_id, []).append(s)
    return [s for group in offers.values() for s in group]


def _sku_configs(world: World, sku: Sku, programs: list[str]) -> list[Config]:
    lattice = {k: _prices(world, k, sku) for k in programs}
    limit = _stock(world, sku)
    out = [EMPTY]
    for r in range(1, len(programs) + 1):
        for chosen in combinations(programs, r):
            if any(_exclusive(world, a, b) for a, b in combinations(chosen, 2)):
                continue
            fees = tuple(_fee(world, chosen, k) for k in chosen)
            allowed = [[(p, _eco(world, k, sku, p, f)) for p in lattice[k]
                        if _keeps_margin(world, k, sku, p, f)]
                       for k, f in zip(chosen, fees, strict=True)]
            found = []
            for combo in product(*allowed):
                ecos = tuple(e for _, e in combo)
                if _over(sum(e.units for e in ecos), limit):
                    continue
                found.append(Config(chosen, tuple(p for p, _ in combo), fees, ecos,
                                    sum(e.margin for e in ecos), sum(e.discount for e in ecos),
                                    sum(e.revenue for k, e in zip(chosen, ecos, strict=True)
                                        if world.programs[k].counts_toward_gmv)))
            out += _pareto(world, found)
    return out


def _pareto(world: World, configs: list[Config]) -> list[Config]:
    """Drop configs (same programs) that another matches or beats on every coupled quantity."""
    use_discount = world.constraints.discount_budget is not None
    use_revenue = world.constraints.gmv_min is not None
    kept: list[Config] = []
    for c in sorted(configs, key=lambda c: -c.margin):
        if any((not use_discount or k.discount <= c.discount)
               and (not use_revenue or k.revenue >= c.revenue) for k in kept):
            continue
        kept.append(c)
    return kept


class _Search:
    def __init__(self, world: World, skus: list[Sku], eligible: dict[str, list[str]],
                 options: list[list[Config]]) -> None:
        self.world, self.skus, self.eligible, self.options = world, skus, eligible, options
        n = len(skus)
        self.best: list[Config] | None = None
        self.best_value = float("-inf")
        self.chosen: list[Config] = []
        # optimistic totals of SKUs i.. (margin up, discount down, revenue up)
        self.rest_margin = [0.0] * (n + 1)
        self.rest_discount = [0.0] * (n + 1)
        self.rest_revenue = [0.0] * (n + 1)
        for i in range(n - 1, -1, -1):
            self.rest_margin[i] = self.rest_margin[i + 1] + max(c.margin for c in options[i])
            self.rest_discount[i] = (self.rest_discount[i + 1]
                                     + min(c.discount for c in options[i]))
            self.rest_revenue[i] = self.rest_revenue[i + 1] + max(c.revenue for c in options[i])

    def hopeless(self, i: int, margin: float, discount: float, revenue: float) -> bool:
        c = self.world.constraints
        if self.best is not None and margin + self.rest_margin[i] <= self.best_value:
            return True
        if c.discount_budget is not None and _over(discount + self.rest_discount[i],
                                                   float(c.discount_budget)):
            return True
        # SPEC 2.1: the 通天 GMV is baseline_gmv + the counting programs' revenue
        baseline = float(self.world.merchant.get("baseline_gmv") or 0)
        return c.gmv_min is not None and _over(float(c.gmv_min),
                                               baseline + revenue + self.rest_revenue[i])

    def dfs(self, i: int, margin: float, discount: float, revenue: float,
            counts: dict[str, int], offer_programs: frozenset[str],
            decided: dict[str, bool]) -> None:
        if self.hopeless(i, margin, discount, revenue):
            return
        if i == len(self.skus):
            self.best, self.best_value = list(self.chosen), margin
            return
        sku = self.skus[i]
        if i > 0 and self.skus[i - 1].offer_id != sku.offer_id:
            offer_programs, decided = frozenset(), {}
        for c in self.options[i]:
            if not self.allowed(sku, c, counts, offer_programs, decided):
                continue
            new_counts = dict(counts)
            for k in c.programs:
                new_counts[k] = new_counts.get(k, 0) + 1
            new_decided = dict(decided)
            for k in self.eligible[sku.sku_id]:
                if self.world.programs[k].selection == "offer":
                    new_decided[k] = k in c.programs
            self.chosen.append(c)
            self.dfs(i + 1, margin + c.margin, discount + c.discount, revenue + c.revenue,
                     new_counts, offer_programs | set(c.programs), new_decided)
            self.chosen.pop()

    def allowed(self, sku: Sku, c: Config, counts: dict[str, int],
                offer_programs: frozenset[str], decided: dict[str, bool]) -> bool:
        """max_skus, offer-level exclusivity and all-or-none against this offer's SKUs so far."""
        for k in c.programs:
            limit = self.world.constraints.max_skus.get(k)
            if limit is not None and counts.get(k, 0) + 1 > limit:
                return False
            if any(_exclusive(self.world, k, j) for j in offer_programs):
                return False
        for k in self.eligible[sku.sku_id]:
            if (self.world.programs[k].selection == "offer" and k in decided
                    and decided[k] != (k in c.programs)):
                return False
        return True


def _rows(skus: list[Sku], configs: list[Config]) -> list[dict[str, str]]:
    rows = []
    for sku, c in zip(skus, configs, strict=True):
        for k, p, f, e in zip(c.programs, c.prices, c.fees, c.ecos, strict=True):
            rows.append({
                "sku_id": sku.sku_id, "offer_id": sku.offer_id, "program": k,
                "price": f"{p / 100:.2f}", "units": f"{e.units:.3f}",
                "revenue": f"{e.revenue:.2f}", "fee_rate": _rate_text(f), "fees": f"{e.fees:.2f}",
                "margin": f"{e.margin:.2f}",
            })
    return rows
