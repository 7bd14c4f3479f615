"""The plan as files: plan.csv, excluded.csv, summary.json (SPEC 5), written atomically.

Everything is written into a temporary folder beside the output folder first; each file is then
moved into place with os.replace, so a crash or a kill never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.load.types import Scenario
from optimizer.rules.eligibility import RuleOutcome
from optimizer.rules.rulebook import Rulebook
from optimizer.score.problem import Problem
from optimizer.solve import Result

PLAN_COLUMNS = ("sku_id", "offer_id", "program", "price", "units", "revenue", "fee_rate", "fees",
                "margin")
EXCLUDED_COLUMNS = ("sku_id", "program", "reason", "detail")


def fraction_text(value: Fraction) -> str:
    """An exact decimal rendering of a fee rate (rates are decimals in the rulebook)."""
    text = format((Decimal(value.numerator) / Decimal(value.denominator)).normalize(), "f")
    return text if "." in text or text != "0" else "0"


def yuan(fen: float | int) -> str:
    return f"{fen / 100:.2f}"


@dataclass(frozen=True)
class PlanTables:
    plan: list[tuple[str, ...]]
    excluded: list[tuple[str, ...]]
    summary: dict[str, Any]


Row = tuple[str, ...]


def _plan_rows(pb: Problem, result: Result) -> tuple[list[Row], dict[str, np.ndarray]]:
    pv, price = result.pv, result.price
    order = np.lexsort((pb.pv_prog[pv], pb.pv_sku[pv]))
    pv, price = pv[order], price[order]
    ev = pb.evaluate(pv, price)
    fees = ev["revenue"] * pb.pv_fee[pv]
    rows: list[Row] = []
    for i in range(pv.size):
        p = pv[i]
        s = pb.pv_sku[p]
        rows.append((
            str(pb.sku_id[s]), str(pb.offer_id[s]), pb.programs[pb.pv_prog[p]], yuan(price[i]),
            f"{ev['units'][i]:.3f}", yuan(ev["revenue"][i]),
            fraction_text(pb.fee_rates[pb.pv_var[p]]), yuan(fees[i]), yuan(ev["margin"][i]),
        ))
    ev["fees"] = fees
    ev["pv"] = pv
    return rows, ev


def _excluded_rows(pb: Problem, rulebook: Rulebook, outcome: RuleOutcome,
                   result: Result) -> list[tuple[str, ...]]:
    enrolled = np.zeros((pb.n, len(pb.programs)), bool)
    enrolled[pb.pv_sku[result.pv], pb.pv_prog[result.pv]] = True
    offer_in = np.zeros((pb.n_offers, len(pb.programs)), bool)
    offer_in[pb.sku_offer[pb.pv_sku[result.pv]], pb.pv_prog[result.pv]] = True
    rows: list[Row] = []
    for k, pid in enumerate(pb.programs):
        caps = list(rulebook.programs[pid].price_caps.items())
        rivals = [b if a == k else a for a, b in pb.exclusive if k in (a, b)]
        for s in np.flatnonzero(~enrolled[:, k]):
            sku = str(pb.sku_id[s])
            if not outcome.ok[s, k]:
                rows.append((sku, pid, str(outcome.reason[s, k]), str(outcome.detail[s, k])))
                continue
            if not pb.eligible[s, k]:
                lowest = yuan(pb.lo_alone[s, k]) if pb.lo_alone[s, k] < 2**62 else "none"
                which = int(pb.cap_which[s, k])
                cap = (f"{caps[which][1].field} x {caps[which][1].ratio}"
                       f" ({'strict' if caps[which][1].strict else 'non-strict'})"
                       if which >= 0 else "no cap")
                rows.append((sku, pid, "PRICE_CAP",
                             "no price under the caps keeps a non-negative margin: highest "
                             f"allowed {yuan(pb.hi[s, k])} under {cap}, lowest keeping the margin "
                             f"rule {lowest}"))
                continue
            offer = int(pb.sku_offer[s])
            rival = next((r for r in rivals if offer_in[offer, r]), None)
            if rival is not None:
                rows.append((sku, pid, "EXCLUSIVE",
                             f"offer {pb.offer_id[s]} is in {pb.programs[rival]}"))
                continue
            detail = (f"offer {pb.offer_id[s]} not enrolled (all or none)"
                      if pb.offer_level[k] else "not in the optimal plan")
            rows.append((sku, pid, "NOT_CHOSEN", detail))
    order = {sku: i for i, sku in enumerate(pb.sku_id.tolist())}
    prog_order = {p: i for i, p in enumerate(pb.programs)}
    rows.sort(key=lambda r: (order[r[0]], prog_order[r[1]]))
    return rows


def build_tables(scenario: Scenario, rulebook: Rulebook, pb: Problem, outcome: RuleOutcome,
                 result: Result) -> PlanTables:
    plan, ev = _plan_rows(pb, result)
    pv = ev["pv"]
    programs: dict[str, Any] = {}
    for k, pid in enumerate(pb.programs):
        sel = pb.pv_prog[pv] == k
        programs[pid] = {
            "name_zh": rulebook.programs[pid].name_zh,
            "enrolled_skus": int(sel.sum()),
            "units": round(float(ev["units"][sel].sum()), 3),
            "revenue": round(float(ev["revenue"][sel].sum()) / 100, 2),
            "fees": round(float(ev["fees"][sel].sum()) / 100, 2),
            "margin": round(float(ev["margin"][sel].sum()) / 100, 2),
        }
    c = scenario.constraints
    constraints: dict[str, Any] = {}
    for pid, limit in c.max_skus.items():
        constraints[f"max_skus.{pid}"] = {"value": programs[pid]["enrolled_skus"], "limit": limit}
    if c.discount_budget is not None:
        constraints["discount_budget"] = {"value": round(float(ev["discount"].sum()) / 100, 2),
                                          "limit": float(c.discount_budget)}
    if c.gmv_min is not None:
        constraints["gmv_min"] = {"value": round(float(ev["revenue"].sum()) / 100, 2),
                                  "limit": float(c.gmv_min)}
    finite = np.isfinite
    summary = {
        "name": scenario.name,
        "status": result.status,
        "objective": round(result.objective, 6),
        "bound": round(result.bound, 6) if finite(result.bound) else None,
        "gap": result.gap if finite(result.gap) else None,
        "seconds": round(result.seconds, 3),
        "programs": programs,
        "constraints": constraints,
        "solver": {"time_limit_s": scenario.solver.time_limit_s,
                   "relative_gap": scenario.solver.relative_gap, "seed": scenario.solver.seed,
                   "workers": scenario.solver.workers,
                   **{k: (v if not isinstance(v, float) or finite(v) else None)
                      for k, v in result.stats.items()}},
    }
    if result.infeasible_reason:
        summary["reason"] = result.infeasible_reason
    return PlanTables(plan, _excluded_rows(pb, rulebook, outcome, result), summary)


def _csv_text(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_outputs(outdir: Path, tables: PlanTables) -> None:
    """All three files or none: write into a sibling temp folder, then move each into place."""
    outdir = outdir.resolve()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", dir=outdir.parent))
    try:
        files = {
            "plan.csv": _csv_text(PLAN_COLUMNS, tables.plan),
            "excluded.csv": _csv_text(EXCLUDED_COLUMNS, tables.excluded),
            "summary.json": json.dumps(tables.summary, indent=2, ensure_ascii=False) + "\n",
        }
        for name, text in files.items():
            with open(tmp / name, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        if not outdir.exists():
            os.replace(tmp, outdir)
            return
        for name in files:
            os.replace(tmp / name, outdir / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
