"""Tiny sweep cases: a few SKUs, every program open, solved in well under a second a point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import sku, write_case

# Three offers: thin and fat margins, one that only AliExpress can take (72 h shipping).
ROWS: list[dict[str, Any]] = [
    sku(sku_id="A1", offer_id="A", market_price="20.00", min_price_30d="19.00",
        unit_cost="14.00", shipping_cost="1.00", daily_units=8),
    sku(sku_id="A2", offer_id="A", market_price="25.00", min_price_30d="24.00",
        unit_cost="15.00", shipping_cost="1.00", daily_units=5),
    sku(sku_id="B1", offer_id="B", market_price="10.00", min_price_30d="9.50",
        unit_cost="8.00", shipping_cost="0.50", daily_units=20),
    sku(sku_id="C1", offer_id="C", market_price="12.00", min_price_30d="11.00",
        unit_cost="7.00", ship_hours=72, listed_days=20, daily_units=6),
]


def tiny(folder: Path, **overrides: Any) -> Path:
    """The tiny case in `folder` (a scenario with every program; overrides as write_case)."""
    overrides.setdefault("solver", {"time_limit_s": 10, "seed": 0})
    return write_case(folder, ROWS, **overrides)


@pytest.fixture
def tiny_case(tmp_path: Path) -> Path:
    return tiny(tmp_path / "case")
