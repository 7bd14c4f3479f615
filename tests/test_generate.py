"""The synthetic generator: deterministic, well-formed (SPEC 2.2), varied enough to bind rules."""

from __future__ import annotations

import csv
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from optimizer.generate import COLUMNS, MONEY_COLUMNS, generate

Sample = tuple[Path, list[str], list[dict[str, str]]]

SPEC_REQUIRED = {
    "sku_id", "offer_id", "category", "market_price", "min_price_30d", "unit_cost", "stock",
    "daily_units",
}
SPEC_OPTIONAL = {
    "shipping_cost", "dropship", "return_7day", "ship_hours", "growth_score", "pickup_rate_48h",
    "moq", "alipay_guarantee", "listed_days",
    "sales_last_month", "elasticity", "web_min_price",
}
BOOL_COLUMNS = ("dropship", "return_7day", "alipay_guarantee")


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    scenario = generate(3000, None, 7, tmp_path_factory.mktemp("gen"))
    header, rows = _rows(scenario.parent / "catalogue.csv")
    return scenario, header, rows


def test_same_seed_same_bytes_different_seed_differs(tmp_path: Path) -> None:
    a = generate(500, None, 1, tmp_path / "a")
    b = generate(500, None, 1, tmp_path / "b")
    c = generate(500, None, 2, tmp_path / "c")
    for name in ("catalogue.csv", "scenario.yaml"):
        assert (a.parent / name).read_bytes() == (b.parent / name).read_bytes()
    assert (a.parent / "catalogue.csv").read_bytes() != (c.parent / "catalogue.csv").read_bytes()


