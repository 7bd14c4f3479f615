"""Sweep progress on stderr: points done / total and the time left.

On a terminal one line redrawn in place; otherwise (a log file, CI) a log line per point on the
``optimizer.sweep`` logger, which the CLI's --quiet silences like every other progress line.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from optimizer.sweep.runner import PointRecord

log = logging.getLogger("optimizer.sweep")


def _clock(seconds: float) -> str:
    seconds = max(round(seconds), 0)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class SweepProgress:
    """Counts finished points against the total; the time left is the mean time per finished
    point so far times the points left (workers included, as it is measured on the wall)."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = 0
        self.done = 0
        self.start = time.perf_counter()

    def add(self, n: int, what: str) -> None:
        """n more points to run (the grid, or a round of break-even bisection)."""
        self.total += n
        if self.enabled and not self.tty:
            log.info("%s: %d point(s) to solve", what, n)

    def point(self, record: PointRecord, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        left = elapsed / self.done * (self.total - self.done)
        if self.tty:
            width = 30
            filled = width * self.done // max(self.total, 1)
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} points, {_clock(elapsed)} elapsed, "
                              f"~{_clock(left)} left ")
            self.stream.flush()
        else:
            objective = "-" if record.objective is None else f"{record.objective:,.2f}"
            log.info("point %d/%d (%s): %s, objective %s, %.1f s; ~%s left", self.done,
                     self.total, label, record.status, objective, record.seconds, _clock(left))

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()
