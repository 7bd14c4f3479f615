"""Synthetic catalogues and scenarios for benchmarks and tests (SPEC 2.1, 2.2).

Everything is drawn with one ``numpy.random.default_rng(seed)`` in a fixed order and written with
pyarrow, so the same arguments give byte-identical files, and a million SKUs take a few seconds
(no Python loop per row).

The distributions aim at a catalogue where every rule of every 1688-2024 program excludes some SKUs
and the global constraints of the scenario bind:

- offers of 1..12 SKUs; the SKUs of an offer share its category, cost ratio, service flags, SLA,
  scores (with a little per-SKU noise), MOQ and age; sizes/variants differ in price around the
  offer's base price;
- market prices lognormal in yuan (median ~25, clipped to 0.50..2000.00), exact fen;
- min_price_30d: half the SKUs never sold below market, a third 90-100 % of it, the rest 60-90 %;
- unit_cost 45-85 % of market, shipping 0-8 yuan growing with price (cheap bulky goods cannot
  ship free at a profit: the PRICE_CAP exclusions);
- daily_units lognormal (median ~2, a few hundreds), falling with price; stock = a base plus
  demand x days of cover, with ~12 % tight SKUs (a few days of cover);
- booleans and scores with pass rates of roughly 70-95 % per rule;
- web_min_price (全网最低价): for most SKUs 91-99 % of market, a little above offsite's 0.9 x
  market cap, so 全网比价 rarely binds; for 12 % a cheaper copy exists elsewhere on the web
  (80-90 % of market) and offsite must price under it.

The scenario's merchant passes every merchant rule (the six 严选 flags false, the 新灯塔 shop scores
above their thresholds) and has a baseline_gmv (its ordinary 1688 sales in the month) that counts
toward the GMV target: gmv_min is that baseline plus what the programs must bring, so the target
binds on the programs whatever the baseline.

A library below the command line: `python -m optimizer.generate` is `__main__.py` beside it, an
entry point of the CLI (this module imports nothing of it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from optimizer.outdir import output_set

MAX_OFFER_SKUS = 12
SKUS_PER_OFFER = 4  # default n_offers = n_skus / 4
BASELINE_SHARE = 0.6  # baseline_gmv: this share of 30 days of daily_units at market price
OFFSITE_SLOT_SHARE = 0.10  # max_skus.offsite: this share of the roughly eligible SKUs
GMV_SHARE = 0.528  # gmv_min - baseline_gmv: this share of the counting programs' GMV proxy

# Catalogue columns in file order: SPEC 2.2 required columns, then every optional one except
# `elasticity` (left out so each program's default applies).
COLUMNS = (
    "sku_id", "offer_id", "category", "market_price", "min_price_30d", "unit_cost", "stock",
    "daily_units", "shipping_cost", "dropship", "return_7day", "ship_hours", "growth_score",
    "pickup_rate_48h", "moq", "alipay_guarantee",
    "listed_days", "sales_last_month", "web_min_price",
)
MONEY_COLUMNS = ("market_price", "min_price_30d", "unit_cost", "shipping_cost", "web_min_price")
CATEGORIES = np.array(["consumer", "industrial", "other"])


@dataclass(frozen=True)
class _Program:
    """What the constraint proxies need of a 1688-2024 program (mirrors the built-in rulebook)."""

    horizon_days: float
    demand_multiplier: float
    elasticity: float
    cap_ratio: float  # the market-price cap; the price is assumed to sit on it
    fee_rate: float  # fee of an order when the SKU is in this program alone
    free_shipping: bool
    counts_toward_gmv: bool  # its orders are 1688 trades and count toward gmv_min


_PROGRAMS: Mapping[str, _Program] = {
    "offsite": _Program(30, 1.0, 2.5, 0.90, 0.006, True, True),
    "yanxuan": _Program(2, 6.0, 1.8, 0.95, 0.056, True, True),
    "huopin": _Program(7, 3.0, 2.0, 0.90, 0.006, False, True),
    "crossborder": _Program(30, 0.5, 2.0, 0.95, 0.056, True, True),
    "aliexpress_semi": _Program(30, 0.8, 2.2, 1.00, 0.08, False, False),
}


def _offer_sizes(rng: np.random.Generator, n_skus: int, n_offers: int) -> np.ndarray:
    """Sizes in 1..12 summing to n_skus: every offer gets one SKU, the rest go by gamma weights
    (many single-SKU offers, a few full ones); overflow above 12 is dealt out again."""
    sizes = np.ones(n_offers, dtype=np.int64)
    weights = rng.gamma(1.2, 1.0, n_offers)
    left = n_skus - n_offers
    while left > 0:
        room = MAX_OFFER_SKUS - sizes
        w = np.where(room > 0, weights, 0.0)
        add = rng.multinomial(left, w / w.sum())
        add = np.minimum(add, room)
        sizes += add
        left -= int(add.sum())
    return sizes


def _fen(yuan: np.ndarray, lo: int = 0) -> np.ndarray:
    """Yuan floats to integer fen (exact money from here on)."""
    return np.maximum(np.rint(yuan * 100.0).astype(np.int64), lo)


def _yuan_text(fen: np.ndarray) -> pa.Array:
    """Integer fen as 'Y.FF' strings, vectorised: money is written with exactly 2 decimals."""
    f = pa.array(fen, type=pa.int64())
    whole = pc.cast(pc.divide(f, 100), pa.string())
    cents = pc.utf8_lpad(pc.cast(pc.subtract(f, pc.multiply(pc.divide(f, 100), 100)), pa.string()),
                         width=2, padding="0")
    return pc.binary_join_element_wise(whole, cents, ".")


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    """'S0000001'-style ids without a Python loop."""
    num = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(num, width=width, padding="0"), "")


def _catalogue(rng: np.random.Generator, n_skus: int, n_offers: int) -> dict[str, np.ndarray]:
    """The catalogue as numpy columns, money in fen. The draw order is the seed contract."""
    sizes = _offer_sizes(rng, n_skus, n_offers)
    off = np.repeat(np.arange(n_offers), sizes)  # offer index of each SKU

    def per_offer(values: np.ndarray) -> np.ndarray:
        return values[off]

    n = n_skus
    category = per_offer(rng.choice(3, n_offers, p=[0.6, 0.3, 0.1]))

    # Prices: offer base price lognormal (median 25 yuan), SKU variants +-30 % around it.
    base = per_offer(rng.lognormal(math.log(25.0), 1.0, n_offers))
    market_y = np.clip(base * rng.lognormal(0.0, 0.3, n), 0.5, 2000.0)
    market = _fen(market_y, lo=50)

    # 30-day minimum: 50 % = market, 35 % 90-100 % of it, 15 % 60-90 % (a past promotion).
    kind = rng.random(n)
    ratio30 = np.where(kind < 0.50, 1.0,
                       np.where(kind < 0.85, rng.uniform(0.90, 1.0, n), rng.uniform(0.60, 0.90, n)))
    min30 = np.clip(np.floor(market * ratio30).astype(np.int64), 1, market)

    cost_ratio = np.clip(per_offer(rng.uniform(0.45, 0.85, n_offers)) + rng.normal(0, 0.02, n),
                         0.45, 0.85)
    unit_cost = np.minimum(_fen(market_y * cost_ratio), market)

    # Shipping grows slowly with price (weight); 10 % of offers ship from a free-shipping warehouse.
    ship_y = np.minimum(8.0, 0.3 + rng.lognormal(math.log(1.2), 0.6, n) * (market_y / 25.0) ** 0.3)
    ship_y = np.where(per_offer(rng.random(n_offers) < 0.10), 0.0, ship_y)
    shipping = _fen(ship_y)

    # Demand: lognormal, median ~2 a day, offer popularity shared by its SKUs, cheaper sells more.
    demand = (per_offer(rng.lognormal(0.0, 0.9, n_offers)) * rng.lognormal(math.log(2.0), 0.8, n)
              * (market_y / 25.0) ** -0.3)
    daily: np.ndarray = np.round(np.minimum(demand, 5000.0), 2)

    # Stock: a base plus demand x days of cover; 12 % tight (3-40 days of cover, small base).
    tight = rng.random(n) < 0.12
    cover = np.where(tight, rng.uniform(3.0, 40.0, n), rng.lognormal(math.log(120.0), 0.6, n))
    base_stock = np.where(tight, rng.uniform(0.0, 60.0, n), rng.lognormal(math.log(300.0), 0.9, n))
    stock = np.rint(base_stock + daily * cover).astype(np.int64)
    stock[rng.random(n) < 0.02] = 0  # sold out

    def flag(p_offer: float, p_flip: float) -> np.ndarray:
        """An offer-level boolean with a few SKUs flipped (one size not dropshipped, etc.)."""
        return per_offer(rng.random(n_offers) < p_offer) ^ (rng.random(n) < p_flip)

    dropship = flag(0.70, 0.05)
    return_7day = flag(0.85, 0.03)
    alipay_guarantee = flag(0.92, 0.02)
    ship_hours = per_offer(rng.choice(np.array([24, 48, 72, 96]), n_offers,
                                      p=[0.45, 0.30, 0.18, 0.07]))
    # SPEC 2.2: 商品成长分, 48H揽收率, listing age and last month's sales belong to the offer
    growth = per_offer(np.clip(np.rint(rng.normal(68.0, 15.0, n_offers)), 30, 100))
    pickup = per_offer(np.round(0.8 + 0.2 * rng.beta(3.0, 1.5, n_offers), 3))
    moq = per_offer(rng.choice(np.array([1, 2, 3, 5, 10]), n_offers,
                               p=[0.50, 0.25, 0.08, 0.10, 0.07]))
    new_offer = rng.random(n_offers) < 0.10
    listed_offer = np.where(new_offer, rng.integers(1, 31, n_offers),
                            np.clip(np.rint(rng.lognormal(math.log(300.0), 0.8, n_offers)),
                                    31, 3650).astype(np.int64))
    listed = per_offer(listed_offer)
    offer_daily = np.bincount(off, weights=daily, minlength=n_offers)
    sales = per_offer(rng.poisson(offer_daily * np.minimum(listed_offer, 30)))
    # 全网比价: drawn last, so every column above keeps its values for a seed
    cheaper = rng.random(n) < 0.12
    web_ratio = np.where(cheaper, rng.uniform(0.80, 0.90, n), rng.uniform(0.91, 0.99, n))
    web_min = np.maximum(np.rint(market * web_ratio).astype(np.int64), 1)

    return {
        "offer": off, "category": category, "market_price": market, "min_price_30d": min30,
        "unit_cost": unit_cost, "stock": stock, "daily_units": daily, "shipping_cost": shipping,
        "dropship": dropship, "return_7day": return_7day, "ship_hours": ship_hours,
        "growth_score": growth, "pickup_rate_48h": pickup, "moq": moq,
        "alipay_guarantee": alipay_guarantee,
        "listed_days": listed, "sales_last_month": sales, "web_min_price": web_min,
    }


def _eligible(c: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Rough per-program eligibility (1688-2024 SKU rules plus a positive margin on the market cap),
    used only to size the scenario's constraints; the solver applies the real rulebook."""
    m, cost, ship = c["market_price"], c["unit_cost"], c["shipping_cost"]

    def margin_ok(k: str, cap: np.ndarray) -> np.ndarray:
        p = _PROGRAMS[k]
        return cap * (1 - p.fee_rate) - cost - (ship if p.free_shipping else 0) > 0

    stock_ok = c["stock"] >= 200
    sla = (c["ship_hours"] <= 48) | ((c["ship_hours"] <= 72)
                                      & ((c["listed_days"] <= 30) | (c["sales_last_month"] <= 10)))
    return {
        "offsite": (c["category"] != 2) & c["dropship"] & c["return_7day"]
        & (c["ship_hours"] <= 48) & (c["growth_score"] >= 60) & stock_ok
        & margin_ok("offsite", np.minimum(np.minimum(0.9 * m, c["min_price_30d"]),
                                          c["web_min_price"]) - 1),
        "yanxuan": (c["pickup_rate_48h"] >= 0.9) & (c["growth_score"] >= 60) & (c["moq"] <= 2)
        & c["alipay_guarantee"]
        & margin_ok("yanxuan", 0.95 * m),
        "huopin": stock_ok & margin_ok("huopin", 0.9 * m),
        "crossborder": c["dropship"] & stock_ok & margin_ok("crossborder", 0.95 * m),
        "aliexpress_semi": sla & margin_ok("aliexpress_semi", 1.0 * m),
    }


