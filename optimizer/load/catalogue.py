"""Read the SKU catalogue (SPEC 2.2) from CSV or Parquet into numpy columns, money in exact fen.

Speed matters (a million SKUs in seconds), so the good path is columnar: the file is read into
Arrow columns of text (catalogue_read.py), whole columns are parsed at once (catalogue_parse.py),
and here every column is checked against its range, defaults filled, and the Catalogue's arrays
made. Python loops only run over the failed rows, to word their messages, capped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.load.catalogue_parse import (
    Mask,
    Parsed,
    by_distinct,
    np_bool,
    parse_bool,
    parse_float,
    parse_int,
    parse_money,
    text_column,
)
from optimizer.load.catalogue_read import (
    I64,
    KNOWN_COLUMNS,
    MAX_PROBLEMS,
    RawTable,
    read_csv,
    read_parquet,
)
from optimizer.load.errors import InputError, InputProblem
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

PER_CHECK = 20  # rows named per (column, kind of problem); the rest are counted

TEXT_COLUMNS = ("sku_id", "offer_id", "category")
# SPEC 2.2: fields of the 商品 (offer), the same on every row of an offer
OFFER_LEVEL_COLUMNS = ("growth_score", "pickup_rate_48h", "listed_days", "sales_last_month")
OFFER_ROWS_SHOWN = 10  # rows named per disagreeing offer
# per-SKU columns of earlier versions, now merchant fields: column -> the merchant field
RETIRED_COLUMNS = {"experience_score": "product_experience_score", "dispute_score": "dispute_score"}
CATEGORIES = ("consumer", "industrial", "other")

_LIMITS = (MAX_COUNT, MAX_ELASTICITY)  # upper bounds that keep numbers finite, not scales
# (lower bound, lower inclusive, upper bound, upper inclusive) per numeric column; the upper
# bounds keep every product finite (types.MAX_*); money is below 10^12 yuan by its digits
_RANGES: dict[str, tuple[float, bool, float | None, bool]] = {
    "market_price": (0, False, None, False),
    "min_price_30d": (0, False, None, False),
    "unit_cost": (0, True, None, False),
    "shipping_cost": (0, True, None, False),
    "web_min_price": (0, False, None, False),
    "stock": (0, True, MAX_COUNT, True),
    "ship_hours": (0, True, MAX_COUNT, True),
    "moq": (1, True, MAX_COUNT, True),
    "listed_days": (0, True, MAX_COUNT, True),
    "sales_last_month": (0, True, MAX_COUNT, True),
    "daily_units": (0, True, MAX_COUNT, True),
    "growth_score": (0, True, 100, True),
    "pickup_rate_48h": (0, True, 1, True),
    "elasticity": (0, False, MAX_ELASTICITY, True),
}


@dataclass
class _Check:
    """Rows of one column that fail one check, and how to word it from (shown value, row index)."""

    column: str
    mask: Mask
    say: Callable[[str, int], str]


class _Problems:
    """Collects failed checks; words at most PER_CHECK rows each, then counts the rest."""

    def __init__(self, table: RawTable, order: dict[str, int]):
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


def _validate(t: RawTable) -> Catalogue:
    n = int(t.lines.size)
    order = {name: i for i, name in enumerate(t.names)}
    issues = _Problems(t, order)
    column_problems: list[InputProblem] = []  # a whole column of the wrong type: one problem, not n
    absent: set[str] = set()
    out: dict[str, Any] = {}

    retired = [name for name in t.names if name in RETIRED_COLUMNS]
    if retired:
        log.warning("%s: ignoring column(s) %s: the 新灯塔 scores are shop scores (SPEC 2.2), "
                    "read from the scenario's %s", t.file, ", ".join(retired),
                    ", ".join(f"merchant.{RETIRED_COLUMNS[name]}" for name in retired))
    unknown = [name for name in t.names if name not in KNOWN_COLUMNS and name not in retired]
    if unknown:
        shown = ", ".join(repr(u) if u else "(unnamed)" for u in unknown)
        log.warning("%s: ignoring column(s) the optimiser does not use: %s", t.file, shown)

    kinds: list[tuple[tuple[str, ...], str, Callable[[pa.Array], Parsed]]] = [
        (MONEY_COLUMNS, "money", parse_money), (INT_COLUMNS, "int", parse_int),
        (FLOAT_COLUMNS, "float", parse_float), (BOOL_COLUMNS, "bool", parse_bool),
    ]
    for columns, kind, parse in kinds:
        for col in columns:
            fill: Any = OPTIONAL_DEFAULTS.get(col, 0)
            no_default = col in OPTIONAL_DEFAULTS and fill is None
            if no_default:
                fill = 0
            if kind == "money":
                fill = int(fill) * 100
            dtype = {"money": np.int64, "int": np.int64, "float": np.float64, "bool": bool}[kind]
            if col not in t.columns:
                out[col] = np.full(n, fill, dtype=dtype)
                if no_default:
                    absent.add(col)
                continue
            parsed = by_distinct(parse, t.columns[col])
            required = col in REQUIRED_COLUMNS
            if parsed.type_error:
                column_problems.append(InputProblem(t.file, "", col, parsed.type_error))
                out[col] = np.zeros(n, dtype=dtype)
                continue
            if required:
                issues.add(col, parsed.empty, _fixed(f"empty; {col} is required"))
            elif no_default:
                issues.add(col, parsed.empty, _fixed(
                    f"empty; {col} has no default: give it on every row or leave the column out "
                    f"(then the rules on it are skipped)"))
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
        text, empty, type_error = text_column(t.columns[col])
        if type_error:
            column_problems.append(InputProblem(t.file, "", col, type_error))
            out[col] = np.full(n, "", dtype=object)
            continue
        issues.add(col, empty, _fixed(f"empty; {col} is required"))
        if col == "category":
            text = pc.utf8_lower(text)
            wrong = ~np_bool(pc.is_in(text, pa.array(CATEGORIES))) & ~empty
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

    offer_problems = _offer_level_problems(t, out)
    if offer_problems:
        raise InputError(offer_problems)
    if absent:  # once per load: SPEC 2.2, the 全网比价 check is skipped without web_min_price
        log.warning("%s: no %s column: the price caps on it (全网比价, price < web_min_price) "
                    "are skipped", t.file, ", ".join(sorted(absent)))
    _warn_above_market(t, out)
    _warn_formula_ids(t, out)
    return Catalogue(path=Path(t.file), line=t.lines, absent=frozenset(absent), **out)


def _offer_level_problems(t: RawTable, out: dict[str, Any]) -> list[InputProblem]:
    """SPEC 2.2: the offer-level fields are one value per 商品 (offer), so an offer whose rows
    disagree would be half eligible for all-or-none programs: refuse it, naming the offer, the
    field and its rows. Array-at-a-time: rows sorted by offer, min and max per offer by reduceat;
    Python only words the offers that disagree (at most PER_CHECK per field)."""
    present = [col for col in OFFER_LEVEL_COLUMNS if col in t.columns]
    if not present or t.lines.size == 0:
        return []
    offers = pa.array(out["offer_id"], pa.string())
    codes = pc.dictionary_encode(offers).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.argsort(codes, kind="stable")
    grouped = codes[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    ends = np.r_[starts[1:], grouped.size]
    problems: list[InputProblem] = []
    for col in present:
        values = out[col][order]
        differ = np.flatnonzero(np.minimum.reduceat(values, starts)
                                != np.maximum.reduceat(values, starts))
        for g in differ[:PER_CHECK]:
            rows = order[starts[g]:ends[g]]
            shown = [f"{_show(t.columns[col], int(i))} on {t.unit} {int(t.lines[i])}"
                     for i in rows[:OFFER_ROWS_SHOWN]]
            more = f" and {rows.size - OFFER_ROWS_SHOWN} more" if rows.size > OFFER_ROWS_SHOWN \
                else ""
            lines = ", ".join(str(int(t.lines[i])) for i in rows[:OFFER_ROWS_SHOWN])
            problems.append(InputProblem(
                t.file, f"{t.unit}s {lines}{'...' if more else ''}", col,
                f"offer {out['offer_id'][rows[0]]} has different {col} values on its rows: "
                f"{', '.join(shown)}{more}; {col} belongs to the offer (商品), so every row of "
                f"an offer must carry the same value"))
        if differ.size > PER_CHECK:
            problems.append(InputProblem(t.file, "", col, f"... and {differ.size - PER_CHECK} "
                                         f"more offers whose rows disagree ({differ.size} in all)"))
    return problems


def _duplicates(text: pa.Array, empty: Mask, lines: I64) -> tuple[Mask, I64]:
    """Rows whose sku_id appeared on an earlier row, and for every row where it first appeared."""
    codes = pc.dictionary_encode(text).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    _, first = np.unique(codes, return_index=True)
    first_row = first[codes]
    dup = (first_row != np.arange(codes.size)) & ~empty
    return dup, lines[first_row]


def _warn_above_market(t: RawTable, out: dict[str, Any]) -> None:
    """A 30-day low above today's price is odd but possible (a price cut): warn, don't refuse."""
    above = np.flatnonzero(out["min_price_30d"] > out["market_price"])
    if above.size:
        sample = ", ".join(f"{out['sku_id'][i]} ({t.unit} {t.lines[i]})" for i in above[:5])
        log.warning("%s: %d SKU(s) have min_price_30d above market_price, e.g. %s",
                    t.file, above.size, sample)


FORMULA_START = r"^[=+\-@\t\r]"  # what Excel (and LibreOffice) read as a formula's start


def _warn_formula_ids(t: RawTable, out: dict[str, Any]) -> None:
    """Ids are written to plan.csv and excluded.csv exactly as given (scripts join on them), so
    an id like `=HYPERLINK(...)` would be a formula to a merchant who opens the CSV in Excel.
    Say so once, with the way to open the plan safely (plan.xlsx stores every id as text)."""
    found = []
    for col in ("sku_id", "offer_id"):
        hit = np.flatnonzero(np_bool(pc.match_substring_regex(
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
    table = read_csv(path) if suffix == ".csv" else read_parquet(path)
    return _validate(table)
