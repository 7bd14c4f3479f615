"""The auditor's own reading of a scenario, its rulebook and its catalogue (SPEC 2.1, 2.2, 3).

Deliberately shares no code with optimizer.load or optimizer.rules: an audit that reused the
loaders would inherit their bugs and prove nothing. Files are re-read with plain yaml.safe_load,
csv and pyarrow. Money is exact integer fen; rates, ratios, thresholds and every numeric rule
field are exact Fractions of their decimal text (YAML floats through their shortest repr), so
caps such as `price < 0.90 * market_price` are decided exactly.

This reader is lenient about things the main loader rejects (unknown keys, say): its job is to
recompute, not to validate. It raises AuditInputError only when it cannot make sense of a value.

Kept as one module: it is the auditor's whole view of the three files (the `World` and how each
field of it is read), and one place is what makes its independence easy to check.
"""

from __future__ import annotations

import copy
import csv
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

BUILTIN_RULEBOOKS = Path(__file__).resolve().parent.parent / "rules" / "data"

MONEY_COLUMNS = ("market_price", "min_price_30d", "unit_cost", "shipping_cost")
NUMBER_COLUMNS = (
    "stock", "daily_units", "ship_hours", "growth_score", "pickup_rate_48h", "moq", "listed_days",
    "sales_last_month", "elasticity",
)
BOOL_COLUMNS = ("dropship", "return_7day", "alipay_guarantee")
# SPEC 2.2: optional money columns without a default (全网最低价). Absent, a SKU has no value
# (None) and the price caps on the column are skipped: the rule applies when the column is given.
WHEN_GIVEN_COLUMNS = ("web_min_price",)
TEXT_COLUMNS = ("sku_id", "offer_id", "category")
REQUIRED_COLUMNS = (
    "sku_id", "offer_id", "category", "market_price", "min_price_30d", "unit_cost", "stock",
    "daily_units",
)
# SPEC 2.2 defaults of the optional columns, as the text a cell would hold ("" = no value).
OPTIONAL_DEFAULTS = {
    "shipping_cost": "0", "dropship": "false", "return_7day": "false", "ship_hours": "72",
    "growth_score": "0", "pickup_rate_48h": "0",
    "moq": "1", "alipay_guarantee": "true", "listed_days": "365", "sales_last_month": "0",
    "elasticity": "",
}
TRUE_TEXT = {"true", "1", "yes"}
FALSE_TEXT = {"false", "0", "no"}
FEE_SCOPES = ("own", "all_help_sell")
SELECTIONS = ("sku", "offer")
COMMITMENTS = ("none", "no_exit", "fixed_until_exit")
# The columns of a `current` file (SPEC 6.1) and the Chinese headers `solve --lang zh` writes
# them with (a merchant may pass last month's plan.csv). Written out here, not imported: the
# auditor reads files with its own code.
CURRENT_HEADERS = {"sku_id": "sku_id", "program": "program", "price": "price",
                   "SKU编号": "sku_id", "报名项目": "program", "报名价(元)": "price"}
_MEDAL = re.compile(r"([0-5]?)A")


class AuditInputError(ValueError):
    """The scenario, its rulebook or its catalogue cannot be read into exact values."""


def exact(value: Any, what: str) -> Fraction:
    """A decimal number exactly as written; YAML floats go through str (0.07 -> 7/100)."""
    if isinstance(value, bool) or value is None:
        raise AuditInputError(f"{what}: expected a number, got {value!r}")
    try:
        if isinstance(value, int | Fraction):
            return Fraction(value)
        if isinstance(value, float | Decimal | str):
            return Fraction(Decimal(str(value).strip()))
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise AuditInputError(f"{what}: not a finite decimal number: {value!r}") from exc
    raise AuditInputError(f"{what}: expected a number, got {value!r}")


def to_fen(value: Any, what: str) -> int:
    """Yuan with at most two decimals as integer fen; a third decimal is an input error."""
    fen = exact(value, what) * 100
    if fen.denominator != 1:
        raise AuditInputError(f"{what}: {value} yuan is not a whole number of fen")
    return int(fen)


def parse_bool(text: str, what: str) -> bool:
    low = text.strip().lower()
    if low in TRUE_TEXT:
        return True
    if low in FALSE_TEXT:
        return False
    raise AuditInputError(f"{what}: expected true/false/1/0/yes/no, got {text!r}")


@dataclass(frozen=True)
class FeeItem:
    group: str
    rate: Fraction
    scope: str  # own | all_help_sell


