"""Solving a scored problem: `solve(problem, config) -> Result`.

The package's face, re-exports only. Where things live:

- `flow`: `solve()` itself, the list of its phases;
- `result`: `Result`, `Status` (and its constants), `Plan`, `SolveStats`;
- `phases`: the LP master's phases (bound, roundings, dive, core, CP-SAT models);
- `large`: the large-catalogue path and the pooled rounding both paths use;
- `runner`: the one CP-SAT runner (deterministic budget, hint, stop at target, decode);
- `master`, `dualspace`, `lagrange`: the column generations and the Lagrangian bound.
"""

from optimizer.solve.flow import LARGE_OFFERS, solve
from optimizer.solve.result import (
    FEASIBLE,
    INFEASIBLE,
    NO_SOLUTION,
    OPTIMAL,
    Plan,
    Result,
    SolveStats,
    Status,
)

__all__ = ["FEASIBLE", "INFEASIBLE", "LARGE_OFFERS", "NO_SOLUTION", "OPTIMAL", "Plan", "Result",
           "SolveStats", "Status", "solve"]
