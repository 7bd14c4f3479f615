"""Property: any yuan amount with at most 2 decimals becomes exactly its fen; 3 are refused.

Checked both on the column parser directly (many cases, fast) and through a whole CSV file.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optimizer.load import InputError, load_catalogue
from optimizer.load.catalogue_parse import parse_money

from .conftest import HEADER

whole = st.integers(min_value=0, max_value=10**12 - 1)


@st.composite
def yuan_text(draw: st.DrawFn) -> str:
    """12, 12.3, 12.30, 0.07, 007.5, 12.300 ... every way to write an exact fen amount."""
    number = draw(whole)
    lead = "0" * draw(st.integers(0, 2)) if number < 10**9 else ""
    decimals = draw(st.integers(0, 2))
    text = lead + str(number)
    if decimals:
        frac = draw(st.integers(0, 10**decimals - 1))
        text += "." + str(frac).zfill(decimals) + "0" * draw(st.integers(0, 3))
    return text


@st.composite
def three_decimals(draw: st.DrawFn) -> str:
    """A third significant decimal: 12.345, 0.001, 19.990001 ..."""
    number = draw(whole)
    frac = draw(st.integers(0, 99))
    extra = draw(st.integers(1, 9))
    zeros = "0" * draw(st.integers(0, 3))
    return f"{number}.{frac:02d}{zeros}{extra}"


def fen_of(text: str) -> int:
    value = Decimal(text) * 100
    assert value == value.to_integral_value()
    return int(value)


@given(st.lists(yuan_text(), min_size=1, max_size=50))
@settings(max_examples=300, deadline=None)
def test_yuan_text_round_trips_exactly(texts: list[str]) -> None:
    parsed = parse_money(pa.array(texts))
    assert not parsed.unreadable.any() and not parsed.empty.any()
    assert [int(v) for v in parsed.values] == [fen_of(t) for t in texts]


@given(st.lists(three_decimals(), min_size=1, max_size=50))
@settings(max_examples=200, deadline=None)
def test_a_third_decimal_is_refused(texts: list[str]) -> None:
    assert parse_money(pa.array(texts)).unreadable.all()


@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 99)), min_size=1, max_size=20))
@settings(max_examples=100, deadline=None)
def test_parquet_float_yuan_round_trip(pairs: list[tuple[int, int]]) -> None:
    """A float64 written from an exact yuan amount (its shortest repr) comes back as that fen."""
    floats = [float(f"{w}.{f:02d}") for w, f in pairs]
    parsed = parse_money(pa.array(floats, pa.float64()))
    assert not parsed.unreadable.any()
    assert [int(v) for v in parsed.values] == [w * 100 + f for w, f in pairs]


@given(st.lists(yuan_text().filter(lambda t: fen_of(t) > 0), min_size=1, max_size=30))
@settings(max_examples=40, deadline=None)
def test_through_a_csv_file(texts: list[str]) -> None:
    rows = [f"S{i},O,consumer,{t},{t},{t},1,1" for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "c.csv"
        path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
        cat = load_catalogue(path)
    expected = [fen_of(t) for t in texts]
    assert list(cat.market_price) == expected
    assert list(cat.min_price_30d) == expected
    assert list(cat.unit_cost) == expected


def test_a_third_decimal_in_a_file_names_line_and_value(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "\nS1,O,consumer,19.99,19.99,1,1,1\nS2,O,consumer,19.995,1,1,1,1\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as exc:
        load_catalogue(path)
    assert str(exc.value).endswith("c.csv, line 3, field market_price: '19.995' is not an amount "
                                   "in yuan with at most 2 decimals (like 12, 12.5 or 12.50)")


@pytest.mark.parametrize(("text", "fen"), [("0.07", 7), ("19.99", 1999),
                                           ("1234567.89", 123456789), ("0.29", 29),
                                           ("4.35", 435), ("1.15", 115), ("999999999999.99",
                                                                          99999999999999)])
def test_classic_float_traps_are_exact(text: str, fen: int) -> None:
    """0.29*100 = 28.999999999999996 and 4.35*100 = 434.99999999999994 in floats."""
    assert int(parse_money(pa.array([text])).values[0]) == fen
    assert int(parse_money(pa.array([float(text)])).values[0]) == fen
