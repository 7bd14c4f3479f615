"""sweep.csv, sweep.json and breakeven.csv, written atomically.

The files are one set, committed together by optimizer/outdir.py: a crash or a kill leaves the
folder with this sweep's files or the previous run's, never a mix. The same input
gives the same sweep.csv and breakeven.csv byte for byte; sweep.json differs only in "seconds".
Money is yuan with 2 decimals (fen inside), axis values as the exact decimals of the grid.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from optimizer.outdir import output_set, strict_json
from optimizer.sweep.breakeven import RATE_DECIMALS, SkuBreakeven
from optimizer.sweep.grid import Axis, decimal_text
from optimizer.sweep.runner import PointRecord


def _money(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _fen(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def sweep_csv(axes: Sequence[Axis], programs: Sequence[str],
              points: Sequence[PointRecord]) -> str:
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([*(a.path for a in axes), "status", "objective", "bound", "gap",
                  *(f"{p}_{c}" for p in programs for c in ("skus", "gmv", "margin"))])
    for r in points:
        row = [*(decimal_text(v) for v in r.values), r.status, _money(r.objective),
               _money(r.bound), "" if r.gap is None else f"{r.gap:.8f}"]
        for pid in programs:
            f = r.programs[pid]
            row += [str(f.enrolled_skus), _fen(f.gmv_fen), _fen(f.margin_fen)]
        out.writerow(row)
    return buf.getvalue()


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def sweep_json(name: str, axes: Sequence[Axis], programs: Sequence[str],
               points: Sequence[PointRecord],
               breakeven: tuple[str, dict[str, Decimal | None]] | None,
               program_names: Mapping[str, str]) -> str:
    """The shape `enroll-opt report` reads (yuan; values as floats). `program_names` (id ->
    Chinese name, from the rulebook) is written for the report, which reads no rulebook.
    Strict JSON: a number that is not finite is null."""
    doc: dict[str, Any] = {
        "scenario": name,
        "axes": [{"path": a.path, "values": [float(v) for v in a.values]} for a in axes],
        "points": [{
            "index": i,
            "values": {a.path: float(v) for a, v in zip(axes, r.values, strict=True)},
            "status": r.status,
            "objective": _round(r.objective, 2),
            "bound": _round(r.bound, 2),
            "gap": r.gap,
            "seconds": round(r.seconds, 3),
            "programs": {pid: {"enrolled_skus": r.programs[pid].enrolled_skus,
                               "gmv": r.programs[pid].gmv_fen / 100,
                               "margin": r.programs[pid].margin_fen / 100}
                         for pid in programs},
        } for i, r in enumerate(points)],
        "breakeven": None if breakeven is None else {
            "path": breakeven[0],
            "programs": {pid: (None if v is None else float(v))
                         for pid, v in breakeven[1].items()}},
        "program_names": {pid: program_names.get(pid, "") for pid in programs},
    }
    return strict_json(doc)


def breakeven_csv(path: str, sku_ids: Sequence[str], be: SkuBreakeven) -> str:
    """sku_id, program, status, PATH: the highest value of PATH (rounded down to 6 decimals)
    at which the SKU, alone in the program, still has a price that pays; empty for `never` (it
    pays at every value up to 1) and `excluded` (at none from 0)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["sku_id", "program", "status", path])
    scale = 10**RATE_DECIMALS
    for s, k, status, micro in zip(be.sku.tolist(), be.program.tolist(), be.status.tolist(),
                                   be.rate_micro.tolist(), strict=True):
        rate = decimal_text(Decimal(micro) / scale) if micro >= 0 else ""
        out.writerow([sku_ids[s], be.programs[k], status, rate])
    return buf.getvalue()


def write_files(outdir: Path, files: dict[str, str]) -> None:
    """The files as one commit. An output file this sweep does not write (breakeven.csv without
    --per-sku, an earlier report.html or plan) is removed in the same step: it would be an
    earlier run's, and the report would read it as this one's."""
    with output_set(outdir, "sweep") as stage:
        for name, text in files.items():
            stage.write(name, text.encode("utf-8"))
