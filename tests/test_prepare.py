"""prepare(): load -> rulebook -> rules written once (solve, sweep, audit and explain start from
it); the exit codes are the command line's alone."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from optimizer.cli import (
    EXIT_INFEASIBLE,
    EXIT_NO_SOLUTION,
    EXIT_OK,
    solve_exit_code,
    sweep_exit_code,
)
from optimizer.load import InputError
from optimizer.prepare import PreparedInputs, load_inputs, prepare
from optimizer.rules.eligibility import evaluate_rules
from optimizer.solve import FEASIBLE, INFEASIBLE, NO_SOLUTION, OPTIMAL

BAGS = Path(__file__).resolve().parent.parent / "scenarios" / "packaging-bags" / "scenario.yaml"


def test_prepare_gives_the_inputs_and_the_rules() -> None:
    prepared = prepare(BAGS)
    assert isinstance(prepared, PreparedInputs)
    assert prepared.scenario.name == "packaging-bags" and prepared.source.file == BAGS
    assert prepared.catalogue.n == 30
    assert list(prepared.rulebook.programs) == list(prepared.rules.programs)
    assert prepared.rulebook_file[1].endswith("1688-2024.yaml")
    again = evaluate_rules(prepared.rulebook, prepared.scenario.merchant, prepared.catalogue)
    assert np.array_equal(again.ok, prepared.rules.ok)
    assert not prepared.rules.ok.all()  # the scenario's rules exclude some SKUs
    with pytest.raises(dataclasses.FrozenInstanceError):
        prepared.rules = again  # type: ignore[misc]


def test_a_rule_on_a_missing_field_is_an_input_error(tmp_path: Path) -> None:
    text = BAGS.read_text(encoding="utf-8").replace(
        "\nconstraints:", "\nprograms:\n  offsite:\n    sku_rules:\n      bogus: "
        "{field: no_such_column, op: '>=', value: 1}\n  huopin: {}\nconstraints:", 1)
    (tmp_path / "scenario.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "catalogue.csv").write_bytes((BAGS.parent / "catalogue.csv").read_bytes())
    loaded = load_inputs(tmp_path / "scenario.yaml")  # loading holds: the rules do not
    with pytest.raises(InputError) as err:
        loaded.evaluate()
    assert err.value.render() == ("1688-2024, field no_such_column: a rule reads a field that "
                                  "does not exist: no_such_column")


def test_exit_codes_are_the_clis() -> None:
    assert [solve_exit_code(s) for s in (OPTIMAL, FEASIBLE, INFEASIBLE, NO_SOLUTION)] == \
        [EXIT_OK, EXIT_OK, EXIT_INFEASIBLE, EXIT_NO_SOLUTION] == [0, 0, 3, 4]

    @dataclasses.dataclass
    class Swept:
        unanswered: int

    assert sweep_exit_code(Swept(0)) == 0  # type: ignore[arg-type]
    assert sweep_exit_code(Swept(2)) == 4  # type: ignore[arg-type]
