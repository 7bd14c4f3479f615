"""Read the SKU catalogue (SPEC 2.2) from CSV or Parquet into numpy columns, money in exact fen.

Speed matters (a million SKUs in seconds), so the good path is columnar: pyarrow reads every CSV
cell as text, regexes validate whole columns at once, and yuan become fen by splitting the digits,
never through a float. Python loops only run over the failed rows, to word their messages, capped.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.files import open_input, read_input
from optimizer.load.types import (
    BOOL_COLUMNS,
    CATALOGUE_SUFFIXES,
    FLOAT_COLUMNS,
    INT_COLUMNS,
    MAX_COUNT,
    MAX_ELASTICITY,
    MONEY_COLUMNS,
    OPTIONAL_DEFAULTS,
    REQUIRED_COLUMNS,
    Catalogue,
)

log = logging.getLogger("optimizer.load")

Mask = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

MAX_PROBLEMS = 300  # problems raised at most (the CLI shows the first 50 and counts the rest)
PER_CHECK = 20  # rows named per (column, kind of problem); the rest are counted
MAX_YUAN_DIGITS = 12  # 10^12 yuan = 10^14 fen: far from int64's limit, far above any price
MAX_INT_DIGITS = 15
MAX_COLUMNS = 1_000  # the SPEC has 20; more is not a catalogue (10M columns: 9 GB in Arrow)
MAX_HEADER_CHARS = 64 * 1024  # a header line longer than this is not a catalogue's either
DISTINCT_MIN_ROWS = 10_000  # below this, parsing every cell is already instant

KNOWN_COLUMNS = (*REQUIRED_COLUMNS, *(c for c in OPTIONAL_DEFAULTS if c not in REQUIRED_COLUMNS))
TEXT_COLUMNS = ("sku_id", "offer_id", "category")
CATEGORIES = ("consumer", "industrial", "other")
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")

_YUAN = rf"^-?\d{{1,{MAX_YUAN_DIGITS}}}(?:\.\d{{1,2}}0{{0,6}})?$"
_INT = rf"^-?\d{{1,{MAX_INT_DIGITS}}}(?:\.0{{1,6}})?$"
_FLOAT = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"

_LIMITS = (MAX_COUNT, MAX_ELASTICITY)  # upper bounds that keep numbers finite, not scales
# (lower bound, lower inclusive, upper bound, upper inclusive) per numeric column; the upper
# bounds keep every product finite (types.MAX_*); money is below 10^12 yuan by its digits
_RANGES: dict[str, tuple[float, bool, float | None, bool]] = {
    "market_price": (0, False, None, False),
    "min_price_30d": (0, False, None, False),
    "unit_cost": (0, True, None, False),
    "shipping_cost": (0, True, None, False),
    "stock": (0, True, MAX_COUNT, True),
    "ship_hours": (0, True, MAX_COUNT, True),
    "moq": (1, True, MAX_COUNT, True),
    "listed_days": (0, True, MAX_COUNT, True),
    "sales_last_month": (0, True, MAX_COUNT, True),
    "daily_units": (0, True, MAX_COUNT, True),
    "growth_score": (0, True, 100, True),
    "pickup_rate_48h": (0, True, 1, True),
    "experience_score": (0, True, 5, True),
    "dispute_score": (0, True, 5, True),
    "elasticity": (0, False, MAX_ELASTICITY, True),
}


@dataclass
class _Table:
    """Columns as read (CSV: all text; Parquet: native types) plus where each row came from."""

    file: str
    unit: str  # "line" (CSV) or "row" (Parquet)
    names: list[str]
    columns: dict[str, pa.Array]
    lines: I64
    problems: list[InputProblem] = field(default_factory=list)


@dataclass
class _Check:
    """Rows of one column that fail one check, and how to word it from (shown value, row index)."""

    column: str
    mask: Mask
    say: Callable[[str, int], str]


class _Problems:
    """Collects failed checks; words at most PER_CHECK rows each, then counts the rest."""

    def __init__(self, table: _Table, order: dict[str, int]):
        self.table = table
        self.order = order
        self.checks: list[_Check] = []

    def add(self, column: str, mask: Mask, say: Callable[[str, int], str]) -> None:
        if mask.any():
            self.checks.append(_Check(column, mask, say))

    def render(self) -> list[InputProblem]:
        t = self.table
        rows: list[tuple[int, int, InputProblem]] = []
        tail: list[InputProblem] = []
        for check in self.checks:
            idx = np.flatnonzero(check.mask)
            arr = t.columns.get(check.column)
            for i in idx[:PER_CHECK]:
                shown = _show(arr, int(i)) if arr is not None else ""
                line = int(t.lines[i])
                rows.append((line, self.order.get(check.column, 0), InputProblem(
                    t.file, f"{t.unit} {line}", check.column, check.say(shown, int(i)))))
            if idx.size > PER_CHECK:
                tail.append(InputProblem(t.file, "", check.column,
                                         f"... and {idx.size - PER_CHECK} more {t.unit}s with the "
                                         f"same kind of problem ({idx.size} in all)"))
        rows.sort(key=lambda r: (r[0], r[1]))
        return [p for _, _, p in rows] + tail


def _show(arr: pa.Array, i: int) -> str:
    value = arr[i].as_py()
    if value is None:
        return "empty"
    if isinstance(value, str) and not value.strip():
        return "empty"
    text = str(value) if isinstance(value, Decimal) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ---------------------------------------------------------------- reading


def _check_utf8(data: memoryview, line_of: Callable[[int], int], file: str) -> None:
    """Incremental decode in 1 MB pieces: exact error position without a copy of the whole file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    for off in range(0, len(data), step):
        pending = len(decoder.getstate()[0])  # bytes of a character split across pieces
        try:
            decoder.decode(data[off: off + step], final=off + step >= len(data))
        except UnicodeDecodeError as exc:
            pos = max(0, min(off - pending + exc.start, len(data) - 1))
            raise InputError.one(file, f"line {line_of(pos)}", "",
                                 f"not UTF-8 text (byte 0x{data[pos]:02x}); save the file as "
                                 "'CSV UTF-8' (Excel) or convert it from GBK") from None


