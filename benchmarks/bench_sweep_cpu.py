"""A sweep's points in CPU seconds: the grid's warm-start tree run in this process, one thread.

`bench_sweep.py` measures wall time end to end, which on a shared 2-core machine moves by 2x with
the load. This runs the same points, warm-started from the same parents, with one pricing thread
as a sweep worker runs them, and reports each point's CPU time (`time.process_time`), which the
load moves far less: what to compare between two versions of the solver in the same run.

    python benchmarks/bench_sweep_cpu.py /tmp/bench/scenario.yaml
    PYTHONPATH=/path/to/other/checkout python benchmarks/bench_sweep_cpu.py ...   # a baseline
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_SET = "programs.offsite.fees.help_sell_commission=0:0.05:21"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--set", dest="set_", default=DEFAULT_SET)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    a = ap.parse_args()

    from optimizer.prepare import load_inputs
    from optimizer.sweep.grid import Base, build_axes, grid, point_inputs, warm_parents
    from optimizer.sweep.runner import PointOutput, PointSpec, Prepared, run_point

    loaded = load_inputs(a.scenario)
    base = Base.read(loaded.scenario, loaded.source, loaded.rulebook_file)
    axes = build_axes(base, [a.set_])
    prep = Prepared(loaded.catalogue, loaded.evaluate().rules)
    values = list(grid(axes))
    parents = warm_parents(tuple(len(ax.values) for ax in axes))
    out: dict[int, PointOutput] = {}
    cpu: dict[int, float] = {}
    todo = sorted(parents)
    while todo:
        for i in [i for i in todo if parents[i] is None or parents[i] in out]:
            scenario, rulebook = point_inputs(base, axes, values[i])
            parent = parents[i]
            began = time.process_time()
            out[i] = run_point(prep, PointSpec(f"grid-{i}", values[i], scenario, rulebook, None),
                               None if parent is None else out[parent][1], threads=1)
            cpu[i] = time.process_time() - began
            todo.remove(i)
    roots = [i for i in parents if parents[i] is None]
    warm = [cpu[i] for i in cpu if i not in roots]
    gaps = [out[i][0].gap for i in out if out[i][0].gap is not None]
    figures = {
        "points": len(values), "cpu_s": [round(cpu[i], 2) for i in sorted(cpu)],
        "cpu_total_s": round(sum(cpu.values()), 2),
        "cpu_roots_s": round(sum(cpu[i] for i in roots), 2),
        "cpu_warm_mean_s": round(sum(warm) / len(warm), 3) if warm else None,
        "statuses": sorted({str(out[i][0].status) for i in out}),
        "gap_max": max(gaps) if gaps else None,
    }
    print(f"{len(values)} points ({len(roots)} cold): CPU {figures['cpu_total_s']} s in all, "
          f"cold {figures['cpu_roots_s']} s, warm mean {figures['cpu_warm_mean_s']} s; "
          f"statuses {figures['statuses']}, max gap {(figures['gap_max'] or 0):.4%}")
    if a.json is not None:
        a.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
