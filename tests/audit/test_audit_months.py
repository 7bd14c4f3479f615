"""`enroll-opt audit` over several months (SPEC 6.2, 6.3), on the two-month case of issue 16
(tests/data/two-months: one SKU, market 10, min_price_30d 9, cost 3, 1 unit a day, no fees).

严选: horizon 2 x 6, elasticity 2: 1200 / p^2 units, review 0, no_exit, sets the 30-day minimum.
Off-site: 30 days, elasticity 1: days x 10 / p units (23 days when new: review 7), caps
p < min_price_30d and p < 9, fixed_until_exit, its private prices never set the minimum.
The plans checked come from tests/reference/brute_months.py (the joint optimum 520.14, month by
month 435.75), and by hand.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from optimizer.audit import audit_months, load_months
from optimizer.cli import EXIT_AUDIT, EXIT_INPUT, EXIT_OK, main
from tests.reference.brute_months import MonthsResult, month_by_month, months_optimum

CASE = Path(__file__).resolve().parents[1] / "data" / "two-months"
MONTHS = ("2024-03", "2024-04")
HEAD = ("period", "sku_id", "program", "price")


def _variant(folder: Path, catalogue: str | None = None, **changes: object) -> Path:
    """The two-months scenario with top-level keys changed (None deletes), in `folder`, with
    the case's catalogue (or `catalogue`, its text)."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = yaml.safe_load((CASE / "scenario.yaml").read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    text = catalogue if catalogue is not None else (CASE / "catalogue.csv").read_text("utf-8")
    (folder / "catalogue.csv").write_text(text, encoding="utf-8")
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def _write_plan(path: Path, rows: Sequence[Sequence[str]],
                head: Sequence[str] = HEAD) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        writer.writerows(rows)
    return path


def _rows_of(result: MonthsResult) -> list[tuple[str, str, str, str]]:
    return [(MONTHS[t], sku, pid, f"{fen // 100}.{fen % 100:02d}")
            for t, rows in enumerate(result.rows) for sku, pid, fen, _ in rows]


def _audit(scenario: Path, plan: Path, out: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["audit", str(scenario), str(plan), "-o", str(out), "-q",
                                     *extra])


def _findings(out: Path) -> list[dict[str, str]]:
    with (out / "audit.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _doc(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize("plan_of, value", [(months_optimum, 520.1389),
                                            (month_by_month, 435.75)])
def test_the_references_plans_audit_clean_and_total_their_value(
        tmp_path: Path, plan_of: Any, value: float) -> None:
    """The joint optimum (严选 9 then off-site kept at 8) and month-by-month planning (严选 6,
    so off-site must leave 8 for 5): both keep every rule, and the audit's recomputed margin is
    the reference's, in total and month by month."""
    found = plan_of(CASE / "scenario.yaml")
    assert found is not None and found.value == pytest.approx(value, abs=1e-4)
    plan = _write_plan(tmp_path / "plan.csv", _rows_of(found))
    result = _audit(CASE / "scenario.yaml", plan, tmp_path / "out")
    assert result.exit_code == EXIT_OK, result.output
    doc = _doc(tmp_path / "out")
    assert doc["ok"] is True and doc["broken_rules"] == 0
    assert doc["total"]["margin"] == pytest.approx(found.value, abs=0.005)
    assert [m["name"] for m in doc["periods"]] == list(MONTHS)
    assert [m["total"]["margin"] for m in doc["periods"]] == pytest.approx(
        list(found.margins), abs=0.005)
    assert all(m["ok"] for m in doc["periods"])
    assert doc["total"]["enrolled_skus"] == sum(len(r) for r in found.rows)
    assert _findings(tmp_path / "out") == []
    assert (tmp_path / "out" / "audit.csv").read_text("utf-8").splitlines()[0] == (
        "period,sku_id,program,price,rule,detail")


