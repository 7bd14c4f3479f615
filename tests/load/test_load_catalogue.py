"""load_catalogue: exact fen, defaults, every problem with its line/row, CSV and Parquet alike."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from optimizer.load import Catalogue, InputError, load_catalogue
from optimizer.load.catalogue import MAX_PROBLEMS, PER_CHECK
from optimizer.load.types import OPTIONAL_DEFAULTS, REQUIRED_COLUMNS

from .conftest import HEADER, ROWS, csv_text

Writer = Callable[..., Path]


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[str, str, str]]:
    return [(p.where, p.field, p.message) for p in exc.value.problems]


def one_row(write: Writer, **cells: str) -> Path:
    """A one-SKU catalogue whose cells are the valid S1 row overridden by `cells`."""
    values = dict(zip(HEADER.split(","), ROWS[0].split(","), strict=True))
    values.update(cells)
    return write("c.csv", ",".join(values) + "\n" + ",".join(values.values()) + "\n")


def test_minimal_catalogue(write: Writer) -> None:
    cat = load_catalogue(write("c.csv", csv_text()))
    assert cat.n == 3
    assert list(cat.sku_id) == ["S1", "S2", "S3"]
    assert list(cat.offer_id) == ["O1", "O1", "O2"]
    assert list(cat.category) == ["consumer", "industrial", "other"]
    assert cat.market_price.dtype == np.int64
    assert list(cat.market_price) == [1999, 7, 123456789]
    assert list(cat.min_price_30d) == [1850, 7, 123456700]
    assert list(cat.unit_cost) == [700, 0, 10000]
    assert list(cat.stock) == [300, 0, 12]
    assert list(cat.daily_units) == [2.5, 0.0, 1.0]
    assert list(cat.line) == [2, 3, 4]
    assert cat.where(1) == "line 3"


def test_absent_optional_columns_take_defaults(write: Writer) -> None:
    cat = load_catalogue(write("c.csv", csv_text()))
    for name, default in OPTIONAL_DEFAULTS.items():
        column = cat.column(name)
        if default is None:  # no default (web_min_price): the column is absent, caps skip it
            assert name in cat.absent
        elif name == "elasticity":
            assert np.isnan(column).all()
        elif name == "shipping_cost":
            assert (column == default * 100).all()
        else:
            assert (column == default).all(), name


def test_empty_optional_cells_take_defaults(write: Writer) -> None:
    header = HEADER + ",shipping_cost,dropship,alipay_guarantee,ship_hours,moq,elasticity"
    rows = [ROWS[0] + ",,,,,,", ROWS[1] + ",3.5,yes,no,24,2,1.8"]
    cat = load_catalogue(write("c.csv", csv_text(header, rows)))
    assert list(cat.shipping_cost) == [0, 350]
    assert list(cat.dropship) == [False, True]
    assert list(cat.alipay_guarantee) == [True, False]
    assert list(cat.ship_hours) == [72, 24]
    assert list(cat.moq) == [1, 2]
    assert np.isnan(cat.elasticity[0]) and cat.elasticity[1] == 1.8


@pytest.mark.parametrize(("text", "fen"), [
    ("0.07", 7), ("19.99", 1999), ("1234567.89", 123456789), ("12", 1200), ("12.3", 1230),
    ("12.30", 1230), ("12.300", 1230), (" 12.5 ", 1250), ("0.01", 1), ("007.50", 750),
    ("999999999999.99", 99999999999999), ("0.29", 29), ("2.675", None), ("12.345", None),
    ("1e3", None), ("12.", None), (".5", None), ("1,000", None), ("¥12", None), ("12元", None),
    ("+12", None), ("0x10", None), ("nan", None), ("inf", None),
])
def test_money_is_exact_fen(write: Writer, text: str, fen: int | None) -> None:
    path = one_row(write, market_price=f'"{text}"')
    if fen is None:
        with pytest.raises(InputError) as exc:
            load_catalogue(path)
        assert problems(exc) == [("line 2", "market_price", f"{text!r} is not an amount in "
                                  "yuan with at most 2 decimals (like 12, 12.5 or 12.50)")]
    else:
        assert load_catalogue(path).market_price[0] == fen


@pytest.mark.parametrize(("column", "text", "message"), [
    ("market_price", "0", "'0': market_price must be > 0"),
    ("min_price_30d", "0.00", "'0.00': min_price_30d must be > 0"),
    ("unit_cost", "-1", "'-1': unit_cost must be >= 0"),
    ("market_price", "", "empty; market_price is required"),
    ("stock", "12.5", "'12.5' is not a whole number (like 0, 7 or 200)"),
    ("stock", "-3", "'-3': stock must be >= 0"),
    ("stock", "lots", "'lots' is not a whole number (like 0, 7 or 200)"),
    ("daily_units", "-0.5", "'-0.5': daily_units must be >= 0"),
    ("daily_units", "nan", "'nan' is not a number"),
    ("daily_units", "1e999", "'1e999' is not a number"),
    ("category", "Food", "'Food' is not one of consumer, industrial, other"),
    ("sku_id", " ", "empty; sku_id is required"),
    ("offer_id", "", "empty; offer_id is required"),
])
def test_required_column_problems(write: Writer, column: str, text: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(one_row(write, **{column: text}))
    assert problems(exc) == [("line 2", column, message)]


@pytest.mark.parametrize(("column", "text", "message"), [
    ("growth_score", "100.5", "'100.5': growth_score must be 0 to 100"),
    ("pickup_rate_48h", "1.5", "'1.5': pickup_rate_48h must be 0 to 1"),
    ("elasticity", "0", "'0': elasticity must be > 0"),
    ("elasticity", "-2", "'-2': elasticity must be > 0"),
    ("moq", "0", "'0': moq must be >= 1"),
    ("ship_hours", "24h", "'24h' is not a whole number (like 0, 7 or 200)"),
    ("shipping_cost", "3.005", "'3.005' is not an amount in yuan with at most 2 decimals "
                               "(like 12, 12.5 or 12.50)"),
    ("dropship", "y", "'y' is not a boolean (true/false, 1/0, yes/no)"),
    ("return_7day", "2", "'2' is not a boolean (true/false, 1/0, yes/no)"),
])
def test_optional_column_problems(write: Writer, column: str, text: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(one_row(write, **{column: text}))
    assert problems(exc) == [("line 2", column, message)]


def test_offer_level_fields_agreeing_load(write: Writer) -> None:
    """SPEC 2.2: rows of one offer carrying the same offer-level values are fine, whatever the
    row order (offers interleaved), and different offers may differ."""
    header = HEADER + ",growth_score,pickup_rate_48h,listed_days,sales_last_month"
    rows = [ROWS[0] + ",60,0.9,30,10", ROWS[2] + ",59,0.5,1,0", ROWS[1] + ",60,0.9,30,10"]
    cat = load_catalogue(write("c.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert list(cat.offer_id) == ["O1", "O2", "O1"]
    assert list(cat.growth_score) == [60, 59, 60]


def test_offer_level_disagreement_names_offer_field_and_lines(write: Writer) -> None:
    """Offers interleaved: O1 on lines 2 and 4 disagree on listed_days; O2 alone is fine; every
    disagreeing field is reported, each naming the rows of the offer."""
    header = HEADER + ",listed_days,sales_last_month"
    rows = [ROWS[0] + ",30,5", ROWS[2] + ",7,7", ROWS[1] + ",31,6"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", header + "\n" + "\n".join(rows) + "\n"))
    assert [(w, f) for w, f, _ in problems(exc)] == [("lines 2, 4", "listed_days"),
                                                    ("lines 2, 4", "sales_last_month")]
    message = problems(exc)[0][2]
    assert "offer O1" in message and "'30' on line 2" in message and "'31' on line 4" in message


def test_offer_level_disagreement_is_capped(write: Writer) -> None:
    """Many bad offers: PER_CHECK named, the rest counted; an offer's rows listed up to 10."""
    header = HEADER + ",growth_score"
    base = ROWS[0].split(",")
    rows = [",".join([f"S{i}", f"O{i // 12}", *base[2:], str(i % 2)]) for i in range(12 * 30)]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", header + "\n" + "\n".join(rows) + "\n"))
    found = problems(exc)
    assert len(found) == PER_CHECK + 1
    assert found[0][0] == "lines 2, 3, 4, 5, 6, 7, 8, 9, 10, 11..."
    assert "and 2 more" in found[0][2]
    assert found[-1][2].startswith("... and 10 more offers")


