"""The brute force's reading of today's enrollments (SPEC 6.1), against numbers worked out by hand.

The reference must be right before it can judge the solver. Each case is one or two SKUs whose
optimum is written here as a formula of SPEC 4 (units x unit margin, the days of SPEC 6.1), so a
wrong reading of the days, the commitments, the stock lift or all-or-none shows as a number.

Common SKU: market 12.00, unit cost 7.00, 10 a day, price_step 0.50. In offsite (fee 0.006,
elasticity 2.5, horizon 30, review 7) the caps are p < min_price_30d = 10.51 and p < 10.80, so
the lattice ends at 10.50; the unconstrained best price 2.5 x 7 / (1.5 x 0.994) = 11.74 (12.36
at the 0.944 of a SKU in 严选) is above it: a new offsite enrollment's best is 10.50.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import GOOD, close_to, write_case
from tests.reference.brute import brute_force_optimum

SKU: dict[str, Any] = {**GOOD, "market_price": "12.00", "min_price_30d": "10.51",
                       "unit_cost": "7.00", "daily_units": 10, "stock": 10000}
STEP = 0.5


def offsite(price: float, days: float, fee: float = 0.006) -> float:
    """Margin (yuan) of one offsite enrollment of SKU: 10/day x days x (p/12)^-2.5 x unit margin."""
    return 10 * days * (price / 12) ** -2.5 * (price * (1 - fee) - 7.00)


def yanxuan(price: float, cost: float, market: float = 12.0) -> float:
    """Margin of a 严选 row that continues (review 0): 10/day x 6 x 2 days x (p/m)^-1.8, fee
    0.006 + 0.05 = 0.056, free shipping."""
    return 10 * 6 * 2 * (price / market) ** -1.8 * (price * (1 - 0.056) - cost)


def case(folder: Path, rows: list[dict[str, Any]], programs: dict[str, Any],
         **overrides: Any) -> Path:
    return write_case(folder, rows, programs=programs, price_step=STEP, **overrides)


def optimum(path: Path, current: list[tuple[str, str, int]] | None
            ) -> tuple[float, list[dict[str, str]]]:
    found = brute_force_optimum(path, current)
    assert found is not None
    return found


# ---------------------------------------------------------------------------------------------
# none: keep at today's price for the whole horizon, or reprice and wait for the review


@pytest.mark.parametrize(("today", "keeps"), [(1000, True), (750, False)])
def test_a_free_row_keeps_its_price_or_reprices_whichever_earns_more(
        tmp_path: Path, today: int, keeps: bool) -> None:
    """10.00 kept over 30 days (1,391.3) beats 10.50 new over 23 (1,103.8); 7.50 kept (442.0)
    does not."""
    path = case(tmp_path, [SKU], {"offsite": {"commitment": "none"}})
    value, rows = optimum(path, [("S1", "offsite", today)])
    keep, new = offsite(today / 100, 30), offsite(10.5, 23)
    assert (keep > new) == keeps
    assert close_to(value, max(keep, new))
    [row] = rows
    assert (row["price"], row["change"]) == (("10.00", "keep") if keeps else ("10.50", "reprice"))


def test_without_current_a_new_row_sells_horizon_minus_review(tmp_path: Path) -> None:
    path = case(tmp_path, [SKU], {"offsite": {}})
    assert close_to(optimum(path, [])[0], offsite(10.5, 23))


def test_a_kept_price_must_still_keep_the_rules(tmp_path: Path) -> None:
    """Today's 10.50 is no longer under min_price_30d 10.40: it cannot continue, and the best
    new price is 10.00 (p < 10.40 on the 0.50 lattice) over 23 days."""
    path = case(tmp_path, [{**SKU, "min_price_30d": "10.40"}], {"offsite": {"commitment": "none"}})
    value, [row] = optimum(path, [("S1", "offsite", 1050)])
    assert close_to(value, offsite(10.0, 23))
    assert row["change"] == "reprice"


def test_current_rows_are_read_from_the_scenario_file(tmp_path: Path) -> None:
    path = case(tmp_path, [SKU], {"offsite": {"commitment": "none"}}, current="current.csv")
    (tmp_path / "current.csv").write_text("sku_id,program,price\nS1,offsite,10.00\n", "utf-8")
    assert close_to(optimum(path, None)[0], offsite(10.0, 30))


def test_a_current_row_of_an_unknown_sku_is_refused(tmp_path: Path) -> None:
    path = case(tmp_path, [SKU], {"offsite": {}})
    with pytest.raises(ValueError, match="unknown SKU"):
        brute_force_optimum(path, [("S9", "offsite", 1000)])


# ---------------------------------------------------------------------------------------------
# no_exit: in every plan at its price, whatever it breaks


def test_a_locked_row_breaking_growth_score_and_the_margin_rule_stays_in(tmp_path: Path) -> None:
    """growth_score 55 < 60 keeps the SKU out of 严选; locked at 11.00 below its cost 11.50 it
    loses money and still is the whole plan. Without today's row nothing can be enrolled."""
    row = {**SKU, "growth_score": 55, "unit_cost": "11.50"}
    path = case(tmp_path, [row], {"yanxuan": {}})
    assert close_to(optimum(path, [])[0], 0.0)
    value, [line] = optimum(path, [("S1", "yanxuan", 1100)])
    assert value < 0
    assert close_to(value, yanxuan(11.0, 11.5))
    assert (line["program"], line["price"], line["change"]) == ("yanxuan", "11.00", "keep")


