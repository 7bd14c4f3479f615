"""The exact optimum of a TINY scenario planned over several months (SPEC 6.3), by enumeration.

A reference for the joint solver to come (issue 16), built on tests/reference/brute.py (its
arithmetic, its per-SKU choices and its offer checks) and nothing of optimizer.load, rules, score
or model. What this module adds is the coupling between the months, written from SPEC 6.3:

  * months 1..N: `periods: N`, or a list of months, each with overrides of `programs`
    (deep-merged over the scenario's block; absent there: every rulebook program) and of
    `constraints` (key by key: a key given replaces the scenario's value);
  * every month is a full plan: its global constraints (slots, budget, GMV) hold within it, and
    the stock constraint uses the catalogue's stock each month;
  * month 1's caps use the catalogue's min_price_30d; month t+1's use min(min_price_30d, the
    lowest price at which the SKU is enrolled in month t in a program with `sets_min_price`) -
    from the catalogue's value, not month t's moved one;
  * month t's plan is month t+1's today (SPEC 6.1): a row kept at the same SKU, program and price
    sells the whole horizon, any other horizon - review_days; `fixed_until_exit` offers keep all
    of their rows or exit; `no_exit` binds within a month only (month 1: the scenario's
    `current:` rows; a month's own rows do not bind the next month); a row of a program closed
    in month t+1 simply ends;
  * the objective is the sum of the months' margins.

The search: every plan of month t that keeps every rule (enumerated in full: no pareto pruning,
since a plan's prices matter to the next month beyond its margin), each followed by the best of
months t+1..N given it (memoised on the plan); the last month is brute.py's optimum. Exhaustive,
so only for a few SKUs and short price lattices.
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from optimizer.audit.inputs import World, deep_merge, load_world, rulebook_path, to_fen
from tests.reference.brute import (
    Today,
    _eligible,
    _offer_order,
    _over,
    _Search,
    _sku_configs,
    brute_force_world,
    commitments,
    read_current,
    today_of,
)

Row = tuple[str, str, int, bool]  # (sku_id, program, price fen, continuing)
MAX_PLANS = 200_000  # plans of one month: beyond, the instance is not tiny


@dataclass(frozen=True)
class Month:
    """One month as the search sees it: its world (caps not yet moved), its commitments and the
    programs whose prices are 1688 transactions (they set next month's 30-day minimum)."""

    name: str
    world: World
    commitment: dict[str, str]
    sets_min_price: frozenset[str]


@dataclass(frozen=True)
class MonthsResult:
    """The optimum over the horizon: its total margin (yuan), each month's margin and rows
    (sku_id, program, price fen, continuing)."""

    value: float
    margins: tuple[float, ...]
    rows: tuple[tuple[Row, ...], ...]


def read_months(scenario_path: Path, workdir: Path
                ) -> tuple[list[Month], list[tuple[str, str, int]]]:
    """Each month's scenario written to `workdir` (paths made absolute) and read by the
    auditor's reader; and the scenario's `current:` rows (month 1's today)."""
    path = Path(scenario_path).resolve()
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    here = path.parent
    book = yaml.safe_load(rulebook_path(raw.get("rulebook"), here).read_text(encoding="utf-8"))
    periods = raw.pop("periods", None)
    if periods is None or isinstance(periods, int):
        months: list[dict[str, Any]] = [{"name": str(i)} for i in range(1, (periods or 1) + 1)]
    else:
        months = [dict(m) for m in periods]
    current = read_current(here / str(raw.pop("current"))) if raw.get("current") else []
    raw["catalogue"] = str(here / str(raw["catalogue"]))
    if raw.get("rulebook") and (here / str(raw["rulebook"])).is_file():
        raw["rulebook"] = str(here / str(raw["rulebook"]))
    base_programs = raw.get("programs")
    if base_programs is None:
        base_programs = {pid: {} for pid in book["programs"]}
    out = []
    for i, m in enumerate(months):
        sc = copy.deepcopy(raw)
        sc["programs"] = deep_merge({k: v or {} for k, v in base_programs.items()},
                                     {k: v or {} for k, v in (m.get("programs") or {}).items()})
        sc["constraints"] = {**(raw.get("constraints") or {}), **(m.get("constraints") or {})}
        file = workdir / f"month-{i + 1}.yaml"
        file.write_text(yaml.safe_dump(sc, allow_unicode=True, sort_keys=False), "utf-8")
        world = load_world(file)
        sets = frozenset(pid for pid in world.programs
                         if deep_merge(book["programs"][pid], sc["programs"][pid] or {})
                         .get("sets_min_price", False))
        out.append(Month(str(m["name"]), world, commitments(file, world), sets))
    return out, current


def moved_world(world: World, previous: tuple[Row, ...], sets_min_price: frozenset[str]
                ) -> World:
    """Month t+1's world: min_price_30d of each SKU lowered to the lowest price of its month-t
    rows in programs that set it (the catalogue's value otherwise)."""
    low: dict[str, int] = {}
    for sku_id, pid, fen, _ in previous:
        if pid in sets_min_price:
            low[sku_id] = min(low.get(sku_id, fen), fen)
    skus = {}
    for sku_id, sku in world.skus.items():
        fen = min(sku.min30_fen, low.get(sku_id, sku.min30_fen))
        skus[sku_id] = (sku if fen == sku.min30_fen else replace(
            sku, min30_fen=fen, fields={**sku.fields, "min_price_30d": Fraction(fen, 100)}))
    return replace(world, skus=skus, memo={})


def today_after(month: Month, previous: tuple[Row, ...]) -> Today:
    """Month t's plan as month t+1's today: its rows in programs still open; `no_exit` binds
    within a month only, so next month it is `none`."""
    commitment = {pid: ("none" if c == "no_exit" else c) for pid, c in month.commitment.items()}
    return today_of(month.world, [(s, k, p) for s, k, p, _ in previous
                                  if k in month.world.programs], commitment)


# ---------------------------------------------------------------------------------------------
# every plan of one month


def all_plans(world: World, today: Today) -> Iterator[tuple[float, tuple[Row, ...]]]:
    """Every plan of one month that keeps every rule of SPEC 3-4 and 6.1: (margin, rows)."""
    skus = _offer_order(world)
    eligible = {s.sku_id: [k for k in world.programs
                           if today.locked(s.sku_id, k) is not None or _eligible(world, k, s)]
                for s in skus}
    options = [_sku_configs(world, s, eligible[s.sku_id], today, prune=False) for s in skus]
    if any(not o for o in options):
        return
    search = _Search(world, skus, eligible, options, today)
    c = world.constraints
    baseline = float(world.merchant.get("baseline_gmv") or 0)
    n, found = len(skus), [0]

    def dfs(i: int, discount: float, revenue: float, counts: dict[str, int],
            offer_programs: frozenset[str], decided: dict[str, bool]
            ) -> Iterator[tuple[float, tuple[Row, ...]]]:
        offer_done = i == n or (i > 0 and skus[i - 1].offer_id != skus[i].offer_id)
        if i > 0 and offer_done and not search.keeps_or_exits(search.start[i - 1], i):
            return
        if i == n:
            if c.discount_budget is not None and _over(discount, float(c.discount_budget)):
                return
            if c.gmv_min is not None and _over(float(c.gmv_min), baseline + revenue):
                return
            found[0] += 1
            if found[0] > MAX_PLANS:
                raise ValueError(f"more than {MAX_PLANS} plans in a month: not a tiny instance")
            rows = tuple((s.sku_id, k, p, cont) for s, cfg in zip(skus, search.chosen, strict=True)
                         for k, p, cont in zip(cfg.programs, cfg.prices,
                                               cfg.kept or (False,) * len(cfg.programs),
                                               strict=True))
            yield sum(cfg.margin for cfg in search.chosen), rows
            return
        sku = skus[i]
        if i > 0 and skus[i - 1].offer_id != sku.offer_id:
            offer_programs, decided = frozenset(), {}
        for cfg in options[i]:
            if not search.allowed(sku, cfg, counts, offer_programs, decided):
                continue
            new_counts = dict(counts)
            for k in cfg.programs:
                new_counts[k] = new_counts.get(k, 0) + 1
            new_decided = dict(decided)
            for k in eligible[sku.sku_id]:
                if world.programs[k].selection == "offer":
                    new_decided[k] = k in cfg.programs
            search.chosen.append(cfg)
            yield from dfs(i + 1, discount + cfg.discount, revenue + cfg.revenue, new_counts,
                           offer_programs | set(cfg.programs), new_decided)
            search.chosen.pop()

    yield from dfs(0, 0.0, 0.0, {}, frozenset(), {})


# ---------------------------------------------------------------------------------------------
# several months


def _rows_of(plan: list[dict[str, str]]) -> tuple[Row, ...]:
    return tuple((r["sku_id"], r["program"], to_fen(r["price"], "price"),
                  r.get("change") == "keep") for r in plan)


def _month_inputs(months: list[Month], t: int, previous: tuple[Row, ...] | None,
                  first_today: Today) -> tuple[World, Today]:
    month = months[t]
    if previous is None:
        return month.world, first_today
    return (moved_world(month.world, previous, months[t - 1].sets_min_price),
            today_after(month, previous))


def _first_today(months: list[Month], current: list[tuple[str, str, int]]) -> Today:
    first = months[0]
    return today_of(first.world, current, first.commitment) if current else Today({},
                                                                                 first.commitment)


def months_optimum(scenario_path: Path) -> MonthsResult | None:
    """The best plan over all months together (None: some month has no plan whatever came
    before it)."""
    with tempfile.TemporaryDirectory() as tmp:
        months, current = read_months(Path(scenario_path), Path(tmp))
    first_today = _first_today(months, current)
    memo: dict[tuple[int, tuple[Row, ...] | None], MonthsResult | None] = {}

    def best(t: int, previous: tuple[Row, ...] | None) -> MonthsResult | None:
        key = (t, previous)
        if key in memo:
            return memo[key]
        world, today = _month_inputs(months, t, previous, first_today)
        result: MonthsResult | None = None
        if t == len(months) - 1:
            found = brute_force_world(world, today)
            if found is not None:
                result = MonthsResult(found[0], (found[0],), (_rows_of(found[1]),))
        else:
            for margin, rows in all_plans(world, today):
                rest = best(t + 1, rows)
                if rest is None:
                    continue
                value = margin + rest.value
                if result is None or value > result.value + 1e-9:
                    result = MonthsResult(value, (margin, *rest.margins), (rows, *rest.rows))
        memo[key] = result
        return result

    return best(0, None)


def month_by_month(scenario_path: Path) -> MonthsResult | None:
    """Planning one month at a time: month 1's optimum alone, then month 2's optimum with month
    1's plan as today and the caps it moved, and so on (None: a month has no plan)."""
    with tempfile.TemporaryDirectory() as tmp:
        months, current = read_months(Path(scenario_path), Path(tmp))
    first_today = _first_today(months, current)
    previous: tuple[Row, ...] | None = None
    margins: list[float] = []
    plans: list[tuple[Row, ...]] = []
    for t in range(len(months)):
        world, today = _month_inputs(months, t, previous, first_today)
        found = brute_force_world(world, today)
        if found is None:
            return None
        previous = _rows_of(found[1])
        margins.append(found[0])
        plans.append(previous)
    return MonthsResult(sum(margins), tuple(margins), tuple(plans))
