"""Rule by rule: each rule of SPEC 3-4 as a trio on tiny catalogues.

* feasible: a SKU that meets the rule (at its edge) is enrolled / the plan honours the rule;
* excluded: breaking the rule keeps the SKU out, with the right `reason` and a `detail` that
  names the field and the numbers;
* optimal: the solver's objective equals a hand computation (every lattice price enumerated,
  tests/helpers.py, from SPEC.md's numbers, not the rulebook file) or the brute-force optimum
  (tests/reference/brute.py) on a tiny lattice.

Every solve goes through helpers.solve_case, which audits plan.csv and summary.json.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from optimizer.audit import semantics as sem
from optimizer.audit.inputs import load_world
from optimizer.cli import solve_exit_code
from optimizer.pipeline import Outcome
from tests.helpers import (
    ZERO,
    Row,
    SolveCase,
    WriteCase,
    best_price,
    best_single_sku,
    close_to,
    excluded_of,
    fen,
    keeps_margin,
    plan_of,
    sku,
    solve_case,
    spec_cap_ok,
    spec_fee,
    spec_margin,
    spec_units,
    write_case,
)
from tests.reference.brute import brute_force_optimum

ALL = ("offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
INELASTIC = "0.5"  # elasticity < 1: margin rises with the price, the optimum sits at the cap

Solved = tuple[Outcome, list[Row], list[Row]]


def assert_detail(detail: str, field: str, *shown: Any) -> None:
    """The detail names the field, and each number (compared as a number) or word."""
    assert field in detail, detail
    numbers = {Fraction(x) for x in NUMBER.findall(detail)}
    for item in shown:
        if isinstance(item, str) and not NUMBER.fullmatch(item):
            assert item in detail, f"{item!r} not in {detail!r}"
        else:
            assert Fraction(str(item)) in numbers, f"{item} not in {detail!r}"


def assert_brute_optimum(outcome: Outcome, scenario: Path) -> None:
    """The solver proved optimality and its objective is the exhaustive optimum."""
    brute = brute_force_optimum(scenario)
    assert brute is not None
    assert outcome.result.status == "OPTIMAL"
    assert close_to(outcome.result.objective, brute[0]), (outcome.result.objective, brute)


def row_fee(row: Row) -> Fraction:
    return Fraction(row["fee_rate"])


# =============================================================================================
# Merchant rules


# 严选's disqualifiers (SPEC 3, seed 001 四.8-15): each must be false
YANXUAN_FLAGS = ("fake_trading_3m", "ip_infringement", "compliance_violation",
                 "infringing_goods_penalty", "court_dishonest", "finance_overdue")
# (program, merchant override that breaks one rule, field, what the detail shows)
MERCHANT_BREAKS = [
    ("offsite", {"main_industry": "other"}, "main_industry", ("other",)),
    ("offsite", {"l_level": 1}, "l_level", (1, 2)),
    ("offsite", {"service_star": 3.4}, "service_star", (3.4, 3.5)),
    ("offsite", {"logistics_score": 2.9}, "logistics_score", (2.9, 3)),
    ("offsite", {"product_experience_score": 1.9}, "product_experience_score", (1.9, 2)),
    ("yanxuan", {"l_level": 1}, "l_level", (1, 2)),  # any_of: membership is not shili either
    ("yanxuan", {"membership": "none"}, "membership", ("none",)),
    ("yanxuan", {"trade_medal": 0}, "trade_medal", (0, 1)),
    ("yanxuan", {"alipay_verified": False}, "alipay_verified", ("false",)),
    ("yanxuan", {"buyer_protection": False}, "buyer_protection", ("false",)),
    ("yanxuan", {"buyer_protection_deposit": 2999}, "buyer_protection_deposit", (2999, 3000)),
    ("yanxuan", {"violation_points": 36}, "violation_points", (36,)),
    ("yanxuan", {"prohibited_points": 24}, "prohibited_points", (24,)),
    ("yanxuan", {"product_experience_score": 1.9}, "product_experience_score", (1.9, 2)),
    ("yanxuan", {"dispute_score": 3.9}, "dispute_score", (3.9, 4)),
    *[("yanxuan", {flag: True}, flag, ("true",)) for flag in YANXUAN_FLAGS],
    ("crossborder", {"membership": "none"}, "membership", ("none",)),
]
# Every merchant rule at its edge, still passing.
EDGE_MERCHANT: dict[str, Any] = {
    "main_industry": "industrial", "l_level": 2, "service_star": 3.5, "logistics_score": 3,
    "product_experience_score": 2, "trade_medal": "A", "buyer_protection_deposit": 3000,
    "violation_points": 35, "prohibited_points": 23, "dispute_score": 4,
}


def failing_programs(merchant: Mapping[str, Any]) -> set[str]:
    """Which programs a merchant override of MERCHANT_BREAKS fails (by SPEC 3)."""
    out = {k for k, m, _, _ in MERCHANT_BREAKS if m == dict(merchant)}
    if merchant.get("l_level") == 1:
        out |= {"offsite", "yanxuan"}
    if merchant.get("product_experience_score", 5) < 2:  # a shop score both programs read
        out |= {"offsite", "yanxuan"}
    if merchant.get("membership") == "none":
        out |= {"yanxuan", "crossborder"}
    return out


@pytest.fixture(scope="module")
def edge_merchant(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Solved]:
    path = write_case(tmp_path_factory.mktemp("edge_merchant"), [sku()], merchant=EDGE_MERCHANT)
    return path, solve_case(path)


def test_merchant_rules_at_their_edges_enroll(edge_merchant: tuple[Path, Solved]) -> None:
    """Every merchant rule holds at its edge value (>= / < thresholds, medal "A")."""
    _, (outcome, plan, excluded) = edge_merchant
    assert solve_exit_code(outcome.status) == 0
    assert {"offsite", "yanxuan", "crossborder", "aliexpress_semi"} <= {r["program"] for r in plan}
    assert all(r["reason"] != "MERCHANT_RULE" for r in excluded)


def test_merchant_rules_at_their_edges_optimal(edge_merchant: tuple[Path, Solved]) -> None:
    _, (outcome, _, _) = edge_merchant
    assert close_to(outcome.result.objective, best_single_sku(sku(), ALL))


@pytest.fixture(scope="module", params=MERCHANT_BREAKS,
                ids=[f"{k}-{f}" for k, _, f, _ in MERCHANT_BREAKS])
def merchant_break(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[tuple[Any, ...], Solved]]:
    program, merchant, field, _ = request.param
    path = write_case(tmp_path_factory.mktemp(f"merchant_{program}_{field}"), [sku()],
                      merchant=merchant)
    yield request.param, solve_case(path)


def test_merchant_rule_broken_feasible(merchant_break: tuple[tuple[Any, ...], Solved]) -> None:
    """A program whose merchant rule fails does not stop the others."""
    (_, merchant, _, _), (outcome, plan, _) = merchant_break
    assert solve_exit_code(outcome.status) == 0
    used = {r["program"] for r in plan}
    assert not used & failing_programs(merchant)
    assert "aliexpress_semi" in used  # no merchant rules


def test_merchant_rule_broken_excludes(merchant_break: tuple[tuple[Any, ...], Solved]) -> None:
    (program, _, field, shown), (_, plan, excluded) = merchant_break
    assert ("S1", program) not in plan_of(plan)
    row = excluded_of(excluded)[("S1", program)]
    assert row["reason"] == "MERCHANT_RULE"
    assert_detail(row["detail"], field, *shown)


def test_merchant_rule_broken_optimal(merchant_break: tuple[tuple[Any, ...], Solved]) -> None:
    (_, merchant, _, _), (outcome, _, _) = merchant_break
    left = [k for k in ALL if k not in failing_programs(merchant)]
    assert close_to(outcome.result.objective, best_single_sku(sku(), left))


def test_yanxuan_any_of_membership_instead_of_level(write_case: WriteCase,
                                                    solve_case: SolveCase) -> None:
    """l_level 1 fails offsite, but 实力商家 membership satisfies yanxuan's any_of."""
    outcome, plan, excluded = solve_case(write_case(
        [sku()], merchant={"l_level": 1, "membership": "shili"}))
    assert ("S1", "yanxuan") in plan_of(plan)
    assert excluded_of(excluded)[("S1", "offsite")]["reason"] == "MERCHANT_RULE"
    left = ["yanxuan", "huopin", "crossborder", "aliexpress_semi"]
    assert close_to(outcome.result.objective, best_single_sku(sku(), left))


