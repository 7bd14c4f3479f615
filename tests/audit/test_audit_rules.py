"""One test per rule: a compliant plan passes, a plan breaking exactly that rule gets its code."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizer.audit import audit_rows
from tests.audit.conftest import MERCHANT, Fill, MakeScenario, hand_rows


def offsite_units(price: float, market: float = 12.0, daily: float = 10.0) -> float:
    """SPEC 4 by hand: daily x multiplier 1.0 x 23 days (a new enrollment waits off-site's 7
    review days of its 30, SPEC 6.1) x (p/market)^-2.5."""
    return daily * 1.0 * 23 * (price / market) ** -2.5


def codes(scenario: Path, rows: list[dict[str, str]]) -> set[str]:
    return audit_rows(scenario, rows).codes()


COMPLIANT = [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40"), ("S2", "huopin", "10.80"),
             ("S2", "yanxuan", "11.40"), ("S2", "crossborder", "11.40"),
             ("S1", "aliexpress_semi", "12.00")]


def test_compliant_plan_passes(make_scenario: MakeScenario) -> None:
    """Every figure of the plan computed by hand (hand_rows, from the SPEC's tables), not by the
    auditor: the auditor recomputes the same units, fees and margins (no MISMATCH_*), finds no
    rule broken, and totals the hand margins."""
    skus = {"S1": {}, "S2": {"sku_id": "S2", "offer_id": "O2"}}
    sc = make_scenario(list(skus.values()))
    rows = hand_rows(skus, COMPLIANT)
    # non-stacking, by hand: yanxuan's 0.05 reaches S1's offsite and S2's crossborder orders
    # (capped at 0.05, charged once), never the non-help-sell huopin / aliexpress_semi orders
    assert {(r["sku_id"], r["program"]): r["fee_rate"] for r in rows} == {
        ("S1", "offsite"): "0.056", ("S1", "yanxuan"): "0.056", ("S2", "huopin"): "0.006",
        ("S2", "yanxuan"): "0.056", ("S2", "crossborder"): "0.056",
        ("S1", "aliexpress_semi"): "0.08"}
    report = audit_rows(sc, rows)
    assert report.violations == [], report.format()
    assert report.objective == pytest.approx(sum(float(r["margin"]) for r in rows), abs=0.05)
    assert report.programs["yanxuan"].enrolled_skus == 2
    # and one hand figure off by a cent more than rounding is caught
    bad = [dict(r) for r in rows]
    bad[0]["margin"] = f"{float(bad[0]['margin']) + 0.02:.2f}"
    assert codes(sc, bad) == {"MISMATCH_MARGIN"}


@pytest.mark.parametrize(("market", "min30", "program", "price", "ok"), [
    ("12.00", "9.00", "offsite", "8.99", True),    # under the strict 30-day minimum
    ("12.00", "9.00", "offsite", "9.00", False),   # equal to it: strict cap breaks
    ("10.00", "9.50", "offsite", "8.99", True),    # under 0.9 x market = 9.00
    ("10.00", "9.50", "offsite", "9.00", False),   # 0.9 x market is strict too
    ("10.00", "9.50", "offsite", "9.49", False),
    ("10.00", "9.50", "yanxuan", "9.50", True),    # 0.95 x market, non-strict
    ("10.00", "9.50", "yanxuan", "9.51", False),
    ("12.00", "9.00", "huopin", "10.80", True),    # 0.90 x market, non-strict
    ("12.00", "9.00", "huopin", "10.81", False),
    ("12.00", "9.00", "aliexpress_semi", "12.00", True),
    ("12.00", "9.00", "aliexpress_semi", "12.01", False),
])
def test_price_caps_exact(make_scenario: MakeScenario, fill: Fill, market: str, min30: str,
                          program: str, price: str, ok: bool) -> None:
    sc = make_scenario([{"market_price": market, "min_price_30d": min30}])
    assert codes(sc, fill(sc, [("S1", program, price)])) == (set() if ok else {"PRICE_CAP"})


def test_price_cap_message_names_cap_and_bound(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario([{"market_price": "12.00", "min_price_30d": "9.00"}])
    [v] = audit_rows(sc, fill(sc, [("S1", "offsite", "9.00")])).violations
    assert (v.code, v.sku_id, v.program) == ("PRICE_CAP", "S1", "offsite")
    assert "min_price_30d" in v.message and "9.00" in v.message and "<" in v.message


@pytest.mark.parametrize(("price", "expected"), [
    ("8.90", set()), ("8.95", {"PRICE_STEP"}), ("8.955", {"PRICE_STEP"}),
])
def test_price_step(make_scenario: MakeScenario, fill: Fill, price: str,
                    expected: set[str]) -> None:
    sc = make_scenario(price_step=0.1)
    assert codes(sc, fill(sc, [("S1", "offsite", price)])) == expected


def test_price_below_one_fen(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario()
    assert codes(sc, fill(sc, [("S1", "offsite", "0.00")])) == {"PRICE_MIN"}


def test_merchant_rule(make_scenario: MakeScenario, fill: Fill) -> None:
    from tests.audit.conftest import MERCHANT

    sc = make_scenario(merchant={**MERCHANT, "l_level": 1})
    report = audit_rows(sc, fill(sc, [("S1", "offsite", "8.99")]))
    assert report.codes() == {"MERCHANT_RULE"}
    assert "l_level 1 is not >= 2" in report.violations[0].message


def test_missing_merchant_field_fails_its_rules(make_scenario: MakeScenario, fill: Fill) -> None:
    from tests.audit.conftest import MERCHANT

    merchant = {k: v for k, v in MERCHANT.items() if k != "service_star"}
    sc = make_scenario(merchant=merchant)
    report = audit_rows(sc, fill(sc, [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40")]))
    [v] = report.violations
    assert (v.code, v.program) == ("MERCHANT_RULE", "offsite")
    assert "service_star is missing" in v.message


def test_merchant_any_of_and_trade_medal_text(make_scenario: MakeScenario, fill: Fill) -> None:
    """L1 fails l_level >= 2 but 实力商家 satisfies the any_of; '2A' is trade medal 2."""
    from tests.audit.conftest import MERCHANT

    sc = make_scenario(merchant={**MERCHANT, "l_level": 1, "membership": "shili",
                                 "trade_medal": "2A"})
    assert codes(sc, fill(sc, [("S1", "yanxuan", "11.40")])) == set()
    sc = make_scenario(merchant={**MERCHANT, "l_level": 1, "trade_medal": "none"})
    report = audit_rows(sc, fill(sc, [("S1", "yanxuan", "11.40")]))
    assert report.codes() == {"MERCHANT_RULE"}
    assert len(report.violations) == 2  # level_or_membership and trade_medal


def test_merchant_count_rule(make_scenario: MakeScenario) -> None:
    """count:dropship is over the whole catalogue: no dropship SKU closes offsite to the shop."""
    sc = make_scenario([{"dropship": "false"}])
    row = {"sku_id": "S1", "offer_id": "O1", "program": "offsite", "price": "8.99"}
    report = audit_rows(sc, [row])
    assert {(v.code, v.message.split(":")[0]) for v in report.violations} >= {
        ("MERCHANT_RULE", "dropship_skus"), ("SKU_RULE", "dropship")}


def test_sku_rule(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario([{"growth_score": 55}])
    report = audit_rows(sc, fill(sc, [("S1", "offsite", "8.99"), ("S1", "aliexpress_semi",
                                                                     "12.00")]))
    [v] = report.violations
    assert (v.code, v.sku_id, v.program) == ("SKU_RULE", "S1", "offsite")
    assert "growth_score 55 is not >= 60" in v.message


@pytest.mark.parametrize(("ship_hours", "listed_days", "sold", "ok"), [
    (48, 365, 360, True), (72, 365, 360, False), (72, 365, 8, True), (72, 18, 360, True),
    (96, 18, 8, False),
])
def test_sku_rule_nested_any_of(make_scenario: MakeScenario, fill: Fill, ship_hours: int,
                                listed_days: int, sold: int, ok: bool) -> None:
    sc = make_scenario([{"ship_hours": ship_hours, "listed_days": listed_days,
                         "sales_last_month": sold}])
    assert codes(sc, fill(sc, [("S1", "aliexpress_semi", "12.00")])) == (
        set() if ok else {"SKU_RULE"})


def test_optional_columns_take_spec_defaults(make_scenario: MakeScenario) -> None:
    """No ship_hours column: 72 h fails offsite's 48 h; no moq column: 1 passes yanxuan's."""
    sc = make_scenario([{"ship_hours": None, "moq": None}])
    rows = [{"sku_id": "S1", "offer_id": "O1", "program": p, "price": x}
            for p, x in (("offsite", "8.99"), ("yanxuan", "11.40"))]
    report = audit_rows(sc, rows)
    rules = {(v.program, v.code) for v in report.violations if v.code.endswith("_RULE")}
    assert rules == {("offsite", "SKU_RULE")}


def test_min_unit_margin_uses_the_fee_actually_paid(make_scenario: MakeScenario,
                                                    fill: Fill) -> None:
    """Cost 8.10 + shipping 0.50: at 8.99 offsite alone keeps 8.99 x 0.994 = 8.936 >= 8.60, but
    with yanxuan too the offsite order pays 0.056: 8.99 x 0.944 = 8.487 < 8.60."""
    sc = make_scenario([{"unit_cost": "8.10"}])
    assert codes(sc, fill(sc, [("S1", "offsite", "8.99")])) == set()
    report = audit_rows(sc, fill(sc, [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40")]))
    assert [(v.code, v.program) for v in report.violations] == [("MIN_MARGIN", "offsite")]


def test_min_unit_margin_rate(make_scenario: MakeScenario, fill: Fill) -> None:
    """Rate 0.58 at 8.99 needs 5.2142: alone 8.936 - 3.50 = 5.436 passes, paying 0.056
    8.487 - 3.50 = 4.987 fails."""
    sc = make_scenario(constraints={"min_unit_margin_rate": 0.58})
    assert codes(sc, fill(sc, [("S1", "offsite", "8.99")])) == set()
    rows = fill(sc, [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40")])
    assert {(v.code, v.program) for v in audit_rows(sc, rows).violations} == {
        ("MIN_MARGIN", "offsite")}


def test_stock_with_reserve_days(make_scenario: MakeScenario, fill: Fill) -> None:
    units = offsite_units(8.99)
    assert 450 < units < 500  # stock 500; 5 reserve days x 10 a day leave 450
    sku = {"stock": 500}
    assert codes(make_scenario([sku]), fill(make_scenario([sku]),
                                            [("S1", "offsite", "8.99")])) == set()
    sc = make_scenario([sku], constraints={"stock_reserve_days": 5})
    report = audit_rows(sc, fill(sc, [("S1", "offsite", "8.99")]))
    [v] = report.violations
    assert (v.code, v.sku_id) == ("STOCK", "S1")
    assert "450.000" in v.message


def test_stock_counts_every_program(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario([{"stock": 600}])  # 473.5 offsite + 131.6 yanxuan: each alone fits
    rows = fill(sc, [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40")])
    assert codes(sc, rows) == {"STOCK"}


def test_all_or_none(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario([{}, {"sku_id": "S2"}])
    assert codes(sc, fill(sc, [("S1", "yanxuan", "11.40"), ("S2", "yanxuan", "11.00")])) == set()
    report = audit_rows(sc, fill(sc, [("S1", "yanxuan", "11.40")]))
    [v] = report.violations
    assert (v.code, v.sku_id, v.program) == ("ALL_OR_NONE", "S2", "yanxuan")
    assert codes(sc, fill(sc, [("S2", "huopin", "10.80")])) == {"ALL_OR_NONE"}


@pytest.mark.parametrize("s2", [
    {"sku_id": "S2", "moq": 5},                              # fails a SKU rule
    {"sku_id": "S2", "unit_cost": "11.20"},                  # no yanxuan price keeps a margin
    {"sku_id": "S2", "offer_id": "O2"},                      # another offer
])
def test_all_or_none_ignores_ineligible_skus(make_scenario: MakeScenario, fill: Fill,
                                             s2: dict[str, str]) -> None:
    sc = make_scenario([{}, s2])
    assert codes(sc, fill(sc, [("S1", "yanxuan", "11.40")])) == set()


def test_exclusive_at_offer_level(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario([{}, {"sku_id": "S2"}])
    # huopin is all-or-none: both SKUs of O1 go in together
    assert codes(sc, fill(sc, [("S1", "offsite", "8.99"), ("S2", "offsite", "8.99")])) == set()
    both = fill(sc, [("S1", "offsite", "8.99"), ("S1", "huopin", "10.80"),
                     ("S2", "huopin", "10.80")])
    report = audit_rows(sc, both)
    assert report.codes() == {"EXCLUSIVE"}
    assert "O1" in report.violations[0].message
    other_offer = make_scenario([{}, {"sku_id": "S2", "offer_id": "O2"}])
    assert codes(other_offer, fill(other_offer, [("S1", "offsite", "8.99"),
                                                 ("S2", "huopin", "10.80")])) == set()


def test_exclusive_same_sku(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario()
    assert codes(sc, fill(sc, [("S1", "offsite", "8.99"), ("S1", "huopin", "10.80")])) == {
        "EXCLUSIVE"}


def test_max_skus(make_scenario: MakeScenario, fill: Fill) -> None:
    skus = [{}, {"sku_id": "S2", "offer_id": "O2"}]
    plan = [("S1", "offsite", "8.99"), ("S2", "offsite", "8.50")]
    sc = make_scenario(skus, constraints={"max_skus": {"offsite": 2, "yanxuan": 0}})
    assert codes(sc, fill(sc, plan)) == set()
    sc = make_scenario(skus, constraints={"max_skus": {"offsite": 1}})
    report = audit_rows(sc, fill(sc, plan))
    assert [(v.code, v.program) for v in report.violations] == [("MAX_SKUS", "offsite")]


def test_discount_budget(make_scenario: MakeScenario, fill: Fill) -> None:
    discount = offsite_units(8.99) * (12.00 - 8.99)  # about 1425 yuan
    for budget, expected in ((round(discount + 0.01, 2), set()),
                             (round(discount - 0.01, 2), {"DISCOUNT_BUDGET"})):
        sc = make_scenario(constraints={"discount_budget": budget})
        assert codes(sc, fill(sc, [("S1", "offsite", "8.99")])) == expected


def test_gmv_min(make_scenario: MakeScenario, fill: Fill) -> None:
    gmv = offsite_units(8.99) * 8.99 + 10 * 6.0 * 2 * (11.40 / 12.00) ** -1.8 * 11.40
    plan = [("S1", "offsite", "8.99"), ("S1", "yanxuan", "11.40")]
    for target, expected in ((round(gmv - 0.01, 2), set()),
                             (round(gmv + 0.01, 2), {"GMV_MIN"})):
        sc = make_scenario(constraints={"gmv_min": target})
        assert codes(sc, fill(sc, plan)) == expected


def test_gmv_min_counts_only_1688_trades(make_scenario: MakeScenario) -> None:
    """SPEC 2.1 / 3: the 通天 GMV is baseline_gmv + units x price of the programs whose orders are
    1688 trades. AliExpress revenue (counts_toward_gmv false) does not count, so a plan that
    meets gmv_min only with its aliexpress_semi row breaks GMV_MIN; the shop's baseline GMV
    outside the programs does count. Revenues by hand (hand_rows, SPEC 4)."""
    skus: dict[str, dict[str, str]] = {"S1": {}}
    rows = hand_rows(skus, [("S1", "offsite", "8.99"), ("S1", "aliexpress_semi", "12.00")])
    offsite, ali = (float(r["revenue"]) for r in rows)
    assert ali > 100  # the AliExpress row is worth enough to matter
    target = round(offsite + ali / 2, 2)  # met with AliExpress, not without
    plain = make_scenario(constraints={"gmv_min": target})
    assert codes(plain, rows) == {"GMV_MIN"}
    report = audit_rows(plain, rows)
    assert report.constraints["gmv_min"]["value"] == pytest.approx(offsite, abs=0.011)
    assert report.gmv == pytest.approx(offsite + ali, abs=0.011)  # the total still has both
    # a baseline that closes the gap without AliExpress: met; one a fen short: still broken
    gap = round(target - offsite, 2)
    for baseline, expected in ((round(gap + 0.01, 2), set()), (round(gap - 0.02, 2), {"GMV_MIN"})):
        sc = make_scenario(merchant={**MERCHANT, "baseline_gmv": baseline},
                           constraints={"gmv_min": target})
        assert codes(sc, rows) == expected, baseline
    # the offsite row alone, with a baseline that meets the target by itself
    sc = make_scenario(merchant={**MERCHANT, "baseline_gmv": target},
                       constraints={"gmv_min": target})
    assert codes(sc, rows[:1]) == set()


def test_offer_mismatch(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario()
    [row] = fill(sc, [("S1", "offsite", "8.99")])
    assert codes(sc, [{**row, "offer_id": "O9"}]) == {"OFFER_MISMATCH"}


def test_unknown_sku_program_and_duplicates(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario(programs={"offsite": {}, "yanxuan": {}, "huopin": {"enabled": False}})
    [row] = fill(sc, [("S1", "offsite", "8.99")])
    assert codes(sc, [row, {**row, "sku_id": "NOPE"}]) == {"UNKNOWN_SKU"}
    assert codes(sc, [row, {**row, "program": "huopin"}]) == {"UNKNOWN_PROGRAM"}
    assert codes(sc, [row, {**row, "program": "crossborder"}]) == {"UNKNOWN_PROGRAM"}
    assert codes(sc, [row, row]) == {"DUPLICATE"}


def test_bad_cells(make_scenario: MakeScenario, fill: Fill) -> None:
    sc = make_scenario()
    [row] = fill(sc, [("S1", "offsite", "8.99")])
    assert codes(sc, [{**row, "price": "cheap"}]) == {"BAD_VALUE"}
    assert codes(sc, [{**row, "units": "many"}]) == {"BAD_VALUE"}
    assert codes(sc, [{k: v for k, v in row.items() if k != "margin"}]) == {"MISSING_COLUMN"}


@pytest.mark.parametrize(("market", "min30", "step", "program", "highest"), [
    ("12.00", "9.00", 0.01, "offsite", 899),      # strict 30-day minimum binds
    ("10.00", "9.50", 0.01, "offsite", 899),      # strict 0.9 x market binds
    ("10.00", "9.50", 0.01, "yanxuan", 950),      # non-strict 0.95 x market
    ("9.99", "9.99", 0.01, "offsite", 899),       # 0.9 x 9.99 = 8.991: 8.99 < 8.991
    ("5.00", "4.80", 0.5, "offsite", 400),        # 4.50 is the strict bound itself
    ("5.00", "4.80", 0.5, "yanxuan", 450),        # 4.75 rounded down to the lattice
])
def test_highest_allowed_price(make_scenario: MakeScenario, market: str, min30: str,
                               step: float, program: str, highest: int) -> None:
    """The lattice ceiling the eligibility test and the brute force enumerate up to."""
    from optimizer.audit import load_world
    from optimizer.audit.semantics import price_ceiling_fen

    world = load_world(make_scenario([{"market_price": market, "min_price_30d": min30}],
                                     price_step=step))
    assert price_ceiling_fen(world, program, world.skus["S1"]) == highest