def test_module_entry_is_the_cli_command(tmp_path: Path) -> None:
    """`python -m optimizer.generate` (generate/__main__.py) writes what generate() writes, and
    refuses a bad argument with exit 2 and click's message."""
    a = generate(300, None, 3, tmp_path / "a")
    run = subprocess.run([sys.executable, "-m", "optimizer.generate", "--skus", "300", "--seed",
                          "3", "-o", str(tmp_path / "b")], capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(tmp_path / "b" / "scenario.yaml")
    for name in ("catalogue.csv", "scenario.yaml"):
        assert (a.parent / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    bad = subprocess.run([sys.executable, "-m", "optimizer.generate", "--skus", "0", "-o",
                          str(tmp_path / "c")], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "Usage: python -m optimizer.generate" in bad.stderr
    assert not (tmp_path / "c").exists()


def test_parquet_is_deterministic_and_matches_csv(tmp_path: Path) -> None:
    a = generate(300, None, 3, tmp_path / "a", fmt="parquet")
    b = generate(300, None, 3, tmp_path / "b", fmt="parquet")
    pa_, pb = a.parent / "catalogue.parquet", b.parent / "catalogue.parquet"
    assert pa_.read_bytes() == pb.read_bytes()
    csv_scn = generate(300, None, 3, tmp_path / "c")
    table = pq.read_table(a.parent / "catalogue.parquet")
    _, rows = _rows(csv_scn.parent / "catalogue.csv")
    assert table.column_names == list(COLUMNS)
    assert table.column("sku_id").to_pylist() == [r["sku_id"] for r in rows]
    prices = table.column("market_price").to_pylist()
    assert [round(p * 100) for p in prices] == [int(Decimal(r["market_price"]) * 100) for r in rows]
    assert yaml.safe_load(a.read_text())["catalogue"] == "catalogue.parquet"


@pytest.mark.parametrize(("n_skus", "n_offers"), [(1, None), (13, None), (100, 9), (100, 100)])
def test_sizes(tmp_path: Path, n_skus: int, n_offers: int | None) -> None:
    _, rows = _rows(generate(n_skus, n_offers, 0, tmp_path).parent / "catalogue.csv")
    assert len(rows) == n_skus
    assert len({r["sku_id"] for r in rows}) == n_skus
    per_offer: dict[str, int] = {}
    for r in rows:
        per_offer[r["offer_id"]] = per_offer.get(r["offer_id"], 0) + 1
    if n_offers is not None:
        assert len(per_offer) == n_offers
    assert all(1 <= k <= 12 for k in per_offer.values())


def test_offer_count_must_fit(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(100, 8, 0, tmp_path)  # 8 offers cannot hold 100 SKUs at <= 12 each
    with pytest.raises(ValueError):
        generate(10, 11, 0, tmp_path)


def test_columns_match_spec(sample: Sample) -> None:
    _, header, _ = sample
    assert len(header) == len(set(header))
    assert SPEC_REQUIRED <= set(header) <= SPEC_REQUIRED | SPEC_OPTIONAL
    assert set(header) == SPEC_REQUIRED | SPEC_OPTIONAL - {"elasticity"}


def test_money_and_prices(sample: Sample) -> None:
    _, _, rows = sample
    for r in rows:
        for col in MONEY_COLUMNS:
            value = Decimal(r[col])
            assert value >= 0 and -value.as_tuple().exponent <= 2, (col, r[col])
        market, min30 = Decimal(r["market_price"]), Decimal(r["min_price_30d"])
        assert Decimal("0.5") <= market <= Decimal("2000")
        assert Decimal("0.01") <= min30 <= market
        assert Decimal(r["unit_cost"]) <= market
        assert Decimal("0.01") <= Decimal(r["web_min_price"]) < market
        assert float(r["daily_units"]) >= 0 and int(r["stock"]) >= 0


def test_every_boolean_has_both_values(sample: Sample) -> None:
    _, _, rows = sample
    for col in BOOL_COLUMNS:
        assert {r[col] for r in rows} == {"true", "false"}, col


def test_offers_share_category(sample: Sample) -> None:
    _, _, rows = sample
    cats: dict[str, set[str]] = {}
    for r in rows:
        cats.setdefault(r["offer_id"], set()).add(r["category"])
    assert all(len(c) == 1 for c in cats.values())
    assert {c for s in cats.values() for c in s} == {"consumer", "industrial", "other"}


def test_every_rule_binds_somewhere(sample: Sample) -> None:
    """Each 1688-2024 SKU rule threshold has SKUs on both sides of it."""
    _, _, rows = sample
    checks = {
        "growth_score": lambda r: float(r["growth_score"]) >= 60,
        "ship_hours_48": lambda r: int(r["ship_hours"]) <= 48,
        "ship_hours_72": lambda r: int(r["ship_hours"]) <= 72,
        "stock": lambda r: int(r["stock"]) >= 200,
        "pickup": lambda r: float(r["pickup_rate_48h"]) >= 0.9,
        "moq": lambda r: int(r["moq"]) <= 2,
        "new": lambda r: int(r["listed_days"]) <= 30,
        "slow": lambda r: int(r["sales_last_month"]) <= 10,
        "min30_below_cap": lambda r: Decimal(r["min_price_30d"]) < Decimal("0.9")
        * Decimal(r["market_price"]),
        "no_free_ship_margin": lambda r: Decimal(r["unit_cost"]) + Decimal(r["shipping_cost"])
        >= Decimal("0.9") * Decimal(r["market_price"]),
    }
    for name, check in checks.items():
        assert {check(r) for r in rows} == {True, False}, name


def test_web_min_price_binds_for_some_skus_only(sample: Sample) -> None:
    """全网比价: most web prices sit a little above offsite's 0.9 x market cap (92-99 %), so the
    strict cap price < web_min_price rarely decides; for about 12 % a cheaper copy (80-90 %)
    makes it the tightest offsite cap."""
    _, _, rows = sample
    ratio = [Decimal(r["web_min_price"]) / Decimal(r["market_price"]) for r in rows]
    under = sum(1 for q in ratio if q <= Decimal("0.9"))
    assert 0.08 * len(rows) < under < 0.16 * len(rows)
    assert all(Decimal("0.79") < q < 1 for q in ratio)
    binds = [r for r in rows if Decimal(r["web_min_price"]) <= min(
        Decimal("0.9") * Decimal(r["market_price"]), Decimal(r["min_price_30d"]))]
    assert binds and len(binds) < 0.16 * len(rows)


def test_new_column_leaves_the_others_as_the_seed_drew_them(tmp_path: Path) -> None:
    """web_min_price is drawn after every other column: the columns before it are what the same
    seed gave before it existed (first rows of generate(10000, None, 2024), the shipped large-10k,
    as they were)."""
    _, rows = _rows(generate(10000, None, 2024, tmp_path).parent / "catalogue.csv")
    first = ",".join(rows[0][c] for c in COLUMNS[:-1])
    assert first == ("S0000001,O000001,consumer,137.83,112.18,107.57,366,0.59,2.61,true,true,24,"
                     "59,0.935,10,true,274,257")
    assert COLUMNS[-1] == "web_min_price" and rows[0]["web_min_price"] == "131.37"


def test_scenario_merchant_passes_and_the_target_counts_a_baseline(sample: Sample) -> None:
    """SPEC 2.1: the merchant fields the rules read, the six 严选 flags false; gmv_min is the
    baseline (the shop's ordinary 1688 sales) plus what the programs must bring."""
    scenario, _, rows = sample
    doc = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    m = doc["merchant"]
    for flag in ("fake_trading_3m", "ip_infringement", "compliance_violation",
                 "infringing_goods_penalty", "court_dishonest", "finance_overdue"):
        assert m[flag] is False, flag
    assert m["dispute_score"] >= 4 and m["product_experience_score"] >= 2
    ordinary = sum(float(r["daily_units"]) * 30 * float(r["market_price"]) for r in rows)
    assert m["baseline_gmv"] == pytest.approx(0.6 * ordinary, abs=1)
    assert 0 < m["baseline_gmv"] < doc["constraints"]["gmv_min"]


def test_scenario(sample: Sample) -> None:
    scenario, _, _ = sample
    doc = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    assert doc["catalogue"] == "catalogue.csv"
    assert doc["merchant"]["membership"] != "none"
    k = doc["constraints"]
    assert set(k["max_skus"]) == {"offsite", "crossborder"}
    assert k["discount_budget"] > 0 and k["gmv_min"] > 0
    assert k["stock_reserve_days"] == 1
    assert doc["solver"] == {"time_limit_s": 60, "relative_gap": 0.0001, "seed": 0, "workers": 2}
