"""`enroll-opt solve` end to end on the shipped scenarios: files, exit codes, audit, determinism."""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from optimizer.audit import audit, audit_summary
from optimizer.cli import main
from optimizer.generate import generate

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
PLAN_COLUMNS = ["sku_id", "offer_id", "program", "price", "units", "revenue", "fee_rate", "fees",
                "margin", "change", "warning"]


def _solve(scenario: Path, out: Path) -> Result:
    return CliRunner().invoke(main, ["solve", str(scenario), "-o", str(out), "-q"])


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def packaging(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Result]:
    """packaging-bags solved once, from a copy (so that we can check nothing given is modified)."""
    work = tmp_path_factory.mktemp("pb")
    scen = work / "scenario"
    shutil.copytree(SCENARIOS / "packaging-bags", scen)
    before = _digest(scen)
    result = _solve(scen / "scenario.yaml", work / "out")
    assert _digest(scen) == before, "the user's files were modified"
    return scen / "scenario.yaml", work / "out", result


def test_packaging_bags_writes_an_audited_plan(packaging: tuple[Path, Path, Result]) -> None:
    scenario, out, result = packaging
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [".enroll-opt-run.json", "excluded.csv",
                                                     "plan.csv", "summary.json"]
    with open(out / "plan.csv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == PLAN_COLUMNS
    assert {r["program"] for r in rows} == {"offsite", "yanxuan", "huopin", "crossborder",
                                            "aliexpress_semi"}
    for r in rows:  # money with 2 decimals, units with 3
        assert len(r["price"].split(".")[1]) == 2 and len(r["units"].split(".")[1]) == 3
    report = audit(scenario, out / "plan.csv")
    assert report.violations == []
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert audit_summary(summary, report) == []
    assert summary["status"] in ("OPTIMAL", "FEASIBLE")
    assert set(summary["programs"]["offsite"]) >= {"enrolled_skus", "units", "revenue", "fees",
                                                   "margin"}
    assert {"discount_budget", "gmv_min", "max_skus.huopin"} <= set(summary["constraints"])
    # the human summary on stdout: objective, bound, gap, per program
    assert "objective" in result.output and "bound" in result.output and "gap" in result.output
    assert "yanxuan" in result.output


def test_excluded_lists_every_pair_not_in_the_plan(packaging: tuple[Path, Path, Result]) -> None:
    _, out, _ = packaging
    with open(out / "plan.csv", encoding="utf-8") as fh:
        planned = {(r["sku_id"], r["program"]) for r in csv.DictReader(fh)}
    with open(out / "excluded.csv", encoding="utf-8") as fh:
        excluded = list(csv.DictReader(fh))
    assert list(excluded[0]) == ["sku_id", "program", "reason", "detail"]
    pairs = {(r["sku_id"], r["program"]) for r in excluded}
    assert not pairs & planned
    with open(out.parent / "scenario" / "catalogue.csv", encoding="utf-8-sig") as fh:
        skus = [r["sku_id"] for r in csv.DictReader(fh)]
    assert len(pairs | planned) == len(skus) * 5
    reasons = {r["reason"] for r in excluded}
    assert {"SKU_RULE", "PRICE_CAP", "NOT_CHOSEN"} <= reasons
    growth = [r for r in excluded if r["detail"].startswith("growth_score")]
    assert growth and all(" < 60" in r["detail"] for r in growth)


def test_infeasible_gmv_exits_3_naming_the_conflict(tmp_path: Path) -> None:
    result = _solve(SCENARIOS / "infeasible-gmv" / "scenario.yaml", tmp_path / "out")
    assert result.exit_code == 3
    assert "gmv_min 50,000,000.00" in result.output and "at most" in result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["status"] == "INFEASIBLE"


def test_same_input_and_seed_give_the_same_plan(tmp_path: Path) -> None:
    scenario = generate(400, None, 7, tmp_path / "g")
    text = scenario.read_text(encoding="utf-8").replace("time_limit_s: 60", "time_limit_s: 20")
    # the generated GMV target is out of reach for this small seed: ask for half of it
    text = re.sub(r"gmv_min: (\d+)", lambda m: f"gmv_min: {int(m.group(1)) // 2}", text)
    scenario.write_text(text, encoding="utf-8")
    first, second = _solve(scenario, tmp_path / "a"), _solve(scenario, tmp_path / "b")
    assert first.exit_code == second.exit_code == 0
    assert (tmp_path / "a" / "plan.csv").read_bytes() == (tmp_path / "b" / "plan.csv").read_bytes()
    assert (tmp_path / "a" / "excluded.csv").read_bytes() == \
        (tmp_path / "b" / "excluded.csv").read_bytes()
    assert audit(scenario, tmp_path / "a" / "plan.csv").violations == []


def test_outputs_replace_old_ones_and_leave_no_temporary_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.csv").write_text("stale\n", encoding="utf-8")
    (out / "notes.txt").write_text("mine\n", encoding="utf-8")
    result = _solve(SCENARIOS / "infeasible-gmv" / "scenario.yaml", out)
    assert result.exit_code == 3
    assert (out / "plan.csv").read_text(encoding="utf-8").startswith("sku_id,")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_default_output_folder_is_out_slash_name(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["solve", str(SCENARIOS / "infeasible-gmv" / "scenario.yaml"),
                                       "-q"])
    assert result.exit_code == 3
    assert (tmp_path / "out" / "infeasible-gmv" / "summary.json").is_file()
