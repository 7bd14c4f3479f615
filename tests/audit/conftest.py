"""Tiny scenarios written on the fly, and plan rows whose printed figures are filled in.

The repository root goes on sys.path so `tests.reference.brute` imports under pytest's default
(prepend) import mode.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from optimizer.audit import audit_rows  # noqa: E402
from optimizer.audit.semantics import Economics  # noqa: E402
from tests.helpers import fen, spec_fee, spec_margin, spec_units  # noqa: E402

# A SKU that passes every SKU rule of offsite, yanxuan, huopin and crossborder.
BASE_SKU: dict[str, Any] = {
    "sku_id": "S1", "offer_id": "O1", "category": "consumer", "market_price": "12.00",
    "min_price_30d": "9.00", "unit_cost": "3.00", "stock": 10000, "daily_units": 10,
    "shipping_cost": "0.50", "dropship": "true", "return_7day": "true", "ship_hours": 24,
    "growth_score": 80, "pickup_rate_48h": "0.95", "moq": 1, "alipay_guarantee": "true",
    "listed_days": 365,
    "sales_last_month": 100,
}
# A shop that passes every merchant rule of the default rulebook.
MERCHANT: dict[str, Any] = {
    "main_industry": "consumer", "l_level": 3, "membership": "chengxintong", "service_star": 4.0,
    "logistics_score": 3.5, "product_experience_score": 3.0, "trade_medal": 2,
    "alipay_verified": True, "buyer_protection": True, "buyer_protection_deposit": 5000,
    "violation_points": 0, "prohibited_points": 0, "dispute_score": 4.5,
    "fake_trading_3m": False, "ip_infringement": False, "compliance_violation": False,
    "infringing_goods_penalty": False, "court_dishonest": False, "finance_overdue": False,
}

MakeScenario = Callable[..., Path]
Fill = Callable[[Path, Sequence[tuple[str, str, str]]], list[dict[str, str]]]


def write_scenario(folder: Path, skus: Sequence[dict[str, Any]], *,
                   merchant: dict[str, Any] | None = None, **top: Any) -> Path:
    """catalogue.csv (BASE_SKU overridden per row; a None value drops the column) + scenario."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{**BASE_SKU, **s} for s in skus]
    columns = [c for c in BASE_SKU if all(r.get(c) is not None for r in rows)]
    columns += [c for r in rows for c in r if c not in columns and r[c] is not None]
    with (folder / "catalogue.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(columns)))
        writer.writeheader()
        for r in rows:
            writer.writerow({c: r.get(c, "") for c in columns})
    scenario = {"name": "tiny", "catalogue": "catalogue.csv", "rulebook": "1688-2024",
                "merchant": MERCHANT if merchant is None else merchant,
                "price_step": 0.01, **top}
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), "utf-8")
    return path


@pytest.fixture
def make_scenario(tmp_path: Path) -> MakeScenario:
    counter = iter(range(1000))

    def make(skus: Sequence[dict[str, Any]] = ({},), **kw: Any) -> Path:
        return write_scenario(tmp_path / f"s{next(counter)}", skus, **kw)

    return make


def fill_rows(scenario: Path, plan: Sequence[tuple[str, str, str]]) -> list[dict[str, str]]:
    """Plan rows (sku, program, price) with offer_id and the figures the auditor recomputes,
    so that a test plan breaks only the rule under test (the figures are tested on their own,
    against hand-computed numbers, in test_fees.py)."""
    bare = [{"sku_id": s, "offer_id": "", "program": k, "price": p} for s, k, p in plan]
    report = audit_rows(scenario, bare)
    out = []
    for ln in report.lines:
        eco = ln.eco or Economics(0.0, 0.0, 0.0, 0.0, 0.0)
        out.append({
            "sku_id": ln.sku_id, "offer_id": ln.sku.offer_id, "program": ln.program,
            "price": ln.printed["price"], "units": f"{eco.units:.3f}",
            "revenue": f"{eco.revenue:.2f}", "fee_rate": f"{float(ln.fee):g}",
            "fees": f"{eco.fees:.2f}", "margin": f"{eco.margin:.2f}",
        })
    return out


@pytest.fixture
def fill() -> Fill:
    return fill_rows


def hand_rows(skus: dict[str, dict[str, Any]], plan: Sequence[tuple[str, str, str]]
              ) -> list[dict[str, str]]:
    """Plan rows (sku, program, price) with every figure computed by hand from SPEC 3-4
    (tests/helpers.py's SPEC tables and formulas, not the auditor's): fee rate non-stacking over
    the SKU's programs, units, revenue, fees and margin. `skus`: catalogue rows by sku_id."""
    enrolled: dict[str, set[str]] = {}
    for s, k, _ in plan:
        enrolled.setdefault(s, set()).add(k)
    out = []
    for s, k, price in plan:
        row = {**BASE_SKU, **skus[s]}
        p, fee = fen(price), spec_fee(k, enrolled[s])
        units = spec_units(k, row, p)
        revenue = units * p / 100
        out.append({
            "sku_id": s, "offer_id": str(row["offer_id"]), "program": k, "price": price,
            "units": f"{units:.3f}", "revenue": f"{revenue:.2f}", "fee_rate": str(float(fee)),
            "fees": f"{revenue * float(fee):.2f}", "margin": f"{spec_margin(k, row, p, fee):.2f}",
        })
    return out