@dataclass
class _Lines:
    """Physical lines of a byte buffer, found with numpy (LF, CRLF and lone CR all end a line)."""

    starts: I64
    ends: I64  # content end (exclusive, before CR/LF)
    next_start: I64  # where the following line starts

    @classmethod
    def of(cls, buf: npt.NDArray[np.uint8]) -> _Lines:
        n = buf.size
        term = np.flatnonzero(buf == 10)
        cr = np.flatnonzero(buf == 13)
        if cr.size:
            after = np.minimum(cr + 1, max(n - 1, 0))
            lone = cr[(cr + 1 >= n) | (buf[after] != 10)]
            if lone.size:
                term = np.union1d(term, lone)
        starts = np.concatenate(([0], term + 1)).astype(np.int64)
        ends = np.concatenate((term, [n])).astype(np.int64)
        has_cr = np.zeros(ends.shape, dtype=bool)
        inner = ends > starts
        has_cr[inner] = buf[ends[inner] - 1] == 13
        ends = ends - has_cr
        return cls(starts, ends, np.concatenate((term + 1, [n])).astype(np.int64))

    def nonempty(self) -> I64:
        """1-based numbers of the lines with any content (the CSV reader skips the empty ones)."""
        return (np.flatnonzero(self.ends > self.starts) + 1).astype(np.int64)

    def line_of(self, pos: int) -> int:
        return int(np.searchsorted(self.next_start, pos, side="right")) + 1


