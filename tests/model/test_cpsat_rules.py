"""Each CP-SAT rule builder on its own, as a trio in the style of the cpsat-primer's TDD chapter.

For every `add_*` of optimizer/model/cpsat.py (and `set_objective`):

* trivial: the rule has nothing to say (no hub, no offer-level program, a limit that cannot bind)
  and the model takes any plan;
* feasible: the rule binds, and the optimum (margins written by hand) is the hand-computed one,
  or a plan that keeps the rule *exactly at its limit* is accepted;
* infeasible: a plan that breaks the rule, fixed in the model, is refused.

The scaled rows (stock, discount budget, GMV) are tested at their limit to a hair: the module
promises that whatever the model accepts also holds in exact arithmetic, so coefficients must
round against the plan. Where a docstring says "Fails if ...", that one-token mutation was
applied to cpsat.py (then reverted) and seen to fail the test.

Problems are built by hand (tests/model/tiny.py): the expected figures are arithmetic here, not
the scorer's. Nothing here writes a plan file, so the auditor is not involved; the composition
with real scenarios is tested (and audited) in test_build_model.py.
"""

from __future__ import annotations

import pytest

from optimizer.model.cpsat import (
    EnrollModel,
    add_all_or_none,
    add_discount_budget,
    add_exclusivity,
    add_fee_variants,
    add_gmv_min,
    add_max_skus,
    add_one_price_per_pair,
    add_stock,
    set_objective,
)
from tests.model.tiny import (
    HUOPIN,
    OFFSITE,
    YANXUAN,
    C,
    assert_feasible,
    assert_infeasible,
    n_constraints,
    only,
    solve,
    tiny,
)

# =============================================================================================
# add_one_price_per_pair: at most one price per (SKU, program), across its fee variants


def test_one_price_trivial_single_prices_are_free() -> None:
    """One price per pair: nothing to forbid, so no row, and every pair can be enrolled."""
    em = tiny([C(0, OFFSITE), C(0, YANXUAN), C(1, OFFSITE)])
    add_one_price_per_pair(em)
    assert n_constraints(em) == 0
    assert_feasible(em, only(em, 0, 1, 2))


def test_one_price_feasible_best_price_of_each_pair() -> None:
    """Three prices of S1 in offsite (margins 5, 9, 7) and two of S2 (4, 6): the optimum takes
    one price per pair, the best: 9 + 6 = 15 fen (without the rule: 5+9+7+4+6 = 31)."""
    em = tiny([C(0, OFFSITE, 5), C(0, OFFSITE, 9), C(0, OFFSITE, 7),
               C(1, OFFSITE, 4), C(1, OFFSITE, 6)])
    add_one_price_per_pair(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 4}
    assert solved.objective == pytest.approx(15)


def test_one_price_infeasible_two_prices_of_one_pair() -> None:
    """Two prices of one pair in one plan are refused."""
    em = tiny([C(0, OFFSITE), C(0, OFFSITE), C(0, YANXUAN)])
    add_one_price_per_pair(em)
    assert_infeasible(em, {0: True, 1: True})


def test_one_price_spans_fee_variants() -> None:
    """The two fee variants of S1 in offsite (in / not in yanxuan) are one pair: one price of
    each is still two prices of the pair, refused; one alone is fine."""
    em = tiny([C(0, OFFSITE, hub=(0,)), C(0, OFFSITE, hub=(1,)), C(0, YANXUAN)],
              hub=(YANXUAN,))
    add_one_price_per_pair(em)
    assert_infeasible(em, {0: True, 1: True})
    assert_feasible(em, only(em, 1, 2))


# =============================================================================================
# add_fee_variants: a variant's fee assumes the SKU is (or is not) in each hub program


def fee_variant_problem(yanxuan: bool = True) -> list[C]:
    """S1 in offsite at the fee of 'not in yanxuan' (margin 10) or of 'in yanxuan' (margin 8,
    yanxuan's commission charged), and, if `yanxuan`, S1 in yanxuan itself (margin 5)."""
    cands = [C(0, OFFSITE, 10, hub=(0,)), C(0, OFFSITE, 8, hub=(1,))]
    return [*cands, C(0, YANXUAN, 5)] if yanxuan else cands


