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

Today's enrollments (SPEC 6.1, `current`), read by this module itself (the auditor's reader
knows neither `current:` nor the commitments): an enrollment at today's SKU, program and price
*continues* and sells horizon_days; any other sells horizon_days - review_days. Per program's
commitment:
  * none: today's row may continue (only if it keeps every rule at that price), be repriced or
    dropped;
  * no_exit: the row is in every plan at its price, whatever SKU / merchant rule, cap or margin
    rule it now breaks (not checked), using stock, slots, budget and GMV and setting fee
    variants like any row; it turns its offer's all-or-none program on. The SKU's stock limit
    becomes max(limit, the locked rows' own units): nothing else may add beyond the limit;
  * fixed_until_exit: per offer, either every row of today's in that program continues (each
    keeping every rule) and no other SKU of the offer is in it, or none continues and the
    offer's SKUs may enroll anew at any allowed price (today's too, as a new enrollment).
Exclusivity holds for every row, locked ones included.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import combinations, product
from pathlib import Path
from typing import Any

import yaml

from optimizer.audit.inputs import Sku, World, load_world, rulebook_path, to_fen

MAX_SKUS = 6
MAX_LATTICE = 64  # prices per SKU x program: this is for tiny instances only
COMMITMENTS = ("none", "no_exit", "fixed_until_exit")
CurrentRow = tuple[str, str, int]  # (sku_id, program, today's price in fen)


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
    kept: tuple[bool, ...] = ()  # per program: continues today's enrollment (same price)


@dataclass(frozen=True)
class Today:
    """Today's enrollments and the commitment of each program (SPEC 6.1)."""

    price: dict[tuple[str, str], int]  # (sku_id, program) -> fen
    commitment: dict[str, str]  # program -> none | no_exit | fixed_until_exit

    def locked(self, sku_id: str, pid: str) -> int | None:
        """Today's price of a no_exit row (in every plan at it), else None."""
        if self.commitment.get(pid) != "no_exit":
            return None
        return self.price.get((sku_id, pid))


NOTHING_TODAY = Today({}, {})


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


def _days(world: World, pid: str, continuing: bool) -> float:
    """SPEC 6.1: a continuing enrollment sells the horizon; a new or changed one waits for its
    review and sells the rest (none below 0)."""
    prog = world.programs[pid]
    return prog.horizon_days if continuing else max(prog.horizon_days - prog.review_days, 0.0)