def test_retired_shop_score_columns_are_not_read(write: Writer) -> None:
    """SPEC 2.2: per-SKU experience_score/dispute_score are ignored (a warning, tested in
    test_rules), so even values out of their old 0..5 range are no error."""
    cat = load_catalogue(one_row(write, experience_score="5.01", dispute_score="-1"))
    assert cat.n == 1
    with pytest.raises(KeyError):
        cat.column("experience_score")


@pytest.mark.parametrize(("text", "value"), [
    ("true", True), ("TRUE", True), ("True", True), ("1", True), ("yes", True), ("YES", True),
    ("false", False), ("False", False), ("0", False), ("no", False), ("No", False),
    (" yes ", True),
])
def test_booleans(write: Writer, text: str, value: bool) -> None:
    assert load_catalogue(one_row(write, dropship=text)).dropship[0] is np.bool_(value)


def test_integral_decimals_accepted_for_ints(write: Writer) -> None:
    assert load_catalogue(one_row(write, stock="200.0")).stock[0] == 200


def test_category_case_insensitive(write: Writer) -> None:
    assert load_catalogue(one_row(write, category="Industrial")).category[0] == "industrial"


def test_every_problem_collected_in_line_order(write: Writer) -> None:
    rows = [
        "S1,O1,consumer,19.999,0.07,-1,2x,1.5",
        "S1,,misc,0,1e3,,200,nan",
        "S3,O1,consumer,1,1,1,1,1",
    ]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=rows)))
    got = [(w, f) for w, f, _ in problems(exc)]
    assert got == [
        ("line 2", "market_price"), ("line 2", "unit_cost"), ("line 2", "stock"),
        ("line 3", "sku_id"), ("line 3", "offer_id"), ("line 3", "category"),
        ("line 3", "market_price"), ("line 3", "min_price_30d"), ("line 3", "unit_cost"),
        ("line 3", "daily_units"),
    ]
    text = str(exc.value)
    assert "c.csv, line 2, field market_price: '19.999' is not an amount" in text
    assert "c.csv, line 3, field sku_id: duplicate sku_id 'S1' (first on line 2)" in text