@dataclass(frozen=True)
class PriceCap:
    field: str
    ratio: Fraction
    strict: bool


@dataclass(frozen=True)
class Program:
    """A rulebook program after the scenario's overrides were merged over it."""

    id: str
    help_sell: bool
    free_shipping: bool
    counts_toward_gmv: bool  # its orders are 1688 trades: they count toward gmv_min
    selection: str  # sku | offer
    horizon_days: float
    review_days: float  # a new enrollment sells horizon_days - review_days (SPEC 6.1)
    commitment: str  # none | no_exit | fixed_until_exit (SPEC 6.1)
    demand_multiplier: float
    elasticity: float
    exclusive_with: tuple[str, ...]
    merchant_rules: dict[str, Any]
    sku_rules: dict[str, Any]
    price_caps: dict[str, PriceCap]
    fees: dict[str, FeeItem]
    # its prices are 1688 transactions: they enter next month's 30-day minimum (SPEC 6.3)
    sets_min_price: bool = False


@dataclass(frozen=True)
class Sku:
    """One catalogue row. `fields` holds what rules read: Fractions, bools and text."""

    sku_id: str
    offer_id: str
    line: int
    fields: dict[str, Fraction | bool | str | None]
    market_fen: int
    min30_fen: int
    cost_fen: int
    ship_fen: int
    stock: Fraction
    daily_units: Fraction
    elasticity: float | None
    # where a moved 30-day minimum came from ("month 1's yanxuan price", SPEC 6.3); None: the
    # catalogue's min_price_30d
    min30_source: str | None = None


@dataclass(frozen=True)
class Enrolled:
    """One row of the `current` file: a (SKU, program) enrolled and live today."""

    sku_id: str
    program: str
    price_fen: int
    line: int


@dataclass(frozen=True)
class Constraints:
    max_skus: dict[str, int] = field(default_factory=dict)
    discount_budget: Fraction | None = None  # yuan
    gmv_min: Fraction | None = None  # yuan
    min_unit_margin_rate: Fraction = Fraction(0)
    stock_reserve_days: Fraction = Fraction(0)


@dataclass(frozen=True)
class World:
    """Everything an audit needs, recomputed from the files alone."""

    name: str
    scenario_path: Path
    programs: dict[str, Program]  # the active programs, rulebook order
    fee_caps: dict[str, Fraction | None]
    merchant: dict[str, Any]
    skus: dict[str, Sku]  # catalogue order
    constraints: Constraints
    price_step_fen: int
    relative_gap: float
    # today's enrollments (SPEC 6.1) by (sku_id, program); empty without `current:`
    current: dict[tuple[str, str], Enrolled] = field(default_factory=dict)
    # whether today's no_exit rows bind the plan (LOCKED): the scenario's `current:` does; last
    # month's plan as this month's today does not (SPEC 6.3: no_exit binds within a month)
    current_binds: bool = True
    # memo of rule outcomes (the world never changes, so auditing many plans reuses them)
    memo: dict[tuple[str, ...], Any] = field(default_factory=dict, compare=False, repr=False)

    def exclusive(self, a: str, b: str) -> bool:
        """Exclusivity is symmetric: either program listing the other is enough."""
        pa, pb = self.programs.get(a), self.programs.get(b)
        return bool(pa and pb and (b in pa.exclusive_with or a in pb.exclusive_with))

    def count_true(self, column: str) -> int:
        """`count:<bool column>` of the merchant rules: SKUs of the catalogue where it is true."""
        return sum(1 for s in self.skus.values() if s.fields.get(column) is True)

    def offers(self) -> dict[str, list[Sku]]:
        out: dict[str, list[Sku]] = {}
        for sku in self.skus.values():
            out.setdefault(sku.offer_id, []).append(sku)
        return out


# ---------------------------------------------------------------------------------------------
# YAML: scenario, rulebook, overrides


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise AuditInputError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise AuditInputError(f"{path}: expected a mapping at the top level")
    return data


def rulebook_path(value: Any, scenario_dir: Path) -> Path:
    """A built-in rulebook name (a file of the package's rules/data) or a path to a YAML."""
    text = str(value if value is not None else "1688-2024")
    builtin = BUILTIN_RULEBOOKS / f"{text}.yaml"
    if "/" not in text and "\\" not in text and not text.endswith((".yaml", ".yml")):
        if builtin.is_file():
            return builtin
        raise AuditInputError(f"rulebook {text!r}: no built-in rulebook of that name")
    return scenario_dir / text


