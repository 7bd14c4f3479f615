"""plan.xlsx: the plan, the exclusions and a summary in one workbook, for merchants in Excel.

The workbook's XML is written here directly, the big sheets a column at a time like the CSV files
(writer.py): each column of a piece of rows becomes its cells' XML text in numpy/pyarrow kernels,
the cells are joined into `<row>` elements and the piece is deflated into the zip member, so
memory stays flat and no Python code runs per cell (a cell-by-cell writer spent ~18 µs a cell).

Numbers are stored as numbers with a display format (money `¥#,##0.00`, units `#,##0.000`, fee
rates as percent), and their values are exactly the ones the CSV files show (the CSV's decimal
text itself, trailing zeros dropped), so sums in Excel agree with the CSV; a NaN or an infinity
would be an error value (#NUM!, #DIV/0!). Texts are always inline strings (never read as formulas
or links), escaped as Excel and XlsxWriter do: & < > as entities, control characters (and the
non-characters U+FFFE, U+FFFF, illegal in XML) as `_xHHHH_`, a literal `_xHHHH_` kept by writing
its underscore as `_x005F_`, leading or trailing white space kept with xml:space="preserve", and
texts longer than Excel's 32,767 UTF-16 units cut there.

Excel holds 1,048,576 rows a sheet (the header included); a longer table continues on further
sheets, "excluded (2)", "excluded (3)", ..., each with the header, and the summary sheet says so.

The file is deterministic: every zip member has the same fixed date, the document's creation time
is fixed, and the summary sheet holds nothing that depends on the clock (no timings: those are in
summary.json). Same tables, same bytes.
"""

from __future__ import annotations

import logging
import re
import zipfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.plan.lang import REASON_MEANINGS, header, status_text, word
from optimizer.text import TEXT, fixed_text, join_text

log = logging.getLogger(__name__)

MAX_ROWS = 1_048_576  # Excel's limit of rows a sheet, the header row included
CREATED = "2024-01-01T00:00:00Z"  # the document's creation time, fixed: same input, same bytes
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # every zip member's date, fixed for the same reason
CHUNK_ROWS = 1 << 17  # rows turned into XML and deflated at a time
LEVEL = 6  # zlib's default; deflating is much of the time, but level 1 makes the file ~20 % larger
STRMAX = 32_767  # Excel's longest text, in UTF-16 units

MONEY, UNITS, RATE, COUNT, PERCENT = "¥#,##0.00", "#,##0.000", "0.0##%", "#,##0", "0.0000%"
HEADER_STYLE = 1  # index into styles.xml's cellXfs: bold, a bottom border, a light grey fill
STYLES = {MONEY: 2, UNITS: 3, RATE: 4, COUNT: 5, PERCENT: 6}  # the number formats' cellXfs

# (column, kind, number format, width); kinds: text, name (a program's Chinese name), number,
# rate (text holding a decimal)
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

_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument."

# ---------------------------------------------------------------- texts and numbers as cell XML

_ESCAPED_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
_CONTROL = re.compile("([\x00-\x08\x0b-\x1f\ufffe\uffff])")
_NEEDS_ESCAPE = r"[\x00-\x08\x0b-\x1f\x{FFFE}\x{FFFF}]|_x[0-9a-fA-F]{4}_"  # RE2, for arrays
# white space at either end, as Python's `\s` (XlsxWriter's test) finds it once the control
# characters are escaped: tab, line feed, space, NEL and Unicode's separators
_PRESERVE = r"^[\t\n \x{85}\p{Z}]|[\t\n \x{85}\p{Z}]$"
_PRESERVE_PY = re.compile(r"^\s|\s$")


def _truncate(text: str) -> str:
    """At most STRMAX UTF-16 units, a character beyond U+FFFF not split (Excel's limit)."""
    if len(text) <= STRMAX // 2:
        return text
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > STRMAX:
            return text[:i]
    return text