def test_a_locked_yanxuan_row_charges_its_commission_on_offsite_orders(tmp_path: Path) -> None:
    """pickup_rate 0.80 keeps the SKU out of 严选, but locked there its offsite orders pay
    0.006 + 0.05: offsite's best is still 10.50 (its best price 12.36 is over the lattice)."""
    row = {**SKU, "pickup_rate_48h": "0.80"}
    path = case(tmp_path, [row], {"offsite": {}, "yanxuan": {}})
    assert close_to(optimum(path, [])[0], offsite(10.5, 23))
    value, rows = optimum(path, [("S1", "yanxuan", 1100)])
    assert close_to(value, yanxuan(11.0, 7.0) + offsite(10.5, 23, fee=0.056))
    assert {(r["program"], r["price"], r["fee_rate"]) for r in rows} == {
        ("yanxuan", "11.00", "0.056"), ("offsite", "10.50", "0.056")}


def test_locked_rows_may_exceed_the_stock_but_nothing_may_add_to_them(tmp_path: Path) -> None:
    """Stock 100 < the locked 严选 row's 120 x (11/12)^-1.8 = 140.3 units: it stays; AliExpress
    (10 x 0.8 x 30 units at market) cannot add a unit. Without the lift there is no plan."""
    row = {**SKU, "stock": 100}
    path = case(tmp_path, [row], {"yanxuan": {}, "aliexpress_semi": {}})
    value, rows = optimum(path, [("S1", "yanxuan", 1100)])
    assert close_to(value, yanxuan(11.0, 7.0))
    assert [r["program"] for r in rows] == ["yanxuan"]
    assert float(rows[0]["units"]) > 100


def test_a_locked_row_turns_its_offers_all_or_none_program_on(tmp_path: Path) -> None:
    """S1 (moq 3 > 2: not eligible) is locked in 严选, all or none per offer; S2 of the same
    offer is eligible, so it must join: one 严选 slot cannot hold both, two can. 严选's lattice
    ends at 11.00 (<= 0.95 x 12), under its best price 1.8 x 7 / (0.8 x 0.944) = 16.7."""
    rows = [{**SKU, "offer_id": "O1", "moq": 3}, {**SKU, "offer_id": "O1"}]
    locked = [("S1", "yanxuan", 1100)]
    one = case(tmp_path / "one", rows, {"yanxuan": {}}, constraints={"max_skus": {"yanxuan": 1}})
    assert brute_force_optimum(one, locked) is None
    value, plan = optimum(one, [])  # without today's row S2 takes the slot alone
    assert close_to(value, yanxuan(11.0, 7.0))
    assert [r["sku_id"] for r in plan] == ["S2"]
    two = case(tmp_path / "two", rows, {"yanxuan": {}}, constraints={"max_skus": {"yanxuan": 2}})
    value, plan = optimum(two, locked)
    assert close_to(value, 2 * yanxuan(11.0, 7.0))
    assert {(r["sku_id"], r["price"]) for r in plan} == {("S1", "11.00"), ("S2", "11.00")}