def _constraints(c: Mapping[str, np.ndarray], stock_reserve_days: float) -> dict[str, float]:
    """Proxies for constraints that bind, without a solver.

    For each program k and roughly eligible SKU s, assume the price sits on the market cap r_k and
    take the units u = daily * multiplier * horizon * r_k^-elasticity, capped by the SKU's
    available stock. Then: give-away G = sum u * market * (1 - r_k), GMV R = sum u * r_k * market
    over the programs counting toward gmv_min (not aliexpress_semi: SPEC 3) (both over-count:
    offsite and huopin exclude each other per offer). Calibrated with the solver on
    generate(10000, None, 2024): discount_budget = 0.5 G binds (the unconstrained plan gives away
    more), and gmv_min = baseline_gmv + 0.528 R sits a little above what the margin-optimal plan
    under that budget brings (baseline + 0.5256 R: objective 15,826,140.70 without the target,
    15,824,370.02 with it), so prices and enrollments move for it; the baseline (the shop's
    ordinary sales, BASELINE_SHARE of 30 days of daily_units at market price) only shifts the
    target, never meets it alone. max_skus: offsite 10 % of its roughly eligible SKUs (huopin
    wins most offers, the budget and the web prices squeeze offsite first), crossborder 40 %;
    both bind.
    """
    elig = _eligible(c)
    m = c["market_price"].astype(np.float64) / 100.0
    avail = np.maximum(c["stock"] - stock_reserve_days * c["daily_units"], 0.0)
    give, gmv = 0.0, 0.0
    for k, p in _PROGRAMS.items():
        units = np.minimum(c["daily_units"] * p.demand_multiplier * p.horizon_days
                           * p.cap_ratio ** -p.elasticity, avail)[elig[k]]
        give += float(np.sum(units * m[elig[k]] * (1.0 - p.cap_ratio)))
        if p.counts_toward_gmv:  # AliExpress orders are not 1688 trades
            gmv += float(np.sum(units * m[elig[k]] * p.cap_ratio))
    # the shop's ordinary 1688 sales in the month, outside the programs (counts toward gmv_min)
    baseline = round(BASELINE_SHARE * float(np.sum(c["daily_units"] * 30.0 * m)))
    return {
        "max_offsite": max(1, round(OFFSITE_SLOT_SHARE * int(elig["offsite"].sum()))),
        "max_crossborder": max(1, round(0.4 * int(elig["crossborder"].sum()))),
        "discount_budget": round(0.5 * give),
        "baseline_gmv": baseline,
        "gmv_min": baseline + round(GMV_SHARE * gmv),
    }