def _eco(world: World, pid: str, sku: Sku, price_fen: int, fee: Fraction,
         continuing: bool = False) -> Eco:
    prog = world.programs[pid]
    e = sku.elasticity if sku.elasticity is not None else prog.elasticity
    units = (float(sku.daily_units) * prog.demand_multiplier * _days(world, pid, continuing)
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


def brute_force_optimum(scenario_path: Path, current: Iterable[CurrentRow] | None = None
                        ) -> tuple[float, list[dict[str, str]]] | None:
    """(best total margin in yuan, its plan rows as plan.csv would print them), or None if no
    plan meets the constraints (only possible with gmv_min > 0, forced all-or-none or rows of
    today's that cannot leave).

    `current`: today's enrollments as (sku_id, program, price in fen); None reads the
    scenario's `current:` CSV, if it names one (SPEC 6.1)."""
    path = Path(scenario_path)
    world = load_world(path)
    raw = _read_yaml(path)
    if current is None and raw.get("current") is not None:
        current = read_current(path.parent / str(raw["current"]))
    if current is None:
        return brute_force_world(world)
    return brute_force_world(world, today_of(world, list(current), commitments(path, world)))


def _read_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping")
    return data


def read_current(path: Path) -> list[CurrentRow]:
    """The `current` CSV (sku_id, program, price in yuan), read with the csv module."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        return [(rec["sku_id"].strip(), rec["program"].strip(),
                 to_fen(rec["price"], f"{path.name} price"))
                for rec in csv.DictReader(f)]


def commitments(scenario_path: Path, world: World) -> dict[str, str]:
    """Each active program's commitment: the scenario's override, else the rulebook's."""
    raw = _read_yaml(scenario_path)
    book = _read_yaml(rulebook_path(raw.get("rulebook"), scenario_path.parent))
    overrides = raw.get("programs") or {}
    out = {}
    for pid in world.programs:
        over = overrides.get(pid) or {}
        value = over.get("commitment", (book["programs"][pid] or {}).get("commitment", "none"))
        if value not in COMMITMENTS:
            raise ValueError(f"programs.{pid}.commitment: {value!r}")
        out[pid] = str(value)
    return out


def today_of(world: World, rows: list[CurrentRow], commitment: dict[str, str]) -> Today:
    price: dict[tuple[str, str], int] = {}
    for sku_id, pid, fen in rows:
        if sku_id not in world.skus or pid not in world.programs:
            raise ValueError(f"current row {(sku_id, pid, fen)}: unknown SKU or program")
        if (sku_id, pid) in price:
            raise ValueError(f"current row {(sku_id, pid, fen)}: repeated")
        if fen < world.price_step_fen or fen % world.price_step_fen:
            raise ValueError(f"current row {(sku_id, pid, fen)}: not on the price lattice")
        price[(sku_id, pid)] = fen
    return Today(price, commitment)


def brute_force_world(world: World, today: Today = NOTHING_TODAY
                      ) -> tuple[float, list[dict[str, str]]] | None:
    skus = _offer_order(world)
    if len(skus) > MAX_SKUS:
        raise ValueError(f"{len(skus)} SKUs: brute force is for at most {MAX_SKUS}")
    # a locked row's SKU is in its program whatever rule it breaks: all-or-none counts it in
    eligible = {s.sku_id: [k for k in world.programs
                           if today.locked(s.sku_id, k) is not None or _eligible(world, k, s)]
                for s in skus}
    options = [sorted(_sku_configs(world, s, eligible[s.sku_id], today), key=lambda c: -c.margin)
               for s in skus]
    if any(not o for o in options):
        return None  # a SKU's locked rows alone break exclusivity
    search = _Search(world, skus, eligible, options, today)
    search.dfs(0, 0.0, 0.0, 0.0, {}, frozenset(), {})
    if search.best is None:
        return None
    return search.best_value, _rows(skus, search.best, today)


def _offer_order(world: World) -> list[Sku]:
    """SKUs grouped by offer (catalogue order otherwise), so offers complete one at a time."""
    offers: dict[str, list[Sku]] = {}
    for s in world.skus.values():
        offers.setdefault(s.offer_id, []).append(s)
    return [s for group in offers.values() for s in group]


def _choices(world: World, sku: Sku, pid: str, today: Today) -> list[tuple[int, bool]]:
    """(price fen, continuing) the SKU may take in pid. A locked row: today's price only. A
    `none` row: today's price continues; a fixed_until_exit row: continues at today's price,
    or after its offer's exit any lattice price is new, today's included."""
    locked = today.locked(sku.sku_id, pid)
    if locked is not None:
        return [(locked, True)]
    lattice = _prices(world, pid, sku)
    cur = today.price.get((sku.sku_id, pid))
    commitment = today.commitment.get(pid, "none")
    if cur is None:
        return [(p, False) for p in lattice]
    if commitment == "none":
        return [(p, p == cur) for p in lattice]
    return [(p, False) for p in lattice] + ([(cur, True)] if cur in lattice else [])


def _sku_configs(world: World, sku: Sku, programs: list[str], today: Today,
                 prune: bool = True) -> list[Config]:
    """Every combination of programs and prices that keeps the SKU-local rules (margin with
    the fee paid, stock, exclusivity, locks); with `prune`, only the Pareto-best of each
    (programs, rows continuing) group (several months need them all: a price moves the next
    month's caps)."""
    choices = {k: _choices(world, sku, k, today) for k in programs}
    forced = {k for k in programs if today.locked(sku.sku_id, k) is not None}
    # the locked rows (continuing, the whole horizon) may exceed the stock; nothing else may
    locked_units = sum(_eco(world, k, sku, choices[k][0][0], Fraction(0), True).units
                       for k in forced)
    limit = max(_stock(world, sku), locked_units)
    out = [] if forced else [EMPTY]
    for r in range(1, len(programs) + 1):
        for chosen in combinations(programs, r):
            if not forced <= set(chosen):
                continue
            if any(_exclusive(world, a, b) for a, b in combinations(chosen, 2)):
                continue
            fees = tuple(_fee(world, chosen, k) for k in chosen)
            allowed = [[(p, cont, _eco(world, k, sku, p, f, cont)) for p, cont in choices[k]
                        if k in forced or _keeps_margin(world, k, sku, p, f)]
                       for k, f in zip(chosen, fees, strict=True)]
            found: dict[tuple[bool, ...], list[Config]] = {}
            for combo in product(*allowed):
                ecos = tuple(e for _, _, e in combo)
                if _over(sum(e.units for e in ecos), limit):
                    continue
                kept = tuple(cont for _, cont, _ in combo)
                config = Config(
                    chosen, tuple(p for p, _, _ in combo), fees, ecos,
                    sum(e.margin for e in ecos), sum(e.discount for e in ecos),
                    sum(e.revenue for k, e in zip(chosen, ecos, strict=True)
                        if world.programs[k].counts_toward_gmv),
                    kept)
                if prune:
                    found.setdefault(kept, []).append(config)
                else:
                    out.append(config)
            for group in found.values():  # same programs, same rows continuing
                out += _pareto(world, group)
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
                 options: list[list[Config]], today: Today) -> None:
        self.world, self.skus, self.eligible, self.options = world, skus, eligible, options
        n = len(skus)
        self.best: list[Config] | None = None
        self.best_value = float("-inf")
        self.chosen: list[Config] = []
        # per SKU index: where its offer starts; per offer start: the fixed_until_exit programs
        # with rows of today's in the offer, and which SKU indices hold them
        self.start = [0] * n
        for i in range(1, n):
            same = skus[i].offer_id == skus[i - 1].offer_id
            self.start[i] = self.start[i - 1] if same else i
        self.fixed: dict[int, dict[str, set[int]]] = {}
        for (sku_id, pid), _ in today.price.items():
            if today.commitment.get(pid) == "fixed_until_exit":
                i = next(j for j, s in enumerate(skus) if s.sku_id == sku_id)
                self.fixed.setdefault(self.start[i], {}).setdefault(pid, set()).add(i)
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

    def keeps_or_exits(self, start: int, end: int) -> bool:
        """SPEC 6.1 fixed_until_exit, on the offer of SKUs start..end-1 (chosen): per program,
        every row of today's continues and no other SKU is in it, or none continues."""
        for pid, rows in self.fixed.get(start, {}).items():
            kept = {j for j in range(start, end)
                    if any(k == pid and cont for k, cont in
                           zip(self.chosen[j].programs, self.chosen[j].kept, strict=True))}
            if not kept:
                continue
            if kept != rows or any(pid in self.chosen[j].programs
                                   for j in range(start, end) if j not in rows):
                return False
        return True

    def dfs(self, i: int, margin: float, discount: float, revenue: float,
            counts: dict[str, int], offer_programs: frozenset[str],
            decided: dict[str, bool]) -> None:
        if self.hopeless(i, margin, discount, revenue):
            return
        n = len(self.skus)
        offer_done = i == n or (i > 0 and self.skus[i - 1].offer_id != self.skus[i].offer_id)
        if i > 0 and offer_done and not self.keeps_or_exits(self.start[i - 1], i):
            return
        if i == n:
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


