"""Output folders written by hand for the report tests: exact, known numbers, and the sweep
format as agreed with `sweep` (sweep.json, breakeven.csv)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

PLAN_HEADER = ["sku_id", "offer_id", "program", "price", "units", "revenue", "fee_rate", "fees",
               "margin"]
EXCLUDED_HEADER = ["sku_id", "program", "reason", "detail"]
FEE_PATH = "fees.help_sell_commission.cap"

# (sku, offer, program, price, units, revenue, fee_rate, fees, margin)
PLAN_ROWS = [
    ("A1", "O1", "offsite", "9.00", "100.000", "900.00", "0.006", "5.40", "294.60"),
    ("A1", "O1", "yanxuan", "9.50", "40.000", "380.00", "0.056", "21.28", "98.72"),
    ("A2", "O1", "yanxuan", "19.00", "10.500", "199.50", "0.056", "11.17", "48.33"),
    ("B1", "O2", "huopin", "4.50", "1000.000", "4500.00", "0.006", "27.00", "1473.00"),
    ("B2", "O2", "huopin", "5.50", "300.000", "1650.00", "0.006", "9.90", "640.10"),
    ("C1", "O3", "offsite", "12.00", "20.000", "240.00", "0.006", "1.44", "-0.00"),
]
EXCLUDED_ROWS = [
    ("A1", "huopin", "EXCLUSIVE", "offer O1 is in offsite"),
    ("A2", "offsite", "SKU_RULE", "growth_score 55 < 60"),
    ("A2", "huopin", "EXCLUSIVE", "offer O1 is in offsite"),
    ("B1", "offsite", "EXCLUSIVE", "offer O2 is in huopin"),
    ("B1", "yanxuan", "PRICE_CAP", 'no price under the caps, "quoted", keeps a margin'),
    ("B2", "offsite", "EXCLUSIVE", "offer O2 is in huopin"),
    ("B2", "yanxuan", "NOT_CHOSEN", "not in the optimal plan"),
    ("C1", "yanxuan", "SKU_RULE", "moq 5 > 2"),
    ("C1", "huopin", "NOT_CHOSEN", "offer O3 not enrolled (all or none)"),
]


def _program(name_zh: str, rows: list[tuple[str, ...]], pid: str) -> dict[str, Any]:
    mine = [r for r in rows if r[2] == pid]
    return {"name_zh": name_zh, "enrolled_skus": len(mine),
            "units": round(sum(float(r[4]) for r in mine), 3),
            "revenue": round(sum(float(r[5]) for r in mine), 2),
            "fees": round(sum(float(r[7]) for r in mine), 2),
            "margin": round(sum(float(r[8]) for r in mine), 2)}


def summary_for(rows: list[tuple[str, ...]]) -> dict[str, Any]:
    programs = {"offsite": _program("站外分销货源中心", rows, "offsite"),
                "yanxuan": _program("严选", rows, "yanxuan"),
                "huopin": _program("伙拼", rows, "huopin")}
    edges = [round(0.5 + 0.025 * i, 3) for i in range(21)]
    counts = [0] * 20
    counts[15] = 2  # offsite: two prices in (87.5%, 90%] of market
    return {
        "name": "hand-made",
        "status": "FEASIBLE",
        "objective": round(sum(float(r[8]) for r in rows), 6),
        "bound": 2600.0,
        "gap": 0.0215,
        "seconds": 1.5,
        "programs": programs,
        "constraints": {"max_skus.huopin": {"value": 2, "limit": 2},
                        "discount_budget": {"value": 812.5, "limit": 1000.0}},
        "price_vs_market": {"edges": edges, "programs": {
            "offsite": {"counts": counts, "below": 0, "above": 0, "at_cap": 1,
                        "at_cap_by": {"min_price_30d": 0, "market_price": 1}, "no_cap": 0},
            "yanxuan": {"counts": [0] * 18 + [2, 0], "below": 0, "above": 0, "at_cap": 2,
                        "at_cap_by": {"market_price": 2}, "no_cap": 0},
            "huopin": {"counts": [0] * 20, "below": 1, "above": 1, "at_cap": 0,
                       "at_cap_by": {"market_price": 0}, "no_cap": 0}}},
        "solver": {"time_limit_s": 10.0},
    }


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]] | list[list[str]],
              bom: bool = False) -> None:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_solve_folder(folder: Path, plan_rows: list[tuple[str, ...]] | None = None,
                       excluded_rows: list[tuple[str, ...]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    plan_rows = PLAN_ROWS if plan_rows is None else plan_rows
    write_csv(folder / "plan.csv", PLAN_HEADER, plan_rows)
    write_csv(folder / "excluded.csv", EXCLUDED_HEADER,
              EXCLUDED_ROWS if excluded_rows is None else excluded_rows)
    (folder / "summary.json").write_text(json.dumps(summary_for(plan_rows), ensure_ascii=False,
                                                    indent=2), encoding="utf-8")
    return folder


SWEEP_VALUES = [0.03, 0.04, 0.05, 0.06, 0.07]
BREAKEVEN = {"offsite": 0.0525, "yanxuan": 0.0651, "huopin": None}


def sweep_doc(values: list[float] | None = None) -> dict[str, Any]:
    """A one-axis fee sweep: offsite leaves by 0.06, yanxuan by 0.07, huopin is not affected;
    the point at 0.05 found no solution in time (nulls)."""
    values = SWEEP_VALUES if values is None else values
    points = []
    for i, v in enumerate(values):
        progs = {
            "offsite": {"enrolled_skus": max(0, round(400 * (0.0525 - v) / 0.0225)),
                        "gmv": max(0.0, 9e4 * (0.0525 - v)), "margin": 5e5 * (0.0525 - v)},
            "yanxuan": {"enrolled_skus": max(0, round(300 * (0.0651 - v) / 0.0351)),
                        "gmv": max(0.0, 8e4 * (0.0651 - v)), "margin": 4e5 * (0.0651 - v)},
            "huopin": {"enrolled_skus": 120, "gmv": 5e4, "margin": 2e4},
        }
        ok = abs(v - 0.05) > 1e-12
        points.append({
            "index": i, "values": {FEE_PATH: v}, "status": "OPTIMAL" if ok else "NO_SOLUTION",
            "objective": sum(p["margin"] for p in progs.values()) if ok else None,
            "bound": sum(p["margin"] for p in progs.values()) * 1.0001 if ok else None,
            "gap": 1e-4 if ok else None, "seconds": 2.0, "programs": progs if ok else {}})
    return {"scenario": "scenarios/packaging-bags/scenario.yaml",
            "axes": [{"path": FEE_PATH, "values": values}],
            "points": list(reversed(points)),  # order in the file must not matter
            "breakeven": {"path": FEE_PATH, "programs": dict(BREAKEVEN)},
            "program_names": {"offsite": "站外分销货源中心", "yanxuan": "严选", "huopin": "伙拼"}}


# as `sweep --per-sku` writes it: sku_id, program, status, PATH (empty unless "leaves")
BREAKEVEN_HEADER = ["sku_id", "program", "status", FEE_PATH]
BREAKEVEN_ROWS = [
    ("A1", "offsite", "leaves", "0.041"), ("A2", "offsite", "leaves", "0.0335"),
    ("A3", "offsite", "never", ""), ("A5", "offsite", "excluded", ""),
    ("A4", "offsite", "leaves", "0.052"), ("A1", "yanxuan", "leaves", "0.06"),
    ("A2", "yanxuan", "leaves", "0.0455"),
]


def write_sweep_folder(folder: Path, doc: dict[str, Any] | None = None,
                       per_sku: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sweep.json").write_text(json.dumps(sweep_doc() if doc is None else doc),
                                       encoding="utf-8")
    if per_sku:
        write_csv(folder / "breakeven.csv", BREAKEVEN_HEADER, BREAKEVEN_ROWS)
    return folder