def _read_csv(path: Path) -> _Table:
    file = str(path)
    raw = read_input(path, "catalogue")
    bom = 3 if raw.startswith(codecs.BOM_UTF8) else 0
    view = memoryview(raw)[bom:]
    buf = np.frombuffer(raw, dtype=np.uint8, offset=bom)
    lines = _Lines.of(buf)
    _check_utf8(view, lines.line_of, file)
    filled = lines.nonempty()
    header_text = ""
    k = 0
    while k < filled.size and not header_text.strip():  # the header: first line with content
        h = int(filled[k]) - 1
        header_text = bytes(view[lines.starts[h]: lines.ends[h]]).decode("utf-8")
        k += 1
    if not header_text.strip():
        raise InputError.one(file, "", "", "empty file; expected a header line "
                             f"({','.join(REQUIRED_COLUMNS)}) and one line per SKU")
    if len(header_text) > MAX_HEADER_CHARS or header_text.count(",") >= MAX_COLUMNS:
        raise InputError.one(file, f"line {h + 1}", "", _too_many_columns(
            header_text.count(",") + 1, len(header_text)))
    names = [name.strip() for name in next(csv.reader([header_text]))]
    header = f"line {h + 1}"
    record_lines = filled[k:]
    if record_lines.size == 0:
        raise InputError.one(file, "", "", "no SKUs: the file has a header but no data lines")
    problems = _header_problems(names, file, header)
    if problems:
        raise InputError(problems)

    body_start = int(lines.next_start[h])
    body = pa.py_buffer(view[body_start:])
    quoted = raw.find(b'"', bom + body_start) >= 0
    table, ragged = _arrow_read(body, len(names), quoted, threads=True, file=file)
    if table is not None and not ragged and table.num_rows == record_lines.size:
        columns = {name: table.column(i).combine_chunks() for i, name in enumerate(names)}
        return _Table(file, "line", names, columns, record_lines)
    if table is not None and ragged:
        # Single-threaded, Arrow numbers each bad row (its index among non-empty lines).
        table, ragged = _arrow_read(body, len(names), quoted, threads=False, file=file)
        if (table is not None and table.num_rows + len(ragged) == record_lines.size
                and all(r.number is not None for r in ragged)):
            return _with_ragged(table, ragged, names, record_lines, file)
    # Rare path (values with line breaks, or Arrow gave up): the csv module knows every line.
    return _read_csv_slowly(bytes(view[body_start:]).decode("utf-8"), h + 2, names, file)


def _too_many_columns(ncol: int, chars: int = 0) -> str:
    size = f", {chars:,} characters" if chars > MAX_HEADER_CHARS else ""
    return (f"the header has {ncol:,} columns{size}; a catalogue has at most "
            f"{MAX_COLUMNS:,} (the SPEC's {len(KNOWN_COLUMNS)} and others, which are ignored)")


def _arrow_read(body: pa.Buffer, ncol: int, quoted: bool, *, threads: bool,
                file: str) -> tuple[pa.Table | None, list[Any]]:
    """Every cell as text; rows with the wrong number of fields are set aside, not fatal."""
    internal = [f"c{i}" for i in range(ncol)]
    ragged: list[Any] = []

    def on_bad_row(row: Any) -> str:
        ragged.append(row)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=internal, use_threads=threads),
            parse_options=pacsv.ParseOptions(newlines_in_values=quoted,
                                             invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in internal}, strings_can_be_null=False,
                quoted_strings_can_be_null=False, check_utf8=False),
        )
    except pa.ArrowInvalid as exc:
        log.debug("pyarrow could not parse %s (%s); reading it with the csv module", file, exc)
        return None, ragged
    return table, ragged


def _ragged_message(fields: int, ncol: int) -> str:
    return (f"has {fields} field(s), the header has {ncol} "
            "(a stray comma, or a value with a comma that needs \"quotes\"?)")


def _with_ragged(table: pa.Table, ragged: list[Any], names: list[str], record_lines: I64,
                 file: str) -> _Table:
    """Drop the ragged rows from the line map and report them (whitespace-only lines: skipped)."""
    bad = np.asarray([r.number - 1 for r in ragged], dtype=np.int64)
    keep = np.ones(record_lines.size, dtype=bool)
    keep[bad] = False
    problems: list[InputProblem] = []
    real = [r for r in ragged if r.text.strip()]
    for row in real[:MAX_PROBLEMS]:
        line = int(record_lines[row.number - 1])
        problems.append(InputProblem(file, f"line {line}", "",
                                     _ragged_message(row.actual_columns, len(names))))
    if len(real) > MAX_PROBLEMS:
        problems.append(InputProblem(file, "", "",
                                     f"{len(real) - MAX_PROBLEMS} more ragged line(s)"))
    if table.num_rows == 0 and not problems:
        raise InputError.one(file, "", "", "no SKUs: the file has a header but no data lines")
    columns = {name: table.column(i).combine_chunks() for i, name in enumerate(names)}
    return _Table(file, "line", names, columns, record_lines[keep], problems)