def _escape_controls(text: str) -> str:
    """Control characters as Excel's `_xHHHH_`; a literal `_xHHHH_` gets `_x005F_` (an escaped
    underscore) in front so that Excel does not decode it."""
    text = _ESCAPED_ESCAPE.sub(r"_x005F\1", text)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)


def escape(text: str) -> str:
    """XML character data: & < > as entities (quotes need none outside attributes)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def inline_text(text: str) -> str:
    """One text as the end of an inline-string cell: `<t>...</t></is></c>`."""
    text = _escape_controls(_truncate(text))
    keep = ' xml:space="preserve"' if _PRESERVE_PY.search(text) else ""
    return f"<t{keep}>{escape(text)}</t></is></c>"


def _patch(texts: pa.Array, rows: np.ndarray, values: list[str]) -> pa.Array:
    """texts with those rows replaced by values."""
    where = np.arange(len(texts), dtype=np.int64)
    where[rows] = len(texts) + np.arange(rows.size)
    return pa.concat_arrays([texts, pa.array(values, TEXT)]).take(where)


def inline_texts(texts: pa.Array) -> pa.Array:
    """inline_text() of every text of an array, in string kernels; only the rare texts that are
    too long or hold control characters or `_xHHHH_` go through Python."""
    texts = pc.fill_null(texts.cast(TEXT), "")
    long = np.flatnonzero(pc.utf8_length(texts).to_numpy(zero_copy_only=False) > STRMAX // 2)
    if long.size:
        texts = _patch(texts, long, [_truncate(t) for t in texts.take(long).to_pylist()])
    odd = np.flatnonzero(pc.match_substring_regex(texts, _NEEDS_ESCAPE)
                         .to_numpy(zero_copy_only=False))
    if odd.size:
        texts = _patch(texts, odd, [_escape_controls(t) for t in texts.take(odd).to_pylist()])
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        texts = pc.replace_substring(texts, char, entity)
    keep = pc.match_substring_regex(texts, _PRESERVE)
    opening = pc.if_else(keep, pa.scalar('<t xml:space="preserve">', TEXT),
                         pa.scalar("<t>", TEXT))
    return join_text(opening, texts, "</t></is></c>")


def number_tail(value: float, style: int | None) -> str:
    """The end of a number cell from its style on: the value as XlsxWriter wrote it (`%.16G`);
    a NaN or an infinity as the error XlsxWriter showed for it (#NUM!, #DIV/0!), here an error
    value rather than its formula `1/0`, so that the workbook holds no formula at all."""
    s = f' s="{style}"' if style else ""
    if value != value:
        return f'{s} t="e"><v>#NUM!</v></c>'
    if value in (float("inf"), float("-inf")):
        return f'{s} t="e"><v>#DIV/0!</v></c>'
    return f"{s}><v>{value:.16G}</v></c>"


def column_letter(c: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    c += 1
    while c:
        c, r = divmod(c - 1, 26)
        letters = chr(65 + r) + letters
    return letters


def _cell(ref: str, value: Any, style: int | None = None) -> str:
    """One cell of a small sheet (headers, the summary), text or number."""
    if isinstance(value, str):
        s = f' s="{style}"' if style else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is>{inline_text(value)}'
    return f'<c r="{ref}"' + number_tail(float(value), style)


def _row(r: int, cells: list[tuple[int, Any, int | None]]) -> str:
    """`<row>` r (1-based) of (column, value, style) cells; None values are left out."""
    body = "".join(_cell(f"{column_letter(c)}{r}", v, s) for c, v, s in cells if v is not None)
    return f'<row r="{r}">{body}</row>'


# ---------------------------------------------------------------- the big sheets, in bulk

class _Fragments:
    """The cells' XML after `<c r="A2"` for the text-like columns. A dictionary's entries are
    made once: the tables' pieces share their dictionaries (plan and excluded the SKU ids)."""

    def __init__(self, names_zh: dict[str, str]) -> None:
        self.names_zh = names_zh
        # (kind, which array) -> (the array, kept so that its address is not reused; its XML)
        self.made: dict[tuple[Any, ...], tuple[pa.Array, pa.Array]] = {}

    def make(self, kind: str, texts: pa.Array) -> pa.Array:
        """Each text's fragment: an inline string (kind text, or name: the program id's Chinese
        name), or a fee rate's number (rate)."""
        if kind == "name":
            return inline_texts(pa.array([self.names_zh.get(p, "") for p in texts.to_pylist()],
                                         TEXT))
        if kind == "rate":
            return pa.array([number_tail(float(t), STYLES[RATE]) for t in texts.to_pylist()],
                            TEXT)
        return inline_texts(texts)

    def of_dictionary(self, kind: str, texts: pa.Array) -> pa.Array:
        key = (kind, str(texts.type), texts.offset, len(texts),
               *(b.address if b is not None else 0 for b in texts.buffers()))
        if key not in self.made:
            self.made[key] = (texts, self.make(kind, texts))
        return self.made[key][1]

    def cells(self, kind: str, column: pa.Array) -> pa.Array:
        """The fragment of every row of a piece of a column."""
        if isinstance(column, pa.DictionaryArray):
            return self.of_dictionary(kind, column.dictionary).take(column.indices)
        if kind == "text":
            return self.make(kind, column)
        coded = pc.dictionary_encode(column)
        return self.make(kind, coded.dictionary).take(coded.indices)


def _number_texts(values: np.ndarray, decimals: int) -> pa.Array:
    """The CSV's text of each number, trailing zeros (and then the point) dropped."""
    return pc.ascii_rtrim(pc.ascii_rtrim(fixed_text(values, decimals), "0"), ".")


def _rows_xml(batch: pa.RecordBatch, first: int, columns: tuple[_Column, ...],
              fragments: _Fragments) -> pa.Array:
    """The `<row>` elements of a piece of a table, its first row numbered `first`."""
    numbers = pa.array(np.arange(first, first + batch.num_rows, dtype=np.int64)).cast(TEXT)
    parts: list[pa.Array | str] = ['<row r="', numbers, '">']
    for c, (name, kind, number_format, _) in enumerate(columns):
        parts += [f'<c r="{column_letter(c)}', numbers]
        if kind == "number":
            assert number_format is not None
            style = STYLES[number_format]
            field = batch.schema.field(name)
            assert field.metadata is not None
            values = batch.column(name).to_numpy(zero_copy_only=False)
            texts = _number_texts(values, int(field.metadata[b"decimals"]))
            odd = np.flatnonzero(~np.isfinite(values))
            if odd.size:
                tails = join_text(f' s="{style}"><v>', texts, "</v></c>")
                parts += ['"', _patch(tails, odd, [number_tail(v, style)
                                                   for v in values[odd].tolist()])]
            else:
                parts += [f'" s="{style}"><v>', texts, "</v></c>"]
            continue
        made = fragments.cells(kind, batch.column("program" if kind == "name" else name))
        parts += ['"', made] if kind == "rate" else ['" t="inlineStr"><is>', made]
    parts.append("</row>")
    return join_text(*parts)


def _max_row_bytes(table: pa.Table, columns: tuple[_Column, ...], fragments: _Fragments) -> int:
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


def _sheet_xml(rows: int, columns: list[tuple[float, int | None]], frozen: bool,
               selected: bool, autofilter: str | None) -> tuple[str, str]:
    """A worksheet's XML before and after its rows: `rows` rows (the header included), columns
    as (width, style), the top row frozen or not, an autofilter range or none."""
    last = column_letter(len(columns) - 1)
    view = ' tabSelected="1"' if selected else ""
    pane = ('<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft"/>') if frozen else ""
    view_xml = (f'<sheetView{view} workbookViewId="0">{pane}</sheetView>' if pane
                else f'<sheetView{view} workbookViewId="0"/>')
    cols = "".join(
        f'<col min="{c + 1}" max="{c + 1}" width="{int((w * 7 + 5) / 7 * 256) / 256}"'
        + (f' style="{s}"' if s else "") + ' customWidth="1"/>'
        for c, (w, s) in enumerate(columns))
    head = (f"{_DECL}<worksheet {_NS}><dimension ref=\"A1:{last}{max(rows, 1)}\"/>"
            f"<sheetViews>{view_xml}</sheetViews><sheetFormatPr defaultRowHeight=\"15\"/>"
            f"<cols>{cols}</cols><sheetData>")
    tail = ("</sheetData>" + (f'<autoFilter ref="{autofilter}"/>' if autofilter else "")
            + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
            'footer="0.3"/></worksheet>')
    return head, tail


def _write_buffer(fh: IO[bytes], texts: pa.Array) -> None:
    """The bytes of a large_string array, all its values back to back."""
    if len(texts) == 0:
        return
    offsets = np.frombuffer(texts.buffers()[1], np.int64)[texts.offset:
                                                          texts.offset + len(texts) + 1]
    fh.write(memoryview(texts.buffers()[2])[offsets[0]:offsets[-1]])


class _Book:
    """The zip file, its members written with a fixed date, and the sheets it will hold (names
    and autofilter ranges are known before any row is written, so the package's small parts can
    come first, [Content_Types].xml at the front where file-type sniffers look for it)."""

    def __init__(self, path: Path, sheets: list[tuple[str, str | None]]) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=LEVEL)
        self.sheets = sheets  # (name, autofilter range or None), in order
        self.written = 0

    def member(self, name: str, zip64: bool = False) -> IO[bytes]:
        info = zipfile.ZipInfo(name, ZIP_DATE)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = LEVEL  # type: ignore[attr-defined]  # compress_level in 3.13
        info.external_attr = 0o600 << 16
        return self.zip.open(info, "w", force_zip64=zip64)

    def part(self, name: str, xml: str) -> None:
        with self.member(name) as fh:
            fh.write(xml.encode("utf-8"))

    def sheet(self, name: str, zip64: bool = False) -> IO[bytes]:
        """The next sheet's member (`name` must be the next one planned)."""
        assert self.sheets[self.written][0] == name, (self.sheets, name)
        self.written += 1
        return self.member(f"xl/worksheets/sheet{self.written}.xml", zip64)