def test_an_off_site_price_over_the_moved_30_day_minimum_is_price_cap(tmp_path: Path) -> None:
    """严选 6 in month 1 makes month 2's 30-day minimum 6: off-site kept at 8 breaks it, and
    the detail says the moved minimum and where it came from. The same off-site price after an
    off-site-only month 1 at 5 is fine: off-site private prices never move the minimum."""
    bad = _write_plan(tmp_path / "bad.csv", [
        ("2024-03", "S1", "offsite", "8.00"), ("2024-03", "S1", "yanxuan", "6.00"),
        ("2024-04", "S1", "offsite", "8.00"), ("2024-04", "S1", "yanxuan", "6.00")])
    result = _audit(CASE / "scenario.yaml", bad, tmp_path / "out")
    assert result.exit_code == EXIT_AUDIT, result.output
    [row] = _findings(tmp_path / "out")
    assert (row["period"], row["sku_id"], row["program"], row["price"], row["rule"]) == (
        "2024-04", "S1", "offsite", "8.00", "PRICE_CAP")
    assert row["detail"].startswith(
        "price 8.00 >= 30-day minimum 6.00 (month 2024-03's yanxuan price; strict; "), row
    doc = _doc(tmp_path / "out")
    assert doc["rules"]["PRICE_CAP"] == 1 and doc["ok"] is False
    assert [m["rules"]["PRICE_CAP"] for m in doc["periods"]] == [0, 1]
    assert ("month 2024-04: 2 enrollments, margin 287.50 yuan; 1 broken rule(s): PRICE_CAP 1"
            in result.output)

    fine = _write_plan(tmp_path / "fine.csv", [
        ("2024-03", "S1", "offsite", "5.00"), ("2024-04", "S1", "offsite", "8.00")])
    result = _audit(CASE / "scenario.yaml", fine, tmp_path / "out-fine")
    assert result.exit_code == EXIT_OK, result.output
    assert _findings(tmp_path / "out-fine") == []


def test_the_minimum_moves_from_the_catalogues_value_and_only_down(tmp_path: Path) -> None:
    """严选 9.00 in month 1 (not below min_price_30d 9): month 2's minimum stays the
    catalogue's, and off-site 9.00 breaks it as in any month (its detail names no month; 9.00
    breaks the cap below 0.9 x market 10 too)."""
    plan = _write_plan(tmp_path / "plan.csv", [
        ("2024-03", "S1", "yanxuan", "9.00"), ("2024-04", "S1", "offsite", "9.00")])
    result = _audit(CASE / "scenario.yaml", plan, tmp_path / "out")
    assert result.exit_code == EXIT_AUDIT, result.output
    rows = _findings(tmp_path / "out")
    assert [(r["period"], r["rule"]) for r in rows] == [("2024-04", "PRICE_CAP")] * 2
    [row] = [r for r in rows if "min_price_30d 9.00" in r["detail"]]
    assert row["detail"].startswith("price 9.00 >= min_price_30d 9.00 (strict; "), row


@pytest.mark.parametrize("cells, words", [
    ("2024-05", "'2024-05' is not one of the scenario's months (2024-03, 2024-04)"),
    ("", "'' is not one of the scenario's months (2024-03, 2024-04)"),
])
def test_a_bad_period_is_invalid_input_naming_the_row(tmp_path: Path, cells: str,
                                                       words: str) -> None:
    plan = _write_plan(tmp_path / "plan.csv", [("2024-03", "S1", "offsite", "8.00"),
                                               (cells, "S1", "yanxuan", "6.00")])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["audit", str(CASE / "scenario.yaml"), str(plan), "-o",
                                       str(out)])
    assert result.exit_code == EXIT_INPUT, result.output
    assert f"{plan}, row 2, field period: {words}" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_a_plan_without_period_column_is_invalid_input(tmp_path: Path) -> None:
    plan = _write_plan(tmp_path / "plan.csv", [("S1", "offsite", "8.00")],
                       head=("sku_id", "program", "price"))
    out = tmp_path / "out"
    result = _audit(CASE / "scenario.yaml", plan, out)
    assert result.exit_code == EXIT_INPUT, result.output
    assert (f"{plan}, line 1, field period: missing column: the scenario plans 2 months "
            "(2024-03, 2024-04)") in result.output
    assert not out.exists()