def _table(c: Mapping[str, np.ndarray], n_offers: int, fmt: str) -> pa.Table:
    """Arrow table in COLUMNS order (money as text for CSV, float yuan for Parquet)."""
    n = len(c["market_price"])
    w_sku, w_off = max(7, len(str(n))), max(6, len(str(n_offers)))
    offer_ids = _ids("O", n_offers, w_off).take(pa.array(c["offer"]))
    cols: dict[str, pa.Array] = {
        "sku_id": _ids("S", n, w_sku),
        "offer_id": offer_ids,
        "category": pa.array(CATEGORIES).take(pa.array(c["category"])),
    }
    for name in COLUMNS[3:]:
        v = c[name]
        if name in MONEY_COLUMNS:
            # CSV: exact 'Y.FF' text; Parquet: float64 yuan (fen / 100), which every reader
            # rounds back to the same fen.
            cols[name] = _yuan_text(v) if fmt == "csv" else pa.array(v / 100.0, pa.float64())
        else:
            cols[name] = pa.array(v)
    return pa.table(cols)


def _scenario_yaml(name: str, catalogue: str, k: Mapping[str, float], n: int, seed: int) -> str:
    """The scenario text: a merchant that passes every merchant rule of 1688-2024, constraints
    from the proxies of _constraints (tune them with a solver for a real benchmark)."""
    return f"""\
# Synthetic scenario: {n} SKUs, generated by optimizer.generate with seed {seed}.
# The merchant passes every merchant rule of 1688-2024, so every program is open and the SKU rules,
# price caps, stock, slots, discount budget and GMV target decide the plan.
# Constraint proxies (see optimizer/generate.py _constraints): prices assumed on each program's
# market cap, units capped by stock; discount_budget = 50 % of that plan's give-away, gmv_min =
# baseline_gmv (60 % of 30 days of daily_units at market price: the shop's ordinary 1688 sales)
# + 52.8 % of its GMV in the programs that count toward it (not AliExpress), max_skus = 10 %
# (offsite) / 40 % (crossborder) of the roughly eligible SKUs.
name: {name}
catalogue: {catalogue}
rulebook: 1688-2024
merchant:
  main_industry: consumer
  l_level: 4
  membership: shili
  service_star: 4.5
  logistics_score: 4.2
  product_experience_score: 4.0
  dispute_score: 4.6
  trade_medal: 3
  alipay_verified: true
  buyer_protection: true
  buyer_protection_deposit: 10000
  violation_points: 0
  prohibited_points: 0
  baseline_gmv: {k["baseline_gmv"]}
  fake_trading_3m: false
  ip_infringement: false
  compliance_violation: false
  infringing_goods_penalty: false
  court_dishonest: false
  finance_overdue: false
constraints:
  max_skus: {{offsite: {k["max_offsite"]}, crossborder: {k["max_crossborder"]}}}
  discount_budget: {k["discount_budget"]}
  gmv_min: {k["gmv_min"]}
  min_unit_margin_rate: 0.0
  stock_reserve_days: 1
price_step: 0.01
solver:
  time_limit_s: 60
  relative_gap: 0.0001
  seed: 0
  workers: 2
"""


