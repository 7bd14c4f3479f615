"""What loading produces: a validated scenario (pydantic) and a catalogue of numpy columns.

Money is integer fen (int64) once loaded; yuan appear only in files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    field_validator,
)

Industry = Literal["consumer", "industrial", "other"]
Membership = Literal["none", "chengxintong", "shili", "super_factory"]

CATALOGUE_SUFFIXES = (".csv", ".parquet")

# Ranges that keep every product of the model finite in float64 and int64 (README "Limits on
# inputs"): money to a trillion yuan (10^14 fen), counts to a billion, days to ten years, and an
# elasticity no real demand curve reaches. Worst case: 10^9 units a day x 1000 x 3660 days x
# (10^14)^10 for a price 10^-14 of the market price is ~10^156 units, ~10^170 fen: finite.
MAX_YUAN = 10**12  # an int, so the JSON Schema says "maximum": 1000000000000
MAX_COUNT = 10**9
MAX_DAYS = 3660
MAX_ELASTICITY = 10
MAX_TIME_LIMIT_S = 1_000_000.0
MAX_SEED = 2**31 - 1  # CP-SAT's random_seed is a 32-bit int


def _not_bool(value: Any) -> Any:
    """YAML `true` is not the number 1: a boolean in a numeric field is a mistake, say so."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {str(value).lower()}")
    return value


def _to_decimal(value: Any) -> Any:
    """Floats become Decimal through their shortest repr (0.07 -> '0.07'), never Decimal(float)."""
    value = _not_bool(value)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _fen_exact(value: Decimal) -> Decimal:
    """Money is exact to the fen: a third decimal is an error, never a silent rounding."""
    if value.is_finite() and (value * 100) != (value * 100).to_integral_value():
        raise ValueError(f"more than 2 decimals: {value} (yuan are exact to the fen, 0.01)")
    return value


# Plain numbers that refuse booleans; strict booleans that refuse 1/"yes"/"true".
Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool)]
Rate = Annotated[Decimal, BeforeValidator(_to_decimal)]
Money = Annotated[Decimal, BeforeValidator(_to_decimal), AfterValidator(_fen_exact)]
Bool = Annotated[bool, Strict()]

_MEDAL = re.compile(r"([1-5]?)A")


def _trade_medal(value: Any) -> Any:
    """交易勋章 as 0..5 or as written on 1688: "A" .. "5A" (also "none")."""
    value = _not_bool(value)
    if isinstance(value, str):
        text = value.strip().upper()
        match = _MEDAL.fullmatch(text)
        if match:
            return int(match.group(1) or 1)
        if text in ("0", "NONE"):
            return 0
        if not text.isdigit():
            raise ValueError(f"expected 0..5 or 'A'..'5A', got {value!r}")
    return value


def _medal_schema(schema: dict[str, Any]) -> None:
    """JSON Schema only: the medal as written on 1688 ("2A") is a string the validator accepts."""
    text = r"^\s*([1-5]?[aA]|[0-5]|[nN][oO][nN][eE])\s*$"
    schema["anyOf"] = [{"type": "integer", "minimum": 0, "maximum": 5},
                       {"type": "string", "pattern": text}, {"type": "null"}]