def _read_csv_slowly(text: str, first_line: int, names: list[str], file: str) -> _Table:
    reader = csv.reader(io.StringIO(text, newline=""))
    cells: list[list[str]] = [[] for _ in names]
    lines: list[int] = []
    problems: list[InputProblem] = []
    bad = 0
    prev = 0
    try:
        for record in reader:
            line = first_line + prev
            prev = reader.line_num
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank or whitespace-only line
            if len(record) != len(names):
                bad += 1
                if bad <= MAX_PROBLEMS:
                    problems.append(InputProblem(file, f"line {line}", "",
                                                 _ragged_message(len(record), len(names))))
                continue
            lines.append(line)
            for col, value in zip(cells, record, strict=True):
                col.append(value)
    except csv.Error as exc:
        raise InputError.one(file, f"line {first_line + reader.line_num - 1}", "",
                             f"CSV syntax error: {exc}") from None
    if bad > MAX_PROBLEMS:
        problems.append(InputProblem(file, "", "", f"{bad - MAX_PROBLEMS} more ragged line(s)"))
    if not lines and not problems:
        raise InputError.one(file, "", "", "no SKUs: the file has a header but no data lines")
    columns = {name: pa.array(col, type=pa.string())
               for name, col in zip(names, cells, strict=True)}
    return _Table(file, "line", names, columns, np.asarray(lines, dtype=np.int64), problems)


def _header_problems(names: list[str], file: str, where: str) -> list[InputProblem]:
    problems: list[InputProblem] = []
    seen: set[str] = set()
    for name in names:
        if name and name in seen:
            problems.append(InputProblem(file, where, name, f"duplicate column name {name!r}"))
        seen.add(name)
    lowered = {n.lower(): n for n in names}
    for col in REQUIRED_COLUMNS:
        if col in seen:
            continue
        hint = ""
        if col in lowered:
            hint = f" (found {lowered[col]!r}; column names are lower case)"
        elif len(names) == 1 and any(sep in names[0] for sep in ";\t|"):
            hint = " (the file must be comma-separated)"
        problems.append(InputProblem(file, where, col, f"required column {col!r} missing{hint}"))
    return problems


def _read_parquet(path: Path) -> _Table:
    file = str(path)
    with open_input(path, "catalogue") as fh:
        try:
            parquet = pq.ParquetFile(fh)
            ncol = parquet.metadata.num_columns
            if ncol > MAX_COLUMNS:
                raise InputError.one(file, "", "", _too_many_columns(ncol))
            table = parquet.read()
        except (pa.ArrowException, OSError) as exc:
            raise InputError.one(file, "", "", f"cannot read as Parquet: {exc}") from None
    names = [str(n).strip() for n in table.column_names]
    problems = _header_problems(names, file, "")
    if problems:
        raise InputError(problems)
    if table.num_rows == 0:
        raise InputError.one(file, "", "", "no SKUs: the file has columns but no rows")
    columns = {}
    for i, name in enumerate(names):
        if name in KNOWN_COLUMNS:
            columns[name] = table.column(i).combine_chunks()
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    return _Table(file, "row", names, columns, rows)


# ---------------------------------------------------------------- parsing whole columns


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


def _np_bool(arr: Any) -> Mask:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text(arr: pa.Array) -> tuple[pa.Array, Mask]:
    trimmed = pc.utf8_trim_whitespace(arr)
    length = pc.fill_null(pc.binary_length(trimmed), 0).to_numpy(zero_copy_only=False)
    empty = np.asarray(length == 0, dtype=bool)
    return trimmed, empty


def _wrong_type(arr: pa.Array) -> str:
    return f"column type {arr.type} cannot hold this field"


