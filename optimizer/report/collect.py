"""What the report shows, computed from an output folder: small numbers only, never the raw rows.

A solve folder has summary.json, plan.csv and excluded.csv (SPEC 5); a sweep folder has
sweep.json and maybe breakeven.csv. The CSV files of a million-SKU plan run to millions of rows,
so they are streamed in Arrow batches and reduced per program (and per reason) as they are read;
what is kept is a few numbers per program, which is what the HTML embeds.

The files' shapes and their streamed reading are optimizer/report/files.py's.

The programs' Chinese names come from the files too (summary.json's name_zh, sweep.json's
program_names), never from a rulebook: a folder written before sweep.json kept them shows ids.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from optimizer.load import InputError
from optimizer.load.errors import InputProblem
from optimizer.plan.lang import EXCLUDED_COLUMNS, PLAN_COLUMNS
from optimizer.report.files import (
    ProgramSummary,
    Summary,
    Sweep,
    batches,
    csv_header,
    validated,
)

log = logging.getLogger(__name__)

SUMMARY, PLAN, EXCLUDED = "summary.json", "plan.csv", "excluded.csv"
SWEEP, BREAKEVEN = "sweep.json", "breakeven.csv"
# The order exclusions are decided in (writer.py): a pair enrolled today and left is an EXIT
# whatever else holds; then rules, caps, exclusivity, choice.
REASON_ORDER = ("EXIT", "MERCHANT_RULE", "SKU_RULE", "PRICE_CAP", "EXCLUSIVE", "STOCK",
                "NOT_CHOSEN")
TOP_SKUS = 10
TODO_ROWS = 500  # rows of the to-do list (changes and exits) the page shows at most
CURVE_POINTS = 200  # per program, the most points a per-SKU break-even curve keeps


def _finite(v: float | None) -> float | None:
    return v if v is not None and math.isfinite(v) else None


# ---------------------------------------------------------------------------------- aggregation

def plan_columns(path: Path) -> tuple[str, ...]:
    """The columns of a plan.csv: a folder written before `change` and `warning` (SPEC 6.1)
    has the first nine, and is read as it is."""
    older = PLAN_COLUMNS[: PLAN_COLUMNS.index("margin") + 1]
    return older if len(csv_header(path)) == len(older) else PLAN_COLUMNS


def aggregate_plan(path: Path) -> dict[str, Any]:
    """Per program: rows, units, GMV, margin summed from plan.csv; distinct SKUs; the top SKUs
    by margin. Streamed: memory is the batch plus the SKU ids (for the distinct count)."""
    types = {"sku_id": pa.string(), "offer_id": pa.string(), "program": pa.string(),
             "price": pa.float64(), "units": pa.float64(), "revenue": pa.float64(),
             "margin": pa.float64()}
    per: dict[str, dict[str, float]] = {}
    sku_chunks: list[pa.Array] = []
    tops: list[pa.Table] = []
    rows = 0
    for batch in batches(path, plan_columns(path), types,
                          required=("price", "units", "revenue", "margin")):
        if not batch.num_rows:
            continue
        rows += batch.num_rows
        table = pa.Table.from_batches([batch])
        grouped = table.group_by("program").aggregate(
            [("sku_id", "count"), ("units", "sum"), ("revenue", "sum"), ("margin", "sum")])
        for g in grouped.to_pylist():
            acc = per.setdefault(g["program"], {"rows": 0, "units": 0.0, "revenue": 0.0,
                                                "margin": 0.0})
            acc["rows"] += g["sku_id_count"]
            for key in ("units", "revenue", "margin"):
                acc[key] += g[f"{key}_sum"]
        sku_chunks.append(pc.unique(batch.column("sku_id")))
        tops.append(pc.take(table, pc.select_k_unstable(
            table, TOP_SKUS, sort_keys=[("margin", "descending")])))
    distinct = (int(pc.count_distinct(pa.chunked_array(sku_chunks, pa.string())).as_py())
                if sku_chunks else 0)
    top: list[dict[str, Any]] = []
    if tops:
        best = pa.concat_tables(tops).sort_by([("margin", "descending"), ("sku_id", "ascending"),
                                               ("program", "ascending")]).slice(0, TOP_SKUS)
        top = best.select(["sku_id", "offer_id", "program", "price", "units", "revenue",
                           "margin"]).to_pylist()
    for acc in per.values():
        acc["units"] = round(acc["units"], 3)
        acc["revenue"] = round(acc["revenue"], 2)
        acc["margin"] = round(acc["margin"], 2)
    return {"rows": rows, "distinct_skus": distinct, "programs": per, "top": top}


def aggregate_todo(plan_path: Path, excluded_path: Path) -> dict[str, Any]:
    """The merchant's to-do list against today's enrollments (SPEC 6.1): the plan rows that
    are not `keep` (register new, or change a price) and the EXIT rows of excluded.csv (leave),
    the first TODO_ROWS of each, in file order; and the kept rows that carry a warning."""
    todo: list[dict[str, Any]] = []
    warned: list[dict[str, Any]] = []
    types = {"sku_id": pa.string(), "program": pa.string(), "price": pa.string(),
             "change": pa.string(), "warning": pa.string()}
    for batch in batches(plan_path, PLAN_COLUMNS, types):
        table = pa.Table.from_batches([batch])
        if len(todo) < TODO_ROWS:
            rows = table.filter(pc.not_equal(table.column("change"), "keep"))
            todo += rows.slice(0, TODO_ROWS - len(todo)).to_pylist()
        if len(warned) < TODO_ROWS:
            rows = table.filter(pc.and_(pc.equal(table.column("change"), "keep"),
                                        pc.not_equal(table.column("warning"), "")))
            warned += rows.slice(0, TODO_ROWS - len(warned)).to_pylist()
    exits: list[dict[str, Any]] = []
    types = {"sku_id": pa.string(), "program": pa.string(), "reason": pa.string(),
             "detail": pa.string()}
    for batch in batches(excluded_path, EXCLUDED_COLUMNS, types):
        if len(exits) < TODO_ROWS:
            table = pa.Table.from_batches([batch])
            rows = table.filter(pc.equal(table.column("reason"), "EXIT"))
            exits += rows.slice(0, TODO_ROWS - len(exits)).to_pylist()
    return {"changes": todo, "exits": exits, "warned": warned}


def aggregate_excluded(path: Path) -> dict[str, Any]:
    """Rows of excluded.csv counted per program and reason (the detail column is not kept)."""
    types = {"program": pa.string(), "reason": pa.string()}
    counts: dict[tuple[str, str], int] = {}
    rows = 0
    for batch in batches(path, EXCLUDED_COLUMNS, types):
        if not batch.num_rows:
            continue
        rows += batch.num_rows
        grouped = pa.Table.from_batches([batch]).group_by(["program", "reason"]).aggregate(
            [("reason", "count", pc.CountOptions(mode="all"))])
        for g in grouped.to_pylist():
            key = (g["program"], g["reason"])
            counts[key] = counts.get(key, 0) + g["reason_count"]
    found = {r for _, r in counts}
    totals = {r: sum(n for (_, rr), n in counts.items() if rr == r) for r in found}
    reasons = [r for r in REASON_ORDER if r in found]
    reasons += sorted(found - set(REASON_ORDER), key=lambda r: (-totals[r], r))
    by_program: dict[str, dict[str, int]] = {}
    for (p, r), n in sorted(counts.items()):
        by_program.setdefault(p, {})[r] = n
    return {"rows": rows, "reasons": reasons, "totals": {r: totals[r] for r in reasons},
            "by_program": by_program}


def _agrees(plan: dict[str, Any], pid: str, p: ProgramSummary) -> bool:
    """Whether plan.csv's rows of a program add up to what summary.json says of it: the same
    count, and sums within the rounding of each row (2 decimals for money)."""
    got = plan["programs"].get(pid, {"rows": 0, "revenue": 0.0, "margin": 0.0})
    slack = 0.005 * got["rows"] + 0.01
    return (got["rows"] == p.enrolled_skus and abs(got["revenue"] - p.revenue) <= slack
            and abs(got["margin"] - p.margin) <= slack)


def _solve_part(outdir: Path, names: dict[str, str]) -> dict[str, Any]:
    summary = validated(outdir / SUMMARY, Summary)
    plan = aggregate_plan(outdir / PLAN)
    excluded = aggregate_excluded(outdir / EXCLUDED)
    for pid, p in summary.programs.items():
        if p.name_zh:
            names[pid] = p.name_zh
    order = list(summary.programs)
    extra = sorted((set(plan["programs"]) | set(excluded["by_program"])) - set(order))
    # solve writes the three files from one plan: when they disagree, they are two runs' files
    if extra:
        raise InputError.one(outdir, "", "", f"programs {', '.join(extra)} are in the CSV files "
                             f"but not in {SUMMARY}: the files are not one run's; solve again")
    programs = {pid: p.model_dump(exclude={"name_zh"}) for pid, p in summary.programs.items()}
    mismatch = [pid for pid, p in summary.programs.items() if not _agrees(plan, pid, p)]
    if mismatch:
        raise InputError.one(outdir / PLAN, "", "", f"its rows do not add up to {SUMMARY}'s "
                             f"figures for {', '.join(mismatch)}: the files are not one run's; "
                             "solve again")
    prices = summary.price_vs_market
    if prices is not None:
        bins = len(prices.edges) - 1
        if (any(len(h.counts) != bins for h in prices.programs.values())
                or any(b <= a for a, b in zip(prices.edges, prices.edges[1:], strict=False))):
            raise InputError.one(outdir / SUMMARY, "", "price_vs_market",
                                 "edges must increase and every program have one count a bin")
    else:
        log.info("%s has no price_vs_market (written by an older enroll-opt)", outdir / SUMMARY)
    changes = summary.changes
    today = changes is not None and any(changes.get(c, 0) for c in ("keep", "reprice", "exit"))
    return {
        "changes": changes if today else None,  # without current every row is new: no list
        "todo": aggregate_todo(outdir / PLAN, outdir / EXCLUDED) if today else None,
        "name": summary.name,
        "status": summary.status,
        "objective": _finite(summary.objective),
        "bound": _finite(summary.bound),
        "gap": _finite(summary.gap),
        "seconds": _finite(summary.seconds),
        "reason": summary.reason,
        "enrolments": sum(p.enrolled_skus for p in summary.programs.values()),
        "enrolled_skus": plan["distinct_skus"],
        "gmv": round(sum(p.revenue for p in summary.programs.values()), 2),
        "margin": round(sum(p.margin for p in summary.programs.values()), 2),
        "order": order + extra,
        "programs": programs,
        "plan": plan,
        "constraints": {k: c.model_dump() for k, c in summary.constraints.items()},
        "price_vs_market": None if prices is None else prices.model_dump(),
        "excluded": excluded,
    }


def aggregate_breakeven(path: Path, paths: list[str]) -> dict[str, Any] | None:
    """Per program, the per-SKU break-even values as a cumulative curve (how many SKUs have
    left by each parameter value, at most CURVE_POINTS points) and the first SKUs to leave.

    The sweep writes sku_id, program, status, PATH: PATH's highest value at which the SKU still
    pays in the program, empty when status is "never" (pays over the whole range) or "excluded"
    (at no value). The value column may also be named breakeven, rate or value, and status may
    be missing (an empty value then counts as "never"). Another shape is skipped with a
    warning: the file is optional."""
    header = csv_header(path)
    value = next((c for c in (*paths, "breakeven", "break_even", "rate", "value")
                  if c in header), None)
    if value is None or "sku_id" not in header or "program" not in header:
        log.warning("%s: columns %s not understood (need sku_id, program and %s); skipped",
                    path, header, " or ".join(paths))
        return None
    types = {"sku_id": pa.string(), "program": pa.string(), value: pa.float64()}
    if "status" in header:
        types["status"] = pa.string()
    parts: list[pa.Table] = []
    try:
        for batch in batches(path, tuple(header), types):
            parts.append(pa.Table.from_batches([batch]))
    except InputError as exc:
        log.warning("%s: skipped: %s", path, exc.render())
        return None
    out: dict[str, Any] = {}
    table = pa.concat_tables(parts) if parts else None
    for pid in sorted(set(table.column("program").to_pylist())) if table is not None else []:
        assert table is not None
        sub = table.filter(pc.equal(table.column("program"), pid))
        rates = sub.column(value).to_numpy(zero_copy_only=False).astype(float)
        known = np.isfinite(rates)
        status = (np.asarray(sub.column("status").to_numpy(zero_copy_only=False), dtype=object)
                  if "status" in types else np.full(rates.size, "never", dtype=object))
        order = np.argsort(rates[known], kind="stable")
        xs = rates[known][order]
        take = np.unique(np.linspace(0, xs.size - 1, min(xs.size, CURVE_POINTS)).round()
                         .astype(np.int64)) if xs.size else np.zeros(0, np.int64)
        first = np.flatnonzero(known)[order[:TOP_SKUS]]
        ids = sub.column("sku_id").take(pa.array(first, pa.int64())).to_pylist()
        out[pid] = {"skus": int(rates.size), "leaves": int(known.sum()),
                    "never": int(np.count_nonzero(~known & (status != "excluded"))),
                    "excluded": int(np.count_nonzero(~known & (status == "excluded"))),
                    "x": xs[take].tolist(), "left": (take + 1).tolist(),
                    "first": [{"sku_id": str(s), "rate": float(r)}
                              for s, r in zip(ids, xs[:TOP_SKUS], strict=True)]}
    return {"column": value, "programs": out}


def _sweep_part(outdir: Path, names: dict[str, str]) -> dict[str, Any]:
    sweep = validated(outdir / SWEEP, Sweep)
    paths = [a.path for a in sweep.axes]
    problems = [InputProblem(str(outdir / SWEEP), "", f"points.{i}.values",
                             f"needs a value for each axis {paths}")
                for i, p in enumerate(sweep.points) if set(p.values) != set(paths)]
    if len(set(paths)) != len(paths):
        problems.append(InputProblem(str(outdir / SWEEP), "", "axes", "an axis path is repeated"))
    if problems:
        raise InputError(problems)
    be = sweep.breakeven
    x_path = be.path if be is not None and be.path in paths else paths[0]
    programs: list[str] = []
    for p in sweep.points:
        programs += [pid for pid in p.programs if pid not in programs]
    if be is not None:
        programs += [pid for pid in be.programs if pid not in programs]
    for pid, name in sweep.program_names.items():
        if name and not names.get(pid):
            names[pid] = name
    per_sku = (aggregate_breakeven(outdir / BREAKEVEN, [x_path, *paths])
               if (outdir / BREAKEVEN).is_file() else None)
    return {
        "scenario": sweep.scenario,
        "axes": [a.model_dump() for a in sweep.axes],
        "x": x_path,
        "order": programs,
        "points": [{"values": p.values, "status": p.status, "objective": _finite(p.objective),
                    "bound": _finite(p.bound), "gap": _finite(p.gap),
                    "programs": {k: v.model_dump() for k, v in p.programs.items()}}
                   for p in sorted(sweep.points, key=lambda p: p.index)],
        "breakeven": None if be is None else {
            "path": be.path, "programs": {k: _finite(v) for k, v in be.programs.items()}},
        "per_sku": per_sku,
    }


def aggregate(outdir: Path) -> dict[str, Any]:
    """Everything the report shows, as plain JSON-able data. InputError when the folder has
    neither summary.json nor sweep.json, or a file in it is malformed."""
    if not outdir.is_dir():
        raise InputError.one(outdir, "", "", "not a folder (give the output folder of solve "
                             "or sweep)")
    has_solve, has_sweep = (outdir / SUMMARY).is_file(), (outdir / SWEEP).is_file()
    if not (has_solve or has_sweep):
        raise InputError.one(outdir, "", "", f"no {SUMMARY} or {SWEEP} here: not an output "
                             "folder of enroll-opt solve or sweep")
    names: dict[str, str] = {}  # program id -> Chinese name, as the files carry them
    data: dict[str, Any] = {"folder": outdir.resolve().name, "solve": None, "sweep": None}
    if has_solve:
        data["solve"] = _solve_part(outdir, names)
    if has_sweep:
        data["sweep"] = _sweep_part(outdir, names)
    used: list[str] = []  # the solve's program order, then any only the sweep has
    for part in (data["solve"], data["sweep"]):
        if part is not None:
            used += [pid for pid in part["order"] if pid not in used]
    data["names"] = {pid: names.get(pid, "") for pid in used}
    return data
