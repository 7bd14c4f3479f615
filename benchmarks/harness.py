"""Benchmark harness: a registry of generated cases, enroll-opt on each, and baselines side by side.

Every case is a catalogue written by `python -m optimizer.generate --skus N --seed S`
(deterministic), cached under the work folder (default /tmp/enroll-opt-bench) and regenerated
when missing or when optimizer/generate/__init__.py changed. Every solver runs as its own child
process, started and waited for one at a time; its peak RSS is that child's own `ru_maxrss`
(os.wait4).

    python benchmarks/harness.py                          # 1k, 10k, 100k, 1m
    python benchmarks/harness.py --cases 1k,10k --json bench.json --markdown
    python benchmarks/harness.py --side-by-side           # 20k: enroll-opt, naive CP-SAT, HiGHS
    python benchmarks/harness.py --smoke --side-by-side   # small, short, end to end

Per case (enroll-opt through its CLI, `enroll-opt solve -q`): the phases of summary.json
(load, rules, score, model when present, solve, write when present), the total wall time of the
process and what it spent outside the phases (interpreter start, imports, writing), status,
objective, bound, gap, peak RSS, sizes.

Side by side (same case, same time limit, same run): enroll-opt, the naive CP-SAT ladder model and
HiGHS on the same ladder model (benchmarks/baselines.py). Gaps are against the best valid upper
bound of the run, enroll-opt's (valid over every fen price); the ladder models' own bounds only
hold for their ladder, so their own-bound gap is a separate column. Traces are (seconds from the
start of loading, incumbent, own bound).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_WORKDIR = Path(tempfile.gettempdir()) / "enroll-opt-bench"
STATUSES = ("OPTIMAL", "FEASIBLE", "INFEASIBLE", "NO_SOLUTION", "ERROR")
TARGET_GAP = 0.001  # 0.1 %
PHASES = ("load", "rules", "score", "model", "solve", "write")
BEGIN, END = "<!-- harness:begin -->", "<!-- harness:end -->"


@dataclass(frozen=True)
class Case:
    name: str
    skus: int
    seed: int
    time_limit: float  # seconds, the scenario's solver.time_limit_s


CASES: dict[str, Case] = {c.name: c for c in (
    Case("smoke-300", 300, 3, 5.0),
    Case("smoke-2k", 2_000, 4, 5.0),
    Case("1k", 1_000, 1, 60.0),
    Case("10k", 10_000, 2024, 60.0),  # = scenarios/large-10k
    Case("20k", 20_000, 20, 60.0),
    Case("100k", 100_000, 5, 60.0),
    Case("1m", 1_000_000, 7, 60.0),
)}
DEFAULT_CASES = ("1k", "10k", "100k", "1m")
SMOKE_CASES = ("smoke-300", "smoke-2k")
SIDE_CASE, SMOKE_SIDE_CASE = "20k", "smoke-300"


def case_named(name: str) -> Case:
    """A registry case, or an ad-hoc size like '50k' / '2m' / '3000' (seed 1, 60 s)."""
    if name in CASES:
        return CASES[name]
    m = re.fullmatch(r"(\d+)([km]?)", name.strip().lower())
    if not m:
        raise SystemExit(f"unknown case {name!r}: one of {', '.join(CASES)} or a size like 50k")
    skus = int(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2)]
    return Case(name, skus, 1, 60.0)


# --------------------------------------------------------------------------------------------
# Child processes


@dataclass(frozen=True)
class ChildRun:
    returncode: int
    wall_s: float
    peak_rss_mb: float
    timed_out: bool


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def run_child(cmd: list[str], log: Path, timeout: float) -> ChildRun:
    """Run `cmd` (output to `log`), wait for exactly that child and read its own rusage."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env=child_env())
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait again
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return ChildRun(proc.returncode, wall, rss, killed.is_set())


# --------------------------------------------------------------------------------------------
# Cases on disk


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _count_offers(catalogue: Path) -> int:
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(catalogue, convert_options=pacsv.ConvertOptions(
        include_columns=["offer_id"], column_types={"offer_id": "string"}))
    return int(pc.count_distinct(table["offer_id"]).as_py())


