"""load_scenario: validation, exact money, line numbers in messages, and hostile YAML."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from optimizer.load import InputError, load_scenario
from optimizer.load.scenario import MAX_NODES, NodeBudget, TooBig

MINIMAL = "name: t\ncatalogue: catalogue.csv\n"

SPEC_EXAMPLE = """\
name: spring-2024                 # free text
catalogue: catalogue.csv
rulebook: 1688-2024
merchant:
  main_industry: consumer
  l_level: 3
  membership: chengxintong
  service_star: 4.0
  logistics_score: 3.5
  product_experience_score: 3.0
  dispute_score: 4.5
  baseline_gmv: 300000
  trade_medal: 2
  alipay_verified: true
  buyer_protection: true
  buyer_protection_deposit: 5000
  violation_points: 0
  prohibited_points: 0
  fake_trading_3m: false
  ip_infringement: false
  compliance_violation: false
  infringing_goods_penalty: false
  court_dishonest: false
  finance_overdue: false
programs:
  offsite: {fees: {help_sell_commission: 0.01}}
  yanxuan: {horizon_days: 2, demand_multiplier: 6.0}
  huopin: {enabled: false}
fees:
  help_sell_commission: {cap: 0.05}
constraints:
  max_skus: {offsite: 500}
  discount_budget: 200000
  gmv_min: 2000000
  min_unit_margin_rate: 0.0
  stock_reserve_days: 0
price_step: 0.01
solver:
  time_limit_s: 60
  relative_gap: 0.0001
  seed: 0
  workers: 2
"""

BOMB = """\
name: t
catalogue: c.csv
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def problems(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[str, str, str]]:
    return [(p.where, p.field, p.message) for p in exc.value.problems]


def test_minimal_scenario_takes_defaults(write: Callable[..., Path]) -> None:
    scenario, source = load_scenario(write("s.yaml", MINIMAL))
    assert scenario.name == "t"
    assert scenario.catalogue == "catalogue.csv"
    assert scenario.rulebook == "1688-2024"
    assert scenario.programs is None
    assert scenario.price_step == Decimal("0.01")
    assert scenario.solver.workers == 2
    assert scenario.merchant.l_level is None
    assert source.lines == {("name",): 1, ("catalogue",): 2}


def test_spec_example_loads_with_exact_values_and_lines(write: Callable[..., Path]) -> None:
    scenario, source = load_scenario(write("s.yaml", SPEC_EXAMPLE))
    assert scenario.merchant.trade_medal == 2
    assert scenario.merchant.buyer_protection_deposit == Decimal(5000)
    assert scenario.constraints.gmv_min == Decimal(2000000)
    assert scenario.constraints.max_skus == {"offsite": 500}
    assert scenario.fees["help_sell_commission"].cap == Decimal("0.05")
    assert scenario.programs is not None
    assert scenario.programs["yanxuan"] == {"horizon_days": 2, "demand_multiplier": 6.0}
    assert source.lines[("constraints", "gmv_min")] == 34
    assert source.lines[("programs", "offsite", "fees", "help_sell_commission")] == 26
    assert source.where(("merchant", "l_level")) == "line 6"
    # SPEC 2.1's merchant fields of issue 15: shop dispute score, baseline GMV, 严选 flags
    assert scenario.merchant.dispute_score == 4.5
    assert scenario.merchant.baseline_gmv == Decimal(300000)
    for flag in YANXUAN_FLAGS:
        assert getattr(scenario.merchant, flag) is False
    assert source.lines[("merchant", "finance_overdue")] == 24


YANXUAN_FLAGS = ("fake_trading_3m", "ip_infringement", "compliance_violation",
                 "infringing_goods_penalty", "court_dishonest", "finance_overdue")


def test_new_merchant_fields_defaults_and_limits(write: Callable[..., Path]) -> None:
    """Flags missing stay None (not given: they fail 严选), baseline_gmv defaults to 0 yuan."""
    scenario, _ = load_scenario(write("s.yaml", MINIMAL))
    assert scenario.merchant.baseline_gmv == Decimal(0)
    assert scenario.merchant.dispute_score is None
    assert all(getattr(scenario.merchant, f) is None for f in YANXUAN_FLAGS)
    for body, field in [("  baseline_gmv: 1.005\n", "baseline_gmv"),
                        ("  baseline_gmv: -1\n", "baseline_gmv"),
                        ("  dispute_score: 5.1\n", "dispute_score"),
                        ("  court_dishonest: 1\n", "court_dishonest"),
                        ("  finance_overdue: 'no'\n", "finance_overdue")]:
        with pytest.raises(InputError) as exc:
            load_scenario(write("bad.yaml", MINIMAL + "merchant:\n" + body))
        assert [(w, f) for w, f, _ in problems(exc)] == [("line 4", f"merchant.{field}")], body


