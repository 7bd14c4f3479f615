"""`solve --lang zh`: Chinese headers in plan.csv, excluded.csv and plan.xlsx; the data the same.

The English default is the file it always was (the other suites check its bytes); here the Chinese
files must be that file with only the header line changed (and a BOM for Excel)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.pipeline import run_solve
from optimizer.plan.lang import LANGS, REASON_MEANINGS, header
from optimizer.plan.writer import EXCLUDED_COLUMNS, PLAN_COLUMNS
from tests.helpers import sku, write_case

PLAN_ZH = ("SKU编号,商品ID,报名项目,报名价(元),预计件数,预计销售额(元),费率,"
           "预计平台费用(元),预计毛利(元),变动,规则提示")
EXCLUDED_ZH = "SKU编号,报名项目,原因代码,说明"
ROWS = [sku(offer_id="O1"), sku(offer_id="O1", market_price="15.00", min_price_30d="14.00"),
        sku(offer_id="O2", growth_score=5), sku(offer_id="O3", dropship="false")]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lang")
    scenario = write_case(folder / "case", ROWS)
    run_solve(scenario, folder / "en")
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(folder / "zh"), "-q",
                                       "--lang", "zh", "--xlsx"])
    assert result.exit_code == 0, result.output
    return folder / "en", folder / "zh"


@pytest.mark.parametrize("name,zh_header", [("plan.csv", PLAN_ZH), ("excluded.csv", EXCLUDED_ZH)])
def test_chinese_csv_is_the_english_one_with_chinese_headers(
        both: tuple[Path, Path], name: str, zh_header: str) -> None:
    en, zh = ((folder / name).read_bytes() for folder in both)
    en_header, en_body = en.split(b"\n", 1)
    assert en_header.decode() == ",".join(PLAN_COLUMNS if name == "plan.csv"
                                          else EXCLUDED_COLUMNS)
    assert zh.startswith(b"\xef\xbb\xbf"), "a BOM, so that Excel reads UTF-8"
    zh_header_line, zh_body = zh[3:].split(b"\n", 1)
    assert zh_header_line.decode("utf-8") == zh_header
    assert zh_body == en_body and en_body.count(b"\n") > 1  # ids, codes, numbers unchanged


def test_summary_json_does_not_change_with_the_language(both: tuple[Path, Path]) -> None:
    def without_timings(text: str) -> str:
        import json
        data = json.loads(text)
        for key in ("seconds", "phases", "trace", "solver"):
            data.pop(key, None)
        return json.dumps(data)
    en, zh = ((f / "summary.json").read_text(encoding="utf-8") for f in both)
    assert without_timings(en) == without_timings(zh)


def test_chinese_workbook(both: tuple[Path, Path]) -> None:
    _, zh = both
    book = openpyxl.load_workbook(zh / "plan.xlsx")
    assert book.sheetnames == ["报名方案", "未报名", "汇总"]
    plan = [c.value for c in book["报名方案"][1]]
    assert plan == ["SKU编号", "商品ID", "报名项目", "项目名称", "报名价(元)", "预计件数",
                    "预计销售额(元)", "费率", "预计平台费用(元)", "预计毛利(元)", "变动",
                    "规则提示"]
    assert [c.value for c in book["未报名"][1]] == ["SKU编号", "报名项目", "项目名称", "原因代码",
                                                   "说明"]
    # program ids stay, their Chinese names beside them; reason codes stay, explained in 汇总
    programs = {(r[2], r[3]) for r in book["报名方案"].iter_rows(min_row=2, values_only=True)}
    assert ("offsite", "站外分销货源中心") in programs or ("yanxuan", "严选") in programs
    reasons = {r[3] for r in book["未报名"].iter_rows(min_row=2, values_only=True)}
    assert "SKU_RULE" in reasons
    legend = {r[0]: r[1] for r in book["汇总"].iter_rows(values_only=True)}
    assert legend["SKU_RULE"] == REASON_MEANINGS["zh"]["SKU_RULE"]
    assert legend["求解状态"].split()[0] in ("OPTIMAL", "FEASIBLE")


def test_every_column_has_a_chinese_header() -> None:
    for column in (*PLAN_COLUMNS, *EXCLUDED_COLUMNS, "program_name"):
        assert header(column, "en") == column
        zh = header(column, "zh")
        assert zh != column and not zh.isascii()
        assert "," not in zh and '"' not in zh  # a CSV header needs no quoting
    assert set(REASON_MEANINGS) == set(LANGS)


def test_unknown_language_is_refused_before_anything(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case", ROWS)
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(tmp_path / "out"),
                                       "--lang", "fr"])
    assert result.exit_code == 2 and "fr" in result.output
    with pytest.raises(ValueError, match="unknown language"):
        run_solve(scenario, tmp_path / "out", lang="fr")
    assert not (tmp_path / "out").exists()


def test_bad_input_in_chinese_still_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case", ROWS, solver={"time_limit_s": -1})
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(tmp_path / "out"),
                                       "--lang", "zh", "--xlsx"])
    assert result.exit_code == 2 and "time_limit_s" in result.output
    assert not (tmp_path / "out").exists()
