"""Solve a scenario with enroll-opt and with a naive CP-SAT baseline, side by side, same run.

The baseline is the textbook model: one Boolean per price on a 20-point ladder per SKU x program,
every rule as in enroll-opt's model, the whole thing handed to CP-SAT with the same time limit.
Each solver runs in its own process (peak RSS per solver). Gaps are measured against enroll-opt's
bound, which is valid over every fen price (the baseline's own bound only covers its ladder).

    python benchmarks/bench_solve.py scenarios/large-10k/scenario.yaml --json out.json
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time
from pathlib import Path
from typing import Any


def _problem(scenario_path: Path) -> tuple[Any, Any]:
    from optimizer.load import load_catalogue, load_scenario
    from optimizer.rules.eligibility import evaluate_rules
    from optimizer.rules.rulebook import build_rulebook
    from optimizer.score.problem import build_problem

    scenario, source = load_scenario(scenario_path)
    catalogue = load_catalogue(source.file.parent / scenario.catalogue)
    rulebook = build_rulebook(scenario, source)
    outcome = evaluate_rules(rulebook, scenario.merchant, catalogue)
    return scenario, build_problem(scenario, rulebook, catalogue, outcome)


def run_enroll_opt(scenario_path: Path, queue: Any) -> None:
    from optimizer.pipeline import run_solve

    start = time.perf_counter()
    outcome = run_solve(scenario_path, Path("/tmp") / f"bench-{scenario_path.parent.name}")
    r = outcome.result
    queue.put({"solver": "enroll-opt", "status": r.status, "objective": r.objective,
               "bound": r.bound, "seconds": time.perf_counter() - start,
               "phases": outcome.phases,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def run_naive(scenario_path: Path, queue: Any) -> None:
    import numpy as np
    from ortools.sat.python import cp_model

    from optimizer.model.cpsat import build_model
    from optimizer.score.candidates import build_candidates

    start = time.perf_counter()
    scenario, pb = _problem(scenario_path)
    cand = build_candidates(pb, [], ladder_points=20, complete_limit=0)
    em = build_model(pb, cand)
    built = time.perf_counter() - start
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(scenario.solver.time_limit_s - built, 1.0)
    solver.parameters.num_workers = scenario.solver.workers
    solver.parameters.random_seed = scenario.solver.seed
    status = solver.solve(em.model)
    objective = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        chosen = np.array([solver.value(x) for x in em.x], bool)
        objective = float(cand.margin[chosen].sum()) / 100
    queue.put({"solver": "naive-cpsat-ladder20", "status": solver.status_name(status),
               "objective": objective, "variables": cand.size,
               "seconds": time.perf_counter() - start, "model_seconds": built,
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _in_process(target: Any, scenario_path: Path) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=target, args=(scenario_path, queue))
    proc.start()
    result: dict[str, Any] = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", type=Path)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    ours = _in_process(run_enroll_opt, args.scenario)
    naive = _in_process(run_naive, args.scenario)
    bound = ours["bound"]
    for row in (ours, naive):
        obj = row["objective"]
        row["gap_vs_valid_bound"] = None if obj is None else (bound - obj) / max(abs(obj), 1.0)
    table = [ours, naive]
    print(f"{'solver':<22}{'status':>10}{'objective':>16}{'gap':>11}{'seconds':>9}{'RSS MB':>8}")
    for row in table:
        gap = row["gap_vs_valid_bound"]
        obj = row["objective"]
        print(f"{row['solver']:<22}{row['status']:>10}"
              f"{(f'{obj:,.2f}' if obj is not None else '-'):>16}"
              f"{(f'{gap:.4%}' if gap is not None else '-'):>11}"
              f"{row['seconds']:>9.1f}{row['peak_rss_mb']:>8.0f}")
    print(f"valid bound (enroll-opt): {bound:,.2f}; time ratio naive/enroll-opt: "
          f"{naive['seconds'] / ours['seconds']:.1f}x")
    if args.json is not None:
        args.json.write_text(json.dumps(table, indent=2, default=float) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
