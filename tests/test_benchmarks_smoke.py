"""The benchmark harness, the baselines and the evaluation benchmark work end to end on tiny cases.

No timing assertions: these check that every run finishes, that the JSON has every field with sane
values, and that the HiGHS model is the naive CP-SAT model (same rows, same optimum).
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from optimizer.generate import generate

ROOT = Path(__file__).resolve().parents[1]
HAS_HIGHS = importlib.util.find_spec("highspy") is not None


def _harness() -> Any:
    """benchmarks/harness.py as a module (benchmarks/ is a folder of scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_harness", ROOT / "benchmarks" /
                                                  "harness.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


harness = _harness()
STATUSES, TARGET_GAP, time_to_gap = harness.STATUSES, harness.TARGET_GAP, harness.time_to_gap


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


def _sane_result(rec: dict[str, Any]) -> None:
    assert rec["status"] in STATUSES and rec["status"] != "ERROR", rec.get("error")
    assert rec["wall_s"] > 0
    assert 0 < rec["peak_rss_mb"] < 64_000
    obj, bound = rec["objective"], rec["bound"]
    if rec["status"] in ("OPTIMAL", "FEASIBLE"):
        assert obj is not None and math.isfinite(obj)
        if bound is not None:
            assert bound >= obj - 1e-6 * max(abs(obj), 1.0)


def test_harness_smoke(workdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "harness.json"
    readme = tmp_path / "README.md"
    readme.write_text("# B\n\nbefore\n<!-- harness:begin -->\nold\n<!-- harness:end -->\nafter\n",
                      encoding="utf-8")
    r = _run(["benchmarks/harness.py", "--smoke", "--cases", "smoke-300", "--side-by-side",
              "--time-limit", "3", "--workdir", str(workdir), "--json", str(out),
              "--write-readme", "--readme", str(readme)])
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert rep["problems"] == []
    assert {"date", "cpu", "cpus", "versions", "load_average"} <= set(rep["machine"])

    (case,) = rep["cases"]
    _sane_result(case)
    assert case["case"] == "smoke-300" and case["skus"] == 300 and case["offers"] > 0
    assert case["pair_variants"] > 0 and case["time_limit_s"] == 3
    assert case["status"] in ("OPTIMAL", "FEASIBLE") and case["gap"] >= 0
    for phase in ("load", "rules", "score", "solve"):
        assert case["phases"][phase] >= 0
    assert case["wall_s"] >= sum(case["phases"].values())

    side = rep["side_by_side"]
    names = [s["solver"] for s in side["solvers"]]
    assert names == ["enroll-opt", "naive-cpsat", *(["highs"] if HAS_HIGHS else [])]
    assert side["valid_bound"] is not None and side["target_gap"] == TARGET_GAP
    for rec in side["solvers"]:
        _sane_result(rec)
        assert rec["below_valid_bound"]
        for key in ("gap_vs_valid_bound", "own_gap"):
            assert rec[key] is None or rec[key] >= -1e-9
        assert all(p["t"] >= 0 for p in rec["trace"])
        if rec["solver"] != "enroll-opt":
            assert rec["violations"] == []
            assert rec["candidates"] > 0 and rec["variables"] >= rec["candidates"]
            assert rec["speedup_of_enroll_opt"]

    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# B\n\nbefore\n<!-- harness:begin -->\n")
    assert text.endswith("<!-- harness:end -->\nafter\n") and "old" not in text
    assert "| smoke-300 |" in text and "| naive CP-SAT" in text


def test_bench_eval_tiny(workdir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval.json"
    r = _run(["benchmarks/bench_eval.py", "--case", "smoke-300", "--workdir", str(workdir),
              "--chunk", "500", "--repeat", "1", "--json", str(out)])
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert rep["all_equal"] and rep["mismatches"] == []
    assert rep["same_best_value"] == rep["pair_variants"] > 0
    assert rep["lattice_prices"] >= rep["pair_variants"]
    assert rep["enumeration"]["evaluations"] == rep["lattice_prices"]
    assert rep["max_lattice_per_pv"] > rep["chunk"]  # the segmenting path ran
    for method in ("closed_form", "enumeration"):
        assert rep[method]["seconds"] > 0 and rep[method]["lattice_candidates_per_s"] > 0


@pytest.mark.skipif(not HAS_HIGHS, reason="highspy not installed")
def test_highs_model_is_the_naive_model(tmp_path: Path) -> None:
    """An independent cross-check of the HiGHS rows: same rule rows and the same proven optimum
    as CP-SAT on `optimizer.model.cpsat.build_model`, on a tiny ladder case both solve."""
    scenario = generate(60, None, 2, tmp_path / "case")
    recs = {}
    for solver in ("naive-cpsat", "highs"):
        out = tmp_path / f"{solver}.json"
        r = _run(["benchmarks/baselines.py", solver, str(scenario), "--time-limit", "40",
                  "--rel-gap", "0", "--json", str(out)])
        assert r.returncode == 0, r.stdout + r.stderr
        recs[solver] = json.loads(out.read_text(encoding="utf-8"))
    cp, hi = recs["naive-cpsat"], recs["highs"]
    assert cp["n_rows"] == hi["n_rows"] and cp["rows"] == hi["rows"]
    assert cp["candidates"] == hi["candidates"] and cp["variables"] == hi["variables"]
    assert cp["status"] == hi["status"] == "OPTIMAL", (cp["raw_status"], hi["raw_status"])
    assert cp["violations"] == hi["violations"] == []
    assert hi["objective"] == pytest.approx(cp["objective"], rel=1e-9, abs=0.01)


def test_time_to_gap() -> None:
    trace = [{"t": 1.0, "objective": None, "bound": 120.0},
             {"t": 2.0, "objective": 90.0, "bound": 110.0},
             {"t": 3.0, "objective": 99.95, "bound": 100.05},
             {"t": 4.0, "objective": None, "bound": 100.0}]
    assert time_to_gap(trace, 100.0, 0.001) == 3.0
    assert time_to_gap(trace, 100.0, 0.0001) is None
    assert time_to_gap(trace, None, 0.0011, own=True) == 3.0
    assert time_to_gap(trace, None, 0.0006, own=True) == 4.0


def test_harness_smoke_grid(workdir: Path, tmp_path: Path) -> None:
    """The smoke grid (30 SKUs, 4 an offer, every shape, seed 1): each shape's scenario has the
    limits it claims, set from the audited unconstrained plan so that this plan breaks them."""
    out, md = tmp_path / "grid.json", tmp_path / "grid.md"
    r = _run(["benchmarks/harness.py", "--smoke", "--grid", "--time-limit", "3", "--workdir",
              str(workdir), "--json", str(out), "--markdown-out", str(md)])
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert rep["problems"] == [] and rep["cases"] == []
    recs = {c["shape"]: c for c in rep["grid"]["cases"]}
    assert [c["case"] for c in rep["grid"]["cases"]] == [
        f"30-o4-{s}-s1" for s in ("none", "maxskus", "budget", "gmv", "all")]
    for rec in recs.values():
        _sane_result(rec)
        assert rec["skus"] == 30 and rec["offers"] == 8 and rec["time_limit_s"] == 3
        assert rec["pair_variants"] > 0
    for shape in ("none", "maxskus", "budget"):  # the empty plan keeps these: a plan exists
        assert recs[shape]["status"] in ("OPTIMAL", "FEASIBLE")

    assert recs["none"]["constraints"] == {} and recs["none"]["tight"] == []
    ref = recs["gmv"]["reference"]
    assert ref["plan_keeps_every_rule"] and ref["counted_gmv"] > 0 and ref["discount"] > 0
    for shape in ("maxskus", "budget", "gmv", "all"):
        assert recs[shape]["reference"] == ref  # one unconstrained plan sets every shape

    def scenario_line(shape: str, key: str) -> str | None:
        text = Path(recs[shape]["scenario"]).read_text(encoding="utf-8")
        return next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                     if ln.startswith(f"  {key}:")), None)

    slots = recs["maxskus"]["limits"]["max_skus"]
    assert slots and any(slots[p] < ref["enrolled"][p] for p in slots)
    assert scenario_line("maxskus", "discount_budget") is None
    for p, n in slots.items():
        row = recs["maxskus"]["constraints"][f"max_skus.{p}"]
        assert row["limit"] == n and row["value"] <= n
    budget = recs["budget"]["limits"]["budget"]
    assert budget < ref["discount"] and float(scenario_line("budget", "discount_budget")) == budget
    assert recs["budget"]["constraints"]["discount_budget"]["value"] <= budget + 0.005
    assert scenario_line("budget", "gmv_min") is None
    assert scenario_line("budget", "max_skus") is None

    gmv = recs["gmv"]["limits"]["gmv_min"]
    assert gmv > ref["counted_gmv"] and float(scenario_line("gmv", "gmv_min")) == gmv
    assert scenario_line("gmv", "discount_budget") is None
    if recs["gmv"]["status"] in ("OPTIMAL", "FEASIBLE"):
        assert recs["gmv"]["constraints"]["gmv_min"]["value"] >= gmv - 0.005

    every, capped = recs["all"]["limits"], recs["all"]["reference_capped"]
    assert every["max_skus"] == slots and every["budget"] == budget
    assert capped["plan_keeps_every_rule"] and capped["discount"] <= budget + 0.005
    assert all(capped["enrolled"][p] <= n for p, n in slots.items())
    assert every["gmv_min"] > capped["counted_gmv"]
    assert float(scenario_line("all", "gmv_min")) == every["gmv_min"]

    (size,) = rep["grid"]["summary"]
    assert size["skus"] == 30 and size["cases"] == 5
    assert size["optimal"] == sum(c["status"] == "OPTIMAL" for c in recs.values())
    text = md.read_text(encoding="utf-8")
    assert "| 30-o4-gmv-s1 | 30 | 8 |" in text and "- **30 SKUs**: 5 cases" in text
