"""--set parsing, path resolution and the grid: exact values, clear input errors, warm parents."""

from __future__ import annotations

import hashlib
import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.load import InputError, load_scenario
from optimizer.rules.rulebook import build_rulebook
from optimizer.score.fees import fee_table
from optimizer.sweep.grid import (
    TWO_ROOTS_FROM,
    Base,
    build_axes,
    parse_set,
    point_inputs,
    snake,
    warm_parents,
)


def _base(path: Path) -> Base:
    scenario, source = load_scenario(path)
    return Base.read(scenario, source)


def test_values_are_exact_decimals_endpoints_included() -> None:
    path, values = parse_set("fees.help_sell_commission.cap=0.03:0.07:5")
    assert path == "fees.help_sell_commission.cap"
    assert values == tuple(Decimal(v) for v in ("0.03", "0.04", "0.05", "0.06", "0.07"))
    assert [str(v) for v in parse_set("x=0.05:0.07:21")[1]][:3] == ["0.05", "0.051", "0.052"]
    assert parse_set("x=3:1:3")[1] == (Decimal(3), Decimal(2), Decimal(1))
    assert parse_set("x=2:2:1")[1] == (Decimal(2),)


@pytest.mark.parametrize("text, says", [
    ("fees.cap", "PATH=START:STOP:N"),
    ("x=a:1:3", "START 'a' is not a number"),
    ("x=0:1:0", "N = 0"),
    ("x=0:1:2.5", "N '2.5' is not a whole number"),
    ("x=0:1:7", "not an exact decimal"),
    ("x=0:nan:3", "not a finite number"),
    ("x=1:1:3", "START and STOP are equal"),
    ("x=0:1:1", "N = 1 gives one point"),
])
def test_bad_ranges(text: str, says: str) -> None:
    with pytest.raises(InputError) as err:
        parse_set(text)
    assert says in err.value.render()
    assert err.value.problems[0].file == f"--set {text}"


@pytest.mark.parametrize("text, says", [
    ("fees.help_sell_comission.cap=0:0.1:3", "no fee group 'help_sell_comission'"),
    ("fees.tech_service.rate=0:0.1:3", "fees.<group>.cap"),
    ("programs.offsite.fees.tech_servic=0:0.1:3", "programs.offsite.fees.tech_servic does not"),
    ("programs.nope.horizon_days=1:2:2", "no program 'nope'"),
    ("programs.offsite.help_sell=0:1:2", "is not a numeric field"),
    ("programs.offsite.selection=0:1:2", "is not a numeric field"),
    ("constraints.discount_budgt=0:1:2", "constraints.discount_budgt does not exist"),
    ("name=0:1:2", "is not a numeric field"),
    ("merchant.alipay_verified=0:1:2", "is not a numeric field"),
    ("constraints.max_skus.nope=1:2:2", "constraints.max_skus.<program>"),
    ("constraints.discount_budget=0:0.005:2", "more than 2 decimals"),
    ("fees.help_sell_commission.cap=0:2:3", "value 2: Input should be less than or equal to 1"),
    ("programs.offsite.fees.tech_service=-0.1:0.1:3", "value -0.1"),
    ("constraints.max_skus.offsite=0:5:3", "whole number; the grid gives 2.5"),
    ("merchant.l_level=0:9:10", "value 7"),
])
def test_bad_paths_and_values_name_the_set_and_field(tiny_case: Path, text: str,
                                                     says: str) -> None:
    with pytest.raises(InputError) as err:
        build_axes(_base(tiny_case), [text])
    assert says in err.value.render(), err.value.render()
    assert err.value.problems[0].file == f"--set {text}"


def test_every_bad_set_is_reported_at_once(tiny_case: Path) -> None:
    with pytest.raises(InputError) as err:
        build_axes(_base(tiny_case), ["fees.x.cap=0:1:2", "programs.y.elasticity=1:2:2"])
    assert len(err.value.problems) == 2


@pytest.mark.parametrize("text, reads_rules, fee_rate", [
    ("fees.help_sell_commission.cap=0.03:0.07:3", False, True),
    ("programs.offsite.fees.tech_service=0:0.01:3", False, True),
    ("programs.offsite.fees.tech_service.rate=0:0.01:3", False, True),
    ("programs.yanxuan.demand_multiplier=2:6:3", False, False),
    ("programs.huopin.price_caps.market_price.ratio=0.8:0.9:3", False, False),
    ("programs.offsite.sku_rules.growth_score.value=50:70:3", True, False),
    ("programs.yanxuan.merchant_rules.level_or_membership.any_of.l_level.value=1:3:3", True,
     False),
    ("constraints.discount_budget=100:300:3", False, False),
    ("constraints.min_unit_margin_rate=0:0.1:3", False, False),
    ("constraints.max_skus.offsite=1:3:3", False, False),
    ("merchant.service_star=3:4:3", True, False),
    ("price_step=0.01:0.05:5", False, False),
    ("solver.seed=0:2:3", False, False),
])
def test_fields_that_exist(tiny_case: Path, text: str, reads_rules: bool, fee_rate: bool) -> None:
    (ax,) = build_axes(_base(tiny_case), [text])
    assert (ax.reads_rules, ax.fee_rate) == (reads_rules, fee_rate)


