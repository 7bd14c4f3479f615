"""Progress of a long run: the phase, the incumbent and the bound, as log lines and as a trace.

Lines go to the ``optimizer.progress`` logger (stderr at the CLI's default level; ``--quiet``
silences them). The solver's events are also kept as a trace (seconds since the solve began) so a
benchmark can read the time to reach a gap from summary.json.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("optimizer.progress")


def _yuan(fen: float | None) -> str:
    return "-" if fen is None else f"{fen / 100:,.2f}"


@dataclass
class Progress:
    start: float = field(default_factory=time.perf_counter)
    solve_start: float | None = None
    trace: list[dict[str, Any]] = field(default_factory=list)

    def phase(self, name: str) -> None:
        log.info("[%7.1f s] %s", time.perf_counter() - self.start, name)

    def begin_solve(self) -> None:
        self.solve_start = time.perf_counter()

    def solver(self, phase: str, incumbent_fen: float | None, bound_fen: float | None) -> None:
        """One solver event: a new bound or a new plan (fen; None when there is none yet)."""
        now = time.perf_counter()
        base = self.solve_start if self.solve_start is not None else self.start
        self.trace.append({
            "t": round(now - base, 3), "phase": phase,
            "objective": None if incumbent_fen is None else round(incumbent_fen / 100, 2),
            "bound": None if bound_fen is None else round(bound_fen / 100, 2)})
        gap = ""
        if incumbent_fen is not None and bound_fen is not None:
            gap = f", gap {max(bound_fen - incumbent_fen, 0) / max(abs(incumbent_fen), 1):.4%}"
        log.info("[%7.1f s] %s: incumbent %s, bound %s%s", now - self.start, phase,
                 _yuan(incumbent_fen), _yuan(bound_fen), gap)
