"""`current:` (SPEC 6.1): today's enrollments read and validated like every input.

Good files (English or Chinese headers, BOM, extra columns, Parquet) load to catalogue rows,
programs and fen; every bad row is exit 2 naming the file, the line and the field, and `solve`
writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from optimizer.cli import EXIT_INPUT, main
from optimizer.load.errors import InputError
from optimizer.prepare import load_inputs
from tests.helpers import sku, write_case

ROWS = [sku(), sku(offer_id="O1"), sku(sku_id="S3")]  # S1, S2 in offer O1; S3 offer O3


def _scenario(tmp_path: Path, current: str | bytes, name: str = "current.csv",
              **overrides: object) -> Path:
    path = write_case(tmp_path, ROWS, current=name, **overrides)
    target = tmp_path / name
    if isinstance(current, bytes):
        target.write_bytes(current)
    else:
        target.write_text(current, encoding="utf-8")
    return path


def _problems(scenario: Path) -> list[str]:
    with pytest.raises(InputError) as info:
        load_inputs(scenario)
    return [str(p) for p in info.value.problems]


def test_english_headers_extra_columns_any_order(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, "note,price,program,sku_id\nx,9.50,offsite,S3\n,10,yanxuan,S1\n")
    cur = load_inputs(sc).current
    assert cur.sku.tolist() == [2, 0]
    assert cur.program.tolist() == ["offsite", "yanxuan"]
    assert cur.price.tolist() == [950, 1000]
    assert cur.line.tolist() == [2, 3]
    assert cur.path == tmp_path / "current.csv"


def test_last_months_chinese_plan_csv_with_bom(tmp_path: Path) -> None:
    """The headers `solve --lang zh` writes, after a UTF-8 BOM, blank lines skipped."""
    text = ("SKU编号,商品ID,报名项目,报名价(元),预计件数\n\nS2,O1,huopin,8.80,12.000\n")
    sc = _scenario(tmp_path, b"\xef\xbb\xbf" + text.encode("utf-8"))
    cur = load_inputs(sc).current
    assert (cur.sku.tolist(), cur.program.tolist(), cur.price.tolist(), cur.line.tolist()) == \
        ([1], ["huopin"], [880], [3])


def test_parquet(tmp_path: Path) -> None:
    sc = write_case(tmp_path, ROWS, current="current.parquet")
    pq.write_table(pa.table({"sku_id": ["S1", "S3"], "program": ["offsite", "crossborder"],
                             "price": [9.5, 11.0]}), tmp_path / "current.parquet")
    cur = load_inputs(sc).current
    assert cur.price.tolist() == [950, 1100]
    assert cur.line.tolist() == [1, 2]


def test_header_only_is_nothing_enrolled_and_absent_is_empty(tmp_path: Path) -> None:
    assert load_inputs(_scenario(tmp_path / "a", "sku_id,program,price\n")).current.size == 0
    plain = write_case(tmp_path / "b", ROWS)
    cur = load_inputs(plain).current
    assert cur.size == 0 and cur.path is None


@pytest.mark.parametrize(("body", "where", "field", "words"), [
    ("S9,offsite,9.50", "line 2", "sku_id", "'S9' is not in the catalogue"),
    (",offsite,9.50", "line 2", "sku_id", "is missing"),
    ("S1,tmall,9.50", "line 2", "program", "'tmall' is not one of the scenario's programs"),
    ("S1,huopin,9.50", "line 2", "program", "'huopin' is not one of"),  # disabled below
    ("S1,offsite,", "line 2", "price", "is missing"),
    ("S1,offsite,nine", "line 2", "price", "'nine' is not a number"),
    ("S1,offsite,0", "line 2", "price", "must be > 0"),
    ("S1,offsite,-9.50", "line 2", "price", "must be > 0"),
    ("S1,offsite,9.505", "line 2", "price", "more than 2 decimals"),
    ("S1,offsite,10000000000000", "line 2", "price", "beyond 1,000,000,000,000 yuan"),
    ("S1,offsite,9.52", "line 2", "price", "not a multiple of the scenario's price_step 0.05"),
    ("S1,offsite,9.50\nS1,offsite,9.60", "line 3", "sku_id", "repeats line 2"),
])
def test_bad_rows_name_file_line_and_field(tmp_path: Path, body: str, where: str, field: str,
                                           words: str) -> None:
    sc = _scenario(tmp_path, f"sku_id,program,price\n{body}\n", price_step=0.05,
                   programs={p: {} for p in ("offsite", "yanxuan", "crossborder",
                                             "aliexpress_semi")})
    problems = _problems(sc)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{tmp_path / 'current.csv'}, {where}, field {field}: ")
    assert words in problems[0]


def test_every_bad_row_is_reported(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, "sku_id,program,price\nS9,offsite,1\nS1,offsite,x\nS2,offsite,2\n")
    problems = _problems(sc)
    assert [p.split(": ")[0].split(", ")[1:] for p in problems] == [
        ["line 2", "field sku_id"], ["line 3", "field price"]]


@pytest.mark.parametrize(("text", "field"), [
    ("sku_id,program\nS1,offsite\n", "price"),
    ("sku,program,price\nS1,offsite,9\n", "sku_id"),
    ("sku_id,program,price,报名价(元)\nS1,offsite,9,9\n", "price"),  # twice
])
def test_bad_header(tmp_path: Path, text: str, field: str) -> None:
    problems = _problems(_scenario(tmp_path, text))
    assert problems == [p for p in problems if f"line 1, field {field}: " in p] and problems


def test_not_utf8_empty_and_wrong_suffix(tmp_path: Path) -> None:
    gbk = "sku_id,program,price\nS1,offsite,9\n# 快递袋\n".encode("gbk")
    assert "line 3" in _problems(_scenario(tmp_path / "a", gbk))[0]
    assert "not UTF-8" in _problems(_scenario(tmp_path / "a", gbk))[0]
    assert "empty file" in _problems(_scenario(tmp_path / "b", "\n\n"))[0]
    with pytest.raises(InputError, match=r"current must be a \.csv or \.parquet"):
        load_inputs(_scenario(tmp_path / "c", "x", name="current.txt"))


def test_missing_file_folder_and_device_are_refused_without_reading(tmp_path: Path) -> None:
    sc = write_case(tmp_path, ROWS, current="nowhere.csv")
    assert "current file not found" in _problems(sc)[0]
    (tmp_path / "dir.csv").mkdir()
    sc = write_case(tmp_path, ROWS, current="dir.csv")
    assert "is a folder" in _problems(sc)[0]
    if os.path.exists("/dev/zero"):
        (tmp_path / "zero.csv").symlink_to("/dev/zero")
        sc = write_case(tmp_path, ROWS, current="zero.csv")
        assert "a character device" in _problems(sc)[0]


def test_too_many_columns(tmp_path: Path) -> None:
    head = ",".join(["sku_id", "program", "price", *(f"c{i}" for i in range(1000))])
    problems = _problems(_scenario(tmp_path, head + "\n"))
    assert "1,003 columns" in problems[0] and "line 1" in problems[0]


def test_solve_exit_2_names_the_row_and_writes_nothing(tmp_path: Path) -> None:
    sc = _scenario(tmp_path, "sku_id,program,price\nS1,offsite,9.50\nS1,offsite,9.60\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["solve", str(sc), "-o", str(out), "-q"])
    assert res.exit_code == EXIT_INPUT, res.output
    assert "current.csv, line 3, field sku_id: S1 in offsite repeats line 2" in res.output
    assert "Traceback" not in res.output
    assert not out.exists()


def test_schema_describes_current() -> None:
    from optimizer.load.types import Scenario

    prop = Scenario.model_json_schema()["properties"]["current"]
    assert "price_step" in prop["description"] and "plan.csv" in prop["description"]
