"""plan.xlsx: the plan, the exclusions and a summary in one workbook, for merchants in Excel.

The workbook's XML is written directly, the big sheets a column at a time like the CSV files
(csvtext.py): each column of a piece of rows becomes its cells' XML text in numpy/pyarrow kernels
(xlsx_cells.py), the cells are joined into `<row>` elements and the piece is deflated into the zip
member (xlsx_package.py), so memory stays flat and no Python code runs per cell (a cell-by-cell
writer spent ~18 µs a cell). This module says which sheets the workbook has and what is on them.

Numbers' values are exactly the ones the CSV files show (the CSV's decimal text itself, trailing
zeros dropped), so sums in Excel agree with the CSV.

Excel holds 1,048,576 rows a sheet (the header included); a longer table continues on further
sheets, "excluded (2)", "excluded (3)", ..., each with the header, and the summary sheet says so.

The file is deterministic: fixed dates in the package, and the summary sheet holds nothing that
depends on the clock (no timings: those are in summary.json). Same tables, same bytes.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.plan.csvtext import write_buffer
from optimizer.plan.lang import (
    REASON_MEANINGS,
    bracket,
    header,
    list_text,
    status_text,
    word,
)
from optimizer.plan.xlsx_cells import (
    COUNT,
    HEADER_STYLE,
    MONEY,
    PERCENT,
    RATE,
    STYLES,
    UNITS,
    Column,
    Fragments,
    column_letter,
    row_xml,
    rows_xml,
)
from optimizer.plan.xlsx_cells import inline_text as inline_text
from optimizer.plan.xlsx_cells import inline_texts as inline_texts
from optimizer.plan.xlsx_package import ZIP_DATE as ZIP_DATE
from optimizer.plan.xlsx_package import Book, package_parts, sheet_xml
from optimizer.text import TEXT

log = logging.getLogger(__name__)

MAX_ROWS = 1_048_576  # Excel's limit of rows a sheet, the header row included
CHUNK_ROWS = 1 << 17  # rows turned into XML and deflated at a time

PLAN_SHEET: tuple[Column, ...] = (
    ("sku_id", "text", None, 16), ("offer_id", "text", None, 14),
    ("program", "text", None, 16), ("program_name", "name", None, 18),
    ("price", "number", MONEY, 12), ("units", "number", UNITS, 12),
    ("revenue", "number", MONEY, 15), ("fee_rate", "rate", RATE, 8),
    ("fees", "number", MONEY, 14), ("margin", "number", MONEY, 15),
    ("change", "text", None, 9), ("warning", "text", None, 50))
# SPEC 6.1, with today's enrollments: what the merchant does, the rows not kept (register new,
# change a price), the exits (at today's price) and the kept rows that now break a rule
TODO_SHEET: tuple[Column, ...] = (
    ("sku_id", "text", None, 16), ("program", "text", None, 16),
    ("program_name", "name", None, 18), ("price", "number", MONEY, 12),
    ("change", "text", None, 9), ("warning", "text", None, 50))
EXCLUDED_SHEET: tuple[Column, ...] = (
    ("sku_id", "text", None, 16), ("program", "text", None, 16),
    ("program_name", "name", None, 18), ("reason", "text", None, 15), ("detail", "text", None, 70))


def _max_row_bytes(table: pa.Table, columns: tuple[Column, ...], fragments: Fragments) -> int:
    """An upper bound of one row's XML bytes: does a sheet need zip64 (past 2 GiB)?"""
    total = 40
    for name, kind, _, _ in columns:
        longest = 64  # `<c r="XFD1048576" ...`, the tags
        if kind == "number":
            values = table.column(name).to_numpy()
            finite = np.abs(values[np.isfinite(values)])
            longest += 400 if finite.size and finite.max() >= 1e40 else 60
        else:
            for chunk in table.column("program" if kind == "name" else name).chunks:
                if isinstance(chunk, pa.DictionaryArray):
                    made = fragments.of_dictionary(kind, chunk.dictionary)
                    most = pc.max(pc.binary_length(made)).as_py() or 0
                else:  # escaping makes a text at most 7 times longer (a control character)
                    most = 7 * (pc.max(pc.binary_length(chunk)).as_py() or 0) + 64
                longest = max(longest, 64 + most)
        total += longest
    return total


