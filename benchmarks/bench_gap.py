"""The selection engine on Chu & Beasley's GAP instances (types a, b, c), against published optima.

Each instance is read as a minimisation (the convention of data.csv), solved by
`benchmarks.gap.selection.solve_selection` under a wall-clock limit, its assignment re-checked
without the solver, and compared with the optimum in data.csv. Nothing is cached or tuned per
instance: one set of parameters for all.

    python benchmarks/bench_gap.py --json gap.json --markdown

With more than one worker CP-SAT's parallel search is not reproducible run to run (the seed fixes
each worker, not their interleaving); use --workers 1 for a deterministic run.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks.gap.selection import (  # noqa: E402
    check_selection,
    read_gap,
    selection_value,
    solve_selection,
)

DEFAULT_DATA = ROOT / "benchmarks" / "gap" / "data"
TYPES = ("a", "b", "c")


def instances(data_dir: Path, types: tuple[str, ...]) -> list[tuple[str, int | None]]:
    """chu1997 instances of the given types present in the folder, with data.csv's optimum."""
    with (data_dir / "data.csv").open(newline="") as f:
        optimum = {row["Path"]: (int(row["Optimum"]) if row["Optimum"].strip() else None)
                   for row in csv.DictReader(f)}
    names = sorted(p.name for p in (data_dir / "chu1997").iterdir()
                   if p.is_file() and p.name[:1] in types)
    return [(f"chu1997/{name}", optimum.get(f"chu1997/{name}")) for name in names]


def run_one(data_dir: Path, name: str, optimum: int | None, time_limit: float, workers: int,
            seed: int, params: str) -> dict[str, Any]:
    data = read_gap(data_dir / name, maximize=False)
    result = solve_selection(data, time_limit, workers=workers, seed=seed, params=params)
    violations = check_selection(data, result.choice) if result.objective is not None else []
    if result.objective is not None and selection_value(data, result.choice) != result.objective:
        violations.append("reported objective differs from the recomputed one")
    return {
        "instance": name, "jobs": data.n_items, "agents": data.n_options,
        "status": result.status, "objective": result.objective, "optimum": optimum,
        "bound": result.bound, "seconds": round(result.seconds, 3),
        "deterministic_seconds": round(result.deterministic_seconds, 3),
        "feasible": result.objective is not None and not violations, "violations": violations,
        "matches": optimum is not None and result.objective == optimum and not violations,
        "proven": result.status == "OPTIMAL" and optimum is not None
        and result.objective == optimum and not violations,
    }


def _fmt(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = ["| instance | jobs x agents | status | objective | published optimum | bound "
             "| seconds | matches |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        match = "yes" if r["matches"] else "**no**"
        lines.append(f"| {r['instance'].split('/')[-1]} | {r['jobs']} x {r['agents']} "
                     f"| {r['status']} | {_fmt(r['objective'])} | {_fmt(r['optimum'])} "
                     f"| {_fmt(r['bound'])} | {r['seconds']:.2f} | {match} |")
    proven = sum(r["proven"] for r in rows)
    found = sum(r["matches"] for r in rows)
    lines.append("")
    lines.append(f"{found}/{len(rows)} reach the published optimum, {proven}/{len(rows)} "
                 f"proven optimal; total {sum(r['seconds'] for r in rows):.1f} s.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the GAP data folder (default: benchmarks/gap/data)")
    parser.add_argument("--types", default="".join(TYPES),
                        help="chu1997 instance types to run (default: abc; d is not run)")
    parser.add_argument("--only", nargs="*", default=None, help="instance names, e.g. c10200")
    parser.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--params", default="",
                        help='extra CP-SAT parameters, text format ("linearization_level:2")')
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args(argv)

    if not (args.data / "data.csv").is_file():
        parser.error(f"no GAP data at {args.data} (expected data.csv and chu1997/)")
    todo = [(name, opt) for name, opt in instances(args.data, tuple(args.types))
            if not args.only or name.split("/")[-1] in args.only]
    rows = []
    for name, optimum in todo:
        row = run_one(args.data, name, optimum, args.time_limit, args.workers, args.seed,
                      args.params)
        rows.append(row)
        print(f"{name:18s} {row['status']:11s} obj={_fmt(row['objective']):>7s} "
              f"opt={_fmt(row['optimum']):>7s} bound={_fmt(row['bound']):>7s} "
              f"{row['seconds']:7.2f}s match={row['matches']}", flush=True)
    if args.markdown:
        print()
        print(markdown(rows))
    if args.json:
        from importlib.metadata import version

        meta = {"date": dt.datetime.now().isoformat(timespec="seconds"),
                "ortools": version("ortools"), "python": platform.python_version(),
                "cpus": os.cpu_count(), "time_limit_s": args.time_limit,
                "workers": args.workers, "seed": args.seed, "params": args.params}
        args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    return 0 if all(r["feasible"] or r["status"] == "NO_SOLUTION" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