def _name_schema(schema: dict[str, Any]) -> None:
    """JSON Schema only: `name: 2024` is accepted (as text)."""
    schema.pop("type", None)
    schema["anyOf"] = [{"type": "string", "minLength": 1}, {"type": "number"}]
    schema.pop("minLength", None)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Merchant(_Strict):
    """Shop-level facts the merchant rules read. None means not given: it fails every rule."""

    main_industry: Industry | None = Field(
        None, description="主营行业: the shop's main industry (consumer | industrial | other)")
    l_level: Int | None = Field(None, ge=0, le=6, description="诚信通 L level of the shop, 0..6")
    membership: Membership | None = Field(
        None, description="Membership: none | chengxintong (诚信通) | shili (实力商家) | "
                          "super_factory (超级工厂)")
    service_star: Float | None = Field(
        None, ge=0, le=5, description="新灯塔商家服务星级: the shop's service stars, 0..5")
    logistics_score: Float | None = Field(
        None, ge=0, le=5, description="新灯塔物流体验分: logistics experience score, 0..5")
    product_experience_score: Float | None = Field(
        None, ge=0, le=5,
        description="新灯塔商品体验分: product experience score of the shop, 0..5")
    dispute_score: Float | None = Field(
        None, ge=0, le=5,
        description="新灯塔纠纷投诉分: dispute and complaint score of the shop, 0..5")
    baseline_gmv: Money = Field(
        Decimal(0), ge=0, le=MAX_YUAN,
        description="1688 GMV the shop makes in the horizon outside the programs, yuan (exact to "
                    "the fen); counts toward constraints.gmv_min (default 0)")
    trade_medal: Annotated[int, BeforeValidator(_trade_medal)] | None = Field(
        None, ge=0, le=5, description="交易勋章 trade medal: 0 none, 1 = A .. 5 = 5A "
                                      "('A' .. '5A' also accepted)",
        json_schema_extra=lambda schema: _medal_schema(schema))
    alipay_verified: Bool | None = Field(
        None, description="支付宝实名认证: the shop's Alipay account is verified")
    buyer_protection: Bool | None = Field(
        None, description="买家保障服务: the shop has joined buyer protection")
    buyer_protection_deposit: Money | None = Field(
        None, ge=0, le=MAX_YUAN,
        description="买家保障保证金: buyer-protection deposit, yuan (exact to the fen)")
    violation_points: Float | None = Field(
        None, ge=0, le=MAX_COUNT, description="本年度违规扣分: violation points this year")
    prohibited_points: Float | None = Field(
        None, ge=0, le=MAX_COUNT, description="违禁信息扣分: prohibited-information points")
    fake_trading_3m: Bool | None = Field(
        None, description=(
            "近3个月虚假交易行为严重: serious fake trading in the last 3 months "
            "(linked accounts included); 严选 refuses when true"))
    ip_infringement: Bool | None = Field(
        None, description=(
            "知识产权严重侵权行为: serious intellectual-property infringement; "
            "严选 refuses when true"))
    compliance_violation: Bool | None = Field(
        None, description=(
            "商业合规类的违规行为: a commercial-compliance violation; "
            "严选 refuses when true"))
    infringing_goods_penalty: Bool | None = Field(
        None, description=(
            "发布侵权商品的积分处罚: penalty points for listing infringing goods; "
            "严选 refuses when true"))
    court_dishonest: Bool | None = Field(
        None, description=(
            "企业法院失信行为: a court dishonesty (失信) record of the company; "
            "严选 refuses when true"))
    finance_overdue: Bool | None = Field(
        None, description=(
            "阿里金融产品严重逾期: seriously overdue on an Ali finance product; "
            "严选 refuses when true"))


class FeeGroupOverride(_Strict):
    """An override of one fee group of the rulebook."""

    cap: Rate | None = Field(
        None, ge=0, le=1,
        description="Cap on the rate an order pays for this group, 0..1: per order and group the "
                    "order pays min(cap, the highest applicable rate); null: no cap")


class Constraints(_Strict):
    """Global constraints over the whole plan; all optional."""

    max_skus: dict[str, Annotated[Int, Field(ge=0, le=MAX_COUNT)]] = Field(
        default_factory=dict,
        description="Slot cap per program: program id -> the most SKUs enrolled in it")
    discount_budget: Money | None = Field(
        None, ge=0, le=MAX_YUAN, description="Discount budget, yuan: the sum over enrollments of "
                                "units * (market_price - price) stays within it")
    gmv_min: Money | None = Field(
        None, ge=0, le=MAX_YUAN,
        description="GMV target (通天计划), yuan, as 1688 counts it: merchant.baseline_gmv + the "
                    "sum of units * price over the enrollments of programs with "
                    "counts_toward_gmv (1688 trades; AliExpress orders do not count) is at least "
                    "this")
    min_unit_margin_rate: Rate = Field(
        Decimal(0), ge=0, lt=1,
        description="Every enrollment keeps price * (1 - fee_rate) - unit cost >= this rate * "
                    "price, 0 <= rate < 1 (0: nothing sells at a loss)")
    stock_reserve_days: Float = Field(
        0.0, ge=0, le=MAX_DAYS,
        description="Days of daily_units kept back for the main market: a SKU's enrollments "
                    "together sell at most stock - days * daily_units")


class SolverConfig(_Strict):
    """Limits and settings of the solver."""

    time_limit_s: Float = Field(60.0, gt=0, le=MAX_TIME_LIMIT_S,
                                description="Wall-clock limit of the solve, seconds")
    relative_gap: Float = Field(
        0.0001, ge=0, le=1, description="Stop once (bound - objective) / max(|objective|, 1) is at "
                                  "most this (0.0001 = 0.01 %)")
    seed: Int = Field(0, ge=0, le=MAX_SEED,
                      description="Random seed: same input and seed, same plan")
    workers: Int = Field(2, ge=1, le=64, description="Solver threads, 1..64")


