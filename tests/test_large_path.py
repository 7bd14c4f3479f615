"""The large-catalogue path (master in multiplier space, LP over the offers in doubt, CP-SAT core)
forced onto small instances: its bound must stay a valid upper bound and its plan must pass the
auditor, checked against the exhaustive brute force and against the LP-master path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

import optimizer.solve.flow as solve_module
from optimizer.generate import generate
from optimizer.pipeline import run_solve
from tests.helpers import solve_case, write_case
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
        if result.status in ("OPTIMAL", "FEASIBLE"):
            assert result.objective <= brute[0] + 1e-6 * max(1.0, abs(brute[0])) + 0.01
        assert result.status != "INFEASIBLE", f"brute force finds {brute[0]}"
        # the bound covers the true optimum
        assert result.bound >= brute[0] - 1e-6 * max(1.0, abs(brute[0])) - 0.01, outcome.text

    in_tempdir(run)


def test_large_path_agrees_with_the_lp_master_path(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Both paths' bounds are valid, so each one's plan sits under the other's bound. On 750
    offers the large path is out of its element (rounding one offer is a larger share of the
    plan), yet it proves a gap of a few hundredths of a percent."""
    scenario = generate(3000, None, 21, tmp_path / "g")
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
