"""Warm starts (sweeps): a neighbouring scenario's multipliers, and on the multiplier-space path
its columns, start the master near the optimum.

Any multipliers give a valid bound, so a warm start may only change the time, never the truth:
each warm-started result must sit under the cold one's bound and the cold one under its bound.
Every plan is written and audited (Case.solve).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import optimizer.pipeline as pipeline
import optimizer.solve.flow as solve_module
from optimizer.generate import generate
from optimizer.load import load_catalogue, load_scenario
from optimizer.load.types import Scenario, SolverConfig
from optimizer.rules.eligibility import RuleOutcome, evaluate_rules
from optimizer.rules.rulebook import Rulebook, build_rulebook
from optimizer.score.problem import Problem, build_problem
from optimizer.solve import Result, solve
from optimizer.solve.lagrange import Multipliers
from optimizer.solve.warm import import_columns, kinds, offer_signature
from tests.helpers import audit_result, solve_case


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


# --- columns carried to a neighbouring scenario (multiplier-space path) ----------------------

PROGRAMS = ("offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi")


def _offsite_rate_case(tmp_path: Path, rate: str) -> Path:
    """A 3,000-SKU catalogue with offsite's help-sell rate at `rate` (the group cap lifted, so
    a high rate moves SKUs out of offsite through the margin rule)."""
    path = generate(3000, None, 8, tmp_path / f"rate-{rate}")
    text = path.read_text(encoding="utf-8").replace("time_limit_s: 60", "time_limit_s: 10")
    text += "\nfees:\n  help_sell_commission: {cap: 0.5}\nprograms:\n"
    text += "".join(f"  {p}: {{}}\n" for p in PROGRAMS if p != "offsite")
    text += f"  offsite: {{fees: {{help_sell_commission: {rate}}}}}\n"
    path.write_text(text, encoding="utf-8")
    return path


def _problem_of(path: Path) -> tuple[Problem, Any]:
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    return build_problem(scenario, rulebook, catalogue,
                         evaluate_rules(rulebook, scenario.merchant, catalogue)), scenario.solver


def _pv_keys(pb: Problem, skus: set[int]) -> set[tuple[int, int, tuple[int, ...]]]:
    """(SKU, program, hub pattern) of the SKUs' pair-variants."""
    return {(s, k, tuple(h)) for s, k, h in zip(pb.pv_sku.tolist(), pb.pv_prog.tolist(),
                                                 pb.pv_hub.tolist(), strict=True) if s in skus}


@pytest.fixture
def large_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)


@pytest.mark.usefixtures("large_path")
def test_carried_columns_are_valid_choices_of_the_new_problem(tmp_path: Path) -> None:
    before, config = _problem_of(_offsite_rate_case(tmp_path, "0.01"))
    after, _ = _problem_of(_offsite_rate_case(tmp_path, "0.25"))
    first = solve(before, config)
    cols = first.columns
    assert cols is not None and cols.size > 0
    pv, price, col, col_offer = import_columns(after, cols)
    assert 0 < col_offer.size < cols.size
    # the fee change moved SKUs out of offsite: some offers changed, and none of their columns
    # came over; checked here on the pair-variants and eligibility themselves, not the hash
    changed = offer_signature(before) != offer_signature(after)
    assert changed.any() and not changed[col_offer].any()
    for offer in np.unique(col_offer).tolist():
        skus = set(np.flatnonzero(after.sku_offer == offer).tolist())
        assert _pv_keys(before, skus) == _pv_keys(after, skus)
        rows = sorted(skus)
        assert np.array_equal(before.eligible[rows], after.eligible[rows])
    # every row a price of the new problem's interval, on its lattice; every SKU within stock
    assert (after.pv_lo[pv] <= price).all() and (price <= after.pv_hi[pv]).all()
    assert (price % after.step == 0).all()
    used: dict[tuple[int, int], float] = {}
    for c, p, u in zip(col.tolist(), pv.tolist(), after.units(pv, price).tolist(), strict=True):
        key = (c, int(after.pv_sku[p]))
        used[key] = used.get(key, 0.0) + u
    assert all(u <= after.avail[s] * (1 + 1e-9) + 1e-9 for (_, s), u in used.items())
    # each column's rows lie in the offer it is filed under
    assert np.array_equal(after.sku_offer[after.pv_sku[pv]], col_offer[col])