@dataclass
class _Parsed:
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
    ok = _np_bool(pc.match_substring_regex(arr, pattern))
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
                 float_slack: float) -> _Parsed:
    """Exact fixed-point numbers as int64 in units of 10**-decimals: text by digit splitting,
    integers scaled, float64 only within `float_slack` units of a whole unit."""
    arr = _normalise(arr)
    n = len(arr)
    t = arr.type
    if pa.types.is_string(t):
        text, empty = _text(arr)
        vals, ok = _digits(text, pattern, decimals)
        return _Parsed(vals, empty, ~ok & ~empty)
    empty = _np_bool(arr.is_null())
    unit = 10**decimals
    if pa.types.is_integer(t):
        x = pc.fill_null(arr, 0).cast(pa.float64()).to_numpy()
        ok = np.abs(x) < 10.0 ** max_digits
        vals = pc.fill_null(arr, 0).cast(pa.int64(), safe=False).to_numpy()
        return _Parsed(np.where(ok, vals * unit, 0).astype(np.int64), empty, ~ok & ~empty)
    if pa.types.is_floating(t):
        x = pc.fill_null(arr, 0.0).cast(pa.float64()).to_numpy()
        with np.errstate(invalid="ignore", over="ignore"):
            scaled = x * float(unit)
            whole = np.round(scaled)
            tol = np.maximum(float_slack, np.abs(scaled) * 1e-15) if float_slack else 0.0
            ok = np.isfinite(x) & (np.abs(x) < 10.0 ** max_digits) & (
                np.abs(scaled - whole) <= tol)
        return _Parsed(np.where(ok, whole, 0).astype(np.int64), empty, ~ok & ~empty)
    return _Parsed(np.zeros(n, np.int64), empty, ~empty, _wrong_type(arr))


def _parse_money(arr: pa.Array) -> _Parsed:
    """Yuan -> int64 fen; a float64 column only if it is a whole number of fen (to 1e-6)."""
    return _parse_fixed(arr, _YUAN, 2, MAX_YUAN_DIGITS, 1e-6)


def _parse_int(arr: pa.Array) -> _Parsed:
    """Whole numbers; a float64 column only if every value is exactly whole."""
    return _parse_fixed(arr, _INT, 0, MAX_INT_DIGITS, 0.0)


def _parse_float(arr: pa.Array) -> _Parsed:
    arr = _normalise(arr)
    n = len(arr)
    t = arr.type
    if pa.types.is_string(t):
        text, empty = _text(arr)
        ok = _np_bool(pc.match_substring_regex(text, _FLOAT))
        safe = text if ok.all() else pc.if_else(pa.array(ok), text, "0")
        x = pc.cast(safe, pa.float64()).to_numpy()
    elif pa.types.is_integer(t) or pa.types.is_floating(t):
        empty = _np_bool(arr.is_null())
        x = pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy()
        ok = ~empty
    else:
        empty = _np_bool(arr.is_null())
        return _Parsed(np.zeros(n), empty, ~empty, _wrong_type(arr))
    ok = ok & np.isfinite(x)
    return _Parsed(np.where(ok, x, 0.0).astype(np.float64), empty, ~ok & ~empty)


def _parse_bool(arr: pa.Array) -> _Parsed:
    arr = _normalise(arr)
    n = len(arr)
    t = arr.type
    if pa.types.is_string(t):
        text, empty = _text(arr)
        lower = pc.utf8_lower(text)
        yes = _np_bool(pc.is_in(lower, pa.array(TRUE_WORDS)))
        no = _np_bool(pc.is_in(lower, pa.array(FALSE_WORDS)))
        return _Parsed(yes, empty, ~(yes | no) & ~empty)
    empty = _np_bool(arr.is_null())
    if pa.types.is_boolean(t):
        return _Parsed(_np_bool(arr), empty, np.zeros(n, bool))
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        x = pc.fill_null(arr.cast(pa.float64()), 0.0).to_numpy()
        ok = (x == 0) | (x == 1)
        return _Parsed(x == 1, empty, ~ok & ~empty)
    return _Parsed(np.zeros(n, bool), empty, ~empty, _wrong_type(arr))


def _text_column(arr: pa.Array) -> tuple[pa.Array, Mask, str]:
    arr = _normalise(arr)
    if pa.types.is_integer(arr.type):
        arr = arr.cast(pa.string())  # numeric ids in Parquet are ids all the same
    if not pa.types.is_string(arr.type):
        empty = _np_bool(arr.is_null())
        return pa.array(np.full(len(arr), ""), pa.string()), empty, _wrong_type(arr)
    text, empty = _text(arr)
    return text, empty, ""


def _by_distinct(parse: Callable[[pa.Array], _Parsed], arr: pa.Array) -> _Parsed:
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
    return _Parsed(parsed.values[rows], parsed.empty[rows], parsed.unreadable[rows])


# ---------------------------------------------------------------- validation


