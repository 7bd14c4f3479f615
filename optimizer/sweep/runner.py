"""One sweep point: a pure function of the prepared inputs, the point's inputs and a warm start.

Loading, validation and the rules are done once (`Prepared`); a point only scores its problem
(price caps, fees and demand are what a swept fee or multiplier changes) and solves it. When an
axis reads into the rules (a merchant field, a rule's value) the rules are evaluated again, once
per distinct value of those axes in each process.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np

from optimizer.load.current import Current
from optimizer.load.types import Catalogue, Scenario
from optimizer.progress import Progress
from optimizer.rules.eligibility import RuleOutcome, evaluate_rules
from optimizer.rules.rulebook import Rulebook
from optimizer.score.problem import build_problem
from optimizer.solve import FEASIBLE, OPTIMAL, solve
from optimizer.solve.warm import WarmStart, export_plan


@dataclass(frozen=True, eq=False)
class Prepared:
    """What every point shares: sent once to each process (or Dask worker)."""

    catalogue: Catalogue
    outcome: RuleOutcome  # the base scenario's rules, reused by every point that keeps them
    current: Current = field(default_factory=Current.empty)  # today's enrollments (SPEC 6.1)


@dataclass(frozen=True)
class PointSpec:
    """A point's own inputs, built and validated by the driver before anything runs."""

    key: str  # "grid-<i>" or "x-<value>" (break-even bisection)
    values: tuple[Decimal, ...]
    scenario: Scenario
    rulebook: Rulebook
    rules_key: tuple[Decimal, ...] | None  # values of the axes the rules read; None: base rules


@dataclass(frozen=True)
class ProgramFigures:
    enrolled_skus: int
    gmv_fen: int  # expected revenue, rounded to the fen
    margin_fen: int


@dataclass(frozen=True)
class PointRecord:
    """What a sweep reports of a point (yuan for objective and bound, as Result gives them)."""

    key: str
    values: tuple[Decimal, ...]
    status: str
    objective: float | None  # None without a plan
    bound: float | None  # None when not finite (infeasible)
    gap: float | None
    seconds: float
    programs: dict[str, ProgramFigures]

    @property
    def has_plan(self) -> bool:
        return self.status in (OPTIMAL, FEASIBLE)

    def same_answer(self, other: PointRecord) -> bool:
        """Equal in everything but the time taken (what determinism promises)."""
        mine = {k: v for k, v in self.__dict__.items() if k != "seconds"}
        theirs = {k: v for k, v in other.__dict__.items() if k != "seconds"}
        return mine == theirs


PointOutput = tuple[PointRecord, WarmStart | None]


class _Silent(Progress):
    """A point's solver events are not shown one by one: the sweep reports points."""

    def phase(self, name: str) -> None:
        pass

    def solver(self, phase: str, incumbent_fen: float | None, bound_fen: float | None) -> None:
        pass


_RULES_CACHE: dict[tuple[int, tuple[Decimal, ...]], RuleOutcome] = {}
_RULES_CACHE_SIZE = 8


def _outcome(prep: Prepared, spec: PointSpec) -> RuleOutcome:
    if spec.rules_key is None:
        return prep.outcome
    key = (id(prep), spec.rules_key)
    if key not in _RULES_CACHE:
        if len(_RULES_CACHE) >= _RULES_CACHE_SIZE:
            _RULES_CACHE.pop(next(iter(_RULES_CACHE)))
        _RULES_CACHE[key] = evaluate_rules(spec.rulebook, spec.scenario.merchant, prep.catalogue)
    return _RULES_CACHE[key]


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def run_point(prep: Prepared, spec: PointSpec, warm: WarmStart | None,
              threads: int | None = None) -> PointOutput:
    """Score and solve one point; the record and the warm start (multipliers, its plan, and on
    the large path the best columns) its neighbours start from.

    `threads` overrides `solver.workers` (the pricing's threads, which never change a number):
    points running side by side in processes already fill the cores.
    """
    t = time.perf_counter()
    pb = build_problem(spec.scenario, spec.rulebook, prep.catalogue, _outcome(prep, spec),
                       current=prep.current)
    config = spec.scenario.solver
    if threads is not None:
        config = config.model_copy(update={"workers": threads})
    result = solve(pb, config, progress=_Silent(), warm=warm)
    has_plan = result.status in (OPTIMAL, FEASIBLE)
    programs: dict[str, ProgramFigures] = {}
    ev: dict[str, Any] = pb.evaluate(result.pv, result.price) if result.pv.size else {}
    prog = pb.pv_prog[result.pv]
    for k, pid in enumerate(pb.programs):
        sel = prog == k
        programs[pid] = ProgramFigures(
            int(np.count_nonzero(sel)),
            round(float(ev["revenue"][sel].sum())) if ev else 0,
            round(float(ev["margin"][sel].sum())) if ev else 0)
    record = PointRecord(
        key=spec.key, values=spec.values, status=result.status,
        objective=float(result.objective) if has_plan else None,
        bound=_finite(result.bound), gap=_finite(result.gap) if has_plan else None,
        seconds=time.perf_counter() - t, programs=programs)
    warm_out = result.warm_start
    if warm_out is not None and has_plan:
        warm_out = dataclasses.replace(warm_out, plan=export_plan(pb, result.pv, result.price))
    return record, warm_out
