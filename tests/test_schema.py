"""`enroll-opt schema`: the scenario file's JSON Schema is valid, stable, describes every field,
accepts the shipped scenarios and refuses what the loader refuses (unknown keys, bad bounds)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.generate import generate
from optimizer.load import InputError, load_scenario
from optimizer.rules.rulebook import Program
from optimizer.schema import scenario_schema_text

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "scenarios").glob("*/scenario.yaml"))


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    parsed: dict[str, Any] = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(parsed)
    return parsed


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema)


def test_output_is_stable(schema: dict[str, Any]) -> None:
    again = CliRunner().invoke(main, ["schema"]).output
    assert again == scenario_schema_text() == json.dumps(schema, indent=2,
                                                         ensure_ascii=False) + "\n"
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _properties(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, sub in (node.get("properties") or {}).items():
            out.append((f"{path}.{name}", sub))
        for key, sub in node.items():
            out += _properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            out += _properties(sub, f"{path}/{i}")
    return out


def test_every_field_has_a_description(schema: dict[str, Any]) -> None:
    fields = _properties(schema)
    assert len(fields) > 40
    missing = [path for path, sub in fields if not sub.get("description")]
    assert missing == []
    # no pydantic-only keywords a JSON Schema validator would ignore
    text = json.dumps(schema)
    for keyword in ('"ge"', '"le"', '"gt"', '"lt"'):
        assert f"{keyword}:" not in text


def test_program_overrides_are_described_from_the_rulebook(schema: dict[str, Any]) -> None:
    override = schema["$defs"]["ProgramOverride"]
    assert set(override["properties"]) == set(Program.model_fields)
    assert "required" not in override  # an override gives only what it changes
    builtin = schema["properties"]["programs"]["anyOf"][0]["properties"]
    assert set(builtin) == {"offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi"}
    assert "严选" in builtin["yanxuan"]["description"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_shipped_scenarios_validate(validator: jsonschema.Draft202012Validator,
                                    path: Path) -> None:
    assert len(SHIPPED) >= 3
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


def test_generated_scenario_validates(validator: jsonschema.Draft202012Validator,
                                      tmp_path: Path) -> None:
    path = generate(50, None, 3, tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [e.message for e in validator.iter_errors(data)] == []


GOOD: dict[str, Any] = {
    "name": 2024, "catalogue": "c.CSV",
    "merchant": {"trade_medal": "2A", "l_level": 3, "buyer_protection_deposit": 5000},
    "programs": {"offsite": {"fees": {"help_sell_commission": 0.01}}, "yanxuan": None,
                 "huopin": {"enabled": False, "price_caps": {"market_price": {"ratio": 0.85}}}},
    "fees": {"help_sell_commission": {"cap": 0.05}},
    "constraints": {"max_skus": {"offsite": 500}, "discount_budget": 200000.5},
    "solver": {"time_limit_s": 5},
}


def _loader_accepts(tmp_path: Path, data: dict[str, Any]) -> bool:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        load_scenario(path)
    except InputError:
        return False
    return True


def _with(change: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    *parents, last = change.split(".")
    node = data
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return data


def test_what_the_loader_accepts_validates(validator: jsonschema.Draft202012Validator,
                                           tmp_path: Path) -> None:
    assert _loader_accepts(tmp_path, GOOD)
    assert [e.message for e in validator.iter_errors(GOOD)] == []


@pytest.mark.parametrize("change,value", [
    ("solverr", {}),  # unknown keys, at every level
    ("merchant.l_levl", 3),
    ("constraints.gmv_minimum", 1),
    ("solver.time_limit", 3),
    ("constraints.discount_budget", -1),  # bounds
    ("merchant.l_level", 7),
    ("merchant.trade_medal", "6A"),
    ("merchant.alipay_verified", "yes"),
    ("constraints.min_unit_margin_rate", 1),
    ("catalogue", "catalogue.xlsx"),
    ("fees.help_sell_commission.cap", 2),
])
def test_what_the_loader_refuses_does_not_validate(
        validator: jsonschema.Draft202012Validator, tmp_path: Path, change: str,
        value: Any) -> None:
    data = _with(change, value)
    assert not _loader_accepts(tmp_path, data)
    assert list(validator.iter_errors(data)), f"{change}={value!r} validated"


@pytest.mark.parametrize("change,value", [
    ("programs.offsite.horizon", 3),  # a typo in an override
    ("programs.offsite.fees.help_sell_commission", 1.5),
    ("programs.huopin.selection", "sku_level"),
])
def test_bad_program_overrides_do_not_validate(validator: jsonschema.Draft202012Validator,
                                               change: str, value: Any) -> None:
    assert list(validator.iter_errors(_with(change, value)))