def generate(n_skus: int, n_offers: int | None, seed: int, outdir: Path, *,
             fmt: str = "csv") -> Path:
    """Write outdir/catalogue.{csv,parquet} and outdir/scenario.yaml; return the scenario path.

    n_offers defaults to n_skus / 4 (at least enough offers for 12 SKUs each). Same arguments,
    same bytes.
    """
    if n_skus < 1:
        raise ValueError(f"n_skus must be >= 1, got {n_skus}")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet', got {fmt!r}")
    if n_offers is None:
        n_offers = max(1, round(n_skus / SKUS_PER_OFFER), -(-n_skus // MAX_OFFER_SKUS))
    if not -(-n_skus // MAX_OFFER_SKUS) <= n_offers <= n_skus:
        raise ValueError(f"n_offers must be in {-(-n_skus // MAX_OFFER_SKUS)}..{n_skus} "
                         f"for {n_skus} SKUs (1..{MAX_OFFER_SKUS} SKUs an offer), got {n_offers}")
    rng = np.random.default_rng(seed)
    cat = _catalogue(rng, n_skus, n_offers)
    reserve_days = 1.0
    limits = _constraints(cat, reserve_days)

    outdir = Path(outdir)
    table = _table(cat, n_offers, fmt)
    cat_name = f"catalogue.{fmt}"
    # both files or neither (optimizer/outdir.py); the folder is the user's: nothing else in it
    # is touched, and no manifest is added
    with output_set(outdir, "generate", owned=frozenset(), manifest=None) as stage:
        if fmt == "csv":
            pacsv.write_csv(table, stage.path(cat_name),
                            pacsv.WriteOptions(quoting_style="none", batch_size=65536))
        else:
            pq.write_table(table, stage.path(cat_name), compression="zstd")
        stage.write("scenario.yaml", _scenario_yaml(
            f"synthetic-{n_skus}-seed{seed}", cat_name, limits, n_skus, seed).encode("utf-8"))
    scenario = outdir / "scenario.yaml"
    return scenario