def test_optimum_is_refused_with_several_months(tmp_path: Path) -> None:
    """The joint solver does not exist yet: --optimum is exit 2, nothing written."""
    plan = _write_plan(tmp_path / "plan.csv", [("2024-03", "S1", "offsite", "8.00")])
    out = tmp_path / "out"
    result = _audit(CASE / "scenario.yaml", plan, out, "--optimum")
    assert result.exit_code == EXIT_INPUT, result.output
    assert "several months" in result.output and "--optimum" in result.output
    assert not out.exists()


def _units(scenario: Path, *months: Sequence[tuple[str, str, str]]
           ) -> list[dict[tuple[str, str], float]]:
    """Each month's recomputed units per (sku_id, program) of the plan given month by month."""
    found = load_months(scenario)
    assert found is not None
    rows = [[{"sku_id": s, "program": k, "price": p} for s, k, p in m] for m in months]
    audits = audit_months(found, rows)
    assert all(a.report.ok for a in audits), [a.report.format() for a in audits]
    return [{(ln.sku_id, ln.program): ln.eco.units for ln in a.report.lines if ln.eco}
            for a in audits]


def test_a_row_kept_sells_the_whole_month_a_changed_one_waits_for_review(tmp_path: Path) -> None:
    """Off-site at 8 in both months continues: 30 x 10 / 8 = 37.5 units in month 2 (28.75 in
    month 1, new). Repriced to 7 it registers again: 23 x 10 / 7. A second SKU S2 of the same
    offer (off-site only): the offer keeps both rows or leaves, so S1 kept at 8 beside S2
    repriced sells 23 days too (fixed_until_exit)."""
    sc = CASE / "scenario.yaml"
    kept = _units(sc, [("S1", "offsite", "8.00")], [("S1", "offsite", "8.00")])
    assert [m[("S1", "offsite")] for m in kept] == pytest.approx([28.75, 37.5])
    moved = _units(sc, [("S1", "offsite", "8.00")], [("S1", "offsite", "7.00")])
    assert moved[1][("S1", "offsite")] == pytest.approx(230 / 7)

    two = _variant(tmp_path / "two", catalogue=_two_sku_catalogue())
    both = [("S1", "offsite", "8.00"), ("S2", "offsite", "8.00")]
    same = _units(two, both, both)
    assert same[1] == pytest.approx({("S1", "offsite"): 37.5, ("S2", "offsite"): 37.5})
    left = _units(two, both, [("S1", "offsite", "8.00"), ("S2", "offsite", "7.00")])
    assert left[1] == pytest.approx({("S1", "offsite"): 28.75, ("S2", "offsite"): 230 / 7})


def test_month_one_continues_the_scenarios_current_rows(tmp_path: Path) -> None:
    """`current:` off-site at 8: month 1 keeps it (37.5 units), month 2 keeps it too."""
    (tmp_path / "current.csv").write_text("sku_id,program,price\nS1,offsite,8.00\n", "utf-8")
    sc = _variant(tmp_path, current="current.csv")
    kept = _units(sc, [("S1", "offsite", "8.00")], [("S1", "offsite", "8.00")])
    assert [m[("S1", "offsite")] for m in kept] == pytest.approx([37.5, 37.5])