def ensure_case(case: Case, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The case's generated folder (scenario.yaml, catalogue.csv, case.json), made if needed."""
    folder = workdir / "cases" / f"{case.skus}-seed{case.seed}"
    meta_path = folder / "case.json"
    generator = _sha256(ROOT / "optimizer" / "generate" / "__init__.py")
    cmd = [sys.executable, "-m", "optimizer.generate", "--skus", str(case.skus), "--seed",
           str(case.seed), "-o", str(folder)]
    if meta_path.exists() and (folder / "scenario.yaml").exists() \
            and (folder / "catalogue.csv").exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("generator_sha256") == generator:
            return folder, meta
    shutil.rmtree(folder, ignore_errors=True)
    print(f"generating {case.name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL)
    meta = {"skus": case.skus, "seed": case.seed,
            "offers": _count_offers(folder / "catalogue.csv"),
            "command": f"python -m optimizer.generate --skus {case.skus} --seed {case.seed} "
                       f"-o {folder}",
            "generate_seconds": round(time.perf_counter() - start, 3),
            "generator_sha256": generator}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return folder, meta


def scenario_with_limit(folder: Path, time_limit: float) -> Path:
    """A copy of scenario.yaml (same folder, so the catalogue path holds) with this time limit."""
    text = (folder / "scenario.yaml").read_text(encoding="utf-8")
    new, n = re.subn(r"(?m)^(\s+time_limit_s:\s*)\S+", rf"\g<1>{time_limit:g}", text)
    if n != 1:
        raise SystemExit(f"{folder / 'scenario.yaml'}: no solver.time_limit_s line to set")
    path = folder / f"scenario-t{time_limit:g}.yaml"
    if not path.exists() or path.read_text(encoding="utf-8") != new:
        path.write_text(new, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# enroll-opt


def enroll_opt_command() -> list[str]:
    script = Path(sys.executable).with_name("enroll-opt")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from optimizer.cli import main; "
            "sys.argv[0] = 'enroll-opt'; main()"]


def run_enroll_opt(scenario: Path, rundir: Path, time_limit: float) -> dict[str, Any]:
    """`enroll-opt solve -q` in its own process; the record from its summary.json."""
    outdir = rundir / "enroll-opt"
    shutil.rmtree(outdir, ignore_errors=True)
    cmd = [*enroll_opt_command(), "solve", "-q", str(scenario), "-o", str(outdir)]
    child = run_child(cmd, rundir / "enroll-opt.log", timeout=3 * time_limit + 300)
    rec: dict[str, Any] = {"solver": "enroll-opt", "exit_code": child.returncode,
                           "wall_s": round(child.wall_s, 3),
                           "peak_rss_mb": round(child.peak_rss_mb, 1),
                           "log": str(rundir / "enroll-opt.log")}
    summary_path = outdir / "summary.json"
    if child.timed_out or child.returncode not in (0, 3, 4) or not summary_path.exists():
        rec.update(status="ERROR", objective=None, bound=None, gap=None, phases={},
                   error=_tail(rundir / "enroll-opt.log"))
        return rec
    s = json.loads(summary_path.read_text(encoding="utf-8"))
    phases = {k: float(v) for k, v in s.get("phases", {}).items()}
    solver = s.get("solver", {})
    rec.update(status=s["status"], objective=s.get("objective"), bound=s.get("bound"),
               gap=s.get("gap"), seconds=s.get("seconds"), phases=phases,
               pair_variants=solver.get("pair_variants"),
               overhead_s=round(child.wall_s - sum(phases.values()), 3),
               solver_stats=solver)
    rec["trace"], rec["trace_source"] = _enroll_trace(s, phases)
    return rec


def _enroll_trace(s: dict[str, Any], phases: dict[str, float]
                  ) -> tuple[list[dict[str, Any]], str]:
    """summary.json's trace (t from the solve's start) on the harness axis (t from the start of
    loading: the phases before 'solve' are added); the final result when there is no trace."""
    offset = 0.0
    for name, value in phases.items():
        if name == "solve":
            break
        offset += value
    trace = s.get("trace")
    if isinstance(trace, list) and trace:
        return [{"t": round(offset + float(p["t"]), 4), "phase": p.get("phase"),
                 "objective": p.get("objective"), "bound": p.get("bound")} for p in trace], \
            "summary.json trace"
    end = offset + float(phases.get("solve", s.get("seconds") or 0.0))
    obj = s.get("objective") if s.get("status") in ("OPTIMAL", "FEASIBLE") else None
    return [{"t": round(end, 4), "phase": "final", "objective": obj, "bound": s.get("bound")}], \
        "final result only (summary.json has no trace)"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------------------------
# The registry run


def run_case(case: Case, workdir: Path, time_limit: float | None) -> dict[str, Any]:
    folder, meta = ensure_case(case, workdir)
    limit = time_limit if time_limit is not None else case.time_limit
    scenario = scenario_with_limit(folder, limit)
    print(f"{case.name}: enroll-opt solve ({case.skus:,} SKUs, {limit:g} s)", file=sys.stderr,
          flush=True)
    rec = run_enroll_opt(scenario, workdir / "runs" / case.name, limit)
    rec.update(case=case.name, skus=case.skus, offers=meta["offers"], seed=case.seed,
               time_limit_s=limit, scenario=str(scenario))
    return rec


# --------------------------------------------------------------------------------------------
# Side by side


def highspy_available() -> bool:
    return importlib.util.find_spec("highspy") is not None


def run_baseline(solver: str, scenario: Path, rundir: Path, time_limit: float,
                 ladder: int, solve_only: bool = False) -> dict[str, Any]:
    out = rundir / f"{solver}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / "baselines.py"), solver, str(scenario), "--time-limit",
           f"{time_limit:g}", "--ladder", str(ladder), "--json", str(out),
           *(["--solve-only"] if solve_only else [])]
    print(f"  {solver} ({time_limit:g} s)", file=sys.stderr, flush=True)
    child = run_child(cmd, rundir / f"{solver}.log", timeout=3 * time_limit + 300)
    if child.timed_out or child.returncode != 0 or not out.exists():
        rec: dict[str, Any] = {"solver": solver, "status": "ERROR", "objective": None,
                               "bound": None, "trace": [], "error": _tail(rundir / f"{solver}.log")}
    else:
        rec = json.loads(out.read_text(encoding="utf-8"))
    rec.update(exit_code=child.returncode, wall_s=round(child.wall_s, 3),
               peak_rss_mb=round(child.peak_rss_mb, 1), log=str(rundir / f"{solver}.log"))
    return rec


def _gap(bound: float | None, objective: float | None) -> float | None:
    if bound is None or objective is None:
        return None
    return (bound - objective) / max(abs(objective), 1.0)


def time_to_gap(trace: list[dict[str, Any]], bound: float | None, target: float,
                own: bool = False) -> float | None:
    """First t at which the best incumbent so far is within `target` of `bound` (or, own=True,
    of the least own bound reported so far)."""
    best: float | None = None
    least: float | None = None
    for p in sorted(trace, key=lambda q: q["t"]):
        if p.get("objective") is not None:
            best = p["objective"] if best is None else max(best, p["objective"])
        if p.get("bound") is not None:
            least = p["bound"] if least is None else min(least, p["bound"])
        ref = least if own else bound
        g = _gap(ref, best)
        if g is not None and g <= target:
            return float(p["t"])
    return None


def side_by_side(case: Case, workdir: Path, time_limit: float, ladder: int,
                 solvers: tuple[str, ...], solve_only: bool = False) -> dict[str, Any]:
    folder, meta = ensure_case(case, workdir)
    scenario = scenario_with_limit(folder, time_limit)
    rundir = workdir / "runs" / f"side-{case.name}"
    print(f"side by side on {case.name} ({case.skus:,} SKUs, {time_limit:g} s each)",
          file=sys.stderr, flush=True)
    rows = [run_enroll_opt(scenario, rundir, time_limit)]
    for solver in solvers:
        rows.append(run_baseline(solver, scenario, rundir, time_limit, ladder, solve_only))
    ours = rows[0]
    valid = ours["bound"] if ours["status"] in ("OPTIMAL", "FEASIBLE", "NO_SOLUTION") else None
    t_ours = None
    for row in rows:
        row["gap_vs_valid_bound"] = _gap(valid, row["objective"])
        row["own_gap"] = _gap(row["bound"], row["objective"])
        row["time_to_target_s"] = time_to_gap(row.get("trace", []), valid, TARGET_GAP)
        row["time_to_own_target_s"] = time_to_gap(row.get("trace", []), None, TARGET_GAP,
                                                  own=True)
        row["below_valid_bound"] = (row["objective"] is None or valid is None
                                    or row["objective"] <= valid + 1e-9 * max(abs(valid), 1.0))
        if row is ours:
            t_ours = row["time_to_target_s"]
        row["speedup_of_enroll_opt"] = None if row is ours else _speedup(t_ours, row, time_limit)
    return {"case": case.name, "skus": case.skus, "offers": meta["offers"], "seed": case.seed,
            "pair_variants": ours.get("pair_variants"), "time_limit_s": time_limit,
            "ladder_points": ladder, "baseline_limit_excludes_build": solve_only,
            "target_gap": TARGET_GAP, "valid_bound": valid,
            "valid_bound_from": "enroll-opt (valid over every fen price)",
            "scenario": str(scenario), "solvers": rows}


def _speedup(t_ours: float | None, row: dict[str, Any], time_limit: float) -> str:
    t = row["time_to_target_s"]
    if t_ours is None:
        return "enroll-opt did not reach 0.1 %" + ("" if t is None else f"; baseline at {t:.1f} s")
    if t is None:
        return f"> {time_limit / t_ours:.1f}x (baseline did not reach 0.1 % in {time_limit:g} s)"
    return f"{t / t_ours:.1f}x"


# --------------------------------------------------------------------------------------------
# Machine, sanity, tables


def machine() -> dict[str, Any]:
    def version(pkg: str) -> str | None:
        try:
            return importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return None

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True, check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "optimizer"], cwd=ROOT,
                           capture_output=True, text=True, check=False).stdout.strip()
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu, "cpus": os.cpu_count(), "memory_gb": mem_gb,
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(),
            "git_commit": git or None, "optimizer_modified": bool(dirty),
            "versions": {p: version(p) for p in ("enroll-opt", "ortools", "numpy", "highspy")}}


