"""Warm starts (sweeps): a neighbouring scenario's multipliers start the master near the optimum.

Any multipliers give a valid bound, so a warm start may only change the time, never the truth:
each warm-started result must sit under the cold one's bound and the cold one under its bound.
Every plan is written and audited (Case.solve).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import optimizer.solve.flow as solve_module
from optimizer.generate import generate
from optimizer.load import load_catalogue, load_scenario
from optimizer.load.types import Scenario, SolverConfig
from optimizer.rules.eligibility import RuleOutcome, evaluate_rules
from optimizer.rules.rulebook import Rulebook, build_rulebook
from optimizer.score.problem import Problem, build_problem
from optimizer.solve import Result, solve
from optimizer.solve.lagrange import Multipliers
from tests.helpers import audit_result


@dataclass
class Case:
    """A generated scenario, its inputs as solve sees them, and the rule outcome to write with."""

    path: Path
    scenario: Scenario
    rulebook: Rulebook
    rules: RuleOutcome
    pb: Problem

    def solve(self, config: SolverConfig, warm: Multipliers | None = None,
              label: str = "plan") -> Result:
        """Solve, then write and audit the plan (every plan of these tests is audited)."""
        result = solve(self.pb, config, warm=warm)
        audit_result(self.path, self.scenario, self.rulebook, self.pb, self.rules, result,
                     self.path.parent / label)
        return result


def _problem(tmp_path: Path, skus: int, seed: int, fee: str | None = None) -> Case:
    path = generate(skus, None, seed, tmp_path / f"g{skus}-{seed}-{fee}")
    text = path.read_text(encoding="utf-8").replace("time_limit_s: 60", "time_limit_s: 20")
    if fee is not None:
        text += f"\nfees:\n  help_sell_commission: {{cap: {fee}}}\n"
    path.write_text(text, encoding="utf-8")
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    rules = evaluate_rules(rulebook, scenario.merchant, catalogue)
    return Case(path, scenario, rulebook, rules,
                build_problem(scenario, rulebook, catalogue, rules))


def _config(case: Case) -> SolverConfig:
    """The solver settings of this case's own scenario (it used to read whichever generated
    scenario the folder listed first, whatever case it was given)."""
    return case.scenario.solver


def _agree(a: Result, b: Result) -> None:
    assert a.status in ("OPTIMAL", "FEASIBLE") and b.status in ("OPTIMAL", "FEASIBLE")
    assert a.objective <= b.bound + 0.01, (a.summary_line(), b.summary_line())
    assert b.objective <= a.bound + 0.01, (a.summary_line(), b.summary_line())


@pytest.mark.parametrize("large", [False, True], ids=["lp-master", "multiplier-space"])
def test_warm_start_from_itself_is_valid_and_no_slower(tmp_path: Path, large: bool,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if large:
        monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)
    case = _problem(tmp_path, 3000, 4)
    config = _config(case)
    cold = case.solve(config, label="cold")
    assert cold.multipliers is not None
    warm = case.solve(config, warm=cold.multipliers, label="warm")
    _agree(cold, warm)
    # started at the best multipliers met, the master needs no more rounds than from zero
    assert warm.stats.cg_rounds is not None and cold.stats.cg_rounds is not None
    assert warm.stats.cg_rounds <= cold.stats.cg_rounds


def test_warm_start_from_a_neighbouring_fee(tmp_path: Path) -> None:
    """The previous point of a fee sweep: a different problem, still a valid bound."""
    before = _problem(tmp_path, 2000, 9, fee="0.05")
    after = _problem(tmp_path, 2000, 9, fee="0.07")
    assert _config(before) == _config(after)
    config = _config(after)
    first = before.solve(config, label="first")
    cold = after.solve(config, label="cold")
    warm = after.solve(config, warm=first.multipliers, label="warm")
    _agree(cold, warm)


def test_warm_start_of_another_shape_is_ignored(tmp_path: Path) -> None:
    case = _problem(tmp_path, 500, 3)
    config = _config(case)
    alien = Multipliers(np.ones(len(case.pb.programs) + 1), 1.0, 1.0)
    cold = case.solve(config, label="cold")
    warm = case.solve(config, warm=alien, label="warm")
    assert (warm.objective, warm.bound) == (cold.objective, cold.bound)