def test_fee_variants_trivial_without_hub() -> None:
    """No hub program: every fee is the SKU's own; the rule adds nothing, any plan goes."""
    em = tiny([C(0, OFFSITE), C(0, YANXUAN), C(0, HUOPIN)])
    add_fee_variants(em)
    assert n_constraints(em) == 0
    assert_feasible(em, only(em, 0, 1, 2))


def test_fee_variants_feasible_optimum_pays_the_commission() -> None:
    """With one price per pair: offsite alone 10, yanxuan alone 5, both 8 + 5 = 13 (offsite
    then pays yanxuan's commission). Optimum 13; the variant mix 10 + 5 = 15 is not a plan.
    Fails if the 'not in hub' row (chosen + hub pair <= 1) is dropped."""
    em = tiny(fee_variant_problem(), hub=(YANXUAN,))
    add_one_price_per_pair(em)
    add_fee_variants(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 2}
    assert solved.objective == pytest.approx(13)


@pytest.mark.parametrize("plan", [
    pytest.param((0, 2), id="not-in-yanxuan-fee-while-in-yanxuan"),
    pytest.param((1,), id="in-yanxuan-fee-while-not-in-yanxuan"),
])
def test_fee_variants_infeasible_wrong_fee(plan: tuple[int, ...]) -> None:
    """A price whose fee assumes the wrong yanxuan membership is refused. Fails if the
    'not in hub' row (first case) or the 'in hub' row (chosen <= hub pair, second) is dropped."""
    em = tiny(fee_variant_problem(), hub=(YANXUAN,))
    add_fee_variants(em)
    assert_infeasible(em, only(em, *plan))


def test_fee_variants_in_hub_without_hub_pair() -> None:
    """S1 has no yanxuan price at all: its 'in yanxuan' offsite variant can never be right."""
    em = tiny(fee_variant_problem(yanxuan=False), hub=(YANXUAN,))
    add_fee_variants(em)
    assert_infeasible(em, {1: True})
    assert_feasible(em, only(em, 0))


# =============================================================================================
# add_all_or_none: an offer's eligible SKUs enroll in an offer-level program together or not


def test_all_or_none_trivial() -> None:
    """One-SKU offers, and a per-SKU program with a two-SKU offer: nothing to tie together."""
    em = tiny([C(0, HUOPIN), C(1, OFFSITE), C(2, OFFSITE)], offers=[0, 1, 1],
              offer_level=[HUOPIN])
    add_all_or_none(em)
    assert n_constraints(em) == 0
    assert_feasible(em, only(em, 0, 1))