def deep_merge(base: Any, over: Any) -> Any:
    """Dicts merge key by key, recursively; anything else in `over` replaces `base`."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def _bare_numbers(over: dict[str, Any], section: str, attr: str) -> dict[str, Any]:
    """Under `fees` (and `price_caps`) a bare number is the item's rate (ratio)."""
    items = over.get(section)
    if not isinstance(items, dict):
        return over
    fixed = {k: ({attr: v} if isinstance(v, int | float) and not isinstance(v, bool) else v)
             for k, v in items.items()}
    return {**over, section: fixed}


def _rules(raw: Any) -> dict[str, Any]:
    """A rule overridden with null is removed: the merchant's way to switch a rule off."""
    return {str(k): v for k, v in (raw or {}).items() if v is not None}


def _program(pid: str, raw: dict[str, Any]) -> Program:
    def num(key: str) -> float:
        return float(exact(raw.get(key), f"programs.{pid}.{key}"))

    counts = raw.get("counts_toward_gmv")
    if not isinstance(counts, bool):  # SPEC section 3: every program states it
        raise AuditInputError(f"programs.{pid}.counts_toward_gmv: {counts!r} is not true or false")
    selection = raw.get("selection", "sku")
    if selection not in SELECTIONS:
        raise AuditInputError(f"programs.{pid}.selection: {selection!r} is not sku or offer")
    sets_min_price = raw.get("sets_min_price", False)
    if not isinstance(sets_min_price, bool):
        raise AuditInputError(f"programs.{pid}.sets_min_price: {sets_min_price!r} is not true "
                              "or false")
    commitment = raw.get("commitment", "none")
    if commitment not in COMMITMENTS:
        raise AuditInputError(f"programs.{pid}.commitment: {commitment!r} is not one of "
                              f"{', '.join(COMMITMENTS)}")
    caps = {}
    for cid, cap in (raw.get("price_caps") or {}).items():
        if cap is None:
            continue
        if not isinstance(cap, dict) or "field" not in cap or "ratio" not in cap:
            raise AuditInputError(f"programs.{pid}.price_caps.{cid}: needs field and ratio")
        caps[cid] = PriceCap(str(cap["field"]), exact(cap["ratio"], f"{pid} cap {cid} ratio"),
                             bool(cap.get("strict", False)))
    fees = {}
    for fid, item in (raw.get("fees") or {}).items():
        if item is None:
            continue
        if not isinstance(item, dict) or "group" not in item or "rate" not in item:
            raise AuditInputError(f"programs.{pid}.fees.{fid}: needs group and rate")
        scope = item.get("scope", "own")
        if scope not in FEE_SCOPES:
            raise AuditInputError(f"programs.{pid}.fees.{fid}.scope: {scope!r}")
        fees[fid] = FeeItem(str(item["group"]), exact(item["rate"], f"{pid} fee {fid}"), scope)
    return Program(
        id=pid,
        help_sell=bool(raw.get("help_sell", False)),
        free_shipping=bool(raw.get("free_shipping", False)),
        counts_toward_gmv=counts,
        selection=selection,
        horizon_days=num("horizon_days"),
        review_days=num("review_days"),
        commitment=commitment,
        demand_multiplier=num("demand_multiplier"),
        elasticity=num("elasticity"),
        exclusive_with=tuple(str(x) for x in (raw.get("exclusive_with") or [])),
        merchant_rules=_rules(raw.get("merchant_rules")),
        sku_rules=_rules(raw.get("sku_rules")),
        price_caps=caps,
        fees=fees,
        sets_min_price=sets_min_price,
    )


def _programs(book: Mapping[str, Any], overrides: Any) -> dict[str, Program]:
    """Absent `programs:` keeps every rulebook program; present keeps only those listed."""
    base: dict[str, Any] = book.get("programs") or {}
    chosen: dict[str, Any]
    if overrides is None:
        chosen = {pid: {} for pid in base}
    elif isinstance(overrides, dict):
        chosen = {pid: (over or {}) for pid, over in overrides.items()}
    else:
        raise AuditInputError("programs: expected a mapping of program ids")
    out: dict[str, Program] = {}
    order = list(base) + [pid for pid in chosen if pid not in base]
    for pid in order:
        if pid not in chosen:
            continue
        if pid not in base:
            raise AuditInputError(f"programs.{pid}: not a program of the rulebook")
        over = chosen[pid]
        if not isinstance(over, dict):
            raise AuditInputError(f"programs.{pid}: expected a mapping of overrides")
        over = _bare_numbers(_bare_numbers(over, "fees", "rate"), "price_caps", "ratio")
        merged = deep_merge(base[pid], over)
        if merged.get("enabled", True) is False:
            continue
        out[pid] = _program(pid, merged)
    return out


