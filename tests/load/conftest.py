"""Small builders for the loader tests: a valid catalogue/scenario that each test breaks one way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

HEADER = "sku_id,offer_id,category,market_price,min_price_30d,unit_cost,stock,daily_units"
ROWS = [
    "S1,O1,consumer,19.99,18.50,7.00,300,2.5",
    "S2,O1,industrial,0.07,0.07,0,0,0",
    "S3,O2,other,1234567.89,1234567.00,100,12,1",
]


def csv_text(header: str = HEADER, rows: list[str] | None = None) -> str:
    return "\n".join([header, *(ROWS if rows is None else rows)]) + "\n"


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """write(name, text_or_bytes) -> path inside tmp_path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return _write
