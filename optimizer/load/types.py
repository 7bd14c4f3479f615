"""What loading produces: a validated scenario (pydantic) and a catalogue of numpy columns.

Money is integer fen (int64) once loaded; yuan appear only in files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

Industry = Literal["consumer", "industrial", "other"]
Membership = Literal["none", "chengxintong", "shili", "super_factory"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Merchant(_Strict):
    """Shop-level facts the merchant rules read. None means not given: it fails every rule."""

    main_industry: Industry | None = Field(None, description="主营行业")
    l_level: int | None = Field(None, ge=0, le=6, description="诚信通 L level")
    membership: Membership | None = Field(None, description="none | chengxintong | shili | super_factory")
    service_star: float | None = Field(None, ge=0, le=5, description="新灯塔商家服务星级")
    logistics_score: float | None = Field(None, ge=0, le=5, description="新灯塔物流体验分")
    product_experience_score: float | None = Field(None, ge=0, le=5, description="新灯塔商品体验分")
    trade_medal: int | None = Field(None, ge=0, le=5, description="交易勋章: 0 none, 1 A .. 5 5A")
    alipay_verified: bool | None = Field(None, description="支付宝实名认证")
    buyer_protection: bool | None = Field(None, description="买家保障服务")
    buyer_protection_deposit: Decimal | None = Field(None, ge=0, description="买家保障保证金, yuan")
    violation_points: float | None = Field(None, ge=0, description="本年度违规扣分")
    prohibited_points: float | None = Field(None, ge=0, description="违禁信息扣分")


class FeeGroupOverride(_Strict):
    cap: Decimal | None = Field(None, ge=0, le=1, description="cap on the group's rate per order")


class Constraints(_Strict):
    max_skus: dict[str, int] = Field(default_factory=dict, description="slot cap per program")
    discount_budget: Decimal | None = Field(None, ge=0, description="yuan; sum of units*(market-price)")
    gmv_min: Decimal | None = Field(None, ge=0, description="yuan; sum of units*price")
    min_unit_margin_rate: Decimal = Field(Decimal(0), ge=0, lt=1)
    stock_reserve_days: float = Field(0.0, ge=0, description="days of daily_units kept back")


class SolverConfig(_Strict):
    time_limit_s: float = Field(60.0, gt=0)
    relative_gap: float = Field(0.0001, ge=0)
    seed: int = Field(0, ge=0)
    workers: int = Field(2, ge=1, le=64)


class Scenario(_Strict):
    """The scenario file (SPEC 2.1). Program overrides stay raw until merged over the rulebook."""

    name: str = Field(..., min_length=1)
    catalogue: str = Field(..., description="path relative to the scenario file; .csv or .parquet")
    rulebook: str = Field("1688-2024", description="built-in rulebook name or a path to a YAML")
    merchant: Merchant = Field(default_factory=Merchant)
    programs: dict[str, Any] | None = Field(
        None, description="absent: every rulebook program; present: only those, deep-merged"
    )
    fees: dict[str, FeeGroupOverride] = Field(default_factory=dict)
    constraints: Constraints = Field(default_factory=Constraints)
    price_step: Decimal = Field(Decimal("0.01"), gt=0, description="yuan; multiple of 0.01")
    solver: SolverConfig = Field(default_factory=SolverConfig)


@dataclass(frozen=True)
class YamlSource:
    """Where a scenario came from, so later stages can name a line in their messages."""

    file: Path
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)  # key path -> 1-based line

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """Line of the deepest key of `path` that the file has (None if none)."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def where(self, path: tuple[str | int, ...]) -> str:
        line = self.line_of(path)
        return f"line {line}" if line is not None else ""


MONEY_COLUMNS = ("market_price", "min_price_30d", "unit_cost", "shipping_cost")
BOOL_COLUMNS = ("dropship", "return_7day", "alipay_guarantee")
INT_COLUMNS = ("stock", "ship_hours", "moq", "listed_days", "sales_last_month")
FLOAT_COLUMNS = (
    "daily_units", "growth_score", "pickup_rate_48h", "experience_score", "dispute_score",
    "elasticity",
)
REQUIRED_COLUMNS = (
    "sku_id", "offer_id", "category", "market_price", "min_price_30d", "unit_cost", "stock",
    "daily_units",
)
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "shipping_cost": 0, "dropship": False, "return_7day": False, "ship_hours": 72,
    "growth_score": 0.0, "pickup_rate_48h": 0.0, "experience_score": 0.0, "dispute_score": 0.0,
    "moq": 1, "alipay_guarantee": True, "listed_days": 365, "sales_last_month": 0,
    "elasticity": float("nan"),  # nan: the program's default
}


@dataclass(frozen=True, eq=False)
class Catalogue:
    """One numpy column per catalogue field, row i = SKU i. Money in int64 fen."""

    path: Path
    line: np.ndarray  # int64: CSV line number (header = 1) or Parquet row (1-based), for messages
    sku_id: np.ndarray  # object (str)
    offer_id: np.ndarray  # object (str)
    category: np.ndarray  # object: consumer | industrial | other
    market_price: np.ndarray  # int64 fen, > 0
    min_price_30d: np.ndarray  # int64 fen, > 0
    unit_cost: np.ndarray  # int64 fen, >= 0
    shipping_cost: np.ndarray  # int64 fen, >= 0
    stock: np.ndarray  # int64 >= 0
    daily_units: np.ndarray  # float64 >= 0
    dropship: np.ndarray  # bool
    return_7day: np.ndarray  # bool
    alipay_guarantee: np.ndarray  # bool
    ship_hours: np.ndarray  # int64
    moq: np.ndarray  # int64
    listed_days: np.ndarray  # int64
    sales_last_month: np.ndarray  # int64
    growth_score: np.ndarray  # float64 0..100
    pickup_rate_48h: np.ndarray  # float64 0..1
    experience_score: np.ndarray  # float64 0..5
    dispute_score: np.ndarray  # float64 0..5
    elasticity: np.ndarray  # float64 > 0, nan = program default

    @property
    def n(self) -> int:
        return int(self.sku_id.shape[0])

    def column(self, name: str) -> np.ndarray:
        if name not in _COLUMN_NAMES:
            raise KeyError(name)
        return getattr(self, name)  # type: ignore[no-any-return]


_COLUMN_NAMES = frozenset(REQUIRED_COLUMNS + tuple(OPTIONAL_DEFAULTS))