MAX_PERIODS = 36  # three years of months: more is a typo, not a plan


class Period(_Strict):
    """One month of `periods:` (SPEC 6.3): its name and what differs from the scenario."""

    name: str = Field(..., min_length=1,
                      description="The month's name (the `period` column of the outputs), "
                                  "unique among the months",
                      json_schema_extra=lambda schema: _name_schema(schema))
    programs: dict[str, Any] | None = Field(
        None, description="Overrides of the programs for this month, deep-merged over the "
                          "scenario's `programs:` (absent there: every rulebook program), like "
                          "the scenario's own block (`{yanxuan: {enabled: false}}` closes 严选 "
                          "this month)")
    constraints: Constraints | None = Field(
        None, description="Overrides of the global constraints for this month, key by key: a "
                          "key given here replaces the scenario's value of that key (null lifts "
                          "it); the other keys keep the scenario's")

    @field_validator("name", mode="before")
    @classmethod
    def _name_text(cls, value: Any) -> Any:
        """`name: 2024` is a YAML int but plainly meant as text."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value


def _periods(value: Any) -> Any:
    """`periods:` is a count of months or a list of them; a boolean is neither."""
    return _not_bool(value)


def _periods_kind(value: Any) -> str:
    """Which of the two forms was written, so an error speaks of that form alone."""
    return "months" if isinstance(value, list) else "count"


# The tags are dropped from error locations (scenario._problem): `periods.0.name`, not
# `periods.months.0.name`.
PERIOD_TAGS = ("count", "months")
Periods = Annotated[
    Annotated[Annotated[int, Field(ge=1, le=MAX_PERIODS)], Tag("count")]
    | Annotated[Annotated[list[Period], Field(min_length=1, max_length=MAX_PERIODS)],
                Tag("months")],
    Discriminator(_periods_kind), BeforeValidator(_periods)]


class Scenario(_Strict):
    """The scenario file (SPEC 2.1). Program overrides stay raw until merged over the rulebook."""

    name: str = Field(..., min_length=1,
                      description="Free text naming the scenario; the default output folder is "
                                  "out/<name>/",
                      json_schema_extra=lambda schema: _name_schema(schema))
    catalogue: str = Field(
        ..., description="The catalogue: a path relative to the scenario file, .csv or .parquet",
        json_schema_extra={"pattern": r"\.([cC][sS][vV]|[pP][aA][rR][qQ][uU][eE][tT])$"})
    current: str | None = Field(
        None, description="Today's enrollments (SPEC 6.1): a path relative to the scenario file, "
                          ".csv or .parquet, columns sku_id, program, price (yuan; the English "
                          "or Chinese headers of plan.csv, so last month's plan.csv will do; "
                          "other columns are ignored). Every price is a multiple of price_step. "
                          "A row continued at the same price sells the whole horizon; the "
                          "rulebook's commitment says which rows a plan may drop or change. "
                          "Absent: nothing is enrolled today",
        json_schema_extra={"pattern": r"\.([cC][sS][vV]|[pP][aA][rR][qQ][uU][eE][tT])$"})
    rulebook: str = Field("1688-2024", description="A built-in rulebook name (1688-2024) or the "
                                                   "path of a rulebook YAML, relative to this file")
    merchant: Merchant = Field(  # frozen: one shared default is safe
        Merchant.model_validate({}),
        description="Shop-level facts the merchant rules read; a missing field fails the rules "
                    "that read it, and a warning names it")
    programs: dict[str, Any] | None = Field(
        None, description="The programs in scope and their overrides. Absent: every program of "
                          "the rulebook as it is; present: only those listed, each entry "
                          "deep-merged over the rulebook's program (under fees, a bare number is "
                          "that fee item's rate)"
    )
    fees: dict[str, FeeGroupOverride] = Field(
        default_factory=dict,
        description="Overrides of the rulebook's fee groups, by group id (their caps)")
    constraints: Constraints = Field(Constraints.model_validate({}),
                                     description="Global constraints over the plan; all optional")
    price_step: Money = Field(Decimal("0.01"), gt=0, le=MAX_YUAN,
                              description="Price grid, yuan: every price is a multiple of this "
                                          "(0.01 = every fen)")
    solver: SolverConfig = Field(SolverConfig.model_validate({}),
                                 description="Limits and settings of the solver")
    periods: Periods | None = Field(
        None, description="Several months planned together (SPEC 6.3): a number of 30-day "
                          f"months, 1..{MAX_PERIODS}, with the same scenario each month, or a "
                          "list of months, each with a unique name and its own overrides of "
                          "programs and constraints. Absent, 1 or one month without overrides: "
                          "exactly as without this key. Several months are not solved yet "
                          "(issue 16): solve, sweep and audit refuse them")

    @field_validator("name", mode="before")
    @classmethod
    def _name_text(cls, value: Any) -> Any:
        """`name: 2024` is a YAML int but plainly meant as text."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("periods")
    @classmethod
    def _unique_months(cls, value: int | list[Period] | None) -> int | list[Period] | None:
        """A month's name labels its rows in the outputs: two months of one name are a typo."""
        if isinstance(value, list):
            seen: set[str] = set()
            for month in value:
                if month.name in seen:
                    raise ValueError(f"two months are named {month.name!r}: names are unique")
                seen.add(month.name)
        return value

    @property
    def months(self) -> int:
        """How many months the scenario plans (1 without `periods:`)."""
        if self.periods is None:
            return 1
        return self.periods if isinstance(self.periods, int) else len(self.periods)

    @field_validator("catalogue")
    @classmethod
    def _catalogue_suffix(cls, value: str) -> str:
        """Only the suffix here: existence is load_catalogue's to report, relative to the file."""
        if Path(value).suffix.lower() not in CATALOGUE_SUFFIXES:
            raise ValueError(f"catalogue must be a .csv or .parquet file, got {value!r}")
        return value

    @field_validator("current")
    @classmethod
    def _current_suffix(cls, value: str | None) -> str | None:
        """Only the suffix here: existence is load_current's to report."""
        if value is not None and Path(value).suffix.lower() not in CATALOGUE_SUFFIXES:
            raise ValueError(f"current must be a .csv or .parquet file, got {value!r}")
        return value


