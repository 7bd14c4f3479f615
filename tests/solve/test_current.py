"""Today's enrollments in the solver (SPEC 6.1): continuing at today's price sells the whole
horizon, a new or changed enrollment waits for review; no_exit rows are in every plan;
fixed_until_exit offers keep all their rows or leave. Numbers by hand, on one- and two-SKU cases
(the brute force pits the solver against random ones in test_current_brute.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optimizer.load import load_catalogue, load_scenario
from optimizer.load.current import Current
from optimizer.pipeline import explain_locked
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.problem import KEEP_OF_FIXED, Problem, build_problem
from optimizer.solve import INFEASIBLE, OPTIMAL, Result, solve
from tests.helpers import sku, spec_margin, write_case

# elasticity < 1: margin rises with the price, so a new enrollment's best price is its cap
INELASTIC = "0.5"


def _problem(path: Path, rows: list[tuple[int, str, int]]) -> tuple[Problem, Any]:
    scenario, source = load_scenario(path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    outcome = evaluate_rules(rulebook, scenario.merchant, catalogue)
    current = Current(np.array([s for s, _, _ in rows], np.int64),
                      np.array([k for _, k, _ in rows]),
                      np.array([p for _, _, p in rows], np.int64),
                      np.arange(len(rows), dtype=np.int64) + 2)
    return build_problem(scenario, rulebook, catalogue, outcome, current), scenario


def _rows(pb: Problem, result: Result) -> dict[tuple[int, str], tuple[int, bool]]:
    """(SKU, program) -> (price, continuing) of a plan."""
    return {(int(pb.pv_sku[v]), pb.programs[int(pb.pv_prog[v])]):
            (int(p), bool(pb.pv_keep_price[v] == p)) for v, p in
            zip(result.pv.tolist(), result.price.tolist(), strict=True)}


def test_without_current_rows_nothing_is_kept(tmp_path: Path) -> None:
    path = write_case(tmp_path, [sku(), sku()])
    pb, _ = _problem(path, [])
    assert not pb.pv_keep_price.any() and not pb.force.any() and not pb.keep_cell.any()
    assert (pb.pv_full >= pb.pv_demand).all()


@pytest.mark.parametrize(("today", "kept"), [("9.30", True), ("6.00", False)])
def test_a_free_row_is_kept_when_the_whole_horizon_pays_more(
        tmp_path: Path, today: str, kept: bool) -> None:
    """crossborder (commitment none, review 3 of 30 days): continuing at today's price sells 30
    days, repricing to the cap 9.50 sells 27: at 9.30 the three more days win, at 6.00 the new
    price does."""
    row = sku(market_price="10.00", min_price_30d="10.00", unit_cost="4.50", elasticity=INELASTIC)
    path = write_case(tmp_path, [row], programs={"crossborder": {}})
    fen = int(Fraction(today) * 100)
    pb, _ = _problem(path, [(0, "crossborder", fen)])
    result = solve(pb, load_scenario(path)[0].solver)
    assert result.status == OPTIMAL
    fee = Fraction(56, 1000)  # tech service + crossborder's own commission
    keep = spec_margin("crossborder", row, fen, fee) * 30 / 27  # helpers sell the review's days
    new = spec_margin("crossborder", row, 950, fee)
    assert (keep > new) == kept
    price, continuing = _rows(pb, result)[(0, "crossborder")]
    assert continuing == kept
    assert price == (fen if kept else 950)
    assert result.objective == pytest.approx(max(keep, new), rel=1e-9)


def test_a_no_exit_row_stays_whatever_rule_it_now_breaks(tmp_path: Path) -> None:
    """yanxuan is no_exit: S1's growth score fell under 60 and its price is over today's cap,
    yet it stays at today's price; S2 (its own offer, free to choose) is not forced in."""
    rows = [sku(growth_score=50, market_price="10.00"), sku(market_price="10.00")]
    path = write_case(tmp_path, rows, programs={"yanxuan": {}})
    pb, scenario = _problem(path, [(0, "yanxuan", 990)])
    assert pb.force[0, 0] and pb.eligible[0, 0]
    result = solve(pb, scenario.solver)
    plan = _rows(pb, result)
    assert plan[(0, "yanxuan")] == (990, True)
    assert result.status == OPTIMAL


def test_locked_rows_over_a_slot_limit_are_infeasible_with_the_numbers(tmp_path: Path) -> None:
    rows = [sku(offer_id="O1"), sku(offer_id="O2"), sku(offer_id="O3")]
    path = write_case(tmp_path, rows, programs={"huopin": {}},
                      constraints={"max_skus": {"huopin": 2}})
    pb, scenario = _problem(path, [(s, "huopin", 500) for s in range(3)])
    result = solve(pb, scenario.solver)
    assert result.status == INFEASIBLE
    assert explain_locked(pb) == ("today's no_exit enrollments cannot leave, and alone they "
                                  "break max_skus.huopin: 3 SKUs locked > 2 (3 locked rows)")


def test_a_fixed_offer_keeps_every_row_or_leaves(tmp_path: Path) -> None:
    """offsite is fixed_until_exit. Offer O1's two rows today: kept together (30 days each at
    today's price) or both gone (re-registered, 23 days at any price). With today's prices near
    the cap keeping wins; when one of them now breaks the 30-day cap, keeping is impossible and
    both are new."""
    base = {"offer_id": "O1", "market_price": "10.00", "min_price_30d": "10.00",
            "unit_cost": "3.00", "elasticity": INELASTIC}
    path = write_case(tmp_path, [sku(**base), sku(**base)], programs={"offsite": {}})
    pb, scenario = _problem(path, [(0, "offsite", 890), (1, "offsite", 880)])
    assert pb.keep_cell[:, 0].all() and (pb.pv_mode == KEEP_OF_FIXED).sum() == 2
    plan = _rows(pb, solve(pb, scenario.solver))
    assert plan == {(0, "offsite"): (890, True), (1, "offsite"): (880, True)}

    low = {**base, "min_price_30d": "8.85"}  # 8.90 now breaks price < min_price_30d
    path = write_case(tmp_path / "low", [sku(**low), sku(**base)], programs={"offsite": {}})
    pb, scenario = _problem(path, [(0, "offsite", 890), (1, "offsite", 880)])
    plan = _rows(pb, solve(pb, scenario.solver))
    assert plan == {(0, "offsite"): (884, False), (1, "offsite"): (899, False)}
    assert pb.keeps_commitments(np.flatnonzero(pb.pv_mode == KEEP_OF_FIXED)) is False


def test_a_locked_row_at_a_loss_is_a_plan_not_infeasible(tmp_path: Path) -> None:
    """huopin is no_exit: today's price 3.00 is under the unit cost 4.00, so the only plan loses
    money. A negative bound is not a proof of infeasibility when no plan can be empty."""
    row = sku(market_price="10.00", unit_cost="4.00")
    path = write_case(tmp_path, [row], programs={"huopin": {}})
    pb, scenario = _problem(path, [(0, "huopin", 300)])
    assert pb.margin_floor < 0
    result = solve(pb, scenario.solver)
    assert result.status == OPTIMAL
    assert _rows(pb, result) == {(0, "huopin"): (300, True)}
    units = float(pb.pv_full[0]) * (300 / 1000) ** -float(pb.pv_elast[0])
    assert result.objective == pytest.approx(units * (3.00 * (1 - 0.006) - 4.00), rel=1e-9)