def _table_sheets(base: str, rows: int, columns: int) -> list[tuple[str, str | None]]:
    """The sheets of a table of `rows` rows: names and autofilter ranges (a header-only sheet's
    range takes one empty row, as XlsxWriter's did)."""
    per_sheet, last = MAX_ROWS - 1, column_letter(columns - 1)
    return [(name, f"A1:{last}{max(1, min(per_sheet, rows - k * per_sheet)) + 1}")
            for k, name in enumerate(sheet_names(base, rows))]


def _write_table(book: _Book, base: str, table: pa.Table, columns: tuple[_Column, ...],
                 lang: str, fragments: _Fragments) -> list[str]:
    """The table on as many sheets as it needs; returns their names."""
    per_sheet = MAX_ROWS - 1
    names = sheet_names(base, table.num_rows)
    first = book.written
    row_bytes = _max_row_bytes(table, columns, fragments)
    layout = [(float(width), STYLES[f] if f else None) for _, _, f, width in columns]
    header_row = _row(1, [(c, header(name, lang), HEADER_STYLE)
                          for c, (name, _, _, _) in enumerate(columns)])
    done = 0
    for k, name in enumerate(names):
        part = table.slice(k * per_sheet, per_sheet)
        autofilter = book.sheets[first + k][1]
        head, tail = _sheet_xml(part.num_rows + 1, layout, True, book.written == 0, autofilter)
        zip64 = (part.num_rows + 1) * row_bytes > zipfile.ZIP64_LIMIT
        with book.sheet(name, zip64) as fh:
            fh.write((head + header_row).encode("utf-8"))
            row = 2
            for batch in part.to_batches(max_chunksize=CHUNK_ROWS):
                if batch.num_rows:
                    _write_buffer(fh, _rows_xml(batch, row, columns, fragments))
                    row += batch.num_rows
                    done += batch.num_rows
                    log.debug("plan.xlsx: %s %d / %d rows", base, done, table.num_rows)
            fh.write(tail.encode("utf-8"))
    return names