_SYNTAX = {
    "money": "is not an amount in yuan with at most 2 decimals (like 12, 12.5 or 12.50)",
    "int": "is not a whole number (like 0, 7 or 200)",
    "float": "is not a number",
    "bool": "is not a boolean (true/false, 1/0, yes/no)",
}


def _range_message(column: str) -> str:
    lo, lo_incl, hi, _ = _RANGES[column]
    if hi is None:
        return f"must be {'>=' if lo_incl else '>'} {lo:g}"
    if hi in _LIMITS:  # an upper limit is checked on its own (_limit_message)
        return f"must be {'>=' if lo_incl else '>'} {lo:g}"
    return f"must be {'' if lo_incl else 'above '}{lo:g} to {hi:g}"


def _limit_message(column: str) -> str:
    hi = _RANGES[column][2]
    return f"must be at most {int(hi or 0):,} (README: Limits on inputs)"


def _range_ok(column: str, values: npt.NDArray[Any]) -> tuple[Mask, Mask]:
    """(within the range, below its upper bound): the second is all True without one."""
    lo, lo_incl, hi, hi_incl = _RANGES[column]
    scale = 100 if column in MONEY_COLUMNS else 1
    ok = values >= lo * scale if lo_incl else values > lo * scale
    below = np.ones(values.shape, dtype=bool)
    if hi is not None:
        below = values <= hi * scale if hi_incl else values < hi * scale
    return np.asarray(ok & below, dtype=bool), np.asarray(below, dtype=bool)


def _problem_order(p: InputProblem) -> tuple[int, int]:
    """By line/row; problems without one (counts, summaries) last."""
    number = p.where.split()[-1] if p.where else ""
    return (0, int(number)) if number.isdigit() else (1, 0)


def _fixed(text: str) -> Callable[[str, int], str]:
    return lambda _value, _row: text


def _after_value(text: str) -> Callable[[str, int], str]:
    return lambda value, _row: f"{value}{text}"


def _duplicate_message(first_line: I64, unit: str) -> Callable[[str, int], str]:
    return lambda value, row: f"duplicate sku_id {value} (first on {unit} {first_line[row]})"


def _validate(t: _Table) -> Catalogue:
    n = int(t.lines.size)
    order = {name: i for i, name in enumerate(t.names)}
    issues = _Problems(t, order)
    column_problems: list[InputProblem] = []  # a whole column of the wrong type: one problem, not n
    out: dict[str, Any] = {}

    unknown = [name for name in t.names if name not in KNOWN_COLUMNS]
    if unknown:
        shown = ", ".join(repr(u) if u else "(unnamed)" for u in unknown)
        log.warning("%s: ignoring column(s) the optimiser does not use: %s", t.file, shown)

    kinds: list[tuple[tuple[str, ...], str, Callable[[pa.Array], _Parsed]]] = [
        (MONEY_COLUMNS, "money", _parse_money), (INT_COLUMNS, "int", _parse_int),
        (FLOAT_COLUMNS, "float", _parse_float), (BOOL_COLUMNS, "bool", _parse_bool),
    ]
    for columns, kind, parse in kinds:
        for col in columns:
            fill: Any = OPTIONAL_DEFAULTS.get(col, 0)
            if kind == "money":
                fill = int(fill) * 100
            dtype = {"money": np.int64, "int": np.int64, "float": np.float64, "bool": bool}[kind]
            if col not in t.columns:
                out[col] = np.full(n, fill, dtype=dtype)
                continue
            parsed = _by_distinct(parse, t.columns[col])
            required = col in REQUIRED_COLUMNS
            if parsed.type_error:
                column_problems.append(InputProblem(t.file, "", col, parsed.type_error))
                out[col] = np.zeros(n, dtype=dtype)
                continue
            if required:
                issues.add(col, parsed.empty, _fixed(f"empty; {col} is required"))
            issues.add(col, parsed.unreadable, _after_value(f" {_SYNTAX[kind]}"))
            good = ~parsed.empty & ~parsed.unreadable
            if col in _RANGES:
                ok, below = _range_ok(col, parsed.values)
                if _RANGES[col][2] in _LIMITS:
                    issues.add(col, good & ~below, _after_value(f": {col} {_limit_message(col)}"))
                    bad = good & below & ~ok
                else:
                    bad = good & ~ok
                issues.add(col, bad, _after_value(f": {col} {_range_message(col)}"))
            values = parsed.values.astype(dtype)
            if not required:
                values = np.where(parsed.empty, fill, values).astype(dtype)
            out[col] = values

    for col in TEXT_COLUMNS:
        text, empty, type_error = _text_column(t.columns[col])
        if type_error:
            column_problems.append(InputProblem(t.file, "", col, type_error))
            out[col] = np.full(n, "", dtype=object)
            continue
        issues.add(col, empty, _fixed(f"empty; {col} is required"))
        if col == "category":
            text = pc.utf8_lower(text)
            wrong = ~_np_bool(pc.is_in(text, pa.array(CATEGORIES))) & ~empty
            issues.add(col, wrong, _after_value(f" is not one of {', '.join(CATEGORIES)}"))
        if col == "sku_id":
            dup, first_line = _duplicates(text, empty, t.lines)
            issues.add(col, dup, _duplicate_message(first_line, t.unit))
        out[col] = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)

    problems = column_problems + sorted(t.problems + issues.render(), key=_problem_order)
    if problems:
        if len(problems) > MAX_PROBLEMS:
            extra = len(problems) - MAX_PROBLEMS
            problems = problems[:MAX_PROBLEMS]
            problems.append(InputProblem(t.file, "", "", f"{extra} more problem(s) not listed"))
        raise InputError(problems)

    _warn_above_market(t, out)
    _warn_formula_ids(t, out)
    return Catalogue(path=Path(t.file), line=t.lines, **out)


