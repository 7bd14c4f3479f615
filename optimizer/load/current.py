"""Today's enrollments (SPEC 6.1, `current:` in the scenario): what a plan starts from.

A continuing enrollment (same SKU, program and price as today) sells its whole horizon; any other
waits for review. The commitments of the rulebook (no_exit, fixed_until_exit) say which of these
rows a plan may drop or change.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from optimizer.load.catalogue_read import MAX_COLUMNS
from optimizer.load.errors import InputError, InputProblem
from optimizer.load.files import open_input, read_input
from optimizer.load.types import CATALOGUE_SUFFIXES, MAX_YUAN, Catalogue
from optimizer.plan.lang import header


@dataclass(frozen=True, eq=False)
class Current:
    """The validated rows of the `current` file, one per (SKU, program)."""

    sku: np.ndarray  # int64 (r,): the SKU's row in the catalogue
    program: np.ndarray  # str (r,): a program of the scenario
    price: np.ndarray  # int64 (r,): today's price, fen (a multiple of price_step)
    line: np.ndarray  # int64 (r,): the row's line in the file, for messages
    path: Path | None = None

    @staticmethod
    def empty() -> Current:
        z = np.zeros(0, np.int64)
        return Current(z, np.zeros(0, dtype=str), z, z)

    @property
    def size(self) -> int:
        return int(self.sku.shape[0])


# ------------------------------------------------------------------------------ reading the file

CURRENT_COLUMNS = ("sku_id", "program", "price")
MAX_PROBLEMS = 300  # problems reported at most (the CLI shows the first 50 and counts the rest)
_PRICE = re.compile(r"^[+-]?(\d+)(?:\.(\d*))?$|^[+-]?\.(\d+)$")


def _header_names() -> dict[str, str]:
    """Header text -> column: the English names and the Chinese headers plan.csv is written
    with (`solve --lang zh`), so last month's plan.csv is a valid `current` file."""
    names = {c: c for c in CURRENT_COLUMNS}
    names.update({header(c, "zh"): c for c in CURRENT_COLUMNS})
    return names


def _columns(file: str, names: list[str], where: str) -> dict[str, int]:
    """Positions of sku_id, program and price (other columns are ignored), or InputError."""
    if len(names) > MAX_COLUMNS:
        raise InputError.one(file, where, "", f"the header has {len(names):,} columns; a current "
                             f"file has at most {MAX_COLUMNS:,} (sku_id, program, price and "
                             "others, which are ignored)")
    known = _header_names()
    found: dict[str, int] = {}
    problems: list[InputProblem] = []
    for i, name in enumerate(names):
        col = known.get(name.strip())
        if col is None:
            continue
        if col in found:
            problems.append(InputProblem(file, where, col, f"column {col} appears twice "
                                         f"({names[found[col]].strip()!r} and {name.strip()!r})"))
        found[col] = i
    for col in CURRENT_COLUMNS:
        if col not in found:
            problems.append(InputProblem(file, where, col, f"required column {col!r} missing "
                                         f"(English {col} or Chinese {header(col, 'zh')}, as "
                                         "plan.csv writes them)"))
    if problems:
        raise InputError(problems)
    return found


def _csv_rows(path: Path) -> tuple[str, list[tuple[int, list[str]]], list[str]]:
    """('line', [(line, cells)], header) of a CSV file, UTF-8 with or without BOM."""
    file = str(path)
    raw = read_input(path, "current")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError.one(file, f"line {line}", "", f"not UTF-8 text (byte 0x"
                             f"{raw[exc.start]:02x}); save the file as 'CSV UTF-8' (Excel) or "
                             "convert it from GBK") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    head: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if head is None:
                head = record
                header_line = line
                if len(head) > MAX_COLUMNS:  # before reading a huge file's rows
                    _columns(file, head, f"line {line}")
                continue
            rows.append((line, record))
    except csv.Error as exc:
        raise InputError.one(file, f"line {start}", "", f"CSV syntax error: {exc}") from None
    if head is None:
        raise InputError.one(file, "", "", "empty file; expected a header line "
                             f"({','.join(CURRENT_COLUMNS)}) and one line per enrollment")
    return f"line {header_line}", rows, head


def _parquet_rows(path: Path) -> tuple[str, list[tuple[int, list[str]]], list[str]]:
    """('', [(row, cells as text)], column names) of a Parquet file."""
    file = str(path)
    with open_input(path, "current") as fh:
        try:
            parquet = pq.ParquetFile(fh)
            names = [str(n) for n in parquet.schema_arrow.names]
            if len(names) > MAX_COLUMNS:
                _columns(file, names, "")
            wanted = _header_names()
            table = parquet.read(columns=[n for n in names if n.strip() in wanted])
        except (pa.ArrowException, OSError) as exc:
            raise InputError.one(file, "", "", f"cannot read as Parquet: {exc}") from None
    cols = _columns(file, names, "")
    by_name = {name: table.column(name).to_pylist() for name in table.column_names}
    picked = [by_name[names[cols[c]]] for c in CURRENT_COLUMNS]
    rows = [(i + 1, [_cell(v) for v in values])
            for i, values in enumerate(zip(*picked, strict=True))]
    return "", rows, list(CURRENT_COLUMNS)