def test_no_exit_binds_within_a_month_only(tmp_path: Path) -> None:
    """Today 严选 at 9 (no_exit): month 1 must keep it (LOCKED when it drops it, in month 1's
    rows of audit.csv); month 2 may drop month 1's 严选 rows: no LOCKED across months."""
    (tmp_path / "current.csv").write_text("sku_id,program,price\nS1,yanxuan,9.00\n", "utf-8")
    sc = _variant(tmp_path / "case", current="../current.csv")
    kept = _write_plan(tmp_path / "kept.csv", [
        ("2024-03", "S1", "offsite", "8.00"), ("2024-03", "S1", "yanxuan", "9.00"),
        ("2024-04", "S1", "offsite", "8.00")])
    result = _audit(sc, kept, tmp_path / "out-kept")
    assert result.exit_code == EXIT_OK, result.output
    assert _doc(tmp_path / "out-kept")["total"]["margin"] == pytest.approx(
        1200 * 6 / 81 + 143.75 + 187.5, abs=0.005)

    dropped = _write_plan(tmp_path / "dropped.csv", [
        ("2024-03", "S1", "offsite", "8.00"), ("2024-04", "S1", "yanxuan", "9.00")])
    result = _audit(sc, dropped, tmp_path / "out-dropped")
    assert result.exit_code == EXIT_AUDIT, result.output
    [row] = _findings(tmp_path / "out-dropped")
    assert (row["period"], row["sku_id"], row["program"], row["price"], row["rule"]) == (
        "2024-03", "S1", "yanxuan", "9.00", "LOCKED")


def test_each_month_has_its_own_programs_and_constraints(tmp_path: Path) -> None:
    """Month b closes 严选 and allows no off-site slot: its 严选 row is UNKNOWN_PROGRAM, its
    off-site row MAX_SKUS (b's constraint, not a's) and PRICE_CAP (month a's 严选 6 still moves
    b's minimum); month a keeps every rule. audit.json gives each month its constraints."""
    sc = _variant(tmp_path / "case", periods=[
        {"name": "a"},
        {"name": "b", "programs": {"yanxuan": {"enabled": False}},
         "constraints": {"max_skus": {"offsite": 0}}}])
    plan = _write_plan(tmp_path / "plan.csv", [
        ("a", "S1", "offsite", "8.00"), ("a", "S1", "yanxuan", "6.00"),
        ("b", "S1", "offsite", "8.00"), ("b", "S1", "yanxuan", "6.00")])
    result = _audit(sc, plan, tmp_path / "out")
    assert result.exit_code == EXIT_AUDIT, result.output
    got = sorted((r["period"], r["program"], r["rule"]) for r in _findings(tmp_path / "out"))
    assert got == [("b", "offsite", "MAX_SKUS"), ("b", "offsite", "PRICE_CAP"),
                   ("b", "yanxuan", "UNKNOWN_PROGRAM")]
    doc = _doc(tmp_path / "out")
    assert doc["periods"][0]["ok"] is True and doc["periods"][0]["constraints"] == {}
    assert doc["periods"][1]["constraints"] == {"max_skus.offsite": {"value": 1, "limit": 0}}
    assert doc["periods"][1]["programs"] == {"offsite": pytest.approx({
        "enrolled_skus": 1, "units": 37.5, "revenue": 300.0, "fees": 0.0, "margin": 187.5,
        "counts_toward_gmv": True})}


def test_one_month_with_overrides_is_audited_with_them(tmp_path: Path) -> None:
    """One month with its own constraints: its overrides apply; a plan without a period column
    is that month's."""
    sc = _variant(tmp_path / "case", periods=[{"name": "only",
                                              "constraints": {"max_skus": {"offsite": 0}}}])
    plan = _write_plan(tmp_path / "plan.csv", [("S1", "offsite", "8.00")],
                       head=("sku_id", "program", "price"))
    result = _audit(sc, plan, tmp_path / "out")
    assert result.exit_code == EXIT_AUDIT, result.output
    assert [(r["period"], r["rule"]) for r in _findings(tmp_path / "out")] == [
        ("only", "MAX_SKUS")]


