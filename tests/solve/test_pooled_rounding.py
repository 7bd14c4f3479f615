"""The LP master's fallback: when neither its rounding, its dive nor CP-SAT over its columns
yields a plan (big all-or-none offers), the multiplier-space rounding over the same pricings
must: a plan that passes the auditor, under the bound of an unhindered solve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import optimizer.solve.phases as phases
from optimizer.generate import generate
from optimizer.pipeline import run_solve
from tests.helpers import solve_case


def _none(*_: Any, **__: Any) -> None:
    return None


def test_pooled_rounding_finds_a_plan_when_the_lp_master_finds_none(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 3,000 SKUs in 260 offers: about 12 SKUs an offer, the shape that left the LP master
    # without a plan on 100k SKUs in 9,000 offers
    scenario = generate(3000, 260, 5, tmp_path / "g")
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(
        "time_limit_s: 60", "time_limit_s: 20"), encoding="utf-8")
    free = run_solve(scenario, tmp_path / "free").result
    # no LP rounding, no branch and price, no dive, no CP-SAT core and no plan from the
    # restricted master
    for name in ("round_lp", "dive", "core", "restricted_master", "branch"):
        monkeypatch.setattr(phases, name, _none)
    outcome, plan, _ = solve_case(scenario, tmp_path / "pooled")  # audited
    result = outcome.result
    assert result.stats.pooled_seconds is not None
    assert result.status in ("OPTIMAL", "FEASIBLE") and plan
    assert result.objective <= free.bound + 0.01
    assert free.objective <= result.bound + 0.01