@pytest.mark.usefixtures("large_path")
def test_carried_columns_over_stock_are_dropped(tmp_path: Path) -> None:
    before, config = _problem_of(_offsite_rate_case(tmp_path, "0.01"))
    first = solve(before, config)
    assert first.columns is not None
    short = dataclasses.replace(before, avail=before.avail * 0.3)  # e.g. more reserve days
    pv, price, col, _ = import_columns(short, first.columns)
    kept: dict[tuple[int, int], float] = {}
    for k, p, u in zip(col.tolist(), pv.tolist(), short.units(pv, price).tolist(), strict=True):
        kept[(k, int(short.pv_sku[p]))] = kept.get((k, int(short.pv_sku[p])), 0.0) + u
    assert all(u <= short.avail[s] * (1 + 1e-9) + 1e-9 for (_, s), u in kept.items())
    # the reference: a column stays when each of its SKUs' units fit the lower stock
    c = first.columns
    fits: dict[int, bool] = {}
    where = {(s, k): i for i, (s, k) in enumerate(zip(before.pv_sku.tolist(),
                                                      kinds(before)[0].tolist(), strict=True))}
    at = np.array([where[(s, k)] for s, k in zip(c.sku.tolist(), c.kind.tolist(), strict=True)])
    units = before.units(at, c.price)
    per: dict[tuple[int, int], float] = {}
    for k, s, u in zip(c.col.tolist(), c.sku.tolist(), units.tolist(), strict=True):
        per[(k, s)] = per.get((k, s), 0.0) + u
    for (k, s), u in per.items():
        fits[k] = fits.get(k, True) and u <= short.avail[s] * (1 + 1e-9) + 1e-9
    expected = sum(fits.values())
    assert 0 < expected < c.size
    assert int(col.max()) + 1 == expected


@pytest.mark.usefixtures("large_path")
def test_warm_start_with_columns_gives_an_audited_plan(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The next point of a sweep, started from the previous one's multipliers and columns: the
    plan passes the auditor, and warm and cold solves bound each other."""
    before_path = _offsite_rate_case(tmp_path, "0.01")
    after_path = _offsite_rate_case(tmp_path, "0.25")
    before, config = _problem_of(before_path)
    after, _ = _problem_of(after_path)
    start = solve(before, config).warm_start
    assert start is not None and start.columns is not None
    cold = solve(after, config)

    def warm_solve(pb: Problem, cfg: Any, **kw: Any) -> Result:
        return solve(pb, cfg, warm=start, **kw)

    monkeypatch.setattr(pipeline, "solve", warm_solve)
    outcome, plan, _ = solve_case(after_path, tmp_path / "warm-out")  # audited
    warm = outcome.result
    assert plan and warm.stats.cg_rounds is not None and cold.stats.cg_rounds is not None
    assert warm.stats.cg_rounds <= cold.stats.cg_rounds
    _agree(cold, warm)


@pytest.mark.usefixtures("large_path")
def test_warm_start_from_itself_settles_in_one_pricing(tmp_path: Path) -> None:
    pb, config = _problem_of(_offsite_rate_case(tmp_path, "0.01"))
    cold = solve(pb, config)
    warm = solve(pb, config, warm=cold.warm_start)
    # one pricing, at the multipliers it starts from: its own columns make the model exact there
    assert warm.stats.cg_rounds is not None and cold.stats.cg_rounds is not None
    assert warm.stats.cg_rounds <= 1 < cold.stats.cg_rounds
    _agree(cold, warm)


def test_columns_of_another_catalogue_are_ignored(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(solve_module, "LARGE_OFFERS", 0)
    big, config = _problem_of(_offsite_rate_case(tmp_path, "0.01"))
    small = _problem(tmp_path, 500, 3)
    alien = solve(big, config).columns
    assert alien is not None and alien.size > 0
    assert import_columns(small.pb, alien)[3].size == 0
