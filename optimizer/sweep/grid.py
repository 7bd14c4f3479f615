"""`--set PATH=START:STOP:N`: which field PATH names, the exact grid, and a point applied.

A point never rewrites a file: its values are set into a copy of the validated scenario (program
fields into the scenario's program overrides, which build_rulebook deep-merges over the rulebook
exactly as for a hand-written scenario), and the copy is validated again, so a swept value obeys
every range the scenario file obeys (a rate within 0..1, money exact to the fen, ...).
"""

from __future__ import annotations

import copy
import itertools
import re
import types
import typing
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.types import Constraints, Scenario, YamlSource
from optimizer.rules.rulebook import (
    Rulebook,
    build_rulebook,
    exact_decimals,
    merge_program_override,
    program_override,
    read_rulebook,
)

MAX_POINTS = 10_000  # a grid bigger than this is a typo (or a job for several sweeps)
_RANGE = re.compile(r"^\s*([^=\s]+)\s*=\s*([^:]+):([^:]+):([^:]+)\s*$")
# Fields of a program (after the merge) whose change leaves the merchant and SKU rules as they
# are; any path under these two reads into the rules, and so re-runs them.
RULE_KEYS = ("merchant_rules", "sku_rules")

Root = Literal["scenario", "program", "fee_group"]


@dataclass(frozen=True)
class Axis:
    """One --set: the field it names and its values, exact decimals in grid order."""

    text: str  # the --set as given, for messages
    path: str
    root: Root
    keys: tuple[str, ...]  # where the value goes: in the scenario, or in programs.<pid>
    integer: bool  # the field holds whole numbers
    values: tuple[Decimal, ...]
    reads_rules: bool  # a merchant field or a rule's value: the rules are evaluated again
    fee_rate: bool  # a fee item's rate or a fee group's cap (break-even may be asked)


def decimal_text(value: Decimal) -> str:
    """An exact decimal as plain text: 0.05, 100, 0.0025 (never 5E-2)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _problem(text: str, path: str, message: str) -> InputError:
    return InputError([InputProblem(f"--set {text}", "", path, message)])


def _number(text: str, raw: str, path: str, what: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        raise _problem(text, path, f"{what} {raw.strip()!r} is not a number") from None
    if not value.is_finite():
        raise _problem(text, path, f"{what} {raw.strip()!r} is not a finite number")
    return value


def grid_values(text: str, path: str, start: Decimal, stop: Decimal, n: int
                ) -> tuple[Decimal, ...]:
    """N exact decimals from START to STOP, both included; the step must be an exact decimal."""
    if n == 1:
        if start != stop:
            raise _problem(text, path, "N = 1 gives one point: START and STOP must be equal")
        return (start,)
    if start == stop:
        raise _problem(text, path, f"START and STOP are equal: N = {n} points would be one")
    step = (Fraction(stop) - Fraction(start)) / (n - 1)
    den = step.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den != 1:
        raise _problem(text, path, f"the step (STOP - START) / (N - 1) = {step} is not an exact "
                                   "decimal; pick N so that it is")
    values = []
    for i in range(n):
        exact = Fraction(start) + step * i
        values.append(Decimal(exact.numerator) / Decimal(exact.denominator))
    return tuple(values)


def parse_set(text: str) -> tuple[str, tuple[Decimal, ...]]:
    """`PATH=START:STOP:N` -> (PATH, values). Raises InputError naming the --set."""
    match = _RANGE.match(text)
    if not match:
        raise _problem(text, "", "expected PATH=START:STOP:N, e.g. "
                                 "fees.help_sell_commission.cap=0.03:0.07:5")
    path, start_s, stop_s, n_s = match.groups()
    start = _number(text, start_s, path, "START")
    stop = _number(text, stop_s, path, "STOP")
    try:
        n = int(n_s.strip())
    except ValueError:
        raise _problem(text, path, f"N {n_s.strip()!r} is not a whole number") from None
    if not 1 <= n <= MAX_POINTS:
        raise _problem(text, path, f"N = {n}: the number of points is 1..{MAX_POINTS}")
    return path, grid_values(text, path, start, stop, n)


# ---------------------------------------------------------------- which field a path names

def _numeric_kind(annotation: Any) -> str | None:
    """"int" or "number" for a numeric pydantic annotation (Optional, Annotated), else None."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _numeric_kind(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        kinds = {_numeric_kind(a) for a in get_args(annotation) if a is not type(None)}
        return kinds.pop() if len(kinds) == 1 else None
    if annotation is bool:
        return None
    if annotation is int:
        return "int"
    if annotation in (float, Decimal):
        return "number"
    return None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


