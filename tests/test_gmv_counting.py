"""The 通天 GMV target as 1688 counts it (SPEC 2.1, 3): merchant.baseline_gmv + units x price over
the enrollments of programs with counts_toward_gmv. AliExpress orders are not 1688 trades and do
not count; the shop's ordinary sales outside the programs (the baseline) do.

Tiny cases in huopin (counts) and aliexpress_semi (does not), solved end to end (every plan goes
through the independent auditor, tests/helpers.solve_case) and checked against the brute force
(tests/reference/brute.py, its own arithmetic). Counting revenue is totalled from plan.csv rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from optimizer.cli import solve_exit_code
from optimizer.load import load_catalogue, load_scenario
from optimizer.load.errors import InputError
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.problem import build_problem
from optimizer.score.rows import GMV_MIN, GlobalRows
from tests.helpers import MERCHANT, Row, close_to, sku, solve_case, write_case
from tests.reference.brute import brute_force_optimum

# Two SKUs that qualify for both programs; elasticity 2 > 1, so a lower price sells more revenue
ROWS = [sku(market_price="10.00", min_price_30d="10.00", unit_cost="3.00", daily_units=2,
            stock=100000, offer_id="O1"),
        sku(market_price="8.00", min_price_30d="8.00", unit_cost="2.00", daily_units=3,
            stock=100000, offer_id="O2")]
BOTH = {"huopin": {}, "aliexpress_semi": {}}
# SPEC 3: counts_toward_gmv, sets_min_price, review_days, commitment of each program
SPEC_TABLE = {"offsite": (True, False, 7, "fixed_until_exit"),
              "yanxuan": (True, True, 0, "no_exit"), "huopin": (True, True, 0, "no_exit"),
              "crossborder": (True, False, 3, "none"), "aliexpress_semi": (False, False, 0, "none")}


def case(folder: Path, *, gmv_min: float | None = None, baseline: float | None = None,
         programs: dict[str, Any] | None = None) -> Path:
    merchant = {**MERCHANT, **({"baseline_gmv": baseline} if baseline is not None else {})}
    constraints = {"gmv_min": gmv_min} if gmv_min is not None else {}
    return write_case(folder, ROWS, programs=programs or BOTH, price_step=0.5,
                      merchant=merchant, constraints=constraints)


def counted(plan: list[Row]) -> float:
    """Yuan of the plan's rows in programs whose orders count (SPEC 3: not aliexpress_semi)."""
    return sum(float(r["revenue"]) for r in plan if r["program"] != "aliexpress_semi")


def solved(path: Path) -> tuple[float, list[Row], dict[str, Any]]:
    """(objective, plan rows, summary.json) of an OPTIMAL solve that the brute force agrees with."""
    outcome, plan, _ = solve_case(path)
    assert outcome.result.status == "OPTIMAL", outcome.text
    brute = brute_force_optimum(path)
    assert brute is not None
    assert close_to(outcome.result.objective, brute[0]), (outcome.result.objective, brute)
    summary = json.loads((path.parent / "out" / "summary.json").read_text(encoding="utf-8"))
    return outcome.result.objective, plan, summary


@pytest.fixture(scope="module")
def free(tmp_path_factory: pytest.TempPathFactory) -> tuple[float, list[Row]]:
    """The margin optimum without a GMV target: both programs, both SKUs."""
    objective, plan, _ = solved(case(tmp_path_factory.mktemp("free")))
    assert {r["program"] for r in plan} == set(BOTH)
    return objective, plan


def test_aliexpress_revenue_alone_never_meets_the_target(tmp_path: Path,
                                                          free: tuple[float, list[Row]]) -> None:
    """Only aliexpress_semi in scope: its revenue would meet a 1-yuan target many times over,
    but it does not count, so no plan meets it: INFEASIBLE (exit 3), the brute force agrees,
    and the explanation says no eligible plan brings any counting GMV."""
    ali = sum(float(r["revenue"]) for r in free[1] if r["program"] == "aliexpress_semi")
    assert ali > 100
    path = case(tmp_path, gmv_min=1, programs={"aliexpress_semi": {}})
    outcome, plan, _ = solve_case(path)
    assert outcome.result.status == "INFEASIBLE", outcome.text
    assert solve_exit_code(outcome.status) == 3
    assert plan == []
    assert brute_force_optimum(path) is None
    assert "gmv_min 1.00 is above the most GMV any eligible plan reaches: at most 0.00" \
        in outcome.text


