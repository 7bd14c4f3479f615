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
    python benchmarks/harness.py --grid                   # sizes x SKUs/offer x shapes x seeds
    python benchmarks/harness.py --cases 30-o4-all-s1,2k-n300-gen-s5
    python benchmarks/harness.py --issue13 --issue13-1m   # issue 13's table, target met or not

Grid cases are named <size>-o<SKUs per offer>-<shape>-s<seed> (or -n<offers>- for an exact offer
count): 30-o4-all-s1 is 30 SKUs in 8 offers (`--offers 8`), seed 1, every global constraint
binding. Shapes: none (no max_skus, discount_budget, gmv_min), maxskus, budget, gmv, all, gen (as
generated). A shape's limits come from the catalogue's plan without global constraints, audited
by `enroll-opt audit` (cached beside the catalogue as ref-*.json): max_skus at 60 % of its SKUs
per program, discount_budget at 50 % of its give-away, gmv_min 2 % above its counted GMV; 'all'
sets gmv_min 2 % above the counted GMV of the plan under those slots and that budget. So the
unconstrained plan breaks each limit; the table's `binds` column says which the solved plan
meets at the limit.

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


SHAPES = ("none", "maxskus", "budget", "gmv", "all")  # which global constraints bind
GEN = "gen"  # the constraints as the generator (or the shipped scenario) wrote them
MAX_OFFER_SKUS = 12  # optimizer.generate: 1 to 12 SKUs an offer
# How a shape's limits are set from the unconstrained plan ("none", audited): slots at 60 % of its
# count per program, the discount budget at 50 % of its give-away, the GMV target 2 % above its
# counted GMV ("all": 2 % above the counted GMV of the plan under those slots and that budget).
MAX_SKUS_SHARE, BUDGET_SHARE, GMV_RAISE = 0.6, 0.5, 1.02
TIGHT = 0.005  # a money constraint binds when the plan is within 0.5 % of its limit


@dataclass(frozen=True)
class Case:
    """A catalogue (skus, offers, seed; or a shipped scenario folder) and a constraint shape."""

    name: str
    skus: int
    seed: int
    time_limit: float  # seconds, the scenario's solver.time_limit_s
    offers: int | None = None  # None: the generator's default (SKUs / 4)
    shape: str = GEN
    source: str | None = None  # a scenario folder under the repository, copied before solving
    spo: int | None = None  # SKUs per offer asked for (offers = SKUs / spo)


CASES: dict[str, Case] = {c.name: c for c in (
    Case("smoke-300", 300, 3, 5.0),
    Case("smoke-2k", 2_000, 4, 5.0),
    Case("1k", 1_000, 1, 60.0),
    Case("10k", 10_000, 2024, 60.0),  # = scenarios/large-10k
    Case("20k", 20_000, 20, 60.0),
    Case("100k", 100_000, 5, 60.0),
    Case("1m", 1_000_000, 7, 60.0),
    # issue 13's rows (time limits as shipped / as generated)
    Case("packaging-bags", 30, 0, 20.0, offers=8, source="scenarios/packaging-bags"),
    Case("2k-n300-gen-s5", 2_000, 5, 60.0, offers=300),
    Case("100k-n9000-gen-s3", 100_000, 3, 60.0, offers=9_000),
)}
DEFAULT_CASES = ("1k", "10k", "100k", "1m")
SMOKE_CASES = ("smoke-300", "smoke-2k")
SIDE_CASE, SMOKE_SIDE_CASE = "20k", "smoke-300"

GRID_SIZES = (30, 300, 2_000, 20_000)
GRID_BIG = (100_000, 1_000_000)  # only when asked for (--grid-sizes)
GRID_SPO = (1, 4, 12)
GRID_SEEDS = (1, 2)
GRID_TIME_LIMIT = 20.0
SMOKE_GRID = {"sizes": (30,), "spo": (4,), "shapes": SHAPES, "seeds": (1,)}
CASE_RE = re.compile(r"(\d+)([km]?)-(?:o(\d+)|n(\d+))-(" + "|".join((*SHAPES, GEN)) +
                     r")-s(\d+)")


def size_label(skus: int) -> str:
    """30 -> '30', 2000 -> '2k', 20000 -> '20k', 1000000 -> '1m', 2500 -> '2500'."""
    if skus % 1_000_000 == 0:
        return f"{skus // 1_000_000}m"
    if skus % 1_000 == 0:
        return f"{skus // 1_000}k"
    return str(skus)


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+)([km]?)", text.strip().lower())
    if not m:
        raise SystemExit(f"size {text!r}: a number like 30, 2000, 2k, 20k or 1m")
    return int(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2)]