@dataclass(frozen=True)
class Base:
    """The validated scenario and what its paths resolve against (read once)."""

    scenario: Scenario
    source: YamlSource
    rulebook_file: tuple[dict[str, Any], str]  # as read once; every point merges over it
    programs: dict[str, Any]  # the rulebook's programs as read (exact decimals)
    fee_groups: dict[str, Any]

    @classmethod
    def read(cls, scenario: Scenario, source: YamlSource,
             rulebook_file: tuple[dict[str, Any], str] | None = None) -> Base:
        """`rulebook_file`: the rulebook as already read (prepare's), else read here."""
        read = rulebook_file if rulebook_file is not None else read_rulebook(scenario, source)
        raw = exact_decimals(read[0])
        return cls(scenario, source, read, dict(raw.get("programs") or {}),
                   dict(raw.get("fee_groups") or {}))

    def merged_program(self, pid: str) -> dict[str, Any]:
        """A program as the scenario sees it: the rulebook's, the scenario's override over it."""
        over = (self.scenario.programs or {}).get(pid)
        return merge_program_override(self.programs[pid], pid, over)


def resolve(text: str, path: str, values: tuple[Decimal, ...], base: Base) -> Axis:
    """The Axis of one --set, or InputError when PATH is not a numeric field of the scenario."""
    parts = tuple(path.split("."))
    if any(not p for p in parts):
        raise _problem(text, path, "a path is dotted names, e.g. programs.offsite.fees."
                                   "tech_service")

    def axis(root: Root, keys: tuple[str, ...], integer: bool, reads_rules: bool,
             fee_rate: bool) -> Axis:
        return Axis(text, path, root, keys, integer, values, reads_rules, fee_rate)

    if parts[0] == "programs":
        return _resolve_program(text, path, parts, base, axis)
    if parts[0] == "fees":
        groups = sorted(base.fee_groups)
        if len(parts) != 3 or parts[2] != "cap":
            raise _problem(text, path, "a fee group's field is fees.<group>.cap "
                                       f"(groups: {', '.join(groups)})")
        if parts[1] not in base.fee_groups:
            raise _problem(text, path, f"no fee group {parts[1]!r} in the rulebook "
                                       f"(groups: {', '.join(groups)})")
        return axis("fee_group", parts[1:], False, False, True)
    model: type[BaseModel] = Scenario
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        where = ".".join(parts[: i + 1])
        if field is None:
            raise _problem(text, path, f"{where} does not exist (fields here: "
                                       f"{', '.join(model.model_fields)})")
        last = i == len(parts) - 1
        if model is Constraints and part == "max_skus":
            if i + 2 != len(parts) or parts[i + 1] not in base.programs:
                raise _problem(text, path, "a slot cap is constraints.max_skus.<program> "
                                           f"(programs: {', '.join(base.programs)})")
            return axis("scenario", parts, True, False, False)
        sub = _model_of(field.annotation)
        if last:
            kind = _numeric_kind(field.annotation)
            if kind is None or sub is not None:
                raise _problem(text, path, f"{path} is not a numeric field")
            return axis("scenario", parts, kind == "int", parts[0] == "merchant", False)
        if sub is None:
            raise _problem(text, path, f"{where} has no fields under it")
        model = sub
    raise _problem(text, path, f"{path} is not a numeric field")  # pragma: no cover


def _resolve_program(text: str, path: str, parts: tuple[str, ...], base: Base,
                     axis: typing.Callable[..., Axis]) -> Axis:
    if len(parts) < 3:
        raise _problem(text, path, "a program field is programs.<program>.<field>, e.g. "
                                   "programs.yanxuan.demand_multiplier")
    pid = parts[1]
    if pid not in base.programs:
        raise _problem(text, path, f"no program {pid!r} in the rulebook "
                                   f"(programs: {', '.join(base.programs)})")
    listed = base.scenario.programs
    if listed is not None and pid not in listed:
        raise _problem(text, path, f"program {pid!r} is not in this scenario's programs "
                                   f"({', '.join(listed)})")
    keys = parts[2:]
    if keys[0] == "fees" and len(keys) == 2:
        keys = (*keys, "rate")  # a bare fee item is its rate, as in the scenario file
    node: Any = base.merged_program(pid)
    for i, key in enumerate(keys):
        if not isinstance(node, dict) or key not in node:
            where = ".".join((*parts[:2], *keys[: i + 1]))
            here = f" (fields here: {', '.join(map(str, node))})" if isinstance(node, dict) \
                else ""
            raise _problem(text, path, f"{where} does not exist{here}")
        node = node[key]
    if not _is_number(node):
        raise _problem(text, path, f"{path} is not a numeric field (it is {node!r})")
    fee_rate = keys[0] == "fees" and keys[-1] == "rate" and len(keys) == 3
    return axis("program", (pid, *keys), isinstance(node, int), keys[0] in RULE_KEYS, fee_rate)


# ---------------------------------------------------------------- a point applied

