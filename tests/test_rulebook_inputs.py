"""The rulebook as the user's data: a rulebook file of their own, overrides, and the input errors
only the rulebook can find (program ids); plus a Parquet catalogue through the whole solve."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner, Result

from optimizer.audit import audit
from optimizer.cli import main
from optimizer.rules.rulebook import DATA_DIR

HEADER = ["sku_id", "offer_id", "category", "market_price", "min_price_30d", "unit_cost", "stock",
          "daily_units", "dropship", "return_7day", "ship_hours", "growth_score"]
ROW = ["S1", "O1", "consumer", "12.00", "11.00", "5.00", "5000", "10", "true", "true", "24", "55"]
MERCHANT = ("merchant: {main_industry: consumer, l_level: 3, membership: chengxintong, "
            "service_star: 4.5, logistics_score: 4, product_experience_score: 4}\n")


def _case(folder: Path, extra: str = "", catalogue: str = "catalogue.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "catalogue.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, ROW])
    scenario = folder / "scenario.yaml"
    scenario.write_text(f"name: t\ncatalogue: {catalogue}\n{MERCHANT}programs: {{offsite: {{}}}}\n"
                        f"solver: {{time_limit_s: 10}}\n{extra}", encoding="utf-8")
    return scenario


def _solve(scenario: Path, out: Path) -> Result:
    return CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "-q"])


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_growth_score_55_fails_the_builtin_rule(tmp_path: Path) -> None:
    result = _solve(_case(tmp_path), tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert _rows(tmp_path / "out" / "plan.csv") == []
    [row] = _rows(tmp_path / "out" / "excluded.csv")
    assert (row["reason"], row["detail"]) == ("SKU_RULE", "growth_score 55 < 60")


def test_a_users_rulebook_file_replaces_the_builtin_one(tmp_path: Path) -> None:
    rules = yaml.safe_load((DATA_DIR / "1688-2024.yaml").read_text(encoding="utf-8"))
    rules["programs"]["offsite"]["sku_rules"]["growth_score"]["value"] = 50
    rules["programs"]["offsite"]["fees"]["tech_service"]["rate"] = 0.004
    rules["fee_groups"]["tech_service"]["cap"] = 0.004
    (tmp_path / "my-rules.yaml").write_text(yaml.safe_dump(rules, allow_unicode=True),
                                            encoding="utf-8")
    scenario = _case(tmp_path, "")
    scenario.write_text(scenario.read_text(encoding="utf-8") + "rulebook: my-rules.yaml\n",
                        encoding="utf-8")
    result = _solve(scenario, tmp_path / "out")
    assert result.exit_code == 0, result.output
    [row] = _rows(tmp_path / "out" / "plan.csv")
    assert (row["sku_id"], row["program"], row["fee_rate"]) == ("S1", "offsite", "0.004")
    assert float(row["price"]) <= 10.79  # strict 0.9 x 12.00 and strict 30-day min 11.00


def test_scenario_override_of_a_rule_threshold(tmp_path: Path) -> None:
    scenario = _case(tmp_path)
    text = scenario.read_text(encoding="utf-8").replace(
        "programs: {offsite: {}}",
        "programs: {offsite: {sku_rules: {growth_score: {value: 50}}}}")
    scenario.write_text(text, encoding="utf-8")
    result = _solve(scenario, tmp_path / "out")
    assert result.exit_code == 0, result.output
    [row] = _rows(tmp_path / "out" / "plan.csv")
    assert row["program"] == "offsite" and row["fee_rate"] == "0.006"
    assert audit(scenario, tmp_path / "out" / "plan.csv").violations == []


@pytest.mark.parametrize(("extra", "field"), [
    ("constraints: {max_skus: {offsit: 3}}\n", "constraints.max_skus.offsit"),
    ("fees: {tech_servce: {cap: 0.01}}\n", "fees.tech_servce"),
])
def test_ids_only_the_rulebook_knows_are_checked(tmp_path: Path, extra: str, field: str) -> None:
    result = _solve(_case(tmp_path, extra), tmp_path / "out")
    assert result.exit_code == 2
    assert field in result.output and "line 6" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_unknown_program_in_programs(tmp_path: Path) -> None:
    scenario = _case(tmp_path)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace("offsite: {}", "offsit: {}"),
                        encoding="utf-8")
    result = _solve(scenario, tmp_path / "out")
    assert result.exit_code == 2
    assert "programs.offsit" in result.output and "line 4" in result.output
    assert not (tmp_path / "out").exists()


def test_a_bad_override_value_names_the_scenario_line(tmp_path: Path) -> None:
    scenario = _case(tmp_path)
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(
        "offsite: {}", "offsite: {horizon_days: -3}"), encoding="utf-8")
    result = _solve(scenario, tmp_path / "out")
    assert result.exit_code == 2
    assert "programs.offsite.horizon_days" in result.output
    assert not (tmp_path / "out").exists()


def test_parquet_catalogue_gives_the_same_plan_as_csv(tmp_path: Path) -> None:
    csv_case = _case(tmp_path / "csv", "constraints: {}\n")
    text = csv_case.read_text(encoding="utf-8")
    table = pa.table({name: [value] for name, value in zip(HEADER, ROW, strict=True)})
    table = table.set_column(HEADER.index("growth_score"), "growth_score", pa.array([70.0]))
    pq.write_table(table, tmp_path / "csv" / "catalogue.parquet")
    with open(tmp_path / "csv" / "catalogue.csv", "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, [*ROW[:-1], "70"]])
    parquet_case = tmp_path / "csv" / "parquet.yaml"
    parquet_case.write_text(text.replace("catalogue.csv", "catalogue.parquet"), encoding="utf-8")
    a, b = _solve(csv_case, tmp_path / "a"), _solve(parquet_case, tmp_path / "b")
    assert a.exit_code == b.exit_code == 0, (a.output, b.output)
    plan = (tmp_path / "a" / "plan.csv").read_bytes()
    assert plan == (tmp_path / "b" / "plan.csv").read_bytes()
    assert b"S1,O1,offsite," in plan
