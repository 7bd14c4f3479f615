"""Read a catalogue file (CSV or Parquet) into Arrow columns, each row with its line or row number.

CSV: the bytes are checked to be UTF-8 (the exact line of a bad byte named), lines found with
numpy, and pyarrow reads every cell as text; ragged lines are set aside and reported, and values
with line breaks fall back to the csv module. Parquet: native column types. Nothing is parsed or
validated here (optimizer/load/catalogue_parse.py parses the columns, catalogue.py validates them).
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.files import open_input, read_input
from optimizer.load.types import OPTIONAL_DEFAULTS, REQUIRED_COLUMNS

log = logging.getLogger("optimizer.load")

I64 = npt.NDArray[np.int64]

MAX_PROBLEMS = 300  # problems raised at most (the CLI shows the first 50 and counts the rest)
MAX_COLUMNS = 1_000  # the SPEC has 20; more is not a catalogue (10M columns: 9 GB in Arrow)
MAX_HEADER_CHARS = 64 * 1024  # a header line longer than this is not a catalogue's either

KNOWN_COLUMNS = (*REQUIRED_COLUMNS, *(c for c in OPTIONAL_DEFAULTS if c not in REQUIRED_COLUMNS))


@dataclass
class RawTable:
    """Columns as read (CSV: all text; Parquet: native types) plus where each row came from."""

    file: str
    unit: str  # "line" (CSV) or "row" (Parquet)
    names: list[str]
    columns: dict[str, pa.Array]
    lines: I64
    problems: list[InputProblem] = field(default_factory=list)



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


def read_csv(path: Path) -> RawTable:
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
        return RawTable(file, "line", names, columns, record_lines)
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
                 file: str) -> RawTable:
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
    return RawTable(file, "line", names, columns, record_lines[keep], problems)


def _read_csv_slowly(text: str, first_line: int, names: list[str], file: str) -> RawTable:
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
    return RawTable(file, "line", names, columns, np.asarray(lines, dtype=np.int64), problems)


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


def read_parquet(path: Path) -> RawTable:
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
    return RawTable(file, "row", names, columns, rows)