def _fee_caps(book: Mapping[str, Any], overrides: Any) -> dict[str, Fraction | None]:
    groups = dict(book.get("fee_groups") or {})
    for gid, over in (overrides or {}).items():
        over = {"cap": over} if not isinstance(over, dict) else over
        groups[gid] = deep_merge(groups.get(gid) or {}, over)
    return {gid: (None if (g or {}).get("cap") is None else exact(g["cap"], f"fee cap {gid}"))
            for gid, g in groups.items()}


def _trade_medal(value: Any) -> Any:
    """交易勋章 as 0..5 or as 1688 writes it: "A" .. "5A"; "none" is 0."""
    if isinstance(value, str):
        text = value.strip().upper()
        match = _MEDAL.fullmatch(text)
        if match:
            return Fraction(int(match.group(1) or 1))
        if text == "NONE":
            return Fraction(0)
    return value


def _merchant(raw: Any) -> dict[str, Any]:
    """Numbers become Fractions (exact rule thresholds); a missing field stays None (fails)."""
    out: dict[str, Any] = {}
    for key, value in (raw or {}).items():
        if key == "trade_medal":
            value = _trade_medal(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = exact(value, f"merchant.{key}")
        out[str(key)] = value
    return out


def _constraints(raw: Any) -> Constraints:
    raw = raw or {}

    def opt(key: str) -> Fraction | None:
        value = raw.get(key)
        return None if value is None else exact(value, f"constraints.{key}")

    return Constraints(
        max_skus={str(k): int(v) for k, v in (raw.get("max_skus") or {}).items()},
        discount_budget=opt("discount_budget"),
        gmv_min=opt("gmv_min"),
        min_unit_margin_rate=opt("min_unit_margin_rate") or Fraction(0),
        stock_reserve_days=opt("stock_reserve_days") or Fraction(0),
    )


def load_world(scenario_path: Path) -> World:
    """Read the scenario and everything it names into exact values (see module docstring)."""
    scenario_path = Path(scenario_path)
    return world_of(_read_yaml(scenario_path), scenario_path)


def read_scenario(scenario_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The scenario file and its rulebook as plain YAML (mappings), for the readers of its
    `periods:` (optimizer.audit.months)."""
    scenario_path = Path(scenario_path)
    sc = _read_yaml(scenario_path)
    return sc, _read_yaml(rulebook_path(sc.get("rulebook"), scenario_path.parent))


def world_of(sc: Mapping[str, Any], scenario_path: Path, *,
             book: Mapping[str, Any] | None = None,
             skus: dict[str, Sku] | None = None) -> World:
    """The world of a scenario already read (`sc`, as in the file at `scenario_path`, whose
    folder its relative paths are read from): one month's scenario is the file's with that
    month's overrides merged in (optimizer.audit.months), its rulebook and catalogue read once
    for all months (`book`, `skus`)."""
    here = scenario_path.parent
    if book is None:
        book = _read_yaml(rulebook_path(sc.get("rulebook"), here))
    if "catalogue" not in sc:
        raise AuditInputError(f"{scenario_path}: no catalogue")
    step = to_fen(sc.get("price_step", "0.01"), "price_step")
    if step < 1:
        raise AuditInputError(f"price_step: {sc.get('price_step')} is not at least 1 fen")
    solver = sc.get("solver") or {}
    if skus is None:
        skus = read_catalogue(here / str(sc["catalogue"]))
    current = read_current(here / str(sc["current"]), skus) if sc.get("current") else {}
    return World(
        name=str(sc.get("name", "")),
        scenario_path=scenario_path,
        programs=_programs(book, sc.get("programs")),
        fee_caps=_fee_caps(book, sc.get("fees")),
        merchant=_merchant(sc.get("merchant")),
        skus=skus,
        constraints=_constraints(sc.get("constraints")),
        price_step_fen=step,
        relative_gap=float(solver.get("relative_gap", 0.0001)),
        current=current,
    )


# ---------------------------------------------------------------------------------------------
# Catalogue


def _cell_text(value: Any) -> str:
    """A Parquet value as the text a CSV cell would hold, so both go through one parser."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value != value:  # NaN: no value
        return ""
    return str(value)


def _raw_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line or row number, column -> cell text) for a .csv (BOM or not) or a .parquet file."""
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        for i, rec in enumerate(pq.read_table(path).to_pylist(), start=1):
            yield i, {str(k): _cell_text(v) for k, v in rec.items()}
        return
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            for rec in reader:
                yield reader.line_num, {str(k): (v or "") for k, v in rec.items() if k is not None}
    except OSError as exc:
        raise AuditInputError(f"{path}: cannot read: {exc}") from exc


def _sku(path: Path, line: int, rec: Mapping[str, str]) -> Sku:
    where = f"{path.name} row {line}"
    cells = {c: (rec.get(c) or "").strip()
             for c in (*REQUIRED_COLUMNS, *OPTIONAL_DEFAULTS, *WHEN_GIVEN_COLUMNS)}
    for col in REQUIRED_COLUMNS:
        if not cells[col]:
            raise AuditInputError(f"{where}: {col} is empty")
    for col, default in OPTIONAL_DEFAULTS.items():
        if not cells[col]:
            cells[col] = default
    fields: dict[str, Fraction | bool | str | None] = {}
    for col in TEXT_COLUMNS:
        fields[col] = cells[col]
    for col in MONEY_COLUMNS:
        fields[col] = Fraction(to_fen(cells[col], f"{where} {col}"), 100)
    for col in WHEN_GIVEN_COLUMNS:
        given = to_fen(cells[col], f"{where} {col}") if cells[col] else None
        if given is not None and given <= 0:
            raise AuditInputError(f"{where}: {col} must be > 0")
        fields[col] = None if given is None else Fraction(given, 100)
    for col in NUMBER_COLUMNS:
        fields[col] = exact(cells[col], f"{where} {col}") if cells[col] else None
    for col in BOOL_COLUMNS:
        fields[col] = parse_bool(cells[col], f"{where} {col}")
    market, min30 = to_fen(cells["market_price"], where), to_fen(cells["min_price_30d"], where)
    if market <= 0 or min30 <= 0:
        raise AuditInputError(f"{where}: market_price and min_price_30d must be > 0")
    elasticity = exact(cells["elasticity"], where) if cells["elasticity"] else None
    return Sku(
        sku_id=cells["sku_id"],
        offer_id=cells["offer_id"],
        line=line,
        fields=fields,
        market_fen=market,
        min30_fen=min30,
        cost_fen=to_fen(cells["unit_cost"], where),
        ship_fen=to_fen(cells["shipping_cost"], where),
        stock=exact(cells["stock"], where),
        daily_units=exact(cells["daily_units"], where),
        elasticity=None if elasticity is None else float(elasticity),
    )


def read_catalogue(path: Path) -> dict[str, Sku]:
    if not path.is_file():
        raise AuditInputError(f"catalogue {path}: no such file")
    skus: dict[str, Sku] = {}
    for line, rec in _raw_rows(path):
        sku = _sku(path, line, rec)
        if sku.sku_id in skus:
            raise AuditInputError(f"{path.name} row {line}: duplicate sku_id {sku.sku_id}")
        skus[sku.sku_id] = sku
    return skus


# ---------------------------------------------------------------------------------------------
# Today's enrollments


def read_current(path: Path, skus: Mapping[str, Sku]) -> dict[tuple[str, str], Enrolled]:
    """The `current` file (SPEC 6.1): sku_id, program, price in English or Chinese headers,
    other columns ignored. Only what the audit needs is checked: a known SKU, a price in whole
    fen, one row per pair (the product's loader validates the rest before an audit runs)."""
    if not path.is_file():
        raise AuditInputError(f"current {path}: no such file")
    out: dict[tuple[str, str], Enrolled] = {}
    for line, rec in _raw_rows(path):
        cells = {CURRENT_HEADERS[k.strip()]: (v or "").strip() for k, v in rec.items()
                 if k.strip() in CURRENT_HEADERS}
        if not any(cells.values()):
            continue
        where = f"{path.name} row {line}"
        sku_id, pid = cells.get("sku_id", ""), cells.get("program", "")
        if sku_id not in skus:
            raise AuditInputError(f"{where}: sku_id {sku_id!r} is not in the catalogue")
        if (sku_id, pid) in out:
            raise AuditInputError(f"{where}: {sku_id} in {pid} twice")
        out[(sku_id, pid)] = Enrolled(sku_id, pid, to_fen(cells.get("price", ""), where), line)
    return out
