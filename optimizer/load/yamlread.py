"""Read a YAML file safely into plain Python values, remembering every key's line.

The YAML is composed into a node tree with a safe loader first and only then turned into
Python values by hand, so that (a) every key path gets its 1-based line for messages, (b) duplicate
keys are errors instead of silently last-wins, and (c) an alias bomb is measured, and refused,
before anything is expanded. The scenario (optimizer/load/scenario.py) and the rulebook are read
this way; what their values must be is theirs to say.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.files import LIMITS, read_input

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


def node_line(node: Node | yaml.Event) -> int:
    mark = node.start_mark
    return int(mark.line) + 1 if mark is not None else 0


def node_kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "a single value"


class Builder:
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
            self.problems.append(InputProblem(self.file, f"line {node_line(node)}", dotted(path),
                                              f"YAML tag {node.tag!r} is not allowed here"))
            return None
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            out = []
            for i, item in enumerate(node.value):
                self.lines.setdefault((*path, i), node_line(item))
                out.append(self.build(item, (*path, i)))
            return out
        return self._scalar(node, path)

    def _scalar(self, node: Node, path: Path_) -> Any:
        try:
            return self._scalars.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self.problems.append(InputProblem(self.file, f"line {node_line(node)}", dotted(path),
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
                    self.file, f"line {node_line(key_node)}", dotted(path),
                    f"a key must be a plain name, not {node_kind(key_node)}"))
                continue
            key = self._scalar(key_node, path)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            sub = (*path, _path_key(key))
            if key in first_line:
                self.problems.append(InputProblem(
                    self.file, f"line {node_line(key_node)}", dotted(sub),
                    f"duplicate key {key!r} (first at line {first_line[key]})"))
                continue
            first_line[key] = node_line(key_node)
            self.lines.setdefault(sub, node_line(key_node))
            out[key] = self.build(value_node, sub)
        # `<<: *base` merge keys: explicit keys win, then earlier merged mappings win (YAML 1.1).
        sources: list[Node] = []
        for merge in merges:
            sources.extend(merge.value if isinstance(merge, SequenceNode) else [merge])
        for src in sources:
            if not isinstance(src, MappingNode):
                self.problems.append(InputProblem(self.file, f"line {node_line(src)}", dotted(path),
                                                  f"'<<' merges a mapping, not {node_kind(src)}"))
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


def dotted(path: Path_) -> str:
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
        raise InputError.one(file, f"line {node_line(exc.node)}", "", str(exc)) from None
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
        raise InputError.one(file, f"line {node_line(exc.node)}", "", str(exc)) from None
    return root


def read_yaml_mapping(path: Path, what: str) -> dict[Any, Any]:
    """A guarded YAML file (compose_file) whose top level is a mapping, as plain values;
    duplicate keys and tags are errors naming their line."""
    file = str(path)
    root = compose_file(path, what)
    if root is None:
        raise InputError.one(file, "", "", f"empty file; a {what} is a mapping (key: value)")
    if not isinstance(root, MappingNode):
        raise InputError.one(file, f"line {node_line(root)}", "", "the top level must be a "
                             f"mapping (key: value), found {node_kind(root)}")
    builder = Builder(file, {})
    data = builder.build(root, ())
    if builder.problems:
        raise InputError(sorted(builder.problems, key=problem_order))
    return dict(data)



def problem_order(p: InputProblem) -> tuple[int, str]:
    number = p.where.split()[-1] if p.where else ""
    return (int(number) if number.isdigit() else 0, p.field)