def test_duplicate_sku_id_names_both_lines(write: Writer) -> None:
    rows = [*ROWS, "S2,O9,other,1,1,1,1,1", "S2,O9,other,1,1,1,1,1"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=rows)))
    assert problems(exc) == [
        ("line 5", "sku_id", "duplicate sku_id 'S2' (first on line 3)"),
        ("line 6", "sku_id", "duplicate sku_id 'S2' (first on line 3)"),
    ]


def test_missing_required_columns_one_problem_each(write: Writer) -> None:
    header = "sku_id,category,Market_Price,unit_cost,stock"
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", header + "\nS1,consumer,1,1,1\n"))
    assert problems(exc) == [
        ("line 1", "offer_id", "required column 'offer_id' missing"),
        ("line 1", "market_price", "required column 'market_price' missing (found "
                                   "'Market_Price'; column names are lower case)"),
        ("line 1", "min_price_30d", "required column 'min_price_30d' missing"),
        ("line 1", "daily_units", "required column 'daily_units' missing"),
    ]


def test_semicolon_file_gets_a_hint(write: Writer) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", HEADER.replace(",", ";") + "\n" + ROWS[0] + "\n"))
    assert len(exc.value.problems) == len(REQUIRED_COLUMNS)
    assert all("comma-separated" in m for _, _, m in problems(exc))