@pytest.mark.parametrize(("text", "fen"), [
    ("0.07", 7), ("19.99", 1999), ("1234567.89", 123456789), ("0.1", 10), ("200000", 20000000),
    ("'0.29'", 29), ("2.675", None), ("1.234", None), ("0.001", None),
])
def test_money_is_exact_from_the_float_repr(write: Callable[..., Path], text: str,
                                            fen: int | None) -> None:
    path = write("s.yaml", MINIMAL + f"constraints:\n  discount_budget: {text}\n")
    if fen is None:
        with pytest.raises(InputError) as exc:
            load_scenario(path)
        where, field, message = problems(exc)[0]
        assert (where, field) == ("line 4", "constraints.discount_budget")
        assert "more than 2 decimals" in message
    else:
        scenario, _ = load_scenario(path)
        assert scenario.constraints.discount_budget is not None
        assert scenario.constraints.discount_budget * 100 == fen


@pytest.mark.parametrize(("step", "ok"), [
    ("0.01", True), ("0.05", True), ("1", True), ("0.10", True), ("0.001", False), ("0", False),
    ("-0.01", False), (".inf", False), (".nan", False), ("true", False),
])
def test_price_step_is_a_positive_multiple_of_a_fen(write: Callable[..., Path], step: str,
                                                     ok: bool) -> None:
    path = write("s.yaml", MINIMAL + f"price_step: {step}\n")
    if ok:
        assert load_scenario(path)[0].price_step == Decimal(step)
    else:
        with pytest.raises(InputError) as exc:
            load_scenario(path)
        assert problems(exc)[0][:2] == ("line 3", "price_step")


@pytest.mark.parametrize(("medal", "value"), [
    ("2A", 2), ("A", 1), ("5a", 5), ("3", 3), ("0", 0), ("none", 0), ("'4'", 4),
])
def test_trade_medal_accepts_1688_spelling(write: Callable[..., Path], medal: str,
                                           value: int) -> None:
    scenario, _ = load_scenario(write("s.yaml", MINIMAL + f"merchant:\n  trade_medal: {medal}\n"))
    assert scenario.merchant.trade_medal == value


@pytest.mark.parametrize("medal", ["6A", "6", "-1", "true", "AA", "2.5"])
def test_trade_medal_refuses_others(write: Callable[..., Path], medal: str) -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", MINIMAL + f"merchant:\n  trade_medal: {medal}\n"))
    assert problems(exc)[0][:2] == ("line 4", "merchant.trade_medal")


@pytest.mark.parametrize(("value", "ok"), [
    ("true", True), ("false", True), ("1", False), ("'true'", False), ("0", False),
])
def test_booleans_must_be_yaml_booleans(write: Callable[..., Path], value: str, ok: bool) -> None:
    path = write("s.yaml", MINIMAL + f"merchant:\n  alipay_verified: {value}\n")
    if ok:
        assert load_scenario(path)[0].merchant.alipay_verified is (value == "true")
    else:
        with pytest.raises(InputError) as exc:
            load_scenario(path)
        assert problems(exc)[0][:2] == ("line 4", "merchant.alipay_verified")


@pytest.mark.parametrize(("key", "value"), [
    ("l_level", "true"), ("service_star", "false"), ("violation_points", "yes"),
])
def test_booleans_are_not_numbers(write: Callable[..., Path], key: str, value: str) -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", MINIMAL + f"merchant:\n  {key}: {value}\n"))
    where, field, message = problems(exc)[0]
    assert (where, field) == ("line 4", f"merchant.{key}")
    assert "boolean" in message


@pytest.mark.parametrize(("rate", "ok"), [("0", True), ("0.25", True), ("0.999", True),
                                          ("1", False), ("-0.1", False)])
def test_min_unit_margin_rate_in_0_1(write: Callable[..., Path], rate: str, ok: bool) -> None:
    path = write("s.yaml", MINIMAL + f"constraints:\n  min_unit_margin_rate: {rate}\n")
    if ok:
        assert load_scenario(path)[0].constraints.min_unit_margin_rate == Decimal(rate)
    else:
        with pytest.raises(InputError) as exc:
            load_scenario(path)
        assert problems(exc)[0][:2] == ("line 4", "constraints.min_unit_margin_rate")


