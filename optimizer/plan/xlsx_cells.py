"""plan.xlsx's cells as XML text: escaping, inline strings, numbers, and a table piece's rows.

Texts are always inline strings (never read as formulas or links), escaped as Excel and XlsxWriter
do: & < > as entities, control characters (and the non-characters U+FFFE, U+FFFF, illegal in XML)
as `_xHHHH_`, a literal `_xHHHH_` kept by writing its underscore as `_x005F_`, leading or trailing
white space kept with xml:space="preserve", and texts longer than Excel's 32,767 UTF-16 units cut
there. Numbers are stored as numbers with a display format (money `¥#,##0.00`, units `#,##0.000`,
fee rates as percent); a NaN or an infinity is an error value (#NUM!, #DIV/0!).

The big sheets' rows are made here in bulk (rows_xml): each column of a piece of rows becomes its
cells' XML text in numpy/pyarrow kernels, no Python code per cell. Which sheets and files hold
them is optimizer/plan/xlsx.py's; the zip package around them optimizer/plan/xlsx_package.py's.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.text import TEXT, fixed_text, join_text

STRMAX = 32_767  # Excel's longest text, in UTF-16 units

MONEY, UNITS, RATE, COUNT, PERCENT = "¥#,##0.00", "#,##0.000", "0.0##%", "#,##0", "0.0000%"
HEADER_STYLE = 1  # index into styles.xml's cellXfs: bold, a bottom border, a light grey fill
STYLES = {MONEY: 2, UNITS: 3, RATE: 4, COUNT: 5, PERCENT: 6}  # the number formats' cellXfs

# (column, kind, number format, width); kinds: text, name (a program's Chinese name), number,
# rate (text holding a decimal)
Column = tuple[str, str, str | None, float]

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


def escape_controls(text: str) -> str:
    """Control characters as Excel's `_xHHHH_`; a literal `_xHHHH_` gets `_x005F_` (an escaped
    underscore) in front so that Excel does not decode it."""
    text = _ESCAPED_ESCAPE.sub(r"_x005F\1", text)
    return _CONTROL.sub(lambda m: f"_x{ord(m.group(1)):04X}_", text)


def escape(text: str) -> str:
    """XML character data: & < > as entities (quotes need none outside attributes)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attribute(text: str) -> str:
    return escape(text).replace('"', "&quot;")


def inline_text(text: str) -> str:
    """One text as the end of an inline-string cell: `<t>...</t></is></c>`."""
    text = escape_controls(_truncate(text))
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
        texts = _patch(texts, odd, [escape_controls(t) for t in texts.take(odd).to_pylist()])
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


def row_xml(r: int, cells: list[tuple[int, Any, int | None]]) -> str:
    """`<row>` r (1-based) of (column, value, style) cells; None values are left out."""
    body = "".join(_cell(f"{column_letter(c)}{r}", v, s) for c, v, s in cells if v is not None)
    return f'<row r="{r}">{body}</row>'



# ---------------------------------------------------------------- the big sheets, in bulk

class Fragments:
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


def number_texts(values: np.ndarray, decimals: int) -> pa.Array:
    """The CSV's text of each number, trailing zeros (and then the point) dropped."""
    return pc.ascii_rtrim(pc.ascii_rtrim(fixed_text(values, decimals), "0"), ".")


def rows_xml(batch: pa.RecordBatch, first: int, columns: tuple[Column, ...],
              fragments: Fragments) -> pa.Array:
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
            texts = number_texts(values, int(field.metadata[b"decimals"]))
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