def test_duplicate_column_names(write: Writer) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(HEADER + ",stock", [r + ",1" for r in ROWS])))
    assert problems(exc) == [("line 1", "stock", "duplicate column name 'stock'")]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf", b"  \r\n"])
def test_empty_file(write: Writer, content: bytes) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", content))
    assert "empty file" in problems(exc)[0][2]


def test_header_only_is_no_skus(write: Writer) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", HEADER + "\n\n"))
    assert problems(exc) == [("", "", "no SKUs: the file has a header but no data lines")]


def test_ragged_rows_name_their_lines_and_the_rest_is_still_checked(write: Writer) -> None:
    rows = [ROWS[0], "S2,O1,consumer,1,1,1,1", ROWS[2] + ",extra", "S4,O4,consumer,0,1,1,1,1"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=rows)))
    got = problems(exc)
    assert [(w, f) for w, f, _ in got] == [("line 3", ""), ("line 4", ""),
                                           ("line 5", "market_price")]
    assert got[0][2].startswith("has 7 field(s), the header has 8")
    assert got[1][2].startswith("has 9 field(s), the header has 8")


def test_ragged_rows_beside_values_with_line_breaks(write: Writer) -> None:
    header = HEADER + ",title"
    rows = [ROWS[0] + ',"two\nlines"', ROWS[1] + ",x,extra", "S3,O2,other,0,1,1,1,1,x"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(header, rows)))
    assert [(w, f) for w, f, _ in problems(exc)] == [("line 4", ""), ("line 5", "market_price")]


@pytest.mark.parametrize("first", [ROWS[0], ROWS[0].replace("S1", '"S1"')])  # quoted or not
def test_whitespace_only_lines_are_skipped(write: Writer, first: str) -> None:
    rows = [first, "   ", ROWS[1] + ",,extra", "\t", "S3,O2,other,0,1,1,1,1"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=rows)))
    assert [(w, f) for w, f, _ in problems(exc)] == [("line 4", ""), ("line 6", "market_price")]


def test_every_row_ragged(write: Writer) -> None:
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=[r + ",x" for r in ROWS])))
    assert [w for w, _, _ in problems(exc)] == ["line 2", "line 3", "line 4"]


def test_bom_crlf_and_blank_lines_keep_line_numbers(write: Writer) -> None:
    text = "\r\n".join([HEADER, ROWS[0], "", ROWS[1], "", "", "S3,O2,other,0,1,1,1,1"]) + "\r\n"
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", b"\xef\xbb\xbf" + text.encode()))
    assert problems(exc) == [("line 7", "market_price", "'0': market_price must be > 0")]
    good = "\r\n".join([HEADER, ROWS[0], "", ROWS[1]]) + "\r\n"
    cat = load_catalogue(write("d.csv", b"\xef\xbb\xbf" + good.encode()))
    assert list(cat.line) == [2, 4]
    assert list(cat.sku_id) == ["S1", "S2"]


def test_bom_gives_same_catalogue(write: Writer) -> None:
    plain = load_catalogue(write("a.csv", csv_text()))
    bom = load_catalogue(write("b.csv", b"\xef\xbb\xbf" + csv_text().encode()))
    assert_same(plain, bom)


def test_quoted_values_with_commas_and_line_breaks(write: Writer) -> None:
    header = HEADER + ",title"
    rows = [ROWS[0] + ',"bag, 100 pcs"', ROWS[1] + ',"two\nlines"', "S3,O2,other,0,1,1,1,1,x"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(header, rows)))
    assert problems(exc) == [("line 5", "market_price", "'0': market_price must be > 0")]


def test_unknown_columns_warned(write: Writer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="optimizer.load"):
        load_catalogue(write("c.csv", csv_text(HEADER + ",title,colour",
                                               [r + ",a,b" for r in ROWS])))
    assert any("'title', 'colour'" in r.getMessage() for r in caplog.records)