def _duplicates(text: pa.Array, empty: Mask, lines: I64) -> tuple[Mask, I64]:
    """Rows whose sku_id appeared on an earlier row, and for every row where it first appeared."""
    codes = pc.dictionary_encode(text).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first = np.unique(codes, return_index=True)
    first_row = first[codes]
    dup = (first_row != np.arange(codes.size)) & ~empty
    return dup, lines[first_row]


def _warn_above_market(t: _Table, out: dict[str, Any]) -> None:
    """A 30-day low above today's price is odd but possible (a price cut): warn, don't refuse."""
    above = np.flatnonzero(out["min_price_30d"] > out["market_price"])
    if above.size:
        sample = ", ".join(f"{out['sku_id'][i]} ({t.unit} {t.lines[i]})" for i in above[:5])
        log.warning("%s: %d SKU(s) have min_price_30d above market_price, e.g. %s",
                    t.file, above.size, sample)


FORMULA_START = r"^[=+\-@\t\r]"  # what Excel (and LibreOffice) read as a formula's start


def _warn_formula_ids(t: _Table, out: dict[str, Any]) -> None:
    """Ids are written to plan.csv and excluded.csv exactly as given (scripts join on them), so
    an id like `=HYPERLINK(...)` would be a formula to a merchant who opens the CSV in Excel.
    Say so once, with the way to open the plan safely (plan.xlsx stores every id as text)."""
    found = []
    for col in ("sku_id", "offer_id"):
        hit = np.flatnonzero(_np_bool(pc.match_substring_regex(
            pa.array(out[col], pa.string()), FORMULA_START)))
        if hit.size:
            i = int(hit[0])
            found.append(f"{hit.size} {col} (e.g. {out[col][i]!r}, {t.unit} {int(t.lines[i])})")
    if found:
        log.warning("%s: ids that begin with =, +, - or @: %s. A spreadsheet opening plan.csv "
                    "or excluded.csv would read them as formulas; open plan.xlsx instead "
                    "(solve --xlsx: ids stored as text), or import the CSV with the id columns "
                    "as text", t.file, "; ".join(found))


def load_catalogue(path: Path) -> Catalogue:
    """Read and validate a catalogue (.csv or .parquet, by suffix).

    Returns a Catalogue of numpy columns (money int64 fen; `line` = CSV line or Parquet row).
    Raises InputError with every problem found (file, line/row, column, the bad value).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CATALOGUE_SUFFIXES:
        raise InputError.one(path, "", "catalogue",
                             f"catalogue must be a .csv or .parquet file, got {path.name!r}")
    table = _read_csv(path) if suffix == ".csv" else _read_parquet(path)
    return _validate(table)
