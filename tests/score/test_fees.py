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