def test_all_or_none_feasible_weak_sku_comes_along() -> None:
    """Offer O1 = {S1 (margin 10), S2 (margin -3: a loss the offer must carry)} in huopin, and
    S3 alone in O2 (margin 4). Optimum 10 - 3 + 4 = 11 (S1 alone would be 14: not a plan)."""
    em = tiny([C(0, HUOPIN, 10), C(1, HUOPIN, -3), C(2, HUOPIN, 4)], offers=[0, 0, 1],
              offer_level=[HUOPIN])
    add_all_or_none(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {0, 1, 2}
    assert solved.objective == pytest.approx(11)


def test_all_or_none_feasible_any_price_of_each_sku() -> None:
    """Together means each SKU at one of its prices, not the same candidate index."""
    em = tiny([C(0, HUOPIN), C(0, HUOPIN), C(1, HUOPIN), C(1, HUOPIN)], offers=[0, 0],
              offer_level=[HUOPIN])
    add_one_price_per_pair(em)
    add_all_or_none(em)
    assert_feasible(em, only(em, 1, 2))
    assert_feasible(em, only(em))


@pytest.mark.parametrize("plan", [(0,), (1,), (0, 2)])
def test_all_or_none_infeasible_part_of_an_offer(plan: tuple[int, ...]) -> None:
    """Part of offer O1 (S1 without S2, S2 without S1) is refused, whatever O2 does."""
    em = tiny([C(0, HUOPIN), C(1, HUOPIN), C(2, HUOPIN)], offers=[0, 0, 1],
              offer_level=[HUOPIN])
    add_all_or_none(em)
    assert_infeasible(em, only(em, *plan))


def test_all_or_none_eligible_sku_without_price_blocks_the_offer() -> None:
    """S2 is eligible for huopin but has no candidate price (pruned, or no fee variant fits):
    offer O1 cannot enroll all its eligible SKUs, so S1 (margin 10) stays out: optimum 0.
    Fails if the blocking branch (`pair_expr(p) == 0` for an offer short of candidates) is
    dropped: S1 would then enroll alone."""
    em = tiny([C(0, HUOPIN, 10)], n_skus=2, offers=[0, 0], offer_level=[HUOPIN],
              also_eligible=[(1, HUOPIN)])
    add_all_or_none(em)
    assert_infeasible(em, {0: True})
    set_objective(em)
    assert solve(em).objective == 0


def test_all_or_none_ineligible_sku_does_not_block() -> None:
    """The control of the test above: S2 not eligible for huopin, S1 enrolls alone (10)."""
    em = tiny([C(0, HUOPIN, 10)], n_skus=2, offers=[0, 0], offer_level=[HUOPIN])
    add_all_or_none(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {0}
    assert solved.objective == pytest.approx(10)


# =============================================================================================
# add_exclusivity: no offer has SKUs in both programs of an exclusive pair


def test_exclusivity_trivial() -> None:
    """No exclusive pair, or an exclusive pair whose programs meet in no offer: no row."""
    cands = [C(0, OFFSITE), C(0, HUOPIN), C(1, HUOPIN)]
    em = tiny(cands)
    add_exclusivity(em)
    assert_feasible(em, only(em, 0, 1, 2))
    em = tiny([C(0, OFFSITE), C(1, HUOPIN)], exclusive=[(OFFSITE, HUOPIN)])
    add_exclusivity(em)
    assert n_constraints(em) == 0
    assert_feasible(em, only(em, 0, 1))


def test_exclusivity_feasible_same_sku_takes_the_better_program() -> None:
    """S1 earns 10 in offsite or 7 in huopin, S2 (another offer) 7 in huopin: 10 + 7 = 17
    (not 24). Fails if add_exclusivity adds nothing."""
    em = tiny([C(0, OFFSITE, 10), C(0, HUOPIN, 7), C(1, HUOPIN, 7)],
              exclusive=[(OFFSITE, HUOPIN)], offer_level=[HUOPIN])
    add_exclusivity(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {0, 2}
    assert solved.objective == pytest.approx(17)


def per_sku_offer() -> list[C]:
    """Offer O1 = {S1, S2}, both programs per SKU: S1 offsite 10, huopin 3; S2 offsite 4,
    huopin 7. All offsite 14, all huopin 10, the mix S1-offsite + S2-huopin 17 is forbidden."""
    return [C(0, OFFSITE, 10), C(0, HUOPIN, 3), C(1, OFFSITE, 4), C(1, HUOPIN, 7)]


def test_exclusivity_feasible_per_sku_programs_whole_offer() -> None:
    """Exclusivity is per offer, not per SKU: optimum 14 (all offsite), not 24 or 17.
    Fails if the offer flag of a per-SKU program (`pair <= w`) is dropped."""
    em = tiny(per_sku_offer(), offers=[0, 0], exclusive=[(OFFSITE, HUOPIN)])
    add_exclusivity(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {0, 2}
    assert solved.objective == pytest.approx(14)


@pytest.mark.parametrize("plan", [(0, 3), (1, 2), (0, 1)])
def test_exclusivity_infeasible_offer_in_both(plan: tuple[int, ...]) -> None:
    """One SKU of the offer in offsite and one (another, or the same) in huopin: refused."""
    em = tiny(per_sku_offer(), offers=[0, 0], exclusive=[(OFFSITE, HUOPIN)])
    add_exclusivity(em)
    assert_infeasible(em, only(em, *plan))


def test_exclusivity_offer_level_side_with_all_or_none() -> None:
    """huopin offer-level: the builder flags the offer by its first SKU and leans on
    all-or-none for the others. Composed with add_all_or_none, S2 in huopin and S1 in offsite
    is refused, and the optimum is offsite-only 10 + 4 = 14 (all-huopin 3 + 7 = 10)."""
    em = tiny(per_sku_offer(), offers=[0, 0], exclusive=[(OFFSITE, HUOPIN)],
              offer_level=[HUOPIN])
    add_all_or_none(em)
    add_exclusivity(em)
    assert_infeasible(em, {0: True, 3: True})
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {0, 2}
    assert solved.objective == pytest.approx(14)


# =============================================================================================
# add_stock: the units of all a SKU's enrollments fit its stock less the reserve


def test_stock_trivial_enough_stock() -> None:
    """Stock covering every pair at its largest units (3 + 2 = 5 <= 5): no row, all enroll."""
    em = tiny([C(0, OFFSITE, units=3), C(0, YANXUAN, units=2)], avail=[5.0])
    add_stock(em)
    assert n_constraints(em) == 0
    assert_feasible(em, only(em, 0, 1))


def test_stock_feasible_optimum_under_stock() -> None:
    """S1, stock 4: offsite 3 units (margin 10) or 1.5 units (margin 8), yanxuan 2 units (5).
    Plans: 3 + 2 = 5 > 4 no; 1.5 + 2 = 3.5 -> 13; 3 alone -> 10. Optimum 13 (15 without)."""
    em = tiny([C(0, OFFSITE, 10, units=3), C(0, OFFSITE, 8, units=1.5),
               C(0, YANXUAN, 5, units=2)], avail=[4.0])
    add_one_price_per_pair(em)
    add_stock(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 2}
    assert solved.objective == pytest.approx(13)


def test_stock_infeasible_and_per_sku() -> None:
    """S1 (stock 4) in both programs at 3 + 2 units is refused; S2's own stock is not S1's."""
    em = tiny([C(0, OFFSITE, units=3), C(0, YANXUAN, units=2), C(1, OFFSITE, units=3)],
              avail=[4.0, 3.0])
    add_stock(em)
    assert_infeasible(em, {0: True, 1: True})
    assert_feasible(em, only(em, 0, 2))


# S1 in offsite at `a` units and in yanxuan at `b` units (or at 2 b, so that the row exists);
# `hair` is far below the scaled row's resolution (1e-4 unit for units, 1e-2 for billions).
STOCK_SCALES = [pytest.param(1.25, 0.75, 1e-9, id="units"),
                pytest.param(1.25e9, 0.75e9, 1e-3, id="billions")]


def stock_at_limit(a: float, b: float, avail: float) -> EnrollModel:
    em = tiny([C(0, OFFSITE, units=a), C(0, YANXUAN, units=b), C(0, YANXUAN, units=2 * b)],
              avail=[avail])
    add_one_price_per_pair(em)
    add_stock(em)
    return em


@pytest.mark.parametrize(("a", "b", "hair"), STOCK_SCALES)
def test_stock_exactly_at_the_limit_is_accepted(a: float, b: float, hair: float) -> None:
    """The plan uses exactly the stock (a + b == avail): it keeps the rule and is accepted;
    with one unit more stock too; with one unit less it is refused."""
    em = stock_at_limit(a, b, a + b)
    assert_feasible(em, only(em, 0, 1))
    em = stock_at_limit(a, b, a + b + 1)
    assert_feasible(em, only(em, 0, 1))
    assert_infeasible(stock_at_limit(a, b, a + b - 1), {0: True, 1: True})


@pytest.mark.parametrize(("a", "b", "hair"), STOCK_SCALES)
def test_stock_units_a_hair_over_are_refused(a: float, b: float, hair: float) -> None:
    """Offsite sells a hair more (a + hair + b > avail = a + b): refused. Fails if the stock
    coefficients round down (`np.ceil(cand.units ...)` -> `np.floor`): the scaled units would
    then fit exactly; and fails if the row is skipped for a SKU whose units exceed its stock by
    less than one unit (`need > pb.avail`)."""
    em = tiny([C(0, OFFSITE, units=a + hair), C(0, YANXUAN, units=b)], avail=[a + b])
    add_stock(em)
    assert_infeasible(em, {0: True, 1: True})


@pytest.mark.parametrize(("a", "b", "hair"), STOCK_SCALES)
def test_stock_limit_a_hair_under_is_refused(a: float, b: float, hair: float) -> None:
    """Stock a hair under the plan's a + b units: refused. Fails if the limit rounds up
    (`math.floor(pb.avail[s] * scale)` -> `math.ceil`)."""
    assert_infeasible(stock_at_limit(a, b, a + b - hair), {0: True, 1: True})


# =============================================================================================
# add_max_skus: at most max_skus[k] SKUs in program k


def test_max_skus_trivial() -> None:
    """No limit, or a limit at the number of candidates (3 <= 3): no row, all enroll."""
    cands = [C(0, OFFSITE), C(1, OFFSITE), C(2, OFFSITE)]
    for limits in ({}, {OFFSITE: 3}):
        em = tiny(cands, max_skus=limits)
        add_max_skus(em)
        assert n_constraints(em) == 0
        assert_feasible(em, only(em, 0, 1, 2))


def test_max_skus_feasible_best_two() -> None:
    """Offsite limited to 2 SKUs among margins 5, 9, 7 (yanxuan's 4 not counted):
    9 + 7 + 4 = 20. The limit counts one program only."""
    em = tiny([C(0, OFFSITE, 5), C(1, OFFSITE, 9), C(1, YANXUAN, 4), C(2, OFFSITE, 7)],
              max_skus={OFFSITE: 2})
    add_max_skus(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 2, 3}
    assert solved.objective == pytest.approx(20)


@pytest.mark.parametrize(("limit", "feasible"), [(1, False), (2, True), (3, True)])
def test_max_skus_at_the_limit(limit: int, feasible: bool) -> None:
    """Two SKUs in offsite against a limit of 1 (refused), 2 (exactly: accepted), 3."""
    em = tiny([C(0, OFFSITE), C(1, OFFSITE), C(2, OFFSITE)], max_skus={OFFSITE: limit})
    add_max_skus(em)
    if feasible:
        assert_feasible(em, only(em, 0, 2))
    else:
        assert_infeasible(em, {0: True, 2: True})


def test_max_skus_infeasible_zero() -> None:
    """A limit of 0 keeps the program empty."""
    em = tiny([C(0, OFFSITE), C(1, YANXUAN)], max_skus={OFFSITE: 0})
    add_max_skus(em)
    assert_infeasible(em, {0: True})
    assert_feasible(em, only(em, 1))


# =============================================================================================
# add_discount_budget: sum of units * (market - price) over the plan within the budget (fen)


def test_budget_trivial() -> None:
    """No budget, or one covering every candidate's discount (100 + 50 <= 150): no row."""
    cands = [C(0, OFFSITE, discount=100), C(1, OFFSITE, discount=50)]
    for budget in (None, 150.0):
        em = tiny(cands, budget=budget)
        add_discount_budget(em)
        assert n_constraints(em) == 0
        assert_feasible(em, only(em, 0, 1))


def test_budget_feasible_optimum_within_budget() -> None:
    """Budget 200 fen; S1 offsite margin 10 at discount 150 or margin 6 at discount 40,
    S2 offsite margin 8 at discount 100. Plans: 150 + 100 > 200; 40 + 100 -> 14; 150 alone
    -> 10. Optimum 14 (18 without the budget)."""
    em = tiny([C(0, OFFSITE, 10, discount=150), C(0, OFFSITE, 6, discount=40),
               C(1, OFFSITE, 8, discount=100)], budget=200.0)
    add_one_price_per_pair(em)
    add_discount_budget(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 2}
    assert solved.objective == pytest.approx(14)


def budget_at(d1: float, d2: float, budget: float) -> EnrollModel:
    """S1 at discount d1 and S2 at d2 (or at 300, so that the row exists), and `budget`."""
    em = tiny([C(0, OFFSITE, discount=d1), C(1, OFFSITE, discount=d2),
               C(1, OFFSITE, discount=300)], budget=budget)
    add_one_price_per_pair(em)
    add_discount_budget(em)
    return em


@pytest.mark.parametrize(("budget", "feasible"), [(199.0, False), (200.0, True), (201.0, True)])
def test_budget_at_the_limit(budget: float, feasible: bool) -> None:
    """A plan spending 125 + 75 = 200 fen against a budget of 199 (one fen short: refused),
    200 (exactly: accepted) and 201."""
    em = budget_at(125, 75, budget)
    if feasible:
        assert_feasible(em, only(em, 0, 1))
    else:
        assert_infeasible(em, {0: True, 1: True})


def test_budget_discount_a_hair_over_is_refused() -> None:
    """The plan spends 125.0000001 + 75 fen against 200, and no other candidate exists: refused.
    Fails if the budget coefficients round down (`np.ceil(cand.discount * scale)` ->
    `np.floor`), and if the row is skipped when all discounts together exceed the budget by
    less than a fen (`clip(min=0).sum() <= budget`)."""
    em = tiny([C(0, OFFSITE, discount=125 + 1e-7), C(1, OFFSITE, discount=75)], budget=200.0)
    add_discount_budget(em)
    assert_infeasible(em, {0: True, 1: True})


def test_budget_limit_a_hair_under_is_refused() -> None:
    """The plan spends exactly 200 fen against 199.9999999: refused. Fails if the budget
    rounds up (`math.floor(budget * scale)` -> `math.ceil`)."""
    assert_infeasible(budget_at(125, 75, 200.0 - 1e-7), {0: True, 1: True})


def test_budget_negative_discount_credits_no_more_than_it_earns() -> None:
    """S2 priced above market earns 49.9999999 fen back (discount -49.9999999): 250 minus that
    is a hair over 200, refused; at -50 the plan spends exactly 200, accepted. Fails if the
    coefficients round down: floor(-49.9999999 * scale) would credit a whole -50."""
    assert_infeasible(budget_at(250, -50 + 1e-7, 200.0), {0: True, 1: True})
    em = budget_at(250, -50, 200.0)
    assert_feasible(em, only(em, 0, 1))


# =============================================================================================
# add_gmv_min: the plan's revenue (fen) reaches the target


def test_gmv_trivial() -> None:
    """No target, or a zero one: no row; the empty plan goes."""
    for gmv in (None, 0.0):
        em = tiny([C(0, OFFSITE, revenue=100)], gmv_min=gmv)
        add_gmv_min(em)
        assert n_constraints(em) == 0
        assert_feasible(em, only(em))


def test_gmv_feasible_revenue_beats_margin() -> None:
    """Target 1000 fen; S1 offsite margin 10 at revenue 600 or margin 7 at revenue 900,
    S2 offsite margin 5 at revenue 300. Plans reaching 1000: 900 + 300 -> 12 (600 + 300 does
    not reach). Optimum 12, against 15 without the target."""
    em = tiny([C(0, OFFSITE, 10, revenue=600), C(0, OFFSITE, 7, revenue=900),
               C(1, OFFSITE, 5, revenue=300)], gmv_min=1000.0)
    add_one_price_per_pair(em)
    add_gmv_min(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 2}
    assert solved.objective == pytest.approx(12)


def test_gmv_infeasible_out_of_reach() -> None:
    """Every candidate together sells 600 + 300 < 1000: no plan reaches the target."""
    em = tiny([C(0, OFFSITE, revenue=600), C(1, OFFSITE, revenue=300)], gmv_min=1000.0)
    add_gmv_min(em)
    assert_infeasible(em)


def gmv_at(r1: float, r2: float, need: float) -> EnrollModel:
    """S1 at revenue r1, S2 at r2 (or at 10: another price), and the target `need`."""
    em = tiny([C(0, OFFSITE, revenue=r1), C(1, OFFSITE, revenue=r2),
               C(1, OFFSITE, revenue=10)], gmv_min=need)
    add_one_price_per_pair(em)
    add_gmv_min(em)
    return em


@pytest.mark.parametrize(("need", "feasible"), [(1999.0, True), (2000.0, True), (2001.0, False)])
def test_gmv_at_the_limit(need: float, feasible: bool) -> None:
    """A plan selling 1250 + 750 = 2000 fen against a target of 1999, 2000 (exactly:
    accepted) and 2001 (one fen short: refused)."""
    em = gmv_at(1250, 750, need)
    if feasible:
        assert_feasible(em, only(em, 0, 1))
    else:
        assert_infeasible(em, {0: True, 1: True})


def test_gmv_revenue_a_hair_under_is_refused() -> None:
    """The plan sells 1249.9999999 + 750 fen against 2000: refused. Fails if the revenue
    coefficients round up (`np.floor(cand.revenue * scale)` -> `np.ceil`)."""
    assert_infeasible(gmv_at(1250 - 1e-7, 750, 2000.0), {0: True, 1: True})


def test_gmv_target_a_hair_over_is_refused() -> None:
    """The plan sells exactly 2000 fen against 2000.0000001: refused. Fails if the target
    rounds down (`math.ceil(need * scale)` -> `math.floor`)."""
    assert_infeasible(gmv_at(1250, 750, 2000.0 + 1e-7), {0: True, 1: True})


# =============================================================================================
# set_objective: maximise the margin (fen), coefficients scaled and rounded


def test_objective_trivial_no_candidates() -> None:
    """No candidate: the empty plan, objective 0."""
    em = tiny([])
    set_objective(em)
    solved = assert_feasible(em)
    assert solved.chosen == set()
    assert solved.objective == 0


def test_objective_feasible_a_ten_thousandth_of_a_fen() -> None:
    """S1's two prices differ by 0.0001 fen (123.45667 vs 123.45677), S2 earns 0.50007 fen: the
    better price is taken, and the objective is 123.95684 within half a step of the scale per
    chosen candidate (the solver's bound counts on it). Fails if the coefficients are rounded
    down (`np.round` -> `np.floor`: 0.7 step short on each)."""
    em = tiny([C(0, OFFSITE, 123.45667), C(0, OFFSITE, 123.45677), C(1, OFFSITE, 0.50007)])
    add_one_price_per_pair(em)
    set_objective(em)
    assert em.obj_scale == 1e4
    solved = solve(em)
    assert solved.chosen == {1, 2}
    assert abs(solved.objective - 123.95684) <= 2 * 0.5 / em.obj_scale


def test_objective_losses_never_chosen() -> None:
    """Negative margins (-0.01, -5) lower the objective: nothing is chosen, objective 0."""
    em = tiny([C(0, OFFSITE, -0.01), C(1, YANXUAN, -5)])
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == set()
    assert solved.objective == 0


def test_objective_large_margins_keep_their_order() -> None:
    """Margins of 1e12 fen (10 billion yuan): the scale shrinks to keep the coefficients
    exact, the larger of 1e12 and 1e12 + 2 still wins, and the objective is within rounding."""
    em = tiny([C(0, OFFSITE, 1e12), C(0, OFFSITE, 1e12 + 2), C(1, OFFSITE, 3e12)])
    add_one_price_per_pair(em)
    set_objective(em)
    solved = solve(em)
    assert solved.chosen == {1, 2}
    assert abs(solved.objective - (4e12 + 2)) <= 2 * 0.5 / em.obj_scale
