"""plan.xlsx (`solve --xlsx`): every cell as the CSV files have it, formats, frozen headers,
sheets continued past Excel's row limit, same input same bytes, written with the others or not at
all."""

from __future__ import annotations

import csv
import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import numpy as np
import openpyxl
import pyarrow as pa
import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.pipeline import run_solve
from optimizer.plan import xlsx
from optimizer.plan.writer import write_outputs
from tests.helpers import sku, write_case

# awkward ids: a comma, quotes, what Excel would take for a formula or a link, Chinese
ROWS = [
    sku(sku_id="=SUM(A1:A2)", offer_id="O-1", market_price="19.99", min_price_30d="18.50"),
    sku(sku_id="红色,大号", offer_id="O-1", market_price="21.00", min_price_30d="20.00"),
    sku(sku_id='say "hi"', offer_id="O-2", market_price="8.80", min_price_30d="8.50"),
    sku(sku_id="http://example.com/s", offer_id="O-2", unit_cost="2.10"),
    sku(sku_id="+86-1", offer_id="O-3g", growth_score=10),  # fails growth_score rules
    sku(sku_id="S6", offer_id="O-3", unit_cost="11.90"),  # no price keeps a margin: PRICE_CAP
    sku(sku_id="S7", offer_id="O-4", dropship="false", daily_units="3.3"),
    sku(sku_id="S8", offer_id="O-5", market_price="105.00", min_price_30d="99.99",
        unit_cost="40.00", daily_units="0.7"),
]
NUMBERS = {"price": 2, "units": 3, "revenue": 2, "fees": 2, "margin": 2}


def _csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return list(csv.reader(fh))


def _sheet_rows(ws: Any) -> list[list[Any]]:
    return [list(row) for row in ws.iter_rows(values_only=True)]


def _check_against_csv(csv_rows: list[list[str]], sheet_rows: list[list[Any]], sheet_header:
                       list[str], names_zh: dict[str, str]) -> None:
    """Every cell of the sheet against the CSV: texts equal, numbers exactly the CSV's number."""
    header, body = csv_rows[0], csv_rows[1:]
    assert len(sheet_rows) == len(body)
    for line, (row, cells) in enumerate(zip(body, sheet_rows, strict=True), start=2):
        got = dict(zip(sheet_header, cells, strict=True))
        for name, text in zip(header, row, strict=True):
            value = got[name]
            if name in NUMBERS:
                assert isinstance(value, int | float), (line, name, value)
                assert value == float(text) and f"{value:.{NUMBERS[name]}f}" == text, \
                    (line, name, value, text)
            elif name == "fee_rate":
                assert isinstance(value, int | float) and value == float(text), (line, value)
            else:
                assert value == text, (line, name, value, text)
        assert got["program_name"] == names_zh[got["program"]]


@pytest.fixture(scope="module")
def solved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("xlsx")
    scenario = write_case(folder / "case", ROWS)
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(folder / "out"), "-q",
                                       "--xlsx"])
    assert result.exit_code == 0, result.output
    assert "plan.xlsx" in result.output
    return folder / "out"


def test_every_cell_is_the_csv_cell(solved: Path) -> None:
    summary = json.loads((solved / "summary.json").read_text(encoding="utf-8"))
    names_zh = {pid: p["name_zh"] for pid, p in summary["programs"].items()}
    book = openpyxl.load_workbook(solved / "plan.xlsx")
    assert book.sheetnames == ["plan", "excluded", "summary"]
    plan = _sheet_rows(book["plan"])
    assert plan[0] == ["sku_id", "offer_id", "program", "program_name", "price", "units",
                       "revenue", "fee_rate", "fees", "margin", "change", "warning"]
    plan_csv = _csv(solved / "plan.csv")
    assert len(plan_csv) > 3, "the case enrolls something"
    _check_against_csv(plan_csv, plan[1:], plan[0], names_zh)
    excluded = _sheet_rows(book["excluded"])
    assert excluded[0] == ["sku_id", "program", "program_name", "reason", "detail"]
    excluded_csv = _csv(solved / "excluded.csv")
    assert {r[2] for r in excluded_csv[1:]} >= {"SKU_RULE", "PRICE_CAP"}
    _check_against_csv(excluded_csv, excluded[1:], excluded[0], names_zh)
    # texts stay texts: the formula-looking id is a string cell, not a formula
    first = book["plan"]["A2"] if plan[1][0] == "=SUM(A1:A2)" else None
    ids = [c for c in book["excluded"]["A"] if c.value == "=SUM(A1:A2)"]
    for cell in [first, *ids]:
        if cell is not None:
            assert cell.data_type == "s"


