"""`enroll-opt sweep` end to end on tiny cases: the files, what each point means, determinism
whatever runs the points (this process, worker processes, a Dask cluster), infeasible points."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from optimizer.cli import main
from optimizer.pipeline import run_solve
from optimizer.sweep import SweepOutcome, run_sweep
from tests.helpers import audited_sweep
from tests.sweep.conftest import tiny

FEE = "programs.offsite.fees.help_sell_commission"
MULT = "programs.yanxuan.demand_multiplier"
GRID = [f"{FEE}=0:0.02:3", f"{MULT}=2:6:2"]
PROGRAMS = ["offsite", "yanxuan", "huopin", "crossborder", "aliexpress_semi"]


def _read(out: Path) -> tuple[list[dict[str, str]], dict[str, Any], bytes]:
    with (out / "sweep.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return rows, json.loads((out / "sweep.json").read_text("utf-8")), \
        (out / "sweep.csv").read_bytes()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SweepOutcome]:
    """The 3 x 2 grid run here, one point after the other: what every other way must equal.
    Every point's plan is audited against that point's scenario (helpers.audited_sweep)."""
    folder = tmp_path_factory.mktemp("ref")
    case = tiny(folder / "case")
    return case, audited_sweep(case, GRID, folder / "out")


def test_files_have_the_agreed_shape(reference: tuple[Path, SweepOutcome]) -> None:
    _, outcome = reference
    rows, doc, _ = _read(outcome.outdir)
    assert list(rows[0]) == [FEE, MULT, "status", "objective", "bound", "gap",
                             *(f"{p}_{c}" for p in PROGRAMS for c in ("skus", "gmv", "margin"))]
    assert [(r[FEE], r[MULT]) for r in rows] == [("0", "2"), ("0", "6"), ("0.01", "2"),
                                                 ("0.01", "6"), ("0.02", "2"), ("0.02", "6")]
    assert set(doc) == {"scenario", "axes", "points", "breakeven", "program_names"}
    assert doc["scenario"] == "case" and doc["breakeven"] is None
    assert doc["program_names"] == {"offsite": "站外分销货源中心", "yanxuan": "严选",
                                    "huopin": "伙拼", "crossborder": "跨境帮卖",
                                    "aliexpress_semi": "速卖通半托管"}
    assert doc["axes"] == [{"path": FEE, "values": [0.0, 0.01, 0.02]},
                           {"path": MULT, "values": [2.0, 6.0]}]
    assert [p["index"] for p in doc["points"]] == list(range(6))
    for row, point in zip(rows, doc["points"], strict=True):
        assert set(point) == {"index", "values", "status", "objective", "bound", "gap",
                              "seconds", "programs"}
        assert point["values"] == {FEE: float(row[FEE]), MULT: float(row[MULT])}
        assert point["status"] == row["status"] == "OPTIMAL"
        assert point["objective"] == float(row["objective"])
        assert point["bound"] == float(row["bound"])
        assert isinstance(point["seconds"], float)
        assert list(point["programs"]) == PROGRAMS
        for pid, fig in point["programs"].items():
            assert set(fig) == {"enrolled_skus", "gmv", "margin"}
            assert fig["enrolled_skus"] == int(row[f"{pid}_skus"])
            assert fig["gmv"] == float(row[f"{pid}_gmv"])
            assert fig["margin"] == float(row[f"{pid}_margin"])
        margins = sum(f["margin"] for f in point["programs"].values())
        assert abs(margins - point["objective"]) <= 0.05  # the programs add up to the plan


def test_each_point_is_the_solve_of_that_scenario(reference: tuple[Path, SweepOutcome],
                                                  tmp_path: Path) -> None:
    """A point equals `enroll-opt solve` of the scenario file written with its values."""
    _, outcome = reference
    for (fee, mult), point in [(("0", 6), outcome.points[1]), (("0.02", 2), outcome.points[4])]:
        case = tiny(tmp_path / f"{fee}-{mult}", programs={
            "offsite": {"fees": {"help_sell_commission": float(fee)}},
            "yanxuan": {"demand_multiplier": mult}, "huopin": {}, "crossborder": {},
            "aliexpress_semi": {}})
        solved = run_solve(case, tmp_path / f"out-{fee}-{mult}")
        summary = solved.tables.summary
        assert point.objective is not None
        assert abs(point.objective - solved.result.objective) <= 0.01
        for pid, fig in summary["programs"].items():
            assert point.programs[pid].enrolled_skus == fig["enrolled_skus"]
            assert abs(point.programs[pid].margin_fen / 100 - fig["margin"]) <= 0.01


def test_same_input_same_bytes_in_processes(reference: tuple[Path, SweepOutcome],
                                            tmp_path: Path) -> None:
    """Two worker processes (points in whatever order they finish) give the same files as
    one point after the other here: warm starts follow the grid, not the schedule."""
    case, ref = reference
    again = run_sweep(case, GRID, tmp_path / "again", workers=1)
    parallel = run_sweep(case, GRID, tmp_path / "parallel", workers=2)
    ref_bytes = (ref.outdir / "sweep.csv").read_bytes()
    assert (again.outdir / "sweep.csv").read_bytes() == ref_bytes
    assert (parallel.outdir / "sweep.csv").read_bytes() == ref_bytes
    assert all(a.same_answer(b) for a, b in zip(ref.points, parallel.points, strict=True))
    strip = _without_seconds
    assert strip(parallel.outdir) == strip(ref.outdir)


def _without_seconds(out: Path) -> dict[str, Any]:
    doc = json.loads((out / "sweep.json").read_text("utf-8"))
    for p in doc["points"]:
        p.pop("seconds")
    return doc


def test_dask_local_cluster_equals_the_local_run(reference: tuple[Path, SweepOutcome],
                                                 tmp_path: Path) -> None:
    from distributed import LocalCluster

    case, ref = reference
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        on_dask = run_sweep(case, GRID, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert (on_dask.outdir / "sweep.csv").read_bytes() == \
        (ref.outdir / "sweep.csv").read_bytes()
    assert all(a.same_answer(b) for a, b in zip(ref.points, on_dask.points, strict=True))
    assert _without_seconds(on_dask.outdir) == _without_seconds(ref.outdir)


def test_unreachable_scheduler_is_an_input_error(tiny_case: Path, tmp_path: Path) -> None:
    import dask

    out = tmp_path / "out"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(main, ["sweep", str(tiny_case), "--set", f"{FEE}=0:0.01:2",
                                           "--scheduler", "tcp://127.0.0.1:9", "-o", str(out),
                                           "-q"])
    assert result.exit_code == 2, result.output
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:9" in result.output
    assert not out.exists()


def test_infeasible_points_are_answers(tmp_path: Path) -> None:
    """A GMV target beyond reach at some points: those points say INFEASIBLE, no objective,
    the sweep still exits 0 (every point has its answer)."""
    case = tiny(tmp_path / "case")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(case), "--set",
                                       "constraints.gmv_min=0:1000000:3", "-o", str(out), "-q",
                                       "--workers", "1"])
    assert result.exit_code == 0, result.output
    rows, doc, _ = _read(out)
    assert [r["status"] for r in rows] == ["OPTIMAL", "INFEASIBLE", "INFEASIBLE"]
    assert rows[1]["objective"] == "" and rows[1]["bound"] == "" and rows[1]["gap"] == ""
    bad = doc["points"][2]
    assert (bad["objective"], bad["bound"], bad["gap"]) == (None, None, None)
    assert all(f["enrolled_skus"] == 0 for f in bad["programs"].values())


def test_an_axis_on_a_rule_evaluates_the_rules_again(tmp_path: Path) -> None:
    """crossborder's stock rule at 200 lets every SKU in, at 20000 none (stock is 10000)."""
    case = tiny(tmp_path / "case")
    outcome = audited_sweep(case, ["programs.crossborder.sku_rules.stock.value=200:20000:2",
                                   f"{FEE}=0:0.01:2"], tmp_path / "out")
    assert [p.programs["crossborder"].enrolled_skus for p in outcome.points] == [4, 4, 0, 0]