def test_locked_rows_over_a_slot_cap_leave_no_plan(tmp_path: Path) -> None:
    path = case(tmp_path, [SKU], {"yanxuan": {}}, constraints={"max_skus": {"yanxuan": 0}})
    assert brute_force_optimum(path, [("S1", "yanxuan", 1100)]) is None


# ---------------------------------------------------------------------------------------------
# fixed_until_exit: per offer keep every row of today's, or leave and register anew


def two_in_one_offer(folder: Path, **overrides: Any) -> Path:
    rows = [{**SKU, "offer_id": "O1"}, {**SKU, "offer_id": "O1"}]
    return case(folder, rows, {"offsite": overrides})


@pytest.mark.parametrize(("second", "kept"), [(950, True), (750, False)])
def test_a_fixed_offer_keeps_both_rows_or_neither(tmp_path: Path, second: int, kept: bool
                                                  ) -> None:
    """S1 at 10.00 is worth keeping (1,391.3 > 1,103.8 new). With S2 at 9.50 (1,314.3 kept)
    keeping both wins; with S2 at 7.50 (442.0 kept) the best mix, S1 kept and S2 repriced
    (2,495.1), is not allowed: both leave and reprice to 10.50 (2,207.6)."""
    path = two_in_one_offer(tmp_path)
    value, rows = optimum(path, [("S1", "offsite", 1000), ("S2", "offsite", second)])
    both = offsite(10.0, 30) + offsite(second / 100, 30)
    neither = 2 * offsite(10.5, 23)
    mix = offsite(10.0, 30) + offsite(10.5, 23)
    assert (both > neither) == kept
    assert kept or mix > neither  # the mix would beat leaving: the commitment is what forbids it
    assert close_to(value, max(both, neither))
    assert {r["change"] for r in rows} == ({"keep"} if kept else {"reprice"})


def test_the_mix_is_allowed_once_the_commitment_is_none(tmp_path: Path) -> None:
    path = two_in_one_offer(tmp_path, commitment="none")
    value, _ = optimum(path, [("S1", "offsite", 1000), ("S2", "offsite", 750)])
    assert close_to(value, offsite(10.0, 30) + offsite(10.5, 23))


def test_a_fixed_offer_that_keeps_adds_no_sku(tmp_path: Path) -> None:
    """Only S1 is in offsite today: keeping it (1,391.3) excludes S2 from offsite, so the offer
    earns 1,391.3 kept or 2 x 1,103.8 = 2,207.6 after leaving: it leaves."""
    path = two_in_one_offer(tmp_path)
    value, rows = optimum(path, [("S1", "offsite", 1000)])
    assert close_to(value, 2 * offsite(10.5, 23))
    assert {(r["sku_id"], r["price"]) for r in rows} == {("S1", "10.50"), ("S2", "10.50")}


def test_a_fixed_row_that_breaks_a_rule_cannot_be_kept_so_its_offer_leaves(tmp_path: Path
                                                                          ) -> None:
    """S2's 9.50 would be worth keeping, but S2 is no longer dropship: it cannot continue, so
    S1 (worth keeping alone) cannot either; S1 re-registers at 10.50, S2 is out."""
    rows = [{**SKU, "offer_id": "O1"}, {**SKU, "offer_id": "O1", "dropship": "false"}]
    path = case(tmp_path, rows, {"offsite": {}})
    value, plan = optimum(path, [("S1", "offsite", 1000), ("S2", "offsite", 950)])
    assert close_to(value, offsite(10.5, 23))
    assert [(r["sku_id"], r["price"]) for r in plan] == [("S1", "10.50")]


def test_after_leaving_todays_price_is_a_new_enrollment(tmp_path: Path) -> None:
    """The offer leaves (S2's row cannot stay); S1 re-registers at today's 10.50, the best
    lattice price, and sells 23 days, not 30."""
    rows = [{**SKU, "offer_id": "O1"}, {**SKU, "offer_id": "O1", "dropship": "false"}]
    path = case(tmp_path, rows, {"offsite": {}})
    value, [line] = optimum(path, [("S1", "offsite", 1050), ("S2", "offsite", 950)])
    assert close_to(value, offsite(10.5, 23))
    assert (line["price"], line["change"]) == ("10.50", "reprice")
