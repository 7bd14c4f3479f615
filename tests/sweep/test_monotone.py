"""Property: the optimal margin never increases when a fee rate increases.

Within the reported gaps: the plan found at the higher rate is worth at most the bound proven at
the lower one (any plan at the higher fee is a plan at the lower fee worth at least as much, so
objective(high) <= optimum(high) <= optimum(low) <= bound(low)). Tiny random instances, points
solved by the sweep's own runner (warm-started from each other as a sweep does), every
point's plan audited (helpers.audited_sweep).
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import audited_sweep, sku, write_case

PROPERTY = settings(deadline=None, derandomize=True, database=None, max_examples=12,
                    suppress_health_check=[HealthCheck.too_slow])
FEE_PATHS = ["programs.offsite.fees.help_sell_commission", "fees.help_sell_commission.cap",
             "programs.yanxuan.fees.help_sell_commission", "programs.huopin.fees.tech_service",
             "programs.aliexpress_semi.fees.marketplace_commission"]

rows = st.lists(st.fixed_dictionaries({
    "market_price": st.sampled_from(["5.00", "8.00", "12.50", "30.00"]),
    "cost_share": st.sampled_from([0.4, 0.7, 0.85, 0.93]),
    "shipping_cost": st.sampled_from(["0.00", "0.30", "1.00"]),
    "daily_units": st.sampled_from([2, 10, 40]),
    "stock": st.sampled_from([200, 600, 5000]),
    "offer": st.integers(0, 2),
}), min_size=1, max_size=5)


def _row(i: int, r: dict[str, Any]) -> dict[str, Any]:
    market = Decimal(r["market_price"])
    cost = (market * Decimal(str(r["cost_share"]))).quantize(Decimal("0.01"))
    return sku(sku_id=f"S{i}", offer_id=f"O{r['offer']}", market_price=r["market_price"],
               min_price_30d=str(market - Decimal("0.50")), unit_cost=str(cost),
               shipping_cost=r["shipping_cost"], daily_units=r["daily_units"],
               stock=r["stock"])


@PROPERTY
@given(rows=rows, path=st.sampled_from(FEE_PATHS), budget=st.sampled_from([None, 300, 3000]),
       slots=st.sampled_from([None, 1]))
def test_margin_never_rises_with_a_fee(rows: list[dict[str, Any]], path: str,
                                       budget: int | None, slots: int | None) -> None:
    constraints: dict[str, Any] = {}
    if budget is not None:
        constraints["discount_budget"] = budget
    if slots is not None:
        constraints["max_skus"] = {"huopin": slots, "offsite": slots}
    with tempfile.TemporaryDirectory() as tmp:
        case = write_case(Path(tmp) / "case", [_row(i, r) for i, r in enumerate(rows)],
                          constraints=constraints)
        outcome = audited_sweep(case, [f"{path}=0:0.1:5"], Path(tmp) / "out")
    points = outcome.points
    for i, low in enumerate(points):
        for high in points[i + 1:]:
            assert low.has_plan and high.has_plan
            assert low.bound is not None and high.objective is not None
            assert high.objective <= low.bound + 0.01, (path, low, high)