def _two_sku_catalogue() -> str:
    """The case's catalogue with S2 in offer O1, off-site only (moq 3 keeps it out of 严选;
    the offer-level fields stay the offer's)."""
    catalogue = (CASE / "catalogue.csv").read_text(encoding="utf-8").splitlines()
    s2 = catalogue[1].replace("S1,O1", "S2,O1").replace(",0.98,1,", ",0.98,3,")
    assert s2.startswith("S2,O1") and ",0.98,3," in s2
    return "\n".join([*catalogue, s2]) + "\n"


CLOSED = [{"name": "a"}, {"name": "b", "programs": {"yanxuan": {"enabled": False}}}]
NO_SLOT = [{"name": "a"}, {"name": "b", "constraints": {"max_skus": {"offsite": 0}}}]


@pytest.mark.parametrize("changes", [
    {"periods": 3},  # default names 1, 2, 3; each month's cap from the month before
    {"periods": CLOSED},  # month b closes 严选: month a's 严选 price still moves b's cap
    {"periods": NO_SLOT, "constraints": {"discount_budget": 1000}},
    {"current": "current.csv"},  # today 严选 at 9, no_exit: binds month 1 only
    {"catalogue": "two-skus"},  # fixed_until_exit per offer across months
    {"constraints": {"gmv_min": 400}},
], ids=["three-months", "closed", "no-slot", "current", "two-skus", "gmv-min"])
@pytest.mark.parametrize("plan_of", [months_optimum, month_by_month])
def test_the_auditor_agrees_with_the_reference_on_variants(
        tmp_path: Path, changes: dict[str, Any], plan_of: Any) -> None:
    """Every plan the exact several-month reference finds (the joint optimum, and month by
    month) keeps every rule for the auditor, which recomputes the reference's margin month by
    month."""
    (tmp_path / "case").mkdir()
    (tmp_path / "case" / "current.csv").write_text("sku_id,program,price\nS1,yanxuan,9.00\n",
                                                   "utf-8")
    two = changes.pop("catalogue", None) == "two-skus"
    sc = _variant(tmp_path / "case", catalogue=_two_sku_catalogue() if two else None, **changes)
    found = plan_of(sc)
    assert found is not None
    months = load_months(sc)
    assert months is not None
    names = [m.name for m in months]
    rows = [(names[t], sku, pid, f"{fen // 100}.{fen % 100:02d}")
            for t, month in enumerate(found.rows) for sku, pid, fen, _ in month]
    plan = _write_plan(tmp_path / "plan.csv", rows)
    result = _audit(sc, plan, tmp_path / "out")
    assert result.exit_code == EXIT_OK, result.output
    doc = _doc(tmp_path / "out")
    assert [m["name"] for m in doc["periods"]] == names
    assert [m["total"]["margin"] for m in doc["periods"]] == pytest.approx(
        list(found.margins), abs=0.005)
    assert doc["total"]["margin"] == pytest.approx(found.value, abs=0.005)


def test_a_plan_xlsx_with_month_numbers_in_its_period_cells(tmp_path: Path) -> None:
    """`periods: 2` names its months 1 and 2; Excel stores those cells as numbers, read as the
    names. Month 1's 严选 6 moves month 2's cap: off-site 8 there is PRICE_CAP."""
    import openpyxl

    sc = _variant(tmp_path / "case", periods=2)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "plan"
    for row in (HEAD, (1, "S1", "yanxuan", 6), (2, "S1", "offsite", 8.0)):
        sheet.append(list(row))
    book.save(tmp_path / "plan.xlsx")
    result = _audit(sc, tmp_path / "plan.xlsx", tmp_path / "out")
    assert result.exit_code == EXIT_AUDIT, result.output
    [row] = _findings(tmp_path / "out")
    assert (row["period"], row["program"], row["price"], row["rule"]) == (
        "2", "offsite", "8", "PRICE_CAP")
    assert "30-day minimum 6.00 (month 1's yanxuan price" in row["detail"], row
    assert [m["name"] for m in _doc(tmp_path / "out")["periods"]] == ["1", "2"]
