"""Today's enrollments (SPEC 6.1, `current:` in the scenario): what a plan starts from.

A continuing enrollment (same SKU, program and price as today) sells its whole horizon; any other
waits for review. The commitments of the rulebook (no_exit, fixed_until_exit) say which of these
rows a plan may drop or change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, eq=False)
class Current:
    """The validated rows of the `current` file, one per (SKU, program)."""

    sku: np.ndarray  # int64 (r,): the SKU's row in the catalogue
    program: np.ndarray  # str (r,): a program of the scenario
    price: np.ndarray  # int64 (r,): today's price, fen (a multiple of price_step)
    line: np.ndarray  # int64 (r,): the row's line in the file, for messages
    path: Path | None = None

    @staticmethod
    def empty() -> Current:
        z = np.zeros(0, np.int64)
        return Current(z, np.zeros(0, dtype=str), z, z)

    @property
    def size(self) -> int:
        return int(self.sku.shape[0])