def _table_sheets(base: str, rows: int, columns: int) -> list[tuple[str, str | None]]:
    """The sheets of a table of `rows` rows: names and autofilter ranges (a header-only sheet's
    range takes one empty row, as XlsxWriter's did)."""
    per_sheet, last = MAX_ROWS - 1, column_letter(columns - 1)
    return [(name, f"A1:{last}{max(1, min(per_sheet, rows - k * per_sheet)) + 1}")
            for k, name in enumerate(sheet_names(base, rows))]


def _write_table(book: Book, base: str, table: pa.Table, columns: tuple[Column, ...],
                 lang: str, fragments: Fragments) -> list[str]:
    """The table on as many sheets as it needs; returns their names."""
    per_sheet = MAX_ROWS - 1
    names = sheet_names(base, table.num_rows)
    first = book.written
    row_bytes = _max_row_bytes(table, columns, fragments)
    layout = [(float(width), STYLES[f] if f else None) for _, _, f, width in columns]
    header_row = row_xml(1, [(c, header(name, lang), HEADER_STYLE)
                          for c, (name, _, _, _) in enumerate(columns)])
    done = 0
    for k, name in enumerate(names):
        part = table.slice(k * per_sheet, per_sheet)
        autofilter = book.sheets[first + k][1]
        head, tail = sheet_xml(part.num_rows + 1, layout, True, book.written == 0, autofilter)
        zip64 = (part.num_rows + 1) * row_bytes > zipfile.ZIP64_LIMIT
        with book.sheet(name, zip64) as fh:
            fh.write((head + header_row).encode("utf-8"))
            row = 2
            for batch in part.to_batches(max_chunksize=CHUNK_ROWS):
                if batch.num_rows:
                    write_buffer(fh, rows_xml(batch, row, columns, fragments))
                    row += batch.num_rows
                    done += batch.num_rows
                    log.debug("plan.xlsx: %s %d / %d rows", base, done, table.num_rows)
            fh.write(tail.encode("utf-8"))
    return names



# ---------------------------------------------------------------- the summary sheet

def _summary_sheet(book: Book, summary: dict[str, Any], reasons: dict[str, int],
                   sheets: dict[str, list[str]], rows: dict[str, int], lang: str) -> None:
    lines: list[str] = []
    r = 0
    money, count = STYLES[MONEY], STYLES[COUNT]

    def line(*cells: tuple[Any, int | None]) -> None:
        nonlocal r
        r += 1
        lines.append(row_xml(r, [(c, v, s) for c, (v, s) in enumerate(cells)]))

    def heading(*labels: str) -> None:
        line(*((label, HEADER_STYLE) for label in labels))

    heading(word("item", lang), word("figure", lang))
    line((word("name", lang), None), (str(summary["name"]), None))
    line((word("status", lang), None), (status_text(summary["status"], lang), None))
    line((word("objective", lang), None), (summary["objective"], money))
    line((word("bound", lang), None), (summary["bound"], money))
    line((word("gap", lang), None), (summary["gap"], STYLES[PERCENT]))
    r += 1
    heading(header("program", lang), header("program_name", lang), word("enrolled_skus", lang),
            header("units", lang), header("revenue", lang), header("fees", lang),
            header("margin", lang), word("counts_toward_gmv", lang))
    for pid, p in summary["programs"].items():
        line((pid, None), (p.get("name_zh", ""), None), (p["enrolled_skus"], count),
             (p["units"], STYLES[UNITS]), (p["revenue"], money), (p["fees"], money),
             (p["margin"], money),
             (word("yes" if p.get("counts_toward_gmv") else "no", lang), None))
    if summary["constraints"]:
        r += 1
        heading(word("constraint", lang), word("value", lang), word("limit", lang))
        for name, c in summary["constraints"].items():
            number = count if name.startswith("max_skus.") else money
            line((name, None), (c["value"], number), (c["limit"], number))
            if "baseline" in c:  # gmv_min: what counted toward the 通天 target
                line((word("gmv_baseline", lang), None), (c["baseline"], money))
                line((word("gmv_counted", lang) + bracket(list_text(c["counted_programs"], lang),
                                                          lang), None),
                     (c["counted_revenue"], money))
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
    head, tail = sheet_xml(r, [(26, None), (34, None), *[(18, None)] * 6], False, False, None)
    with book.sheet(word("summary", lang)) as fh:
        fh.write((head + "".join(lines) + tail).encode("utf-8"))


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



