"""Read the scenario YAML (SPEC 2.1) into a validated `Scenario`, remembering every key's line.

The YAML is composed into a node tree with a safe loader first and only then turned into
Python values by hand, so that (a) every key path gets its 1-based line for messages, (b) duplicate
keys are errors instead of silently last-wins, and (c) an alias bomb is measured, and refused,
before anything is expanded.
"""

from __future__ import annotations

import difflib
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.files import LIMITS, read_input
from optimizer.load.types import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_ELASTICITY,
    MAX_SEED,
    MAX_TIME_LIMIT_S,
    MAX_YUAN,
    Merchant,
    Scenario,
    YamlSource,
)

log = logging.getLogger("optimizer.load")

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = LIMITS["scenario"]  # a scenario is a few dozen lines; anything this big is not one
MAX_NODES = 100_000  # expanded size (aliases counted at every use) a scenario may reach
MAX_DEPTH = 64  # a scenario nests 3-5 levels deep

_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_NULL_TAG = "tag:yaml.org,2002:null"

Path_ = tuple[str | int, ...]


class TooBig(Exception):
    """The node graph expands past the budget (alias bomb), nests too deep, or refers to itself."""

    def __init__(self, message: str, node: Node | yaml.Event):
        super().__init__(message)
        self.node = node


class NodeBudget:
    """Expanded size of a YAML node graph, memoised per node: a bomb costs O(distinct nodes).

    `visited` counts the child edges actually walked: a bomb that would expand to 10^9 nodes is
    refused after a few dozen visits.
    """

    def __init__(self, limit: int = MAX_NODES, max_depth: int = MAX_DEPTH):
        self.limit = limit
        self.max_depth = max_depth
        self.visited = 0
        self._memo: dict[int, int] = {}
        self._open: set[int] = set()

    def size(self, node: Node, depth: int = 0) -> int:
        """Number of nodes `node` becomes once every alias is expanded; raises TooBig."""
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        if key in self._open:
            raise TooBig("an alias refers to itself (recursive structure)", node)
        if depth > self.max_depth:
            raise TooBig(f"nested more than {self.max_depth} levels deep", node)
        self._open.add(key)
        total = 1
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        for child in children:
            self.visited += 1
            total += self.size(child, depth + 1)
            if total > self.limit:
                raise TooBig(
                    f"expands to more than {self.limit:,} values through aliases (alias bomb?)",
                    node)
        self._open.discard(key)
        self._memo[key] = total
        return total


def _line(node: Node | yaml.Event) -> int:
    mark = node.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


class _Builder:
    """Node tree -> plain Python values, recording the line of every key path on the way."""

    def __init__(self, file: str, lines: dict[Path_, int]):
        self.file = file
        self.lines = lines
        self.problems: list[InputProblem] = []
        # Scalars only ever go through this (pure-Python, safe) constructor: no arbitrary tags.
        self._scalars = yaml.SafeLoader("")

    def build(self, node: Node, path: Path_) -> Any:
        plain = (_MAP_TAG if isinstance(node, MappingNode)
                 else _SEQ_TAG if isinstance(node, SequenceNode) else None)
        if plain is not None and node.tag != plain:
            # The safe constructor would refuse these too; say so instead of dropping the tag.
            self.problems.append(InputProblem(self.file, f"line {_line(node)}", _dotted(path),
                                              f"YAML tag {node.tag!r} is not allowed here"))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                self.lines.setdefault((*path, i), _line(item))
                out.append(self.build(item, (*path, i)))
            return out
        return self._scalar(node, path)

    def _scalar(self, node: Node, path: Path_) -> Any:
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problems.append(InputProblem(self.file, f"line {_line(node)}", _dotted(path),
                                              f"cannot read this value: {_yaml_reason(exc)}"))
            return None

    def _mapping(self, node: MappingNode, path: Path_) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(InputProblem(
                    self.file, f"line {_line(key_node)}", _dotted(path),
                    f"a key must be a plain name, not {_kind(key_node)}"))
                continue
            key = self._scalar(key_node, path)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            sub = (*path, _path_key(key))
            if key in first_line:
                self.problems.append(InputProblem(
                    self.file, f"line {_line(key_node)}", _dotted(sub),
                    f"duplicate key {key!r} (first at line {first_line[key]})"))
                continue
            first_line[key] = _line(key_node)
            self.lines.setdefault(sub, _line(key_node))
            out[key] = self.build(value_node, sub)
        # `<<: *base` merge keys: explicit keys win, then earlier merged mappings win (YAML 1.1).
        sources: list[Node] = []
        for merge in merges:
            sources.extend(merge.value if isinstance(merge, SequenceNode) else [merge])
        for src in sources:
            if not isinstance(src, MappingNode):
                self.problems.append(InputProblem(self.file, f"line {_line(src)}", _dotted(path),
                                                  f"'<<' merges a mapping, not {_kind(src)}"))
                continue
            for key, value in self._mapping(src, path).items():
                out.setdefault(key, value)
        return out


