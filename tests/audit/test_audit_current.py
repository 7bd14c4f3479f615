"""The auditor with today's enrollments (SPEC 6.1, 6.2): continuing rows sell the whole horizon,
new and changed ones horizon - review_days; a fixed_until_exit offer that changes anything left
and registered again; LOCKED for a no_exit row dropped or repriced; the rules a continuing
no_exit row now breaks are listed apart ("locked: no_exit") and do not fail the audit."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from optimizer.audit import audit_rows, audit_world, load_world
from optimizer.cli import EXIT_AUDIT, EXIT_OK, main
from tests.audit.conftest import MakeScenario

# offsite: horizon 30, review 7, fixed_until_exit; yanxuan: horizon 2, review 0, no_exit;
# crossborder: horizon 30, review 3, none. Offer O1 = S1, S2; offer O2 = S3.
SKUS = ({}, {"sku_id": "S2"}, {"sku_id": "S3", "offer_id": "O2"})


def _scenario(make_scenario: MakeScenario, current: Sequence[tuple[str, str, str]],
              skus: Sequence[dict[str, Any]] = SKUS, **top: Any) -> Path:
    sc = make_scenario(list(skus), current="current.csv", **top)
    with (sc.parent / "current.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("sku_id", "program", "price"))
        writer.writerows(current)
    return sc


def _plan(rows: Sequence[tuple[str, str, str]]) -> list[dict[str, str]]:
    return [{"sku_id": s, "program": k, "price": p} for s, k, p in rows]


def _units(sc: Path, rows: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str], float]:
    report = audit_rows(sc, _plan(rows))
    return {(ln.sku_id, ln.program): ln.eco.units for ln in report.lines if ln.eco}


def test_continuing_sells_the_horizon_new_and_changed_wait_for_review(
        make_scenario: MakeScenario) -> None:
    today = [("S3", "offsite", "8.99"), ("S3", "crossborder", "11.00")]
    sc = _scenario(make_scenario, today)
    fresh = make_scenario(list(SKUS))  # nothing enrolled today
    plan = [("S3", "offsite", "8.99"), ("S3", "crossborder", "11.00")]
    kept, new = _units(sc, plan), _units(fresh, plan)
    assert kept[("S3", "offsite")] == pytest.approx(new[("S3", "offsite")] * 30 / 23)
    assert kept[("S3", "crossborder")] == pytest.approx(new[("S3", "crossborder")] * 30 / 27)
    # repriced: a new enrollment (the same units as without any current row at that price)
    moved = [("S3", "offsite", "8.98"), ("S3", "crossborder", "10.99")]
    assert _units(sc, moved) == pytest.approx(_units(fresh, moved))
    report = audit_rows(sc, _plan(plan))
    assert [ln.continuing for ln in report.lines] == [True, True]


@pytest.mark.parametrize(("plan", "continuing"), [
    # the offer keeps exactly today's rows: both continue
    ([("S1", "offsite", "8.99"), ("S2", "offsite", "8.50")], [True, True]),
    # S2 repriced: the offer left and registered again, S1 at today's price is new too
    ([("S1", "offsite", "8.99"), ("S2", "offsite", "8.49")], [False, False]),
    # S2 dropped: S1 is new
    ([("S1", "offsite", "8.99")], [False]),
    # S3 is another offer: O1 unchanged still continues; S3 is new anyway
    ([("S1", "offsite", "8.99"), ("S2", "offsite", "8.50"), ("S3", "offsite", "8.99")],
     [True, True, False]),
])
def test_fixed_until_exit_offer_changed_in_any_way_is_registered_again(
        make_scenario: MakeScenario, plan: list[tuple[str, str, str]],
        continuing: list[bool]) -> None:
    sc = _scenario(make_scenario, [("S1", "offsite", "8.99"), ("S2", "offsite", "8.50")])
    report = audit_world(load_world(sc), _plan(plan), printed=False)
    assert [ln.continuing for ln in report.lines] == continuing
    assert report.ok, report.format()


def test_adding_a_sku_to_a_fixed_until_exit_offer_registers_it_again(
        make_scenario: MakeScenario) -> None:
    sc = _scenario(make_scenario, [("S1", "offsite", "8.99")])
    report = audit_world(load_world(sc), _plan([("S1", "offsite", "8.99"),
                                                ("S2", "offsite", "8.50")]), printed=False)
    assert [ln.continuing for ln in report.lines] == [False, False]


def _cli(sc: Path, rows: Sequence[tuple[str, str, str]], tmp_path: Path,
         name: str = "a") -> tuple[int, list[dict[str, str]], dict[str, Any]]:
    plan = tmp_path / f"{name}.csv"
    with plan.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("sku_id", "program", "price"))
        writer.writerows(rows)
    out = tmp_path / f"{name}-out"
    res = CliRunner().invoke(main, ["audit", str(sc), str(plan), "-o", str(out), "-q"])
    assert res.exit_code in (EXIT_OK, EXIT_AUDIT), res.output
    with (out / "audit.csv").open(newline="", encoding="utf-8") as f:
        found = list(csv.DictReader(f))
    return res.exit_code, found, json.loads((out / "audit.json").read_text(encoding="utf-8"))


def test_no_exit_row_dropped_or_repriced_is_locked(make_scenario: MakeScenario,
                                                   tmp_path: Path) -> None:
    sc = _scenario(make_scenario, [("S1", "yanxuan", "11.40"), ("S2", "yanxuan", "11.00")])
    code, found, doc = _cli(sc, [("S1", "yanxuan", "11.40"), ("S2", "yanxuan", "11.00")],
                            tmp_path, "kept")
    assert (code, found, doc["ok"]) == (EXIT_OK, [], True)

    code, found, doc = _cli(sc, [("S1", "yanxuan", "11.30"), ("S2", "yanxuan", "11.00")],
                            tmp_path, "repriced")
    assert code == EXIT_AUDIT
    assert [(f["sku_id"], f["price"], f["rule"]) for f in found] == [("S1", "11.30", "LOCKED")]
    assert "enrolled today at 11.40" in found[0]["detail"]
    assert doc["rules"]["LOCKED"] == 1 and doc["ok"] is False

    code, found, doc = _cli(sc, [("S1", "yanxuan", "11.40")], tmp_path, "dropped")
    assert code == EXIT_AUDIT
    rules = {(f["sku_id"], f["rule"]): f for f in found}
    assert rules[("S2", "LOCKED")]["price"] == "11.00"  # today's price: the row the plan lacks
    assert "the plan drops it" in rules[("S2", "LOCKED")]["detail"]


def test_rules_a_locked_row_now_breaks_are_reported_apart(make_scenario: MakeScenario,
                                                          tmp_path: Path) -> None:
    """S1 is in yanxuan today at 11.50, over today's cap 0.95 x 12.00 = 11.40, and its growth
    score (its offer's) fell to 55: the plan must keep the offer's rows (no_exit), so audit.csv
    lists the rules with
    "(locked: no_exit)", audit.json counts them under locked_warnings, and the exit is 0."""
    skus = ({"growth_score": 55}, {"sku_id": "S2", "growth_score": 55},
            {"sku_id": "S3", "offer_id": "O2"})
    sc = _scenario(make_scenario, [("S1", "yanxuan", "11.50"), ("S2", "yanxuan", "11.00")],
                   skus=skus)
    code, found, doc = _cli(sc, [("S1", "yanxuan", "11.50"), ("S2", "yanxuan", "11.00")],
                            tmp_path)
    assert code == EXIT_OK
    assert [(f["sku_id"], f["rule"]) for f in found] == [
        ("S1", "SKU_RULE"), ("S1", "PRICE_CAP"), ("S2", "SKU_RULE")]
    assert all(f["detail"].endswith("(locked: no_exit)") for f in found)
    assert "growth_score 55" in found[0]["detail"]
    assert "price 11.50 > 0.95 x market_price 11.40" in found[1]["detail"]
    assert doc["ok"] is True and doc["broken_rules"] == 0
    assert doc["locked_warnings"] == {"SKU_RULE": 2, "PRICE_CAP": 1}

    # the same row repriced is no longer locked: its rules are the plan's to keep
    code, found, doc = _cli(sc, [("S1", "yanxuan", "11.60"), ("S2", "yanxuan", "11.00")],
                            tmp_path, "b")
    assert code == EXIT_AUDIT
    assert sorted((f["sku_id"], f["rule"]) for f in found if not
                  f["detail"].endswith("(locked: no_exit)")) == [
        ("S1", "LOCKED"), ("S1", "PRICE_CAP"), ("S1", "SKU_RULE")]
    assert doc["locked_warnings"] == {"SKU_RULE": 1}  # S2's, still locked


def test_stock_is_locked_only_when_the_locked_rows_alone_exceed_it(
        make_scenario: MakeScenario, tmp_path: Path) -> None:
    """yanxuan at 11.40 sells 10 x 6 x 2 x (11.40/12)^-1.8 ~ 131 units; stock 100 cannot hold
    the locked row alone (a warning); stock 200 can, so adding crossborder over it is the
    plan's own fault (STOCK, exit 5)."""
    for stock, rows, code_wanted, locked in (
            (100, [("S3", "yanxuan", "11.40")], EXIT_OK, {"STOCK": 1}),
            (200, [("S3", "yanxuan", "11.40"), ("S3", "crossborder", "11.40")], EXIT_AUDIT,
             {})):
        skus = ({}, {"sku_id": "S2"}, {"sku_id": "S3", "offer_id": "O2", "stock": stock})
        sc = _scenario(make_scenario, [("S3", "yanxuan", "11.40")], skus=skus)
        code, found, doc = _cli(sc, rows, tmp_path, f"s{stock}")
        assert code == code_wanted, found
        assert [f["rule"] for f in found] == ["STOCK"]
        assert doc["locked_warnings"] == locked


def test_every_row_new_without_current(make_scenario: MakeScenario) -> None:
    sc = make_scenario(list(SKUS))
    report = audit_world(load_world(sc), _plan([("S3", "offsite", "8.99")]), printed=False)
    assert [ln.continuing for ln in report.lines] == [False]
    assert report.locked == []


def test_printed_change_and_summary_changes_are_checked(make_scenario: MakeScenario) -> None:
    """plan.csv's `change` and summary.json's `changes` (SPEC 6.1), recomputed from today's
    enrollments: a row printed keep at a new price, or counts that miss an exit, are caught."""
    from optimizer.audit import audit_summary

    sc = _scenario(make_scenario, [("S3", "crossborder", "11.00"), ("S1", "crossborder", "11.00")])
    rows = [{"sku_id": "S3", "program": "crossborder", "price": "11.00", "change": "keep"},
            {"sku_id": "S2", "program": "crossborder", "price": "11.00", "change": "new"}]
    report = audit_rows(sc, rows)
    assert report.changes == {"keep": 1, "new": 1, "reprice": 0, "exit": 1}
    assert "MISMATCH_CHANGE" not in report.codes()
    rows[0] = {**rows[0], "price": "10.99"}  # now a reprice, still printed keep
    report = audit_rows(sc, rows)
    [v] = [v for v in report.violations if v.code == "MISMATCH_CHANGE"]
    assert "change printed 'keep', recomputed 'reprice' (enrolled today at 11.00)" in v.message
    summary = {"status": "FEASIBLE", "objective": report.objective, "bound": report.objective,
               "gap": 0.0, "programs": {}, "constraints": {},
               "changes": {"keep": 0, "new": 1, "reprice": 1, "exit": 0}}
    assert "SUMMARY_CHANGES" in {v.code for v in audit_summary(summary, report)}
    summary["changes"] = {"keep": 0, "new": 1, "reprice": 1, "exit": 1}
    assert "SUMMARY_CHANGES" not in {v.code for v in audit_summary(summary, report)}