@dataclass(frozen=True)
class YamlSource:
    """Where a scenario came from, so later stages can name a line in their messages."""

    file: Path
    # key path -> 1-based line of its key (list items: of the item)
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict)

    def line_of(self, path: tuple[str | int, ...]) -> int | None:
        """Line of the deepest key of `path` that the file has (None if none)."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return None

    def where(self, path: tuple[str | int, ...]) -> str:
        line = self.line_of(path)
        return f"line {line}" if line is not None else ""


MONEY_COLUMNS = ("market_price", "min_price_30d", "unit_cost", "shipping_cost", "web_min_price")
BOOL_COLUMNS = ("dropship", "return_7day", "alipay_guarantee")
INT_COLUMNS = ("stock", "ship_hours", "moq", "listed_days", "sales_last_month")
FLOAT_COLUMNS = (
    "daily_units", "growth_score", "pickup_rate_48h", "elasticity",
)
REQUIRED_COLUMNS = (
    "sku_id", "offer_id", "category", "market_price", "min_price_30d", "unit_cost", "stock",
    "daily_units",
)
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "shipping_cost": 0, "dropship": False, "return_7day": False, "ship_hours": 72,
    "growth_score": 0.0, "pickup_rate_48h": 0.0,
    "moq": 1, "alipay_guarantee": True, "listed_days": 365, "sales_last_month": 0,
    "elasticity": float("nan"),  # nan: the program's default
    "web_min_price": None,  # no default: absent, the caps on it are skipped (Catalogue.absent)
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
    elasticity: np.ndarray  # float64 > 0, nan = program default
    web_min_price: np.ndarray  # int64 fen > 0 (0 where the column is absent)
    # optional columns without a default that the file lacks: what reads them is skipped
    absent: frozenset[str] = frozenset()

    @property
    def n(self) -> int:
        return int(self.sku_id.shape[0])

    def where(self, i: int) -> str:
        """InputProblem.where for SKU index i: "line N" for a CSV, "row N" for Parquet."""
        kind = "row" if self.path.suffix.lower() == ".parquet" else "line"
        return f"{kind} {int(self.line[i])}"

    def column(self, name: str) -> np.ndarray:
        if name not in _COLUMN_NAMES:
            raise KeyError(name)
        column: np.ndarray = getattr(self, name)
        return column


_COLUMN_NAMES = frozenset(REQUIRED_COLUMNS + tuple(OPTIONAL_DEFAULTS))