def test_frozen_header_and_number_formats(solved: Path) -> None:
    book = openpyxl.load_workbook(solved / "plan.xlsx")
    for name in ("plan", "excluded"):
        assert book[name].freeze_panes == "A2"
        assert all(c.font.b for c in book[name][1])
    formats = {"price": "¥#,##0.00", "units": "#,##0.000", "revenue": "¥#,##0.00",
               "fee_rate": "0.0##%", "fees": "¥#,##0.00", "margin": "¥#,##0.00"}
    ws = book["plan"]
    header = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        for name, cell in zip(header, row, strict=True):
            if name in formats:
                assert cell.data_type == "n" and cell.number_format == formats[name], \
                    (name, cell.number_format)
            else:
                assert cell.data_type == "s"


def test_summary_sheet_has_the_headline_and_the_programs(solved: Path) -> None:
    summary = json.loads((solved / "summary.json").read_text(encoding="utf-8"))
    ws = openpyxl.load_workbook(solved / "plan.xlsx")["summary"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(values_only=True) if r[0] is not None}
    assert rows["status"][0] == summary["status"]
    assert rows["objective"][0] == pytest.approx(summary["objective"])
    for pid, p in summary["programs"].items():
        assert rows[pid][:3] == (p["name_zh"], p["enrolled_skus"], p["units"])
        assert rows[pid][4:6] == (p["fees"], p["margin"])
    assert rows["plan"][0].endswith("rows on sheet plan")
    counts = Counter(r[2] for r in _csv(solved / "excluded.csv")[1:])
    assert counts
    for code, n in counts.items():
        assert rows[code][1] == n


def test_same_tables_same_bytes(solved: Path, tmp_path: Path) -> None:
    """Written twice a second apart (the clock must not reach the file) from one solve, and once
    more from a second solve of the same input: byte-identical."""
    scenario = write_case(tmp_path / "case", ROWS)
    outcome = run_solve(scenario, tmp_path / "a", xlsx=True)
    time.sleep(1.1)
    write_outputs(tmp_path / "b", outcome.tables, xlsx=True)
    first = (tmp_path / "a" / "plan.xlsx").read_bytes()
    assert first == (tmp_path / "b" / "plan.xlsx").read_bytes()
    assert first == (solved / "plan.xlsx").read_bytes()