def test_aliexpress_revenue_does_not_help_the_target(tmp_path: Path,
                                                     free: tuple[float, list[Row]]) -> None:
    """A target that the free plan meets only with its AliExpress revenue: the plan must sell
    more in huopin (lower prices, less margin), brute force agreeing; summary.json's gmv_min
    value is the counting revenue, not the total."""
    free_obj, free_plan = free
    huopin = counted(free_plan)
    total = sum(float(r["revenue"]) for r in free_plan)
    target = round(huopin + (total - huopin) / 4, 2)  # free plan: met with AliExpress only
    assert huopin < target < total
    objective, plan, summary = solved(case(tmp_path, gmv_min=target))
    assert objective < free_obj - 0.01
    assert counted(plan) >= target - 0.01
    assert summary["constraints"][GMV_MIN]["value"] == pytest.approx(counted(plan), abs=0.011)
    assert summary["constraints"][GMV_MIN]["limit"] == target


def test_baseline_that_meets_the_target_leaves_no_row(tmp_path: Path,
                                                      free: tuple[float, list[Row]]) -> None:
    """baseline_gmv >= gmv_min: no GMV row binds (the problem's GlobalRows has none), the plan is
    the free optimum, and summary.json's value is baseline + counting revenue."""
    free_obj, _ = free
    target = 50000.0
    path = case(tmp_path, gmv_min=target, baseline=target)
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(path.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    pb = build_problem(scenario, rulebook, catalogue,
                       evaluate_rules(rulebook, scenario.merchant, catalogue))
    rows = GlobalRows.of(pb)
    assert not rows.has_gmv and GMV_MIN not in rows.names() and rows.as_leq()[0].size == 0
    assert pb.gmv_min == 0.0
    objective, plan, summary = solved(path)
    assert close_to(objective, free_obj)
    assert summary["constraints"][GMV_MIN]["value"] == pytest.approx(target + counted(plan),
                                                                     abs=0.011)


def test_baseline_closes_part_of_the_gap(tmp_path: Path, free: tuple[float, list[Row]]) -> None:
    """A target above what the free plan's huopin sells: without a baseline the plan pays for all
    of the gap; a baseline of half the gap leaves the programs less to bring, so the plan keeps
    more margin and sells less counting revenue (still at least gmv_min - baseline)."""
    free_obj, free_plan = free
    huopin = counted(free_plan)
    target = round(huopin * 1.3, 2)
    baseline = round((target - huopin) / 2, 2)
    none_obj, none_plan, _ = solved(case(tmp_path / "none", gmv_min=target))
    part_obj, part_plan, summary = solved(case(tmp_path / "part", gmv_min=target,
                                               baseline=baseline))
    assert none_obj < part_obj - 0.01 and part_obj < free_obj - 0.01
    assert counted(none_plan) >= target - 0.01
    assert target - baseline - 0.01 <= counted(part_plan) < counted(none_plan) - 0.01
    assert summary["constraints"][GMV_MIN]["value"] == pytest.approx(
        baseline + counted(part_plan), abs=0.011)


def test_rulebook_states_the_spec_table(tmp_path: Path) -> None:
    """SPEC 3's table, as the built-in 1688-2024 rulebook states it for every program."""
    path = case(tmp_path, programs={k: {} for k in SPEC_TABLE})
    scenario, source = load_scenario(path)
    rulebook = build_rulebook(scenario, source)
    got = {pid: (p.counts_toward_gmv, p.sets_min_price, p.review_days, p.commitment)
           for pid, p in rulebook.programs.items()}
    assert got == SPEC_TABLE


def test_counts_toward_gmv_is_overridable_per_program(tmp_path: Path) -> None:
    """A scenario may say a program's orders count (like any other program field): AliExpress
    counted, the 1-yuan target that had no plan is met; a bad value is refused naming the
    field."""
    path = case(tmp_path / "ok", gmv_min=1,
                programs={"aliexpress_semi": {"counts_toward_gmv": True, "review_days": 2}})
    scenario, source = load_scenario(path)
    assert build_rulebook(scenario, source).programs["aliexpress_semi"].review_days == 2
    _, plan, summary = solved(path)
    assert plan and {r["program"] for r in plan} == {"aliexpress_semi"}
    total = sum(float(r["revenue"]) for r in plan)
    assert summary["constraints"][GMV_MIN]["value"] == pytest.approx(total, abs=0.011)
    bad = case(tmp_path / "bad", programs={"huopin": {"commitment": "forever"}})
    scenario, source = load_scenario(bad)
    with pytest.raises(InputError) as err:
        build_rulebook(scenario, source)
    assert "programs.huopin.commitment" in str(err.value)
