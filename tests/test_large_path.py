"""The large-catalogue path (master in multiplier space, LP over the offers in doubt, CP-SAT core)
forced onto small instances: its bound must stay a valid upper bound and its plan must pass the
auditor, checked against the exhaustive brute force and against the LP-master path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import optimizer.solve.flow as solve_module
import optimizer.solve.large as large_module
from optimizer.generate import generate
from optimizer.pipeline import run_solve
from optimizer.score.problem import Problem
from tests.helpers import SOLVER, sku, solve_case, write_case
from tests.reference.brute import brute_force_optimum
from tests.test_property import PROPERTY, in_tempdir, instances


@pytest.fixture
def large_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every solve takes the large-catalogue path, whatever its size."""
    monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)


@settings(PROPERTY, max_examples=30, suppress_health_check=[
    *PROPERTY.suppress_health_check, HealthCheck.function_scoped_fixture])  # patch is constant
@given(case=instances())
def test_large_path_bound_is_valid_and_plan_is_feasible(
        large_path: None, case: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    rows, overrides = case

    def run(folder: Path) -> None:
        path = write_case(folder, rows, **overrides)
        outcome, _, _ = solve_case(path)  # audits plan and summary
        brute = brute_force_optimum(path)
        result = outcome.result
        if brute is None:  # nothing feasible: the path may not claim a plan
            assert result.status in ("INFEASIBLE", "NO_SOLUTION"), outcome.text
            return
        # a plan exists, so the path must find one (not INFEASIBLE, nor NO_SOLUTION on a tiny
        # case; it used to accept both)
        assert result.status in ("OPTIMAL", "FEASIBLE"), f"brute force finds {brute[0]}: " + (
            outcome.text)
        best, slack = brute[0], 1e-6 * max(1.0, abs(brute[0])) + 0.01
        # from above: no plan beats the exhaustive optimum; the bound covers it
        assert result.objective <= best + slack
        assert result.bound >= best - slack, outcome.text
        # from below: a plan said OPTIMAL is within solver.relative_gap of the true optimum.
        # (A FEASIBLE one should be too on cases this small, and is not: the strict xfail
        # test_large_path_stops_short below keeps the two cases found this way.)
        if result.status == "OPTIMAL":
            gap = overrides.get("solver", {}).get("relative_gap", SOLVER["relative_gap"])
            assert result.objective >= best - gap * max(1.0, abs(best)) - slack, (
                result.objective, best, outcome.text)

    in_tempdir(run)


# Found by the property test above when it required the objective from below for every plan:
# 1 SKU, offsite + yanxuan, price step 0.50, 10 s and relative_gap 1e-4 allowed.
STOPS_SHORT = {
    # finds the optimum 140.32 but stops at once: bound 159.36, gap 13.6 %, FEASIBLE
    "gap-13pct": ({"market_price": "1.28", "min_price_30d": "1.01", "daily_units": "2",
                   "stock": 200}, {}),
    # returns the EMPTY plan (0.00) in 0.0 s: bound 461.24, FEASIBLE; the optimum is 98.62
    "empty-plan": ({"market_price": "1.00", "min_price_30d": "1.40", "daily_units": "5",
                    "stock": 5000}, {"discount_budget": 210}),
}


@pytest.mark.xfail(strict=True, reason="known defect: the large path stops at its first round "
                   "on these 1-SKU cases, FEASIBLE far from the optimum (13.6 % gap; the empty "
                   "plan against 98.62) though 10 s and a 1e-4 gap were asked")
@pytest.mark.parametrize("name", list(STOPS_SHORT))
def test_large_path_stops_short(large_path: None, tmp_path: Path, name: str) -> None:
    """The plan must be within solver.relative_gap of the brute-force optimum, as any plan
    of a solve that had the time should be. Passes (so fails, strict xfail) once fixed."""
    given, constraints = STOPS_SHORT[name]
    row = sku(offer_id="O1", unit_cost="0.00", shipping_cost="0.00", growth_score=60,
              pickup_rate_48h="0.9", listed_days=30,
              sales_last_month=10, **given)
    path = write_case(tmp_path / "case", [row], merchant={}, price_step=0.5,
                      programs={"offsite": {}, "yanxuan": {}}, constraints=constraints)
    outcome, _, _ = solve_case(path)
    brute = brute_force_optimum(path)
    assert brute is not None
    assert outcome.result.objective >= brute[0] * (1 - SOLVER["relative_gap"]) - 0.01, (
        brute[0], outcome.text)
    assert outcome.result.status == "OPTIMAL", outcome.text


def test_large_path_agrees_with_the_lp_master_path(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths' bounds are valid, so each one's plan sits under the other's bound. On 750
    offers the large path is out of its element (rounding one offer is a larger share of the
    plan), yet it proves a gap of a few hundredths of a percent."""
    scenario = generate(3000, None, 22, tmp_path / "g")
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(
        "time_limit_s: 60", "time_limit_s: 15"), encoding="utf-8")
    lp_path = run_solve(scenario, tmp_path / "lp").result
    monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)
    outcome, _, _ = solve_case(scenario, tmp_path / "large")
    large = outcome.result
    assert lp_path.status in ("OPTIMAL", "FEASIBLE") and large.status in ("OPTIMAL", "FEASIBLE")
    assert large.objective <= lp_path.bound + 0.01
    assert lp_path.objective <= large.bound + 0.01
    assert large.gap <= 5e-4, large.summary_line()


def test_large_path_warm_start_sample_and_restrict(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The large path's warm-start sample (every catalogue of >= 20k offers runs it) on a small
    forced case: a sample of 4 of the 30 offers, restricted by Problem.restrict with each global
    limit scaled by the sample's share. The sub-problem holds exactly the sampled offers' SKUs
    and pair-variants, renumbered, with the scaled limits; the sample only warm-starts, so the
    plan (audited by the suite's run_solve hook) sits under the LP-master path's bound and the
    other way round."""
    scenario = generate(120, 30, 2, tmp_path / "g")  # feasible (seeds 1, 2; not 5)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(
        "time_limit_s: 60", "time_limit_s: 15"), encoding="utf-8")
    lp_path = run_solve(scenario, tmp_path / "lp").result
    monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)
    monkeypatch.setattr(large_module, "SAMPLE_MIN", 4)
    monkeypatch.setattr(large_module, "SAMPLE_MAX", 4)
    calls: list[tuple[Problem, np.ndarray, Problem, dict[str, Any]]] = []
    real = large_module.restrict

    def spy(pb: Problem, offers: np.ndarray, **limits: Any) -> Problem:
        sub = real(pb, offers, **limits)
        calls.append((pb, np.asarray(offers), sub, limits))
        return sub

    monkeypatch.setattr(large_module, "restrict", spy)
    large = run_solve(scenario, tmp_path / "large").result
    assert len(calls) == 1, "the warm-start sample did not run"
    pb, offers, sub, limits = calls[0]
    assert pb.n_offers == 30 and offers.size == 4 and len(set(offers.tolist())) == 4
    keep = np.isin(pb.sku_offer, offers)
    assert sub.n_offers == 4 and sub.n == int(keep.sum())
    assert list(sub.sku_id) == list(pb.sku_id[keep])
    assert sorted(set(sub.sku_offer.tolist())) == [0, 1, 2, 3]
    assert [pb.offer_id[pb.sku_offer == o][0] for o in np.sort(offers)] == \
        [sub.offer_id[sub.sku_offer == j][0] for j in range(4)]
    kept_pv = np.flatnonzero(keep[pb.pv_sku])
    assert sub.m == kept_pv.size
    assert list(sub.sku_id[sub.pv_sku]) == list(pb.sku_id[pb.pv_sku[kept_pv]])
    assert np.array_equal(sub.pv_hi, pb.pv_hi[kept_pv])
    assert np.array_equal(sub.pv_fee, pb.pv_fee[kept_pv])
    assert np.array_equal(sub.max_skus, limits["max_skus"]) and sub.budget == limits["budget"]
    assert sub.gmv_min == limits["gmv_min"]
    for k in range(len(pb.programs)):  # a share of each slot cap, never more than the whole
        if pb.max_skus[k] >= 0:
            assert 0 <= sub.max_skus[k] <= pb.max_skus[k]
    if pb.budget is not None:
        assert sub.budget is not None and 0 <= sub.budget <= pb.budget
    assert large.status in ("OPTIMAL", "FEASIBLE") and lp_path.status in ("OPTIMAL", "FEASIBLE")
    assert large.objective <= lp_path.bound + 0.01
    assert lp_path.objective <= large.bound + 0.01