def test_min_price_above_market_warned(write: Writer, caplog: pytest.LogCaptureFixture) -> None:
    rows = [*ROWS, "S4,O4,consumer,10,12,1,1,1"]
    with caplog.at_level(logging.WARNING, logger="optimizer.load"):
        cat = load_catalogue(write("c.csv", csv_text(rows=rows)))
    assert cat.min_price_30d[3] == 1200
    messages = [r.getMessage() for r in caplog.records]
    assert any("1 SKU(s) have min_price_30d above market_price" in m and "S4 (line 5)" in m
               for m in messages)


def test_not_utf8_names_the_line(write: Writer) -> None:
    rows = [ROWS[0], "S2,O1,consumer,1,1,1,1,1", "S3,塑料袋,consumer,1,1,1,1,1"]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=rows).encode("gbk")))
    where, _, message = problems(exc)[0]
    assert where == "line 4" and "not UTF-8" in message


def test_not_utf8_after_a_character_split_across_read_pieces(write: Writer) -> None:
    """The UTF-8 check reads 1 MB pieces; a bad byte right after a split character is still
    placed on its own line."""
    head = (csv_text() + "#" * (2**20 - len(csv_text()) - 2) + "\n").encode()  # 1 MB - 1 byte
    data = head + "规".encode() + b"\xff,x\n"
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", data))
    where, _, message = problems(exc)[0]
    assert where == "line 6" and "byte 0xff" in message


def test_chinese_text_is_fine(write: Writer) -> None:
    cat = load_catalogue(write("c.csv", csv_text(rows=["快递袋-1,气泡袋,consumer,1,1,1,1,1"])))
    assert cat.sku_id[0] == "快递袋-1" and cat.offer_id[0] == "气泡袋"


def test_problems_are_capped_and_counted(write: Writer) -> None:
    rows = [f"S{i},O1,consumer,0,x,1,1,1" for i in range(1000)]
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(rows=rows)))
    got = problems(exc)
    assert len(got) <= MAX_PROBLEMS + 1
    named = [p for p in got if p[0]]
    assert len(named) == 2 * PER_CHECK
    tails = [p for p in got if not p[0]]
    assert {f for _, f, _ in tails} == {"market_price", "min_price_30d"}
    assert all("(1000 in all)" in m for _, _, m in tails)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="catalogue file not found"):
        load_catalogue(tmp_path / "none.csv")
    with pytest.raises(InputError, match="catalogue file not found"):
        load_catalogue(tmp_path / "none.parquet")
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        load_catalogue(tmp_path / "c.xlsx")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        load_catalogue(tmp_path / "dir.csv")


def test_large_file_spanning_many_parser_blocks(write: Writer) -> None:
    n = 60_000
    rows = [f"S{i},O{i // 3},consumer,{i // 100}.{i % 100:02d},1,0,{i},0.5" for i in range(1, n)]
    rows.insert(30_000, "")  # a blank line in the middle shifts every later line by one
    cat = load_catalogue(write("c.csv", csv_text(rows=rows)))
    assert cat.n == n - 1
    assert cat.market_price[12344] == 12345  # S12345 -> 123.45 yuan
    assert cat.line[0] == 2 and cat.line[-1] == n + 1
    assert cat.line[29_999] == 30_001 and cat.line[30_000] == 30_003


def test_repeated_values_parsed_once_still_report_their_own_rows(write: Writer) -> None:
    """Columns are parsed per distinct value on big files; problems must keep their rows."""
    rows = [f"S{i},O{i},consumer,9.90,9.90,1,5,1,{'50' if i % 7 else '75.5'}"
            for i in range(20_000)]
    cat = load_catalogue(write("good.csv", csv_text(HEADER + ",growth_score", rows)))
    assert list(cat.growth_score[:8]) == [75.5, 50, 50, 50, 50, 50, 50, 75.5]
    assert (cat.market_price == 990).all()
    rows[12_345] = rows[12_345].rsplit(",", 1)[0] + ",abc"
    rows[17_000] = rows[17_000].rsplit(",", 1)[0] + ",101"
    rows[5] = rows[5].replace(",9.90,9.90,", ",9.90,,")
    with pytest.raises(InputError) as exc:
        load_catalogue(write("c.csv", csv_text(HEADER + ",growth_score", rows)))
    assert problems(exc) == [
        ("line 7", "min_price_30d", "empty; min_price_30d is required"),
        ("line 12347", "growth_score", "'abc' is not a number"),
        ("line 17002", "growth_score", "'101': growth_score must be 0 to 100"),
    ]


