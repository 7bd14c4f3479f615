"""The brute-force reference: hand-computed optima, and agreement with a naive enumeration of
every plan filtered by the auditor (which shares none of the brute force's search logic)."""

from __future__ import annotations

from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.audit import audit_rows, audit_world, load_world
from optimizer.audit.semantics import price_ceiling_fen
from tests.audit.conftest import write_scenario
from tests.reference.brute import brute_force_optimum

# Flags that only concern printed figures, which the naive enumeration does not fill in.
PRINT_ONLY = {"MISSING_COLUMN", "BAD_VALUE", "MISMATCH_UNITS", "MISMATCH_REVENUE",
              "MISMATCH_FEE_RATE", "MISMATCH_FEES", "MISMATCH_MARGIN"}
TINY = {"market_price": "5.00", "min_price_30d": "4.80", "unit_cost": "1.00",
        "shipping_cost": "0.50", "daily_units": 10, "stock": 100000}


def test_one_sku_one_program_best_lattice_price(tmp_path: Path) -> None:
    """offsite, step 0.50: prices 0.50 .. 4.00 (strictly under 0.9 x 5.00 = 4.50); margin =
    230 (p/5)^-2.5 (0.994 p - 1.50) (10 a day over 23 days: 30 less 7 of review); prices with
    0.994 p < 1.50 break the margin rule."""
    sc = write_scenario(tmp_path, [TINY], price_step=0.5, programs={"offsite": {}})
    p = np.arange(1, 9) * 0.5
    margin = 230 * (p / 5) ** -2.5 * (0.994 * p - 1.5)
    margin[0.994 * p - 1.5 < 0] = -np.inf
    result = brute_force_optimum(sc)
    assert result is not None
    objective, rows = result
    assert objective == pytest.approx(margin.max(), rel=1e-12)
    assert [(r["program"], r["price"]) for r in rows] == [("offsite", f"{p[margin.argmax()]:.2f}")]
    assert audit_rows(sc, rows).violations == []


def test_one_sku_two_programs_stock_and_fees(tmp_path: Path) -> None:
    """offsite and yanxuan for one SKU with a binding stock (700 - 2 days x 10 = 680 units):
    every (offsite price or out) x (yanxuan price or out) by numpy, fees non-stacking
    (offsite pays 0.056 when the SKU is also in yanxuan)."""
    sc = write_scenario(tmp_path, [{**TINY, "stock": 700}], price_step=0.5,
                        programs={"offsite": {}, "yanxuan": {}},
                        constraints={"stock_reserve_days": 2})
    po = np.r_[np.nan, np.arange(1, 9) * 0.5][:, None]    # offsite: < 4.50
    py = np.r_[np.nan, np.arange(1, 10) * 0.5][None, :]   # yanxuan: <= 4.75
    in_o, in_y = ~np.isnan(po), ~np.isnan(py)
    fee_o = np.where(in_y, 0.056, 0.006)
    u_o = np.where(in_o, 230 * (po / 5) ** -2.5, 0.0)  # 10 a day, 23 days after review
    u_y = np.where(in_y, 120 * (py / 5) ** -1.8, 0.0)
    m_o = np.where(in_o, u_o * (po * (1 - fee_o) - 1.5), 0.0)
    m_y = np.where(in_y, u_y * (py * 0.944 - 1.5), 0.0)
    ok = ((~in_o | (po * (1 - fee_o) >= 1.5)) & (~in_y | (py * 0.944 >= 1.5))
          & (u_o + u_y <= 680))
    total = np.where(ok, m_o + m_y, -np.inf)
    i, j = np.unravel_index(np.argmax(total), total.shape)
    assert in_o[i, 0] and in_y[0, j], "the instance should use both programs"
    result = brute_force_optimum(sc)
    assert result is not None
    objective, rows = result
    assert objective == pytest.approx(total[i, j], rel=1e-12)
    assert {(r["program"], r["price"]) for r in rows} == {
        ("offsite", f"{po[i, 0]:.2f}"), ("yanxuan", f"{py[0, j]:.2f}")}
    report = audit_rows(sc, rows)
    assert report.violations == []
    assert report.objective == pytest.approx(objective, rel=1e-12)


def test_unreachable_gmv_has_no_plan(tmp_path: Path) -> None:
    sc = write_scenario(tmp_path, [TINY], price_step=0.5, programs={"offsite": {}},
                        constraints={"gmv_min": 1_000_000})
    assert brute_force_optimum(sc) is None


def test_brute_force_refuses_big_lattices(tmp_path: Path) -> None:
    sc = write_scenario(tmp_path, [TINY], programs={"offsite": {}})  # step 0.01: 449 prices
    with pytest.raises(ValueError, match="too many"):
        brute_force_optimum(sc)


def naive_optimum(scenario: Path) -> float | None:
    """Every plan (each SKU x program out or at each lattice price under the caps, rules or
    not), kept when the auditor finds nothing but unfilled printed figures."""
    world = load_world(scenario)
    step = world.price_step_fen
    pairs = [(s, k) for s in world.skus.values() for k in world.programs]
    choices = []
    for s, k in pairs:
        top = price_ceiling_fen(world, k, s)
        assert top is not None
        choices.append([None, *range(step, top + 1, step)])
    best: float | None = None
    for pick in product(*choices):
        rows = [{"sku_id": s.sku_id, "offer_id": s.offer_id, "program": k,
                 "price": f"{p / 100:.2f}"}
                for (s, k), p in zip(pairs, pick, strict=True) if p is not None]
        report = audit_world(world, rows)
        if report.codes() <= PRINT_ONLY and (best is None or report.objective > best):
            best = report.objective
    return best


