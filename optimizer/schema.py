"""The JSON Schema of the scenario file (`enroll-opt schema`), for editors' completion and checks.

It is made from the pydantic models the loader validates with (`Scenario`, and the rulebook's
`Program` for the `programs:` overrides, which the scenario keeps as raw mappings until they are
merged over the rulebook), then put into plain JSON Schema 2020-12: pydantic writes the bounds of
some annotated number types as its own `ge`/`le` keywords, which no JSON Schema validator reads.

The schema describes what the loader accepts; the loader stays the judge of what it cannot say
(an override's merged result, a rule's own consistency, files that must exist).
"""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema

from optimizer.load.types import Scenario
from optimizer.rules.rulebook import DATA_DIR, Program

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BUILTIN = "1688-2024"  # its program and fee-group ids are offered for completion

_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_DECIMAL_TEXT = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"


def _plain(value: Any) -> Any:
    """A default as JSON: decimals as numbers (pydantic would write them as strings)."""
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class _Generator(GenerateJsonSchema):
    def encode_default(self, dft: Any) -> Any:
        return super().encode_default(_plain(dft))


def _standard(node: Any, bounds: dict[str, Any] | None = None) -> None:
    """In place: pydantic's ge/le/gt/lt onto the number branches below them as JSON Schema's
    minimum/maximum/...; decimal texts (the string branch of a number) get a pattern."""
    if isinstance(node, list):
        for item in node:
            _standard(item, bounds)
        return
    if not isinstance(node, dict):
        return
    own = {_BOUNDS[k]: node.pop(k) for k in list(node) if k in _BOUNDS}
    bounds = {**(bounds or {}), **own} if own or bounds else None
    if node.get("type") in ("number", "integer") and bounds:
        node.update(bounds)
    branches = node.get("anyOf")
    if isinstance(branches, list) and {"number", "string"} <= {b.get("type") for b in branches}:
        for b in branches:
            if b == {"type": "string"}:  # pydantic's text form of a decimal
                b["pattern"] = _DECIMAL_TEXT
    for key, value in node.items():
        # bounds go down into anyOf branches and map values, not into other keywords
        _standard(value, bounds if key in ("anyOf", "additionalProperties") else None)


def _optional(node: Any) -> None:
    """In place: nothing required (an override gives only what it changes)."""
    if isinstance(node, dict):
        node.pop("required", None)
        for value in node.values():
            _optional(value)
    elif isinstance(node, list):
        for value in node:
            _optional(value)


def _builtin() -> dict[str, Any]:
    raw = yaml.safe_load((DATA_DIR / f"{BUILTIN}.yaml").read_text(encoding="utf-8"))
    return raw if isinstance(raw, dict) else {}


def _program_override() -> tuple[dict[str, Any], dict[str, Any]]:
    """The schema of one `programs:` entry and its $defs: the rulebook's program with every field
    optional (it is deep-merged over the rulebook's), a fee item also as a bare rate."""
    schema = Program.model_json_schema(schema_generator=_Generator)
    defs = schema.pop("$defs", {})
    _optional(schema)
    _optional(defs)
    fees = schema["properties"]["fees"]
    fees["additionalProperties"] = {
        "anyOf": [{"type": "number", "minimum": 0, "maximum": 1,
                   "description": "The fee item's rate, 0..1 (its group and scope as in the "
                                  "rulebook)"},
                  {"$ref": "#/$defs/FeeItem"}]}
    schema["title"] = "ProgramOverride"
    schema["description"] = ("Overrides of one program, deep-merged over the rulebook's "
                             "definition of it: give only the fields that change. Empty (null) "
                             "keeps the program as the rulebook has it.")
    return schema, defs


def scenario_schema() -> dict[str, Any]:
    """The scenario file's JSON Schema (2020-12)."""
    schema = Scenario.model_json_schema(schema_generator=_Generator)
    override, override_defs = _program_override()
    defs = schema.setdefault("$defs", {})
    for name, sub in override_defs.items():
        assert name not in defs, f"two $defs named {name}"
        defs[name] = sub
    defs["ProgramOverride"] = override
    entry = {"anyOf": [{"$ref": "#/$defs/ProgramOverride"}, {"type": "null"}]}
    builtin = _builtin()
    programs = schema["properties"]["programs"]
    programs["anyOf"] = [
        {"type": "object",
         "properties": {pid: {**copy.deepcopy(entry),
                              "description": f"{pid} {p.get('name_zh', '')} ({BUILTIN})".strip()}
                        for pid, p in (builtin.get("programs") or {}).items()},
         "additionalProperties": entry},
        {"type": "null"}]
    fees = schema["properties"]["fees"]
    fees["properties"] = {g: {"$ref": "#/$defs/FeeGroupOverride",
                              "description": f"fee group {g} ({BUILTIN})"}
                          for g in builtin.get("fee_groups") or {}}
    _standard(schema)
    head = {"$schema": DIALECT, "title": "enroll-opt scenario file",
            "description": "A scenario for `enroll-opt solve` (SPEC 2.1). Unknown keys are errors."}
    schema.pop("title", None)
    schema.pop("description", None)
    return {**head, **schema}


def scenario_schema_text() -> str:
    """The schema as printed: indented JSON, the same text for the same models, UTF-8."""
    return json.dumps(scenario_schema(), indent=2, ensure_ascii=False) + "\n"