# ---------------------------------------------------------------- the summary sheet

def _summary_sheet(book: _Book, summary: dict[str, Any], reasons: dict[str, int],
                   sheets: dict[str, list[str]], rows: dict[str, int], lang: str) -> None:
    lines: list[str] = []
    r = 0
    money, count = STYLES[MONEY], STYLES[COUNT]

    def line(*cells: tuple[Any, int | None]) -> None:
        nonlocal r
        r += 1
        lines.append(_row(r, [(c, v, s) for c, (v, s) in enumerate(cells)]))

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
            header("margin", lang))
    for pid, p in summary["programs"].items():
        line((pid, None), (p.get("name_zh", ""), None), (p["enrolled_skus"], count),
             (p["units"], STYLES[UNITS]), (p["revenue"], money), (p["fees"], money),
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
    head, tail = _sheet_xml(r, [(26, None), (34, None), *[(18, None)] * 5], False, False, None)
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


# ---------------------------------------------------------------- the package's small parts

def sheet_names(base: str, rows: int) -> list[str]:
    """The sheets a table of `rows` data rows takes: "base", "base (2)", ..."""
    count = max(1, -(-rows // (MAX_ROWS - 1)))
    return [base if k == 0 else f"{base} ({k + 1})" for k in range(count)]


def _styles_xml() -> str:
    formats = sorted(STYLES.items(), key=lambda item: item[1])
    num_fmts = "".join(f'<numFmt numFmtId="{163 + s}" formatCode="{_attr(f)}"/>'
                       for f, s in formats)
    xfs = "".join(f'<xf numFmtId="{163 + s}" fontId="0" fillId="0" borderId="0" xfId="0" '
                  'applyNumberFormat="1"/>' for _, s in formats)
    font = '<sz val="11"/><name val="Calibri"/><family val="2"/>'
    return (f'{_DECL}<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/'
            f'main"><numFmts count="{len(formats)}">{num_fmts}</numFmts>'
            f'<fonts count="2"><font>{font}</font><font><b/>{font}</font></fonts>'
            '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill '
            'patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor '
            'rgb="FFF2F2F2"/><bgColor indexed="64"/></patternFill></fill></fills>'
            '<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>'
            '<border><left/><right/><top/><bottom style="thin"><color auto="1"/></bottom>'
            '<diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" '
            f'fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="{2 + len(formats)}">'
            '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" '
            'fontId="1" fillId="2" borderId="1" xfId="0" applyFont="1" applyFill="1" '
            f'applyBorder="1"/>{xfs}</cellXfs><cellStyles count="1"><cellStyle name="Normal" '
            'xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/><tableStyles count="0" '
            'defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>'
            "</styleSheet>")


def _package_parts(book: _Book, title: str) -> None:
    """Everything but the sheets: content types, relations, properties, workbook, styles."""
    names = [name for name, _ in book.sheets]
    sheet_types = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_CT}spreadsheetml.'
        'worksheet+xml"/>' for i in range(1, len(names) + 1))
    book.part("[Content_Types].xml", (
        f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/docProps/app.xml" ContentType="{_CT}extended-properties+xml"/>'
        '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-'
        'package.core-properties+xml"/><Override PartName="/xl/styles.xml" ContentType="'
        f'{_CT}spreadsheetml.styles+xml"/><Override PartName="/xl/workbook.xml" ContentType="'
        f'{_CT}spreadsheetml.sheet.main+xml"/>{sheet_types}</Types>'))
    book.part("_rels/.rels", (
        f'{_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
        'Target="xl/workbook.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.'
        'org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{_REL}/extended-properties" Target="docProps/app.xml"/>'
        "</Relationships>"))
    book.part("docProps/core.xml", (
        f'{_DECL}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(_escape_controls(title))}</dc:title><dc:creator></dc:creator>"
        f'<cp:lastModifiedBy></cp:lastModifiedBy><dcterms:created xsi:type="dcterms:W3CDTF">'
        f'{CREATED}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">{CREATED}'
        "</dcterms:modified></cp:coreProperties>"))
    titles = "".join(f"<vt:lpstr>{escape(n)}</vt:lpstr>" for n in names)
    book.part("docProps/app.xml", (
        f'{_DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
        'extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
        'docPropsVTypes"><Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity>'
        '<ScaleCrop>false</ScaleCrop><HeadingPairs><vt:vector size="2" baseType="variant">'
        f"<vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>{len(names)}"
        f'</vt:i4></vt:variant></vt:vector></HeadingPairs><TitlesOfParts><vt:vector size="'
        f'{len(names)}" baseType="lpstr">{titles}</vt:vector></TitlesOfParts><Company></Company>'
        "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>"
        "false</HyperlinksChanged><AppVersion>12.0000</AppVersion></Properties>"))
    sheets = "".join(f'<sheet name="{_attr(n)}" sheetId="{i}" r:id="rId{i}"/>'
                     for i, n in enumerate(names, start=1))
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        + escape("'" + n.replace("'", "''") + "'!" + re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", ref))
        + "</definedName>"
        for i, (n, ref) in enumerate(book.sheets) if ref)
    book.part("xl/workbook.xml", (
        f'{_DECL}<workbook {_NS}><fileVersion appName="xl" lastEdited="4" lowestEdited="4" '
        'rupBuild="4505"/><workbookPr defaultThemeVersion="124226"/><bookViews><workbookView '
        'xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/></bookViews>'
        f"<sheets>{sheets}</sheets>" + (f"<definedNames>{filters}</definedNames>" if filters
                                         else "") + '<calcPr calcId="124519"/></workbook>'))
    relations = "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" '
                        f'Target="worksheets/sheet{i}.xml"/>' for i in range(1, len(names) + 1))
    book.part("xl/_rels/workbook.xml.rels", (
        f'{_DECL}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships">{relations}<Relationship Id="rId{len(names) + 1}" '
        f'Type="{_REL}/styles" Target="styles.xml"/></Relationships>'))
    book.part("xl/styles.xml", _styles_xml())


