"""Property tests: random tiny instances against the brute force, and the exact price arithmetic.

Instances are small enough for tests/reference/brute.py (<= 4 SKUs over <= 2 offers, 2-3
programs, price_step 0.5 or 1.0, market prices 1-6 yuan: at most 12 lattice prices a pair),
with rule fields drawn at and around their thresholds so that eligibility varies. Hypothesis
is derandomized so CI sees the same examples every run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.cli import solve_exit_code
from optimizer.load import load_catalogue, load_scenario
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.problem import cap_hi, margin_lo
from tests.helpers import (
    close_to,
    fen,
    keeps_margin,
    solve_case,
    spec_cap_ok,
    spec_fee,
    spec_top_price,
    write_case,
)
from tests.reference.brute import brute_force_optimum

ALL = ("offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi")
PROPERTY = settings(deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def yuan(fen_: int) -> str:
    return f"{fen_ // 100}.{fen_ % 100:02d}"


# ---------------------------------------------------------------------------------------------
# Strategies

# Per column: values that pass every rule (edges included), and values that break one.
PASSING: dict[str, list[Any]] = {
    "category": ["consumer", "industrial"], "dropship": ["true"], "return_7day": ["true"],
    "ship_hours": [24, 48], "growth_score": [60, 80], "stock": [200, 400, 5000],
    "pickup_rate_48h": ["0.9", "0.95"], "moq": [1, 2], "alipay_guarantee": ["true"],
    "listed_days": [30, 365],
    "sales_last_month": [10, 100],
}
BREAKING: dict[str, list[Any]] = {
    "category": ["other"], "dropship": ["false"], "return_7day": ["false"],
    "ship_hours": [49, 72, 73], "growth_score": [59], "stock": [0, 60, 199],
    "pickup_rate_48h": ["0.89"], "moq": [3], "alipay_guarantee": ["false"], "listed_days": [31],
    "sales_last_month": [11],
}
OFFER_LEVEL = ("growth_score", "pickup_rate_48h", "listed_days", "sales_last_month")
MERCHANT_VARIANTS: list[dict[str, Any]] = [
    {}, {}, {}, {}, {}, {"l_level": 1}, {"membership": "none"},
    {"l_level": 1, "membership": "shili"}, {"service_star": 3.4}, {"trade_medal": 0},
    {"buyer_protection_deposit": 2999},
]


@st.composite
def sku_rows(draw: st.DrawFn, elasticity: str | None) -> dict[str, Any]:
    market = draw(st.integers(100, 600))
    row: dict[str, Any] = {
        "offer_id": draw(st.sampled_from(["O1", "O2"])),
        "market_price": yuan(market),
        "min_price_30d": yuan(draw(st.integers(max(50, market // 2), market + 100))),
        "unit_cost": yuan(draw(st.integers(0, market * 9 // 10))),
        "shipping_cost": yuan(draw(st.sampled_from([0, 20, 50]))),
        "daily_units": draw(st.sampled_from(["0", "0.5", "2", "2", "5", "12.5"])),
    }
    for column, values in PASSING.items():
        row[column] = draw(st.sampled_from(values))
    for column in draw(st.lists(st.sampled_from(sorted(BREAKING)), max_size=1)):
        row[column] = draw(st.sampled_from(BREAKING[column]))
    if elasticity is not None:
        row["elasticity"] = elasticity
    return row


def one_value_per_offer(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SPEC 2.2: offer-level fields are the offer's: every row takes its offer's first value."""
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        row.update({c: first.setdefault(row["offer_id"], row)[c] for c in OFFER_LEVEL})
    return rows


