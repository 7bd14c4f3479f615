"""The rulebook's public override API, as `sweep` uses it: exact decimals, a bare fee number is
the item's rate, the merge keeps what the override does not name."""

from __future__ import annotations

from decimal import Decimal

import pytest

from optimizer.rules.rulebook import exact_decimals, merge_program_override, program_override


def test_exact_decimals_reads_floats_by_their_shortest_repr() -> None:
    assert exact_decimals({"a": [0.9, 1, True]}) == {"a": [Decimal("0.9"), 1, True]}


def test_a_bare_fee_number_is_the_items_rate() -> None:
    assert program_override("offsite", {"fees": {"commission": 0.05, "other": {"rate": 0.1}}}) \
        == {"fees": {"commission": {"rate": Decimal("0.05")}, "other": {"rate": Decimal("0.1")}}}
    assert program_override("offsite", None) == {}


def test_a_program_entry_that_is_no_mapping_is_refused() -> None:
    with pytest.raises(TypeError, match="mapping"):
        program_override("offsite", 3)


def test_merge_keeps_what_the_override_does_not_name() -> None:
    program = {"horizon_days": 30, "fees": {"commission": {"group": "g", "rate": Decimal("0.1")}}}
    merged = merge_program_override(program, "offsite", {"fees": {"commission": 0.05}})
    assert merged == {"horizon_days": 30,
                      "fees": {"commission": {"group": "g", "rate": Decimal("0.05")}}}
    assert program["fees"]["commission"]["rate"] == Decimal("0.1")  # the base is not changed
