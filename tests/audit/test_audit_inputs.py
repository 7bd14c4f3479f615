"""The auditor's own reading of scenarios: overrides, rulebook paths, catalogue formats."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from optimizer.audit import AuditInputError, audit_rows, load_world
from optimizer.audit.inputs import BUILTIN_RULEBOOKS
from tests.audit.conftest import Fill, MakeScenario


def test_programs_absent_means_every_rulebook_program(make_scenario: MakeScenario) -> None:
    assert list(load_world(make_scenario()).programs) == [
        "offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi"]
    world = load_world(make_scenario(programs={"yanxuan": None, "offsite": {"enabled": True},
                                               "huopin": {"enabled": False}}))
    assert list(world.programs) == ["offsite", "yanxuan"]


def test_unknown_program_override_is_an_error(make_scenario: MakeScenario) -> None:
    with pytest.raises(AuditInputError, match="nosuch"):
        load_world(make_scenario(programs={"nosuch": {}}))


def test_deep_merged_price_cap_keeps_strictness(make_scenario: MakeScenario, fill: Fill) -> None:
    """Only the ratio is overridden: 0.80 x 12.00 = 9.60 stays a strict cap."""
    sc = make_scenario([{"min_price_30d": "12.00"}],
                       programs={"offsite": {"price_caps": {"market_price": {"ratio": 0.80}}},
                                 "yanxuan": {"price_caps": {"market_price": 0.90}}})
    codes = {(r[2], audit_rows(sc, fill(sc, [r])).codes() == set()) for r in [
        ("S1", "offsite", "9.59"), ("S1", "offsite", "9.60"), ("S1", "yanxuan", "10.80"),
        ("S1", "yanxuan", "10.81")]}
    assert codes == {("9.59", True), ("9.60", False), ("10.80", True), ("10.81", False)}


def test_demand_overrides_and_elasticity_column(make_scenario: MakeScenario) -> None:
    sc = make_scenario([{"elasticity": ""}, {"sku_id": "S2", "offer_id": "O2",
                                             "elasticity": "1.0"}],
                       programs={"offsite": {"horizon_days": 15, "demand_multiplier": 2.0}})
    rows = [{"sku_id": s, "offer_id": o, "program": "offsite", "price": "6.00"}
            for s, o in (("S1", "O1"), ("S2", "O2"))]
    lines = audit_rows(sc, rows).lines
    assert lines[0].eco is not None and lines[1].eco is not None
    # a new enrollment sells the horizon less off-site's 7 review days: 15 - 7
    assert lines[0].eco.units == pytest.approx(10 * 2.0 * 8 * 0.5 ** -2.5, rel=1e-12)
    assert lines[1].eco.units == pytest.approx(10 * 2.0 * 8 * 0.5 ** -1.0, rel=1e-12)


def test_rulebook_path_relative_to_scenario(make_scenario: MakeScenario, fill: Fill,
                                            tmp_path: Path) -> None:
    book = yaml.safe_load((BUILTIN_RULEBOOKS / "1688-2024.yaml").read_text("utf-8"))
    book["programs"]["offsite"]["sku_rules"]["growth_score"]["value"] = 50
    sc = make_scenario([{"growth_score": 55}], rulebook="rules/mine.yaml")
    (sc.parent / "rules").mkdir()
    (sc.parent / "rules" / "mine.yaml").write_text(yaml.safe_dump(book), "utf-8")
    assert audit_rows(sc, fill(sc, [("S1", "offsite", "8.99")])).codes() == set()
    builtin = make_scenario([{"growth_score": 55}])
    assert audit_rows(builtin, fill(builtin, [("S1", "offsite", "8.99")])).codes() == {
        "SKU_RULE"}


def test_parquet_and_bom_catalogues_read_alike(make_scenario: MakeScenario, fill: Fill) -> None:
    skus = [{"dropship": "yes"}, {"sku_id": "S2", "offer_id": "O2", "growth_score": 55}]
    sc = make_scenario(skus)
    rows = fill(sc, [("S1", "offsite", "8.99"), ("S2", "offsite", "8.50"),
                     ("S2", "yanxuan", "11.40")])
    expected = audit_rows(sc, rows)
    assert expected.codes() == {"SKU_RULE"}

    table = pacsv.read_csv(sc.parent / "catalogue.csv")  # typed columns: float, int, bool
    pq.write_table(table, sc.parent / "catalogue.parquet")
    text = sc.read_text("utf-8").replace("catalogue.csv", "catalogue.parquet")
    (sc.parent / "pq.yaml").write_text(text, "utf-8")
    got = audit_rows(sc.parent / "pq.yaml", rows)
    assert got.violations == expected.violations
    assert got.objective == expected.objective

    content = (sc.parent / "catalogue.csv").read_text("utf-8")
    (sc.parent / "catalogue.csv").write_text(content, "utf-8-sig")
    assert audit_rows(sc, rows).violations == expected.violations


@pytest.mark.parametrize(("column", "value", "match"), [
    ("market_price", "12.005", "whole number of fen"),
    ("dropship", "maybe", "true/false"),
    ("market_price", "0", "must be > 0"),
    ("stock", "", "stock is empty"),
])
def test_bad_catalogue_values(make_scenario: MakeScenario, column: str, value: str,
                              match: str) -> None:
    with pytest.raises(AuditInputError, match=match):
        load_world(make_scenario([{column: value}]))


def test_csv_fixture_round_trip(make_scenario: MakeScenario) -> None:
    """The conftest writer drops a column set to None everywhere (optional columns default)."""
    sc = make_scenario([{"moq": None}])
    with (sc.parent / "catalogue.csv").open(encoding="utf-8") as f:
        header = next(csv.reader(f))
    assert "moq" not in header
    assert load_world(sc).skus["S1"].fields["moq"] == 1
