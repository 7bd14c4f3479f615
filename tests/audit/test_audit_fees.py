"""Fee non-stacking (SPEC 3) on the SPEC's worked example, and printed figures by hand."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

from optimizer.audit import audit_rows, load_world
from optimizer.audit.semantics import fee_rate
from tests.audit.conftest import MakeScenario

F = Fraction


@pytest.mark.parametrize(("enrolled", "program", "rate"), [
    # the worked example of SPEC 4
    (("yanxuan", "offsite"), "offsite", F("0.056")),
    (("offsite",), "offsite", F("0.006")),
    (("yanxuan", "offsite"), "yanxuan", F("0.056")),
    (("yanxuan", "huopin"), "huopin", F("0.006")),     # huopin is not help-sell
    # yanxuan's commission is charged on its own orders too
    (("yanxuan",), "yanxuan", F("0.056")),
    # two 5 % commissions on one order are charged once (max, then the cap)
    (("crossborder",), "crossborder", F("0.056")),
    (("yanxuan", "crossborder"), "crossborder", F("0.056")),
    (("yanxuan", "aliexpress_semi"), "aliexpress_semi", F("0.08")),
])
def test_worked_example(make_scenario: MakeScenario, enrolled: tuple[str, ...], program: str,
                        rate: Fraction) -> None:
    world = load_world(make_scenario())
    assert fee_rate(world, enrolled, program) == rate


def test_fee_overrides(make_scenario: MakeScenario) -> None:
    """A bare number under a program's fees is the item's rate; scenario fees cap the group."""
    world = load_world(make_scenario(
        programs={"offsite": {"fees": {"help_sell_commission": 0.01}}, "yanxuan": {},
                  "crossborder": {"fees": {"help_sell_commission": 0.07}}},
        fees={"help_sell_commission": {"cap": 0.06}}))
    assert fee_rate(world, ("offsite",), "offsite") == F("0.016")
    assert fee_rate(world, ("offsite", "yanxuan"), "offsite") == F("0.056")
    assert fee_rate(world, ("crossborder",), "crossborder") == F("0.066")  # min(0.06, 0.07)
    capped = load_world(make_scenario(fees={"help_sell_commission": {"cap": 0.03}}))
    assert fee_rate(capped, ("offsite", "yanxuan"), "offsite") == F("0.036")
    assert fee_rate(capped, ("huopin", "yanxuan"), "huopin") == F("0.006")


def hand_rows() -> list[dict[str, str]]:
    """S1 in yanxuan and offsite, S2 in yanxuan and huopin, S3 offsite alone, every figure
    from SPEC 4 by hand: u = daily x multiplier x days x (p/market)^-e (days: the horizon less
    the review, SPEC 6.1: off-site 30 - 7), cost = 3.00 + 0.50
    shipping in the free-shipping programs, margin = u x (p x (1 - fee) - cost)."""
    def row(sku: str, offer: str, program: str, price: float, units: float, fee: float,
            cost: float, fee_text: str) -> dict[str, str]:
        revenue = units * price
        return {"sku_id": sku, "offer_id": offer, "program": program, "price": f"{price:.2f}",
                "units": f"{units:.3f}", "revenue": f"{revenue:.2f}", "fee_rate": fee_text,
                "fees": f"{revenue * fee:.2f}",
                "margin": f"{units * (price * (1 - fee) - cost):.2f}"}

    u_off = 10 * 1.0 * 23 * (8.99 / 12) ** -2.5    # 473.458...
    u_yan = 10 * 6.0 * 2 * (11.40 / 12) ** -1.8    # 131.607...
    u_huo = 10 * 3.0 * 7 * (10.80 / 12) ** -2.0    # 259.259...
    return [
        row("S1", "O1", "offsite", 8.99, u_off, 0.056, 3.50, "0.056"),
        row("S1", "O1", "yanxuan", 11.40, u_yan, 0.056, 3.50, "0.056"),
        row("S2", "O2", "yanxuan", 11.40, u_yan, 0.056, 3.50, "0.056"),
        row("S2", "O2", "huopin", 10.80, u_huo, 0.006, 3.00, "0.006"),
        row("S3", "O3", "offsite", 8.99, u_off, 0.006, 3.50, "0.006"),
    ]


def three_skus(make_scenario: MakeScenario) -> Path:
    return make_scenario([{}, {"sku_id": "S2", "offer_id": "O2"},
                          {"sku_id": "S3", "offer_id": "O3"}])


def test_hand_computed_plan_passes(make_scenario: MakeScenario) -> None:
    rows = hand_rows()
    report = audit_rows(three_skus(make_scenario), rows)
    assert report.violations == []
    assert report.lines[0].eco is not None
    assert report.lines[0].eco.margin == pytest.approx(473.45829 * (8.99 * 0.944 - 3.5), rel=1e-6)
    assert report.objective == pytest.approx(sum(float(r["margin"]) for r in rows), abs=0.03)
    assert report.programs["offsite"].fees == pytest.approx(
        float(rows[0]["fees"]) + float(rows[4]["fees"]), abs=0.01)


def test_stacking_mistakes_are_flagged(make_scenario: MakeScenario) -> None:
    """Printing S1's offsite order at 0.006 (yanxuan's commission forgotten) is caught."""
    rows = hand_rows()
    units = float(rows[0]["units"])
    rows[0] = {**rows[0], "fee_rate": "0.006", "fees": f"{units * 8.99 * 0.006:.2f}",
               "margin": f"{units * (8.99 * 0.994 - 3.5):.2f}"}
    report = audit_rows(three_skus(make_scenario), rows)
    assert {(v.code, v.sku_id, v.program) for v in report.violations} == {
        ("MISMATCH_FEE_RATE", "S1", "offsite"), ("MISMATCH_FEES", "S1", "offsite"),
        ("MISMATCH_MARGIN", "S1", "offsite")}


@pytest.mark.parametrize(("column", "delta", "code"), [
    ("units", 0.002, "MISMATCH_UNITS"), ("revenue", 0.02, "MISMATCH_REVENUE"),
    ("fees", 0.02, "MISMATCH_FEES"), ("margin", -0.02, "MISMATCH_MARGIN"),
    ("fee_rate", 0.001, "MISMATCH_FEE_RATE"),
])
def test_printed_figures(make_scenario: MakeScenario, column: str, delta: float,
                         code: str) -> None:
    rows = hand_rows()
    digits = {"units": 3, "fee_rate": 3}.get(column, 2)
    rows[1] = {**rows[1], column: f"{float(rows[1][column]) + delta:.{digits}f}"}
    report = audit_rows(three_skus(make_scenario), rows)
    assert [(v.code, v.sku_id, v.program) for v in report.violations] == [
        (code, "S1", "yanxuan")]
