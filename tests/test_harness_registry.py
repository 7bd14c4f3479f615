"""The benchmark registry's logic: case names, the constraint shapes written into a generated
scenario, which constraints count as binding, the per-size summary. No solving, no timing."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from optimizer.generate import generate
from optimizer.load.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def _harness() -> Any:
    """benchmarks/harness.py as a module (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_harness_registry",
                                                  ROOT / "benchmarks" / "harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


h = _harness()

# what an audited unconstrained plan gives (enroll-opt audit, slack constraints)
REF = {"enrolled": {"offsite": 10, "huopin": 7, "crossborder": 1, "yanxuan": 0},
       "discount": 12_345.67, "counted_gmv": 100_000.4}
CAPPED = {"enrolled": {"offsite": 6}, "discount": 6_000.0, "counted_gmv": 80_000.0}


@pytest.mark.parametrize(("name", "skus", "offers", "shape", "seed", "spo"), [
    ("30-o4-all-s1", 30, 8, "all", 1, 4),
    ("300-o1-none-s2", 300, 300, "none", 2, 1),
    ("20k-o12-gmv-s2", 20_000, 1_667, "gmv", 2, 12),
    ("2k-o4-maxskus-s3", 2_000, 500, "maxskus", 3, 4),
    ("1m-o4-budget-s7", 1_000_000, 250_000, "budget", 7, 4),
    ("30-o12-gen-s1", 30, 3, "gen", 1, 12),  # at most 12 SKUs an offer: ceil(30 / 12)
    ("5k-n1000-all-s4", 5_000, 1_000, "all", 4, None),
])
def test_case_names_parse(name: str, skus: int, offers: int, shape: str, seed: int,
                          spo: int | None) -> None:
    c = h.case_named(name)
    assert (c.name, c.skus, c.offers, c.shape, c.seed, c.spo) == (name, skus, offers, shape,
                                                                  seed, spo)


def test_grid_names_round_trip_and_order() -> None:
    cases = h.grid_cases((30, 2_000), (1, 12), ("all", "gmv", "none"), (1, 2))
    assert len(cases) == 2 * 2 * 3 * 2 and len({c.name for c in cases}) == len(cases)
    for c in cases:
        back = h.case_named(c.name)
        assert (back.skus, back.offers, back.shape, back.seed) == (c.skus, c.offers, c.shape,
                                                                   c.seed)
    # per catalogue, 'none' runs first: the other shapes take their limits from its plan
    assert [c.shape for c in cases[:3]] == ["none", "gmv", "all"]
    assert [c.name for c in cases[:3]] == ["30-o1-none-s1", "30-o1-gmv-s1", "30-o1-all-s1"]


def test_registry_keeps_issue_rows_and_old_cases() -> None:
    assert h.case_named("2k-n300-gen-s5").offers == 300
    assert h.case_named("100k-n9000-gen-s3").skus == 100_000
    assert h.case_named("packaging-bags").source == "scenarios/packaging-bags"
    assert h.case_named("1k").skus == 1_000 and h.case_named("1k").offers is None
    assert h.case_named("50k").skus == 50_000


@pytest.mark.parametrize("bad", ["30-o13-all-s1", "30-o0-all-s1", "30-o4-some-s1",
                                 "30-n31-gen-s1", "24-n1-gen-s1", "thirty"])
def test_bad_case_names_are_refused(bad: str) -> None:
    with pytest.raises(SystemExit):
        h.case_named(bad)


def test_offers_for_stays_within_the_generator() -> None:
    assert h.offers_for(30, 1) == 30 and h.offers_for(30, 4) == 8
    assert h.offers_for(1_000_000, 12) == 83_334 and h.offers_for(5, 4) == 1
    for n in (1, 7, 30, 299, 2_000):
        for k in range(1, 13):
            assert -(-n // 12) <= h.offers_for(n, k) <= n


def test_shape_limits_cut_off_the_unconstrained_plan() -> None:
    assert h.shape_limits("none", None) == {"max_skus": None, "budget": None, "gmv_min": None}
    slots = h.shape_limits("maxskus", REF)
    assert slots == {"max_skus": {"offsite": 6, "huopin": 4, "crossborder": 0},
                     "budget": None, "gmv_min": None}
    assert all(slots["max_skus"][p] < REF["enrolled"][p] for p in slots["max_skus"])
    budget = h.shape_limits("budget", REF)
    assert budget["budget"] == 6_172 < REF["discount"] and budget["max_skus"] is None
    gmv = h.shape_limits("gmv", REF)
    assert gmv["gmv_min"] == 102_001 > REF["counted_gmv"] and gmv["budget"] is None
    every = h.shape_limits("all", REF, CAPPED)
    assert every["max_skus"] == slots["max_skus"] and every["budget"] == budget["budget"]
    assert every["gmv_min"] == 81_600 > CAPPED["counted_gmv"]
    with pytest.raises(ValueError):
        h.shape_limits("all", REF)
    with pytest.raises(ValueError):
        h.shape_limits("gmv", None)


def test_set_constraints_on_a_generated_scenario(tmp_path: Path) -> None:
    generate(30, 8, 1, tmp_path)
    text = (tmp_path / "scenario.yaml").read_text(encoding="utf-8")
    assert "max_skus:" in text and "discount_budget:" in text and "gmv_min:" in text

    def loaded(new: str, name: str) -> Any:
        path = tmp_path / name
        path.write_text(new, encoding="utf-8")
        return load_scenario(path)[0].constraints

    none = h.set_constraints(text)
    c = loaded(none, "none.yaml")
    assert c.max_skus == {} and c.discount_budget is None and c.gmv_min is None
    assert none.count("min_unit_margin_rate:") == 1 and none.count("stock_reserve_days:") == 1

    every = h.set_constraints(text, {"offsite": 3, "huopin": 0}, 6_172.0, 102_001.5)
    c = loaded(every, "all.yaml")
    assert c.max_skus == {"offsite": 3, "huopin": 0}
    assert float(c.discount_budget) == 6_172 and float(c.gmv_min) == 102_001.5
    # slack limits for the audit: no exponent (YAML 1.1 would read 1e+11 as a string)
    slack = h.set_constraints(text, {"offsite": 10**9}, 10**11, 0)
    assert "e+" not in slack and float(loaded(slack, "slack.yaml").discount_budget) == 10**11
    assert h.set_constraints(every) == none  # idempotent: every line it writes it also removes
    with pytest.raises(SystemExit):
        h.set_constraints("name: x\n")


def test_tight_constraints() -> None:
    cons = {"max_skus.offsite": {"value": 6, "limit": 6},
            "max_skus.huopin": {"value": 3, "limit": 4},
            "discount_budget": {"value": 6_150.0, "limit": 6_172.0},
            "gmv_min": {"value": 110_000.0, "limit": 102_001.0}}
    assert h.tight_constraints(cons) == ["discount_budget", "max_skus.offsite"]
    cons["gmv_min"]["value"] = 102_050.0
    cons["discount_budget"]["value"] = 5_000.0
    assert h.tight_constraints(cons) == ["gmv_min", "max_skus.offsite"]
    assert h.binds_label({"constraints": cons, "tight": h.tight_constraints(cons)}) == \
        "slots 1/2, (budget), gmv"
    assert h.binds_label({"constraints": {}, "limits": {"max_skus": None, "budget": 5.0,
                                                        "gmv_min": None}}) == "budget"


def test_grid_summary_per_size() -> None:
    def rec(skus: int, status: str, gap: float | None, wall: float) -> dict[str, Any]:
        return {"skus": skus, "status": status, "gap": gap, "wall_s": wall,
                "phases": {"solve": wall / 2}}

    recs = [rec(30, "OPTIMAL", 0.0, 1.0), rec(30, "FEASIBLE", 0.02, 3.0),
            rec(30, "INFEASIBLE", None, 2.0), rec(300, "OPTIMAL", 1e-5, 4.0),
            rec(300, "ERROR", None, 9.0)]
    s30, s300 = h.grid_summary(recs)
    assert (s30["skus"], s30["cases"], s30["optimal"], s30["feasible"], s30["infeasible"]) == \
        (30, 3, 1, 1, 1)
    assert s30["max_gap"] == 0.02 and s30["median_wall_s"] == 2.0 and s30["median_solve_s"] == 1.0
    assert (s300["optimal"], s300["error"], s300["max_gap"]) == (1, 1, 1e-5)
    assert s300["median_wall_s"] == 6.5
    text = h.grid_markdown({"cases": [], "summary": [s30, s300], "baselines": []})
    assert "**30 SKUs**: 3 cases, OPTIMAL 1/3 (33 %), a plan in 2; 1 INFEASIBLE" in text
    assert "max gap 2.0000 %" in text


def test_a_case_without_a_plan_shows_its_limits_not_an_objective() -> None:
    rec = {"case": "30-o12-all-s2", "skus": 30, "offers": 3, "pair_variants": 91,
           "status": "NO_SOLUTION", "objective": 0.0, "bound": 22_096.04, "gap": None,
           "phases": {"solve": 9.9}, "wall_s": 12.7, "peak_rss_mb": 178.0,
           "constraints": {"max_skus.huopin": {"value": 0, "limit": 15},
                           "gmv_min": {"value": 0.0, "limit": 34_489.0}},
           "tight": ["gmv_min"],
           "limits": {"max_skus": {"huopin": 15}, "budget": 2_701.0, "gmv_min": 34_489.0}}
    assert h.binds_label(rec) == "slots, budget, gmv"
    row = h.grid_markdown({"cases": [rec], "summary": [], "baselines": []}).splitlines()[2]
    assert row.startswith("| 30-o12-all-s2 | 30 | 3 | 91 | slots, budget, gmv | NO_SOLUTION | - |")


def test_sanity_checks_the_grid_and_its_baselines() -> None:
    case = {"case": "30-o4-all-s1", "status": "FEASIBLE", "objective": 100.0, "bound": 101.0,
            "gap": 0.0099, "wall_s": 1.0, "peak_rss_mb": 170.0, "pair_variants": 60, "skus": 30,
            "offers": 8, "phases": {"load": 0.1, "rules": 0.0, "score": 0.0, "solve": 0.5}}
    base = {"solver": "naive-cpsat", "status": "OPTIMAL", "objective": 99.0, "bound": 99.0,
            "wall_s": 2.0, "peak_rss_mb": 150.0, "gap_vs_valid_bound": 0.02, "own_gap": 0.0,
            "below_valid_bound": True, "violations": []}
    report: dict[str, Any] = {"cases": [], "grid": {"cases": [{**case, "baselines": [base]}]}}
    assert h.sanity(report) == []
    base.update(violations=["STOCK S001"], below_valid_bound=False)
    assert h.sanity(report) == [
        "case 30-o4-all-s1 naive-cpsat: objective above the valid bound",
        "case 30-o4-all-s1 naive-cpsat: plan breaks rules: ['STOCK S001']"]
    report["grid"]["cases"][0].update(bound=99.0, baselines=[])
    assert h.sanity(report) == ["case 30-o4-all-s1: bound 99.0 below objective 100.0"]


def test_percentages_print_float_noise_as_zero() -> None:
    assert h._pct(-1e-12) == "0.0000 %" and h._pct(None) == "-"
    assert h._pct(0.000123) == "0.0123 %" and h._pct(-0.02) == "-2.0000 %"


@pytest.mark.parametrize(("args", "message"), [
    (["--cases", "30-o13-all-s1"], "SKUs per offer 13: 1 to 12"),
    (["--grid", "--grid-shapes", "none,most"], "--grid-shapes: 'most' is not one of"),
    (["--grid", "--grid-sizes", "30,lots"], "size 'lots'"),
])
def test_bad_options_exit_2_before_any_run(tmp_path: Path, args: list[str], message: str) -> None:
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "harness.py"), *args,
                        "--workdir", str(tmp_path / "w")], capture_output=True, text=True,
                       timeout=60, check=False)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "w" / "cases").exists()