def _path_key(key: Any) -> str | int:
    if isinstance(key, str):
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    return str(key)


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _yaml_reason(exc: yaml.YAMLError) -> str:
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    text = "; ".join(str(p) for p in parts if p)
    return text or str(exc).splitlines()[0]


def _read_text(path: Path, what: str = "scenario") -> str:
    """The file as text, or InputError naming the file (and the line of a bad byte)."""
    file = str(path)
    data = read_input(path, what, LIMITS[what])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError.one(file, f"line {line}", "",
                             f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as "
                             "UTF-8") from None


def _check_depth(text: str) -> None:
    """Refuse deep nesting from the event stream (iterative) before composing, which recurses:
    the C composer would crash the interpreter on 100,000 nested brackets."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise TooBig(f"nested more than {MAX_DEPTH} levels deep", event)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _compose(text: str, file: str) -> Node | None:
    try:
        _check_depth(text)
        return yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark is not None else ""
        message = f"YAML syntax error: {exc.problem or exc}"
        opened = exc.context_mark
        if exc.context and opened is not None and (mark is None or opened.line != mark.line):
            message += f" ({exc.context} started on line {opened.line + 1})"
        raise InputError.one(file, where, "", message) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        raise InputError.one(file, f"line {line}", "",
                             f"character {exc.character!r} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        raise InputError.one(file, "", "", f"YAML error: {_yaml_reason(exc)}") from None
    except TooBig as exc:
        raise InputError.one(file, f"line {_line(exc.node)}", "", str(exc)) from None
    except RecursionError:
        raise InputError.one(file, "", "", f"nested more than {MAX_DEPTH} levels deep") from None


def compose_file(path: Path, what: str) -> Node | None:
    """A user's YAML file (scenario or rulebook) as a node tree, through every guard: regular
    file, size, UTF-8, nesting depth, then the expanded size (alias bombs). None if empty."""
    file = str(path)
    root = _compose(_read_text(path, what), file)
    if root is None or (isinstance(root, ScalarNode) and root.tag == _NULL_TAG):
        return None
    try:
        NodeBudget().size(root)
    except TooBig as exc:
        raise InputError.one(file, f"line {_line(exc.node)}", "", str(exc)) from None
    return root


def read_yaml_mapping(path: Path, what: str) -> dict[Any, Any]:
    """A guarded YAML file (compose_file) whose top level is a mapping, as plain values;
    duplicate keys and tags are errors naming their line."""
    file = str(path)
    root = compose_file(path, what)
    if root is None:
        raise InputError.one(file, "", "", f"empty file; a {what} is a mapping (key: value)")
    if not isinstance(root, MappingNode):
        raise InputError.one(file, f"line {_line(root)}", "",
                             f"the top level must be a mapping (key: value), found {_kind(root)}")
    builder = _Builder(file, {})
    data = builder.build(root, ())
    if builder.problems:
        raise InputError(sorted(builder.problems, key=_problem_order))
    return dict(data)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the keys at `loc` (for did-you-mean suggestions)."""
    model: type[BaseModel] = Scenario
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nxt:
            return None
        model = nxt[0]
    return model