def sanity(report: dict[str, Any]) -> list[str]:
    """What is wrong with the report's numbers (empty: every field present and sane)."""
    bad: list[str] = []

    def check(rec: dict[str, Any], where: str) -> None:
        if rec.get("status") not in STATUSES:
            bad.append(f"{where}: status {rec.get('status')!r}")
        if rec.get("status") in ("ERROR", None):
            bad.append(f"{where}: the run failed: {rec.get('error', '')[-300:]}")
            return
        if rec.get("status") in ("OPTIMAL", "FEASIBLE"):
            obj, bound = rec.get("objective"), rec.get("bound")
            if obj is None or not math.isfinite(obj):
                bad.append(f"{where}: objective {obj!r}")
            elif bound is not None and bound < obj - 1e-6 * max(abs(obj), 1.0):
                bad.append(f"{where}: bound {bound} below objective {obj}")
        if not rec.get("peak_rss_mb") or rec["peak_rss_mb"] <= 0:
            bad.append(f"{where}: peak RSS {rec.get('peak_rss_mb')!r}")
        if not rec.get("wall_s") or rec["wall_s"] <= 0:
            bad.append(f"{where}: wall {rec.get('wall_s')!r}")

    for rec in report.get("cases", []):
        where = f"case {rec.get('case')}"
        check(rec, where)
        if rec.get("status") == "ERROR":
            continue
        gap = rec.get("gap")
        if rec.get("status") in ("OPTIMAL", "FEASIBLE") and (gap is None or gap < 0):
            bad.append(f"{where}: gap {gap!r}")
        for name in ("load", "rules", "score", "solve"):
            if not isinstance(rec.get("phases", {}).get(name), float) or rec["phases"][name] < 0:
                bad.append(f"{where}: phase {name} missing")
        if not rec.get("pair_variants") or rec.get("skus", 0) <= 0 or rec.get("offers", 0) <= 0:
            bad.append(f"{where}: sizes")
    side = report.get("side_by_side")
    if side:
        for rec in side["solvers"]:
            where = f"side-by-side {rec.get('solver')}"
            check(rec, where)
            if rec.get("status") == "ERROR":
                continue
            for key in ("gap_vs_valid_bound", "own_gap"):
                if rec.get(key) is not None and rec[key] < -1e-9:
                    bad.append(f"{where}: {key} {rec[key]} < 0")
            if not rec.get("below_valid_bound"):
                bad.append(f"{where}: objective above the valid bound")
            if rec.get("violations"):
                bad.append(f"{where}: plan breaks rules: {rec['violations']}")
    return bad