def test_every_pydantic_error_is_its_own_problem_with_its_line(write: Callable[..., Path]) -> None:
    text = MINIMAL + """\
merchant:
  l_level: 9
  lvel: 3
  main_industry: food
constraints:
  max_skus: {offsite: -1, huopin: 2.5, yanxuan: 10}
solver:
  workers: 0
colour: blue
"""
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", text))
    got = problems(exc)
    assert [(w, f) for w, f, _ in got] == [
        ("line 4", "merchant.l_level"), ("line 5", "merchant.lvel"),
        ("line 6", "merchant.main_industry"), ("line 8", "constraints.max_skus.huopin"),
        ("line 8", "constraints.max_skus.offsite"), ("line 10", "solver.workers"),
        ("line 11", "colour"),
    ]
    messages = dict(((w, f), m) for w, f, m in got)
    assert messages[("line 5", "merchant.lvel")] == "unknown key (typo?); did you mean 'l_level'?"
    assert messages[("line 11", "colour")] == "unknown key (typo?)"
    assert "got 9" in messages[("line 4", "merchant.l_level")]
    assert "'food'" in messages[("line 6", "merchant.main_industry")]
    rendered = str(exc.value)
    assert "s.yaml, line 10, field solver.workers:" in rendered


def test_catalogue_suffix_is_checked_but_not_existence(write: Callable[..., Path]) -> None:
    for name in ("nowhere/cat.CSV", "cat.Parquet", "../x.parquet"):
        scenario, _ = load_scenario(write("s.yaml", f"name: t\ncatalogue: {name}\n"))
        assert scenario.catalogue == name
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", "name: t\ncatalogue: catalogue.xlsx\n"))
    where, field, message = problems(exc)[0]
    assert (where, field) == ("line 2", "catalogue")
    assert ".csv or .parquet" in message and "catalogue.xlsx" in message


def test_missing_required_keys(write: Callable[..., Path]) -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", "rulebook: 1688-2024\n"))
    assert sorted((f, m) for _, f, m in problems(exc)) == [
        ("catalogue", "required key missing"), ("name", "required key missing")]


def test_program_ids_are_left_to_the_rulebook(write: Callable[..., Path]) -> None:
    text = MINIMAL + "programs:\n  no_such_program: {}\nconstraints:\n  max_skus: {nope: 3}\n"
    scenario, _ = load_scenario(write("s.yaml", text))
    assert scenario.programs == {"no_such_program": {}}
    assert scenario.constraints.max_skus == {"nope": 3}


def test_numeric_name_is_text(write: Callable[..., Path]) -> None:
    assert load_scenario(write("s.yaml", "name: 2024\ncatalogue: c.csv\n"))[0].name == "2024"


def test_missing_merchant_fields_warned_once(write: Callable[..., Path],
                                            caplog: pytest.LogCaptureFixture) -> None:
    text = MINIMAL + "merchant:\n  l_level: 3\n  membership: shili\n  trade_medal: ~\n"
    with caplog.at_level(logging.WARNING, logger="optimizer.load"):
        scenario, _ = load_scenario(write("s.yaml", text))
    assert scenario.merchant.trade_medal is None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "trade_medal" in warnings[0] and "service_star" in warnings[0]
    assert "l_level" not in warnings[0] and "membership" not in warnings[0]


def test_duplicate_key_names_key_and_both_lines(write: Callable[..., Path]) -> None:
    text = MINIMAL + "constraints:\n  gmv_min: 100\n  discount_budget: 5\n  gmv_min: 200\n"
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", text))
    assert problems(exc) == [("line 6", "constraints.gmv_min",
                              "duplicate key 'gmv_min' (first at line 4)")]


def test_yaml_syntax_error_names_its_line(write: Callable[..., Path]) -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", MINIMAL + "merchant:\n  l_level: [3\n  x: 1\n"))
    where, _, message = problems(exc)[0]
    assert where.startswith("line ")
    assert int(where.split()[1]) in (4, 5, 6)
    assert message.startswith("YAML syntax error")


@pytest.mark.parametrize(("text", "found"), [
    ("- name: t\n- catalogue: c.csv\n", "a list"), ("just text\n", "a single value"),
])
def test_top_level_must_be_a_mapping(write: Callable[..., Path], text: str, found: str) -> None:
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", text))
    assert problems(exc) == [("line 1", "",
                              f"the top level must be a mapping (key: value), found {found}")]


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file(write: Callable[..., Path], text: str) -> None:
    with pytest.raises(InputError, match="empty file"):
        load_scenario(write("s.yaml", text))


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="scenario file not found"):
        load_scenario(tmp_path / "nope.yaml")
    with pytest.raises(InputError, match="is a folder"):
        load_scenario(tmp_path)


def test_not_utf8_names_the_line(write: Callable[..., Path]) -> None:
    data = "name: t\ncatalogue: c.csv\nrulebook: 规则\n".encode("gbk")
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", data))
    where, _, message = problems(exc)[0]
    assert where == "line 3" and "not UTF-8" in message