def test_parquet_nulls_in_repeated_text_columns(tmp_path: Path) -> None:
    n = 20_000
    prices: list[str | None] = ["9.90"] * n
    prices[777] = None
    table = pa.table({
        "sku_id": [f"S{i}" for i in range(n)], "offer_id": ["O"] * n, "category": ["other"] * n,
        "market_price": prices, "min_price_30d": ["9.90"] * n, "unit_cost": ["1"] * n,
        "stock": ["5"] * n, "daily_units": ["1"] * n, "moq": [None] * (n - 1) + ["3"],
    })
    pq.write_table(table, tmp_path / "c.parquet")
    with pytest.raises(InputError) as exc:
        load_catalogue(tmp_path / "c.parquet")
    assert problems(exc) == [("row 778", "market_price", "empty; market_price is required")]
    table = table.set_column(3, "market_price", pa.array(["9.90"] * n))
    pq.write_table(table, tmp_path / "c.parquet")
    cat = load_catalogue(tmp_path / "c.parquet")
    assert cat.moq[0] == 1 and cat.moq[-1] == 3


# ---------------------------------------------------------------- Parquet


def assert_same(a: Catalogue, b: Catalogue, *, lines: bool = True) -> None:
    for name in (*REQUIRED_COLUMNS, *OPTIONAL_DEFAULTS):
        x, y = a.column(name), b.column(name)
        assert x.dtype == y.dtype, name
        if x.dtype.kind == "f":
            np.testing.assert_array_equal(x, y, err_msg=name)
        else:
            assert list(x) == list(y), name
    if lines:
        assert list(a.line) == list(b.line)


FULL_HEADER = HEADER + ",shipping_cost,dropship,return_7day,ship_hours,growth_score,elasticity"
FULL_ROWS = [
    ROWS[0] + ",3.20,yes,true,24,75,",
    ROWS[1].replace(",O1,", ",O3,") + ",0,no,false,48,60.5,1.8",  # its own offer: growth
    ROWS[2] + ",,1,0,,100,2.5",                                     # differs from S1's
]


def test_parquet_as_text_equals_csv(write: Writer, tmp_path: Path) -> None:
    csv = load_catalogue(write("c.csv", csv_text(FULL_HEADER, FULL_ROWS)))
    table = pa.table({name: [r.split(",")[i] for r in FULL_ROWS]
                      for i, name in enumerate(FULL_HEADER.split(","))})
    pq.write_table(table, tmp_path / "c.parquet")
    par = load_catalogue(tmp_path / "c.parquet")
    assert_same(csv, par, lines=False)
    assert list(par.line) == [1, 2, 3]
    assert par.where(0) == "row 1"


