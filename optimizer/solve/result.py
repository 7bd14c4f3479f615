"""What a solve returns: its status, its plan, its statistics and the `Result` that holds them.

Solver-free on purpose (numpy only): the writers, the sweep and the tests read these types without
importing CP-SAT or the column generation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.load.types import SolverConfig
from optimizer.score.problem import Problem
from optimizer.solve.lagrange import Multipliers

if TYPE_CHECKING:
    from optimizer.solve.warm import Columns, WarmStart


class Status(enum.StrEnum):
    """A StrEnum, so a status still equals its string ("OPTIMAL") in callers and in JSON."""

    OPTIMAL = "OPTIMAL"  # a plan within the relative gap asked for
    FEASIBLE = "FEASIBLE"  # a plan, the gap not proven
    INFEASIBLE = "INFEASIBLE"  # proven: no plan meets every constraint
    NO_SOLUTION = "NO_SOLUTION"  # no plan found within the time limit, none proven impossible


OPTIMAL, FEASIBLE, INFEASIBLE, NO_SOLUTION = (Status.OPTIMAL, Status.FEASIBLE, Status.INFEASIBLE,
                                              Status.NO_SOLUTION)


@dataclass(frozen=True, eq=False)
class Plan:
    """A candidate plan: chosen pair-variants at prices (fen), and its margin (fen)."""

    objective: float  # fen, the plan's margin
    pv: np.ndarray  # int64 pair-variant indices
    price: np.ndarray  # int64 fen

    @staticmethod
    def empty() -> Plan:
        return Plan(0.0, np.zeros(0, np.int64), np.zeros(0, np.int64))


def gap(bound: float, objective: float) -> float:
    """The relative gap between a valid bound and a plan's objective (same units)."""
    return max(bound - objective, 0.0) / max(abs(objective), 1.0)


def better(best: Plan | None, found: Plan | None) -> Plan | None:
    """The better of two plans; on a tie the one held already (the phases' order decides)."""
    if found is None or (best is not None and best.objective >= found.objective):
        return best
    return found


@dataclass
class SolveStats:
    """What the phases measured, as summary.json's `solver` block reports it.

    A field stays None until its phase runs, and `as_dict` lists the fields in the order the
    phases first set them, so the summary names exactly the phases that ran, in their order.
    """

    pair_variants: int | None = None
    lagrangian_bound: float | None = None  # yuan
    cg_rounds: int | None = None
    columns: int | None = None  # column pool (large path) or the restricted master's columns
    cg_seconds: float | None = None
    complete: bool | None = None  # the model holds every non-dominated lattice price
    model_seconds: float | None = None  # building CP-SAT models, summed over the phases
    core_seconds: float | None = None
    dive_seconds: float | None = None
    pooled_seconds: float | None = None
    variables: int | None = None  # the last candidate model's (complete) or None
    cpsat_wall: float | None = None  # the last CP-SAT run's wall time (restricted / complete)
    rows: dict[str, int] | None = None  # the complete model's row counts per rule
    focused_variables: int | None = None
    focused_cpsat_wall: float | None = None
    focused_rows: dict[str, int] | None = None
    candidates: int | None = None
    branch_nodes: int | None = None  # branch and price (small catalogues)
    branch_seconds: float | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        if value is not None:
            order = self.__dict__.setdefault("_order", [])
            if name not in order:
                order.append(name)
        object.__setattr__(self, name, value)

    def add_model_seconds(self, seconds: float) -> None:
        self.model_seconds = (self.model_seconds or 0.0) + seconds

    def as_dict(self) -> dict[str, float | int]:
        """Flat, in the order the phases set them: `rows` become `rows_<rule>` entries."""
        out: dict[str, float | int] = {}
        names = {f.name for f in fields(self)}
        for name in self.__dict__.get("_order", []):
            value = getattr(self, name)
            if name not in names or value is None:
                continue
            if isinstance(value, dict):
                out.update({f"{name}_{k}": v for k, v in value.items()})
            elif isinstance(value, bool):
                out[name] = int(value)
            else:
                out[name] = value
        return out


@dataclass(frozen=True)
class Result:
    status: Status
    objective: float  # yuan, exact sum over the plan's candidates
    bound: float  # yuan, valid upper bound over every fen price
    gap: float
    seconds: float
    pv: np.ndarray  # chosen pair-variants
    price: np.ndarray  # fen
    stats: SolveStats = field(default_factory=SolveStats)
    infeasible_reason: str = ""
    # the best Lagrangian multipliers met: a warm start for a neighbouring scenario (sweeps)
    multipliers: Multipliers | None = None
    columns: Columns | None = None  # the pool's best columns, for the same (large path only)

    @property
    def warm_start(self) -> WarmStart | None:
        """What a neighbouring scenario's solve can start from (`solve(..., warm=)`)."""
        from optimizer.solve.warm import WarmStart

        return None if self.multipliers is None else WarmStart(self.multipliers, self.columns)

    def summary_line(self) -> str:
        return (f"{self.status}: objective {self.objective:,.2f} yuan, bound {self.bound:,.2f}, "
                f"gap {self.gap:.4%} in {self.seconds:.1f} s")


def no_plan(status: Status, seconds: float, bound: float, stats: SolveStats,
            reason: str) -> Result:
    """A result without a plan: proven infeasible (bound -inf) or none found in time."""
    return Result(status, 0.0, bound, float("inf"), seconds, np.zeros(0, np.int64),
                  np.zeros(0, np.int64), stats, reason)


def conclude(pb: Problem, config: SolverConfig, plan: Plan, bound_fen: float, seconds: float,
             stats: SolveStats, multipliers: Multipliers | None,
             columns: Columns | None = None) -> Result:
    """The result of a plan: its exact margin, the bound no lower than it, the status by gap."""
    pv, price = plan.pv, plan.price
    objective_fen = float(pb.evaluate(pv, price)["margin"].sum()) if pv.size else 0.0
    bound_fen = max(bound_fen, objective_fen)
    objective = objective_fen / 100
    relative = gap(bound_fen / 100, objective)
    # a bound equal to the plan but for float rounding (1e-16) is a proof even at relative_gap 0
    proven = relative <= config.relative_gap or bound_fen - objective_fen <= 1e-6
    return Result(OPTIMAL if proven else FEASIBLE, objective,
                  bound_fen / 100, relative, seconds, pv.astype(np.int64),
                  price.astype(np.int64), stats, multipliers=multipliers,
                  columns=columns)