def _cell(value: object) -> str:
    """A Parquet value as the text a CSV cell would hold (a float price through its repr)."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _fen(text: str) -> int | str:
    """Yuan text -> fen, or why not (not a number, more than 2 decimals, <= 0, too large)."""
    match = _PRICE.match(text)
    if match is None:
        return "is not a number (yuan, e.g. 19.20)" if text else "is missing"
    whole, frac = match.group(1) or "0", match.group(2) or match.group(3) or ""
    if len(frac.rstrip("0")) > 2:
        return "has more than 2 decimals (prices are whole fen)"
    if len(whole.lstrip("0")) > len(str(MAX_YUAN)) or int(whole) > MAX_YUAN:
        return f"is beyond {MAX_YUAN:,} yuan (README: Limits on inputs)"
    fen = int(whole) * 100 + int((frac + "00")[:2])
    if text.startswith("-") or fen <= 0:
        return "must be > 0"
    return fen


def load_current(path: Path, catalogue: Catalogue, programs: tuple[str, ...],
                 price_step_fen: int) -> Current:
    """Read and validate today's enrollments (SPEC 6.1): InputError (exit 2) naming the file,
    the line (Parquet: row) and the field of every bad row.

    A row is invalid when its SKU is not in the catalogue, its program is not one of the
    scenario's (the merged rulebook's enabled programs), it repeats a (sku_id, program) pair, or
    its price is missing, not a number, <= 0, has more than 2 decimals, is beyond the money
    limit or is off the scenario's price_step grid: a continuing enrollment keeps its price,
    and every price of a plan is a multiple of price_step."""
    path = Path(path)
    file = str(path)
    suffix = path.suffix.lower()
    if suffix not in CATALOGUE_SUFFIXES:
        raise InputError.one(file, "", "", f"current must be a .csv or .parquet file, got "
                             f"{path.name!r}")
    unit_where, rows, names = (_parquet_rows(path) if suffix == ".parquet"
                               else _csv_rows(path))
    unit = "row" if suffix == ".parquet" else "line"
    cols = _columns(file, names, unit_where)
    sku_row = {str(s).strip(): i for i, s in enumerate(catalogue.sku_id)}
    known = set(programs)
    problems: list[InputProblem] = []
    seen: dict[tuple[str, str], int] = {}
    out_sku: list[int] = []
    out_prog: list[str] = []
    out_price: list[int] = []
    out_line: list[int] = []
    step = f"{price_step_fen // 100}.{price_step_fen % 100:02d}"
    for line, cells in rows:
        where = f"{unit} {line}"

        def cell(col: str, cells: list[str] = cells) -> str:
            i = cols[col]
            return cells[i].strip() if i < len(cells) else ""

        bad = len(problems)
        sku_id, program, price_text = cell("sku_id"), cell("program"), cell("price")
        sku = sku_row.get(sku_id)
        if not sku_id:
            problems.append(InputProblem(file, where, "sku_id", "is missing"))
        elif sku is None:
            problems.append(InputProblem(file, where, "sku_id",
                                         f"{sku_id!r} is not in the catalogue"))
        if not program:
            problems.append(InputProblem(file, where, "program", "is missing"))
        elif program not in known:
            problems.append(InputProblem(file, where, "program", f"{program!r} is not one of "
                                         f"the scenario's programs ({', '.join(programs)})"))
        fen = _fen(price_text)
        if isinstance(fen, str):
            shown = f"{price_text!r} " if price_text else ""
            problems.append(InputProblem(file, where, "price", f"{shown}{fen}"))
        elif fen % price_step_fen:
            problems.append(InputProblem(file, where, "price", f"{price_text} is not a "
                                         f"multiple of the scenario's price_step {step} (a "
                                         "continuing enrollment keeps its price, and every "
                                         "price of a plan is on that grid)"))
        if sku_id and program:
            first = seen.setdefault((sku_id, program), line)
            if first != line:
                problems.append(InputProblem(file, where, "sku_id", f"{sku_id} in {program} "
                                             f"repeats {unit} {first}; one row per (sku_id, "
                                             "program)"))
        if len(problems) > MAX_PROBLEMS:
            break
        if len(problems) == bad and sku is not None and isinstance(fen, int):
            out_sku.append(sku)
            out_prog.append(program)
            out_price.append(fen)
            out_line.append(line)
    if problems:
        raise InputError(problems)
    return Current(np.asarray(out_sku, np.int64), np.asarray(out_prog, dtype=str),
                   np.asarray(out_price, np.int64), np.asarray(out_line, np.int64), path)