def _num(x: float | None, fmt: str = "{:,.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.4f} %"


def cases_markdown(cases: list[dict[str, Any]]) -> str:
    head = ("| case | SKUs | offers | pair-variants | status | objective (yuan) | bound (yuan) "
            "| gap | load s | rules s | score s | model s | solve s | write s | outside phases s "
            "| wall s | peak RSS MB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in cases:
        ph = r.get("phases", {})
        lines.append("| " + " | ".join([
            r["case"], f"{r['skus']:,}", f"{r['offers']:,}", _num(r.get("pair_variants"), "{:,}"),
            r["status"], _num(r.get("objective")), _num(r.get("bound")), _pct(r.get("gap")),
            *[_num(ph.get(p), "{:.2f}") for p in PHASES], _num(r.get("overhead_s"), "{:.2f}"),
            _num(r.get("wall_s"), "{:.1f}"), _num(r.get("peak_rss_mb"), "{:,.0f}")]) + " |")
    return "\n".join(lines)


def side_markdown(side: dict[str, Any]) -> str:
    names = {"enroll-opt": "enroll-opt",
             "naive-cpsat": f"naive CP-SAT, {side['ladder_points']}-point ladder",
             "highs": f"HiGHS MIP, same {side['ladder_points']}-point ladder model"}
    excl = (" (baselines: for the solver alone, model building not counted)"
            if side.get("baseline_limit_excludes_build") else "")
    lines = [f"Case `{side['case']}`: {side['skus']:,} SKUs, {side['offers']:,} offers, "
             f"{_num(side.get('pair_variants'), '{:,}')} SKU x program x fee-variant pairs, "
             f"{side['time_limit_s']:g} s each{excl}, one after the other. Valid bound "
             f"(enroll-opt, over every fen price): {_num(side['valid_bound'])} yuan.", "",
             "| solver | status | objective (yuan) | gap vs valid bound | time to 0.1 % (s) "
             "| enroll-opt speed-up | own bound (yuan) | own-bound gap | variables "
             "| model build s | wall s | peak RSS MB |",
             "|" + "---|" * 12]
    for r in side["solvers"]:
        size, build = r.get("variables"), r.get("model_seconds")
        if r["solver"] == "enroll-opt":
            stats = r.get("solver_stats", {})
            size = stats.get("variables", stats.get("focused_variables"))
            build = r.get("phases", {}).get("model")
        lines.append("| " + " | ".join([
            names.get(r["solver"], r["solver"]),
            r["status"] + (f" ({r['raw_status']})" if r.get("raw_status") not in
                           (None, r["status"]) else ""),
            _num(r.get("objective")), _pct(r.get("gap_vs_valid_bound")),
            _num(r.get("time_to_target_s"), "{:.1f}") if r.get("time_to_target_s") is not None
            else "not reached",
            "-" if r["speedup_of_enroll_opt"] is None else r["speedup_of_enroll_opt"],
            _num(r.get("bound")), _pct(r.get("own_gap")) +
            (" (valid)" if r["solver"] == "enroll-opt" else " (ladder only)"),
            _num(size, "{:,}"), _num(build, "{:.1f}"), _num(r.get("wall_s"), "{:.1f}"),
            _num(r.get("peak_rss_mb"), "{:,.0f}")]) + " |")
    ours = side["solvers"][0]
    lines += ["", f"enroll-opt trace: {ours.get('trace_source', '-')}."]
    return "\n".join(lines)


def report_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [f"Measured {m['date']} on {m['cpus']} x {m['cpu']}, {m['memory_gb']} GB "
           f"(load average {m['load_average'][0]} at the start), commit {m['git_commit']}"
           f"{' + uncommitted changes in optimizer/' if m.get('optimizer_modified') else ''}, "
           f"Python {m['python']}, OR-Tools {m['versions']['ortools']}, "
           f"HiGHS {m['versions']['highspy']}.", "",
           f"`{report['command']}`"]
    if report.get("cases"):
        out += ["", cases_markdown(report["cases"])]
    if report.get("side_by_side"):
        out += ["", side_markdown(report["side_by_side"])]
    return "\n".join(out) + "\n"


def write_readme(readme: Path, markdown: str) -> None:
    text = readme.read_text(encoding="utf-8")
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        raise SystemExit(f"{readme}: no '{BEGIN}' ... '{END}' section to replace")
    readme.write_text(text[:a + len(BEGIN)] + "\n" + markdown + text[b:], encoding="utf-8")


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    doc = __doc__ or ""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="cases: " + ", ".join(
                                     f"{c.name} ({c.skus:,} SKUs, seed {c.seed})"
                                     for c in CASES.values()))
    ap.add_argument("--cases", default=None,
                    help=f"comma-separated (default {','.join(DEFAULT_CASES)}; with --smoke "
                         f"{','.join(SMOKE_CASES)}; with only --side-by-side: none)")
    ap.add_argument("--smoke", action="store_true",
                    help="small cases, 5 s limits: end to end, no claims about speed")
    ap.add_argument("--time-limit", type=float, default=None,
                    help="seconds per solve (default: the case's, 60; 5 with --smoke)")
    ap.add_argument("--side-by-side", action="store_true",
                    help="also run enroll-opt, naive CP-SAT and HiGHS on one case")
    ap.add_argument("--side-case", default=None,
                    help=f"case for --side-by-side (default {SIDE_CASE}; {SMOKE_SIDE_CASE} with "
                         "--smoke)")
    ap.add_argument("--ladder", type=int, default=20, help="ladder points of the baselines")
    ap.add_argument("--no-highs", action="store_true", help="leave HiGHS out of --side-by-side")
    ap.add_argument("--baseline-solve-only", action="store_true",
                    help="give the baselines their time limit for the solver alone (their model "
                         "building not counted; enroll-opt's limit counts everything)")
    ap.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                    help=f"generated cases and run outputs (default {DEFAULT_WORKDIR})")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    ap.add_argument("--markdown", action="store_true", help="print the markdown tables")
    ap.add_argument("--markdown-out", type=Path, default=None, help="write them here")
    ap.add_argument("--write-readme", action="store_true",
                    help=f"replace the {BEGIN} ... {END} section of --readme")
    ap.add_argument("--readme", type=Path, default=HERE / "README.md")
    ap.add_argument("--from-json", type=Path, default=None,
                    help="run nothing: render the tables (and --write-readme) from a saved report")
    a = ap.parse_args(argv)
    if a.from_json is not None:
        return render(json.loads(a.from_json.read_text(encoding="utf-8")), a)

    if a.cases is not None:
        names = [n for n in a.cases.split(",") if n.strip()]
    elif a.smoke:
        names = list(SMOKE_CASES)
    elif a.side_by_side:
        names = []
    else:
        names = list(DEFAULT_CASES)
    cases = [case_named(n.strip()) for n in names]
    time_limit = a.time_limit if a.time_limit is not None else (5.0 if a.smoke else None)
    a.workdir.mkdir(parents=True, exist_ok=True)

    report: dict[str, Any] = {"machine": machine(),
                              "command": "python benchmarks/harness.py " + " ".join(
                                  sys.argv[1:] if argv is None else argv),
                              "cases": [], "side_by_side": None}
    for case in cases:
        report["cases"].append(run_case(case, a.workdir, time_limit))
    if a.side_by_side:
        side_case = case_named(a.side_case or (SMOKE_SIDE_CASE if a.smoke else SIDE_CASE))
        solvers = ("naive-cpsat",) + (() if a.no_highs else ("highs",))
        if "highs" in solvers and not highspy_available():
            print("highspy is not installed: HiGHS left out (pip install highspy)",
                  file=sys.stderr)
            solvers = ("naive-cpsat",)
        limit = time_limit if time_limit is not None else side_case.time_limit
        report["side_by_side"] = side_by_side(side_case, a.workdir, limit, a.ladder, solvers,
                                              a.baseline_solve_only)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["problems"] = sanity(report)
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return render(report, a)


