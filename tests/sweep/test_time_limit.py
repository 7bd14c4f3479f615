"""NO_SOLUTION only when the time limit ran out (issue 13, item 1): a phase's deterministic
budget running out without a plan, with wall time left, is no reason to stop searching."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import optimizer.solve.runner as cpsat_runner
from optimizer.prepare import prepare
from optimizer.score.problem import build_problem
from optimizer.solve import phases, solve
from tests.helpers import audit_result

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"


@pytest.mark.parametrize("complete_limit", [60_000, 0], ids=["complete", "not-complete"])
def test_a_spent_deterministic_budget_is_not_the_time_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, complete_limit: int) -> None:
    """infeasible-gmv with a reachable target (800,000 yuan: every plan must sell ~90 % of
    the most the stock can bring): the heuristics are made to find nothing and every CP-SAT
    budget is the floor (0.05 deterministic s), so the phases end on their budgets, without a
    plan, a few seconds into a 20 s limit (it returned NO_SOLUTION there after 2.9 s). The solve
    searches on and returns a plan, audited. Both paths: the complete model's (every lattice
    price) and the one without it (complete_limit 0)."""
    shutil.copytree(SCENARIOS / "packaging-bags", tmp_path / "packaging-bags")
    shutil.copytree(SCENARIOS / "infeasible-gmv", tmp_path / "infeasible-gmv")
    path = tmp_path / "infeasible-gmv" / "scenario.yaml"
    sc = yaml.safe_load(path.read_text(encoding="utf-8"))
    sc["constraints"]["gmv_min"] = 800000
    path.write_text(yaml.safe_dump(sc, sort_keys=False), encoding="utf-8")
    for name, answer in {"lp_rounding": None, "branch": None, "core": None, "lp_dive": None,
                         "pooled_fallback": False, "restricted_master": None,
                         "focused_model": None}.items():
        monkeypatch.setattr(phases, name, lambda *a, _answer=answer, **k: _answer)
    monkeypatch.setattr(cpsat_runner, "DTIME_PER_LIMIT_SECOND", 1e-4)
    monkeypatch.setattr(phases, "DTIME_PER_LIMIT_SECOND", 1e-4)
    entered: list[bool] = []
    real = phases.until_the_limit

    def spy(s: Any, limit: int) -> bool:
        entered.append(s.best is None and s.complete == (complete_limit > 0))
        return real(s, limit)

    monkeypatch.setattr(phases, "until_the_limit", spy)
    p = prepare(path)
    pb = build_problem(p.scenario, p.rulebook, p.catalogue, p.rules)
    result = solve(pb, p.scenario.solver, complete_limit=complete_limit)
    audit_result(path, p.scenario, p.rulebook, pb, p.rules, result, tmp_path / "out")
    assert result.status in ("OPTIMAL", "FEASIBLE"), result.summary_line()
    assert entered == [True], "a phase found a plan within its floor budget: no test"
    assert result.seconds < 20


def test_the_large_path_searches_on_when_a_budget_ran_out(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The multiplier-space path (forced): its rounding finds nothing and its first CP-SAT run
    spends its whole deterministic budget without a plan, a moment into a 20 s limit (the path
    returned NO_SOLUTION there). It searches the offers in doubt again with a doubled budget and
    returns a plan, audited."""
    import numpy as np
    from ortools.sat.python import cp_model

    import optimizer.solve.large as large

    shutil.copytree(SCENARIOS / "packaging-bags", tmp_path / "packaging-bags")
    path = tmp_path / "packaging-bags" / "scenario.yaml"
    monkeypatch.setattr(large, "round_flex_lp", lambda *a, **k: None)
    real = large.run_cpsat
    runs: list[bool] = []

    def first_spent(model: Any, x: Any, clock: Any, share: float, **k: Any) -> Any:
        if not runs:  # the whole budget spent, nothing found
            runs.append(False)
            clock.dtime_left -= share * clock.dtime_left
            return cpsat_runner.Run(cp_model.UNKNOWN, np.zeros(0, bool), float("inf"), 0.0)
        run = real(model, x, clock, share, **k)
        runs.append(run.found)
        return run

    monkeypatch.setattr(large, "run_cpsat", first_spent)
    p = prepare(path)
    pb = build_problem(p.scenario, p.rulebook, p.catalogue, p.rules)
    result = solve(pb, p.scenario.solver, large_offers=1)
    audit_result(path, p.scenario, p.rulebook, pb, p.rules, result, tmp_path / "out")
    assert result.status in ("OPTIMAL", "FEASIBLE"), result.summary_line()
    assert runs[0] is False and runs[-1] is True, runs
    assert result.seconds < 20