def test_cli_progress_and_summary(tiny_case: Path, tmp_path: Path) -> None:
    before = tiny_case.read_bytes()
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(tiny_case), "--set", f"{FEE}=0:0.01:2",
                                       "-o", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "point 1/2" in result.stderr and "point 2/2" in result.stderr
    assert f"written: {out}/sweep.csv, sweep.json" in result.stdout
    header = result.stdout.splitlines()[0].split()
    assert header[:2] == [FEE, "status"]  # the axis's whole path, never cut to fit a column
    quiet = CliRunner().invoke(main, ["sweep", str(tiny_case), "--set", f"{FEE}=0:0.01:2",
                                      "-o", str(out), "--workers", "1", "-q"])
    # -q: only warnings, here that the catalogue has no web_min_price (SPEC 2.2 全网比价 skipped)
    assert quiet.exit_code == 0
    assert all("no web_min_price column" in ln for ln in quiet.stderr.splitlines())
    assert tiny_case.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == [".enroll-opt-run.json", "sweep.csv",
                                                     "sweep.json"]
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left behind


def test_an_output_folder_under_a_file_is_an_input_error(tiny_case: Path, tmp_path: Path) -> None:
    """-o under a file: exit 2 naming it before any point runs, not an internal error after."""
    (tmp_path / "afile").write_text("mine", encoding="utf-8")
    out = tmp_path / "afile" / "out"
    result = CliRunner().invoke(main, ["sweep", str(tiny_case), "--set", f"{FEE}=0:0.01:2",
                                       "-o", str(out), "--workers", "1"])
    assert result.exit_code == 2, result.output
    assert "error: invalid input" in result.stderr and str(tmp_path / "afile") in result.stderr
    assert "point 1/2" not in result.stderr and "internal error" not in result.stderr
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "mine"
