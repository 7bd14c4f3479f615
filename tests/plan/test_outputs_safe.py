"""What solve, sweep and report leave in an output folder when things go wrong (issue 19: a run
without a plan, a kill between two renames, a stale report, a full disk, a mount point, odd
numbers): always one run's files, the last good plan never lost."""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
import subprocess
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result

from optimizer import outdir as od
from optimizer.cli import main
from optimizer.load.types import MAX_YUAN
from optimizer.pipeline import run_solve
from optimizer.plan import writer
from optimizer.plan.writer import write_outputs
from optimizer.sweep.files import sweep_json
from optimizer.sweep.runner import PointRecord, ProgramFigures
from tests.helpers import sku, write_case

ROWS = [sku(sku_id="S1", offer_id="O1", market_price="19.99", min_price_30d="18.50"),
        sku(sku_id="S2", offer_id="O1", market_price="21.00", min_price_30d="20.00"),
        sku(sku_id="S3", offer_id="O2", market_price="8.80", min_price_30d="8.50"),
        sku(sku_id="S4", offer_id="O3", unit_cost="11.90")]
OUT_OF_REACH = {"gmv_min": 50_000_000}
KILLED = 77


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, [*args, "-q"])


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def strict(path: Path) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path}: bare {name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The same shop three ways: a plan, another plan (a lower price step), no plan."""
    work = tmp_path_factory.mktemp("cases")
    return SimpleNamespace(
        good=write_case(work / "good", ROWS),
        other=write_case(work / "other", ROWS, price_step=0.1),
        infeasible=write_case(work / "infeasible", ROWS, constraints=OUT_OF_REACH))


# ------------------------------------------------------------- a run without a plan keeps one

def test_a_run_without_a_plan_keeps_the_last_good_plan(cases: SimpleNamespace,
                                                        tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = cli("solve", str(cases.good), "-o", str(out), "--xlsx", "--report")
    assert first.exit_code == 0, first.output
    before = digest(out)
    assert {"plan.csv", "plan.xlsx", "report.html", od.RUN_MANIFEST} <= set(before)
    run = od.read_run(out)
    assert run is not None and run.status in ("OPTIMAL", "FEASIBLE")

    failed = cli("solve", str(cases.infeasible), "-o", str(out))
    assert failed.exit_code == 3, failed.output
    assert "gmv_min 50,000,000.00" in failed.output
    assert f"nothing written: {out} keeps the plan of run {run.id}" in failed.output
    assert digest(out) == before  # plan, workbook, report and manifest untouched
    again = cli("report", str(out))  # the folder is still one run's: the report is made
    assert again.exit_code == 0, again.output


def test_no_solution_keeps_the_plan_too(cases: SimpleNamespace, tmp_path: Path) -> None:
    """NO_SOLUTION (a time limit hit under load) is a run without a plan like INFEASIBLE."""
    out = tmp_path / "out"
    good = run_solve(cases.good, out)
    before = digest(out)
    good.tables.summary["status"] = "NO_SOLUTION"
    written = write_outputs(out, good.tables)
    assert not written.new and written.run is not None
    assert written.run.id == json.loads((out / od.RUN_MANIFEST).read_text("utf-8"))["run"]
    assert digest(out) == before


def test_without_a_plan_to_keep_a_failed_run_writes_its_status(cases: SimpleNamespace,
                                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("solve", str(cases.infeasible), "-o", str(out)).exit_code == 3
    first = od.read_run(out)
    assert first is not None and first.status == "INFEASIBLE"
    assert strict(out / "summary.json")["status"] == "INFEASIBLE"
    assert cli("solve", str(cases.infeasible), "-o", str(out)).exit_code == 3
    second = od.read_run(out)  # a failed run's files are no plan: the next failure replaces them
    assert second is not None and second.id != first.id
    assert cli("solve", str(cases.good), "-o", str(out)).exit_code == 0


def test_a_plan_from_before_manifests_is_kept_too(cases: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run_solve(cases.good, out)
    (out / od.RUN_MANIFEST).unlink()  # as an earlier enroll-opt left it
    before = digest(out)
    assert cli("solve", str(cases.infeasible), "-o", str(out)).exit_code == 3
    assert digest(out) == before


# ------------------------------------------------------------------------------ report.html

def test_a_solve_without_report_removes_the_old_report(cases: SimpleNamespace,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli("solve", str(cases.good), "-o", str(out), "--report").exit_code == 0
    run = od.read_run(out)
    assert run is not None and "report.html" in run.files  # the report is in the run's set
    assert cli("solve", str(cases.other), "-o", str(out)).exit_code == 0
    assert not (out / "report.html").exists()
    assert od.verified_run(out) is not None
    assert cli("report", str(out)).exit_code == 0


def _killed_while_writing(out: Path, tables: Any, at: str) -> None:
    """write_outputs in a child killed (no cleanup at all) just before the step `at`."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            def hook(label: str) -> None:
                if label == at:
                    os._exit(KILLED)

            od._step_hook = hook
            write_outputs(out, tables)
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == KILLED


def test_report_finishes_a_commit_cut_short_between_two_renames(cases: SimpleNamespace,
                                                                 tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    other = run_solve(cases.other, reference)
    out = tmp_path / "out"
    assert cli("solve", str(cases.good), "-o", str(out), "--report").exit_code == 0
    _killed_while_writing(out, other.tables, at="move plan.csv")  # excluded.csv moved already
    assert (out / "excluded.csv").read_bytes() == (reference / "excluded.csv").read_bytes()
    assert (out / "plan.csv").read_bytes() != (reference / "plan.csv").read_bytes()

    result = cli("report", str(out))
    assert result.exit_code == 0, result.output
    assert "cut short by a kill or a crash" in result.stderr  # not silently
    for name in ("plan.csv", "excluded.csv"):  # the cut-short run, finished
        assert (out / name).read_bytes() == (reference / name).read_bytes()
    run = od.verified_run(out)
    assert run is not None and "report.html" in run.files
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [od.RUN_MANIFEST]


@pytest.mark.parametrize("manifest", [True, False], ids=["manifest", "older-folder"])
def test_report_on_a_mixed_folder_exits_2(cases: SimpleNamespace, tmp_path: Path,
                                          manifest: bool) -> None:
    """What a kill between two renames left before this version: the new plan.csv beside the
    old summary.json. With a manifest the hashes tell; without, the row counts do."""
    run_solve(cases.other, tmp_path / "other")
    out = tmp_path / "out"
    run_solve(cases.good, out)
    (out / "plan.csv").write_bytes((tmp_path / "other" / "plan.csv").read_bytes())
    if not manifest:
        (out / od.RUN_MANIFEST).unlink()
    result = cli("report", str(out))
    assert result.exit_code == 2, result.output
    assert f"{out / 'plan.csv'}" in result.stderr and "not one run's" in result.stderr
    assert not (out / "report.html").exists()


# --------------------------------------------------------------------- disks and file systems

def test_a_full_disk_names_the_file_and_keeps_the_plan(cases: SimpleNamespace, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    run_solve(cases.good, out)
    before = digest(out)

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(writer, "write_csv", full)
    result = cli("solve", str(cases.other), "-o", str(out))
    assert result.exit_code == 1
    said = [ln for ln in result.stderr.splitlines() if "no web_min_price column" not in ln]
    assert "\n".join(said).strip() == (f"error: cannot write {out / 'excluded.csv'}: No space "
                                     "left on device; the folder keeps its previous files")
    assert "internal error" not in result.output and "Traceback" not in result.output
    assert digest(out) == before


def test_a_full_disk_in_a_sweep_names_the_file(cases: SimpleNamespace, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(od.os, "fsync", full)
    out = tmp_path / "out"
    result = cli("sweep", str(cases.good), "--set", "price_step=0.01:0.02:2", "-o", str(out),
                 "--workers", "1")
    assert result.exit_code == 1, result.output
    assert f"error: cannot write {out / 'sweep.csv'}: No space left on device" in result.stderr
    assert "internal error" not in result.output
    assert [p.name for p in out.iterdir()] == []


def test_new_output_folders_have_normal_modes(cases: SimpleNamespace, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        out = tmp_path / "a" / "out"
        assert cli("solve", str(cases.good), "-o", str(out)).exit_code == 0
        sweep = tmp_path / "sweep"
        assert cli("sweep", str(cases.good), "--set", "price_step=0.01:0.02:2", "-o", str(sweep),
                   "--workers", "1").exit_code == 0
    finally:
        os.umask(old)
    for folder in (out, out.parent, sweep):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o755, folder
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o644 for p in out.iterdir())


def test_a_temp_folder_an_older_version_left_is_removed(cases: SimpleNamespace,
                                                        tmp_path: Path) -> None:
    left = tmp_path / ".out.k2j4_x9q"  # mkdtemp's shape, beside the output folder
    left.mkdir()
    (left / "excluded.csv").write_bytes(b"30 MB at 100k SKUs")
    assert cli("solve", str(cases.good), "-o", str(tmp_path / "out")).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_solve_into_a_mount_point(cases: SimpleNamespace, tmp_path: Path) -> None:
    """A container volume: the whole solve used to run, then fail with 'Invalid cross-device
    link' (the temp folder was made in the parent)."""
    volume = tmp_path / "volume"
    volume.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(volume)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        result = cli("solve", str(cases.good), "-o", str(volume))
        assert result.exit_code == 0, result.output
        sweep = cli("sweep", str(cases.good), "--set", "price_step=0.01:0.02:2", "-o",
                    str(volume), "--workers", "1")
        assert sweep.exit_code == 0, sweep.output
        run = od.verified_run(volume)
        assert run is not None and run.command == "sweep"
        assert sorted(p.name for p in volume.iterdir()) == [od.RUN_MANIFEST, "sweep.csv",
                                                             "sweep.json"]
    finally:
        subprocess.run(["umount", str(volume)], check=False)


# ------------------------------------------------------------------------------ strict JSON

def test_summary_json_is_strict_json(cases: SimpleNamespace, tmp_path: Path) -> None:
    outcome = run_solve(cases.good, tmp_path / "a")
    summary = outcome.tables.summary
    summary["objective"], summary["bound"], summary["gap"] = math.nan, math.inf, math.nan
    summary["solver"]["lagrangian_bound"] = -math.inf
    write_outputs(tmp_path / "b", outcome.tables)
    doc = strict(tmp_path / "b" / "summary.json")
    assert doc["objective"] is None and doc["bound"] is None and doc["gap"] is None
    assert doc["solver"]["lagrangian_bound"] is None


def test_a_huge_discount_budget_gives_strict_json(tmp_path: Path) -> None:
    """discount_budget 1e308 gave 'bound nan' and a bare NaN in summary.json: now it is refused
    (exit 2, README: Limits on inputs), and the largest budget allowed solves to strict JSON."""
    case = write_case(tmp_path / "huge", ROWS, constraints={"discount_budget": 1e308})
    assert cli("solve", str(case), "-o", str(tmp_path / "no")).exit_code == 2
    assert not (tmp_path / "no").exists()
    case = write_case(tmp_path / "case", ROWS, constraints={"discount_budget": int(MAX_YUAN)})
    result = cli("solve", str(case), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    doc = strict(tmp_path / "out" / "summary.json")
    assert doc["constraints"]["discount_budget"]["limit"] == float(MAX_YUAN)
    assert math.isfinite(doc["bound"]) and math.isfinite(doc["gap"])


def test_sweep_json_is_strict_json() -> None:
    axis = SimpleNamespace(path="price_step", values=(Decimal("0.01"),))
    point = PointRecord("grid-0", (Decimal("0.01"),), "FEASIBLE", math.nan, math.inf, math.nan,
                        0.5, {"offsite": ProgramFigures(1, 100, 50)})
    doc = json.loads(sweep_json("s", [axis], ["offsite"], [point], None, {}),  # type: ignore[list-item]
                     parse_constant=lambda name: pytest.fail(f"bare {name}"))
    assert doc["points"][0]["objective"] is None and doc["points"][0]["bound"] is None
    assert doc["points"][0]["gap"] is None