def render(report: dict[str, Any], a: argparse.Namespace) -> int:
    """Tables to stdout / --markdown-out / the README section; exit 1 if the report has
    problems."""
    problems = sanity(report)
    markdown = report_markdown(report)
    if a.markdown_out is not None:
        a.markdown_out.write_text(markdown, encoding="utf-8")
    if a.write_readme:
        write_readme(a.readme, markdown)
    if a.markdown:
        print(markdown)
    else:
        print(plain_summary(report))
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems else 0


def plain_summary(report: dict[str, Any]) -> str:
    lines = []
    for r in report["cases"]:
        lines.append(f"{r['case']:>10} {r['status']:>12} obj {_num(r.get('objective')):>18} "
                     f"gap {_pct(r.get('gap')):>12} wall {_num(r.get('wall_s'), '{:.1f}'):>7} s "
                     f"RSS {_num(r.get('peak_rss_mb'), '{:,.0f}'):>7} MB")
    side = report.get("side_by_side")
    if side:
        lines.append(f"side by side on {side['case']}, valid bound {_num(side['valid_bound'])}")
        for r in side["solvers"]:
            t = r.get("time_to_target_s")
            lines.append(f"{r['solver']:>12} {r['status']:>12} obj {_num(r.get('objective')):>18}"
                         f" gap {_pct(r.get('gap_vs_valid_bound')):>12} to 0.1 %: "
                         f"{'not reached' if t is None else f'{t:.1f} s':>11} "
                         f"speed-up {r['speedup_of_enroll_opt'] or '-'}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
