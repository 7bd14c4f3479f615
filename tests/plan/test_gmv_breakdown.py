"""What counted toward the 通天 GMV target (SPEC 2.1, 3; issue 15): summary.json, plan.xlsx (English
and Chinese), report.html and the auditor's audit.json say which programs counted
(counts_toward_gmv) and how much came from merchant.baseline_gmv; value = baseline + the counted
programs' revenue, AliExpress revenue left out."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner

from optimizer.audit import audit, audit_summary
from optimizer.cli import main
from optimizer.plan.lang import bracket, list_text, word
from tests.helpers import MERCHANT, read_csv, sku, write_case

ROWS = [sku(market_price="10.00", min_price_30d="10.00", unit_cost="3.00", daily_units=2,
            stock=100000, offer_id="O1"),
        sku(market_price="8.00", min_price_30d="8.00", unit_cost="2.00", daily_units=3,
            stock=100000, offer_id="O2")]
BASELINE = 1234.56
GMV_KEYS = ["value", "limit", "baseline", "counted_revenue", "counted_programs"]


def _solve(scenario: Path, out: Path, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "-q", *args])
    assert result.exit_code == 0, result.output
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """huopin (counts) beside aliexpress_semi (does not), a baseline and a target above it:
    (scenario, out, summary.json), solved with --xlsx and --report."""
    work = tmp_path_factory.mktemp("gmv")
    scenario = write_case(work / "case", ROWS, programs={"huopin": {}, "aliexpress_semi": {}},
                          merchant={**MERCHANT, "baseline_gmv": BASELINE},
                          constraints={"gmv_min": BASELINE + 100})
    out = work / "out"
    return scenario, out, _solve(scenario, out, "--xlsx", "--report")


def test_summary_json_says_what_counted(solved: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, summary = solved
    gmv = summary["constraints"]["gmv_min"]
    assert list(gmv) == GMV_KEYS  # value and limit first, as before; the breakdown after
    assert gmv["baseline"] == BASELINE
    assert gmv["counted_programs"] == ["huopin"]
    assert [p["counts_toward_gmv"] for p in summary["programs"].values()] == [True, False]
    assert list(summary["programs"]["huopin"])[-1] == "counts_toward_gmv"  # added at the end
    rows = read_csv(out / "plan.csv")
    by = {k: sum(float(r["revenue"]) for r in rows if r["program"] == k)
          for k in ("huopin", "aliexpress_semi")}
    assert by["huopin"] > 0 and by["aliexpress_semi"] > 0  # both sell: the exclusion is real
    assert gmv["counted_revenue"] == pytest.approx(by["huopin"], abs=0.005 * len(rows) + 0.01)
    assert gmv["counted_revenue"] == pytest.approx(summary["programs"]["huopin"]["revenue"],
                                                   abs=0.005)
    assert gmv["value"] == pytest.approx(gmv["baseline"] + gmv["counted_revenue"], abs=0.006)
    # AliExpress is not in it: the value is well below baseline + every program's revenue
    assert gmv["value"] < BASELINE + by["huopin"] + by["aliexpress_semi"] - 1


def test_every_program_says_whether_it_counts_without_a_target(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case", ROWS)
    summary = _solve(scenario, tmp_path / "out")
    assert "gmv_min" not in summary["constraints"]
    assert {k: p["counts_toward_gmv"] for k, p in summary["programs"].items()} == {
        "offsite": True, "yanxuan": True, "huopin": True, "crossborder": True,
        "aliexpress_semi": False}


def _sheet(path: Path, name: str) -> list[tuple[Any, ...]]:
    ws = openpyxl.load_workbook(path)[name]
    return [r for r in ws.iter_rows(values_only=True) if r[0] is not None]


def test_xlsx_summary_sheet_says_what_counted(solved: tuple[Path, Path, dict[str, Any]]
                                              ) -> None:
    _, out, summary = solved
    gmv = summary["constraints"]["gmv_min"]
    rows = _sheet(out / "plan.xlsx", "summary")
    head = next(r for r in rows if r[0] == "program")
    assert head[7] == "counts toward GMV target"
    program = {r[0]: r for r in rows}
    assert program["huopin"][7] == "yes" and program["aliexpress_semi"][7] == "no"
    at = [r[0] for r in rows].index("gmv_min")
    assert rows[at][1:3] == (gmv["value"], gmv["limit"])
    assert rows[at + 1][:2] == ("of which: ordinary 1688 sales (baseline_gmv)", BASELINE)
    assert rows[at + 2][:2] == ("of which: counted programs (huopin)", gmv["counted_revenue"])


def test_xlsx_summary_sheet_in_chinese(solved: tuple[Path, Path, dict[str, Any]],
                                       tmp_path: Path) -> None:
    scenario, _, first = solved
    out = tmp_path / "zh"
    summary = _solve(scenario, out, "--xlsx", "--lang", "zh")
    gmv = summary["constraints"]["gmv_min"]
    assert gmv == first["constraints"]["gmv_min"]  # summary.json does not change with the language
    rows = _sheet(out / "plan.xlsx", "汇总")
    head = next(r for r in rows if r[0] == "报名项目")
    assert head[7] == "计入通天GMV"
    program = {r[0]: r for r in rows}
    assert program["huopin"][7] == "是" and program["aliexpress_semi"][7] == "否"
    at = [r[0] for r in rows].index("gmv_min")
    assert rows[at + 1][:2] == ("其中：店铺日常1688销售额(baseline_gmv)", BASELINE)
    assert rows[at + 2][:2] == ("其中：计入的项目（huopin）", gmv["counted_revenue"])


def test_report_says_what_counted(solved: tuple[Path, Path, dict[str, Any]]) -> None:
    _, out, summary = solved
    gmv = summary["constraints"]["gmv_min"]
    html = (out / "report.html").read_text(encoding="utf-8")
    start = html.index('<p id="gmv-counted">')
    text = html[start:html.index("</p>", start)]
    assert f"(baseline_gmv) {BASELINE:,.2f}" in text
    assert f"counted programs (huopin 伙拼) {gmv['counted_revenue']:,.2f}" in text
    ali = summary["programs"]["aliexpress_semi"]["revenue"]
    assert f"not counted (not 1688 trades): aliexpress_semi 速卖通半托管 {ali:,.2f}" in text


def test_audit_json_gives_the_same_breakdown(solved: tuple[Path, Path, dict[str, Any]],
                                             tmp_path: Path) -> None:
    """The auditor recomputes it on its own: the same programs, baseline and revenue."""
    scenario, out, summary = solved
    result = CliRunner().invoke(main, ["audit", str(scenario), str(out / "plan.csv"),
                                       "-o", str(tmp_path / "audit"), "-q"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "audit" / "audit.json").read_text(encoding="utf-8"))
    mine, theirs = doc["constraints"]["gmv_min"], summary["constraints"]["gmv_min"]
    assert list(mine) == GMV_KEYS
    assert mine["counted_programs"] == theirs["counted_programs"] == ["huopin"]
    assert mine["baseline"] == theirs["baseline"] == BASELINE
    for key in ("value", "counted_revenue"):
        assert mine[key] == pytest.approx(theirs[key], abs=0.01)
    assert {k: p["counts_toward_gmv"] for k, p in doc["programs"].items()} == {
        "huopin": True, "aliexpress_semi": False}


@pytest.mark.parametrize("change", ["aliexpress counted", "baseline", "counted_revenue",
                                    "no list"])
def test_audit_summary_flags_a_wrong_breakdown(solved: tuple[Path, Path, dict[str, Any]],
                                               change: str) -> None:
    scenario, out, summary = solved
    report = audit(scenario, out / "plan.csv")
    assert audit_summary(summary, report) == []
    bad = copy.deepcopy(summary)
    gmv = bad["constraints"]["gmv_min"]
    if change == "aliexpress counted":
        gmv["counted_programs"].append("aliexpress_semi")
    elif change == "baseline":
        gmv["baseline"] += 1
    elif change == "counted_revenue":
        gmv["counted_revenue"] += 0.02
    else:
        gmv["counted_programs"] = None
    found = audit_summary(bad, report)
    assert [v.code for v in found] and {v.code for v in found} == {"SUMMARY_CONSTRAINT"}
    assert all("gmv_min" in v.message for v in found)


def test_counted_programs_read_as_a_list_in_either_language() -> None:
    programs = ["offsite", "yanxuan", "huopin"]
    assert (word("gmv_counted", "en") + bracket(list_text(programs, "en"), "en")
            == "of which: counted programs (offsite, yanxuan, huopin)")
    assert (word("gmv_counted", "zh") + bracket(list_text(programs, "zh"), "zh")
            == "其中：计入的项目（offsite、yanxuan、huopin）")


def test_the_terminal_summary_says_what_counted(tmp_path: Path) -> None:
    """The printed summary's gmv_min line gives the breakdown too (baseline + the counted
    programs' revenue), AliExpress not among them."""
    scenario = write_case(tmp_path / "case", ROWS, programs={"huopin": {}, "aliexpress_semi": {}},
                          merchant={**MERCHANT, "baseline_gmv": BASELINE},
                          constraints={"gmv_min": BASELINE + 100})
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    gmv = summary["constraints"]["gmv_min"]
    [line] = [ln for ln in result.output.splitlines() if ln.strip().startswith("gmv_min:")]
    assert line.endswith(f"= baseline 1,234.56 + {gmv['counted_revenue']:,.2f} of huopin")