def _set(node: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        child = node.get(key)
        node[key] = child = dict(child) if isinstance(child, dict) else {}
        node = child
    node[keys[-1]] = value


def apply(base: Base, assignments: typing.Sequence[tuple[Axis, Decimal]]) -> Scenario:
    """The scenario with these values set; pydantic validates it as it validates the file.

    Raises ValidationError for a value out of the field's range."""
    data = base.scenario.model_dump()
    programs = copy.deepcopy(data.get("programs"))
    for ax, value in assignments:
        val: Decimal | int = int(value) if ax.integer and value == value.to_integral_value() \
            else value
        if ax.root == "scenario":
            _set(data, ax.keys, val)
        elif ax.root == "fee_group":
            _set(data, ("fees", ax.keys[0], "cap"), val)
        else:
            if programs is None:  # absent means every program: say so, then override one
                programs = {pid: {} for pid in base.programs}
            pid = ax.keys[0]
            entry = program_override(pid, programs.get(pid))
            _set(entry, ax.keys[1:], val)
            programs[pid] = entry
    data["programs"] = programs
    return Scenario.model_validate(data)


def _message(exc: ValidationError | InputError) -> str:
    if isinstance(exc, InputError):
        return "; ".join(p.message for p in exc.problems)
    return "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())


def point_inputs(base: Base, axes: typing.Sequence[Axis], values: typing.Sequence[Decimal]
                 ) -> tuple[Scenario, Rulebook]:
    """The scenario and merged rulebook of one point. InputError names the --set at fault."""
    for ax, value in zip(axes, values, strict=True):
        if ax.integer and value != value.to_integral_value():
            raise _problem(ax.text, ax.path, f"{ax.path} is a whole number; the grid gives "
                                             f"{decimal_text(value)}")
    try:
        scenario = apply(base, list(zip(axes, values, strict=True)))
        rulebook = build_rulebook(scenario, base.source, base.rulebook_file)
    except (ValidationError, InputError) as exc:
        if len(axes) == 1:
            raise _problem(axes[0].text, axes[0].path,
                           f"value {decimal_text(values[0])}: {_message(exc)}") from None
        shown = ", ".join(f"{a.path}={decimal_text(v)}" for a, v in
                          zip(axes, values, strict=True))
        raise InputError([InputProblem("--set", "", "", f"at {shown}: {_message(exc)}")]) from None
    return scenario, rulebook


def build_axes(base: Base, sets: typing.Sequence[str]) -> list[Axis]:
    """Every --set parsed, resolved and each of its values checked alone; all problems at once."""
    axes: list[Axis] = []
    problems: list[InputProblem] = []
    seen: set[str] = set()
    for text in sets:
        try:
            path, values = parse_set(text)
            if path in seen:
                raise _problem(text, path, "this path is set twice")
            seen.add(path)
            ax = resolve(text, path, values, base)
            for value in values:
                point_inputs(base, [ax], [value])
            axes.append(ax)
        except InputError as exc:
            problems.extend(exc.problems)
    if not sets:
        problems.append(InputProblem("--set", "", "", "give at least one --set PATH=START:STOP:N"))
    if problems:
        raise InputError(problems)
    size = 1
    for ax in axes:
        size *= len(ax.values)
    if size > MAX_POINTS:
        raise InputError([InputProblem("--set", "", "", f"the grid has {size:,} points; at most "
                                                   f"{MAX_POINTS:,}")])
    return axes


def grid(axes: typing.Sequence[Axis]) -> list[tuple[Decimal, ...]]:
    """Every point, the first axis slowest (row-major): point i of sweep.csv."""
    return list(itertools.product(*(ax.values for ax in axes)))


def snake(shape: tuple[int, ...]) -> list[int]:
    """The grid's flat indices in boustrophedon order: each next point differs from the last
    in one axis by one step, so it is a neighbour to warm-start from."""
    if not shape:
        return [0]
    order: list[tuple[int, ...]] = [(i,) for i in range(shape[-1])]
    for size in reversed(shape[:-1]):
        order = [(i, *rest) for i in range(size)
                 for rest in (order if i % 2 == 0 else order[::-1])]
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    return [sum(i * s for i, s in zip(pos, strides, strict=True)) for pos in order]


# Grids of at least this many points are cut into two halves along the snake, each with its own
# cold root, so two workers are busy from the first point on (a cold solve costs two or three
# warm ones). A constant, never the worker count: the tree, hence every result, is the grid's.
TWO_ROOTS_FROM = 6


def warm_parents(shape: tuple[int, ...]) -> dict[int, int | None]:
    """Which point each point warm-starts from: fixed by the grid alone, never by scheduling.

    Along the snake order, the middle point is solved cold and each half hangs off it by
    bisection (a middle point warm-starts from its interval's parent), so the chains fan out: a
    point's result depends on the grid only, and after k levels 2**k points can run at once.
    Grids of TWO_ROOTS_FROM points or more are two such trees, one per half of the snake.
    """
    order = snake(shape)
    parents: dict[int, int | None] = {}

    def split(lo: int, hi: int, parent: int | None) -> None:
        while lo <= hi:
            mid = (lo + hi) // 2
            parents[order[mid]] = None if parent is None else order[parent]
            split(lo, mid - 1, mid)
            lo, parent = mid + 1, mid

    if len(order) >= TWO_ROOTS_FROM:
        half = len(order) // 2
        split(0, half - 1, None)
        split(half, len(order) - 1, None)
    else:
        split(0, len(order) - 1, None)
    return parents