def _short(value: Any, width: int = 60) -> str:
    """A value as the user wrote it in YAML (true, null), cut to `width`."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    else:
        text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


_LIMITS = {MAX_YUAN, MAX_COUNT, MAX_DAYS, MAX_ELASTICITY, MAX_TIME_LIMIT_S, MAX_SEED}
_BOUNDS = {"less_than_equal": ("at most", "le"), "less_than": ("below", "lt"),
           "greater_than_equal": ("at least", "ge"), "greater_than": ("above", "gt")}


def _limit(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("Decimal('") and value.endswith("')"):
        return Decimal(value[9:-2])
    return value


def _number(value: Any) -> str:
    """A bound as a person reads it: 1,000,000,000,000 rather than Decimal('1000000000000')
    (pydantic gives an optional field's bound as that text)."""
    value = _limit(value)
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        whole = int(value)
        if whole == value and abs(whole) >= 10_000:
            return f"{whole:,}"
        return f"{value:g}" if isinstance(value, float) else str(value)
    return str(value)


def _problem(err: Any, source: YamlSource) -> InputProblem:
    loc = tuple(p for p in err["loc"] if p != "[key]")
    field = _dotted(loc)
    kind = err["type"]
    msg = str(err["msg"]).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = "unknown key (typo?)"
        model = _model_at(loc[:-1])
        if model is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
    elif kind == "missing":
        message = "required key missing"
    elif "[key]" in err["loc"]:
        message = f"key {_short(loc[-1])}: {msg}"
    elif kind == "value_error":
        message = msg  # our own validators already quote the value
    elif kind in _BOUNDS:
        word, key = _BOUNDS[kind]
        message = f"must be {word} {_number(err['ctx'][key])}; got {_short(err['input'])}"
        if _limit(err["ctx"][key]) in _LIMITS:
            message += " (README: Limits on inputs)"
    else:
        message = f"{msg}; got {_short(err['input'])}"
    return InputProblem(str(source.file), source.where(loc), field, message)


def _warn_missing_merchant(data: dict[Any, Any], file: str) -> None:
    """SPEC 2.1: a missing merchant field fails its rules; name them so it is not a surprise."""
    given = data.get("merchant")
    given = given if isinstance(given, dict) else {}
    missing = [f for f in Merchant.model_fields if given.get(f) is None]
    if missing:
        log.warning("%s: merchant field(s) not given, so every rule reading them fails: %s",
                    file, ", ".join(missing))


def load_scenario(path: Path) -> tuple[Scenario, YamlSource]:
    """Read and validate a scenario file.

    Returns the validated Scenario and a YamlSource (file + line of every key path).
    Raises InputError with one InputProblem per thing wrong (file, line, dotted field).
    """
    path = Path(path)
    file = str(path)
    root = compose_file(path, "scenario")
    if root is None:
        raise InputError.one(file, "", "", "empty file; a scenario needs at least name and "
                             "catalogue")
    if not isinstance(root, MappingNode):
        raise InputError.one(file, f"line {_line(root)}", "",
                             f"the top level must be a mapping (key: value), found {_kind(root)}")
    source = YamlSource(file=path)
    builder = _Builder(file, source.lines)
    data = builder.build(root, ())
    if builder.problems:
        raise InputError(sorted(builder.problems, key=_problem_order))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err, source) for err in exc.errors(include_url=False)]
        raise InputError(sorted(problems, key=_problem_order)) from None
    _warn_missing_merchant(data, file)
    return scenario, source


def _problem_order(p: InputProblem) -> tuple[int, str]:
    number = p.where.split()[-1] if p.where else ""
    return (int(number) if number.isdigit() else 0, p.field)
