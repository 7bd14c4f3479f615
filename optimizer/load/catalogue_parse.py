"""Parse whole catalogue columns: text (or Parquet's native types) to exact numbers and flags.

Speed matters (a million SKUs in seconds), so the good path is columnar: regexes validate whole
columns at once, and yuan become fen by splitting the digits, never through a float; a column of
repeated values is parsed once per distinct value. A column parses to values plus which cells are
empty or unreadable (Parsed); the ranges and the messages are optimizer/load/catalogue.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.load.catalogue_read import I64

Mask = npt.NDArray[np.bool_]

MAX_YUAN_DIGITS = 12  # 10^12 yuan = 10^14 fen: far from int64's limit, far above any price
MAX_INT_DIGITS = 15
DISTINCT_MIN_ROWS = 10_000  # below this, parsing every cell is already instant

TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")

_YUAN = rf"^-?\d{{1,{MAX_YUAN_DIGITS}}}(?:\.\d{{1,2}}0{{0,6}})?$"
_INT = rf"^-?\d{{1,{MAX_INT_DIGITS}}}(?:\.0{{1,6}})?$"
_FLOAT = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


def _normalise(arr: pa.Array) -> pa.Array:
    """Dictionary, large_string and decimal columns become plain text for the text parsers."""
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.string())  # an all-empty column (pandas writes these as type null)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.string())
    if pa.types.is_decimal(arr.type):
        arr = arr.cast(pa.string())  # exact: "12.30"; more decimals fail the yuan pattern
    return arr


def np_bool(arr: Any) -> Mask:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text(arr: pa.Array) -> tuple[pa.Array, Mask]:
    trimmed = pc.utf8_trim_whitespace(arr)
    length = pc.fill_null(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False)
    empty = np.asarray(length == 0, dtype=bool)
    return trimmed, empty


def _wrong_type(arr: pa.Array) -> str:
    return f"column type {arr.type} cannot hold this field"


@dataclass
class Parsed:
    """One column parsed: values (meaningful where ok), which cells are empty, which unreadable."""

    values: npt.NDArray[Any]
    empty: Mask
    unreadable: Mask
    type_error: str = ""


def _digits(arr: pa.Array, pattern: str, scale: int) -> tuple[I64, Mask]:
    """Text matching `pattern` -> exact int64 of value * 10**scale (fen for scale 2), no float.

    The pattern guarantees at most `scale` significant decimals and at most ~20 digits (Arrow
    silently misreads some 40-digit strings); Arrow's string -> decimal128 cast does the digit
    arithmetic, and the unscaled integer is read straight out of the decimal's buffer. A float
    parse double-checks it. Signs pass the pattern so "-1" gets the range message, not this one.
    """
    ok = np_bool(pc.match_substring_regex(arr, pattern))
    safe = arr if ok.all() else pc.if_else(pa.array(ok), arr, "0")
    dec = pc.cast(safe, pa.decimal128(18, scale))
    if isinstance(dec, pa.ChunkedArray):
        dec = dec.combine_chunks()
    words = np.frombuffer(dec.buffers()[1], dtype=np.int64)  # 2 words per value, low one first
    start = 2 * dec.offset
    values = words[start: start + 2 * len(dec): 2]
    approx = pc.cast(safe, pa.float64()).to_numpy(zero_copy_only=False) * 10.0 ** scale
    agree = np.abs(values - approx) <= 0.5  # values < 2**53, so the float is within 0.02
    ok &= agree  # never expected to fail: a disagreement is reported as unreadable, not guessed
    return np.where(ok, values, 0).astype(np.int64), ok


def _parse_fixed(arr: pa.Array, pattern: str, decimals: int, max_digits: int,
                 float_slack: float) -> Parsed:
    """Exact fixed-point numbers as int64 in units of 10**-decimals: text by digit splitting,
    integers scaled, float64 only within `float_slack` units of a whole unit."""
    arr = _normalise(arr)
    n = len(arr)
    t = arr.type
    if pa.types.is_string(t):
        text, empty = _text(arr)
        vals, ok = _digits(text, pattern, decimals)
        return Parsed(vals, empty, ~ok & ~empty)
    empty = np_bool(arr.is_null())
    unit = 10**decimals
    if pa.types.is_integer(t):
        x = pc.fill_null(arr, 0).cast(pa.float64()).to_numpy()
        ok = np.abs(x) < 10.0 ** max_digits
        vals = pc.fill_null(arr, 0).cast(pa.int64(), safe=False).to_numpy()
        return Parsed(np.where(ok, vals * unit, 0).astype(np.int64), empty, ~ok & ~empty)
    if pa.types.is_floating(t):
        x = pc.fill_null(arr, 0.0).cast(pa.float64()).to_numpy()
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = x * float(unit)
            whole = np.round(scaled)
            tol = np.maximum(float_slack, np.abs(scaled) * 1e-15) if float_slack else 0.0
            ok = np.isfinite(x) & (np.abs(x) < 10.0 ** max_digits) & (
                np.abs(scaled - whole) <= tol)
        return Parsed(np.where(ok, whole, 0).astype(np.int64), empty, ~ok & ~empty)
    return Parsed(np.zeros(n, np.int64), empty, ~empty, _wrong_type(arr))


def parse_money(arr: pa.Array) -> Parsed:
    """Yuan -> int64 fen; a float64 column only if it is a whole number of fen (to 1e-6)."""
    return _parse_fixed(arr, _YUAN, 2, MAX_YUAN_DIGITS, 1e-6)


def parse_int(arr: pa.Array) -> Parsed:
    """Whole numbers; a float64 column only if every value is exactly whole."""
    return _parse_fixed(arr, _INT, 0, MAX_INT_DIGITS, 0.0)


def parse_float(arr: pa.Array) -> Parsed:
    arr = _normalise(arr)
    n = len(arr)
    t = arr.type
    if pa.types.is_string(t):
        text, empty = _text(arr)
        ok = np_bool(pc.match_substring_regex(text, _FLOAT))
        safe = text if ok.all() else pc.if_else(pa.array(ok), text, "0")
        x = pc.cast(safe, pa.float64()).to_numpy()
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        empty = np_bool(arr.is_null())
        x = pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy()
        ok = ~empty
    else:
        empty = np_bool(arr.is_null())
        return Parsed(np.zeros(n), empty, ~empty, _wrong_type(arr))
    ok = ok & np.isfinite(x)
    return Parsed(np.where(ok, x, 0.0).astype(np.float64), empty, ~ok & ~empty)


def parse_bool(arr: pa.Array) -> Parsed:
    arr = _normalise(arr)
    n = len(arr)
    t = arr.type
    if pa.types.is_string(t):
        text, empty = _text(arr)
        lower = pc.utf8_lower(text)
        yes = np_bool(pc.is_in(lower, pa.array(TRUE_WORDS)))
        no = np_bool(pc.is_in(lower, pa.array(FALSE_WORDS)))
        return Parsed(yes, empty, ~(yes | no) & ~empty)
    empty = np_bool(arr.is_null())
    if pa.types.is_boolean(t):
        return Parsed(np_bool(arr), empty, np.zeros(n, bool))
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        x = pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy()
        ok = (x == 0) | (x == 1)
        return Parsed(x == 1, empty, ~ok & ~empty)
    return Parsed(np.zeros(n, bool), empty, ~empty, _wrong_type(arr))


def text_column(arr: pa.Array) -> tuple[pa.Array, Mask, str]:
    arr = _normalise(arr)
    if pa.types.is_integer(arr.type):
        arr = arr.cast(pa.string())  # numeric ids in Parquet are ids all the same
    if not pa.types.is_string(arr.type):
        empty = np_bool(arr.is_null())
        return pa.array(np.full(len(arr), ""), pa.string()), empty, _wrong_type(arr)
    text, empty = _text(arr)
    return text, empty, ""


def by_distinct(parse: Callable[[pa.Array], Parsed], arr: pa.Array) -> Parsed:
    """Parse each distinct text once and spread the result back to the rows.

    Catalogues repeat values (scores, hours, flags, round prices): hashing a column is ~10x cheaper
    than regex + decimal cast on every cell. Mostly-unique columns are parsed directly.
    """
    arr = _normalise(arr)
    if len(arr) < DISTINCT_MIN_ROWS or not pa.types.is_string(arr.type):
        return parse(arr)
    encoded = pc.dictionary_encode(arr, null_encoding="encode")
    if len(encoded.dictionary) > len(arr) // 2:
        return parse(arr)
    parsed = parse(encoded.dictionary)
    rows = encoded.indices.to_numpy(zero_copy_only=False)
    return Parsed(parsed.values[rows], parsed.empty[rows], parsed.unreadable[rows])
