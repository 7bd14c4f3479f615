"""The output folder's files as the report reads them: their shapes, and reading them streamed.

summary.json and sweep.json are read whole (capped at JSON_LIMIT) and validated against the
pydantic models here, every problem named by file and field; the CSV files are streamed in Arrow
batches of BLOCK_BYTES, so memory stays flat for any size. What is computed from them is
optimizer/report/collect.py's.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import pyarrow as pa
import pyarrow.csv as pacsv
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from optimizer.load import InputError
from optimizer.load.errors import InputProblem
from optimizer.load.files import open_input, read_input

log = logging.getLogger(__name__)

BLOCK_BYTES = 16 << 20  # CSV bytes parsed per batch: memory stays flat for any file size
M = TypeVar("M", bound=BaseModel)


# ------------------------------------------------------------------------- file shapes (pydantic)

class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class ProgramSummary(_Model):
    name_zh: str | None = None
    enrolled_skus: int = Field(ge=0)
    units: float = 0.0
    revenue: float
    fees: float = 0.0
    margin: float
    counts_toward_gmv: bool | None = None  # None: a summary.json from before the 通天 rule


class ConstraintSummary(_Model):
    value: float
    limit: float
    # gmv_min only: value = baseline + counted_revenue, the revenue of counted_programs
    baseline: float | None = None
    counted_revenue: float | None = None
    counted_programs: list[str] | None = None


class PriceProgram(_Model):
    counts: list[int]
    below: int = 0
    above: int = 0
    at_cap: int = 0
    at_cap_by: dict[str, int] = {}
    no_cap: int = 0


class PriceVsMarket(_Model):
    edges: list[float] = Field(min_length=2)
    programs: dict[str, PriceProgram]


class Summary(_Model):
    name: str
    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    seconds: float | None = None
    programs: dict[str, ProgramSummary]
    constraints: dict[str, ConstraintSummary] = {}
    price_vs_market: PriceVsMarket | None = None
    reason: str | None = None
    changes: dict[str, int] | None = None  # SPEC 6.1: keep, new, reprice, exit (None: older)


class Axis(_Model):
    path: str
    values: list[float] = Field(min_length=1)


class PointProgram(_Model):
    enrolled_skus: int = Field(ge=0)
    gmv: float
    margin: float


class Point(_Model):
    index: int
    values: dict[str, float]
    status: str
    objective: float | None = None
    bound: float | None = None
    gap: float | None = None
    seconds: float | None = None
    programs: dict[str, PointProgram] = {}


class Breakeven(_Model):
    path: str
    programs: dict[str, float | None]


class Sweep(_Model):
    scenario: str
    axes: list[Axis] = Field(min_length=1)
    points: list[Point]
    breakeven: Breakeven | None = None
    program_names: dict[str, str] = {}  # absent in a folder written before names were kept


# ------------------------------------------------------------------------------------- reading

def _json(path: Path) -> Any:
    try:
        text = read_input(path, "solve or sweep output", JSON_LIMIT).decode("utf-8")
    except UnicodeDecodeError:
        raise InputError.one(path, "", "", "not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError.one(path, f"line {exc.lineno}", "", f"not valid JSON: {exc.msg}") from None


def validated(path: Path, model: type[M]) -> M:
    data = _json(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError([InputProblem(str(path), "", ".".join(str(p) for p in e["loc"]), e["msg"])
                          for e in exc.errors()]) from None


JSON_LIMIT = 1024 * 1024 * 1024  # summary.json / sweep.json: a few MB even for big runs


def _open(path: Path) -> BinaryIO:
    """An output-folder CSV, if it is a regular file (a link to /dev/zero or a FIFO in a folder
    given to `report` is refused unread, as every input is); streamed, so no size limit."""
    return open_input(path, "solve or sweep output", 1 << 62)


def csv_header(path: Path) -> list[str]:
    if not path.exists() and not path.is_symlink():
        raise InputError.one(path, "", "", "file not found (solve writes it beside summary.json)")
    try:
        with io.TextIOWrapper(_open(path), encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError.one(path, "line 1", "", f"cannot read the header: {exc}") from None


def batches(path: Path, columns: tuple[str, ...], types: dict[str, pa.DataType],
             required: tuple[str, ...] = ()) -> Iterator[pa.RecordBatch]:
    """The file's rows in Arrow batches, only the `types` columns. The header must be `columns`
    (or have as many columns, read by position: a translated header names the same ones)."""
    header = csv_header(path)
    if tuple(header) != columns:
        if len(header) != len(columns):
            raise InputError.one(path, "line 1", "", f"expected the columns {','.join(columns)}; "
                                 f"found {','.join(header) or 'none'}")
        log.info("%s: header %s read as %s (by position)", path, header, list(columns))
    with _open(path) as fh:
        yield from _arrow_batches(path, fh, columns, types, required)


def _arrow_batches(path: Path, fh: BinaryIO, columns: tuple[str, ...],
                   types: dict[str, pa.DataType], required: tuple[str, ...]
                   ) -> Iterator[pa.RecordBatch]:
    try:
        reader = pacsv.open_csv(
            fh,
            read_options=pacsv.ReadOptions(column_names=list(columns), skip_rows=1,
                                           block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=types,
                                                 include_columns=list(types),
                                                 strings_can_be_null=False,
                                                 quoted_strings_can_be_null=False))
        for batch in reader:
            for name in required:
                nulls = batch.column(name).null_count
                if nulls:
                    raise InputError.one(path, "", name, f"{nulls} empty value(s)")
            yield batch
    except pa.ArrowInvalid as exc:
        raise InputError.one(path, "", "", f"cannot read: {exc}") from None