def test_long_tables_continue_on_further_sheets(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xlsx, "MAX_ROWS", 4)  # a header and 3 rows a sheet
    scenario = write_case(tmp_path / "case", ROWS)
    outcome = run_solve(scenario, tmp_path / "out", xlsx=True, lang="zh")
    book = openpyxl.load_workbook(tmp_path / "out" / "plan.xlsx")
    n_plan, n_excluded = outcome.tables.plan.num_rows, outcome.tables.excluded.num_rows
    plan_sheets = ["报名方案"] + [f"报名方案 ({k})" for k in range(2, -(-n_plan // 3) + 1)]
    excluded_sheets = ["未报名"] + [f"未报名 ({k})" for k in range(2, -(-n_excluded // 3) + 1)]
    assert len(excluded_sheets) >= 3
    assert book.sheetnames == [*plan_sheets, *excluded_sheets, "汇总"]
    for sheets, file in ((plan_sheets, "plan.csv"), (excluded_sheets, "excluded.csv")):
        rows: list[list[Any]] = []
        for name in sheets:
            ws = book[name]
            got = _sheet_rows(ws)
            assert ws.freeze_panes == "A2" and 2 <= len(got) <= 4
            assert got[0] == _sheet_rows(book[sheets[0]])[0]  # each sheet has the header
            rows += got[1:]
        body = _csv(tmp_path / "out" / file)[1:]
        assert [r[0] for r in rows] == [r[0] for r in body]  # every row once, in order
    notes = [r[1] for r in book["汇总"].iter_rows(values_only=True) if r[0] == "未报名"]
    assert notes and "、".join(excluded_sheets) in notes[0] and "1,048,576" not in notes[0]
    assert f"{4:,}" in notes[0]


def test_sheet_names_for_a_count() -> None:
    per = xlsx.MAX_ROWS - 1
    assert xlsx.sheet_names("excluded", 0) == ["excluded"]
    assert xlsx.sheet_names("excluded", per) == ["excluded"]
    assert xlsx.sheet_names("excluded", per + 1) == ["excluded", "excluded (2)"]
    assert len(xlsx.sheet_names("excluded", 5 * per)) == 5


def test_bad_input_writes_no_xlsx(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case", ROWS, price_step=0.001)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "--xlsx"])
    assert result.exit_code == 2, result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case"]


def test_a_stale_xlsx_goes_and_no_scratch_file_stays(tmp_path: Path) -> None:
    scenario = write_case(tmp_path / "case", ROWS)
    out = tmp_path / "out"
    run_solve(scenario, out, xlsx=True)
    assert sorted(p.name for p in out.iterdir()) == [".enroll-opt-run.json", "excluded.csv",
                                                     "plan.csv", "plan.xlsx", "summary.json"]
    run_solve(scenario, out)  # without --xlsx: the old plan.xlsx would not match the plan
    assert sorted(p.name for p in out.iterdir()) == [".enroll-opt-run.json", "excluded.csv",
                                                     "plan.csv", "summary.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case", "out"]


# ---------------------------------------------------------------- the XML written in bulk

AWKWARD = ["a & b", "<tag>", "x > y", 'say "hi"', "it's", "=SUM(1)", "=HYPERLINK(\"x\")", "+1",
           "-2", "@me", "红色,大号", "😀 emoji 🚀", "\u3000全角空格", " lead", "trail ", "\ttab",
           "line\nbreak", "cr\rhere", "nul\x00", "bell\x07", "esc\x1b[0m", "\x1f", "\ufffe\uffff",
           "_x0041_", "_x005F_", "a_xZZZZ_b", "", "ok", "&amp;", "]]>", "\x85nel", "nbsp\xa0"]


def _excel_text(written: str) -> str:
    """What Excel shows for a text written with `_xHHHH_` escapes (openpyxl does not decode)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), written)


def _awkward_tables(tmp_path: Path) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """A solved case's tables, repeated until every awkward text fits, with the SKU ids (and the
    exclusions' details) made awkward."""
    tables = run_solve(write_case(tmp_path / "case", ROWS), None).tables
    texts = pa.array(AWKWARD, pa.large_string())

    def awkward(table: pa.Table, name: str, shift: int) -> pa.Table:
        rows = (np.arange(table.num_rows) + shift) % len(AWKWARD)
        column = pa.DictionaryArray.from_arrays(pa.array(rows, pa.int64()), texts)
        return table.set_column(table.schema.get_field_index(name), name, column)

    plan = pa.concat_tables([tables.plan] * 2)
    excluded = pa.concat_tables([tables.excluded] * 3)
    assert min(plan.num_rows, excluded.num_rows) >= len(AWKWARD)
    plan = awkward(plan, "sku_id", 0)
    excluded = awkward(awkward(excluded, "sku_id", 5), "detail", 0)
    return plan, excluded, tables.summary


def _texts(table: pa.Table, name: str) -> list[str]:
    return [str(v) for v in table.column(name).to_pylist()]


def test_awkward_texts_come_back_as_the_same_texts(tmp_path: Path) -> None:
    plan, excluded, summary = _awkward_tables(tmp_path)
    path = tmp_path / "plan.xlsx"
    xlsx.write_xlsx(path, plan, excluded, summary)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
        assert zf.namelist()[0] == "[Content_Types].xml"
        assert {i.date_time for i in zf.infolist()} == {xlsx.ZIP_DATE}
    book = openpyxl.load_workbook(path)
    for sheet, table, columns in ((book["plan"], plan, ("sku_id",)),
                                  (book["excluded"], excluded, ("sku_id", "detail"))):
        head = [c.value for c in sheet[1]]
        for name in columns:
            cells = [row[head.index(name)] for row in sheet.iter_rows(min_row=2)]
            texts = _texts(table, name)
            assert len(cells) == len(texts) > 0
            for cell, text in zip(cells, texts, strict=True):
                assert cell.data_type == "s", (text, cell.value)  # never a formula or a number
                assert _excel_text(cell.value or "") == text, (text, cell.value)
    seen = {c.value for c in book["plan"]["A"]} | {c.value for c in book["excluded"]["E"]}
    assert {"=SUM(1)", "a & b", "<tag>", "😀 emoji 🚀", "\u3000全角空格", " lead"} <= seen
    assert "nul_x0000_" in seen and "_x005F_x0041_" in seen  # Excel's escapes, as XlsxWriter's


def test_the_sheet_xml_is_well_formed_and_escaped(tmp_path: Path) -> None:
    plan, excluded, summary = _awkward_tables(tmp_path)
    path = tmp_path / "plan.xlsx"
    xlsx.write_xlsx(path, plan, excluded, summary, lang="zh")
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            ElementTree.fromstring(zf.read(name))  # every part parses as XML
        sheet = zf.read("xl/worksheets/sheet2.xml").decode("utf-8")
    assert "<t>a &amp; b</t>" in sheet and "<t>&lt;tag&gt;</t>" in sheet
    assert '<t xml:space="preserve"> lead</t>' in sheet
    assert '<t xml:space="preserve">\u3000全角空格</t>' in sheet
    assert "<t>bell_x0007_</t>" in sheet and "<t>_x005F_x0041_</t>" in sheet
    assert "<t>_xFFFE__xFFFF_</t>" in sheet
    assert "<f>" not in sheet  # no formulas
    assert '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>' in sheet
    assert f'<autoFilter ref="A1:E{excluded.num_rows + 1}"/>' in sheet


def test_bulk_escaping_is_the_one_text_escaping() -> None:
    """Every character of the Basic Multilingual Plane alone, at either end and in the middle of
    a text: the string kernels give what the Python function gives."""
    chars = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF]
    texts = [*AWKWARD, *chars, *(f"a{c}" for c in chars), *(f"{c}b" for c in chars),
             *(f"a{c}b" for c in chars), "_x00e9_ " * 5, "😀" * 20_000, "a" * 40_000]
    bulk = xlsx.inline_texts(pa.array(texts, pa.large_string())).to_pylist()
    assert bulk == [xlsx.inline_text(t) for t in texts]
    long_emoji = bulk[-2].removeprefix("<t>").removesuffix("</t></is></c>")
    assert len(long_emoji) == 16_383 and long_emoji == "😀" * 16_383  # 32,766 UTF-16 units
    assert bulk[-1] == "<t>" + "a" * 32_767 + "</t></is></c>"


def test_numbers_that_are_not_finite_become_error_cells(tmp_path: Path) -> None:
    tables = run_solve(write_case(tmp_path / "case", ROWS), None).tables
    plan = tables.plan
    price = plan.column("price").to_numpy().copy()
    price[:3] = [np.nan, np.inf, -np.inf]
    field = plan.schema.field("price")
    plan = plan.set_column(plan.schema.get_field_index("price"), field,
                           pa.array(price, pa.float64()))
    path = tmp_path / "plan.xlsx"
    xlsx.write_xlsx(path, plan, tables.excluded, tables.summary)
    cells = [c for c in openpyxl.load_workbook(path)["plan"]["E"][1:]]
    assert [c.value for c in cells[:3]] == ["#NUM!", "#DIV/0!", "#DIV/0!"]
    assert all(c.data_type == "e" for c in cells[:3])
    assert [c.value for c in cells[3:]] == [float(f"{v:.2f}") for v in price[3:]]


def test_same_tables_same_bytes_in_bulk(tmp_path: Path) -> None:
    plan, excluded, summary = _awkward_tables(tmp_path)
    first, second = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    xlsx.write_xlsx(first, plan, excluded, summary)
    time.sleep(1.1)
    xlsx.write_xlsx(second, plan, excluded, summary)
    assert first.read_bytes() == second.read_bytes()
    # a table in other pieces (other chunks, plain texts not dictionaries): the same file
    plain = pa.Table.from_batches(excluded.to_batches(max_chunksize=3)).set_column(
        0, "sku_id", excluded.column("sku_id").cast(pa.large_string()))
    third = tmp_path / "c.xlsx"
    xlsx.write_xlsx(third, plan, plain, summary)
    assert third.read_bytes() == first.read_bytes()


def test_zip64_sheets_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sheets that might pass 2 GiB are zip64 members: still a file Excel and openpyxl open."""
    tables = run_solve(write_case(tmp_path / "case", ROWS), None).tables
    monkeypatch.setattr(xlsx, "_max_row_bytes", lambda *args: 1 << 40)
    path = tmp_path / "plan.xlsx"
    xlsx.write_xlsx(path, tables.plan, tables.excluded, tables.summary)
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["plan", "excluded", "summary"]
    assert book["excluded"].max_row == tables.excluded.num_rows + 1


def test_the_file_passes_zipfile_testzip_in_a_fresh_python(solved: Path) -> None:
    path = solved / "plan.xlsx"
    check = subprocess.run(
        [sys.executable, "-c", "import sys, zipfile; sys.exit(zipfile.ZipFile(sys.argv[1])"
         ".testzip() is not None)", str(path)], check=False)
    assert check.returncode == 0


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_reads_every_cell(solved: Path, tmp_path: Path) -> None:
    """LibreOffice converts the plan sheet to CSV: the same texts and numbers as plan.csv."""
    result = subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation=file://{tmp_path}/profile",
         "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false",
         "--outdir", str(tmp_path), str(solved / "plan.xlsx")],
        capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    rows = _csv(tmp_path / "plan.csv")
    body = _csv(solved / "plan.csv")[1:]
    assert len(rows) == len(body) + 1
    for got, want in zip(rows[1:], body, strict=True):
        assert got[:3] == want[:3]  # sku_id, offer_id, program (then program_name)
        numbers = [float(x) for x in got[4:7] + got[8:]]
        assert numbers == [float(x) for x in want[3:6] + want[7:]]
        rate = float(got[7].removesuffix("%")) / (100 if got[7].endswith("%") else 1)
        assert rate == pytest.approx(float(want[6]), abs=1e-12)  # shown as a percentage