def _texts(column: pa.ChunkedArray) -> pa.Array:
    """A column's values as plain text (dictionary columns decoded)."""
    return pc.cast(column, TEXT).combine_chunks()


def todo_table(plan: pa.Table, excluded: pa.Table, summary: dict[str, Any]) -> pa.Table | None:
    """The to-do sheet's rows (None without today's enrollments, when every row is new): plan
    rows whose change is not keep or that carry a warning, then the EXIT rows of excluded with
    today's price and change `exit`."""
    changes = summary.get("changes") or {}
    if not any(changes.get(c, 0) for c in ("keep", "reprice", "exit")):
        return None
    change, warning = _texts(plan.column("change")), _texts(plan.column("warning"))
    rows = plan.filter(pc.or_(pc.not_equal(change, "keep"), pc.not_equal(warning, "")))
    gone = excluded.filter(pc.equal(_texts(excluded.column("reason")), "EXIT"))
    today = pc.replace_substring(_texts(gone.column("detail")), "current price ", "")
    price = pa.concat_arrays([rows.column("price").combine_chunks(),
                              pc.cast(today, pa.float64())])
    columns = {
        "sku_id": pa.concat_arrays([_texts(rows.column("sku_id")),
                                    _texts(gone.column("sku_id"))]),
        "program": pa.concat_arrays([_texts(rows.column("program")),
                                     _texts(gone.column("program"))]),
        "price": price,
        "change": pa.concat_arrays([_texts(rows.column("change")),
                                    pa.array(["exit"] * gone.num_rows, TEXT)]),
        "warning": pa.concat_arrays([_texts(rows.column("warning")),
                                     pa.array([""] * gone.num_rows, TEXT)]),
    }
    schema = pa.schema([pa.field(n, a.type, metadata={b"decimals": b"2"} if n == "price"
                                 else None) for n, a in columns.items()])
    return pa.Table.from_arrays(list(columns.values()), schema=schema)


def sheet_names(base: str, rows: int) -> list[str]:
    """The sheets a table of `rows` data rows takes: "base", "base (2)", ..."""
    count = max(1, -(-rows // (MAX_ROWS - 1)))
    return [base if k == 0 else f"{base} ({k + 1})" for k in range(count)]


def write_xlsx(path: Path, plan: pa.Table, excluded: pa.Table, summary: dict[str, Any],
               lang: str = "en") -> None:
    """plan.xlsx at `path`, written in one pass (no scratch files)."""
    log.info("plan.xlsx: %s plan rows, %s excluded rows", f"{plan.num_rows:,}",
             f"{excluded.num_rows:,}")
    plan_name, excluded_name = word("plan", lang), word("excluded", lang)
    todo = todo_table(plan, excluded, summary)
    todo_sheets = ([] if todo is None else
                   _table_sheets(word("todo", lang), todo.num_rows, len(TODO_SHEET)))
    book = Book(path, [*_table_sheets(plan_name, plan.num_rows, len(PLAN_SHEET)), *todo_sheets,
                        *_table_sheets(excluded_name, excluded.num_rows, len(EXCLUDED_SHEET)),
                        (word("summary", lang), None)])
    try:
        package_parts(book, f"enroll-opt: {summary['name']}")
        fragments = Fragments({pid: str(p.get("name_zh", ""))
                                for pid, p in summary["programs"].items()})
        sheets = {"plan": _write_table(book, plan_name, plan, PLAN_SHEET, lang, fragments)}
        rows = {"plan": plan.num_rows, "excluded": excluded.num_rows}
        if todo is not None:
            sheets["todo"] = _write_table(book, word("todo", lang), todo, TODO_SHEET, lang,
                                          fragments)
            rows["todo"] = todo.num_rows
        sheets["excluded"] = _write_table(book, excluded_name, excluded, EXCLUDED_SHEET, lang,
                                          fragments)
        _summary_sheet(book, summary, _reason_counts(excluded), sheets, rows, lang)
    finally:
        book.zip.close()