@st.composite
def instances(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(catalogue rows, scenario overrides) of a tiny random scenario."""
    elasticity = draw(st.sampled_from([None, None, "0.5", "1.5", "2.5"]))
    rows = one_value_per_offer(draw(st.lists(sku_rows(elasticity), min_size=1, max_size=4)))
    programs = draw(st.lists(st.sampled_from(ALL), min_size=2, max_size=3, unique=True))
    sometimes = st.sampled_from([False, False, True])
    constraints: dict[str, Any] = {}
    if draw(sometimes):
        constraints["max_skus"] = {draw(st.sampled_from(programs)): draw(st.integers(0, 3))}
    if draw(sometimes):
        constraints["discount_budget"] = draw(st.integers(0, 1000))
    if draw(sometimes):
        constraints["gmv_min"] = draw(st.integers(0, 1500))
    if draw(sometimes):
        constraints["stock_reserve_days"] = draw(st.sampled_from([0, 5, 20]))
    if draw(sometimes):
        constraints["min_unit_margin_rate"] = draw(st.sampled_from([0.0, 0.1, 0.3]))
    overrides = {
        "merchant": draw(st.sampled_from(MERCHANT_VARIANTS)),
        "programs": {k: {} for k in programs},
        "price_step": draw(st.sampled_from([0.5, 1.0])),
        "constraints": constraints,
    }
    return rows, overrides


def in_tempdir(test: Callable[[Path], None]) -> None:
    """Hypothesis examples cannot use pytest's function-scoped tmp_path."""
    with tempfile.TemporaryDirectory() as folder:
        test(Path(folder))


# ---------------------------------------------------------------------------------------------
# The solver against the brute force


def check_rows_exactly(plan: list[dict[str, str]], rows: list[dict[str, Any]],
                       overrides: dict[str, Any]) -> None:
    """Each plan row on its own, exactly: lattice, caps (strict ones strictly), the fee the
    order pays (SPEC 3 non-stacking) and p*(1-fee) - c >= rate*p in Fractions."""
    step = fen(overrides["price_step"])
    rate = Fraction(str(overrides["constraints"].get("min_unit_margin_rate", 0)))
    by_sku = {f"S{i}": r for i, r in enumerate(rows, start=1)}
    enrolled: dict[str, set[str]] = {}
    for line in plan:
        enrolled.setdefault(line["sku_id"], set()).add(line["program"])
    for line in plan:
        row, program, price = by_sku[line["sku_id"]], line["program"], fen(line["price"])
        assert price >= step and price % step == 0, line
        assert spec_cap_ok(program, row, price), line
        fee = Fraction(line["fee_rate"])
        assert fee == spec_fee(program, enrolled[line["sku_id"]]), line
        assert keeps_margin(program, row, price, fee, rate), line


def solved_as_the_brute_force(path: Path) -> list[dict[str, str]] | None:
    """Solve (audited), and agree with the brute force: OPTIMAL at its optimum (exit 0), or
    INFEASIBLE (exit 3) exactly when it finds no plan. The plan's rows, or None if infeasible."""
    outcome, plan, _ = solve_case(path)  # audits plan and summary
    brute = brute_force_optimum(path)
    status = outcome.result.status
    assert status in ("OPTIMAL", "INFEASIBLE"), outcome.text
    if status == "INFEASIBLE":
        assert solve_exit_code(outcome.status) == 3
        assert brute is None, f"brute force finds {brute[0]:.6f}: {brute[1]}"
        return None
    assert solve_exit_code(outcome.status) == 0
    assert brute is not None, "the brute force finds no plan"
    assert close_to(outcome.result.objective, brute[0]), (
        f"solver {outcome.result.objective:.6f}, brute force {brute[0]:.6f}\n"
        f"solver plan {plan}\nbrute plan {brute[1]}")
    return plan


@settings(PROPERTY, max_examples=40)
@given(instances())
def test_solver_matches_brute_force(case: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    rows, overrides = case

    def run(folder: Path) -> None:
        plan = solved_as_the_brute_force(write_case(folder, rows, **overrides))
        if plan is not None:
            check_rows_exactly(plan, rows, overrides)

    in_tempdir(run)


@st.composite
def gmv_instances(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A tiny scenario where the 通天 rule matters: aliexpress_semi (not counted) beside one or two
    counting programs, a gmv_min always set and a baseline_gmv that may cover none, part or all
    of it (SPEC 2.1)."""
    rows = one_value_per_offer(draw(st.lists(sku_rows(None), min_size=1, max_size=3)))
    others = draw(st.lists(st.sampled_from(ALL[:4]), min_size=1, max_size=2, unique=True))
    constraints: dict[str, Any] = {"gmv_min": draw(st.integers(1, 1500))}
    if draw(st.sampled_from([False, False, True])):
        constraints["discount_budget"] = draw(st.integers(0, 1000))
    overrides = {
        "merchant": {"baseline_gmv": draw(st.sampled_from([0, 0, 100, 400, 1500]))},
        "programs": {k: {} for k in ("aliexpress_semi", *others)},
        "price_step": draw(st.sampled_from([0.5, 1.0])),
        "constraints": constraints,
    }
    return rows, overrides


@settings(PROPERTY, max_examples=25)
@given(gmv_instances())
def test_gmv_rule_matches_brute_force(case: tuple[list[dict[str, Any]], dict[str, Any]]) -> None:
    """The solver and the brute force agree on the GMV as 1688 counts it (baseline + counting
    programs only), and a plan meets it by its counting rows (plan.csv) plus the baseline."""
    rows, overrides = case

    def run(folder: Path) -> None:
        plan = solved_as_the_brute_force(write_case(folder, rows, **overrides))
        if plan is None:
            return
        gmv = overrides["merchant"]["baseline_gmv"] + sum(
            float(r["revenue"]) for r in plan if r["program"] != "aliexpress_semi")
        assert gmv >= overrides["constraints"]["gmv_min"] - 0.01 * (len(plan) + 1)

    in_tempdir(run)


@settings(PROPERTY, max_examples=25)
@given(program=st.sampled_from(ALL), market=st.integers(100, 5000),
       low=st.integers(50, 6000), step=st.sampled_from([0.01, 0.05, 0.1, 0.5]))
def test_inelastic_optimum_sits_on_the_exact_cap(program: str, market: int, low: int,
                                                 step: float) -> None:
    """Demand with elasticity 0.5 makes margin rise with the price: each enrolled SKU sits on
    the highest lattice price under its caps, strict ones strictly."""
    row = {"market_price": yuan(market), "min_price_30d": yuan(low), "unit_cost": "0.00",
           "elasticity": "0.5", "dropship": "true", "return_7day": "true", "ship_hours": 24,
           "growth_score": 80, "pickup_rate_48h": "0.95"}
    top = spec_top_price(program, row, fen(step))

    def run(folder: Path) -> None:
        path = write_case(folder, [row], programs={program: {}}, price_step=step)
        _, plan, _ = solve_case(path)
        if top < fen(step):
            assert plan == []
            return
        assert [r["price"] for r in plan] == [yuan(top)]

    in_tempdir(run)


# ---------------------------------------------------------------------------------------------
# The exact arithmetic of optimizer.score.problem

RATES = ["0", "0.006", "0.016", "0.036", "0.056", "0.08", "0.5", "0.994", "1"]


@settings(PROPERTY, max_examples=200)
@given(cost=st.integers(0, 10**7), fee=st.sampled_from(RATES),
       rate=st.sampled_from(["0", "0.1", "0.33", "0.5", "0.9"]),
       step=st.sampled_from([1, 5, 10, 50, 100]))
def test_margin_lo_is_the_least_lattice_price(cost: int, fee: str, rate: str,
                                              step: int) -> None:
    """margin_lo = the least p in {step, 2 step, ...} with p*(1-fee) - cost >= rate*p."""
    f, r = Fraction(fee), Fraction(rate)
    lo = int(margin_lo(np.array([cost], np.int64), f, r, step)[0])

    def keeps(p: int) -> bool:
        return p * (1 - f) - cost >= r * p

    if 1 - f - r <= 0:  # the slack never grows with the price: step works or nothing does
        assert (lo == step) if keeps(step) else (lo == np.iinfo(np.int64).max)
        return
    assert lo >= step and lo % step == 0
    assert keeps(lo)
    assert lo == step or not keeps(lo - step)


@settings(PROPERTY, max_examples=60)
@given(prices=st.lists(st.tuples(st.integers(1, 100_000), st.integers(1, 100_000)),
                       min_size=1, max_size=5),
       step=st.sampled_from([0.01, 0.02, 0.05, 0.1, 0.5, 1.0]))
def test_cap_hi_is_the_highest_lattice_price(prices: list[tuple[int, int]], step: float) -> None:
    """cap_hi = the highest multiple of the step under every SPEC cap (strict: strictly),
    computed here in Fractions from SPEC.md's ratios, not from the rulebook."""
    rows = [{"market_price": yuan(m), "min_price_30d": yuan(low)} for m, low in prices]
    step_fen = fen(step)

    def run(folder: Path) -> None:
        path = write_case(folder, rows, price_step=step)
        scenario, source = load_scenario(path)
        rulebook = build_rulebook(scenario, source)
        catalogue = load_catalogue(path.parent / "catalogue.csv")
        for program in ALL:
            hi, _ = cap_hi(rulebook, program, catalogue, step_fen)
            for row, got in zip(rows, hi.tolist(), strict=True):
                expected = spec_top_price(program, row, step_fen)
                if expected < step_fen:  # no allowed price at all
                    assert got < step_fen, (program, row, got)
                    continue
                assert got == expected, (program, row, got, expected)
                assert spec_cap_ok(program, row, got)
                assert not spec_cap_ok(program, row, got + step_fen)

    in_tempdir(run)