SMALL = {"market_price": "2.00", "min_price_30d": "1.90", "unit_cost": "0.30",
         "shipping_cost": "0.20", "daily_units": 10, "stock": 100000}
SMALLER = {**SMALL, "sku_id": "S2", "market_price": "1.50", "min_price_30d": "1.50"}
CASES: dict[str, dict[str, Any]] = {
    "exclusive and all-or-none": dict(
        skus=[SMALL, {**SMALLER, "unit_cost": "0.60"}],
        programs={"offsite": {}, "yanxuan": {}, "huopin": {}}),
    # S1 (moq 5) cannot join huopin, so only offer-level exclusivity keeps it out of offsite
    # while S2, whose shipping makes free-shipping programs poor, is in huopin.
    "exclusive across SKUs": dict(
        skus=[{**SMALL, "shipping_cost": "0", "moq": 5},
              {**SMALLER, "shipping_cost": "1.00", "daily_units": 25}],
        programs={"offsite": {}, "huopin": {"sku_rules": {
            "moq": {"field": "moq", "op": "<=", "value": 2}}}}),
    "budget, gmv and slots": dict(
        skus=[SMALL, {**SMALLER, "offer_id": "O2", "daily_units": 30}],
        programs={"offsite": {}, "yanxuan": {}, "huopin": {}},
        constraints={"discount_budget": 2500, "gmv_min": 3000, "max_skus": {"yanxuan": 1}}),
    "stock, reserve and margin rate": dict(
        skus=[{**SMALL, "stock": 2000}, {**SMALLER, "stock": 850, "moq": 5}],
        programs={"offsite": {}, "yanxuan": {}, "huopin": {}},
        constraints={"stock_reserve_days": 3, "min_unit_margin_rate": 0.45}),
}


@pytest.mark.parametrize("case", CASES)
def test_brute_force_matches_naive_enumeration(tmp_path: Path, case: str) -> None:
    spec = dict(CASES[case])
    sc = write_scenario(tmp_path, spec.pop("skus"), price_step=0.5, **spec)
    result = brute_force_optimum(sc)
    naive = naive_optimum(sc)
    assert result is not None and naive is not None
    assert result[0] == pytest.approx(naive, rel=1e-9, abs=1e-9)
    if "constraints" in spec:
        free = write_scenario(tmp_path / "free", CASES[case]["skus"], price_step=0.5,
                              programs=spec["programs"])
        unconstrained = brute_force_optimum(free)
        assert unconstrained is not None and unconstrained[0] > result[0] + 1, "they bind"
    report = audit_rows(sc, result[1])
    assert report.violations == []
    assert report.objective == pytest.approx(result[0], rel=1e-9)


sku_strategy = st.fixed_dictionaries({
    "offer_id": st.sampled_from(["O1", "O2"]),
    "market_price": st.sampled_from(["1.50", "2.00", "2.50"]),
    "min_price_30d": st.sampled_from(["1.00", "1.90", "2.00"]),
    "unit_cost": st.sampled_from(["0.10", "0.40", "0.80", "1.30"]),
    "shipping_cost": st.sampled_from(["0", "0.20"]),
    "daily_units": st.integers(1, 40),
    "stock": st.sampled_from([0, 100, 300, 3000]),
    "moq": st.sampled_from([1, 1, 5]),
})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(skus=st.lists(sku_strategy, min_size=1, max_size=2),
       programs=st.sampled_from([("offsite", "yanxuan"), ("yanxuan", "huopin"),
                                 ("offsite", "huopin"), ("offsite", "crossborder")]),
       budget=st.sampled_from([None, 50, 300]), gmv=st.sampled_from([None, 200, 2000]),
       slots=st.sampled_from([None, 1]), reserve=st.sampled_from([0, 2]),
       rate=st.sampled_from([0, 0.25]))
def test_brute_force_matches_naive_on_random_instances(
        tmp_path_factory: pytest.TempPathFactory, skus: list[dict[str, Any]],
        programs: tuple[str, str], budget: int | None, gmv: int | None, slots: int | None,
        reserve: int, rate: float) -> None:
    rows = [{**s, "sku_id": f"S{i}"} for i, s in enumerate(skus, start=1)]
    constraints: dict[str, Any] = {"stock_reserve_days": reserve, "min_unit_margin_rate": rate}
    if budget is not None:
        constraints["discount_budget"] = budget
    if gmv is not None:
        constraints["gmv_min"] = gmv
    if slots is not None:
        constraints["max_skus"] = {programs[0]: slots}
    sc = write_scenario(tmp_path_factory.mktemp("h"), rows, price_step=0.5,
                        programs={k: {} for k in programs}, constraints=constraints)
    result = brute_force_optimum(sc)
    naive = naive_optimum(sc)
    if naive is None:
        assert result is None
        return
    assert result is not None
    assert result[0] == pytest.approx(naive, rel=1e-9, abs=1e-9)
    assert audit_rows(sc, result[1]).violations == []