def offers_for(skus: int, spo: int) -> int:
    """Offers for a mean of `spo` SKUs an offer, within what the generator allows (1..12 SKUs)."""
    return min(skus, max(-(-skus // MAX_OFFER_SKUS), round(skus / spo)))


def grid_case(skus: int, spo: int, shape: str, seed: int,
              time_limit: float = GRID_TIME_LIMIT) -> Case:
    """The case `<size>-o<spo>-<shape>-s<seed>`, e.g. 30-o4-all-s1."""
    if shape not in (*SHAPES, GEN):
        raise SystemExit(f"shape {shape!r}: one of {', '.join((*SHAPES, GEN))}")
    if not 1 <= spo <= MAX_OFFER_SKUS:
        raise SystemExit(f"SKUs per offer {spo}: 1 to {MAX_OFFER_SKUS}")
    return Case(f"{size_label(skus)}-o{spo}-{shape}-s{seed}", skus, seed, time_limit,
                offers=offers_for(skus, spo), shape=shape, spo=spo)


def grid_cases(sizes: tuple[int, ...], spos: tuple[int, ...], shapes: tuple[str, ...],
               seeds: tuple[int, ...], time_limit: float = GRID_TIME_LIMIT) -> list[Case]:
    """The matrix in run order: per catalogue, 'none' first (its plan sets the others' limits)."""
    order = [s for s in (*SHAPES, GEN) if s in shapes]
    return [grid_case(n, k, s, seed, time_limit)
            for n in sizes for k in spos for seed in seeds for s in order]


def case_named(name: str) -> Case:
    """A registry case, a grid case like '30-o4-all-s1' / '2k-n300-gen-s5' (o: SKUs per offer,
    n: offers), or an ad-hoc size like '50k' / '2m' / '3000' (seed 1, 60 s)."""
    if name in CASES:
        return CASES[name]
    text = name.strip().lower()
    m = CASE_RE.fullmatch(text)
    if m:
        skus = parse_size(m.group(1) + m.group(2))
        shape, seed = m.group(5), int(m.group(6))
        if m.group(3) is not None:
            return grid_case(skus, int(m.group(3)), shape, seed, 60.0)
        offers = int(m.group(4))
        if not -(-skus // MAX_OFFER_SKUS) <= offers <= skus:
            raise SystemExit(f"case {name!r}: {offers} offers cannot hold {skus} SKUs "
                             f"(1 to {MAX_OFFER_SKUS} an offer)")
        return Case(text, skus, seed, 60.0, offers=offers, shape=shape)
    if not re.fullmatch(r"(\d+)([km]?)", text):
        raise SystemExit(f"unknown case {name!r}: one of {', '.join(CASES)}, a grid case like "
                         f"30-o4-all-s1 (shapes {', '.join((*SHAPES, GEN))}) or a size like 50k")
    return Case(name, parse_size(text), 1, 60.0)


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
    # this interpreter's scripts first: bench_sweep.py finds `enroll-opt` on PATH
    env["PATH"] = os.pathsep.join(p for p in (str(Path(sys.executable).parent),
                                              env.get("PATH", "")) if p)
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


def case_folder(case: Case, workdir: Path) -> Path:
    if case.source is not None:
        return workdir / "cases" / Path(case.source).name
    if case.offers is None:
        return workdir / "cases" / f"{case.skus}-seed{case.seed}"
    return workdir / "cases" / f"{case.skus}-n{case.offers}-seed{case.seed}"


def ensure_case(case: Case, workdir: Path) -> tuple[Path, dict[str, Any]]:
    """The case's folder (scenario.yaml, catalogue, case.json), made if needed: a generated
    catalogue, or a fresh copy of a shipped scenario folder (solving writes beside it)."""
    folder = case_folder(case, workdir)
    meta_path = folder / "case.json"
    if case.source is not None:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(ROOT / case.source, folder)
        catalogue = next(p for p in sorted(folder.iterdir())
                         if p.name.startswith("catalogue") and p.suffix == ".csv")
        meta = {"skus": case.skus, "seed": None, "offers": _count_offers(catalogue),
                "command": f"copy of {case.source}"}
        meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        return folder, meta
    generator = _sha256(ROOT / "optimizer" / "generate" / "__init__.py")
    offers = [] if case.offers is None else ["--offers", str(case.offers)]
    cmd = [sys.executable, "-m", "optimizer.generate", "--skus", str(case.skus), *offers,
           "--seed", str(case.seed), "-o", str(folder)]
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
            "command": " ".join(["python", *cmd[1:]]),
            "generate_seconds": round(time.perf_counter() - start, 3),
            "generator_sha256": generator}
    meta_path.write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return folder, meta


def with_limit(text: str, time_limit: float, where: Path) -> str:
    new, n = re.subn(r"(?m)^(\s+time_limit_s:\s*)\S+", rf"\g<1>{time_limit:g}", text)
    if n != 1:
        raise SystemExit(f"{where}: no solver.time_limit_s line to set")
    return new


def _write_if_changed(path: Path, text: str) -> Path:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def scenario_with_limit(folder: Path, time_limit: float) -> Path:
    """A copy of scenario.yaml (same folder, so the catalogue path holds) with this time limit."""
    text = with_limit((folder / "scenario.yaml").read_text(encoding="utf-8"), time_limit,
                      folder / "scenario.yaml")
    return _write_if_changed(folder / f"scenario-t{time_limit:g}.yaml", text)


def _yaml_number(x: float) -> str:
    """A plain YAML number (no exponent, which YAML 1.1 reads as a string)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


_CONSTRAINT_LINE = re.compile(r"(?m)^  (max_skus|discount_budget|gmv_min):.*\n")


def set_constraints(text: str, max_skus: dict[str, int] | None = None,
                    budget: float | None = None, gmv_min: float | None = None) -> str:
    """The scenario text with exactly these global constraints (None: absent). Written for the
    generator's scenario.yaml: one `  key: value` line each under `constraints:`."""
    if re.search(r"(?m)^  max_skus:\s*\n", text):
        raise SystemExit("set_constraints: max_skus written as a block; expected one line")
    text = _CONSTRAINT_LINE.sub("", text)
    lines = []
    if max_skus:
        lines.append("  max_skus: {" + ", ".join(f"{p}: {n}" for p, n in sorted(max_skus.items()))
                     + "}")
    if budget is not None:
        lines.append(f"  discount_budget: {_yaml_number(budget)}")
    if gmv_min is not None:
        lines.append(f"  gmv_min: {_yaml_number(gmv_min)}")
    add = "".join(line + "\n" for line in lines)
    new, n = re.subn(r"(?m)^constraints:[ \t]*\n", lambda m: m.group(0) + add, text, count=1)
    if n != 1:
        raise SystemExit("set_constraints: no 'constraints:' line in the scenario")
    return new


def shape_limits(shape: str, ref: dict[str, Any] | None,
                 capped: dict[str, Any] | None = None) -> dict[str, Any]:
    """The global constraints of a shape, from the audited unconstrained plan `ref` (and, for
    'all', the audited plan under the slots and budget, `capped`): {max_skus, budget, gmv_min}."""
    limits: dict[str, Any] = {"max_skus": None, "budget": None, "gmv_min": None}
    if shape == "none":
        return limits
    if ref is None:
        raise ValueError(f"shape {shape!r} needs the unconstrained plan's figures")
    if shape in ("maxskus", "all"):
        limits["max_skus"] = {p: math.floor(MAX_SKUS_SHARE * n)
                              for p, n in sorted(ref["enrolled"].items()) if n > 0}
    if shape in ("budget", "all"):
        limits["budget"] = float(math.floor(BUDGET_SHARE * ref["discount"]))
    if shape == "gmv":
        limits["gmv_min"] = float(math.ceil(GMV_RAISE * ref["counted_gmv"]))
    if shape == "all":
        if capped is None:
            raise ValueError("shape 'all' needs the figures of the plan under slots and budget")
        limits["gmv_min"] = float(math.ceil(GMV_RAISE * capped["counted_gmv"]))
    return limits


def tight_constraints(constraints: dict[str, Any]) -> list[str]:
    """The constraints of summary.json's `constraints` the plan meets at (or within TIGHT of) the
    limit: what binds."""
    out = []
    for key, c in sorted(constraints.items()):
        value, limit = c.get("value"), c.get("limit")
        if value is None or limit is None:
            continue
        if key.startswith("max_skus."):
            hit = value >= limit
        elif key == "gmv_min":
            hit = value <= limit * (1 + TIGHT) + 0.01
        else:
            hit = value >= limit * (1 - TIGHT) - 0.01
        if hit:
            out.append(key)
    return out


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
               constraints=s.get("constraints", {}),
               tight=tight_constraints(s.get("constraints", {})),
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
# Constraint shapes: limits from a first, unconstrained solve


class ProbeFailed(Exception):
    """A reference solve (or its audit) gave no plan to set a shape's limits from."""


def audit_figures(scenario: Path, outdir: Path, rundir: Path) -> dict[str, Any]:
    """The plan in `outdir` audited (`enroll-opt audit`, its own arithmetic, not the solver's)
    against `scenario` with every global constraint slack: SKUs per program, discount given away,
    counted GMV; and whether it keeps every rule."""
    summary = json.loads((outdir / "summary.json").read_text(encoding="utf-8"))
    if summary["status"] not in ("OPTIMAL", "FEASIBLE"):
        raise ProbeFailed(f"{scenario.name}: {summary['status']}, no plan to set limits from")
    programs = sorted(summary["programs"])
    slack = set_constraints(scenario.read_text(encoding="utf-8"), {p: 10**9 for p in programs},
                            10**11, 0)
    slack_path = _write_if_changed(scenario.with_name(scenario.stem + "-slack.yaml"), slack)
    audit_dir = rundir / "audit"
    shutil.rmtree(audit_dir, ignore_errors=True)
    cmd = [*enroll_opt_command(), "audit", "-q", str(slack_path), str(outdir / "plan.csv"),
           "-o", str(audit_dir)]
    child = run_child(cmd, rundir / "audit.log", timeout=3600)
    path = audit_dir / "audit.json"
    if child.returncode != 0 or not path.exists():
        raise ProbeFailed(f"audit of {outdir / 'plan.csv'} exited {child.returncode}: "
                          f"{_tail(rundir / 'audit.log', 5)}")
    audit = json.loads(path.read_text(encoding="utf-8"))
    c = audit["constraints"]
    return {"status": summary["status"], "objective": summary["objective"],
            "gap": summary["gap"], "plan_keeps_every_rule": bool(audit["ok"]),
            "enrolled": {p: int(c[f"max_skus.{p}"]["value"]) for p in programs},
            "discount": float(c["discount_budget"]["value"]),
            "counted_gmv": float(c["gmv_min"]["value"]),
            "audit_wall_s": round(child.wall_s, 3)}


def _ref_path(folder: Path, kind: str, limit: float) -> Path:
    return folder / f"ref-{kind}-t{limit:g}.json"


def reference(folder: Path, kind: str, base: str, limit: float, workdir: Path
              ) -> dict[str, Any]:
    """The audited figures of the catalogue's plan without global constraints (kind 'none') or
    under the 'all' shape's slots and budget (kind 'capped'); solved once, cached beside the
    catalogue (deleted with it when the generator changes)."""
    path = _ref_path(folder, kind, limit)
    if path.exists():
        cached: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cached
    if kind == "none":
        text = set_constraints(base)
    else:
        ref = reference(folder, "none", base, limit, workdir)
        text = set_constraints(base, shape_limits("maxskus", ref)["max_skus"],
                               shape_limits("budget", ref)["budget"])
    scenario = _write_if_changed(folder / f"scenario-ref-{kind}-t{limit:g}.yaml", text)
    rundir = workdir / "runs" / "ref" / folder.name / f"{kind}-t{limit:g}"
    print(f"  reference solve ({kind}) for {folder.name}", file=sys.stderr, flush=True)
    rec = run_enroll_opt(scenario, rundir, limit)
    if rec["status"] == "ERROR":
        raise ProbeFailed(f"reference solve {scenario}: {rec.get('error', '')[-300:]}")
    figures = audit_figures(scenario, rundir / "enroll-opt", rundir)
    figures.update(wall_s=rec["wall_s"], scenario=scenario.name)
    path.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return figures


def prepare_scenario(case: Case, workdir: Path, limit: float
                     ) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The scenario file a case solves (beside its catalogue), the case's meta and, for a
    shape, its limits and the reference figures they come from."""
    folder, meta = ensure_case(case, workdir)
    if case.shape == GEN:
        return scenario_with_limit(folder, limit), meta, {}
    base = with_limit((folder / "scenario.yaml").read_text(encoding="utf-8"), limit,
                      folder / "scenario.yaml")
    ref = None if case.shape == "none" else reference(folder, "none", base, limit, workdir)
    capped = reference(folder, "capped", base, limit, workdir) if case.shape == "all" else None
    lim = shape_limits(case.shape, ref, capped)
    text = set_constraints(base, lim["max_skus"], lim["budget"], lim["gmv_min"])
    scenario = _write_if_changed(folder / f"scenario-{case.shape}-t{limit:g}.yaml", text)
    return scenario, meta, {"limits": lim, "reference": ref, "reference_capped": capped}


# --------------------------------------------------------------------------------------------
# The registry run


def _error_record(case: Case, message: str) -> dict[str, Any]:
    return {"solver": "enroll-opt", "status": "ERROR", "objective": None, "bound": None,
            "gap": None, "phases": {}, "error": message, "wall_s": None, "peak_rss_mb": None}


def run_case(case: Case, workdir: Path, time_limit: float | None) -> dict[str, Any]:
    limit = time_limit if time_limit is not None else case.time_limit
    try:
        scenario, meta, shape = prepare_scenario(case, workdir, limit)
    except ProbeFailed as e:
        rec = _error_record(case, str(e))
        rec.update(case=case.name, skus=case.skus, offers=case.offers or 0, seed=case.seed,
                   shape=case.shape, spo=case.spo, time_limit_s=limit)
        return rec
    print(f"{case.name}: enroll-opt solve ({case.skus:,} SKUs, {limit:g} s)", file=sys.stderr,
          flush=True)
    rundir = workdir / "runs" / case.name
    rec = run_enroll_opt(scenario, rundir, limit)
    rec.update(case=case.name, skus=case.skus, offers=meta["offers"], seed=case.seed,
               shape=case.shape, spo=case.spo, time_limit_s=limit, scenario=str(scenario),
               generate_command=meta.get("command"), **shape)
    folder = scenario.parent
    if case.shape == "none" and rec["status"] in ("OPTIMAL", "FEASIBLE") \
            and not _ref_path(folder, "none", limit).exists():
        # this solve is the reference the other shapes of the catalogue take their limits from
        with contextlib.suppress(ProbeFailed):
            figures = audit_figures(scenario, rundir / "enroll-opt", rundir)
            figures.update(wall_s=rec["wall_s"], scenario=scenario.name)
            _ref_path(folder, "none", limit).write_text(json.dumps(figures, indent=1) + "\n",
                                                         encoding="utf-8")
    return rec


def run_grid(cases: list[Case], workdir: Path, time_limit: float | None,
             baselines: tuple[str, ...] = (), baseline_max_skus: int = 0,
             ladder: int = 20) -> dict[str, Any]:
    """Every case of the matrix in turn; the baselines beside enroll-opt on the cases of at most
    `baseline_max_skus` SKUs."""
    recs = []
    for case in cases:
        rec = run_case(case, workdir, time_limit)
        if baselines and case.skus <= baseline_max_skus and rec["status"] != "ERROR":
            rundir = workdir / "runs" / case.name
            rows = [rec] + [run_baseline(s, Path(rec["scenario"]), rundir, rec["time_limit_s"],
                                         ladder) for s in baselines]
            rec["valid_bound"] = compare(rows, rec["time_limit_s"])
            rec["baselines"] = rows[1:]
        recs.append(rec)
    return {"cases": recs, "summary": grid_summary(recs),
            "summary_by_shape": grid_summary(recs, "shape"),
            "summary_by_spo": grid_summary(recs, "spo"), "baselines": list(baselines),
            "baseline_max_skus": baseline_max_skus if baselines else 0, "ladder_points": ladder,
            "shape_rules": {"max_skus_share": MAX_SKUS_SHARE, "budget_share": BUDGET_SHARE,
                            "gmv_raise": GMV_RAISE, "tight": TIGHT}}


def _median(xs: list[float]) -> float | None:
    if not xs:
        return None
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


def grid_summary(recs: list[dict[str, Any]], key: str = "skus") -> list[dict[str, Any]]:
    """Per size (or per `key`: 'shape', 'spo'): cases, how many OPTIMAL / with a plan /
    INFEASIBLE / failed, the largest gap of a plan, the median wall and solve seconds."""
    out = []
    values = sorted({r.get(key) for r in recs}, key=lambda v: (
        SHAPES.index(v) if key == "shape" and v in SHAPES else len(SHAPES), str(v).zfill(9)))
    for value in values:
        rs = [r for r in recs if r.get(key) == value]
        gaps = [r["gap"] for r in rs if r["status"] in ("OPTIMAL", "FEASIBLE")
                and r.get("gap") is not None]
        label = (f"{value:,} SKUs" if key == "skus" else f"SKUs per offer {value}" if key == "spo"
                 else f"shape {value}")
        out.append({key: value, "label": label, "cases": len(rs),
                    "optimal": sum(r["status"] == "OPTIMAL" for r in rs),
                    "feasible": sum(r["status"] == "FEASIBLE" for r in rs),
                    "infeasible": sum(r["status"] == "INFEASIBLE" for r in rs),
                    "no_solution": sum(r["status"] == "NO_SOLUTION" for r in rs),
                    "error": sum(r["status"] == "ERROR" for r in rs),
                    "max_gap": max(gaps) if gaps else None,
                    "median_wall_s": _median([r["wall_s"] for r in rs if r.get("wall_s")]),
                    "median_solve_s": _median([r["phases"]["solve"] for r in rs
                                               if "solve" in r.get("phases", {})])})
    return out


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
    scenario, meta, _ = prepare_scenario(case, workdir, time_limit)
    rundir = workdir / "runs" / f"side-{case.name}"
    print(f"side by side on {case.name} ({case.skus:,} SKUs, {time_limit:g} s each)",
          file=sys.stderr, flush=True)
    rows = [run_enroll_opt(scenario, rundir, time_limit)]
    for solver in solvers:
        rows.append(run_baseline(solver, scenario, rundir, time_limit, ladder, solve_only))
    ours = rows[0]
    valid = compare(rows, time_limit)
    return {"case": case.name, "skus": case.skus, "offers": meta["offers"], "seed": case.seed,
            "pair_variants": ours.get("pair_variants"), "time_limit_s": time_limit,
            "ladder_points": ladder, "baseline_limit_excludes_build": solve_only,
            "target_gap": TARGET_GAP, "valid_bound": valid,
            "valid_bound_from": "enroll-opt (valid over every fen price)",
            "scenario": str(scenario), "solvers": rows}


def compare(rows: list[dict[str, Any]], time_limit: float) -> float | None:
    """Fill the comparison columns of every row (rows[0] is enroll-opt's); the valid bound."""
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
    return valid


def _speedup(t_ours: float | None, row: dict[str, Any], time_limit: float) -> str:
    t = row["time_to_target_s"]
    if t_ours is None:
        return "enroll-opt did not reach 0.1 %" + ("" if t is None else f"; baseline at {t:.1f} s")
    if t is None:
        return f"> {time_limit / t_ours:.1f}x (baseline did not reach 0.1 % in {time_limit:g} s)"
    return f"{t / t_ours:.1f}x"


# --------------------------------------------------------------------------------------------
# Issue 13's table

SWEEP_FEE = "programs.offsite.fees.help_sell_commission"


def run_sweep_bench(folder: Path, sweep_set: str, skus: int, seed: int, log: Path
                    ) -> dict[str, Any]:
    """benchmarks/bench_sweep.py on the scenario in `folder` (one `enroll-opt solve` and one
    `enroll-opt sweep`, each its own process) and the sweep's points from its sweep.json."""
    out = folder / "bench-sweep.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(HERE / "bench_sweep.py"), "--dir", str(folder), "--set",
           sweep_set, "--skus", str(skus), "--seed", str(seed), "--json", str(out)]
    child = run_child(cmd, log, timeout=3600)
    if child.returncode != 0 or not out.exists():
        return {"status": "ERROR", "error": _tail(log), "wall_s": round(child.wall_s, 3)}
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    sweep = json.loads((folder / "sweep" / "sweep.json").read_text(encoding="utf-8"))
    pts = sorted(sweep["points"], key=lambda q: tuple(q["values"].values()))
    objs = [q["objective"] for q in pts]
    rises = [i for i in range(1, len(objs)) if objs[i] is not None and objs[i - 1] is not None
             and objs[i] > objs[i - 1] + 0.005]
    statuses = [q["status"] for q in pts]
    figures.update(status="OK", points_optimal=statuses.count("OPTIMAL"),
                   points_with_plan=sum(s in ("OPTIMAL", "FEASIBLE") for s in statuses),
                   point_statuses=statuses, point_objectives=objs,
                   point_gaps=[q["gap"] for q in pts], objective_rises_at=rises,
                   harness_wall_s=round(child.wall_s, 3))
    return figures


def _fresh_copy(src: Path, dst: Path, names: tuple[str, ...] = ()) -> Path:
    """`dst` emptied and filled with `src`'s files (or only `names`): runs write beside them."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.is_file() and (not names or f.name in names):
            shutil.copy2(f, dst / f.name)
    return dst


def _solve_row(label: str, rec: dict[str, Any], target: str, gap_max: float,
               solve_max: float) -> dict[str, Any]:
    solve_s = rec.get("phases", {}).get("solve")
    met = (rec["status"] == "OPTIMAL" and rec.get("gap") is not None
           and rec["gap"] <= gap_max and solve_s is not None and solve_s <= solve_max)
    measured = (f"{rec['status']}, gap {_pct(rec.get('gap'))}, solve "
                f"{_num(solve_s, '{:.2f}')} s, wall {_num(rec.get('wall_s'), '{:.1f}')} s, peak "
                f"{_num(rec.get('peak_rss_mb'), '{:,.0f}')} MB")
    return {"row": label, "command": rec.get("generate_command"), "measured": measured,
            "target": target, "met": met, "record": rec}


def run_issue13(workdir: Path, with_1m: bool, sweep_seeds: tuple[int, ...]) -> dict[str, Any]:
    """Issue 13's table row by row, as the issue states each row, with whether it meets its
    target (OPTIMAL is the scenario's relative_gap 0.01 % proven)."""
    rows = []
    bags = run_case(CASES["packaging-bags"], workdir, None)
    rows.append(_solve_row("`scenarios/packaging-bags` (30 SKUs, 8 offers)", bags,
                           "OPTIMAL (gap <= 0.01 %) in <= 1 s of solving", 1e-4, 1.0))
    rows[-1]["command"] = "enroll-opt solve (a copy of) scenarios/packaging-bags/scenario.yaml"
    folder = _fresh_copy(ROOT / "scenarios" / "packaging-bags",
                         workdir / "issue13" / "bags-sweep")
    print("issue 13: the packaging-bags 11-point sweep", file=sys.stderr, flush=True)
    sw = run_sweep_bench(folder, f"{SWEEP_FEE}=0:0.05:11", 30, 0,
                         workdir / "issue13" / "bags-sweep.log")
    rows.append(_sweep_row("its 11-point offsite-commission sweep", sw,
                           "every point OPTIMAL, objective non-increasing in the fee",
                           ratio_max=None))
    for name, target, solve_max in (("2k-n300-gen-s5", "proven <= 0.01 % in <= 2 s", 2.0),
                                    ("100k-n9000-gen-s3", "proven <= 0.01 % in <= 10 s", 10.0)):
        case = CASES[name]
        rows.append(_solve_row(f"`generate --skus {case.skus} --offers {case.offers} --seed "
                               f"{case.seed}`", run_case(case, workdir, None), target, 1e-4,
                               solve_max))
    if with_1m:
        rec = run_case(CASES["1m"], workdir, None)
        wall, rss = rec.get("wall_s"), rec.get("peak_rss_mb")
        row = _solve_row(f"1M SKUs (`generate --skus 1000000 --seed {CASES['1m'].seed}`)", rec,
                         "<= 15 s wall end to end, <= 3 GB", 1.0, math.inf)
        row["met"] = (rec["status"] in ("OPTIMAL", "FEASIBLE") and wall is not None
                      and wall <= 15.0 and rss is not None and rss <= 3 * 1024)
        rows.append(row)
    for seed in sweep_seeds:
        src, _ = ensure_case(Case(f"100k-s{seed}", 100_000, seed, 60.0), workdir)
        folder = _fresh_copy(src, workdir / "issue13" / f"sweep-100k-s{seed}",
                             ("scenario.yaml", "catalogue.csv"))
        print(f"issue 13: the 21-point sweep on 100k, seed {seed}", file=sys.stderr, flush=True)
        sw = run_sweep_bench(folder, f"{SWEEP_FEE}=0:0.05:21", 100_000, seed,
                             workdir / "issue13" / f"sweep-100k-s{seed}.log")
        rows.append(_sweep_row(f"21-point fee sweep on 100k (`benchmarks/bench_sweep.py "
                               f"--seed {seed}`)", sw,
                               "<= 3x one solve on any seed, every point within its gap",
                               ratio_max=3.0))
    return {"rows": rows}


def _sweep_row(label: str, sw: dict[str, Any], target: str, ratio_max: float | None
               ) -> dict[str, Any]:
    if sw["status"] == "ERROR":
        return {"row": label, "command": None, "measured": "ERROR: " + sw["error"][-200:],
                "target": target, "met": False, "record": sw}
    n = sw["points"]
    gap_max = sw.get("sweep_gap_max")
    rises = sw["objective_rises_at"]
    trend = f"rises at {len(rises)} point(s)" if rises else "non-increasing"
    measured = (f"{sw['points_optimal']}/{n} points OPTIMAL ({sw['points_with_plan']}/{n} with a "
                f"plan), max gap {_pct(gap_max)}, objective {trend}; sweep "
                f"{sw['sweep_wall_s']:.1f} s wall = {sw['ratio']:.2f}x one solve "
                f"({sw['solve_wall_s']:.1f} s)")
    every_optimal = sw["points_optimal"] == n
    met = every_optimal and (not sw["objective_rises_at"] if ratio_max is None
                             else sw["ratio"] <= ratio_max)
    return {"row": label, "command": f"enroll-opt sweep --set {sw['set']}", "measured": measured,
            "target": target, "met": met, "record": sw}


def issue13_markdown(issue: dict[str, Any]) -> str:
    lines = ["| case (issue 13) | measured | target | met |", "|---|---|---|---|"]
    for r in issue["rows"]:
        lines.append(f"| {r['row']} | {r['measured']} | {r['target']} | "
                     f"{'yes' if r['met'] else '**no**'} |")
    return "\n".join(lines)


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

    grid = report.get("grid") or {}
    for rec in [*report.get("cases", []), *grid.get("cases", [])]:
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
    baseline_rows = [] if not side else [(f"side-by-side {r.get('solver')}", r)
                                         for r in side["solvers"]]
    for case in grid.get("cases", []):
        baseline_rows += [(f"case {case['case']} {r.get('solver')}", r)
                          for r in case.get("baselines", [])]
    for where, rec in baseline_rows:
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
    """A fraction as a percentage; float noise below the last digit shown (-1e-12) prints 0."""
    if x is None:
        return "-"
    return f"{100 * x + 0.0:.4f} %" if abs(x) >= 5e-7 else "0.0000 %"


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


def binds_label(rec: dict[str, Any]) -> str:
    """The global constraints of the case and which bind in its plan: 'slots 2/3' (max_skus
    rows met to the SKU), 'budget' / 'gmv' binding, '(budget)' / '(gmv)' present but slack."""
    cons, tight = rec.get("constraints") or {}, set(rec.get("tight") or [])
    slots = [k for k in cons if k.startswith("max_skus.")]
    parts = [f"slots {sum(k in tight for k in slots)}/{len(slots)}"] if slots else []
    for key, short in (("discount_budget", "budget"), ("gmv_min", "gmv")):
        if key in cons:
            parts.append(short if key in tight else f"({short})")
    if rec.get("limits") and (not cons or rec.get("status") not in ("OPTIMAL", "FEASIBLE")):
        # no plan: the limits the case set
        lim = rec["limits"]
        parts = [x for x, on in (("slots", lim.get("max_skus")), ("budget", lim.get("budget")),
                                 ("gmv", lim.get("gmv_min"))) if on]
    return ", ".join(parts) or "-"


def _baseline_cell(b: dict[str, Any]) -> str:
    if b["status"] in ("OPTIMAL", "FEASIBLE"):
        return (f"{b['status']} {_pct(b.get('gap_vs_valid_bound'))}, "
                f"{_num(b.get('wall_s'), '{:.1f}')} s")
    return f"{b['status']}, {_num(b.get('wall_s'), '{:.1f}')} s"


def grid_markdown(grid: dict[str, Any]) -> str:
    names = {"naive-cpsat": "naive CP-SAT", "highs": "HiGHS"}
    base = grid.get("baselines") or []
    head = ("| case | SKUs | offers | pair-variants | binds | status | objective (yuan) "
            "| bound (yuan) | gap | solve s | wall s | peak RSS MB |")
    for b in base:
        head += f" {names.get(b, b)} (gap vs our bound, wall) | speed-up vs {names.get(b, b)} |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in grid["cases"]:
        row = [r["case"], f"{r['skus']:,}", f"{r['offers']:,}",
               _num(r.get("pair_variants"), "{:,}"), binds_label(r), r["status"],
               _num(r.get("objective") if r["status"] in ("OPTIMAL", "FEASIBLE") else None),
               _num(r.get("bound")), _pct(r.get("gap")),
               _num(r.get("phases", {}).get("solve"), "{:.2f}"), _num(r.get("wall_s"), "{:.1f}"),
               _num(r.get("peak_rss_mb"), "{:,.0f}")]
        got = {b["solver"]: b for b in r.get("baselines", [])}
        for b in base:
            if b in got:
                row += [_baseline_cell(got[b]), got[b]["speedup_of_enroll_opt"] or "-"]
            else:
                row += ["not run", "-"]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    summaries = [*grid["summary"], *grid.get("summary_by_shape", []),
                 *grid.get("summary_by_spo", [])]
    for s in summaries:
        plans = s["optimal"] + s["feasible"]
        others = ", ".join(f"{s[k]} {k.upper()}" for k in ("infeasible", "no_solution", "error")
                           if s[k])
        label = s.get("label") or f"{s['skus']:,} SKUs"
        lines.append(
            f"- **{label}**: {s['cases']} cases, OPTIMAL {s['optimal']}/{s['cases']} "
            f"({100 * s['optimal'] / s['cases']:.0f} %), a plan in {plans}"
            f"{'; ' + others if others else ''}; max gap {_pct(s['max_gap'])}; median wall "
            f"{_num(s['median_wall_s'], '{:.1f}')} s (solve {_num(s['median_solve_s'], '{:.2f}')}"
            " s)")
    return "\n".join(lines)


def _load_end(m: dict[str, Any]) -> str:
    end = m.get("load_average_end")
    return f", {end[0]} at the end" if end else ""


def report_markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = [f"Measured {m['date']} on {m['cpus']} x {m['cpu']}, {m['memory_gb']} GB "
           f"(load average {m['load_average'][0]} at the start"
           f"{_load_end(m)}), commit {m['git_commit']}"
           f"{' + uncommitted changes in optimizer/' if m.get('optimizer_modified') else ''}, "
           f"Python {m['python']}, OR-Tools {m['versions']['ortools']}, "
           f"HiGHS {m['versions']['highspy']}.", "",
           f"`{report['command']}`"]
    if report.get("cases"):
        out += ["", cases_markdown(report["cases"])]
    if report.get("grid"):
        out += ["", grid_markdown(report["grid"])]
    if report.get("issue13"):
        out += ["", issue13_markdown(report["issue13"])]
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
    ap.add_argument("--grid", action="store_true",
                    help="run the matrix of sizes x SKUs per offer x binding constraints x seeds "
                         "(with --smoke: one tiny catalogue, every shape)")
    ap.add_argument("--grid-sizes", default=None,
                    help="comma-separated SKU counts (default "
                         f"{','.join(size_label(n) for n in GRID_SIZES)}; also "
                         f"{','.join(size_label(n) for n in GRID_BIG)} on request)")
    ap.add_argument("--grid-spo", default=None,
                    help=f"SKUs per offer (default {','.join(map(str, GRID_SPO))})")
    ap.add_argument("--grid-shapes", default=None,
                    help=f"which constraints bind (default {','.join(SHAPES)}; also {GEN}: as "
                         "generated)")
    ap.add_argument("--grid-seeds", default=None,
                    help=f"generator seeds (default {','.join(map(str, GRID_SEEDS))})")
    ap.add_argument("--grid-baselines", action="store_true",
                    help="run naive CP-SAT and HiGHS beside enroll-opt on the grid's cases of at "
                         "most --baseline-max-skus SKUs")
    ap.add_argument("--baseline-max-skus", type=int, default=300)
    ap.add_argument("--issue13", action="store_true",
                    help="issue 13's table: packaging-bags and its 11-point sweep, 2k/300 offers, "
                         "100k/9000 offers, the 21-point sweep on 100k (bench_sweep.py)")
    ap.add_argument("--issue13-1m", action="store_true", help="with --issue13: also the 1M row")
    ap.add_argument("--sweep-seeds", default="1,2",
                    help="with --issue13: seeds of the 100k sweep row (default 1,2)")
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
    elif a.grid or a.issue13:
        names = []
    elif a.smoke:
        names = list(SMOKE_CASES)
    elif a.side_by_side:
        names = []
    else:
        names = list(DEFAULT_CASES)
    try:  # a bad case name or grid option: argparse's message and exit 2, before any run
        cases = [case_named(n.strip()) for n in names]
        grid = grid_from_args(a) if a.grid else []
    except SystemExit as e:
        ap.error(str(e.code))
    time_limit = a.time_limit if a.time_limit is not None else (5.0 if a.smoke else None)
    a.workdir.mkdir(parents=True, exist_ok=True)

    report: dict[str, Any] = {"machine": machine(),
                              "command": "python benchmarks/harness.py " + " ".join(
                                  sys.argv[1:] if argv is None else argv),
                              "cases": [], "side_by_side": None}
    for case in cases:
        report["cases"].append(run_case(case, a.workdir, time_limit))
    if a.grid:
        report["grid"] = run_grid(grid, a.workdir, time_limit,
                                  _baselines(a) if a.grid_baselines else (),
                                  a.baseline_max_skus, a.ladder)
    if a.issue13:
        report["issue13"] = run_issue13(a.workdir, a.issue13_1m,
                                        tuple(int(s) for s in a.sweep_seeds.split(",") if s))
    if a.side_by_side:
        side_case = case_named(a.side_case or (SMOKE_SIDE_CASE if a.smoke else SIDE_CASE))
        solvers = _baselines(a)
        limit = time_limit if time_limit is not None else side_case.time_limit
        report["side_by_side"] = side_by_side(side_case, a.workdir, limit, a.ladder, solvers,
                                              a.baseline_solve_only)
    report["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report["problems"] = sanity(report)
    if a.json is not None:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return render(report, a)


def _baselines(a: argparse.Namespace) -> tuple[str, ...]:
    solvers = ("naive-cpsat",) + (() if a.no_highs else ("highs",))
    if "highs" in solvers and not highspy_available():
        print("highspy is not installed: HiGHS left out (pip install highspy)", file=sys.stderr)
        solvers = ("naive-cpsat",)
    return solvers


def grid_from_args(a: argparse.Namespace) -> list[Case]:
    def listed(text: str | None, default: tuple[Any, ...], conv: Any) -> tuple[Any, ...]:
        return default if text is None else tuple(conv(x.strip()) for x in text.split(",")
                                                 if x.strip())

    base: dict[str, tuple[Any, ...]] = (dict(SMOKE_GRID) if a.smoke else {
        "sizes": GRID_SIZES, "spo": GRID_SPO, "shapes": SHAPES, "seeds": GRID_SEEDS})
    shapes = listed(a.grid_shapes, base["shapes"], str)
    for s in shapes:
        if s not in (*SHAPES, GEN):
            raise SystemExit(f"--grid-shapes: {s!r} is not one of {', '.join((*SHAPES, GEN))}")
    return grid_cases(listed(a.grid_sizes, base["sizes"], parse_size),
                      listed(a.grid_spo, base["spo"], int), shapes,
                      listed(a.grid_seeds, base["seeds"], int),
                      5.0 if a.smoke else GRID_TIME_LIMIT)


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
    grid = report.get("grid")
    if grid:
        for r in grid["cases"]:
            lines.append(f"{r['case']:>20} {binds_label(r):>22} {r['status']:>12} obj "
                         f"{_num(r.get('objective')):>18} gap {_pct(r.get('gap')):>12} wall "
                         f"{_num(r.get('wall_s'), '{:.1f}'):>7} s")
        lines += grid_markdown({**grid, "cases": []}).splitlines()[2:]
    if report.get("issue13"):
        lines += issue13_markdown(report["issue13"]).splitlines()
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
