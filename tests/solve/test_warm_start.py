"""Warm starts (sweeps): a neighbouring scenario's multipliers start the master near the optimum.

Any multipliers give a valid bound, so a warm start may only change the time, never the truth:
each warm-started result must sit under the cold one's bound and the cold one under its bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import optimizer.solve.flow as solve_module
from optimizer.generate import generate
from optimizer.load import load_catalogue, load_scenario
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.problem import Problem, build_problem
from optimizer.solve import Result, solve
from optimizer.solve.lagrange import Multipliers


def _problem(tmp_path: Path, skus: int, seed: int, fee: str | None = None) -> Problem:
    path = generate(skus, None, seed, tmp_path / f"g{skus}-{seed}-{fee}")
    text = path.read_text(encoding="utf-8").replace("time_limit_s: 60", "time_limit_s: 20")
    if fee is not None:
        text += f"\nfees:\n  help_sell_commission: {{cap: {fee}}}\n"
    path.write_text(text, encoding="utf-8")
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    return build_problem(scenario, rulebook, catalogue,
                         evaluate_rules(rulebook, scenario.merchant, catalogue))


def _config(tmp_path: Path, pb: Problem) -> object:
    scenario, _ = load_scenario(next(tmp_path.glob("g*/scenario.yaml")))
    return scenario.solver


def _agree(a: Result, b: Result) -> None:
    assert a.status in ("OPTIMAL", "FEASIBLE") and b.status in ("OPTIMAL", "FEASIBLE")
    assert a.objective <= b.bound + 0.01, (a.summary_line(), b.summary_line())
    assert b.objective <= a.bound + 0.01, (a.summary_line(), b.summary_line())


@pytest.mark.parametrize("large", [False, True], ids=["lp-master", "multiplier-space"])
def test_warm_start_from_itself_is_valid_and_no_slower(tmp_path: Path, large: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if large:
        monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)
    pb = _problem(tmp_path, 3000, 4)
    config = _config(tmp_path, pb)
    cold = solve(pb, config)  # type: ignore[arg-type]
    assert cold.multipliers is not None
    warm = solve(pb, config, warm=cold.multipliers)  # type: ignore[arg-type]
    _agree(cold, warm)
    # started at the best multipliers met, the master needs no more rounds than from zero
    assert warm.stats.cg_rounds is not None and cold.stats.cg_rounds is not None
    assert warm.stats.cg_rounds <= cold.stats.cg_rounds


def test_warm_start_from_a_neighbouring_fee(tmp_path: Path) -> None:
    """The previous point of a fee sweep: a different problem, still a valid bound."""
    before = _problem(tmp_path, 2000, 9, fee="0.05")
    after = _problem(tmp_path, 2000, 9, fee="0.07")
    config = _config(tmp_path, before)
    first = solve(before, config)  # type: ignore[arg-type]
    cold = solve(after, config)  # type: ignore[arg-type]
    warm = solve(after, config, warm=first.multipliers)  # type: ignore[arg-type]
    _agree(cold, warm)


def test_warm_start_of_another_shape_is_ignored(tmp_path: Path) -> None:
    pb = _problem(tmp_path, 500, 3)
    config = _config(tmp_path, pb)
    alien = Multipliers(np.ones(len(pb.programs) + 1), 1.0, 1.0)
    cold = solve(pb, config)  # type: ignore[arg-type]
    warm = solve(pb, config, warm=alien)  # type: ignore[arg-type]
    assert (warm.objective, warm.bound) == (cold.objective, cold.bound)
