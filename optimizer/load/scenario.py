"""Read the scenario YAML (SPEC 2.1) into a validated `Scenario`, remembering every key's line.

The file is read by optimizer/load/yamlread.py (safe, every key's line, duplicate keys and alias
bombs refused); here its values are validated against the Scenario model and pydantic's errors
worded for a person: the file, the key's line, the dotted field, a did-you-mean for a typo.
"""

from __future__ import annotations

import difflib
import logging
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode

from optimizer.load.errors import InputError, InputProblem
from optimizer.load.types import (
    MAX_COUNT,
    MAX_DAYS,
    MAX_ELASTICITY,
    MAX_SEED,
    MAX_TIME_LIMIT_S,
    MAX_YUAN,
    PERIOD_TAGS,
    Merchant,
    Scenario,
    YamlSource,
)
from optimizer.load.yamlread import MAX_NODES as MAX_NODES
from optimizer.load.yamlread import (
    Builder,
    compose_file,
    dotted,
    node_kind,
    node_line,
    problem_order,
)
from optimizer.load.yamlread import NodeBudget as NodeBudget
from optimizer.load.yamlread import TooBig as TooBig
from optimizer.load.yamlread import read_yaml_mapping as read_yaml_mapping

log = logging.getLogger("optimizer.load")


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
    if len(loc) >= 2 and loc[0] == "periods" and loc[1] in PERIOD_TAGS:
        loc = loc[:1] + loc[2:]  # the form's tag is no key of the file

    field = dotted(loc)
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
    missing = [f for f, info in Merchant.model_fields.items()
               if info.default is None and given.get(f) is None]  # baseline_gmv defaults to 0
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
        raise InputError.one(file, f"line {node_line(root)}", "", "the top level must be a "
                             f"mapping (key: value), found {node_kind(root)}")
    source = YamlSource(file=path)
    builder = Builder(file, source.lines)
    data = builder.build(root, ())
    if builder.problems:
        raise InputError(sorted(builder.problems, key=problem_order))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err, source) for err in exc.errors(include_url=False)]
        raise InputError(sorted(problems, key=problem_order)) from None
    _warn_missing_merchant(data, file)
    return scenario, source