def test_parquet_native_types_equal_csv(write: Writer, tmp_path: Path) -> None:
    csv = load_catalogue(write("c.csv", csv_text(FULL_HEADER, FULL_ROWS)))
    table = pa.table({
        "sku_id": ["S1", "S2", "S3"],
        "offer_id": pa.array(["O1", "O3", "O2"]).dictionary_encode(),
        "category": ["consumer", "industrial", "other"],
        "market_price": pa.array([19.99, 0.07, 1234567.89], pa.float64()),
        "min_price_30d": pa.array([Decimal("18.50"), Decimal("0.07"), Decimal("1234567.00")],
                                  pa.decimal128(12, 2)),
        "unit_cost": pa.array([7, 0, 100], pa.int32()),
        "stock": pa.array([300, 0, 12], pa.int64()),
        "daily_units": pa.array([2.5, 0, 1], pa.float32()),
        "shipping_cost": pa.array([3.2, 0.0, None], pa.float64()),
        "dropship": pa.array([True, False, True]),
        "return_7day": pa.array([1, 0, 0], pa.int8()),
        "ship_hours": pa.array([24.0, 48.0, None]),
        "growth_score": pa.array([75, 60.5, 100]),
        "elasticity": pa.array([None, 1.8, 2.5]),
    })
    pq.write_table(table, tmp_path / "c.parquet")
    assert_same(csv, load_catalogue(tmp_path / "c.parquet"), lines=False)


@pytest.mark.parametrize(("column", "array", "message"), [
    ("market_price", pa.array([19.99, 12.345, 1.0]),
     "12.345 is not an amount in yuan with at most 2 decimals (like 12, 12.5 or 12.50)"),
    ("market_price", pa.array([1.0, float("nan"), 1.0]),
     "nan is not an amount in yuan with at most 2 decimals (like 12, 12.5 or 12.50)"),
    ("market_price", pa.array([Decimal("1.000"), Decimal("1.005"), Decimal("2")],
                              pa.decimal128(10, 3)),
     "1.005 is not an amount in yuan with at most 2 decimals (like 12, 12.5 or 12.50)"),
    ("stock", pa.array([1.0, 2.5, 3.0]), "2.5 is not a whole number (like 0, 7 or 200)"),
    ("unit_cost", pa.array([1, -4, 1]), "-4: unit_cost must be >= 0"),
    ("daily_units", pa.array([1.0, None, 1.0]), "empty; daily_units is required"),
])
def test_parquet_problems_name_the_row(tmp_path: Path, column: str, array: pa.Array,
                                       message: str) -> None:
    data = {name: [r.split(",")[i] for r in ROWS] for i, name in enumerate(HEADER.split(","))}
    table = pa.table(data).set_column(HEADER.split(",").index(column), column, array)
    pq.write_table(table, tmp_path / "c.parquet")
    with pytest.raises(InputError) as exc:
        load_catalogue(tmp_path / "c.parquet")
    assert problems(exc) == [("row 2", column, message)]


def test_parquet_float_money_within_rounding_noise_is_accepted(tmp_path: Path) -> None:
    data = {name: [r.split(",")[i] for r in ROWS] for i, name in enumerate(HEADER.split(","))}
    prices = pa.array([0.1 + 0.2, 19.99 * 3, 1234567.89])  # 0.30000000000000004, 59.97
    table = pa.table(data).set_column(3, "market_price", prices)
    pq.write_table(table, tmp_path / "c.parquet")
    assert list(load_catalogue(tmp_path / "c.parquet").market_price) == [30, 5997, 123456789]


def test_parquet_wrong_column_type_is_one_problem(tmp_path: Path) -> None:
    data = {name: [r.split(",")[i] for r in ROWS] for i, name in enumerate(HEADER.split(","))}
    table = pa.table(data).set_column(6, "stock", pa.array([[1], [2], [3]]))
    pq.write_table(table, tmp_path / "c.parquet")
    with pytest.raises(InputError) as exc:
        load_catalogue(tmp_path / "c.parquet")
    [(where, field, message)] = problems(exc)
    assert (where, field) == ("", "stock")
    assert message.startswith("column type list<") and message.endswith("cannot hold this field")


def test_parquet_empty_and_not_parquet(tmp_path: Path, write: Writer) -> None:
    data = {name: pa.array([], pa.string()) for name in HEADER.split(",")}
    pq.write_table(pa.table(data), tmp_path / "c.parquet")
    with pytest.raises(InputError, match="no SKUs"):
        load_catalogue(tmp_path / "c.parquet")
    with pytest.raises(InputError, match="cannot read as Parquet"):
        load_catalogue(write("x.parquet", csv_text()))
