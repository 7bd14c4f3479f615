"""`enroll-opt generate`, progress lines on stderr (and --quiet), the solver trace, and
determinism on a catalogue large enough to take every path of the large-scale solver."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from optimizer.audit import audit
from optimizer.cli import main


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry in a child process, so stderr and stdout are the real streams."""
    return subprocess.run([sys.executable, "-c", "from optimizer.cli import main; main()", *args],
                          capture_output=True, text=True, check=False)


def test_generate_is_deterministic_and_matches_the_module_entry(tmp_path: Path) -> None:
    a = CliRunner().invoke(main, ["generate", "--skus", "600", "--seed", "4", "-o",
                                  str(tmp_path / "a")])
    b = CliRunner().invoke(main, ["generate", "--skus", "600", "--seed", "4", "-o",
                                  str(tmp_path / "b")])
    c = CliRunner().invoke(main, ["generate", "--skus", "600", "--seed", "5", "-o",
                                  str(tmp_path / "c")])
    assert a.exit_code == b.exit_code == c.exit_code == 0, a.output
    assert a.output.strip() == str(tmp_path / "a" / "scenario.yaml")
    for name in ("catalogue.csv", "scenario.yaml"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "catalogue.csv").read_bytes() != \
        (tmp_path / "c" / "catalogue.csv").read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["catalogue.csv",
                                                                  "scenario.yaml"]


def test_generate_offers_and_parquet(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["generate", "--skus", "120", "--offers", "20", "--format",
                                  "parquet", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "catalogue.parquet")
    assert table.num_rows == 120
    assert len(set(table.column("offer_id").to_pylist())) == 20


@pytest.mark.parametrize(("args", "with_out"), [
    (["--skus", "0"], True), (["--skus", "10", "--offers", "50"], True),
    (["--skus", "abc"], True), (["--skus", "10"], False)])
def test_generate_bad_arguments_exit_2_and_write_nothing(tmp_path: Path, args: list[str],
                                                         with_out: bool) -> None:
    out = tmp_path / "out"
    r = _cli("generate", *args, *(["-o", str(out)] if with_out else []))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr
    assert r.stderr.strip()
    assert not out.exists() or not any(out.iterdir())


@pytest.fixture(scope="module")
def mid(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4,000-SKU generated scenario (seed 11) with a short time limit."""
    folder = tmp_path_factory.mktemp("mid")
    r = CliRunner().invoke(main, ["generate", "--skus", "4000", "--seed", "11", "-o",
                                  str(folder)])
    assert r.exit_code == 0, r.output
    scenario = folder / "scenario.yaml"
    scenario.write_text(scenario.read_text(encoding="utf-8").replace(
        "time_limit_s: 60", "time_limit_s: 30"), encoding="utf-8")
    return scenario


def test_progress_on_stderr_and_quiet_turns_it_off(mid: Path, tmp_path: Path) -> None:
    loud = _cli("solve", str(mid), "-o", str(tmp_path / "loud"))
    quiet = _cli("solve", str(mid), "-o", str(tmp_path / "quiet"), "--quiet")
    assert loud.returncode == quiet.returncode == 0, loud.stderr
    for phase in ("load", "rules", "score", "solve", "write"):
        assert f"] {phase}\n" in loud.stderr
    bound_lines = [ln for ln in loud.stderr.splitlines() if "bound" in ln and "incumbent" in ln]
    assert bound_lines, loud.stderr
    assert any("gap" in ln for ln in bound_lines)
    # -q: no progress, only warnings, and a generated catalogue brings none (it has
    # web_min_price: the 全网比价 check is not skipped)
    assert quiet.stderr == ""
    assert "incumbent" not in loud.stdout  # progress never mixes into the summary on stdout
    assert quiet.stdout.split(":")[0] == loud.stdout.split(":")[0]  # the same summary head


def test_summary_trace_is_monotone_and_ends_at_the_result(mid: Path, tmp_path: Path) -> None:
    r = _cli("solve", str(mid), "-o", str(tmp_path / "o"), "-q")
    assert r.returncode == 0, r.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    trace = summary["trace"]
    assert trace, "no solver events recorded"
    times = [e["t"] for e in trace]
    assert times == sorted(times)
    bounds = [e["bound"] for e in trace if e["bound"] is not None]
    assert min(bounds) >= summary["objective"] - 0.01  # every recorded bound is an upper bound
    plans = [e["objective"] for e in trace if e["objective"] is not None]
    assert plans and plans == sorted(plans)  # the incumbent only improves
    assert plans[-1] == pytest.approx(summary["objective"], abs=0.01)
    assert set(summary["phases"]) >= {"load", "rules", "score", "solve"}


def test_same_seed_same_plan_files_at_scale(mid: Path, tmp_path: Path) -> None:
    a = _cli("solve", str(mid), "-o", str(tmp_path / "a"), "-q")
    b = _cli("solve", str(mid), "-o", str(tmp_path / "b"), "-q")
    assert a.returncode == b.returncode == 0, a.stderr
    for name in ("plan.csv", "excluded.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert audit(mid, tmp_path / "a" / "plan.csv").violations == []