def _change(today: Today, sku_id: str, pid: str, continuing: bool) -> str:
    if continuing:
        return "keep"
    return "reprice" if (sku_id, pid) in today.price else "new"


def _rows(skus: list[Sku], configs: list[Config], today: Today) -> list[dict[str, str]]:
    rows = []
    for sku, c in zip(skus, configs, strict=True):
        kept = c.kept or (False,) * len(c.programs)
        for k, p, f, e, cont in zip(c.programs, c.prices, c.fees, c.ecos, kept, strict=True):
            row = {
                "sku_id": sku.sku_id, "offer_id": sku.offer_id, "program": k,
                "price": f"{p / 100:.2f}", "units": f"{e.units:.3f}",
                "revenue": f"{e.revenue:.2f}", "fee_rate": _rate_text(f), "fees": f"{e.fees:.2f}",
                "margin": f"{e.margin:.2f}",
            }
            if today.price:
                row["change"] = _change(today, sku.sku_id, k, cont)
            rows.append(row)
    return rows


def plan_margin(world: World, rows: Iterable[tuple[str, str, int, bool]]) -> float:
    """The margin (yuan) of a given plan by this module's arithmetic: rows are (sku_id,
    program, price fen, continuing), each paying the fee its SKU's set of programs sets and
    selling the days SPEC 6.1 gives it. Only the arithmetic: whether the plan keeps the rules
    is the search's business, not this function's."""
    rows = list(rows)
    enrolled: dict[str, set[str]] = {}
    for sku_id, pid, _, _ in rows:
        enrolled.setdefault(sku_id, set()).add(pid)
    return sum(_eco(world, pid, world.skus[sku_id], price, _fee(world, enrolled[sku_id], pid),
                    continuing).margin
               for sku_id, pid, price, continuing in rows)
