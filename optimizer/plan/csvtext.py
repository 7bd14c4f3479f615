"""CSV text in bulk: Arrow columns encoded as exactly the bytes Python's csv module writes.

`csv.writer(..., lineterminator="\\n")` with its default minimal quoting, numbers as Python's
f-strings format them (a number column's field metadata `decimals`), a table a piece of
CHUNK_ROWS rows at a time: numpy and pyarrow string kernels, no Python loop per row. What goes in
the files is optimizer/plan/writer.py's; this module only knows how a table becomes CSV bytes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import IO, Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.text import TEXT, fixed_text, join_text

DECIMALS = b"decimals"  # field metadata of a number column: it is written f"{v:.{decimals}f}"
CHUNK_ROWS = 1 << 18  # rows formatted, joined and written at a time


def csv_row(fields: tuple[str, ...] | list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()


def _quote_rule() -> tuple[str, bool]:
    """Which characters make the csv module quote a field (asked of it, as it varies with the
    Python version: 3.11 quotes for ',', '"' and the line terminator only), and whether it quotes
    an empty field in a row of several."""
    chars = ""
    for c in map(chr, range(128)):
        try:
            plain = csv_row([f"a{c}b", ""]) == f"a{c}b,\n"
        except csv.Error:  # a character it cannot write at all (NUL in old Pythons)
            plain = True
        chars += "" if plain else c
    return chars, csv_row(["", ""]) != ",\n"


_QUOTE_CHARS, _QUOTE_EMPTY = _quote_rule()
_QUOTE_BYTES = tuple(np.uint8(ord(c)) for c in _QUOTE_CHARS)
_SCAN_BYTES = 1 << 18


def _offsets(texts: pa.Array) -> np.ndarray:
    """The len(texts) + 1 offsets of a large_string array into its data buffer."""
    return np.frombuffer(texts.buffers()[1], np.int64)[texts.offset:texts.offset + len(texts) + 1]


def csv_fields(texts: pa.Array) -> pa.Array:
    """Each text as one field of a CSV row: quoted, inner quotes doubled, where the csv module
    quotes it. Which ones need quotes is found in numpy passes over all their bytes."""
    size = len(texts)
    if size == 0:
        return texts
    offsets = _offsets(texts)
    data = texts.buffers()[2]
    raw = (np.frombuffer(data, np.uint8)[offsets[0]:offsets[-1]] if data is not None
           else np.zeros(0, np.uint8))
    must = np.zeros(size, bool)
    special = np.empty(min(raw.size, _SCAN_BYTES), bool)
    scratch = np.empty_like(special)
    for start in range(0, raw.size, _SCAN_BYTES):  # a cache-sized piece at a time
        piece = raw[start:start + _SCAN_BYTES]
        found, spare = special[:piece.size], scratch[:piece.size]
        found[:] = False
        for c in _QUOTE_BYTES:
            found |= np.equal(piece, c, out=spare)
        hits = np.flatnonzero(found) + (offsets[0] + start)
        must[np.searchsorted(offsets, hits, side="right") - 1] = True
    if _QUOTE_EMPTY:
        must |= offsets[1:] == offsets[:-1]
    rows = np.flatnonzero(must)
    if rows.size == 0:
        return texts
    quoted = join_text('"', pc.replace_substring(texts.take(rows), '"', '""'), '"')
    where = np.arange(size, dtype=np.int64)
    where[rows] = size + np.arange(rows.size)
    return pa.concat_arrays([texts, quoted]).take(where)


def write_buffer(fh: IO[bytes], texts: pa.Array) -> None:
    """The bytes of a large_string array, all its values back to back."""
    if len(texts) == 0:
        return
    offsets = _offsets(texts)
    fh.write(memoryview(texts.buffers()[2])[offsets[0]:offsets[-1]])


Part = tuple[pa.Array, np.ndarray | None]  # CSV-ready texts, and which one each row takes


class Pools:
    """Dictionaries of a table as CSV fields (quoted, joined with a neighbour, with the line break
    in front), each made once: the pieces of a table share their dictionaries."""

    def __init__(self) -> None:
        self.made: dict[tuple[Any, ...], pa.Array] = {}

    @staticmethod
    def key(texts: pa.Array) -> tuple[Any, ...]:
        """Which array (the table holds it, so no other takes its place while writing)."""
        return (str(texts.type), texts.offset, len(texts),
                *(b.address if b is not None else 0 for b in texts.buffers()))

    def get(self, how: tuple[Any, ...], make: Callable[..., pa.Array], *args: Any) -> pa.Array:
        if how not in self.made:
            self.made[how] = make(*args)
        return self.made[how]


def _every_pair(first: pa.Array, second: pa.Array) -> pa.Array:
    """"a,b" for every a of first and b of second, at a * len(second) + b."""
    grid = np.arange(len(first) * len(second))
    return join_text(first.take(grid // len(second)), second.take(grid % len(second)), sep=",")


def _side_by_side(first: pa.Array, second: pa.Array) -> pa.Array:
    return join_text(first, second, sep=",")


def _line_break(texts: pa.Array) -> pa.Array:
    return join_text("\n", texts)


def csv_parts(batch: pa.RecordBatch, pools: Pools) -> list[Part]:
    """One piece of a table as CSV fields. Neighbouring dictionary columns are joined up front
    when their pools are small (program and reason: every pair) or when the rows take the same
    entry of same-sized pools (sku_id and offer_id), so rows have fewer parts to join."""
    parts: list[Part] = []
    keys: list[tuple[Any, ...] | None] = []
    for i, field in enumerate(batch.schema):
        column = batch.column(i)
        if isinstance(column, pa.DictionaryArray):
            key: tuple[Any, ...] = ("quoted", Pools.key(column.dictionary))
            texts = pools.get(key, lambda d: csv_fields(d.cast(TEXT)), column.dictionary)
            rows = column.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
            before_key = keys[-1] if keys else None
            if before_key is not None:
                before, before_rows = parts[-1]
                assert before_rows is not None
                if len(before) <= 64 and len(texts) <= 64:
                    key = (before_key, key, "pairs")
                    parts[-1] = (pools.get(key, _every_pair, before, texts),
                                 before_rows * len(texts) + rows)
                    keys[-1] = key
                    continue
                if len(before) == len(texts) and np.array_equal(before_rows, rows):
                    key = (before_key, key, "side by side")
                    parts[-1] = (pools.get(key, _side_by_side, before, texts), rows)
                    keys[-1] = key
                    continue
            parts.append((texts, rows))
            keys.append(key)
        elif field.metadata and DECIMALS in field.metadata:
            values = column.to_numpy(zero_copy_only=False)
            parts.append((fixed_text(values, int(field.metadata[DECIMALS])), None))
            keys.append(None)
        else:
            parts.append((csv_fields(column.cast(TEXT)), None))
            keys.append(None)
    first, rows = parts[0]  # the line break before each row
    first_key = keys[0]
    parts[0] = (pools.get(("line", first_key), _line_break, first) if first_key is not None
                else _line_break(first), rows)
    return parts


def write_csv(fh: BinaryIO, header: tuple[str, ...], table: pa.Table,
               labels: tuple[str, ...] | None = None) -> None:
    """header + rows, each line ended by '\\n': written as the header without its '\\n', then
    every row with a '\\n' in front (carried by its first field), then the last '\\n'.
    `labels` are the header's words when they are not the column names (--lang zh)."""
    fh.write(csv_row(labels or header)[:-1].encode("utf-8"))
    pools = Pools()
    for batch in table.select(list(header)).to_batches(max_chunksize=CHUNK_ROWS):
        if batch.num_rows:
            parts = csv_parts(batch, pools)
            write_buffer(fh, join_text(*(texts if rows is None else texts.take(rows)
                                          for texts, rows in parts), sep=","))
    fh.write(b"\n")
