"""The one way a phase runs CP-SAT: a deterministic budget, a hint, a stop at the target, decoded.

Every phase (the restricted master, its core, the focused and complete models, the large path's
polish) builds its own model and hands it here, so budgets and reproducibility are decided once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from optimizer.load.types import SolverConfig

cpsat_log = logging.getLogger("optimizer.cpsat")

# CP-SAT deterministic time per second of the time limit. It accrues at ~0.4-0.5 per wall second
# on an idle 2-core machine here: 0.2 leaves the wall limit unreached even when the machine is
# twice as busy or the other phases take half the time, so searches stop on the deterministic
# budget and plans reproduce.
DTIME_PER_LIMIT_SECOND = 0.2


def target(bound_fen: float, config: SolverConfig) -> float:
    """The objective (fen) that proves the gap against a valid bound, with room for rounding."""
    return bound_fen / (1 + config.relative_gap / 2) if bound_fen > 0 else float("inf")


class Clock:
    """Two clocks. The wall deadline is the user's hard stop. CP-SAT's budgets are deterministic
    time, shared out of the time limit alone (never out of the wall time left, which depends on
    how busy the machine is), so where a search stops, and the plan, depend on the input and the
    seed only: the same input and seed give the same plan."""

    def __init__(self, config: SolverConfig, start: float):
        self.config = config
        self.deadline = start + config.time_limit_s
        self.dtime_left = config.time_limit_s * DTIME_PER_LIMIT_SECOND

    def params(self, solver: cp_model.CpSolver, share: float) -> None:
        """Parameters for a CP-SAT phase given `share` of the deterministic time left."""
        params = solver.parameters
        params.max_time_in_seconds = max(self.deadline - time.perf_counter(), 0.1)
        params.max_deterministic_time = max(share * self.dtime_left, 0.05)
        # One worker: CP-SAT's single-threaded search is deterministic for a seed. Its
        # deterministic parallel mode (interleave_search) aborts the process on some of these
        # models in OR-Tools 9.15 ("Check failed: heuristics.fixed_search != nullptr"), and plain
        # parallel search is not reproducible, so `workers` is not spent here.
        params.num_workers = 1
        params.random_seed = self.config.seed
        params.relative_gap_limit = self.config.relative_gap / 4
        if cpsat_log.isEnabledFor(logging.DEBUG):
            params.log_search_progress = True
            params.log_to_stdout = False
            solver.log_callback = cpsat_log.debug

    def spent(self, solver: cp_model.CpSolver) -> None:
        self.dtime_left = max(self.dtime_left - solver.deterministic_time, 0.0)


class _StopAt(cp_model.CpSolverSolutionCallback):
    """Stop at the first solution whose objective reaches `target` (model units): the bound is
    known from elsewhere, so a plan within the gap is all CP-SAT is asked for. Where it stops
    depends on the search only, not on the clock."""

    def __init__(self, target: float):
        super().__init__()
        self.target = target

    def on_solution_callback(self) -> None:
        if self.objective_value >= self.target:
            self.stop_search()


@dataclass(frozen=True)
class Run:
    """A CP-SAT run decoded: which of the model's Booleans are on, and its own bound."""

    status: Any  # CP-SAT's status (a CpSolverStatus)
    chosen: np.ndarray  # bool per variable of `x`; empty without a solution
    bound: float  # CP-SAT's best objective bound (model units)
    wall: float  # seconds

    @property
    def found(self) -> bool:
        return self.status in (cp_model.OPTIMAL, cp_model.FEASIBLE)

    @property
    def infeasible(self) -> bool:
        """CP-SAT proves that the model has no solution."""
        return self.status == cp_model.INFEASIBLE


def run_cpsat(model: cp_model.CpModel, x: list[cp_model.IntVar], clock: Clock, share: float, *,
              hint: np.ndarray | None = None, partial_hint: bool = False,
              stop_at: float | None = None) -> Run:
    """Solve `model` with `share` of the deterministic time left.

    `hint` (bool per variable of `x`) is given whole, so CP-SAT starts from that plan rather than
    repairs it; with `partial_hint` only its True entries are hinted (an LP's leaning).
    `stop_at` (model units) ends the search at the first solution that good.
    """
    if hint is not None:
        if partial_hint:
            for i in np.flatnonzero(hint):
                model.add_hint(x[i], True)
        else:
            for var, value in zip(x, hint.tolist(), strict=True):
                model.add_hint(var, value)
    solver = cp_model.CpSolver()
    clock.params(solver, share)
    status = solver.solve(model) if stop_at is None else solver.solve(model, _StopAt(stop_at))
    clock.spent(solver)
    run_found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    chosen = (np.array(list(solver.response_proto.solution), dtype=np.int64)[: len(x)] > 0
              if run_found else np.zeros(0, bool))
    bound = solver.best_objective_bound if run_found else float("inf")
    return Run(status, chosen, bound, solver.wall_time)
