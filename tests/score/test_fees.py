"""Fee variants under the non-stacking rule, against SPEC 4's worked example."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from optimizer.load.types import Scenario, YamlSource
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.fees import fee_table, order_fee_rate


def _rulebook(programs: dict | None = None, fees: dict | None = None):  # type: ignore[no-untyped-def]
    scenario = Scenario.model_validate({"name": "t", "catalogue": "c.csv", "programs": programs,
                                        "fees": fees or {}})
    return build_rulebook(scenario, YamlSource(file=Path("/nonexistent/s.yaml")))


def test_worked_example_of_the_spec() -> None:
    rb = _rulebook()
    both = frozenset({"yanxuan", "offsite"})
    assert order_fee_rate(rb, "offsite", both) == Fraction("0.056")
    assert order_fee_rate(rb, "offsite", frozenset({"offsite"})) == Fraction("0.006")
    assert order_fee_rate(rb, "yanxuan", both) == Fraction("0.056")
    assert order_fee_rate(rb, "huopin", frozenset({"huopin", "yanxuan"})) == Fraction("0.006")


def test_variants_per_program() -> None:
    table = fee_table(_rulebook())
    assert table.hub == ("yanxuan",)
    offsite = {v.pattern: v.rate for v in table.variants["offsite"]}
    assert offsite == {(False,): Fraction("0.006"), (True,): Fraction("0.056")}
    # crossborder charges the same 5% either way: one variant, independent of yanxuan
    crossborder = [(v.pattern, v.rate) for v in table.variants["crossborder"]]
    assert crossborder == [(None, Fraction("0.056"))]
    assert table.alone["yanxuan"].rate == Fraction("0.056")
    assert table.alone["aliexpress_semi"].rate == Fraction("0.08")


def test_a_rate_is_capped_and_never_charged_twice() -> None:
    rb = _rulebook(programs={"offsite": {"fees": {"help_sell_commission": 0.07}},
                             "yanxuan": {}})
    # max(0.07, 0.05) = 0.07, capped at 0.05; plus tech service once
    assert order_fee_rate(rb, "offsite", frozenset({"offsite"})) == Fraction("0.056")
    rb = _rulebook(fees={"help_sell_commission": {"cap": 0.03}})
    assert order_fee_rate(rb, "yanxuan", frozenset({"yanxuan"})) == Fraction("0.036")


@pytest.mark.parametrize("rate", ["0.0", "0.01", "0.05"])
def test_offsite_commission_override(rate: str) -> None:
    rb = _rulebook(programs={"offsite": {"fees": {"help_sell_commission": float(rate)}},
                             "yanxuan": {}})
    alone = order_fee_rate(rb, "offsite", frozenset({"offsite"}))
    assert alone == Fraction("0.006") + Fraction(rate)
    assert order_fee_rate(rb, "offsite", frozenset({"offsite", "yanxuan"})) == Fraction("0.056")


def test_loose_cap_charges_the_highest_rate_once() -> None:
    """Cap 0.2 (above every rate): max(0.01, 0.05) = 0.05 and max(0.05, 0.05) = 0.05, where
    stacked rates would give 0.06 and 0.10. Kills fees.py `max(rates)` -> `sum(rates)` (the only
    case where they differ; under the default cap 0.05 both are capped to 0.05)."""
    rb = _rulebook(programs={"offsite": {"fees": {"help_sell_commission": 0.01}},
                             "yanxuan": {}, "crossborder": {}},
                   fees={"help_sell_commission": {"cap": 0.2}})
    assert order_fee_rate(rb, "offsite", frozenset({"offsite", "yanxuan"})) == Fraction("0.056")
    assert order_fee_rate(rb, "crossborder",
                          frozenset({"crossborder", "yanxuan"})) == Fraction("0.056")
    assert order_fee_rate(rb, "offsite", frozenset({"offsite"})) == Fraction("0.016")
    offsite = {v.pattern: v.rate for v in fee_table(rb).variants["offsite"]}
    assert offsite == {(False,): Fraction("0.016"), (True,): Fraction("0.056")}


def test_two_hub_programs() -> None:
    """crossborder's commission overridden to 0.08 with scope all_help_sell (cap 0.2): two hub
    programs, so a help-sell order's rate depends on both memberships. Variants per (in yanxuan,
    in crossborder) pattern, and the rate when alone. Kills the fee_table mutants the mutation
    run found alive with one hub only (product over one hub, a hub program's own bit, the
    'alone' pattern)."""
    rb = _rulebook(programs={"offsite": {"fees": {"help_sell_commission": 0.01}}, "yanxuan": {},
                             "crossborder": {"fees": {"help_sell_commission": {
                                 "rate": 0.08, "scope": "all_help_sell"}}},
                             "huopin": {}},
                   fees={"help_sell_commission": {"cap": 0.2}})
    table = fee_table(rb)
    assert table.hub == ("yanxuan", "crossborder")
    f = Fraction
    offsite = {v.pattern: v.rate for v in table.variants["offsite"]}
    assert offsite == {(False, False): f("0.016"), (True, False): f("0.056"),
                       (False, True): f("0.086"), (True, True): f("0.086")}
    yanxuan = {v.pattern: v.rate for v in table.variants["yanxuan"]}
    assert yanxuan == {(True, False): f("0.056"), (True, True): f("0.086")}
    # its own 0.08 is the highest whatever else: one variant, independent of the hubs
    assert [(v.pattern, v.rate) for v in table.variants["crossborder"]] == [(None, f("0.086"))]
    assert [(v.pattern, v.rate) for v in table.variants["huopin"]] == [(None, f("0.006"))]
    assert {k: v.rate for k, v in table.alone.items()} == {
        "offsite": f("0.016"), "yanxuan": f("0.056"), "crossborder": f("0.086"),
        "huopin": f("0.006")}
    assert table.alone["yanxuan"].pattern == (True, False)
