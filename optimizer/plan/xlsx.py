"""plan.xlsx: the plan, the exclusions and a summary in one workbook, for merchants in Excel.

Written with XlsxWriter in constant_memory mode: rows stream to a temporary file beside the output
as they are written, so memory stays flat however many rows there are. Numbers are stored as
numbers with a display format (money `¥#,##0.00`, units `#,##0.000`, fee rates as percent), and
their values are exactly the ones the CSV files show (the same decimal text, parsed), so sums in
Excel agree with the CSV. Texts are always written as texts (never read as formulas or links).

Excel holds 1,048,576 rows a sheet (the header included); a longer table continues on further
sheets, "excluded (2)", "excluded (3)", ..., each with the header, and the summary sheet says so.

The file is deterministic: the document's creation time is fixed, XlsxWriter stamps its zip
members with a fixed date, and the summary sheet holds nothing that depends on the clock (no
timings: those are in summary.json). Same tables, same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from optimizer.plan.lang import REASON_MEANINGS, header, status_text, word
from optimizer.rules.eligibility import fixed_text

log = logging.getLogger(__name__)

MAX_ROWS = 1_048_576  # Excel's limit of rows a sheet, the header row included
CREATED = datetime(2024, 1, 1)  # the document's creation time, fixed: same input, same bytes
CHUNK_ROWS = 1 << 16  # rows converted to Python values at a time
ZIP64_CELLS = 20_000_000  # above this many cells the sheet XML may pass 4 GB: zip64 needed

MONEY, UNITS, RATE, COUNT, PERCENT = "¥#,##0.00", "#,##0.000", "0.0##%", "#,##0", "0.0000%"

# (column, kind, number format, width); kinds: text, number, rate (text holding a decimal)
_Column = tuple[str, str, str | None, float]
PLAN_SHEET: tuple[_Column, ...] = (
    ("sku_id", "text", None, 16), ("offer_id", "text", None, 14),
    ("program", "text", None, 16), ("program_name", "name", None, 18),
    ("price", "number", MONEY, 12), ("units", "number", UNITS, 12),
    ("revenue", "number", MONEY, 15), ("fee_rate", "rate", RATE, 8),
    ("fees", "number", MONEY, 14), ("margin", "number", MONEY, 15))
EXCLUDED_SHEET: tuple[_Column, ...] = (
    ("sku_id", "text", None, 16), ("program", "text", None, 16),
    ("program_name", "name", None, 18), ("reason", "text", None, 15), ("detail", "text", None, 70))


@dataclass(frozen=True)
class _Formats:
    header: Format
    number: dict[str, Format]

    @classmethod
    def of(cls, book: xlsxwriter.Workbook) -> _Formats:
        return cls(book.add_format({"bold": True, "bottom": 1, "bg_color": "#F2F2F2"}),
                   {f: book.add_format({"num_format": f}) for f in
                    (MONEY, UNITS, RATE, COUNT, PERCENT)})


def sheet_names(base: str, rows: int) -> list[str]:
    """The sheets a table of `rows` data rows takes: "base", "base (2)", ..."""
    count = max(1, -(-rows // (MAX_ROWS - 1)))
    return [base if k == 0 else f"{base} ({k + 1})" for k in range(count)]


def _cell_values(table: pa.Table, columns: tuple[_Column, ...],
                 names_zh: dict[str, str]) -> Iterator[list[list[Any]]]:
    """The table a piece at a time, as one Python list per sheet column: numbers parsed from the
    text the CSV has for them, program names looked up beside the program ids."""
    for batch in table.to_batches(max_chunksize=CHUNK_ROWS):
        out: list[list[Any]] = []
        for name, kind, _, _ in columns:
            if kind == "name":
                program = batch.column("program")
                names = pa.array([names_zh.get(p, "") for p in program.dictionary.to_pylist()],
                                 pa.string())
                out.append(names.take(program.indices).to_pylist())
                continue
            column = batch.column(name)
            if kind == "number":
                decimals = int(table.schema.field(name).metadata[b"decimals"])
                text = fixed_text(column.to_numpy(zero_copy_only=False), decimals)
                out.append(pc.cast(text, pa.float64()).to_pylist())
            elif kind == "rate":
                rates = pc.cast(column.dictionary, pa.float64())
                out.append(rates.take(column.indices).to_pylist())
            else:
                out.append(column.to_pylist())
        yield out


def _new_sheet(book: xlsxwriter.Workbook, name: str, columns: tuple[_Column, ...], lang: str,
               fmt: _Formats, rows: int) -> Worksheet:
    sheet = book.add_worksheet(name)
    for c, (column, _, number_format, width) in enumerate(columns):
        sheet.set_column(c, c, width, fmt.number[number_format] if number_format else None)
        sheet.write_string(0, c, header(column, lang), fmt.header)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, rows, len(columns) - 1)
    return sheet


def _write_table(book: xlsxwriter.Workbook, base: str, table: pa.Table,
                 columns: tuple[_Column, ...], lang: str, fmt: _Formats,
                 names_zh: dict[str, str]) -> list[str]:
    """The table on as many sheets as it needs; returns their names."""
    per_sheet = MAX_ROWS - 1
    names = sheet_names(base, table.num_rows)
    formats = [fmt.number[f] if f else None for _, _, f, _ in columns]
    sheet_index, row = 0, 1

    def sheet_rows(k: int) -> int:
        return min(per_sheet, table.num_rows - k * per_sheet)

    sheet = _new_sheet(book, names[0], columns, lang, fmt, max(sheet_rows(0), 1))
    writers: list[Callable[..., int]] = []

    def bind(ws: Worksheet) -> None:
        writers[:] = [ws.write_number if kind in ("number", "rate") else ws.write_string
                      for _, kind, _, _ in columns]

    bind(sheet)
    done = 0
    for values in _cell_values(table, columns, names_zh):
        for cells in zip(*values, strict=True):
            if row > per_sheet:
                sheet_index += 1
                sheet = _new_sheet(book, names[sheet_index], columns, lang, fmt,
                                   sheet_rows(sheet_index))
                bind(sheet)
                row = 1
            for c, value in enumerate(cells):
                writers[c](row, c, value, formats[c])
            row += 1
        done += len(values[0])
        log.debug("plan.xlsx: %s %d / %d rows", base, done, table.num_rows)
    return names


def _summary_sheet(book: xlsxwriter.Workbook, summary: dict[str, Any], reasons: dict[str, int],
                   sheets: dict[str, list[str]], rows: dict[str, int], lang: str,
                   fmt: _Formats) -> None:
    ws = book.add_worksheet(word("summary", lang))
    ws.set_column(0, 0, 26)
    ws.set_column(1, 1, 34)
    ws.set_column(2, 6, 18)
    money, count = fmt.number[MONEY], fmt.number[COUNT]
    r = 0

    def line(*cells: tuple[Any, Format | None]) -> None:
        nonlocal r
        for c, (value, cell_format) in enumerate(cells):
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(r, c, value, cell_format)
            else:
                ws.write_number(r, c, value, cell_format)
        r += 1

    def heading(*labels: str) -> None:
        line(*((label, fmt.header) for label in labels))

    heading(word("item", lang), word("figure", lang))
    line((word("name", lang), None), (str(summary["name"]), None))
    line((word("status", lang), None), (status_text(summary["status"], lang), None))
    line((word("objective", lang), None), (summary["objective"], money))
    line((word("bound", lang), None), (summary["bound"], money))
    line((word("gap", lang), None), (summary["gap"], fmt.number[PERCENT]))
    r += 1
    heading(header("program", lang), header("program_name", lang), word("enrolled_skus", lang),
            header("units", lang), header("revenue", lang), header("fees", lang),
            header("margin", lang))
    for pid, p in summary["programs"].items():
        line((pid, None), (p.get("name_zh", ""), None), (p["enrolled_skus"], count),
             (p["units"], fmt.number[UNITS]), (p["revenue"], money), (p["fees"], money),
             (p["margin"], money))
    if summary["constraints"]:
        r += 1
        heading(word("constraint", lang), word("value", lang), word("limit", lang))
        for name, c in summary["constraints"].items():
            number = count if name.startswith("max_skus.") else money
            line((name, None), (c["value"], number), (c["limit"], number))
    r += 1
    heading(header("reason", lang), word("meaning", lang), word("rows", lang))
    for code, n in reasons.items():
        line((code, None), (REASON_MEANINGS[lang].get(code, ""), None), (n, count))
    r += 1
    heading(word("sheets", lang), word("note", lang))
    for table, names in sheets.items():
        line((word(table, lang), None), (_sheets_note(names, rows[table], lang), None))
    if "reason" in summary:
        r += 1
        line((word("note", lang), None), (str(summary["reason"]), None))


def _sheets_note(names: list[str], rows: int, lang: str) -> str:
    if lang == "zh":
        text = f"共 {rows:,} 行，工作表 {'、'.join(names)}"
        return text + (f"（Excel 每个工作表最多 {MAX_ROWS:,} 行，其余行接续在后面的工作表）"
                       if len(names) > 1 else "")
    text = f"{rows:,} rows on sheet{'s' if len(names) > 1 else ''} {', '.join(names)}"
    return text + (f" (Excel holds {MAX_ROWS:,} rows a sheet: the rows continue on the next "
                   "sheets)" if len(names) > 1 else "")


def _reason_counts(excluded: pa.Table) -> dict[str, int]:
    """Rows per reason code, in the order of the codes' dictionary (the writer's order)."""
    reasons: dict[str, int] = {}
    for chunk in excluded.column("reason").chunks:
        counts = np.bincount(chunk.indices.to_numpy(zero_copy_only=False),
                             minlength=len(chunk.dictionary))
        for code, n in zip(chunk.dictionary.to_pylist(), counts.tolist(), strict=True):
            if code:
                reasons[code] = reasons.get(code, 0) + n
    return {code: n for code, n in reasons.items() if n}


def write_xlsx(path: Path, plan: pa.Table, excluded: pa.Table, summary: dict[str, Any],
               lang: str = "en") -> None:
    """plan.xlsx at `path` (its constant_memory scratch files in the same folder)."""
    log.info("plan.xlsx: %s plan rows, %s excluded rows", f"{plan.num_rows:,}",
             f"{excluded.num_rows:,}")
    cells = plan.num_rows * len(PLAN_SHEET) + excluded.num_rows * len(EXCLUDED_SHEET)
    book = xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "tmpdir": str(path.parent), "nan_inf_to_errors": True,
        "use_zip64": cells > ZIP64_CELLS})
    try:
        book.set_properties({"created": CREATED, "title": f"enroll-opt: {summary['name']}"})
        fmt = _Formats.of(book)
        names_zh = {pid: str(p.get("name_zh", "")) for pid, p in summary["programs"].items()}
        sheets = {"plan": _write_table(book, word("plan", lang), plan, PLAN_SHEET, lang, fmt,
                                       names_zh),
                  "excluded": _write_table(book, word("excluded", lang), excluded,
                                           EXCLUDED_SHEET, lang, fmt, names_zh)}
        _summary_sheet(book, summary, _reason_counts(excluded), sheets,
                       {"plan": plan.num_rows, "excluded": excluded.num_rows}, lang, fmt)
    finally:
        book.close()