def write_xlsx(path: Path, plan: pa.Table, excluded: pa.Table, summary: dict[str, Any],
               lang: str = "en") -> None:
    """plan.xlsx at `path`, written in one pass (no scratch files)."""
    log.info("plan.xlsx: %s plan rows, %s excluded rows", f"{plan.num_rows:,}",
             f"{excluded.num_rows:,}")
    plan_name, excluded_name = word("plan", lang), word("excluded", lang)
    book = _Book(path, [*_table_sheets(plan_name, plan.num_rows, len(PLAN_SHEET)),
                        *_table_sheets(excluded_name, excluded.num_rows, len(EXCLUDED_SHEET)),
                        (word("summary", lang), None)])
    try:
        _package_parts(book, f"enroll-opt: {summary['name']}")
        fragments = _Fragments({pid: str(p.get("name_zh", ""))
                                for pid, p in summary["programs"].items()})
        sheets = {"plan": _write_table(book, plan_name, plan, PLAN_SHEET, lang, fragments),
                  "excluded": _write_table(book, excluded_name, excluded, EXCLUDED_SHEET, lang,
                                           fragments)}
        _summary_sheet(book, summary, _reason_counts(excluded), sheets,
                       {"plan": plan.num_rows, "excluded": excluded.num_rows}, lang)
    finally:
        book.zip.close()
