"""A 21-point fee sweep against one solve of the same scenario, same run (issue 4: target <= 3x).

Both run as the user runs them, `enroll-opt solve` and `enroll-opt sweep`, each in its own child
process (wall time end to end: loading, rules, solving, writing; peak RSS of the largest process
of each, from os.wait4, which covers the sweep's worker processes too). Not a timed test: a
figure for the README and the issue note.

    python benchmarks/bench_sweep.py                      # 100k SKUs, seed 1, 21 points
    python benchmarks/bench_sweep.py --skus 20000 --json sweep-bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_SET = "programs.offsite.fees.help_sell_commission=0:0.05:{points}"


def _run(args: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB of the largest process, exit code) of one command."""
    t = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 4):
        raise SystemExit(f"{' '.join(args)} exited {code}:\n{err}")
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return wall, rss, code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skus", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--points", type=int, default=21)
    ap.add_argument("--set", dest="set_", default=None,
                    help=f"the sweep's --set (default {DEFAULT_SET.format(points='N')})")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temp one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = ap.parse_args()

    from optimizer.generate import generate

    work = a.dir or Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    scenario = work / "scenario.yaml"
    if not scenario.is_file():
        generate(a.skus, None, a.seed, work)
    # the environment running this script has it beside its python even when not on PATH
    cli = shutil.which("enroll-opt") or str(Path(sys.executable).with_name("enroll-opt"))
    sweep_set = a.set_ or DEFAULT_SET.format(points=a.points)
    solve_wall, solve_rss, _ = _run([cli, "solve", str(scenario), "-o", str(work / "solve"),
                                     "-q"])
    sweep_wall, sweep_rss, code = _run([cli, "sweep", str(scenario), "--set", sweep_set,
                                        "-o", str(work / "sweep"), "--workers",
                                        str(a.workers), "-q"])
    summary = json.loads((work / "solve" / "summary.json").read_text("utf-8"))
    sweep = json.loads((work / "sweep" / "sweep.json").read_text("utf-8"))
    seconds = [p["seconds"] for p in sweep["points"]]
    gaps = [p["gap"] for p in sweep["points"] if p["gap"] is not None]
    figures: dict[str, Any] = {
        "skus": a.skus, "seed": a.seed, "pair_variants": summary["solver"].get("pair_variants"),
        "set": sweep_set, "points": len(sweep["points"]), "workers": a.workers,
        "solve_wall_s": round(solve_wall, 2), "solve_solver_s": summary["seconds"],
        "solve_gap": summary["gap"], "solve_status": summary["status"],
        "solve_peak_rss_mib": round(solve_rss),
        "sweep_wall_s": round(sweep_wall, 2), "sweep_exit": code,
        "sweep_point_s_mean": round(sum(seconds) / len(seconds), 2),
        "sweep_point_s_max": round(max(seconds), 2),
        "sweep_gap_max": max(gaps) if gaps else None,
        "sweep_statuses": sorted({p["status"] for p in sweep["points"]}),
        "sweep_peak_rss_mib_largest_process": round(sweep_rss),
        "ratio": round(sweep_wall / solve_wall, 2),
    }
    print(f"{a.skus:,} SKUs (seed {a.seed}), {figures['pair_variants']:,} pair-variants; "
          f"sweep {sweep_set} on {a.workers} worker(s)")
    print(f"one solve: {solve_wall:.1f} s end to end ({summary['seconds']:.1f} s solving), "
          f"{summary['status']} gap {summary['gap']:.4%}, peak RSS {solve_rss:.0f} MiB")
    print(f"sweep:     {sweep_wall:.1f} s for {len(seconds)} points (a point: mean "
          f"{figures['sweep_point_s_mean']:.1f} s, max {figures['sweep_point_s_max']:.1f} s), "
          f"max gap {(figures['sweep_gap_max'] or 0):.4%}, peak RSS {sweep_rss:.0f} MiB "
          f"(largest process)")
    print(f"ratio:     {figures['ratio']:.2f}x one solve (target <= 3x)")
    if a.json is not None:
        a.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
