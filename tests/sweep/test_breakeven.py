"""Break-even: the bisection logic against known curves, the per-SKU rates against brute force
(eligibility of every SKU x program re-scored at every rate of a fine grid), and end to end."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from optimizer.cli import sweep_exit_code
from optimizer.load import load_catalogue, load_scenario
from optimizer.rules.eligibility import evaluate_rules
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.problem import build_problem
from optimizer.sweep import run_sweep
from optimizer.sweep.breakeven import (
    Margins,
    fee_curves,
    program_breakeven,
    sku_breakeven,
)
from optimizer.sweep.grid import Base, build_axes, point_inputs
from tests.helpers import audited_sweep, sku, write_case

D = Decimal


def _curve_evaluate(zero_from: dict[str, Decimal], calls: list[list[Decimal]]):  # type: ignore[no-untyped-def]
    """Margins of a fake sweep: program p pays 100 fen below zero_from[p], nothing from it."""

    def margins(x: Decimal) -> Margins:
        return {p: (100 if x < z else 0) for p, z in zero_from.items()}

    def evaluate(asks: list[tuple[Decimal, Decimal]]) -> dict[Decimal, Margins]:
        calls.append([x for x, _ in asks])
        return {x: margins(x) for x, _ in asks}

    return margins, evaluate


def test_bisection_to_a_ten_thousandth() -> None:
    zero = {"a": D("0.01234"), "b": D("0.05"), "c": D("0.2"), "d": D("0")}
    grid = [D("0"), D("0.02"), D("0.04"), D("0.06"), D("0.08"), D("0.1")]
    calls: list[list[Decimal]] = []
    margins, evaluate = _curve_evaluate(zero, calls)
    got = program_breakeven(list(zero), grid, [margins(x) for x in grid], evaluate)
    a, b = got["a"], got["b"]
    assert a is not None and b is not None
    assert zero["a"] <= a <= zero["a"] + D("0.0001")
    assert zero["b"] <= b <= zero["b"] + D("0.0001")
    assert got["c"] is None  # positive over the whole grid: no crossing in range
    assert got["d"] is None  # zero from the first point: no crossing in range
    assert all(len(round_) <= 2 for round_ in calls)  # a and b bisect together, one round each


def test_points_without_a_plan_are_skipped_when_bracketing() -> None:
    grid = [D("0"), D("0.1"), D("0.2")]
    margins: list[Margins] = [{"a": 5}, None, {"a": 0}]
    got = program_breakeven(["a"], grid, margins,
                            lambda asks: {x: {"a": 5 if x < D("0.15") else 0} for x, _ in asks})
    value = got["a"]
    assert value is not None and D("0.15") <= value <= D("0.1501")


# ---------------------------------------------------------------------------------- per SKU

# Margins from thick to nothing, shipping that only free-shipping programs pay, a min_price_30d
# cap that binds offsite, a price that cannot even pay at rate 0.
ROWS = [sku(sku_id=f"S{i}", offer_id=f"O{i}", market_price=m, min_price_30d=low,
            unit_cost=c, shipping_cost=s)
        for i, (m, low, c, s) in enumerate([
            ("10.00", "9.00", "5.00", "0.00"), ("10.00", "8.00", "7.90", "0.10"),
            ("12.34", "12.00", "10.00", "0.50"), ("3.00", "2.50", "2.40", "0.00"),
            ("50.00", "49.00", "44.90", "0.00"), ("8.00", "7.00", "7.50", "0.00"),
            ("20.00", "19.99", "17.10", "0.00"), ("1.00", "1.00", "0.00", "0.00")])]


def _brute(case: Path, text: str, step: Fraction) -> dict[tuple[int, int], Fraction | None]:
    """Highest rate on the grid 0, step, .. 1 at which each SKU x program is eligible."""
    scenario, source = load_scenario(case)
    cat = load_catalogue(case.parent / scenario.catalogue)
    base = Base.read(scenario, source)
    (ax,) = build_axes(base, [text])
    outcome = evaluate_rules(build_rulebook(scenario, source), scenario.merchant, cat)
    best: dict[tuple[int, int], Fraction | None] = {}
    x = Fraction(0)
    while x <= 1:
        at_scenario, at_rulebook = point_inputs(base, [ax], [D(x.numerator) / x.denominator])
        pb = build_problem(at_scenario, at_rulebook, cat, outcome)
        for s in range(cat.n):
            for k in range(len(pb.programs)):
                best.setdefault((s, k), None)
                if pb.eligible[s, k]:
                    best[(s, k)] = x
        x += step
    return best


@pytest.mark.parametrize("text, min_rate", [
    ("programs.aliexpress_semi.fees.marketplace_commission=0:0.5:3", 0),
    ("programs.offsite.fees.help_sell_commission=0:0.05:3", 0),
    ("fees.help_sell_commission.cap=0:0.05:3", 0),
    ("programs.yanxuan.fees.tech_service=0:0.05:3", 0.05),
])
def test_per_sku_rates_equal_brute_force(tmp_path: Path, text: str, min_rate: float) -> None:
    step = Fraction(1, 400)
    case = write_case(tmp_path / "case", ROWS,
                      constraints={"min_unit_margin_rate": min_rate})
    scenario, source = load_scenario(case)
    cat = load_catalogue(case.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    base = Base.read(scenario, source)
    (ax,) = build_axes(base, [text])
    outcome = evaluate_rules(rulebook, scenario.merchant, cat)
    curves = fee_curves(rulebook, lambda x: point_inputs(base, [ax], [x])[1])
    got = sku_breakeven(scenario, rulebook, cat, outcome, curves)
    brute = _brute(case, text, step)
    seen = set()
    statuses = set()
    for s, k, status, micro in zip(got.sku.tolist(), got.program.tolist(), got.status.tolist(),
                                   got.rate_micro.tolist(), strict=True):
        seen.add((s, k))
        statuses.add(status)
        expected = brute[(s, k)]
        if status == "never":
            assert expected == 1, (s, k)
        elif status == "excluded":
            assert expected is None, (s, k)
        else:
            rate = Fraction(micro, 10**6)
            assert 0 <= rate < 1
            # the brute grid's last eligible rate is the exact rate rounded down to the grid
            assert expected == (rate // step) * step, (s, k, rate, expected)
    varying = [k for k, pid in enumerate(got.programs) if curves[pid].varies]
    assert varying  # the parameter moves some program's fee
    for s in range(cat.n):  # every pair passing the rules, in a program the parameter moves
        for k in varying:
            assert ((s, k) in seen) == bool(outcome.ok[s, k])
    assert "leaves" in statuses


COMMISSION = "programs.aliexpress_semi.fees.marketplace_commission"


def _one_sku_aliexpress(tmp_path: Path) -> Path:
    """One SKU, AliExpress only: price at the 1.00 x market cap 10.00, cost 7.00."""
    return write_case(tmp_path / "case",
                      [sku(sku_id="S1", market_price="10.00", min_price_30d="10.00",
                           unit_cost="7.00")],
                      programs={"aliexpress_semi": {}})


def test_breakeven_end_to_end(tmp_path: Path) -> None:
    """One SKU, AliExpress only: its margin is zero from a marketplace commission of
    1 - cost / price = 0.3 (price at the 1.00 x market cap, 10.00, cost 7.00)."""
    case = _one_sku_aliexpress(tmp_path)
    path = COMMISSION
    out = tmp_path / "out"
    outcome = audited_sweep(case, [f"{path}=0:0.5:6"], out, breakeven=True, per_sku=True)
    assert sweep_exit_code(outcome) == 0
    value = outcome.breakeven and outcome.breakeven["aliexpress_semi"]
    assert value is not None and D("0.3") <= value <= D("0.3001"), value
    doc = json.loads((out / "sweep.json").read_text("utf-8"))
    assert doc["breakeven"] == {"path": path, "programs": {"aliexpress_semi": float(value)}}
    with (out / "breakeven.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{"sku_id": "S1", "program": "aliexpress_semi", "status": "leaves",
                     path: "0.3"}]


def test_a_sweep_without_per_sku_removes_an_earlier_breakeven_csv(tmp_path: Path) -> None:
    """breakeven.csv beside a new sweep.json would be an earlier sweep's (the report would show
    its per-SKU rates as this sweep's): a sweep that writes none removes it."""
    case = _one_sku_aliexpress(tmp_path)
    path = COMMISSION
    out = tmp_path / "out"
    run_sweep(case, [f"{path}=0:0.5:3"], out, breakeven=True, per_sku=True, workers=1)
    assert (out / "breakeven.csv").is_file()
    again = run_sweep(case, [f"{path}=0:0.2:3"], out, workers=1)
    assert sweep_exit_code(again) == 0
    assert sorted(p.name for p in out.iterdir()) == [".enroll-opt-run.json", "sweep.csv",
                                                     "sweep.json"]
