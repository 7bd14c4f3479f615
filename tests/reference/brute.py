"""The exact optimum of a TINY scenario by exhaustive enumeration: a reference for the solvers.

Independent of the optimiser: it reads the scenario through the auditor's own readers and
arithmetic (optimizer.audit.inputs / .semantics), never optimizer.load, rules, score or model.

Every SKU x program pair is either out or enrolled at one allowed lattice price. The search is
exhaustive; the only pruning is exact:
  * per SKU, every combination of programs and prices is enumerated, and combinations that break
    a SKU-local rule (margin rule with the fee actually paid, stock, the same SKU in two exclusive
    programs) are dropped;
  * among the combinations with the same set of programs, one that another beats or ties on
    margin, discount (only if discount_budget is set) and revenue (only if gmv_min is set) is
    dropped - swapping it for the other keeps every constraint and does not lower the margin;
  * the depth-first search over SKUs (grouped by offer) checks all-or-none, exclusivity and
    max_skus as offers complete, and cuts branches whose optimistic margin cannot beat the
    incumbent or whose optimistic discount / GMV already breaks the budget / target.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, product
from pathlib import Path

from optimizer.audit import semantics as sem
from optimizer.audit.inputs import Sku, World, load_world

MAX_SKUS = 6
MAX_LATTICE = 64  # prices per SKU x program: this is for tiny instances only


@dataclass(frozen=True)
class Config:
    """One SKU's choice: the programs it is in, at which prices, and what that earns."""

    programs: tuple[str, ...]
    prices: tuple[int, ...]  # fen
    fees: tuple[Fraction, ...]
    ecos: tuple[sem.Economics, ...]
    margin: float
    discount: float
    revenue: float


EMPTY = Config((), (), (), (), 0.0, 0.0, 0.0)


def brute_force_optimum(scenario_path: Path) -> tuple[float, list[dict[str, str]]] | None:
    """(best total margin in yuan, its plan rows as plan.csv would print them), or None if no
    plan meets the constraints (only possible with gmv_min > 0 or forced all-or-none)."""
    return brute_force_world(load_world(Path(scenario_path)))


def brute_force_world(world: World) -> tuple[float, list[dict[str, str]]] | None:
    skus = _offer_order(world)
    if len(skus) > MAX_SKUS:
        raise ValueError(f"{len(skus)} SKUs: brute force is for at most {MAX_SKUS}")
    eligible = {s.sku_id: [k for k in world.programs if sem.eligible(world, k, s)] for s in skus}
    options = [sorted(_sku_configs(world, s, eligible[s.sku_id]), key=lambda c: -c.margin)
               for s in skus]
    search = _Search(world, skus, eligible, options)
    search.dfs(0, 0.0, 0.0, 0.0, {}, frozenset(), {})
    if search.best is None:
        return None
    return search.best_value, _rows(skus, search.best)


def _offer_order(world: World) -> list[Sku]:
    """SKUs grouped by offer (catalogue order otherwise), so offers complete one at a time."""
    return [s for group in world.offers().values() for s in group]


def _lattice(world: World, pid: str, sku: Sku) -> range:
    top = sem.price_ceiling_fen(world, pid, sku)
    if top is None:
        raise ValueError(f"{pid} has no price cap: the price lattice is infinite")
    step = world.price_step_fen
    prices = range(step, top + 1, step)
    if len(prices) > MAX_LATTICE:
        raise ValueError(f"{sku.sku_id} in {pid}: {len(prices)} prices, too many for brute force")
    return prices


def _sku_configs(world: World, sku: Sku, programs: list[str]) -> list[Config]:
    lattice = {k: _lattice(world, k, sku) for k in programs}
    limit = sem.stock_limit(world, sku)
    out = [EMPTY]
    for r in range(1, len(programs) + 1):
        for chosen in combinations(programs, r):
            if any(world.exclusive(a, b) for a, b in combinations(chosen, 2)):
                continue
            fees = tuple(sem.fee_rate(world, chosen, k) for k in chosen)
            allowed = [[(p, sem.economics(world, k, sku, p, f)) for p in lattice[k]
                        if sem.keeps_margin(world, k, sku, p, f)]
                       for k, f in zip(chosen, fees, strict=True)]
            found = []
            for combo in product(*allowed):
                ecos = tuple(e for _, e in combo)
                if sem.exceeds(sum(e.units for e in ecos), limit):
                    continue
                found.append(Config(chosen, tuple(p for p, _ in combo), fees, ecos,
                                    sum(e.margin for e in ecos), sum(e.discount for e in ecos),
                                    sum(e.revenue for e in ecos)))
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
        if c.discount_budget is not None and sem.exceeds(discount + self.rest_discount[i],
                                                         float(c.discount_budget)):
            return True
        return c.gmv_min is not None and sem.exceeds(float(c.gmv_min),
                                                     revenue + self.rest_revenue[i])

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
            if any(self.world.exclusive(k, j) for j in offer_programs):
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
                "revenue": f"{e.revenue:.2f}", "fee_rate": sem.show(f), "fees": f"{e.fees:.2f}",
                "margin": f"{e.margin:.2f}",
            })
    return rows
