"""`enroll-opt audit SCENARIO PLAN` end to end (SPEC 6.2): plans `solve` wrote audit clean in
every format; hand-edited plans that break one rule each get exit 5, that rule's code and its
numbers; bad PLAN files get exit 2 with nothing written; --optimum prices what a plan leaves."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from optimizer.cli import EXIT_AUDIT, EXIT_INPUT, EXIT_OK, main
from tests.audit.conftest import MakeScenario

# S1, S2 share offer O1 (yanxuan and huopin take an offer whole); S3 is offer O2 alone.
SKUS = ({}, {"sku_id": "S2", "market_price": "11.00", "min_price_30d": "8.50"},
        {"sku_id": "S3", "offer_id": "O2", "unit_cost": "2.50"})


def _run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def _audit(scenario: Path, plan: Path, out: Path, *extra: str) -> Result:
    return _run("audit", str(scenario), str(plan), "-o", str(out), "-q", *extra)


def _write_plan(path: Path, rows: Sequence[Sequence[str]],
                head: Sequence[str] = ("sku_id", "program", "price")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(head)
        writer.writerows(rows)
    return path


def _findings(out: Path) -> list[dict[str, str]]:
    with (out / "audit.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _doc(out: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((out / "audit.json").read_text(encoding="utf-8"))
    return doc


@pytest.fixture
def solved(make_scenario: MakeScenario, tmp_path: Path) -> tuple[Path, Path]:
    """The tiny scenario solved, with plan.xlsx and Chinese headers beside."""
    sc = make_scenario(list(SKUS))
    for lang in ("en", "zh"):
        res = _run("solve", str(sc), "-o", str(tmp_path / f"solve-{lang}"), "-q", "--xlsx",
                   "--lang", lang)
        assert res.exit_code == EXIT_OK, res.output
    return sc, tmp_path


@pytest.mark.parametrize("plan", ["solve-en/plan.csv", "solve-zh/plan.csv", "solve-en/plan.xlsx",
                                  "solve-zh/plan.xlsx"])
def test_solved_plan_audits_clean(solved: tuple[Path, Path], plan: str) -> None:
    sc, work = solved
    out = work / "audit"
    res = _audit(sc, work / plan, out)
    assert res.exit_code == EXIT_OK, res.output
    assert _findings(out) == []
    doc = _doc(out)
    summary = json.loads((work / "solve-en" / "summary.json").read_text(encoding="utf-8"))
    assert doc["ok"] is True and set(doc["rules"].values()) == {0}
    assert doc["total"]["enrolled_skus"] > 0
    assert doc["total"]["margin"] == pytest.approx(summary["objective"], abs=0.01)
    for pid, fig in summary["programs"].items():
        assert doc["programs"][pid]["enrolled_skus"] == fig["enrolled_skus"]
        assert doc["programs"][pid]["margin"] == pytest.approx(fig["margin"], abs=0.01)


def test_chinese_headers_with_bom_are_read(solved: tuple[Path, Path]) -> None:
    sc, work = solved
    text = (work / "solve-zh" / "plan.csv").read_text(encoding="utf-8-sig")
    assert text.startswith("SKU编号")
    plan = work / "bom.csv"
    plan.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert _audit(sc, plan, work / "a").exit_code == EXIT_OK


def test_audit_is_deterministic(solved: tuple[Path, Path]) -> None:
    sc, work = solved
    plan = _write_plan(work / "p.csv", [("S3", "offsite", "9.00"), ("S1", "offsite", "8.99")])
    first = [_audit(sc, plan, work / f"a{k}").exit_code for k in (1, 2)]
    assert first == [EXIT_AUDIT, EXIT_AUDIT]
    for name in ("audit.csv", "audit.json"):
        assert (work / "a1" / name).read_bytes() == (work / "a2" / name).read_bytes()


# (constraints of the scenario, plan rows, the rule broken, text its detail must hold)
BROKEN: dict[str, tuple[dict[str, Any], list[tuple[str, str, str]], str, list[str]]] = {
    "strict cap at equality": ({}, [("S3", "offsite", "9.00")], "PRICE_CAP",
                               ["price 9.00 >= min_price_30d 9.00 (strict"]),
    "price off the step": ({}, [("S3", "offsite", "8.955")], "PRICE_STEP",
                           ["8.955", "price_step 0.01"]),
    "price below a fen": ({}, [("S3", "offsite", "0")], "PRICE_STEP", ["0.00", "below 0.01"]),
    "duplicate row": ({}, [("S3", "offsite", "8.99"), ("S3", "offsite", "8.98")], "DUPLICATE",
                      ["already in offsite", "row 1, price 8.99"]),
    "unknown SKU": ({}, [("S9", "offsite", "8.99")], "UNKNOWN_SKU", ["'S9'"]),
    "unknown program": ({}, [("S3", "tmall", "8.99")], "UNKNOWN_PROGRAM", ["'tmall'"]),
    "all or none": ({}, [("S1", "yanxuan", "11.40")], "ALL_OR_NONE",
                    ["offer O1 has S1 in yanxuan", "S2 is not"]),
    "exclusive": ({}, [("S3", "huopin", "10.80"), ("S3", "offsite", "8.99")], "EXCLUSIVE",
                  ["offer O2", "offsite", "huopin"]),
    "margin": ({"min_unit_margin_rate": 0.9}, [("S3", "offsite", "8.99")], "MARGIN",
               ["8.99", "unit cost", "< 0.9 x price"]),
    "max_skus": ({"max_skus": {"offsite": 1}}, [("S1", "offsite", "8.99"),
                                                ("S3", "offsite", "8.99")], "MAX_SKUS",
                 ["2 SKUs enrolled > max_skus 1"]),
    "discount budget": ({"discount_budget": 100}, [("S3", "offsite", "8.99")], "DISCOUNT_BUDGET",
                        ["> discount_budget 100"]),
    "gmv": ({"gmv_min": 1000000}, [("S3", "offsite", "8.99")], "GMV_MIN",
            ["< gmv_min 1000000"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_hand_edited_plan_breaks_one_rule(make_scenario: MakeScenario, tmp_path: Path,
                                          case: str) -> None:
    constraints, rows, rule, texts = BROKEN[case]
    sc = make_scenario(list(SKUS), constraints=constraints)
    out = tmp_path / "audit"
    res = _audit(sc, _write_plan(tmp_path / "plan.csv", rows), out)
    assert res.exit_code == EXIT_AUDIT, res.output
    found = _findings(out)
    assert [f["rule"] for f in found] == [rule], found
    for text in texts:
        assert text in found[0]["detail"], (text, found[0])
    doc = _doc(out)
    assert doc["ok"] is False and doc["broken_rules"] == 1
    assert {c: n for c, n in doc["rules"].items() if n} == {rule: 1}
    plan_wide = rule in ("MAX_SKUS", "DISCOUNT_BUDGET", "GMV_MIN")
    assert (found[0]["sku_id"] == "") is plan_wide
    if not plan_wide and rule != "ALL_OR_NONE":
        assert found[0]["price"] == rows[-1][2]


def test_stock_over_reserve(make_scenario: MakeScenario, tmp_path: Path) -> None:
    """Stock 500 less 5 reserve days x 10 a day leaves 450 units; offsite at 8.99 sells more
    (473.5 over the 23 days after review)."""
    sc = make_scenario([{"stock": 500}], constraints={"stock_reserve_days": 5})
    out = tmp_path / "audit"
    res = _audit(sc, _write_plan(tmp_path / "plan.csv", [("S1", "offsite", "8.99")]), out)
    assert res.exit_code == EXIT_AUDIT
    [found] = _findings(out)
    assert (found["sku_id"], found["rule"]) == ("S1", "STOCK")
    assert "> stock 500" in found["detail"] and "= 450.000" in found["detail"]


def test_constraints_carry_value_and_limit(make_scenario: MakeScenario, tmp_path: Path) -> None:
    sc = make_scenario(list(SKUS), constraints={"gmv_min": 1000000, "max_skus": {"offsite": 3},
                                                "discount_budget": 1000000})
    out = tmp_path / "audit"
    _audit(sc, _write_plan(tmp_path / "plan.csv", [("S3", "offsite", "8.99")]), out)
    doc = _doc(out)
    revenue = doc["total"]["revenue"]
    assert revenue > 0
    # no baseline_gmv in the scenario: offsite's revenue is all that counts, and says so
    counting = [pid for pid, p in doc["programs"].items() if p["counts_toward_gmv"]]
    assert "offsite" in counting and "aliexpress_semi" not in counting
    assert doc["constraints"]["gmv_min"] == {"value": revenue, "limit": 1000000.0,
                                             "baseline": 0.0, "counted_revenue": revenue,
                                             "counted_programs": counting}
    assert doc["constraints"]["max_skus.offsite"] == {"value": 1, "limit": 3}
    assert doc["constraints"]["discount_budget"]["limit"] == 1000000.0
    assert doc["constraints"]["discount_budget"]["value"] > 0


@pytest.mark.parametrize("content", [
    "sku_id,program\nS1,offsite\n",                              # no price column
    "sku_id,program,price\nS1,offsite,abc\n",                    # unreadable price
    "sku_id,program,price\nS1,offsite,nan\n",
    "sku_id,program,price\nS1,offsite,1e999999999\n",           # beyond the money limit
    "sku_id,program,price\nS1,offsite,1e-999999999\n",          # more decimals than any price
    "",                                                          # empty
    "SKU编号,报名项目\nS1,offsite\n",                              # Chinese, no price
])
def test_bad_plan_file_exit_2_nothing_written(make_scenario: MakeScenario, tmp_path: Path,
                                              content: str) -> None:
    sc = make_scenario(list(SKUS))
    plan = tmp_path / "plan.csv"
    plan.write_text(content, encoding="utf-8")
    out = tmp_path / "audit"
    res = _audit(sc, plan, out)
    assert res.exit_code == EXIT_INPUT, res.output
    assert str(plan) in res.output and "Traceback" not in res.output
    if content.startswith("sku_id,program,price"):
        assert "row 1, field price" in res.output
    elif content:
        assert "line 1, field price" in res.output
    assert not out.exists()


def test_plan_that_is_no_file(make_scenario: MakeScenario, tmp_path: Path) -> None:
    sc = make_scenario(list(SKUS))
    out = tmp_path / "audit"
    for plan in (tmp_path, tmp_path / "missing.csv", Path("/dev/zero")):
        res = _audit(sc, plan, out)
        assert res.exit_code == EXIT_INPUT, res.output
        assert str(plan) in res.output
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    res = _audit(sc, fifo, out)
    assert res.exit_code == EXIT_INPUT and "named pipe" in res.output
    assert not out.exists()


def test_plan_too_big_or_not_utf8_or_broken_xlsx(make_scenario: MakeScenario, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sc = make_scenario(list(SKUS))
    out = tmp_path / "audit"
    plan = _write_plan(tmp_path / "plan.csv", [("S3", "offsite", "8.99")] * 50)
    monkeypatch.setattr("optimizer.plan_audit.PLAN_LIMITS", {"csv": 100, "xlsx": 100})
    res = _audit(sc, plan, out)
    assert res.exit_code == EXIT_INPUT and "larger than" in res.output
    monkeypatch.undo()
    latin = tmp_path / "latin.csv"
    latin.write_bytes("sku_id,program,price\nS3,offsite,8.99\nS\xe9,offsite,1\n".encode("latin-1"))
    res = _audit(sc, latin, out)
    assert res.exit_code == EXIT_INPUT and "line 3" in res.output and "UTF-8" in res.output
    broken = tmp_path / "plan.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    res = _audit(sc, broken, out)
    assert res.exit_code == EXIT_INPUT and "xlsx" in res.output
    assert not out.exists()


def test_refuses_to_replace_the_audited_plan(solved: tuple[Path, Path]) -> None:
    sc, work = solved
    folder = work / "solve-en"
    before = (folder / "plan.csv").read_bytes()
    res = _audit(sc, folder / "plan.csv", folder)
    assert res.exit_code == EXIT_INPUT and "holds the plan being audited" in res.output
    assert (folder / "plan.csv").read_bytes() == before
    assert not (folder / "audit.csv").exists()


def test_default_folder(solved: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    sc, work = solved
    monkeypatch.chdir(work)
    res = _run("audit", str(sc), "solve-en/plan.csv", "-q")
    assert res.exit_code == EXIT_OK, res.output
    assert (work / "out" / "tiny-audit" / "audit.json").is_file()


def test_optimum_left_on_table(solved: tuple[Path, Path]) -> None:
    """A solved plan less one enrollment of a per-SKU program keeps every rule and leaves money:
    left_on_table = the optimum's objective - the plan's recomputed margin."""
    sc, work = solved
    with (work / "solve-en" / "plan.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    summary = json.loads((work / "solve-en" / "summary.json").read_text(encoding="utf-8"))
    drop = next(r for r in rows if r["program"] in ("offsite", "crossborder", "aliexpress_semi"))
    plan = _write_plan(work / "edited.csv", [(r["sku_id"], r["program"], r["price"])
                                             for r in rows if r is not drop])
    out = work / "audit"
    res = _audit(sc, plan, out, "--optimum")
    assert res.exit_code == EXIT_OK, res.output
    doc = _doc(out)
    assert doc["total"]["enrolled_skus"] == len(rows) - 1
    assert doc["optimum"]["status"] == summary["status"]
    assert doc["optimum"]["objective"] == pytest.approx(summary["objective"], abs=0.01)
    assert doc["optimum"]["bound"] >= doc["optimum"]["objective"]
    assert doc["total"]["margin"] < summary["objective"] - 1
    assert doc["left_on_table"] == pytest.approx(
        doc["optimum"]["objective"] - doc["total"]["margin"], abs=0.011)
    assert doc["left_on_table"] > 1
    assert doc["left_on_table_at_most"] == pytest.approx(
        doc["optimum"]["bound"] - doc["total"]["margin"], abs=0.011)
    assert "left on the table" in res.output


def test_optimum_for_a_broken_plan_has_no_left_on_table(make_scenario: MakeScenario,
                                                        tmp_path: Path) -> None:
    sc = make_scenario(list(SKUS))
    out = tmp_path / "audit"
    plan = _write_plan(tmp_path / "plan.csv", [("S3", "offsite", "9.00")])
    res = _audit(sc, plan, out, "--optimum")
    assert res.exit_code == EXIT_AUDIT
    doc = _doc(out)
    assert doc["optimum"]["objective"] > 0 and doc["left_on_table"] is None


def test_hand_edited_xlsx(solved: tuple[Path, Path]) -> None:
    """A price raised in Excel to the strict cap, as a number or as text: PRICE_CAP on that row."""
    import openpyxl

    sc, work = solved
    book = openpyxl.load_workbook(work / "solve-zh" / "plan.xlsx")
    sheet = book["报名方案"]
    head = [c.value for c in sheet[1]]
    sku_col, prog_col, price_col = (head.index(h) for h in ("SKU编号", "报名项目", "报名价(元)"))
    row = next(r for r in sheet.iter_rows(min_row=2)
               if r[sku_col].value == "S3" and r[prog_col].value == "offsite")
    for value in (9.0, "9.00"):
        row[price_col].value = value
        book.save(work / "edited.xlsx")
        out = work / "audit"
        assert _audit(sc, work / "edited.xlsx", out).exit_code == EXIT_AUDIT
        [found] = _findings(out)
        assert (found["sku_id"], found["program"], found["rule"]) == ("S3", "offsite", "PRICE_CAP")
        assert found["price"] == "9" if value == 9.0 else "9.00"
        assert "price 9.00 >= min_price_30d 9.00 (strict" in found["detail"]


def test_plan_with_several_periods_or_bad_scenario(make_scenario: MakeScenario,
                                                   tmp_path: Path) -> None:
    sc = make_scenario(list(SKUS))
    out = tmp_path / "audit"
    plan = _write_plan(tmp_path / "p.csv", [("S1", "offsite", "8.99", "1"),
                                            ("S3", "offsite", "8.99", "2")],
                       head=("sku_id", "program", "price", "period"))
    res = _audit(sc, plan, out)
    assert res.exit_code == EXIT_INPUT and "field period" in res.output
    one = _write_plan(tmp_path / "one.csv", [("S1", "offsite", "8.99", "1")],
                      head=("sku_id", "program", "price", "period"))
    assert _audit(sc, one, tmp_path / "ok").exit_code == EXIT_OK
    bad = sc.parent / "bad.yaml"
    bad.write_text(sc.read_text(encoding="utf-8") + "price_step: -1\n", encoding="utf-8")
    res = _audit(bad, one, out)
    assert res.exit_code == EXIT_INPUT and str(bad) in res.output and "price_step" in res.output
    assert not out.exists()
