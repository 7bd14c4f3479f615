"""Bad input through the real CLI: exit 2, the field and line named, no traceback, nothing written.

Each case starts from a small valid scenario + catalogue and breaks exactly one thing. Problems that
only the rulebook can judge (unknown program ids) belong to the rulebook tests, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from optimizer.cli import main
from tests import helpers

SCENARIO = "name: t\ncatalogue: catalogue.csv\n"
HEADER = "sku_id,offer_id,category,market_price,min_price_30d,unit_cost,stock,daily_units"
ROWS = ["S1,O1,consumer,19.99,18.50,7.00,300,2.5", "S2,O1,industrial,9.90,9.90,3,250,4"]
CATALOGUE = "\n".join([HEADER, *ROWS]) + "\n"

BOMB = SCENARIO + """\
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def catalogue_with(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


@dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[str, ...]  # every one of these appears in the output
    scenario: str = SCENARIO
    catalogue: str | bytes | None = CATALOGUE  # None: no catalogue file written
    scenario_name: str = "scenario.yaml"  # the file the CLI is pointed at
    parquet: pa.Table | None = None  # written as catalogue.parquet when given


def _parquet_bad_money() -> pa.Table:
    return pa.table({
        "sku_id": ["S1", "S2"], "offer_id": ["O1", "O1"], "category": ["consumer", "other"],
        "market_price": pa.array([19.99, 12.345]), "min_price_30d": pa.array([18.5, 12.0]),
        "unit_cost": pa.array([Decimal("7.00"), Decimal("3.00")], pa.decimal128(8, 2)),
        "stock": pa.array([300, 250]), "daily_units": pa.array([2.5, 4.0]),
    })


CASES = [
    # ---- scenario file
    Case("scenario-missing", ("nope.yaml", "scenario file not found"), scenario_name="nope.yaml"),
    Case("scenario-top-level-list", ("line 1", "top level must be a mapping"),
         scenario="- name: t\n- catalogue: catalogue.csv\n"),
    Case("scenario-empty", ("empty file",), scenario=""),
    Case("scenario-not-utf8", ("line 3", "not UTF-8"), scenario=SCENARIO + "# 规则\n"),
    Case("yaml-syntax-error", ("line 5", "YAML syntax error", "started on line 4"),
         scenario=SCENARIO + "merchant:\n  l_level: [3\n  x: 1\n"),
    Case("alias-bomb", ("alias bomb",), scenario=BOMB),
    Case("duplicate-key", ("line 3", "field name", "duplicate key 'name' (first at line 1)"),
         scenario=SCENARIO + "name: u\n"),
    Case("python-tag", ("line 3", "field rulebook", "not allowed"),
         scenario=SCENARIO + "rulebook: !!python/object/apply:os.system ['true']\n"),
    Case("missing-name", ("field name", "required key missing"),
         scenario="catalogue: catalogue.csv\n"),
    Case("unknown-top-level-key", ("line 3", "field colour", "unknown key (typo?)"),
         scenario=SCENARIO + "colour: blue\n"),
    Case("unknown-merchant-key", ("line 4", "field merchant.lvel", "did you mean 'l_level'"),
         scenario=SCENARIO + "merchant:\n  lvel: 3\n"),
    Case("wrong-type", ("line 4", "field merchant.l_level", "'three'"),
         scenario=SCENARIO + "merchant:\n  l_level: three\n"),
    Case("l-level-9", ("line 4", "field merchant.l_level", "got 9"),
         scenario=SCENARIO + "merchant:\n  l_level: 9\n"),
    Case("bool-as-string", ("line 4", "field merchant.alipay_verified"),
         scenario=SCENARIO + "merchant:\n  alipay_verified: 'yes'\n"),
    Case("trade-medal-6A", ("line 4", "field merchant.trade_medal", "'6A'"),
         scenario=SCENARIO + "merchant:\n  trade_medal: 6A\n"),
    Case("workers-0", ("line 4", "field solver.workers"),
         scenario=SCENARIO + "solver:\n  workers: 0\n"),
    Case("price-step-0.001", ("line 3", "field price_step", "more than 2 decimals"),
         scenario=SCENARIO + "price_step: 0.001\n"),
    Case("discount-budget-1.234", ("line 4", "field constraints.discount_budget", "1.234"),
         scenario=SCENARIO + "constraints:\n  discount_budget: 1.234\n"),
    Case("margin-rate-1", ("line 4", "field constraints.min_unit_margin_rate"),
         scenario=SCENARIO + "constraints:\n  min_unit_margin_rate: 1\n"),
    Case("max-skus-negative", ("line 4", "field constraints.max_skus.offsite"),
         scenario=SCENARIO + "constraints:\n  max_skus: {offsite: -1}\n"),
    Case("catalogue-wrong-suffix", ("line 2", "field catalogue", ".csv or .parquet"),
         scenario="name: t\ncatalogue: catalogue.xlsx\n"),
    # ---- catalogue file
    Case("catalogue-missing", ("missing.csv", "catalogue file not found"),
         scenario="name: t\ncatalogue: missing.csv\n"),
    Case("catalogue-empty", ("catalogue.csv", "empty file"), catalogue=""),
    Case("catalogue-header-only", ("catalogue.csv", "no SKUs"), catalogue=HEADER + "\n"),
    Case("missing-required-column", ("line 1", "field stock", "required column 'stock' missing"),
         catalogue=catalogue_with("S1,O1,consumer,19.99,18.50,7.00,2.5",
                                  header=HEADER.replace(",stock", ""))),
    Case("duplicate-column", ("line 1", "field stock", "duplicate column name"),
         catalogue=catalogue_with(ROWS[0] + ",1", header=HEADER + ",stock")),
    Case("ragged-row", ("line 3", "has 9 field(s), the header has 8"),
         catalogue=catalogue_with(ROWS[0], ROWS[1] + ",extra")),
    Case("catalogue-not-utf8", ("line 4", "not UTF-8"),
         catalogue=catalogue_with(*ROWS, "S3,塑料袋,consumer,1,1,1,1,1").encode("gbk")),
    Case("duplicate-sku-id", ("line 3", "field sku_id", "duplicate sku_id 'S1' (first on line 2)"),
         catalogue=catalogue_with(ROWS[0], ROWS[0])),
    Case("empty-offer-id", ("line 2", "field offer_id", "empty"),
         catalogue=catalogue_with("S1,,consumer,19.99,18.50,7.00,300,2.5")),
    Case("market-price-0", ("line 3", "field market_price", "must be > 0"),
         catalogue=catalogue_with(ROWS[0], "S2,O1,industrial,0,9.90,3,250,4")),
    Case("negative-unit-cost", ("line 2", "field unit_cost", "'-7.00'", "must be >= 0"),
         catalogue=catalogue_with("S1,O1,consumer,19.99,18.50,-7.00,300,2.5")),
    Case("three-decimal-price", ("line 2", "field min_price_30d", "'18.505'"),
         catalogue=catalogue_with("S1,O1,consumer,19.99,18.505,7.00,300,2.5")),
    Case("non-numeric-stock", ("line 2", "field stock", "'many'", "whole number"),
         catalogue=catalogue_with("S1,O1,consumer,19.99,18.50,7.00,many,2.5")),
    Case("negative-daily-units", ("line 2", "field daily_units", "must be >= 0"),
         catalogue=catalogue_with("S1,O1,consumer,19.99,18.50,7.00,300,-2.5")),
    Case("bad-category", ("line 2", "field category", "'food'"),
         catalogue=catalogue_with("S1,O1,food,19.99,18.50,7.00,300,2.5")),
    Case("bad-boolean", ("line 2", "field dropship", "'maybe'", "not a boolean"),
         catalogue=catalogue_with(ROWS[0] + ",maybe", header=HEADER + ",dropship")),
    Case("pickup-rate-1.5", ("line 2", "field pickup_rate_48h", "must be 0 to 1"),
         catalogue=catalogue_with(ROWS[0] + ",1.5", header=HEADER + ",pickup_rate_48h")),
    Case("elasticity-0", ("line 2", "field elasticity", "must be > 0"),
         catalogue=catalogue_with(ROWS[0] + ",0", header=HEADER + ",elasticity")),
    Case("moq-0", ("line 2", "field moq", "must be >= 1"),
         catalogue=catalogue_with(ROWS[0] + ",0", header=HEADER + ",moq")),
    # SPEC 2.2: offer-level fields disagree within offer O1 (lines 2 and 3): the offer, the
    # field and both lines named; one case per field
    *[Case(f"offer-disagrees-{col}", ("lines 2, 3", f"field {col}", "offer O1", f"'{a}' on line 2",
                                      f"'{b}' on line 3"),
           catalogue=catalogue_with(ROWS[0] + f",{a}", ROWS[1] + f",{b}",
                                    header=HEADER + f",{col}"))
      for col, a, b in [("growth_score", "60", "59"), ("pickup_rate_48h", "0.9", "0.91"),
                        ("listed_days", "30", "31"), ("sales_last_month", "10", "11")]],
    # an empty cell takes the default (growth_score 0), which disagrees with 60 all the same
    Case("offer-disagrees-with-a-default", ("lines 2, 3", "field growth_score", "offer O1",
                                            "empty on line 3"),
         catalogue=catalogue_with(ROWS[0] + ",60", ROWS[1] + ",", header=HEADER + ",growth_score")),
    # web_min_price (SPEC 2.2): yuan > 0, 2 decimals; no default, so no empty cell either
    Case("web-min-price-0", ("line 2", "field web_min_price", "must be > 0"),
         catalogue=catalogue_with(ROWS[0] + ",0", ROWS[1] + ",9",
                                  header=HEADER + ",web_min_price")),
    Case("web-min-price-3-decimals", ("line 3", "field web_min_price", "'9.001'"),
         catalogue=catalogue_with(ROWS[0] + ",19", ROWS[1] + ",9.001",
                                  header=HEADER + ",web_min_price")),
    Case("web-min-price-empty", ("line 3", "field web_min_price", "no default"),
         catalogue=catalogue_with(ROWS[0] + ",19", ROWS[1] + ",",
                                  header=HEADER + ",web_min_price")),
    Case("parquet-3-decimal-float", ("row 2", "field market_price", "12.345"),
         scenario="name: t\ncatalogue: catalogue.parquet\n", catalogue=None,
         parquet=_parquet_bad_money()),
]


def _run(tmp_path: Path, case: Case) -> tuple[int, str, Path]:
    (tmp_path / "scenario.yaml").write_bytes(
        case.scenario.encode("gbk") if case.id == "scenario-not-utf8" else case.scenario.encode())
    if isinstance(case.catalogue, bytes):
        (tmp_path / "catalogue.csv").write_bytes(case.catalogue)
    elif case.catalogue is not None:
        (tmp_path / "catalogue.csv").write_text(case.catalogue, encoding="utf-8")
    if case.parquet is not None:
        pq.write_table(case.parquet, tmp_path / "catalogue.parquet")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["solve", str(tmp_path / case.scenario_name), "-o", str(out)])
    return result.exit_code, result.output, out


def test_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_exits_2_and_says_where(tmp_path: Path, case: Case) -> None:
    code, output, out = _run(tmp_path, case)
    assert code == 2, output
    assert "error: invalid input" in output
    for text in case.expect:
        assert text in output, f"{text!r} not in:\n{output}"
    assert "Traceback" not in output
    assert not out.exists(), "nothing may be written on bad input"


def test_the_base_case_is_valid(tmp_path: Path) -> None:
    """Without this, every case above could pass for the wrong reason."""
    code, output, _ = _run(tmp_path, Case("valid", ()))
    assert code != 2, output
    assert "invalid input" not in output
    assert "Traceback" not in output


def test_an_output_folder_under_a_file_is_an_input_error(tmp_path: Path) -> None:
    """solve -o under a file: exit 2 naming it, before solving; the file is untouched."""
    scenario = helpers.write_case(tmp_path / "case", [helpers.sku()])
    (tmp_path / "afile").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(main, ["solve", str(scenario), "-o",
                                       str(tmp_path / "afile" / "out")])
    assert result.exit_code == 2, result.output
    assert "error: invalid input" in result.stderr and str(tmp_path / "afile") in result.stderr
    assert "internal error" not in result.stderr
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "mine"
