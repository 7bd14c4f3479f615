"""The rulebook: programs, rules, caps and fees as data, with the scenario's overrides merged in.

1688 changes its rules every season, so nothing here knows a program by name: everything a program
is comes from the YAML (built-in `rules/data/<name>.yaml` or the user's file).

How a scenario's entry for a program is merged over the rulebook's is public
(`exact_decimals`, `program_override`, `merge_program_override`): `sweep` sets one field of one
program per grid point with them.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.scenario import read_yaml_mapping
from optimizer.load.types import MAX_DAYS, MAX_ELASTICITY, Scenario, YamlSource

DATA_DIR = Path(__file__).parent / "data"

MAX_DEMAND_MULTIPLIER = 1000.0  # with MAX_DAYS and MAX_ELASTICITY: demand stays finite
MAX_CAP_RATIO = 10  # a program without a cap stops at 10 x the market price anyway

Op = Literal[">=", "<=", "<", ">", "==", "!=", "in", "not_in"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """A comparison `field op value`, or an any_of / all_of group of named sub-rules."""

    field: str | None = Field(None, description="The merchant field or catalogue column the rule "
                                                "reads (merchant rules: also count:<bool column>)")
    op: Op | None = Field(None, description="How the field compares with value")
    value: Any = Field(None, description="What the field is compared with (a list for in/not_in)")
    any_of: dict[str, Rule] | None = Field(
        None, description="Named sub-rules of which at least one must hold")
    all_of: dict[str, Rule] | None = Field(
        None, description="Named sub-rules that must all hold")

    @model_validator(mode="after")
    def _one_kind(self) -> Rule:
        kinds = [self.field is not None, self.any_of is not None, self.all_of is not None]
        if sum(kinds) != 1:
            raise ValueError("a rule is exactly one of {field, op, value}, any_of, all_of")
        if self.field is not None and self.op is None:
            raise ValueError(f"rule on {self.field} needs an op")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a list value")
        return self


class PriceCap(_Strict):
    """price < ratio * field (strict) or price <= ratio * field, exact in fen."""

    field: Literal["market_price", "min_price_30d", "unit_cost", "web_min_price"] = Field(
        ..., description="The catalogue price the cap is relative to (web_min_price: skipped "
                         "when the catalogue has no such column)")
    ratio: Decimal = Field(..., gt=0, le=MAX_CAP_RATIO,
                           description="The cap is ratio * field (at most 10, 4 decimals)")
    strict: bool = Field(..., description="true: price < ratio * field; false: price <= it")

    @field_validator("ratio")
    @classmethod
    def _few_decimals(cls, value: Decimal) -> Decimal:
        """Caps are computed exactly in int64 (ratio's numerator x price in fen): 1e308 or
        0.123456789012345 would overflow it, so a ratio has at most 4 decimals."""
        if value.is_finite() and value != value.quantize(Decimal("0.0001")):
            raise ValueError(f"more than 4 decimals: {value}")
        return value


class FeeItem(_Strict):
    """A fee a program charges on orders: per order and group, the highest applicable rate,
    capped by the group's cap."""

    group: str = Field(..., description="The fee group (tech_service, help_sell_commission, ...)")
    rate: Decimal = Field(..., ge=0, le=1, description="Rate on the order's revenue, 0..1")
    scope: Literal["own", "all_help_sell"] = Field(
        "own", description="own: this program's orders; all_help_sell: the SKU's orders in "
                           "every help-sell program it is enrolled in")


class FeeGroup(_Strict):
    cap: Decimal | None = Field(None, ge=0, le=1,
                                description="Cap on the group's rate per order; null: no cap")


class Program(_Strict):
    """A platform program: who may join, at what prices, what it sells and what it costs."""

    name_zh: str = Field("", description="The program's Chinese name")
    enabled: bool = Field(True, description="false: the program is out of scope")
    help_sell: bool = Field(..., description="The platform sells for the merchant (平台帮卖)")
    free_shipping: bool = Field(
        ..., description="The merchant pays shipping_cost on each unit sold in it")
    selection: Literal["sku", "offer"] = Field(
        ..., description="sku: each SKU on its own; offer: an offer's eligible SKUs enroll "
                         "all together or none")
    horizon_days: float = Field(..., gt=0, le=MAX_DAYS, description="Days the enrollment sells for")
    demand_multiplier: float = Field(
        ..., ge=0, le=MAX_DEMAND_MULTIPLIER,
        description="Expected units a day = daily_units * this, at the market price")
    elasticity: float = Field(..., gt=0, le=MAX_ELASTICITY,
                              description="Price elasticity of demand when the catalogue has "
                                          "none for the SKU")
    exclusive_with: list[str] = Field(
        default_factory=list,
        description="Program ids no offer may share with this one (offer level)")
    merchant_rules: dict[str, Rule] = Field(
        default_factory=dict, description="Rules on the shop, by rule id: all must hold")
    sku_rules: dict[str, Rule] = Field(
        default_factory=dict, description="Rules on each SKU, by rule id: all must hold")
    price_caps: dict[str, PriceCap] = Field(
        default_factory=dict, description="Caps on the enrollment price, by cap id: all hold")
    fees: dict[str, FeeItem] = Field(
        default_factory=dict,
        description="Fee items by id; in a scenario override a bare number is the item's rate")
    counts_toward_gmv: bool = Field(
        ..., description="Its orders are 1688 trades: their units x price count toward the "
                         "通天 target constraints.gmv_min (AliExpress orders do not)")
    sets_min_price: bool = Field(
        ..., description="Its transactions enter the SKU's 近30天最低成交价 (min_price_30d). "
                         "Stated for the multi-period planning of a later issue: not used yet")
    review_days: int = Field(
        ..., ge=0, le=MAX_DAYS,
        description="Days from registration to the first sale (a new or changed enrollment "
                    "sells horizon_days - review_days; one continuing at its current price sells "
                    "the whole horizon)")
    commitment: Literal["none", "no_exit", "fixed_until_exit"] = Field(
        ..., description="none; no_exit: once approved it cannot leave mid-campaign; "
                         "fixed_until_exit: its SKUs and prices cannot change without exiting. "
                         "Stated for the multi-period planning of a later issue: not used yet")


class Rulebook(_Strict):
    """A merged, validated rulebook: only the programs in scope for this scenario."""

    name: str
    fee_groups: dict[str, FeeGroup]
    programs: dict[str, Program]

    @model_validator(mode="after")
    def _references(self) -> Rulebook:
        for pid, prog in self.programs.items():
            for item_id, item in prog.fees.items():
                if item.group not in self.fee_groups:
                    raise ValueError(
                        f"programs.{pid}.fees.{item_id}: unknown fee group {item.group}")
        return self

    def exclusive_pairs(self) -> list[tuple[str, str]]:
        """Unordered pairs of in-scope programs that may not share an offer."""
        pairs: set[tuple[str, str]] = set()
        for pid, prog in self.programs.items():
            for other in prog.exclusive_with:
                if other in self.programs and other != pid:
                    a, b = sorted((pid, other))
                    pairs.add((a, b))
        return sorted(pairs)


def _decimals(node: Any) -> Any:
    """YAML floats -> Decimal through their shortest repr, so 0.9 means exactly 9/10."""
    if isinstance(node, bool):
        return node
    if isinstance(node, float):
        return Decimal(repr(node))
    if isinstance(node, dict):
        return {k: _decimals(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decimals(v) for v in node]
    return node


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Dicts merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_rulebook(ref: str, base_dir: Path, source: YamlSource) -> tuple[dict[str, Any], str]:
    builtin = DATA_DIR / f"{ref}.yaml"
    path = builtin if builtin.is_file() and "/" not in ref else (base_dir / ref)
    where = source.where(("rulebook",))
    if not path.exists() and not path.is_symlink():
        names = sorted(p.stem for p in DATA_DIR.glob("*.yaml"))
        raise InputError.one(source.file, where, "rulebook",
                             f"{ref!r} is neither a built-in rulebook {names} nor a file")
    # The scenario file's guards (regular file, size, nesting, alias bombs, duplicate keys).
    raw = read_yaml_mapping(path, "rulebook")
    return raw, str(path)


def _program_override(pid: str, override: Any) -> dict[str, Any]:
    """A scenario program entry; under `fees`, a bare number is that item's rate."""
    if override is None:
        return {}
    if not isinstance(override, dict):
        raise TypeError("a program entry is a mapping of overrides (or empty)")
    over = dict(override)
    fees = over.get("fees")
    if isinstance(fees, dict):
        over["fees"] = {k: ({"rate": v} if isinstance(v, int | float | Decimal)
                            and not isinstance(v, bool) else v) for k, v in fees.items()}
    return over


# ---- the override API: how a scenario's program entry becomes the program it sees. build_rulebook
# merges with it; `sweep` uses it to set one field of one program per grid point.

def exact_decimals(node: Any) -> Any:
    """A rulebook or override as read from YAML, its floats as exact Decimals (0.9 is 9/10)."""
    return _decimals(node)


def program_override(pid: str, override: Any) -> dict[str, Any]:
    """A scenario's entry for program `pid` as a mapping to merge over the rulebook's program:
    exact decimals, and under `fees` a bare number is that item's rate. TypeError when the entry
    is not a mapping (nor empty)."""
    return _program_override(pid, _decimals(override))


def merge_program_override(program: dict[str, Any], pid: str, override: Any) -> dict[str, Any]:
    """The rulebook's program `pid` (as read, exact decimals) with the scenario's entry for it
    merged over: the program as the scenario sees it, before validation."""
    return deep_merge(program, program_override(pid, override))


def read_rulebook(scenario: Scenario, source: YamlSource) -> tuple[dict[str, Any], str]:
    """The rulebook file the scenario names, as read (and its path), for build_rulebook."""
    return _read_rulebook(scenario.rulebook, source.file.parent, source)


def build_rulebook(scenario: Scenario, source: YamlSource,
                   read: tuple[dict[str, Any], str] | None = None) -> Rulebook:
    """Read the rulebook the scenario names and merge the scenario's overrides over it.

    `read` is what read_rulebook gave: a sweep merges its many points over one reading."""
    raw, rb_file = read if read is not None else read_rulebook(scenario, source)
    raw = _decimals(raw)
    programs_raw = raw.get("programs")
    if not isinstance(programs_raw, dict) or not programs_raw:
        raise InputError.one(rb_file, "", "programs", "the rulebook defines no programs")
    problems: list[InputProblem] = []
    scen_file = str(source.file)
    chosen: dict[str, dict[str, Any]]
    if scenario.programs is None:
        chosen = {pid: {} for pid in programs_raw}
    else:
        chosen = {}
        for pid, override in scenario.programs.items():
            path = ("programs", pid)
            if pid not in programs_raw:
                problems.append(InputProblem(
                    scen_file, source.where(path), f"programs.{pid}",
                    f"unknown program (rulebook has {sorted(programs_raw)})"))
                continue
            try:
                chosen[pid] = _program_override(pid, _decimals(override))
            except TypeError as exc:
                problems.append(InputProblem(scen_file, source.where(path), f"programs.{pid}",
                                             str(exc)))
    fee_groups = dict(raw.get("fee_groups") or {})
    for group, over in scenario.fees.items():
        if group not in fee_groups:
            problems.append(InputProblem(scen_file, source.where(("fees", group)), f"fees.{group}",
                                         f"unknown fee group (rulebook has {sorted(fee_groups)})"))
            continue
        fee_groups[group] = deep_merge(fee_groups[group] or {}, {"cap": over.cap})
    merged = {pid: deep_merge(programs_raw[pid], over) for pid, over in chosen.items()}
    try:
        rulebook = Rulebook.model_validate({"name": str(raw.get("name", scenario.rulebook)),
                                            "fee_groups": fee_groups, "programs": merged})
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            dotted = ".".join(str(p) for p in loc)
            from_scenario = len(loc) >= 2 and loc[0] == "programs" and scenario.programs is not None
            where_file = scen_file if from_scenario and source.line_of(loc) else rb_file
            where = source.where(loc) if where_file == scen_file else ""
            problems.append(InputProblem(where_file, where, dotted, err["msg"]))
    if problems:
        raise InputError(problems)
    rulebook = rulebook.model_copy(update={
        "programs": {pid: p for pid, p in rulebook.programs.items() if p.enabled}})
    for pid in scenario.constraints.max_skus:
        if pid not in rulebook.programs:
            problems.append(InputProblem(scen_file, source.where(("constraints", "max_skus", pid)),
                                         f"constraints.max_skus.{pid}",
                                         "not a program in scope "
                                         f"(in scope: {sorted(rulebook.programs)})"))
    if problems:
        raise InputError(problems)
    return rulebook