def test_bom_and_chinese_text_are_fine(write: Callable[..., Path]) -> None:
    path = write("s.yaml", b"\xef\xbb\xbf" + "name: 春季\ncatalogue: 目录.csv\n".encode())
    scenario, source = load_scenario(path)
    assert scenario.name == "春季" and scenario.catalogue == "目录.csv"
    assert source.lines[("catalogue",)] == 2


def test_python_tags_are_refused(write: Callable[..., Path]) -> None:
    text = MINIMAL + "rulebook: !!python/object/apply:os.system ['echo hacked']\n"
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", text))
    where, field, message = problems(exc)[0]
    assert (where, field) == ("line 3", "rulebook")
    assert "tag:yaml.org,2002:python/object/apply:os.system" in message
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", MINIMAL + "rulebook: !!python/name:os.system x\n"))
    assert problems(exc)[0][:2] == ("line 3", "rulebook")
    assert "cannot read this value" in problems(exc)[0][2]


def test_alias_bomb_is_refused_before_expansion(write: Callable[..., Path]) -> None:
    start = time.perf_counter()
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", BOMB))
    elapsed = time.perf_counter() - start
    assert "alias bomb" in exc.value.problems[0].message
    assert elapsed < 5  # safety bound only: it is refused in milliseconds
    # The counter walks each distinct node once: ~90 edges for a 10^9-node expansion.
    budget = NodeBudget()
    with pytest.raises(TooBig):
        budget.size(yaml.compose(BOMB, Loader=yaml.SafeLoader))
    assert budget.visited < 200


def test_budget_counts_expanded_size_exactly() -> None:
    node = yaml.compose("a: &x [1, 2, 3]\nb: [*x, *x]\n", Loader=yaml.SafeLoader)
    # root + (a, [1,2,3] = 4) + (b, [*x, *x] = 1 + 4 + 4)
    assert NodeBudget().size(node) == 1 + (1 + 4) + (1 + 9)
    assert MAX_NODES >= 10_000  # a generous scenario still fits


def test_recursive_alias_is_refused(write: Callable[..., Path]) -> None:
    with pytest.raises(InputError, match="refers to itself"):
        load_scenario(write("s.yaml", MINIMAL + "programs: &p {offsite: *p}\n"))


def test_nesting_past_our_limit_is_refused(write: Callable[..., Path]) -> None:
    """Our own guard (64 levels, the top mapping included), far below the parser's (PyYAML
    6.0.4 refuses at 1,000)."""
    text = MINIMAL + "programs: " + "[" * 64 + "]" * 64 + "\n"
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", text))
    assert problems(exc) == [("line 3", "", "nested more than 64 levels deep")]
    # one level less is no nesting problem (it is a type error further on)
    with pytest.raises(InputError) as exc:
        load_scenario(write("s.yaml", MINIMAL + "programs: " + "[" * 63 + "]" * 63 + "\n"))
    assert all("nested" not in p[2] for p in problems(exc))


def test_deep_nesting_is_refused(write: Callable[..., Path]) -> None:
    """100,000 brackets crash a recursive composer: refused with the file and line named,
    whichever of our guard or the parser's own limit sees it first (the wording is theirs)."""
    path = write("s.yaml", MINIMAL + "programs: " + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(InputError) as exc:
        load_scenario(path)
    [(where, _, message)] = problems(exc)
    assert where == "line 3"
    assert "nest" in message
    assert str(path) in str(exc.value)


def test_merge_keys_work_and_explicit_keys_win(write: Callable[..., Path]) -> None:
    text = MINIMAL + "solver:\n  <<: {time_limit_s: 10, workers: 4}\n  workers: 1\n"
    scenario, source = load_scenario(write("s.yaml", text))
    assert scenario.solver.time_limit_s == 10 and scenario.solver.workers == 1
    assert source.lines[("solver", "workers")] == 5


def test_merge_of_anchored_mappings(write: Callable[..., Path]) -> None:
    text = MINIMAL + """\
programs:
  offsite: &fast {horizon_days: 3, demand_multiplier: 2.0}
  yanxuan: &slow {horizon_days: 9, elasticity: 1.5}
  huopin:
    <<: [*fast, *slow]
    enabled: true
"""
    scenario, source = load_scenario(write("s.yaml", text))
    assert scenario.programs is not None
    assert scenario.programs["huopin"] == {"enabled": True, "horizon_days": 3,
                                           "demand_multiplier": 2.0, "elasticity": 1.5}
    assert source.lines[("programs", "huopin", "enabled")] == 8