def test_yanxuan_any_of_names_both_alternatives(write_case: WriteCase,
                                                solve_case: SolveCase) -> None:
    _, _, excluded = solve_case(write_case([sku()], merchant={"l_level": 1}))
    detail = excluded_of(excluded)[("S1", "yanxuan")]["detail"]
    assert_detail(detail, "l_level", 1, 2)
    assert_detail(detail, "membership", "chengxintong")


def test_missing_merchant_field_fails_with_warning(write_case: WriteCase, solve_case: SolveCase,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """SPEC 2.1: a missing merchant field fails its rules, and a warning names it."""
    with caplog.at_level(logging.WARNING):
        outcome, plan, excluded = solve_case(write_case([sku()], merchant={"l_level": None}))
    assert any("l_level" in r.getMessage() for r in caplog.records
               if r.levelno >= logging.WARNING)
    assert solve_exit_code(outcome.status) == 0
    ex = excluded_of(excluded)
    for program in ("offsite", "yanxuan"):  # yanxuan: chengxintong is not the any_of's other arm
        assert ex[("S1", program)]["reason"] == "MERCHANT_RULE"
        assert "l_level" in ex[("S1", program)]["detail"]
    assert {r["program"] for r in plan} == {"huopin", "crossborder", "aliexpress_semi"}
    left = ["huopin", "crossborder", "aliexpress_semi"]
    assert close_to(outcome.result.objective, best_single_sku(sku(), left))


@pytest.mark.parametrize("flag", YANXUAN_FLAGS)
def test_missing_yanxuan_flag_fails_with_warning(flag: str, write_case: WriteCase,
                                                 solve_case: SolveCase,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """SPEC 2.1: the passing value of a 严选 disqualifier is never assumed: missing fails 严选
    (and only 严选), and the warning names the flag."""
    with caplog.at_level(logging.WARNING):
        outcome, plan, excluded = solve_case(write_case([sku()], merchant={flag: None}))
    assert any(flag in r.getMessage() and "not given" in r.getMessage()
               for r in caplog.records if r.levelno >= logging.WARNING)
    assert solve_exit_code(outcome.status) == 0
    row = excluded_of(excluded)[("S1", "yanxuan")]
    assert row["reason"] == "MERCHANT_RULE"
    assert flag in row["detail"] and "missing" in row["detail"]
    assert {r["program"] for r in plan} == {"offsite", "crossborder", "aliexpress_semi"}


def test_sku_level_shop_scores_are_ignored_with_a_warning(
        write_case: WriteCase, solve_case: SolveCase, caplog: pytest.LogCaptureFixture) -> None:
    """SPEC 2.2: the old per-SKU experience_score/dispute_score columns are read by no rule
    (a SKU scoring 0 still enrolls in 严选); one warning points at the merchant fields."""
    with caplog.at_level(logging.WARNING):
        _, plan, _ = solve_case(write_case([sku(experience_score=0, dispute_score=0)],
                                           programs={"yanxuan": {}}))
    assert ("S1", "yanxuan") in plan_of(plan)
    said = [r.getMessage() for r in caplog.records if "experience_score" in r.getMessage()]
    assert len(said) == 1 and "merchant.dispute_score" in said[0] and "ignoring" in said[0]


@pytest.fixture(scope="module")
def no_dropship(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    path = write_case(tmp_path_factory.mktemp("no_dropship"), [sku(dropship="false")],
                      programs={"offsite": {}, "yanxuan": {}})
    return solve_case(path)


def test_dropship_count_merchant_rule_excludes(no_dropship: Solved) -> None:
    """offsite needs at least one dropship SKU in the catalogue (a merchant rule)."""
    _, plan, excluded = no_dropship
    row = excluded_of(excluded)[("S1", "offsite")]
    assert row["reason"] == "MERCHANT_RULE"
    assert_detail(row["detail"], "dropship", 0, 1)
    assert {r["program"] for r in plan} == {"yanxuan"}


def test_dropship_count_merchant_rule_optimal(no_dropship: Solved) -> None:
    outcome, _, _ = no_dropship
    assert close_to(outcome.result.objective, best_single_sku(sku(dropship="false"), ["yanxuan"]))


# =============================================================================================
# SKU rules of offsite and yanxuan: S1 at the rule's edge (passes), S2 just past it (fails)


# (program, column, passing edge value, failing value, what the detail shows)
SKU_RULES = [
    ("offsite", "category", "industrial", "other", ("other",)),
    ("offsite", "dropship", "true", "false", ("false",)),
    ("offsite", "return_7day", "true", "false", ("false",)),
    ("offsite", "ship_hours", 48, 49, (49, 48)),
    ("offsite", "growth_score", 60, 59, (59, 60)),
    ("offsite", "stock", 200, 199, (199, 200)),
    ("yanxuan", "pickup_rate_48h", "0.90", "0.89", ("0.89", "0.9")),
    ("yanxuan", "growth_score", 60, 59, (59, 60)),
    ("yanxuan", "moq", 2, 3, (3, 2)),
    ("yanxuan", "alipay_guarantee", "true", "false", ("false",)),
]


def rule_rows(column: str, good: Any, bad: Any) -> list[dict[str, Any]]:
    extra = {"daily_units": "0.5"} if column == "stock" else {}  # stock 200 must not bind
    return [sku(**{column: good}, **extra), sku(**{column: bad}, **extra)]


@pytest.fixture(scope="module", params=SKU_RULES, ids=[f"{k}-{c}" for k, c, *_ in SKU_RULES])
def sku_rule(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[tuple[Any, ...], Solved]]:
    program, column, good, bad, _ = request.param
    path = write_case(tmp_path_factory.mktemp(f"sku_{program}_{column}"),
                      rule_rows(column, good, bad), programs={program: {}})
    yield request.param, solve_case(path)


def test_sku_rule_at_edge_enrolls(sku_rule: tuple[tuple[Any, ...], Solved]) -> None:
    (program, *_), (outcome, plan, _) = sku_rule
    assert solve_exit_code(outcome.status) == 0
    assert ("S1", program) in plan_of(plan)


def test_sku_rule_broken_excludes(sku_rule: tuple[tuple[Any, ...], Solved]) -> None:
    (program, column, _, _, shown), (_, plan, excluded) = sku_rule
    assert ("S2", program) not in plan_of(plan)
    row = excluded_of(excluded)[("S2", program)]
    assert row["reason"] == "SKU_RULE"
    assert_detail(row["detail"], column, *shown)


def test_sku_rule_optimal(sku_rule: tuple[tuple[Any, ...], Solved]) -> None:
    """Only S1 earns; its optimum is interior (default elasticity) and found to the fen."""
    (program, column, good, bad, _), (outcome, plan, _) = sku_rule
    s1 = rule_rows(column, good, bad)[0]
    found = best_price(program, s1, spec_fee(program, {program}))
    assert found is not None
    assert close_to(outcome.result.objective, found[0])
    assert fen(plan_of(plan)[("S1", program)]["price"]) == found[1]


# =============================================================================================
# aliexpress_semi shipping SLA: 72 h when new (listed_days <= 30) or slow (sales <= 10), else 48


SLA_OK = [
    {"ship_hours": 48, "listed_days": 365, "sales_last_month": 100},
    {"ship_hours": 72, "listed_days": 30, "sales_last_month": 100},
    {"ship_hours": 72, "listed_days": 365, "sales_last_month": 10},
]
SLA_BAD = [
    {"ship_hours": 49, "listed_days": 31, "sales_last_month": 11},
    {"ship_hours": 72, "listed_days": 31, "sales_last_month": 11},
    {"ship_hours": 73, "listed_days": 1, "sales_last_month": 0},
]


@pytest.fixture(scope="module")
def sla(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    rows = [sku(**r) for r in SLA_OK + SLA_BAD]
    return solve_case(write_case(tmp_path_factory.mktemp("sla"), rows,
                                 programs={"aliexpress_semi": {}}))


def test_sla_any_of_enrolls(sla: Solved) -> None:
    _, plan, _ = sla
    assert {s for s, _ in plan_of(plan)} == {"S1", "S2", "S3"}


def test_sla_any_of_excludes(sla: Solved) -> None:
    _, _, excluded = sla
    ex = excluded_of(excluded)
    for i, bad in enumerate(SLA_BAD, start=4):
        row = ex[(f"S{i}", "aliexpress_semi")]
        assert row["reason"] == "SKU_RULE"
        assert_detail(row["detail"], "ship_hours", bad["ship_hours"], 48)
    assert_detail(ex[("S5", "aliexpress_semi")]["detail"], "listed_days", 31, 30)
    assert_detail(ex[("S5", "aliexpress_semi")]["detail"], "sales_last_month", 11, 10)
    assert_detail(ex[("S6", "aliexpress_semi")]["detail"], "ship_hours", 73, 72)


def test_sla_any_of_optimal(sla: Solved) -> None:
    outcome, _, _ = sla
    fee = spec_fee("aliexpress_semi", set())
    expected = 0.0
    for r in SLA_OK:
        found = best_price("aliexpress_semi", sku(**r), fee)
        assert found is not None
        expected += found[0]
    assert close_to(outcome.result.objective, expected)


# =============================================================================================
# Price caps, exact at the edge: inelastic demand puts the optimum on the highest allowed price


# (program, market, 30-day min, price_step, the highest allowed price)
CAPS = [
    ("offsite", "12.00", "9.00", 0.01, "8.99"),  # price < min_price_30d binds
    ("offsite", "10.00", "9.50", 0.01, "8.99"),  # price < 0.90 * market binds
    ("offsite", "12.00", "9.00", 0.5, "8.50"),  # strict, then down to the lattice
    ("yanxuan", "10.00", "9.00", 0.01, "9.50"),  # <= 0.95 * market, non-strict
    ("huopin", "10.00", "9.00", 0.01, "9.00"),
    ("crossborder", "10.00", "9.00", 0.01, "9.50"),
    ("aliexpress_semi", "10.00", "9.00", 0.01, "10.00"),
    ("yanxuan", "10.01", "9.00", 0.01, "9.50"),  # 0.95 * 10.01 = 9.5095: down to the fen
]


@pytest.mark.parametrize(("program", "market", "low", "step", "price"), CAPS)
def test_price_cap_edge(write_case: WriteCase, solve_case: SolveCase, program: str, market: str,
                        low: str, step: float, price: str) -> None:
    row = sku(market_price=market, min_price_30d=low, elasticity=INELASTIC)
    outcome, plan, _ = solve_case(write_case([row], programs={program: {}}, price_step=step))
    assert plan_of(plan)[("S1", program)]["price"] == price
    assert spec_cap_ok(program, row, fen(price))
    expected = spec_margin(program, row, fen(price), spec_fee(program, {program}))
    assert close_to(outcome.result.objective, expected)


@pytest.fixture(scope="module")
def price_cap_margin(tmp_path_factory: pytest.TempPathFactory) -> Solved:
    """offsite tops out at 8.99, where 8.99 * 0.994 = 8.93606 yuan is left for the cost."""
    rows = [
        sku(market_price="10.00", min_price_30d="9.50", unit_cost="8.93"),
        sku(market_price="10.00", min_price_30d="9.50", unit_cost="8.94"),
        # free shipping: the shipping cost counts
        sku(market_price="10.00", min_price_30d="9.50", unit_cost="8.43", shipping_cost="0.51"),
    ]
    return solve_case(write_case(tmp_path_factory.mktemp("cap_margin"), rows,
                                 programs={"offsite": {}}))


def test_price_cap_margin_feasible(price_cap_margin: Solved) -> None:
    _, plan, _ = price_cap_margin
    assert plan_of(plan)[("S1", "offsite")]["price"] == "8.99"


def test_price_cap_margin_excludes(price_cap_margin: Solved) -> None:
    _, plan, excluded = price_cap_margin
    ex = excluded_of(excluded)
    for s in ("S2", "S3"):
        assert (s, "offsite") not in plan_of(plan)
        assert ex[(s, "offsite")]["reason"] == "PRICE_CAP"
        assert "no price under the caps keeps a non-negative margin" in ex[(s, "offsite")]["detail"]


def test_price_cap_margin_optimal(price_cap_margin: Solved) -> None:
    outcome, _, _ = price_cap_margin
    s1 = sku(market_price="10.00", min_price_30d="9.50", unit_cost="8.93")
    assert close_to(outcome.result.objective, spec_margin("offsite", s1, 899, Fraction(6, 1000)))


# =============================================================================================
# Fees: non-stacking (SPEC 4 worked example), checked on plan.csv's fee_rate and fees

FEE_ROW = {"market_price": "12.00", "min_price_30d": "9.00", "elasticity": INELASTIC}
CAP_PRICE = {"offsite": 1079, "yanxuan": 1140, "huopin": 1080}


@pytest.fixture(scope="module")
def fee_example(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], Solved]:
    """S1 in offsite + yanxuan; S2 (no dropship) in yanxuan + huopin; S3 (yanxuan pickup too
    low) in offsite alone. Each offer its own, each price at its cap. S1's and S3's 30-day
    minimum is the market price, so that off-site (23 days after its review, at 10.79) beats
    伙拼 (7 days x 3, at 10.80) for them."""
    offsite_row = {**FEE_ROW, "min_price_30d": "12.00"}
    rows = [sku(**offsite_row), sku(**FEE_ROW, dropship="false"),
            sku(**offsite_row, pickup_rate_48h="0.5")]
    path = write_case(tmp_path_factory.mktemp("fees"), rows,
                      programs={"offsite": {}, "yanxuan": {}, "huopin": {}})
    return rows, solve_case(path)


EXPECTED_FEES = {("S1", "offsite"): "0.056", ("S1", "yanxuan"): "0.056",
                 ("S2", "yanxuan"): "0.056", ("S2", "huopin"): "0.006",
                 ("S3", "offsite"): "0.006"}


def test_fee_non_stacking_rates(fee_example: tuple[list[dict[str, Any]], Solved]) -> None:
    _, (_, plan, _) = fee_example
    got = plan_of(plan)
    assert set(got) == set(EXPECTED_FEES)
    for key, rate in EXPECTED_FEES.items():
        assert row_fee(got[key]) == Fraction(rate), (key, got[key])
        assert got[key]["price"] == f"{CAP_PRICE[key[1]] / 100:.2f}"


def test_fee_non_stacking_amounts(fee_example: tuple[list[dict[str, Any]], Solved]) -> None:
    """units, revenue, fees and margin of every row, computed by hand at the cap price."""
    rows, (_, plan, _) = fee_example
    got = plan_of(plan)
    for (s, k), rate in EXPECTED_FEES.items():
        row, p = rows[int(s[1:]) - 1], CAP_PRICE[k]
        units = spec_units(k, row, p)
        revenue = units * p / 100
        line = got[(s, k)]
        assert abs(float(line["units"]) - units) <= 0.0005 + 1e-9 * units
        assert abs(float(line["revenue"]) - revenue) <= 0.005 + 1e-9 * revenue
        assert abs(float(line["fees"]) - revenue * float(rate)) <= 0.005 + 1e-9 * revenue
        margin = spec_margin(k, row, p, Fraction(rate))
        assert abs(float(line["margin"]) - margin) <= 0.005 + 1e-9 * abs(margin)


def test_fee_non_stacking_optimal(fee_example: tuple[list[dict[str, Any]], Solved]) -> None:
    rows, (outcome, _, _) = fee_example
    expected = (best_single_sku(rows[0], ["offsite", "yanxuan", "huopin"])
                + best_single_sku(rows[1], ["yanxuan", "huopin"])
                + best_single_sku(rows[2], ["offsite", "huopin"]))
    assert close_to(outcome.result.objective, expected)


def test_fee_override_help_sell_commission(write_case: WriteCase, solve_case: SolveCase) -> None:
    """offsite's own commission 0.01: 0.016 alone; with yanxuan max(0.01, 0.05) -> 0.056."""
    rows = [sku(**FEE_ROW, pickup_rate_48h="0.5"), sku(**FEE_ROW)]
    outcome, plan, _ = solve_case(write_case(
        rows, programs={"offsite": {"fees": {"help_sell_commission": 0.01}}, "yanxuan": {}}))
    got = plan_of(plan)
    assert row_fee(got[("S1", "offsite")]) == Fraction("0.016")
    assert row_fee(got[("S2", "offsite")]) == Fraction("0.056")
    assert row_fee(got[("S2", "yanxuan")]) == Fraction("0.056")
    s1 = got[("S1", "offsite")]
    assert abs(float(s1["fees"]) - float(s1["revenue"]) * 0.016) <= 0.006
    own = {"help_sell_commission": Fraction("0.01")}
    alone = spec_margin("offsite", rows[0], 899, spec_fee("offsite", set(), own))
    both = (spec_margin("offsite", rows[1], 899, spec_fee("offsite", {"yanxuan"}, own))
            + spec_margin("yanxuan", rows[1], 1140, spec_fee("yanxuan", {"offsite"})))
    assert close_to(outcome.result.objective, alone + both)


def test_fee_group_cap_override(write_case: WriteCase, solve_case: SolveCase) -> None:
    """fees.help_sell_commission.cap 0.03: a yanxuan order pays 0.006 + min(0.03, 0.05)."""
    row = sku(**FEE_ROW)
    outcome, plan, _ = solve_case(write_case(
        [row], programs={"yanxuan": {}}, fees={"help_sell_commission": {"cap": 0.03}}))
    line = plan_of(plan)[("S1", "yanxuan")]
    assert row_fee(line) == Fraction("0.036")
    assert close_to(outcome.result.objective,
                    spec_margin("yanxuan", row, 1140, Fraction("0.036")))


# A loose cap (0.2, above every applicable rate) is the only case where "charged once"
# (max of the applicable rates) and "stacked" (their sum) differ: under the default cap 0.05 both
# give min(0.05, ...) = 0.05. Killed mutation: optimizer/score/fees.py `rate = max(rates)` ->
# `sum(rates)` fails both cases below (checked by applying it: fee_rate 0.066 / 0.106 in
# plan.csv, and the auditor flags the plan's fee rate and margins).
LOOSE_CAP = {"help_sell_commission": {"cap": 0.2}}


@pytest.mark.parametrize(("program", "programs", "own", "stacked"), [
    ("offsite", {"offsite": {"fees": {"help_sell_commission": 0.01}}, "yanxuan": {}},
     {"help_sell_commission": Fraction("0.01")}, "0.066"),
    ("crossborder", {"crossborder": {}, "yanxuan": {}}, None, "0.106"),
])
def test_fee_not_stacked_under_a_loose_cap(write_case: WriteCase, solve_case: SolveCase,
                                           program: str, programs: dict[str, Any],
                                           own: dict[str, Fraction] | None,
                                           stacked: str) -> None:
    """Cap 0.2: a SKU in `program` and yanxuan pays on a `program` order tech 0.006 +
    min(0.2, max(own commission, yanxuan's 0.05)) = 0.056, not the stacked `stacked`; its yanxuan
    orders 0.006 + 0.05 = 0.056. The solve is audited (solve_case) and the objective is the
    hand-computed margin of both enrollments at their caps."""
    row = sku(**FEE_ROW)
    caps = {"help_sell_commission": Fraction("0.2")}
    assert spec_fee(program, {"yanxuan"}, own, caps) == Fraction("0.056")
    outcome, plan, _ = solve_case(write_case([row], programs=programs, fees=LOOSE_CAP))
    got = plan_of(plan)
    assert set(got) == {("S1", program), ("S1", "yanxuan")}
    assert row_fee(got[("S1", program)]) == Fraction("0.056"), got
    assert row_fee(got[("S1", program)]) != Fraction(stacked)
    assert row_fee(got[("S1", "yanxuan")]) == Fraction("0.056"), got
    line = got[("S1", program)]
    assert abs(float(line["fees"]) - float(line["revenue"]) * 0.056) <= 0.006
    price = {"offsite": 899, "crossborder": 1140}[program]
    assert fen(line["price"]) == price
    expected = (spec_margin(program, row, price, Fraction("0.056"))
                + spec_margin("yanxuan", row, 1140, Fraction("0.056")))
    assert close_to(outcome.result.objective, expected)


# =============================================================================================
# min_unit_margin_rate, with the fee the order actually pays
#   offsite at 8.99, cost 3: 1 - fee - 3/8.99 = 0.66030 alone (fee 0.006), 0.61030 with yanxuan


def margin_rate_case(rate: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    return [sku(**FEE_ROW)], {"programs": {"offsite": {}, "yanxuan": {}},
                              "constraints": {"min_unit_margin_rate": float(rate)}}


def check_margin_rule(plan: list[Row], rate: Fraction) -> None:
    for line in plan:
        p = fen(line["price"])
        assert keeps_margin(line["program"], sku(**FEE_ROW), p, row_fee(line), rate), line


def test_min_margin_rate_feasible(write_case: WriteCase, solve_case: SolveCase) -> None:
    """0.60: the SKU can be in both, offsite still keeps 0.61 at 8.99 with the 0.056 fee."""
    rows, over = margin_rate_case("0.60")
    outcome, plan, _ = solve_case(write_case(rows, **over))
    assert set(plan_of(plan)) == {("S1", "offsite"), ("S1", "yanxuan")}
    check_margin_rule(plan, Fraction("0.60"))
    assert close_to(outcome.result.objective,
                    best_single_sku(rows[0], ["offsite", "yanxuan"], rate=Fraction("0.60")))


def test_min_margin_rate_uses_fee_paid(write_case: WriteCase, solve_case: SolveCase) -> None:
    """0.62: offsite alone keeps it (0.660), but not with yanxuan's commission (0.610)."""
    rows, over = margin_rate_case("0.62")
    outcome, plan, excluded = solve_case(write_case(rows, **over))
    assert set(plan_of(plan)) == {("S1", "offsite")}
    assert row_fee(plan[0]) == Fraction("0.006")
    assert excluded_of(excluded)[("S1", "yanxuan")]["reason"] == "NOT_CHOSEN"
    check_margin_rule(plan, Fraction("0.62"))
    expected = best_single_sku(rows[0], ["offsite", "yanxuan"], rate=Fraction("0.62"))
    assert close_to(outcome.result.objective, expected)
    assert close_to(expected, spec_margin("offsite", rows[0], 899, Fraction("0.006")))


def test_min_margin_rate_excludes(write_case: WriteCase, solve_case: SolveCase) -> None:
    """0.70: no allowed price keeps it in either program (yanxuan at 11.40: 0.681)."""
    rows, over = margin_rate_case("0.70")
    outcome, plan, excluded = solve_case(write_case(rows, **over))
    assert plan == []
    assert outcome.result.objective == 0
    ex = excluded_of(excluded)
    assert ex[("S1", "offsite")]["reason"] == "PRICE_CAP"
    assert ex[("S1", "yanxuan")]["reason"] == "PRICE_CAP"


# =============================================================================================
# Stock, less stock_reserve_days * daily_units kept back for the main market
#   yanxuan: 10 a day x 6 x 2 days = 120 units at market price; the free optimum (7.15) sells 305


STOCK_ROW = sku(stock=300)


@pytest.mark.parametrize("reserve", [0, 10])
def test_stock_reserve_binds_optimal(write_case: WriteCase, solve_case: SolveCase,
                                     reserve: int) -> None:
    outcome, plan, _ = solve_case(write_case(
        [STOCK_ROW], programs={"yanxuan": {}}, constraints={"stock_reserve_days": reserve}))
    line = plan_of(plan)[("S1", "yanxuan")]
    available = 300 - reserve * 10
    assert float(line["units"]) <= available + 0.0005
    found = best_price("yanxuan", STOCK_ROW, spec_fee("yanxuan", set()), max_units=available)
    assert found is not None
    assert fen(line["price"]) == found[1]
    assert close_to(outcome.result.objective, found[0])


def test_stock_reserve_excludes(write_case: WriteCase, solve_case: SolveCase) -> None:
    """25 days kept back leaves 50 units; even at the cap (11.40) yanxuan sells 131.6."""
    outcome, plan, excluded = solve_case(write_case(
        [STOCK_ROW], programs={"yanxuan": {}}, constraints={"stock_reserve_days": 25}))
    assert plan == []
    assert outcome.result.objective == 0
    line = excluded_of(excluded)[("S1", "yanxuan")]
    # the real cause, with its numbers (it used to say "NOT_CHOSEN / offer O1 not enrolled
    # (all or none)" for this one-SKU offer)
    assert line["reason"] == "STOCK", line
    sold = spec_units("yanxuan", STOCK_ROW, 1140)
    assert_detail(line["detail"], "stock", "50.000", f"{sold:.3f}", "11.40")


def test_stock_short_sku_blocks_its_offer(write_case: WriteCase, solve_case: SolveCase) -> None:
    """All or none: S1 is eligible for yanxuan but cannot fit its stock at any price, so its
    offer stays out; S1 says STOCK, its offer mate S2 says all-or-none."""
    rows = [sku(offer_id="O1", stock=300), sku(offer_id="O1")]
    _, plan, excluded = solve_case(write_case(
        rows, programs={"yanxuan": {}}, constraints={"stock_reserve_days": 25}))
    assert plan == []
    got = excluded_of(excluded)
    assert got[("S1", "yanxuan")]["reason"] == "STOCK"
    assert got[("S2", "yanxuan")]["reason"] == "NOT_CHOSEN"
    assert got[("S2", "yanxuan")]["detail"] == "offer O1 not enrolled (all or none)"


def test_stock_shared_by_programs_optimal(write_case: WriteCase, solve_case: SolveCase) -> None:
    """One stock for all of a SKU's enrollments (tiny lattice, brute force)."""
    row = sku(market_price="5.00", min_price_30d="5.00", unit_cost="1.00", stock=400)
    path = write_case([row], programs={"offsite": {}, "yanxuan": {}}, price_step=0.5,
                      constraints={"stock_reserve_days": 5})
    outcome, plan, _ = solve_case(path)
    assert sum(float(r["units"]) for r in plan) <= 350 + 0.001
    assert_brute_optimum(outcome, path)


# =============================================================================================
# All or none per offer (yanxuan, huopin): the *eligible* SKUs of an offer go together


@pytest.mark.parametrize(("program", "breaker"), [("yanxuan", {"moq": 3}),
                                                  ("huopin", {"stock": 199})])
def test_all_or_none_enrolls_eligible_together(write_case: WriteCase, solve_case: SolveCase,
                                               program: str, breaker: dict[str, Any]) -> None:
    """One ineligible SKU in the offer does not block the others."""
    rows = [sku(offer_id="O1", daily_units=d) for d in (10, 1)]
    rows.append(sku(offer_id="O1", daily_units="0.5", **breaker))
    outcome, plan, excluded = solve_case(write_case(rows, programs={program: {}}))
    assert set(plan_of(plan)) == {("S1", program), ("S2", program)}
    assert excluded_of(excluded)[("S3", program)]["reason"] == "SKU_RULE"
    fee = spec_fee(program, {program})
    expected = 0.0
    for row in rows[:2]:
        found = best_price(program, row, fee)
        assert found is not None
        expected += found[0]
    assert close_to(outcome.result.objective, expected)


@pytest.mark.parametrize("program", ["yanxuan", "huopin"])
def test_all_or_none_under_max_skus(write_case: WriteCase, solve_case: SolveCase,
                                    program: str) -> None:
    """max_skus 1: offer O1's two eligible SKUs cannot go (even the better one alone); the
    smaller single-SKU offer O2 does."""
    base = {"market_price": "5.00", "min_price_30d": "5.00", "unit_cost": "1.00"}
    rows = [sku(offer_id="O1", daily_units=20, **base), sku(offer_id="O1", daily_units=20, **base),
            sku(offer_id="O2", daily_units=2, **base)]
    path = write_case(rows, programs={program: {}}, price_step=0.5,
                      constraints={"max_skus": {program: 1}})
    outcome, plan, excluded = solve_case(path)
    assert set(plan_of(plan)) == {("S3", program)}
    ex = excluded_of(excluded)
    for s in ("S1", "S2"):
        assert ex[(s, program)]["reason"] == "NOT_CHOSEN"
        assert "O1" in ex[(s, program)]["detail"]
    assert_brute_optimum(outcome, path)


def test_all_or_none_against_fee_interplay(write_case: WriteCase, solve_case: SolveCase) -> None:
    """S2 alone would stay out of yanxuan: at cost 4.05 its yanxuan margin is less than the
    commission its offsite sales would then pay (off-site sells 23 of its 30 days after review:
    at 3.75 and a 0.5 grid, as before review days, yanxuan alone would now win). S1 gains much
    from yanxuan, so all or none puts S2 in too."""
    base = {"market_price": "5.00", "min_price_30d": "5.00", "elasticity": INELASTIC}
    rows = [sku(offer_id="O1", unit_cost="1.00", **base),
            sku(offer_id="O1", unit_cost="4.05", **base)]
    path = write_case(rows, programs={"offsite": {}, "yanxuan": {}}, price_step=0.1)
    outcome, plan, _ = solve_case(path)
    assert set(plan_of(plan)) == {(s, k) for s in ("S1", "S2") for k in ("offsite", "yanxuan")}
    s2_alone = best_single_sku(rows[1], ["offsite", "yanxuan"], step_fen=10)
    s2_offsite = best_price("offsite", rows[1], Fraction("0.006"), step_fen=10)
    assert s2_offsite is not None
    assert s2_alone == s2_offsite[0]  # S2 on its own would not join yanxuan
    assert_brute_optimum(outcome, path)


# =============================================================================================
# offsite / huopin exclusive at offer level


def exclusive_rows(big_huopin: bool) -> list[dict[str, Any]]:
    """O1: S1 (can do both) and S2 (no dropship: huopin only); O2: S3 (both)."""
    base = {"market_price": "5.00", "min_price_30d": "5.00", "unit_cost": "1.00"}
    return [sku(offer_id="O1", daily_units=10, **base),
            sku(offer_id="O1", daily_units=40 if big_huopin else 1, dropship="false", **base),
            sku(offer_id="O2", daily_units=10, **base)]


@pytest.mark.parametrize("big_huopin", [False, True])
def test_exclusive_offer_level(write_case: WriteCase, solve_case: SolveCase,
                               big_huopin: bool) -> None:
    path = write_case(exclusive_rows(big_huopin), programs={"offsite": {}, "huopin": {}},
                      price_step=0.5)
    outcome, plan, excluded = solve_case(path)
    offer_programs: dict[str, set[str]] = {}
    for r in plan:
        offer_programs.setdefault(r["offer_id"], set()).add(r["program"])
    assert all(len(p) == 1 for p in offer_programs.values()), offer_programs
    winner = "huopin" if big_huopin else "offsite"
    assert offer_programs["O1"] == {winner}
    loser = "offsite" if big_huopin else "huopin"
    ex = excluded_of(excluded)
    assert ex[("S1", loser)]["reason"] == "EXCLUSIVE"
    assert ex[("S1", loser)]["detail"] == f"offer O1 is in {winner}"
    if not big_huopin:
        assert ex[("S2", "huopin")]["reason"] == "EXCLUSIVE"
    assert_brute_optimum(outcome, path)


def test_exclusive_different_offers_both_enroll(write_case: WriteCase,
                                                solve_case: SolveCase) -> None:
    """Exclusivity is per offer: S2 in its own offer goes to huopin beside S1 in offsite."""
    rows = exclusive_rows(big_huopin=False)
    rows[1]["offer_id"] = "O9"
    path = write_case(rows, programs={"offsite": {}, "huopin": {}}, price_step=0.5)
    outcome, plan, _ = solve_case(path)
    assert ("S1", "offsite") in plan_of(plan)
    assert ("S2", "huopin") in plan_of(plan)
    assert_brute_optimum(outcome, path)


# =============================================================================================
# Global constraints: max_skus, discount_budget, gmv_min

SMALL = {"market_price": "5.00", "min_price_30d": "5.00", "unit_cost": "1.00"}


def three_skus() -> list[dict[str, Any]]:
    return [sku(daily_units=d, **SMALL) for d in (3, 1, 2)]


@pytest.mark.parametrize("limit", [0, 2, 3])
def test_max_skus(write_case: WriteCase, solve_case: SolveCase, limit: int) -> None:
    path = write_case(three_skus(), programs={"offsite": {}, "yanxuan": {}}, price_step=0.5,
                      constraints={"max_skus": {"offsite": limit}})
    outcome, plan, excluded = solve_case(path)
    chosen = {s for s, k in plan_of(plan) if k == "offsite"}
    assert len(chosen) == limit
    if limit == 2:
        assert chosen == {"S1", "S3"}  # the two with the most demand
        assert excluded_of(excluded)[("S2", "offsite")]["reason"] == "NOT_CHOSEN"
    summary = json.loads((outcome.outdir / "summary.json").read_text("utf-8"))
    assert summary["constraints"]["max_skus.offsite"] == {"value": len(chosen), "limit": limit}
    assert_brute_optimum(outcome, path)


def discount(plan: list[Row], rows: list[dict[str, Any]]) -> float:
    market = {f"S{i}": float(r["market_price"]) for i, r in enumerate(rows, start=1)}
    return sum(float(r["units"]) * (market[r["sku_id"]] - float(r["price"])) for r in plan)


@pytest.mark.parametrize("budget", [None, 10_000, 150, 40])
def test_discount_budget(write_case: WriteCase, solve_case: SolveCase,
                         budget: int | None) -> None:
    rows = three_skus()
    constraints = {} if budget is None else {"discount_budget": budget}
    path = write_case(rows, programs={"offsite": {}, "yanxuan": {}}, price_step=0.5,
                      constraints=constraints)
    outcome, plan, _ = solve_case(path)
    if budget is not None:
        assert discount(plan, rows) <= budget + 1e-6
    assert_brute_optimum(outcome, path)


def test_discount_budget_zero_leaves_market_price_only(write_case: WriteCase,
                                                       solve_case: SolveCase) -> None:
    """No discount at all: only aliexpress_semi (cap 1.00 x market) at exactly the market
    price; offsite and yanxuan must sell below it."""
    rows = three_skus()
    path = write_case(rows, programs={"offsite": {}, "yanxuan": {}, "aliexpress_semi": {}},
                      price_step=0.5, constraints={"discount_budget": 0})
    outcome, plan, _ = solve_case(path)
    assert {k for _, k in plan_of(plan)} == {"aliexpress_semi"}
    assert all(r["price"] == "5.00" for r in plan)
    assert len(plan) == 3
    assert_brute_optimum(outcome, path)


def test_gmv_min_reachable(write_case: WriteCase, solve_case: SolveCase) -> None:
    """A target above the free optimum's GMV: met, at the best plan that meets it."""
    rows = three_skus()
    free = write_case(rows, programs={"offsite": {}, "yanxuan": {}}, price_step=0.5)
    _, plan, _ = solve_case(free)
    gmv = sum(float(r["revenue"]) for r in plan)
    target = round(gmv * 1.2)
    path = write_case(rows, programs={"offsite": {}, "yanxuan": {}}, price_step=0.5,
                      constraints={"gmv_min": target})
    outcome, plan, _ = solve_case(path)
    assert solve_exit_code(outcome.status) == 0
    assert sum(float(r["revenue"]) for r in plan) >= target - 0.02
    summary = json.loads((outcome.outdir / "summary.json").read_text("utf-8"))
    assert summary["constraints"]["gmv_min"]["limit"] == target
    assert summary["constraints"]["gmv_min"]["value"] >= target - 0.01
    assert_brute_optimum(outcome, path)


def test_gmv_min_unreachable(write_case: WriteCase, solve_case: SolveCase) -> None:
    """Exit 3, a message naming gmv_min and the numbers; the brute force agrees."""
    path = write_case(three_skus(), programs={"offsite": {}, "yanxuan": {}}, price_step=0.5,
                      constraints={"gmv_min": 1_000_000})
    outcome, plan, _ = solve_case(path)
    assert solve_exit_code(outcome.status) == 3
    assert outcome.result.status == "INFEASIBLE"
    assert plan == []
    assert "gmv_min" in outcome.text
    numbers = {Fraction(x) for x in NUMBER.findall(outcome.text.replace(",", ""))}
    assert Fraction(1_000_000) in numbers
    assert brute_force_optimum(path) is None


# =============================================================================================
# Programs switched off or re-priced by the scenario


def test_program_disabled(write_case: WriteCase, solve_case: SolveCase) -> None:
    """huopin {enabled: false}: never in the plan, the rest solved as if it did not exist."""
    row = sku(**FEE_ROW, dropship="false")  # huopin would be its best program
    outcome, plan, excluded = solve_case(write_case(
        [row], programs={"yanxuan": {}, "huopin": {"enabled": False}}))
    assert {k for _, k in plan_of(plan)} == {"yanxuan"}
    assert all(r["program"] != "huopin" for r in excluded)
    assert close_to(outcome.result.objective, best_single_sku(row, ["yanxuan"]))


def test_only_program_disabled(write_case: WriteCase, solve_case: SolveCase) -> None:
    """`programs: {huopin: {enabled: false}}`: nothing is in scope, an empty plan."""
    outcome, plan, _ = solve_case(write_case([sku()], programs={"huopin": {"enabled": False}}))
    assert solve_exit_code(outcome.status) == 0
    assert plan == []
    assert outcome.result.objective == 0


def test_fee_override_alone(write_case: WriteCase, solve_case: SolveCase) -> None:
    """The same SKU solved twice: only the override differs, so only offsite's fee and margin."""
    row = sku(**FEE_ROW)
    plain = plan_of(solve_case(write_case([row], programs={"offsite": {}}))[1])
    outcome, over, _ = solve_case(write_case(
        [row], programs={"offsite": {"fees": {"help_sell_commission": 0.01}}}))
    line = plan_of(over)[("S1", "offsite")]
    assert row_fee(plain[("S1", "offsite")]) == Fraction("0.006")
    assert row_fee(line) == Fraction("0.016")
    assert line["price"] == plain[("S1", "offsite")]["price"] == "8.99"
    assert close_to(outcome.result.objective, spec_margin("offsite", row, 899, Fraction("0.016")))


def test_margin_rule_cost_without_shipping(write_case: WriteCase, solve_case: SolveCase) -> None:
    """huopin is not free shipping: its cost leaves shipping out (8.50, not 9.00), so 9.00 *
    0.994 = 8.946 keeps a non-negative margin and the SKU is enrolled, at no loss."""
    row = sku(market_price="10.00", min_price_30d="9.50", unit_cost="8.50", shipping_cost="0.50",
              dropship="false")
    outcome, plan, _ = solve_case(write_case([row], programs={"huopin": {}}))
    assert ("S1", "huopin") in plan_of(plan)
    for line in plan:
        assert keeps_margin(line["program"], row, fen(line["price"]), row_fee(line), ZERO)
    found = best_price("huopin", row, Fraction("0.006"))
    assert found is not None
    assert close_to(outcome.result.objective, found[0])


# =============================================================================================
# 全网比价 (SPEC 2.2, 3): offsite price < web_min_price, strict, when the column is given

def _web_rows(web: bool) -> list[dict[str, Any]]:
    """Inelastic demand: each enrolled SKU sits on the highest price under its caps."""
    base = {"market_price": "20.00", "min_price_30d": "20.00", "unit_cost": "3.00",
            "elasticity": "0.5"}
    given = [("15.00", {}), ("15.01", {}), ("5.00", {"unit_cost": "4.98"})]
    return [sku(**{**base, **extra, **({"web_min_price": w} if web else {})}) for w, extra in given]


def test_web_min_price_is_a_strict_cap(write_case: WriteCase, solve_case: SolveCase,
                                       caplog: pytest.LogCaptureFixture) -> None:
    """price == web_min_price is refused (15.00 -> 14.99), one fen below it is allowed
    (15.01 -> 15.00); a SKU that loses money under it is PRICE_CAP, naming the cap."""
    path = write_case(_web_rows(True), programs={"offsite": {}})
    with caplog.at_level(logging.WARNING):
        outcome, plan, excluded = solve_case(path)
    assert not [r for r in caplog.records if "web_min_price" in r.getMessage()]
    got = plan_of(plan)
    assert got[("S1", "offsite")]["price"] == "14.99"
    assert got[("S2", "offsite")]["price"] == "15.00"
    row = excluded_of(excluded)[("S3", "offsite")]
    assert row["reason"] == "PRICE_CAP"
    assert "web_min_price x 1.0 (strict)" in row["detail"]
    assert solve_exit_code(outcome.status) == 0


def test_without_web_min_price_the_cap_is_skipped_with_one_warning(
        write_case: WriteCase, solve_case: SolveCase, caplog: pytest.LogCaptureFixture) -> None:
    """No column: the 0.9 x market cap binds instead (17.99), the 4.98-cost SKU enrolls, and
    one warning says the check was skipped."""
    path = write_case(_web_rows(False), programs={"offsite": {}, "yanxuan": {}})
    with caplog.at_level(logging.WARNING):
        outcome, plan, _ = solve_case(path)
    said = [r.getMessage() for r in caplog.records if "web_min_price" in r.getMessage()]
    assert len(said) == 1 and "no web_min_price column" in said[0] and "skipped" in said[0]
    got = plan_of(plan)
    assert {got[(s, "offsite")]["price"] for s in ("S1", "S2", "S3")} == {"17.99"}
    assert solve_exit_code(outcome.status) == 0


@pytest.mark.parametrize("web", [True, False])
def test_web_min_price_matches_the_brute_force(write_case: WriteCase, solve_case: SolveCase,
                                               web: bool) -> None:
    """On a 0.50 lattice (small enough to enumerate) the brute force's own reading of the cap
    agrees: with the column S1 tops out at 14.50 (15.00 is not < 15.00), S2 at 15.00."""
    path = write_case(_web_rows(web), programs={"offsite": {}}, price_step=0.5)
    outcome, plan, _ = solve_case(path)
    if web:
        assert plan_of(plan)[("S1", "offsite")]["price"] == "14.50"
        assert plan_of(plan)[("S2", "offsite")]["price"] == "15.00"
    brute = brute_force_optimum(path)
    assert brute is not None and close_to(outcome.result.objective, brute[0])


def test_the_auditor_refuses_a_price_at_web_min_price(write_case: WriteCase) -> None:
    """The auditor's own reading of the cap: strict at equality, skipped without the column."""
    world = load_world(write_case(_web_rows(True), programs={"offsite": {}}))
    prog, s1 = world.programs["offsite"], world.skus["S1"]
    assert not sem.cap_holds(prog, "web_min_price", s1, Fraction(1500))
    assert sem.cap_holds(prog, "web_min_price", s1, Fraction(1499))
    bare = load_world(write_case(_web_rows(False), programs={"offsite": {}}))
    assert sem.cap_holds(bare.programs["offsite"], "web_min_price", bare.skus["S1"],
                         Fraction(10**9))
    assert sem.price_ceiling_fen(bare, "offsite", bare.skus["S1"]) == 1799