def test_a_point_is_merged_like_a_written_override(tmp_path: Path) -> None:
    """programs.offsite.fees.help_sell_commission=0.03 over a scenario that already overrides
    offsite, lists only some programs, and gives a bare fee number: the same rulebook as the
    scenario file written with that value."""
    from tests.sweep.conftest import tiny

    given = tiny(tmp_path / "a", programs={"offsite": {"fees": {"tech_service": 0.004},
                                                       "horizon_days": 20},
                                           "yanxuan": {}})
    written = tiny(tmp_path / "b", programs={"offsite": {"fees": {"tech_service": 0.004,
                                                                   "help_sell_commission": 0.03},
                                                         "horizon_days": 20},
                                             "yanxuan": {}})
    base = _base(given)
    (ax,) = build_axes(base, ["programs.offsite.fees.help_sell_commission=0.01:0.03:3"])
    _, at = point_inputs(base, [ax], [Decimal("0.03")])
    scenario, source = load_scenario(written)
    assert at == build_rulebook(scenario, source)
    assert at.programs["offsite"].fees["help_sell_commission"].rate == Decimal("0.03")
    assert list(at.programs) == ["offsite", "yanxuan"]
    assert fee_table(at).alone["offsite"].rate * 1000 == 34  # 0.004 + 0.03, exactly


def test_absent_programs_mean_every_program(tiny_case: Path) -> None:
    base = _base(tiny_case)
    (ax,) = build_axes(base, ["programs.yanxuan.demand_multiplier=2:4:2"])
    _scenario, rulebook = point_inputs(base, [ax], [Decimal(4)])
    assert list(rulebook.programs) == list(build_rulebook(base.scenario, base.source).programs)
    assert rulebook.programs["yanxuan"].demand_multiplier == 4.0
    assert base.scenario.programs is None  # the given scenario is untouched


def test_snake_steps_to_a_neighbour_each_time() -> None:
    shape = (3, 4, 2)
    order = snake(shape)
    assert sorted(order) == list(range(24))
    pos = [(i // 8, i // 2 % 4, i % 2) for i in order]
    for a, b in itertools.pairwise(pos):
        assert sum(abs(x - y) for x, y in zip(a, b, strict=True)) == 1


@pytest.mark.parametrize("shape", [(1,), (2,), (21,), (4, 5), (2, 3, 3)])
def test_warm_parents_form_one_tree_fixed_by_the_grid(shape: tuple[int, ...]) -> None:
    parents = warm_parents(shape)
    size = 1
    for s in shape:
        size *= s
    assert sorted(parents) == list(range(size))
    # one cold root, two (one per half of the snake) from TWO_ROOTS_FROM points on
    assert sum(p is None for p in parents.values()) == (2 if size >= TWO_ROOTS_FROM else 1)
    for i in parents:  # every chain ends at the root: no cycles
        seen = set()
        while parents[i] is not None:
            assert i not in seen
            seen.add(i)
            i = parents[i]  # type: ignore[assignment]
    assert warm_parents(shape) == parents


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_cli_input_error_exit_2_nothing_written(tiny_case: Path, tmp_path: Path) -> None:
    before = _digest(tiny_case.parent)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(tiny_case), "--set",
                                       "programs.offsite.fees.nope=0:0.1:3", "-o", str(out),
                                       "-q"])
    assert result.exit_code == 2, result.output
    assert "--set programs.offsite.fees.nope=0:0.1:3" in result.output
    assert "field programs.offsite.fees.nope" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not list(tmp_path.glob(".out.*"))
    assert _digest(tiny_case.parent) == before


@pytest.mark.parametrize("args, says", [
    (["--set", "programs.yanxuan.demand_multiplier=2:6:3", "--breakeven"], "--breakeven"),
    (["--set", "fees.help_sell_commission.cap=0:0.1:3", "--per-sku"], "--per-sku"),
    (["--set", "fees.help_sell_commission.cap=0:0.1:3", "--set",
      "programs.offsite.fees.tech_service=0:0.01:2", "--breakeven"], "exactly one --set"),
    ([], "at least one --set"),
])
def test_cli_bad_options(tiny_case: Path, tmp_path: Path, args: list[str], says: str) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(tiny_case), "-o", str(out), "-q", *args])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not out.exists()
